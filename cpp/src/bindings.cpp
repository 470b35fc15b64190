// The binding layer: NumPy arrays in, pointers/shapes/strides to the core, arrays out.
//
// Python (python/nhwcpool/_api.py) normalises the scalar hyperparameters; this file does the
// array side in one call so that a small pooling call costs one crossing: dtype and ndim
// checks, a native C-contiguous copy only when the layout needs one, output allocation or
// validation of `out`, then the GIL is released around the kernel. Every buffer the kernels
// touch is checked here, so the module is memory-safe even when called directly.
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

#include "nhwcpool/kernels.hpp"
#include "nhwcpool/parallel.hpp"
#include "nhwcpool/shape.hpp"

namespace py = pybind11;
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

constexpr const char* kSupported =
    "float16, float32, float64, int8, uint8, int16, uint16, int32, int64, uint32, uint64";

enum PadMode : int { kExplicit = 0, kValid = 1, kSame = 2 };

[[noreturn]] void value_error(const std::string& msg) { throw py::value_error(msg); }
[[noreturn]] void type_error(const std::string& msg) { throw py::type_error(msg); }

std::string dtype_str(const py::dtype& dt) { return py::str(dt).cast<std::string>(); }

bool dtype_lookup(const py::dtype& dt, DType* out) {
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

DType dtype_of(const py::dtype& dt, const char* name) {
  DType t;
  if (!dtype_lookup(dt, &t)) {
    type_error(std::string(name) + " has unsupported dtype " + dtype_str(dt) +
               "; supported dtypes are: " + kSupported);
  }
  return t;
}

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

bool native_order(const py::dtype& dt) {
  const char bo = dt.byteorder();
  if (bo == '=' || bo == '|') return true;
  const std::uint16_t probe = 1;
  const bool little = *reinterpret_cast<const unsigned char*>(&probe) == 1;
  return little ? bo == '<' : bo == '>';
}

int flags(const py::array& a) { return a.flags(); }

// Byte range [lo, hi) an array may touch (the bounds test of numpy.may_share_memory).
bool overlaps(const py::array& a, const py::array& b) {
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
  return in;
}

std::vector<py::ssize_t> out_shape(const Input& in, const Geometry& g) {
  if (in.ndim == 4) return {g.N, g.OH, g.OW, g.C};
  if (in.ndim == 3) return {g.OH, g.OW, g.C};
  return {g.OH, g.OW};
}

// "(2, 3)" / "(5,)" / "()" as Python prints a shape.
std::string shape_str(const std::vector<py::ssize_t>& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
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

// A new C-contiguous array for a result (from the cache when large).
py::array new_result(const py::dtype& dt, const std::vector<py::ssize_t>& shape) {
  std::size_t bytes = static_cast<std::size_t>(dt.itemsize());
  for (auto d : shape) bytes *= static_cast<std::size_t>(d);  // checked by make_geometry
  OutputCache& cache = OutputCache::get();
  if (bytes < OutputCache::kMinBytes || bytes > cache.limit()) return py::array(dt, shape);
  auto* buf = new CachedBuffer{cache.take(bytes), bytes, 0};
  // The capsule owns the buffer from here on (also if creating the array fails).
  py::capsule owner(buf, [](void* h) {
    auto* b = static_cast<CachedBuffer*>(h);
    OutputCache::get().give(b->p, b->bytes);
    delete b;
  });
  return py::array(dt, shape, std::vector<py::ssize_t>{}, buf->p, owner);
}

// A new C-contiguous result, or the caller's `out` after checking everything the kernel
// relies on.
py::array make_output(const py::object& out, const char* name, DType dt, const Input& in,
                      const Geometry& g) {
  const auto shape = out_shape(in, g);
  if (out.is_none()) {
    return new_result(dt == in.dtype ? in.arr.dtype() : native_dtype(dt), shape);
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
  bool same = a.ndim() == static_cast<py::ssize_t>(shape.size());
  for (std::size_t i = 0; same && i < shape.size(); ++i) same = a.shape(static_cast<py::ssize_t>(i)) == shape[i];
  if (!same) {
    std::vector<py::ssize_t> got_shape(a.shape(), a.shape() + a.ndim());
    value_error(std::string(name) + " must have shape " + shape_str(shape) + " for this input, got " +
                shape_str(got_shape));
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
  py::array res = make_output(out, "out", in.dtype, in, g);
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
  m.def("max_pool2d", &max_pool2d, "Max pooling of a 2-4 dimensional NHWC array (see nhwcpool.max_pool2d).");
  m.def("avg_pool2d", &avg_pool2d, "Average pooling of a 2-4 dimensional NHWC array (see nhwcpool.avg_pool2d).");

  m.def("set_num_threads", [](int64_t n) {
    if (n < 1 || n > 1 << 16) value_error("set_num_threads: n must be between 1 and 65536, got " + std::to_string(n));
    nhwcpool::set_num_threads(static_cast<int>(n));
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
  m.def("supported_simd_levels", [] { return simd_levels(&nhwcpool::simd_level_supported); });
  m.def("compiled_simd_levels", [] { return simd_levels(&nhwcpool::simd_level_compiled); });
  // Private: output size (bytes) from which results are written with streaming stores; tests
  // set 0 to run the streaming paths on small arrays.
  m.def("_set_stream_threshold", [](int64_t bytes) {
    if (bytes < 0) value_error("_set_stream_threshold: bytes must be >= 0, got " + std::to_string(bytes));
    nhwcpool::set_stream_threshold(bytes);
  });
  m.def("_get_stream_threshold", &nhwcpool::stream_threshold);
  // Private: bytes of freed large results kept for reuse (0: off), and bytes held now.
  m.def("_set_output_cache_bytes", [](int64_t bytes) {
    if (bytes < 0) value_error("_set_output_cache_bytes: bytes must be >= 0, got " + std::to_string(bytes));
    OutputCache::get().set_limit(static_cast<std::size_t>(bytes));
  });
  m.def("_get_output_cache_bytes", [] { return static_cast<int64_t>(OutputCache::get().limit()); });
  m.def("_output_cache_held", [] { return static_cast<int64_t>(OutputCache::get().held()); });
}
