// Rounding a mean to an integer type: round half to even and clip to the type's range; NaN
// gives 0 (avg_pool2d(..., dtype=) and the pyramid's integer levels).
//
// A fragment shared by the forward kernels (kernels/all.hpp) and the pyramid
// (kernels/pyramid.hpp): included inside their per-ISA anonymous namespace, after prelude.hpp.

template <class I>
inline I round_clamp(double v) {
  if (v != v) return I(0);
  v = std::nearbyint(v);
  constexpr double lo = static_cast<double>(std::numeric_limits<I>::lowest());
  constexpr double hi = static_cast<double>(std::numeric_limits<I>::max());
  if (v <= lo) return std::numeric_limits<I>::lowest();
  if (v >= hi) return std::numeric_limits<I>::max();
  return static_cast<I>(v);
}
