// 2x2/s2 max and average pooling of uint8/uint16 images with C = 1..4 interleaved channels
// (the image cases), on whole vectors of pixels by img_pair_rows (image_pairs.hpp) instead of
// the per-pixel window loops: (16,224,224,3) uint8 2x2/s2 max was 5.3x the time of a copy.
//
// A fragment of the per-ISA kernel source (kernels/all.hpp), after image_pairs.hpp. Taken by
// max_pool/avg_pool (entry.hpp) when it applies: no padding, no dilation, whole windows only
// (ceil_mode's cut windows go to the general kernels), no indices, NHWC rows; averages without
// divisor_override into the input dtype (rounded half to even, as every integer output),
// float32 or float64.

template <class T>
void img_max_rows(const void* ctx, i64 b, i64 e) {
  const MaxPoolArgs& a = *static_cast<const MaxPoolArgs*>(ctx);
  const Geometry& g = a.geo;
  for (i64 t = b; t < e; ++t) {
    const i64 n = t / g.OH, oy = t % g.OH;
    const char* base = static_cast<const char*>(a.in.data) + n * a.in.stride_n + 2 * oy * a.in.stride_h;
    T* out = static_cast<T*>(a.out) + (n * g.OH + oy) * g.OW * g.C;
    img_pair_rows<1>(reinterpret_cast<const T*>(base), reinterpret_cast<const T*>(base + a.in.stride_h), out, g.W,
                     g.OW, g.C);
  }
}

template <class T, class S, class O>
void img_avg_rows(const void* ctx, i64 b, i64 e) {
  const AvgPoolArgs& a = *static_cast<const AvgPoolArgs*>(ctx);
  const Geometry& g = a.geo;
  const i64 n_out = g.OW * g.C;
  std::unique_ptr<S[]> sums(new S[static_cast<std::size_t>(n_out)]);
  for (i64 t = b; t < e; ++t) {
    const i64 n = t / g.OH, oy = t % g.OH;
    const char* base = static_cast<const char*>(a.in.data) + n * a.in.stride_n + 2 * oy * a.in.stride_h;
    O* out = static_cast<O*>(a.out) + (n * g.OH + oy) * n_out;
    S* s = sums.get();
    img_pair_rows<0>(reinterpret_cast<const T*>(base), reinterpret_cast<const T*>(base + a.in.stride_h), s, g.W,
                     g.OW, g.C);
    if constexpr (std::is_floating_point<O>::value) {
      for (i64 i = 0; i < n_out; ++i) out[i] = static_cast<O>(s[i]) * O(0.25);  // exact
    } else {
      for (i64 i = 0; i < n_out; ++i) {  // round half to even: q + 1 when r > 2, or r == 2 and q odd
        const S v = s[i];
        const S q = static_cast<S>(v >> 2), r = static_cast<S>(v & 3u);
        out[i] = static_cast<O>(q + ((r + (q & 1u)) > 2u ? 1u : 0u));
      }
    }
  }
}

inline bool img_applies(const Geometry& g, DType t, const InputView& in) {
  if (t != DType::u8 && t != DType::u16) return false;
  if (g.C < 1 || g.C > 4 || in.stride_c != 0) return false;
  if (g.h.kernel != 2 || g.w.kernel != 2 || g.h.stride != 2 || g.w.stride != 2) return false;
  if (g.h.dilation != 1 || g.w.dilation != 1) return false;
  if (g.h.pad_begin != 0 || g.h.pad_end != 0 || g.w.pad_begin != 0 || g.w.pad_end != 0) return false;
  return 2 * g.OH <= g.H && 2 * g.OW <= g.W;
}

bool image_max_pool(const MaxPoolArgs& a) {
  if (a.indices != nullptr || !img_applies(a.geo, a.dtype, a.in)) return false;
  const Geometry& g = a.geo;
  parallel_for(g.N * g.OH, g.N * g.H * g.W * g.C, a.threads,
               a.dtype == DType::u8 ? &img_max_rows<std::uint8_t> : &img_max_rows<std::uint16_t>, &a);
  return true;
}

bool image_avg_pool(const AvgPoolArgs& a) {
  if (a.divisor_override != 0 || !img_applies(a.geo, a.in_dtype, a.in)) return false;
  const bool u8 = a.in_dtype == DType::u8;
  RangeFn fn = nullptr;
  if (a.out_dtype == a.in_dtype) {
    fn = u8 ? &img_avg_rows<std::uint8_t, std::uint16_t, std::uint8_t> : &img_avg_rows<std::uint16_t, std::uint32_t, std::uint16_t>;
  } else if (a.out_dtype == DType::f32) {
    fn = u8 ? &img_avg_rows<std::uint8_t, std::uint16_t, float> : &img_avg_rows<std::uint16_t, std::uint32_t, float>;
  } else if (a.out_dtype == DType::f64) {
    fn = u8 ? &img_avg_rows<std::uint8_t, std::uint16_t, double> : &img_avg_rows<std::uint16_t, std::uint32_t, double>;
  } else {
    return false;
  }
  const Geometry& g = a.geo;
  parallel_for(g.N * g.OH, g.N * g.H * g.W * g.C, a.threads, fn, &a);
  return true;
}
