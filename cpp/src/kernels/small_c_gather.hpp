// Small-C gather (SmallGather): float32 windows of pixels under 64 bytes picked out of two
// registers by permutes (permute2), over the build's float vector (VecF); without one a
// stand-in whose ok() is false.
//
// Part of the per-ISA kernel source: included only by kernels/all.hpp, inside namespace
// nhwcpool::NHWCPOOL_ISA and its anonymous namespace, after the files listed before it there.

// Small pixels, float32: windows gathered by vector permutes. A run of P output pixels reads
// ((P-1)*stride + (kw-1)*dilation + 1) * C consecutive floats of each window row; these fit
// two vector registers when C is small, so the rows are combined in registers (the vertical
// pass) and each tap column of the P windows is then picked out with one two-register permute
// (vpermt2ps; two vpermps and a blend with AVX2) -- no row buffer, no per-pixel loop. The
// combination order is that of the row passes (rows first, then tap columns), so results are
// identical to theirs. Idea from XNNPACK's and oneDNN's notes on vectorising small-channel
// pooling across W*C rather than C (research/peers.md, section B).
#ifdef NHWCPOOL_VEC_BLOCKS
#define NHWCPOOL_GATHER 1
using GV = VecF;  // the build's float vector (vec.hpp)
using GVec = GV::reg;
constexpr int kGL = GV::N;  // lanes per register

// Most tap columns a gather handles: (kw-1)*dilation + 1 <= 2*kGL / C.
constexpr i64 kGatherMaxTaps = 2 * kGL;

class SmallGather {
 public:
  // For the full windows of axis w of g (float32 pixels of C < 16 values).
  explicit SmallGather(const Geometry& g) : C_(g.C), sw_(g.w.stride), kw_(g.w.kernel) {
    const i64 dw = g.w.dilation;
    // (Order matters: each test bounds the operands of the next, so nothing overflows.)
    if (g.C * 4 >= 64 || g.w.kernel > kGatherMaxTaps || dw > 2 * kGL || (g.w.kernel - 1) * dw + 1 > 2 * kGL) return;
    P_ = sw_ > 2 * kGL ? 1 : kGL / C_;  // span(1) does not involve the stride
    while (P_ > 0 && span(P_, dw) > 2 * kGL) --P_;
    if (P_ == 0) return;
    for (i64 t = 0; t < kw_; ++t) {
      for (i64 j = 0; j < kGL; ++j) {
        const i64 p = j / C_, c = j - p * C_;
        idx_[t][j] = p < P_ ? static_cast<std::int32_t>((p * sw_ + t * dw) * C_ + c) : 0;
      }
    }
    dw_ = dw;
    ok_ = true;
  }
  bool ok() const { return ok_; }

  // One step of a row: P windows read from `base` (n0 + n1 floats in two registers) and
  // written at `out` (ns floats; `whole`: all kGL lanes may be written).
  struct Step {
    i64 base, out, n0, n1, ns;
    GV::Mask m0, m1, ms;
    bool whole;
  };
  // The steps of run() for one row layout, computed once per task instead of once per row:
  // tiny images (256 x 24x24x3) have 3 steps per output row, and working out their offsets
  // and masks cost as much as the steps themselves.
  i64 plan_size(i64 nout) const { return ok_ ? (nout + P_ - 1) / P_ : 0; }
  // Returns how many leading steps read whole registers inside the row (plain loads: masked
  // 512-bit loads measured ~2x the cost of plain ones on Zen 4).
  i64 plan(Step* steps, i64 rowlen, i64 col0, i64 nout, i64 room) const {
    i64 k = 0, full = 0;
    for (i64 p = 0; p < nout; p += P_, ++k) {
      const i64 np = nout - p < P_ ? nout - p : P_;
      Step& st = steps[k];
      st.base = (col0 + p * sw_) * C_;
      i64 n = span(np, dw_);
      if (st.base + n > rowlen) n = rowlen - st.base;  // never: full windows lie inside the row
      st.n0 = n < kGL ? n : kGL;
      st.n1 = n - st.n0;
      st.out = p * C_;
      st.ns = np * C_;
      st.m0 = GV::mask(st.n0);
      st.m1 = GV::mask(st.n1);
      st.ms = GV::mask(st.ns);
      st.whole = p * C_ + kGL <= room;
      if (full == k && st.base + 2 * kGL <= rowlen) full = k + 1;
    }
    return full;
  }
  // run() over a planned row layout; specialised for 2 and 3 rows and taps (the usual
  // windows), so that the whole step is straight-line code.
  //
  // Max first runs without NaN propagation (a third of the vector work: the NaN-propagating
  // max is a max, a compare and a blend) while collecting whether any value read was NaN;
  // only then is the row redone with NaN propagation. Without NaNs both give the same bits.
  template <class Op>
  void run_planned(const Step* steps, i64 nfull, i64 nsteps, const float* const* rows, i64 nrows, float* out) const {
    NHWCPOOL_TRACE(gather_fused);
    const i64 nk = kw_;
    if (nrows == 2 && nk == 2) return run_checked<Op, 2, 2>(steps, nfull, nsteps, rows, 2, out);
    if (nrows == 3 && nk == 3) return run_checked<Op, 3, 3>(steps, nfull, nsteps, rows, 3, out);
    if (nrows == 2 && nk == 3) return run_checked<Op, 2, 3>(steps, nfull, nsteps, rows, 2, out);
    if (nrows == 3 && nk == 2) return run_checked<Op, 3, 2>(steps, nfull, nsteps, rows, 3, out);
    run_checked<Op, 0, 0>(steps, nfull, nsteps, rows, nrows, out);
  }

  // Windows o = 0..nout-1 whose first tap column is col0 + o*stride, over the element-wise
  // Op of the nrows rows (each rowlen floats; read only inside [0, rowlen)). Writes nout*C
  // floats at out; `room`: floats writable at out (>= nout*C; the extra ones are scratch the
  // caller rewrites later).
  template <class Op>
  void run(const float* const* rows, i64 nrows, i64 rowlen, i64 col0, i64 nout, float* out, i64 room) const {
    NHWCPOOL_TRACE(gather_row);
    GV::Index ix[kGatherMaxTaps];
    for (i64 t = 0; t < kw_; ++t) ix[t] = GV::index(idx_[t]);
    for (i64 p = 0; p < nout; p += P_) {
      const i64 np = nout - p < P_ ? nout - p : P_;
      const i64 base = (col0 + p * sw_) * C_;
      i64 n = span(np, dw_);
      if (base + n > rowlen) n = rowlen - base;  // never: full windows lie inside the row
      const i64 n0 = n < kGL ? n : kGL, n1 = n - n0;
      GVec v0 = GV::load_n(rows[0] + base, n0);
      GVec v1 = n1 > 0 ? GV::load_n(rows[0] + base + kGL, n1) : GV::zero();
      if constexpr (std::is_same<Op, SumOp>::value) {  // sums start from 0, as the row passes'
        v0 = _add(GV::zero(), v0);
        v1 = _add(GV::zero(), v1);
      }
      for (i64 r = 1; r < nrows; ++r) {
        v0 = vec_op<GV>(Op{}, v0, GV::load_n(rows[r] + base, n0));
        if (n1 > 0) v1 = vec_op<GV>(Op{}, v1, GV::load_n(rows[r] + base + kGL, n1));
      }
      GVec acc = GV::permute2(v0, v1, ix[0]);
      if constexpr (std::is_same<Op, SumOp>::value) acc = _add(GV::zero(), acc);
      for (i64 t = 1; t < kw_; ++t) acc = vec_op<GV>(Op{}, acc, GV::permute2(v0, v1, ix[t]));
      GV::store_n(out + p * C_, acc, np * C_, p * C_ + kGL <= room);
    }
  }

 private:
  template <class Op, int R, int K>
  void run_checked(const Step* steps, i64 nfull, i64 nsteps, const float* const* rows, i64 nrows, float* out) const {
    if constexpr (std::is_same<Op, MaxOp>::value) {
      if (!run_rk<Op, R, K, true>(steps, nfull, nsteps, rows, nrows, out)) return;
    }
    run_rk<Op, R, K, false>(steps, nfull, nsteps, rows, nrows, out);
  }
  // Plain: max without NaN propagation; returns whether a NaN was read (then the row must be
  // redone). Otherwise returns false.
  template <class Op, int R, int K, bool Plain>
  bool run_rk(const Step* steps, i64 nfull, i64 nsteps, const float* const* rows, i64 nrows, float* out) const {
    const i64 nr = R > 0 ? R : nrows, nk = K > 0 ? K : kw_;
    auto op = [](GVec acc, GVec v) { return Plain ? GV::max_plain(acc, v) : vec_op<GV>(Op{}, acc, v); };
    GV::Index ix[kGatherMaxTaps];
    for (i64 t = 0; t < nk; ++t) ix[t] = GV::index(idx_[t]);
    GV::Nan nan = GV::no_nan();
    auto step = [&](const Step& st, auto full) {
      constexpr bool kFull = decltype(full)::value;
      auto load = [&st](const float* p, i64 half) {
        if constexpr (kFull) return GV::load<float>(p + half * kGL);
        return half == 0 ? GV::load_n(p, st.n0, st.m0) : GV::load_n(p + kGL, st.n1, st.m1);  // none read if n1 == 0
      };
      GVec v0 = load(rows[0] + st.base, 0);
      GVec v1 = load(rows[0] + st.base, 1);
      if constexpr (std::is_same<Op, SumOp>::value) {  // same order of operations as run()
        v0 = _add(GV::zero(), v0);
        v1 = _add(GV::zero(), v1);
      }
      if constexpr (Plain) nan = GV::or_nan(nan, v0, v1);
      for (i64 r = 1; r < nr; ++r) {
        const GVec u0 = load(rows[r] + st.base, 0);
        const GVec u1 = load(rows[r] + st.base, 1);
        if constexpr (Plain) nan = GV::or_nan(nan, u0, u1);
        v0 = op(v0, u0);
        v1 = op(v1, u1);
      }
      GVec acc = GV::permute2(v0, v1, ix[0]);
      if constexpr (std::is_same<Op, SumOp>::value) acc = _add(GV::zero(), acc);
      for (i64 t = 1; t < nk; ++t) acc = op(acc, GV::permute2(v0, v1, ix[t]));
      GV::store_n(out + st.out, acc, st.ns, st.whole, st.ms);
    };
    for (i64 k = 0; k < nfull; ++k) step(steps[k], std::true_type{});
    for (i64 k = nfull; k < nsteps; ++k) step(steps[k], std::false_type{});
    return Plain && GV::any_nan(nan);
  }
  static GVec _add(GVec a, GVec b) { return GV::add(a, b); }
  i64 span(i64 np, i64 dw) const { return ((np - 1) * sw_ + (kw_ - 1) * dw + 1) * C_; }
  i64 C_, sw_, kw_, dw_ = 1, P_ = 0;
  bool ok_ = false;
  alignas(64) std::int32_t idx_[kGatherMaxTaps][kGL] = {};
};
#else
// No vector layer (below AVX2): the row passes do this work.
class SmallGather {
 public:
  explicit SmallGather(const Geometry&) {}
  bool ok() const { return false; }
  struct Step {};
  i64 plan_size(i64) const { return 0; }
  i64 plan(Step*, i64, i64, i64, i64) const { return 0; }
  template <class Op>
  void run_planned(const Step*, i64, i64, const float* const*, i64, float*) const {}
  template <class Op>
  void run(const float* const*, i64, i64, i64, i64, float*, i64) const {}
};
#endif
