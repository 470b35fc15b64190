// Pooling kernels, compiled once per instruction set.
//
// This file is included by kernels_baseline.cpp, kernels_avx2.cpp and kernels_avx512.cpp with
// NHWCPOOL_ISA naming a namespace; each translation unit gets its own compiler flags. Everything
// except the two entry points lives in an anonymous namespace, and no standard-library template
// is instantiated here, so the linker can never merge an AVX-512 copy of some inline function
// into baseline code (the ODR hazard PyTorch's native/cpu/README warns about).
//
// Algorithm (README.md, "How it is fast"): one task = one output row (n, oh).
//   1. Vertical pass: reduce the window's in-range input rows, each a contiguous run of W*C
//      elements, into one row buffer. The loop runs over W*C, so it vectorizes for any C.
//   2. Horizontal pass: for each output column, reduce the in-range window columns of the row
//      buffer (vector loop over C). For small C the reduction runs over shifted W*C vectors
//      instead and full windows are then picked out (the "vectorise across W*C" technique from
//      XNNPACK/oneDNN notes in research; PyTorch's channels-last kernel falls to scalar code there).
//   3. Average: divide by the per-window divisor; convert to the output type.
// Float32 shortcuts: small pixels gather whole windows with vector permutes (SmallGather);
// wide pixels have direct per-window kernels (MaxDirect, AvgDirect), and stride-1 windows of
// up to 3x3 slide along the row in registers (slide).
// Max with indices scans taps in row-major order with PyTorch's rule (take v if v > cur or v is
// NaN), so ties give the first tap and several NaNs give the last NaN, exactly like PyTorch.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <new>
#include <type_traits>

#include "nhwcpool/kernels.hpp"
#include "nhwcpool/parallel.hpp"

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__) || defined(_M_IX86)
#include <immintrin.h>
#endif

#if defined(__F16C__) || (defined(_MSC_VER) && defined(__AVX2__))
#define NHWCPOOL_F16C 1
#endif

#if defined(__GNUC__) || defined(__clang__)
#define NHWCPOOL_RESTRICT __restrict__
#elif defined(_MSC_VER)
#define NHWCPOOL_RESTRICT __restrict
#else
#define NHWCPOOL_RESTRICT
#endif

// Kept out of line: called once per row, and inlined they changed GCC 12's inlining and
// register allocation of the per-pixel loops beside them (float16 2x2/s2 average over 128
// channels 1.3x slower from L2).
#if defined(__GNUC__) || defined(__clang__)
#define NHWCPOOL_NOINLINE __attribute__((noinline))
#elif defined(_MSC_VER)
#define NHWCPOOL_NOINLINE __declspec(noinline)
#else
#define NHWCPOOL_NOINLINE
#endif

// The fused AVX-512 kernels and their dispatch are forced inline into the pixel loops: with
// the integer and pixel-run kernels in the same file, GCC 12 ran out of inlining budget and
// called max_zmm / avg_zmm once per pixel (2x2/s2 over (1,56,56,128) from L2: float32 max
// 22 -> 24 us, float16 average 13 -> 20 us). avg_zmm itself is left to the compiler, which
// inlines it: forced, the float16 average over 128 channels measured 1.2x slower.
#if defined(__GNUC__) || defined(__clang__)
#define NHWCPOOL_ALWAYS_INLINE __attribute__((always_inline))
#else
#define NHWCPOOL_ALWAYS_INLINE
#endif

namespace nhwcpool {
namespace NHWCPOOL_ISA {
namespace {

using i64 = std::int64_t;

// ---------------------------------------------------------------------------------------------
// float16 <-> float32. Hardware F16C where the TU is compiled for it, exact software otherwise.

inline float bits_to_float(std::uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline std::uint32_t float_to_bits(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

inline float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exp = (h >> 10) & 0x1fu;
  const std::uint32_t mant = h & 0x3ffu;
  if (exp == 0) {  // zero or subnormal: mant * 2^-24, exact in float
    const float v = static_cast<float>(mant) * (1.0f / 16777216.0f);
    return bits_to_float(float_to_bits(v) | sign);
  }
  if (exp == 31) {  // inf / NaN (NaN made quiet, payload kept)
    return bits_to_float(sign | 0x7f800000u | (mant << 13) | (mant ? 0x400000u : 0u));
  }
  return bits_to_float(sign | ((exp + 112u) << 23) | (mant << 13));
}

// Round to nearest even; the classic bit-level method (F. Giesen's float_to_half_rtne).
inline std::uint16_t float_to_half(float f) {
  std::uint32_t x = float_to_bits(f);
  const std::uint32_t sign = (x >> 16) & 0x8000u;
  x &= 0x7fffffffu;
  std::uint32_t o;
  if (x >= 0x7f800000u) {
    // inf, or NaN made quiet with the top of its payload kept (as vcvtps2ph does)
    o = 0x7c00u | (x > 0x7f800000u ? 0x200u | ((x >> 13) & 0x3ffu) : 0u);
  } else if (x >= 0x477ff000u) {  // rounds to infinity
    o = 0x7c00u;
  } else if (x < 0x38800000u) {  // result is subnormal or zero
    const float v = bits_to_float(x) + 0.5f;
    o = float_to_bits(v) - 0x3f000000u;
  } else {
    const std::uint32_t odd = (x >> 13) & 1u;
    x += 0xc8000fffu;
    x += odd;
    o = x >> 13;
  }
  return static_cast<std::uint16_t>(o | sign);
}

void half_to_float_row(const half_t* NHWCPOOL_RESTRICT src, float* NHWCPOOL_RESTRICT dst, i64 n) {
  i64 i = 0;
#ifdef NHWCPOOL_F16C
  for (const i64 n8 = n - n % 8; i < n8; i += 8) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
  }
#endif
  for (; i < n; ++i) dst[i] = half_to_float(src[i].bits);
}

void float_to_half_row(const float* NHWCPOOL_RESTRICT src, half_t* NHWCPOOL_RESTRICT dst, i64 n) {
  i64 i = 0;
#ifdef NHWCPOOL_F16C
  for (const i64 n8 = n - n % 8; i < n8; i += 8) {
    const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), h);
  }
#endif
  for (; i < n; ++i) dst[i].bits = float_to_half(src[i]);
}

// ---------------------------------------------------------------------------------------------
// Reduction operators. The max keeps a NaN once seen and takes a NaN when it comes: a window
// holding a NaN gives NaN (PyTorch's `val > maxval || isnan(val)`).

struct MaxOp {
  template <class A>
  static inline A f(A acc, A v) {
    return ((v > acc) | (v != v)) ? v : acc;  // NOLINT: v != v is the NaN test
  }
  template <class A>
  static inline A first(A v) {
    return v;
  }
  template <class A>
  static inline A identity();  // lowest_value<A>(), defined below
};
struct SumOp {
  template <class A>
  static inline A f(A acc, A v) {
    return acc + v;
  }
  // Sums start from 0 (as PyTorch's): 0 + x turns a -0 into +0; free for integers.
  template <class A>
  static inline A first(A v) {
    return A(0) + v;
  }
  template <class A>
  static inline A identity() {
    return A(0);
  }
};

// PyTorch's index for a window with no in-range tap: y*W + x of its first tap >= 0, which
// can lie far outside the plane with extreme dilation; wraps (defined) instead of overflowing.
inline i64 start_index(i64 y, i64 W, i64 x) {
  return static_cast<i64>(static_cast<std::uint64_t>(y) * static_cast<std::uint64_t>(W) +
                          static_cast<std::uint64_t>(x));
}

#ifdef NHWCPOOL_F16C
// 8-lane float forms of the two operators, for the fused float16 loops below.
inline __m256 op8(MaxOp, __m256 acc, __m256 v) {
  // max(v, acc) keeps a NaN accumulator and the first of equal values; the blend takes a NaN v.
  return _mm256_blendv_ps(_mm256_max_ps(v, acc), v, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
}
inline __m256 op8(SumOp, __m256 acc, __m256 v) { return _mm256_add_ps(acc, v); }
inline __m256 load_half8(const half_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
#endif

template <class A>
inline A lowest_value() {
  return std::numeric_limits<A>::has_infinity ? -std::numeric_limits<A>::infinity()
                                              : std::numeric_limits<A>::lowest();
}
template <class A>
inline A MaxOp::identity() {
  return lowest_value<A>();
}

template <class T> struct MaxAccOf { using type = T; };
template <> struct MaxAccOf<half_t> { using type = float; };

// ---------------------------------------------------------------------------------------------
// Scratch memory: one block per task chunk (never per window), cache-line aligned.
//
// Blocks come from a per-thread arena: a 4x4 call spent ~40% of its time in malloc/free of
// its scratch rows and tables (perf, cpu-clock), and tiny images (256 x 24x24x3) pay that
// per task. The arena hands blocks out stack-wise from one buffer per thread and reuses the
// space when the top block comes back, or all of them have; a request that does not fit goes
// to the heap and the buffer grows (up to kArenaKeep) once nothing is handed out. The same
// idea as the per-thread scratch pools of oneDNN and XNNPACK's workspace.
class ScratchArena {
 public:
  static constexpr std::size_t kArenaKeep = std::size_t{1} << 20;
  static ScratchArena& local() {
    thread_local ScratchArena arena;
    return arena;
  }
  void* take(std::size_t bytes) {
    bytes = round(bytes);
    if (bytes <= cap_ - top_) {
      void* p = base_ + top_;
      top_ += bytes;
      ++live_;
      return p;
    }
    if (top_ + bytes > want_) want_ = top_ + bytes;
    if (live_ == 0 && grow()) return take(bytes);
    return nullptr;
  }
  void give(void* p, std::size_t bytes) {
    bytes = round(bytes);
    --live_;
    if (static_cast<char*>(p) + bytes == base_ + top_) top_ -= bytes;
    if (live_ == 0) {
      top_ = 0;
      grow();
    }
  }
  ~ScratchArena() { release(); }

 private:
  static std::size_t round(std::size_t b) { return (b + 63) & ~std::size_t{63}; }
  // With nothing handed out: a buffer for the largest total seen so far, if worth keeping.
  bool grow() {
    if (want_ <= cap_ || want_ > kArenaKeep) return false;
    std::size_t cap = std::size_t{16} << 10;
    while (cap < want_) cap *= 2;
    release();
    base_ = static_cast<char*>(::operator new(cap, std::align_val_t{64}));
    cap_ = cap;
    top_ = 0;
    return true;
  }
  void release() {
    if (base_) ::operator delete(base_, std::align_val_t{64});
    base_ = nullptr;
    cap_ = 0;
  }
  char* base_ = nullptr;
  std::size_t cap_ = 0, top_ = 0, want_ = 0;
  i64 live_ = 0;
};

template <class A>
class Scratch {
 public:
  explicit Scratch(i64 n) {
    if (n > 0) {
      bytes_ = static_cast<std::size_t>(n) * sizeof(A);
      arena_ = &ScratchArena::local();
      void* q = arena_->take(bytes_);
      if (q == nullptr) {
        arena_ = nullptr;
        q = ::operator new(bytes_, std::align_val_t{64});
      }
      p = static_cast<A*>(q);
    }
  }
  ~Scratch() {
    if (p == nullptr) return;
    if (arena_ != nullptr) {
      arena_->give(p, bytes_);
    } else {
      ::operator delete(p, std::align_val_t{64});
    }
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  A* p = nullptr;

 private:
  ScratchArena* arena_ = nullptr;  // the constructing thread's arena (blocks return there)
  std::size_t bytes_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Memory-system helpers.

// Floats from p to the next multiple of `bytes` (a vector's or a chunk's), 0 when p is on one
// or is not float-aligned: the head of a channel loop whose vectors then start on the input's
// boundaries (NumPy's large arrays start 16 bytes into a cache line, where every unaligned
// vector touches two lines). slide_rkd, slide_cols_kd and reduce_wide_f32 use it.
inline i64 floats_to_boundary(const void* p, std::uintptr_t bytes) {
  const auto a = reinterpret_cast<std::uintptr_t>(p);
  return a % 4 != 0 ? 0 : static_cast<i64>((bytes - a % bytes) % bytes) / 4;
}

// Software prefetch of one cache line for reading. A prefetch never faults, so it may point
// past the end of the input. GCC 12 deletes a loop whose body is only __builtin_prefetch (or
// _mm_prefetch) as dead code, at -O1 and above, so the instruction is kept with a volatile asm.
inline void prefetch_line(const void* p) {
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
  __asm__ volatile("prefetcht0 %0" : : "m"(*static_cast<const char*>(p)));
#elif defined(__GNUC__) || defined(__clang__)
  __builtin_prefetch(p, 0, 3);
  __asm__ volatile("" : : "r"(p));
#elif defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
  _mm_prefetch(static_cast<const char*>(p), _MM_HINT_T0);
#else
  (void)p;
#endif
}

#if defined(__SSE2__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 2)
#define NHWCPOOL_HAVE_STREAM 1
#endif

// Copies nbytes to dst with non-temporal stores for the whole 64-byte lines it covers and
// ordinary stores for the partial lines at either end (a line only partly written by
// non-temporal stores is flushed as a partial write, which is slow). Used for the int64
// indices of large outputs, the biggest array a call writes: skipping the read-for-ownership
// of each line measured 2.9 -> 2.2 ms for return_indices on (8,112,112,128) on Zen 4. (For
// the values alone, per-pixel streaming measured no faster than ordinary stores; a buffered
// line-exact writer measured slower, its extra copy costing more than it saved.)
inline void stream_copy(void* dst, const void* src, i64 nbytes) {
#ifdef NHWCPOOL_HAVE_STREAM
  char* d = static_cast<char*>(dst);
  const char* s = static_cast<const char*>(src);
  i64 head = static_cast<i64>((64 - (reinterpret_cast<std::uintptr_t>(d) & 63)) & 63);
  if (head > nbytes) head = nbytes;
  if (head > 0) std::memcpy(d, s, static_cast<std::size_t>(head));  // (no call for aligned blocks)
  d += head;
  s += head;
  nbytes -= head;
  for (; nbytes >= 64; nbytes -= 64, d += 64, s += 64) {
#if defined(__AVX__)
    _mm256_stream_si256(reinterpret_cast<__m256i*>(d), _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s)));
    _mm256_stream_si256(reinterpret_cast<__m256i*>(d + 32), _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + 32)));
#else
    for (int k = 0; k < 64; k += 16) {
      _mm_stream_si128(reinterpret_cast<__m128i*>(d + k), _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + k)));
    }
#endif
  }
  if (nbytes > 0) std::memcpy(d, s, static_cast<std::size_t>(nbytes));
#else
  std::memcpy(dst, src, static_cast<std::size_t>(nbytes));
#endif
}

// Orders this thread's non-temporal stores before whatever it does next.
inline void stream_fence() {
#ifdef NHWCPOOL_HAVE_STREAM
  _mm_sfence();
#endif
}

// ---------------------------------------------------------------------------------------------
// Row primitives (contiguous, vectorizable).

template <class A, class Tin>
inline void copy_from(A* NHWCPOOL_RESTRICT dst, const Tin* NHWCPOOL_RESTRICT src, i64 n) {
  if constexpr (std::is_same<Tin, half_t>::value && std::is_same<A, float>::value) {
    half_to_float_row(src, dst, n);
  } else if constexpr (std::is_same<Tin, half_t>::value) {
    constexpr i64 kChunk = 256;
    alignas(64) float tmp[kChunk];
    for (i64 i = 0; i < n; i += kChunk) {
      const i64 m = n - i < kChunk ? n - i : kChunk;
      half_to_float_row(src + i, tmp, m);
      for (i64 j = 0; j < m; ++j) dst[i + j] = static_cast<A>(tmp[j]);
    }
  } else if constexpr (std::is_same<Tin, A>::value) {
    std::memcpy(dst, src, static_cast<std::size_t>(n) * sizeof(A));
  } else {
    for (i64 i = 0; i < n; ++i) dst[i] = static_cast<A>(src[i]);
  }
}

template <class Op, class A>
inline void combine(A* NHWCPOOL_RESTRICT dst, const A* NHWCPOOL_RESTRICT src, i64 n) {
  for (i64 i = 0; i < n; ++i) dst[i] = Op::f(dst[i], src[i]);
}

template <class Op, class A, class Tin>
inline void combine_from(A* NHWCPOOL_RESTRICT dst, const Tin* NHWCPOOL_RESTRICT src, i64 n) {
#ifdef NHWCPOOL_F16C
  if constexpr (std::is_same<Tin, half_t>::value && std::is_same<A, float>::value) {
    i64 i = 0;  // convert and combine in registers (no temporary buffer)
    for (const i64 n8 = n - n % 8; i < n8; i += 8) {
      _mm256_storeu_ps(dst + i, op8(Op{}, _mm256_loadu_ps(dst + i), load_half8(src + i)));
    }
    for (; i < n; ++i) dst[i] = Op::f(dst[i], half_to_float(src[i].bits));
    return;
  }
#endif
  if constexpr (std::is_same<Tin, half_t>::value) {
    constexpr i64 kChunk = 256;
    alignas(64) float tmp[kChunk];
    for (i64 i = 0; i < n; i += kChunk) {
      const i64 m = n - i < kChunk ? n - i : kChunk;
      half_to_float_row(src + i, tmp, m);
      for (i64 j = 0; j < m; ++j) dst[i + j] = Op::f(dst[i + j], static_cast<A>(tmp[j]));
    }
  } else {
    for (i64 i = 0; i < n; ++i) dst[i] = Op::f(dst[i], static_cast<A>(src[i]));
  }
}

template <class A>
inline void fill(A* dst, A v, i64 n) {
  for (i64 i = 0; i < n; ++i) dst[i] = v;
}

template <class I>
inline I round_clamp(double v) {
  if (v != v) return I(0);
  v = std::nearbyint(v);
  constexpr double lo = static_cast<double>(std::numeric_limits<I>::lowest());
  constexpr double hi = static_cast<double>(std::numeric_limits<I>::max());
  if (v <= lo) return std::numeric_limits<I>::lowest();
  if (v >= hi) return std::numeric_limits<I>::max();
  return static_cast<I>(v);
}

// Final conversion of a row of means (float or double) to the requested output dtype.
template <class M>
void store_convert(const M* NHWCPOOL_RESTRICT src, void* dst, DType t, i64 n) {
  switch (t) {
    case DType::f16: {
      half_t* d = static_cast<half_t*>(dst);
      if constexpr (std::is_same<M, float>::value) {
        float_to_half_row(src, d, n);
      } else {
        constexpr i64 kChunk = 256;
        alignas(64) float tmp[kChunk];
        for (i64 i = 0; i < n; i += kChunk) {
          const i64 m = n - i < kChunk ? n - i : kChunk;
          for (i64 j = 0; j < m; ++j) tmp[j] = static_cast<float>(src[i + j]);
          float_to_half_row(tmp, d + i, m);
        }
      }
      return;
    }
    case DType::f32: {
      float* d = static_cast<float*>(dst);
      for (i64 i = 0; i < n; ++i) d[i] = static_cast<float>(src[i]);
      return;
    }
    case DType::f64: {
      double* d = static_cast<double*>(dst);
      for (i64 i = 0; i < n; ++i) d[i] = static_cast<double>(src[i]);
      return;
    }
#define NHWCPOOL_INT_CASE(tag, I)                                                   \
  case DType::tag: {                                                                \
    I* d = static_cast<I*>(dst);                                                    \
    for (i64 i = 0; i < n; ++i) d[i] = round_clamp<I>(static_cast<double>(src[i])); \
    return;                                                                         \
  }
    NHWCPOOL_INT_CASE(i8, std::int8_t)
    NHWCPOOL_INT_CASE(u8, std::uint8_t)
    NHWCPOOL_INT_CASE(i16, std::int16_t)
    NHWCPOOL_INT_CASE(u16, std::uint16_t)
    NHWCPOOL_INT_CASE(i32, std::int32_t)
    NHWCPOOL_INT_CASE(i64, std::int64_t)
    NHWCPOOL_INT_CASE(u32, std::uint32_t)
    NHWCPOOL_INT_CASE(u64, std::uint64_t)
#undef NHWCPOOL_INT_CASE
  }
}

// ---------------------------------------------------------------------------------------------
// Register-blocked reductions, shared by the separable and the direct kernels.

// Accumulator block of the register-blocked kernels: 8 vector registers (of 32 with AVX-512,
// of 16 with AVX2/SSE). A whole 128-channel float32 pixel is one AVX-512 block, so each input
// row is read strictly forward, which the hardware prefetchers follow.
#if defined(__AVX512F__)
constexpr i64 kBlockBytes = 512;
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

// ---------------------------------------------------------------------------------------------
// Horizontal pass: out[o, :] = reduce over the in-range taps of window o of `row` (W*C).

// Below this many bytes per pixel the per-window channel loop is too short to vectorize well,
// so the reduction runs over shifted W*C vectors instead.
constexpr i64 kSmallPixelBytes = 64;
// Windows from this size on (stride 1) take the running passes (max or sum): 3 operations
// per output instead of k - 1.
constexpr i64 kVhgwMinKernel = 4;

// Running max (or sum) along one axis in O(1) per output whatever the window (van Herk /
// Gil-Werman, as in image morphology and oneDNN's notes on large pooling windows): for stride
// 1 and no dilation, cut the padded axis into blocks of k; each window [o, o+k) covers the
// tail of one block and the head of the next, so its max is max(suffix[o], prefix[o+k-1]).
// Elements are `C`-wide vectors (pixels or whole rows). Ties and NaNs resolve exactly as the
// sequential scan does: the first of equal values, the last NaN (suffix and prefix each keep
// that rule, and the suffix part comes first). Positions in the padding hold Op's identity
// (lowest_value for max, 0 for sums).
// The same blocks give sums with no subtraction: unlike a running sum (add the new element,
// subtract the old), nothing cancels, so a window's error is that of an ordinary summation in
// another order (a large value leaving the window leaves no residue, and inf - inf never
// makes a NaN), and the sign of a zero sum comes out as PyTorch's (0 + ...).
inline bool vhgw_applies(const AxisParams& ax, i64 n) {
  return ax.stride == 1 && ax.dilation == 1 && ax.kernel >= kVhgwMinKernel && ax.kernel <= n;
}

template <class Op, class A>
inline void combine3(A* NHWCPOOL_RESTRICT dst, const A* NHWCPOOL_RESTRICT a, const A* NHWCPOOL_RESTRICT b, i64 n) {
  for (i64 i = 0; i < n; ++i) dst[i] = Op::f(a[i], b[i]);
}

// dst = Op(a, b) (b: nullptr for none), started as a sequential scan is (Op::first: 0 + a).
template <class Op, class A>
inline void combine_out(A* NHWCPOOL_RESTRICT dst, const A* NHWCPOOL_RESTRICT a, const A* NHWCPOOL_RESTRICT b, i64 n) {
  if (b == nullptr) {
    for (i64 i = 0; i < n; ++i) dst[i] = Op::first(a[i]);
  } else {
    for (i64 i = 0; i < n; ++i) dst[i] = Op::f(Op::first(a[i]), b[i]);
  }
}

// One axis of length n (elements of C values at src(x)), output length OW, padding pad_begin.
// pre and suf: scratch of (OW + k - 1) * C each. Writes output o at out + o * C.
template <class Op, class A, class Src>
void vhgw_axis(Src src, i64 n, i64 k, i64 pad, i64 OW, i64 C, A* NHWCPOOL_RESTRICT out,
               A* NHWCPOOL_RESTRICT pre, A* NHWCPOOL_RESTRICT suf) {
  const i64 L = OW + k - 1;  // padded positions any window touches
  const A id = Op::template identity<A>();
  for (i64 b0 = 0; b0 < L; b0 += k) {
    const i64 b1 = b0 + k < L ? b0 + k : L;
    for (i64 u = b0; u < b1; ++u) {  // prefix within the block
      A* d = pre + u * C;
      const i64 x = u - pad;
      const bool in = x >= 0 && x < n;
      if (u == b0) {
        if (in) {
          copy_from(d, src(x), C);
        } else {
          fill(d, id, C);
        }
      } else if (in) {
        combine3<Op>(d, d - C, src(x), C);
      } else {
        std::memcpy(d, d - C, static_cast<std::size_t>(C) * sizeof(A));
      }
    }
    for (i64 u = b1 - 1; u >= b0; --u) {  // suffix within the block
      A* d = suf + u * C;
      const i64 x = u - pad;
      const bool in = x >= 0 && x < n;
      if (u == b1 - 1) {
        if (in) {
          copy_from(d, src(x), C);
        } else {
          fill(d, id, C);
        }
      } else if (in) {
        combine3<Op>(d, src(x), d + C, C);
      } else {
        std::memcpy(d, d + C, static_cast<std::size_t>(C) * sizeof(A));
      }
    }
  }
  for (i64 o = 0; o < OW; ++o) {
    combine_out<Op>(out + o * C, suf + o * C, o % k == 0 ? nullptr : pre + (o + k - 1) * C, C);
  }
}

// Small pixels, float32: windows gathered by vector permutes. A run of P output pixels reads
// ((P-1)*stride + (kw-1)*dilation + 1) * C consecutive floats of each window row; these fit
// two vector registers when C is small, so the rows are combined in registers (the vertical
// pass) and each tap column of the P windows is then picked out with one two-register permute
// (vpermt2ps; two vpermps and a blend with AVX2) -- no row buffer, no per-pixel loop. The
// combination order is that of the row passes (rows first, then tap columns), so results are
// identical to theirs. Idea from XNNPACK's and oneDNN's notes on vectorising small-channel
// pooling across W*C rather than C (research/peers.md, section B).
#if defined(__AVX2__)
#define NHWCPOOL_GATHER 1
#if defined(__AVX512F__)
constexpr int kGL = 16;  // lanes per register
using GVec = __m512;
struct GIdx {
  __m512i idx;
};
inline __mmask16 g_mask(i64 n) { return static_cast<__mmask16>((1u << n) - 1u); }
inline GVec g_load(const float* p, i64 n) {
  return n >= kGL ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(g_mask(n), p);
}
inline GIdx g_index(const std::int32_t* v) { return GIdx{_mm512_loadu_si512(v)}; }
inline GVec g_pick(GVec a, GVec b, const GIdx& i) { return _mm512_permutex2var_ps(a, i.idx, b); }
inline void g_store(float* p, GVec v, i64 n, bool) { _mm512_mask_storeu_ps(p, g_mask(n), v); }
// With a mask computed once per call (GatherPlan): masked loads and stores cost the same as
// plain ones on this ISA, and a zero mask reads nothing.
using GMask = __mmask16;
inline GVec g_load_m(const float* p, i64, GMask m) { return _mm512_maskz_loadu_ps(m, p); }
inline GVec g_load_full(const float* p) { return _mm512_loadu_ps(p); }
// Max without NaN propagation (max(v, acc): the first of equal values, as g_op) and a running
// "some lane was NaN" flag, for rows that are redone exactly when it is set.
using GNan = __mmask16;
inline GNan g_nan_none() { return 0; }
inline GVec g_max_plain(GVec acc, GVec v) { return _mm512_maskz_max_ps(static_cast<__mmask16>(0xFFFF), v, acc); }
inline GNan g_nan_add(GNan f, GVec a, GVec b) { return static_cast<GNan>(f | _mm512_cmp_ps_mask(a, b, _CMP_UNORD_Q)); }
inline bool g_nan_any(GNan f) { return f != 0; }
inline void g_store_m(float* p, GVec v, i64, bool, GMask m) { _mm512_mask_storeu_ps(p, m, v); }
inline GVec g_op(MaxOp, GVec acc, GVec v) {
  // (maskz form: GCC 12 warns about _mm512_max_ps's undefined pass-through register)
  const __m512 m = _mm512_maskz_max_ps(static_cast<__mmask16>(0xFFFF), v, acc);
  return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), m, v);
}
inline GVec g_op(SumOp, GVec acc, GVec v) { return _mm512_add_ps(acc, v); }
inline GVec g_zero() { return _mm512_setzero_ps(); }
#else
constexpr int kGL = 8;
using GVec = __m256;
struct GIdx {
  __m256i idx;
  __m256 hi;  // lanes taken from the second register
};
inline __m256i g_mask(i64 n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
inline GVec g_load(const float* p, i64 n) {
  return n >= kGL ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, g_mask(n));
}
inline GIdx g_index(const std::int32_t* v) {
  const __m256i i = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(v));
  return GIdx{i, _mm256_castsi256_ps(_mm256_cmpgt_epi32(i, _mm256_set1_epi32(kGL - 1)))};
}
inline GVec g_pick(GVec a, GVec b, const GIdx& i) {
  return _mm256_blendv_ps(_mm256_permutevar8x32_ps(a, i.idx), _mm256_permutevar8x32_ps(b, i.idx), i.hi);
}
// whole: all kGL lanes may be written (the caller owns them and rewrites the extra ones);
// AMD's masked stores are slow.
inline void g_store(float* p, GVec v, i64 n, bool whole) {
  if (whole || n >= kGL) {
    _mm256_storeu_ps(p, v);
  } else {
    _mm256_maskstore_ps(p, g_mask(n), v);
  }
}
using GNan = __m256;
inline GNan g_nan_none() { return _mm256_setzero_ps(); }
inline GVec g_max_plain(GVec acc, GVec v) { return _mm256_max_ps(v, acc); }
inline GNan g_nan_add(GNan f, GVec a, GVec b) { return _mm256_or_ps(f, _mm256_cmp_ps(a, b, _CMP_UNORD_Q)); }
inline bool g_nan_any(GNan f) { return _mm256_movemask_ps(f) != 0; }
using GMask = __m256i;
inline GVec g_load_m(const float* p, i64 n, GMask m) { return n >= kGL ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, m); }
inline GVec g_load_full(const float* p) { return _mm256_loadu_ps(p); }
inline void g_store_m(float* p, GVec v, i64 n, bool whole, GMask m) {
  if (whole || n >= kGL) {
    _mm256_storeu_ps(p, v);
  } else {
    _mm256_maskstore_ps(p, m, v);
  }
}
inline GVec g_op(MaxOp, GVec acc, GVec v) { return op8(MaxOp{}, acc, v); }
inline GVec g_op(SumOp, GVec acc, GVec v) { return _mm256_add_ps(acc, v); }
inline GVec g_zero() { return _mm256_setzero_ps(); }
#endif

// Most tap columns a gather handles: (kw-1)*dilation + 1 <= 2*kGL / C.
constexpr i64 kGatherMaxTaps = 2 * kGL;

class SmallGather {
 public:
  // For the full windows of axis w of g (float32 pixels of C < 16 values).
  explicit SmallGather(const Geometry& g) : C_(g.C), sw_(g.w.stride), kw_(g.w.kernel) {
    const i64 dw = g.w.dilation;
    // (Order matters: each test bounds the operands of the next, so nothing overflows.)
    if (g.C * 4 >= 64 || g.w.kernel > kGatherMaxTaps || dw > 2 * kGL || (g.w.kernel - 1) * dw + 1 > 2 * kGL) return;
    P_ = sw_ > 2 * kGL ? 1 : kGL / C_;  // span(1) does not involve the stride
    while (P_ > 0 && span(P_, dw) > 2 * kGL) --P_;
    if (P_ == 0) return;
    for (i64 t = 0; t < kw_; ++t) {
      for (i64 j = 0; j < kGL; ++j) {
        const i64 p = j / C_, c = j - p * C_;
        idx_[t][j] = p < P_ ? static_cast<std::int32_t>((p * sw_ + t * dw) * C_ + c) : 0;
      }
    }
    dw_ = dw;
    ok_ = true;
  }
  bool ok() const { return ok_; }

  // One step of a row: P windows read from `base` (n0 + n1 floats in two registers) and
  // written at `out` (ns floats; `whole`: all kGL lanes may be written).
  struct Step {
    i64 base, out, n0, n1, ns;
    GMask m0, m1, ms;
    bool whole;
  };
  // The steps of run() for one row layout, computed once per task instead of once per row:
  // tiny images (256 x 24x24x3) have 3 steps per output row, and working out their offsets
  // and masks cost as much as the steps themselves.
  i64 plan_size(i64 nout) const { return ok_ ? (nout + P_ - 1) / P_ : 0; }
  // Returns how many leading steps read whole registers inside the row (plain loads: masked
  // 512-bit loads measured ~2x the cost of plain ones on Zen 4).
  i64 plan(Step* steps, i64 rowlen, i64 col0, i64 nout, i64 room) const {
    i64 k = 0, full = 0;
    for (i64 p = 0; p < nout; p += P_, ++k) {
      const i64 np = nout - p < P_ ? nout - p : P_;
      Step& st = steps[k];
      st.base = (col0 + p * sw_) * C_;
      i64 n = span(np, dw_);
      if (st.base + n > rowlen) n = rowlen - st.base;  // never: full windows lie inside the row
      st.n0 = n < kGL ? n : kGL;
      st.n1 = n - st.n0;
      st.out = p * C_;
      st.ns = np * C_;
      st.m0 = g_mask(st.n0);
      st.m1 = g_mask(st.n1);
      st.ms = g_mask(st.ns);
      st.whole = p * C_ + kGL <= room;
      if (full == k && st.base + 2 * kGL <= rowlen) full = k + 1;
    }
    return full;
  }
  // run() over a planned row layout; specialised for 2 and 3 rows and taps (the usual
  // windows), so that the whole step is straight-line code.
  //
  // Max first runs without NaN propagation (a third of the vector work: the NaN-propagating
  // max is a max, a compare and a blend) while collecting whether any value read was NaN;
  // only then is the row redone with NaN propagation. Without NaNs both give the same bits.
  template <class Op>
  void run_planned(const Step* steps, i64 nfull, i64 nsteps, const float* const* rows, i64 nrows, float* out) const {
    const i64 nk = kw_;
    if (nrows == 2 && nk == 2) return run_checked<Op, 2, 2>(steps, nfull, nsteps, rows, 2, out);
    if (nrows == 3 && nk == 3) return run_checked<Op, 3, 3>(steps, nfull, nsteps, rows, 3, out);
    if (nrows == 2 && nk == 3) return run_checked<Op, 2, 3>(steps, nfull, nsteps, rows, 2, out);
    if (nrows == 3 && nk == 2) return run_checked<Op, 3, 2>(steps, nfull, nsteps, rows, 3, out);
    run_checked<Op, 0, 0>(steps, nfull, nsteps, rows, nrows, out);
  }

  // Windows o = 0..nout-1 whose first tap column is col0 + o*stride, over the element-wise
  // Op of the nrows rows (each rowlen floats; read only inside [0, rowlen)). Writes nout*C
  // floats at out; `room`: floats writable at out (>= nout*C; the extra ones are scratch the
  // caller rewrites later).
  template <class Op>
  void run(const float* const* rows, i64 nrows, i64 rowlen, i64 col0, i64 nout, float* out, i64 room) const {
    GIdx ix[kGatherMaxTaps];
    for (i64 t = 0; t < kw_; ++t) ix[t] = g_index(idx_[t]);
    for (i64 p = 0; p < nout; p += P_) {
      const i64 np = nout - p < P_ ? nout - p : P_;
      const i64 base = (col0 + p * sw_) * C_;
      i64 n = span(np, dw_);
      if (base + n > rowlen) n = rowlen - base;  // never: full windows lie inside the row
      const i64 n0 = n < kGL ? n : kGL, n1 = n - n0;
      GVec v0 = g_load(rows[0] + base, n0);
      GVec v1 = n1 > 0 ? g_load(rows[0] + base + kGL, n1) : g_zero();
      if constexpr (std::is_same<Op, SumOp>::value) {  // sums start from 0, as the row passes'
        v0 = _add(g_zero(), v0);
        v1 = _add(g_zero(), v1);
      }
      for (i64 r = 1; r < nrows; ++r) {
        v0 = g_op(Op{}, v0, g_load(rows[r] + base, n0));
        if (n1 > 0) v1 = g_op(Op{}, v1, g_load(rows[r] + base + kGL, n1));
      }
      GVec acc = g_pick(v0, v1, ix[0]);
      if constexpr (std::is_same<Op, SumOp>::value) acc = _add(g_zero(), acc);
      for (i64 t = 1; t < kw_; ++t) acc = g_op(Op{}, acc, g_pick(v0, v1, ix[t]));
      g_store(out + p * C_, acc, np * C_, p * C_ + kGL <= room);
    }
  }

 private:
  template <class Op, int R, int K>
  void run_checked(const Step* steps, i64 nfull, i64 nsteps, const float* const* rows, i64 nrows, float* out) const {
    if constexpr (std::is_same<Op, MaxOp>::value) {
      if (!run_rk<Op, R, K, true>(steps, nfull, nsteps, rows, nrows, out)) return;
    }
    run_rk<Op, R, K, false>(steps, nfull, nsteps, rows, nrows, out);
  }
  // Plain: max without NaN propagation; returns whether a NaN was read (then the row must be
  // redone). Otherwise returns false.
  template <class Op, int R, int K, bool Plain>
  bool run_rk(const Step* steps, i64 nfull, i64 nsteps, const float* const* rows, i64 nrows, float* out) const {
    const i64 nr = R > 0 ? R : nrows, nk = K > 0 ? K : kw_;
    auto op = [](GVec acc, GVec v) { return Plain ? g_max_plain(acc, v) : g_op(Op{}, acc, v); };
    GIdx ix[kGatherMaxTaps];
    for (i64 t = 0; t < nk; ++t) ix[t] = g_index(idx_[t]);
    GNan nan = g_nan_none();
    auto step = [&](const Step& st, auto full) {
      constexpr bool kFull = decltype(full)::value;
      auto load = [&st](const float* p, i64 half) {
        if constexpr (kFull) return g_load_full(p + half * kGL);
        return half == 0 ? g_load_m(p, st.n0, st.m0) : g_load_m(p + kGL, st.n1, st.m1);  // none read if n1 == 0
      };
      GVec v0 = load(rows[0] + st.base, 0);
      GVec v1 = load(rows[0] + st.base, 1);
      if constexpr (std::is_same<Op, SumOp>::value) {  // same order of operations as run()
        v0 = _add(g_zero(), v0);
        v1 = _add(g_zero(), v1);
      }
      if constexpr (Plain) nan = g_nan_add(nan, v0, v1);
      for (i64 r = 1; r < nr; ++r) {
        const GVec u0 = load(rows[r] + st.base, 0);
        const GVec u1 = load(rows[r] + st.base, 1);
        if constexpr (Plain) nan = g_nan_add(nan, u0, u1);
        v0 = op(v0, u0);
        v1 = op(v1, u1);
      }
      GVec acc = g_pick(v0, v1, ix[0]);
      if constexpr (std::is_same<Op, SumOp>::value) acc = _add(g_zero(), acc);
      for (i64 t = 1; t < nk; ++t) acc = op(acc, g_pick(v0, v1, ix[t]));
      g_store_m(out + st.out, acc, st.ns, st.whole, st.ms);
    };
    for (i64 k = 0; k < nfull; ++k) step(steps[k], std::true_type{});
    for (i64 k = nfull; k < nsteps; ++k) step(steps[k], std::false_type{});
    return Plain && g_nan_any(nan);
  }
  static GVec _add(GVec a, GVec b) { return g_op(SumOp{}, a, b); }
  i64 span(i64 np, i64 dw) const { return ((np - 1) * sw_ + (kw_ - 1) * dw + 1) * C_; }
  i64 C_, sw_, kw_, dw_ = 1, P_ = 0;
  bool ok_ = false;
  alignas(64) std::int32_t idx_[kGatherMaxTaps][kGL] = {};
};
#else
// No permute gather below AVX2: the row passes do this work.
class SmallGather {
 public:
  explicit SmallGather(const Geometry&) {}
  bool ok() const { return false; }
  struct Step {};
  i64 plan_size(i64) const { return 0; }
  i64 plan(Step*, i64, i64, i64, i64) const { return 0; }
  template <class Op>
  void run_planned(const Step*, i64, i64, const float* const*, i64, float*) const {}
  template <class Op>
  void run(const float* const*, i64, i64, i64, i64, float*, i64) const {}
};
#endif

// taps: scratch for taps_w pointers.
template <class Op, class A>
void horizontal(const A* NHWCPOOL_RESTRICT row, A* NHWCPOOL_RESTRICT out, const Geometry& g,
                const AxisTable& wt, A* NHWCPOOL_RESTRICT sh, A empty, const A** taps,
                A* vh = nullptr, const SmallGather* gather = nullptr) {
  const i64 C = g.C, OW = g.OW, kw = g.w.kernel, dw = g.w.dilation;
  if (vh != nullptr) {  // caller checked vhgw_applies(g.w, g.W); vh holds 2 * (OW + kw - 1) * C
    const i64 L = OW + kw - 1;
    vhgw_axis<Op, A>([row, C](i64 x) { return row + x * C; }, g.W, kw, g.w.pad_begin, OW, C, out, vh, vh + L * C);
    return;
  }
  i64 fb = wt.full_begin, fe = wt.full_end;
  const bool small = sh != nullptr && fe > fb && C * static_cast<i64>(sizeof(A)) < kSmallPixelBytes;
  if (small) {
    const i64 c0 = wt.first[static_cast<std::size_t>(fb)];
    bool gathered = false;
    if constexpr (std::is_same<A, float>::value) {
      if (gather != nullptr && gather->ok()) {
        const float* r = row;
        gather->run<Op>(&r, 1, g.W * C, c0, fe - fb, out + fb * C, (OW - fb) * C);
        gathered = true;
      }
    }
    if (!gathered) {
      const i64 c1 = wt.first[static_cast<std::size_t>(fe - 1)];
      const i64 len = (c1 - c0 + 1) * C;
      const A* base = row + c0 * C;
      // Full windows exist, so (kw-1)*dw < W: kw <= taps_w and these offsets stay inside the row.
      for (i64 t = 0; t < kw; ++t) taps[t] = base + t * dw * C;
      if (g.w.stride == 1) {
        reduce_rows<Op>(taps, kw, out + fb * C, len);
      } else {
        reduce_rows<Op>(taps, kw, sh, len);
        for (i64 o = fb; o < fe; ++o) {
          const A* s = sh + (wt.first[static_cast<std::size_t>(o)] - c0) * C;
          A* d = out + o * C;
          for (i64 c = 0; c < C; ++c) d[c] = s[c];
        }
      }
    }
  } else {
    fb = fe = 0;
  }
  for (i64 o = 0; o < OW; ++o) {
    if (o == fb && fe > fb) {
      o = fe - 1;
      continue;
    }
    const auto oi = static_cast<std::size_t>(o);
    A* d = out + o * C;
    const i64 cnt = wt.count[oi];
    if (cnt == 0) {
      fill(d, empty, C);
      continue;
    }
    const i64 f = wt.first[oi];
    for (i64 t = 0; t < cnt; ++t) taps[t] = row + (f + t * dw) * C;
    reduce_rows<Op>(taps, cnt, d, C);
  }
}

// Pointer to input row (n, h).
template <class T>
inline const T* input_row(const InputView& in, i64 n, i64 h) {
  return reinterpret_cast<const T*>(static_cast<const char*>(in.data) + n * in.stride_n +
                                    h * in.stride_h);
}

// The in-range input rows of window row oh of image n, into rows (taps_h pointers); returns
// their number.
template <class T>
inline i64 window_rows(const InputView& in, const Geometry& g, const AxisTable& ht, i64 n, i64 oh,
                       const T** rows) {
  const auto oi = static_cast<std::size_t>(oh);
  const i64 hf = ht.first[oi], hc = ht.count[oi];
  for (i64 t = 0; t < hc; ++t) rows[t] = input_row<T>(in, n, hf + t * g.h.dilation);
  return hc;
}

// Small pixels in short rows (for example NCHW planes pooled one channel at a time): an output
// row consumes stride_h input rows of a few hundred bytes, and the hardware prefetchers, which
// stop at page boundaries, fall behind on one core. So each output row prefetches the bytes
// its window advances by, kShortRowsAhead bytes past its last row. Only for rows stored one
// after another (those bytes are the next rows) and inputs of 4 MiB or more (in cache,
// the prefetches cost more than they save: (64,28,28,1) 10.0 -> 11.3 us). Zen 4, one thread,
// float32 from memory: 2x2/s2 average of (512,112,112,1) 4.7 -> 1.2 ms, max 3.4 -> 0.8 ms,
// average of (2048,28,28,1) 0.89 -> 0.66 ms.
constexpr i64 kShortRowBytes = 2048;
constexpr i64 kShortRowsAhead = 4096;
constexpr double kShortRowsMinInput = 4.0 * 1024 * 1024;
struct ShortRowPrefetch {
  i64 step = 0;  // bytes per output row (0: off)
  i64 rowbytes = 0;
  template <class T>
  ShortRowPrefetch(const InputView& in, const Geometry& g, const T*) {
    rowbytes = g.W * g.C * static_cast<i64>(sizeof(T));
    const double input = static_cast<double>(g.N) * static_cast<double>(g.H) * static_cast<double>(rowbytes);
    // The rows one output row adds: stride rows, but no more than the window's own (a larger
    // stride skips rows, which need no prefetch; also keeps stride * rowbytes from overflowing).
    const i64 rows = g.h.stride < g.taps_h ? g.h.stride : g.taps_h;
    if (rowbytes <= kShortRowBytes && in.stride_h == rowbytes && g.h.dilation == 1 && input >= kShortRowsMinInput) {
      step = rows * rowbytes;
    }
  }
  void operator()(const void* last_row) const {
    if (step == 0) return;
    const char* p = static_cast<const char*>(last_row) + rowbytes + kShortRowsAhead;
    for (i64 b = 0; b < step; b += 64) prefetch_line(p + b);
  }
};

// Vertical pass: reduce the in-range rows of window `oh` into buf, or point straight at the
// input row when there is a single one and no conversion is needed. rows: scratch for taps_h
// pointers.
template <class Op, class A, class T>
const A* vertical(const InputView& in, const Geometry& g, const AxisTable& ht, i64 n, i64 oh,
                  A* buf, const T** rows) {
  const i64 hc = window_rows(in, g, ht, n, oh, rows);
  if (hc == 1 && std::is_same<A, T>::value && std::is_same<Op, MaxOp>::value) {
    return reinterpret_cast<const A*>(rows[0]);
  }
  reduce_rows<Op>(rows, hc, buf, g.W * g.C);
  return buf;
}

// Fused small-pixel float32 rows: when every window of the row lies inside the input
// horizontally, the gather reads the window's input rows directly (no row buffer).
inline bool fused_rows(const SmallGather& gs, const Geometry& g, const AxisTable& wt) {
  return gs.ok() && wt.full_begin == 0 && wt.full_end == g.OW;
}

// ---------------------------------------------------------------------------------------------
// Max pooling, values only.

// Vertical running max or sum (vhgw_axis along H) over one task's output rows, taken in
// order: holds the suffixes of the current block of k padded rows (k rows of W*C) and the
// prefix of the next block so far. Used while k rows fit kVhgwScratchBytes; beyond that the
// O(k) row passes run instead, with O(W*C) scratch. T: the input's type, A: the accumulator's.
constexpr i64 kVhgwScratchBytes = i64{4} << 20;
template <class Op, class A, class T = A>
class VerticalVhgw {
 public:
  VerticalVhgw(const Geometry& g, bool on)
      : k_(g.h.kernel), wc_(g.W * g.C), suf_(on ? g.h.kernel * g.W * g.C : 0), pre_(on ? g.W * g.C : 0) {}
  static bool applies(const Geometry& g) {
    return vhgw_applies(g.h, g.H) &&
           static_cast<double>(g.h.kernel) * static_cast<double>(g.W) * static_cast<double>(g.C) *
                   static_cast<double>(sizeof(A)) <=
               static_cast<double>(kVhgwScratchBytes);
  }
  // Op over padded rows [oh, oh + k) of image n; may return a pointer into its own scratch.
  const A* row(const InputView& in, const Geometry& g, i64 n, i64 oh, A* NHWCPOOL_RESTRICT out) {
    A* b = nullptr;
    const A* a = parts(in, g, n, oh, &b, nullptr);
    if (b == nullptr) return a;
    combine3<Op>(out, a, b, wc_);
    return out;
  }
  // The same row as its two parts, Op(a, *b) element-wise (*b: nullptr when a is the row):
  // the suffix of block oh / k from row oh, and the prefix of the next block (pointers into
  // this object's scratch, valid until the next call). With `add` (only where T is A), the
  // prefix's last input row may be left to the caller: *add is then that row (else nullptr),
  // and the caller must do *b = Op(*b, *add) element-wise before using *b.
  const A* parts(const InputView& in, const Geometry& g, i64 n, i64 oh, A** b_out, const T** add) {
    if (add != nullptr) *add = nullptr;
    const i64 b = oh / k_, j = oh - b * k_;
    if (n != n_ || b != b_ || j < plen_ || j < sfirst_) {  // rows come in order; else start over
      // Only the suffixes from j on: a task that starts inside a block (the second of two
      // threads on 13x13/s1 over 40 rows starts at j = 7) builds no rows it will not use.
      build_suffix(in, g, n, b, j);
      n_ = n;
      b_ = b;
      plen_ = 0;
      sfirst_ = j;
    }
    *b_out = nullptr;
    if (j == 0) return suf_.p;
    while (plen_ < j) {  // prefix of block b+1 up to padded row (b+1)k + j - 1
      const T* src = input(in, g, n, (b + 1) * k_ + plen_);
      if (plen_ == 0) {
        if (src) {
          copy_from(pre_.p, src, wc_);
        } else {
          fill(pre_.p, Op::template identity<A>(), wc_);
        }
      } else if (src) {
        if (add != nullptr && plen_ + 1 == j) {
          *add = src;
        } else {
          combine_from<Op>(pre_.p, src, wc_);
        }
      }
      ++plen_;
    }
    *b_out = pre_.p;
    return suf_.p + j * wc_;
  }

 private:
  const T* input(const InputView& in, const Geometry& g, i64 n, i64 u) const {
    const i64 x = u - g.h.pad_begin;
    return x >= 0 && x < g.H ? input_row<T>(in, n, x) : nullptr;
  }
  void build_suffix(const InputView& in, const Geometry& g, i64 n, i64 b, i64 jfirst) {
    for (i64 jj = k_ - 1; jj >= jfirst; --jj) {
      A* d = suf_.p + jj * wc_;
      const T* src = input(in, g, n, b * k_ + jj);
      if (jj == k_ - 1) {
        if (src) {
          copy_from(d, src, wc_);
        } else {
          fill(d, Op::template identity<A>(), wc_);
        }
      } else if (!src) {
        std::memcpy(d, d + wc_, static_cast<std::size_t>(wc_) * sizeof(A));
      } else if constexpr (std::is_same<A, T>::value) {
        combine3<Op>(d, src, d + wc_, wc_);
      } else {
        copy_from(d, src, wc_);  // Op(src, d + wc_): the earlier row first
        combine<Op>(d, d + wc_, wc_);
      }
    }
  }
  i64 k_, wc_;
  Scratch<A> suf_, pre_;
  i64 n_ = -1, b_ = -1, plen_ = 0, sfirst_ = 0;
};

// take ? x : y without a branch. With few channels the loops over c are not vectorised, and
// GCC compiles the select as a branch, which random data mispredicts half the time (2x2/s2
// argmax of float32 (64,64,64,3) from standard-normal data: 3.9 ms, 1.1 ms on data whose
// branches predict).
template <class V>
inline V select_bits(bool take, V x, V y) {
  using U = typename std::conditional<sizeof(V) == 1, std::uint8_t,
            typename std::conditional<sizeof(V) == 2, std::uint16_t,
            typename std::conditional<sizeof(V) == 4, std::uint32_t, std::uint64_t>::type>::type>::type;
  static_assert(sizeof(U) == sizeof(V), "select_bits: 1, 2, 4 or 8-byte values");
  U ux, uy;
  std::memcpy(&ux, &x, sizeof(V));
  std::memcpy(&uy, &y, sizeof(V));
  const U mask = static_cast<U>(U(0) - static_cast<U>(take));
  const U r = static_cast<U>((ux & mask) | (uy & static_cast<U>(~mask)));
  V out;
  std::memcpy(&out, &r, sizeof(V));
  return out;
}
constexpr i64 kBranchFreeChannels = 16;

// Max pooling with PyTorch-convention indices (flat y*W + x per (n, c) plane).
template <class T>
struct MaxIndexed {
  using A = typename MaxAccOf<T>::type;
  static constexpr bool kSame = std::is_same<A, T>::value;

  static void run(const void* vctx, i64 begin, i64 end) {
    const MaxPoolArgs& a = *static_cast<const MaxPoolArgs*>(vctx);
    const Geometry& g = a.geo;
    const AxisTable& ht = *a.htab;
    const AxisTable& wt = *a.wtab;
    const i64 C = g.C, W = g.W, WC = W * C, OWC = g.OW * C, dh = g.h.dilation, dw = g.w.dilation;
    Scratch<A> conv(kSame ? 0 : WC), vbuf(kSame ? 0 : OWC);
    // Few channels: the windows that lie inside the row (ow in [fb, fe)) are updated tap by
    // tap in one flat loop over their (ow, c) elements, reading through a table of offsets
    // (off: element of tap 0, col: its column), with branch-free selects; per-window loops
    // over 1-15 channels are mostly overhead. (2x2/s2 argmax
    // of float32 (64,64,64,3) from standard-normal data, one thread, from Python: 3.9 -> 1.7 ms
    // scalar, 0.38 ms with the AVX-512 gathers below. GCC's generic tuning does not emit
    // gathers itself, so other types and ISAs keep the scalar, branch-free loop.)
    // (Rows of more than 2^20 inner-window elements keep the per-window loop: the tables take
    // 20 bytes per element and thread.)
    const bool flat = C < kBranchFreeChannels && wt.full_end > wt.full_begin &&
                      (wt.full_end - wt.full_begin) * C <= (i64{1} << 20);
    const i64 fb = flat ? wt.full_begin : 0, fe = flat ? wt.full_end : 0;
    Scratch<i64> off(flat ? (fe - fb) * C : 0), col(flat ? (fe - fb) * C : 0);
    const ShortRowPrefetch pf(a.in, g, static_cast<const T*>(nullptr));
#ifdef __AVX512F__
    // float rows shorter than 2^31 elements: 32-bit offsets for vgatherdps, 16 elements a step
    // (with the row prefetch and a masked tail, C = 1 planes of an NCHW input, 2x2/s2 argmax over
    // (512,112,112,1), C++ harness: 14.9 -> 4.4 ms).
    constexpr bool kGather = std::is_same<A, float>::value;
    const bool gather = kGather && flat && WC < (i64{1} << 31);
    Scratch<std::int32_t> off32(gather ? (fe - fb) * C : 0);
#endif
    for (i64 o = fb; o < fe; ++o) {
      const i64 w0 = wt.first[static_cast<std::size_t>(o)];
      for (i64 c = 0; c < C; ++c) {
        off.p[(o - fb) * C + c] = w0 * C + c;
        col.p[(o - fb) * C + c] = w0;
#ifdef __AVX512F__
        if (gather) off32.p[(o - fb) * C + c] = static_cast<std::int32_t>(w0 * C + c);
#endif
      }
    }
    for (i64 r = begin; r < end; ++r) {
      const i64 n = r / g.OH, oh = r - n * g.OH;
      const auto ohi = static_cast<std::size_t>(oh);
      T* orow = static_cast<T*>(a.out) + r * OWC;
      A* val = kSame ? reinterpret_cast<A*>(orow) : vbuf.p;
      i64* idx = a.indices + r * OWC;
      const i64 hstart = ht.start[ohi];
      fill(val, lowest_value<A>(), OWC);
      for (i64 o = 0; o < g.OW; ++o) {
        const i64 si = start_index(hstart, W, wt.start[static_cast<std::size_t>(o)]);
        for (i64 c = 0; c < C; ++c) idx[o * C + c] = si;
      }
      const i64 hf = ht.first[ohi], hc = ht.count[ohi];
      if (flat && hc > 0) pf(input_row<T>(a.in, n, hf + (hc - 1) * dh));
      for (i64 t = 0; t < hc; ++t) {
        const i64 h = hf + t * dh;
        const T* src = input_row<T>(a.in, n, h);
        const A* rp;
        if constexpr (kSame) {
          rp = src;
        } else {
          copy_from(conv.p, src, WC);
          rp = conv.p;
        }
        if (flat) {
          const i64 ne = (fe - fb) * C;
          A* NHWCPOOL_RESTRICT mv = val + fb * C;
          i64* NHWCPOOL_RESTRICT mi = idx + fb * C;
          const i64* NHWCPOOL_RESTRICT op = off.p;
          const i64* NHWCPOOL_RESTRICT cp = col.p;
          for (i64 j = 0; j < g.w.kernel; ++j) {
            const A* NHWCPOOL_RESTRICT s = rp + j * dw * C;
            const i64 id0 = h * W + j * dw;
            i64 e = 0;
#ifdef __AVX512F__
            if constexpr (kGather) {
              if (gather) {
                const __m512i vid0 = _mm512_set1_epi64(id0);
                for (; e < ne; e += 16) {
                  const i64 left = ne - e;
                  const __mmask16 lanes = left >= 16 ? static_cast<__mmask16>(0xFFFF)
                                                     : static_cast<__mmask16>((1u << left) - 1u);
                  const __m512i o = _mm512_maskz_loadu_epi32(lanes, off32.p + e);
                  const __m512 v = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), lanes, o, s, 4);
                  const __m512 m = _mm512_maskz_loadu_ps(lanes, mv + e);
                  // (v > m) | (v != v), as the scalar loop: NaN taps win, NaN maxima stay
                  const __mmask16 take = static_cast<__mmask16>(
                      lanes & (_mm512_cmp_ps_mask(v, m, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q)));
                  _mm512_mask_storeu_ps(mv + e, take, v);
                  const auto tlo = static_cast<__mmask8>(take), thi = static_cast<__mmask8>(take >> 8);
                  _mm512_mask_storeu_epi64(mi + e, tlo, _mm512_add_epi64(vid0, _mm512_maskz_loadu_epi64(tlo, cp + e)));
                  _mm512_mask_storeu_epi64(mi + e + 8, thi,
                                           _mm512_add_epi64(vid0, _mm512_maskz_loadu_epi64(thi, cp + e + 8)));
                }
              }
            }
#endif
            for (; e < ne; ++e) {
              const A v = s[op[e]];
              const bool take = (v > mv[e]) | (v != v);  // NOLINT: NaN test
              mv[e] = select_bits(take, v, mv[e]);
              mi[e] = select_bits(take, id0 + cp[e], mi[e]);
            }
          }
        }
        for (i64 o = 0; o < g.OW; ++o) {
          if (o == fb && fe > fb) {
            o = fe - 1;
            continue;
          }
          const auto oi = static_cast<std::size_t>(o);
          const i64 f = wt.first[oi], cnt = wt.count[oi];
          A* NHWCPOOL_RESTRICT mv = val + o * C;
          i64* NHWCPOOL_RESTRICT mi = idx + o * C;
          for (i64 j = 0; j < cnt; ++j) {
            const i64 w = f + j * dw;
            const A* NHWCPOOL_RESTRICT s = rp + w * C;
            const i64 id = h * W + w;
            // (From 16 channels the ternaries vectorise better than the bit selects: float64
            // and uint8 argmax over 64 channels were 1.16x / 1.25x slower with select_bits.)
            if (C < kBranchFreeChannels) {
              for (i64 c = 0; c < C; ++c) {
                const A v = s[c];
                const bool take = (v > mv[c]) | (v != v);  // NOLINT: NaN test
                mv[c] = select_bits(take, v, mv[c]);
                mi[c] = select_bits(take, id, mi[c]);
              }
            } else {
              for (i64 c = 0; c < C; ++c) {
                const A v = s[c];
                const bool take = (v > mv[c]) | (v != v);  // NOLINT: NaN test
                mv[c] = take ? v : mv[c];
                mi[c] = take ? id : mi[c];
              }
            }
          }
        }
      }
      if constexpr (!kSame) float_to_half_row(vbuf.p, orow, OWC);
    }
  }
};

// ---------------------------------------------------------------------------------------------
// Average pooling. A = accumulator, M = type the mean is computed in.

// out = sum / d, exactly as IEEE division. A power-of-two divisor (2x2, 4x4 windows) uses the
// exact reciprocal instead: multiplying by 2^-k rounds identically to dividing by 2^k, and a
// multiply costs far less than a vector divide. (A reciprocal multiply with one FMA correction
// step, exact for small integer divisors outside subnormal quotients, measured no faster than
// vdivps in the sliding 3x3 average on Zen 4, so it is not used.)
template <class M>
struct Divisor {
  M d = M(1), inv = M(1);
  bool pow2 = true;
  Divisor() = default;
  explicit Divisor(i64 v) : d(static_cast<M>(v)), inv(M(1) / static_cast<M>(v)) {
    const std::uint64_t u = static_cast<std::uint64_t>(v);
    const std::uint64_t m = v < 0 ? ~u + 1u : u;  // |v| without negating INT64_MIN
    pow2 = m != 0 && (m & (m - 1)) == 0;
  }
  // narrow: the mean is rounded again, to a type with at most half of M's precision (a
  // float64 mean stored as float32 or float16). Then sum * (1/d) serves (vdivpd was a third of
  // a 13x13/s1 average's time): it is within 2 ulp of M's quotient, so the narrow result is
  // the same except where the quotient lies within that of a tie of the narrow type, where it
  // may take the tie's other neighbour (still within half an ulp). Not for integer results.
  template <class A, class O>
  inline void apply(const A* NHWCPOOL_RESTRICT sum, O* NHWCPOOL_RESTRICT out, i64 n, bool narrow = false) const {
    if (pow2 || narrow) {
      for (i64 c = 0; c < n; ++c) out[c] = static_cast<O>(static_cast<M>(sum[c]) * inv);
    } else {
      for (i64 c = 0; c < n; ++c) out[c] = static_cast<O>(static_cast<M>(sum[c]) / d);
    }
  }
};

// float32 sums (kFloatSumCells) can overflow where the mean is finite (e.g. values near
// FLT_MAX). A row with any non-finite mean is redone with float64 sums, so the mean of finite
// values is always finite; rows holding inf/NaN inputs take this path and give the same result.
// The test over many short blocks of one row, reduced once per row: the direct average kernel
// tests each 64-value block, and a reduction per block cost ~10% of a 2x2/s2 average. (Largest
// exponent field, an unsigned max; all ones = inf/NaN.)
class FiniteCheck {
 public:
  void add(const float* v, i64 n) {
    i64 i = 0;
#if defined(__AVX2__)
    const __m256i expo = _mm256_set1_epi32(0x7f800000);
    for (; i + 8 <= n; i += 8) {
      const __m256i u = _mm256_castps_si256(_mm256_loadu_ps(v + i));
      top8_ = _mm256_max_epu32(top8_, _mm256_and_si256(u, expo));
    }
#endif
    for (; i < n; ++i) {
      std::uint32_t u;
      std::memcpy(&u, v + i, 4);
      u &= 0x7f800000u;
      top_ = u > top_ ? u : top_;
    }
  }
  // Some value was found not finite elsewhere.
  void mark_not_finite() { top_ = 0x7f800000u; }
  // All values added since the last take() finite? (Then starts over.)
  bool take() {
    std::uint32_t top = top_;
#if defined(__AVX2__)
    alignas(32) std::uint32_t lanes[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), top8_);
    for (std::uint32_t u : lanes) top = u > top ? u : top;
    top8_ = _mm256_setzero_si256();
#endif
    top_ = 0;
    return top != 0x7f800000u;
  }

 private:
#if defined(__AVX2__)
  __m256i top8_ = _mm256_setzero_si256();
#endif
  std::uint32_t top_ = 0;
};

inline bool all_finite(const float* v, i64 n) {
  FiniteCheck f;
  f.add(v, n);
  return f.take();
}

// Whether means computed as M and stored as `out` are rounded again (see Divisor::apply).
template <class M>
inline bool narrowed(DType out) {
  return std::is_same<M, double>::value && (out == DType::f32 || out == DType::f16);
}

// The divisors of one output row, rebuilt only when the row's vertical count changes.
template <class M>
class RowDivisors {
 public:
  explicit RowDivisors(const Geometry& g) : divs_(g.OW), OW_(g.OW) {}
  void set_row(const AvgPoolArgs& a, i64 oh) {
    const AxisTable& ht = *a.htab;
    const AxisTable& wt = *a.wtab;
    const auto ohi = static_cast<std::size_t>(oh);
    const i64 dh = a.count_include_pad ? ht.padded_count[ohi] : ht.count[ohi];
    if (dh == dh_) return;
    uniform_ = true;
    for (i64 ow = 0; ow < OW_; ++ow) {
      const auto owi = static_cast<std::size_t>(ow);
      divs_.p[ow] = Divisor<M>(a.divisor_override != 0
                                   ? a.divisor_override
                                   : dh * (a.count_include_pad ? wt.padded_count[owi] : wt.count[owi]));
      uniform_ &= divs_.p[ow].d == divs_.p[0].d;
    }
    dh_ = dh;
  }
  const Divisor<M>& operator[](i64 ow) const { return divs_.p[ow]; }
  // mean = sum / divisor over a whole output row of OW pixels of C values (one loop over
  // OW*C when every window of the row has the same divisor).
  // (narrow: see Divisor::apply.)
  template <class A, class O>
  void apply_row(const A* NHWCPOOL_RESTRICT sum, O* NHWCPOOL_RESTRICT mean, i64 C, bool narrow = false) const {
    if (uniform_) {
      divs_.p[0].apply(sum, mean, OW_ * C, narrow);
      return;
    }
    for (i64 ow = 0; ow < OW_; ++ow) divs_.p[ow].apply(sum + ow * C, mean + ow * C, C, narrow);
  }

 private:
  Scratch<Divisor<M>> divs_;
  i64 OW_, dh_ = -1;
  bool uniform_ = false;
};

template <class T>
void avg_row_float64(const AvgPoolArgs& a, i64 n, i64 oh, void* orow) {
  const Geometry& g = a.geo;
  const AxisTable& ht = *a.htab;
  const AxisTable& wt = *a.wtab;
  const auto ohi = static_cast<std::size_t>(oh);
  const i64 C = g.C, osize = itemsize(a.out_dtype);
  Scratch<double> sum(C), mean(C);
  const i64 dh = a.count_include_pad ? ht.padded_count[ohi] : ht.count[ohi];
  for (i64 ow = 0; ow < g.OW; ++ow) {
    const auto owi = static_cast<std::size_t>(ow);
    fill(sum.p, 0.0, C);
    for (i64 i = 0; i < ht.count[ohi]; ++i) {
      const T* row = input_row<T>(a.in, n, ht.first[ohi] + i * g.h.dilation);
      for (i64 j = 0; j < wt.count[owi]; ++j) {
        const T* px = row + (wt.first[owi] + j * g.w.dilation) * C;
        for (i64 c = 0; c < C; ++c) sum.p[c] += static_cast<double>(px[c]);
      }
    }
    const Divisor<double> div(a.divisor_override != 0
                                  ? a.divisor_override
                                  : dh * (a.count_include_pad ? wt.padded_count[owi] : wt.count[owi]));
    div.apply(sum.p, mean.p, C, narrowed<double>(a.out_dtype));
    store_convert(mean.p, static_cast<char*>(orow) + ow * C * osize, a.out_dtype, C);
  }
}

// ---------------------------------------------------------------------------------------------
// Sliding windows in registers, for stride-1 undilated windows of up to 3x3 taps over float32
// pixels (the 3x3/s1 "same" pooling of Inception-style blocks). One channel chunk at a time
// walks along the output row holding the window's R x K taps in registers; each step loads
// the one new column of R taps and keeps the K-1 others, so each input pixel is read once
// per output row instead of K times. The taps are still combined in row-major order, as
// reduce_block does (PyTorch's order), so the results are identical to the per-pixel path.
// (Measured on Zen 4, 3x3/s1/p1 average over (8,56,56,256): the per-pixel register blocks
// re-read 9 taps per output from L2 and ran 3.5 ms; XNNPACK's multipass pooling reuses rows
// in the same spirit.)
constexpr i64 kSlideColsMax = 8;  // slide_cols: most columns and rows
#if defined(__AVX2__)
#define NHWCPOOL_SLIDE 1
#if defined(__AVX512F__)
constexpr int kSlideVecs = 2;  // 16 floats per chunk: one cache line per tap (of 32 registers)
inline __mmask8 s_mask(i64 n) { return static_cast<__mmask8>((1u << n) - 1u); }
inline __m256 s_load(const float* p, i64 n) { return n >= 8 ? _mm256_loadu_ps(p) : _mm256_maskz_loadu_ps(s_mask(n), p); }
inline void s_store(float* p, __m256 v, i64 n) {
  if (n >= 8) {
    _mm256_storeu_ps(p, v);
  } else {
    _mm256_mask_storeu_ps(p, s_mask(n), v);
  }
}
#else
constexpr int kSlideVecs = 1;  // 8 floats per chunk (of 16 registers)
// (g_mask, the gather's AVX2 lane mask, is the same 8-lane mask.)
inline __m256 s_load(const float* p, i64 n) { return n >= 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, g_mask(n)); }
inline void s_store(float* p, __m256 v, i64 n) {
  if (n >= 8) {
    _mm256_storeu_ps(p, v);
  } else {
    _mm256_maskstore_ps(p, g_mask(n), v);
  }
}
#endif
inline __m256 s_first(MaxOp, __m256 v) { return v; }
inline __m256 s_first(SumOp, __m256 v) { return _mm256_add_ps(_mm256_setzero_ps(), v); }

// Max of t[lo..hi) as a balanced tree, earlier taps on the left: the same result as the
// sequential scan (the operator keeps the first of equal values and the last NaN, and that
// rule composes: a later part wins only if strictly greater or NaN), with half the latency.
template <int lo, int hi>
inline __m256 tree_max(const __m256* t) {
  if constexpr (hi - lo == 1) {
    return t[lo];
  } else {
    constexpr int mid = (lo + hi) / 2;
    return op8(MaxOp{}, tree_max<lo, mid>(t), tree_max<mid, hi>(t));
  }
}

// Windows o = 0..nout-1 over columns [col0 + o, col0 + o + K) of the R rows; out: nout
// pixels of C floats. div: the windows' common divisor (average), or nullptr (max). Returns
// false if a sum was not finite (the caller redoes the row in float64).
// How slide_rk finishes a window: max (none), or the average's division.
enum class SlideDiv { none, mul, div };

// One channel chunk [c0, c0 + lanes) of slide_rk; Full: all 8 * kSlideVecs lanes (no masks).
// Stream: a full chunk is one whole cache line of the output, written with non-temporal stores.
template <class Op, int R, int K, bool Full, SlideDiv D, bool Stream = false>
inline void slide_chunk(const float* const* rows, i64 C, i64 c0, const i64* lanes, i64 col0, i64 nout,
                        float* NHWCPOOL_RESTRICT out, const float* pf, __m256 dv, __m256 inv, __m256& bad_io) {
  constexpr int V = kSlideVecs;
  __m256 bad = bad_io;  // in a register for the loop
  auto load = [&](const float* p, int v) { return Full ? _mm256_loadu_ps(p) : s_load(p, lanes[v]); };
  __m256 x[R][K][V];
  for (int k = 0; k + 1 < K; ++k) {  // slots 1..K-1: columns col0 .. col0 + K - 2
    for (int r = 0; r < R; ++r) {
      for (int v = 0; v < V; ++v) x[r][k + 1][v] = load(rows[r] + (col0 + k) * C + c0 + 8 * v, v);
    }
  }
  for (i64 o = 0; o < nout; ++o) {
    const i64 col = col0 + o + K - 1;
    prefetch_line(pf + col * C);
    for (int r = 0; r < R; ++r) {
      for (int v = 0; v < V; ++v) {
        for (int k = 0; k + 1 < K; ++k) x[r][k][v] = x[r][k + 1][v];
        x[r][K - 1][v] = load(rows[r] + col * C + c0 + 8 * v, v);
      }
    }
    for (int v = 0; v < V; ++v) {
      __m256 acc;
      if constexpr (std::is_same<Op, MaxOp>::value) {
        __m256 t[R * K];
        for (int r = 0; r < R; ++r) {
          for (int k = 0; k < K; ++k) t[r * K + k] = x[r][k][v];
        }
        acc = tree_max<0, R * K>(t);
      } else {
        acc = s_first(Op{}, x[0][0][v]);
        for (int r = 0; r < R; ++r) {
          for (int k = (r == 0 ? 1 : 0); k < K; ++k) acc = op8(Op{}, acc, x[r][k][v]);
        }
      }
      if constexpr (D != SlideDiv::none) bad = _mm256_add_ps(bad, _mm256_sub_ps(acc, acc));
      if constexpr (D == SlideDiv::mul) acc = _mm256_mul_ps(acc, inv);
      if constexpr (D == SlideDiv::div) acc = _mm256_div_ps(acc, dv);
      float* d = out + o * C + c0 + 8 * v;
      if constexpr (Full && Stream) {
        _mm256_stream_ps(d, acc);
      } else if constexpr (Full) {
        _mm256_storeu_ps(d, acc);
      } else {
        s_store(d, acc, lanes[v]);
      }
    }
  }
  bad_io = bad;
}

// Each step prefetches the last row's tap for the next chunk (one chunk = ~nout steps
// ahead), and in the last chunk the next input row's first chunk: the walk along a row with a
// stride of C floats is invisible to the hardware prefetchers, and the last row is the one
// the previous output row did not bring into cache (rowlen: floats per input row).
// stream: the call's output is streamed (large). Full chunks are then written with
// non-temporal stores when they are whole output lines, i.e. the output pixels have the
// input's alignment (see output_offset): the walk's stores hit one output line per step, C
// floats apart, which the prefetchers do not fetch ahead and which each cost a read for
// ownership (Zen 4, 3x3/s1/p1 average over (8,56,56,256): 2.38 -> 1.96 ms at one thread, 1.22
// -> 0.96 ms at two).
template <class Op, int R, int K, SlideDiv D>
bool slide_rkd(const float* const* rows, i64 C, i64 col0, i64 nout, float* NHWCPOOL_RESTRICT out,
               const Divisor<float>* div, i64 rowlen, bool stream) {
  constexpr int V = kSlideVecs;
  __m256 bad = _mm256_setzero_ps();  // becomes NaN if some sum is inf or NaN (x - x)
  const __m256 dv = _mm256_set1_ps(div ? div->d : 1.0f), inv = _mm256_set1_ps(div ? div->inv : 1.0f);
  // Chunks start on chunk-size boundaries (a cache line with AVX-512) when every pixel has the
  // same alignment (NumPy's large arrays start 16 bytes into a line; unaligned chunks touch two
  // lines per tap, measured 1.7x slower), after a shorter head chunk.
  constexpr std::uintptr_t kChunkBytes = 32 * V;
  const auto addr = reinterpret_cast<std::uintptr_t>(rows[0] + col0 * C);
  const i64 head = (C * 4) % static_cast<i64>(kChunkBytes) == 0 ? floats_to_boundary(rows[0] + col0 * C, kChunkBytes) : 0;
  // (Full chunks are whole output lines only when they start on the input's lines: head > 0
  // or an aligned start, which needs a float-aligned input.)
  const bool nt = stream && kChunkBytes == 64 && (C * 4) % 64 == 0 && addr % 4 == 0 &&
                  ((reinterpret_cast<std::uintptr_t>(out) - addr) & 63) == 0;
  // Chunk [c0, c0 + n) of windows [o0, o0 + m): full chunks without masks.
  auto chunk = [&](i64 c0, i64 n, i64 o0, i64 m) {
    i64 lanes[V];
    for (int v = 0; v < V; ++v) {
      const i64 left = n - 8 * v;
      lanes[v] = left < 0 ? 0 : (left < 8 ? left : 8);
    }
    const float* pf = c0 + n < C ? rows[R - 1] + c0 + n : rows[R - 1] + rowlen;
    if (n == 8 * V && nt) {
      slide_chunk<Op, R, K, true, D, true>(rows, C, c0, lanes, col0 + o0, m, out + o0 * C, pf, dv, inv, bad);
    } else if (n == 8 * V) {
      slide_chunk<Op, R, K, true, D>(rows, C, c0, lanes, col0 + o0, m, out + o0 * C, pf, dv, inv, bad);
    } else {
      slide_chunk<Op, R, K, false, D>(rows, C, c0, lanes, col0 + o0, m, out + o0 * C, pf, dv, inv, bad);
    }
  };
  if (head > 0 && nout >= 2) {
    // The last chunk wraps into the next pixel: lanes [c0, C) of one pixel and [0, head) of the
    // next, one aligned chunk. Along the row its window o gives window o's last lanes and window
    // o + 1's first (the flat offsets differ by C per column as for any chunk), so a row takes
    // as many full chunks as an aligned one, plus the first window's head and the last window's
    // tail on their own (masked chunks cost about twice a full one; 3x3/s1/p1 max over
    // (8,56,56,128), in and out 16 bytes past a line, one thread: 1.42 -> 0.98 ms, as aligned;
    // over 16 channels 2.2x, 3x3/s1/p1 average with count_include_pad=False over 256 1.19x).
    const i64 wrap = C - (8 * V - head);
    chunk(0, head, 0, 1);
    for (i64 c0 = head; c0 < wrap; c0 += 8 * V) chunk(c0, 8 * V, 0, nout);
    chunk(wrap, 8 * V, 0, nout - 1);  // its last column's next pixel is past the full windows
    chunk(wrap, C - wrap, nout - 1, 1);
  } else {
    for (i64 c0 = 0, c1 = 0; c0 < C; c0 = c1) {
      c1 = c0 == 0 && head > 0 ? head : c0 + 8 * V;
      if (c1 > C) c1 = C;
      chunk(c0, c1 - c0, 0, nout);
    }
  }
  return _mm256_movemask_ps(_mm256_cmp_ps(bad, bad, _CMP_UNORD_Q)) == 0;
}

template <class Op, int R, int K>
bool slide_rk(const float* const* rows, i64 C, i64 col0, i64 nout, float* NHWCPOOL_RESTRICT out,
              const Divisor<float>* div, i64 rowlen, bool stream) {
  if constexpr (std::is_same<Op, MaxOp>::value) {
    return slide_rkd<Op, R, K, SlideDiv::none>(rows, C, col0, nout, out, div, rowlen, stream);
  } else {
    if (div->pow2) return slide_rkd<Op, R, K, SlideDiv::mul>(rows, C, col0, nout, out, div, rowlen, stream);
    return slide_rkd<Op, R, K, SlideDiv::div>(rows, C, col0, nout, out, div, rowlen, stream);
  }
}

// Whether slide() handles the full windows of g's rows.
inline bool slide_applies(const Geometry& g) {
  return g.w.stride == 1 && g.w.dilation == 1 && (g.w.kernel == 2 || g.w.kernel == 3) && g.taps_h <= 3;
}

// R in-range rows (1..3), K = g.w.kernel columns. The caller fences after streamed calls.
template <class Op>
bool slide(const float* const* rows, i64 R, i64 K, i64 C, i64 col0, i64 nout, float* out,
           const Divisor<float>* div, i64 rowlen, bool stream) {
  const int key = static_cast<int>(R * 4 + K);
  switch (key) {
    case 1 * 4 + 2: return slide_rk<Op, 1, 2>(rows, C, col0, nout, out, div, rowlen, stream);
    case 2 * 4 + 2: return slide_rk<Op, 2, 2>(rows, C, col0, nout, out, div, rowlen, stream);
    case 3 * 4 + 2: return slide_rk<Op, 3, 2>(rows, C, col0, nout, out, div, rowlen, stream);
    case 1 * 4 + 3: return slide_rk<Op, 1, 3>(rows, C, col0, nout, out, div, rowlen, stream);
    case 2 * 4 + 3: return slide_rk<Op, 2, 3>(rows, C, col0, nout, out, div, rowlen, stream);
    case 3 * 4 + 3: return slide_rk<Op, 3, 3>(rows, C, col0, nout, out, div, rowlen, stream);
    default: return true;  // not reached: slide_applies
  }
}
// The column form, for the separable path's stride-1 windows of 4 to kSlideColsMax columns
// over wide float32 pixels (slide_cols_applies). Along the output row, each step reduces the
// window's new input column over the R window rows in registers (in row order, as the row pass
// does), keeps it in a ring of the last K columns (K * C floats, in L1 or L2), and combines the
// window's K columns in order (as the plain column pass does): the same result, with
// R + K - 1 loads and two stores per vector instead of the row pass's and the running passes'
// eight or so passes over W*C per output row, and every stream sequential.
// (Zen 4, one thread, C++ harness medians: 5x5/s1/p2 over (8,20,20,512) average 0.91 -> 0.60
// ms, max 0.77 -> 0.60 ms; 4x4/s1 average over (8,56,56,64) 0.82 -> 0.41 ms; 8x8/s1/p4
// average over (1,40,40,512) 0.72 -> 0.48 ms. Keeping the columns in registers instead, by
// walking one channel chunk along the row as slide() does, measured 1.3x slower than the
// passes: with R rows of 1-2 KB pixels, each of its steps misses R lines.)
#if defined(__AVX512F__)
inline GVec g_set1(float v) { return _mm512_set1_ps(v); }
inline GVec g_sub(GVec a, GVec b) { return _mm512_sub_ps(a, b); }
inline GVec g_mul(GVec a, GVec b) { return _mm512_mul_ps(a, b); }
inline GVec g_div(GVec a, GVec b) { return _mm512_div_ps(a, b); }
inline void g_store_full(float* p, GVec v, bool stream) {
  if (stream) {
    _mm512_stream_ps(p, v);
  } else {
    _mm512_storeu_ps(p, v);
  }
}
inline bool g_any_nan(GVec v) { return _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q) != 0; }
#else
inline GVec g_set1(float v) { return _mm256_set1_ps(v); }
inline GVec g_sub(GVec a, GVec b) { return _mm256_sub_ps(a, b); }
inline GVec g_mul(GVec a, GVec b) { return _mm256_mul_ps(a, b); }
inline GVec g_div(GVec a, GVec b) { return _mm256_div_ps(a, b); }
inline void g_store_full(float* p, GVec v, bool stream) {
  if (stream) {
    _mm256_stream_ps(p, v);
  } else {
    _mm256_storeu_ps(p, v);
  }
}
inline bool g_any_nan(GVec v) { return _mm256_movemask_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q)) != 0; }
#endif

// A scan's first element, as s_first: sums start from 0 (0 + -0 is +0).
inline GVec g_first(MaxOp, GVec v) { return v; }
inline GVec g_first(SumOp, GVec v) { return g_op(SumOp{}, g_zero(), v); }

template <class Op, int K, SlideDiv D>
bool slide_cols_kd(const float* const* rows, i64 R, i64 W, i64 C, i64 col0, i64 nout, float* NHWCPOOL_RESTRICT out,
                   const Divisor<float>* div, float* NHWCPOOL_RESTRICT ring, bool stream) {
  GVec bad = g_zero();  // becomes NaN if some sum is inf or NaN (x - x)
  const GVec dv = g_set1(div ? div->d : 1.0f), inv = g_set1(div ? div->inv : 1.0f);
  const GVec identity = g_set1(Op::template identity<float>());
  // Chunks start on the input's vector boundaries when every pixel has the same alignment, after
  // a shorter head chunk, as in slide_rkd: NumPy's large arrays start 16 bytes into a line,
  // and then every unaligned vector touches two lines. Only for pixels of 16 vectors or more,
  // which the extra vector per pixel costs little (one thread, in and out 16 bytes past a line,
  // medians of alternated runs: 5x5/s1/p2 over (8,20,20,512) max 1.16x, average 1.28x faster,
  // 4x4/s1 average over 256 channels 1.12x, over 128 1.08x, but max over 64 channels 0.74x).
  // The ring takes the same alignment.
  constexpr i64 kVecBytes = kGL * 4;
  const i64 head = C >= 16 * kGL && (C * 4) % kVecBytes == 0 ? floats_to_boundary(rows[0], kVecBytes) : 0;
  ring += (kGL - head) % kGL;  // the same phase; the caller allocates K * C + 16 floats, 64-byte aligned
  // Streamed (large results): whole output lines, when every full chunk's output is one.
  const bool nt = stream && (C * 4) % 64 == 0 &&
                  (reinterpret_cast<std::uintptr_t>(out + head)) % 64 == 0;
  const i64 Cf = head + (C - head) / kGL * kGL, tail = C - Cf;  // head, full vectors, then a masked one
  const float* rx[kSlideColsMax];                                 // the R rows at the current column
  // Column x over the R rows, lanes [c, c + n) (n >= kGL: a full vector).
  auto column = [&](bool in, i64 c, i64 n) {
    if (!in) return identity;  // padding
    GVec t = g_first(Op{}, g_load(rx[0] + c, n));
    for (i64 q = 1; q < R; ++q) t = g_op(Op{}, t, g_load(rx[q] + c, n));
    return t;
  };
  auto at = [&](i64 x) {  // point rx at column x; false in the padding
    if (x < 0 || x >= W) return false;
    for (i64 q = 0; q < R; ++q) rx[q] = rows[q] + x * C;
    return true;
  };
  for (i64 k = 0; k + 1 < K; ++k) {  // the first window's first K - 1 columns (column x in slot (x - col0) % K)
    const bool in = at(col0 + k);
    float* slot = ring + k * C;
    for (i64 c = 0; c < C;) {
      const i64 n = c == 0 && head > 0 ? head : (C - c < kGL ? C - c : kGL);
      g_store(slot + c, column(in, c, n), n, false);
      c += n;
    }
  }
  for (i64 o = 0; o < nout; ++o) {
    const bool in = at(col0 + o + K - 1);  // the new column
    const float* sp[K - 1];                // the window's other columns, in order
    for (int k = 0; k + 1 < K; ++k) sp[k] = ring + ((o + k) % K) * C;
    float* slot = o + 1 < nout ? ring + ((o + K - 1) % K) * C : nullptr;  // kept for the next K - 1 windows
    float* d = out + o * C;
    auto window = [&](i64 c, i64 n) {
      const GVec cs = column(in, c, n);
      if (slot != nullptr) g_store(slot + c, cs, n, false);
      GVec acc = g_first(Op{}, g_load(sp[0] + c, n));
      for (int k = 1; k + 1 < K; ++k) acc = g_op(Op{}, acc, g_load(sp[k] + c, n));
      acc = g_op(Op{}, acc, cs);
      if constexpr (D != SlideDiv::none) bad = g_op(SumOp{}, bad, g_sub(acc, acc));
      if constexpr (D == SlideDiv::mul) acc = g_mul(acc, inv);
      if constexpr (D == SlideDiv::div) acc = g_div(acc, dv);
      return acc;
    };
    if (head > 0) g_store(d, window(0, head), head, false);
    for (i64 c = head; c < Cf; c += kGL) g_store_full(d + c, window(c, kGL), nt);
    if (tail > 0) g_store(d + Cf, window(Cf, tail), tail, false);
  }
  return !g_any_nan(bad);
}

template <class Op, int K>
bool slide_cols_k(const float* const* rows, i64 R, i64 W, i64 C, i64 col0, i64 nout, float* out,
                  const Divisor<float>* div, float* ring, bool stream) {
  if constexpr (std::is_same<Op, MaxOp>::value) {
    return slide_cols_kd<Op, K, SlideDiv::none>(rows, R, W, C, col0, nout, out, div, ring, stream);
  } else {
    if (div->pow2) return slide_cols_kd<Op, K, SlideDiv::mul>(rows, R, W, C, col0, nout, out, div, ring, stream);
    return slide_cols_kd<Op, K, SlideDiv::div>(rows, R, W, C, col0, nout, out, div, ring, stream);
  }
}

// For max, whose operator is three instructions, only up to 12 rows and columns together: at
// 7x7 the running max's passes are as fast (0.97x), at 6x6 this is 1.16x faster.
inline bool slide_cols_applies(const Geometry& g, bool max) {
  return g.w.stride == 1 && g.w.dilation == 1 && g.w.kernel >= 4 && g.w.kernel <= kSlideColsMax &&
         g.taps_h <= kSlideColsMax && g.C * 4 >= kSmallPixelBytes && (!max || g.taps_h + g.w.kernel <= 12);
}
// Windows o = 0..nout-1 over columns [col0 + o, col0 + o + K) of the R rows of W pixels
// (columns outside [0, W) are padding: Op's identity), out: nout pixels of C floats; div: the
// windows' divisor (average) or nullptr (max); ring: K * C + 16 floats of 64-byte aligned scratch. Returns false if
// a sum was not finite. The caller fences after streamed calls.
template <class Op>
bool slide_cols(const float* const* rows, i64 R, i64 W, i64 K, i64 C, i64 col0, i64 nout, float* out,
                const Divisor<float>* div, float* ring, bool stream) {
  switch (K) {
    case 4: return slide_cols_k<Op, 4>(rows, R, W, C, col0, nout, out, div, ring, stream);
    case 5: return slide_cols_k<Op, 5>(rows, R, W, C, col0, nout, out, div, ring, stream);
    case 6: return slide_cols_k<Op, 6>(rows, R, W, C, col0, nout, out, div, ring, stream);
    case 7: return slide_cols_k<Op, 7>(rows, R, W, C, col0, nout, out, div, ring, stream);
    case 8: return slide_cols_k<Op, 8>(rows, R, W, C, col0, nout, out, div, ring, stream);
    default: return true;  // not reached: slide_cols_applies
  }
}

// One output row of slide_cols windows, out: OW pixels. The windows wholly inside the row share
// the row's divisor and take one call; each edge window (reaching into the padding) takes
// its own, with its own divisor (count_include_pad=False). divs: nullptr for max.
template <class Op>
bool slide_cols_row(const float* const* rows, i64 R, const Geometry& g, const AxisTable& wt, float* out,
                    const RowDivisors<float>* divs, float* ring, bool stream) {
  const i64 C = g.C, K = g.w.kernel, fb = wt.full_begin, fe = wt.full_end;
  bool finite = true;
  auto windows = [&](i64 o, i64 nout) {
    const Divisor<float>* d = divs != nullptr ? &(*divs)[o] : nullptr;
    finite &= slide_cols<Op>(rows, R, g.W, K, C, o - g.w.pad_begin, nout, out + o * C, d, ring, stream);
  };
  for (i64 o = 0; o < fb; ++o) windows(o, 1);
  windows(fb, fe - fb);
  for (i64 o = fe; o < g.OW; ++o) windows(o, 1);
  return finite;
}

// The running passes of both axes (vhgw_axis along H, then along W) for one output row, fused
// per channel vector: the row's value at column x is Op(a[x], b[x]) (the vertical pass's
// block suffix and prefix; b: nullptr for a suffix alone, or a: a finished row), taken one
// vector of channels at a time into two L1 buffers (the column's values and its block
// suffixes), from which the output row is formed with the block prefix running in a register.
// Same operations in the same order as vhgw_axis after the vertical combine3, so the same
// bits; but the W*C row the vertical pass wrote, and the horizontal pass's two (OW+k-1)*C
// prefix and suffix arrays, are never written to L2 and read back. vbuf: 2 * (OW + k - 1) *
// vhgw_fused_lanes<E>() elements (float32 or float64). The next block's prefix may also take its newest input row here
// (`add`, see VerticalVhgw::parts), saving a pass over W*C (1.05-1.1x).
// (Zen 4, one thread, C++ harness medians of alternated runs, max: 13x13/s1/p6 over
// (1,40,40,512) 0.41 -> 0.25 ms, 7x7/s1/p3 0.39 -> 0.24 ms, 9x9/s1/p4 over (4,32,32,64)
// 0.12 -> 0.06 ms, 13x13 over (1,64,64,3) 46 -> 27 us. A max without NaN propagation (one
// maxps instead of max, compare and blend, with every input checked for NaN and the rows
// redone on one) was no faster: these loops wait on loads, not on the max.)
constexpr bool kVhgwRowFused = true;

// The vector forms these passes need, per accumulator type: float32 (the g_* helpers) and
// float64 (the average's accumulator for windows over 64 cells, and float64 max).
template <class E>
struct VT;
template <>
struct VT<float> {
  using V = GVec;
  static constexpr i64 kL = kGL;
  static V load(const float* p, i64 n) { return g_load(p, n); }
  static V load_full(const float* p) { return g_load_full(p); }
  static void store(float* p, V v, i64 n, bool whole) { g_store(p, v, n, whole); }
  static void store_full(float* p, V v) { g_store_full(p, v, false); }
  static V set1(float x) { return g_set1(x); }
  template <class Op>
  static V op(V acc, V v) {
    return g_op(Op{}, acc, v);
  }
  template <class Op>
  static V first(V v) {
    return g_first(Op{}, v);
  }
};
#if defined(__AVX512F__)
template <>
struct VT<double> {
  using V = __m512d;
  static constexpr i64 kL = 8;
  static __mmask8 mask(i64 n) { return static_cast<__mmask8>((1u << n) - 1u); }
  static V load(const double* p, i64 n) { return n >= kL ? _mm512_loadu_pd(p) : _mm512_maskz_loadu_pd(mask(n), p); }
  static V load_full(const double* p) { return _mm512_loadu_pd(p); }
  static void store(double* p, V v, i64 n, bool) { _mm512_mask_storeu_pd(p, mask(n), v); }
  static void store_full(double* p, V v) { _mm512_storeu_pd(p, v); }
  static V set1(double x) { return _mm512_set1_pd(x); }
  template <class Op>
  static V op(V acc, V v) {
    if constexpr (std::is_same<Op, MaxOp>::value) {  // as g_op: max(v, acc), then a NaN v
      const V m = _mm512_maskz_max_pd(static_cast<__mmask8>(0xFF), v, acc);
      return _mm512_mask_blend_pd(_mm512_cmp_pd_mask(v, v, _CMP_UNORD_Q), m, v);
    } else {
      return _mm512_add_pd(acc, v);
    }
  }
  template <class Op>
  static V first(V v) {
    if constexpr (std::is_same<Op, SumOp>::value) return _mm512_add_pd(_mm512_setzero_pd(), v);
    return v;
  }
};
#else
template <>
struct VT<double> {
  using V = __m256d;
  static constexpr i64 kL = 4;
  static __m256i mask(i64 n) { return _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3)); }
  static V load(const double* p, i64 n) { return n >= kL ? _mm256_loadu_pd(p) : _mm256_maskload_pd(p, mask(n)); }
  static V load_full(const double* p) { return _mm256_loadu_pd(p); }
  static void store(double* p, V v, i64 n, bool) {
    if (n >= kL) {
      _mm256_storeu_pd(p, v);
    } else {
      _mm256_maskstore_pd(p, mask(n), v);
    }
  }
  static void store_full(double* p, V v) { _mm256_storeu_pd(p, v); }
  static V set1(double x) { return _mm256_set1_pd(x); }
  template <class Op>
  static V op(V acc, V v) {
    if constexpr (std::is_same<Op, MaxOp>::value) {
      return _mm256_blendv_pd(_mm256_max_pd(v, acc), v, _mm256_cmp_pd(v, v, _CMP_UNORD_Q));
    } else {
      return _mm256_add_pd(acc, v);
    }
  }
  template <class Op>
  static V first(V v) {
    if constexpr (std::is_same<Op, SumOp>::value) return _mm256_add_pd(_mm256_setzero_pd(), v);
    return v;
  }
};
#endif

// One chunk of NV vectors of channels from c0 (n: lanes of the last vector, < kL only when
// NV == 1). V, S: L * NV * kL elements each.
template <class Op, class E, int NV>
NHWCPOOL_ALWAYS_INLINE inline void vhgw_chunk(const E* NHWCPOOL_RESTRICT a, E* NHWCPOOL_RESTRICT b,
                                              const E* NHWCPOOL_RESTRICT add, const Geometry& g, i64 c0, i64 n,
                                              E* NHWCPOOL_RESTRICT out, E* NHWCPOOL_RESTRICT V, E* NHWCPOOL_RESTRICT S) {
  using X = VT<E>;
  using Vec = typename X::V;
  constexpr i64 kL = X::kL, kStep = NV * kL;
  const i64 C = g.C, W = g.W, k = g.w.kernel, pad = g.w.pad_begin, OW = g.OW, L = OW + k - 1;
  const Vec id = X::set1(Op::template identity<E>());
  const bool whole = n == kL;
  auto load = [n](const E* p, int v) { return v == NV - 1 ? X::load(p + v * kL, n) : X::load_full(p + v * kL); };
  auto store = [n, whole](E* p, int v, Vec x) {
    if (v == NV - 1) {
      X::store(p + v * kL, x, n, whole);
    } else {
      X::store_full(p + v * kL, x);
    }
  };
  for (i64 b0 = 0; b0 < L; b0 += k) {  // suffixes within each block, backwards
    const i64 b1 = b0 + k < L ? b0 + k : L;
    Vec s[NV];
    for (int v = 0; v < NV; ++v) s[v] = id;
    for (i64 u = b1 - 1; u >= b0; --u) {
      const i64 x = u - pad;
      if (x >= 0 && x < W) {
        const i64 at = x * C + c0;
        for (int v = 0; v < NV; ++v) {
          Vec y = load(a + at, v);
          if (b != nullptr) {
            Vec q = load(b + at, v);
            if (add != nullptr) {  // the prefix's deferred row (VerticalVhgw::parts)
              q = X::template op<Op>(q, load(add + at, v));
              store(b + at, v, q);
            }
            y = X::template op<Op>(y, q);
          }
          X::store_full(V + u * kStep + v * kL, y);
          s[v] = u == b1 - 1 ? y : X::template op<Op>(y, s[v]);
        }
      } else if (u == b1 - 1) {
        for (int v = 0; v < NV; ++v) s[v] = id;
      }
      for (int v = 0; v < NV; ++v) X::store_full(S + u * kStep + v * kL, s[v]);
    }
  }
  Vec p[NV];  // prefix of the block holding u = o + k - 1, up to u
  for (int v = 0; v < NV; ++v) p[v] = id;
  for (i64 o = 0, j = 0; o < OW; ++o, j = j + 1 == k ? 0 : j + 1) {  // j = o % k
    const i64 u = o + k - 1, x = u - pad;  // u % k == j - 1
    const bool in = x >= 0 && x < W;
    for (int v = 0; v < NV; ++v) {
      Vec r = X::template first<Op>(X::load_full(S + o * kStep + v * kL));
      if (j != 0) {
        if (j == 1) {
          p[v] = in ? X::load_full(V + u * kStep + v * kL) : id;
        } else if (in) {
          p[v] = X::template op<Op>(p[v], X::load_full(V + u * kStep + v * kL));
        }
        r = X::template op<Op>(r, p[v]);
      }
      store(out + o * C + c0, v, r);
    }
  }
}

// Chunks of kVhgwVecs vectors (four cache lines per pixel read: a single line per step, with
// 2 KiB pixels, left the loads waiting on L2), then single vectors.
constexpr int kVhgwVecs = 4;
template <class E>
constexpr bool vhgw_fuses() {
  return std::is_same<E, float>::value || std::is_same<E, double>::value;
}
template <class E>
constexpr i64 vhgw_fused_lanes() {
  if constexpr (vhgw_fuses<E>()) return kVhgwVecs * VT<E>::kL;
  return 1;
}
template <class Op, class E>
void vhgw_row_fused(const E* NHWCPOOL_RESTRICT a, E* NHWCPOOL_RESTRICT b, const E* NHWCPOOL_RESTRICT add,
                    const Geometry& g, E* NHWCPOOL_RESTRICT out, E* NHWCPOOL_RESTRICT vbuf) {
  if constexpr (vhgw_fuses<E>()) {
    constexpr i64 kL = VT<E>::kL, kLanes = vhgw_fused_lanes<E>();
    const i64 C = g.C, L = g.OW + g.w.kernel - 1;
    E* NHWCPOOL_RESTRICT V = vbuf;
    E* NHWCPOOL_RESTRICT S = vbuf + L * kLanes;
    i64 c0 = 0;
    for (; c0 + kLanes <= C; c0 += kLanes) vhgw_chunk<Op, E, kVhgwVecs>(a, b, add, g, c0, kL, out, V, S);
    for (; c0 < C; c0 += kL) vhgw_chunk<Op, E, 1>(a, b, add, g, c0, C - c0 < kL ? C - c0 : kL, out, V, S);
  }
}
constexpr bool kSlideStreams = kSlideVecs == 2;  // chunks of one cache line
#else
constexpr bool kVhgwRowFused = false;
template <class E>
constexpr bool vhgw_fuses() {
  return false;
}
template <class E>
constexpr i64 vhgw_fused_lanes() {
  return 1;
}
template <class Op, class E>
void vhgw_row_fused(const E*, E*, const E*, const Geometry&, E*, E*) {}
inline bool slide_applies(const Geometry&) { return false; }
template <class Op>
bool slide(const float* const*, i64, i64, i64, i64, i64, float*, const Divisor<float>*, i64, bool) {
  return true;
}
inline bool slide_cols_applies(const Geometry&, bool) { return false; }
template <class Op>
bool slide_cols_row(const float* const*, i64, const Geometry&, const AxisTable&, float*, const RowDivisors<float>*,
                    float*, bool) {
  return true;
}
constexpr bool kSlideStreams = false;
#endif

// ---------------------------------------------------------------------------------------------
// The separable paths (row pass, then column pass; or slide_cols).

// Direct (per window) or separable (rows, then columns)? Cost per output element, in taps:
// direct kh*kw; separable about kh*W/OW + kw, plus its extra passes over row buffers, so the
// direct loop is kept up to 1.5x the separable tap count (measured on Zen 4: 3x3/s1 over 256
// channels direct 1.2x faster for max and avg; 5x5/s1 separable 1.6-2x faster). Small
// channel counts always go separable, where the loops run over W*C.
template <class A>
bool use_direct(const Geometry& g) {
  if (g.C * static_cast<i64>(sizeof(A)) < kSmallPixelBytes) return false;
  const double direct = static_cast<double>(g.taps_h) * static_cast<double>(g.taps_w);
  const double separable = static_cast<double>(g.taps_h) * static_cast<double>(g.W) / static_cast<double>(g.OW) +
                           static_cast<double>(g.taps_w);
  return direct <= 1.5 * separable;
}

// Whether a float32 call takes slide_cols (the separable path's shapes it serves).
inline bool uses_slide_cols(const Geometry& g, bool max) { return !use_direct<float>(g) && slide_cols_applies(g, max); }

template <class T>
struct MaxPlain {
  using A = typename MaxAccOf<T>::type;
  static constexpr bool kSame = std::is_same<A, T>::value;

  static void run(const void* vctx, i64 begin, i64 end) {
    const MaxPoolArgs& a = *static_cast<const MaxPoolArgs*>(vctx);
    const Geometry& g = a.geo;
    const i64 WC = g.W * g.C, OWC = g.OW * g.C;
    Scratch<A> rowbuf(WC), sh(WC), obuf(kSame ? 0 : OWC);
    Scratch<const T*> rowp(g.taps_h);
    Scratch<const A*> colp(g.taps_w);
    const SmallGather gs(g);
    const bool gather = std::is_same<A, float>::value && gs.ok();
    const AxisTable& wt = *a.wtab;
    const bool cols = std::is_same<T, float>::value && uses_slide_cols(g, true) && wt.full_end > wt.full_begin;
    // kernel <= W, so this is at most 4 * W * C. (Small float pixels gather instead.)
    const bool vh_w = vhgw_applies(g.w, g.W) && !gather && !cols;
    const bool vfused = vhgw_fuses<A>() && kVhgwRowFused && vh_w;
    Scratch<A> vh(vh_w ? 2 * (g.OW + g.w.kernel - 1) * (vfused ? vhgw_fused_lanes<A>() : g.C) : 0);
    const bool vh_h = kSame && !cols && VerticalVhgw<MaxOp, A>::applies(g);
    VerticalVhgw<MaxOp, A> vrun(g, vh_h);
    const bool fused = std::is_same<T, float>::value && gather && !vh_h && fused_rows(gs, g, *a.wtab);
    const i64 nsteps = fused ? gs.plan_size(g.OW) : 0;
    Scratch<SmallGather::Step> steps(nsteps);
    const i64 nfull = fused ? gs.plan(steps.p, WC, a.wtab->first[0], g.OW, OWC) : 0;
    const ShortRowPrefetch pf(a.in, g, static_cast<const T*>(nullptr));
    Scratch<float> ring(cols ? g.w.kernel * g.C + 16 : 0);  // + a vector for slide_cols' alignment
    for (i64 r = begin; r < end; ++r) {
      const i64 n = r / g.OH, oh = r - n * g.OH;
      T* orow = static_cast<T*>(a.out) + r * OWC;
      A* dst = kSame ? reinterpret_cast<A*>(orow) : obuf.p;
      if (a.htab->count[static_cast<std::size_t>(oh)] == 0) {
        fill(dst, lowest_value<A>(), OWC);
      } else if (cols) {
        if constexpr (std::is_same<T, float>::value) {
          const i64 hc = window_rows(a.in, g, *a.htab, n, oh, rowp.p);
          slide_cols_row<MaxOp>(rowp.p, hc, g, wt, dst, nullptr, ring.p, a.stream);
        }
      } else if (fused) {
        if constexpr (std::is_same<T, float>::value) {
          const i64 hc = window_rows(a.in, g, *a.htab, n, oh, rowp.p);
          pf(rowp.p[hc - 1]);
          gs.run_planned<MaxOp>(steps.p, nfull, nsteps, rowp.p, hc, dst);
        }
      } else if (vfused) {
        if constexpr (vhgw_fuses<A>()) {
          A* b = nullptr;
          const A* add = nullptr;
          const A* rp = vh_h ? vrun.parts(a.in, g, n, oh, &b, &add)
                             : vertical<MaxOp, A, T>(a.in, g, *a.htab, n, oh, rowbuf.p, rowp.p);
          vhgw_row_fused<MaxOp>(rp, b, add, g, dst, vh.p);
        }
      } else {
        const A* rp = vh_h ? vrun.row(a.in, g, n, oh, rowbuf.p)
                           : vertical<MaxOp, A, T>(a.in, g, *a.htab, n, oh, rowbuf.p, rowp.p);
        horizontal<MaxOp>(rp, dst, g, *a.wtab, sh.p, lowest_value<A>(), colp.p, vh.p, &gs);
      }
      if constexpr (!kSame) float_to_half_row(obuf.p, orow, OWC);
    }
    if (cols && a.stream) stream_fence();
  }
};

template <class T, class A, class M>
struct Avg {
  static void run(const void* vctx, i64 begin, i64 end) {
    const AvgPoolArgs& a = *static_cast<const AvgPoolArgs*>(vctx);
    const Geometry& g = a.geo;
    const AxisTable& ht = *a.htab;
    const AxisTable& wt = *a.wtab;
    const i64 C = g.C, WC = g.W * C, OWC = g.OW * C;
    const int osize = itemsize(a.out_dtype);
    const bool direct_out = (std::is_same<M, double>::value && a.out_dtype == DType::f64) ||
                            (std::is_same<M, float>::value && a.out_dtype == DType::f32);
    Scratch<A> rowbuf(WC), sh(WC), sum(OWC);
    Scratch<const T*> rowp(g.taps_h);
    Scratch<const A*> colp(g.taps_w);
    const bool narrow = narrowed<M>(a.out_dtype);
    const bool narrow32 = narrow && a.out_dtype == DType::f32;
    Scratch<M> meanbuf(direct_out || narrow32 ? 0 : OWC);
    RowDivisors<M> divs(g);
    const SmallGather gs(g);
    const bool gather = std::is_same<A, float>::value && gs.ok();
    constexpr bool kF32 = std::is_same<T, float>::value && std::is_same<A, float>::value && std::is_same<M, float>::value;
    const bool cols = kF32 && a.out_dtype == DType::f32 && uses_slide_cols(g, false) && wt.full_end > wt.full_begin;
    // Large stride-1 windows: running sums (see vhgw_axis), as the max's passes.
    const bool vh_w = vhgw_applies(g.w, g.W) && !gather && !cols;
    const bool vfused = vhgw_fuses<A>() && kVhgwRowFused && vh_w;
    Scratch<A> vh(vh_w ? 2 * (g.OW + g.w.kernel - 1) * (vfused ? vhgw_fused_lanes<A>() : C) : 0);
    const bool vh_h = !cols && VerticalVhgw<SumOp, A, T>::applies(g);
    VerticalVhgw<SumOp, A, T> vrun(g, vh_h);
    const bool fused = std::is_same<T, float>::value && gather && !vh_h && fused_rows(gs, g, wt);
    const i64 nsteps = fused ? gs.plan_size(g.OW) : 0;
    Scratch<SmallGather::Step> steps(nsteps);
    const i64 nfull = fused ? gs.plan(steps.p, WC, wt.first[0], g.OW, OWC) : 0;
    const ShortRowPrefetch pf(a.in, g, static_cast<const T*>(nullptr));
    Scratch<float> ring(cols ? g.w.kernel * C + 16 : 0);  // + a vector for slide_cols' alignment
    for (i64 r = begin; r < end; ++r) {
      const i64 n = r / g.OH, oh = r - n * g.OH;
      const auto ohi = static_cast<std::size_t>(oh);
      void* orow = static_cast<char*>(a.out) + r * OWC * osize;
      M* mean = direct_out ? static_cast<M*>(orow) : meanbuf.p;
      if (cols && ht.count[ohi] > 0) {
        if constexpr (kF32) {
          const i64 hc = window_rows(a.in, g, ht, n, oh, rowp.p);
          divs.set_row(a, oh);
          if (!slide_cols_row<SumOp>(rowp.p, hc, g, wt, mean, &divs, ring.p, a.stream)) {
            if (a.stream) stream_fence();  // streamed stores land before the redo
            avg_row_float64<T>(a, n, oh, orow);
          }
        }
        continue;
      }
      if (ht.count[ohi] == 0) {
        fill(sum.p, A(0), OWC);
      } else if (fused) {
        if constexpr (std::is_same<T, float>::value && std::is_same<A, float>::value) {
          const i64 hc = window_rows(a.in, g, ht, n, oh, rowp.p);
          pf(rowp.p[hc - 1]);
          gs.run_planned<SumOp>(steps.p, nfull, nsteps, rowp.p, hc, sum.p);
        }
      } else if (vfused) {
        if constexpr (vhgw_fuses<A>()) {
          A* b = nullptr;
          const T* add = nullptr;
          constexpr bool kSame = std::is_same<A, T>::value;
          const A* rp = vh_h ? vrun.parts(a.in, g, n, oh, &b, kSame ? &add : nullptr)
                             : vertical<SumOp, A, T>(a.in, g, ht, n, oh, rowbuf.p, rowp.p);
          vhgw_row_fused<SumOp>(rp, b, reinterpret_cast<const A*>(add), g, sum.p, vh.p);
        }
      } else {
        const A* rp = vh_h ? vrun.row(a.in, g, n, oh, rowbuf.p) : vertical<SumOp, A, T>(a.in, g, ht, n, oh, rowbuf.p, rowp.p);
        horizontal<SumOp>(rp, sum.p, g, wt, sh.p, A(0), colp.p, vh_w ? vh.p : nullptr, &gs);
      }
      divs.set_row(a, oh);
      if (narrow32) {  // float64 means, rounded straight into the float32 output
        divs.apply_row(sum.p, static_cast<float*>(orow), C, true);
      } else {
        divs.apply_row(sum.p, mean, C, narrow);
        if (!direct_out) store_convert(mean, orow, a.out_dtype, OWC);
      }
      if constexpr (std::is_same<T, float>::value && std::is_same<A, float>::value) {
        if (!all_finite(mean, OWC)) avg_row_float64<T>(a, n, oh, orow);
      }
    }
    if (cols && a.stream) stream_fence();
  }
};

// ---------------------------------------------------------------------------------------------
// Direct kernels for wide pixels (C * sizeof(acc) >= 64 bytes) and small windows: per output
// pixel, channel blocks of 256 bytes accumulate every tap in registers, then are stored once
// (oneDNN's register blocking over channel blocks; PyTorch's channels-last kernels instead
// read-modify-write the output lane per tap).

// Argmax over a window: acc values and the flat index y*W + x of the winning tap, held as I
// (int32 beside float lanes where the plane allows), so one compare mask drives both blends and
// the indices are widened to int64 once, as PyTorch's channels-last kernel does.
template <class A, class T, class I, bool Full>
inline void argmax_block(const Window<T>& win, i64 c0, i64 cb, A* NHWCPOOL_RESTRICT acc,
                         I* NHWCPOOL_RESTRICT ord) {
  constexpr i64 B = block_of<A>();
  const i64 n = Full ? B : cb;
  alignas(64) A tmp[B];
  const A* v = tap_values<A>(win.tap(0) + c0, tmp, n);
  const I tap0 = static_cast<I>(win.index(0));
  for (i64 c = 0; c < n; ++c) {
    acc[c] = v[c];
    ord[c] = tap0;
  }
  for (i64 t = 1; t < win.ntaps; ++t) {
    const I tap = static_cast<I>(win.index(t));
    v = tap_values<A>(win.tap(t) + c0, tmp, n);
    for (i64 c = 0; c < n; ++c) {
      const bool take = (v[c] > acc[c]) | (v[c] != v[c]);  // NOLINT: NaN test
      acc[c] = take ? v[c] : acc[c];
      ord[c] = take ? tap : ord[c];
    }
  }
}

#ifdef NHWCPOOL_ZMM_BLOCKS
// Loads and stores of the AVX-512 build's fused register-blocked kernels (argmax here, max and
// average before the direct kernels): vector v of 16 channels from s (float16 widened by
// vcvtph2ps), the last of NV masked when Tail.
template <class T, bool Tail, int NV>
NHWCPOOL_ALWAYS_INLINE inline __m512 z_load(const T* s, int v, __mmask16 tail) {
  const T* p = s + 16 * v;
  const bool masked = Tail && v == NV - 1;
  if constexpr (std::is_same<T, float>::value) {
    return masked ? _mm512_maskz_loadu_ps(tail, p) : _mm512_loadu_ps(p);
  } else {
    const __m256i h = masked ? _mm256_maskz_loadu_epi16(tail, p) : _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    return _mm512_maskz_cvtph_ps(0xFFFF, h);
  }
}

template <class T, bool Tail, bool Stream, int NV>
NHWCPOOL_ALWAYS_INLINE inline void z_store(T* d, int v, __mmask16 tail, __m512 x) {
  T* p = d + 16 * v;
  const bool masked = Tail && v == NV - 1;
  if constexpr (std::is_same<T, float>::value) {
    if (masked) {
      _mm512_mask_storeu_ps(p, tail, x);
    } else if (Stream) {
      _mm512_stream_ps(p, x);
    } else {
      _mm512_storeu_ps(p, x);
    }
  } else {  // round to nearest even, as float_to_half_row
    const __m256i h = _mm512_maskz_cvtps_ph(0xFFFF, x, _MM_FROUND_TO_NEAREST_INT);
    if (masked) {
      _mm256_mask_storeu_epi16(p, tail, h);
    } else if (Stream) {
      _mm256_stream_si256(reinterpret_cast<__m256i*>(p), h);
    } else {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), h);
    }
  }
}

// Calls f(nv, tail_flag, tail) for cb channels (1 .. 128) in vectors of Lanes
// channels, with nv = ceil(cb / Lanes) and tail_flag (the last vector is partial) as
// std::integral_constant, so f instantiates one kernel per case; tail masks the last vector.
// (A switch: a recursive if-chain here let GCC 12 spill the argmax kernel's registers to the
// stack, 2.5x slower.)
template <class Lane>
struct ZMask {  // the mask type for one 64-byte vector of Lane
  using type = typename std::conditional<
      sizeof(Lane) == 1, __mmask64,
      typename std::conditional<sizeof(Lane) == 2, __mmask32,
                                typename std::conditional<sizeof(Lane) == 4, __mmask16, __mmask8>::type>::type>::type;
};

// Blocks of float accumulators (float32, and float16 converted) hold 128 channels, blocks of
// integers kBlockBytes of them: both at most 8 vectors.
template <class Lane, class F>
NHWCPOOL_ALWAYS_INLINE inline void z_dispatch(i64 cb, const F& f) {
  static_assert(kBlockBytes == 512, "a block is at most 8 vectors of 16 floats");
  constexpr int Lanes = 64 / static_cast<int>(sizeof(Lane));
  using Mask = typename ZMask<Lane>::type;
  constexpr int kMaxNV = std::is_integral<Lane>::value ? 8 : 128 / Lanes;
  const int nv = static_cast<int>((cb + Lanes - 1) / Lanes);
  const int rem = static_cast<int>(cb % Lanes);
  const Mask tail = static_cast<Mask>((std::uint64_t{1} << rem) - 1u);
#define NHWCPOOL_Z_CASE(k)                                            \
  case k:                                                             \
    if constexpr (k <= kMaxNV) {                                      \
      if (rem == 0) {                                                 \
        f(std::integral_constant<int, k>{}, std::false_type{}, tail); \
      } else {                                                        \
        f(std::integral_constant<int, k>{}, std::true_type{}, tail);  \
      }                                                               \
    }                                                                 \
    return;
  switch (nv) {
    NHWCPOOL_Z_CASE(1)
    NHWCPOOL_Z_CASE(2)
    NHWCPOOL_Z_CASE(3)
    NHWCPOOL_Z_CASE(4)
    NHWCPOOL_Z_CASE(5)
    NHWCPOOL_Z_CASE(6)
    NHWCPOOL_Z_CASE(7)
    default:
      NHWCPOOL_Z_CASE(8)
  }
#undef NHWCPOOL_Z_CASE
}

// float32 argmax in the AVX-512 build: values and int32 indices in registers, one mask per
// vector (tap > acc, or tap is NaN: PyTorch's rule) driving both masked moves; the values are
// then stored and the indices widened to int64 in registers, each written straight to the
// output or streamed. (The generic loop, with the block in memory, measured 2x slower for
// 2x2/s2 over 64 channels on Zen 4; going through a stack block and a separate widening pass
// cost return_indices ~15% on 2x2/s2 over 128 channels.)
template <int NV, bool Tail>
inline void argmax_f32_zmm(const Window<float>& win, i64 c0, __mmask16 tail,
                           float* NHWCPOOL_RESTRICT vals, i64* NHWCPOOL_RESTRICT idx, bool stream_vals,
                           bool stream_idx) {
  __m512 a[NV];
  __m512i o[NV];
  const float* s = win.tap(0) + c0;
  const __m512i tap0 = _mm512_set1_epi32(static_cast<int>(win.index(0)));
  for (int v = 0; v < NV; ++v) {
    a[v] = z_load<float, Tail, NV>(s, v, tail);
    o[v] = tap0;
  }
  for (i64 t = 1; t < win.ntaps; ++t) {
    s = win.tap(t) + c0;
    const __m512i tap = _mm512_set1_epi32(static_cast<int>(win.index(t)));
    for (int v = 0; v < NV; ++v) {
      const __m512 x = z_load<float, Tail, NV>(s, v, tail);
      const __mmask16 m = static_cast<__mmask16>(_mm512_cmp_ps_mask(x, a[v], _CMP_GT_OQ) |
                                                 _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q));
      a[v] = _mm512_mask_mov_ps(a[v], m, x);
      o[v] = _mm512_mask_mov_epi32(o[v], m, tap);
    }
  }
  for (int v = 0; v < NV; ++v) {
    if (stream_vals) {
      z_store<float, Tail, true, NV>(vals, v, tail, a[v]);
    } else {
      z_store<float, Tail, false, NV>(vals, v, tail, a[v]);
    }
    const __m512i lo = _mm512_maskz_cvtepi32_epi64(0xFF, _mm512_maskz_extracti64x4_epi64(0xF, o[v], 0));
    const __m512i hi = _mm512_maskz_cvtepi32_epi64(0xFF, _mm512_maskz_extracti64x4_epi64(0xF, o[v], 1));
    i64* d = idx + 16 * v;
    if (Tail && v == NV - 1) {
      _mm512_mask_storeu_epi64(d, static_cast<__mmask8>(tail & 0xFF), lo);
      _mm512_mask_storeu_epi64(d + 8, static_cast<__mmask8>(tail >> 8), hi);
    } else if (stream_idx) {
      _mm512_stream_si512(reinterpret_cast<__m512i*>(d), lo);
      _mm512_stream_si512(reinterpret_cast<__m512i*>(d + 8), hi);
    } else {
      _mm512_storeu_si512(d, lo);
      _mm512_storeu_si512(d + 8, hi);
    }
  }
}


// cb (1..128) channels from c0: max values into vals, int64 indices into idx. stream_vals:
// vals is 64-byte aligned and cb a multiple of 16 (see stream_values); stream_idx: idx too.
NHWCPOOL_ALWAYS_INLINE inline void argmax_block_zmm(const Window<float>& win, i64 c0, i64 cb, float* vals, i64* idx,
                             bool stream_vals, bool stream_idx) {
  z_dispatch<float>(cb, [&](auto nv, auto tail_flag, __mmask16 tail) NHWCPOOL_ALWAYS_INLINE {
    argmax_f32_zmm<decltype(nv)::value, decltype(tail_flag)::value>(win, c0, tail, vals, idx, stream_vals,
                                                                      stream_idx);
  });
}
#endif

// Stores a block of max values (A) into the output type T.
template <class A, class T>
inline void store_max(const A* src, T* dst, i64 n) {
  if constexpr (std::is_same<A, T>::value) {
    for (i64 c = 0; c < n; ++c) dst[c] = src[c];
  } else {
    float_to_half_row(src, dst, n);
  }
}

// Non-temporal stores for the values of the wide (taps-outer) direct kernels: only when every
// output pixel is whole cache lines (64-byte aligned output, C * itemsize a multiple of 64),
// so no line is shared by two stores. Streaming skips the read-for-ownership of each output
// line; on Zen 4, 2x2/s2 over (8,112,112,128) float32 at one thread measured 1.53 -> 1.38 ms
// in a standalone loop (the read-only loop: 1.39 ms). Partial lines would be flushed as
// partial writes, which is why misaligned outputs keep ordinary stores.
inline bool stream_values(bool stream, const void* out, i64 C, i64 itemsize) {
#ifdef NHWCPOOL_HAVE_STREAM
  return stream && (reinterpret_cast<std::uintptr_t>(out) & 63) == 0 && (C * itemsize) % 64 == 0;
#else
  (void)stream; (void)out; (void)C; (void)itemsize;
  return false;
#endif
}

// Widens a block of winning-tap indices (I) into the int64 output, streamed for large outputs.
template <class I>
inline void store_indices(const I* src, i64* dst, i64 n, bool stream) {
  if (!stream) {
    for (i64 c = 0; c < n; ++c) dst[c] = static_cast<i64>(src[c]);  // widening, vectorized
    return;
  }
#if defined(__AVX512F__)
  if constexpr (std::is_same<I, std::int32_t>::value) {  // widened in registers, whole lines streamed
    if ((reinterpret_cast<std::uintptr_t>(dst) & 63) == 0) {
      i64 c = 0;
      for (; c + 8 <= n; c += 8) {
        const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + c));
        _mm512_stream_si512(reinterpret_cast<__m512i*>(dst + c), _mm512_maskz_cvtepi32_epi64(0xFF, v));
      }
      for (; c < n; ++c) dst[c] = static_cast<i64>(src[c]);  // a partial line: ordinary stores
      return;
    }
  }
#endif
  constexpr i64 kChunk = 256;
  alignas(64) i64 tmp[kChunk];
  for (i64 i = 0; i < n; i += kChunk) {
    const i64 m = n - i < kChunk ? n - i : kChunk;
    for (i64 c = 0; c < m; ++c) tmp[c] = static_cast<i64>(src[i + c]);
    stream_copy(dst + i, tmp, m * 8);
  }
}

// Software prefetch for the direct kernels, which stream the input from memory: per output
// pixel, each window row's next `advance` bytes (the input the window slides over),
// kPrefetchDistance bytes ahead of the current window. The hardware prefetchers alone keep
// too few lines in flight on one core for two or three interleaved row streams (measured on
// Zen 4, 2x2/s2 max of (8,112,112,128): 2.10 -> 1.52 ms; the same-size read-only loop takes
// 1.34 ms). XNNPACK's pooling microkernels prefetch their input rows the same way.
constexpr i64 kPrefetchDistance = 4096;
// Windows that advance further than this per output pixel are long sequential runs that the
// hardware prefetchers handle on their own. (Zen 4, float32 with s=2, one thread: 1000-1024
// channels, 8000-8192 bytes per step, gain from the prefetch: 2x2 max 1.29x, 3x3/p1 max
// 1.34x, 3x3/p1 average 1.08x; 2048 channels, 16 KiB per step: 3x3/p1 average 0.93x.)
constexpr i64 kPrefetchMaxAdvance = 8192;

// Windows with more taps than this use the "wide" variant: taps outer, long channel blocks
// inner with the accumulator in L1 (PyTorch's channels-last loop order). Register blocking
// over many taps would open one memory stream per tap, more than the prefetchers follow.
constexpr i64 kSmallWindow = 16;
// Channel block of the wide variant, in bytes of accumulator (fits L1 with its input tap).
constexpr i64 kWideBlockBytes = 8192;

// Taps outer also wins when windows barely overlap (each input is read by at most ~2.5
// windows) for the integer types, and for float16 in the AVX2/baseline builds, whose
// conversions vectorise best over long blocks (the AVX-512 build has fused float16 kernels:
// 2x2/s2 over (1,64,64,128) from L2, max 45 -> 30 us, average 50 -> 25 us). float32 keeps
// register blocking, with or without indices: with the software
// prefetch and streaming stores it measured faster (Zen 4, one thread, taps outer -> blocks:
// 2x2/s2 max of (8,112,112,128) 1.65 -> 1.37 ms, with indices 2.4 -> 1.9 ms; 3x3/s2/p1 over
// 128 channels 3.0 -> 2.0 ms; 2x2/s2 over (8,56,56,256) 0.87 -> 0.61 ms; average about even).
// Register blocking always wins where inputs are reused from cache by many windows (3x3/s1).
inline bool wide_window(const Geometry& g, bool float32_values) {
  const i64 taps = g.taps_h * g.taps_w;  // <= H*W: no overflow
  if (taps > kSmallWindow) return true;
  return !float32_values &&
         2.0 * static_cast<double>(taps) <= 5.0 * static_cast<double>(g.h.stride) * static_cast<double>(g.w.stride);
}

enum class Reduction { max, argmax, avg };

// Per-window tap lists shared by the direct kernels.
template <class T>
struct TapList {
  Scratch<const T*> rows, taps;
  Scratch<i64> cols, colw, rowidx, flat;  // with indices: row/column of each slot, y*W+x of each tap
  Scratch<const T*> next;                 // the next output row's input rows (for the prefetch)
  i64 nrows = 0, ncols = 0, nnext = 0;
  bool wide;
  i64 advance = 0;  // bytes of each window row to prefetch per output pixel (0: none)
  i64 rowbytes = 0;  // bytes of one input row (W * C elements)
  // Register blocks for float32, and where fused AVX-512 kernels exist: float16 max and
  // average, integer max (see wide_window); float16 argmax keeps taps outer.
  static bool use_wide(const Geometry& g, Reduction red) {
    const bool blocks = std::is_same<T, float>::value ||
                        (kZmmBlocks && std::is_same<T, half_t>::value && red != Reduction::argmax) ||
                        (kZmmBlocks && std::is_integral<T>::value && red == Reduction::max);
    return wide_window(g, blocks);
  }
  TapList(const Geometry& g, Reduction red)
      : rows(g.taps_h),
        taps(use_wide(g, red) ? 0 : g.taps_h * g.taps_w),
        cols(g.taps_w),
        colw(red == Reduction::argmax ? g.taps_w : 0),
        rowidx(red == Reduction::argmax ? g.taps_h : 0),
        flat(red == Reduction::argmax && !use_wide(g, red) ? g.taps_h * g.taps_w : 0),
        next(g.taps_h),
        wide(use_wide(g, red)),
        rowbytes(g.W * g.C * static_cast<i64>(sizeof(T))) {
    const i64 span = (g.taps_w - 1) * g.w.dilation + 1;  // columns one window covers
    const double step = static_cast<double>(g.w.stride < span ? g.w.stride : span) *
                        static_cast<double>(g.C) * static_cast<double>(sizeof(T));
    // One window per row (as in global pooling): no next window to prefetch for ((32,7,7,1000) global
    // average with stride 1: 441 useless prefetches per output pixel, ~10% of the call).
    advance = step <= static_cast<double>(kPrefetchMaxAdvance) && g.OW > 1 ? static_cast<i64>(step) : 0;
  }
  // Prefetch for the window last returned by window() or window_at() (pass its shift); see
  // kPrefetchDistance. Near the end of a row it runs on into the next output row's input rows,
  // which the next windows read first (rather than past this row's end, into a row the window
  // already read): Zen 4, one thread, 2x2/s2 max over (16,112,112,32) 1.34 -> 0.80 ms, over
  // (8,112,112,128) 1.40 -> 1.29 ms; the shorter the rows, the more of them went unprefetched.
  void prefetch(i64 shift = 0) const {
    if (advance == 0 || ncols == 0) return;
    const i64 pos = (cols.p[0] + shift) * static_cast<i64>(sizeof(T)) + kPrefetchDistance;
    for (i64 r = 0; r < nrows; ++r) {
      const char* p = reinterpret_cast<const char*>(rows.p[r]);
      if (pos + advance <= rowbytes) {
        for (i64 b = 0; b < advance; b += 64) prefetch_line(p + pos + b);
        continue;
      }
      for (i64 b = 0; b < advance; b += 64) {
        const i64 q = pos + b - rowbytes;  // into the next row
        if (q < 0) {
          prefetch_line(p + pos + b);
        } else if (r < nnext && q < rowbytes) {
          prefetch_line(reinterpret_cast<const char*>(next.p[r]) + q);
        }
      }
    }
  }
  // In-range input rows of output row (n, oh).
  void set_rows(const InputView& in, const Geometry& g, const AxisTable& ht, i64 n, i64 oh) {
    built_full_ = false;
    const auto oi = static_cast<std::size_t>(oh);
    const i64 hf = ht.first[oi];
    nrows = ht.count[oi];
    for (i64 t = 0; t < nrows; ++t) {
      rows.p[t] = input_row<T>(in, n, hf + t * g.h.dilation);
      if (rowidx.p) rowidx.p[t] = hf + t * g.h.dilation;
    }
    nnext = 0;
    if (advance == 0) return;
    const i64 nn = oh + 1 < g.OH ? n : n + 1, noh = oh + 1 < g.OH ? oh + 1 : 0;
    if (nn >= g.N) return;
    const auto ni = static_cast<std::size_t>(noh);
    nnext = ht.count[ni];
    for (i64 t = 0; t < nnext; ++t) next.p[t] = input_row<T>(in, nn, ht.first[ni] + t * g.h.dilation);
  }
  // Columns of window (oh, ow), and for small windows the row-major flat tap list.
  Window<T> window(const Geometry& g, const AxisTable& wt, i64 ow) {
    const auto oi = static_cast<std::size_t>(ow);
    const i64 wf = wt.first[oi];
    ncols = wt.count[oi];
    for (i64 j = 0; j < ncols; ++j) {
      cols.p[j] = (wf + j * g.w.dilation) * g.C;
      if (colw.p) colw.p[j] = wf + j * g.w.dilation;
    }
    if (wide) return Window<T>{nullptr, nrows * ncols};
    i64 k = 0;
    for (i64 r = 0; r < nrows; ++r) {
      for (i64 j = 0; j < ncols; ++j) {
        if (flat.p) flat.p[k] = rowidx.p[r] * g.W + colw.p[j];
        taps.p[k++] = rows.p[r] + cols.p[j];
      }
    }
    return Window<T>{taps.p, k, flat.p};
  }
  // Window ow of the current row, for the register-blocked kernels (not `wide`). The windows
  // with every tap in range step by stride * C elements (stride in flat indices), so after
  // the first of them the others reuse its tap list with win.shift and win.flat_shift instead
  // of rebuilding it per pixel (Zen 4, float16 2x2/s2 max over (1,64,64,128) from L2:
  // 22.3 -> 17.3 us; float32 3x3/s2/p1 over 64 channels 5.2 -> 4.2 us).
  Window<T> window_at(const Geometry& g, const AxisTable& wt, i64 ow) {
    if (built_full_ && ow > wt.full_begin && ow < wt.full_end) {
      const i64 steps = (ow - wt.full_begin) * g.w.stride;
      return Window<T>{taps.p, nrows * ncols, flat.p, steps * g.C, steps};
    }
    const Window<T> w = window(g, wt, ow);
    built_full_ = !wide && ow == wt.full_begin && ow < wt.full_end;
    return w;
  }

 private:
  bool built_full_ = false;  // taps hold the first full window of the current row
};

#if defined(__AVX2__)
// float32 wide-window sums: the taps in groups of kWideGroup, one pass over the block per
// group with the sum in a register, in tap order as below (same bits). The plain loop loaded
// and stored the block's accumulator for every tap, in 256-bit vectors (C++ harness, one
// thread, medians of alternated runs: global average over (64,7,7,2048) 1.31x faster, over
// (1,7,7,1000) 1.34x; groups of 4 taps 1.25x, of 2 0.82x). The same for max was 0.9x as fast
// as the plain loop (its three-instruction max; not understood), so max keeps that loop.
constexpr int kWideGroup = 7;
template <class Op, int N, bool First>
NHWCPOOL_NOINLINE void wide_pass(const float* const* tap, i64 head, i64 cb, float* NHWCPOOL_RESTRICT acc) {
  auto vec = [&](i64 c, i64 lanes) {
    GVec a = First ? g_first(Op{}, g_load(tap[0] + c, lanes)) : g_op(Op{}, g_load(acc + c, lanes), g_load(tap[0] + c, lanes));
    for (int t = 1; t < N; ++t) a = g_op(Op{}, a, g_load(tap[t] + c, lanes));
    return a;
  };
  if (head > 0) g_store(acc, vec(0, head), head, false);
  i64 c = head;
  for (; c + 2 * kGL <= cb; c += 2 * kGL) {  // two independent chains per step
    const GVec x = vec(c, kGL), y = vec(c + kGL, kGL);
    g_store_full(acc + c, x, false);
    g_store_full(acc + c + kGL, y, false);
  }
  for (; c < cb; c += kGL) {
    const i64 lanes = cb - c < kGL ? cb - c : kGL;
    g_store(acc + c, vec(c, lanes), lanes, false);
  }
}
template <class Op, bool First>
void wide_pass_n(const float* const* tap, int n, i64 head, i64 cb, float* acc) {
  switch (n) {
    case 1: return wide_pass<Op, 1, First>(tap, head, cb, acc);
    case 2: return wide_pass<Op, 2, First>(tap, head, cb, acc);
    case 3: return wide_pass<Op, 3, First>(tap, head, cb, acc);
    case 4: return wide_pass<Op, 4, First>(tap, head, cb, acc);
    case 5: return wide_pass<Op, 5, First>(tap, head, cb, acc);
    case 6: return wide_pass<Op, 6, First>(tap, head, cb, acc);
    default: return wide_pass<Op, kWideGroup, First>(tap, head, cb, acc);
  }
}
template <class Op>
void reduce_wide_f32(const TapList<float>& tl, i64 c0, i64 cb, float* NHWCPOOL_RESTRICT acc) {
  const float* tap[kWideGroup];
  int n = 0;
  bool first = true;
  // Vectors start on the first tap's vector boundaries (all taps' when C * 4 is a multiple of
  // the vector's bytes).
  const i64 head = cb > kGL ? floats_to_boundary(tl.rows.p[0] + c0 + tl.cols.p[0], kGL * 4) : 0;
  auto pass = [&]() {
    if (first) {
      wide_pass_n<Op, true>(tap, n, head, cb, acc);
    } else {
      wide_pass_n<Op, false>(tap, n, head, cb, acc);
    }
    first = false;
    n = 0;
  };
  for (i64 r = 0; r < tl.nrows; ++r) {
    const float* row = tl.rows.p[r] + c0;
    for (i64 j = 0; j < tl.ncols; ++j) {
      tap[n++] = row + tl.cols.p[j];
      if (n == kWideGroup) pass();
    }
  }
  if (n > 0) pass();
}
#endif

// Wide-window reductions over a channel block [c0, c0 + cb): taps outer, channels inner.
template <class Op, class A, class T>
void reduce_wide(const TapList<T>& tl, i64 c0, i64 cb, A* NHWCPOOL_RESTRICT acc, A* tmp) {
#if defined(__AVX2__)
  if constexpr (std::is_same<Op, SumOp>::value && std::is_same<T, float>::value && std::is_same<A, float>::value) {
    reduce_wide_f32<Op>(tl, c0, cb, acc);
    return;
  }
#endif
  if constexpr (std::is_same<T, half_t>::value) {
    const A* v = tap_values<A>(tl.rows.p[0] + tl.cols.p[0] + c0, tmp, cb);
    for (i64 c = 0; c < cb; ++c) acc[c] = Op::first(v[c]);
  } else {
    const T* s = tl.rows.p[0] + tl.cols.p[0] + c0;
    for (i64 c = 0; c < cb; ++c) acc[c] = Op::first(static_cast<A>(s[c]));
  }
  for (i64 r = 0; r < tl.nrows; ++r) {
    const T* row = tl.rows.p[r] + c0;
    for (i64 j = (r == 0 ? 1 : 0); j < tl.ncols; ++j) {
      combine_from<Op>(acc, row + tl.cols.p[j], cb);
    }
  }
}

// Wide-window argmax: ord holds the winning tap's y*W + x (as I).
template <class A, class T, class I>
void argmax_wide(const Geometry& g, const TapList<T>& tl, i64 c0, i64 cb, A* NHWCPOOL_RESTRICT acc,
                 I* NHWCPOOL_RESTRICT ord, A* tmp) {
  const A* v = tap_values<A>(tl.rows.p[0] + tl.cols.p[0] + c0, tmp, cb);
  const I first = static_cast<I>(tl.rowidx.p[0] * g.W + tl.colw.p[0]);
  for (i64 c = 0; c < cb; ++c) {
    acc[c] = v[c];
    ord[c] = first;
  }
  for (i64 r = 0; r < tl.nrows; ++r) {
    const T* row = tl.rows.p[r] + c0;
    const i64 rowbase = tl.rowidx.p[r] * g.W;
    for (i64 j = (r == 0 ? 1 : 0); j < tl.ncols; ++j) {
      const I tap = static_cast<I>(rowbase + tl.colw.p[j]);
      v = tap_values<A>(row + tl.cols.p[j], tmp, cb);
      for (i64 c = 0; c < cb; ++c) {
        const bool take = (v[c] > acc[c]) | (v[c] != v[c]);  // NOLINT: NaN test
        acc[c] = take ? v[c] : acc[c];
        ord[c] = take ? tap : ord[c];
      }
    }
  }
}

#ifdef NHWCPOOL_ZMM_BLOCKS
// Fused register-blocked kernels for one channel block of float32 or float16 pixels in the
// AVX-512 build. Each loads the block's taps (float16 widened by vcvtph2ps), reduces them in
// registers, finishes (average: finite test, divide) and stores, streamed from registers when
// the output's pixels are whole cache lines. The unfused loops made more passes over each
// block after reducing it (float16 conversion into a buffer, finite test, divide into a
// buffer, streamed copy). NV vectors of 16 channels, the last one masked when Tail.

// Average: sums in the same tap order and 0 + x start as reduce_block<SumOp> (same bits),
// the finite test of float32 sums (vfpclassps), then the divide.
template <class T, int NV, bool Tail, bool Stream>
inline void avg_zmm(const Window<T>& win, i64 c0, __mmask16 tail, const Divisor<float>& div, T* NHWCPOOL_RESTRICT dst,
                    FiniteCheck& finite) {
  static_assert(!(Tail && Stream), "streamed pixels are whole cache lines");
  __m512 a[NV];
  const T* s = win.tap(0) + c0;
  for (int v = 0; v < NV; ++v) a[v] = _mm512_add_ps(_mm512_setzero_ps(), z_load<T, Tail, NV>(s, v, tail));
  for (i64 t = 1; t < win.ntaps; ++t) {
    s = win.tap(t) + c0;
    for (int v = 0; v < NV; ++v) a[v] = _mm512_add_ps(a[v], z_load<T, Tail, NV>(s, v, tail));
  }
  if constexpr (std::is_same<T, float>::value) {
    __mmask16 bad = 0;  // lanes whose sum is inf or NaN (fpclass: QNaN | +inf | -inf | SNaN)
    for (int v = 0; v < NV; ++v) bad = static_cast<__mmask16>(bad | _mm512_fpclass_ps_mask(a[v], 0x99));
    if (bad != 0) finite.mark_not_finite();
  } else {
    (void)finite;  // float16 sums cannot overflow float32
  }
  if (div.pow2) {  // exact: multiplying by 2^-k rounds as dividing by 2^k
    const __m512 inv = _mm512_set1_ps(div.inv);
    for (int v = 0; v < NV; ++v) a[v] = _mm512_mul_ps(a[v], inv);
  } else {
    const __m512 d = _mm512_set1_ps(div.d);
    for (int v = 0; v < NV; ++v) a[v] = _mm512_div_ps(a[v], d);
  }
  for (int v = 0; v < NV; ++v) z_store<T, Tail, Stream, NV>(dst, v, tail, a[v]);
}

// Max: vmaxps(x, acc) keeps a NaN accumulator and the first of equal values; lanes where the
// tap is NaN take the tap instead (MaxOp's rule, element for element).
template <class T, int NV, bool Tail, bool Stream>
NHWCPOOL_ALWAYS_INLINE inline void max_zmm(const Window<T>& win, i64 c0, __mmask16 tail, T* NHWCPOOL_RESTRICT dst) {
  static_assert(!(Tail && Stream), "streamed pixels are whole cache lines");
  __m512 a[NV];
  const T* s = win.tap(0) + c0;
  for (int v = 0; v < NV; ++v) a[v] = z_load<T, Tail, NV>(s, v, tail);
  for (i64 t = 1; t < win.ntaps; ++t) {
    s = win.tap(t) + c0;
    for (int v = 0; v < NV; ++v) {
      const __m512 x = z_load<T, Tail, NV>(s, v, tail);
      a[v] = _mm512_mask_max_ps(x, _mm512_cmp_ps_mask(x, x, _CMP_ORD_Q), x, a[v]);  // NaN lanes: x
    }
  }
  for (int v = 0; v < NV; ++v) z_store<T, Tail, Stream, NV>(dst, v, tail, a[v]);
}


// float16 max on the bits, 32 channels per vector, no conversions. Read as int16, float16
// values order like signed integers among the non-negative ones, and in reverse among the
// negative ones (sign and magnitude). So the float maximum is the signed maximum when that is
// >= 0 (some value is >= +0), else the signed minimum (all negative: the smallest magnitude,
// -0 first of all). This is exact except in two cases, which return false so that the caller
// redoes the block with max_zmm (PyTorch's rules): a NaN in the window (a positive one shows
// as a signed maximum above +inf, a negative one as an unsigned maximum above -inf), and a
// window whose maximum is a zero of both signs (signed max 0 and signed min 0x8000), where the
// first zero in tap order wins. (The sign-magnitude order is the one radix sorts of floats
// exploit.) Three integer ops per 32 channels replace, per 16, a widening, a compare and a
// masked max, plus the narrowing: 2x2/s2 over (1,64,64,128) from L2 28.3 -> 23.7 us on Zen 4.
template <int NV, bool Tail, bool Stream>
NHWCPOOL_ALWAYS_INLINE inline bool max_h16_bits_zmm(const Window<half_t>& win, i64 c0, __mmask32 tail, half_t* NHWCPOOL_RESTRICT dst) {
  static_assert(!(Tail && Stream), "streamed pixels are whole cache lines");
  const auto load = [tail](const half_t* s, int v) {
    const half_t* p = s + 32 * v;
    __m512i x = Tail && v == NV - 1 ? _mm512_maskz_loadu_epi16(tail, p) : _mm512_loadu_si512(p);
#if defined(__GNUC__) || defined(__clang__)
    __asm__("" : "+v"(x));  // one load feeding three ops, not three folded loads
#endif
    return x;
  };
  __m512i smax[NV], smin[NV], umax[NV];
  const half_t* s = win.tap(0) + c0;
  for (int v = 0; v < NV; ++v) smax[v] = smin[v] = umax[v] = load(s, v);
  for (i64 t = 1; t < win.ntaps; ++t) {
    s = win.tap(t) + c0;
    for (int v = 0; v < NV; ++v) {
      const __m512i x = load(s, v);
      smax[v] = _mm512_max_epi16(smax[v], x);
      smin[v] = _mm512_min_epi16(smin[v], x);
      umax[v] = _mm512_max_epu16(umax[v], x);
    }
  }
  // Lanes to redo, folded over the vectors first so that one test ends the window: the
  // largest signed maximum (above +inf: a positive NaN), the largest unsigned maximum (above
  // -inf: a negative NaN) and the smallest of smax | (smin ^ 0x8000) (zero: both zeros and
  // nothing positive). Masked-off tail lanes load as +0 and pass.
  __m512i top = smax[0], utop = umax[0];
  const __m512i neg_zero = _mm512_set1_epi16(static_cast<short>(0x8000));
  __m512i ties = _mm512_ternarylogic_epi32(smax[0], smin[0], neg_zero, 0xF6);  // a | (b ^ c)
  for (int v = 1; v < NV; ++v) {
    top = _mm512_max_epi16(top, smax[v]);
    utop = _mm512_max_epu16(utop, umax[v]);
    ties = _mm512_min_epu16(ties, _mm512_ternarylogic_epi32(smax[v], smin[v], neg_zero, 0xF6));
  }
  const __mmask32 special = _mm512_cmpgt_epi16_mask(top, _mm512_set1_epi16(0x7C00)) |
                            _mm512_cmpgt_epu16_mask(utop, _mm512_set1_epi16(static_cast<short>(0xFC00))) |
                            _mm512_testn_epi16_mask(ties, ties);
  if (special != 0) return false;
  for (int v = 0; v < NV; ++v) {
    const __m512i r = _mm512_mask_blend_epi16(_mm512_movepi16_mask(smax[v]), smax[v], smin[v]);
    half_t* p = dst + 32 * v;
    if (Tail && v == NV - 1) {
      _mm512_mask_storeu_epi16(p, tail, r);
    } else if (Stream) {
      _mm512_stream_si512(reinterpret_cast<__m512i*>(p), r);
    } else {
      _mm512_storeu_si512(p, r);
    }
  }
  return true;
}

// cb channels from c0 of every tap of win, averaged into dst. Stream: dst is 64-byte aligned
// and cb * sizeof(T) a multiple of 64.
template <class T, bool Stream>
NHWCPOOL_ALWAYS_INLINE inline void avg_block_zmm(const Window<T>& win, i64 c0, i64 cb, const Divisor<float>& div, T* dst,
                          FiniteCheck& finite) {
  z_dispatch<float>(cb, [&](auto nv, auto tail_flag, __mmask16 tail) NHWCPOOL_ALWAYS_INLINE {
    constexpr bool kTail = decltype(tail_flag)::value;
    avg_zmm<T, decltype(nv)::value, kTail, Stream && !kTail>(win, c0, tail, div, dst, finite);
  });
}

// Integer max, 64 bytes of channels per vector: one vpmax per tap and vector, as float32 but
// without NaNs to mind. (The taps-outer loop, accumulators in memory, measured 2.3x slower for
// 2x2/s2 over (8,112,112,64) uint8 on Zen 4.)
template <class T>
NHWCPOOL_ALWAYS_INLINE inline __m512i zi_load(const T* p, typename ZMask<T>::type m) {
  if constexpr (sizeof(T) == 1) return _mm512_maskz_loadu_epi8(m, p);
  if constexpr (sizeof(T) == 2) return _mm512_maskz_loadu_epi16(m, p);
  if constexpr (sizeof(T) == 4) return _mm512_maskz_loadu_epi32(m, p);
  if constexpr (sizeof(T) == 8) return _mm512_maskz_loadu_epi64(m, p);
}
template <class T>
NHWCPOOL_ALWAYS_INLINE inline void zi_store(T* p, typename ZMask<T>::type m, __m512i v) {
  if constexpr (sizeof(T) == 1) _mm512_mask_storeu_epi8(p, m, v);
  if constexpr (sizeof(T) == 2) _mm512_mask_storeu_epi16(p, m, v);
  if constexpr (sizeof(T) == 4) _mm512_mask_storeu_epi32(p, m, v);
  if constexpr (sizeof(T) == 8) _mm512_mask_storeu_epi64(p, m, v);
}
template <class T>
NHWCPOOL_ALWAYS_INLINE inline __m512i zi_max(__m512i a, __m512i b) {
  // (all-ones maskz forms: the plain ones trip GCC 12's -Wmaybe-uninitialized)
  constexpr bool s = std::is_signed<T>::value;
  const auto all = ~typename ZMask<T>::type{0};
  if constexpr (sizeof(T) == 1) return s ? _mm512_maskz_max_epi8(all, a, b) : _mm512_maskz_max_epu8(all, a, b);
  if constexpr (sizeof(T) == 2) return s ? _mm512_maskz_max_epi16(all, a, b) : _mm512_maskz_max_epu16(all, a, b);
  if constexpr (sizeof(T) == 4) return s ? _mm512_maskz_max_epi32(all, a, b) : _mm512_maskz_max_epu32(all, a, b);
  if constexpr (sizeof(T) == 8) return s ? _mm512_maskz_max_epi64(all, a, b) : _mm512_maskz_max_epu64(all, a, b);
}

template <class T, int NV, bool Tail, bool Stream>
NHWCPOOL_ALWAYS_INLINE inline void max_int_zmm(const Window<T>& win, i64 c0, typename ZMask<T>::type tail, T* NHWCPOOL_RESTRICT dst) {
  static_assert(!(Tail && Stream), "streamed pixels are whole cache lines");
  constexpr int L = 64 / static_cast<int>(sizeof(T));
  const auto load = [tail](const T* p, int v) {
    return Tail && v == NV - 1 ? zi_load(p + L * v, tail) : _mm512_loadu_si512(p + L * v);
  };
  __m512i a[NV];
  const T* s = win.tap(0) + c0;
  for (int v = 0; v < NV; ++v) a[v] = load(s, v);
  for (i64 t = 1; t < win.ntaps; ++t) {
    s = win.tap(t) + c0;
    for (int v = 0; v < NV; ++v) a[v] = zi_max<T>(a[v], load(s, v));
  }
  for (int v = 0; v < NV; ++v) {
    T* p = dst + L * v;
    if (Tail && v == NV - 1) {
      zi_store(p, tail, a[v]);
    } else if (Stream) {
      _mm512_stream_si512(reinterpret_cast<__m512i*>(p), a[v]);
    } else {
      _mm512_storeu_si512(p, a[v]);
    }
  }
}

// The same for max.
template <class T, bool Stream>
NHWCPOOL_ALWAYS_INLINE inline void max_block_zmm(const Window<T>& win, i64 c0, i64 cb, T* dst) {
  if constexpr (std::is_integral<T>::value) {
    z_dispatch<T>(cb, [&](auto nv, auto tail_flag, typename ZMask<T>::type tail) NHWCPOOL_ALWAYS_INLINE {
      constexpr bool kTail = decltype(tail_flag)::value;
      max_int_zmm<T, decltype(nv)::value, kTail, Stream && !kTail>(win, c0, tail, dst);
    });
    return;
  }
  if constexpr (std::is_same<T, half_t>::value) {
    bool done = false;
    z_dispatch<half_t>(cb, [&](auto nv, auto tail_flag, __mmask32 tail) NHWCPOOL_ALWAYS_INLINE {
      constexpr bool kTail = decltype(tail_flag)::value;
      done = max_h16_bits_zmm<decltype(nv)::value, kTail, Stream && !kTail>(win, c0, tail, dst);
    });
    if (done) return;
  }
  z_dispatch<float>(cb, [&](auto nv, auto tail_flag, __mmask16 tail) NHWCPOOL_ALWAYS_INLINE {
    constexpr bool kTail = decltype(tail_flag)::value;
    max_zmm<T, decltype(nv)::value, kTail, Stream && !kTail>(win, c0, tail, dst);
  });
}

// A row's full windows (all taps in range) in one call, for pixels of at most 4 vectors (see
// pixel_runs): the taps step by stride * C from window to window, so the per-pixel work is
// the prefetch and the vectors themselves (Zen 4, one thread, from L2: 2x2/s2 over
// (1,56,56,64) uint8 13.6 -> 4.4 us, float32 over 16 channels 7.1 -> 4.5 us). float32 and
// integers; float16 keeps its per-pixel fallback (see max_h16_bits_zmm).
template <class T, bool Stream>
NHWCPOOL_NOINLINE void max_run_zmm(const TapList<T>& tl, Window<T> win, i64 step, i64 npx, i64 C, T* dst) {
  using Lane = typename std::conditional<std::is_integral<T>::value, T, float>::type;
  z_dispatch<Lane>(C, [&](auto nv, auto tail_flag, typename ZMask<Lane>::type tail) NHWCPOOL_ALWAYS_INLINE {
    constexpr int kNV = decltype(nv)::value;
    constexpr bool kTail = decltype(tail_flag)::value;
    for (i64 i = 0; i < npx; ++i, win.shift += step, dst += C) {
      tl.prefetch(win.shift);
      if constexpr (std::is_integral<T>::value) {
        max_int_zmm<T, kNV, kTail, Stream && !kTail>(win, 0, tail, dst);
      } else {
        max_zmm<T, kNV, kTail, Stream && !kTail>(win, 0, tail, dst);
      }
    }
  });
}

// The same for averages (float32, float16): divs holds the row's divisors by window.
template <class T, bool Stream>
NHWCPOOL_NOINLINE void avg_run_zmm(const TapList<T>& tl, Window<T> win, i64 step, i64 npx, i64 C, const Divisor<float>* divs,
                        T* dst, FiniteCheck& finite) {
  z_dispatch<float>(C, [&](auto nv, auto tail_flag, __mmask16 tail) NHWCPOOL_ALWAYS_INLINE {
    constexpr int kNV = decltype(nv)::value;
    constexpr bool kTail = decltype(tail_flag)::value;
    for (i64 i = 0; i < npx; ++i, win.shift += step, dst += C) {
      tl.prefetch(win.shift);
      avg_zmm<T, kNV, kTail, Stream && !kTail>(win, 0, tail, divs[i], dst, finite);
    }
  });
}
#endif

// Runs: the call's rows take their full windows as one run (max_run_zmm, avg_run_zmm; see
// pixel_runs). A separate instantiation, so that the per-pixel loop of the others is compiled
// as before: beside the run code it measured up to 1.1x slower over 128 channels.
template <class T, bool Runs>
struct MaxDirect {
  using A = typename MaxAccOf<T>::type;
  static void run(const void* vctx, i64 begin, i64 end) {
    const MaxPoolArgs& a = *static_cast<const MaxPoolArgs*>(vctx);
    const Geometry& g = a.geo;
    constexpr i64 B = block_of<A>();
    const i64 C = g.C, OWC = g.OW * C;
    TapList<T> tl(g, Reduction::max);
    alignas(64) A acc[B];
    constexpr i64 WB = kWideBlockBytes / static_cast<i64>(sizeof(A));
    Scratch<A> wacc(tl.wide ? WB : 0), wtmp(tl.wide ? WB : 0);
    const AxisTable& wt = *a.wtab;
    const bool sliding = std::is_same<T, float>::value && !tl.wide && slide_applies(g);
    constexpr bool kZmm = kZmmBlocks && (std::is_same<T, half_t>::value || std::is_same<T, float>::value ||
                                         std::is_integral<T>::value);
    const bool vstream = (std::is_same<A, T>::value || kZmm) && stream_values(a.stream, a.out, C, sizeof(T));
    for (i64 r = begin; r < end; ++r) {
      const i64 n = r / g.OH, oh = r - n * g.OH;
      T* orow = static_cast<T*>(a.out) + r * OWC;
      tl.set_rows(a.in, g, *a.htab, n, oh);
      i64 fb = 0, fe = 0;  // windows done before the pixel loop, by slide() or as one run
      if constexpr (std::is_same<T, float>::value) {
        if (sliding && tl.nrows > 0 && wt.full_end > wt.full_begin) {
          fb = wt.full_begin;
          fe = wt.full_end;
          slide<MaxOp>(tl.rows.p, tl.nrows, g.w.kernel, C, wt.first[static_cast<std::size_t>(fb)], fe - fb,
                       orow + fb * C, nullptr, g.W * C, a.stream);
        }
      }
#ifdef NHWCPOOL_ZMM_BLOCKS
      if constexpr (Runs && kZmm && !std::is_same<T, half_t>::value) {
        if (fe == fb && tl.nrows > 0 && wt.full_end - wt.full_begin > 1) {
          fb = wt.full_begin;
          fe = wt.full_end;
          const Window<T> win = tl.window_at(g, wt, fb);
          if (vstream) {
            max_run_zmm<T, true>(tl, win, g.w.stride * C, fe - fb, C, orow + fb * C);
          } else {
            max_run_zmm<T, false>(tl, win, g.w.stride * C, fe - fb, C, orow + fb * C);
          }
        }
      }
#endif
      for (i64 ow = 0; ow < g.OW; ++ow) {
        if (ow == fb && fe > fb) {
          ow = fe - 1;
          continue;
        }
        T* o = orow + ow * C;
        const Window<T> win = tl.window_at(g, *a.wtab, ow);
        tl.prefetch(win.shift);
        if (win.ntaps == 0) {
          for (i64 c0 = 0; c0 < C; c0 += B) {
            const i64 cb = C - c0 < B ? C - c0 : B;
            fill(acc, lowest_value<A>(), cb);
            store_max(acc, o + c0, cb);
          }
          continue;
        }
        if (tl.wide) {
          for (i64 c0 = 0; c0 < C; c0 += WB) {
            const i64 cb = C - c0 < WB ? C - c0 : WB;
            reduce_wide<MaxOp>(tl, c0, cb, wacc.p, wtmp.p);
            if (std::is_same<A, T>::value && vstream) {
              stream_copy(o + c0, wacc.p, cb * static_cast<i64>(sizeof(T)));
            } else {
              store_max(wacc.p, o + c0, cb);
            }
          }
          continue;
        }
#ifdef NHWCPOOL_ZMM_BLOCKS
        if constexpr (kZmm) {
          for (i64 c0 = 0; c0 < C; c0 += B) {
            const i64 cb = C - c0 < B ? C - c0 : B;
            if (vstream) {
              max_block_zmm<T, true>(win, c0, cb, o + c0);
            } else {
              max_block_zmm<T, false>(win, c0, cb, o + c0);
            }
          }
          continue;
        }
#endif
        i64 c0 = 0;
        for (; c0 + B <= C; c0 += B) {
          reduce_block<MaxOp, A, T, true>(win, c0, B, acc);
          if (vstream) {
            stream_copy(o + c0, acc, B * static_cast<i64>(sizeof(T)));
          } else {
            store_max(acc, o + c0, B);
          }
        }
        if (c0 < C) {
          reduce_block<MaxOp, A, T, false>(win, c0, C - c0, acc);
          if (vstream) {
            stream_copy(o + c0, acc, (C - c0) * static_cast<i64>(sizeof(T)));
          } else {
            store_max(acc, o + c0, C - c0);
          }
        }
      }
    }
    if (vstream || (sliding && a.stream)) stream_fence();
  }
};

template <class T, class I>
struct MaxIndexedDirect {
  using A = typename MaxAccOf<T>::type;
  static void run(const void* vctx, i64 begin, i64 end) {
    const MaxPoolArgs& a = *static_cast<const MaxPoolArgs*>(vctx);
    const Geometry& g = a.geo;
    const AxisTable& ht = *a.htab;
    const AxisTable& wt = *a.wtab;
    constexpr i64 B = block_of<A>();
    const i64 C = g.C, W = g.W, OWC = g.OW * C;
    TapList<T> tl(g, Reduction::argmax);
    alignas(64) A acc[B];
    alignas(64) I ord[B];
    constexpr i64 WB = kWideBlockBytes / static_cast<i64>(sizeof(A));
    Scratch<A> wacc(tl.wide ? WB : 0), wtmp(tl.wide ? WB : 0);
    Scratch<I> word(tl.wide ? WB : 0);
    // Indices are streamed when the output is large and each pixel's block covers whole lines.
    const bool istream = a.stream && C * 8 >= 1024;
    const bool vstream = std::is_same<A, T>::value && stream_values(a.stream, a.out, C, sizeof(T));
    // Whole-line int64 index blocks (the fused AVX-512 argmax streams them from registers).
    [[maybe_unused]] const bool zstream = istream && (reinterpret_cast<std::uintptr_t>(a.indices) & 63) == 0 && C % 8 == 0;
    for (i64 r = begin; r < end; ++r) {
      const i64 n = r / g.OH, oh = r - n * g.OH;
      const auto ohi = static_cast<std::size_t>(oh);
      T* orow = static_cast<T*>(a.out) + r * OWC;
      i64* irow = a.indices + r * OWC;
      tl.set_rows(a.in, g, ht, n, oh);
      for (i64 ow = 0; ow < g.OW; ++ow) {
        const auto owi = static_cast<std::size_t>(ow);
        T* o = orow + ow * C;
        i64* ix = irow + ow * C;
        const Window<T> win = tl.window_at(g, wt, ow);
        tl.prefetch(win.shift);
        if (win.ntaps == 0) {  // no in-range tap: PyTorch's -inf and start index
          const i64 start = start_index(ht.start[ohi], W, wt.start[owi]);
          for (i64 c0 = 0; c0 < C; c0 += B) {
            const i64 cb = C - c0 < B ? C - c0 : B;
            fill(acc, lowest_value<A>(), cb);
            store_max(acc, o + c0, cb);
          }
          fill(ix, start, C);
          continue;
        }
        if (tl.wide) {
          for (i64 c0 = 0; c0 < C; c0 += WB) {
            const i64 cb = C - c0 < WB ? C - c0 : WB;
            argmax_wide(g, tl, c0, cb, wacc.p, word.p, wtmp.p);
            store_max(wacc.p, o + c0, cb);
            store_indices(word.p, ix + c0, cb, istream);
          }
          continue;
        }
        for (i64 c0 = 0; c0 < C; c0 += B) {
          const i64 cb = C - c0 < B ? C - c0 : B;
#ifdef NHWCPOOL_ZMM_BLOCKS
          if constexpr (std::is_same<T, float>::value && std::is_same<I, std::int32_t>::value) {
            argmax_block_zmm(win, c0, cb, o + c0, ix + c0, vstream, zstream);
            continue;
          }
#endif
          if constexpr (std::is_same<A, T>::value) {
            // Straight into the output, or streamed from acc (a copy loop here would be
            // compiled to `rep movs`, which measured 2x slower overall).
            T* dst = vstream ? acc : o + c0;
            if (cb == B) {
              argmax_block<A, T, I, true>(win, c0, B, dst, ord);
            } else {
              argmax_block<A, T, I, false>(win, c0, cb, dst, ord);
            }
            if (vstream) stream_copy(o + c0, acc, cb * static_cast<i64>(sizeof(T)));
            store_indices(ord, ix + c0, cb, istream);
            continue;
          }
          if (cb == B) {
            argmax_block<A, T, I, true>(win, c0, B, acc, ord);
          } else {
            argmax_block<A, T, I, false>(win, c0, cb, acc, ord);
          }
          store_max(acc, o + c0, cb);
          store_indices(ord, ix + c0, cb, istream);
        }
      }
    }
    if (istream || vstream) stream_fence();
  }
};


template <class T, class A, class M, bool Runs>
struct AvgDirect {
  // float32 in, float32 sums, float32 out: the only combination whose sums can overflow.
  static constexpr bool kCheckOverflow = std::is_same<T, float>::value && std::is_same<A, float>::value;
  static void run(const void* vctx, i64 begin, i64 end) {
    const AvgPoolArgs& a = *static_cast<const AvgPoolArgs*>(vctx);
    const Geometry& g = a.geo;
    const AxisTable& ht = *a.htab;
    const AxisTable& wt = *a.wtab;
    constexpr i64 B = block_of<A>();
    const i64 C = g.C, OWC = g.OW * C;
    const int osize = itemsize(a.out_dtype);
    TapList<T> tl(g, Reduction::avg);
    constexpr i64 WB = kWideBlockBytes / static_cast<i64>(sizeof(A));
    const i64 AB = tl.wide ? WB : B;  // accumulator block
    Scratch<A> wacc(tl.wide ? WB : 0), wtmp(tl.wide ? WB : 0);
    Scratch<M> means(AB);
    alignas(64) A sacc[B];
    A* acc = tl.wide ? wacc.p : sacc;
    M* mean = means.p;
    RowDivisors<M> divs(g);
    const bool narrow = narrowed<M>(a.out_dtype);
    constexpr bool kF32 = std::is_same<T, float>::value && std::is_same<A, float>::value && std::is_same<M, float>::value;
    constexpr bool kH16 = std::is_same<T, half_t>::value && std::is_same<A, float>::value && std::is_same<M, float>::value;
    const bool sliding = kF32 && a.out_dtype == DType::f32 && !tl.wide && slide_applies(g);
    // float32 or float64 throughout: the means go straight to the output (streamed through a
    // small buffer); any other combination converts them.
    constexpr bool kSame = std::is_same<T, A>::value && std::is_same<A, M>::value &&
                           (std::is_same<T, float>::value || std::is_same<T, double>::value);
    const bool same_out = kSame && a.out_dtype == (std::is_same<T, float>::value ? DType::f32 : DType::f64);
    const bool vstream = (same_out && stream_values(a.stream, a.out, C, sizeof(T))) ||
                         (kZmmBlocks && kH16 && a.out_dtype == DType::f16 && stream_values(a.stream, a.out, C, 2));
    Scratch<A> sbuf(vstream && kSame ? AB : 0);
    for (i64 r = begin; r < end; ++r) {
      const i64 n = r / g.OH, oh = r - n * g.OH;
      char* orow = static_cast<char*>(a.out) + r * OWC * osize;
      tl.set_rows(a.in, g, ht, n, oh);
      divs.set_row(a, oh);
      FiniteCheck finite;
      i64 fb = 0, fe = 0;  // windows done before the pixel loop, by slide() or as one run
      if constexpr (kF32) {
        if (sliding && tl.nrows > 0 && wt.full_end > wt.full_begin) {
          fb = wt.full_begin;
          fe = wt.full_end;
          float* o = reinterpret_cast<float*>(orow) + fb * C;
          // Full windows of one row share their divisor.
          if (!slide<SumOp>(tl.rows.p, tl.nrows, g.w.kernel, C, wt.first[static_cast<std::size_t>(fb)],
                             fe - fb, o, &divs[fb], g.W * C, a.stream)) {
            finite.mark_not_finite();
          }
        }
      }
#ifdef NHWCPOOL_ZMM_BLOCKS
      if constexpr (Runs && (kF32 || kH16)) {
        if (fe == fb && a.out_dtype == (kF32 ? DType::f32 : DType::f16) && tl.nrows > 0 &&
            wt.full_end - wt.full_begin > 1) {
          fb = wt.full_begin;
          fe = wt.full_end;
          const Window<T> win = tl.window_at(g, wt, fb);
          T* o = reinterpret_cast<T*>(orow) + fb * C;
          if (vstream) {
            avg_run_zmm<T, true>(tl, win, g.w.stride * C, fe - fb, C, &divs[fb], o, finite);
          } else {
            avg_run_zmm<T, false>(tl, win, g.w.stride * C, fe - fb, C, &divs[fb], o, finite);
          }
        }
      }
#endif
      for (i64 ow = 0; ow < g.OW; ++ow) {
        if (ow == fb && fe > fb) {
          ow = fe - 1;
          continue;
        }
        char* o = orow + ow * C * osize;
        const Window<T> win = tl.window_at(g, wt, ow);
        tl.prefetch(win.shift);
        const Divisor<M>& div = divs[ow];
#ifdef NHWCPOOL_ZMM_BLOCKS
        if constexpr (kF32 || kH16) {
          if (a.out_dtype == (kF32 ? DType::f32 : DType::f16) && !tl.wide && win.ntaps > 0) {
            T* ot = reinterpret_cast<T*>(o);
            for (i64 c0 = 0; c0 < C; c0 += B) {
              const i64 cb = C - c0 < B ? C - c0 : B;
              if (vstream) {
                avg_block_zmm<T, true>(win, c0, cb, div, ot + c0, finite);
              } else {
                avg_block_zmm<T, false>(win, c0, cb, div, ot + c0, finite);
              }
            }
            continue;
          }
        }
#endif
        for (i64 c0 = 0; c0 < C; c0 += AB) {
          const i64 cb = C - c0 < AB ? C - c0 : AB;
          if (win.ntaps == 0) {
            fill(acc, A(0), cb);
          } else if (tl.wide) {
            reduce_wide<SumOp>(tl, c0, cb, acc, wtmp.p);
          } else if (cb == B) {
            reduce_block<SumOp, A, T, true>(win, c0, B, acc);
          } else {
            reduce_block<SumOp, A, T, false>(win, c0, cb, acc);
          }
          if constexpr (kCheckOverflow) finite.add(acc, cb);
          if (kSame && same_out) {
            if (vstream) {
              div.apply(acc, reinterpret_cast<M*>(sbuf.p), cb);
              stream_copy(reinterpret_cast<A*>(o) + c0, sbuf.p, cb * static_cast<i64>(sizeof(A)));
            } else {
              div.apply(acc, reinterpret_cast<M*>(o) + c0, cb);
            }
          } else {
            div.apply(acc, mean, cb, narrow);
            store_convert(mean, o + c0 * osize, a.out_dtype, cb);
          }
        }
      }
      if constexpr (kCheckOverflow) {
        if (!finite.take()) {
          if (vstream || (sliding && a.stream)) stream_fence();  // streamed stores land before the redo
          avg_row_float64<T>(a, n, oh, orow);
        }
      }
    }
    if (vstream || (sliding && a.stream)) stream_fence();
  }
};


// Whether the direct kernels take each row's full windows as one run: in the AVX-512 build,
// for register-blocked pixels of at most 4 vectors (at 8, the per-pixel loop measured as
// fast): float32 max and average, float16 average, integer max. (float16 max keeps its
// per-pixel fallback, see max_h16_bits_zmm.)
template <class T, class A>
bool pixel_runs(const Geometry& g, Reduction red) {
  constexpr bool max_types = std::is_same<T, float>::value || std::is_integral<T>::value;
  constexpr bool avg_types = (std::is_same<T, float>::value || std::is_same<T, half_t>::value) && std::is_same<A, float>::value;
  if (!kZmmBlocks || !(red == Reduction::max ? max_types : avg_types)) return false;
  return g.C <= block_of<A>() / 2 && !TapList<T>::use_wide(g, red);
}

// Rough cost of a call, for the serial/parallel decision.
i64 work_estimate(const Geometry& g) {
  const double w = static_cast<double>(g.N) * static_cast<double>(g.OH) *
                   (static_cast<double>(g.W) * static_cast<double>(g.C) * static_cast<double>(g.taps_h) +
                    static_cast<double>(g.OW) * static_cast<double>(g.C) * static_cast<double>(g.taps_w));
  return w > 9.0e18 ? std::numeric_limits<i64>::max() : static_cast<i64>(w);
}

template <class T>
void run_max(const MaxPoolArgs& a) {
  using A = typename MaxAccOf<T>::type;
  using I = typename std::conditional<sizeof(A) <= 4, std::int32_t, std::int64_t>::type;
  RangeFn fn;
  if (a.indices) {
    // Indices are blended as I (int32 beside float lanes) and widened once; that needs every
    // y*W + x of the plane to fit.
    const bool wide = static_cast<double>(a.geo.H) * static_cast<double>(a.geo.W) >= 2147483647.0;
    if (!use_direct<A>(a.geo)) {
      fn = &MaxIndexed<T>::run;
    } else {
      fn = wide ? &MaxIndexedDirect<T, std::int64_t>::run : &MaxIndexedDirect<T, I>::run;
    }
  } else {
    if (!use_direct<A>(a.geo)) {
      fn = &MaxPlain<T>::run;
    } else {
      fn = pixel_runs<T, A>(a.geo, Reduction::max) ? &MaxDirect<T, true>::run : &MaxDirect<T, false>::run;
    }
  }
  parallel_for(a.geo.N * a.geo.OH, work_estimate(a.geo), a.threads, fn, &a);
}

template <class T, class A, class M>
void run_avg(const AvgPoolArgs& a) {
  RangeFn fn = &Avg<T, A, M>::run;
  if (use_direct<A>(a.geo)) {
    fn = pixel_runs<T, A>(a.geo, Reduction::avg) ? &AvgDirect<T, A, M, true>::run : &AvgDirect<T, A, M, false>::run;
  }
  parallel_for(a.geo.N * a.geo.OH, work_estimate(a.geo), a.threads, fn, &a);
}

// ---------------------------------------------------------------------------------------------
// Planar (N, C, H, W) -> NHWC transpose (to_channels_last in kernels.hpp).
//
// One task = a tile column: tr_channels(size) channels of one row segment of up to kTrSeg pixels, walked in
// tiles of those channels x (one vector of) pixels, transposed in registers. A thread's tasks
// run channel tile by channel tile, so it reads one input stream (one per channel plane),
// each prefetched kTrAhead bytes ahead in software, and writes whole 64-byte lines of the
// output, streamed when large. (The usual in-register transposes, as in XNNPACK's transpose
// microkernels: unpack pairs, then 128-bit lane shuffles.) On Zen 4, (8,64,112,112) float32
// measured 6.9 ms for NumPy's copy, 5.5 ms for the tiles with ordinary stores, 3.7 ms
// streamed and 1.7 ms streamed with the prefetch, at one thread.
constexpr i64 kTrSeg = 1024;

// Channels per tile: at least 16, and a whole 64-byte line of each output pixel, so streamed
// lines are always complete.
constexpr i64 tr_channels(int size) { return size >= 4 ? 16 : 64 / size; }
constexpr i64 kTrAhead = 1024;

struct TrJob {
  const TransposeArgs* a;
  i64 tc;  // channels per tile
  i64 H, W, stride_h;  // rows of the planes (one row of H*W pixels when they are contiguous)
  i64 ctiles, segs;
};

// Scalar tile: cn channels x pn pixels from s (channel stride sc bytes) to d (pixel stride C).
template <class E>
inline void tr_tile_scalar(const char* s, i64 sc, E* d, i64 C, i64 cn, i64 pn) {
  for (i64 p = 0; p < pn; ++p) {
    for (i64 c = 0; c < cn; ++c) d[p * C + c] = reinterpret_cast<const E*>(s + c * sc)[p];
  }
}

#ifdef NHWCPOOL_ZMM_BLOCKS
// 16 rows of 16 floats -> 16 columns (r[j] = element j of every row). (All-ones maskz forms:
// the unmasked intrinsics trip GCC 12's -Wmaybe-uninitialized; they compile to the same code.)
inline void tr16x16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_maskz_unpacklo_ps(0xFFFF, r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_maskz_unpackhi_ps(0xFFFF, r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; ++i) {
    for (int j = 0; j < 2; ++j) {
      const __m512d a = _mm512_castps_pd(t[4 * i + j]), b = _mm512_castps_pd(t[4 * i + 2 + j]);
      r[4 * i + 2 * j] = _mm512_castpd_ps(_mm512_maskz_unpacklo_pd(0xFF, a, b));
      r[4 * i + 2 * j + 1] = _mm512_castpd_ps(_mm512_maskz_unpackhi_pd(0xFF, a, b));
    }
  }
  for (int i = 0; i < 2; ++i) {
    for (int j = 0; j < 4; ++j) {
      t[8 * i + j] = _mm512_maskz_shuffle_f32x4(0xFFFF, r[8 * i + j], r[8 * i + 4 + j], 0x88);
      t[8 * i + 4 + j] = _mm512_maskz_shuffle_f32x4(0xFFFF, r[8 * i + j], r[8 * i + 4 + j], 0xDD);
    }
  }
  for (int j = 0; j < 8; ++j) {
    r[j] = _mm512_maskz_shuffle_f32x4(0xFFFF, t[j], t[8 + j], 0x88);
    r[8 + j] = _mm512_maskz_shuffle_f32x4(0xFFFF, t[j], t[8 + j], 0xDD);
  }
}

// 8 rows of 8 doubles -> 8 columns.
inline void tr8x8(__m512d r[8]) {
  // Pairs: columns 0, 2, 4, 6 (lo) and 1, 3, 5, 7 (hi) of rows (0,1), (2,3), (4,5), (6,7).
  const __m512d l0 = _mm512_maskz_unpacklo_pd(0xFF, r[0], r[1]), h0 = _mm512_maskz_unpackhi_pd(0xFF, r[0], r[1]);
  const __m512d l1 = _mm512_maskz_unpacklo_pd(0xFF, r[2], r[3]), h1 = _mm512_maskz_unpackhi_pd(0xFF, r[2], r[3]);
  const __m512d l2 = _mm512_maskz_unpacklo_pd(0xFF, r[4], r[5]), h2 = _mm512_maskz_unpackhi_pd(0xFF, r[4], r[5]);
  const __m512d l3 = _mm512_maskz_unpacklo_pd(0xFF, r[6], r[7]), h3 = _mm512_maskz_unpackhi_pd(0xFF, r[6], r[7]);
  // 128-bit lanes: 0x88 takes lanes (0, 2) of each source, 0xDD lanes (1, 3).
  const __m512d pl = _mm512_maskz_shuffle_f64x2(0xFF, l0, l1, 0x88), ql = _mm512_maskz_shuffle_f64x2(0xFF, l0, l1, 0xDD);
  const __m512d pl2 = _mm512_maskz_shuffle_f64x2(0xFF, l2, l3, 0x88), ql2 = _mm512_maskz_shuffle_f64x2(0xFF, l2, l3, 0xDD);
  const __m512d ph = _mm512_maskz_shuffle_f64x2(0xFF, h0, h1, 0x88), qh = _mm512_maskz_shuffle_f64x2(0xFF, h0, h1, 0xDD);
  const __m512d ph2 = _mm512_maskz_shuffle_f64x2(0xFF, h2, h3, 0x88), qh2 = _mm512_maskz_shuffle_f64x2(0xFF, h2, h3, 0xDD);
  r[0] = _mm512_maskz_shuffle_f64x2(0xFF, pl, pl2, 0x88);
  r[4] = _mm512_maskz_shuffle_f64x2(0xFF, pl, pl2, 0xDD);
  r[2] = _mm512_maskz_shuffle_f64x2(0xFF, ql, ql2, 0x88);
  r[6] = _mm512_maskz_shuffle_f64x2(0xFF, ql, ql2, 0xDD);
  r[1] = _mm512_maskz_shuffle_f64x2(0xFF, ph, ph2, 0x88);
  r[5] = _mm512_maskz_shuffle_f64x2(0xFF, ph, ph2, 0xDD);
  r[3] = _mm512_maskz_shuffle_f64x2(0xFF, qh, qh2, 0x88);
  r[7] = _mm512_maskz_shuffle_f64x2(0xFF, qh, qh2, 0xDD);
}

// Vectors of 32- and 64-bit elements for the tiles below: L lanes, an L x L transpose.
template <class E>
struct TrZmm;
template <>
struct TrZmm<std::uint32_t> {
  using V = __m512;
  using M = __mmask16;
  static constexpr int L = 16;
  static V load(const char* p) { return _mm512_loadu_ps(p); }
  static V load(M m, const char* p) { return _mm512_maskz_loadu_ps(m, p); }
  static V zero() { return _mm512_setzero_ps(); }
  static void transpose(V* r) { tr16x16(r); }
  static void store(std::uint32_t* p, V v, bool stream) {
    if (stream) {
      _mm512_stream_ps(reinterpret_cast<float*>(p), v);
    } else {
      _mm512_storeu_ps(p, v);
    }
  }
  static void store(std::uint32_t* p, M m, V v) { _mm512_mask_storeu_ps(p, m, v); }
};
template <>
struct TrZmm<std::uint64_t> {
  using V = __m512d;
  using M = __mmask8;
  static constexpr int L = 8;
  static V load(const char* p) { return _mm512_loadu_pd(p); }
  static V load(M m, const char* p) { return _mm512_maskz_loadu_pd(m, p); }
  static V zero() { return _mm512_setzero_pd(); }
  static void transpose(V* r) { tr8x8(r); }
  static void store(std::uint64_t* p, V v, bool stream) {
    if (stream) {
      _mm512_stream_pd(reinterpret_cast<double*>(p), v);
    } else {
      _mm512_storeu_pd(p, v);
    }
  }
  static void store(std::uint64_t* p, M m, V v) { _mm512_mask_storeu_pd(p, m, v); }
};

// 32- and 64-bit elements: tiles of L channels x L pixels (two channel halves of float64's
// 16), masked at the edges; whole tiles of an aligned output are streamed when asked.
template <class E>
inline void tr_segment_zmm(const char* s, i64 sc, E* d, i64 C, i64 cn, i64 pn, bool stream) {
  using Z = TrZmm<E>;
  constexpr i64 L = Z::L;
  constexpr i64 size = static_cast<i64>(sizeof(E));
  for (i64 h0 = 0; h0 < cn; h0 += L) {
    const i64 hn = cn - h0 < L ? cn - h0 : L;
    const auto cmask = static_cast<typename Z::M>((1u << hn) - 1u);
    const char* sh = s + h0 * sc;
    for (i64 p = 0; p < pn; p += L) {
      const i64 np = pn - p < L ? pn - p : L;
      const auto pmask = static_cast<typename Z::M>((1u << np) - 1u);
      typename Z::V r[L];
      for (int i = 0; i < L; ++i) {
        if (i < hn) {
          const char* row = sh + i * sc + p * size;
          prefetch_line(row + kTrAhead);
          r[i] = np == L ? Z::load(row) : Z::load(pmask, row);
        } else {
          r[i] = Z::zero();
        }
      }
      Z::transpose(r);
      E* o = d + p * C + h0;
      if (np == L && hn == L) {
        for (int j = 0; j < L; ++j) Z::store(o + j * C, r[j], stream);
      } else {
        for (int j = 0; j < np; ++j) Z::store(o + j * C, cmask, r[j]);
      }
    }
  }
}

// float16-sized elements: tiles of cn (1..32) channels x 16 pixels, as two 16 x 16 transposes
// of zero-extended 32-bit lanes narrowed back (vpmovdw), so each pixel gets one 64-byte store.
inline void tr_segment_zmm2(const char* s, i64 sc, std::uint16_t* d, i64 C, i64 cn, i64 pn, bool stream) {
  const __mmask32 cmask = static_cast<__mmask32>(cn >= 32 ? 0xFFFFFFFFu : (1u << cn) - 1u);
  for (i64 p = 0; p < pn; p += 16) {
    const i64 np = pn - p < 16 ? pn - p : 16;
    const __mmask16 pmask = static_cast<__mmask16>((1u << np) - 1u);
    __m512 lo[16], hi[16];
    for (int i = 0; i < 32; ++i) {
      __m512i v = _mm512_setzero_si512();
      if (i < cn) {
        const char* row = s + i * sc + p * 2;
        if ((p & 31) == 0) prefetch_line(row + kTrAhead);
        const __m256i h = np == 16 ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row))
                                   : _mm256_maskz_loadu_epi16(pmask, row);
        v = _mm512_maskz_cvtepu16_epi32(0xFFFF, h);
      }
      (i < 16 ? lo[i] : hi[i - 16]) = _mm512_castsi512_ps(v);
    }
    tr16x16(lo);
    if (cn > 16) tr16x16(hi);
    std::uint16_t* o = d + p * C;
    for (int j = 0; j < np; ++j) {
      const __m256i a = _mm512_maskz_cvtepi32_epi16(0xFFFF, _mm512_castps_si512(lo[j]));
      const __m256i b = cn > 16 ? _mm512_maskz_cvtepi32_epi16(0xFFFF, _mm512_castps_si512(hi[j])) : _mm256_setzero_si256();
      const __m512i line = _mm512_maskz_inserti64x4(0xFF, _mm512_maskz_inserti64x4(0xFF, _mm512_setzero_si512(), a, 0), b, 1);
      if (np == 16 && cn == 32 && stream) {
        _mm512_stream_si512(reinterpret_cast<__m512i*>(o + j * C), line);
      } else {
        _mm512_mask_storeu_epi16(o + j * C, cmask, line);
      }
    }
  }
}

#endif

// One tile column of a segment: cn channels x pn pixels.
template <class E>
inline void tr_segment(const char* s, i64 sc, E* d, i64 C, i64 cn, i64 pn, bool stream) {
#ifdef NHWCPOOL_ZMM_BLOCKS
  if constexpr (sizeof(E) == 2) {
    tr_segment_zmm2(s, sc, d, C, cn, pn, stream);
    return;
  } else if constexpr (sizeof(E) == 4 || sizeof(E) == 8) {
    tr_segment_zmm<E>(s, sc, d, C, cn, pn, stream);
    return;
  }
#endif
  (void)stream;
  // Pixels in steps of one cache line of each channel row, the rows prefetched ahead.
  constexpr i64 kStep = 64 / static_cast<i64>(sizeof(E));
  for (i64 p = 0; p < pn; p += kStep) {
    for (i64 c = 0; c < cn; ++c) prefetch_line(s + c * sc + p * static_cast<i64>(sizeof(E)) + kTrAhead);
    const i64 np = pn - p < kStep ? pn - p : kStep;
    tr_tile_scalar<E>(s + p * static_cast<i64>(sizeof(E)), sc, d + p * C, C, cn, np);
  }
}

template <class E>
void transpose_tasks(const void* ctx, i64 begin, i64 end) {
  const TrJob& j = *static_cast<const TrJob*>(ctx);
  const TransposeArgs& a = *j.a;
  const char* src = static_cast<const char*>(a.src);
  E* dst = static_cast<E*>(a.dst);
  for (i64 t = begin; t < end; ++t) {
    i64 q = t;
    const i64 seg = q % j.segs;
    q /= j.segs;
    const i64 h = q % j.H;
    q /= j.H;
    const i64 ct = q % j.ctiles;
    const i64 n = q / j.ctiles;
    const i64 c0 = ct * j.tc, p0 = seg * kTrSeg;
    const i64 cn = a.C - c0 < j.tc ? a.C - c0 : j.tc;
    const i64 pn = j.W - p0 < kTrSeg ? j.W - p0 : kTrSeg;
    const char* s = src + n * a.stride_n + c0 * a.stride_c + h * j.stride_h + p0 * static_cast<i64>(sizeof(E));
    E* d = dst + ((n * j.H + h) * j.W + p0) * a.C + c0;
    tr_segment<E>(s, a.stride_c, d, a.C, cn, pn, a.stream);
  }
  if (a.stream) stream_fence();
}

}  // namespace

void max_pool(const MaxPoolArgs& a) {
  switch (a.dtype) {
    case DType::f16: run_max<half_t>(a); return;
    case DType::f32: run_max<float>(a); return;
    case DType::f64: run_max<double>(a); return;
    case DType::i8: run_max<std::int8_t>(a); return;
    case DType::u8: run_max<std::uint8_t>(a); return;
    case DType::i16: run_max<std::int16_t>(a); return;
    case DType::u16: run_max<std::uint16_t>(a); return;
    case DType::i32: run_max<std::int32_t>(a); return;
    case DType::i64: run_max<std::int64_t>(a); return;
    case DType::u32: run_max<std::uint32_t>(a); return;
    case DType::u64: run_max<std::uint64_t>(a); return;
  }
}

constexpr i64 kFloatSumCells = 64;

// Accumulators: float16 sums in float32 (float64 if a float64 result is asked for), float32
// in float32 up to 64 cells and float64 beyond, float64 in float64, 8- to 32-bit integers exactly in int64, 64-bit integers in float64
// (as numpy.mean does); the mean is then formed in float64 (float32 for float16).
void avg_pool(const AvgPoolArgs& a) {
  switch (a.in_dtype) {
    case DType::f16:
      if (a.out_dtype == DType::f64) {
        run_avg<half_t, double, double>(a);
      } else {
        run_avg<half_t, float, float>(a);
      }
      return;
    case DType::f32:
      // Up to 64 cells: float32 sums in row-major order and a float32 division, which is
      // PyTorch's arithmetic (bit-identical results on the direct path); larger windows (global
      // pooling of big images) or a float64 result sum in float64.
      if (a.out_dtype == DType::f64 || a.geo.taps_h * a.geo.taps_w > kFloatSumCells) {
        run_avg<float, double, double>(a);
      } else {
        run_avg<float, float, float>(a);
      }
      return;
    case DType::f64: run_avg<double, double, double>(a); return;
    case DType::i8: run_avg<std::int8_t, std::int64_t, double>(a); return;
    case DType::u8: run_avg<std::uint8_t, std::int64_t, double>(a); return;
    case DType::i16: run_avg<std::int16_t, std::int64_t, double>(a); return;
    case DType::u16: run_avg<std::uint16_t, std::int64_t, double>(a); return;
    case DType::i32: run_avg<std::int32_t, std::int64_t, double>(a); return;
    case DType::u32: run_avg<std::uint32_t, std::int64_t, double>(a); return;
    case DType::i64: run_avg<std::int64_t, double, double>(a); return;
    case DType::u64: run_avg<std::uint64_t, double, double>(a); return;
  }
}

// See preferred_output_offset (kernels.hpp): the conditions under which MaxDirect and
// AvgDirect hand full windows to slide(), and slide() can stream whole lines.
std::int64_t output_offset(DType in_dtype, DType out_dtype, const Geometry& g, const InputView& in) {
  if (!kSlideStreams || in_dtype != DType::f32 || out_dtype != DType::f32) return 0;
  const bool direct_slide = use_direct<float>(g) && !wide_window(g, true) && slide_applies(g);
  if (!direct_slide && !uses_slide_cols(g, false)) return 0;  // (the average's wider choice)
  if ((g.C * 4) % 64 != 0 || in.stride_n % 64 != 0 || in.stride_h % 64 != 0) return 0;
  const auto addr = reinterpret_cast<std::uintptr_t>(in.data);
  return addr % 4 == 0 ? static_cast<std::int64_t>(addr & 63) : 0;  // (slide_rkd streams float-aligned input only)
}

void transpose(const TransposeArgs& args) {
  if (args.N <= 0 || args.C <= 0 || args.H <= 0 || args.W <= 0) return;
  TransposeArgs a = args;
  a.stream = stream_values(args.stream, args.dst, args.C, args.size);  // whole lines only
  const i64 tc = tr_channels(a.size);
  TrJob j{&a, tc, a.H, a.W, a.stride_h, (a.C + tc - 1) / tc, 0};
  if (a.H == 1 || a.stride_h == a.W * a.size) {  // contiguous planes: one row of H*W pixels
    j.W = a.H * a.W;
    j.H = 1;
    j.stride_h = 0;
  }
  j.segs = (j.W + kTrSeg - 1) / kTrSeg;
  const i64 tasks = a.N * j.ctiles * j.H * j.segs;
  const i64 work = a.N * a.C * a.H * a.W;
  RangeFn fn = nullptr;
  switch (a.size) {
    case 1: fn = &transpose_tasks<std::uint8_t>; break;
    case 2: fn = &transpose_tasks<std::uint16_t>; break;
    case 4: fn = &transpose_tasks<std::uint32_t>; break;
    case 8: fn = &transpose_tasks<std::uint64_t>; break;
    default: return;  // (no such element size: the callers pass itemsize(dtype) or 8)
  }
  parallel_for(tasks, work, a.threads, fn, &j);
}

}  // namespace NHWCPOOL_ISA
}  // namespace nhwcpool
