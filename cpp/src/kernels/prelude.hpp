// What every per-ISA kernel translation unit sets up before its namespaces: the standard and
// intrinsic headers and the compiler macros the kernel fragments use. Included, outside any
// namespace, by kernels/all.hpp (forward), kernels/backward.hpp and kernels/pyramid.hpp, so the
// three families compile their shared fragments (float16.hpp, scratch.hpp, rounding.hpp,
// image_pairs.hpp) under the same definitions.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <type_traits>

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__) || defined(_M_IX86)
#include <immintrin.h>
#endif

// aarch64: Advanced SIMD (NEON) is part of the baseline, so this build has the NEON vector
// layer (vec_neon.hpp) without run-time detection.
#if defined(__ARM_NEON) && defined(__aarch64__)
#include <arm_neon.h>
#define NHWCPOOL_NEON 1
#endif

#if defined(__F16C__) || (defined(_MSC_VER) && defined(__AVX2__))
#define NHWCPOOL_F16C 1
#endif

#if defined(__GNUC__) || defined(__clang__)
#define NHWCPOOL_RESTRICT __restrict__
#elif defined(_MSC_VER)
#define NHWCPOOL_RESTRICT __restrict
#else
#define NHWCPOOL_RESTRICT
#endif

// Kept out of line: called once per row, and inlined they changed GCC 12's inlining and
// register allocation of the per-pixel loops beside them (float16 2x2/s2 average over 128
// channels 1.3x slower from L2).
#if defined(__GNUC__) || defined(__clang__)
#define NHWCPOOL_NOINLINE __attribute__((noinline))
#elif defined(_MSC_VER)
#define NHWCPOOL_NOINLINE __declspec(noinline)
#else
#define NHWCPOOL_NOINLINE
#endif

// The fused kernels (fused.hpp, fused_int.hpp), their vector layer (vec.hpp) and dispatch are
// forced inline into the pixel loops: with the integer and pixel-run kernels in the same file,
// GCC 12 ran out of inlining budget and called max_zmm / avg_zmm (now max_vec / avg_vec) once
// per pixel (AVX-512, 2x2/s2 over (1,56,56,128) from L2: float32 max 22 -> 24 us, float16
// average 13 -> 20 us). avg_vec itself is left to the compiler, which inlines it: forced, the
// float16 average over 128 channels measured 1.2x slower.
#if defined(__GNUC__) || defined(__clang__)
#define NHWCPOOL_ALWAYS_INLINE __attribute__((always_inline))
#else
#define NHWCPOOL_ALWAYS_INLINE
#endif
