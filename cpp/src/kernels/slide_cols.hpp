// Column slide (slide_cols): stride-1 windows of 4 to kSlideColsMax columns over wide float32
// pixels, over the build's float vector (GV, small_c_gather.hpp). AVX2 and up, and NEON
// (stand-ins: end of running_fused.hpp).
//
// Part of the per-ISA kernel source: included only by kernels/all.hpp, inside namespace
// nhwcpool::NHWCPOOL_ISA and its anonymous namespace, after the files listed before it there.

#if defined(NHWCPOOL_VEC_BLOCKS)
// The column form, for the separable path's stride-1 windows of 4 to kSlideColsMax columns
// over wide float32 pixels (slide_cols_applies). Along the output row, each step reduces the
// window's new input column over the R window rows in registers (in row order, as the row pass
// does), keeps it in a ring of the last K columns (K * C floats, in L1 or L2), and combines the
// window's K columns in order (as the plain column pass does): the same result, with
// R + K - 1 loads and two stores per vector instead of the row pass's and the running passes'
// eight or so passes over W*C per output row, and every stream sequential.
// (Zen 4, one thread, C++ harness medians: 5x5/s1/p2 over (8,20,20,512) average 0.91 -> 0.60
// ms, max 0.77 -> 0.60 ms; 4x4/s1 average over (8,56,56,64) 0.82 -> 0.41 ms; 8x8/s1/p4
// average over (1,40,40,512) 0.72 -> 0.48 ms. Keeping the columns in registers instead, by
// walking one channel chunk along the row as slide() does, measured 1.3x slower than the
// passes: with R rows of 1-2 KB pixels, each of its steps misses R lines.)
template <class Op, int K, SlideDiv D>
bool slide_cols_kd(const float* const* rows, i64 R, i64 W, i64 C, i64 col0, i64 nout, float* NHWCPOOL_RESTRICT out,
                   const Divisor<float>* div, float* NHWCPOOL_RESTRICT ring, bool stream) {
  GVec bad = GV::zero();  // becomes NaN if some sum is inf or NaN (x - x)
  const GVec dv = GV::set1(div ? div->d : 1.0f), inv = GV::set1(div ? div->inv : 1.0f);
  const GVec identity = GV::set1(Op::template identity<float>());
  // Chunks start on the input's vector boundaries when every pixel has the same alignment, after
  // a shorter head chunk, as in slide_rkd: NumPy's large arrays start 16 bytes into a line,
  // and then every unaligned vector touches two lines. Only for pixels of 16 vectors or more,
  // which the extra vector per pixel costs little (one thread, in and out 16 bytes past a line,
  // medians of alternated runs: 5x5/s1/p2 over (8,20,20,512) max 1.16x, average 1.28x faster,
  // 4x4/s1 average over 256 channels 1.12x, over 128 1.08x, but max over 64 channels 0.74x).
  // The ring takes the same alignment.
  constexpr i64 kVecBytes = kGL * 4;
  const i64 head = C >= 16 * kGL && (C * 4) % kVecBytes == 0 ? floats_to_boundary(rows[0], kVecBytes) : 0;
  ring += (kGL - head) % kGL;  // the same phase; the caller allocates K * C + 16 floats, 64-byte aligned
  // Streamed (large results): whole output lines, when every full chunk's output is one.
  const bool nt = stream && (C * 4) % 64 == 0 &&
                  (reinterpret_cast<std::uintptr_t>(out + head)) % 64 == 0;
  const i64 Cf = head + (C - head) / kGL * kGL, tail = C - Cf;  // head, full vectors, then a masked one
  auto store_full = [](float* p, GVec v, bool nt_store) {
    if (nt_store) {
      GV::store<float, true>(p, v);
    } else {
      GV::store<float, false>(p, v);
    }
  };
  const float* rx[kSlideColsMax];                                 // the R rows at the current column
  // Column x over the R rows, lanes [c, c + n) (n >= kGL: a full vector).
  auto column = [&](bool in, i64 c, i64 n) {
    if (!in) return identity;  // padding
    GVec t = vec_first<GV>(Op{}, GV::load_n(rx[0] + c, n));
    for (i64 q = 1; q < R; ++q) t = vec_op<GV>(Op{}, t, GV::load_n(rx[q] + c, n));
    return t;
  };
  auto at = [&](i64 x) {  // point rx at column x; false in the padding
    if (x < 0 || x >= W) return false;
    for (i64 q = 0; q < R; ++q) rx[q] = rows[q] + x * C;
    return true;
  };
  for (i64 k = 0; k + 1 < K; ++k) {  // the first window's first K - 1 columns (column x in slot (x - col0) % K)
    const bool in = at(col0 + k);
    float* slot = ring + k * C;
    for (i64 c = 0; c < C;) {
      const i64 n = c == 0 && head > 0 ? head : (C - c < kGL ? C - c : kGL);
      GV::store_n(slot + c, column(in, c, n), n, false);
      c += n;
    }
  }
  for (i64 o = 0; o < nout; ++o) {
    const bool in = at(col0 + o + K - 1);  // the new column
    const float* sp[K - 1];                // the window's other columns, in order
    for (int k = 0; k + 1 < K; ++k) sp[k] = ring + ((o + k) % K) * C;
    float* slot = o + 1 < nout ? ring + ((o + K - 1) % K) * C : nullptr;  // kept for the next K - 1 windows
    float* d = out + o * C;
    auto window = [&](i64 c, i64 n) {
      const GVec cs = column(in, c, n);
      if (slot != nullptr) GV::store_n(slot + c, cs, n, false);
      GVec acc = vec_first<GV>(Op{}, GV::load_n(sp[0] + c, n));
      for (int k = 1; k + 1 < K; ++k) acc = vec_op<GV>(Op{}, acc, GV::load_n(sp[k] + c, n));
      acc = vec_op<GV>(Op{}, acc, cs);
      if constexpr (D != SlideDiv::none) bad = GV::add(bad, GV::sub(acc, acc));
      if constexpr (D == SlideDiv::mul) acc = GV::mul(acc, inv);
      if constexpr (D == SlideDiv::div) acc = GV::div(acc, dv);
      return acc;
    };
    if (head > 0) GV::store_n(d, window(0, head), head, false);
    for (i64 c = head; c < Cf; c += kGL) store_full(d + c, window(c, kGL), nt);
    if (tail > 0) GV::store_n(d + Cf, window(Cf, tail), tail, false);
  }
  return !GV::has_nan(bad);
}

template <class Op, int K>
bool slide_cols_k(const float* const* rows, i64 R, i64 W, i64 C, i64 col0, i64 nout, float* out,
                  const Divisor<float>* div, float* ring, bool stream) {
  if constexpr (std::is_same<Op, MaxOp>::value) {
    return slide_cols_kd<Op, K, SlideDiv::none>(rows, R, W, C, col0, nout, out, div, ring, stream);
  } else {
    if (div->pow2) return slide_cols_kd<Op, K, SlideDiv::mul>(rows, R, W, C, col0, nout, out, div, ring, stream);
    return slide_cols_kd<Op, K, SlideDiv::div>(rows, R, W, C, col0, nout, out, div, ring, stream);
  }
}

// For max, whose operator is three instructions, only up to 12 rows and columns together: at
// 7x7 the running max's passes are as fast (0.97x), at 6x6 this is 1.16x faster.
inline bool slide_cols_applies(const Geometry& g, bool max) {
#ifdef NHWCPOOL_NEON
  // NEON's max is four instructions (compare-and-select): by qemu's instruction counts the
  // column slide ran 0.60x as many outputs per instruction as the path it replaced for 5x5/s1
  // max (tools/aarch64.sh --counts; ARM cannot be timed here), so max keeps the other paths.
  if (max) return false;
#endif
  return g.w.stride == 1 && g.w.dilation == 1 && g.w.kernel >= 4 && g.w.kernel <= kSlideColsMax &&
         g.taps_h <= kSlideColsMax && g.C * 4 >= kSmallPixelBytes && (!max || g.taps_h + g.w.kernel <= 12);
}
// Windows o = 0..nout-1 over columns [col0 + o, col0 + o + K) of the R rows of W pixels
// (columns outside [0, W) are padding: Op's identity), out: nout pixels of C floats; div: the
// windows' divisor (average) or nullptr (max); ring: K * C + 16 floats of 64-byte aligned scratch. Returns false if
// a sum was not finite. The caller fences after streamed calls.
template <class Op>
bool slide_cols(const float* const* rows, i64 R, i64 W, i64 K, i64 C, i64 col0, i64 nout, float* out,
                const Divisor<float>* div, float* ring, bool stream) {
  switch (K) {
    case 4: return slide_cols_k<Op, 4>(rows, R, W, C, col0, nout, out, div, ring, stream);
    case 5: return slide_cols_k<Op, 5>(rows, R, W, C, col0, nout, out, div, ring, stream);
    case 6: return slide_cols_k<Op, 6>(rows, R, W, C, col0, nout, out, div, ring, stream);
    case 7: return slide_cols_k<Op, 7>(rows, R, W, C, col0, nout, out, div, ring, stream);
    case 8: return slide_cols_k<Op, 8>(rows, R, W, C, col0, nout, out, div, ring, stream);
    default: return true;  // not reached: slide_cols_applies
  }
}

// One output row of slide_cols windows, out: OW pixels. The windows wholly inside the row share
// the row's divisor and take one call; each edge window (reaching into the padding) takes
// its own, with its own divisor (count_include_pad=False). divs: nullptr for max.
template <class Op>
bool slide_cols_row(const float* const* rows, i64 R, const Geometry& g, const AxisTable& wt, float* out,
                    const RowDivisors<float>* divs, float* ring, bool stream) {
  const i64 C = g.C, K = g.w.kernel, fb = wt.full_begin, fe = wt.full_end;
  NHWCPOOL_TRACE(slide_cols);
  bool finite = true;
  auto windows = [&](i64 o, i64 nout) {
    const Divisor<float>* d = divs != nullptr ? &(*divs)[o] : nullptr;
    finite &= slide_cols<Op>(rows, R, g.W, K, C, o - g.w.pad_begin, nout, out + o * C, d, ring, stream);
  };
  for (i64 o = 0; o < fb; ++o) windows(o, 1);
  windows(fb, fe - fb);
  for (i64 o = fe; o < g.OW; ++o) windows(o, 1);
  return finite;
}
#endif  // NHWCPOOL_VEC_BLOCKS
