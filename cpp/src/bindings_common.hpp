// Array-side helpers shared by the binding files (bindings.cpp, bindings_backward.cpp,
// bindings_pyramid.cpp): dtype lookup and its error, byte order, and the overlap test of `out=`.
// Python-facing only; the core never sees a py::dtype.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>

#include "nhwcpool/dtype.hpp"

namespace nhwcpool {
namespace bind {

namespace py = pybind11;

inline constexpr const char* kSupported =
    "float16, float32, float64, int8, uint8, int16, uint16, int32, int64, uint32, uint64";

[[noreturn]] inline void value_error(const std::string& msg) { throw py::value_error(msg); }
[[noreturn]] inline void type_error(const std::string& msg) { throw py::type_error(msg); }

inline std::string dtype_str(const py::dtype& dt) { return py::str(dt).cast<std::string>(); }

// The core's element type of a NumPy dtype (by kind and size; byte order is checked apart).
inline bool dtype_lookup(const py::dtype& dt, DType* out) {
  const char kind = dt.kind();
  const auto size = dt.itemsize();
  if (kind == 'f') {
    if (size == 2) { *out = DType::f16; return true; }
    if (size == 4) { *out = DType::f32; return true; }
    if (size == 8) { *out = DType::f64; return true; }
  } else if (kind == 'i') {
    if (size == 1) { *out = DType::i8; return true; }
    if (size == 2) { *out = DType::i16; return true; }
    if (size == 4) { *out = DType::i32; return true; }
    if (size == 8) { *out = DType::i64; return true; }
  } else if (kind == 'u') {
    if (size == 1) { *out = DType::u8; return true; }
    if (size == 2) { *out = DType::u16; return true; }
    if (size == 4) { *out = DType::u32; return true; }
    if (size == 8) { *out = DType::u64; return true; }
  }
  return false;
}

// dtype_lookup, or a TypeError naming the argument and listing the supported dtypes.
inline DType dtype_of(const py::dtype& dt, const char* name) {
  DType t;
  if (!dtype_lookup(dt, &t)) {
    type_error(std::string(name) + " has unsupported dtype " + dtype_str(dt) +
               "; supported dtypes are: " + kSupported);
  }
  return t;
}

inline bool native_order(const py::dtype& dt) {
  const char bo = dt.byteorder();
  if (bo == '=' || bo == '|') return true;
  const std::uint16_t probe = 1;
  const bool little = *reinterpret_cast<const unsigned char*>(&probe) == 1;
  return little ? bo == '<' : bo == '>';
}

// Byte range [lo, hi) an array may touch (the bounds test of numpy.may_share_memory).
inline bool overlaps(const py::array& a, const py::array& b) {
  if (a.size() == 0 || b.size() == 0) return false;
  auto extent = [](const py::array& x, std::intptr_t* lo, std::intptr_t* hi) {
    std::intptr_t l = reinterpret_cast<std::intptr_t>(x.data()), h = l;
    for (py::ssize_t i = 0; i < x.ndim(); ++i) {
      const std::intptr_t span = static_cast<std::intptr_t>(x.shape(i) - 1) * x.strides(i);
      if (span < 0) l += span; else h += span;
    }
    *lo = l;
    *hi = h + x.itemsize();
  };
  std::intptr_t alo, ahi, blo, bhi;
  extent(a, &alo, &ahi);
  extent(b, &blo, &bhi);
  return alo < bhi && blo < ahi;
}

}  // namespace bind
}  // namespace nhwcpool
