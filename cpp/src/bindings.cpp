// The binding layer: NumPy arrays in, pointers/shapes/strides to the core, arrays out.
//
// Python (python/nhwcpool/_api.py) normalises the scalar hyperparameters; this file does the
// array side in one call so that a small pooling call costs one crossing: dtype and ndim
// checks, a native C-contiguous copy only when the layout needs one, output allocation or
// validation of `out`, then the GIL is released around the kernel. The two pooling functions
// are METH_FASTCALL entry points (see "Positional fast-call entry points"): pybind11's generic
// dispatch was a quarter of a small call. Every buffer the kernels touch is checked here, so
// the module is memory-safe even when called directly.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "bindings_common.hpp"
#include "nhwcpool/kernels.hpp"
#include "nhwcpool/parallel.hpp"
#include "nhwcpool/shape.hpp"

namespace py = pybind11;
void bind_threads(py::module_& m);  // bindings_threads.cpp
using nhwcpool::AxisParams;
using nhwcpool::DType;
using nhwcpool::Geometry;
using std::int64_t;
using npy = py::detail::npy_api;

#ifndef NHWCPOOL_VERSION
#define NHWCPOOL_VERSION "0.0.0"
#endif
#define NHWCPOOL_STR2(x) #x
#define NHWCPOOL_STR(x) NHWCPOOL_STR2(x)

namespace {

using namespace nhwcpool::bind;  // NOLINT: dtype lookup, errors, byte order, overlaps

enum PadMode : int { kExplicit = 0, kValid = 1, kSame = 2 };



// Built-in NumPy descriptors (new references; cheap, no string parsing on the hot path).
py::dtype native_dtype(DType t) {
  constexpr int kHalf = 23;  // NPY_HALF, stable in NumPy's ABI
  int num = 0;
  switch (t) {
    case DType::f16: num = kHalf; break;
    case DType::f32: num = npy::NPY_FLOAT_; break;
    case DType::f64: num = npy::NPY_DOUBLE_; break;
    case DType::i8: num = npy::NPY_BYTE_; break;
    case DType::u8: num = npy::NPY_UBYTE_; break;
    case DType::i16: num = npy::NPY_SHORT_; break;
    case DType::u16: num = npy::NPY_USHORT_; break;
    case DType::i32: num = npy::NPY_INT32_; break;
    case DType::u32: num = npy::NPY_UINT32_; break;
    case DType::i64: num = npy::NPY_INT64_; break;
    case DType::u64: num = npy::NPY_UINT64_; break;
  }
  PyObject* d = npy::get().PyArray_DescrFromType_(num);
  if (!d) throw py::error_already_set();
  return py::reinterpret_steal<py::dtype>(d);
}


int flags(const py::array& a) { return a.flags(); }


// The input as an NHWC view whose (W, C) rows are contiguous, native and aligned.
struct Input {
  py::array given;  // what the caller passed (for the overlap test)
  py::array arr;    // possibly a converted copy
  DType dtype;
  int ndim;
  int64_t N, H, W, C;
  nhwcpool::InputView view;
};

Input prepare_input(const py::array& x) {
  Input in;
  in.given = x;
  in.ndim = static_cast<int>(x.ndim());
  in.dtype = dtype_of(x.dtype(), "x");
  if (in.ndim < 2 || in.ndim > 4) {
    value_error("x must have 2 (H, W), 3 (H, W, C) or 4 (N, H, W, C) dimensions, got " +
                std::to_string(in.ndim));
  }
  const int off = in.ndim == 4 ? 1 : 0;
  in.N = in.ndim == 4 ? x.shape(0) : 1;
  in.H = x.shape(off);
  in.W = x.shape(off + 1);
  in.C = in.ndim == 2 ? 1 : x.shape(off + 2);
  const int64_t isz = x.itemsize();
  bool ok = native_order(x.dtype()) && (flags(x) & npy::NPY_ARRAY_ALIGNED_);
  if (ok && x.size() > 0) {
    if (in.ndim == 2) {
      ok = in.W <= 1 || x.strides(1) == isz;
    } else {
      ok = (in.C <= 1 || x.strides(off + 2) == isz) && (in.W <= 1 || x.strides(off + 1) == in.C * isz);
    }
  }
  in.arr = x;
  // Planar layouts (NCHW and the like: W contiguous, C not) are read where they are; the core
  // pools their channel planes and transposes the result, or transposes them first (the
  // averages whose sums must run in NHWC order).
  bool planar = false;
  if (!ok && in.ndim >= 3 && in.C > 1 && x.size() > 0 && native_order(x.dtype()) &&
      (flags(x) & npy::NPY_ARRAY_ALIGNED_) && (in.W <= 1 || x.strides(off + 1) == isz) &&
      x.strides(off + 2) != 0) {
    planar = ok = true;
  }
  if (!ok) {
    PyObject* descr = native_dtype(in.dtype).release().ptr();  // stolen by FromAny
    PyObject* conv = npy::get().PyArray_FromAny_(
        x.ptr(), descr, 0, 0,
        npy::NPY_ARRAY_C_CONTIGUOUS_ | npy::NPY_ARRAY_ALIGNED_ | npy::NPY_ARRAY_ENSUREARRAY_ |
            npy::NPY_ARRAY_FORCECAST_,
        nullptr);
    if (!conv) throw py::error_already_set();
    in.arr = py::reinterpret_steal<py::array>(conv);
  }
  in.view.data = in.arr.data();
  in.view.stride_n = in.ndim == 4 ? in.arr.strides(0) : 0;
  in.view.stride_h = in.arr.strides(off);
  if (planar) in.view.stride_c = in.arr.strides(off + 2);
  return in;
}

// A result's shape: up to 4 dimensions, without a heap allocation.
struct Shape {
  py::ssize_t dim[4] = {0, 0, 0, 0};
  int ndim = 0;
};

Shape out_shape(const Input& in, const Geometry& g) {
  Shape s;
  s.ndim = in.ndim;
  if (in.ndim == 4) {
    s.dim[0] = g.N; s.dim[1] = g.OH; s.dim[2] = g.OW; s.dim[3] = g.C;
  } else if (in.ndim == 3) {
    s.dim[0] = g.OH; s.dim[1] = g.OW; s.dim[2] = g.C;
  } else {
    s.dim[0] = g.OH; s.dim[1] = g.OW;
  }
  return s;
}

// "(2, 3)" / "(5,)" / "()" as Python prints a shape.
std::string shape_str(const py::ssize_t* dims, int nd) {
  std::string s = "(";
  for (int i = 0; i < nd; ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + (nd == 1 ? ",)" : ")");
}

// Large results are allocated from a small cache of buffers that earlier results gave back
// when NumPy freed them (a caching allocator, as TensorFlow's BFC allocator and PyTorch's
// CUDA allocator are). A fresh buffer of 100 MB costs ~25,000 page faults and the kernel's
// zeroing of every page, which measured as much as the pooling itself (2x2/s2 max of
// (32,112,112,256): 19.7 ms with a new output, 16.5 ms with out=, at one thread; worse at
// two, where both threads fault). At most kCacheSlots buffers and cache_limit bytes are held;
// the oldest go first. _set_output_cache_bytes(0) turns it off.
struct CachedBuffer {
  void* p = nullptr;
  std::size_t bytes = 0;
  std::uint64_t stamp = 0;
};

class OutputCache {
 public:
  static OutputCache& get() {
    static OutputCache* cache = new OutputCache;  // never destroyed: arrays may outlive statics
    return *cache;
  }
  static constexpr std::size_t kMinBytes = std::size_t{1} << 20;

  void* take(std::size_t bytes) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& e : slots_) {
        if (e.p != nullptr && e.bytes == bytes) {
          void* p = e.p;
          e.p = nullptr;
          held_ -= bytes;
          return p;
        }
      }
    }
    return allocate(bytes);
  }
  void give(void* p, std::size_t bytes) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (bytes <= limit_) {
        while (held_ + bytes > limit_ || !has_free_slot()) evict_oldest();
        for (auto& e : slots_) {
          if (e.p == nullptr) {
            e = CachedBuffer{p, bytes, ++clock_};
            held_ += bytes;
            return;
          }
        }
      }
    }
    release(p);
  }
  void set_limit(std::size_t bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    limit_ = bytes;
    while (held_ > limit_) evict_oldest();
  }
  std::size_t limit() {
    std::lock_guard<std::mutex> lock(mu_);
    return limit_;
  }
  std::size_t held() {
    std::lock_guard<std::mutex> lock(mu_);
    return held_;
  }

 private:
  static constexpr int kCacheSlots = 8;
  static constexpr std::size_t kAlign = std::size_t{1} << 21;  // huge-page aligned
  static void* allocate(std::size_t bytes) {
    void* p = ::operator new(bytes, std::align_val_t{kAlign});
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    madvise(p, bytes, MADV_HUGEPAGE);  // as NumPy does for large arrays; a hint only
#endif
    return p;
  }
  static void release(void* p) { ::operator delete(p, std::align_val_t{kAlign}); }
  bool has_free_slot() const {
    for (const auto& e : slots_) {
      if (e.p == nullptr) return true;
    }
    return false;
  }
  void evict_oldest() {  // called with mu_ held and at least one buffer cached
    CachedBuffer* old = nullptr;
    for (auto& e : slots_) {
      if (e.p != nullptr && (old == nullptr || e.stamp < old->stamp)) old = &e;
    }
    if (old == nullptr) return;
    release(old->p);
    held_ -= old->bytes;
    *old = CachedBuffer{};
  }
  std::mutex mu_;
  CachedBuffer slots_[kCacheSlots];
  std::size_t held_ = 0;
  std::size_t limit_ = std::size_t{256} << 20;
  std::uint64_t clock_ = 0;
};

// A new C-contiguous array for a result (from the cache when large). Small results go
// straight to NumPy's allocator (no lock, no std::vector: a 4x4 call is ~1 us in all).
// offset: bytes past a 64-byte boundary the data should start at (preferred_output_offset;
// honoured for cached buffers, which are then 64 bytes longer).
py::array new_result(const py::dtype& dt, const Shape& shape, std::int64_t offset = 0) {
  std::size_t bytes = static_cast<std::size_t>(dt.itemsize());
  for (int i = 0; i < shape.ndim; ++i) bytes *= static_cast<std::size_t>(shape.dim[i]);  // checked by make_geometry
  const auto& api = npy::get();
  OutputCache* cache = nullptr;
  CachedBuffer* buf = nullptr;
  char* data = nullptr;
  if (bytes >= OutputCache::kMinBytes && bytes <= OutputCache::get().limit()) {
    cache = &OutputCache::get();
    const std::size_t pad = offset > 0 && offset < 64 ? 64 : 0;
    buf = new CachedBuffer{cache->take(bytes + pad), bytes + pad, 0};
    data = static_cast<char*>(buf->p) + (pad != 0 ? offset : 0);
  }
  // The capsule owns the buffer from here on (also if creating the array fails).
  py::capsule owner;
  if (buf != nullptr) {
    owner = py::capsule(buf, [](void* h) {
      auto* b = static_cast<CachedBuffer*>(h);
      OutputCache::get().give(b->p, b->bytes);
      delete b;
    });
  }
  PyObject* descr = py::dtype(dt).release().ptr();  // stolen by NewFromDescr
  PyObject* arr = api.PyArray_NewFromDescr_(api.PyArray_Type_, descr, shape.ndim,
                                            reinterpret_cast<const Py_intptr_t*>(shape.dim), nullptr,
                                            data,
                                            buf != nullptr ? npy::NPY_ARRAY_WRITEABLE_ : 0, nullptr);
  if (!arr) throw py::error_already_set();
  auto result = py::reinterpret_steal<py::array>(arr);
  if (buf != nullptr && api.PyArray_SetBaseObject_(arr, owner.release().ptr()) != 0) {
    throw py::error_already_set();
  }
  return result;
}

// A new C-contiguous result, or the caller's `out` after checking everything the kernel
// relies on. with_indices: max with return_indices, whose kernel never slides (so the output
// offset hint does not apply and the values keep a 64-byte aligned, streamable start).
py::array make_output(const py::object& out, const char* name, DType dt, const Input& in,
                      const Geometry& g, bool with_indices = false) {
  const auto shape = out_shape(in, g);
  if (out.is_none()) {
    const int64_t offset = with_indices ? 0 : nhwcpool::preferred_output_offset(in.dtype, dt, g, in.view);
    return new_result(dt == in.dtype ? in.arr.dtype() : native_dtype(dt), shape, offset);
  }
  if (!py::isinstance<py::array>(out)) {
    type_error(std::string(name) + " must be a numpy.ndarray, got " +
               py::str(py::type::handle_of(out).attr("__name__")).cast<std::string>());
  }
  auto a = py::reinterpret_borrow<py::array>(out);
  DType got;
  if (!dtype_lookup(a.dtype(), &got) || got != dt || !native_order(a.dtype())) {
    type_error(std::string(name) + " must have dtype " + nhwcpool::dtype_name(dt) +
               " (native byte order), got " + dtype_str(a.dtype()));
  }
  bool same = a.ndim() == static_cast<py::ssize_t>(shape.ndim);
  for (int i = 0; same && i < shape.ndim; ++i) same = a.shape(i) == shape.dim[i];
  if (!same) {
    value_error(std::string(name) + " must have shape " + shape_str(shape.dim, shape.ndim) +
                " for this input, got " + shape_str(a.shape(), static_cast<int>(a.ndim())));
  }
  const int f = flags(a);
  if (!(f & npy::NPY_ARRAY_C_CONTIGUOUS_)) value_error(std::string(name) + " must be C-contiguous");
  if (!(f & npy::NPY_ARRAY_WRITEABLE_)) value_error(std::string(name) + " must be writeable");
  if (!(f & npy::NPY_ARRAY_ALIGNED_)) value_error(std::string(name) + " must be aligned");
  if (overlaps(a, in.given) || overlaps(a, in.arr)) {
    value_error(std::string(name) + " must not overlap the input x");
  }
  return a;
}

AxisParams axis(int64_t k, int64_t s, int64_t d, int64_t pb, int64_t pe) {
  AxisParams p;
  p.kernel = k; p.stride = s; p.dilation = d; p.pad_begin = pb; p.pad_end = pe;
  return p;
}

// Resolves "same"/"valid" and validates every hyperparameter against the input size.
Geometry geometry(int64_t N, int64_t H, int64_t W, int64_t C, int64_t kh, int64_t kw, int64_t sh,
                  int64_t sw, int64_t dh, int64_t dw, int64_t pt, int64_t pb, int64_t pl, int64_t pr,
                  bool ceil_mode, int mode) {
  if (mode == kSame) {
    if (H >= 1 && W >= 1) {
      const auto ph = nhwcpool::same_padding(H, kh, sh, dh, "height");
      const auto pw = nhwcpool::same_padding(W, kw, sw, dw, "width");
      pt = ph.first; pb = ph.second; pl = pw.first; pr = pw.second;
    }
  } else if (mode == kValid) {
    pt = pb = pl = pr = 0;
  }
  return nhwcpool::make_geometry(N, H, W, C, axis(kh, sh, dh, pt, pb), axis(kw, sw, dw, pl, pr), ceil_mode,
                                 mode == kExplicit);
}

py::object max_pool2d(const py::array& x, int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t dh,
                      int64_t dw, int64_t pt, int64_t pb, int64_t pl, int64_t pr, bool ceil_mode, int mode,
                      bool return_indices, const py::object& out) {
  const Input in = prepare_input(x);
  const Geometry g = geometry(in.N, in.H, in.W, in.C, kh, kw, sh, sw, dh, dw, pt, pb, pl, pr, ceil_mode, mode);
  py::array res = make_output(out, "out", in.dtype, in, g, return_indices);
  py::array idx;
  int64_t* idx_ptr = nullptr;
  if (return_indices) {
    idx = new_result(native_dtype(DType::i64), out_shape(in, g));
    idx_ptr = static_cast<int64_t*>(idx.mutable_data());
  }
  void* o = res.mutable_data();
  {
    py::gil_scoped_release release;
    nhwcpool::max_pool2d(in.dtype, g, in.view, o, idx_ptr);
  }
  if (return_indices) return py::make_tuple(res, idx);
  return std::move(res);
}

py::object avg_pool2d(const py::array& x, int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t pt,
                      int64_t pb, int64_t pl, int64_t pr, bool ceil_mode, int mode, bool count_include_pad,
                      int64_t divisor_override, const py::object& dtype, const py::object& out) {
  const Input in = prepare_input(x);
  DType odt;
  if (dtype.is_none()) {
    odt = (in.dtype == DType::f16 || in.dtype == DType::f32 || in.dtype == DType::f64) ? in.dtype : DType::f64;
  } else {
    odt = dtype_of(py::reinterpret_borrow<py::dtype>(dtype), "dtype");
  }
  const Geometry g = geometry(in.N, in.H, in.W, in.C, kh, kw, sh, sw, 1, 1, pt, pb, pl, pr, ceil_mode, mode);
  py::array res = make_output(out, "out", odt, in, g);
  // "same" follows TensorFlow/Keras: padded cells are never counted.
  const bool include = count_include_pad && mode == kExplicit;
  void* o = res.mutable_data();
  {
    py::gil_scoped_release release;
    nhwcpool::avg_pool2d(in.dtype, odt, g, in.view, o, include, divisor_override);
  }
  return std::move(res);
}

py::tuple output_shape(const std::vector<int64_t>& dims, int64_t kh, int64_t kw, int64_t sh, int64_t sw,
                       int64_t dh, int64_t dw, int64_t pt, int64_t pb, int64_t pl, int64_t pr, bool ceil_mode,
                       int mode) {
  const std::size_t nd = dims.size();
  if (nd < 2 || nd > 4) {
    value_error("input_shape must have 2 (H, W), 3 (H, W, C) or 4 (N, H, W, C) entries, got " +
                std::to_string(nd));
  }
  for (auto v : dims) {
    if (v < 0) value_error("input_shape must not contain negative sizes");
  }
  const std::size_t off = nd == 4 ? 1 : 0;
  const int64_t N = nd == 4 ? dims[0] : 1, H = dims[off], W = dims[off + 1], C = nd == 2 ? 1 : dims[off + 2];
  const Geometry g = geometry(N, H, W, C, kh, kw, sh, sw, dh, dw, pt, pb, pl, pr, ceil_mode, mode);
  if (nd == 4) return py::make_tuple(g.N, g.OH, g.OW, g.C);
  if (nd == 3) return py::make_tuple(g.OH, g.OW, g.C);
  return py::make_tuple(g.OH, g.OW);
}

// ---------------------------------------------------------------------------------------------
// Positional fast-call entry points. The Python layer calls the two pooling functions with 15
// already-normalised positional arguments; pybind11's generic dispatcher spent ~0.25 us of a
// ~1 us small call converting them, so these two are plain METH_FASTCALL functions that read
// their arguments with the C API and report errors through pybind11's exception translation
// (the same Python exceptions as every other function here).

// numpy.bool_, looked up once at import (not in a function-local static: initialising one can
// wait on another thread that waits on the GIL).
PyObject* g_numpy_bool = nullptr;

// Argument names are the public ones (the Python layer passes ints through unchanged on its
// fast path), and the messages match the Python layer's.
std::string type_and_repr(PyObject* o) {
  py::handle h(o);
  return py::str(py::type::handle_of(h).attr("__name__")).cast<std::string>() + " " +
         py::repr(h).cast<std::string>();
}

int64_t arg_int(PyObject* const* args, int i, const char* name) {
  PyObject* o = args[i];
  if (PyLong_CheckExact(o)) {
    int overflow = 0;
    const long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (overflow != 0) {
      value_error(std::string(name) + " must fit in a signed 64-bit integer, got " + py::repr(o).cast<std::string>());
    }
    return static_cast<int64_t>(v);
  }
  if (PyBool_Check(o)) type_error(std::string(name) + " must be an integer, got the bool " + py::repr(o).cast<std::string>());
  if (!PyIndex_Check(o)) type_error(std::string(name) + " must be an integer, got " + type_and_repr(o));
  const long long v = PyLong_AsLongLong(o);  // anything with __index__
  if (v == -1 && PyErr_Occurred()) {
    if (!PyErr_ExceptionMatches(PyExc_OverflowError)) throw py::error_already_set();
    PyErr_Clear();
    value_error(std::string(name) + " must fit in a signed 64-bit integer, got " + py::repr(o).cast<std::string>());
  }
  return static_cast<int64_t>(v);
}

bool arg_bool(PyObject* const* args, int i, const char* name) {
  PyObject* o = args[i];
  if (o == Py_True) return true;
  if (o == Py_False) return false;
  if (reinterpret_cast<PyObject*>(Py_TYPE(o)) == g_numpy_bool) return PyObject_IsTrue(o) == 1;
  type_error(std::string(name) + " must be a bool, got " + type_and_repr(o));
}

py::array arg_array(PyObject* const* args, int i, const char* name) {
  py::handle h(args[i]);
  if (!py::isinstance<py::array>(h)) type_error(std::string(name) + " must be a numpy.ndarray");
  return py::reinterpret_borrow<py::array>(h);
}

template <class Body>
PyObject* fastcall(Py_ssize_t nargs, Py_ssize_t want, const char* fname, Body&& body) {
  try {
    if (nargs != want) {
      type_error(std::string(fname) + "() takes " + std::to_string(want) + " positional arguments, got " +
                 std::to_string(nargs));
    }
    return body().release().ptr();
  } catch (...) {
    py::detail::try_translate_exceptions();
    return nullptr;
  }
}

// Arguments are read in order (so the first bad one is the one reported).
PyObject* max_pool2d_fast(PyObject*, PyObject* const* a, Py_ssize_t nargs) {
  return fastcall(nargs, 15, "max_pool2d", [a]() -> py::object {
    const py::array x = arg_array(a, 0, "x");
    int64_t v[10];
    const char* names[10] = {"kernel_size", "kernel_size", "stride", "stride", "dilation",
                             "dilation",    "padding",     "padding", "padding", "padding"};
    for (int i = 0; i < 10; ++i) v[i] = arg_int(a, i + 1, names[i]);
    const bool ceil_mode = arg_bool(a, 11, "ceil_mode");
    const int mode = static_cast<int>(arg_int(a, 12, "mode"));
    const bool return_indices = arg_bool(a, 13, "return_indices");
    return max_pool2d(x, v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], ceil_mode, mode,
                      return_indices, py::reinterpret_borrow<py::object>(a[14]));
  });
}

PyObject* avg_pool2d_fast(PyObject*, PyObject* const* a, Py_ssize_t nargs) {
  return fastcall(nargs, 15, "avg_pool2d", [a]() -> py::object {
    const py::array x = arg_array(a, 0, "x");
    int64_t v[8];
    const char* names[8] = {"kernel_size", "kernel_size", "stride", "stride", "padding", "padding", "padding", "padding"};
    for (int i = 0; i < 8; ++i) v[i] = arg_int(a, i + 1, names[i]);
    const bool ceil_mode = arg_bool(a, 9, "ceil_mode");
    const int mode = static_cast<int>(arg_int(a, 10, "mode"));
    const bool count_include_pad = arg_bool(a, 11, "count_include_pad");
    const int64_t divisor_override = arg_int(a, 12, "divisor_override");
    py::object dtype = py::reinterpret_borrow<py::object>(a[13]);
    if (!dtype.is_none() && !py::isinstance<py::dtype>(dtype)) type_error("dtype must be a numpy.dtype or None");
    return avg_pool2d(x, v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], ceil_mode, mode, count_include_pad,
                      divisor_override, dtype, py::reinterpret_borrow<py::object>(a[14]));
  });
}

PyMethodDef kFastMethods[] = {
    {"max_pool2d", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&max_pool2d_fast)), METH_FASTCALL,
     "max_pool2d(x, kh, kw, sh, sw, dh, dw, pt, pb, pl, pr, ceil_mode, mode, return_indices, out)\n\n"
     "Max pooling of a 2-4 dimensional NHWC array (see nhwcpool.max_pool2d)."},
    {"avg_pool2d", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&avg_pool2d_fast)), METH_FASTCALL,
     "avg_pool2d(x, kh, kw, sh, sw, pt, pb, pl, pr, ceil_mode, mode, count_include_pad, divisor_override, dtype, "
     "out)\n\nAverage pooling of a 2-4 dimensional NHWC array (see nhwcpool.avg_pool2d)."},
    {nullptr, nullptr, 0, nullptr}};

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

py::list simd_levels(bool (*pred)(nhwcpool::SimdLevel)) {
  py::list out;
  for (int i = 0; i < 3; ++i) {
    const auto level = static_cast<nhwcpool::SimdLevel>(i);
    if (pred(level)) out.append(nhwcpool::simd_level_name(level));
  }
  return out;
}

}  // namespace

// A new C-contiguous result (up to 4 dimensions) from the output cache above, for
// bindings_backward.cpp, whose large gradients would otherwise fault in fresh pages each call.
py::array nhwcpool_new_result(const py::dtype& dt, const std::vector<py::ssize_t>& dims) {
  Shape s;
  s.ndim = static_cast<int>(dims.size());
  for (int i = 0; i < s.ndim && i < 4; ++i) s.dim[i] = dims[static_cast<std::size_t>(i)];
  return new_result(dt, s);
}
void bind_pyramid(py::module_& m);  // bindings_pyramid.cpp

PYBIND11_MODULE(_core, m, py::mod_gil_not_used()) {
  m.doc() = "nhwcpool compiled core (private; use the nhwcpool package)";
  m.attr("__version__") = NHWCPOOL_VERSION;
  m.attr("PAD_EXPLICIT") = static_cast<int>(kExplicit);
  m.attr("PAD_VALID") = static_cast<int>(kValid);
  m.attr("PAD_SAME") = static_cast<int>(kSame);

  m.def(
      "output_size",
      [](int64_t n, int64_t k, int64_t s, int64_t d, int64_t pb, int64_t pe, bool ceil_mode, int mode) {
        if (mode == kSame) {
          const auto p = nhwcpool::same_padding(n, k, s, d, "");
          pb = p.first; pe = p.second;
        } else if (mode == kValid) {
          pb = pe = 0;
        }
        return nhwcpool::output_size(n, axis(k, s, d, pb, pe), ceil_mode, mode == kExplicit, "");
      },
      py::arg("n"), py::arg("kernel"), py::arg("stride"), py::arg("dilation"), py::arg("pad_begin"),
      py::arg("pad_end"), py::arg("ceil_mode"), py::arg("mode"));
  m.def("output_shape", &output_shape);
  g_numpy_bool = py::object(py::module_::import("numpy").attr("bool_")).release().ptr();  // kept for life
  for (PyMethodDef* def = kFastMethods; def->ml_name != nullptr; ++def) {
    PyObject* f = PyCFunction_NewEx(def, nullptr, m.attr("__name__").ptr());
    if (!f) throw py::error_already_set();
    m.add_object(def->ml_name, py::reinterpret_steal<py::object>(f));
  }

  m.def("set_num_threads", [](int64_t n) {
    if (n < 1 || n > 1 << 16) value_error("set_num_threads: n must be between 1 and 65536, got " + std::to_string(n));
    nhwcpool::set_num_threads(static_cast<int>(n));
  });
  m.def("get_num_threads", &nhwcpool::get_num_threads);
  m.def("openmp_enabled", &nhwcpool::openmp_enabled);
  bind_threads(m);
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
  m.def("supported_simd_levels", [] { return simd_levels(&nhwcpool::simd_level_supported); });
  m.def("compiled_simd_levels", [] { return simd_levels(&nhwcpool::simd_level_compiled); });
  // Private: output size (bytes) from which results are written with streaming stores; tests
  // set 0 to run the streaming paths on small arrays.
  m.def("_set_stream_threshold", [](int64_t bytes) {
    if (bytes < 0) value_error("_set_stream_threshold: bytes must be >= 0, got " + std::to_string(bytes));
    nhwcpool::set_stream_threshold(bytes);
  });
  m.def("_get_stream_threshold", &nhwcpool::stream_threshold);
  m.def("_last_level_cache_bytes", &nhwcpool::last_level_cache_bytes);
  // Private: bytes of freed large results kept for reuse (0: off), and bytes held now.
  m.def("_set_output_cache_bytes", [](int64_t bytes) {
    if (bytes < 0) value_error("_set_output_cache_bytes: bytes must be >= 0, got " + std::to_string(bytes));
    OutputCache::get().set_limit(static_cast<std::size_t>(bytes));
  });
  bind_pyramid(m);
  m.def("_get_output_cache_bytes", [] { return static_cast<int64_t>(OutputCache::get().limit()); });
  m.def("_output_cache_held", [] { return static_cast<int64_t>(OutputCache::get().held()); });
  void bind_backward(py::module_&); bind_backward(m);  // bindings_backward.cpp: gradients, max_unpool2d
}
