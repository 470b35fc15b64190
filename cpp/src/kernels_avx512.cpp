// Kernels for the avx512 instruction set (flags set per file in CMakeLists.txt).
#define NHWCPOOL_ISA avx512
#include "kernels/all.hpp"
