// Run-time choice of the kernel set: baseline (the build's minimum ISA), AVX2, AVX-512.
// Modelled on PyTorch's DispatchStub: one kernel file compiled per ISA, a function table
// selected from CPU features once, overridable by an environment variable.
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>

#include "nhwcpool/kernels.hpp"
#include "nhwcpool/parallel.hpp"

#if defined(__linux__)
#include <sys/mman.h>
#if defined(MADV_HUGEPAGE)
#define NHWCPOOL_MADVISE 1
#endif
#endif

#if defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
#include <immintrin.h>
#include <intrin.h>
#endif

#include <cstdio>
#if defined(__APPLE__)
#include <sys/sysctl.h>
#include <sys/types.h>
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

#if defined(__aarch64__) || defined(_M_ARM64)
// On aarch64 the baseline build is a NEON build (Advanced SIMD is part of ARMv8-A), so the one
// level is reported as "neon"; NHWCPOOL_SIMD and set_simd_level accept "baseline" for it too.
#define NHWCPOOL_BASELINE_NAME "neon"
#else
#define NHWCPOOL_BASELINE_NAME "baseline"
#endif

const char* simd_level_name(SimdLevel level) {
  switch (level) {
    case SimdLevel::baseline: return NHWCPOOL_BASELINE_NAME;
    case SimdLevel::avx2: return "avx2";
    case SimdLevel::avx512: return "avx512";
  }
  return "?";
}

bool simd_level_from_name(const char* name, SimdLevel* level) {
  std::string s(name ? name : "");
  for (auto& ch : s) ch = static_cast<char>(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
  if (s == "baseline" || s == "default" || s == NHWCPOOL_BASELINE_NAME) { *level = SimdLevel::baseline; return true; }
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
constexpr auto kTransposeAvx512 = &avx512::transpose;
#else
constexpr void (*kMaxAvx512)(const MaxPoolArgs&) = nullptr;
constexpr void (*kAvgAvx512)(const AvgPoolArgs&) = nullptr;
constexpr void (*kTransposeAvx512)(const TransposeArgs&) = nullptr;
#endif
#ifdef NHWCPOOL_HAVE_AVX2
constexpr auto kMaxAvx2 = &avx2::max_pool;
constexpr auto kAvgAvx2 = &avx2::avg_pool;
constexpr auto kTransposeAvx2 = &avx2::transpose;
#else
constexpr void (*kMaxAvx2)(const MaxPoolArgs&) = nullptr;
constexpr void (*kAvgAvx2)(const AvgPoolArgs&) = nullptr;
constexpr void (*kTransposeAvx2)(const TransposeArgs&) = nullptr;
#endif

#if defined(__linux__)
// The largest cache level's size from sysfs (what one CPU shares: "32768K"), 0 if unreadable.
// Not sysconf(_SC_LEVEL3_CACHE_SIZE): on this project's Zen 4 VM glibc reports 320 MiB there
// (the whole package's L3), ten times the 32 MiB slice the CPUs share.
std::int64_t sysfs_llc_bytes() {
  int best_level = 0;
  std::int64_t best = 0;
  for (int i = 0; i < 16; ++i) {
    const std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(i) + "/";
    std::FILE* fl = std::fopen((dir + "level").c_str(), "r");
    if (fl == nullptr) continue;
    int level = 0;
    const bool ok = std::fscanf(fl, "%d", &level) == 1;
    std::fclose(fl);
    std::FILE* fs = std::fopen((dir + "size").c_str(), "r");
    if (!ok || fs == nullptr) {
      if (fs != nullptr) std::fclose(fs);
      continue;
    }
    long long v = 0;
    char unit = 0;
    const int n = std::fscanf(fs, "%lld%c", &v, &unit);
    std::fclose(fs);
    if (n < 1 || v <= 0) continue;
    const std::int64_t bytes = static_cast<std::int64_t>(v) * (unit == 'K' ? 1024 : unit == 'M' ? 1024 * 1024 : 1);
    if (level > best_level || (level == best_level && bytes > best)) {
      best_level = level;
      best = bytes;
    }
  }
  return best;
}
#endif

std::int64_t detect_llc_bytes() {
  std::int64_t b = 0;
#if defined(__linux__)
  b = sysfs_llc_bytes();
#elif defined(__APPLE__)
  for (const char* name : {"hw.l3cachesize", "hw.l2cachesize"}) {
    std::int64_t v = 0;
    std::size_t len = sizeof(v);
    if (sysctlbyname(name, &v, &len, nullptr, 0) == 0 && v > 0) {
      b = v;
      break;
    }
  }
#endif
  if (b <= 0) b = std::int64_t{32} << 20;
  return std::min(std::max(b, std::int64_t{4} << 20), std::int64_t{1} << 30);
}

std::atomic<std::int64_t>& stream_slot() {
  // A quarter of the last-level cache (8 MiB on the 32 MiB-L3 machine this was tuned on);
  // glibc's memcpy switches to non-temporal stores at a similar fraction of the shared cache.
  static std::atomic<std::int64_t> bytes{last_level_cache_bytes() / 4};
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
// (a quarter of the input for 2x2/s2, as large for stride 1) is moved twice. Averages whose
// sums must keep the NHWC order (avg_reads_planar false) transpose the input into an NHWC
// buffer first. (NumPy's copy of a (8,64,112,112) float32 view to NHWC took 6.9 ms; the
// transpose kernel 1.7 ms, at one thread.)
//
// Scratch buffers, 64-byte aligned by hand inside a malloc'd block: glibc serves repeated
// large mallocs from the heap once the first is freed (its dynamic mmap threshold), but maps
// every aligned allocation (operator new with align_val_t, aligned_alloc) afresh, so each call
// faulted in every page (25.7 MB: 6272 faults a call, measured). From 32 MiB on, where glibc
// maps every block anyway, the block is advised as transparent huge pages, as NumPy does for
// its arrays (a 51 MB float64 buffer cost ~18 ms of 4 KiB page faults on a VM with THP in
// madvise mode).
struct AlignedBuffer {
  struct Free {
    void operator()(char* p) const { std::free(p); }
  };
  std::unique_ptr<char, Free> raw;
  void* aligned = nullptr;
  explicit AlignedBuffer(std::int64_t bytes) {
    if (bytes <= 0) return;
    if (static_cast<std::uint64_t>(bytes) > std::numeric_limits<std::size_t>::max() - 64) throw std::bad_alloc();
    raw.reset(static_cast<char*>(std::malloc(static_cast<std::size_t>(bytes) + 64)));
    if (!raw) throw std::bad_alloc();
    const auto addr = reinterpret_cast<std::uintptr_t>(raw.get());
    aligned = raw.get() + ((64 - (addr & 63)) & 63);
#ifdef NHWCPOOL_MADVISE
    if (bytes >= (std::int64_t{32} << 20)) {  // a hint: errors ignored
      const std::uintptr_t page = 4096, lo = (addr + page - 1) & ~(page - 1),
                           hi = (addr + static_cast<std::uintptr_t>(bytes)) & ~(page - 1);
      if (hi > lo) madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_HUGEPAGE);
    }
#endif
  }
  void* get() const { return aligned; }
};

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
  to_channels_last(vals.get(), out, geo.N, geo.C, geo.OH, geo.OW, geo.C * P * out_size, P * out_size,
                   geo.OW * out_size, out_size);
  if (indices != nullptr) to_channels_last(ip, indices, geo.N, geo.C, geo.OH, geo.OW, geo.C * P * 8, P * 8, geo.OW * 8, 8);
}

}  // namespace

void to_channels_last(const void* src, void* dst, std::int64_t N, std::int64_t C, std::int64_t H, std::int64_t W,
                      std::int64_t stride_n, std::int64_t stride_c, std::int64_t stride_h, int size) {
  if (size != 1 && size != 2 && size != 4 && size != 8) {
    throw std::invalid_argument("to_channels_last: size must be 1, 2, 4 or 8 bytes, got " + std::to_string(size));
  }
  TransposeArgs a;
  a.src = src; a.dst = dst; a.N = N; a.C = C; a.H = H; a.W = W;
  a.stride_n = stride_n; a.stride_c = stride_c; a.stride_h = stride_h; a.size = size;
  a.threads = get_num_threads();
  const double bytes = static_cast<double>(N) * static_cast<double>(C) * static_cast<double>(H) *
                       static_cast<double>(W) * static_cast<double>(size);
  a.stream = bytes >= static_cast<double>(stream_slot().load(std::memory_order_relaxed));  // (the kernel
  // streams only when every store is a whole line: stream_values)
  run_kernel<TransposeArgs>(a, &baseline::transpose, kTransposeAvx2, kTransposeAvx512);
}

std::int64_t last_level_cache_bytes() {
  static const std::int64_t bytes = detect_llc_bytes();
  return bytes;
}

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
      // Row-major sums need the NHWC kernels: transpose into a buffer, then pool that.
      const int size = itemsize(in_dtype);
      const std::int64_t row = geo.W * geo.C * size, image = geo.H * row;
      AlignedBuffer nhwc(geo.N * image);
      to_channels_last(in.data, nhwc.get(), geo.N, geo.C, geo.H, geo.W, in.stride_n, in.stride_c, in.stride_h, size);
      InputView v;
      v.data = nhwc.get();
      v.stride_n = image;
      v.stride_h = row;
      avg_pool2d(in_dtype, out_dtype, geo, v, out, count_include_pad, divisor_override);
      return;
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
