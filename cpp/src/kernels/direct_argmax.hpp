// Direct kernels, first part: the argmax register block (argmax_block), the z_* AVX-512
// load/store/dispatch layer and the fused AVX-512 float32 argmax (argmax_block_zmm).
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

#ifdef NHWCPOOL_ZMM_BLOCKS
// Loads and stores of the AVX-512 build's fused register-blocked kernels (argmax here, max and
// average before the direct kernels): vector v of 16 channels from s (float16 widened by
// vcvtph2ps), the last of NV masked when Tail.
template <class T, bool Tail, int NV>
NHWCPOOL_ALWAYS_INLINE inline __m512 z_load(const T* s, int v, __mmask16 tail) {
  const T* p = s + 16 * v;
  const bool masked = Tail && v == NV - 1;
  if constexpr (std::is_same<T, float>::value) {
    return masked ? _mm512_maskz_loadu_ps(tail, p) : _mm512_loadu_ps(p);
  } else {
    const __m256i h = masked ? _mm256_maskz_loadu_epi16(tail, p) : _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    return _mm512_maskz_cvtph_ps(0xFFFF, h);
  }
}

template <class T, bool Tail, bool Stream, int NV>
NHWCPOOL_ALWAYS_INLINE inline void z_store(T* d, int v, __mmask16 tail, __m512 x) {
  T* p = d + 16 * v;
  const bool masked = Tail && v == NV - 1;
  if constexpr (std::is_same<T, float>::value) {
    if (masked) {
      _mm512_mask_storeu_ps(p, tail, x);
    } else if (Stream) {
      _mm512_stream_ps(p, x);
    } else {
      _mm512_storeu_ps(p, x);
    }
  } else {  // round to nearest even, as float_to_half_row
    const __m256i h = _mm512_maskz_cvtps_ph(0xFFFF, x, _MM_FROUND_TO_NEAREST_INT);
    if (masked) {
      _mm256_mask_storeu_epi16(p, tail, h);
    } else if (Stream) {
      _mm256_stream_si256(reinterpret_cast<__m256i*>(p), h);
    } else {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), h);
    }
  }
}

// Calls f(nv, tail_flag, tail) for cb channels (1 .. 128) in vectors of Lanes
// channels, with nv = ceil(cb / Lanes) and tail_flag (the last vector is partial) as
// std::integral_constant, so f instantiates one kernel per case; tail masks the last vector.
// (A switch: a recursive if-chain here let GCC 12 spill the argmax kernel's registers to the
// stack, 2.5x slower.)
template <class Lane>
struct ZMask {  // the mask type for one 64-byte vector of Lane
  using type = typename std::conditional<
      sizeof(Lane) == 1, __mmask64,
      typename std::conditional<sizeof(Lane) == 2, __mmask32,
                                typename std::conditional<sizeof(Lane) == 4, __mmask16, __mmask8>::type>::type>::type;
};

// Blocks of float accumulators (float32, and float16 converted) hold 128 channels, blocks of
// integers kBlockBytes of them: both at most 8 vectors.
template <class Lane, class F>
NHWCPOOL_ALWAYS_INLINE inline void z_dispatch(i64 cb, const F& f) {
  static_assert(kBlockBytes == 512, "a block is at most 8 vectors of 16 floats");
  constexpr int Lanes = 64 / static_cast<int>(sizeof(Lane));
  using Mask = typename ZMask<Lane>::type;
  constexpr int kMaxNV = std::is_integral<Lane>::value ? 8 : 128 / Lanes;
  const int nv = static_cast<int>((cb + Lanes - 1) / Lanes);
  const int rem = static_cast<int>(cb % Lanes);
  const Mask tail = static_cast<Mask>((std::uint64_t{1} << rem) - 1u);
#define NHWCPOOL_Z_CASE(k)                                            \
  case k:                                                             \
    if constexpr (k <= kMaxNV) {                                      \
      if (rem == 0) {                                                 \
        f(std::integral_constant<int, k>{}, std::false_type{}, tail); \
      } else {                                                        \
        f(std::integral_constant<int, k>{}, std::true_type{}, tail);  \
      }                                                               \
    }                                                                 \
    return;
  switch (nv) {
    NHWCPOOL_Z_CASE(1)
    NHWCPOOL_Z_CASE(2)
    NHWCPOOL_Z_CASE(3)
    NHWCPOOL_Z_CASE(4)
    NHWCPOOL_Z_CASE(5)
    NHWCPOOL_Z_CASE(6)
    NHWCPOOL_Z_CASE(7)
    default:
      NHWCPOOL_Z_CASE(8)
  }
#undef NHWCPOOL_Z_CASE
}

// float32 argmax in the AVX-512 build: values and int32 indices in registers, one mask per
// vector (tap > acc, or tap is NaN: PyTorch's rule) driving both masked moves; the values are
// then stored and the indices widened to int64 in registers, each written straight to the
// output or streamed. (The generic loop, with the block in memory, measured 2x slower for
// 2x2/s2 over 64 channels on Zen 4; going through a stack block and a separate widening pass
// cost return_indices ~15% on 2x2/s2 over 128 channels.)
template <int NV, bool Tail>
inline void argmax_f32_zmm(const Window<float>& win, i64 c0, __mmask16 tail,
                           float* NHWCPOOL_RESTRICT vals, i64* NHWCPOOL_RESTRICT idx, bool stream_vals,
                           bool stream_idx) {
  __m512 a[NV];
  __m512i o[NV];
  const float* s = win.tap(0) + c0;
  const __m512i tap0 = _mm512_set1_epi32(static_cast<int>(win.index(0)));
  for (int v = 0; v < NV; ++v) {
    a[v] = z_load<float, Tail, NV>(s, v, tail);
    o[v] = tap0;
  }
  for (i64 t = 1; t < win.ntaps; ++t) {
    s = win.tap(t) + c0;
    const __m512i tap = _mm512_set1_epi32(static_cast<int>(win.index(t)));
    for (int v = 0; v < NV; ++v) {
      const __m512 x = z_load<float, Tail, NV>(s, v, tail);
      const __mmask16 m = static_cast<__mmask16>(_mm512_cmp_ps_mask(x, a[v], _CMP_GT_OQ) |
                                                 _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q));
      a[v] = _mm512_mask_mov_ps(a[v], m, x);
      o[v] = _mm512_mask_mov_epi32(o[v], m, tap);
    }
  }
  for (int v = 0; v < NV; ++v) {
    if (stream_vals) {
      z_store<float, Tail, true, NV>(vals, v, tail, a[v]);
    } else {
      z_store<float, Tail, false, NV>(vals, v, tail, a[v]);
    }
    const __m512i lo = _mm512_maskz_cvtepi32_epi64(0xFF, _mm512_maskz_extracti64x4_epi64(0xF, o[v], 0));
    const __m512i hi = _mm512_maskz_cvtepi32_epi64(0xFF, _mm512_maskz_extracti64x4_epi64(0xF, o[v], 1));
    i64* d = idx + 16 * v;
    if (Tail && v == NV - 1) {
      _mm512_mask_storeu_epi64(d, static_cast<__mmask8>(tail & 0xFF), lo);
      _mm512_mask_storeu_epi64(d + 8, static_cast<__mmask8>(tail >> 8), hi);
    } else if (stream_idx) {
      _mm512_stream_si512(reinterpret_cast<__m512i*>(d), lo);
      _mm512_stream_si512(reinterpret_cast<__m512i*>(d + 8), hi);
    } else {
      _mm512_storeu_si512(d, lo);
      _mm512_storeu_si512(d + 8, hi);
    }
  }
}


// cb (1..128) channels from c0: max values into vals, int64 indices into idx. stream_vals:
// vals is 64-byte aligned and cb a multiple of 16 (see stream_values); stream_idx: idx too.
NHWCPOOL_ALWAYS_INLINE inline void argmax_block_zmm(const Window<float>& win, i64 c0, i64 cb, float* vals, i64* idx,
                             bool stream_vals, bool stream_idx) {
  z_dispatch<float>(cb, [&](auto nv, auto tail_flag, __mmask16 tail) NHWCPOOL_ALWAYS_INLINE {
    argmax_f32_zmm<decltype(nv)::value, decltype(tail_flag)::value>(win, c0, tail, vals, idx, stream_vals,
                                                                      stream_idx);
  });
}
#endif
