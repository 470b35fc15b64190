// Shared by the direct kernels: store_max, stream_values, store_indices, the prefetch
// distances, wide_window() (taps outer or register blocks?), Reduction and TapList.
//
// Part of the per-ISA kernel source: included only by kernels/all.hpp, inside namespace
// nhwcpool::NHWCPOOL_ISA and its anonymous namespace, after the files listed before it there.

// Stores a block of max values (A) into the output type T.
template <class A, class T>
inline void store_max(const A* src, T* dst, i64 n) {
  if constexpr (std::is_same<A, T>::value) {
    for (i64 c = 0; c < n; ++c) dst[c] = src[c];
  } else {
    float_to_half_row(src, dst, n);
  }
}

// Non-temporal stores for the values of the wide (taps-outer) direct kernels: only when every
// output pixel is whole cache lines (64-byte aligned output, C * itemsize a multiple of 64),
// so no line is shared by two stores. Streaming skips the read-for-ownership of each output
// line; on Zen 4, 2x2/s2 over (8,112,112,128) float32 at one thread measured 1.53 -> 1.38 ms
// in a standalone loop (the read-only loop: 1.39 ms). Partial lines would be flushed as
// partial writes, which is why misaligned outputs keep ordinary stores.
inline bool stream_values(bool stream, const void* out, i64 C, i64 itemsize) {
#ifdef NHWCPOOL_HAVE_STREAM
  return stream && (reinterpret_cast<std::uintptr_t>(out) & 63) == 0 && (C * itemsize) % 64 == 0;
#else
  (void)stream; (void)out; (void)C; (void)itemsize;
  return false;
#endif
}

// Widens a block of winning-tap indices (I) into the int64 output, streamed for large outputs.
template <class I>
inline void store_indices(const I* src, i64* dst, i64 n, bool stream) {
  if (!stream) {
    for (i64 c = 0; c < n; ++c) dst[c] = static_cast<i64>(src[c]);  // widening, vectorized
    return;
  }
#if defined(__AVX512F__)
  if constexpr (std::is_same<I, std::int32_t>::value) {  // widened in registers, whole lines streamed
    if ((reinterpret_cast<std::uintptr_t>(dst) & 63) == 0) {
      i64 c = 0;
      for (; c + 8 <= n; c += 8) {
        const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + c));
        _mm512_stream_si512(reinterpret_cast<__m512i*>(dst + c), _mm512_maskz_cvtepi32_epi64(0xFF, v));
      }
      for (; c < n; ++c) dst[c] = static_cast<i64>(src[c]);  // a partial line: ordinary stores
      return;
    }
  }
#endif
  constexpr i64 kChunk = 256;
  alignas(64) i64 tmp[kChunk];
  for (i64 i = 0; i < n; i += kChunk) {
    const i64 m = n - i < kChunk ? n - i : kChunk;
    for (i64 c = 0; c < m; ++c) tmp[c] = static_cast<i64>(src[i + c]);
    stream_copy(dst + i, tmp, m * 8);
  }
}

// Software prefetch for the direct kernels, which stream the input from memory: per output
// pixel, each window row's next `advance` bytes (the input the window slides over),
// kPrefetchDistance bytes ahead of the current window. The hardware prefetchers alone keep
// too few lines in flight on one core for two or three interleaved row streams (measured on
// Zen 4, 2x2/s2 max of (8,112,112,128): 2.10 -> 1.52 ms; the same-size read-only loop takes
// 1.34 ms). XNNPACK's pooling microkernels prefetch their input rows the same way.
constexpr i64 kPrefetchDistance = 4096;
// Windows that advance further than this per output pixel are long sequential runs that the
// hardware prefetchers handle on their own. (Zen 4, float32 with s=2, one thread: 1000-1024
// channels, 8000-8192 bytes per step, gain from the prefetch: 2x2 max 1.29x, 3x3/p1 max
// 1.34x, 3x3/p1 average 1.08x; 2048 channels, 16 KiB per step: 3x3/p1 average 0.93x.)
constexpr i64 kPrefetchMaxAdvance = 8192;
// Inputs larger than the last-level cache (last_level_cache_bytes(): 32 MiB where this was
// measured) come from memory: their prefetches go to L2 (prefetcht1) rather than L1. A prefetcht0 that misses L3 holds one of
// the few L1 miss buffers for the whole memory latency, which the demand loads then wait for.
// Zen 4, one thread, loaded machine (CPU-time medians of alternated runs), (8,112,112,128)
// float32 2x2/s2 average, AVX2 build: 1.12x and 1.23x faster in two runs (AVX-512 build:
// 1.21x, 1.26x), with indices 1.07-1.19x, 3x3/s2/p1 max 1.15-1.21x, 2x2/s2 max 0.95-1.00x;
// for inputs that stay in L3 ((8,56,56,256), (8,28,28,1024) float32) L2 prefetches measured
// 0.72-0.83x, so they keep prefetcht0.

// Software prefetch of one cache line into L2 (see prefetch_line).
inline void prefetch_line_l2(const void* p) {
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
  __asm__ volatile("prefetcht1 %0" : : "m"(*static_cast<const char*>(p)));
#elif defined(__GNUC__) || defined(__clang__)
  __builtin_prefetch(p, 0, 2);
  __asm__ volatile("" : : "r"(p));
#elif defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
  _mm_prefetch(static_cast<const char*>(p), _MM_HINT_T1);
#else
  (void)p;
#endif
}

// Windows with more taps than this use the "wide" variant: taps outer, long channel blocks
// inner with the accumulator in L1 (PyTorch's channels-last loop order). Register blocking
// over many taps would open one memory stream per tap, more than the prefetchers follow.
constexpr i64 kSmallWindow = 16;
// Channel block of the wide variant, in bytes of accumulator (fits L1 with its input tap).
constexpr i64 kWideBlockBytes = 8192;

// Taps outer also wins when windows barely overlap (each input is read by at most ~2.5
// windows) for the integer types, and for float16 in the baseline build, whose conversions
// vectorise best over long blocks (the AVX-512 and AVX2 builds have fused float16 kernels:
// AVX-512, 2x2/s2 over (1,64,64,128) from L2, max 45 -> 30 us, average 50 -> 25 us; AVX2,
// 2x2/s2 over (8,112,112,128) from L3, one thread, loaded machine: max 6.0 -> 1.2 ms,
// average 10.4 -> 1.3 ms). float32 keeps
// register blocking, with or without indices: with the software
// prefetch and streaming stores it measured faster (Zen 4, one thread, taps outer -> blocks:
// 2x2/s2 max of (8,112,112,128) 1.65 -> 1.37 ms, with indices 2.4 -> 1.9 ms; 3x3/s2/p1 over
// 128 channels 3.0 -> 2.0 ms; 2x2/s2 over (8,56,56,256) 0.87 -> 0.61 ms; average about even).
// Register blocking always wins where inputs are reused from cache by many windows (3x3/s1).
inline bool wide_window(const Geometry& g, bool float32_values) {
  const i64 taps = g.taps_h * g.taps_w;  // <= H*W: no overflow
  if (taps > kSmallWindow) return true;
  return !float32_values &&
         2.0 * static_cast<double>(taps) <= 5.0 * static_cast<double>(g.h.stride) * static_cast<double>(g.w.stride);
}

enum class Reduction { max, argmax, avg };

// Per-window tap lists shared by the direct kernels.
template <class T>
struct TapList {
  Scratch<const T*> rows, taps;
  Scratch<i64> cols, colw, rowidx, flat;  // with indices: row/column of each slot, y*W+x of each tap
  Scratch<const T*> next;                 // the next output row's input rows (for the prefetch)
  i64 nrows = 0, ncols = 0, nnext = 0;
  bool wide;
  i64 advance = 0;  // bytes of each window row to prefetch per output pixel (0: none)
  i64 rowbytes = 0;  // bytes of one input row (W * C elements)
  bool far = false;  // the input comes from memory: prefetch into L2 (last_level_cache_bytes)
  // Register blocks for float32, and where fused kernels exist: float16 max and average
  // (AVX-512, AVX2, NEON), integer max (integer vectors: the same builds) (see wide_window);
  // float16 argmax keeps taps outer.
  static bool use_wide(const Geometry& g, Reduction red) {
    const bool blocks = std::is_same<T, float>::value ||
                        (kVecBlocks && std::is_same<T, half_t>::value && red != Reduction::argmax) ||
                        (kIntVecs && std::is_integral<T>::value && red == Reduction::max);
    return wide_window(g, blocks);
  }
  TapList(const Geometry& g, Reduction red)
      : rows(g.taps_h),
        taps(use_wide(g, red) ? 0 : g.taps_h * g.taps_w),
        cols(g.taps_w),
        colw(red == Reduction::argmax ? g.taps_w : 0),
        rowidx(red == Reduction::argmax ? g.taps_h : 0),
        flat(red == Reduction::argmax && !use_wide(g, red) ? g.taps_h * g.taps_w : 0),
        next(g.taps_h),
        wide(use_wide(g, red)),
        rowbytes(g.W * g.C * static_cast<i64>(sizeof(T))) {
    const i64 span = (g.taps_w - 1) * g.w.dilation + 1;  // columns one window covers
    const double step = static_cast<double>(g.w.stride < span ? g.w.stride : span) *
                        static_cast<double>(g.C) * static_cast<double>(sizeof(T));
    // One window per row (as in global pooling): no next window to prefetch for ((32,7,7,1000) global
    // average with stride 1: 441 useless prefetches per output pixel, ~10% of the call).
    advance = step <= static_cast<double>(kPrefetchMaxAdvance) && g.OW > 1 ? static_cast<i64>(step) : 0;
    far = static_cast<double>(g.N) * static_cast<double>(g.H) * static_cast<double>(g.W) * static_cast<double>(g.C) *
              static_cast<double>(sizeof(T)) >
          static_cast<double>(last_level_cache_bytes());
  }
  // Prefetch for the window last returned by window() or window_at() (pass its shift); see
  // kPrefetchDistance. Near the end of a row it runs on into the next output row's input rows,
  // which the next windows read first (rather than past this row's end, into a row the window
  // already read): Zen 4, one thread, 2x2/s2 max over (16,112,112,32) 1.34 -> 0.80 ms, over
  // (8,112,112,128) 1.40 -> 1.29 ms; the shorter the rows, the more of them went unprefetched.
  void prefetch(i64 shift = 0) const {
    if (advance == 0 || ncols == 0) return;
    if (far) {
      prefetch_far(shift);
      return;
    }
    prefetch_rows<false>(shift);
  }
  // In-range input rows of output row (n, oh).
  void set_rows(const InputView& in, const Geometry& g, const AxisTable& ht, i64 n, i64 oh) {
    built_full_ = false;
    const auto oi = static_cast<std::size_t>(oh);
    const i64 hf = ht.first[oi];
    nrows = ht.count[oi];
    for (i64 t = 0; t < nrows; ++t) {
      rows.p[t] = input_row<T>(in, n, hf + t * g.h.dilation);
      if (rowidx.p) rowidx.p[t] = hf + t * g.h.dilation;
    }
    nnext = 0;
    if (advance == 0) return;
    const i64 nn = oh + 1 < g.OH ? n : n + 1, noh = oh + 1 < g.OH ? oh + 1 : 0;
    if (nn >= g.N) return;
    const auto ni = static_cast<std::size_t>(noh);
    nnext = ht.count[ni];
    for (i64 t = 0; t < nnext; ++t) next.p[t] = input_row<T>(in, nn, ht.first[ni] + t * g.h.dilation);
  }
  // Columns of window (oh, ow), and for small windows the row-major flat tap list.
  Window<T> window(const Geometry& g, const AxisTable& wt, i64 ow) {
    const auto oi = static_cast<std::size_t>(ow);
    const i64 wf = wt.first[oi];
    ncols = wt.count[oi];
    for (i64 j = 0; j < ncols; ++j) {
      cols.p[j] = (wf + j * g.w.dilation) * g.C;
      if (colw.p) colw.p[j] = wf + j * g.w.dilation;
    }
    if (wide) return Window<T>{nullptr, nrows * ncols};
    i64 k = 0;
    for (i64 r = 0; r < nrows; ++r) {
      for (i64 j = 0; j < ncols; ++j) {
        if (flat.p) flat.p[k] = rowidx.p[r] * g.W + colw.p[j];
        taps.p[k++] = rows.p[r] + cols.p[j];
      }
    }
    return Window<T>{taps.p, k, flat.p};
  }
  // Window ow of the current row, for the register-blocked kernels (not `wide`). The windows
  // with every tap in range step by stride * C elements (stride in flat indices), so after
  // the first of them the others reuse its tap list with win.shift and win.flat_shift instead
  // of rebuilding it per pixel (Zen 4, float16 2x2/s2 max over (1,64,64,128) from L2:
  // 22.3 -> 17.3 us; float32 3x3/s2/p1 over 64 channels 5.2 -> 4.2 us).
  Window<T> window_at(const Geometry& g, const AxisTable& wt, i64 ow) {
    if (built_full_ && ow > wt.full_begin && ow < wt.full_end) {
      const i64 steps = (ow - wt.full_begin) * g.w.stride;
      return Window<T>{taps.p, nrows * ncols, flat.p, steps * g.C, steps};
    }
    const Window<T> w = window(g, wt, ow);
    built_full_ = !wide && ow == wt.full_begin && ow < wt.full_end;
    return w;
  }

 private:
  // The L2 variant out of line, so that the L1 one stays as small as it was and GCC keeps
  // inlining it into the pixel loops: with both variants inline, prefetch() outgrew GCC 12's
  // inlining limit and every pixel called it (AVX-512, float16 2x2/s2 average and max over
  // (8,112,112,128), 25.7 MB: 0.95x of 12cd052 until this). Inputs from memory are bound by
  // it, not by a call per pixel.
  NHWCPOOL_NOINLINE void prefetch_far(i64 shift) const { prefetch_rows<true>(shift); }
  template <bool L2>
  static void pf(const void* p) {
    if (L2) {
      prefetch_line_l2(p);
    } else {
      prefetch_line(p);
    }
  }
  template <bool L2>
  void prefetch_rows(i64 shift) const {
    const i64 pos = (cols.p[0] + shift) * static_cast<i64>(sizeof(T)) + kPrefetchDistance;
    for (i64 r = 0; r < nrows; ++r) {
      const char* p = reinterpret_cast<const char*>(rows.p[r]);
      if (pos + advance <= rowbytes) {
        for (i64 b = 0; b < advance; b += 64) pf<L2>(p + pos + b);
        continue;
      }
      for (i64 b = 0; b < advance; b += 64) {
        const i64 q = pos + b - rowbytes;  // into the next row
        if (q < 0) {
          pf<L2>(p + pos + b);
        } else if (r < nnext && q < rowbytes) {
          pf<L2>(reinterpret_cast<const char*>(next.p[r]) + q);
        }
      }
    }
  }
  bool built_full_ = false;  // taps hold the first full window of the current row
};
