// The running passes of both axes fused per channel vector (vhgw_row_fused) over Vec
// (VecF, VecD), then kSlideStreams; after #else, the stand-ins of slide.hpp, slide_cols.hpp
// and this file for builds without a vector layer (x86 without AVX2).
//
// Part of the per-ISA kernel source: included only by kernels/all.hpp, inside namespace
// nhwcpool::NHWCPOOL_ISA and its anonymous namespace, after the files listed before it there.

#if defined(NHWCPOOL_VEC_BLOCKS)
// The running passes of both axes (vhgw_axis along H, then along W) for one output row, fused
// per channel vector: the row's value at column x is Op(a[x], b[x]) (the vertical pass's
// block suffix and prefix; b: nullptr for a suffix alone, or a: a finished row), taken one
// vector of channels at a time into two L1 buffers (the column's values and its block
// suffixes), from which the output row is formed with the block prefix running in a register.
// Same operations in the same order as vhgw_axis after the vertical combine3, so the same
// bits; but the W*C row the vertical pass wrote, and the horizontal pass's two (OW+k-1)*C
// prefix and suffix arrays, are never written to L2 and read back. vbuf: 2 * (OW + k - 1) *
// vhgw_fused_lanes<E>() elements (float32 or float64). The next block's prefix may also take its newest input row here
// (`add`, see VerticalVhgw::parts), saving a pass over W*C (1.05-1.1x).
// (Zen 4, one thread, C++ harness medians of alternated runs, max: 13x13/s1/p6 over
// (1,40,40,512) 0.41 -> 0.25 ms, 7x7/s1/p3 0.39 -> 0.24 ms, 9x9/s1/p4 over (4,32,32,64)
// 0.12 -> 0.06 ms, 13x13 over (1,64,64,3) 46 -> 27 us. A max without NaN propagation (one
// maxps instead of max, compare and blend, with every input checked for NaN and the rows
// redone on one) was no faster: these loops wait on loads, not on the max.)
constexpr bool kVhgwRowFused = true;

// The vector per accumulator type: the build's float32 vector (VecF), or its float64 one
// (VecD: the average's accumulator for windows over 64 cells, and float64 max).
template <class E>
using VecOf = typename std::conditional<std::is_same<E, float>::value, VecF, VecD>::type;

// One chunk of NV vectors of channels from c0 (n: lanes of the last vector, < kL only when
// NV == 1). V, S: L * NV * kL elements each.
template <class Op, class E, int NV>
NHWCPOOL_ALWAYS_INLINE inline void vhgw_chunk(const E* NHWCPOOL_RESTRICT a, E* NHWCPOOL_RESTRICT b,
                                              const E* NHWCPOOL_RESTRICT add, const Geometry& g, i64 c0, i64 n,
                                              E* NHWCPOOL_RESTRICT out, E* NHWCPOOL_RESTRICT V, E* NHWCPOOL_RESTRICT S) {
  using X = VecOf<E>;
  using R = typename X::reg;
  constexpr i64 kL = X::N, kStep = NV * kL;
  const i64 C = g.C, W = g.W, k = g.w.kernel, pad = g.w.pad_begin, OW = g.OW, L = OW + k - 1;
  const R id = X::set1(Op::template identity<E>());
  const bool whole = n == kL;
  auto load = [n](const E* p, int v) { return v == NV - 1 ? X::load_n(p + v * kL, n) : X::template load<E>(p + v * kL); };
  auto store = [n, whole](E* p, int v, R x) {
    if (v == NV - 1) {
      X::store_n(p + v * kL, x, n, whole);
    } else {
      X::template store<E, false>(p + v * kL, x);
    }
  };
  for (i64 b0 = 0; b0 < L; b0 += k) {  // suffixes within each block, backwards
    const i64 b1 = b0 + k < L ? b0 + k : L;
    R s[NV];
    for (int v = 0; v < NV; ++v) s[v] = id;
    for (i64 u = b1 - 1; u >= b0; --u) {
      const i64 x = u - pad;
      if (x >= 0 && x < W) {
        const i64 at = x * C + c0;
        for (int v = 0; v < NV; ++v) {
          R y = load(a + at, v);
          if (b != nullptr) {
            R q = load(b + at, v);
            if (add != nullptr) {  // the prefix's deferred row (VerticalVhgw::parts)
              q = vec_op<X>(Op{}, q, load(add + at, v));
              store(b + at, v, q);
            }
            y = vec_op<X>(Op{}, y, q);
          }
          X::template store<E, false>(V + u * kStep + v * kL, y);
          s[v] = u == b1 - 1 ? y : vec_op<X>(Op{}, y, s[v]);
        }
      } else if (u == b1 - 1) {
        for (int v = 0; v < NV; ++v) s[v] = id;
      }
      for (int v = 0; v < NV; ++v) X::template store<E, false>(S + u * kStep + v * kL, s[v]);
    }
  }
  R p[NV];  // prefix of the block holding u = o + k - 1, up to u
  for (int v = 0; v < NV; ++v) p[v] = id;
  for (i64 o = 0, j = 0; o < OW; ++o, j = j + 1 == k ? 0 : j + 1) {  // j = o % k
    const i64 u = o + k - 1, x = u - pad;  // u % k == j - 1
    const bool in = x >= 0 && x < W;
    for (int v = 0; v < NV; ++v) {
      R r = vec_first<X>(Op{}, X::template load<E>(S + o * kStep + v * kL));
      if (j != 0) {
        if (j == 1) {
          p[v] = in ? X::template load<E>(V + u * kStep + v * kL) : id;
        } else if (in) {
          p[v] = vec_op<X>(Op{}, p[v], X::template load<E>(V + u * kStep + v * kL));
        }
        r = vec_op<X>(Op{}, r, p[v]);
      }
      store(out + o * C + c0, v, r);
    }
  }
}

// Chunks of kVhgwVecs vectors (four cache lines per pixel read: a single line per step, with
// 2 KiB pixels, left the loads waiting on L2), then single vectors.
constexpr int kVhgwVecs = 4;
template <class E>
constexpr bool vhgw_fuses() {
  return std::is_same<E, float>::value || std::is_same<E, double>::value;
}
template <class E>
constexpr i64 vhgw_fused_lanes() {
  if constexpr (vhgw_fuses<E>()) return kVhgwVecs * VecOf<E>::N;
  return 1;
}
template <class Op, class E>
void vhgw_row_fused(const E* NHWCPOOL_RESTRICT a, E* NHWCPOOL_RESTRICT b, const E* NHWCPOOL_RESTRICT add,
                    const Geometry& g, E* NHWCPOOL_RESTRICT out, E* NHWCPOOL_RESTRICT vbuf) {
  if constexpr (vhgw_fuses<E>()) {
    NHWCPOOL_TRACE(running_fused);
    constexpr i64 kL = VecOf<E>::N, kLanes = vhgw_fused_lanes<E>();
    const i64 C = g.C, L = g.OW + g.w.kernel - 1;
    E* NHWCPOOL_RESTRICT V = vbuf;
    E* NHWCPOOL_RESTRICT S = vbuf + L * kLanes;
    i64 c0 = 0;
    for (; c0 + kLanes <= C; c0 += kLanes) vhgw_chunk<Op, E, kVhgwVecs>(a, b, add, g, c0, kL, out, V, S);
    for (; c0 < C; c0 += kL) vhgw_chunk<Op, E, 1>(a, b, add, g, c0, C - c0 < kL ? C - c0 : kL, out, V, S);
  }
}
constexpr bool kSlideStreams = sizeof(float) * kSL * kSlideVecs == 64;  // chunks of one cache line
#else
constexpr bool kVhgwRowFused = false;
template <class E>
constexpr bool vhgw_fuses() {
  return false;
}
template <class E>
constexpr i64 vhgw_fused_lanes() {
  return 1;
}
template <class Op, class E>
void vhgw_row_fused(const E*, E*, const E*, const Geometry&, E*, E*) {}
inline bool slide_applies(const Geometry&) { return false; }
template <class Op>
bool slide(const float* const*, i64, i64, i64, i64, i64, float*, const Divisor<float>*, i64, bool) {
  return true;
}
inline bool slide_cols_applies(const Geometry&, bool) { return false; }
template <class Op>
bool slide_cols_row(const float* const*, i64, const Geometry&, const AxisTable&, float*, const RowDivisors<float>*,
                    float*, bool) {
  return true;
}
constexpr bool kSlideStreams = false;
#endif
