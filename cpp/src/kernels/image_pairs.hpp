// 2x2 blocks of interleaved integer pixels (images: uint8/uint16, C = 1..4): one output row from
// the two input rows of its blocks. Shared by the pyramid (kernels/pyramid.hpp: a level's cell
// from its 2x2 children) and the forward's 2x2/s2 image kernels (kernels/image_forward.hpp).
//
// A fragment: no namespace, included inside a per-ISA anonymous namespace after <immintrin.h>
// (AVX2 builds) and <algorithm>; i64 is std::int64_t.
//
// kOp: 0 sum (into a wider type A), 1 max, 2 min. Integers only (exact in any order). Stores
// stay inside hs[0, C * cells_out): the vector loops stop before a store would pass it, so hs
// may be a caller's output row.

#if defined(__GNUC__) || defined(__clang__)
#define NHWCPOOL_IMG_RESTRICT __restrict__
#elif defined(_MSC_VER)
#define NHWCPOOL_IMG_RESTRICT __restrict
#else
#define NHWCPOOL_IMG_RESTRICT
#endif

template <int kOp, class A>
inline A img_op(A x, A y) {
  if constexpr (kOp == 0) return static_cast<A>(x + y);
  else if constexpr (kOp == 1) return x < y ? y : x;
  else return y < x ? y : x;
}

// Portable form; CC > 0: the channel count known at compile time, so the compiler turns the
// interleaved channels into vector shuffles (C = 1, 2, 4; C = 3 has the kernels below).
// b == nullptr: a block cut by the bottom edge (one row).
template <int CC, int kOp, class S, class A>
void img_pair_rows_c(const S* NHWCPOOL_IMG_RESTRICT a, const S* NHWCPOOL_IMG_RESTRICT b,
                     A* NHWCPOOL_IMG_RESTRICT hs, i64 cells_in, i64 cells_out, i64 c_run) {
  const i64 C = CC > 0 ? CC : c_run;
  const i64 full = std::min(cells_out, cells_in / 2);
  if (b != nullptr) {
    for (i64 o = 0; o < full; ++o) {
      const S* pa = a + 2 * o * C;
      const S* pb = b + 2 * o * C;
      A* h = hs + o * C;
      for (i64 c = 0; c < C; ++c) {
        if constexpr (kOp == 0) {
          h[c] = static_cast<A>(static_cast<A>(pa[c]) + static_cast<A>(pa[C + c]) + static_cast<A>(pb[c]) +
                                static_cast<A>(pb[C + c]));
        } else {
          h[c] = img_op<kOp>(img_op<kOp>(static_cast<A>(pa[c]), static_cast<A>(pa[C + c])),
                             img_op<kOp>(static_cast<A>(pb[c]), static_cast<A>(pb[C + c])));
        }
      }
    }
    if (full < cells_out) {  // the last cell holds one column
      const S* pa = a + 2 * full * C;
      const S* pb = b + 2 * full * C;
      for (i64 c = 0; c < C; ++c) hs[full * C + c] = img_op<kOp>(static_cast<A>(pa[c]), static_cast<A>(pb[c]));
    }
  } else {
    for (i64 o = 0; o < full; ++o) {
      const S* pa = a + 2 * o * C;
      A* h = hs + o * C;
      for (i64 c = 0; c < C; ++c) h[c] = img_op<kOp>(static_cast<A>(pa[c]), static_cast<A>(pa[C + c]));
    }
    if (full < cells_out) {
      for (i64 c = 0; c < C; ++c) hs[full * C + c] = static_cast<A>(a[2 * full * C + c]);
    }
  }
}

#if defined(__AVX2__)
// Three interleaved channels (RGB), by byte shuffles over whole vectors of pixels rather than a
// pixel at a time (the compiler leaves the 6-byte pixel pairs scalar). Each 128-bit lane takes
// one unaligned load of two pixel pairs (12 of its 16 bytes used); a lane's two output pixels
// are stored with overlapping stores, each overwriting the previous one's unused tail.
// Return the cells done; the portable form finishes the row.
inline __m256i img_load_lanes(const void* p0, const void* p1) {
  return _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128(static_cast<const __m128i*>(p0))),
                                 _mm_loadu_si128(static_cast<const __m128i*>(p1)), 1);
}

// uint8 sums into uint16: the two pixels' bytes of each channel side by side, then vpmaddubsw
// by 1s adds them (and the rows are added after).
inline i64 img_rgb_sum_u8(const std::uint8_t* a, const std::uint8_t* b, std::uint16_t* hs, i64 cells_in, i64 full) {
  const __m256i shuf = _mm256_setr_epi8(0, 3, 1, 4, 2, 5, 6, 9, 7, 10, 8, 11, -1, -1, -1, -1,
                                        0, 3, 1, 4, 2, 5, 6, 9, 7, 10, 8, 11, -1, -1, -1, -1);
  const __m256i ones = _mm256_set1_epi8(1);
  i64 o = 0;
  // 4 cells a step: reads bytes [6o, 6o + 28) of rows of 3 * cells_in bytes, stores
  // elements [3o, 3o + 14) of hs
  for (; o + 4 <= full && 6 * o + 28 <= 3 * cells_in && 3 * o + 14 <= 3 * full; o += 4) {
    const __m256i x = _mm256_shuffle_epi8(img_load_lanes(a + 6 * o, a + 6 * o + 12), shuf);
    const __m256i y = _mm256_shuffle_epi8(img_load_lanes(b + 6 * o, b + 6 * o + 12), shuf);
    const __m256i s = _mm256_add_epi16(_mm256_maddubs_epi16(x, ones), _mm256_maddubs_epi16(y, ones));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(hs + 3 * o), _mm256_castsi256_si128(s));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(hs + 3 * o + 6), _mm256_extracti128_si256(s, 1));
  }
  return o;
}

// uint8 max/min: the first pixel of each pair to bytes 0-5 of a lane, the second to 8-13.
template <int kOp>
inline i64 img_rgb_ext_u8(const std::uint8_t* a, const std::uint8_t* b, std::uint8_t* hs, i64 cells_in, i64 full) {
  const __m256i shuf = _mm256_setr_epi8(0, 1, 2, 6, 7, 8, -1, -1, 3, 4, 5, 9, 10, 11, -1, -1,
                                        0, 1, 2, 6, 7, 8, -1, -1, 3, 4, 5, 9, 10, 11, -1, -1);
  i64 o = 0;
  for (; o + 4 <= full && 6 * o + 28 <= 3 * cells_in && 3 * o + 14 <= 3 * full; o += 4) {
    const __m256i x = _mm256_shuffle_epi8(img_load_lanes(a + 6 * o, a + 6 * o + 12), shuf);
    const __m256i y = _mm256_shuffle_epi8(img_load_lanes(b + 6 * o, b + 6 * o + 12), shuf);
    __m256i m = kOp == 1 ? _mm256_max_epu8(x, y) : _mm256_min_epu8(x, y);
    m = kOp == 1 ? _mm256_max_epu8(m, _mm256_srli_si256(m, 8)) : _mm256_min_epu8(m, _mm256_srli_si256(m, 8));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(hs + 3 * o), _mm256_castsi256_si128(m));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(hs + 3 * o + 6), _mm256_extracti128_si256(m, 1));
  }
  return o;
}

// uint16 values (deeper pyramid levels of uint8 means, uint16 images' max/min): one pixel pair
// per lane, the rows combined, then each pixel with its neighbour 6 bytes up.
template <int kOp>
inline i64 img_rgb_u16(const std::uint16_t* a, const std::uint16_t* b, std::uint16_t* hs, i64 cells_in, i64 full) {
  i64 o = 0;
  // reads elements [6o, 6o + 14), stores [3o, 3o + 7)
  for (; o + 2 <= full && 6 * o + 14 <= 3 * cells_in && 3 * o + 7 <= 3 * full; o += 2) {
    const __m256i x = img_load_lanes(a + 6 * o, a + 6 * o + 6);
    const __m256i y = img_load_lanes(b + 6 * o, b + 6 * o + 6);
    __m256i m;
    if (kOp == 0) {
      m = _mm256_add_epi16(x, y);
      m = _mm256_add_epi16(m, _mm256_srli_si256(m, 6));
    } else if (kOp == 1) {
      m = _mm256_max_epu16(x, y);
      m = _mm256_max_epu16(m, _mm256_srli_si256(m, 6));
    } else {
      m = _mm256_min_epu16(x, y);
      m = _mm256_min_epu16(m, _mm256_srli_si256(m, 6));
    }
    _mm_storel_epi64(reinterpret_cast<__m128i*>(hs + 3 * o), _mm256_castsi256_si128(m));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(hs + 3 * o + 3), _mm256_extracti128_si256(m, 1));
  }
  return o;
}
#endif

// The vector kernels above where they apply; 0 cells otherwise.
template <int kOp, class S, class A>
i64 img_pair_rows_simd(const S* a, const S* b, A* hs, i64 cells_in, i64 full, i64 C) {
#if defined(__AVX2__)
  if (C == 3 && b != nullptr) {
    if constexpr (std::is_same<S, std::uint8_t>::value && std::is_same<A, std::uint16_t>::value && kOp == 0) {
      return img_rgb_sum_u8(a, b, hs, cells_in, full);
    } else if constexpr (std::is_same<S, std::uint8_t>::value && std::is_same<A, std::uint8_t>::value && kOp != 0) {
      return img_rgb_ext_u8<kOp>(a, b, hs, cells_in, full);
    } else if constexpr (std::is_same<S, std::uint16_t>::value && std::is_same<A, std::uint16_t>::value) {
      return img_rgb_u16<kOp>(a, b, hs, cells_in, full);
    }
  }
#endif
  (void)a; (void)b; (void)hs; (void)cells_in; (void)full; (void)C;
  return 0;
}

// One output row: hs[o*C + c] = op over the 2x2 block of cell o (cells_in input pixels per row).
template <int kOp, class S, class A>
void img_pair_rows(const S* a, const S* b, A* hs, i64 cells_in, i64 cells_out, i64 C) {
  const i64 done = img_pair_rows_simd<kOp>(a, b, hs, cells_in, std::min(cells_out, cells_in / 2), C);
  if (done > 0) {
    a += 2 * done * C;
    b += 2 * done * C;
    hs += done * C;
    cells_in -= 2 * done;
    cells_out -= done;
  }
  switch (C) {
    case 1: img_pair_rows_c<1, kOp>(a, b, hs, cells_in, cells_out, C); return;
    case 2: img_pair_rows_c<2, kOp>(a, b, hs, cells_in, cells_out, C); return;
    case 3: img_pair_rows_c<3, kOp>(a, b, hs, cells_in, cells_out, C); return;
    case 4: img_pair_rows_c<4, kOp>(a, b, hs, cells_in, cells_out, C); return;
    default: img_pair_rows_c<0, kOp>(a, b, hs, cells_in, cells_out, C); return;
  }
}
