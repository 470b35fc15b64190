// The separable path's row passes: horizontal(), vertical(), input_row, window_rows,
// ShortRowPrefetch, fused_rows.
//
// Part of the per-ISA kernel source: included only by kernels/all.hpp, inside namespace
// nhwcpool::NHWCPOOL_ISA and its anonymous namespace, after the files listed before it there.

// taps: scratch for taps_w pointers.
template <class Op, class A>
void horizontal(const A* NHWCPOOL_RESTRICT row, A* NHWCPOOL_RESTRICT out, const Geometry& g,
                const AxisTable& wt, A* NHWCPOOL_RESTRICT sh, A empty, const A** taps,
                A* vh = nullptr, const SmallGather* gather = nullptr) {
  const i64 C = g.C, OW = g.OW, kw = g.w.kernel, dw = g.w.dilation;
  if (vh != nullptr) {  // caller checked vhgw_applies(g.w, g.W); vh holds 2 * (OW + kw - 1) * C
    const i64 L = OW + kw - 1;
    vhgw_axis<Op, A>([row, C](i64 x) { return row + x * C; }, g.W, kw, g.w.pad_begin, OW, C, out, vh, vh + L * C);
    return;
  }
  i64 fb = wt.full_begin, fe = wt.full_end;
  const bool small = sh != nullptr && fe > fb && C * static_cast<i64>(sizeof(A)) < kSmallPixelBytes;
  if (small) {
    const i64 c0 = wt.first[static_cast<std::size_t>(fb)];
    bool gathered = false;
    if constexpr (std::is_same<A, float>::value) {
      if (gather != nullptr && gather->ok()) {
        const float* r = row;
        gather->run<Op>(&r, 1, g.W * C, c0, fe - fb, out + fb * C, (OW - fb) * C);
        gathered = true;
      }
    }
    if (!gathered) {
      const i64 c1 = wt.first[static_cast<std::size_t>(fe - 1)];
      const i64 len = (c1 - c0 + 1) * C;
      const A* base = row + c0 * C;
      // Full windows exist, so (kw-1)*dw < W: kw <= taps_w and these offsets stay inside the row.
      for (i64 t = 0; t < kw; ++t) taps[t] = base + t * dw * C;
      if (g.w.stride == 1) {
        reduce_rows<Op>(taps, kw, out + fb * C, len);
      } else {
        reduce_rows<Op>(taps, kw, sh, len);
        for (i64 o = fb; o < fe; ++o) {
          const A* s = sh + (wt.first[static_cast<std::size_t>(o)] - c0) * C;
          A* d = out + o * C;
          for (i64 c = 0; c < C; ++c) d[c] = s[c];
        }
      }
    }
  } else {
    fb = fe = 0;
  }
  for (i64 o = 0; o < OW; ++o) {
    if (o == fb && fe > fb) {
      o = fe - 1;
      continue;
    }
    const auto oi = static_cast<std::size_t>(o);
    A* d = out + o * C;
    const i64 cnt = wt.count[oi];
    if (cnt == 0) {
      fill(d, empty, C);
      continue;
    }
    const i64 f = wt.first[oi];
    for (i64 t = 0; t < cnt; ++t) taps[t] = row + (f + t * dw) * C;
    reduce_rows<Op>(taps, cnt, d, C);
  }
}

// Pointer to input row (n, h).
template <class T>
inline const T* input_row(const InputView& in, i64 n, i64 h) {
  return reinterpret_cast<const T*>(static_cast<const char*>(in.data) + n * in.stride_n +
                                    h * in.stride_h);
}

// The in-range input rows of window row oh of image n, into rows (taps_h pointers); returns
// their number.
template <class T>
inline i64 window_rows(const InputView& in, const Geometry& g, const AxisTable& ht, i64 n, i64 oh,
                       const T** rows) {
  const auto oi = static_cast<std::size_t>(oh);
  const i64 hf = ht.first[oi], hc = ht.count[oi];
  for (i64 t = 0; t < hc; ++t) rows[t] = input_row<T>(in, n, hf + t * g.h.dilation);
  return hc;
}

// Small pixels in short rows (for example NCHW planes pooled one channel at a time): an output
// row consumes stride_h input rows of a few hundred bytes, and the hardware prefetchers, which
// stop at page boundaries, fall behind on one core. So each output row prefetches the bytes
// its window advances by, kShortRowsAhead bytes past its last row. Only for rows stored one
// after another (those bytes are the next rows) and inputs of 4 MiB or more (in cache,
// the prefetches cost more than they save: (64,28,28,1) 10.0 -> 11.3 us). Zen 4, one thread,
// float32 from memory: 2x2/s2 average of (512,112,112,1) 4.7 -> 1.2 ms, max 3.4 -> 0.8 ms,
// average of (2048,28,28,1) 0.89 -> 0.66 ms.
constexpr i64 kShortRowBytes = 2048;
constexpr i64 kShortRowsAhead = 4096;
constexpr double kShortRowsMinInput = 4.0 * 1024 * 1024;
struct ShortRowPrefetch {
  i64 step = 0;  // bytes per output row (0: off)
  i64 rowbytes = 0;
  template <class T>
  ShortRowPrefetch(const InputView& in, const Geometry& g, const T*) {
    rowbytes = g.W * g.C * static_cast<i64>(sizeof(T));
    const double input = static_cast<double>(g.N) * static_cast<double>(g.H) * static_cast<double>(rowbytes);
    // The rows one output row adds: stride rows, but no more than the window's own (a larger
    // stride skips rows, which need no prefetch; also keeps stride * rowbytes from overflowing).
    const i64 rows = g.h.stride < g.taps_h ? g.h.stride : g.taps_h;
    if (rowbytes <= kShortRowBytes && in.stride_h == rowbytes && g.h.dilation == 1 && input >= kShortRowsMinInput) {
      step = rows * rowbytes;
    }
  }
  void operator()(const void* last_row) const {
    if (step == 0) return;
    const char* p = static_cast<const char*>(last_row) + rowbytes + kShortRowsAhead;
    for (i64 b = 0; b < step; b += 64) prefetch_line(p + b);
  }
};

// Vertical pass: reduce the in-range rows of window `oh` into buf, or point straight at the
// input row when there is a single one and no conversion is needed. rows: scratch for taps_h
// pointers.
template <class Op, class A, class T>
const A* vertical(const InputView& in, const Geometry& g, const AxisTable& ht, i64 n, i64 oh,
                  A* buf, const T** rows) {
  const i64 hc = window_rows(in, g, ht, n, oh, rows);
  if (hc == 1 && std::is_same<A, T>::value && std::is_same<Op, MaxOp>::value) {
    return reinterpret_cast<const A*>(rows[0]);
  }
  reduce_rows<Op>(rows, hc, buf, g.W * g.C);
  return buf;
}

// Fused small-pixel float32 rows: when every window of the row lies inside the input
// horizontally, the gather reads the window's input rows directly (no row buffer).
inline bool fused_rows(const SmallGather& gs, const Geometry& g, const AxisTable& wt) {
  return gs.ok() && wt.full_begin == 0 && wt.full_end == g.OW;
}
