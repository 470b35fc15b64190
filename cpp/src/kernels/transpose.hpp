// Planar (N, C, H, W) -> NHWC transpose: scalar and AVX-512 tiles, transpose_tasks.
//
// Part of the per-ISA kernel source: included only by kernels/all.hpp, inside namespace
// nhwcpool::NHWCPOOL_ISA and its anonymous namespace, after the files listed before it there.

// ---------------------------------------------------------------------------------------------
// Planar (N, C, H, W) -> NHWC transpose (to_channels_last in kernels.hpp).
//
// One task = a tile column: tr_channels(size) channels of one row segment of up to kTrSeg pixels, walked in
// tiles of those channels x (one vector of) pixels, transposed in registers. A thread's tasks
// run channel tile by channel tile, so it reads one input stream (one per channel plane),
// each prefetched kTrAhead bytes ahead in software, and writes whole 64-byte lines of the
// output, streamed when large. (The usual in-register transposes, as in XNNPACK's transpose
// microkernels: unpack pairs, then 128-bit lane shuffles.) On Zen 4, (8,64,112,112) float32
// measured 6.9 ms for NumPy's copy, 5.5 ms for the tiles with ordinary stores, 3.7 ms
// streamed and 1.7 ms streamed with the prefetch, at one thread.
constexpr i64 kTrSeg = 1024;

// Channels per tile: at least 16, and a whole 64-byte line of each output pixel, so streamed
// lines are always complete.
constexpr i64 tr_channels(int size) { return size >= 4 ? 16 : 64 / size; }
constexpr i64 kTrAhead = 1024;

struct TrJob {
  const TransposeArgs* a;
  i64 tc;  // channels per tile
  i64 H, W, stride_h;  // rows of the planes (one row of H*W pixels when they are contiguous)
  i64 ctiles, segs;
};

// Scalar tile: cn channels x pn pixels from s (channel stride sc bytes) to d (pixel stride C).
template <class E>
inline void tr_tile_scalar(const char* s, i64 sc, E* d, i64 C, i64 cn, i64 pn) {
  for (i64 p = 0; p < pn; ++p) {
    for (i64 c = 0; c < cn; ++c) d[p * C + c] = reinterpret_cast<const E*>(s + c * sc)[p];
  }
}

#ifdef NHWCPOOL_ZMM_BLOCKS
// 16 rows of 16 floats -> 16 columns (r[j] = element j of every row). (All-ones maskz forms:
// the unmasked intrinsics trip GCC 12's -Wmaybe-uninitialized; they compile to the same code.)
inline void tr16x16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_maskz_unpacklo_ps(0xFFFF, r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_maskz_unpackhi_ps(0xFFFF, r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; ++i) {
    for (int j = 0; j < 2; ++j) {
      const __m512d a = _mm512_castps_pd(t[4 * i + j]), b = _mm512_castps_pd(t[4 * i + 2 + j]);
      r[4 * i + 2 * j] = _mm512_castpd_ps(_mm512_maskz_unpacklo_pd(0xFF, a, b));
      r[4 * i + 2 * j + 1] = _mm512_castpd_ps(_mm512_maskz_unpackhi_pd(0xFF, a, b));
    }
  }
  for (int i = 0; i < 2; ++i) {
    for (int j = 0; j < 4; ++j) {
      t[8 * i + j] = _mm512_maskz_shuffle_f32x4(0xFFFF, r[8 * i + j], r[8 * i + 4 + j], 0x88);
      t[8 * i + 4 + j] = _mm512_maskz_shuffle_f32x4(0xFFFF, r[8 * i + j], r[8 * i + 4 + j], 0xDD);
    }
  }
  for (int j = 0; j < 8; ++j) {
    r[j] = _mm512_maskz_shuffle_f32x4(0xFFFF, t[j], t[8 + j], 0x88);
    r[8 + j] = _mm512_maskz_shuffle_f32x4(0xFFFF, t[j], t[8 + j], 0xDD);
  }
}

// 8 rows of 8 doubles -> 8 columns.
inline void tr8x8(__m512d r[8]) {
  // Pairs: columns 0, 2, 4, 6 (lo) and 1, 3, 5, 7 (hi) of rows (0,1), (2,3), (4,5), (6,7).
  const __m512d l0 = _mm512_maskz_unpacklo_pd(0xFF, r[0], r[1]), h0 = _mm512_maskz_unpackhi_pd(0xFF, r[0], r[1]);
  const __m512d l1 = _mm512_maskz_unpacklo_pd(0xFF, r[2], r[3]), h1 = _mm512_maskz_unpackhi_pd(0xFF, r[2], r[3]);
  const __m512d l2 = _mm512_maskz_unpacklo_pd(0xFF, r[4], r[5]), h2 = _mm512_maskz_unpackhi_pd(0xFF, r[4], r[5]);
  const __m512d l3 = _mm512_maskz_unpacklo_pd(0xFF, r[6], r[7]), h3 = _mm512_maskz_unpackhi_pd(0xFF, r[6], r[7]);
  // 128-bit lanes: 0x88 takes lanes (0, 2) of each source, 0xDD lanes (1, 3).
  const __m512d pl = _mm512_maskz_shuffle_f64x2(0xFF, l0, l1, 0x88), ql = _mm512_maskz_shuffle_f64x2(0xFF, l0, l1, 0xDD);
  const __m512d pl2 = _mm512_maskz_shuffle_f64x2(0xFF, l2, l3, 0x88), ql2 = _mm512_maskz_shuffle_f64x2(0xFF, l2, l3, 0xDD);
  const __m512d ph = _mm512_maskz_shuffle_f64x2(0xFF, h0, h1, 0x88), qh = _mm512_maskz_shuffle_f64x2(0xFF, h0, h1, 0xDD);
  const __m512d ph2 = _mm512_maskz_shuffle_f64x2(0xFF, h2, h3, 0x88), qh2 = _mm512_maskz_shuffle_f64x2(0xFF, h2, h3, 0xDD);
  r[0] = _mm512_maskz_shuffle_f64x2(0xFF, pl, pl2, 0x88);
  r[4] = _mm512_maskz_shuffle_f64x2(0xFF, pl, pl2, 0xDD);
  r[2] = _mm512_maskz_shuffle_f64x2(0xFF, ql, ql2, 0x88);
  r[6] = _mm512_maskz_shuffle_f64x2(0xFF, ql, ql2, 0xDD);
  r[1] = _mm512_maskz_shuffle_f64x2(0xFF, ph, ph2, 0x88);
  r[5] = _mm512_maskz_shuffle_f64x2(0xFF, ph, ph2, 0xDD);
  r[3] = _mm512_maskz_shuffle_f64x2(0xFF, qh, qh2, 0x88);
  r[7] = _mm512_maskz_shuffle_f64x2(0xFF, qh, qh2, 0xDD);
}

// Vectors of 32- and 64-bit elements for the tiles below: L lanes, an L x L transpose.
template <class E>
struct TrZmm;
template <>
struct TrZmm<std::uint32_t> {
  using V = __m512;
  using M = __mmask16;
  static constexpr int L = 16;
  static V load(const char* p) { return _mm512_loadu_ps(p); }
  static V load(M m, const char* p) { return _mm512_maskz_loadu_ps(m, p); }
  static V zero() { return _mm512_setzero_ps(); }
  static void transpose(V* r) { tr16x16(r); }
  static void store(std::uint32_t* p, V v, bool stream) {
    if (stream) {
      _mm512_stream_ps(reinterpret_cast<float*>(p), v);
    } else {
      _mm512_storeu_ps(p, v);
    }
  }
  static void store(std::uint32_t* p, M m, V v) { _mm512_mask_storeu_ps(p, m, v); }
};
template <>
struct TrZmm<std::uint64_t> {
  using V = __m512d;
  using M = __mmask8;
  static constexpr int L = 8;
  static V load(const char* p) { return _mm512_loadu_pd(p); }
  static V load(M m, const char* p) { return _mm512_maskz_loadu_pd(m, p); }
  static V zero() { return _mm512_setzero_pd(); }
  static void transpose(V* r) { tr8x8(r); }
  static void store(std::uint64_t* p, V v, bool stream) {
    if (stream) {
      _mm512_stream_pd(reinterpret_cast<double*>(p), v);
    } else {
      _mm512_storeu_pd(p, v);
    }
  }
  static void store(std::uint64_t* p, M m, V v) { _mm512_mask_storeu_pd(p, m, v); }
};

// 32- and 64-bit elements: tiles of L channels x L pixels (two channel halves of float64's
// 16), masked at the edges; whole tiles of an aligned output are streamed when asked.
template <class E>
inline void tr_segment_zmm(const char* s, i64 sc, E* d, i64 C, i64 cn, i64 pn, bool stream) {
  using Z = TrZmm<E>;
  constexpr i64 L = Z::L;
  constexpr i64 size = static_cast<i64>(sizeof(E));
  for (i64 h0 = 0; h0 < cn; h0 += L) {
    const i64 hn = cn - h0 < L ? cn - h0 : L;
    const auto cmask = static_cast<typename Z::M>((1u << hn) - 1u);
    const char* sh = s + h0 * sc;
    for (i64 p = 0; p < pn; p += L) {
      const i64 np = pn - p < L ? pn - p : L;
      const auto pmask = static_cast<typename Z::M>((1u << np) - 1u);
      typename Z::V r[L];
      for (int i = 0; i < L; ++i) {
        if (i < hn) {
          const char* row = sh + i * sc + p * size;
          prefetch_line(row + kTrAhead);
          r[i] = np == L ? Z::load(row) : Z::load(pmask, row);
        } else {
          r[i] = Z::zero();
        }
      }
      Z::transpose(r);
      E* o = d + p * C + h0;
      if (np == L && hn == L) {
        for (int j = 0; j < L; ++j) Z::store(o + j * C, r[j], stream);
      } else {
        for (int j = 0; j < np; ++j) Z::store(o + j * C, cmask, r[j]);
      }
    }
  }
}

// float16-sized elements: tiles of cn (1..32) channels x 16 pixels, as two 16 x 16 transposes
// of zero-extended 32-bit lanes narrowed back (vpmovdw), so each pixel gets one 64-byte store.
inline void tr_segment_zmm2(const char* s, i64 sc, std::uint16_t* d, i64 C, i64 cn, i64 pn, bool stream) {
  const __mmask32 cmask = static_cast<__mmask32>(cn >= 32 ? 0xFFFFFFFFu : (1u << cn) - 1u);
  for (i64 p = 0; p < pn; p += 16) {
    const i64 np = pn - p < 16 ? pn - p : 16;
    const __mmask16 pmask = static_cast<__mmask16>((1u << np) - 1u);
    __m512 lo[16], hi[16];
    for (int i = 0; i < 32; ++i) {
      __m512i v = _mm512_setzero_si512();
      if (i < cn) {
        const char* row = s + i * sc + p * 2;
        if ((p & 31) == 0) prefetch_line(row + kTrAhead);
        const __m256i h = np == 16 ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row))
                                   : _mm256_maskz_loadu_epi16(pmask, row);
        v = _mm512_maskz_cvtepu16_epi32(0xFFFF, h);
      }
      (i < 16 ? lo[i] : hi[i - 16]) = _mm512_castsi512_ps(v);
    }
    tr16x16(lo);
    if (cn > 16) tr16x16(hi);
    std::uint16_t* o = d + p * C;
    for (int j = 0; j < np; ++j) {
      const __m256i a = _mm512_maskz_cvtepi32_epi16(0xFFFF, _mm512_castps_si512(lo[j]));
      const __m256i b = cn > 16 ? _mm512_maskz_cvtepi32_epi16(0xFFFF, _mm512_castps_si512(hi[j])) : _mm256_setzero_si256();
      const __m512i line = _mm512_maskz_inserti64x4(0xFF, _mm512_maskz_inserti64x4(0xFF, _mm512_setzero_si512(), a, 0), b, 1);
      if (np == 16 && cn == 32 && stream) {
        _mm512_stream_si512(reinterpret_cast<__m512i*>(o + j * C), line);
      } else {
        _mm512_mask_storeu_epi16(o + j * C, cmask, line);
      }
    }
  }
}

#endif

// One tile column of a segment: cn channels x pn pixels.
template <class E>
inline void tr_segment(const char* s, i64 sc, E* d, i64 C, i64 cn, i64 pn, bool stream) {
#ifdef NHWCPOOL_ZMM_BLOCKS
  if constexpr (sizeof(E) == 2) {
    tr_segment_zmm2(s, sc, d, C, cn, pn, stream);
    return;
  } else if constexpr (sizeof(E) == 4 || sizeof(E) == 8) {
    tr_segment_zmm<E>(s, sc, d, C, cn, pn, stream);
    return;
  }
#endif
  (void)stream;
  // Pixels in steps of one cache line of each channel row, the rows prefetched ahead.
  constexpr i64 kStep = 64 / static_cast<i64>(sizeof(E));
  for (i64 p = 0; p < pn; p += kStep) {
    for (i64 c = 0; c < cn; ++c) prefetch_line(s + c * sc + p * static_cast<i64>(sizeof(E)) + kTrAhead);
    const i64 np = pn - p < kStep ? pn - p : kStep;
    tr_tile_scalar<E>(s + p * static_cast<i64>(sizeof(E)), sc, d + p * C, C, cn, np);
  }
}

template <class E>
void transpose_tasks(const void* ctx, i64 begin, i64 end) {
  const TrJob& j = *static_cast<const TrJob*>(ctx);
  const TransposeArgs& a = *j.a;
  const char* src = static_cast<const char*>(a.src);
  E* dst = static_cast<E*>(a.dst);
  for (i64 t = begin; t < end; ++t) {
    i64 q = t;
    const i64 seg = q % j.segs;
    q /= j.segs;
    const i64 h = q % j.H;
    q /= j.H;
    const i64 ct = q % j.ctiles;
    const i64 n = q / j.ctiles;
    const i64 c0 = ct * j.tc, p0 = seg * kTrSeg;
    const i64 cn = a.C - c0 < j.tc ? a.C - c0 : j.tc;
    const i64 pn = j.W - p0 < kTrSeg ? j.W - p0 : kTrSeg;
    const char* s = src + n * a.stride_n + c0 * a.stride_c + h * j.stride_h + p0 * static_cast<i64>(sizeof(E));
    E* d = dst + ((n * j.H + h) * j.W + p0) * a.C + c0;
    tr_segment<E>(s, a.stride_c, d, a.C, cn, pn, a.stream);
  }
  if (a.stream) stream_fence();
}
