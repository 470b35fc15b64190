// Memory-system helpers: floats_to_boundary, prefetch_line, stream_copy (non-temporal
// stores), stream_fence.
//
// Part of the per-ISA kernel source: included only by kernels/all.hpp, inside namespace
// nhwcpool::NHWCPOOL_ISA and its anonymous namespace, after the files listed before it there.

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
