// Average pooling's finish: Divisor, FiniteCheck, all_finite, narrowed, RowDivisors and
// avg_row_float64 (the float64 redo of a row whose float32 sums overflowed).
//
// Part of the per-ISA kernel source: included only by kernels/all.hpp, inside namespace
// nhwcpool::NHWCPOOL_ISA and its anonymous namespace, after the files listed before it there.

// ---------------------------------------------------------------------------------------------
// Average pooling. A = accumulator, M = type the mean is computed in.

// out = sum / d, exactly as IEEE division. A power-of-two divisor (2x2, 4x4 windows) uses the
// exact reciprocal instead: multiplying by 2^-k rounds identically to dividing by 2^k, and a
// multiply costs far less than a vector divide. (A reciprocal multiply with one FMA correction
// step, exact for small integer divisors outside subnormal quotients, measured no faster than
// vdivps in the sliding 3x3 average on Zen 4, so it is not used.)
template <class M>
struct Divisor {
  M d = M(1), inv = M(1);
  bool pow2 = true;
  Divisor() = default;
  explicit Divisor(i64 v) : d(static_cast<M>(v)), inv(M(1) / static_cast<M>(v)) {
    const std::uint64_t u = static_cast<std::uint64_t>(v);
    const std::uint64_t m = v < 0 ? ~u + 1u : u;  // |v| without negating INT64_MIN
    pow2 = m != 0 && (m & (m - 1)) == 0;
  }
  // narrow: the mean is rounded again, to a type with at most half of M's precision (a
  // float64 mean stored as float32 or float16). Then sum * (1/d) serves (vdivpd was a third of
  // a 13x13/s1 average's time): it is within 2 ulp of M's quotient, so the narrow result is
  // the same except where the quotient lies within that of a tie of the narrow type, where it
  // may take the tie's other neighbour (still within half an ulp). Not for integer results.
  template <class A, class O>
  inline void apply(const A* NHWCPOOL_RESTRICT sum, O* NHWCPOOL_RESTRICT out, i64 n, bool narrow = false) const {
    if (pow2 || narrow) {
      for (i64 c = 0; c < n; ++c) out[c] = static_cast<O>(static_cast<M>(sum[c]) * inv);
    } else {
      for (i64 c = 0; c < n; ++c) out[c] = static_cast<O>(static_cast<M>(sum[c]) / d);
    }
  }
};

// float32 averages sum in float32 up to this many window cells, in float64 beyond (avg_pool in
// entry.hpp, global_avg.hpp).
constexpr i64 kFloatSumCells = 64;

// float32 sums (kFloatSumCells) can overflow where the mean is finite (e.g. values near
// FLT_MAX). A row with any non-finite mean is redone with float64 sums, so the mean of finite
// values is always finite; rows holding inf/NaN inputs take this path and give the same result.
// The test over many short blocks of one row, reduced once per row: the direct average kernel
// tests each 64-value block, and a reduction per block cost ~10% of a 2x2/s2 average. (Largest
// exponent field, an unsigned max; all ones = inf/NaN.)
class FiniteCheck {
 public:
  void add(const float* v, i64 n) {
    i64 i = 0;
#if defined(__AVX2__)
    const __m256i expo = _mm256_set1_epi32(0x7f800000);
    for (; i + 8 <= n; i += 8) {
      const __m256i u = _mm256_castps_si256(_mm256_loadu_ps(v + i));
      top8_ = _mm256_max_epu32(top8_, _mm256_and_si256(u, expo));
    }
#endif
    for (; i < n; ++i) {
      std::uint32_t u;
      std::memcpy(&u, v + i, 4);
      u &= 0x7f800000u;
      top_ = u > top_ ? u : top_;
    }
  }
  // Some value was found not finite elsewhere.
  void mark_not_finite() { top_ = 0x7f800000u; }
  // All values added since the last take() finite? (Then starts over.)
  bool take() {
    std::uint32_t top = top_;
#if defined(__AVX2__)
    alignas(32) std::uint32_t lanes[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), top8_);
    for (std::uint32_t u : lanes) top = u > top ? u : top;
    top8_ = _mm256_setzero_si256();
#endif
    top_ = 0;
    return top != 0x7f800000u;
  }

 private:
#if defined(__AVX2__)
  __m256i top8_ = _mm256_setzero_si256();
#endif
  std::uint32_t top_ = 0;
};

inline bool all_finite(const float* v, i64 n) {
  FiniteCheck f;
  f.add(v, n);
  return f.take();
}

// Whether means computed as M and stored as `out` are rounded again (see Divisor::apply).
template <class M>
inline bool narrowed(DType out) {
  return std::is_same<M, double>::value && (out == DType::f32 || out == DType::f16);
}

// The divisors of one output row, rebuilt only when the row's vertical count changes.
template <class M>
class RowDivisors {
 public:
  explicit RowDivisors(const Geometry& g) : divs_(g.OW), OW_(g.OW) {}
  void set_row(const AvgPoolArgs& a, i64 oh) {
    const AxisTable& ht = *a.htab;
    const AxisTable& wt = *a.wtab;
    const auto ohi = static_cast<std::size_t>(oh);
    const i64 dh = a.count_include_pad ? ht.padded_count[ohi] : ht.count[ohi];
    if (dh == dh_) return;
    uniform_ = true;
    for (i64 ow = 0; ow < OW_; ++ow) {
      const auto owi = static_cast<std::size_t>(ow);
      divs_.p[ow] = Divisor<M>(a.divisor_override != 0
                                   ? a.divisor_override
                                   : dh * (a.count_include_pad ? wt.padded_count[owi] : wt.count[owi]));
      uniform_ &= divs_.p[ow].d == divs_.p[0].d;
    }
    dh_ = dh;
  }
  const Divisor<M>& operator[](i64 ow) const { return divs_.p[ow]; }
  // mean = sum / divisor over a whole output row of OW pixels of C values (one loop over
  // OW*C when every window of the row has the same divisor).
  // (narrow: see Divisor::apply.)
  template <class A, class O>
  void apply_row(const A* NHWCPOOL_RESTRICT sum, O* NHWCPOOL_RESTRICT mean, i64 C, bool narrow = false) const {
    if (uniform_) {
      divs_.p[0].apply(sum, mean, OW_ * C, narrow);
      return;
    }
    for (i64 ow = 0; ow < OW_; ++ow) divs_.p[ow].apply(sum + ow * C, mean + ow * C, C, narrow);
  }

 private:
  Scratch<Divisor<M>> divs_;
  i64 OW_, dh_ = -1;
  bool uniform_ = false;
};

template <class T>
void avg_row_float64(const AvgPoolArgs& a, i64 n, i64 oh, void* orow) {
  NHWCPOOL_TRACE(avg_redo_f64);
  const Geometry& g = a.geo;
  const AxisTable& ht = *a.htab;
  const AxisTable& wt = *a.wtab;
  const auto ohi = static_cast<std::size_t>(oh);
  const i64 C = g.C, osize = itemsize(a.out_dtype);
  Scratch<double> sum(C), mean(C);
  const i64 dh = a.count_include_pad ? ht.padded_count[ohi] : ht.count[ohi];
  for (i64 ow = 0; ow < g.OW; ++ow) {
    const auto owi = static_cast<std::size_t>(ow);
    fill(sum.p, 0.0, C);
    for (i64 i = 0; i < ht.count[ohi]; ++i) {
      const T* row = input_row<T>(a.in, n, ht.first[ohi] + i * g.h.dilation);
      for (i64 j = 0; j < wt.count[owi]; ++j) {
        const T* px = row + (wt.first[owi] + j * g.w.dilation) * C;
        for (i64 c = 0; c < C; ++c) sum.p[c] += static_cast<double>(px[c]);
      }
    }
    const Divisor<double> div(a.divisor_override != 0
                                  ? a.divisor_override
                                  : dh * (a.count_include_pad ? wt.padded_count[owi] : wt.count[owi]));
    div.apply(sum.p, mean.p, C, narrowed<double>(a.out_dtype));
    store_convert(mean.p, static_cast<char*>(orow) + ow * C * osize, a.out_dtype, C);
  }
}
