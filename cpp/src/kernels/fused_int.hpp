// Fused register blocks on integer lanes, written once over the integer vectors (vec.hpp's
// VecI<T>: 64-byte vectors with AVX-512, 32-byte ones with AVX2, 16-byte ones with NEON):
// float16 max on the bits
// (max_h16_bits), integer max (max_int_vec) and its pixel run (max_run_int), and max_block,
// the block driver of MaxDirect in the builds with a vector layer (these, else fused.hpp's
// max_block_vec). (Until this file took the vector layer, fused_zmm.hpp held the AVX-512-only
// form of the same kernels; the AVX-512 instructions are unchanged.)
//
// Part of the per-ISA kernel source: included only by kernels/all.hpp, inside namespace
// nhwcpool::NHWCPOOL_ISA and its anonymous namespace, after the files listed before it there.

#ifdef NHWCPOOL_VEC_BLOCKS
#ifdef NHWCPOOL_INT_VECS
// float16 max on the bits, VecI<int16_t>::N channels per vector (32 with AVX-512, 16 with
// AVX2, 8 with NEON), no conversions. Read as int16, float16 values order like signed
// integers among the non-negative ones, and in reverse among the negative ones (sign and
// magnitude). So the float maximum is the signed maximum when that is >= 0 (some value is
// >= +0), else the signed minimum (all negative: the smallest magnitude, -0 first of all). This is exact except in two
// cases, which return false so that the caller redoes the block with max_vec (PyTorch's
// rules): a NaN in the window (a positive one shows as a signed maximum above +inf, a negative
// one as an unsigned maximum above -inf), and a window whose maximum is a zero of both signs
// (signed max 0 and signed min 0x8000), where the first zero in tap order wins. (The
// sign-magnitude order is the one radix sorts of floats exploit.) Three integer ops per
// vector of halves replace, per float vector, a widening, a compare and a masked max (AVX2: a
// max, a compare and a blend), plus the narrowing: AVX-512, 2x2/s2 over (1,64,64,128) from L2
// 28.3 -> 23.7 us on Zen 4.
template <int NV, bool Tail, bool Stream>
NHWCPOOL_ALWAYS_INLINE inline bool max_h16_bits(const Window<half_t>& win, i64 c0, i64 cb,
                                                typename VecI<std::int16_t>::Tail tail, half_t* NHWCPOOL_RESTRICT dst) {
  static_assert(!(Tail && Stream), "streamed pixels are whole cache lines");
  using V = VecI<std::int16_t>;   // signed max and min, the sign select
  using U = VecI<std::uint16_t>;  // unsigned max (the same registers)
  using R = typename V::reg;
  const auto load = [tail, cb](const half_t* s, int v) {
    R x = vec_load_at<V, NV, Tail>(reinterpret_cast<const std::int16_t*>(s), v, cb, tail);
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
    __asm__("" : "+v"(x));  // one load feeding three ops, not three folded loads
#endif
    return x;
  };
  R smax[NV], smin[NV], umax[NV];
  const half_t* s = win.tap(0) + c0;
  for (int v = 0; v < NV; ++v) smax[v] = smin[v] = umax[v] = load(s, v);
  for (i64 t = 1; t < win.ntaps; ++t) {
    s = win.tap(t) + c0;
    for (int v = 0; v < NV; ++v) {
      const R x = load(s, v);
      smax[v] = V::max(smax[v], x);
      smin[v] = V::min(smin[v], x);
      umax[v] = U::max(umax[v], x);
    }
  }
  // Lanes to redo, folded over the vectors first so that one test ends the window: the
  // largest signed maximum (above +inf: a positive NaN), the largest unsigned maximum (above
  // -inf: a negative NaN) and the smallest of smax | (smin ^ 0x8000) (zero: both zeros and
  // nothing positive). Masked-off tail lanes load as +0 and pass; overlapping ones are real.
  R top = smax[0], utop = umax[0];
  const R neg_zero = V::set1(static_cast<std::int16_t>(0x8000));
  R ties = V::or_xor(smax[0], smin[0], neg_zero);
  for (int v = 1; v < NV; ++v) {
    top = V::max(top, smax[v]);
    utop = U::max(utop, umax[v]);
    ties = U::min(ties, V::or_xor(smax[v], smin[v], neg_zero));
  }
  const typename V::Cmp special =
      V::cmp_or(V::cmp_or(V::gt(top, V::set1(0x7C00)), U::gt(utop, U::set1(0xFC00))), V::eq_zero(ties));
  if (V::any(special)) return false;
  auto* d = reinterpret_cast<std::int16_t*>(dst);
  for (int v = 0; v < NV; ++v) {
    vec_store_at<V, NV, Tail, Stream>(d, v, cb, tail, V::select_neg(smax[v], smax[v], smin[v]));
  }
  return true;
}

// Integer max, one vector of channels per vpmax per tap, as float32 but without NaNs to mind.
// (The taps-outer loop, accumulators in memory, measured 2.3x slower for 2x2/s2 over
// (8,112,112,64) uint8 on Zen 4 with AVX-512.)
template <class T, int NV, bool Tail, bool Stream>
NHWCPOOL_ALWAYS_INLINE inline void max_int_vec(const Window<T>& win, i64 c0, i64 cb, typename VecI<T>::Tail tail,
                                               T* NHWCPOOL_RESTRICT dst) {
  static_assert(!(Tail && Stream), "streamed pixels are whole cache lines");
  using V = VecI<T>;
  typename V::reg a[NV];
  const T* s = win.tap(0) + c0;
  for (int v = 0; v < NV; ++v) a[v] = vec_load_at<V, NV, Tail>(s, v, cb, tail);
  for (i64 t = 1; t < win.ntaps; ++t) {
    s = win.tap(t) + c0;
    for (int v = 0; v < NV; ++v) a[v] = V::max(a[v], vec_load_at<V, NV, Tail>(s, v, cb, tail));
  }
  for (int v = 0; v < NV; ++v) vec_store_at<V, NV, Tail, Stream>(dst, v, cb, tail, a[v]);
}
#endif

// Max over a block in the builds with a vector layer: integers, float16 on the bits first,
// else max_vec. An overlapping last vector (AVX2) needs one whole vector of the pixel up to the
// block's end; the direct kernels' pixels of at least 64 bytes always have it, and the check
// keeps any other caller correct (the generic block, or max_vec).
template <class T, bool Stream>
NHWCPOOL_ALWAYS_INLINE inline void max_block(const Window<T>& win, i64 c0, i64 cb, T* dst) {
#ifdef NHWCPOOL_INT_VECS
  if constexpr (std::is_integral<T>::value) {
    using V = VecI<T>;
    if constexpr (V::kOverlapTail) {
      if (c0 + cb < V::N) {
        alignas(64) T acc[block_of<T>()];
        reduce_block<MaxOp, T, T, false>(win, c0, cb, acc);
        store_max(acc, dst, cb);
        return;
      }
    }
    NHWCPOOL_TRACE(max_int_zmm);
    vec_dispatch<V>(cb, [&](auto nv, auto tail_flag, typename V::Tail tail) NHWCPOOL_ALWAYS_INLINE {
      constexpr bool kTail = decltype(tail_flag)::value;
      max_int_vec<T, decltype(nv)::value, kTail, Stream && !kTail>(win, c0, cb, tail, dst);
    });
    return;
  }
  if constexpr (std::is_same<T, half_t>::value) {
    using V = VecI<std::int16_t>;
    bool done = false;
    if (!V::kOverlapTail || c0 + cb >= V::N) {
      vec_dispatch<V, static_cast<int>(block_of<float>() / V::N)>(
          cb, [&](auto nv, auto tail_flag, typename V::Tail tail) NHWCPOOL_ALWAYS_INLINE {
            constexpr bool kTail = decltype(tail_flag)::value;
            done = max_h16_bits<decltype(nv)::value, kTail, Stream && !kTail>(win, c0, cb, tail, dst);
          });
    }
    if (done) NHWCPOOL_TRACE(max_h16_bits);
    if (done) return;
  }
#endif
  if constexpr (!std::is_integral<T>::value) max_block_vec<T, Stream>(win, c0, cb, dst);
}

#ifdef NHWCPOOL_INT_VECS
// A row's full windows as one run (see max_run_vec), for integers.
template <class T, bool Stream>
NHWCPOOL_NOINLINE void max_run_int(const TapList<T>& tl, Window<T> win, i64 step, i64 npx, i64 C, T* dst) {
  NHWCPOOL_TRACE(pixel_runs);
  static_assert(std::is_integral<T>::value, "float32: max_run_vec");
  using V = VecI<T>;
  vec_dispatch<V>(C, [&](auto nv, auto tail_flag, typename V::Tail tail) NHWCPOOL_ALWAYS_INLINE {
    constexpr int kNV = decltype(nv)::value;
    constexpr bool kTail = decltype(tail_flag)::value;
    for (i64 i = 0; i < npx; ++i, win.shift += step, dst += C) {
      tl.prefetch(win.shift);
      max_int_vec<T, kNV, kTail, Stream && !kTail>(win, 0, C, tail, dst);
    }
  });
}
#endif
#endif
