// float16 <-> float32: exact scalar conversions, and row conversions (F16C where the TU
// is compiled for it).
//
// Part of the per-ISA kernel source: included only by kernels/all.hpp, inside namespace
// nhwcpool::NHWCPOOL_ISA and its anonymous namespace, after the files listed before it there.

// ---------------------------------------------------------------------------------------------
// float16 <-> float32. Hardware F16C where the TU is compiled for it, exact software otherwise.

inline float bits_to_float(std::uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline std::uint32_t float_to_bits(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

inline float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exp = (h >> 10) & 0x1fu;
  const std::uint32_t mant = h & 0x3ffu;
  if (exp == 0) {  // zero or subnormal: mant * 2^-24, exact in float
    const float v = static_cast<float>(mant) * (1.0f / 16777216.0f);
    return bits_to_float(float_to_bits(v) | sign);
  }
  if (exp == 31) {  // inf / NaN (NaN made quiet, payload kept)
    return bits_to_float(sign | 0x7f800000u | (mant << 13) | (mant ? 0x400000u : 0u));
  }
  return bits_to_float(sign | ((exp + 112u) << 23) | (mant << 13));
}

// Round to nearest even; the classic bit-level method (F. Giesen's float_to_half_rtne).
inline std::uint16_t float_to_half(float f) {
  std::uint32_t x = float_to_bits(f);
  const std::uint32_t sign = (x >> 16) & 0x8000u;
  x &= 0x7fffffffu;
  std::uint32_t o;
  if (x >= 0x7f800000u) {
    // inf, or NaN made quiet with the top of its payload kept (as vcvtps2ph does)
    o = 0x7c00u | (x > 0x7f800000u ? 0x200u | ((x >> 13) & 0x3ffu) : 0u);
  } else if (x >= 0x477ff000u) {  // rounds to infinity
    o = 0x7c00u;
  } else if (x < 0x38800000u) {  // result is subnormal or zero
    const float v = bits_to_float(x) + 0.5f;
    o = float_to_bits(v) - 0x3f000000u;
  } else {
    const std::uint32_t odd = (x >> 13) & 1u;
    x += 0xc8000fffu;
    x += odd;
    o = x >> 13;
  }
  return static_cast<std::uint16_t>(o | sign);
}

[[maybe_unused]] void half_to_float_row(const half_t* NHWCPOOL_RESTRICT src, float* NHWCPOOL_RESTRICT dst, i64 n) {
  i64 i = 0;
#ifdef NHWCPOOL_F16C
  for (const i64 n8 = n - n % 8; i < n8; i += 8) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
  }
#endif
  for (; i < n; ++i) dst[i] = half_to_float(src[i].bits);
}

[[maybe_unused]] void float_to_half_row(const float* NHWCPOOL_RESTRICT src, half_t* NHWCPOOL_RESTRICT dst, i64 n) {
  i64 i = 0;
#ifdef NHWCPOOL_F16C
  for (const i64 n8 = n - n % 8; i < n8; i += 8) {
    const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), h);
  }
#endif
  for (; i < n; ++i) dst[i].bits = float_to_half(src[i]);
}
