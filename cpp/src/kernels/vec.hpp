// The one vector layer of the kernels: Vec<T, N>, a set of static functions over one register
// type per (element type, lane count), specialised per instruction set in vec_avx512.hpp and
// vec_avx2.hpp (included below); VecF and VecD name the build's float32 and float64 vectors
// (VecD: the same width), NHWCPOOL_VEC_BLOCKS
// (blocks.hpp) says whether there is one. Written once over it: the fused direct kernels
// (fused.hpp), the small-C gather (small_c_gather.hpp), the sliding windows (slide.hpp,
// slide_cols.hpp), the fused running passes (running_fused.hpp), the wide float32 sums
// (wide.hpp) and global average pooling (global_avg.hpp: VecF sums, and VecD sums of float32). vec_dispatch picks a kernel instantiation per block size.
//
// Part of the per-ISA kernel source: included only by kernels/all.hpp, inside namespace
// nhwcpool::NHWCPOOL_ISA and its anonymous namespace, after the files listed before it there.
//
// A Vec is a set of static functions over the raw register type (Vec::reg), not a wrapper
// object, so the kernels' register arrays are arrays of __m512 / __m256 and the compiler sees
// the code hand-written intrinsics gave (the per-ISA forms below are the ones the strategies
// used before they moved here). The layer is our own: Google Highway (the library for this)
// is installable here only at 1.0.3, without two-table lookups or LoadN / StoreN. Shape of the
// idea as in PyTorch's Vectorized<T> (aten/src/ATen/cpu/vec) and YNNPACK's ynnpack/base/simd/
// (one generic header, one file per instruction set).
//
// The specialisations: AVX-512 Vec<float, 16>, Vec<float, 8> (256-bit with mask registers,
// the sliding window's), Vec<double, 8>; AVX2 + F16C Vec<float, 8>, Vec<double, 4>; aarch64
// NEON Vec<float, 4>, Vec<double, 2> (vec_neon.hpp). Each
// carries only what its users need; a strategy names the vector it uses (VecF, or a per-build
// choice) and never a lane count other than V::N.
//
// Operations (x, a, b, acc: V::reg; lanes of V::N elements of type E = float or double):
//   zero(), set1(e)                    all lanes +0 / e
//   load<T>(p), store<T, Stream>(p, x) N lanes at p (unaligned); T = E, or half_t for the
//                                      float Vecs of the fused kernels (widened on load,
//                                      rounded to nearest even on store), or float for the
//                                      double Vecs (global_avg: N float32 widened exactly
//                                      on load; stored as N float32, each lane rounded to
//                                      nearest even, inf/NaN kept); Stream: non-temporal
//   Mask, mask(n)                      the lanes [0, n), n in 0..N
//   load_n(p, n), load_n(p, n, m)      lanes [0, n) from p (n in 0..N; none read beyond them),
//                                      the others +0; m = mask(n) precomputed
//   store_n(p, x, n, whole), store_n(p, x, n, whole, m)
//                                      writes lanes [0, n) at p; with `whole` it may also
//                                      write lanes [n, N) (the caller owns them: AVX2 then
//                                      avoids its slow masked stores)
//   Tail, tail_of(rem), load_tail<T>(p, tail), store_tail<T>(p, tail, x)
//                                      the fused kernels' and global_avg's last partial
//                                      vector (rem in 1..N-1): load_tail reads lanes
//                                      [0, rem), the others +0 and never touched; store_tail
//                                      writes lanes [0, rem) only; T as for load/store
//                                      (float16 for the float Vecs, float32 for the double
//                                      Vecs, widened and rounded the same way)
//   add, sub, mul, div                 lane for lane, IEEE (no contraction; the double Vecs
//                                      carry add and mul)
//   max(acc, x)                        PyTorch-exact, MaxOp::f lane for lane: x where x > acc
//                                      or x is NaN, else acc. So a NaN accumulator stays, a NaN
//                                      x comes in with its payload, and the first of equal
//                                      values stays (also +0 before -0 and -0 before +0).
//   max_into(acc, x)                   the same as max, in the instruction form best for a
//                                      running accumulator (AVX-512: into acc's register;
//                                      elsewhere max itself); vec_op's max
//   max_plain(acc, x)                  x where x > acc, else acc (either NaN gives acc): the
//                                      same bits as max when no lane is NaN; with or_nan, the
//                                      caller redoes the work with max when one was
//   Nan, no_nan(), or_nan(f, a, b), any_nan(f)
//                                      a sticky "some lane of a or b was NaN" flag
//   has_nan(x)                         some lane of x is NaN
//   Bad, no_bad(), or_bad(bad, x), any_bad(bad)
//                                      a sticky "some lane was inf or NaN" flag
//   Index, index(v), permute2(a, b, i) two-table permute: lane j of the result is lane v[j] of
//                                      the 2N lanes a:b (v: N int32 in 0 .. 2N-1, prepared
//                                      once by index)
//   Sel, take(acc, x), pick(m, a, x)   the argmax's lane choice: m = lanes where x > acc or x is
//                                      NaN (MaxOp's rule); pick: x in those lanes, a elsewhere
//   Idx, idx_set1(i), idx_pick(m, o, t), Wide, widen(o), store_wide<Stream>(d, w),
//   store_wide_tail(d, tail, w)        N int32 tap indices beside the N float lanes (blended by
//                                      the same m), widened to N int64 in registers and stored
//                                      at d (store_wide_tail: lanes [0, rem) only)
// And over any V: vec_op<V>(Op, acc, x) (MaxOp: max_into, SumOp: add) and vec_first<V>(Op, x) (a
// scan's first element: x for max, 0 + x for sums, as Op::first).
//
// Integer vectors, VecI<T> = Vec<T, kVecBytes / sizeof(T)> for T = int8 .. uint64 (one register
// of the build's width: 64, 32 or 16 bytes; the integer max kernels, and float16 max on the bits as int16 and
// uint16 lanes). All of one build share one register type (reg), so a kernel may apply the
// signed and the unsigned operations of one lane width to the same registers.
//   N, reg, set1(e)
//   load(p), store<Stream>(p, x)       N lanes at p (unaligned; Stream: non-temporal, p aligned)
//   kOverlapTail, Tail, tail_of(rem), load_tail(p, tail), store_tail(p, tail, x)
//                                      the last partial vector of a block (rem in 1..N-1). With
//                                      masked byte loads and stores (AVX-512) as for the float
//                                      Vecs. Without them (AVX2, NEON: kOverlapTail) there is no
//                                      load_tail/store_tail: the kernels take as last vector the
//                                      N lanes that end where the block ends, overlapping the
//                                      vector before it (vec_load_at, vec_store_at). That needs
//                                      N lanes of the pixel up to the block's end (the drivers
//                                      check c0 + cb >= N; the direct kernels' pixels are at
//                                      least 64 bytes), and stores the overlapped lanes again with
//                                      the same values. (The overlapping last vector is the usual
//                                      remainder trick of SIMD loops over arrays.)
//   max(a, b), min(a, b)               signed or unsigned as T
//   Cmp, gt(a, b), eq_zero(a), cmp_or(c, d), any(c)
//                                      lane tests (gt signed or unsigned as T) and whether any
//                                      lane of c is set
//   select_neg(x, a, b)                b in the lanes where x, as a signed integer, is negative,
//                                      else a
//   or_xor(a, b, c)                    a | (b ^ c)

// (NHWCPOOL_VEC_BLOCKS and kVecBlocks are set in blocks.hpp.)

template <class T, int N>
struct Vec;

#ifdef NHWCPOOL_ZMM_BLOCKS
#include "vec_avx512.hpp"
using VecF = Vec<float, 16>;
using VecD = Vec<double, 8>;

#elif defined(__ARM_NEON) && defined(__aarch64__)
#include "vec_neon.hpp"  // Vec<float, 4>, Vec<double, 2>
using VecD = Vec<double, 2>;

#elif defined(NHWCPOOL_VEC_BLOCKS)
#include "vec_avx2.hpp"
using VecF = Vec<float, 8>;
using VecD = Vec<double, 4>;
#endif

// The integer vectors (above): AVX-512, AVX2 and NEON (NHWCPOOL_INT_VECS, kIntVecs);
// kVecBytes is their width.
#if defined(NHWCPOOL_ZMM_BLOCKS)
#define NHWCPOOL_INT_VECS 1
constexpr int kVecBytes = 64;
#elif defined(NHWCPOOL_NEON)
#define NHWCPOOL_INT_VECS 1
constexpr int kVecBytes = 16;
#elif defined(NHWCPOOL_VEC_BLOCKS)
#define NHWCPOOL_INT_VECS 1
constexpr int kVecBytes = 32;
#endif
// VecF's argmax operations (Sel, take, pick, Idx ...): every build with a vector layer.
#ifdef NHWCPOOL_VEC_BLOCKS
#define NHWCPOOL_VEC_ARGMAX 1
#endif
#ifdef NHWCPOOL_INT_VECS
constexpr bool kIntVecs = true;
template <class T>
using VecI = Vec<T, kVecBytes / static_cast<int>(sizeof(T))>;
#else
constexpr bool kIntVecs = false;
#endif

#ifdef NHWCPOOL_VEC_BLOCKS
template <class V>
NHWCPOOL_ALWAYS_INLINE inline typename V::reg vec_op(MaxOp, typename V::reg acc, typename V::reg x) {
  return V::max_into(acc, x);
}
template <class V>
NHWCPOOL_ALWAYS_INLINE inline typename V::reg vec_op(SumOp, typename V::reg acc, typename V::reg x) {
  return V::add(acc, x);
}
template <class V>
NHWCPOOL_ALWAYS_INLINE inline typename V::reg vec_first(MaxOp, typename V::reg x) {
  return x;
}
template <class V>
NHWCPOOL_ALWAYS_INLINE inline typename V::reg vec_first(SumOp, typename V::reg x) {
  return V::add(V::zero(), x);
}
// Calls f(nv, tail_flag, tail) for cb lanes (1 .. one block) in vectors of V::N, with
// nv = ceil(cb / V::N) and tail_flag (the last vector is partial) as std::integral_constant,
// so f instantiates one kernel per case; tail masks the last vector. A block is at most 8
// vectors in every build (kBlockBytes: 128 floats in 512-bit ones, 64 in 256-bit ones, 512
// bytes of integers in 512-bit ones); MaxNV, when smaller, is the most the caller passes
// (float16 on the bits: a float block of halves is 4 int16 vectors), and no kernel is made
// for more. (A switch: a recursive if-chain here let GCC 12 spill the argmax kernel's
// registers to the stack, 2.5x slower.)
template <class V, int MaxNV = 8, class F>
NHWCPOOL_ALWAYS_INLINE inline void vec_dispatch(i64 cb, const F& f) {
  static_assert(8 * static_cast<i64>(sizeof(typename V::reg)) == kBlockBytes, "a block is 8 vectors");
  const int nv = static_cast<int>((cb + V::N - 1) / V::N);
  const int rem = static_cast<int>(cb % V::N);
  const typename V::Tail tail = V::tail_of(rem);
#define NHWCPOOL_V_CASE(k)                                            \
  case k:                                                             \
    if constexpr (k <= MaxNV) {                                       \
      if (rem == 0) {                                                 \
        f(std::integral_constant<int, k>{}, std::false_type{}, tail); \
      } else {                                                        \
        f(std::integral_constant<int, k>{}, std::true_type{}, tail);  \
      }                                                               \
    }                                                                 \
    return;
  switch (nv) {
    NHWCPOOL_V_CASE(1)
    NHWCPOOL_V_CASE(2)
    NHWCPOOL_V_CASE(3)
    NHWCPOOL_V_CASE(4)
    NHWCPOOL_V_CASE(5)
    NHWCPOOL_V_CASE(6)
    NHWCPOOL_V_CASE(7)
    default:
      NHWCPOOL_V_CASE(8)
  }
#undef NHWCPOOL_V_CASE
}

// Where vector v of NV over a block of cb lanes starts (lanes from c0): V::N * v, but with an
// overlapping last vector (V::kOverlapTail) the N lanes ending at cb.
template <class V, int NV, bool Tail>
NHWCPOOL_ALWAYS_INLINE inline i64 vec_at(int v, i64 cb) {
  (void)cb;
  if constexpr (Tail && V::kOverlapTail) {
    if (v == NV - 1) return cb - V::N;
  }
  return static_cast<i64>(V::N) * v;
}
// Vector v of NV from s (a block of cb lanes), the last one masked or overlapping when Tail.
template <class V, int NV, bool Tail, class T>
NHWCPOOL_ALWAYS_INLINE inline typename V::reg vec_load_at(const T* s, int v, i64 cb, typename V::Tail tail) {
  if constexpr (Tail && !V::kOverlapTail) {
    if (v == NV - 1) return V::load_tail(s + V::N * v, tail);
  } else {
    (void)tail;
  }
  return V::load(s + vec_at<V, NV, Tail>(v, cb));
}
// The same for stores (streamed only when Stream and never the last vector of a tail).
template <class V, int NV, bool Tail, bool Stream, class T>
NHWCPOOL_ALWAYS_INLINE inline void vec_store_at(T* d, int v, i64 cb, typename V::Tail tail, typename V::reg x) {
  if constexpr (Tail) {
    if (v == NV - 1) {
      if constexpr (V::kOverlapTail) {
        V::template store<false>(d + vec_at<V, NV, Tail>(v, cb), x);
      } else {
        V::store_tail(d + V::N * v, tail, x);
      }
      return;
    }
  }
  (void)tail;
  (void)cb;
  V::template store<Stream>(d + V::N * v, x);
}
#endif
