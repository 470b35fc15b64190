// Direct kernels, first part: the argmax register block (argmax_block) and the fused float32
// argmax over the vector layer (argmax_block_vec).
//
// Part of the per-ISA kernel source: included only by kernels/all.hpp, inside namespace
// nhwcpool::NHWCPOOL_ISA and its anonymous namespace, after the files listed before it there.

// ---------------------------------------------------------------------------------------------
// Direct kernels for wide pixels (C * sizeof(acc) >= 64 bytes) and small windows: per output
// pixel, channel blocks of 256 bytes accumulate every tap in registers, then are stored once
// (oneDNN's register blocking over channel blocks; PyTorch's channels-last kernels instead
// read-modify-write the output lane per tap).

// Argmax over a window: acc values and the flat index y*W + x of the winning tap, held as I
// (int32 beside float lanes where the plane allows), so one compare mask drives both blends and
// the indices are widened to int64 once, as PyTorch's channels-last kernel does.
template <class A, class T, class I, bool Full>
inline void argmax_block(const Window<T>& win, i64 c0, i64 cb, A* NHWCPOOL_RESTRICT acc,
                         I* NHWCPOOL_RESTRICT ord) {
  NHWCPOOL_TRACE(argmax_block);
  constexpr i64 B = block_of<A>();
  const i64 n = Full ? B : cb;
  alignas(64) A tmp[B];
  const A* v = tap_values<A>(win.tap(0) + c0, tmp, n);
  const I tap0 = static_cast<I>(win.index(0));
  for (i64 c = 0; c < n; ++c) {
    acc[c] = v[c];
    ord[c] = tap0;
  }
  for (i64 t = 1; t < win.ntaps; ++t) {
    const I tap = static_cast<I>(win.index(t));
    v = tap_values<A>(win.tap(t) + c0, tmp, n);
    for (i64 c = 0; c < n; ++c) {
      const bool take = (v[c] > acc[c]) | (v[c] != v[c]);  // NOLINT: NaN test
      acc[c] = take ? v[c] : acc[c];
      ord[c] = take ? tap : ord[c];
    }
  }
}

#ifdef NHWCPOOL_VEC_ARGMAX
// float32 argmax over the vector layer (VecF: AVX-512, AVX2, NEON): values and int32 indices in
// registers, one lane mask per vector (tap > acc, or tap is NaN: PyTorch's rule, V::take)
// driving both blends; the values are then stored and the indices widened to int64 in
// registers, each written straight to the output or streamed. (The generic loop, with the
// block in memory, measured 2x slower for 2x2/s2 over 64 channels on Zen 4 with AVX-512; going
// through a stack block and a separate widening pass cost return_indices ~15% on 2x2/s2 over
// 128 channels.)
template <class V, bool Tail, int NV>
NHWCPOOL_ALWAYS_INLINE inline typename V::reg argmax_load(const float* s, int v, typename V::Tail tail) {
  return Tail && v == NV - 1 ? V::template load_tail<float>(s + V::N * v, tail) : V::template load<float>(s + V::N * v);
}
template <class V, int NV, bool Tail>
inline void argmax_f32_vec(const Window<float>& win, i64 c0, typename V::Tail tail,
                           float* NHWCPOOL_RESTRICT vals, i64* NHWCPOOL_RESTRICT idx, bool stream_vals,
                           bool stream_idx) {
  typename V::reg a[NV];
  typename V::Idx o[NV];
  const float* s = win.tap(0) + c0;
  const typename V::Idx tap0 = V::idx_set1(win.index(0));
  for (int v = 0; v < NV; ++v) {
    a[v] = argmax_load<V, Tail, NV>(s, v, tail);
    o[v] = tap0;
  }
  for (i64 t = 1; t < win.ntaps; ++t) {
    s = win.tap(t) + c0;
    const typename V::Idx tap = V::idx_set1(win.index(t));
    for (int v = 0; v < NV; ++v) {
      const typename V::reg x = argmax_load<V, Tail, NV>(s, v, tail);
      const typename V::Sel m = V::take(a[v], x);
      a[v] = V::pick(m, a[v], x);
      o[v] = V::idx_pick(m, o[v], tap);
    }
  }
  for (int v = 0; v < NV; ++v) {
    float* p = vals + V::N * v;
    const bool last = Tail && v == NV - 1;
    if (stream_vals) {
      if (last) {
        V::template store_tail<float>(p, tail, a[v]);
      } else {
        V::template store<float, true>(p, a[v]);
      }
    } else {
      if (last) {
        V::template store_tail<float>(p, tail, a[v]);
      } else {
        V::template store<float, false>(p, a[v]);
      }
    }
    const typename V::Wide w = V::widen(o[v]);
    i64* d = idx + V::N * v;
    if (last) {
      V::store_wide_tail(d, tail, w);
    } else if (stream_idx) {
      V::template store_wide<true>(d, w);
    } else {
      V::template store_wide<false>(d, w);
    }
  }
}

// Vectors per argmax kernel: a value and an index register each, so 8 (a whole block) where
// there are 32 vector registers (AVX-512, AArch64), 4 with AVX2's 16 (8 spilled).
#if defined(__AVX512F__) || defined(NHWCPOOL_NEON)
constexpr int kArgmaxVecs = 8;
#else
constexpr int kArgmaxVecs = 4;
#endif

// cb (1 .. one block) channels from c0: max values into vals, int64 indices into idx.
// stream_vals: vals is 64-byte aligned and cb a multiple of 16 (see stream_values);
// stream_idx: idx too.
NHWCPOOL_ALWAYS_INLINE inline void argmax_block_vec(const Window<float>& win, i64 c0, i64 cb, float* vals, i64* idx,
                                                    bool stream_vals, bool stream_idx) {
  NHWCPOOL_TRACE(argmax_zmm);
  using V = VecF;
  constexpr i64 kSub = static_cast<i64>(kArgmaxVecs) * V::N;
  const auto run = [&](i64 c, i64 n) NHWCPOOL_ALWAYS_INLINE {
    vec_dispatch<V, kArgmaxVecs>(n, [&](auto nv, auto tail_flag, typename V::Tail tail) NHWCPOOL_ALWAYS_INLINE {
      argmax_f32_vec<V, decltype(nv)::value, decltype(tail_flag)::value>(win, c0 + c, tail, vals + c, idx + c,
                                                                          stream_vals, stream_idx);
    });
  };
  if constexpr (kSub >= block_of<float>()) {
    run(0, cb);
  } else {
    for (i64 c = 0; c < cb; c += kSub) run(c, cb - c < kSub ? cb - c : kSub);
  }
}
#endif
