// Bindings of the backward functions and max_unpool2d (python/nhwcpool/_backward.py calls
// these). The Python layer normalises arguments and copies arrays that are not C-contiguous,
// aligned and native; this file checks everything the kernels rely on again (the module is
// memory-safe when called directly), allocates or validates `out`, and releases the GIL
// around the kernel.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <string>
#include <vector>

#include "bindings_common.hpp"
#include "nhwcpool/backward.hpp"
#include "nhwcpool/shape.hpp"

namespace py = pybind11;
using nhwcpool::DType;
using std::int64_t;
using npy = py::detail::npy_api;

namespace {

using namespace nhwcpool::bind;  // NOLINT: dtype lookup, errors, byte order, overlaps

// _core.PAD_* (set by bindings.cpp before bind_backward runs).
int g_pad_explicit = 0, g_pad_valid = 1, g_pad_same = 2;




std::string shape_str(const std::vector<int64_t>& dims) {
  std::string s = "(";
  for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + (dims.size() == 1 ? ",)" : ")");
}

std::vector<int64_t> shape_of(const py::array& a) {
  std::vector<int64_t> d(static_cast<std::size_t>(a.ndim()));
  for (py::ssize_t i = 0; i < a.ndim(); ++i) d[static_cast<std::size_t>(i)] = a.shape(i);
  return d;
}

// C-contiguous, aligned, native: what the kernels read.
void check_layout(const py::array& a, const char* name) {
  const int f = a.flags();
  if (!native_order(a.dtype()) || !(f & npy::NPY_ARRAY_C_CONTIGUOUS_) || !(f & npy::NPY_ARRAY_ALIGNED_)) {
    value_error(std::string(name) + " must be a C-contiguous, aligned array in native byte order");
  }
}

void check_ndim(const py::array& a, const char* name) {
  if (a.ndim() < 2 || a.ndim() > 4) {
    value_error(std::string(name) + " must have 2 (H, W), 3 (H, W, C) or 4 (N, H, W, C) dimensions, got " +
                std::to_string(a.ndim()));
  }
}

DType float_dtype(const py::array& a, const char* name) {
  DType t;
  if (!dtype_lookup(a.dtype(), &t) || !(t == DType::f16 || t == DType::f32 || t == DType::f64)) {
    type_error(std::string(name) + " must have dtype float16, float32 or float64, got " + dtype_str(a.dtype()));
  }
  return t;
}

void check_indices(const py::array& idx, const py::array& like, const char* like_name) {
  DType t;
  if (!dtype_lookup(idx.dtype(), &t) || t != DType::i64) {
    type_error("indices must have dtype int64 (as max_pool2d(..., return_indices=True) returns), got " +
               dtype_str(idx.dtype()));
  }
  check_layout(idx, "indices");
  if (shape_of(idx) != shape_of(like)) {
    value_error(std::string("indices must have the shape of ") + like_name + " " + shape_str(shape_of(like)) +
                ", got " + shape_str(shape_of(idx)));
  }
}

// (N, H, W, C) of an NHWC shape with 2-4 entries.
struct Dims {
  int64_t N = 1, H = 0, W = 0, C = 1;
};
Dims dims_of(const std::vector<int64_t>& s) {
  Dims d;
  const std::size_t off = s.size() == 4 ? 1 : 0;
  if (s.size() == 4) d.N = s[0];
  d.H = s[off];
  d.W = s[off + 1];
  if (s.size() >= 3) d.C = s[off + 2];
  return d;
}

// input_shape: as many entries as `like` has dimensions, none negative, N and C as like's.
Dims input_dims(const std::vector<int64_t>& shape, const py::array& like, const char* like_name) {
  if (shape.size() != static_cast<std::size_t>(like.ndim())) {
    value_error("input_shape must have as many entries as " + std::string(like_name) + " has dimensions (" +
                std::to_string(like.ndim()) + "), got " + std::to_string(shape.size()) + ": " + shape_str(shape));
  }
  for (auto v : shape) {
    if (v < 0) value_error("input_shape must not contain negative sizes, got " + shape_str(shape));
  }
  const Dims d = dims_of(shape), g = dims_of(shape_of(like));
  if (d.N != g.N || d.C != g.C) {
    value_error("input_shape " + shape_str(shape) + " must have the batch and channel sizes of " + like_name + " " +
                shape_str(shape_of(like)));
  }
  if (d.H < 1 || d.W < 1) {
    value_error("input_shape must have non-empty spatial axes (H and W >= 1), got " + shape_str(shape));
  }
  // (before the result is allocated; the core checks again)
  using nhwcpool::checked_mul;
  checked_mul(checked_mul(checked_mul(checked_mul(d.H, d.W, "input size H*W"), d.C, "input size H*W*C"), d.N,
                          "input size N*H*W*C"),
              8, "input size in bytes");
  return d;
}


}  // namespace

py::array nhwcpool_new_result(const py::dtype& dt, const std::vector<py::ssize_t>& dims);  // bindings.cpp

namespace {

// A new C-contiguous result of this shape and dtype (from the forward's output cache), or
// `out` checked like the forward's.
py::array result(const py::object& out, const py::dtype& dt, const std::vector<int64_t>& shape,
                 const py::array& in1, const py::array& in2, const char* in_names) {
  if (out.is_none()) {
    if (shape.size() > 4) value_error("at most 4 dimensions");
    return nhwcpool_new_result(py::dtype(dt), std::vector<py::ssize_t>(shape.begin(), shape.end()));
  }
  if (!py::isinstance<py::array>(out)) {
    type_error("out must be a numpy.ndarray, got " + py::str(py::type::handle_of(out).attr("__name__")).cast<std::string>());
  }
  auto a = py::reinterpret_borrow<py::array>(out);
  DType want, got;
  dtype_lookup(dt, &want);
  if (!dtype_lookup(a.dtype(), &got) || got != want || !native_order(a.dtype())) {
    type_error(std::string("out must have dtype ") + nhwcpool::dtype_name(want) + " (native byte order), got " +
               dtype_str(a.dtype()));
  }
  if (shape_of(a) != shape) {
    value_error("out must have shape " + shape_str(shape) + ", got " + shape_str(shape_of(a)));
  }
  const int f = a.flags();
  if (!(f & npy::NPY_ARRAY_C_CONTIGUOUS_)) value_error("out must be C-contiguous");
  if (!(f & npy::NPY_ARRAY_WRITEABLE_)) value_error("out must be writeable");
  if (!(f & npy::NPY_ARRAY_ALIGNED_)) value_error("out must be aligned");
  if (overlaps(a, in1) || overlaps(a, in2)) value_error(std::string("out must not overlap ") + in_names);
  return a;
}

py::array max_pool2d_backward(const py::array& grad_output, const py::array& indices,
                              const std::vector<int64_t>& input_shape, const py::object& out, bool ignore_outside) {
  const DType dt = float_dtype(grad_output, "grad_output");
  check_ndim(grad_output, "grad_output");
  check_layout(grad_output, "grad_output");
  check_indices(indices, grad_output, "grad_output");
  const Dims d = input_dims(input_shape, grad_output, "grad_output");
  const Dims o = dims_of(shape_of(grad_output));
  py::array res = result(out, grad_output.dtype(), input_shape, grad_output, indices, "grad_output or indices");
  const void* g = grad_output.data();
  const auto* ip = static_cast<const int64_t*>(indices.data());
  void* r = res.mutable_data();
  {
    py::gil_scoped_release release;
    nhwcpool::max_pool2d_backward(dt, d.N, d.H, d.W, d.C, o.H, o.W, g, ip, r, ignore_outside);
  }
  return res;
}

py::array max_unpool2d(const py::array& x, const py::array& indices, const std::vector<int64_t>& output_size,
                       const py::object& out) {
  DType dt;
  if (!dtype_lookup(x.dtype(), &dt)) {
    type_error("x has unsupported dtype " + dtype_str(x.dtype()) +
               "; supported dtypes are: float16, float32, float64, int8, uint8, int16, uint16, int32, int64, "
               "uint32, uint64");
  }
  check_ndim(x, "x");
  check_layout(x, "x");
  check_indices(indices, x, "x");
  if (output_size.size() != 2) {
    value_error("output_size must be a pair (H, W), got " + std::to_string(output_size.size()) + " values");
  }
  const Dims o = dims_of(shape_of(x));
  if (output_size[0] < 1 || output_size[1] < 1) {
    value_error("output_size must be positive, got " + shape_str(output_size));
  }
  using nhwcpool::checked_mul;
  checked_mul(checked_mul(checked_mul(checked_mul(output_size[0], output_size[1], "output size H*W"), o.C,
                                      "output size H*W*C"),
                          o.N, "output size N*H*W*C"),
              8, "output size in bytes");
  std::vector<int64_t> shape = shape_of(x);
  const std::size_t off = shape.size() == 4 ? 1 : 0;
  shape[off] = output_size[0];
  shape[off + 1] = output_size[1];
  py::array res = result(out, x.dtype(), shape, x, indices, "x or indices");
  const void* xp = x.data();
  const auto* ip = static_cast<const int64_t*>(indices.data());
  void* r = res.mutable_data();
  {
    py::gil_scoped_release release;
    nhwcpool::max_unpool2d(dt, o.N, output_size[0], output_size[1], o.C, o.H, o.W, xp, ip, r);
  }
  return res;
}

py::array avg_pool2d_backward(const py::array& grad_output, const std::vector<int64_t>& input_shape, int64_t kh,
                              int64_t kw, int64_t sh, int64_t sw, int64_t pt, int64_t pb, int64_t pl, int64_t pr,
                              bool ceil_mode, int mode, bool count_include_pad, int64_t divisor_override,
                              const py::object& out) {
  const DType dt = float_dtype(grad_output, "grad_output");
  check_ndim(grad_output, "grad_output");
  check_layout(grad_output, "grad_output");
  const Dims d = input_dims(input_shape, grad_output, "grad_output");
  if (mode == g_pad_same) {
    const auto ph = nhwcpool::same_padding(d.H, kh, sh, 1, "height");
    const auto pw = nhwcpool::same_padding(d.W, kw, sw, 1, "width");
    pt = ph.first; pb = ph.second; pl = pw.first; pr = pw.second;
  } else if (mode == g_pad_valid) {
    pt = pb = pl = pr = 0;
  } else if (mode != g_pad_explicit) {
    value_error("padding mode must be PAD_EXPLICIT, PAD_VALID or PAD_SAME");
  }
  nhwcpool::AxisParams h, w;
  h.kernel = kh; h.stride = sh; h.pad_begin = pt; h.pad_end = pb;
  w.kernel = kw; w.stride = sw; w.pad_begin = pl; w.pad_end = pr;
  const nhwcpool::Geometry geo = nhwcpool::make_geometry(d.N, d.H, d.W, d.C, h, w, ceil_mode, mode == g_pad_explicit);
  std::vector<int64_t> want = input_shape;
  const std::size_t off = want.size() == 4 ? 1 : 0;
  want[off] = geo.OH;
  want[off + 1] = geo.OW;
  if (shape_of(grad_output) != want) {
    value_error("grad_output must have shape " + shape_str(want) + " (avg_pool2d's output for input_shape " +
                shape_str(input_shape) + " and these arguments), got " + shape_str(shape_of(grad_output)));
  }
  // "same" follows TensorFlow/Keras: padded cells are never counted (as the forward).
  const bool include = count_include_pad && mode == g_pad_explicit;
  py::array res = result(out, grad_output.dtype(), input_shape, grad_output, grad_output, "grad_output");
  const void* g = grad_output.data();
  void* r = res.mutable_data();
  {
    py::gil_scoped_release release;
    nhwcpool::avg_pool2d_backward(dt, geo, g, r, include, divisor_override);
  }
  return res;
}

}  // namespace

void bind_backward(py::module_& m) {
  g_pad_explicit = m.attr("PAD_EXPLICIT").cast<int>();
  g_pad_valid = m.attr("PAD_VALID").cast<int>();
  g_pad_same = m.attr("PAD_SAME").cast<int>();
  m.def("max_pool2d_backward", &max_pool2d_backward, py::arg("grad_output"), py::arg("indices"),
        py::arg("input_shape"), py::arg("out"), py::arg("ignore_outside") = false,
        "Gradient of max_pool2d with respect to its input (see nhwcpool.max_pool2d_backward).");
  m.def("avg_pool2d_backward", &avg_pool2d_backward, py::arg("grad_output"), py::arg("input_shape"), py::arg("kh"),
        py::arg("kw"), py::arg("sh"), py::arg("sw"), py::arg("pt"), py::arg("pb"), py::arg("pl"), py::arg("pr"),
        py::arg("ceil_mode"), py::arg("mode"), py::arg("count_include_pad"), py::arg("divisor_override"),
        py::arg("out"), "Gradient of avg_pool2d with respect to its input (see nhwcpool.avg_pool2d_backward).");
  m.def("max_unpool2d", &max_unpool2d, py::arg("x"), py::arg("indices"), py::arg("output_size"), py::arg("out"),
        "Max unpooling (see nhwcpool.max_unpool2d).");
}
