// Fused AVX-512-only register blocks: float16 max on the bits, integer max, its pixel run
// (max_run_zmm), and max_block_zmm, the AVX-512 block driver of max (these, else max_vec).
//
// Part of the per-ISA kernel source: included only by kernels/all.hpp, inside namespace
// nhwcpool::NHWCPOOL_ISA and its anonymous namespace, after the files listed before it there.

#ifdef NHWCPOOL_ZMM_BLOCKS
// The AVX-512-only fused kernels beside fused.hpp's (float32/float16 max and average over
// the vector layer): float16 max on the bits, integer max and its pixel run.

// float16 max on the bits, 32 channels per vector, no conversions. Read as int16, float16
// values order like signed integers among the non-negative ones, and in reverse among the
// negative ones (sign and magnitude). So the float maximum is the signed maximum when that is
// >= 0 (some value is >= +0), else the signed minimum (all negative: the smallest magnitude,
// -0 first of all). This is exact except in two cases, which return false so that the caller
// redoes the block with max_vec (PyTorch's rules): a NaN in the window (a positive one shows
// as a signed maximum above +inf, a negative one as an unsigned maximum above -inf), and a
// window whose maximum is a zero of both signs (signed max 0 and signed min 0x8000), where the
// first zero in tap order wins. (The sign-magnitude order is the one radix sorts of floats
// exploit.) Three integer ops per 32 channels replace, per 16, a widening, a compare and a
// masked max, plus the narrowing: 2x2/s2 over (1,64,64,128) from L2 28.3 -> 23.7 us on Zen 4.
template <int NV, bool Tail, bool Stream>
NHWCPOOL_ALWAYS_INLINE inline bool max_h16_bits_zmm(const Window<half_t>& win, i64 c0, __mmask32 tail, half_t* NHWCPOOL_RESTRICT dst) {
  static_assert(!(Tail && Stream), "streamed pixels are whole cache lines");
  const auto load = [tail](const half_t* s, int v) {
    const half_t* p = s + 32 * v;
    __m512i x = Tail && v == NV - 1 ? _mm512_maskz_loadu_epi16(tail, p) : _mm512_loadu_si512(p);
#if defined(__GNUC__) || defined(__clang__)
    __asm__("" : "+v"(x));  // one load feeding three ops, not three folded loads
#endif
    return x;
  };
  __m512i smax[NV], smin[NV], umax[NV];
  const half_t* s = win.tap(0) + c0;
  for (int v = 0; v < NV; ++v) smax[v] = smin[v] = umax[v] = load(s, v);
  for (i64 t = 1; t < win.ntaps; ++t) {
    s = win.tap(t) + c0;
    for (int v = 0; v < NV; ++v) {
      const __m512i x = load(s, v);
      smax[v] = _mm512_max_epi16(smax[v], x);
      smin[v] = _mm512_min_epi16(smin[v], x);
      umax[v] = _mm512_max_epu16(umax[v], x);
    }
  }
  // Lanes to redo, folded over the vectors first so that one test ends the window: the
  // largest signed maximum (above +inf: a positive NaN), the largest unsigned maximum (above
  // -inf: a negative NaN) and the smallest of smax | (smin ^ 0x8000) (zero: both zeros and
  // nothing positive). Masked-off tail lanes load as +0 and pass.
  __m512i top = smax[0], utop = umax[0];
  const __m512i neg_zero = _mm512_set1_epi16(static_cast<short>(0x8000));
  __m512i ties = _mm512_ternarylogic_epi32(smax[0], smin[0], neg_zero, 0xF6);  // a | (b ^ c)
  for (int v = 1; v < NV; ++v) {
    top = _mm512_max_epi16(top, smax[v]);
    utop = _mm512_max_epu16(utop, umax[v]);
    ties = _mm512_min_epu16(ties, _mm512_ternarylogic_epi32(smax[v], smin[v], neg_zero, 0xF6));
  }
  const __mmask32 special = _mm512_cmpgt_epi16_mask(top, _mm512_set1_epi16(0x7C00)) |
                            _mm512_cmpgt_epu16_mask(utop, _mm512_set1_epi16(static_cast<short>(0xFC00))) |
                            _mm512_testn_epi16_mask(ties, ties);
  if (special != 0) return false;
  for (int v = 0; v < NV; ++v) {
    const __m512i r = _mm512_mask_blend_epi16(_mm512_movepi16_mask(smax[v]), smax[v], smin[v]);
    half_t* p = dst + 32 * v;
    if (Tail && v == NV - 1) {
      _mm512_mask_storeu_epi16(p, tail, r);
    } else if (Stream) {
      _mm512_stream_si512(reinterpret_cast<__m512i*>(p), r);
    } else {
      _mm512_storeu_si512(p, r);
    }
  }
  return true;
}

// Integer max, 64 bytes of channels per vector: one vpmax per tap and vector, as float32 but
// without NaNs to mind. (The taps-outer loop, accumulators in memory, measured 2.3x slower for
// 2x2/s2 over (8,112,112,64) uint8 on Zen 4.)
template <class T>
NHWCPOOL_ALWAYS_INLINE inline __m512i zi_load(const T* p, typename ZMask<T>::type m) {
  if constexpr (sizeof(T) == 1) return _mm512_maskz_loadu_epi8(m, p);
  if constexpr (sizeof(T) == 2) return _mm512_maskz_loadu_epi16(m, p);
  if constexpr (sizeof(T) == 4) return _mm512_maskz_loadu_epi32(m, p);
  if constexpr (sizeof(T) == 8) return _mm512_maskz_loadu_epi64(m, p);
}
template <class T>
NHWCPOOL_ALWAYS_INLINE inline void zi_store(T* p, typename ZMask<T>::type m, __m512i v) {
  if constexpr (sizeof(T) == 1) _mm512_mask_storeu_epi8(p, m, v);
  if constexpr (sizeof(T) == 2) _mm512_mask_storeu_epi16(p, m, v);
  if constexpr (sizeof(T) == 4) _mm512_mask_storeu_epi32(p, m, v);
  if constexpr (sizeof(T) == 8) _mm512_mask_storeu_epi64(p, m, v);
}
template <class T>
NHWCPOOL_ALWAYS_INLINE inline __m512i zi_max(__m512i a, __m512i b) {
  // (all-ones maskz forms: the plain ones trip GCC 12's -Wmaybe-uninitialized)
  constexpr bool s = std::is_signed<T>::value;
  const auto all = ~typename ZMask<T>::type{0};
  if constexpr (sizeof(T) == 1) return s ? _mm512_maskz_max_epi8(all, a, b) : _mm512_maskz_max_epu8(all, a, b);
  if constexpr (sizeof(T) == 2) return s ? _mm512_maskz_max_epi16(all, a, b) : _mm512_maskz_max_epu16(all, a, b);
  if constexpr (sizeof(T) == 4) return s ? _mm512_maskz_max_epi32(all, a, b) : _mm512_maskz_max_epu32(all, a, b);
  if constexpr (sizeof(T) == 8) return s ? _mm512_maskz_max_epi64(all, a, b) : _mm512_maskz_max_epu64(all, a, b);
}

template <class T, int NV, bool Tail, bool Stream>
NHWCPOOL_ALWAYS_INLINE inline void max_int_zmm(const Window<T>& win, i64 c0, typename ZMask<T>::type tail, T* NHWCPOOL_RESTRICT dst) {
  static_assert(!(Tail && Stream), "streamed pixels are whole cache lines");
  constexpr int L = 64 / static_cast<int>(sizeof(T));
  const auto load = [tail](const T* p, int v) {
    return Tail && v == NV - 1 ? zi_load(p + L * v, tail) : _mm512_loadu_si512(p + L * v);
  };
  __m512i a[NV];
  const T* s = win.tap(0) + c0;
  for (int v = 0; v < NV; ++v) a[v] = load(s, v);
  for (i64 t = 1; t < win.ntaps; ++t) {
    s = win.tap(t) + c0;
    for (int v = 0; v < NV; ++v) a[v] = zi_max<T>(a[v], load(s, v));
  }
  for (int v = 0; v < NV; ++v) {
    T* p = dst + L * v;
    if (Tail && v == NV - 1) {
      zi_store(p, tail, a[v]);
    } else if (Stream) {
      _mm512_stream_si512(reinterpret_cast<__m512i*>(p), a[v]);
    } else {
      _mm512_storeu_si512(p, a[v]);
    }
  }
}

// Max over a block in the AVX-512 build: integers, float16 on the bits first, else max_vec.
template <class T, bool Stream>
NHWCPOOL_ALWAYS_INLINE inline void max_block_zmm(const Window<T>& win, i64 c0, i64 cb, T* dst) {
  if constexpr (std::is_integral<T>::value) NHWCPOOL_TRACE(max_int_zmm);
  if constexpr (std::is_integral<T>::value) {
    z_dispatch<T>(cb, [&](auto nv, auto tail_flag, typename ZMask<T>::type tail) NHWCPOOL_ALWAYS_INLINE {
      constexpr bool kTail = decltype(tail_flag)::value;
      max_int_zmm<T, decltype(nv)::value, kTail, Stream && !kTail>(win, c0, tail, dst);
    });
    return;
  }
  if constexpr (std::is_same<T, half_t>::value) {
    bool done = false;
    z_dispatch<half_t>(cb, [&](auto nv, auto tail_flag, __mmask32 tail) NHWCPOOL_ALWAYS_INLINE {
      constexpr bool kTail = decltype(tail_flag)::value;
      done = max_h16_bits_zmm<decltype(nv)::value, kTail, Stream && !kTail>(win, c0, tail, dst);
    });
    if (done) NHWCPOOL_TRACE(max_h16_bits);
    if (done) return;
  }
  max_block_vec<T, Stream>(win, c0, cb, dst);
}

// A row's full windows as one run (see max_run_vec), for integers.
template <class T, bool Stream>
NHWCPOOL_NOINLINE void max_run_zmm(const TapList<T>& tl, Window<T> win, i64 step, i64 npx, i64 C, T* dst) {
  NHWCPOOL_TRACE(pixel_runs);
  static_assert(std::is_integral<T>::value, "float32: max_run_vec");
  z_dispatch<T>(C, [&](auto nv, auto tail_flag, typename ZMask<T>::type tail) NHWCPOOL_ALWAYS_INLINE {
    constexpr int kNV = decltype(nv)::value;
    constexpr bool kTail = decltype(tail_flag)::value;
    for (i64 i = 0; i < npx; ++i, win.shift += step, dst += C) {
      tl.prefetch(win.shift);
      max_int_zmm<T, kNV, kTail, Stream && !kTail>(win, 0, tail, dst);
    }
  });
}
#endif
