// Backward kernels for the baseline instruction set (flags set per file in CMakeLists.txt).
#define NHWCPOOL_ISA baseline
#include "kernels/backward.hpp"
