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
