# Cross-compiling nhwcpool's C++ core and tests for aarch64 (Linux) with clang (the compiler of
# the macOS arm64 wheels), against Debian's aarch64 GCC libraries (g++-aarch64-linux-gnu) for
# libstdc++ and the C library; the test programs then run under qemu-aarch64. Used by
# `bash tools/aarch64.sh --clang`:
#   cmake -S . -B build-aarch64-clang -DCMAKE_TOOLCHAIN_FILE=tools/aarch64-clang-toolchain.cmake -DNHWCPOOL_BUILD_TESTS=ON
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(NHWCPOOL_AARCH64_TRIPLE aarch64-linux-gnu CACHE STRING "target triple")
set(CMAKE_CXX_COMPILER clang++)
set(CMAKE_C_COMPILER clang)
set(CMAKE_CXX_COMPILER_TARGET ${NHWCPOOL_AARCH64_TRIPLE})
set(CMAKE_C_COMPILER_TARGET ${NHWCPOOL_AARCH64_TRIPLE})
set(NHWCPOOL_AARCH64_SYSROOT /usr/${NHWCPOOL_AARCH64_TRIPLE} CACHE PATH "target libraries (qemu -L)")
set(CMAKE_FIND_ROOT_PATH ${NHWCPOOL_AARCH64_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L ${NHWCPOOL_AARCH64_SYSROOT})
