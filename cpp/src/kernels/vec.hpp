// The vector layer of the fused direct kernels (fused.hpp): Vec<float, 16> (AVX-512: __m512,
// __mmask16 tails) and Vec<float, 8> (AVX2 + F16C: __m256, lane-mask tails), each carrying
// exactly what those kernels use; VecF names the one this ISA's build uses, and
// NHWCPOOL_VEC_BLOCKS says whether there is one. vec_dispatch picks a kernel instantiation per
// block size.
//
// Part of the per-ISA kernel source: included only by kernels/all.hpp, inside namespace
// nhwcpool::NHWCPOOL_ISA and its anonymous namespace, after the files listed before it there.
//
// A Vec is a set of static functions over the raw register type (Vec::reg), not a wrapper
// object, so the kernels' register arrays are arrays of __m512 / __m256 as before and the
// AVX-512 build's code is the one the hand-written z_* kernels gave. The layer is our own:
// Google Highway (the library for this) is installable here only at 1.0.3, without LoadN /
// StoreN. Shape of the idea as in PyTorch's Vectorized<T> and YNNPACK's simd::vec<T, N>.
//
// Operations (float lanes; T is float or half_t, float16 widened on load and rounded to
// nearest even on store, as float_to_half_row):
//   zero, load<T>(p), load_tail<T>(p, tail), store<T, Stream>(p, x), store_tail<T>(p, tail, x),
//   add, mul, div, max (PyTorch-exact: MaxOp's rule, see below),
//   Bad / no_bad / or_bad(bad, x) / any_bad(bad): the sticky "a lane is inf or NaN" test,
//   tail_of(rem): the tail of a block whose last vector holds rem (1 .. N-1) lanes.
// max(acc, x) is MaxOp::f(acc, x) lane for lane: x when x > acc or x is NaN, else acc. So a
// NaN accumulator stays (maxps returns its second operand when either is NaN), the first of
// equal values stays (including +0 before -0 and -0 before +0), and a NaN x comes in with its
// payload.

// (NHWCPOOL_VEC_BLOCKS and kVecBlocks are set in blocks.hpp.)

template <class T, int N>
struct Vec;

#ifdef NHWCPOOL_ZMM_BLOCKS
template <>
struct Vec<float, 16> {
  static constexpr int N = 16;
  using reg = __m512;
  using Tail = __mmask16;
  using Bad = __mmask16;
  static NHWCPOOL_ALWAYS_INLINE inline Tail tail_of(int rem) { return static_cast<Tail>((std::uint64_t{1} << rem) - 1u); }
  static NHWCPOOL_ALWAYS_INLINE inline reg zero() { return _mm512_setzero_ps(); }
  template <class T>
  static NHWCPOOL_ALWAYS_INLINE inline reg load(const T* p) {
    if constexpr (std::is_same<T, float>::value) {
      return _mm512_loadu_ps(p);
    } else {
      return _mm512_maskz_cvtph_ps(0xFFFF, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    }
  }
  template <class T>
  static NHWCPOOL_ALWAYS_INLINE inline reg load_tail(const T* p, Tail tail) {
    if constexpr (std::is_same<T, float>::value) {
      return _mm512_maskz_loadu_ps(tail, p);
    } else {
      return _mm512_maskz_cvtph_ps(0xFFFF, _mm256_maskz_loadu_epi16(tail, p));
    }
  }
  template <class T, bool Stream>
  static NHWCPOOL_ALWAYS_INLINE inline void store(T* p, reg x) {
    if constexpr (std::is_same<T, float>::value) {
      if (Stream) {
        _mm512_stream_ps(p, x);
      } else {
        _mm512_storeu_ps(p, x);
      }
    } else {
      const __m256i h = _mm512_maskz_cvtps_ph(0xFFFF, x, _MM_FROUND_TO_NEAREST_INT);
      if (Stream) {
        _mm256_stream_si256(reinterpret_cast<__m256i*>(p), h);
      } else {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), h);
      }
    }
  }
  template <class T>
  static NHWCPOOL_ALWAYS_INLINE inline void store_tail(T* p, Tail tail, reg x) {
    if constexpr (std::is_same<T, float>::value) {
      _mm512_mask_storeu_ps(p, tail, x);
    } else {
      _mm256_mask_storeu_epi16(p, tail, _mm512_maskz_cvtps_ph(0xFFFF, x, _MM_FROUND_TO_NEAREST_INT));
    }
  }
  static NHWCPOOL_ALWAYS_INLINE inline reg add(reg a, reg b) { return _mm512_add_ps(a, b); }
  static NHWCPOOL_ALWAYS_INLINE inline reg mul(reg a, reg b) { return _mm512_mul_ps(a, b); }
  static NHWCPOOL_ALWAYS_INLINE inline reg div(reg a, reg b) { return _mm512_div_ps(a, b); }
  static NHWCPOOL_ALWAYS_INLINE inline reg set1(float v) { return _mm512_set1_ps(v); }
  // vmaxps(x, acc) where x is ordered, x where it is NaN (one masked max).
  static NHWCPOOL_ALWAYS_INLINE inline reg max(reg acc, reg x) {
    return _mm512_mask_max_ps(x, _mm512_cmp_ps_mask(x, x, _CMP_ORD_Q), x, acc);
  }
  static NHWCPOOL_ALWAYS_INLINE inline Bad no_bad() { return 0; }
  // fpclass: QNaN | +inf | -inf | SNaN
  static NHWCPOOL_ALWAYS_INLINE inline Bad or_bad(Bad bad, reg x) {
    return static_cast<__mmask16>(bad | _mm512_fpclass_ps_mask(x, 0x99));
  }
  static NHWCPOOL_ALWAYS_INLINE inline bool any_bad(Bad bad) { return bad != 0; }
};
using VecF = Vec<float, 16>;

#elif defined(__ARM_NEON) && defined(__aarch64__)
#include "vec_neon.hpp"  // Vec<float, 4>

#elif defined(NHWCPOOL_VEC_BLOCKS)
template <>
struct Vec<float, 8> {
  static constexpr int N = 8;
  using reg = __m256;
  // Lanes below rem set (for vmaskmovps), and rem itself (float16 tails go through a buffer:
  // AVX2 has no 16-bit masked load or store).
  struct Tail {
    __m256i m;
    int n;
  };
  using Bad = __m256;
  static NHWCPOOL_ALWAYS_INLINE inline Tail tail_of(int rem) {
    return Tail{_mm256_cmpgt_epi32(_mm256_set1_epi32(rem), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)), rem};
  }
  static NHWCPOOL_ALWAYS_INLINE inline reg zero() { return _mm256_setzero_ps(); }
  template <class T>
  static NHWCPOOL_ALWAYS_INLINE inline reg load(const T* p) {
    if constexpr (std::is_same<T, float>::value) {
      return _mm256_loadu_ps(p);
    } else {
      return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    }
  }
  template <class T>
  static NHWCPOOL_ALWAYS_INLINE inline reg load_tail(const T* p, Tail tail) {
    if constexpr (std::is_same<T, float>::value) {
      return _mm256_maskload_ps(p, tail.m);  // masked-off lanes read as +0, never touched
    } else {
      alignas(16) std::uint16_t b[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      std::memcpy(b, p, static_cast<std::size_t>(tail.n) * 2);
      return _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(b)));
    }
  }
  template <class T, bool Stream>
  static NHWCPOOL_ALWAYS_INLINE inline void store(T* p, reg x) {
    if constexpr (std::is_same<T, float>::value) {
      if (Stream) {
        _mm256_stream_ps(p, x);
      } else {
        _mm256_storeu_ps(p, x);
      }
    } else {
      const __m128i h = _mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT);
      if (Stream) {
        _mm_stream_si128(reinterpret_cast<__m128i*>(p), h);
      } else {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(p), h);
      }
    }
  }
  template <class T>
  static NHWCPOOL_ALWAYS_INLINE inline void store_tail(T* p, Tail tail, reg x) {
    if constexpr (std::is_same<T, float>::value) {
      _mm256_maskstore_ps(p, tail.m, x);
    } else {
      alignas(16) std::uint16_t b[8];
      _mm_store_si128(reinterpret_cast<__m128i*>(b), _mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT));
      std::memcpy(p, b, static_cast<std::size_t>(tail.n) * 2);
    }
  }
  static NHWCPOOL_ALWAYS_INLINE inline reg add(reg a, reg b) { return _mm256_add_ps(a, b); }
  static NHWCPOOL_ALWAYS_INLINE inline reg mul(reg a, reg b) { return _mm256_mul_ps(a, b); }
  static NHWCPOOL_ALWAYS_INLINE inline reg div(reg a, reg b) { return _mm256_div_ps(a, b); }
  static NHWCPOOL_ALWAYS_INLINE inline reg set1(float v) { return _mm256_set1_ps(v); }
  // vmaxps(x, acc) (acc where x is not greater, or either is NaN), blended to x where x is
  // NaN: op8(MaxOp) of the F16C loops.
  static NHWCPOOL_ALWAYS_INLINE inline reg max(reg acc, reg x) {
    return _mm256_blendv_ps(_mm256_max_ps(x, acc), x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
  }
  // x - x is +0 for finite x and NaN for inf or NaN; OR-ing the bits keeps any NaN a NaN.
  static NHWCPOOL_ALWAYS_INLINE inline Bad no_bad() { return _mm256_setzero_ps(); }
  static NHWCPOOL_ALWAYS_INLINE inline Bad or_bad(Bad bad, reg x) { return _mm256_or_ps(bad, _mm256_sub_ps(x, x)); }
  static NHWCPOOL_ALWAYS_INLINE inline bool any_bad(Bad bad) {
    return _mm256_movemask_ps(_mm256_cmp_ps(bad, bad, _CMP_UNORD_Q)) != 0;
  }
};
using VecF = Vec<float, 8>;
#endif

#ifdef NHWCPOOL_VEC_BLOCKS
// Calls f(nv, tail_flag, tail) for cb float lanes (1 .. one block) in vectors of V::N, with
// nv = ceil(cb / V::N) and tail_flag (the last vector is partial) as std::integral_constant,
// so f instantiates one kernel per case; tail masks the last vector. A block is at most 8
// vectors in both builds (128 floats in 512-bit ones, 64 in 256-bit ones). (A switch: a
// recursive if-chain here let GCC 12 spill the argmax kernel's registers to the stack, 2.5x
// slower; z_dispatch is the same for the AVX-512-only integer kernels.)
template <class V, class F>
NHWCPOOL_ALWAYS_INLINE inline void vec_dispatch(i64 cb, const F& f) {
  static_assert(block_of<float>() == 8 * V::N, "a block is 8 vectors");
  const int nv = static_cast<int>((cb + V::N - 1) / V::N);
  const int rem = static_cast<int>(cb % V::N);
  const typename V::Tail tail = V::tail_of(rem);
#define NHWCPOOL_V_CASE(k)                                            \
  case k:                                                             \
    if (rem == 0) {                                                   \
      f(std::integral_constant<int, k>{}, std::false_type{}, tail);   \
    } else {                                                          \
      f(std::integral_constant<int, k>{}, std::true_type{}, tail);    \
    }                                                                 \
    return;
  switch (nv) {
    NHWCPOOL_V_CASE(1)
    NHWCPOOL_V_CASE(2)
    NHWCPOOL_V_CASE(3)
    NHWCPOOL_V_CASE(4)
    NHWCPOOL_V_CASE(5)
    NHWCPOOL_V_CASE(6)
    NHWCPOOL_V_CASE(7)
    default:
      NHWCPOOL_V_CASE(8)
  }
#undef NHWCPOOL_V_CASE
}
#endif
