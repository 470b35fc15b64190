// Pyramid geometry (checked with shape.cpp's arithmetic) and the run-time choice of kernel set.
#include "nhwcpool/pyramid.hpp"

#include <stdexcept>
#include <string>

#include "nhwcpool/kernels.hpp"
#include "nhwcpool/parallel.hpp"
#include "nhwcpool/shape.hpp"

namespace nhwcpool {

namespace {
[[noreturn]] void fail(const std::string& msg) { throw std::invalid_argument(msg); }
}  // namespace

std::int64_t PyramidGeometry::rows_of(int level, std::int64_t j) const {
  const std::int64_t b = block[static_cast<std::size_t>(level)];
  const std::int64_t start = j * b;  // j < OH[level], so j * b < H + b: no overflow (b <= H + 1)
  return (H - start < b) ? H - start : b;
}

std::int64_t PyramidGeometry::cols_of(int level, std::int64_t j) const {
  const std::int64_t b = block[static_cast<std::size_t>(level)];
  const std::int64_t start = j * b;
  return (W - start < b) ? W - start : b;
}

PyramidGeometry make_pyramid_geometry(std::int64_t N, std::int64_t H, std::int64_t W, std::int64_t C,
                                      std::int64_t factor, std::int64_t levels, PyramidEdge edge) {
  if (factor < 2) fail("factor must be an integer >= 2, got " + std::to_string(factor));
  if (levels < 0) fail("levels must be an integer >= 0, got " + std::to_string(levels));
  if (levels > (1 << 20)) fail("levels must be at most 1048576, got " + std::to_string(levels));
  if (edge != PyramidEdge::partial && edge != PyramidEdge::trim) fail("edge must be 'partial' or 'trim'");
  if (N < 0 || C < 0) fail("x must not have negative sizes");
  if (H < 1 || W < 1) {
    fail("x must have non-empty spatial axes (H and W >= 1), got H=" + std::to_string(H) + ", W=" + std::to_string(W));
  }
  const std::int64_t plane = checked_mul(H, W, "input size H*W");
  checked_mul(checked_mul(checked_mul(plane, C, "input size H*W*C"), N, "input size N*H*W*C"), 16,
              "input size in bytes");
  checked_mul(checked_mul(W, C, "row size W*C"), 16, "row scratch size");
  PyramidGeometry g;
  g.N = N; g.H = H; g.W = W; g.C = C; g.factor = factor; g.levels = static_cast<int>(levels);
  g.edge = edge;
  const std::int64_t big = (H > W ? H : W) + 1;  // block sizes saturate here
  g.OH.push_back(H);
  g.OW.push_back(W);
  g.block.push_back(1);
  for (std::int64_t i = 1; i <= levels; ++i) {
    const std::int64_t prev = g.block.back();
    const std::int64_t b = prev >= big / factor + 1 ? big : (prev * factor > big ? big : prev * factor);
    g.block.push_back(b);
    std::int64_t oh, ow;
    if (edge == PyramidEdge::partial) {
      oh = (H + b - 1) / b;  // H + b <= 2 * (max(H, W) + 1): no overflow
      ow = (W + b - 1) / b;
    } else {
      oh = H / b;
      ow = W / b;
      if (oh < 1 || ow < 1) {
        fail("edge='trim' leaves level " + std::to_string(i) + " without a cell: " + std::to_string(H) + " x " +
             std::to_string(W) + " // factor**" + std::to_string(i) + " = " + std::to_string(oh) + " x " +
             std::to_string(ow) + " (use fewer levels or edge='partial')");
      }
    }
    g.OH.push_back(oh);
    g.OW.push_back(ow);
  }
  return g;
}

void pyramid(PyramidOp op, DType in_dtype, DType out_dtype, const PyramidGeometry& geo, const void* data,
             std::int64_t stride_n, std::int64_t stride_h, void* const* outs) {
  if (static_cast<int>(geo.OH.size()) != geo.levels + 1) {
    throw std::logic_error("internal error: pyramid geometry does not match its level count");
  }
  if (geo.levels == 0 || geo.N == 0 || geo.C == 0) return;
  PyramidArgs a;
  a.op = op; a.in_dtype = in_dtype; a.out_dtype = out_dtype; a.geo = &geo; a.data = data;
  a.stride_n = stride_n; a.stride_h = stride_h; a.outs = outs; a.threads = get_num_threads();
  switch (simd_level()) {
#ifdef NHWCPOOL_HAVE_AVX512
    case SimdLevel::avx512: avx512::pyramid(a); return;
#endif
#ifdef NHWCPOOL_HAVE_AVX2
    case SimdLevel::avx2: avx2::pyramid(a); return;
#endif
    default: baseline::pyramid(a); return;
  }
}

}  // namespace nhwcpool
