// Register blocks shared by the separable and the direct kernels: kBlockBytes, kZmmBlocks
// (NHWCPOOL_ZMM_BLOCKS), kVecBlocks (NHWCPOOL_VEC_BLOCKS), Window, reduce_block, reduce_rows.
//
// Part of the per-ISA kernel source: included only by kernels/all.hpp, inside namespace
// nhwcpool::NHWCPOOL_ISA and its anonymous namespace, after the files listed before it there.

// ---------------------------------------------------------------------------------------------
// Register-blocked reductions, shared by the separable and the direct kernels.

// Accumulator block of the register-blocked kernels: 8 vector registers (of 32 with AVX-512,
// of 16 with AVX2/SSE, of 32 with NEON). A whole 128-channel float32 pixel is one AVX-512 block, so each input
// row is read strictly forward, which the hardware prefetchers follow.
#if defined(__AVX512F__)
constexpr i64 kBlockBytes = 512;
#elif defined(NHWCPOOL_NEON)
constexpr i64 kBlockBytes = 128;  // 8 NEON vectors of 4 floats (vec_neon.hpp, vec_dispatch)
#else
constexpr i64 kBlockBytes = 256;
#endif

// The AVX-512 build has fused register-blocked kernels for float32 and float16 blocks.
#if defined(__AVX512F__) && defined(__AVX512DQ__) && defined(__AVX512BW__) && defined(__AVX512VL__)
#define NHWCPOOL_ZMM_BLOCKS 1
constexpr bool kZmmBlocks = true;
#else
constexpr bool kZmmBlocks = false;
#endif

// Fused register-blocked float32 and float16 max and average (fused.hpp over vec.hpp): the
// AVX-512 build, the AVX2 + F16C one and the aarch64 (NEON) one.
#if defined(NHWCPOOL_ZMM_BLOCKS) || (defined(__AVX2__) && defined(NHWCPOOL_F16C)) || defined(NHWCPOOL_NEON)
#define NHWCPOOL_VEC_BLOCKS 1
constexpr bool kVecBlocks = true;
#else
constexpr bool kVecBlocks = false;
#endif

template <class A>
constexpr i64 block_of() {
  return static_cast<i64>(kBlockBytes / static_cast<i64>(sizeof(A)));
}

// Load one tap's channel block as accumulator values: the pointer itself when no conversion
// is needed, else converted into tmp.
template <class A, class T>
inline const A* tap_values(const T* s, A* tmp, i64 n) {
  if constexpr (std::is_same<A, T>::value) {
    (void)tmp;
    (void)n;
    return s;
  } else {
    copy_from(tmp, s, n);
    return tmp;
  }
}

// The in-range taps of one output pixel's window, as row-major pointers to their first
// channel (one flat list, so the reduction is a single loop the compiler keeps in registers).
template <class T>
struct Window {
  const T* const* taps;
  i64 ntaps;
  const i64* flat = nullptr;  // with indices: y*W + x of each tap
  i64 shift = 0;              // added to every tap pointer (see TapList::window_at)
  i64 flat_shift = 0;         // added to every flat index
  const T* tap(i64 t) const { return taps[t] + shift; }
  i64 index(i64 t) const { return flat[t] + flat_shift; }
};

template <class Op, class A, class T, bool Full>
inline void reduce_block(const Window<T>& win, i64 c0, i64 cb, A* NHWCPOOL_RESTRICT acc) {
  NHWCPOOL_TRACE(block);
  constexpr i64 B = block_of<A>();
  const i64 n = Full ? B : cb;
  if constexpr (std::is_same<T, half_t>::value) {  // converted through a small buffer (F16C)
    alignas(64) A tmp[B];
    const A* v = tap_values<A>(win.tap(0) + c0, tmp, n);
    for (i64 c = 0; c < n; ++c) acc[c] = Op::first(v[c]);
    for (i64 t = 1; t < win.ntaps; ++t) {
      v = tap_values<A>(win.tap(t) + c0, tmp, n);
      for (i64 c = 0; c < n; ++c) acc[c] = Op::f(acc[c], v[c]);
    }
  } else {  // converted in the loop (widening int/float conversions vectorize)
    const T* s = win.tap(0) + c0;
    for (i64 c = 0; c < n; ++c) acc[c] = Op::first(static_cast<A>(s[c]));
    for (i64 t = 1; t < win.ntaps; ++t) {
      s = win.tap(t) + c0;
      for (i64 c = 0; c < n; ++c) acc[c] = Op::f(acc[c], static_cast<A>(s[c]));
    }
  }
}


// Reduces nrows rows of n elements element-wise into dst, in list order: a copy, then one
// pass per further row. (Blocking this so dst stays in L1 while every row is combined, and
// register blocking across rows, both measured slower: whole-row passes are long sequential
// streams, which the prefetchers serve best.)
template <class Op, class A, class T>
void reduce_rows(const T* const* rows, i64 nrows, A* NHWCPOOL_RESTRICT dst, i64 n) {
  copy_from(dst, rows[0], n);
  if constexpr (!std::is_same<Op, MaxOp>::value) {
    for (i64 i = 0; i < n; ++i) dst[i] = Op::first(dst[i]);
  }
  for (i64 t = 1; t < nrows; ++t) combine_from<Op>(dst, rows[t], n);
}
