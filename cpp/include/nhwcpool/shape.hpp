// The one place that computes pooling output sizes, padding and window tables.
// Every kernel and the Python layer use these functions; nothing else does this arithmetic.
#pragma once
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

namespace nhwcpool {

// Hyperparameters of one spatial axis, as the user gave them (already resolved from
// "same"/"valid" to explicit begin/end padding).
struct AxisParams {
  std::int64_t kernel = 1;
  std::int64_t stride = 1;
  std::int64_t dilation = 1;
  std::int64_t pad_begin = 0;
  std::int64_t pad_end = 0;
};

// Checked 64-bit arithmetic; throws std::invalid_argument naming `what` on overflow.
std::int64_t checked_mul(std::int64_t a, std::int64_t b, const char* what);
std::int64_t checked_add(std::int64_t a, std::int64_t b, const char* what);

// dilation*(kernel-1)+1, checked.
std::int64_t effective_kernel(std::int64_t kernel, std::int64_t dilation, const char* axis);

// Output length of one axis:
//   floor((n + pad_begin + pad_end - dilation*(kernel-1) - 1) / stride) + 1
// With ceil_mode the division rounds up, and (PyTorch's rule) a last window that would start
// in the end padding is dropped. Validates every argument (kernel, stride, dilation >= 1,
// 0 <= pad <= effective_kernel/2 when check_pad_limit, output >= 1) and throws
// std::invalid_argument with a message naming the argument and the rule.
std::int64_t output_size(std::int64_t n, const AxisParams& p, bool ceil_mode, bool check_pad_limit,
                         const char* axis);

// TensorFlow/Keras "same" padding for one axis: total = max((ceil(n/s)-1)*s + eff - n, 0),
// begin = total/2, end = total - begin (the odd cell goes to the end).
std::pair<std::int64_t, std::int64_t> same_padding(std::int64_t n, std::int64_t kernel,
                                                   std::int64_t stride, std::int64_t dilation,
                                                   const char* axis);

// Full geometry of one pooling call over an (N, H, W, C) input.
struct Geometry {
  std::int64_t N = 0, H = 0, W = 0, C = 0;
  std::int64_t OH = 0, OW = 0;
  AxisParams h, w;
  // Most window taps that can fall inside the input on each axis: min(kernel, ceil(n/dilation)).
  // Kernels size scratch memory and choose loop orders from these, never from kernel_size
  // (which may be astronomically larger than the input when ceil_mode or "same" allows it).
  std::int64_t taps_h = 1, taps_w = 1;
};

// Validates everything, including that N*OH*OW*C, N*H*W*C and their byte sizes fit in 64 bits.
Geometry make_geometry(std::int64_t N, std::int64_t H, std::int64_t W, std::int64_t C,
                       const AxisParams& h, const AxisParams& w, bool ceil_mode,
                       bool check_pad_limit);

// Per-output-position window description for one axis, precomputed once per call so that
// kernels never branch on padding inside their channel loops (the habit of PyTorch's and
// oneDNN's drivers; README.md, "How it is fast").
struct AxisTable {
  // One read-only column of the table (indexable like the std::vector it replaced).
  struct Column {
    const std::int64_t* p = nullptr;
    std::size_t n = 0;
    const std::int64_t& operator[](std::size_t i) const { return p[i]; }
    std::size_t size() const { return n; }
  };
  // First in-range tap (input coordinate) and the number of in-range taps of each window.
  Column first, count;
  // PyTorch's initial argmax coordinate: the first tap >= 0, even when it lies past the end
  // (only possible for windows with no in-range tap, which need dilation). Same values as
  // `first`, which is also defined that way.
  Column start;
  // Taps inside [-pad_begin, n + pad_end): the divisor with count_include_pad.
  Column padded_count;
  // Number of windows that hold every tap in range (their start columns are contiguous
  // in stride steps); used by the small-channel fast path.
  std::int64_t full_begin = 0, full_end = 0;

  // The columns live in one allocation (one per axis and call: small calls are dominated
  // by allocator traffic). Moving keeps the columns valid; copying is not needed.
  AxisTable() = default;
  AxisTable(AxisTable&&) = default;
  AxisTable& operator=(AxisTable&&) = default;
  AxisTable(const AxisTable&) = delete;
  AxisTable& operator=(const AxisTable&) = delete;
  std::unique_ptr<std::int64_t[]> storage;
};

AxisTable make_axis_table(std::int64_t n, std::int64_t out, const AxisParams& p);

// The transpose of an AxisTable, for gradients gathered per input position: for each input
// coordinate i in [0, n), the output positions whose window has i as an in-range tap, in
// ascending order: outputs[offsets[i]] .. outputs[offsets[i+1] - 1]. Built from the table's
// first/count columns and the axis dilation (no window arithmetic of its own). most: the
// largest number of outputs covering one coordinate; span: the largest distance between the
// first and last of them plus one (the outputs covering one coordinate are consecutive when
// dilation is 1, then span == most).
struct CoverTable {
  std::unique_ptr<std::int64_t[]> storage;
  const std::int64_t* offsets = nullptr;  // n + 1 entries
  const std::int64_t* outputs = nullptr;
  std::int64_t most = 0, span = 0;
};

CoverTable make_cover_table(std::int64_t n, const AxisTable& t, std::int64_t dilation);

}  // namespace nhwcpool
