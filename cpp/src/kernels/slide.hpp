// Sliding window (slide): stride-1 undilated windows of 2 or 3 columns and up to 3 rows over
// float32 pixels, in registers, over 256-bit Vecs (SV; on NEON two 128-bit ones per chunk).
// AVX2 and up, and NEON; the stand-ins for builds without them are at the end of running_fused.hpp.
//
// Part of the per-ISA kernel source: included only by kernels/all.hpp, inside namespace
// nhwcpool::NHWCPOOL_ISA and its anonymous namespace, after the files listed before it there.

// ---------------------------------------------------------------------------------------------
// Sliding windows in registers, for stride-1 undilated windows of up to 3x3 taps over float32
// pixels (the 3x3/s1 "same" pooling of Inception-style blocks). One channel chunk at a time
// walks along the output row holding the window's R x K taps in registers; each step loads
// the one new column of R taps and keeps the K-1 others, so each input pixel is read once
// per output row instead of K times. The taps are still combined in row-major order, as
// reduce_block does (PyTorch's order), so the results are identical to the per-pixel path.
// (Measured on Zen 4, 3x3/s1/p1 average over (8,56,56,256): the per-pixel register blocks
// re-read 9 taps per output from L2 and ran 3.5 ms; XNNPACK's multipass pooling reuses rows
// in the same spirit.)
constexpr i64 kSlideColsMax = 8;  // slide_cols: most columns and rows
#if defined(NHWCPOOL_VEC_BLOCKS)
#define NHWCPOOL_SLIDE 1
// 256-bit vectors in both builds (SV::N floats each), kSlideVecs of them per channel chunk.
#ifdef NHWCPOOL_ZMM_BLOCKS
using SV = Vec<float, 8>;      // with AVX-512VL masks
constexpr int kSlideVecs = 2;  // 16 floats per chunk: one cache line per tap (of 32 registers)
#elif defined(NHWCPOOL_NEON)
using SV = VecF;               // float32x4_t
constexpr int kSlideVecs = 2;  // 8 floats per chunk, as AVX2's: 3x3 taps x 2 = 18 of 32 registers
#else
using SV = VecF;
constexpr int kSlideVecs = 1;  // one vector per chunk (of 16 registers)
#endif
using SVec = SV::reg;
constexpr int kSL = SV::N;  // lanes per vector

// Max of t[lo..hi) as a balanced tree, earlier taps on the left: the same result as the
// sequential scan (the operator keeps the first of equal values and the last NaN, and that
// rule composes: a later part wins only if strictly greater or NaN), with half the latency.
template <int lo, int hi>
inline SVec tree_max(const SVec* t) {
  if constexpr (hi - lo == 1) {
    return t[lo];
  } else {
    constexpr int mid = (lo + hi) / 2;
    return SV::max(tree_max<lo, mid>(t), tree_max<mid, hi>(t));
  }
}

// Windows o = 0..nout-1 over columns [col0 + o, col0 + o + K) of the R rows; out: nout
// pixels of C floats. div: the windows' common divisor (average), or nullptr (max). Returns
// false if a sum was not finite (the caller redoes the row in float64).
// How slide_rk finishes a window: max (none), or the average's division.
enum class SlideDiv { none, mul, div };

// One channel chunk [c0, c0 + lanes) of slide_rk; Full: all kSL * kSlideVecs lanes (no masks).
// Stream: a full chunk is one whole cache line of the output, written with non-temporal stores.
template <class Op, int R, int K, bool Full, SlideDiv D, bool Stream = false>
inline void slide_chunk(const float* const* rows, i64 C, i64 c0, const i64* lanes, i64 col0, i64 nout,
                        float* NHWCPOOL_RESTRICT out, const float* pf, SVec dv, SVec inv, SVec& bad_io) {
  constexpr int V = kSlideVecs;
  SVec bad = bad_io;  // in a register for the loop
  auto load = [&](const float* p, int v) { return Full ? SV::load<float>(p) : SV::load_n(p, lanes[v]); };
  SVec x[R][K][V];
  for (int k = 0; k + 1 < K; ++k) {  // slots 1..K-1: columns col0 .. col0 + K - 2
    for (int r = 0; r < R; ++r) {
      for (int v = 0; v < V; ++v) x[r][k + 1][v] = load(rows[r] + (col0 + k) * C + c0 + kSL * v, v);
    }
  }
  for (i64 o = 0; o < nout; ++o) {
    const i64 col = col0 + o + K - 1;
    prefetch_line(pf + col * C);
    for (int r = 0; r < R; ++r) {
      for (int v = 0; v < V; ++v) {
        for (int k = 0; k + 1 < K; ++k) x[r][k][v] = x[r][k + 1][v];
        x[r][K - 1][v] = load(rows[r] + col * C + c0 + kSL * v, v);
      }
    }
    for (int v = 0; v < V; ++v) {
      SVec acc;
      if constexpr (std::is_same<Op, MaxOp>::value) {
        SVec t[R * K];
        for (int r = 0; r < R; ++r) {
          for (int k = 0; k < K; ++k) t[r * K + k] = x[r][k][v];
        }
        acc = tree_max<0, R * K>(t);
      } else {
        acc = vec_first<SV>(Op{}, x[0][0][v]);
        for (int r = 0; r < R; ++r) {
          for (int k = (r == 0 ? 1 : 0); k < K; ++k) acc = vec_op<SV>(Op{}, acc, x[r][k][v]);
        }
      }
      if constexpr (D != SlideDiv::none) bad = SV::add(bad, SV::sub(acc, acc));
      if constexpr (D == SlideDiv::mul) acc = SV::mul(acc, inv);
      if constexpr (D == SlideDiv::div) acc = SV::div(acc, dv);
      float* d = out + o * C + c0 + kSL * v;
      if constexpr (Full && Stream) {
        SV::store<float, true>(d, acc);
      } else if constexpr (Full) {
        SV::store<float, false>(d, acc);
      } else {
        SV::store_n(d, acc, lanes[v], false);
      }
    }
  }
  bad_io = bad;
}

// Each step prefetches the last row's tap for the next chunk (one chunk = ~nout steps
// ahead), and in the last chunk the next input row's first chunk: the walk along a row with a
// stride of C floats is invisible to the hardware prefetchers, and the last row is the one
// the previous output row did not bring into cache (rowlen: floats per input row).
// stream: the call's output is streamed (large). Full chunks are then written with
// non-temporal stores when they are whole output lines, i.e. the output pixels have the
// input's alignment (see output_offset): the walk's stores hit one output line per step, C
// floats apart, which the prefetchers do not fetch ahead and which each cost a read for
// ownership (Zen 4, 3x3/s1/p1 average over (8,56,56,256): 2.38 -> 1.96 ms at one thread, 1.22
// -> 0.96 ms at two).
template <class Op, int R, int K, SlideDiv D>
bool slide_rkd(const float* const* rows, i64 C, i64 col0, i64 nout, float* NHWCPOOL_RESTRICT out,
               const Divisor<float>* div, i64 rowlen, bool stream) {
  constexpr int V = kSlideVecs;
  SVec bad = SV::zero();  // becomes NaN if some sum is inf or NaN (x - x)
  const SVec dv = SV::set1(div ? div->d : 1.0f), inv = SV::set1(div ? div->inv : 1.0f);
  // Chunks start on chunk-size boundaries (a cache line with AVX-512) when every pixel has the
  // same alignment (NumPy's large arrays start 16 bytes into a line; unaligned chunks touch two
  // lines per tap, measured 1.7x slower), after a shorter head chunk.
  constexpr std::uintptr_t kChunkBytes = sizeof(float) * kSL * V;
  const auto addr = reinterpret_cast<std::uintptr_t>(rows[0] + col0 * C);
  const i64 head = (C * 4) % static_cast<i64>(kChunkBytes) == 0 ? floats_to_boundary(rows[0] + col0 * C, kChunkBytes) : 0;
  // (Full chunks are whole output lines only when they start on the input's lines: head > 0
  // or an aligned start, which needs a float-aligned input.)
  const bool nt = stream && kChunkBytes == 64 && (C * 4) % 64 == 0 && addr % 4 == 0 &&
                  ((reinterpret_cast<std::uintptr_t>(out) - addr) & 63) == 0;
  // Chunk [c0, c0 + n) of windows [o0, o0 + m): full chunks without masks.
  auto chunk = [&](i64 c0, i64 n, i64 o0, i64 m) {
    i64 lanes[V];
    for (int v = 0; v < V; ++v) {
      const i64 left = n - kSL * v;
      lanes[v] = left < 0 ? 0 : (left < kSL ? left : kSL);
    }
    const float* pf = c0 + n < C ? rows[R - 1] + c0 + n : rows[R - 1] + rowlen;
    if (n == kSL * V && nt) {
      slide_chunk<Op, R, K, true, D, true>(rows, C, c0, lanes, col0 + o0, m, out + o0 * C, pf, dv, inv, bad);
    } else if (n == kSL * V) {
      slide_chunk<Op, R, K, true, D>(rows, C, c0, lanes, col0 + o0, m, out + o0 * C, pf, dv, inv, bad);
    } else {
      slide_chunk<Op, R, K, false, D>(rows, C, c0, lanes, col0 + o0, m, out + o0 * C, pf, dv, inv, bad);
    }
  };
  if (head > 0 && nout >= 2) {
    // The last chunk wraps into the next pixel: lanes [c0, C) of one pixel and [0, head) of the
    // next, one aligned chunk. Along the row its window o gives window o's last lanes and window
    // o + 1's first (the flat offsets differ by C per column as for any chunk), so a row takes
    // as many full chunks as an aligned one, plus the first window's head and the last window's
    // tail on their own (masked chunks cost about twice a full one; 3x3/s1/p1 max over
    // (8,56,56,128), in and out 16 bytes past a line, one thread: 1.42 -> 0.98 ms, as aligned;
    // over 16 channels 2.2x, 3x3/s1/p1 average with count_include_pad=False over 256 1.19x).
    const i64 wrap = C - (kSL * V - head);
    chunk(0, head, 0, 1);
    for (i64 c0 = head; c0 < wrap; c0 += kSL * V) chunk(c0, kSL * V, 0, nout);
    chunk(wrap, kSL * V, 0, nout - 1);  // its last column's next pixel is past the full windows
    chunk(wrap, C - wrap, nout - 1, 1);
  } else {
    for (i64 c0 = 0, c1 = 0; c0 < C; c0 = c1) {
      c1 = c0 == 0 && head > 0 ? head : c0 + kSL * V;
      if (c1 > C) c1 = C;
      chunk(c0, c1 - c0, 0, nout);
    }
  }
  return !SV::has_nan(bad);
}

template <class Op, int R, int K>
bool slide_rk(const float* const* rows, i64 C, i64 col0, i64 nout, float* NHWCPOOL_RESTRICT out,
              const Divisor<float>* div, i64 rowlen, bool stream) {
  if constexpr (std::is_same<Op, MaxOp>::value) {
    return slide_rkd<Op, R, K, SlideDiv::none>(rows, C, col0, nout, out, div, rowlen, stream);
  } else {
    if (div->pow2) return slide_rkd<Op, R, K, SlideDiv::mul>(rows, C, col0, nout, out, div, rowlen, stream);
    return slide_rkd<Op, R, K, SlideDiv::div>(rows, C, col0, nout, out, div, rowlen, stream);
  }
}

// Whether slide() handles the full windows of g's rows.
inline bool slide_applies(const Geometry& g) {
  return g.w.stride == 1 && g.w.dilation == 1 && (g.w.kernel == 2 || g.w.kernel == 3) && g.taps_h <= 3;
}

// R in-range rows (1..3), K = g.w.kernel columns. The caller fences after streamed calls.
template <class Op>
bool slide(const float* const* rows, i64 R, i64 K, i64 C, i64 col0, i64 nout, float* out,
           const Divisor<float>* div, i64 rowlen, bool stream) {
  NHWCPOOL_TRACE(slide);
  const int key = static_cast<int>(R * 4 + K);
  switch (key) {
    case 1 * 4 + 2: return slide_rk<Op, 1, 2>(rows, C, col0, nout, out, div, rowlen, stream);
    case 2 * 4 + 2: return slide_rk<Op, 2, 2>(rows, C, col0, nout, out, div, rowlen, stream);
    case 3 * 4 + 2: return slide_rk<Op, 3, 2>(rows, C, col0, nout, out, div, rowlen, stream);
    case 1 * 4 + 3: return slide_rk<Op, 1, 3>(rows, C, col0, nout, out, div, rowlen, stream);
    case 2 * 4 + 3: return slide_rk<Op, 2, 3>(rows, C, col0, nout, out, div, rowlen, stream);
    case 3 * 4 + 3: return slide_rk<Op, 3, 3>(rows, C, col0, nout, out, div, rowlen, stream);
    default: return true;  // not reached: slide_applies
  }
}
#endif  // NHWCPOOL_VEC_BLOCKS (see running_fused.hpp for the #else)
