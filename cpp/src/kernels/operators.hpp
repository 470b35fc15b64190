// The reduction operators MaxOp and SumOp (PyTorch's NaN, tie and -0 rules), their 8-lane
// F16C forms (op8), lowest_value and MaxAccOf.
//
// Part of the per-ISA kernel source: included only by kernels/all.hpp, inside namespace
// nhwcpool::NHWCPOOL_ISA and its anonymous namespace, after the files listed before it there.

// ---------------------------------------------------------------------------------------------
// Reduction operators. The max keeps a NaN once seen and takes a NaN when it comes: a window
// holding a NaN gives NaN (PyTorch's `val > maxval || isnan(val)`).

struct MaxOp {
  template <class A>
  static inline A f(A acc, A v) {
    return ((v > acc) | (v != v)) ? v : acc;  // NOLINT: v != v is the NaN test
  }
  template <class A>
  static inline A first(A v) {
    return v;
  }
  template <class A>
  static inline A identity();  // lowest_value<A>(), defined below
};
struct SumOp {
  template <class A>
  static inline A f(A acc, A v) {
    return acc + v;
  }
  // Sums start from 0 (as PyTorch's): 0 + x turns a -0 into +0; free for integers.
  template <class A>
  static inline A first(A v) {
    return A(0) + v;
  }
  template <class A>
  static inline A identity() {
    return A(0);
  }
};

// PyTorch's index for a window with no in-range tap: y*W + x of its first tap >= 0, which
// can lie far outside the plane with extreme dilation; wraps (defined) instead of overflowing.
inline i64 start_index(i64 y, i64 W, i64 x) {
  return static_cast<i64>(static_cast<std::uint64_t>(y) * static_cast<std::uint64_t>(W) +
                          static_cast<std::uint64_t>(x));
}

#ifdef NHWCPOOL_F16C
// 8-lane float forms of the two operators, for the fused float16 loops below.
inline __m256 op8(MaxOp, __m256 acc, __m256 v) {
  // max(v, acc) keeps a NaN accumulator and the first of equal values; the blend takes a NaN v.
  return _mm256_blendv_ps(_mm256_max_ps(v, acc), v, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
}
inline __m256 op8(SumOp, __m256 acc, __m256 v) { return _mm256_add_ps(acc, v); }
inline __m256 load_half8(const half_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
#endif

template <class A>
inline A lowest_value() {
  return std::numeric_limits<A>::has_infinity ? -std::numeric_limits<A>::infinity()
                                              : std::numeric_limits<A>::lowest();
}
template <class A>
inline A MaxOp::identity() {
  return lowest_value<A>();
}

template <class T> struct MaxAccOf { using type = T; };
template <> struct MaxAccOf<half_t> { using type = float; };
