// Pyramid kernels, compiled once per instruction set (pyramid_{baseline,avx2,avx512}.cpp define
// NHWCPOOL_ISA to the namespace). One pass over the input for every level.
//
// How a pass works. The rows of level k-1 (the input for k = 1) stream through level k: the
// first source row of a block is copied into a vertical accumulator row (OW[k-1]*C values),
// the next f-1 rows are added to it (a channel-agnostic loop over W*C that vectorises). When a
// block's last row has arrived, the row is reduced horizontally (f neighbouring cells per
// channel) into the level's sums, which are finalised into the level's output row (mean: one
// exact division by the pixel count, rounded) and fed, as a source row, to level k+1. Only
// one accumulator row per level is live, so the input is read once and every level is
// written while its rows are in cache.
//
// Summation order (floats: float64 sums; integers: exact, so order does not matter): a block's
// sum is the left-to-right sum of its children's column sums, each column summed top to
// bottom; the children of a level-k block are the level-(k-1) blocks' sums (the pixels for
// k = 1). That order is fixed by the geometry alone, so the result is the same bits for any
// thread count, tiling or SIMD level.
//
// Parallelism: a pass covers levels l0+1..l1 and splits the rows of level l1 over threads (each
// task owns whole blocks of every level in between). When level l1 has too few rows for the
// threads, or its sums would overflow the pass's accumulator type, the pass ends there, writes
// level l1's exact sums (a small buffer: f**(2*l1) times smaller than the input) and a next
// pass continues from them, with the same order of operations.
#include <stdexcept>
#include <vector>

#include "prelude.hpp"  // standard and intrinsic headers, NHWCPOOL_RESTRICT

#include "nhwcpool/parallel.hpp"
#include "nhwcpool/pyramid.hpp"

#ifndef NHWCPOOL_ISA
#error "define NHWCPOOL_ISA to the instruction-set namespace before including kernels/pyramid.hpp"
#endif

namespace nhwcpool {
namespace NHWCPOOL_ISA {
namespace {

using i64 = std::int64_t;
using u64 = std::uint64_t;

// ---------------------------------------------------------------------------------------------
// A signed 128-bit integer (two's complement in two words): exact sums of 32- and 64-bit
// integers over blocks of any size, portable to compilers without __int128.
struct Wide {
  u64 lo = 0, hi = 0;
};
inline Wide operator+(Wide a, Wide b) {
  Wide r;
  r.lo = a.lo + b.lo;
  r.hi = a.hi + b.hi + (r.lo < a.lo ? 1u : 0u);
  return r;
}
inline bool wide_negative(Wide a) { return (a.hi >> 63) != 0; }
inline Wide wide_negate(Wide a) {
  Wide r;
  r.lo = ~a.lo + 1;
  r.hi = ~a.hi + (r.lo == 0 ? 1u : 0u);
  return r;
}

// ---------------------------------------------------------------------------------------------
// float16 <-> float (float16.hpp: round to nearest even; a NaN keeps the top of its payload
// and comes out quiet).
#include "float16.hpp"
#include "rounding.hpp"  // round_clamp

// float64 -> float16 with one rounding: round to float32 by "round to odd" (a float32 with 13
// more bits than float16 then rounds correctly to it; Boldo and Melquiond's rule).
inline std::uint16_t double_half(double d) {
  float f = static_cast<float>(d);
  if (std::isfinite(f) && static_cast<double>(f) != d) {
    std::uint32_t b = float_to_bits(f);
    if ((b & 1u) == 0) {
      if (std::fabs(static_cast<double>(f)) > std::fabs(d)) --b; else ++b;
      f = bits_to_float(b);
    }
  }
  return float_to_half(f);
}

// ---------------------------------------------------------------------------------------------
// Element types. half_t is read as float (max/min) or double (mean).
template <class T> struct Value { using type = T; };
template <> struct Value<half_t> { using type = float; };

template <class A, class S>
inline A to_acc(S v) {
  if constexpr (std::is_same<S, half_t>::value) {
    return static_cast<A>(half_to_float(v.bits));
  } else if constexpr (std::is_same<A, Wide>::value) {
    if constexpr (std::is_same<S, Wide>::value) {
      return v;
    } else if constexpr (std::is_signed<S>::value) {
      Wide w;
      w.lo = static_cast<u64>(static_cast<i64>(v));
      w.hi = v < 0 ? ~u64{0} : 0;
      return w;
    } else {
      Wide w;
      w.lo = static_cast<u64>(v);
      return w;
    }
  } else {
    return static_cast<A>(v);
  }
}

struct OpSum {
  template <class A> static A f(A a, A b) {
    if constexpr (std::is_same<A, Wide>::value) return a + b;
    else return static_cast<A>(a + b);
  }
};
// NaN propagates (a NaN, once in, stays: x > NaN and x < NaN are false).
struct OpMax {
  template <class A> static A f(A a, A b) { return (b > a || b != b) ? b : a; }
};
struct OpMin {
  template <class A> static A f(A a, A b) { return (b < a || b != b) ? b : a; }
};

// ---------------------------------------------------------------------------------------------
// Final conversions.

// (neg, magnitude) of an integer to the output integer type I, clipped.
template <class I>
inline I clip_signed(bool neg, u64 mag) {
  if (neg && mag != 0) {
    if constexpr (!std::is_signed<I>::value) {
      return I(0);
    } else {
      const u64 lim = static_cast<u64>(std::numeric_limits<I>::max()) + 1;  // |lowest|
      if (mag >= lim) return std::numeric_limits<I>::lowest();
      return static_cast<I>(-static_cast<i64>(mag));
    }
  }
  const u64 hi = static_cast<u64>(std::numeric_limits<I>::max());
  return mag > hi ? std::numeric_limits<I>::max() : static_cast<I>(mag);
}

template <class O>
inline O from_double(double v) {
  if constexpr (std::is_same<O, half_t>::value) {
    return half_t{double_half(v)};
  } else if constexpr (std::is_floating_point<O>::value) {
    return static_cast<O>(v);
  } else {
    return round_clamp<O>(v);
  }
}

// sign and magnitude of an integer sum
template <class A>
inline void sign_mag(A s, bool* neg, u64* hi, u64* lo) {
  if constexpr (std::is_same<A, Wide>::value) {
    *neg = wide_negative(s);
    const Wide m = *neg ? wide_negate(s) : s;
    *hi = m.hi;
    *lo = m.lo;
  } else if constexpr (std::is_signed<A>::value) {
    *neg = s < 0;
    *hi = 0;
    *lo = *neg ? u64{0} - static_cast<u64>(static_cast<i64>(s)) : static_cast<u64>(s);
  } else {
    *neg = false;
    *hi = 0;
    *lo = static_cast<u64>(s);
  }
}

template <class A>
inline double int_to_double(A s) {
  if constexpr (std::is_same<A, Wide>::value) {
    bool neg;
    u64 hi, lo;
    sign_mag(s, &neg, &hi, &lo);  // exact below 2^64 in magnitude, else rounded twice
    const double m = static_cast<double>(hi) * 18446744073709551616.0 + static_cast<double>(lo);
    return neg ? -m : m;
  } else {
    return static_cast<double>(s);
  }
}

// Exact quotient of a sum by a pixel count, rounded half to even. The mean of values of a
// 64-bit type fits 64 bits, so hi < d (a larger hi would be a bug, not an input).
inline u64 div_round(u64 hi, u64 lo, u64 d) {
  u64 q, r;
  if (hi == 0) {
    q = lo / d;
    r = lo % d;
  } else {
    if (hi >= d) throw std::logic_error("internal error: pyramid mean does not fit 64 bits");
    r = hi;
    q = 0;
    for (int i = 63; i >= 0; --i) {  // d <= 2^63, so r << 1 cannot overflow
      r = (r << 1) | ((lo >> i) & 1u);
      q <<= 1;
      if (r >= d) {
        r -= d;
        q |= 1u;
      }
    }
  }
  const u64 rest = d - r;
  if (r > rest || (r == rest && (q & 1u))) ++q;
  return q;
}

// Mean of a block from its sum and pixel count, as output type O.
template <class O, class A>
inline O mean_of(A s, i64 count) {
  if constexpr (std::is_floating_point<A>::value) {
    return from_double<O>(static_cast<double>(s) / static_cast<double>(count));
  } else if constexpr (std::is_same<O, half_t>::value || std::is_floating_point<O>::value) {
    return from_double<O>(int_to_double(s) / static_cast<double>(count));
  } else {
    bool neg;
    u64 hi, lo;
    sign_mag(s, &neg, &hi, &lo);
    return clip_signed<O>(neg, div_round(hi, lo, static_cast<u64>(count)));
  }
}

// A max/min value (type V) as output type O.
template <class O, class V>
inline O value_as(V v) {
  if constexpr (std::is_same<O, V>::value) {
    return v;
  } else if constexpr (std::is_same<O, half_t>::value) {
    if constexpr (std::is_same<V, float>::value) return half_t{float_to_half(v)};
    else return half_t{double_half(static_cast<double>(v))};
  } else if constexpr (std::is_floating_point<O>::value) {
    return static_cast<O>(v);
  } else if constexpr (std::is_floating_point<V>::value) {
    return round_clamp<O>(static_cast<double>(v));
  } else {
    bool neg;
    u64 hi, lo;
    sign_mag(v, &neg, &hi, &lo);
    return clip_signed<O>(neg, lo);
  }
}

#include "image_pairs.hpp"

// ---------------------------------------------------------------------------------------------
// One pass.

struct PassArgs {
  const PyramidGeometry* g = nullptr;
  PyramidOp op = PyramidOp::mean;
  DType out_dtype = DType::u8;
  int l0 = 0, l1 = 0;  // source level, last level of this pass
  const char* src = nullptr;
  i64 src_stride_n = 0, src_stride_h = 0;  // bytes
  void* const* outs = nullptr;             // outs[i - 1]: level i
  char* next = nullptr;                    // level l1's sums (C-contiguous), or null
  int threads = 1;
};

// Rows of level k-1 that level k reads: all of them (partial) or f*OH[k] (trim).
inline i64 used_rows(const PyramidGeometry& g, int k) {
  const i64 f = g.factor, prev = g.OH[static_cast<std::size_t>(k - 1)], cur = g.OH[static_cast<std::size_t>(k)];
  return g.edge == PyramidEdge::partial ? prev : std::min(prev, f * cur);
}
inline i64 used_cols(const PyramidGeometry& g, int k) {
  const i64 f = g.factor, prev = g.OW[static_cast<std::size_t>(k - 1)], cur = g.OW[static_cast<std::size_t>(k)];
  return g.edge == PyramidEdge::partial ? prev : std::min(prev, f * cur);
}

// Horizontal reduction of a vertical accumulator row (cells of level k-1) into level k's cells.
template <class Op, class A>
void hreduce(const A* acc, A* hs, i64 cells_in, i64 cells_out, i64 f, i64 C) {
  for (i64 ox = 0; ox < cells_out; ++ox) {
    const i64 m0 = ox * f;
    const i64 m1 = std::min(m0 + f, cells_in);
    const A* a = acc + m0 * C;
    A* h = hs + ox * C;
    for (i64 c = 0; c < C; ++c) h[c] = a[c];
    for (i64 m = m0 + 1; m < m1; ++m) {
      const A* b = acc + m * C;
      for (i64 c = 0; c < C; ++c) h[c] = Op::f(h[c], b[c]);
    }
  }
}

// factor 2, integer values: img_pair_rows (kernels/image_pairs.hpp, shared with the forward's
// 2x2/s2 image kernels).
template <class Op>
constexpr int op_code() {
  return std::is_same<Op, OpSum>::value ? 0 : std::is_same<Op, OpMax>::value ? 1 : 2;
}

template <class O, class A>
void finalize_mean_row(const A* hs, O* out, const PyramidGeometry& g, int k, i64 oy) {
  const i64 C = g.C, OW = g.OW[static_cast<std::size_t>(k)];
  const i64 rows = g.rows_of(k, oy);
  i64 ox = 0;
  if constexpr (std::is_integral<A>::value && std::is_unsigned<A>::value && std::is_integral<O>::value &&
                std::is_unsigned<O>::value && sizeof(A) <= 4) {
    // whole blocks with a power-of-two pixel count: shift, round half to even, clip
    const i64 count = rows * g.block[static_cast<std::size_t>(k)];
    if (OW > 1 && (count & (count - 1)) == 0 && count < (i64{1} << 31)) {
      int sh = 0;
      while ((i64{1} << sh) < count) ++sh;
      const A half = static_cast<A>(count >> 1), mask = static_cast<A>(count - 1);
      const A top = static_cast<A>(std::min<u64>(std::numeric_limits<O>::max(), std::numeric_limits<A>::max()));
      const i64 n = (OW - 1) * C;
      for (i64 i = 0; i < n; ++i) {
        const A v = hs[i];
        A q = static_cast<A>(v >> sh);
        const A r = static_cast<A>(v & mask);
        q = static_cast<A>(q + ((r + (q & 1u)) > half ? 1u : 0u));
        out[i] = static_cast<O>(q < top ? q : top);
      }
      ox = OW - 1;
    }
  }
  for (; ox < OW; ++ox) {
    const i64 count = rows * g.cols_of(k, ox);
    for (i64 c = 0; c < C; ++c) out[ox * C + c] = mean_of<O>(hs[ox * C + c], count);
  }
}

template <class O, class A>
void finalize_value_row(const A* hs, O* out, i64 n) {
  if constexpr (std::is_same<O, A>::value) {
    std::memcpy(out, hs, static_cast<std::size_t>(n) * sizeof(A));
  } else {
    for (i64 i = 0; i < n; ++i) out[i] = value_as<O>(hs[i]);
  }
}

template <class Op, class A>
void finalize_row(const A* hs, void* out_base, DType out_dtype, const PyramidGeometry& g, int k, i64 n, i64 oy) {
  const i64 OW = g.OW[static_cast<std::size_t>(k)], OH = g.OH[static_cast<std::size_t>(k)];
  const i64 row = OW * g.C;
  const i64 offset = (n * OH + oy) * row;  // elements
  auto run = [&](auto* typed) {
    using O = std::remove_pointer_t<decltype(typed)>;
    O* out = typed + offset;
    if constexpr (std::is_same<Op, OpSum>::value) finalize_mean_row<O>(hs, out, g, k, oy);
    else finalize_value_row<O>(hs, out, row);
  };
  switch (out_dtype) {
    case DType::f16: run(static_cast<half_t*>(out_base)); return;
    case DType::f32: run(static_cast<float*>(out_base)); return;
    case DType::f64: run(static_cast<double*>(out_base)); return;
    case DType::i8: run(static_cast<std::int8_t*>(out_base)); return;
    case DType::u8: run(static_cast<std::uint8_t*>(out_base)); return;
    case DType::i16: run(static_cast<std::int16_t*>(out_base)); return;
    case DType::u16: run(static_cast<std::uint16_t*>(out_base)); return;
    case DType::i32: run(static_cast<std::int32_t*>(out_base)); return;
    case DType::u32: run(static_cast<std::uint32_t*>(out_base)); return;
    case DType::i64: run(static_cast<std::int64_t*>(out_base)); return;
    case DType::u64: run(static_cast<std::uint64_t*>(out_base)); return;
  }
}

// Per-task state: one vertical accumulator row and one sums row per level of the pass.
template <class S, class Op, class A>
struct PassRunner {
  const PassArgs& p;
  const PyramidGeometry& g;
  std::vector<std::unique_ptr<A[]>> vacc, hs;
  std::vector<const void*> saved;  // factor 2: the first row of the block being read, per level
  // Integer values (exact in any order) at factor 2 go through pair_rows.
  static constexpr bool kPairs = std::is_integral<A>::value && (std::is_integral<S>::value || std::is_same<S, A>::value);

  explicit PassRunner(const PassArgs& args) : p(args), g(*args.g) {
    for (int k = p.l0 + 1; k <= p.l1; ++k) {
      // (+32: slack for the overlapping vector stores of pair_rows)
      vacc.emplace_back(new A[static_cast<std::size_t>(used_cols(g, k) * g.C + 32)]);
      hs.emplace_back(new A[static_cast<std::size_t>(g.OW[static_cast<std::size_t>(k)] * g.C + 32)]);
      saved.push_back(nullptr);
    }
  }

  // Row r of level k-1 (S values for k = l0+1, else A) enters level k.
  template <class R>
  void feed(int k, const R* src, i64 n, i64 r) {
    const i64 f = g.factor;
    if (r >= used_rows(g, k)) return;  // trim: past the last whole block
    const std::size_t s = static_cast<std::size_t>(k - p.l0 - 1);
    A* acc = vacc[s].get();
    const i64 width = used_cols(g, k) * g.C;
    const bool last = r % f == f - 1 || r == used_rows(g, k) - 1;
    A* h = hs[s].get();
    if constexpr (kPairs) {
      if (f == 2) {
        if (!last) {  // the first row of a block: keep it (the input's rows stay where they are)
          if constexpr (std::is_same<R, S>::value) {
            if (k == p.l0 + 1) {
              saved[s] = src;
              return;
            }
          }
          std::memcpy(acc, src, static_cast<std::size_t>(width) * sizeof(A));
          saved[s] = acc;
          return;
        }
        const R* first = r % 2 == 1 ? static_cast<const R*>(saved[s]) : src;
        const R* second = r % 2 == 1 ? src : nullptr;
        img_pair_rows<op_code<Op>()>(first, second, h, used_cols(g, k), g.OW[static_cast<std::size_t>(k)], g.C);
        cascade(k, h, n, r / f);
        return;
      }
    }
    if (r % f == 0) {
      for (i64 i = 0; i < width; ++i) acc[i] = to_acc<A>(src[i]);
    } else {
      for (i64 i = 0; i < width; ++i) acc[i] = Op::f(acc[i], to_acc<A>(src[i]));
    }
    if (!last) return;
    hreduce<Op>(acc, h, used_cols(g, k), g.OW[static_cast<std::size_t>(k)], f, g.C);
    cascade(k, h, n, r / f);
  }

  // Level k's row oy is summed in h: write it, pass it on.
  void cascade(int k, A* h, i64 n, i64 oy) {
    finalize_row<Op>(h, p.outs[k - 1], p.out_dtype, g, k, n, oy);
    if (k < p.l1) {
      feed(k + 1, static_cast<const A*>(h), n, oy);
    } else if (p.next != nullptr) {
      const i64 row = g.OW[static_cast<std::size_t>(k)] * g.C;
      std::memcpy(p.next + ((n * g.OH[static_cast<std::size_t>(k)] + oy) * row) * static_cast<i64>(sizeof(A)), h,
                  static_cast<std::size_t>(row) * sizeof(A));
    }
  }

  // Rows [j0, j1) of level l1 in image n.
  void band(i64 n, i64 j0, i64 j1) {
    const i64 limit = used_rows(g, p.l0 + 1);
    // source rows per level-l1 row: f**(l1-l0), saturated past the source's height
    i64 span = 1;
    for (int k = p.l0; k < p.l1 && span <= limit; ++k) span = span > limit / g.factor ? limit + 1 : span * g.factor;
    const i64 r0 = j0 * std::min(span, limit + 1);
    const i64 r1 = j1 >= g.OH[static_cast<std::size_t>(p.l1)] ? limit : std::min(j1 * span, limit);
    const char* base = p.src + n * p.src_stride_n;
    for (i64 r = r0; r < r1; ++r) feed(p.l0 + 1, reinterpret_cast<const S*>(base + r * p.src_stride_h), n, r);
  }
};

template <class S, class Op, class A>
void run_pass(const PassArgs& p) {
  const PyramidGeometry& g = *p.g;
  const i64 rows = g.OH[static_cast<std::size_t>(p.l1)];
  const i64 tasks = g.N * rows;
  const i64 work = g.N * g.OH[static_cast<std::size_t>(p.l0)] * g.OW[static_cast<std::size_t>(p.l0)] * g.C;
  struct Ctx {
    const PassArgs* p;
    i64 rows;
  } ctx{&p, rows};
  parallel_for(
      tasks, work, p.threads,
      [](const void* c, i64 b, i64 e) {
        const Ctx& x = *static_cast<const Ctx*>(c);
        PassRunner<S, Op, A> runner(*x.p);
        while (b < e) {
          const i64 n = b / x.rows, j0 = b % x.rows;
          const i64 j1 = std::min(x.rows, j0 + (e - b));
          runner.band(n, j0, j1);
          b += j1 - j0;
        }
      },
      &ctx);
}

// ---------------------------------------------------------------------------------------------
// Planning: accumulator types and pass boundaries.

enum class Kind : int { u8, i8, u16, i16, u32, i32, u64, i64, f16, f32, f64, wide };

Kind kind_of(DType t) {
  switch (t) {
    case DType::u8: return Kind::u8;
    case DType::i8: return Kind::i8;
    case DType::u16: return Kind::u16;
    case DType::i16: return Kind::i16;
    case DType::u32: return Kind::u32;
    case DType::i32: return Kind::i32;
    case DType::u64: return Kind::u64;
    case DType::i64: return Kind::i64;
    case DType::f16: return Kind::f16;
    case DType::f32: return Kind::f32;
    case DType::f64: return Kind::f64;
  }
  return Kind::u8;
}

std::size_t kind_size(Kind k) {
  switch (k) {
    case Kind::u8: case Kind::i8: return 1;
    case Kind::u16: case Kind::i16: case Kind::f16: return 2;
    case Kind::u32: case Kind::i32: case Kind::f32: return 4;
    case Kind::u64: case Kind::i64: case Kind::f64: return 8;
    case Kind::wide: return sizeof(Wide);
  }
  return 8;
}

template <class Op, class S>
void run_with_acc(Kind a, const PassArgs& p) {
  auto go = [&](auto tag) {
    using A = decltype(tag);
    run_pass<S, Op, A>(p);
  };
  if constexpr (std::is_same<Op, OpSum>::value) {
    if constexpr (std::is_same<S, half_t>::value || std::is_floating_point<S>::value) {
      go(double{});
      return;
    } else if constexpr (std::is_same<S, Wide>::value) {
      go(Wide{});
      return;
    } else if constexpr (std::is_signed<S>::value) {
      switch (a) {
        case Kind::i16: if constexpr (sizeof(S) <= 2) { go(std::int16_t{}); return; } break;
        case Kind::i32: if constexpr (sizeof(S) <= 4) { go(std::int32_t{}); return; } break;
        case Kind::i64: go(std::int64_t{}); return;
        case Kind::wide: go(Wide{}); return;
        default: break;
      }
    } else {
      switch (a) {
        case Kind::u16: if constexpr (sizeof(S) <= 2) { go(std::uint16_t{}); return; } break;
        case Kind::u32: if constexpr (sizeof(S) <= 4) { go(std::uint32_t{}); return; } break;
        case Kind::u64: go(std::uint64_t{}); return;
        case Kind::wide: go(Wide{}); return;
        default: break;
      }
    }
    throw std::logic_error("internal error: no pyramid accumulator for this source type");
  } else {
    (void)a;
    go(typename Value<S>::type{});
  }
}

template <class Op>
void run_with_src(Kind s, Kind a, const PassArgs& p) {
  switch (s) {
    case Kind::u8: run_with_acc<Op, std::uint8_t>(a, p); return;
    case Kind::i8: run_with_acc<Op, std::int8_t>(a, p); return;
    case Kind::u16: run_with_acc<Op, std::uint16_t>(a, p); return;
    case Kind::i16: run_with_acc<Op, std::int16_t>(a, p); return;
    case Kind::u32: run_with_acc<Op, std::uint32_t>(a, p); return;
    case Kind::i32: run_with_acc<Op, std::int32_t>(a, p); return;
    case Kind::u64: run_with_acc<Op, std::uint64_t>(a, p); return;
    case Kind::i64: run_with_acc<Op, std::int64_t>(a, p); return;
    case Kind::f16: run_with_acc<Op, half_t>(a, p); return;
    case Kind::f32: run_with_acc<Op, float>(a, p); return;
    case Kind::f64: run_with_acc<Op, double>(a, p); return;
    case Kind::wide:
      if constexpr (std::is_same<Op, OpSum>::value) { run_with_acc<Op, Wide>(a, p); return; }
      break;
  }
  throw std::logic_error("internal error: bad pyramid source type");
}

// Largest |value| of an integer input type, and the candidate accumulators, narrowest first.
double max_abs(DType t) {
  switch (t) {
    case DType::u8: return 255.0;
    case DType::i8: return 128.0;
    case DType::u16: return 65535.0;
    case DType::i16: return 32768.0;
    case DType::u32: return 4294967295.0;
    case DType::i32: return 2147483648.0;
    case DType::u64: return 18446744073709551615.0;
    case DType::i64: return 9223372036854775808.0;
    default: return 0.0;
  }
}

// Below this many rows of work (N * rows of a level) a pass stops and leaves the deeper levels,
// whose inputs are small, to a next pass (so that the threads share the big levels).
constexpr i64 kMinTasks = 16;

}  // namespace

void pyramid(const PyramidArgs& a) {
  const PyramidGeometry& g = *a.geo;
  const bool is_float = a.in_dtype == DType::f16 || a.in_dtype == DType::f32 || a.in_dtype == DType::f64;
  const bool is_signed = a.in_dtype == DType::i8 || a.in_dtype == DType::i16 || a.in_dtype == DType::i32 ||
                         a.in_dtype == DType::i64;
  const double vmax = max_abs(a.in_dtype);
  // Largest block (in pixels) of level l.
  auto cells = [&](int l) {
    const double b = static_cast<double>(g.block[static_cast<std::size_t>(l)]);
    return std::min(b, static_cast<double>(g.H)) * std::min(b, static_cast<double>(g.W));
  };
  // Accumulator kinds, narrowest first, with the largest |sum| each holds (exact products below
  // 2^53; the 64-bit limits keep a margin for the rounding of the double product).
  struct Cand {
    Kind kind;
    double limit;
  };
  Cand cands[4];
  std::size_t ncands = 0;
  if (a.op == PyramidOp::mean && !is_float) {
    const Cand s_list[4] = {{Kind::i16, 32767.0}, {Kind::i32, 2147483647.0}, {Kind::i64, 4.0e18}, {Kind::wide, 1.0e300}};
    const Cand u_list[4] = {{Kind::u16, 65535.0}, {Kind::u32, 4294967295.0}, {Kind::u64, 8.0e18}, {Kind::wide, 1.0e300}};
    const Cand* list = is_signed ? s_list : u_list;
    // never narrower than the input itself
    const std::size_t in_size = kind_size(kind_of(a.in_dtype));
    for (int i = 0; i < 4; ++i) {
      if (list[i].kind == Kind::wide || kind_size(list[i].kind) > in_size) cands[ncands++] = list[i];
    }
  }
  std::vector<char> buf_a, buf_b;  // sums between passes
  Kind src_kind = kind_of(a.in_dtype);
  const char* src = static_cast<const char*>(a.data);
  i64 stride_n = a.stride_n, stride_h = a.stride_h;
  std::size_t cand = 0;
  int l0 = 0;
  bool use_a = true;
  while (l0 < g.levels) {
    Kind acc = src_kind;
    int l1 = g.levels;
    if (ncands != 0) {
      while (cand + 1 < ncands && vmax * cells(l0 + 1) > cands[cand].limit) ++cand;
      acc = cands[cand].kind;
      l1 = l0 + 1;
      while (l1 < g.levels && vmax * cells(l1 + 1) <= cands[cand].limit) ++l1;
    } else if (a.op != PyramidOp::mean) {
      acc = a.in_dtype == DType::f16 ? Kind::f32 : src_kind;
    } else {
      acc = Kind::f64;
    }
    // stop where the rows become too few to share
    while (l1 > l0 + 1 && g.N * g.OH[static_cast<std::size_t>(l1)] < kMinTasks) --l1;
    PassArgs p;
    p.g = &g; p.op = a.op; p.out_dtype = a.out_dtype; p.l0 = l0; p.l1 = l1;
    p.src = src; p.src_stride_n = stride_n; p.src_stride_h = stride_h;
    p.outs = a.outs; p.threads = a.threads;
    std::vector<char>& next = use_a ? buf_a : buf_b;
    if (l1 < g.levels) {
      const i64 row = g.OW[static_cast<std::size_t>(l1)] * g.C * static_cast<i64>(kind_size(acc));
      next.assign(static_cast<std::size_t>(g.N * g.OH[static_cast<std::size_t>(l1)] * row + 16), 0);
      // aligned for A (vector<char> storage is aligned for any fundamental type)
      p.next = next.data();
      stride_h = row;
      stride_n = row * g.OH[static_cast<std::size_t>(l1)];
    }
    switch (a.op) {
      case PyramidOp::mean: run_with_src<OpSum>(src_kind, acc, p); break;
      case PyramidOp::max: run_with_src<OpMax>(src_kind, acc, p); break;
      case PyramidOp::min: run_with_src<OpMin>(src_kind, acc, p); break;
    }
    src = p.next;
    src_kind = acc;
    use_a = !use_a;
    l0 = l1;
  }
}

}  // namespace NHWCPOOL_ISA
}  // namespace nhwcpool
