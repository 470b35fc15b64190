// Global average pooling: global_avg, the average whose single window per image is the whole
// H x W plane (global_avg_pool2d, avg_pool2d with a whole-plane kernel, adaptive average
// pooling to 1x1), for float32 and float16 in and out.
//
// Part of the per-ISA kernel source: included only by kernels/all.hpp, inside namespace
// nhwcpool::NHWCPOOL_ISA and its anonymous namespace, after the files listed before it there.
//
// The general driver (AvgDirect) takes such a call as one output row per image: one task per
// image, so a batch smaller than the thread count left threads idle (a batch of 1 ran on one
// thread), and float16 and float64-summed float32 windows went through the generic taps-outer
// loop (an L1 accumulator loaded and stored for every tap). Here the work items are (image,
// channel chunk) pairs, so a small batch spreads its channels over the threads, and every
// dtype takes the grouped passes of wide.hpp (seven taps a pass, the sum in a register):
//   * float32 up to kFloatSumCells cells and float16: float32 sums (VecF, float16 widened),
//     started from 0 + x, in row-major tap order, then the finite test and the divide as
//     Divisor<float> (same bits as the direct kernels);
//   * float32 beyond (14x14 and up): float64 sums (VecD, float32 widened per vector), multiplied
//     by the reciprocal and narrowed, as Divisor<double> does for a float32 output (same bits
//     as the float64 wide path).
// The channels are independent, so the chunking changes no result. A float32-sum image whose
// sums are not all finite is redone in float64 after the parallel part (avg_row_float64), as
// the row-wise drivers do: the decision is per image, whatever the chunking.

// x86 (AVX2, AVX-512) and aarch64 (NEON: Vec<float, 4>, Vec<double, 2>).
#if defined(NHWCPOOL_VEC_BLOCKS) && (defined(__AVX2__) || defined(NHWCPOOL_NEON))
#define NHWCPOOL_GLOBAL_AVG 1

// One pass of G taps over cb channels, the sums in registers and in acc between passes
// (taps outer, as wide.hpp: each pass reads G sequential streams, which the prefetchers
// follow; a register block over all 49-196 taps of a 64-128 channel block read 49-196
// scattered pieces and measured up to 2x slower on batches that do not fit in cache).
// V: VecF (float sums of float32/float16) or VecD (float64 sums of float32). First: start
// from 0 + x (SumOp::first) instead of acc.
template <class V, class T, class A, int G, bool First>
NHWCPOOL_NOINLINE void gavg_pass(const T* const* tap, i64 c0, i64 cb, A* NHWCPOOL_RESTRICT acc) {
  auto step = [&](i64 c, auto ld) {
    typename V::reg a = First ? V::add(V::zero(), ld(tap[0] + c0 + c)) : V::add(V::template load<A>(acc + c), ld(tap[0] + c0 + c));
    for (int t = 1; t < G; ++t) a = V::add(a, ld(tap[t] + c0 + c));
    return a;
  };
  i64 c = 0;
  for (; c + V::N <= cb; c += V::N) {
    V::template store<A, false>(acc + c, step(c, [](const T* p) { return V::template load<T>(p); }));
  }
  if (c < cb) {
    const typename V::Tail tail = V::tail_of(static_cast<int>(cb - c));
    typename V::reg a = First ? V::add(V::zero(), V::template load_tail<T>(tap[0] + c0 + c, tail))
                              : V::add(V::template load_tail<A>(acc + c, tail), V::template load_tail<T>(tap[0] + c0 + c, tail));
    for (int t = 1; t < G; ++t) a = V::add(a, V::template load_tail<T>(tap[t] + c0 + c, tail));
    V::template store_tail<A>(acc + c, tail, a);
  }
}
constexpr int kGavgGroup = 7;  // taps per pass (wide.hpp's measured choice)
template <class V, class T, class A, bool First>
void gavg_pass_n(const T* const* tap, int n, i64 c0, i64 cb, A* acc) {
  switch (n) {
    case 1: return gavg_pass<V, T, A, 1, First>(tap, c0, cb, acc);
    case 2: return gavg_pass<V, T, A, 2, First>(tap, c0, cb, acc);
    case 3: return gavg_pass<V, T, A, 3, First>(tap, c0, cb, acc);
    case 4: return gavg_pass<V, T, A, 4, First>(tap, c0, cb, acc);
    case 5: return gavg_pass<V, T, A, 5, First>(tap, c0, cb, acc);
    case 6: return gavg_pass<V, T, A, 6, First>(tap, c0, cb, acc);
    default: return gavg_pass<V, T, A, kGavgGroup, First>(tap, c0, cb, acc);
  }
}
// Sums of channels [c0, c0 + cb) over all taps into acc, in tap order.
template <class V, class T, class A>
void gavg_sums(const T* const* tap, i64 ntaps, i64 c0, i64 cb, A* acc) {
  for (i64 t = 0; t < ntaps; t += kGavgGroup) {
    const int n = static_cast<int>(ntaps - t < kGavgGroup ? ntaps - t : kGavgGroup);
    if (t == 0) {
      gavg_pass_n<V, T, A, true>(tap, n, c0, cb, acc);
    } else {
      gavg_pass_n<V, T, A, false>(tap + t, n, c0, cb, acc);
    }
  }
}

// Accumulator chunk: 8 KiB (wide.hpp's kWideBlockBytes), L1-resident between passes.
constexpr i64 kGavgChunkBytes = 8192;

struct GlobalAvgJob {
  const AvgPoolArgs* a;
  i64 nch;                 // channel chunks per image
  i64 chunk;               // channels per chunk (a multiple of the block)
  bool f64;                // float32 in, float64 sums
  bool stream;             // stream the means (whole lines)
  std::uint8_t* bad;       // per task: some float32 sum was not finite
  i64 divisor;
};

template <class T>
void global_avg_tasks(const void* ctx, i64 begin, i64 end) {
  const GlobalAvgJob& j = *static_cast<const GlobalAvgJob*>(ctx);
  const AvgPoolArgs& a = *j.a;
  const Geometry& g = a.geo;
  const i64 C = g.C, taps = g.H * g.W;
  Scratch<const T*> tp(taps);
  Scratch<float> facc(kGavgChunkBytes / 4);
  Scratch<double> dacc(kGavgChunkBytes / 8);
  const Divisor<float> divf(j.divisor);
  const double inv = 1.0 / static_cast<double>(j.divisor);  // Divisor<double>'s narrowed mean
  i64 have = -1;
  for (i64 t = begin; t < end; ++t) {
    const i64 n = t / j.nch, k = t - n * j.nch;
    if (n != have) {
      for (i64 r = 0; r < g.H; ++r) {
        const T* row = input_row<T>(a.in, n, r);
        for (i64 x = 0; x < g.W; ++x) tp.p[r * g.W + x] = row + x * C;
      }
      have = n;
    }
    T* out = static_cast<T*>(a.out) + n * C;
    const i64 cbeg = k * j.chunk, cend = cbeg + j.chunk < C ? cbeg + j.chunk : C;
    if constexpr (std::is_same<T, float>::value) {
      if (j.f64) {
        constexpr i64 CB = kGavgChunkBytes / 8;
        for (i64 c0 = cbeg; c0 < cend; c0 += CB) {
          const i64 cb = cend - c0 < CB ? cend - c0 : CB;
          gavg_sums<VecD, float, double>(tp.p, taps, c0, cb, dacc.p);
          // The mean = sum * (1/d), rounded to float32 by the narrowing store.
          const VecD::reg vinv = VecD::set1(inv);
          i64 c = 0;
          for (; c + VecD::N <= cb; c += VecD::N) {
            VecD::store<float, false>(out + c0 + c, VecD::mul(VecD::load<double>(dacc.p + c), vinv));
          }
          if (c < cb) {
            const VecD::Tail tail = VecD::tail_of(static_cast<int>(cb - c));
            VecD::store_tail<float>(out + c0 + c, tail, VecD::mul(VecD::load_tail<double>(dacc.p + c, tail), vinv));
          }
        }
        continue;
      }
    }
    using V = VecF;
    constexpr i64 CB = kGavgChunkBytes / 4;
    typename V::Bad badv = V::no_bad();  // lanes whose float32 sum is inf or NaN
    const typename V::reg d = V::set1(divf.pow2 ? divf.inv : divf.d);
    for (i64 c0 = cbeg; c0 < cend; c0 += CB) {
      const i64 cb = cend - c0 < CB ? cend - c0 : CB;
      gavg_sums<V, T, float>(tp.p, taps, c0, cb, facc.p);
      // The divide as Divisor<float>: a power of two multiplies by its exact reciprocal.
      auto mean = [&](typename V::reg x) { return divf.pow2 ? V::mul(x, d) : V::div(x, d); };
      i64 c = 0;
      if (j.stream) {
        for (; c + V::N <= cb; c += V::N) {
          const typename V::reg x = V::template load<float>(facc.p + c);
          badv = V::or_bad(badv, x);
          V::template store<T, true>(out + c0 + c, mean(x));
        }
      } else {
        for (; c + V::N <= cb; c += V::N) {
          const typename V::reg x = V::template load<float>(facc.p + c);
          badv = V::or_bad(badv, x);
          V::template store<T, false>(out + c0 + c, mean(x));
        }
      }
      if (c < cb) {
        const typename V::Tail tail = V::tail_of(static_cast<int>(cb - c));
        typename V::reg x = V::template load_tail<float>(facc.p + c, tail);
        badv = V::or_bad(badv, x);
        V::template store_tail<T>(out + c0 + c, tail, mean(x));
      }
    }
    if (std::is_same<T, float>::value && V::any_bad(badv)) j.bad[t] = 1;  // (float16 sums cannot overflow)
  }
  if (j.stream) stream_fence();
}

// Whether the call is a global average this file computes; if so, computes it.
inline bool global_avg(const AvgPoolArgs& a) {
  const Geometry& g = a.geo;
  if (g.OH != 1 || g.OW != 1 || g.h.dilation != 1 || g.w.dilation != 1) return false;
  const AxisTable& ht = *a.htab;
  const AxisTable& wt = *a.wtab;
  if (ht.first[0] != 0 || ht.count[0] != g.H || wt.first[0] != 0 || wt.count[0] != g.W) return false;
  const bool f32 = a.in_dtype == DType::f32 && a.out_dtype == DType::f32;
  const bool f16 = a.in_dtype == DType::f16 && a.out_dtype == DType::f16;
  if (!f32 && !f16) return false;
  // Few channels (pixels under 64 bytes) stay on the separable path and its summation order.
  if (f32 && g.H * g.W > kFloatSumCells ? !use_direct<double>(g) : !use_direct<float>(g)) return false;
  NHWCPOOL_TRACE(global_avg);
  GlobalAvgJob j{};
  j.a = &a;
  j.divisor = a.divisor_override != 0 ? a.divisor_override
                                      : (a.count_include_pad ? ht.padded_count[0] * wt.padded_count[0] : g.H * g.W);
  j.f64 = f32 && g.H * g.W > kFloatSumCells;
  constexpr i64 block = 128;  // split unit: whole vectors and (float32, float16) whole cache lines
  const i64 nb = (g.C + block - 1) / block;
  // A small batch: split each image's channels among the threads (whole blocks).
  const i64 threads = a.threads < 1 ? 1 : a.threads;
  j.nch = threads > 1 && g.N < 4 * threads ? (nb < threads ? nb : threads) : 1;
  j.chunk = (nb + j.nch - 1) / j.nch * block;
  j.nch = (g.C + j.chunk - 1) / j.chunk;
  j.stream = !j.f64 && stream_values(a.stream, a.out, g.C, f32 ? 4 : 2);
  const i64 tasks = g.N * j.nch;
  Scratch<std::uint8_t> bad(j.f64 ? 0 : tasks);
  if (!j.f64) fill(bad.p, std::uint8_t{0}, tasks);
  j.bad = bad.p;
  const i64 work = g.N * g.C * (g.H * g.W + 1);
  parallel_for(tasks, work, a.threads, f32 ? &global_avg_tasks<float> : &global_avg_tasks<half_t>, &j);
  if (f32 && !j.f64) {
    for (i64 n = 0; n < g.N; ++n) {
      bool redo = false;
      for (i64 k = 0; k < j.nch; ++k) redo |= bad.p[n * j.nch + k] != 0;
      if (redo) avg_row_float64<float>(a, n, 0, static_cast<float*>(a.out) + n * g.C);
    }
  }
  return true;
}
#else
inline bool global_avg(const AvgPoolArgs&) { return false; }
#endif
