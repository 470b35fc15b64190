// Binding of the pyramid core: checks the array side, allocates every level, releases the GIL.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>
#include <vector>

#include "bindings_common.hpp"
#include "nhwcpool/pyramid.hpp"

namespace py = pybind11;
using nhwcpool::DType;
using std::int64_t;

namespace {

using namespace nhwcpool::bind;  // NOLINT: dtype lookup, errors, byte order




// x: an ndarray whose (W, C) rows are contiguous, aligned, native (the Python layer copies
// anything else); levels, factor: ints; op: 0 mean, 1 max, 2 min; edge: 0 partial, 1 trim;
// out_dtype: a numpy.dtype.
py::list pyramid(const py::array& x, int64_t levels, int op, int64_t factor, int edge, const py::dtype& out_dtype) {
  const DType in = dtype_of(x.dtype(), "x");
  const DType out = dtype_of(out_dtype, "dtype");
  if (!native_order(out_dtype)) throw py::value_error("dtype must be in native byte order");
  if (op < 0 || op > 2) throw py::value_error("op must be 'mean', 'max' or 'min'");
  if (edge < 0 || edge > 1) throw py::value_error("edge must be 'partial' or 'trim'");
  const int nd = static_cast<int>(x.ndim());
  if (nd < 2 || nd > 4) {
    throw py::value_error("x must have 2 (H, W), 3 (H, W, C) or 4 (N, H, W, C) dimensions, got " + std::to_string(nd));
  }
  const int off = nd == 4 ? 1 : 0;
  const int64_t N = nd == 4 ? x.shape(0) : 1, H = x.shape(off), W = x.shape(off + 1), C = nd == 2 ? 1 : x.shape(off + 2);
  const int64_t isz = x.itemsize();
  bool rows = native_order(x.dtype()) && (x.flags() & py::detail::npy_api::NPY_ARRAY_ALIGNED_);
  if (nd == 2) {
    rows = rows && (W <= 1 || x.strides(1) == isz);
  } else {
    rows = rows && (C <= 1 || x.strides(off + 2) == isz) && (W <= 1 || x.strides(off + 1) == C * isz);
  }
  if (!rows && x.size() > 0) throw py::value_error("x must have contiguous, aligned, native-order (W, C) rows");
  const nhwcpool::PyramidGeometry g = nhwcpool::make_pyramid_geometry(
      N, H, W, C, factor, levels, edge == 0 ? nhwcpool::PyramidEdge::partial : nhwcpool::PyramidEdge::trim);
  py::list result;
  std::vector<void*> outs;
  for (int i = 1; i <= g.levels; ++i) {
    std::vector<py::ssize_t> shape;
    if (nd == 4) shape = {g.N, g.OH[i], g.OW[i], g.C};
    else if (nd == 3) shape = {g.OH[i], g.OW[i], g.C};
    else shape = {g.OH[i], g.OW[i]};
    py::array a(out_dtype, shape);
    outs.push_back(a.mutable_data());
    result.append(a);
  }
  const int64_t sn = nd == 4 ? x.strides(0) : 0, sh = x.strides(off);
  const void* data = x.data();
  {
    py::gil_scoped_release release;
    nhwcpool::pyramid(static_cast<nhwcpool::PyramidOp>(op), in, out, g, data, sn, sh, outs.data());
  }
  return result;
}

}  // namespace

void bind_pyramid(py::module_& m) {
  m.def("_pyramid", &pyramid, py::arg("x"), py::arg("levels"), py::arg("op"), py::arg("factor"), py::arg("edge"),
        py::arg("out_dtype"),
        "Every level of a factor**i block reduction of x (see nhwcpool.pyramid).");
}
