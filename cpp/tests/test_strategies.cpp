// Tests per kernel strategy (docs/architecture.md): for each strategy and each SIMD level this
// machine runs, a table of shapes chosen to force it, run over channel tails, inputs 0, 4 and 16
// bytes past a cache line (one with padded rows), streamed and ordinary stores, one and two
// threads, and data with ties, -0/+0, NaN, infinities and huge values; every output is compared
// bit for bit with a scalar reference. A failure names the level, the strategy, the operation,
// the dtype and the shape.
//
// In a build configured with -DNHWCPOOL_TRACE_STRATEGIES=ON the kernels record which strategies
// ran (nhwcpool/trace.hpp), and each entry also checks that its strategy ran at the levels
// listed for it: that is how the table below was checked to reach what it claims.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "nhwcpool/kernels.hpp"
#include "nhwcpool/parallel.hpp"
#include "nhwcpool/shape.hpp"
#include "nhwcpool/trace.hpp"

using namespace nhwcpool;
using std::int64_t;

namespace {

int g_checks = 0, g_failures = 0;

AxisParams ax(int64_t k, int64_t s, int64_t d = 1, int64_t pb = 0, int64_t pe = -1) {
  AxisParams p;
  p.kernel = k;
  p.stride = s;
  p.dilation = d;
  p.pad_begin = pb;
  p.pad_end = pe < 0 ? pb : pe;
  return p;
}

enum class Op { max, argmax, avg };
// data: small integers (+0 only); with the special values (NaN of both signs, infinities, huge
// and tiny values, zeros of both signs; integers: the type's extremes); or `finite`, the same
// without NaN and infinities (so float16 max on the bits keeps its result: mixed zeros, ties,
// the largest and the smallest values)
enum class Kind { ints, special, finite };
const char* op_name(Op o) { return o == Op::max ? "max" : o == Op::argmax ? "argmax" : "avg"; }

constexpr unsigned kB = 1, kA2 = 2, kA5 = 4, kAll = 7;  // SIMD levels (bit = SimdLevel)
// The levels with the Vec layer's fused kernels (fused.hpp over vec.hpp): AVX2 and AVX-512,
// and on aarch64 the baseline level, a NEON build ("neon", vec_neon.hpp). kBx: the baseline
// level where it has no Vec layer (x86-64's SSE2 build).
// kVI: the levels with integer vectors (VecI: integer max blocks and runs, float16 max on the
// bits); kVA: the levels with the vector argmax (argmax_zmm).
#if defined(__aarch64__) && defined(__ARM_NEON)
constexpr unsigned kV = kB | kA2 | kA5, kBx = 0;
constexpr unsigned kVI = kV, kVA = kV;
#else
constexpr unsigned kV = kA2 | kA5, kBx = kB;
constexpr unsigned kVI = kA2 | kA5, kVA = kA2 | kA5;
#endif

struct Entry {
  Strategy strategy;  // what this entry forces
  unsigned levels;    // the levels at which it does (others run it through another strategy)
  Kind trace_kind;    // the data on which the strategy is checked to run
  Op op;
  DType dtype;
  int64_t N, H, W, C;
  AxisParams h, w;
  bool ceil;
};

// ---------------------------------------------------------------------------------------------
// Element types: raw storage, the value as double (exact for every type used here), bits.

struct F16 {
  std::uint16_t bits;
};

double half_value(std::uint16_t h) {
  const int e = (h >> 10) & 31, m = h & 1023;
  const double s = (h & 0x8000) ? -1.0 : 1.0;
  if (e == 31) return m ? std::numeric_limits<double>::quiet_NaN() : s * INFINITY;
  if (e == 0) return s * std::ldexp(static_cast<double>(m), -24);
  return s * std::ldexp(static_cast<double>(m + 1024), e - 25);
}

// float -> float16, round to nearest even, by search among the finite halves (independent of
// the kernels' bit arithmetic); NaN -> the quiet NaN with the float's top payload bits.
std::uint16_t half_bits(float f) {
  static std::vector<double> table;  // table[i] = value of half bits i, i in [0, 0x7c00]
  if (table.empty()) {
    for (int i = 0; i <= 0x7c00; ++i) table.push_back(half_value(static_cast<std::uint16_t>(i)));
  }
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  const std::uint16_t sign = static_cast<std::uint16_t>((u >> 16) & 0x8000);
  if (std::isnan(f)) return static_cast<std::uint16_t>(sign | 0x7e00 | ((u >> 13) & 0x3ff));
  const double a = std::fabs(static_cast<double>(f));
  // first half >= a (table is increasing; 0x7c00 is +inf)
  int lo = 0, hi = 0x7c00;
  while (lo < hi) {
    const int mid = (lo + hi) / 2;
    if (table[static_cast<std::size_t>(mid)] < a) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  int r = lo;
  if (lo > 0 && table[static_cast<std::size_t>(lo)] != a) {
    const double up = lo == 0x7c00 ? 65536.0 : table[static_cast<std::size_t>(lo)];  // inf: as 2^16
    const double down = table[static_cast<std::size_t>(lo - 1)];
    const double du = up - a, dd = a - down;
    r = du < dd ? lo : dd < du ? lo - 1 : ((lo & 1) == 0 ? lo : lo - 1);
  }
  return static_cast<std::uint16_t>(sign | r);
}

template <class T>
double value_of(const T& v) {
  if constexpr (std::is_same<T, F16>::value) {
    return half_value(v.bits);
  } else {
    return static_cast<double>(v);
  }
}

template <class T>
constexpr DType dtype_of() {
  if constexpr (std::is_same<T, F16>::value) return DType::f16;
  if constexpr (std::is_same<T, float>::value) return DType::f32;
  if constexpr (std::is_same<T, double>::value) return DType::f64;
  if constexpr (std::is_same<T, std::int8_t>::value) return DType::i8;
  if constexpr (std::is_same<T, std::uint8_t>::value) return DType::u8;
  if constexpr (std::is_same<T, std::int16_t>::value) return DType::i16;
  if constexpr (std::is_same<T, std::int32_t>::value) return DType::i32;
  if constexpr (std::is_same<T, std::uint16_t>::value) return DType::u16;
  if constexpr (std::is_same<T, std::uint32_t>::value) return DType::u32;
  if constexpr (std::is_same<T, std::int64_t>::value) return DType::i64;
  if constexpr (std::is_same<T, std::uint64_t>::value) return DType::u64;
  return DType::f32;
}

template <class T>
T from_double(double d) {
  if constexpr (std::is_same<T, F16>::value) {
    return F16{half_bits(static_cast<float>(d))};
  } else {
    return static_cast<T>(d);
  }
}

template <class T>
T canonical_nan() {
  if constexpr (std::is_same<T, F16>::value) {
    return F16{0x7e00};
  } else {
    return std::numeric_limits<T>::quiet_NaN();
  }
}

// The quiet NaN with the sign bit set (float16 on the bits sees it as the largest unsigned
// value, not as a signed maximum).
template <class T>
T negative_nan() {
  if constexpr (std::is_same<T, F16>::value) {
    return F16{0xfe00};
  } else {
    return -std::numeric_limits<T>::quiet_NaN();
  }
}

// The test data. Max: small integers (ties), zeros of both signs, NaN, +-inf, the largest
// finite values and the smallest subnormals. Averages: small integers and zeros of both signs
// (sums exact in any order), NaN, +inf, and a huge positive value whose pairs overflow float32
// sums (those rows are redone in float64) while small integers beside it vanish in any order.
template <class T>
std::vector<T> make_data(std::mt19937& rng, std::size_t n, Op op, Kind kind) {
  std::vector<T> x(n);
  std::uniform_int_distribution<int> small(op == Op::avg ? -8 : -4, op == Op::avg ? 8 : 4);
  std::uniform_int_distribution<int> pct(0, 999);
  constexpr bool kFloat = !std::is_integral<T>::value;
  for (auto& v : x) {
    const int p = pct(rng);
    int s = small(rng);
    if constexpr (kFloat) {
      if (kind != Kind::ints) {
        if (s == 0 && (rng() & 1)) {
          v = from_double<T>(-0.0);
          continue;
        }
        if (op == Op::avg) {
          const double huge = std::is_same<T, float>::value ? std::ldexp(1.0, 127)
                              : std::is_same<T, F16>::value ? 30000.0 : std::ldexp(1.0, 1000);
          if (kind == Kind::special && p < 4) { v = canonical_nan<T>(); continue; }
          if (kind == Kind::special && p < 8) { v = from_double<T>(INFINITY); continue; }
          if (p < 20) { v = from_double<T>(huge); continue; }
        } else {
          double big = 65504.0, tiny = std::ldexp(1.0, -24);  // float16's
          if constexpr (!std::is_same<T, F16>::value) {
            big = static_cast<double>(std::numeric_limits<T>::max());
            tiny = static_cast<double>(std::numeric_limits<T>::denorm_min());
          }
          if (kind == Kind::special) {
            if (p < 10) { v = p < 5 ? canonical_nan<T>() : negative_nan<T>(); continue; }
            if (p < 20) { v = from_double<T>(p < 15 ? INFINITY : -INFINITY); continue; }
          } else if (p < 20) {  // finite: more zeros of both signs instead
            v = from_double<T>(p < 10 ? -0.0 : 0.0);
            continue;
          }
          if (p < 30) { v = from_double<T>(p < 25 ? big : -big); continue; }
          if (p < 40) { v = from_double<T>(p < 35 ? tiny : -tiny); continue; }
        }
      }
      v = from_double<T>(static_cast<double>(s));
    } else {
      if (kind != Kind::ints && p < 100) {  // the extremes of the type
        v = p < 50 ? std::numeric_limits<T>::lowest() : std::numeric_limits<T>::max();
        continue;
      }
      if (kind != Kind::ints && p < 300) s *= 13;
      v = static_cast<T>(std::is_signed<T>::value ? s : s + 8);
    }
  }
  return x;
}

// ---------------------------------------------------------------------------------------------
// Scalar references.

struct Win {
  std::vector<int64_t> ys, xs;  // the in-range tap rows and columns of one window
};

Win window_taps(const Geometry& g, int64_t oh, int64_t ow) {
  Win w;
  for (int64_t i = 0; i < g.h.kernel; ++i) {
    const int64_t y = oh * g.h.stride - g.h.pad_begin + i * g.h.dilation;
    if (y >= 0 && y < g.H) w.ys.push_back(y);
  }
  for (int64_t j = 0; j < g.w.kernel; ++j) {
    const int64_t x = ow * g.w.stride - g.w.pad_begin + j * g.w.dilation;
    if (x >= 0 && x < g.W) w.xs.push_back(x);
  }
  return w;
}

// Taps of one axis inside the padded extent [-pad_begin, n + pad_end): the divisor with
// count_include_pad (PyTorch's rule: windows clipped to the padded input).
int64_t padded_taps(int64_t o, int64_t n, const AxisParams& a) {
  int64_t c = 0;
  for (int64_t i = 0; i < a.kernel; ++i) {
    const int64_t y = o * a.stride - a.pad_begin + i * a.dilation;
    if (y >= -a.pad_begin && y < n + a.pad_end) ++c;
  }
  return c;
}

// The strategies of MaxPlain and Avg (use_direct false): their max reduces columns over rows
// first (see ref_max_at). The same entry takes another strategy of the same family at the
// levels without this one (use_direct does not depend on the level).
bool separable_family(Strategy s) {
  switch (s) {
    case Strategy::rows_vertical: case Strategy::rows_window: case Strategy::rows_shifted:
    case Strategy::gather_row: case Strategy::gather_fused: case Strategy::running_w:
    case Strategy::running_h: case Strategy::running_fused: case Strategy::slide_cols:
      return true;
    default:
      return false;
  }
}

// Max (PyTorch's rule: take v if v > best or v is NaN) in row-major tap order (direct kernels,
// argmax) or, for the separable kernels, each tap column over the rows first, then the columns
// in order. The two differ only in which of +0 and -0 wins when both are a window's maximum.
// Returns the flat input element, or -1 for a window without taps.
template <class T>
int64_t ref_max_at(const std::vector<T>& x, const Geometry& g, int64_t n, const Win& w, int64_t c,
                   bool separable) {
  auto at = [&](int64_t y, int64_t xx) { return ((n * g.H + y) * g.W + xx) * g.C + c; };
  auto better = [&](int64_t cand, int64_t best) {
    if constexpr (std::is_integral<T>::value) {  // exactly (64-bit values near the extremes are not doubles)
      return x[static_cast<std::size_t>(cand)] > x[static_cast<std::size_t>(best)];
    } else {
      const double v = value_of(x[static_cast<std::size_t>(cand)]), b = value_of(x[static_cast<std::size_t>(best)]);
      return v > b || std::isnan(v);
    }
  };
  int64_t best = -1;
  if (!separable) {
    for (int64_t y : w.ys) {
      for (int64_t xx : w.xs) {
        const int64_t e = at(y, xx);
        if (best < 0 || better(e, best)) best = e;
      }
    }
    return best;
  }
  for (int64_t xx : w.xs) {
    int64_t col = -1;
    for (int64_t y : w.ys) {
      const int64_t e = at(y, xx);
      if (col < 0 || better(e, col)) col = e;
    }
    if (col >= 0 && (best < 0 || better(col, best))) best = col;
  }
  return best;
}

template <class T>
T lowest_of() {
  if constexpr (std::is_same<T, F16>::value) {
    return F16{0xfc00};
  } else if constexpr (std::numeric_limits<T>::has_infinity) {
    return -std::numeric_limits<T>::infinity();
  } else {
    return std::numeric_limits<T>::lowest();
  }
}

template <class I>
I round_clamp_ref(double v) {
  if (std::isnan(v)) return I(0);
  v = std::nearbyint(v);
  if (v <= static_cast<double>(std::numeric_limits<I>::lowest())) return std::numeric_limits<I>::lowest();
  if (v >= static_cast<double>(std::numeric_limits<I>::max())) return std::numeric_limits<I>::max();
  return static_cast<I>(v);
}

// Averages, as the kernels compute them for each accumulator (entry.hpp's avg_pool):
//   float32, up to 64 cells: float32 sums, sum / d in float32; a row with a non-finite sum is
//     redone in float64 (mean = float(sum * (1/d))). With the data above every summation order
//     gives the same sums, so the row-major double sum serves for all strategies.
//   float32 over 64 cells: float64 sums, float(sum * (1/d)).
//   float16: float32 sums, sum / d in float32, rounded to float16.
//   float64: sum / d.   integers: int64 sums, sum / d in float64, rounded to nearest even.
template <class T>
void ref_avg(const std::vector<T>& x, const Geometry& g, bool include, std::vector<T>& out) {
  out.assign(static_cast<std::size_t>(g.N * g.OH * g.OW * g.C), T{});
  const bool f64_sums = g.taps_h * g.taps_w > 64;
  std::vector<double> sums(static_cast<std::size_t>(g.OW * g.C));
  std::vector<double> divs(static_cast<std::size_t>(g.OW));
  for (int64_t n = 0; n < g.N; ++n) {
    for (int64_t oh = 0; oh < g.OH; ++oh) {
      bool redo = false;
      for (int64_t ow = 0; ow < g.OW; ++ow) {
        const Win w = window_taps(g, oh, ow);
        divs[static_cast<std::size_t>(ow)] =
            include ? static_cast<double>(padded_taps(oh, g.H, g.h) * padded_taps(ow, g.W, g.w))
                    : static_cast<double>(w.ys.size() * w.xs.size());
        for (int64_t c = 0; c < g.C; ++c) {
          double s = 0.0;
          if constexpr (std::is_integral<T>::value) {
            int64_t si = 0;
            for (int64_t y : w.ys)
              for (int64_t xx : w.xs) si += static_cast<int64_t>(x[static_cast<std::size_t>(((n * g.H + y) * g.W + xx) * g.C + c)]);
            s = static_cast<double>(si);
          } else {
            for (int64_t y : w.ys)
              for (int64_t xx : w.xs) s += value_of(x[static_cast<std::size_t>(((n * g.H + y) * g.W + xx) * g.C + c)]);
          }
          sums[static_cast<std::size_t>(ow * g.C + c)] = s;
          // a float32 sum is not finite: NaN, inf, or past the midpoint of FLT_MAX and 2^128
          if (std::is_same<T, float>::value && !f64_sums && !(std::fabs(s) < 0x1.ffffffp127)) redo = true;
        }
      }
      for (int64_t ow = 0; ow < g.OW; ++ow) {
        const double d = divs[static_cast<std::size_t>(ow)];
        for (int64_t c = 0; c < g.C; ++c) {
          const double s = sums[static_cast<std::size_t>(ow * g.C + c)];
          T& o = out[static_cast<std::size_t>(((n * g.OH + oh) * g.OW + ow) * g.C + c)];
          if constexpr (std::is_same<T, float>::value) {
            o = (f64_sums || redo) ? static_cast<float>(s * (1.0 / d)) : static_cast<float>(s) / static_cast<float>(d);
          } else if constexpr (std::is_same<T, F16>::value) {
            o = F16{half_bits(static_cast<float>(s) / static_cast<float>(d))};
          } else if constexpr (std::is_same<T, double>::value) {
            o = s / d;
          } else {
            o = round_clamp_ref<T>(s / d);
          }
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------

// 64-byte aligned storage with the data `offset` bytes past the boundary.
struct Buffer {
  std::vector<unsigned char> raw;
  unsigned char* p = nullptr;
  Buffer(std::size_t bytes, std::size_t offset) : raw(bytes + 128) {
    const auto u = reinterpret_cast<std::uintptr_t>(raw.data());
    p = raw.data() + ((64 - (u & 63)) & 63) + offset;
  }
};

struct Variant {
  std::size_t offset;  // bytes past a cache line, input and output (4 -> 8 for 8-byte elements)
  int64_t row_pad;     // extra bytes per input row
  bool stream;         // non-temporal stores asked for
  int threads;
};
const Variant kVariants[] = {{0, 0, true, 1}, {4, 0, false, 2}, {16, 64, true, 2}};

std::string describe(const Entry& e, const Geometry& g, SimdLevel level, const Variant& v, Kind kind,
                     const char* extra) {
  char b[512];
  std::snprintf(b, sizeof b,
                "level %s, strategy %s, %s %s, shape (%lld,%lld,%lld,%lld), kernel (%lld,%lld) stride (%lld,%lld) "
                "dilation (%lld,%lld) pad (%lld,%lld,%lld,%lld)%s, %s data, offset %zu, row pad %lld, stream %d, "
                "threads %d%s",
                simd_level_name(level), strategy_name(e.strategy), op_name(e.op), dtype_name(e.dtype),
                static_cast<long long>(g.N), static_cast<long long>(g.H), static_cast<long long>(g.W),
                static_cast<long long>(g.C), static_cast<long long>(g.h.kernel), static_cast<long long>(g.w.kernel),
                static_cast<long long>(g.h.stride), static_cast<long long>(g.w.stride),
                static_cast<long long>(g.h.dilation), static_cast<long long>(g.w.dilation),
                static_cast<long long>(g.h.pad_begin), static_cast<long long>(g.h.pad_end),
                static_cast<long long>(g.w.pad_begin), static_cast<long long>(g.w.pad_end), e.ceil ? " ceil" : "",
                kind == Kind::ints ? "integer" : kind == Kind::special ? "special" : "finite", v.offset == 4 && itemsize(e.dtype) == 8 ? std::size_t{8} : v.offset, static_cast<long long>(v.row_pad),
                static_cast<int>(v.stream), v.threads, extra);
  return b;
}

void check(bool ok, const std::string& what) {
  ++g_checks;
  if (!ok) {
    ++g_failures;
    std::fprintf(stderr, "strategy test FAILED: %s\n", what.c_str());
  }
}

template <class T>
void run_entry(const Entry& e, std::mt19937& rng) {
  const Geometry g = make_geometry(e.N, e.H, e.W, e.C, e.h, e.w, e.ceil, true);
  const int64_t size = static_cast<int64_t>(sizeof(T));
  const std::size_t elems = static_cast<std::size_t>(g.N * g.H * g.W * g.C);
  const std::size_t outs = static_cast<std::size_t>(g.N * g.OH * g.OW * g.C);
  const int64_t default_threshold = stream_threshold();
  for (Kind kind : {Kind::ints, Kind::special, Kind::finite}) {
    const std::vector<T> x = make_data<T>(rng, elems, e.op, kind);
    // References (level-independent).
    std::vector<T> want_max(outs);
    std::vector<int64_t> want_idx(outs);
    std::vector<T> want_avg[2];
    if (e.op == Op::avg) {
      ref_avg(x, g, true, want_avg[0]);
      ref_avg(x, g, false, want_avg[1]);
    } else {
      const bool separable = e.op == Op::max && separable_family(e.strategy);
      for (int64_t n = 0; n < g.N; ++n)
        for (int64_t oh = 0; oh < g.OH; ++oh)
          for (int64_t ow = 0; ow < g.OW; ++ow) {
            const Win w = window_taps(g, oh, ow);
            for (int64_t c = 0; c < g.C; ++c) {
              const std::size_t o = static_cast<std::size_t>(((n * g.OH + oh) * g.OW + ow) * g.C + c);
              const int64_t at = ref_max_at(x, g, n, w, c, separable);
              want_max[o] = at < 0 ? lowest_of<T>() : x[static_cast<std::size_t>(at)];
              want_idx[o] = at < 0 ? -1 : (at / g.C) % (g.H * g.W);
            }
          }
    }
    for (int li = 0; li < 3; ++li) {
      const auto level = static_cast<SimdLevel>(li);
      if (!simd_level_supported(level)) continue;
      set_simd_level(level);
      for (const Variant& v : kVariants) {
        set_num_threads(v.threads);
        set_stream_threshold(v.stream ? 0 : default_threshold);
        // (8-byte elements: 8 bytes instead of 4, so that every element stays aligned)
        const std::size_t offset = v.offset == 4 && size == 8 ? 8 : v.offset;
        const int64_t row = g.W * g.C * size + v.row_pad;
        Buffer in(static_cast<std::size_t>(g.N * g.H * row), offset);
        for (int64_t n = 0; n < g.N; ++n)
          for (int64_t h = 0; h < g.H; ++h)
            std::memcpy(in.p + (n * g.H + h) * row, x.data() + (n * g.H + h) * g.W * g.C,
                        static_cast<std::size_t>(g.W * g.C * size));
        InputView view;
        view.data = in.p;
        view.stride_n = g.H * row;
        view.stride_h = row;
        Buffer out(outs * sizeof(T), offset), idx(outs * 8, 0);
#ifdef NHWCPOOL_TRACE_STRATEGIES
        take_strategy_trace();
#endif
        const int runs = e.op == Op::avg ? 2 : 1;
        for (int r = 0; r < runs; ++r) {
          const T* want = e.op == Op::avg ? want_avg[r].data() : want_max.data();
          if (e.op == Op::avg) {
            avg_pool2d(e.dtype, e.dtype, g, view, out.p, r == 0, 0);
          } else {
            max_pool2d(e.dtype, g, view, out.p, e.op == Op::argmax ? reinterpret_cast<int64_t*>(idx.p) : nullptr);
          }
          std::size_t bad = outs;
          for (std::size_t i = 0; i < outs && bad == outs; ++i) {
            if (std::memcmp(out.p + i * sizeof(T), want + i, sizeof(T)) != 0) bad = i;
            if (e.op == Op::argmax) {
              int64_t got;
              std::memcpy(&got, idx.p + i * 8, 8);
              if (got != want_idx[i]) bad = i;
            }
          }
          char extra[200] = "";
          if (bad < outs) {
            double gv = 0;
            T tmp;
            std::memcpy(&tmp, out.p + bad * sizeof(T), sizeof(T));
            gv = value_of(tmp);
            int64_t gi = -1;
            if (e.op == Op::argmax) std::memcpy(&gi, idx.p + bad * 8, 8);
            std::snprintf(extra, sizeof extra, "%s: output %zu is %.9g (index %lld), want %.9g (index %lld)",
                          e.op == Op::avg ? (r == 0 ? ", count_include_pad" : ", exclude pad") : "", bad, gv,
                          static_cast<long long>(gi), value_of(want[bad]),
                          static_cast<long long>(e.op == Op::argmax ? want_idx[bad] : -1));
          }
          check(bad == outs, describe(e, g, level, v, kind, extra));
        }
#ifdef NHWCPOOL_TRACE_STRATEGIES
        const std::uint64_t ran = take_strategy_trace();
        if (kind == e.trace_kind && (e.levels >> li & 1u)) {
          std::string names;
          for (int s = 0; s < static_cast<int>(Strategy::count); ++s) {
            if (ran >> s & 1u) names += std::string(" ") + strategy_name(static_cast<Strategy>(s));
          }
          check((ran >> static_cast<int>(e.strategy) & 1u) != 0,
                describe(e, g, level, v, kind, (": strategy not run; ran:" + names).c_str()));
        }
#endif
      }
    }
  }
  set_stream_threshold(default_threshold);
  set_num_threads(1);
  set_simd_level(best_simd_level());
}

// Shapes per strategy. `levels`: where the strategy exists and the rules pick it (elsewhere
// the same entry runs another strategy, also checked against the reference).
#define S(name) Strategy::name
const Entry kEntries[] = {
    // --- separable (MaxPlain, Avg): use_direct false ---
    // rows reduced, then window by window: wide pixels, dilated (no running pass, no column slide)
    {S(rows_window), kAll, Kind::ints, Op::max, DType::f32, 1, 14, 16, 20, ax(5, 1, 2), ax(5, 1, 2), false},
    {S(rows_window), kAll, Kind::ints, Op::avg, DType::f32, 1, 14, 16, 20, ax(5, 1, 2), ax(5, 1, 2), false},
    {S(rows_vertical), kAll, Kind::ints, Op::max, DType::f32, 2, 13, 15, 24, ax(3, 2, 1, 1), ax(5, 1, 2, 2), true},
    // small pixels, tap columns as shifted W*C rows: no gather (a pixel's span exceeds two registers)
    {S(rows_shifted), kAll, Kind::ints, Op::max, DType::f32, 2, 9, 11, 15, ax(3, 2, 1, 1), ax(3, 2, 1, 1), false},
    {S(rows_shifted), kAll, Kind::ints, Op::avg, DType::f32, 1, 7, 9, 15, ax(3, 1), ax(3, 1), false},
    {S(rows_shifted), kAll, Kind::ints, Op::max, DType::i8, 2, 8, 10, 3, ax(2, 2), ax(2, 2), false},
    {S(rows_shifted), kAll, Kind::ints, Op::avg, DType::u8, 2, 9, 11, 7, ax(3, 2, 1, 1), ax(3, 2, 1, 1), false},
    // small-C gather straight from the input rows (every window inside the row)
    {S(gather_fused), kV, Kind::ints, Op::max, DType::f32, 2, 8, 10, 3, ax(2, 2), ax(2, 2), false},
    {S(gather_fused), kV, Kind::ints, Op::avg, DType::f32, 2, 8, 10, 3, ax(2, 2), ax(2, 2), false},
    {S(gather_fused), kV, Kind::ints, Op::max, DType::f32, 1, 6, 50, 1, ax(3, 3), ax(3, 3), false},
    {S(gather_fused), kA5, Kind::ints, Op::max, DType::f32, 2, 7, 33, 15, ax(2, 2), ax(2, 2), false},  // (AVX2: 15 floats > 8 lanes)
    // small-C gather over the row buffer (padding: edge windows apart)
    {S(gather_row), kA2 | kA5, Kind::ints, Op::max, DType::f32, 2, 11, 37, 3, ax(3, 2, 1, 1), ax(3, 2, 1, 1), false},
    {S(gather_row), kA2 | kA5, Kind::ints, Op::avg, DType::f32, 2, 11, 37, 3, ax(3, 2, 1, 1), ax(3, 2, 1, 1), false},
    // ... spans of at most 8 floats (two NEON registers)
    {S(gather_row), kV, Kind::ints, Op::max, DType::f32, 2, 11, 37, 2, ax(3, 2, 1, 1), ax(3, 2, 1, 1), false},
    {S(gather_row), kV, Kind::special, Op::max, DType::f32, 2, 11, 37, 2, ax(3, 2, 1, 1), ax(3, 2, 1, 1), false},
    {S(gather_row), kV, Kind::ints, Op::avg, DType::f32, 1, 9, 21, 1, ax(3, 2, 1, 1), ax(3, 2, 1, 1), false},
    {S(gather_fused), kV, Kind::special, Op::max, DType::f32, 2, 8, 10, 3, ax(2, 2), ax(2, 2), false},
    // running max/sums (van Herk/Gil-Werman) along W and H, unfused (no vector form for the type)
    {S(running_w), kAll, Kind::ints, Op::max, DType::i16, 2, 7, 23, 5, ax(6, 1, 1, 3), ax(6, 1, 1, 3), false},
    {S(running_h), kAll, Kind::ints, Op::max, DType::i16, 2, 7, 23, 5, ax(6, 1, 1, 3), ax(6, 1, 1, 3), false},
    {S(running_w), kAll, Kind::ints, Op::avg, DType::i16, 2, 7, 23, 5, ax(6, 1, 1, 3), ax(6, 1, 1, 3), false},
    {S(running_w), kBx, Kind::ints, Op::max, DType::f32, 1, 12, 20, 16, ax(9, 1, 1, 4), ax(9, 1, 1, 4), false},
    {S(running_h), kAll, Kind::ints, Op::max, DType::f32, 1, 12, 20, 16, ax(9, 1, 1, 4), ax(9, 1, 1, 4), false},
    // both running passes fused per channel vector (float32 and float64 accumulators)
    {S(running_fused), kV, Kind::ints, Op::max, DType::f32, 1, 12, 20, 16, ax(9, 1, 1, 4), ax(9, 1, 1, 4), false},
    {S(running_fused), kV, Kind::ints, Op::avg, DType::f32, 1, 12, 20, 16, ax(9, 1, 1, 4), ax(9, 1, 1, 4), false},
    {S(running_fused), kV, Kind::ints, Op::max, DType::f32, 2, 11, 12, 24, ax(10, 1, 1, 5), ax(10, 1, 1, 5), false},
    {S(running_fused), kV, Kind::ints, Op::max, DType::f64, 1, 10, 14, 9, ax(5, 1, 1, 2), ax(5, 1, 1, 2), false},
    {S(running_fused), kV, Kind::ints, Op::avg, DType::f32, 1, 12, 14, 19, ax(9, 1, 1, 4), ax(9, 1, 1, 4), false},
    {S(running_fused), kV, Kind::ints, Op::max, DType::f64, 2, 9, 12, 11, ax(6, 1, 1, 2), ax(6, 1, 1, 2), false},
    // column slide (float32, 4 to 8 columns, stride 1)
    {S(slide_cols), kA2 | kA5, Kind::ints, Op::max, DType::f32, 2, 9, 12, 20, ax(5, 1, 1, 2), ax(4, 1, 1, 1, 2), false},
    {S(slide_cols), kV, Kind::ints, Op::avg, DType::f32, 2, 9, 12, 20, ax(5, 1, 1, 2), ax(4, 1, 1, 1, 2), false},
    {S(slide_cols), kV, Kind::ints, Op::avg, DType::f32, 1, 10, 14, 33, ax(8, 1, 1, 4), ax(8, 1, 1, 4), false},
    {S(slide_cols), kA2 | kA5, Kind::ints, Op::max, DType::f32, 2, 12, 11, 48, ax(3, 2, 1, 1), ax(6, 1, 1, 3), false},
    // separable-side argmax
    {S(argmax_flat), kAll, Kind::ints, Op::argmax, DType::f32, 2, 8, 10, 3, ax(2, 2), ax(2, 2), false},
    {S(argmax_gather), kA5, Kind::ints, Op::argmax, DType::f32, 2, 9, 11, 5, ax(3, 2, 1, 1), ax(3, 2, 1, 1), false},
    {S(argmax_flat), kAll, Kind::ints, Op::argmax, DType::i8, 2, 8, 10, 3, ax(2, 2), ax(2, 2), false},
    {S(argmax_gather), kA5, Kind::ints, Op::argmax, DType::f16, 2, 8, 10, 7, ax(2, 2), ax(2, 2), false},
    {S(argmax_window), kAll, Kind::ints, Op::argmax, DType::f32, 1, 14, 16, 20, ax(5, 1, 2), ax(5, 1, 2), false},
    // --- direct (MaxDirect, MaxIndexedDirect, AvgDirect): use_direct true ---
    // sliding window (float32, stride 1, 2 or 3 columns, up to 3 rows)
    {S(slide), kV, Kind::ints, Op::max, DType::f32, 2, 7, 8, 130, ax(3, 1, 1, 1), ax(3, 1, 1, 1), false},
    {S(slide), kV, Kind::ints, Op::avg, DType::f32, 2, 7, 8, 130, ax(3, 1, 1, 1), ax(3, 1, 1, 1), false},
    {S(slide), kV, Kind::ints, Op::max, DType::f32, 1, 5, 9, 20, ax(3, 1), ax(3, 1), false},
    {S(slide), kV, Kind::ints, Op::avg, DType::f32, 1, 6, 10, 24, ax(1, 1), ax(3, 1, 1, 0, 1), false},
    {S(slide), kV, Kind::ints, Op::max, DType::f32, 1, 7, 9, 33, ax(3, 1, 1, 1, 0), ax(2, 1), false},
    {S(slide), kV, Kind::ints, Op::avg, DType::f32, 1, 6, 7, 64, ax(3, 1, 1, 1), ax(3, 1, 1, 1), false},
    {S(slide), kV, Kind::ints, Op::max, DType::f32, 2, 6, 9, 21, ax(3, 1, 1, 1), ax(3, 1, 1, 1), false},
    {S(slide), kV, Kind::ints, Op::avg, DType::f32, 1, 6, 9, 21, ax(2, 1), ax(2, 1), false},
    // a row's full windows as one run (pixels of at most 4 vectors: 64 float32 lanes with
    // AVX-512, 32 with AVX2, 16 with NEON)
    {S(pixel_runs), kA2 | kA5, Kind::ints, Op::max, DType::f32, 2, 8, 10, 32, ax(2, 2), ax(2, 2), false},
    {S(pixel_runs), kA2 | kA5, Kind::ints, Op::avg, DType::f32, 2, 8, 10, 20, ax(2, 2), ax(2, 2), false},
    {S(pixel_runs), kVI, Kind::ints, Op::max, DType::u8, 2, 8, 10, 64, ax(2, 2), ax(2, 2), false},
    // integer runs with a last partial vector (AVX2: overlapping, AVX-512: masked), every width
    // (NEON's runs take 64-byte pixels only: 4 vectors of 16 bytes)
    {S(pixel_runs), kA2 | kA5, Kind::special, Op::max, DType::u8, 2, 8, 10, 100, ax(2, 2), ax(2, 2), false},
    {S(pixel_runs), kA2 | kA5, Kind::special, Op::max, DType::i8, 1, 7, 11, 72, ax(3, 2, 1, 1), ax(3, 2, 1, 1), false},
    {S(pixel_runs), kA2 | kA5, Kind::special, Op::max, DType::u16, 2, 8, 10, 40, ax(2, 2), ax(2, 2), false},
    {S(pixel_runs), kA2 | kA5, Kind::special, Op::max, DType::i16, 1, 7, 11, 50, ax(3, 2, 1, 1), ax(3, 2, 1, 1), false},
    {S(pixel_runs), kA2 | kA5, Kind::special, Op::max, DType::i32, 1, 7, 11, 20, ax(3, 2, 1, 1), ax(3, 2, 1, 1), false},
    {S(pixel_runs), kA2 | kA5, Kind::special, Op::max, DType::u32, 2, 8, 10, 28, ax(2, 2), ax(2, 2), false},
    {S(pixel_runs), kA2 | kA5, Kind::special, Op::max, DType::i64, 2, 8, 10, 13, ax(2, 2), ax(2, 2), false},
    {S(pixel_runs), kA2 | kA5, Kind::special, Op::max, DType::u64, 1, 7, 11, 11, ax(3, 2, 1, 1), ax(3, 2, 1, 1), false},
    {S(pixel_runs), kVI, Kind::special, Op::max, DType::i16, 2, 8, 10, 32, ax(2, 2), ax(2, 2), false},
    {S(pixel_runs), kVI, Kind::special, Op::max, DType::u64, 1, 7, 11, 8, ax(3, 2, 1, 1), ax(3, 2, 1, 1), false},
    {S(pixel_runs), kA5, Kind::ints, Op::avg, DType::f16, 2, 8, 10, 40, ax(2, 2), ax(2, 2), false},
    {S(pixel_runs), kV, Kind::ints, Op::max, DType::f32, 2, 8, 10, 16, ax(2, 2), ax(2, 2), false},
    {S(pixel_runs), kV, Kind::special, Op::max, DType::f32, 1, 7, 11, 16, ax(3, 2, 1, 1), ax(3, 2, 1, 1), false},
    {S(pixel_runs), kV, Kind::ints, Op::avg, DType::f32, 2, 8, 10, 16, ax(2, 2), ax(2, 2), false},
    {S(pixel_runs), kV, Kind::ints, Op::avg, DType::f16, 2, 8, 10, 16, ax(2, 2), ax(2, 2), false},
    // fused blocks (fused.hpp; float16 max on the bits and integer max in fused_int.hpp), per pixel;
    // C = 137, 138, 139: a last vector of 1, 2, 3 lanes with NEON
    {S(max_zmm), kV, Kind::ints, Op::max, DType::f32, 2, 7, 9, 136, ax(3, 2, 1, 1), ax(3, 2, 1, 1), false},
    {S(max_h16_bits), kVI, Kind::ints, Op::max, DType::f16, 2, 7, 9, 136, ax(3, 2, 1, 1), ax(3, 2, 1, 1), false},
    // ... with zeros of both signs, ties, the largest and smallest values, no NaN (the bits
    // kept, or the block redone where a window's maximum is a zero of both signs); tails of 4
    // lanes (AVX2: 20 = 16 + an overlapping vector) and of 8 after a whole block
    {S(max_h16_bits), kVI, Kind::finite, Op::max, DType::f16, 2, 7, 9, 20, ax(3, 2, 1, 1), ax(3, 2, 1, 1), false},
    {S(max_h16_bits), kVI, Kind::finite, Op::max, DType::f16, 2, 8, 10, 72, ax(2, 2), ax(2, 2), false},
    {S(max_h16_bits), kVI, Kind::finite, Op::max, DType::f16, 1, 7, 9, 136, ax(3, 1, 1, 1), ax(3, 1, 1, 1), false},
    {S(max_zmm), kV, Kind::special, Op::max, DType::f16, 2, 7, 9, 20, ax(3, 2, 1, 1), ax(3, 2, 1, 1), false},
    {S(max_zmm), kV, Kind::special, Op::max, DType::f16, 2, 7, 9, 136, ax(3, 2, 1, 1), ax(3, 2, 1, 1), false},
    {S(max_int_zmm), kVI, Kind::ints, Op::max, DType::i32, 2, 6, 8, 100, ax(2, 2), ax(2, 2), false},
    {S(max_int_zmm), kVI, Kind::ints, Op::max, DType::i16, 2, 6, 8, 300, ax(3, 1, 1, 1), ax(3, 1, 1, 1), false},
    // per pixel, with the type's extremes; last blocks of 14 bytes (AVX2: a vector overlapping
    // the block before), of 44, and partial vectors of every width
    {S(max_int_zmm), kVI, Kind::special, Op::max, DType::u8, 2, 6, 8, 270, ax(2, 2), ax(2, 2), false},
    {S(max_int_zmm), kVI, Kind::special, Op::max, DType::i8, 1, 6, 8, 300, ax(3, 1, 1, 1), ax(3, 1, 1, 1), false},
    {S(max_int_zmm), kVI, Kind::special, Op::max, DType::u16, 2, 6, 8, 135, ax(2, 2), ax(2, 2), false},
    {S(max_int_zmm), kVI, Kind::special, Op::max, DType::i32, 1, 6, 8, 37, ax(3, 1, 1, 1), ax(3, 1, 1, 1), false},
    {S(max_int_zmm), kVI, Kind::special, Op::max, DType::u32, 2, 6, 8, 70, ax(2, 2), ax(2, 2), false},
    {S(max_int_zmm), kVI, Kind::special, Op::max, DType::i64, 1, 6, 8, 21, ax(3, 1, 1, 1), ax(3, 1, 1, 1), false},
    {S(max_int_zmm), kVI, Kind::special, Op::max, DType::u64, 2, 6, 8, 35, ax(2, 2), ax(2, 2), false},
    {S(avg_zmm), kV, Kind::ints, Op::avg, DType::f32, 2, 7, 9, 136, ax(3, 2, 1, 1), ax(3, 2, 1, 1), false},
    {S(avg_zmm), kV, Kind::ints, Op::avg, DType::f16, 2, 7, 9, 136, ax(3, 2, 1, 1), ax(3, 2, 1, 1), false},
    {S(max_zmm), kV, Kind::special, Op::max, DType::f32, 2, 7, 9, 137, ax(3, 2, 1, 1), ax(3, 2, 1, 1), false},
    {S(max_zmm), kV, Kind::special, Op::max, DType::f16, 1, 7, 9, 138, ax(3, 2, 1, 1), ax(3, 2, 1, 1), false},
    {S(avg_zmm), kV, Kind::special, Op::avg, DType::f32, 2, 7, 9, 139, ax(3, 2, 1, 1), ax(3, 2, 1, 1), false},
    {S(avg_zmm), kV, Kind::ints, Op::avg, DType::f16, 1, 7, 9, 137, ax(3, 2, 1, 1), ax(3, 2, 1, 1), false},
    {S(avg_zmm), kV, Kind::ints, Op::avg, DType::f16, 1, 6, 8, 139, ax(2, 2), ax(2, 2), false},
    {S(argmax_zmm), kVA, Kind::ints, Op::argmax, DType::f32, 2, 7, 9, 136, ax(3, 2, 1, 1), ax(3, 2, 1, 1), false},
    // ... NaN of both signs (the last NaN wins), ties (the first), -0/+0, huge values; tails
    // of 3 and 5 lanes; whole-line streamed indices (C % 8 == 0)
    {S(argmax_zmm), kVA, Kind::special, Op::argmax, DType::f32, 2, 7, 9, 19, ax(3, 2, 1, 1), ax(3, 2, 1, 1), false},
    {S(argmax_zmm), kVA, Kind::special, Op::argmax, DType::f32, 1, 7, 9, 133, ax(2, 2), ax(2, 2), false},
    {S(argmax_zmm), kVA, Kind::finite, Op::argmax, DType::f32, 2, 6, 8, 72, ax(3, 1, 1, 1), ax(3, 1, 1, 1), false},
    // generic register blocks
    {S(block), kBx, Kind::ints, Op::max, DType::f32, 2, 7, 9, 136, ax(3, 2, 1, 1), ax(3, 2, 1, 1), false},
    {S(block), kAll, Kind::ints, Op::max, DType::f64, 2, 7, 8, 20, ax(3, 1, 1, 1), ax(3, 1, 1, 1), false},
    {S(block), kAll, Kind::ints, Op::avg, DType::f64, 2, 7, 8, 20, ax(3, 1, 1, 1), ax(3, 1, 1, 1), false},
    {S(argmax_block), kAll & ~kVA, Kind::ints, Op::argmax, DType::f32, 2, 7, 9, 136, ax(3, 2, 1, 1), ax(3, 2, 1, 1), false},
    {S(argmax_block), kAll, Kind::ints, Op::argmax, DType::f64, 2, 7, 8, 20, ax(3, 1, 1, 1), ax(3, 1, 1, 1), false},
    // taps outer (more than 16 taps, or types without register blocks on barely overlapping windows)
    {S(wide), kAll, Kind::ints, Op::max, DType::f32, 2, 5, 5, 64, ax(5, 1), ax(5, 1), false},
    {S(wide), kAll, Kind::ints, Op::avg, DType::i16, 2, 8, 10, 40, ax(2, 2), ax(2, 2), false},
    {S(wide), kAll & ~kVI, Kind::ints, Op::max, DType::u8, 2, 8, 10, 64, ax(2, 2), ax(2, 2), false},
    {S(wide_f32_groups), kV, Kind::ints, Op::avg, DType::f32, 2, 5, 6, 64, ax(5, 1), ax(5, 1), false},
    {S(wide_f32_groups), kV, Kind::ints, Op::avg, DType::f32, 1, 7, 8, 1000, ax(7, 1), ax(7, 1), false},
    // whole-plane averages (global pooling): float32 sums, float64 sums past 64 cells, float16
    {S(global_avg), kV, Kind::ints, Op::avg, DType::f32, 1, 7, 7, 1000, ax(7, 1), ax(7, 1), false},
    {S(global_avg), kV, Kind::ints, Op::avg, DType::f32, 3, 9, 9, 136, ax(9, 1), ax(9, 1), false},
    {S(global_avg), kV, Kind::ints, Op::avg, DType::f16, 2, 7, 7, 72, ax(7, 1), ax(7, 1), false},
    {S(global_avg), kV, Kind::ints, Op::avg, DType::f32, 2, 5, 5, 64, ax(5, 1), ax(5, 1), false},
    {S(avg_redo_f64), kA2 | kA5, Kind::special, Op::avg, DType::f32, 2, 7, 7, 136, ax(7, 1), ax(7, 1), false},
    {S(argmax_wide), kAll, Kind::ints, Op::argmax, DType::f32, 2, 5, 5, 64, ax(5, 1), ax(5, 1), false},
    {S(argmax_wide), kAll, Kind::ints, Op::argmax, DType::f16, 2, 8, 10, 40, ax(2, 2), ax(2, 2), false},
    // float32 average rows redone in float64 (overflowing sums, NaN, inf)
    {S(avg_redo_f64), kAll, Kind::special, Op::avg, DType::f32, 2, 7, 9, 136, ax(3, 2, 1, 1), ax(3, 2, 1, 1), false},
    {S(avg_redo_f64), kAll, Kind::special, Op::avg, DType::f32, 2, 9, 12, 20, ax(5, 1, 1, 2), ax(4, 1, 1, 1, 2), false},
    {S(avg_redo_f64), kAll, Kind::special, Op::avg, DType::f32, 2, 7, 8, 130, ax(3, 1, 1, 1), ax(3, 1, 1, 1), false},
    {S(avg_redo_f64), kAll, Kind::special, Op::avg, DType::f32, 2, 8, 10, 3, ax(2, 2), ax(2, 2), false},
    // ceil_mode: a last window hanging over the end padding
    {S(gather_row), kA2 | kA5, Kind::ints, Op::max, DType::f32, 2, 10, 36, 3, ax(3, 2, 1, 1), ax(3, 2, 1, 1), true},
    {S(max_zmm), kV, Kind::ints, Op::max, DType::f32, 2, 8, 10, 136, ax(3, 2, 1, 1), ax(3, 2, 1, 1), true},
    {S(argmax_block), kAll & ~kVA, Kind::ints, Op::argmax, DType::f32, 2, 8, 10, 136, ax(3, 2, 1, 1), ax(3, 2, 1, 1), true},
    {S(avg_zmm), kV, Kind::ints, Op::avg, DType::f32, 2, 8, 10, 136, ax(3, 2, 1, 1), ax(3, 2, 1, 1), true},
};
#undef S

void run_one(const Entry& e, std::mt19937& rng) {
  switch (e.dtype) {
    case DType::f32: run_entry<float>(e, rng); return;
    case DType::f16: run_entry<F16>(e, rng); return;
    case DType::f64: run_entry<double>(e, rng); return;
    case DType::i8: run_entry<std::int8_t>(e, rng); return;
    case DType::u8: run_entry<std::uint8_t>(e, rng); return;
    case DType::i16: run_entry<std::int16_t>(e, rng); return;
    case DType::i32: run_entry<std::int32_t>(e, rng); return;
    case DType::u16: run_entry<std::uint16_t>(e, rng); return;
    case DType::u32: run_entry<std::uint32_t>(e, rng); return;
    case DType::i64: run_entry<std::int64_t>(e, rng); return;
    case DType::u64: run_entry<std::uint64_t>(e, rng); return;
    default: check(false, "strategy test: dtype without a reference"); return;
  }
}

}  // namespace

// Called by test_core.cpp's main. Returns the number of failed checks; adds to *checks.
int run_strategy_tests(int* checks) {
  std::mt19937 rng(4321);
  for (const Entry& e : kEntries) run_one(e, rng);
  *checks += g_checks;
  return g_failures;
}
