// Kernels for the avx2 instruction set (flags set per file in CMakeLists.txt).
#define NHWCPOOL_ISA avx2
#include "kernels/all.hpp"
