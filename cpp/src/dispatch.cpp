// Run-time choice of the kernel set: baseline (the build's minimum ISA), AVX2, AVX-512.
// Modelled on PyTorch's DispatchStub: one kernel file compiled per ISA, a function table
// selected from CPU features once, overridable by an environment variable.
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>

#include "nhwcpool/kernels.hpp"
#include "nhwcpool/parallel.hpp"

#if defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
#include <immintrin.h>
#include <intrin.h>
#endif

namespace nhwcpool {
namespace {

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__) || defined(_M_IX86)
#define NHWCPOOL_X86 1
#endif

struct CpuFeatures {
  bool avx2 = false;
  bool avx512 = false;
};

CpuFeatures detect() {
  CpuFeatures f;
#if defined(NHWCPOOL_X86) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  f.avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
           __builtin_cpu_supports("f16c");
  f.avx512 = f.avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
#elif defined(NHWCPOOL_X86) && defined(_MSC_VER)
  int r[4];
  __cpuid(r, 0);
  const int max_leaf = r[0];
  __cpuid(r, 1);
  const bool osxsave = (r[2] >> 27) & 1, fma = (r[2] >> 12) & 1, f16c = (r[2] >> 29) & 1,
             avx = (r[2] >> 28) & 1;
  if (osxsave && avx && max_leaf >= 7) {
    const unsigned long long xcr0 = _xgetbv(0);
    __cpuidex(r, 7, 0);
    const bool ymm = (xcr0 & 0x6) == 0x6, zmm = (xcr0 & 0xE6) == 0xE6;
    f.avx2 = ymm && fma && f16c && ((r[1] >> 5) & 1);
    f.avx512 = f.avx2 && zmm && ((r[1] >> 16) & 1) && ((r[1] >> 30) & 1) && ((r[1] >> 31) & 1) &&
               ((r[1] >> 17) & 1);
  }
#endif
  return f;
}

const CpuFeatures& features() {
  static const CpuFeatures f = detect();
  return f;
}

SimdLevel initial_level() {
  SimdLevel level = best_simd_level();
  if (const char* env = std::getenv("NHWCPOOL_SIMD")) {
    SimdLevel want;
    // An unknown or unsupported request falls back to the best level; show_config() and
    // the Python package report (and warn about) what was chosen.
    if (simd_level_from_name(env, &want) && simd_level_supported(want)) level = want;
  }
  return level;
}

std::atomic<int>& level_slot() {
  static std::atomic<int> slot{static_cast<int>(initial_level())};
  return slot;
}

}  // namespace

const char* simd_level_name(SimdLevel level) {
  switch (level) {
    case SimdLevel::baseline: return "baseline";
    case SimdLevel::avx2: return "avx2";
    case SimdLevel::avx512: return "avx512";
  }
  return "?";
}

bool simd_level_from_name(const char* name, SimdLevel* level) {
  std::string s(name ? name : "");
  for (auto& ch : s) ch = static_cast<char>(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
  if (s == "baseline" || s == "default") { *level = SimdLevel::baseline; return true; }
  if (s == "avx2") { *level = SimdLevel::avx2; return true; }
  if (s == "avx512") { *level = SimdLevel::avx512; return true; }
  return false;
}

bool simd_level_compiled(SimdLevel level) {
  switch (level) {
    case SimdLevel::baseline: return true;
#ifdef NHWCPOOL_HAVE_AVX2
    case SimdLevel::avx2: return true;
#endif
#ifdef NHWCPOOL_HAVE_AVX512
    case SimdLevel::avx512: return true;
#endif
    default: return false;
  }
}

bool simd_level_supported(SimdLevel level) {
  if (!simd_level_compiled(level)) return false;
  switch (level) {
    case SimdLevel::baseline: return true;
    case SimdLevel::avx2: return features().avx2;
    case SimdLevel::avx512: return features().avx512;
  }
  return false;
}

SimdLevel best_simd_level() {
  if (simd_level_supported(SimdLevel::avx512)) return SimdLevel::avx512;
  if (simd_level_supported(SimdLevel::avx2)) return SimdLevel::avx2;
  return SimdLevel::baseline;
}

SimdLevel simd_level() { return static_cast<SimdLevel>(level_slot().load(std::memory_order_relaxed)); }

void set_simd_level(SimdLevel level) {
  if (!simd_level_supported(level)) {
    throw std::invalid_argument(std::string("SIMD level '") + simd_level_name(level) +
                                "' is not available on this CPU or in this build");
  }
  level_slot().store(static_cast<int>(level), std::memory_order_relaxed);
}

namespace {

// Window tables of one call (built once, read by every thread) and the kernel set to run.
struct Tables {
  AxisTable h, w;
  explicit Tables(const Geometry& geo)
      : h(make_axis_table(geo.H, geo.OH, geo.h)), w(make_axis_table(geo.W, geo.OW, geo.w)) {
    if (static_cast<std::int64_t>(h.count.size()) != geo.OH ||
        static_cast<std::int64_t>(w.count.size()) != geo.OW) {
      throw std::logic_error("internal error: window tables do not match the output shape");
    }
  }
};

template <class Args>
void run_kernel(const Args& a, void (*base)(const Args&), void (*avx2_fn)(const Args&),
                void (*avx512_fn)(const Args&)) {
  switch (simd_level()) {
    case SimdLevel::avx512: (avx512_fn ? avx512_fn : base)(a); return;
    case SimdLevel::avx2: (avx2_fn ? avx2_fn : base)(a); return;
    default: base(a); return;
  }
}

#ifdef NHWCPOOL_HAVE_AVX512
constexpr auto kMaxAvx512 = &avx512::max_pool;
constexpr auto kAvgAvx512 = &avx512::avg_pool;
#else
constexpr void (*kMaxAvx512)(const MaxPoolArgs&) = nullptr;
constexpr void (*kAvgAvx512)(const AvgPoolArgs&) = nullptr;
#endif
#ifdef NHWCPOOL_HAVE_AVX2
constexpr auto kMaxAvx2 = &avx2::max_pool;
constexpr auto kAvgAvx2 = &avx2::avg_pool;
#else
constexpr void (*kMaxAvx2)(const MaxPoolArgs&) = nullptr;
constexpr void (*kAvgAvx2)(const AvgPoolArgs&) = nullptr;
#endif

std::atomic<std::int64_t>& stream_slot() {
  // 8 MiB: a quarter of this class of machine's L3; glibc's memcpy switches to non-temporal
  // stores at a similar fraction of the shared cache.
  static std::atomic<std::int64_t> bytes{std::int64_t{8} << 20};
  return bytes;
}

// Streams when the output alone reaches the threshold, or when it is at least an eighth of it
// and input plus output reach twice the threshold: such a call sweeps at least half of this
// class of machine's L3, so its early output lines would not stay cached for the next reader
// anyway, and streaming them saves their read-for-ownership (float16 2x2/s2 max on
// (8,112,112,128), 6.4 MB out, 25.7 MB in: 738 -> 627 us at one thread in the C++ harness).
// Int64 indices count as output.
bool use_stream(const Geometry& geo, DType in_dtype, DType out_dtype, bool indices) {
  const double outputs = static_cast<double>(geo.N) * static_cast<double>(geo.OH) *
                         static_cast<double>(geo.OW) * static_cast<double>(geo.C);
  const double out_bytes = outputs * static_cast<double>(itemsize(out_dtype) + (indices ? 8 : 0));
  const double in_bytes = static_cast<double>(geo.N) * static_cast<double>(geo.H) * static_cast<double>(geo.W) *
                          static_cast<double>(geo.C) * static_cast<double>(itemsize(in_dtype));
  const double t = static_cast<double>(stream_slot().load(std::memory_order_relaxed));
  return out_bytes >= t || (out_bytes >= t / 8 && in_bytes + out_bytes >= 2 * t);
}

// Planar inputs (W contiguous, C not: NCHW and the like). Each (n, c) plane is pooled as a
// one-channel image, whose kernels vectorise along W, into an (N, C, OH, OW) buffer that is
// then transposed into the NHWC output. The input is read once, in order; only the output
// (a quarter of the input for 2x2/s2, as large for stride 1) is moved twice. (Converting the
// whole input to NHWC first, as NumPy's copy did, took 5.8 ms for a (8,64,112,112) float32
// array whose 2x2 max takes 0.9 ms.) Averages only where avg_reads_planar says so.
struct AlignedBuffer {
  struct Free {
    void operator()(void* p) const { ::operator delete(p, std::align_val_t{64}); }
  };
  std::unique_ptr<void, Free> p;
  explicit AlignedBuffer(std::int64_t bytes)
      : p(bytes > 0 ? ::operator new(static_cast<std::size_t>(bytes), std::align_val_t{64}) : nullptr) {}
  void* get() const { return p.get(); }
};

struct TransposeJob {
  const char* src;  // (N, C, P) elements of `size` bytes
  char* dst;        // (N, P, C)
  std::int64_t C, P, blocks_per_n;
  int size;
};

constexpr std::int64_t kTransposeP = 64;  // output pixels per task
constexpr std::int64_t kTransposeC = 16;  // channels per tile: 16 source rows read together

// Plain loops: the time goes to reading the (N, C, P) buffer back from memory (perf: a tiled
// copy through an L1 buffer stalls the same way), not to the element moves.
template <class E>
void transpose_range(const TransposeJob& j, std::int64_t begin, std::int64_t end) {
  for (std::int64_t b = begin; b < end; ++b) {
    const std::int64_t n = b / j.blocks_per_n, p0 = (b - n * j.blocks_per_n) * kTransposeP;
    const std::int64_t p1 = std::min(j.P, p0 + kTransposeP);
    const E* src = reinterpret_cast<const E*>(j.src) + n * j.C * j.P;
    E* dst = reinterpret_cast<E*>(j.dst) + n * j.P * j.C;
    for (std::int64_t c0 = 0; c0 < j.C; c0 += kTransposeC) {
      const std::int64_t c1 = std::min(j.C, c0 + kTransposeC);
      for (std::int64_t p = p0; p < p1; ++p) {
        E* d = dst + p * j.C;
        for (std::int64_t c = c0; c < c1; ++c) d[c] = src[c * j.P + p];
      }
    }
  }
}

void transpose_task(const void* ctx, std::int64_t begin, std::int64_t end) {
  const auto& j = *static_cast<const TransposeJob*>(ctx);
  switch (j.size) {
    case 1: transpose_range<std::uint8_t>(j, begin, end); return;
    case 2: transpose_range<std::uint16_t>(j, begin, end); return;
    case 4: transpose_range<std::uint32_t>(j, begin, end); return;
    default: transpose_range<std::uint64_t>(j, begin, end); return;
  }
}

// (N, C, P) -> (N, P, C), in parallel.
void transpose_planes(const void* src, void* dst, std::int64_t N, std::int64_t C, std::int64_t P, int size) {
  if (N == 0 || C == 0 || P == 0) return;
  TransposeJob j{static_cast<const char*>(src), static_cast<char*>(dst), C, P, (P + kTransposeP - 1) / kTransposeP,
                 size};
  parallel_for(N * j.blocks_per_n, N * C * P, get_num_threads(), &transpose_task, &j);
}

// Pools a planar input through pool(geo1, view1, out1, idx1) on one-channel planes, then
// transposes values (out_size bytes each) and indices into the NHWC outputs.
template <class Pool>
void run_planar(const Geometry& geo, const InputView& in, int out_size, void* out, std::int64_t* indices,
                Pool pool) {
  const std::int64_t P = geo.OH * geo.OW, planes = geo.N * geo.C;  // both fit: make_geometry checked
  AlignedBuffer vals(planes * P * out_size), idx(indices != nullptr ? planes * P * 8 : 0);
  auto* ip = static_cast<std::int64_t*>(idx.get());
  Geometry g1 = geo;
  g1.C = 1;
  InputView v1;
  v1.stride_h = in.stride_h;
  v1.stride_n = in.stride_c;
  if (geo.N == 1 || in.stride_n == geo.C * in.stride_c) {  // the planes are evenly spaced
    g1.N = planes;
    v1.data = in.data;
    pool(g1, v1, vals.get(), ip);
  } else {
    g1.N = geo.C;
    for (std::int64_t n = 0; n < geo.N; ++n) {
      v1.data = static_cast<const char*>(in.data) + n * in.stride_n;
      pool(g1, v1, static_cast<char*>(vals.get()) + n * geo.C * P * out_size, ip ? ip + n * geo.C * P : nullptr);
    }
  }
  transpose_planes(vals.get(), out, geo.N, geo.C, P, out_size);
  if (indices != nullptr) transpose_planes(ip, indices, geo.N, geo.C, P, 8);
}

}  // namespace

void set_stream_threshold(std::int64_t bytes) { stream_slot().store(bytes < 0 ? 0 : bytes, std::memory_order_relaxed); }
std::int64_t stream_threshold() { return stream_slot().load(std::memory_order_relaxed); }

void max_pool2d(DType dtype, const Geometry& geo, const InputView& in, void* out,
                std::int64_t* indices) {
  if (geo.N == 0 || geo.C == 0) return;
  if (in.stride_c != 0 && geo.C > 1) {
    run_planar(geo, in, itemsize(dtype), out, indices,
               [dtype](const Geometry& g1, const InputView& v1, void* o1, std::int64_t* i1) {
                 max_pool2d(dtype, g1, v1, o1, i1);
               });
    return;
  }
  const Tables t(geo);
  MaxPoolArgs a;
  a.dtype = dtype; a.geo = geo; a.in = in; a.out = out; a.indices = indices;
  a.htab = &t.h; a.wtab = &t.w; a.threads = get_num_threads();
  a.stream = use_stream(geo, dtype, dtype, indices != nullptr);
  run_kernel<MaxPoolArgs>(a, &baseline::max_pool, kMaxAvx2, kMaxAvx512);
}

std::int64_t preferred_output_offset(DType in_dtype, DType out_dtype, const Geometry& geo, const InputView& in) {
  if (in.stride_c != 0) return 0;  // planar: the output is written by a transpose
  switch (simd_level()) {
#ifdef NHWCPOOL_HAVE_AVX512
    case SimdLevel::avx512: return avx512::output_offset(in_dtype, out_dtype, geo, in);
#endif
#ifdef NHWCPOOL_HAVE_AVX2
    case SimdLevel::avx2: return avx2::output_offset(in_dtype, out_dtype, geo, in);
#endif
    default: return baseline::output_offset(in_dtype, out_dtype, geo, in);
  }
}

bool avg_reads_planar(DType in_dtype) {
  switch (in_dtype) {
    case DType::i8: case DType::u8: case DType::i16: case DType::u16: case DType::i32: case DType::u32:
      return true;
    default:
      return false;
  }
}

void avg_pool2d(DType in_dtype, DType out_dtype, const Geometry& geo, const InputView& in,
                void* out, bool count_include_pad, std::int64_t divisor_override) {
  if (geo.N == 0 || geo.C == 0) return;
  if (in.stride_c != 0 && geo.C > 1) {
    if (!avg_reads_planar(in_dtype)) {
      throw std::invalid_argument(std::string("avg_pool2d: a planar input view of ") + dtype_name(in_dtype) +
                                  " would change the sums' order; copy it to NHWC");
    }
    run_planar(geo, in, itemsize(out_dtype), out, nullptr,
               [=](const Geometry& g1, const InputView& v1, void* o1, std::int64_t*) {
                 avg_pool2d(in_dtype, out_dtype, g1, v1, o1, count_include_pad, divisor_override);
               });
    return;
  }
  const Tables t(geo);
  AvgPoolArgs a;
  a.in_dtype = in_dtype; a.out_dtype = out_dtype; a.geo = geo; a.in = in; a.out = out;
  a.count_include_pad = count_include_pad; a.divisor_override = divisor_override;
  a.htab = &t.h; a.wtab = &t.w; a.threads = get_num_threads();
  a.stream = use_stream(geo, in_dtype, out_dtype, false);
  run_kernel<AvgPoolArgs>(a, &baseline::avg_pool, kAvgAvx2, kAvgAvx512);
}

}  // namespace nhwcpool
