// Entry points of the backward kernels: validation, window tables, the SIMD level, threads.
#include "nhwcpool/backward.hpp"

#include <memory>
#include <stdexcept>
#include <string>

#include "nhwcpool/kernels.hpp"
#include "nhwcpool/parallel.hpp"

namespace nhwcpool {
namespace {

[[noreturn]] void fail(const std::string& msg) { throw std::invalid_argument(msg); }

bool is_float(DType t) { return t == DType::f16 || t == DType::f32 || t == DType::f64; }

void check_sizes(std::int64_t N, std::int64_t H, std::int64_t W, std::int64_t C, std::int64_t OH,
                 std::int64_t OW) {
  if (N < 0 || C < 0 || OH < 0 || OW < 0) fail("sizes must not be negative");
  if (H < 1 || W < 1) {
    fail("input_shape must have non-empty spatial axes (H and W >= 1), got H=" + std::to_string(H) +
         ", W=" + std::to_string(W));
  }
  // Every element and byte count the kernels form must fit in int64.
  checked_mul(checked_mul(checked_mul(checked_mul(H, W, "H*W"), C, "H*W*C"), N, "N*H*W*C"), 8, "input size in bytes");
  checked_mul(checked_mul(checked_mul(checked_mul(OH, OW, "OH*OW"), C, "OH*OW*C"), N, "N*OH*OW*C"), 8,
              "output size in bytes");
}

// Channels per work item: whole images when there are enough of them for the threads (each
// image is then swept once, in order); otherwise channel ranges of whole 64-byte lines.
std::int64_t scatter_chunk(std::int64_t N, std::int64_t C, int itemsize, int threads) {
  if (C <= 0) return 1;
  if (threads <= 1) return C;
  const std::int64_t want = 2 * static_cast<std::int64_t>(threads);
  if (N >= want) return C;
  const std::int64_t line = 64 / itemsize;
  const std::int64_t pieces = (want + (N > 0 ? N : 1) - 1) / (N > 0 ? N : 1);
  std::int64_t chunk = (C + pieces - 1) / pieces;
  chunk = (chunk + line - 1) / line * line;
  return chunk < C ? chunk : C;
}

// The first index outside [0, Q), in row-major order, as an error message.
[[noreturn]] void bad_index(const std::int64_t* indices, std::int64_t count, std::int64_t H, std::int64_t W,
                            std::int64_t OH, std::int64_t OW, std::int64_t C) {
  const std::int64_t Q = H * W;
  for (std::int64_t e = 0; e < count; ++e) {
    const std::int64_t i = indices[e];
    if (i < 0 || i >= Q) {
      const std::int64_t c = e % C, ow = (e / C) % OW, oh = (e / C / OW) % OH, n = e / C / OW / OH;
      fail("indices must lie in [0, H*W) = [0, " + std::to_string(Q) + ") of their (n, c) plane (H=" +
           std::to_string(H) + ", W=" + std::to_string(W) + "), got " + std::to_string(i) +
           " at (n, oh, ow, c) = (" + std::to_string(n) + ", " + std::to_string(oh) + ", " + std::to_string(ow) +
           ", " + std::to_string(c) + ")");
    }
  }
  fail("indices must lie in [0, H*W) of their (n, c) plane");  // (not reached: a kernel found one)
}

void run_scatter(ScatterArgs& a, std::int64_t OH, std::int64_t OW) {
  if (a.N == 0 || a.C == 0) return;
  a.threads = get_num_threads();
  a.chunk = scatter_chunk(a.N, a.C, itemsize(a.dtype), a.threads);
  const std::int64_t items = a.N * ((a.C + a.chunk - 1) / a.chunk);
  std::unique_ptr<unsigned char[]> bad(new unsigned char[static_cast<std::size_t>(items)]());
  a.bad = bad.get();
  switch (simd_level()) {
#ifdef NHWCPOOL_HAVE_AVX512
    case SimdLevel::avx512: avx512::scatter(a); break;
#endif
#ifdef NHWCPOOL_HAVE_AVX2
    case SimdLevel::avx2: avx2::scatter(a); break;
#endif
    default: baseline::scatter(a); break;
  }
  for (std::int64_t t = 0; t < items; ++t) {
    if (bad[static_cast<std::size_t>(t)] != 0) bad_index(a.indices, a.N * a.P * a.C, a.H, a.W, OH, OW, a.C);
  }
}

}  // namespace

void max_pool2d_backward(DType dtype, std::int64_t N, std::int64_t H, std::int64_t W, std::int64_t C,
                         std::int64_t OH, std::int64_t OW, const void* grad_output, const std::int64_t* indices,
                         void* grad_input, bool ignore_outside) {
  if (!is_float(dtype)) {
    fail(std::string("max_pool2d_backward: grad_output must be float16, float32 or float64, got ") + dtype_name(dtype));
  }
  check_sizes(N, H, W, C, OH, OW);
  ScatterArgs a;
  a.dtype = dtype; a.accumulate = true; a.ignore_outside = ignore_outside; a.N = N; a.C = C; a.P = OH * OW; a.H = H; a.W = W;
  a.src = grad_output; a.indices = indices; a.dst = grad_input;
  run_scatter(a, OH, OW);
}

void max_unpool2d(DType dtype, std::int64_t N, std::int64_t H, std::int64_t W, std::int64_t C, std::int64_t OH,
                  std::int64_t OW, const void* x, const std::int64_t* indices, void* out) {
  check_sizes(N, H, W, C, OH, OW);
  ScatterArgs a;
  a.dtype = dtype; a.accumulate = false; a.N = N; a.C = C; a.P = OH * OW; a.H = H; a.W = W;
  a.src = x; a.indices = indices; a.dst = out;
  run_scatter(a, OH, OW);
}

void avg_pool2d_backward(DType dtype, const Geometry& geo, const void* grad_output, void* grad_input,
                         bool count_include_pad, std::int64_t divisor_override) {
  if (!is_float(dtype)) {
    fail(std::string("avg_pool2d_backward: grad_output must be float16, float32 or float64, got ") + dtype_name(dtype));
  }
  if (geo.h.dilation != 1 || geo.w.dilation != 1) fail("avg_pool2d_backward: dilation must be 1");
  if (geo.N == 0 || geo.C == 0) return;
  const AxisTable ht = make_axis_table(geo.H, geo.OH, geo.h);
  const AxisTable wt = make_axis_table(geo.W, geo.OW, geo.w);
  const CoverTable hc = make_cover_table(geo.H, ht, geo.h.dilation);
  const CoverTable wc = make_cover_table(geo.W, wt, geo.w.dilation);
  AvgBackwardArgs a;
  a.dtype = dtype; a.geo = geo; a.grad_out = grad_output; a.grad_in = grad_input;
  a.count_include_pad = count_include_pad; a.divisor_override = divisor_override;
  a.htab = &ht; a.wtab = &wt; a.hcover = &hc; a.wcover = &wc;
  a.threads = get_num_threads();
  switch (simd_level()) {
#ifdef NHWCPOOL_HAVE_AVX512
    case SimdLevel::avx512: avx512::avg_backward(a); return;
#endif
#ifdef NHWCPOOL_HAVE_AVX2
    case SimdLevel::avx2: avx2::avg_backward(a); return;
#endif
    default: baseline::avg_backward(a); return;
  }
}

}  // namespace nhwcpool
