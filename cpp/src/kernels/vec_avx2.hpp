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
