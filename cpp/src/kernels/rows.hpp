// Row primitives: copy_from, combine, combine_from, fill, store_convert (round_clamp: rounding.hpp).
//
// Part of the per-ISA kernel source: included only by kernels/all.hpp, inside namespace
// nhwcpool::NHWCPOOL_ISA and its anonymous namespace, after the files listed before it there.

// ---------------------------------------------------------------------------------------------
// Row primitives (contiguous, vectorizable).

template <class A, class Tin>
inline void copy_from(A* NHWCPOOL_RESTRICT dst, const Tin* NHWCPOOL_RESTRICT src, i64 n) {
  if constexpr (std::is_same<Tin, half_t>::value && std::is_same<A, float>::value) {
    half_to_float_row(src, dst, n);
  } else if constexpr (std::is_same<Tin, half_t>::value) {
    constexpr i64 kChunk = 256;
    alignas(64) float tmp[kChunk];
    for (i64 i = 0; i < n; i += kChunk) {
      const i64 m = n - i < kChunk ? n - i : kChunk;
      half_to_float_row(src + i, tmp, m);
      for (i64 j = 0; j < m; ++j) dst[i + j] = static_cast<A>(tmp[j]);
    }
  } else if constexpr (std::is_same<Tin, A>::value) {
    std::memcpy(dst, src, static_cast<std::size_t>(n) * sizeof(A));
  } else {
    for (i64 i = 0; i < n; ++i) dst[i] = static_cast<A>(src[i]);
  }
}

template <class Op, class A>
inline void combine(A* NHWCPOOL_RESTRICT dst, const A* NHWCPOOL_RESTRICT src, i64 n) {
  for (i64 i = 0; i < n; ++i) dst[i] = Op::f(dst[i], src[i]);
}

template <class Op, class A, class Tin>
inline void combine_from(A* NHWCPOOL_RESTRICT dst, const Tin* NHWCPOOL_RESTRICT src, i64 n) {
#ifdef NHWCPOOL_F16C
  if constexpr (std::is_same<Tin, half_t>::value && std::is_same<A, float>::value) {
    i64 i = 0;  // convert and combine in registers (no temporary buffer)
    for (const i64 n8 = n - n % 8; i < n8; i += 8) {
      _mm256_storeu_ps(dst + i, op8(Op{}, _mm256_loadu_ps(dst + i), load_half8(src + i)));
    }
    for (; i < n; ++i) dst[i] = Op::f(dst[i], half_to_float(src[i].bits));
    return;
  }
#endif
  if constexpr (std::is_same<Tin, half_t>::value) {
    constexpr i64 kChunk = 256;
    alignas(64) float tmp[kChunk];
    for (i64 i = 0; i < n; i += kChunk) {
      const i64 m = n - i < kChunk ? n - i : kChunk;
      half_to_float_row(src + i, tmp, m);
      for (i64 j = 0; j < m; ++j) dst[i + j] = Op::f(dst[i + j], static_cast<A>(tmp[j]));
    }
  } else {
    for (i64 i = 0; i < n; ++i) dst[i] = Op::f(dst[i], static_cast<A>(src[i]));
  }
}

template <class A>
inline void fill(A* dst, A v, i64 n) {
  for (i64 i = 0; i < n; ++i) dst[i] = v;
}

// Final conversion of a row of means (float or double) to the requested output dtype.
template <class M>
void store_convert(const M* NHWCPOOL_RESTRICT src, void* dst, DType t, i64 n) {
  switch (t) {
    case DType::f16: {
      half_t* d = static_cast<half_t*>(dst);
      if constexpr (std::is_same<M, float>::value) {
        float_to_half_row(src, d, n);
      } else {
        constexpr i64 kChunk = 256;
        alignas(64) float tmp[kChunk];
        for (i64 i = 0; i < n; i += kChunk) {
          const i64 m = n - i < kChunk ? n - i : kChunk;
          for (i64 j = 0; j < m; ++j) tmp[j] = static_cast<float>(src[i + j]);
          float_to_half_row(tmp, d + i, m);
        }
      }
      return;
    }
    case DType::f32: {
      float* d = static_cast<float*>(dst);
      for (i64 i = 0; i < n; ++i) d[i] = static_cast<float>(src[i]);
      return;
    }
    case DType::f64: {
      double* d = static_cast<double*>(dst);
      for (i64 i = 0; i < n; ++i) d[i] = static_cast<double>(src[i]);
      return;
    }
#define NHWCPOOL_INT_CASE(tag, I)                                                   \
  case DType::tag: {                                                                \
    I* d = static_cast<I*>(dst);                                                    \
    for (i64 i = 0; i < n; ++i) d[i] = round_clamp<I>(static_cast<double>(src[i])); \
    return;                                                                         \
  }
    NHWCPOOL_INT_CASE(i8, std::int8_t)
    NHWCPOOL_INT_CASE(u8, std::uint8_t)
    NHWCPOOL_INT_CASE(i16, std::int16_t)
    NHWCPOOL_INT_CASE(u16, std::uint16_t)
    NHWCPOOL_INT_CASE(i32, std::int32_t)
    NHWCPOOL_INT_CASE(i64, std::int64_t)
    NHWCPOOL_INT_CASE(u32, std::uint32_t)
    NHWCPOOL_INT_CASE(u64, std::uint64_t)
#undef NHWCPOOL_INT_CASE
  }
}
