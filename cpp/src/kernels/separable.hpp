// The separable drivers: use_direct() (direct or separable?), uses_slide_cols, MaxPlain (max)
// and Avg (average).
//
// Part of the per-ISA kernel source: included only by kernels/all.hpp, inside namespace
// nhwcpool::NHWCPOOL_ISA and its anonymous namespace, after the files listed before it there.

// ---------------------------------------------------------------------------------------------
// The separable paths (row pass, then column pass; or slide_cols).

// Direct (per window) or separable (rows, then columns)? Cost per output element, in taps:
// direct kh*kw; separable about kh*W/OW + kw, plus its extra passes over row buffers, so the
// direct loop is kept up to 1.5x the separable tap count (measured on Zen 4: 3x3/s1 over 256
// channels direct 1.2x faster for max and avg; 5x5/s1 separable 1.6-2x faster). Small
// channel counts always go separable, where the loops run over W*C.
template <class A>
bool use_direct(const Geometry& g) {
  if (g.C * static_cast<i64>(sizeof(A)) < kSmallPixelBytes) return false;
  const double direct = static_cast<double>(g.taps_h) * static_cast<double>(g.taps_w);
  const double separable = static_cast<double>(g.taps_h) * static_cast<double>(g.W) / static_cast<double>(g.OW) +
                           static_cast<double>(g.taps_w);
  return direct <= 1.5 * separable;
}

// Whether a float32 call takes slide_cols (the separable path's shapes it serves).
inline bool uses_slide_cols(const Geometry& g, bool max) { return !use_direct<float>(g) && slide_cols_applies(g, max); }

template <class T>
struct MaxPlain {
  using A = typename MaxAccOf<T>::type;
  static constexpr bool kSame = std::is_same<A, T>::value;

  static void run(const void* vctx, i64 begin, i64 end) {
    const MaxPoolArgs& a = *static_cast<const MaxPoolArgs*>(vctx);
    const Geometry& g = a.geo;
    const i64 WC = g.W * g.C, OWC = g.OW * g.C;
    Scratch<A> rowbuf(WC), sh(WC), obuf(kSame ? 0 : OWC);
    Scratch<const T*> rowp(g.taps_h);
    Scratch<const A*> colp(g.taps_w);
    const SmallGather gs(g);
    const bool gather = std::is_same<A, float>::value && gs.ok();
    const AxisTable& wt = *a.wtab;
    const bool cols = std::is_same<T, float>::value && uses_slide_cols(g, true) && wt.full_end > wt.full_begin;
    // kernel <= W, so this is at most 4 * W * C. (Small float pixels gather instead.)
    const bool vh_w = vhgw_applies(g.w, g.W) && !gather && !cols;
    const bool vfused = vhgw_fuses<A>() && kVhgwRowFused && vh_w;
    Scratch<A> vh(vh_w ? 2 * (g.OW + g.w.kernel - 1) * (vfused ? vhgw_fused_lanes<A>() : g.C) : 0);
    const bool vh_h = kSame && !cols && VerticalVhgw<MaxOp, A>::applies(g);
    VerticalVhgw<MaxOp, A> vrun(g, vh_h);
    const bool fused = std::is_same<T, float>::value && gather && !vh_h && fused_rows(gs, g, *a.wtab);
    const i64 nsteps = fused ? gs.plan_size(g.OW) : 0;
    Scratch<SmallGather::Step> steps(nsteps);
    const i64 nfull = fused ? gs.plan(steps.p, WC, a.wtab->first[0], g.OW, OWC) : 0;
    const ShortRowPrefetch pf(a.in, g, static_cast<const T*>(nullptr));
    Scratch<float> ring(cols ? g.w.kernel * g.C + 16 : 0);  // + a vector for slide_cols' alignment
    for (i64 r = begin; r < end; ++r) {
      const i64 n = r / g.OH, oh = r - n * g.OH;
      T* orow = static_cast<T*>(a.out) + r * OWC;
      A* dst = kSame ? reinterpret_cast<A*>(orow) : obuf.p;
      if (a.htab->count[static_cast<std::size_t>(oh)] == 0) {
        fill(dst, lowest_value<A>(), OWC);
      } else if (cols) {
        if constexpr (std::is_same<T, float>::value) {
          const i64 hc = window_rows(a.in, g, *a.htab, n, oh, rowp.p);
          slide_cols_row<MaxOp>(rowp.p, hc, g, wt, dst, nullptr, ring.p, a.stream);
        }
      } else if (fused) {
        if constexpr (std::is_same<T, float>::value) {
          const i64 hc = window_rows(a.in, g, *a.htab, n, oh, rowp.p);
          pf(rowp.p[hc - 1]);
          gs.run_planned<MaxOp>(steps.p, nfull, nsteps, rowp.p, hc, dst);
        }
      } else if (vfused) {
        if constexpr (vhgw_fuses<A>()) {
          A* b = nullptr;
          const A* add = nullptr;
          const A* rp = vh_h ? vrun.parts(a.in, g, n, oh, &b, &add)
                             : vertical<MaxOp, A, T>(a.in, g, *a.htab, n, oh, rowbuf.p, rowp.p);
          vhgw_row_fused<MaxOp>(rp, b, add, g, dst, vh.p);
        }
      } else {
        const A* rp = vh_h ? vrun.row(a.in, g, n, oh, rowbuf.p)
                           : vertical<MaxOp, A, T>(a.in, g, *a.htab, n, oh, rowbuf.p, rowp.p);
        horizontal<MaxOp>(rp, dst, g, *a.wtab, sh.p, lowest_value<A>(), colp.p, vh.p, &gs);
      }
      if constexpr (!kSame) float_to_half_row(obuf.p, orow, OWC);
    }
    if (cols && a.stream) stream_fence();
  }
};

template <class T, class A, class M>
struct Avg {
  static void run(const void* vctx, i64 begin, i64 end) {
    const AvgPoolArgs& a = *static_cast<const AvgPoolArgs*>(vctx);
    const Geometry& g = a.geo;
    const AxisTable& ht = *a.htab;
    const AxisTable& wt = *a.wtab;
    const i64 C = g.C, WC = g.W * C, OWC = g.OW * C;
    const int osize = itemsize(a.out_dtype);
    const bool direct_out = (std::is_same<M, double>::value && a.out_dtype == DType::f64) ||
                            (std::is_same<M, float>::value && a.out_dtype == DType::f32);
    Scratch<A> rowbuf(WC), sh(WC), sum(OWC);
    Scratch<const T*> rowp(g.taps_h);
    Scratch<const A*> colp(g.taps_w);
    const bool narrow = narrowed<M>(a.out_dtype);
    const bool narrow32 = narrow && a.out_dtype == DType::f32;
    Scratch<M> meanbuf(direct_out || narrow32 ? 0 : OWC);
    RowDivisors<M> divs(g);
    const SmallGather gs(g);
    const bool gather = std::is_same<A, float>::value && gs.ok();
    constexpr bool kF32 = std::is_same<T, float>::value && std::is_same<A, float>::value && std::is_same<M, float>::value;
    const bool cols = kF32 && a.out_dtype == DType::f32 && uses_slide_cols(g, false) && wt.full_end > wt.full_begin;
    // Large stride-1 windows: running sums (see vhgw_axis), as the max's passes.
    const bool vh_w = vhgw_applies(g.w, g.W) && !gather && !cols;
    const bool vfused = vhgw_fuses<A>() && kVhgwRowFused && vh_w;
    Scratch<A> vh(vh_w ? 2 * (g.OW + g.w.kernel - 1) * (vfused ? vhgw_fused_lanes<A>() : C) : 0);
    const bool vh_h = !cols && VerticalVhgw<SumOp, A, T>::applies(g);
    VerticalVhgw<SumOp, A, T> vrun(g, vh_h);
    const bool fused = std::is_same<T, float>::value && gather && !vh_h && fused_rows(gs, g, wt);
    const i64 nsteps = fused ? gs.plan_size(g.OW) : 0;
    Scratch<SmallGather::Step> steps(nsteps);
    const i64 nfull = fused ? gs.plan(steps.p, WC, wt.first[0], g.OW, OWC) : 0;
    const ShortRowPrefetch pf(a.in, g, static_cast<const T*>(nullptr));
    Scratch<float> ring(cols ? g.w.kernel * C + 16 : 0);  // + a vector for slide_cols' alignment
    for (i64 r = begin; r < end; ++r) {
      const i64 n = r / g.OH, oh = r - n * g.OH;
      const auto ohi = static_cast<std::size_t>(oh);
      void* orow = static_cast<char*>(a.out) + r * OWC * osize;
      M* mean = direct_out ? static_cast<M*>(orow) : meanbuf.p;
      if (cols && ht.count[ohi] > 0) {
        if constexpr (kF32) {
          const i64 hc = window_rows(a.in, g, ht, n, oh, rowp.p);
          divs.set_row(a, oh);
          if (!slide_cols_row<SumOp>(rowp.p, hc, g, wt, mean, &divs, ring.p, a.stream)) {
            if (a.stream) stream_fence();  // streamed stores land before the redo
            avg_row_float64<T>(a, n, oh, orow);
          }
        }
        continue;
      }
      if (ht.count[ohi] == 0) {
        fill(sum.p, A(0), OWC);
      } else if (fused) {
        if constexpr (std::is_same<T, float>::value && std::is_same<A, float>::value) {
          const i64 hc = window_rows(a.in, g, ht, n, oh, rowp.p);
          pf(rowp.p[hc - 1]);
          gs.run_planned<SumOp>(steps.p, nfull, nsteps, rowp.p, hc, sum.p);
        }
      } else if (vfused) {
        if constexpr (vhgw_fuses<A>()) {
          A* b = nullptr;
          const T* add = nullptr;
          constexpr bool kSame = std::is_same<A, T>::value;
          const A* rp = vh_h ? vrun.parts(a.in, g, n, oh, &b, kSame ? &add : nullptr)
                             : vertical<SumOp, A, T>(a.in, g, ht, n, oh, rowbuf.p, rowp.p);
          vhgw_row_fused<SumOp>(rp, b, reinterpret_cast<const A*>(add), g, sum.p, vh.p);
        }
      } else {
        const A* rp = vh_h ? vrun.row(a.in, g, n, oh, rowbuf.p) : vertical<SumOp, A, T>(a.in, g, ht, n, oh, rowbuf.p, rowp.p);
        horizontal<SumOp>(rp, sum.p, g, wt, sh.p, A(0), colp.p, vh_w ? vh.p : nullptr, &gs);
      }
      divs.set_row(a, oh);
      if (narrow32) {  // float64 means, rounded straight into the float32 output
        divs.apply_row(sum.p, static_cast<float*>(orow), C, true);
      } else {
        divs.apply_row(sum.p, mean, C, narrow);
        if (!direct_out) store_convert(mean, orow, a.out_dtype, OWC);
      }
      if constexpr (std::is_same<T, float>::value && std::is_same<A, float>::value) {
        if (!all_finite(mean, OWC)) avg_row_float64<T>(a, n, oh, orow);
      }
    }
    if (cols && a.stream) stream_fence();
  }
};
