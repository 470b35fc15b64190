// Entry points of the pooling kernels: pure functions over pointers, shapes and strides.
#pragma once
#include <cstdint>

#include "nhwcpool/dtype.hpp"
#include "nhwcpool/shape.hpp"

namespace nhwcpool {

// Input view: element (n, h, w, c) lives at
//   data + n*stride_n + h*stride_h + (w*C + c)*itemsize      (stride_c == 0: NHWC rows)
//   data + n*stride_n + c*stride_c + h*stride_h + w*itemsize (stride_c != 0: planar, e.g. NCHW)
// (strides in bytes, may be negative): every (w, c) row, or with stride_c every w row of a
// channel plane, is contiguous. Output arrays are C-contiguous (N, OH, OW, C) either way.
// Input and output pointers (and strides) must be aligned to their element type (the kernels
// load floats and integers directly); no larger alignment is needed. The Python bindings
// accept only aligned arrays (or copy the input into one).
struct InputView {
  const void* data = nullptr;
  std::int64_t stride_n = 0;
  std::int64_t stride_h = 0;
  std::int64_t stride_c = 0;
};

struct MaxPoolArgs {
  DType dtype = DType::f32;
  Geometry geo;
  InputView in;
  void* out = nullptr;
  std::int64_t* indices = nullptr;  // optional: flat y*W + x inside each (n, c) plane
  const AxisTable* htab = nullptr;
  const AxisTable* wtab = nullptr;
  int threads = 1;
  bool stream = false;  // write the output with non-temporal stores (large outputs)
};

struct AvgPoolArgs {
  DType in_dtype = DType::f32;
  DType out_dtype = DType::f32;
  Geometry geo;
  InputView in;
  void* out = nullptr;
  bool count_include_pad = true;
  std::int64_t divisor_override = 0;  // 0 = none
  const AxisTable* htab = nullptr;
  const AxisTable* wtab = nullptr;
  int threads = 1;
  bool stream = false;  // write the output with non-temporal stores (large outputs)
};

// A planar array (N, C, H, W), element (n, c, h, w) at
//   src + n*stride_n + c*stride_c + h*stride_h + w*size      (bytes, strides may be negative),
// copied into the C-contiguous (N, H, W, C) array at dst. stream: non-temporal stores asked
// for; the kernel uses them only when dst is 64-byte aligned and C*size is a multiple of 64
// (every store a whole line), as the pooling kernels do for their outputs.
struct TransposeArgs {
  const void* src = nullptr;
  void* dst = nullptr;
  std::int64_t N = 0, C = 0, H = 0, W = 0;
  std::int64_t stride_n = 0, stride_c = 0, stride_h = 0;
  int size = 4;  // bytes per element: 1, 2, 4 or 8
  int threads = 1;
  bool stream = false;
};

// Outputs of at least this many bytes (or of an eighth of it, when input plus output reach twice
// it) are written with non-temporal (streaming) stores, which skip the read-for-ownership of each
// output line and leave the caches to the input. Smaller outputs stay in cache for whoever reads
// them next. Settable for tests; the rule is use_stream in dispatch.cpp.
void set_stream_threshold(std::int64_t bytes);
std::int64_t stream_threshold();

// The last-level cache of this machine in bytes, detected once (Linux: sysfs, the largest level
// cpu0 shares;
// macOS: sysctl hw.l3cachesize, else hw.l2cachesize), 32 MiB when unknown, clamped to
// [4 MiB, 1 GiB]. The default stream threshold is a quarter of it, and the direct kernels
// prefetch inputs larger than it into L2 rather than L1 (kernels/taplist.hpp): tuned on a
// 32 MiB-L3 Zen 4, scaled to the machine they run on.
std::int64_t last_level_cache_bytes();

// Planar views (stride_c != 0) are pooled plane by plane with the one-channel kernels, whose
// sums run rows first. That is exact for max pooling, and for averages of integers up to 32
// bits (int64 sums), where this is true; other averages would differ in the last bit from the
// NHWC path (and PyTorch's row-major order), so avg_pool2d first transposes such inputs into
// an NHWC buffer (to_channels_last) and pools that.
bool avg_reads_planar(DType in_dtype);

// The transpose above, at the selected SIMD level, in parallel (get_num_threads()). Streams
// when allowed and the copy is large (stream_threshold()).
void to_channels_last(const void* src, void* dst, std::int64_t N, std::int64_t C, std::int64_t H, std::int64_t W,
                      std::int64_t stride_n, std::int64_t stride_c, std::int64_t stride_h, int size);

// High-level calls: validate geometry/tables, pick the SIMD level, run in parallel.
void max_pool2d(DType dtype, const Geometry& geo, const InputView& in, void* out,
                std::int64_t* indices);
void avg_pool2d(DType in_dtype, DType out_dtype, const Geometry& geo, const InputView& in,
                void* out, bool count_include_pad, std::int64_t divisor_override);

// Where a new output of this call should start, in bytes past a 64-byte boundary (0..63), for
// the fastest kernel: the input's own offset where the float32 sliding window (stride-1 2x2
// and 3x3 windows) streams its output, since it walks channel chunks aligned to the input; 0
// otherwise. A hint for whoever allocates the output: every output is computed correctly.
std::int64_t preferred_output_offset(DType in_dtype, DType out_dtype, const Geometry& geo, const InputView& in);

// Run-time SIMD selection (dispatch.cpp).
enum class SimdLevel : int { baseline = 0, avx2 = 1, avx512 = 2 };
const char* simd_level_name(SimdLevel level);
bool simd_level_from_name(const char* name, SimdLevel* level);
bool simd_level_compiled(SimdLevel level);   // this binary has kernels for it
bool simd_level_supported(SimdLevel level);  // ... and this CPU can run them
SimdLevel simd_level();                       // currently selected
void set_simd_level(SimdLevel level);         // throws std::invalid_argument if unsupported
SimdLevel best_simd_level();

// One set of kernels per instruction set, each compiled in its own translation unit with
// its own flags (PyTorch's DispatchStub habit). Declared per ISA namespace.
#define NHWCPOOL_DECLARE_ISA(ns)                          \
  namespace ns {                                          \
  void max_pool(const MaxPoolArgs& args);                 \
  void avg_pool(const AvgPoolArgs& args);                 \
  std::int64_t output_offset(DType in_dtype, DType out_dtype, const Geometry& geo, const InputView& in); \
  void transpose(const TransposeArgs& args);              \
  }
NHWCPOOL_DECLARE_ISA(baseline)
NHWCPOOL_DECLARE_ISA(avx2)
NHWCPOOL_DECLARE_ISA(avx512)
#undef NHWCPOOL_DECLARE_ISA

}  // namespace nhwcpool
