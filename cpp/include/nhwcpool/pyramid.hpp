// Image pyramids: every level of a factor**i block reduction (mean, max or min) in one pass over
// the input. Pure C++: pointers, shapes and strides, no Python.
#pragma once
#include <cstdint>
#include <vector>

#include "nhwcpool/dtype.hpp"

namespace nhwcpool {

enum class PyramidOp : int { mean = 0, max = 1, min = 2 };
enum class PyramidEdge : int { partial = 0, trim = 1 };

// Sizes of every level. Level i (1..levels) reduces factor**i x factor**i blocks of the input:
// partial: ceil(n / factor**i) cells per axis, the last block of an axis holding what is left of
// it; trim: floor(n / factor**i) cells, whole blocks only.
struct PyramidGeometry {
  std::int64_t N = 0, H = 0, W = 0, C = 0;
  std::int64_t factor = 2;
  int levels = 0;
  PyramidEdge edge = PyramidEdge::partial;
  // Index 0 is the input (H, W); index i is level i. block[i]: input rows (and columns) a
  // whole level-i block spans, factor**i saturated at max(H, W) + 1 (no overflow for any
  // level count).
  std::vector<std::int64_t> OH, OW, block;

  // Input pixels along one axis that cell j of level i holds.
  std::int64_t rows_of(int level, std::int64_t j) const;
  std::int64_t cols_of(int level, std::int64_t j) const;
};

// Validates every argument (factor >= 2, levels >= 0, H and W >= 1, a trimmed level with a cell,
// element and byte counts within 64 bits) and throws std::invalid_argument naming it.
PyramidGeometry make_pyramid_geometry(std::int64_t N, std::int64_t H, std::int64_t W, std::int64_t C,
                                      std::int64_t factor, std::int64_t levels, PyramidEdge edge);

// The input: element (n, h, w, c) at data + n*stride_n + h*stride_h + (w*C + c)*itemsize
// (strides in bytes; every (w, c) row contiguous). outs[i - 1]: the C-contiguous
// (N, OH[i], OW[i], C) array of level i, of dtype out_dtype.
struct PyramidArgs {
  PyramidOp op = PyramidOp::mean;
  DType in_dtype = DType::u8;
  DType out_dtype = DType::u8;
  const PyramidGeometry* geo = nullptr;
  const void* data = nullptr;
  std::int64_t stride_n = 0, stride_h = 0;
  void* const* outs = nullptr;
  int threads = 1;
};

// Runs at the selected SIMD level, with get_num_threads() threads. The same bits for any
// thread count and SIMD level.
void pyramid(PyramidOp op, DType in_dtype, DType out_dtype, const PyramidGeometry& geo, const void* data,
             std::int64_t stride_n, std::int64_t stride_h, void* const* outs);

#define NHWCPOOL_DECLARE_PYRAMID_ISA(ns) \
  namespace ns {                         \
  void pyramid(const PyramidArgs& args); \
  }
NHWCPOOL_DECLARE_PYRAMID_ISA(baseline)
NHWCPOOL_DECLARE_PYRAMID_ISA(avx2)
NHWCPOOL_DECLARE_PYRAMID_ISA(avx512)
#undef NHWCPOOL_DECLARE_PYRAMID_ISA

}  // namespace nhwcpool
