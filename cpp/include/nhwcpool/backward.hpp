// Gradients of the pooling functions, and max unpooling: pure functions over pointers and
// shapes (no Python here). Every array is C-contiguous NHWC: (N, H, W, C) for the pooled
// input's side, (N, OH, OW, C) for the output's side.
//
// Determinism: each element of a result is written by one thread only and sums its terms in
// one fixed order, the order in which PyTorch's CPU kernels add them (output positions
// ascending, row-major), whatever the thread count or SIMD level.
#pragma once
#include <cstdint>

#include "nhwcpool/dtype.hpp"
#include "nhwcpool/shape.hpp"

namespace nhwcpool {

// grad_input (N, H, W, C) of max pooling, from grad_output and the forward's indices (both
// (N, OH, OW, C); index y*W + x inside each (n, c) plane): every output's gradient is added to
// the input cell its index names; cells no index names get 0. dtype: f16, f32 or f64 (float16
// sums in float32 and rounds once). Throws std::invalid_argument naming `indices` if any index
// lies outside [0, H*W); grad_input is then left unspecified (nothing outside it is written).
// With ignore_outside, such indices are skipped instead: max_pool2d gives them (as PyTorch does)
// to windows lying wholly in the padding, possible only with dilation, whose output is -inf
// whatever the input, so their gradient is zero.
void max_pool2d_backward(DType dtype, std::int64_t N, std::int64_t H, std::int64_t W, std::int64_t C,
                         std::int64_t OH, std::int64_t OW, const void* grad_output, const std::int64_t* indices,
                         void* grad_input, bool ignore_outside = false);

// out (N, H, W, C) = zeros, then out[n, idx / W, idx % W, c] = x[n, oh, ow, c] for every element
// of x (N, OH, OW, C), in row-major order of x (so with repeated indices the last one wins, as
// PyTorch's CPU max_unpool2d). Any dtype (the values are copied bit for bit). Bad indices as
// max_pool2d_backward.
void max_unpool2d(DType dtype, std::int64_t N, std::int64_t H, std::int64_t W, std::int64_t C, std::int64_t OH,
                  std::int64_t OW, const void* x, const std::int64_t* indices, void* out);

// grad_input (geo.N, geo.H, geo.W, geo.C) of average pooling with this geometry (dilation 1),
// from grad_output (geo.N, geo.OH, geo.OW, geo.C): each output's gradient divided by the
// forward's divisor of its window (divisor_override, else the window's cells counted as the
// forward counts them) goes to every in-range cell of the window. dtype f16 (in float32), f32,
// f64.
void avg_pool2d_backward(DType dtype, const Geometry& geo, const void* grad_output, void* grad_input,
                         bool count_include_pad, std::int64_t divisor_override);

// Kernel arguments (one set of kernels per instruction set, dispatched on simd_level()).
struct ScatterArgs {
  DType dtype = DType::f32;
  bool accumulate = true;  // true: dst[idx] += src (gradients); false: dst[idx] = src (unpool)
  bool ignore_outside = false;  // skip indices outside [0, H*W) instead of failing
  std::int64_t N = 0, C = 0;
  std::int64_t P = 0;      // source pixels per image (OH*OW)
  std::int64_t H = 0, W = 0;  // destination image (H*W pixels)
  const void* src = nullptr;
  const std::int64_t* indices = nullptr;
  void* dst = nullptr;
  // Work item = one image's channels [c0, c0 + chunk) (the last chunk may be shorter): each
  // item owns its destination elements, so items run in parallel without atomics.
  std::int64_t chunk = 0;
  int threads = 1;
  // One byte per work item (N * ceil(C / chunk)), set to 1 by the kernel when the item met an
  // index outside [0, H*W) (the item then stops; nothing out of bounds is written).
  unsigned char* bad = nullptr;
};

struct AvgBackwardArgs {
  DType dtype = DType::f32;
  Geometry geo;
  const void* grad_out = nullptr;
  void* grad_in = nullptr;
  bool count_include_pad = true;
  std::int64_t divisor_override = 0;  // 0 = none
  const AxisTable* htab = nullptr;
  const AxisTable* wtab = nullptr;
  const CoverTable* hcover = nullptr;
  const CoverTable* wcover = nullptr;
  int threads = 1;
};

#define NHWCPOOL_DECLARE_BACKWARD_ISA(ns)                      \
  namespace ns {                                               \
  void scatter(const ScatterArgs& args);                       \
  void avg_backward(const AvgBackwardArgs& args);              \
  }
NHWCPOOL_DECLARE_BACKWARD_ISA(baseline)
NHWCPOOL_DECLARE_BACKWARD_ISA(avx2)
NHWCPOOL_DECLARE_BACKWARD_ISA(avx512)
#undef NHWCPOOL_DECLARE_BACKWARD_ISA

}  // namespace nhwcpool
