// Small-C gather (SmallGather): float32 windows of pixels under 64 bytes picked out of two
// registers by permutes, with its g_* vector layer (AVX-512 or AVX2); below AVX2 a stand-in
// whose ok() is false.
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
#if defined(__AVX2__)
#define NHWCPOOL_GATHER 1
#if defined(__AVX512F__)
constexpr int kGL = 16;  // lanes per register
using GVec = __m512;
struct GIdx {
  __m512i idx;
};
inline __mmask16 g_mask(i64 n) { return static_cast<__mmask16>((1u << n) - 1u); }
inline GVec g_load(const float* p, i64 n) {
  return n >= kGL ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(g_mask(n), p);
}
inline GIdx g_index(const std::int32_t* v) { return GIdx{_mm512_loadu_si512(v)}; }
inline GVec g_pick(GVec a, GVec b, const GIdx& i) { return _mm512_permutex2var_ps(a, i.idx, b); }
inline void g_store(float* p, GVec v, i64 n, bool) { _mm512_mask_storeu_ps(p, g_mask(n), v); }
// With a mask computed once per call (GatherPlan): masked loads and stores cost the same as
// plain ones on this ISA, and a zero mask reads nothing.
using GMask = __mmask16;
inline GVec g_load_m(const float* p, i64, GMask m) { return _mm512_maskz_loadu_ps(m, p); }
inline GVec g_load_full(const float* p) { return _mm512_loadu_ps(p); }
// Max without NaN propagation (max(v, acc): the first of equal values, as g_op) and a running
// "some lane was NaN" flag, for rows that are redone exactly when it is set.
using GNan = __mmask16;
inline GNan g_nan_none() { return 0; }
inline GVec g_max_plain(GVec acc, GVec v) { return _mm512_maskz_max_ps(static_cast<__mmask16>(0xFFFF), v, acc); }
inline GNan g_nan_add(GNan f, GVec a, GVec b) { return static_cast<GNan>(f | _mm512_cmp_ps_mask(a, b, _CMP_UNORD_Q)); }
inline bool g_nan_any(GNan f) { return f != 0; }
inline void g_store_m(float* p, GVec v, i64, bool, GMask m) { _mm512_mask_storeu_ps(p, m, v); }
inline GVec g_op(MaxOp, GVec acc, GVec v) {
  // (maskz form: GCC 12 warns about _mm512_max_ps's undefined pass-through register)
  const __m512 m = _mm512_maskz_max_ps(static_cast<__mmask16>(0xFFFF), v, acc);
  return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), m, v);
}
inline GVec g_op(SumOp, GVec acc, GVec v) { return _mm512_add_ps(acc, v); }
inline GVec g_zero() { return _mm512_setzero_ps(); }
#else
constexpr int kGL = 8;
using GVec = __m256;
struct GIdx {
  __m256i idx;
  __m256 hi;  // lanes taken from the second register
};
inline __m256i g_mask(i64 n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
inline GVec g_load(const float* p, i64 n) {
  return n >= kGL ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, g_mask(n));
}
inline GIdx g_index(const std::int32_t* v) {
  const __m256i i = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(v));
  return GIdx{i, _mm256_castsi256_ps(_mm256_cmpgt_epi32(i, _mm256_set1_epi32(kGL - 1)))};
}
inline GVec g_pick(GVec a, GVec b, const GIdx& i) {
  return _mm256_blendv_ps(_mm256_permutevar8x32_ps(a, i.idx), _mm256_permutevar8x32_ps(b, i.idx), i.hi);
}
// whole: all kGL lanes may be written (the caller owns them and rewrites the extra ones);
// AMD's masked stores are slow.
inline void g_store(float* p, GVec v, i64 n, bool whole) {
  if (whole || n >= kGL) {
    _mm256_storeu_ps(p, v);
  } else {
    _mm256_maskstore_ps(p, g_mask(n), v);
  }
}
using GNan = __m256;
inline GNan g_nan_none() { return _mm256_setzero_ps(); }
inline GVec g_max_plain(GVec acc, GVec v) { return _mm256_max_ps(v, acc); }
inline GNan g_nan_add(GNan f, GVec a, GVec b) { return _mm256_or_ps(f, _mm256_cmp_ps(a, b, _CMP_UNORD_Q)); }
inline bool g_nan_any(GNan f) { return _mm256_movemask_ps(f) != 0; }
using GMask = __m256i;
inline GVec g_load_m(const float* p, i64 n, GMask m) { return n >= kGL ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, m); }
inline GVec g_load_full(const float* p) { return _mm256_loadu_ps(p); }
inline void g_store_m(float* p, GVec v, i64 n, bool whole, GMask m) {
  if (whole || n >= kGL) {
    _mm256_storeu_ps(p, v);
  } else {
    _mm256_maskstore_ps(p, m, v);
  }
}
inline GVec g_op(MaxOp, GVec acc, GVec v) { return op8(MaxOp{}, acc, v); }
inline GVec g_op(SumOp, GVec acc, GVec v) { return _mm256_add_ps(acc, v); }
inline GVec g_zero() { return _mm256_setzero_ps(); }
#endif

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
    GMask m0, m1, ms;
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
      st.m0 = g_mask(st.n0);
      st.m1 = g_mask(st.n1);
      st.ms = g_mask(st.ns);
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
    GIdx ix[kGatherMaxTaps];
    for (i64 t = 0; t < kw_; ++t) ix[t] = g_index(idx_[t]);
    for (i64 p = 0; p < nout; p += P_) {
      const i64 np = nout - p < P_ ? nout - p : P_;
      const i64 base = (col0 + p * sw_) * C_;
      i64 n = span(np, dw_);
      if (base + n > rowlen) n = rowlen - base;  // never: full windows lie inside the row
      const i64 n0 = n < kGL ? n : kGL, n1 = n - n0;
      GVec v0 = g_load(rows[0] + base, n0);
      GVec v1 = n1 > 0 ? g_load(rows[0] + base + kGL, n1) : g_zero();
      if constexpr (std::is_same<Op, SumOp>::value) {  // sums start from 0, as the row passes'
        v0 = _add(g_zero(), v0);
        v1 = _add(g_zero(), v1);
      }
      for (i64 r = 1; r < nrows; ++r) {
        v0 = g_op(Op{}, v0, g_load(rows[r] + base, n0));
        if (n1 > 0) v1 = g_op(Op{}, v1, g_load(rows[r] + base + kGL, n1));
      }
      GVec acc = g_pick(v0, v1, ix[0]);
      if constexpr (std::is_same<Op, SumOp>::value) acc = _add(g_zero(), acc);
      for (i64 t = 1; t < kw_; ++t) acc = g_op(Op{}, acc, g_pick(v0, v1, ix[t]));
      g_store(out + p * C_, acc, np * C_, p * C_ + kGL <= room);
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
    auto op = [](GVec acc, GVec v) { return Plain ? g_max_plain(acc, v) : g_op(Op{}, acc, v); };
    GIdx ix[kGatherMaxTaps];
    for (i64 t = 0; t < nk; ++t) ix[t] = g_index(idx_[t]);
    GNan nan = g_nan_none();
    auto step = [&](const Step& st, auto full) {
      constexpr bool kFull = decltype(full)::value;
      auto load = [&st](const float* p, i64 half) {
        if constexpr (kFull) return g_load_full(p + half * kGL);
        return half == 0 ? g_load_m(p, st.n0, st.m0) : g_load_m(p + kGL, st.n1, st.m1);  // none read if n1 == 0
      };
      GVec v0 = load(rows[0] + st.base, 0);
      GVec v1 = load(rows[0] + st.base, 1);
      if constexpr (std::is_same<Op, SumOp>::value) {  // same order of operations as run()
        v0 = _add(g_zero(), v0);
        v1 = _add(g_zero(), v1);
      }
      if constexpr (Plain) nan = g_nan_add(nan, v0, v1);
      for (i64 r = 1; r < nr; ++r) {
        const GVec u0 = load(rows[r] + st.base, 0);
        const GVec u1 = load(rows[r] + st.base, 1);
        if constexpr (Plain) nan = g_nan_add(nan, u0, u1);
        v0 = op(v0, u0);
        v1 = op(v1, u1);
      }
      GVec acc = g_pick(v0, v1, ix[0]);
      if constexpr (std::is_same<Op, SumOp>::value) acc = _add(g_zero(), acc);
      for (i64 t = 1; t < nk; ++t) acc = op(acc, g_pick(v0, v1, ix[t]));
      g_store_m(out + st.out, acc, st.ns, st.whole, st.ms);
    };
    for (i64 k = 0; k < nfull; ++k) step(steps[k], std::true_type{});
    for (i64 k = nfull; k < nsteps; ++k) step(steps[k], std::false_type{});
    return Plain && g_nan_any(nan);
  }
  static GVec _add(GVec a, GVec b) { return g_op(SumOp{}, a, b); }
  i64 span(i64 np, i64 dw) const { return ((np - 1) * sw_ + (kw_ - 1) * dw + 1) * C_; }
  i64 C_, sw_, kw_, dw_ = 1, P_ = 0;
  bool ok_ = false;
  alignas(64) std::int32_t idx_[kGatherMaxTaps][kGL] = {};
};
#else
// No permute gather below AVX2: the row passes do this work.
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
