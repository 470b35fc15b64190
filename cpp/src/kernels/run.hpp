// Kernel choice per call: pixel_runs, work_estimate, run_max, run_avg.
//
// Part of the per-ISA kernel source: included only by kernels/all.hpp, inside namespace
// nhwcpool::NHWCPOOL_ISA and its anonymous namespace, after the files listed before it there.

// Whether the direct kernels take each row's full windows as one run: in the builds with
// fused blocks (AVX-512, AVX2, NEON), for register-blocked pixels of at most 4 vectors (at 8,
// the per-pixel loop measured as fast on AVX-512): float32 max and average, float16 average,
// and where there are integer vectors (AVX-512, AVX2, NEON) integer max. (float16 max keeps its
// per-pixel loop, see max_h16_bits; the AVX2 build takes the same rule, at its 4 vectors of 8
// floats or 32 bytes, and the NEON build at 4 of 4 floats, which with use_direct's 64-byte
// pixels means C = 16.) The overlapping last vector of AVX2's integer runs needs a whole
// vector per pixel, which use_direct's 64-byte pixels have.
template <class T, class A>
bool pixel_runs(const Geometry& g, Reduction red) {
  constexpr bool max_types = std::is_same<T, float>::value || (kIntVecs && std::is_integral<T>::value);
  constexpr bool avg_types = (std::is_same<T, float>::value || std::is_same<T, half_t>::value) && std::is_same<A, float>::value;
  if (!kVecBlocks || !(red == Reduction::max ? max_types : avg_types)) return false;
#ifdef NHWCPOOL_INT_VECS
  if constexpr (std::is_integral<T>::value) {
    if (g.C * static_cast<i64>(sizeof(T)) < kVecBytes) return false;
  }
#endif
  return g.C <= block_of<A>() / 2 && !TapList<T>::use_wide(g, red);
}

// Rough cost of a call, for the serial/parallel decision.
i64 work_estimate(const Geometry& g) {
  const double w = static_cast<double>(g.N) * static_cast<double>(g.OH) *
                   (static_cast<double>(g.W) * static_cast<double>(g.C) * static_cast<double>(g.taps_h) +
                    static_cast<double>(g.OW) * static_cast<double>(g.C) * static_cast<double>(g.taps_w));
  return w > 9.0e18 ? std::numeric_limits<i64>::max() : static_cast<i64>(w);
}

template <class T>
void run_max(const MaxPoolArgs& a) {
  using A = typename MaxAccOf<T>::type;
  using I = typename std::conditional<sizeof(A) <= 4, std::int32_t, std::int64_t>::type;
  RangeFn fn;
  if (a.indices) {
    // Indices are blended as I (int32 beside float lanes) and widened once; that needs every
    // y*W + x of the plane to fit.
    const bool wide = static_cast<double>(a.geo.H) * static_cast<double>(a.geo.W) >= 2147483647.0;
    if (!use_direct<A>(a.geo)) {
      fn = &MaxIndexed<T>::run;
    } else {
      fn = wide ? &MaxIndexedDirect<T, std::int64_t>::run : &MaxIndexedDirect<T, I>::run;
    }
  } else {
    if (!use_direct<A>(a.geo)) {
      fn = &MaxPlain<T>::run;
    } else {
      fn = pixel_runs<T, A>(a.geo, Reduction::max) ? &MaxDirect<T, true>::run : &MaxDirect<T, false>::run;
    }
  }
  parallel_for(a.geo.N * a.geo.OH, work_estimate(a.geo), a.threads, fn, &a);
}

template <class T, class A, class M>
void run_avg(const AvgPoolArgs& a) {
  RangeFn fn = &Avg<T, A, M>::run;
  if (use_direct<A>(a.geo)) {
    fn = pixel_runs<T, A>(a.geo, Reduction::avg) ? &AvgDirect<T, A, M, true>::run : &AvgDirect<T, A, M, false>::run;
  }
  parallel_for(a.geo.N * a.geo.OH, work_estimate(a.geo), a.threads, fn, &a);
}
