// Running max/sums along one axis in O(1) per output (van Herk/Gil-Werman): vhgw_axis. Also
// the horizontal pass's thresholds kSmallPixelBytes and kVhgwMinKernel (the section
// heading below opens the horizontal pass, which row_passes.hpp completes).
//
// Part of the per-ISA kernel source: included only by kernels/all.hpp, inside namespace
// nhwcpool::NHWCPOOL_ISA and its anonymous namespace, after the files listed before it there.

// ---------------------------------------------------------------------------------------------
// Horizontal pass: out[o, :] = reduce over the in-range taps of window o of `row` (W*C).

// Below this many bytes per pixel the per-window channel loop is too short to vectorize well,
// so the reduction runs over shifted W*C vectors instead.
constexpr i64 kSmallPixelBytes = 64;
// Windows from this size on (stride 1) take the running passes (max or sum): 3 operations
// per output instead of k - 1.
constexpr i64 kVhgwMinKernel = 4;

// Running max (or sum) along one axis in O(1) per output whatever the window (van Herk /
// Gil-Werman, as in image morphology and oneDNN's notes on large pooling windows): for stride
// 1 and no dilation, cut the padded axis into blocks of k; each window [o, o+k) covers the
// tail of one block and the head of the next, so its max is max(suffix[o], prefix[o+k-1]).
// Elements are `C`-wide vectors (pixels or whole rows). Ties and NaNs resolve exactly as the
// sequential scan does: the first of equal values, the last NaN (suffix and prefix each keep
// that rule, and the suffix part comes first). Positions in the padding hold Op's identity
// (lowest_value for max, 0 for sums).
// The same blocks give sums with no subtraction: unlike a running sum (add the new element,
// subtract the old), nothing cancels, so a window's error is that of an ordinary summation in
// another order (a large value leaving the window leaves no residue, and inf - inf never
// makes a NaN), and the sign of a zero sum comes out as PyTorch's (0 + ...).
inline bool vhgw_applies(const AxisParams& ax, i64 n) {
  return ax.stride == 1 && ax.dilation == 1 && ax.kernel >= kVhgwMinKernel && ax.kernel <= n;
}

template <class Op, class A>
inline void combine3(A* NHWCPOOL_RESTRICT dst, const A* NHWCPOOL_RESTRICT a, const A* NHWCPOOL_RESTRICT b, i64 n) {
  for (i64 i = 0; i < n; ++i) dst[i] = Op::f(a[i], b[i]);
}

// dst = Op(a, b) (b: nullptr for none), started as a sequential scan is (Op::first: 0 + a).
template <class Op, class A>
inline void combine_out(A* NHWCPOOL_RESTRICT dst, const A* NHWCPOOL_RESTRICT a, const A* NHWCPOOL_RESTRICT b, i64 n) {
  if (b == nullptr) {
    for (i64 i = 0; i < n; ++i) dst[i] = Op::first(a[i]);
  } else {
    for (i64 i = 0; i < n; ++i) dst[i] = Op::f(Op::first(a[i]), b[i]);
  }
}

// One axis of length n (elements of C values at src(x)), output length OW, padding pad_begin.
// pre and suf: scratch of (OW + k - 1) * C each. Writes output o at out + o * C.
template <class Op, class A, class Src>
void vhgw_axis(Src src, i64 n, i64 k, i64 pad, i64 OW, i64 C, A* NHWCPOOL_RESTRICT out,
               A* NHWCPOOL_RESTRICT pre, A* NHWCPOOL_RESTRICT suf) {
  const i64 L = OW + k - 1;  // padded positions any window touches
  const A id = Op::template identity<A>();
  for (i64 b0 = 0; b0 < L; b0 += k) {
    const i64 b1 = b0 + k < L ? b0 + k : L;
    for (i64 u = b0; u < b1; ++u) {  // prefix within the block
      A* d = pre + u * C;
      const i64 x = u - pad;
      const bool in = x >= 0 && x < n;
      if (u == b0) {
        if (in) {
          copy_from(d, src(x), C);
        } else {
          fill(d, id, C);
        }
      } else if (in) {
        combine3<Op>(d, d - C, src(x), C);
      } else {
        std::memcpy(d, d - C, static_cast<std::size_t>(C) * sizeof(A));
      }
    }
    for (i64 u = b1 - 1; u >= b0; --u) {  // suffix within the block
      A* d = suf + u * C;
      const i64 x = u - pad;
      const bool in = x >= 0 && x < n;
      if (u == b1 - 1) {
        if (in) {
          copy_from(d, src(x), C);
        } else {
          fill(d, id, C);
        }
      } else if (in) {
        combine3<Op>(d, src(x), d + C, C);
      } else {
        std::memcpy(d, d + C, static_cast<std::size_t>(C) * sizeof(A));
      }
    }
  }
  for (i64 o = 0; o < OW; ++o) {
    combine_out<Op>(out + o * C, suf + o * C, o % k == 0 ? nullptr : pre + (o + k - 1) * C, C);
  }
}
