// Fused register blocks for float32 and float16 max and average, written once over the vector
// layer (vec.hpp) and compiled for AVX-512 (Vec<float, 16>), AVX2 + F16C (Vec<float, 8>) and
// NEON (Vec<float, 4>): avg_vec, max_vec, their block drivers (avg_block_vec, max_block_vec)
// and pixel runs (max_run_vec, avg_run_vec). The kernels on integer lanes (float16 max on the
// bits, integer max, its run, and the max block driver max_block) are in fused_int.hpp.
//
// Part of the per-ISA kernel source: included only by kernels/all.hpp, inside namespace
// nhwcpool::NHWCPOOL_ISA and its anonymous namespace, after the files listed before it there.

#ifdef NHWCPOOL_VEC_BLOCKS
// Fused register-blocked kernels for one channel block of float32 or float16 pixels. Each
// loads the block's taps (float16 widened: vcvtph2ps), reduces them in registers, finishes
// (average: finite test, divide) and stores, streamed from registers when the output's
// pixels are whole cache lines. The unfused loops made more passes over each block after
// reducing it (float16 conversion into a buffer, finite test, divide into a buffer, streamed
// copy). NV vectors of V::N channels, the last one masked when Tail.

// Vector v of NV from s, the last one masked when Tail.
template <class V, class T, bool Tail, int NV>
NHWCPOOL_ALWAYS_INLINE inline typename V::reg vec_load(const T* s, int v, typename V::Tail tail) {
  return Tail && v == NV - 1 ? V::template load_tail<T>(s + V::N * v, tail) : V::template load<T>(s + V::N * v);
}

// Average: sums in the same tap order and 0 + x start as reduce_block<SumOp> (same bits),
// the finite test of float32 sums, then the divide. (Left to the compiler, which inlines it:
// forced inline, the AVX-512 float16 average over 128 channels measured 1.2x slower.)
template <class V, class T, int NV, bool Tail, bool Stream>
inline void avg_vec(const Window<T>& win, i64 c0, typename V::Tail tail, const Divisor<float>& div,
                    T* NHWCPOOL_RESTRICT dst, FiniteCheck& finite) {
  static_assert(!(Tail && Stream), "streamed pixels are whole cache lines");
  typename V::reg a[NV];
  const T* s = win.tap(0) + c0;
  for (int v = 0; v < NV; ++v) a[v] = V::add(V::zero(), vec_load<V, T, Tail, NV>(s, v, tail));
  for (i64 t = 1; t < win.ntaps; ++t) {
    s = win.tap(t) + c0;
    for (int v = 0; v < NV; ++v) a[v] = V::add(a[v], vec_load<V, T, Tail, NV>(s, v, tail));
  }
  if constexpr (std::is_same<T, float>::value) {
    typename V::Bad bad = V::no_bad();  // lanes whose sum is inf or NaN
    for (int v = 0; v < NV; ++v) bad = V::or_bad(bad, a[v]);
    if (V::any_bad(bad)) finite.mark_not_finite();
  } else {
    (void)finite;  // float16 sums cannot overflow float32
  }
  if (div.pow2) {  // exact: multiplying by 2^-k rounds as dividing by 2^k
    const typename V::reg inv = V::set1(div.inv);
    for (int v = 0; v < NV; ++v) a[v] = V::mul(a[v], inv);
  } else {
    const typename V::reg d = V::set1(div.d);
    for (int v = 0; v < NV; ++v) a[v] = V::div(a[v], d);
  }
  for (int v = 0; v < NV; ++v) {
    if (Tail && v == NV - 1) {
      V::template store_tail<T>(dst + V::N * v, tail, a[v]);
    } else {
      V::template store<T, Stream>(dst + V::N * v, a[v]);
    }
  }
}

// Max: V::max keeps a NaN accumulator and the first of equal values, and takes a NaN tap
// (MaxOp's rule, element for element).
template <class V, class T, int NV, bool Tail, bool Stream>
NHWCPOOL_ALWAYS_INLINE inline void max_vec(const Window<T>& win, i64 c0, typename V::Tail tail, T* NHWCPOOL_RESTRICT dst) {
  static_assert(!(Tail && Stream), "streamed pixels are whole cache lines");
  typename V::reg a[NV];
  const T* s = win.tap(0) + c0;
  for (int v = 0; v < NV; ++v) a[v] = vec_load<V, T, Tail, NV>(s, v, tail);
  for (i64 t = 1; t < win.ntaps; ++t) {
    s = win.tap(t) + c0;
    for (int v = 0; v < NV; ++v) a[v] = V::max(a[v], vec_load<V, T, Tail, NV>(s, v, tail));
  }
  for (int v = 0; v < NV; ++v) {
    if (Tail && v == NV - 1) {
      V::template store_tail<T>(dst + V::N * v, tail, a[v]);
    } else {
      V::template store<T, Stream>(dst + V::N * v, a[v]);
    }
  }
}

// cb channels from c0 of every tap of win, averaged into dst. Stream: dst is 64-byte aligned
// and cb * sizeof(T) a multiple of 64.
template <class T, bool Stream>
NHWCPOOL_ALWAYS_INLINE inline void avg_block_vec(const Window<T>& win, i64 c0, i64 cb, const Divisor<float>& div, T* dst,
                                                 FiniteCheck& finite) {
  NHWCPOOL_TRACE(avg_zmm);
  vec_dispatch<VecF>(cb, [&](auto nv, auto tail_flag, typename VecF::Tail tail) NHWCPOOL_ALWAYS_INLINE {
    constexpr bool kTail = decltype(tail_flag)::value;
    avg_vec<VecF, T, decltype(nv)::value, kTail, Stream && !kTail>(win, c0, tail, div, dst, finite);
  });
}

// The same for max (float32, float16 widened).
template <class T, bool Stream>
NHWCPOOL_ALWAYS_INLINE inline void max_block_vec(const Window<T>& win, i64 c0, i64 cb, T* dst) {
  NHWCPOOL_TRACE(max_zmm);
  vec_dispatch<VecF>(cb, [&](auto nv, auto tail_flag, typename VecF::Tail tail) NHWCPOOL_ALWAYS_INLINE {
    constexpr bool kTail = decltype(tail_flag)::value;
    max_vec<VecF, T, decltype(nv)::value, kTail, Stream && !kTail>(win, c0, tail, dst);
  });
}

// A row's full windows (all taps in range) in one call, for pixels of at most 4 vectors (see
// pixel_runs): the taps step by stride * C from window to window, so the per-pixel work is
// the prefetch and the vectors themselves (AVX-512, Zen 4, one thread, from L2: 2x2/s2 over
// (1,56,56,64) uint8 13.6 -> 4.4 us, float32 over 16 channels 7.1 -> 4.5 us). float32 here
// (integers: max_run_int); float16 keeps its per-pixel fallback (see max_h16_bits).
template <class T, bool Stream>
NHWCPOOL_NOINLINE void max_run_vec(const TapList<T>& tl, Window<T> win, i64 step, i64 npx, i64 C, T* dst) {
  NHWCPOOL_TRACE(pixel_runs);
  vec_dispatch<VecF>(C, [&](auto nv, auto tail_flag, typename VecF::Tail tail) NHWCPOOL_ALWAYS_INLINE {
    constexpr int kNV = decltype(nv)::value;
    constexpr bool kTail = decltype(tail_flag)::value;
    for (i64 i = 0; i < npx; ++i, win.shift += step, dst += C) {
      tl.prefetch(win.shift);
      max_vec<VecF, T, kNV, kTail, Stream && !kTail>(win, 0, tail, dst);
    }
  });
}

// The same for averages (float32, float16): divs holds the row's divisors by window.
template <class T, bool Stream>
NHWCPOOL_NOINLINE void avg_run_vec(const TapList<T>& tl, Window<T> win, i64 step, i64 npx, i64 C, const Divisor<float>* divs,
                                   T* dst, FiniteCheck& finite) {
  NHWCPOOL_TRACE(pixel_runs);
  vec_dispatch<VecF>(C, [&](auto nv, auto tail_flag, typename VecF::Tail tail) NHWCPOOL_ALWAYS_INLINE {
    constexpr int kNV = decltype(nv)::value;
    constexpr bool kTail = decltype(tail_flag)::value;
    for (i64 i = 0; i < npx; ++i, win.shift += step, dst += C) {
      tl.prefetch(win.shift);
      avg_vec<VecF, T, kNV, kTail, Stream && !kTail>(win, 0, tail, divs[i], dst, finite);
    }
  });
}
#endif
