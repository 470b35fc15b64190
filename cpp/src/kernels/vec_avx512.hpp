// The AVX-512 build's Vec specialisations (see vec.hpp for each operation's semantics):
// Vec<float, 16> (__m512, __mmask16 masks and tails; the fused kernels, the small-C gather,
// the column slide, the running passes, the wide sums), Vec<float, 8> (__m256 with AVX-512VL
// __mmask8 masks: the sliding window's 256-bit chunks) and Vec<double, 8> (__m512d, __mmask8 tails: the
// float64 running passes, global_avg's float64 sums of float32).
//
// Part of the per-ISA kernel source: included only by vec.hpp (kernels/all.hpp), inside
// namespace nhwcpool::NHWCPOOL_ISA and its anonymous namespace.

template <>
struct Vec<float, 16> {
  static constexpr int N = 16;
  using reg = __m512;
  using Tail = __mmask16;
  using Bad = __mmask16;
  using Mask = __mmask16;
  using Nan = __mmask16;
  static NHWCPOOL_ALWAYS_INLINE inline Tail tail_of(int rem) { return static_cast<Tail>((std::uint64_t{1} << rem) - 1u); }
  static NHWCPOOL_ALWAYS_INLINE inline Mask mask(i64 n) { return static_cast<__mmask16>((1u << n) - 1u); }
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
  // Partial vectors: masked loads and stores cost the same as plain ones here, and a zero
  // mask reads nothing (so load_n with a mask ignores n, and store_n ignores `whole`).
  static NHWCPOOL_ALWAYS_INLINE inline reg load_n(const float* p, i64 n) {
    return n >= N ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(mask(n), p);
  }
  static NHWCPOOL_ALWAYS_INLINE inline reg load_n(const float* p, i64, Mask m) { return _mm512_maskz_loadu_ps(m, p); }
  static NHWCPOOL_ALWAYS_INLINE inline void store_n(float* p, reg x, i64 n, bool) { _mm512_mask_storeu_ps(p, mask(n), x); }
  static NHWCPOOL_ALWAYS_INLINE inline void store_n(float* p, reg x, i64, bool, Mask m) { _mm512_mask_storeu_ps(p, m, x); }
  static NHWCPOOL_ALWAYS_INLINE inline reg add(reg a, reg b) { return _mm512_add_ps(a, b); }
  static NHWCPOOL_ALWAYS_INLINE inline reg sub(reg a, reg b) { return _mm512_sub_ps(a, b); }
  static NHWCPOOL_ALWAYS_INLINE inline reg mul(reg a, reg b) { return _mm512_mul_ps(a, b); }
  static NHWCPOOL_ALWAYS_INLINE inline reg div(reg a, reg b) { return _mm512_div_ps(a, b); }
  static NHWCPOOL_ALWAYS_INLINE inline reg set1(float v) { return _mm512_set1_ps(v); }
  // vmaxps(x, acc) where x is ordered, x where it is NaN (one masked max).
  static NHWCPOOL_ALWAYS_INLINE inline reg max(reg acc, reg x) {
    return _mm512_mask_max_ps(x, _mm512_cmp_ps_mask(x, x, _CMP_ORD_Q), x, acc);
  }
  // The same result with the accumulator's register as the destination: vmaxps(x, acc) into
  // it, then x where x is NaN (a masked move). In the accumulating loops of the gather, the
  // column slide and the running passes, max's merge into x's register costs a register copy
  // per step (slide_cols 5x5 max 1.02x slower with max); the fused kernels measured max.
  // (maskz form: GCC 12 warns about _mm512_max_ps's undefined pass-through register)
  static NHWCPOOL_ALWAYS_INLINE inline reg max_into(reg acc, reg x) {
    const reg m = _mm512_maskz_max_ps(static_cast<__mmask16>(0xFFFF), x, acc);
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), m, x);
  }
  static NHWCPOOL_ALWAYS_INLINE inline reg max_plain(reg acc, reg x) {
    return _mm512_maskz_max_ps(static_cast<__mmask16>(0xFFFF), x, acc);
  }
  static NHWCPOOL_ALWAYS_INLINE inline Nan no_nan() { return 0; }
  static NHWCPOOL_ALWAYS_INLINE inline Nan or_nan(Nan f, reg a, reg b) {
    return static_cast<Nan>(f | _mm512_cmp_ps_mask(a, b, _CMP_UNORD_Q));
  }
  static NHWCPOOL_ALWAYS_INLINE inline bool any_nan(Nan f) { return f != 0; }
  static NHWCPOOL_ALWAYS_INLINE inline bool has_nan(reg x) { return _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q) != 0; }
  static NHWCPOOL_ALWAYS_INLINE inline Bad no_bad() { return 0; }
  // fpclass: QNaN | +inf | -inf | SNaN
  static NHWCPOOL_ALWAYS_INLINE inline Bad or_bad(Bad bad, reg x) {
    return static_cast<__mmask16>(bad | _mm512_fpclass_ps_mask(x, 0x99));
  }
  static NHWCPOOL_ALWAYS_INLINE inline bool any_bad(Bad bad) { return bad != 0; }
  // One vpermt2ps.
  struct Index {
    __m512i idx;
  };
  static NHWCPOOL_ALWAYS_INLINE inline Index index(const std::int32_t* v) { return Index{_mm512_loadu_si512(v)}; }
  static NHWCPOOL_ALWAYS_INLINE inline reg permute2(reg a, reg b, const Index& i) {
    return _mm512_permutex2var_ps(a, i.idx, b);
  }
  // The argmax's operations: one mask (two compares) drives both masked moves; the int32
  // indices are widened to int64 in registers (two halves) and stored straight.
  using Sel = __mmask16;
  using Idx = __m512i;
  static NHWCPOOL_ALWAYS_INLINE inline Idx idx_set1(i64 i) { return _mm512_set1_epi32(static_cast<int>(i)); }
  static NHWCPOOL_ALWAYS_INLINE inline Sel take(reg acc, reg x) {
    return static_cast<__mmask16>(_mm512_cmp_ps_mask(x, acc, _CMP_GT_OQ) | _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q));
  }
  static NHWCPOOL_ALWAYS_INLINE inline reg pick(Sel m, reg a, reg x) { return _mm512_mask_mov_ps(a, m, x); }
  static NHWCPOOL_ALWAYS_INLINE inline Idx idx_pick(Sel m, Idx o, Idx t) { return _mm512_mask_mov_epi32(o, m, t); }
  struct Wide {  // the indices widened to int64: lanes 0-7, 8-15
    __m512i lo, hi;
  };
  static NHWCPOOL_ALWAYS_INLINE inline Wide widen(Idx o) {
    return Wide{_mm512_maskz_cvtepi32_epi64(0xFF, _mm512_maskz_extracti64x4_epi64(0xF, o, 0)),
                _mm512_maskz_cvtepi32_epi64(0xFF, _mm512_maskz_extracti64x4_epi64(0xF, o, 1))};
  }
  template <bool Stream>
  static NHWCPOOL_ALWAYS_INLINE inline void store_wide(i64* d, const Wide& w) {
    if (Stream) {
      _mm512_stream_si512(reinterpret_cast<__m512i*>(d), w.lo);
      _mm512_stream_si512(reinterpret_cast<__m512i*>(d + 8), w.hi);
    } else {
      _mm512_storeu_si512(d, w.lo);
      _mm512_storeu_si512(d + 8, w.hi);
    }
  }
  static NHWCPOOL_ALWAYS_INLINE inline void store_wide_tail(i64* d, Tail tail, const Wide& w) {
    _mm512_mask_storeu_epi64(d, static_cast<__mmask8>(tail & 0xFF), w.lo);
    _mm512_mask_storeu_epi64(d + 8, static_cast<__mmask8>(tail >> 8), w.hi);
  }
};

// 256-bit vectors with the mask registers of AVX-512VL (the sliding window: 16 floats per chunk
// are two of these, which measured faster than one 512-bit vector in its loops).
template <>
struct Vec<float, 8> {
  static constexpr int N = 8;
  using reg = __m256;
  using Mask = __mmask8;
  static NHWCPOOL_ALWAYS_INLINE inline Mask mask(i64 n) { return static_cast<__mmask8>((1u << n) - 1u); }
  static NHWCPOOL_ALWAYS_INLINE inline reg zero() { return _mm256_setzero_ps(); }
  template <class T>
  static NHWCPOOL_ALWAYS_INLINE inline reg load(const T* p) {
    static_assert(std::is_same<T, float>::value, "float32 only");
    return _mm256_loadu_ps(p);
  }
  template <class T, bool Stream>
  static NHWCPOOL_ALWAYS_INLINE inline void store(T* p, reg x) {
    static_assert(std::is_same<T, float>::value, "float32 only");
    if (Stream) {
      _mm256_stream_ps(p, x);
    } else {
      _mm256_storeu_ps(p, x);
    }
  }
  static NHWCPOOL_ALWAYS_INLINE inline reg load_n(const float* p, i64 n) {
    return n >= N ? _mm256_loadu_ps(p) : _mm256_maskz_loadu_ps(mask(n), p);
  }
  static NHWCPOOL_ALWAYS_INLINE inline void store_n(float* p, reg x, i64 n, bool whole) {
    if (whole || n >= N) {
      _mm256_storeu_ps(p, x);
    } else {
      _mm256_mask_storeu_ps(p, mask(n), x);
    }
  }
  static NHWCPOOL_ALWAYS_INLINE inline reg add(reg a, reg b) { return _mm256_add_ps(a, b); }
  static NHWCPOOL_ALWAYS_INLINE inline reg sub(reg a, reg b) { return _mm256_sub_ps(a, b); }
  static NHWCPOOL_ALWAYS_INLINE inline reg mul(reg a, reg b) { return _mm256_mul_ps(a, b); }
  static NHWCPOOL_ALWAYS_INLINE inline reg div(reg a, reg b) { return _mm256_div_ps(a, b); }
  static NHWCPOOL_ALWAYS_INLINE inline reg set1(float v) { return _mm256_set1_ps(v); }
  // The AVX2 form (max, compare, blend), as the sliding window has always used here.
  static NHWCPOOL_ALWAYS_INLINE inline reg max(reg acc, reg x) {
    return _mm256_blendv_ps(_mm256_max_ps(x, acc), x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
  }
  static NHWCPOOL_ALWAYS_INLINE inline reg max_into(reg acc, reg x) { return max(acc, x); }
  static NHWCPOOL_ALWAYS_INLINE inline bool has_nan(reg x) {
    return _mm256_movemask_ps(_mm256_cmp_ps(x, x, _CMP_UNORD_Q)) != 0;
  }
};

template <>
struct Vec<double, 8> {
  static constexpr int N = 8;
  using reg = __m512d;
  using Mask = __mmask8;
  static NHWCPOOL_ALWAYS_INLINE inline Mask mask(i64 n) { return static_cast<__mmask8>((1u << n) - 1u); }
  static NHWCPOOL_ALWAYS_INLINE inline reg zero() { return _mm512_setzero_pd(); }
  using Tail = __mmask8;
  static NHWCPOOL_ALWAYS_INLINE inline Tail tail_of(int rem) { return static_cast<Tail>((1u << rem) - 1u); }
  // T = double, or float (widened on load, exact; rounded to nearest even on store).
  template <class T>
  static NHWCPOOL_ALWAYS_INLINE inline reg load(const T* p) {
    if constexpr (std::is_same<T, float>::value) {
      return _mm512_maskz_cvtps_pd(0xFF, _mm256_loadu_ps(p));  // (maskz: GCC 12 warns about the undefined pass-through)
    } else {
      static_assert(std::is_same<T, double>::value, "float64 or float32");
      return _mm512_loadu_pd(p);
    }
  }
  template <class T>
  static NHWCPOOL_ALWAYS_INLINE inline reg load_tail(const T* p, Tail tail) {
    if constexpr (std::is_same<T, float>::value) {
      return _mm512_maskz_cvtps_pd(0xFF, _mm256_maskz_loadu_ps(tail, p));
    } else {
      static_assert(std::is_same<T, double>::value, "float64 or float32");
      return _mm512_maskz_loadu_pd(tail, p);
    }
  }
  template <class T, bool Stream>
  static NHWCPOOL_ALWAYS_INLINE inline void store(T* p, reg x) {
    if constexpr (std::is_same<T, float>::value) {
      if (Stream) {
        _mm256_stream_ps(p, _mm512_maskz_cvtpd_ps(0xFF, x));
      } else {
        _mm256_storeu_ps(p, _mm512_maskz_cvtpd_ps(0xFF, x));
      }
    } else {
      static_assert(std::is_same<T, double>::value, "float64 or float32");
      if (Stream) {
        _mm512_stream_pd(p, x);
      } else {
        _mm512_storeu_pd(p, x);
      }
    }
  }
  template <class T>
  static NHWCPOOL_ALWAYS_INLINE inline void store_tail(T* p, Tail tail, reg x) {
    if constexpr (std::is_same<T, float>::value) {
      _mm256_mask_storeu_ps(p, tail, _mm512_maskz_cvtpd_ps(0xFF, x));
    } else {
      static_assert(std::is_same<T, double>::value, "float64 or float32");
      _mm512_mask_storeu_pd(p, tail, x);
    }
  }
  static NHWCPOOL_ALWAYS_INLINE inline reg load_n(const double* p, i64 n) {
    return n >= N ? _mm512_loadu_pd(p) : _mm512_maskz_loadu_pd(mask(n), p);
  }
  static NHWCPOOL_ALWAYS_INLINE inline void store_n(double* p, reg x, i64 n, bool) { _mm512_mask_storeu_pd(p, mask(n), x); }
  static NHWCPOOL_ALWAYS_INLINE inline reg add(reg a, reg b) { return _mm512_add_pd(a, b); }
  static NHWCPOOL_ALWAYS_INLINE inline reg mul(reg a, reg b) { return _mm512_mul_pd(a, b); }
  static NHWCPOOL_ALWAYS_INLINE inline reg set1(double v) { return _mm512_set1_pd(v); }
  // vmaxpd(x, acc), then x where x is NaN: the accumulating form (see Vec<float, 16>).
  static NHWCPOOL_ALWAYS_INLINE inline reg max(reg acc, reg x) {
    const reg m = _mm512_maskz_max_pd(static_cast<__mmask8>(0xFF), x, acc);
    return _mm512_mask_blend_pd(_mm512_cmp_pd_mask(x, x, _CMP_UNORD_Q), m, x);
  }
  static NHWCPOOL_ALWAYS_INLINE inline reg max_into(reg acc, reg x) { return max(acc, x); }
};

// Integer vectors, 64 bytes of int8 .. uint64 lanes (vec.hpp's VecI<T>): the integer max
// kernels and float16 max on the bits. Masked loads and stores (BW for 8- and 16-bit lanes)
// make the tails; the maskz forms with all lanes set are there because the plain ones trip
// GCC 12's -Wmaybe-uninitialized.
template <class T>
struct VecInt512 {
  static_assert(std::is_integral<T>::value, "integer lanes");
  static constexpr int N = 64 / static_cast<int>(sizeof(T));
  static constexpr bool kSigned = std::is_signed<T>::value;
  static constexpr bool kOverlapTail = false;
  using reg = __m512i;
  using Tail = typename std::conditional<
      sizeof(T) == 1, __mmask64,
      typename std::conditional<sizeof(T) == 2, __mmask32,
                                typename std::conditional<sizeof(T) == 4, __mmask16, __mmask8>::type>::type>::type;
  using Cmp = Tail;
  static constexpr Tail kAll = static_cast<Tail>(~Tail{0});
  static NHWCPOOL_ALWAYS_INLINE inline Tail tail_of(int rem) { return static_cast<Tail>((std::uint64_t{1} << rem) - 1u); }
  static NHWCPOOL_ALWAYS_INLINE inline reg set1(T v) {
    if constexpr (sizeof(T) == 1) return _mm512_set1_epi8(static_cast<char>(v));
    if constexpr (sizeof(T) == 2) return _mm512_set1_epi16(static_cast<short>(v));
    if constexpr (sizeof(T) == 4) return _mm512_set1_epi32(static_cast<int>(v));
    if constexpr (sizeof(T) == 8) return _mm512_set1_epi64(static_cast<long long>(v));
  }
  static NHWCPOOL_ALWAYS_INLINE inline reg load(const T* p) { return _mm512_loadu_si512(p); }
  static NHWCPOOL_ALWAYS_INLINE inline reg load_tail(const T* p, Tail m) {
    if constexpr (sizeof(T) == 1) return _mm512_maskz_loadu_epi8(m, p);
    if constexpr (sizeof(T) == 2) return _mm512_maskz_loadu_epi16(m, p);
    if constexpr (sizeof(T) == 4) return _mm512_maskz_loadu_epi32(m, p);
    if constexpr (sizeof(T) == 8) return _mm512_maskz_loadu_epi64(m, p);
  }
  template <bool Stream>
  static NHWCPOOL_ALWAYS_INLINE inline void store(T* p, reg x) {
    if (Stream) {
      _mm512_stream_si512(reinterpret_cast<__m512i*>(p), x);
    } else {
      _mm512_storeu_si512(p, x);
    }
  }
  static NHWCPOOL_ALWAYS_INLINE inline void store_tail(T* p, Tail m, reg x) {
    if constexpr (sizeof(T) == 1) _mm512_mask_storeu_epi8(p, m, x);
    if constexpr (sizeof(T) == 2) _mm512_mask_storeu_epi16(p, m, x);
    if constexpr (sizeof(T) == 4) _mm512_mask_storeu_epi32(p, m, x);
    if constexpr (sizeof(T) == 8) _mm512_mask_storeu_epi64(p, m, x);
  }
  static NHWCPOOL_ALWAYS_INLINE inline reg max(reg a, reg b) {
    if constexpr (sizeof(T) == 1) return kSigned ? _mm512_maskz_max_epi8(kAll, a, b) : _mm512_maskz_max_epu8(kAll, a, b);
    if constexpr (sizeof(T) == 2) return kSigned ? _mm512_maskz_max_epi16(kAll, a, b) : _mm512_maskz_max_epu16(kAll, a, b);
    if constexpr (sizeof(T) == 4) return kSigned ? _mm512_maskz_max_epi32(kAll, a, b) : _mm512_maskz_max_epu32(kAll, a, b);
    if constexpr (sizeof(T) == 8) return kSigned ? _mm512_maskz_max_epi64(kAll, a, b) : _mm512_maskz_max_epu64(kAll, a, b);
  }
  static NHWCPOOL_ALWAYS_INLINE inline reg min(reg a, reg b) {
    if constexpr (sizeof(T) == 1) return kSigned ? _mm512_maskz_min_epi8(kAll, a, b) : _mm512_maskz_min_epu8(kAll, a, b);
    if constexpr (sizeof(T) == 2) return kSigned ? _mm512_maskz_min_epi16(kAll, a, b) : _mm512_maskz_min_epu16(kAll, a, b);
    if constexpr (sizeof(T) == 4) return kSigned ? _mm512_maskz_min_epi32(kAll, a, b) : _mm512_maskz_min_epu32(kAll, a, b);
    if constexpr (sizeof(T) == 8) return kSigned ? _mm512_maskz_min_epi64(kAll, a, b) : _mm512_maskz_min_epu64(kAll, a, b);
  }
  static NHWCPOOL_ALWAYS_INLINE inline Cmp gt(reg a, reg b) {
    if constexpr (sizeof(T) == 1) return kSigned ? _mm512_cmpgt_epi8_mask(a, b) : _mm512_cmpgt_epu8_mask(a, b);
    if constexpr (sizeof(T) == 2) return kSigned ? _mm512_cmpgt_epi16_mask(a, b) : _mm512_cmpgt_epu16_mask(a, b);
    if constexpr (sizeof(T) == 4) return kSigned ? _mm512_cmpgt_epi32_mask(a, b) : _mm512_cmpgt_epu32_mask(a, b);
    if constexpr (sizeof(T) == 8) return kSigned ? _mm512_cmpgt_epi64_mask(a, b) : _mm512_cmpgt_epu64_mask(a, b);
  }
  static NHWCPOOL_ALWAYS_INLINE inline Cmp eq_zero(reg a) {
    if constexpr (sizeof(T) == 1) return _mm512_testn_epi8_mask(a, a);
    if constexpr (sizeof(T) == 2) return _mm512_testn_epi16_mask(a, a);
    if constexpr (sizeof(T) == 4) return _mm512_testn_epi32_mask(a, a);
    if constexpr (sizeof(T) == 8) return _mm512_testn_epi64_mask(a, a);
  }
  static NHWCPOOL_ALWAYS_INLINE inline Cmp cmp_or(Cmp a, Cmp b) { return static_cast<Cmp>(a | b); }
  static NHWCPOOL_ALWAYS_INLINE inline bool any(Cmp c) { return c != 0; }
  // vpmov*2m (the lanes' sign bits as a mask), then a masked blend.
  static NHWCPOOL_ALWAYS_INLINE inline reg select_neg(reg x, reg a, reg b) {
    if constexpr (sizeof(T) == 1) return _mm512_mask_blend_epi8(_mm512_movepi8_mask(x), a, b);
    if constexpr (sizeof(T) == 2) return _mm512_mask_blend_epi16(_mm512_movepi16_mask(x), a, b);
    if constexpr (sizeof(T) == 4) return _mm512_mask_blend_epi32(_mm512_movepi32_mask(x), a, b);
    if constexpr (sizeof(T) == 8) return _mm512_mask_blend_epi64(_mm512_movepi64_mask(x), a, b);
  }
  static NHWCPOOL_ALWAYS_INLINE inline reg or_xor(reg a, reg b, reg c) { return _mm512_ternarylogic_epi32(a, b, c, 0xF6); }
};
template <> struct Vec<std::int8_t, 64> : VecInt512<std::int8_t> {};
template <> struct Vec<std::uint8_t, 64> : VecInt512<std::uint8_t> {};
template <> struct Vec<std::int16_t, 32> : VecInt512<std::int16_t> {};
template <> struct Vec<std::uint16_t, 32> : VecInt512<std::uint16_t> {};
template <> struct Vec<std::int32_t, 16> : VecInt512<std::int32_t> {};
template <> struct Vec<std::uint32_t, 16> : VecInt512<std::uint32_t> {};
template <> struct Vec<std::int64_t, 8> : VecInt512<std::int64_t> {};
template <> struct Vec<std::uint64_t, 8> : VecInt512<std::uint64_t> {};
