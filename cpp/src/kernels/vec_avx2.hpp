// The AVX2 + F16C build's Vec specialisations (see vec.hpp for each operation's semantics):
// Vec<float, 8> (__m256, lane-mask masks and tails: every float32 strategy over Vec) and
// Vec<double, 4> (__m256d, int32 lane-mask tails: the float64 running passes,
// global_avg's float64 sums of float32).
//
// Part of the per-ISA kernel source: included only by vec.hpp (kernels/all.hpp), inside
// namespace nhwcpool::NHWCPOOL_ISA and its anonymous namespace.

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
  using Mask = __m256i;  // lanes below n all ones
  using Nan = __m256;
  static NHWCPOOL_ALWAYS_INLINE inline Tail tail_of(int rem) {
    return Tail{_mm256_cmpgt_epi32(_mm256_set1_epi32(rem), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)), rem};
  }
  static NHWCPOOL_ALWAYS_INLINE inline Mask mask(i64 n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
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
  // Partial vectors: a whole vector is read and written plainly; `whole` lets a store write
  // all lanes (AMD's masked stores are slow).
  static NHWCPOOL_ALWAYS_INLINE inline reg load_n(const float* p, i64 n) {
    return n >= N ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, mask(n));
  }
  static NHWCPOOL_ALWAYS_INLINE inline reg load_n(const float* p, i64 n, Mask m) {
    return n >= N ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, m);
  }
  static NHWCPOOL_ALWAYS_INLINE inline void store_n(float* p, reg x, i64 n, bool whole) {
    if (whole || n >= N) {
      _mm256_storeu_ps(p, x);
    } else {
      _mm256_maskstore_ps(p, mask(n), x);
    }
  }
  static NHWCPOOL_ALWAYS_INLINE inline void store_n(float* p, reg x, i64 n, bool whole, Mask m) {
    if (whole || n >= N) {
      _mm256_storeu_ps(p, x);
    } else {
      _mm256_maskstore_ps(p, m, x);
    }
  }
  static NHWCPOOL_ALWAYS_INLINE inline reg add(reg a, reg b) { return _mm256_add_ps(a, b); }
  static NHWCPOOL_ALWAYS_INLINE inline reg sub(reg a, reg b) { return _mm256_sub_ps(a, b); }
  static NHWCPOOL_ALWAYS_INLINE inline reg mul(reg a, reg b) { return _mm256_mul_ps(a, b); }
  static NHWCPOOL_ALWAYS_INLINE inline reg div(reg a, reg b) { return _mm256_div_ps(a, b); }
  static NHWCPOOL_ALWAYS_INLINE inline reg set1(float v) { return _mm256_set1_ps(v); }
  // vmaxps(x, acc) (acc where x is not greater, or either is NaN), blended to x where x is
  // NaN: op8(MaxOp) of the F16C loops.
  static NHWCPOOL_ALWAYS_INLINE inline reg max(reg acc, reg x) {
    return _mm256_blendv_ps(_mm256_max_ps(x, acc), x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
  }
  static NHWCPOOL_ALWAYS_INLINE inline reg max_into(reg acc, reg x) { return max(acc, x); }
  static NHWCPOOL_ALWAYS_INLINE inline reg max_plain(reg acc, reg x) { return _mm256_max_ps(x, acc); }
  static NHWCPOOL_ALWAYS_INLINE inline Nan no_nan() { return _mm256_setzero_ps(); }
  static NHWCPOOL_ALWAYS_INLINE inline Nan or_nan(Nan f, reg a, reg b) { return _mm256_or_ps(f, _mm256_cmp_ps(a, b, _CMP_UNORD_Q)); }
  static NHWCPOOL_ALWAYS_INLINE inline bool any_nan(Nan f) { return _mm256_movemask_ps(f) != 0; }
  static NHWCPOOL_ALWAYS_INLINE inline bool has_nan(reg x) {
    return _mm256_movemask_ps(_mm256_cmp_ps(x, x, _CMP_UNORD_Q)) != 0;
  }
  // x - x is +0 for finite x and NaN for inf or NaN; OR-ing the bits keeps any NaN a NaN.
  static NHWCPOOL_ALWAYS_INLINE inline Bad no_bad() { return _mm256_setzero_ps(); }
  static NHWCPOOL_ALWAYS_INLINE inline Bad or_bad(Bad bad, reg x) { return _mm256_or_ps(bad, _mm256_sub_ps(x, x)); }
  static NHWCPOOL_ALWAYS_INLINE inline bool any_bad(Bad bad) {
    return _mm256_movemask_ps(_mm256_cmp_ps(bad, bad, _CMP_UNORD_Q)) != 0;
  }
  // Two vpermps and a blend (AVX2 has no two-table permute): hi marks the lanes taken from b.
  struct Index {
    __m256i idx;
    __m256 hi;
  };
  static NHWCPOOL_ALWAYS_INLINE inline Index index(const std::int32_t* v) {
    const __m256i i = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(v));
    return Index{i, _mm256_castsi256_ps(_mm256_cmpgt_epi32(i, _mm256_set1_epi32(N - 1)))};
  }
  static NHWCPOOL_ALWAYS_INLINE inline reg permute2(reg a, reg b, const Index& i) {
    return _mm256_blendv_ps(_mm256_permutevar8x32_ps(a, i.idx), _mm256_permutevar8x32_ps(b, i.idx), i.hi);
  }
  // The argmax's operations: the lane mask of two compares drives two vblendvps (the indices
  // blended as floats: a blend moves bits); the int32 indices are widened by vpmovsxdq, four
  // at a time; tails through vpmaskmovq.
  using Sel = __m256;
  using Idx = __m256i;
  static NHWCPOOL_ALWAYS_INLINE inline Idx idx_set1(i64 i) { return _mm256_set1_epi32(static_cast<int>(i)); }
  static NHWCPOOL_ALWAYS_INLINE inline Sel take(reg acc, reg x) {
    return _mm256_or_ps(_mm256_cmp_ps(x, acc, _CMP_GT_OQ), _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
  }
  static NHWCPOOL_ALWAYS_INLINE inline reg pick(Sel m, reg a, reg x) { return _mm256_blendv_ps(a, x, m); }
  static NHWCPOOL_ALWAYS_INLINE inline Idx idx_pick(Sel m, Idx o, Idx t) {
    return _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(o), _mm256_castsi256_ps(t), m));
  }
  struct Wide {  // the indices widened to int64: lanes 0-3, 4-7
    __m256i lo, hi;
  };
  static NHWCPOOL_ALWAYS_INLINE inline Wide widen(Idx o) {
    return Wide{_mm256_cvtepi32_epi64(_mm256_castsi256_si128(o)), _mm256_cvtepi32_epi64(_mm256_extracti128_si256(o, 1))};
  }
  template <bool Stream>
  static NHWCPOOL_ALWAYS_INLINE inline void store_wide(i64* d, const Wide& w) {
    if (Stream) {
      _mm256_stream_si256(reinterpret_cast<__m256i*>(d), w.lo);
      _mm256_stream_si256(reinterpret_cast<__m256i*>(d + 4), w.hi);
    } else {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(d), w.lo);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + 4), w.hi);
    }
  }
  static NHWCPOOL_ALWAYS_INLINE inline void store_wide_tail(i64* d, Tail tail, const Wide& w) {
    auto* q = reinterpret_cast<long long*>(d);
    _mm256_maskstore_epi64(q, _mm256_cvtepi32_epi64(_mm256_castsi256_si128(tail.m)), w.lo);
    if (tail.n > 4) _mm256_maskstore_epi64(q + 4, _mm256_cvtepi32_epi64(_mm256_extracti128_si256(tail.m, 1)), w.hi);
  }
};

template <>
struct Vec<double, 4> {
  static constexpr int N = 4;
  using reg = __m256d;
  using Mask = __m256i;
  static NHWCPOOL_ALWAYS_INLINE inline Mask mask(i64 n) {
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3));
  }
  static NHWCPOOL_ALWAYS_INLINE inline reg zero() { return _mm256_setzero_pd(); }
  // Lanes below rem as int32 lane masks (vmaskmovps for float32; widened to int64 for
  // vmaskmovpd).
  using Tail = __m128i;
  static NHWCPOOL_ALWAYS_INLINE inline Tail tail_of(int rem) {
    return _mm_cmpgt_epi32(_mm_set1_epi32(rem), _mm_setr_epi32(0, 1, 2, 3));
  }
  // T = double, or float (widened on load, exact; rounded to nearest even on store).
  template <class T>
  static NHWCPOOL_ALWAYS_INLINE inline reg load(const T* p) {
    if constexpr (std::is_same<T, float>::value) {
      return _mm256_cvtps_pd(_mm_loadu_ps(p));
    } else {
      static_assert(std::is_same<T, double>::value, "float64 or float32");
      return _mm256_loadu_pd(p);
    }
  }
  template <class T>
  static NHWCPOOL_ALWAYS_INLINE inline reg load_tail(const T* p, Tail tail) {  // masked-off lanes read as +0, never touched
    if constexpr (std::is_same<T, float>::value) {
      return _mm256_cvtps_pd(_mm_maskload_ps(p, tail));
    } else {
      static_assert(std::is_same<T, double>::value, "float64 or float32");
      return _mm256_maskload_pd(p, _mm256_cvtepi32_epi64(tail));
    }
  }
  template <class T, bool Stream>
  static NHWCPOOL_ALWAYS_INLINE inline void store(T* p, reg x) {
    if constexpr (std::is_same<T, float>::value) {
      if (Stream) {
        _mm_stream_ps(p, _mm256_cvtpd_ps(x));
      } else {
        _mm_storeu_ps(p, _mm256_cvtpd_ps(x));
      }
    } else {
      static_assert(std::is_same<T, double>::value, "float64 or float32");
      if (Stream) {
        _mm256_stream_pd(p, x);
      } else {
        _mm256_storeu_pd(p, x);
      }
    }
  }
  template <class T>
  static NHWCPOOL_ALWAYS_INLINE inline void store_tail(T* p, Tail tail, reg x) {
    if constexpr (std::is_same<T, float>::value) {
      _mm_maskstore_ps(p, tail, _mm256_cvtpd_ps(x));
    } else {
      static_assert(std::is_same<T, double>::value, "float64 or float32");
      _mm256_maskstore_pd(p, _mm256_cvtepi32_epi64(tail), x);
    }
  }
  static NHWCPOOL_ALWAYS_INLINE inline reg load_n(const double* p, i64 n) {
    return n >= N ? _mm256_loadu_pd(p) : _mm256_maskload_pd(p, mask(n));
  }
  // (`whole` unused: its one user, the running passes, sets it only for full vectors.)
  static NHWCPOOL_ALWAYS_INLINE inline void store_n(double* p, reg x, i64 n, bool) {
    if (n >= N) {
      _mm256_storeu_pd(p, x);
    } else {
      _mm256_maskstore_pd(p, mask(n), x);
    }
  }
  static NHWCPOOL_ALWAYS_INLINE inline reg add(reg a, reg b) { return _mm256_add_pd(a, b); }
  static NHWCPOOL_ALWAYS_INLINE inline reg mul(reg a, reg b) { return _mm256_mul_pd(a, b); }
  static NHWCPOOL_ALWAYS_INLINE inline reg set1(double v) { return _mm256_set1_pd(v); }
  static NHWCPOOL_ALWAYS_INLINE inline reg max(reg acc, reg x) {
    return _mm256_blendv_pd(_mm256_max_pd(x, acc), x, _mm256_cmp_pd(x, x, _CMP_UNORD_Q));
  }
  static NHWCPOOL_ALWAYS_INLINE inline reg max_into(reg acc, reg x) { return max(acc, x); }
};

// Integer vectors, 32 bytes of int8 .. uint64 lanes (vec.hpp's VecI<T>): the integer max
// kernels and float16 max on the bits. AVX2 has vpmax/vpmin for signed and unsigned 8-, 16-
// and 32-bit lanes; 64-bit lanes compare (vpcmpgtq, signed: unsigned ones with their sign bits
// flipped) and blend. It has no masked 8- or 16-bit loads or stores, and AMD's vpmaskmov
// stores are slow, so the last vector of a block overlaps the one before (kOverlapTail).
// Unsigned compares flip the sign bits first (one xor each side, folded into a constant for
// set1 operands).
template <class T>
struct VecInt256 {
  static_assert(std::is_integral<T>::value, "integer lanes");
  static constexpr int N = 32 / static_cast<int>(sizeof(T));
  static constexpr bool kSigned = std::is_signed<T>::value;
  static constexpr bool kOverlapTail = true;
  using reg = __m256i;
  using Tail = int;  // (unused: the last vector overlaps)
  using Cmp = __m256i;
  static NHWCPOOL_ALWAYS_INLINE inline Tail tail_of(int rem) { return rem; }
  static NHWCPOOL_ALWAYS_INLINE inline reg set1(T v) {
    if constexpr (sizeof(T) == 1) return _mm256_set1_epi8(static_cast<char>(v));
    if constexpr (sizeof(T) == 2) return _mm256_set1_epi16(static_cast<short>(v));
    if constexpr (sizeof(T) == 4) return _mm256_set1_epi32(static_cast<int>(v));
    if constexpr (sizeof(T) == 8) return _mm256_set1_epi64x(static_cast<long long>(v));
  }
  static NHWCPOOL_ALWAYS_INLINE inline reg load(const T* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  template <bool Stream>
  static NHWCPOOL_ALWAYS_INLINE inline void store(T* p, reg x) {
    if (Stream) {
      _mm256_stream_si256(reinterpret_cast<__m256i*>(p), x);
    } else {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), x);
    }
  }
  // Signed compare of the lanes (8 .. 64 bits).
  static NHWCPOOL_ALWAYS_INLINE inline reg sgt(reg a, reg b) {
    if constexpr (sizeof(T) == 1) return _mm256_cmpgt_epi8(a, b);
    if constexpr (sizeof(T) == 2) return _mm256_cmpgt_epi16(a, b);
    if constexpr (sizeof(T) == 4) return _mm256_cmpgt_epi32(a, b);
    if constexpr (sizeof(T) == 8) return _mm256_cmpgt_epi64(a, b);
  }
  static NHWCPOOL_ALWAYS_INLINE inline reg sign_bits() {
    return set1(static_cast<T>(std::uint64_t{1} << (8 * sizeof(T) - 1)));
  }
  static NHWCPOOL_ALWAYS_INLINE inline Cmp gt(reg a, reg b) {
    if constexpr (kSigned) {
      return sgt(a, b);
    } else {
      const reg s = sign_bits();
      return sgt(_mm256_xor_si256(a, s), _mm256_xor_si256(b, s));
    }
  }
  static NHWCPOOL_ALWAYS_INLINE inline reg max(reg a, reg b) {
    if constexpr (sizeof(T) == 1) return kSigned ? _mm256_max_epi8(a, b) : _mm256_max_epu8(a, b);
    if constexpr (sizeof(T) == 2) return kSigned ? _mm256_max_epi16(a, b) : _mm256_max_epu16(a, b);
    if constexpr (sizeof(T) == 4) return kSigned ? _mm256_max_epi32(a, b) : _mm256_max_epu32(a, b);
    if constexpr (sizeof(T) == 8) return _mm256_blendv_epi8(a, b, gt(b, a));
  }
  static NHWCPOOL_ALWAYS_INLINE inline reg min(reg a, reg b) {
    if constexpr (sizeof(T) == 1) return kSigned ? _mm256_min_epi8(a, b) : _mm256_min_epu8(a, b);
    if constexpr (sizeof(T) == 2) return kSigned ? _mm256_min_epi16(a, b) : _mm256_min_epu16(a, b);
    if constexpr (sizeof(T) == 4) return kSigned ? _mm256_min_epi32(a, b) : _mm256_min_epu32(a, b);
    if constexpr (sizeof(T) == 8) return _mm256_blendv_epi8(a, b, gt(a, b));
  }
  static NHWCPOOL_ALWAYS_INLINE inline Cmp eq_zero(reg a) {
    const reg z = _mm256_setzero_si256();
    if constexpr (sizeof(T) == 1) return _mm256_cmpeq_epi8(a, z);
    if constexpr (sizeof(T) == 2) return _mm256_cmpeq_epi16(a, z);
    if constexpr (sizeof(T) == 4) return _mm256_cmpeq_epi32(a, z);
    if constexpr (sizeof(T) == 8) return _mm256_cmpeq_epi64(a, z);
  }
  static NHWCPOOL_ALWAYS_INLINE inline Cmp cmp_or(Cmp a, Cmp b) { return _mm256_or_si256(a, b); }
  static NHWCPOOL_ALWAYS_INLINE inline bool any(Cmp c) { return !_mm256_testz_si256(c, c); }
  // vpblendvb / vblendvps / vblendvpd read each lane's sign bit (16-bit lanes: spread to both
  // bytes by an arithmetic shift first).
  static NHWCPOOL_ALWAYS_INLINE inline reg select_neg(reg x, reg a, reg b) {
    if constexpr (sizeof(T) == 1) return _mm256_blendv_epi8(a, b, x);
    if constexpr (sizeof(T) == 2) return _mm256_blendv_epi8(a, b, _mm256_srai_epi16(x, 15));
    if constexpr (sizeof(T) == 4) {
      return _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(a), _mm256_castsi256_ps(b), _mm256_castsi256_ps(x)));
    }
    if constexpr (sizeof(T) == 8) {
      return _mm256_castpd_si256(_mm256_blendv_pd(_mm256_castsi256_pd(a), _mm256_castsi256_pd(b), _mm256_castsi256_pd(x)));
    }
  }
  static NHWCPOOL_ALWAYS_INLINE inline reg or_xor(reg a, reg b, reg c) { return _mm256_or_si256(a, _mm256_xor_si256(b, c)); }
};
template <> struct Vec<std::int8_t, 32> : VecInt256<std::int8_t> {};
template <> struct Vec<std::uint8_t, 32> : VecInt256<std::uint8_t> {};
template <> struct Vec<std::int16_t, 16> : VecInt256<std::int16_t> {};
template <> struct Vec<std::uint16_t, 16> : VecInt256<std::uint16_t> {};
template <> struct Vec<std::int32_t, 8> : VecInt256<std::int32_t> {};
template <> struct Vec<std::uint32_t, 8> : VecInt256<std::uint32_t> {};
template <> struct Vec<std::int64_t, 4> : VecInt256<std::int64_t> {};
template <> struct Vec<std::uint64_t, 4> : VecInt256<std::uint64_t> {};
