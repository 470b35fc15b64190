# Cross-compiling nhwcpool's C++ core and tests for aarch64 (Linux) with clang (the compiler of
# the macOS arm64 wheels), against Debian's aarch64 GCC libraries (g++-aarch64-linux-gnu) for
# libstdc++ and the C library; the test programs then run under qemu-aarch64. Used by
# `bash tools/aarch64.sh --clang`:
#   cmake -S . -B build-aarch64-clang -DCMAKE_TOOLCHAIN_FILE=tools/aarch64-clang-toolchain.cmake -DNHWCPOOL_BUILD_TESTS=ON
# The GCC toolchain file's settings (target, sysroot, find paths, qemu), with clang as compiler.
include(${CMAKE_CURRENT_LIST_DIR}/aarch64-toolchain.cmake)
set(CMAKE_CXX_COMPILER clang++)
set(CMAKE_C_COMPILER clang)
set(CMAKE_CXX_COMPILER_TARGET ${NHWCPOOL_AARCH64_TRIPLE})
set(CMAKE_C_COMPILER_TARGET ${NHWCPOOL_AARCH64_TRIPLE})
