// Backward kernels (max and average pooling gradients) and max unpooling, compiled once per
// instruction set: included by backward_baseline.cpp, backward_avx2.cpp and backward_avx512.cpp
// with NHWCPOOL_ISA naming a namespace, each translation unit with its own compiler flags (the
// forward's scheme). Everything but the entry points is in an anonymous namespace and no
// standard-library template is instantiated here, so the linker cannot merge an AVX-512 copy of
// an inline function into baseline code.
//
// Determinism: every destination element is written by one thread and receives its terms in
// the order PyTorch's CPU kernels add them (output positions ascending, row-major), starting
// from 0, so results are bit-identical for any thread count and SIMD level, and equal to
// PyTorch's float32/float64 results. Vectorisation runs over channels only (each lane is one
// element's own sequence of IEEE operations).
//
// Max backward / unpool (scatter): the indices are the only description of the windows, so
// each output element's value goes to the cell its index names: dst[idx * C + c] (+)= src. One
// work item is one image's channel range, which owns every destination element it can write
// (an index only moves within its (n, c) plane), so items run in parallel without atomics or
// per-thread copies, and each item visits its sources in row-major output order. The
// destination is zeroed lazily, rows [0, zeroed) at a time, just ahead of the first index that
// points past them: with forward indices the rows are zeroed while in cache, right before the
// scatter writes them (one pass over the destination instead of a memset pass and a scatter
// pass). Every index is checked against [0, H*W) before its write.
//
// Average backward (gather): one task = one input row (n, y). Its cells sum the terms
// g[n, oh, ow, c] / divisor(oh, ow) of the output windows covering them, oh ascending then ow
// ascending (the CoverTable of each axis lists them; shape.cpp), as PyTorch's channels-last
// kernel accumulates them when it walks the outputs in order. The quotients of one output row
// are formed once per task and kept in a small ring while the input rows they cover are done.
// Each pixel's terms are summed 8 vectors of channels at a time in registers (sum_terms); pixels
// of fewer than 8 channels are done a whole row at a time through index maps (rows_at_once).
// Measured at one thread (CPU time, loaded Zen 4 VM): 3x3/s1/p1 over (8,56,56,256) 6.4 -> 5.0 ms
// (PyTorch 8.3), (256,24,24,3) 2x2/s2 0.54 -> 0.26 ms (PyTorch 0.58). Max backward: whole images
// per item whenever it can (channel ranges of one image, tried for one thread, cost 2x on
// (1,80,80,256) 5x5/s1: each item's prefetched lines are half wasted); the scatter itself is
// bound by memory traffic (8-byte indices in, gradient out).
// (Gather formulation as in oneDNN's pooling backward: each input element is owned by one
// thread, so no atomics.)
//
// Unlike the files kernels/all.hpp includes, this one is its own translation unit (kept apart
// from the forward kernels, whose inlining is sensitive to what shares their file); it reuses
// their float16 conversions and scratch blocks by including those fragments below.
#include "prelude.hpp"  // standard and intrinsic headers, NHWCPOOL_F16C, NHWCPOOL_RESTRICT

#include "nhwcpool/backward.hpp"
#include "nhwcpool/parallel.hpp"

namespace nhwcpool {
namespace NHWCPOOL_ISA {
namespace {

using i64 = std::int64_t;
using u64 = std::uint64_t;

#include "float16.hpp"  // half_to_float, float_to_half, half_to_float_row, float_to_half_row
#include "scratch.hpp"  // Scratch<A>

// Vectors of the accumulation type (per ISA: AVX for avx2/avx512 builds, SSE2 for x86-64
// baseline, scalars elsewhere). Only loads, stores and adds: each lane is one element's own
// sequence of IEEE additions, so every level gives the same bits.
template <class A>
struct BwVec {
  using V = A;
  static constexpr int kLanes = 1;
  static V load(const A* p) { return *p; }
  static void store(A* p, V v) { *p = v; }
  static V add(V a, V b) { return a + b; }
  static V zero() { return A(0); }
};
#if defined(__AVX__)
template <>
struct BwVec<float> {
  using V = __m256;
  static constexpr int kLanes = 8;
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V zero() { return _mm256_setzero_ps(); }
};
template <>
struct BwVec<double> {
  using V = __m256d;
  static constexpr int kLanes = 4;
  static V load(const double* p) { return _mm256_loadu_pd(p); }
  static void store(double* p, V v) { _mm256_storeu_pd(p, v); }
  static V add(V a, V b) { return _mm256_add_pd(a, b); }
  static V zero() { return _mm256_setzero_pd(); }
};
#elif defined(__SSE2__) || defined(_M_X64)
template <>
struct BwVec<float> {
  using V = __m128;
  static constexpr int kLanes = 4;
  static V load(const float* p) { return _mm_loadu_ps(p); }
  static void store(float* p, V v) { _mm_storeu_ps(p, v); }
  static V add(V a, V b) { return _mm_add_ps(a, b); }
  static V zero() { return _mm_setzero_ps(); }
};
template <>
struct BwVec<double> {
  using V = __m128d;
  static constexpr int kLanes = 2;
  static V load(const double* p) { return _mm_loadu_pd(p); }
  static void store(double* p, V v) { _mm_storeu_pd(p, v); }
  static V add(V a, V b) { return _mm_add_pd(a, b); }
  static V zero() { return _mm_setzero_pd(); }
};
#endif

// out[c] = ((0 + t[0][c]) + t[1][c]) + ... for c in [0, n): the terms summed in list order,
// kR vectors of channels at a time held in registers across the terms (each output element is
// loaded and stored once instead of once per term).
template <class A, int kR>
inline i64 sum_terms_block(A* NHWCPOOL_RESTRICT out, const A* const* t, i64 nt, i64 c, i64 n) {
  using O = BwVec<A>;
  constexpr i64 kStep = kR * O::kLanes;
  for (; c + kStep <= n; c += kStep) {
    typename O::V acc[kR];
    for (int r = 0; r < kR; ++r) acc[r] = O::add(O::zero(), O::load(t[0] + c + r * O::kLanes));
    for (i64 j = 1; j < nt; ++j) {
      const A* q = t[j] + c;
      for (int r = 0; r < kR; ++r) acc[r] = O::add(acc[r], O::load(q + r * O::kLanes));
    }
    for (int r = 0; r < kR; ++r) O::store(out + c + r * O::kLanes, acc[r]);
  }
  return c;
}

// (Non-temporal stores of large results measured no faster here: 3x3/s1 and 2x2/s2 over
// (8,56,56,256) / (8,112,112,128) float32, 1 thread, Zen 4 VM.)
template <class A>
inline void sum_terms(A* NHWCPOOL_RESTRICT out, const A* const* t, i64 nt, i64 n) {
  i64 c = sum_terms_block<A, 8>(out, t, nt, 0, n);
  c = sum_terms_block<A, 1>(out, t, nt, c, n);
  for (; c < n; ++c) {
    A acc = A(0) + t[0][c];
    for (i64 j = 1; j < nt; ++j) acc += t[j][c];
    out[c] = acc;
  }
}

// ---------------------------------------------------------------------------------------------
// Scatter (max backward, unpool).

// Bit-copy element types for unpooling, by size.
template <int kSize> struct Bits;
template <> struct Bits<1> { using type = std::uint8_t; };
template <> struct Bits<2> { using type = std::uint16_t; };
template <> struct Bits<4> { using type = std::uint32_t; };
template <> struct Bits<8> { using type = std::uint64_t; };

// Zeroes pixels [from, to) of a destination with pixel stride S, cw channels each.
template <class A>
inline void zero_pixels(A* d, i64 S, i64 cw, i64 from, i64 to) {
  if (to <= from) return;
  if (S == cw) {
    std::memset(static_cast<void*>(d + from * S), 0, static_cast<std::size_t>((to - from) * cw) * sizeof(A));
    return;
  }
  for (i64 p = from; p < to; ++p) std::memset(static_cast<void*>(d + p * S), 0, static_cast<std::size_t>(cw) * sizeof(A));
}

// Whether all kN indices lie in [0, lim): one test per block instead of a compare and branch
// per element (an unsigned compare also catches negative indices). lim <= H*W < 2^62.
template <int kN>
NHWCPOOL_ALWAYS_INLINE inline bool in_range(const i64* NHWCPOOL_RESTRICT idx, u64 lim) {
  int j = 0;
#if defined(__AVX512F__) && defined(__AVX512VL__)
  const __m256i l = _mm256_set1_epi64x(static_cast<long long>(lim));
  __mmask8 bad = 0;
  for (; j + 4 <= kN; j += 4) {
    bad |= _mm256_cmp_epu64_mask(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(idx + j)), l, _MM_CMPINT_NLT);
  }
  u64 rest = bad;
#elif defined(__AVX2__)
  // u < lim (unsigned) <=> (u ^ 2^63) < (lim ^ 2^63) (signed): the only 64-bit compare AVX2 has.
  const __m256i flip = _mm256_set1_epi64x(std::numeric_limits<long long>::min());
  const __m256i l = _mm256_xor_si256(_mm256_set1_epi64x(static_cast<long long>(lim)), flip);
  __m256i good = _mm256_set1_epi64x(-1);
  for (; j + 4 <= kN; j += 4) {
    const __m256i v = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(idx + j)), flip);
    good = _mm256_and_si256(good, _mm256_cmpgt_epi64(l, v));
  }
  u64 rest = static_cast<u64>(_mm256_movemask_pd(_mm256_castsi256_pd(good)) != 0xF);
#else
  u64 rest = 0;
#endif
  for (; j < kN; ++j) rest |= static_cast<u64>(static_cast<u64>(idx[j]) >= lim);
  return rest == 0;
}

// Software prefetch kAhead elements ahead in the index and gradient streams (a prefetch never
// faults, so the address may lie past the arrays; it is formed as an integer). Measured on the
// AVX-512 and AVX2 builds, one thread, loaded Zen 4 VM, alternated with the build without it:
// (8,20,20,512) 5x5/s1 0.86-0.90x the time, (1,80,80,256) 5x5/s1 0.75x, (8,112,112,128) 2x2/s2
// 0.84-0.89x, (8,112,112,64) 3x3/s2 0.81-0.85x (64 to 512 elements ahead tried: 256 best; T0
// and NTA hints alike): the hardware prefetchers alone left the scatter waiting on these
// sequential streams. Not in the small-C blocks: (256,24,24,3) and (32,224,224,3) 2x2/s2
// measured 1.01-1.11x slower with it.
constexpr i64 kAhead = 256;
template <class E>
NHWCPOOL_ALWAYS_INLINE inline void prefetch_ahead(const E* p) {
  const std::uintptr_t a = reinterpret_cast<std::uintptr_t>(p) + static_cast<std::uintptr_t>(kAhead * sizeof(E));
#if defined(__GNUC__) || defined(__clang__)
  __builtin_prefetch(reinterpret_cast<const void*>(a), 0, 3);
#elif defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
  _mm_prefetch(reinterpret_cast<const char*>(a), _MM_HINT_T0);
#else
  (void)a;
#endif
}

// d (+)= s: the gradient's sum (float16 terms widened to the float32 accumulator) or the unpool's copy.
template <class T, class A, bool kAdd>
NHWCPOOL_ALWAYS_INLINE inline void put(A& d, const T& s) {
  if constexpr (kAdd) {
    if constexpr (sizeof(T) == 2 && sizeof(A) == 4) {
      d += half_to_float(s.bits);
    } else {
      d += s;
    }
  } else {
    d = s;
  }
}

// One item: image n, channels [c0, c0 + cw). D: where channel c0 of destination pixel 0 lives
// (the destination itself, or a float32 scratch for float16 gradients), S: its pixel stride.
// Returns false at the first index outside [0, H*W) (skipped with a.ignore_outside).
//
// The elements are visited in the same order as a plain loop (pixels ascending, channels
// ascending within a pixel), so every destination element receives its terms in output order.
// The hot path checks the indices a block at a time (in_range) and then writes the block's
// elements without branches; a block with an index past the zeroed rows (or outside the plane)
// goes through `slow`, element by element, which zeroes rows first or reports the index.
// kC > 0: the channel count known at compile time (1 to 8), with a dense destination (S ==
// cw): kG pixels per block, their indices contiguous when the item is the whole pixel
// (cw == C); otherwise one pixel per block. kC == 0: blocks of 8 channels of one pixel.
// (Measured on (256,24,24,3) 2x2/s2, one thread: the former per-element loop ran 11
// instructions and 3 taken branches per element, identical in the AVX2 and AVX-512 builds;
// their 1.3x difference followed the code's placement, not the instruction set.)
template <class T, class A, bool kAdd, int kC>
bool scatter_item(const ScatterArgs& a, i64 n, i64 c0, i64 cw_, A* NHWCPOOL_RESTRICT D, i64 S_) {
  const i64 cw = kC > 0 ? kC : cw_;
  const i64 S = kC > 0 ? kC : S_;
  const i64 C = a.C, P = a.P, W = a.W, Q = a.H * a.W, SB = S * static_cast<i64>(sizeof(A));
  const T* NHWCPOOL_RESTRICT src = static_cast<const T*>(a.src) + n * P * C + c0;
  const i64* NHWCPOOL_RESTRICT idx = a.indices + n * P * C + c0;
  i64 zeroed = 0;  // destination pixels [0, zeroed) are zeroed (whole rows)
  if (Q * cw * static_cast<i64>(sizeof(A)) <= 16384) {  // a small image: zeroed at once
    zero_pixels(D, S, cw, 0, Q);
    zeroed = Q;
  }
  u64 lim = static_cast<u64>(zeroed);
  // Elements [cb, ce) of the pixel at s/x, one at a time, zeroing rows up to each index's row.
  auto slow = [&](const T* NHWCPOOL_RESTRICT s, const i64* NHWCPOOL_RESTRICT x, i64 cb, i64 ce) -> bool {
    for (i64 c = cb; c < ce; ++c) {
      const i64 i = x[c];
      if (static_cast<u64>(i) >= lim) {
        if (static_cast<u64>(i) >= static_cast<u64>(Q)) {  // also catches i < 0
          if (a.ignore_outside) continue;
          return false;
        }
        const i64 end = (i / W + 1) * W;
        zero_pixels(D, S, cw, zeroed, end);
        zeroed = end;
        lim = static_cast<u64>(end);
      }
      put<T, A, kAdd>(D[i * S + c], s[c]);
    }
    return true;
  };
  i64 p = 0;
  if constexpr (kC > 0) {
    constexpr i64 kG = kC >= 8 ? 1 : 16 / kC;  // pixels per block (whole pixels only)
    if (cw == C) {  // the block's kG*kC indices are contiguous
      for (; p + kG <= P; p += kG, src += kG * kC, idx += kG * kC) {
        if (in_range<static_cast<int>(kG * kC)>(idx, lim)) {
          for (i64 e = 0; e < kG * kC; ++e) put<T, A, kAdd>(D[idx[e] * kC + e % kC], src[e]);
        } else {
          for (i64 g = 0; g < kG; ++g) {
            if (!slow(src + g * kC, idx + g * kC, 0, kC)) return false;
          }
        }
      }
    }
    for (; p < P; ++p, src += C, idx += C) {
      if (in_range<kC>(idx, lim)) {
        for (i64 c = 0; c < kC; ++c) put<T, A, kAdd>(D[idx[c] * kC + c], src[c]);
      } else if (!slow(src, idx, 0, kC)) {
        return false;
      }
    }
  } else {
    for (; p < P; ++p, src += C, idx += C) {
      i64 c = 0;
      for (; c + 8 <= cw; c += 8) {
        prefetch_ahead(idx + c);  // (one line per block of 8; the gradient's every 64 bytes)
        if ((c * static_cast<i64>(sizeof(T))) % 64 == 0) prefetch_ahead(src + c);
        if (in_range<8>(idx + c, lim)) {
          // (byte offsets: the address is one base + index*SB + displacement per element)
          char* NHWCPOOL_RESTRICT d = reinterpret_cast<char*>(D + c);
          for (i64 j = 0; j < 8; ++j) {
            put<T, A, kAdd>(*reinterpret_cast<A*>(d + idx[c + j] * SB + j * static_cast<i64>(sizeof(A))), src[c + j]);
          }
        } else if (!slow(src, idx, c, c + 8)) {
          return false;
        }
      }
      if (!slow(src, idx, c, cw)) return false;
    }
  }
  zero_pixels(D, S, cw, zeroed, Q);
  return true;
}

template <class T, class A, bool kAdd>
bool scatter_any(const ScatterArgs& a, i64 n, i64 c0, i64 cw, A* D, i64 S) {
  if (S == cw) {  // few channels, dense destination: the per-pixel loop unrolled
    switch (cw) {
      case 1: return scatter_item<T, A, kAdd, 1>(a, n, c0, cw, D, S);
      case 2: return scatter_item<T, A, kAdd, 2>(a, n, c0, cw, D, S);
      case 3: return scatter_item<T, A, kAdd, 3>(a, n, c0, cw, D, S);
      case 4: return scatter_item<T, A, kAdd, 4>(a, n, c0, cw, D, S);
      case 5: return scatter_item<T, A, kAdd, 5>(a, n, c0, cw, D, S);
      case 6: return scatter_item<T, A, kAdd, 6>(a, n, c0, cw, D, S);
      case 7: return scatter_item<T, A, kAdd, 7>(a, n, c0, cw, D, S);
      case 8: return scatter_item<T, A, kAdd, 8>(a, n, c0, cw, D, S);
      default: break;
    }
  }
  return scatter_item<T, A, kAdd, 0>(a, n, c0, cw, D, S);
}

template <class T, class A, bool kAdd>
void scatter_tasks(const void* ctx, i64 begin, i64 end) {
  const ScatterArgs& a = *static_cast<const ScatterArgs*>(ctx);
  const i64 chunks = (a.C + a.chunk - 1) / a.chunk, Q = a.H * a.W;
  constexpr bool kScratch = sizeof(A) != sizeof(T);  // float16 gradients sum in float32
  Scratch<A> scratch(kScratch ? Q * a.chunk : 0);
  for (i64 t = begin; t < end; ++t) {
    const i64 n = t / chunks, c0 = (t % chunks) * a.chunk;
    const i64 cw = a.C - c0 < a.chunk ? a.C - c0 : a.chunk;
    T* dst = static_cast<T*>(a.dst) + n * Q * a.C + c0;
    bool ok;
    if constexpr (kScratch) {
      ok = scatter_any<T, A, kAdd>(a, n, c0, cw, scratch.p, cw);
      if (ok) {
        for (i64 q = 0; q < Q; ++q) float_to_half_row(scratch.p + q * cw, dst + q * a.C, cw);
      }
    } else {
      ok = scatter_any<T, A, kAdd>(a, n, c0, cw, reinterpret_cast<A*>(dst), a.C);
    }
    if (!ok) {
      a.bad[t] = 1;
      return;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Average backward (gather).

template <class A>
struct Quotient {  // q = g / d, as IEEE division; a power of two by its exact reciprocal
  A d = A(1), inv = A(1);
  bool pow2 = true;
  explicit Quotient(i64 v) : d(static_cast<A>(v)), inv(A(1) / static_cast<A>(v)) {
    const u64 u = static_cast<u64>(v);
    const u64 m = v < 0 ? ~u + 1u : u;
    pow2 = m != 0 && (m & (m - 1)) == 0;
  }
};

// d[e] (first: 0) + q[map[e]] for e in [0, n). (Explicit AVX2 gathers measured 7% faster on
// (256,24,24,3) 2x2/s2, not worth their intrinsics; GCC's generic tuning does not emit them.)
template <class A>
inline void gather_add(A* NHWCPOOL_RESTRICT d, const A* NHWCPOOL_RESTRICT q,
                       const std::int32_t* NHWCPOOL_RESTRICT map, i64 n, bool first) {
  if (first) {
    for (i64 e = 0; e < n; ++e) d[e] = A(0) + q[map[e]];
  } else {
    for (i64 e = 0; e < n; ++e) d[e] += q[map[e]];
  }
}

struct AvgJob {
  const AvgBackwardArgs* a;
  i64 ring;  // quotient rows kept per task
};

// Quotient row of output row (n, oh): OW*C values of A.
template <class T, class A>
void quotient_row(const AvgBackwardArgs& a, i64 n, i64 oh, A* NHWCPOOL_RESTRICT q) {
  const Geometry& g = a.geo;
  const AxisTable& ht = *a.htab;
  const AxisTable& wt = *a.wtab;
  const auto ohi = static_cast<std::size_t>(oh);
  const i64 C = g.C;
  const T* src = static_cast<const T*>(a.grad_out) + (n * g.OH + oh) * g.OW * C;
  const i64 dh = a.count_include_pad ? ht.padded_count[ohi] : ht.count[ohi];
  auto divisor = [&](i64 ow) {
    const auto owi = static_cast<std::size_t>(ow);
    return a.divisor_override != 0 ? a.divisor_override
                                   : dh * (a.count_include_pad ? wt.padded_count[owi] : wt.count[owi]);
  };
  // Runs of windows with one divisor (a whole row of full windows) in one loop over run*C.
  for (i64 ow = 0; ow < g.OW;) {
    const i64 dv = divisor(ow);
    i64 end = ow + 1;
    while (end < g.OW && divisor(end) == dv) ++end;
    const Quotient<A> div(dv);
    const i64 b = ow * C, e = end * C;
    if constexpr (sizeof(T) == 2) {
      half_to_float_row(reinterpret_cast<const half_t*>(src) + b, q + b, e - b);
      if (div.pow2) {
        for (i64 c = b; c < e; ++c) q[c] = q[c] * div.inv;
      } else {
        for (i64 c = b; c < e; ++c) q[c] = q[c] / div.d;
      }
    } else {
      if (div.pow2) {
        for (i64 c = b; c < e; ++c) q[c] = src[c] * div.inv;
      } else {
        for (i64 c = b; c < e; ++c) q[c] = src[c] / div.d;
      }
    }
    ow = end;
  }
}

template <class T, class A>
void avg_tasks(const void* ctx, i64 begin, i64 end) {
  const AvgJob& j = *static_cast<const AvgJob*>(ctx);
  const AvgBackwardArgs& a = *j.a;
  const Geometry& g = a.geo;
  const CoverTable& hc = *a.hcover;
  const CoverTable& wc = *a.wcover;
  const i64 C = g.C, W = g.W, WC = W * C, OWC = g.OW * C, R = j.ring;
  constexpr bool kHalf = sizeof(T) == 2;
  // Few channels: whole rows at once. maps[l][x*C + c] = where the l-th output column covering
  // x keeps channel c in a quotient row, or the row's trailing 0 when fewer cover x. A row is
  // then, for each covering output row k and column rank l in order, acc[e] += q_k[maps[l][e]]:
  // each cell still adds its terms oh-major, ow ascending (an added +0 changes no sum that
  // starts from 0 + a term), and the loop runs over W*C (gathers) instead of pixels of C.
  const bool rows_at_once = C < 8 && OWC < (i64{1} << 30) && wc.most * WC <= (i64{1} << 24);
  const i64 QS = OWC + 1;  // quotient row stride: OW*C values and a 0
  Scratch<A> ring(R * QS), acc(kHalf ? (rows_at_once ? WC : C) : 0);
  Scratch<std::int32_t> maps(rows_at_once ? wc.most * WC : 0);
  if (rows_at_once) {
    for (i64 l = 0; l < wc.most; ++l) {
      for (i64 x = 0; x < W; ++x) {
        const i64 w0 = wc.offsets[x], cnt = wc.offsets[x + 1] - w0;
        for (i64 c = 0; c < C; ++c) {
          maps.p[l * WC + x * C + c] = static_cast<std::int32_t>(l < cnt ? wc.outputs[w0 + l] * C + c : OWC);
        }
      }
    }
  }
  Scratch<i64> tag(R);
  for (i64 r = 0; r < R; ++r) tag.p[r] = -1;
  const A* rows[64];  // quotient rows covering the current input row (most <= span <= R)
  Scratch<const A*> many(R > 64 ? R : 0);
  const A** qr = R > 64 ? many.p : rows;
  Scratch<const A*> terms(hc.most * wc.most);  // one pixel's terms (checked to fit by the caller)
  for (i64 t = begin; t < end; ++t) {
    const i64 n = t / g.H, y = t % g.H;
    T* out = static_cast<T*>(a.grad_in) + (n * g.H + y) * W * C;
    const i64 h0 = hc.offsets[y], h1 = hc.offsets[y + 1], m = h1 - h0;
    if (m == 0) {
      std::memset(static_cast<void*>(out), 0, static_cast<std::size_t>(W * C) * sizeof(T));
      continue;
    }
    for (i64 k = 0; k < m; ++k) {
      const i64 oh = hc.outputs[h0 + k];
      const i64 key = n * g.OH + oh, slot = oh % R;
      A* q = ring.p + slot * QS;
      if (tag.p[slot] != key) {
        quotient_row<T, A>(a, n, oh, q);
        q[OWC] = A(0);
        tag.p[slot] = key;
      }
      qr[k] = q;
    }
    if (rows_at_once) {
      A* NHWCPOOL_RESTRICT d = kHalf ? acc.p : reinterpret_cast<A*>(out);
      for (i64 k = 0; k < m; ++k) {
        for (i64 l = 0; l < wc.most; ++l) gather_add<A>(d, qr[k], maps.p + l * WC, WC, k == 0 && l == 0);
      }
      if constexpr (kHalf) float_to_half_row(acc.p, reinterpret_cast<half_t*>(out), WC);
      continue;
    }
    for (i64 x = 0; x < W; ++x) {
      const i64 w0 = wc.offsets[x], w1 = wc.offsets[x + 1];
      T* o = out + x * C;
      if (w1 == w0) {
        std::memset(static_cast<void*>(o), 0, static_cast<std::size_t>(C) * sizeof(T));
        continue;
      }
      // Terms in PyTorch's order: oh ascending, then ow ascending; the first added to 0.
      if (m == 1 && w1 - w0 == 1 && C < 8) {  // one term, few channels: no term list
        const A* NHWCPOOL_RESTRICT q = qr[0] + wc.outputs[w0] * C;
        if constexpr (kHalf) {
          for (i64 c = 0; c < C; ++c) o[c].bits = float_to_half(A(0) + q[c]);
        } else {
          for (i64 c = 0; c < C; ++c) o[c] = A(0) + q[c];
        }
        continue;
      }
      i64 nt = 0;
      for (i64 k = 0; k < m; ++k) {
        for (i64 l = w0; l < w1; ++l) terms.p[nt++] = qr[k] + wc.outputs[l] * C;
      }
      if constexpr (kHalf) {
        sum_terms<A>(acc.p, terms.p, nt, C);
        float_to_half_row(acc.p, reinterpret_cast<half_t*>(o), C);
      } else {
        sum_terms<A>(reinterpret_cast<A*>(o), terms.p, nt, C);
      }
    }
  }
}

}  // namespace

void scatter(const ScatterArgs& a) {
  if (a.N <= 0 || a.C <= 0 || a.H <= 0 || a.W <= 0 || a.chunk <= 0) return;
  const i64 items = a.N * ((a.C + a.chunk - 1) / a.chunk);
  const i64 work = a.N * a.C * (a.P + a.H * a.W);
  RangeFn fn = nullptr;
  if (a.accumulate) {
    switch (a.dtype) {
      case DType::f16: fn = &scatter_tasks<half_t, float, true>; break;
      case DType::f32: fn = &scatter_tasks<float, float, true>; break;
      case DType::f64: fn = &scatter_tasks<double, double, true>; break;
      default: return;  // (the dispatcher accepts floating types only)
    }
  } else {
    switch (itemsize(a.dtype)) {
      case 1: fn = &scatter_tasks<Bits<1>::type, Bits<1>::type, false>; break;
      case 2: fn = &scatter_tasks<Bits<2>::type, Bits<2>::type, false>; break;
      case 4: fn = &scatter_tasks<Bits<4>::type, Bits<4>::type, false>; break;
      case 8: fn = &scatter_tasks<Bits<8>::type, Bits<8>::type, false>; break;
      default: return;
    }
  }
  parallel_for(items, work, a.threads, fn, &a);
}

void avg_backward(const AvgBackwardArgs& a) {
  const Geometry& g = a.geo;
  if (g.N <= 0 || g.C <= 0) return;
  AvgJob j{&a, a.hcover->span > 0 ? a.hcover->span : 1};
  const double terms = static_cast<double>(g.N * g.H * g.W * g.C) *
                       (static_cast<double>(a.hcover->most) * static_cast<double>(a.wcover->most) + 1.0);
  const i64 work = terms > 1e18 ? static_cast<i64>(1e18) : static_cast<i64>(terms);
  RangeFn fn = nullptr;
  switch (a.dtype) {
    case DType::f16: fn = &avg_tasks<half_t, float>; break;
    case DType::f32: fn = &avg_tasks<float, float>; break;
    case DType::f64: fn = &avg_tasks<double, double>; break;
    default: return;
  }
  parallel_for(g.N * g.H, work, a.threads, fn, &j);
}

}  // namespace NHWCPOOL_ISA
}  // namespace nhwcpool
