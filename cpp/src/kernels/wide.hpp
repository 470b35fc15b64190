// Wide windows, taps outer: reduce_wide (grouped float32 sums with AVX2) and argmax_wide.
//
// Part of the per-ISA kernel source: included only by kernels/all.hpp, inside namespace
// nhwcpool::NHWCPOOL_ISA and its anonymous namespace, after the files listed before it there.

#ifdef NHWCPOOL_VEC_BLOCKS
// float32 wide-window sums: the taps in groups of kWideGroup, one pass over the block per
// group with the sum in a register, in tap order as below (same bits). The plain loop loaded
// and stored the block's accumulator for every tap, in 256-bit vectors (C++ harness, one
// thread, medians of alternated runs: global average over (64,7,7,2048) 1.31x faster, over
// (1,7,7,1000) 1.34x; groups of 4 taps 1.25x, of 2 0.82x). The same for max was 0.9x as fast
// as the plain loop (its three-instruction max; not understood), so max keeps that loop.
constexpr int kWideGroup = 7;
template <class Op, int N, bool First>
NHWCPOOL_NOINLINE void wide_pass(const float* const* tap, i64 head, i64 cb, float* NHWCPOOL_RESTRICT acc) {
  auto vec = [&](i64 c, i64 lanes) {
    GVec a = First ? vec_first<GV>(Op{}, GV::load_n(tap[0] + c, lanes)) : vec_op<GV>(Op{}, GV::load_n(acc + c, lanes), GV::load_n(tap[0] + c, lanes));
    for (int t = 1; t < N; ++t) a = vec_op<GV>(Op{}, a, GV::load_n(tap[t] + c, lanes));
    return a;
  };
  if (head > 0) GV::store_n(acc, vec(0, head), head, false);
  i64 c = head;
  for (; c + 2 * kGL <= cb; c += 2 * kGL) {  // two independent chains per step
    const GVec x = vec(c, kGL), y = vec(c + kGL, kGL);
    GV::store<float, false>(acc + c, x);
    GV::store<float, false>(acc + c + kGL, y);
  }
  for (; c < cb; c += kGL) {
    const i64 lanes = cb - c < kGL ? cb - c : kGL;
    GV::store_n(acc + c, vec(c, lanes), lanes, false);
  }
}
template <class Op, bool First>
void wide_pass_n(const float* const* tap, int n, i64 head, i64 cb, float* acc) {
  switch (n) {
    case 1: return wide_pass<Op, 1, First>(tap, head, cb, acc);
    case 2: return wide_pass<Op, 2, First>(tap, head, cb, acc);
    case 3: return wide_pass<Op, 3, First>(tap, head, cb, acc);
    case 4: return wide_pass<Op, 4, First>(tap, head, cb, acc);
    case 5: return wide_pass<Op, 5, First>(tap, head, cb, acc);
    case 6: return wide_pass<Op, 6, First>(tap, head, cb, acc);
    default: return wide_pass<Op, kWideGroup, First>(tap, head, cb, acc);
  }
}
template <class Op>
void reduce_wide_f32(const TapList<float>& tl, i64 c0, i64 cb, float* NHWCPOOL_RESTRICT acc) {
  NHWCPOOL_TRACE(wide_f32_groups);
  const float* tap[kWideGroup];
  int n = 0;
  bool first = true;
  // Vectors start on the first tap's vector boundaries (all taps' when C * 4 is a multiple of
  // the vector's bytes).
  const i64 head = cb > kGL ? floats_to_boundary(tl.rows.p[0] + c0 + tl.cols.p[0], kGL * 4) : 0;
  auto pass = [&]() {
    if (first) {
      wide_pass_n<Op, true>(tap, n, head, cb, acc);
    } else {
      wide_pass_n<Op, false>(tap, n, head, cb, acc);
    }
    first = false;
    n = 0;
  };
  for (i64 r = 0; r < tl.nrows; ++r) {
    const float* row = tl.rows.p[r] + c0;
    for (i64 j = 0; j < tl.ncols; ++j) {
      tap[n++] = row + tl.cols.p[j];
      if (n == kWideGroup) pass();
    }
  }
  if (n > 0) pass();
}
#endif

// Wide-window reductions over a channel block [c0, c0 + cb): taps outer, channels inner.
template <class Op, class A, class T>
void reduce_wide(const TapList<T>& tl, i64 c0, i64 cb, A* NHWCPOOL_RESTRICT acc, A* tmp) {
  NHWCPOOL_TRACE(wide);
#ifdef NHWCPOOL_VEC_BLOCKS
  if constexpr (std::is_same<Op, SumOp>::value && std::is_same<T, float>::value && std::is_same<A, float>::value) {
    reduce_wide_f32<Op>(tl, c0, cb, acc);
    return;
  }
#endif
  if constexpr (std::is_same<T, half_t>::value) {
    const A* v = tap_values<A>(tl.rows.p[0] + tl.cols.p[0] + c0, tmp, cb);
    for (i64 c = 0; c < cb; ++c) acc[c] = Op::first(v[c]);
  } else {
    const T* s = tl.rows.p[0] + tl.cols.p[0] + c0;
    for (i64 c = 0; c < cb; ++c) acc[c] = Op::first(static_cast<A>(s[c]));
  }
  for (i64 r = 0; r < tl.nrows; ++r) {
    const T* row = tl.rows.p[r] + c0;
    for (i64 j = (r == 0 ? 1 : 0); j < tl.ncols; ++j) {
      combine_from<Op>(acc, row + tl.cols.p[j], cb);
    }
  }
}

// Wide-window argmax: ord holds the winning tap's y*W + x (as I).
template <class A, class T, class I>
void argmax_wide(const Geometry& g, const TapList<T>& tl, i64 c0, i64 cb, A* NHWCPOOL_RESTRICT acc,
                 I* NHWCPOOL_RESTRICT ord, A* tmp) {
  NHWCPOOL_TRACE(argmax_wide);
  const A* v = tap_values<A>(tl.rows.p[0] + tl.cols.p[0] + c0, tmp, cb);
  const I first = static_cast<I>(tl.rowidx.p[0] * g.W + tl.colw.p[0]);
  for (i64 c = 0; c < cb; ++c) {
    acc[c] = v[c];
    ord[c] = first;
  }
  for (i64 r = 0; r < tl.nrows; ++r) {
    const T* row = tl.rows.p[r] + c0;
    const i64 rowbase = tl.rowidx.p[r] * g.W;
    for (i64 j = (r == 0 ? 1 : 0); j < tl.ncols; ++j) {
      const I tap = static_cast<I>(rowbase + tl.colw.p[j]);
      v = tap_values<A>(row + tl.cols.p[j], tmp, cb);
      for (i64 c = 0; c < cb; ++c) {
        const bool take = (v[c] > acc[c]) | (v[c] != v[c]);  // NOLINT: NaN test
        acc[c] = take ? v[c] : acc[c];
        ord[c] = take ? tap : ord[c];
      }
    }
  }
}
