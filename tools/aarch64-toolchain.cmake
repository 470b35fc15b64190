# Cross-compiling nhwcpool's C++ core and tests for aarch64 (Linux) with Debian's
# g++-aarch64-linux-gnu; the test programs then run under qemu-aarch64. Used by tools/aarch64.sh:
#   cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=tools/aarch64-toolchain.cmake -DNHWCPOOL_BUILD_TESTS=ON
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(NHWCPOOL_AARCH64_TRIPLE aarch64-linux-gnu CACHE STRING "cross toolchain prefix")
set(CMAKE_CXX_COMPILER ${NHWCPOOL_AARCH64_TRIPLE}-g++)
set(CMAKE_C_COMPILER ${NHWCPOOL_AARCH64_TRIPLE}-gcc)
set(NHWCPOOL_AARCH64_SYSROOT /usr/${NHWCPOOL_AARCH64_TRIPLE} CACHE PATH "target libraries (qemu -L)")
set(CMAKE_FIND_ROOT_PATH ${NHWCPOOL_AARCH64_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# ctest runs the test programs through qemu.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L ${NHWCPOOL_AARCH64_SYSROOT})
