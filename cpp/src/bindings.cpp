// The binding layer: converts NumPy arrays to pointers/shapes/strides, checks every buffer the
// kernels will touch, releases the GIL and calls the core. Argument normalisation (ints, pairs,
// padding strings, dtype rules) lives in python/nhwcpool/_api.py; this file re-checks what
// memory safety depends on, so the module is safe even when called directly.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <tuple>

#include "nhwcpool/kernels.hpp"
#include "nhwcpool/parallel.hpp"
#include "nhwcpool/shape.hpp"

namespace py = pybind11;
using nhwcpool::AxisParams;
using nhwcpool::DType;
using nhwcpool::Geometry;
using std::int64_t;

#ifndef NHWCPOOL_VERSION
#define NHWCPOOL_VERSION "0.0.0"
#endif
#define NHWCPOOL_STR2(x) #x
#define NHWCPOOL_STR(x) NHWCPOOL_STR2(x)

namespace {

[[noreturn]] void value_error(const std::string& msg) { throw py::value_error(msg); }
[[noreturn]] void type_error(const std::string& msg) { throw py::type_error(msg); }

DType dtype_of(const py::array& a, const char* name) {
  const py::dtype dt = a.dtype();
  const char kind = dt.kind();
  const auto size = dt.itemsize();
  if (kind == 'f') {
    if (size == 2) return DType::f16;
    if (size == 4) return DType::f32;
    if (size == 8) return DType::f64;
  } else if (kind == 'i') {
    if (size == 1) return DType::i8;
    if (size == 2) return DType::i16;
    if (size == 4) return DType::i32;
    if (size == 8) return DType::i64;
  } else if (kind == 'u') {
    if (size == 1) return DType::u8;
    if (size == 2) return DType::u16;
    if (size == 4) return DType::u32;
    if (size == 8) return DType::u64;
  }
  type_error(std::string(name) + " has an unsupported dtype");
}

bool native_order(const py::array& a) {
  const char bo = a.dtype().byteorder();
  if (bo == '=' || bo == '|') return true;
  const std::uint16_t probe = 1;
  const bool little = *reinterpret_cast<const unsigned char*>(&probe) == 1;
  return little ? bo == '<' : bo == '>';
}

bool aligned(const py::array& a) {
  return (a.flags() & py::detail::npy_api::NPY_ARRAY_ALIGNED_) != 0;
}

// Checks an NHWC input whose (W, C) rows are contiguous; returns its view.
nhwcpool::InputView input_view(const py::array& x, DType* dt) {
  if (x.ndim() != 4) value_error("x must be 4-dimensional (N, H, W, C) at this level");
  *dt = dtype_of(x, "x");
  if (!native_order(x)) value_error("x must be in native byte order");
  if (!aligned(x)) value_error("x must be aligned");
  const int64_t isz = x.itemsize();
  const int64_t W = x.shape(2), C = x.shape(3);
  if (C > 1 && x.strides(3) != isz) value_error("x must have a contiguous channel axis");
  if (W > 1 && x.strides(2) != C * isz) value_error("x must have contiguous (W, C) rows");
  nhwcpool::InputView v;
  v.data = x.data();
  v.stride_n = x.strides(0);
  v.stride_h = x.strides(1);
  return v;
}

void check_output(const py::array& out, const char* name, DType want, const Geometry& g) {
  DType got = dtype_of(out, name);
  if (got != want) {
    type_error(std::string(name) + " must have dtype " + nhwcpool::dtype_name(want) + ", got " +
               nhwcpool::dtype_name(got));
  }
  if (!native_order(out)) value_error(std::string(name) + " must be in native byte order");
  if (out.ndim() != 4 || out.shape(0) != g.N || out.shape(1) != g.OH || out.shape(2) != g.OW ||
      out.shape(3) != g.C) {
    value_error(std::string(name) + " has the wrong shape");
  }
  const auto f = out.flags();
  if (!(f & py::detail::npy_api::NPY_ARRAY_C_CONTIGUOUS_)) value_error(std::string(name) + " must be C-contiguous");
  if (!(f & py::detail::npy_api::NPY_ARRAY_WRITEABLE_)) value_error(std::string(name) + " must be writeable");
  if (!aligned(out)) value_error(std::string(name) + " must be aligned");
}

AxisParams axis(int64_t k, int64_t s, int64_t d, int64_t pb, int64_t pe) {
  AxisParams p;
  p.kernel = k; p.stride = s; p.dilation = d; p.pad_begin = pb; p.pad_end = pe;
  return p;
}

using Pair = std::tuple<int64_t, int64_t>;
using Pads = std::tuple<int64_t, int64_t, int64_t, int64_t>;

Geometry geometry(const py::array& x, Pair k, Pair s, Pair d, Pads p, bool ceil_mode, bool pad_limit) {
  return nhwcpool::make_geometry(
      x.shape(0), x.shape(1), x.shape(2), x.shape(3),
      axis(std::get<0>(k), std::get<0>(s), std::get<0>(d), std::get<0>(p), std::get<1>(p)),
      axis(std::get<1>(k), std::get<1>(s), std::get<1>(d), std::get<2>(p), std::get<3>(p)),
      ceil_mode, pad_limit);
}

void max_pool2d(const py::array& x, py::array out, const py::object& indices, Pair k, Pair s,
                Pair d, Pads p, bool ceil_mode, bool pad_limit) {
  DType dt;
  const nhwcpool::InputView in = input_view(x, &dt);
  const Geometry g = geometry(x, k, s, d, p, ceil_mode, pad_limit);
  check_output(out, "out", dt, g);
  int64_t* idx = nullptr;
  py::array idx_arr;
  if (!indices.is_none()) {
    idx_arr = py::reinterpret_borrow<py::array>(indices);
    check_output(idx_arr, "indices", DType::i64, g);
    idx = static_cast<int64_t*>(idx_arr.mutable_data());
  }
  void* o = out.mutable_data();
  py::gil_scoped_release release;
  nhwcpool::max_pool2d(dt, g, in, o, idx);
}

void avg_pool2d(const py::array& x, py::array out, Pair k, Pair s, Pads p, bool ceil_mode,
                bool count_include_pad, int64_t divisor_override, bool pad_limit) {
  DType dt;
  const nhwcpool::InputView in = input_view(x, &dt);
  const Geometry g = geometry(x, k, s, Pair{1, 1}, p, ceil_mode, pad_limit);
  const DType odt = dtype_of(out, "out");
  check_output(out, "out", odt, g);
  void* o = out.mutable_data();
  py::gil_scoped_release release;
  nhwcpool::avg_pool2d(dt, odt, g, in, o, count_include_pad, divisor_override);
}

std::string compiler_string() {
#if defined(__clang__)
  return std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
  return std::string("gcc ") + NHWCPOOL_STR(__GNUC__) "." NHWCPOOL_STR(__GNUC_MINOR__) "." NHWCPOOL_STR(__GNUC_PATCHLEVEL__);
#elif defined(_MSC_VER)
  return std::string("msvc ") + NHWCPOOL_STR(_MSC_FULL_VER);
#else
  return "unknown";
#endif
}

}  // namespace

PYBIND11_MODULE(_core, m, py::mod_gil_not_used()) {
  m.doc() = "nhwcpool compiled core (private; use the nhwcpool package)";
  m.attr("__version__") = NHWCPOOL_VERSION;

  m.def(
      "output_size",
      [](int64_t n, int64_t k, int64_t s, int64_t d, int64_t pb, int64_t pe, bool ceil_mode, bool pad_limit) {
        return nhwcpool::output_size(n, axis(k, s, d, pb, pe), ceil_mode, pad_limit, "");
      },
      py::arg("n"), py::arg("kernel"), py::arg("stride"), py::arg("dilation"), py::arg("pad_begin"),
      py::arg("pad_end"), py::arg("ceil_mode"), py::arg("pad_limit") = true);
  m.def(
      "same_padding",
      [](int64_t n, int64_t k, int64_t s, int64_t d) { return nhwcpool::same_padding(n, k, s, d, ""); },
      py::arg("n"), py::arg("kernel"), py::arg("stride"), py::arg("dilation"));
  m.def(
      "output_geometry",
      [](int64_t N, int64_t H, int64_t W, int64_t C, Pair k, Pair s, Pair d, Pads p, bool ceil_mode,
         bool pad_limit) {
        const Geometry g = nhwcpool::make_geometry(
            N, H, W, C, axis(std::get<0>(k), std::get<0>(s), std::get<0>(d), std::get<0>(p), std::get<1>(p)),
            axis(std::get<1>(k), std::get<1>(s), std::get<1>(d), std::get<2>(p), std::get<3>(p)), ceil_mode,
            pad_limit);
        return std::make_tuple(g.OH, g.OW);
      },
      "Validate a pooling call and return (OH, OW).");
  m.def("max_pool2d", &max_pool2d, py::arg("x"), py::arg("out"), py::arg("indices"), py::arg("kernel"),
        py::arg("stride"), py::arg("dilation"), py::arg("padding"), py::arg("ceil_mode"),
        py::arg("pad_limit") = true);
  m.def("avg_pool2d", &avg_pool2d, py::arg("x"), py::arg("out"), py::arg("kernel"), py::arg("stride"),
        py::arg("padding"), py::arg("ceil_mode"), py::arg("count_include_pad"), py::arg("divisor_override"),
        py::arg("pad_limit") = true);

  m.def("set_num_threads", [](int n) {
    if (n < 1) value_error("set_num_threads: n must be >= 1, got " + std::to_string(n));
    nhwcpool::set_num_threads(n);
  });
  m.def("get_num_threads", &nhwcpool::get_num_threads);
  m.def("openmp_enabled", &nhwcpool::openmp_enabled);
  m.def("compiler", &compiler_string);
  m.def("get_simd_level", [] { return std::string(nhwcpool::simd_level_name(nhwcpool::simd_level())); });
  m.def("best_simd_level", [] { return std::string(nhwcpool::simd_level_name(nhwcpool::best_simd_level())); });
  m.def("set_simd_level", [](const std::string& name) {
    nhwcpool::SimdLevel level;
    if (!nhwcpool::simd_level_from_name(name.c_str(), &level)) {
      value_error("unknown SIMD level '" + name + "'; expected one of: baseline, avx2, avx512");
    }
    nhwcpool::set_simd_level(level);
  });
  m.def("supported_simd_levels", [] {
    py::list out;
    for (int i = 0; i < 3; ++i) {
      const auto level = static_cast<nhwcpool::SimdLevel>(i);
      if (nhwcpool::simd_level_supported(level)) out.append(nhwcpool::simd_level_name(level));
    }
    return out;
  });
  m.def("compiled_simd_levels", [] {
    py::list out;
    for (int i = 0; i < 3; ++i) {
      const auto level = static_cast<nhwcpool::SimdLevel>(i);
      if (nhwcpool::simd_level_compiled(level)) out.append(nhwcpool::simd_level_name(level));
    }
    return out;
  });
}
