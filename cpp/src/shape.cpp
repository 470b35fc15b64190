// Output sizes, padding and per-axis window tables: the single source of this arithmetic.
#include "nhwcpool/shape.hpp"

#include <limits>
#include <stdexcept>
#include <string>

#include "nhwcpool/dtype.hpp"

namespace nhwcpool {
namespace {

constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();

[[noreturn]] void fail(const std::string& msg) { throw std::invalid_argument(msg); }

std::string axis_suffix(const char* axis) {
  return (axis && *axis) ? std::string(" (") + axis + " axis)" : std::string();
}

// floor division for a possibly negative numerator and a positive denominator
std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && (a < 0)) --q;
  return q;
}

std::int64_t ceil_div_pos(std::int64_t a, std::int64_t b) {  // a >= 0, b > 0
  return a / b + (a % b != 0 ? 1 : 0);
}

}  // namespace

const char* dtype_name(DType t) {
  switch (t) {
    case DType::f16: return "float16";
    case DType::f32: return "float32";
    case DType::f64: return "float64";
    case DType::i8: return "int8";
    case DType::u8: return "uint8";
    case DType::i16: return "int16";
    case DType::u16: return "uint16";
    case DType::i32: return "int32";
    case DType::i64: return "int64";
    case DType::u32: return "uint32";
    case DType::u64: return "uint64";
  }
  return "?";
}

std::int64_t checked_mul(std::int64_t a, std::int64_t b, const char* what) {
  std::int64_t r = 0;
  if (a < 0 || b < 0) fail(std::string(what) + " must not be negative");
  if (a != 0 && b > kMax / a) {
    fail(std::string(what) + " overflows 64-bit integers (" + std::to_string(a) + " * " +
         std::to_string(b) + ")");
  }
  r = a * b;
  return r;
}

std::int64_t checked_add(std::int64_t a, std::int64_t b, const char* what) {
  if ((b > 0 && a > kMax - b) || (b < 0 && a < std::numeric_limits<std::int64_t>::min() - b)) {
    fail(std::string(what) + " overflows 64-bit integers (" + std::to_string(a) + " + " +
         std::to_string(b) + ")");
  }
  return a + b;
}

std::int64_t effective_kernel(std::int64_t kernel, std::int64_t dilation, const char* axis) {
  if (kernel < 1) {
    fail("kernel_size must be >= 1, got " + std::to_string(kernel) + axis_suffix(axis));
  }
  if (dilation < 1) {
    fail("dilation must be >= 1, got " + std::to_string(dilation) + axis_suffix(axis));
  }
  return checked_add(checked_mul(dilation, kernel - 1, "dilation*(kernel_size-1)"), 1,
                     "effective kernel size");
}

std::int64_t output_size(std::int64_t n, const AxisParams& p, bool ceil_mode,
                         bool check_pad_limit, const char* axis) {
  const std::string where = axis_suffix(axis);
  const std::int64_t eff = effective_kernel(p.kernel, p.dilation, axis);
  if (p.stride < 1) fail("stride must be >= 1, got " + std::to_string(p.stride) + where);
  if (n < 1) fail("input size must be >= 1, got " + std::to_string(n) + where);
  if (p.pad_begin < 0 || p.pad_end < 0) {
    fail("padding must be >= 0, got (" + std::to_string(p.pad_begin) + ", " +
         std::to_string(p.pad_end) + ")" + where);
  }
  if (check_pad_limit && (p.pad_begin > eff / 2 || p.pad_end > eff / 2)) {
    fail("padding must be at most half the effective kernel size (dilation*(kernel_size-1)+1 = " +
         std::to_string(eff) + ", so at most " + std::to_string(eff / 2) + "), got (" +
         std::to_string(p.pad_begin) + ", " + std::to_string(p.pad_end) + ")" + where);
  }
  const std::int64_t padded =
      checked_add(checked_add(n, p.pad_begin, "padded input size"), p.pad_end, "padded input size");
  const std::int64_t span = padded - eff;  // may be negative: window larger than padded input
  // floor (or ceil) of span / stride without forming span + stride - 1, which can overflow.
  std::int64_t out = floor_div(span, p.stride);
  if (ceil_mode && span - out * p.stride != 0) ++out;
  ++out;
  // PyTorch's ceil_mode rule: the last window must start inside the input or the begin padding.
  if (ceil_mode && out > 0 && (out - 1) > (n + p.pad_begin - 1) / p.stride) --out;
  if (out < 1) {
    fail("kernel window (effective size " + std::to_string(eff) +
         ") is larger than the padded input (size " + std::to_string(padded) +
         "): output size would be " + std::to_string(out) + where);
  }
  return out;
}

std::pair<std::int64_t, std::int64_t> same_padding(std::int64_t n, std::int64_t kernel,
                                                   std::int64_t stride, std::int64_t dilation,
                                                   const char* axis) {
  const std::int64_t eff = effective_kernel(kernel, dilation, axis);
  if (stride < 1) fail("stride must be >= 1, got " + std::to_string(stride) + axis_suffix(axis));
  if (n < 1) fail("input size must be >= 1, got " + std::to_string(n) + axis_suffix(axis));
  const std::int64_t out = ceil_div_pos(n, stride);
  std::int64_t total = checked_add(checked_mul(out - 1, stride, "same padding"), eff, "same padding") - n;
  if (total < 0) total = 0;
  return {total / 2, total - total / 2};
}

Geometry make_geometry(std::int64_t N, std::int64_t H, std::int64_t W, std::int64_t C,
                       const AxisParams& h, const AxisParams& w, bool ceil_mode,
                       bool check_pad_limit) {
  if (N < 0 || C < 0) fail("x must not have negative sizes");
  if (H < 1 || W < 1) {
    fail("x must have non-empty spatial axes (H and W >= 1), got H=" + std::to_string(H) +
         ", W=" + std::to_string(W));
  }
  Geometry g;
  g.N = N; g.H = H; g.W = W; g.C = C; g.h = h; g.w = w;
  g.OH = output_size(H, h, ceil_mode, check_pad_limit, "height");
  g.OW = output_size(W, w, ceil_mode, check_pad_limit, "width");
  g.taps_h = h.kernel < ceil_div_pos(H, h.dilation) ? h.kernel : ceil_div_pos(H, h.dilation);
  g.taps_w = w.kernel < ceil_div_pos(W, w.dilation) ? w.kernel : ceil_div_pos(W, w.dilation);
  // Every element count and byte count the kernels may form must fit in int64.
  const std::int64_t plane_in = checked_mul(H, W, "input size H*W");
  checked_mul(checked_mul(checked_mul(plane_in, C, "input size H*W*C"), N, "input size N*H*W*C"), 8,
              "input size in bytes");
  const std::int64_t plane_out = checked_mul(g.OH, g.OW, "output size OH*OW");
  checked_mul(checked_mul(checked_mul(plane_out, C, "output size OH*OW*C"), N, "output size N*OH*OW*C"),
              8, "output size in bytes");
  checked_mul(checked_mul(W, C, "row size W*C"), 16, "row scratch size");
  return g;
}

AxisTable make_axis_table(std::int64_t n, std::int64_t out, const AxisParams& p) {
  AxisTable t;
  const auto m = static_cast<std::size_t>(out);
  t.storage.reset(new std::int64_t[3 * m + 1]);
  std::int64_t* first = t.storage.get();
  std::int64_t* count = first + m;
  std::int64_t* padded = count + m;
  t.first = {first, m};
  t.start = {first, m};
  t.count = {count, m};
  t.padded_count = {padded, m};
  const std::int64_t k = p.kernel, s = p.stride, d = p.dilation;
  bool seen_full = false;
  for (std::int64_t o = 0; o < out; ++o) {
    const std::int64_t ws = o * s - p.pad_begin;  // position of tap 0 (>= -pad_begin)
    const std::int64_t t0 = ws >= 0 ? 0 : ceil_div_pos(-ws, d);
    const std::int64_t lim = n - ws;               // taps with ws + t*d < n
    std::int64_t t1 = lim > 0 ? ceil_div_pos(lim, d) : 0;
    if (t1 > k) t1 = k;
    const std::int64_t cnt = t1 > t0 ? t1 - t0 : 0;
    const std::int64_t plim = n + p.pad_end - ws;  // taps inside the padded extent
    std::int64_t tp = plim > 0 ? ceil_div_pos(plim, d) : 0;
    if (tp > k) tp = k;
    const auto i = static_cast<std::size_t>(o);
    first[i] = ws + t0 * d;
    count[i] = cnt;
    padded[i] = tp;
    if (cnt == k) {
      if (!seen_full) { t.full_begin = o; seen_full = true; }
      t.full_end = o + 1;
    }
  }
  return t;
}

CoverTable make_cover_table(std::int64_t n, const AxisTable& t, std::int64_t dilation) {
  if (n < 1 || dilation < 1) fail("make_cover_table: n and dilation must be >= 1");
  const auto out = static_cast<std::int64_t>(t.count.size());
  std::int64_t total = 0;
  for (std::int64_t o = 0; o < out; ++o) total = checked_add(total, t.count[static_cast<std::size_t>(o)], "cover table size");
  const std::int64_t cells = checked_add(checked_add(n, 1, "cover table size"), total, "cover table size");
  CoverTable c;
  c.storage.reset(new std::int64_t[static_cast<std::size_t>(cells)]);
  std::int64_t* off = c.storage.get();
  std::int64_t* list = off + n + 1;
  for (std::int64_t i = 0; i <= n; ++i) off[i] = 0;
  // Counting sort by input coordinate; outputs visited in ascending order stay ascending.
  for (std::int64_t o = 0; o < out; ++o) {
    const auto oi = static_cast<std::size_t>(o);
    for (std::int64_t k = 0; k < t.count[oi]; ++k) {
      const std::int64_t i = t.first[oi] + k * dilation;
      if (i < 0 || i >= n) fail("make_cover_table: window table does not match the axis size");
      ++off[i + 1];
    }
  }
  for (std::int64_t i = 0; i < n; ++i) {
    c.most = off[i + 1] > c.most ? off[i + 1] : c.most;
    off[i + 1] += off[i];
  }
  std::unique_ptr<std::int64_t[]> fill(new std::int64_t[static_cast<std::size_t>(n)]);
  for (std::int64_t i = 0; i < n; ++i) fill[static_cast<std::size_t>(i)] = off[i];
  for (std::int64_t o = 0; o < out; ++o) {
    const auto oi = static_cast<std::size_t>(o);
    for (std::int64_t k = 0; k < t.count[oi]; ++k) {
      const std::int64_t i = t.first[oi] + k * dilation;
      list[fill[static_cast<std::size_t>(i)]++] = o;
    }
  }
  for (std::int64_t i = 0; i < n; ++i) {
    if (off[i + 1] > off[i]) {
      const std::int64_t sp = list[off[i + 1] - 1] - list[off[i]] + 1;
      c.span = sp > c.span ? sp : c.span;
    }
  }
  c.offsets = off;
  c.outputs = list;
  return c;
}

}  // namespace nhwcpool
