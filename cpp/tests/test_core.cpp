// C++ unit tests of the core, without Python: shape arithmetic and every kernel path at every
// SIMD level this machine supports, against a naive loop. Build and run:
//   cmake -S . -B build/cpp -DNHWCPOOL_BUILD_TESTS=ON && cmake --build build/cpp && ctest --test-dir build/cpp
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>
#include <vector>

#include "nhwcpool/kernels.hpp"
#include "nhwcpool/parallel.hpp"
#include "nhwcpool/shape.hpp"

using namespace nhwcpool;
using std::int64_t;

static int g_failures = 0;
static int g_checks = 0;

#define CHECK(cond)                                                        \
  do {                                                                     \
    ++g_checks;                                                            \
    if (!(cond)) {                                                         \
      ++g_failures;                                                        \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                      \
  } while (0)

template <class F>
static bool throws_invalid(F f) {
  try {
    f();
  } catch (const std::invalid_argument&) {
    return true;
  }
  return false;
}

static AxisParams ax(int64_t k, int64_t s, int64_t d = 1, int64_t pb = 0, int64_t pe = 0) {
  AxisParams p;
  p.kernel = k; p.stride = s; p.dilation = d; p.pad_begin = pb; p.pad_end = pe;
  return p;
}

static void test_shapes() {
  // The documents: floor((n + 2p - f)/s) + 1.
  CHECK(output_size(4, ax(2, 2), false, true, "") == 2);
  CHECK(output_size(5, ax(3, 1), false, true, "") == 3);
  CHECK(output_size(24, ax(2, 2), false, true, "") == 12);
  CHECK(output_size(8, ax(2, 2), false, true, "") == 4);
  CHECK(output_size(7, ax(7, 1), false, true, "") == 1);
  // ceil_mode and PyTorch's "last window must start inside" rule.
  CHECK(output_size(5, ax(2, 2), true, true, "") == 3);
  CHECK(output_size(5, ax(1, 2), true, true, "") == 3);
  CHECK(output_size(6, ax(3, 2, 1, 1, 1), true, true, "") == 4);   // (6+2-3)/2 -> ceil 3.5 -> 4
  CHECK(output_size(4, ax(2, 2, 1, 1, 1), true, true, "") == 3);   // a 4th window would start in the pad
  CHECK(output_size(1, ax(2, 2), true, true, "") == 1);
  // dilation
  CHECK(output_size(7, ax(3, 1, 2), false, true, "") == 3);
  // errors
  CHECK(throws_invalid([] { output_size(4, ax(0, 1), false, true, ""); }));
  CHECK(throws_invalid([] { output_size(4, ax(2, 0), false, true, ""); }));
  CHECK(throws_invalid([] { output_size(4, ax(2, 1, 0), false, true, ""); }));
  CHECK(throws_invalid([] { output_size(4, ax(2, 1, 1, 2, 0), false, true, ""); }));  // pad > k/2
  CHECK(throws_invalid([] { output_size(4, ax(2, 1, 1, -1, 0), false, true, ""); }));
  CHECK(throws_invalid([] { output_size(2, ax(3, 1), false, true, ""); }));           // window too big
  CHECK(throws_invalid([] { output_size(0, ax(1, 1), false, true, ""); }));
  const int64_t big = std::numeric_limits<int64_t>::max() / 2;
  CHECK(throws_invalid([&] { output_size(10, ax(big, 1, 4), false, true, ""); }));     // d*(k-1) overflows
  CHECK(throws_invalid([&] { make_geometry(big, big, 2, 2, ax(1, 1), ax(1, 1), false, true); }));
  // "same": total = max((ceil(n/s)-1)*s + k - n, 0), odd cell at the end.
  CHECK((same_padding(5, 3, 1, 1, "") == std::make_pair<int64_t, int64_t>(1, 1)));
  CHECK((same_padding(5, 2, 2, 1, "") == std::make_pair<int64_t, int64_t>(0, 1)));
  CHECK((same_padding(6, 2, 2, 1, "") == std::make_pair<int64_t, int64_t>(0, 0)));
  CHECK((same_padding(4, 4, 1, 1, "") == std::make_pair<int64_t, int64_t>(1, 2)));
  // window tables
  const AxisTable t = make_axis_table(5, 3, ax(3, 2, 1, 1, 1));
  CHECK(t.first[0] == 0 && t.count[0] == 2 && t.padded_count[0] == 3);
  CHECK(t.first[2] == 3 && t.count[2] == 2 && t.padded_count[2] == 3);
  CHECK(t.full_begin == 1 && t.full_end == 2);
}

// Naive NHWC reference over float/double/int inputs.
struct Case {
  int64_t N, H, W, C;
  AxisParams h, w;
  bool ceil;
};

template <class T>
static void naive_max(const Case& k, const Geometry& g, const std::vector<T>& x, std::vector<double>& out,
                      std::vector<int64_t>& idx) {
  out.assign(static_cast<std::size_t>(g.N * g.OH * g.OW * g.C), 0);
  idx.assign(out.size(), 0);
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t oh = 0; oh < g.OH; ++oh)
      for (int64_t ow = 0; ow < g.OW; ++ow)
        for (int64_t c = 0; c < g.C; ++c) {
          double best = -INFINITY;
          int64_t bi = -1;
          for (int64_t i = 0; i < k.h.kernel; ++i)
            for (int64_t j = 0; j < k.w.kernel; ++j) {
              const int64_t y = oh * k.h.stride - k.h.pad_begin + i * k.h.dilation;
              const int64_t xw = ow * k.w.stride - k.w.pad_begin + j * k.w.dilation;
              if (y < 0 || y >= g.H || xw < 0 || xw >= g.W) continue;
              const double v = static_cast<double>(x[static_cast<std::size_t>(((n * g.H + y) * g.W + xw) * g.C + c)]);
              if (bi < 0 || v > best || std::isnan(v)) {
                best = v;
                bi = y * g.W + xw;
              }
            }
          const auto o = static_cast<std::size_t>(((n * g.OH + oh) * g.OW + ow) * g.C + c);
          out[o] = best;
          idx[o] = bi;
        }
}

static void naive_avg(const Case& k, const Geometry& g, const std::vector<float>& x, bool include,
                      std::vector<double>& out) {
  out.assign(static_cast<std::size_t>(g.N * g.OH * g.OW * g.C), 0);
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t oh = 0; oh < g.OH; ++oh)
      for (int64_t ow = 0; ow < g.OW; ++ow)
        for (int64_t c = 0; c < g.C; ++c) {
          double s = 0;
          int64_t cnt = 0, padded = 0;
          for (int64_t i = 0; i < k.h.kernel; ++i)
            for (int64_t j = 0; j < k.w.kernel; ++j) {
              const int64_t y = oh * k.h.stride - k.h.pad_begin + i * k.h.dilation;
              const int64_t xw = ow * k.w.stride - k.w.pad_begin + j * k.w.dilation;
              const bool in_pad = y >= -k.h.pad_begin && y < g.H + k.h.pad_end && xw >= -k.w.pad_begin &&
                                  xw < g.W + k.w.pad_end;
              if (in_pad) ++padded;
              if (y < 0 || y >= g.H || xw < 0 || xw >= g.W) continue;
              s += x[static_cast<std::size_t>(((n * g.H + y) * g.W + xw) * g.C + c)];
              ++cnt;
            }
          out[static_cast<std::size_t>(((n * g.OH + oh) * g.OW + ow) * g.C + c)] =
              s / static_cast<double>(include ? padded : cnt);
        }
}

// p advanced to the next 64-byte boundary, then offset bytes further.
template <class T>
static T* aligned_at(T* p, std::size_t offset) {
  const auto u = reinterpret_cast<std::uintptr_t>(p);
  const std::uintptr_t a = (u + 63) & ~static_cast<std::uintptr_t>(63);
  return reinterpret_cast<T*>(a + offset);
}

static void test_kernels(std::mt19937& rng) {
  const int64_t default_threshold = stream_threshold();
  const Case cases[] = {
      {2, 4, 4, 1, ax(2, 2), ax(2, 2), false},       {1, 5, 5, 3, ax(3, 1), ax(3, 1), false},
      {2, 7, 9, 17, ax(3, 2, 1, 1, 1), ax(3, 2, 1, 1, 1), true},
      {1, 8, 8, 64, ax(2, 2), ax(2, 2), false},      {1, 9, 7, 70, ax(3, 2, 2, 1, 1), ax(2, 3, 2, 1, 0), true},
      {3, 6, 6, 130, ax(5, 1, 1, 2, 2), ax(5, 1, 1, 2, 2), false},
      {1, 7, 7, 100, ax(7, 1), ax(7, 1), false},     {2, 11, 13, 5, ax(4, 3, 1, 2, 2), ax(3, 5, 1, 1, 1), true},
      {2, 5, 6, 128, ax(2, 2), ax(2, 2), false},     {1, 6, 7, 136, ax(2, 2), ax(2, 2), false},
      {1, 7, 7, 200, ax(3, 2, 1, 1, 1), ax(3, 2, 1, 1, 1), false}, {2, 5, 5, 130, ax(2, 2), ax(2, 2), false},
  };
  std::normal_distribution<float> dist(0.0f, 3.0f);
  for (int li = 0; li < 3; ++li) {
    const auto level = static_cast<SimdLevel>(li);
    if (!simd_level_supported(level)) continue;
    set_simd_level(level);
    for (int threads : {1, 2}) {
      set_num_threads(threads);
      for (const Case& k : cases) {
        const Geometry g = make_geometry(k.N, k.H, k.W, k.C, k.h, k.w, k.ceil, true);
        std::vector<float> x(static_cast<std::size_t>(k.N * k.H * k.W * k.C));
        for (auto& v : x) v = std::round(dist(rng));  // ties on purpose
        if (x.size() > 10) x[7] = NAN;
        std::vector<double> ref;
        std::vector<int64_t> ridx;
        naive_max(k, g, x, ref, ridx);
        InputView in;
        in.data = x.data();
        in.stride_n = k.H * k.W * k.C * 4;
        in.stride_h = k.W * k.C * 4;
        // Ordinary and streaming stores, into 64-byte aligned outputs (whole-line pixels are
        // streamed) and misaligned ones (partial lines at both ends of each pixel).
        for (const bool stream : {false, true}) {
          set_stream_threshold(stream ? 0 : default_threshold);
          for (const std::size_t offset : {std::size_t{0}, std::size_t{8}}) {
            std::vector<float> outbuf(ref.size() + 32), out2buf(ref.size() + 32);
            std::vector<int64_t> idxbuf(ref.size() + 16);
            float* out = aligned_at(outbuf.data(), offset);
            float* out2 = aligned_at(out2buf.data(), offset);
            int64_t* idx = aligned_at(idxbuf.data(), offset);
            max_pool2d(DType::f32, g, in, out, idx);
            max_pool2d(DType::f32, g, in, out2, nullptr);
            bool ok = true;
            for (std::size_t i = 0; i < ref.size(); ++i) {
              const bool same = (std::isnan(ref[i]) && std::isnan(out[i])) || static_cast<double>(out[i]) == ref[i];
              const bool same2 =
                  (std::isnan(ref[i]) && std::isnan(out2[i])) || static_cast<double>(out2[i]) == ref[i];
              ok = ok && same && same2 && idx[i] == ridx[i];
            }
            CHECK(ok);
            if (!ok) {
              std::fprintf(stderr, "  max mismatch: level %s, C=%lld, stream %d, offset %zu\n", simd_level_name(level),
                           static_cast<long long>(k.C), static_cast<int>(stream), offset);
            }
          }
        }
        set_stream_threshold(default_threshold);
        for (bool include : {true, false}) {
          std::vector<float> xa(x);
          for (auto& v : xa) if (std::isnan(v)) v = 1.0f;
          in.data = xa.data();
          naive_avg(k, g, xa, include, ref);
          std::vector<float> avg(ref.size());
          avg_pool2d(DType::f32, DType::f32, g, in, avg.data(), include, 0);
          bool aok = true;
          for (std::size_t i = 0; i < ref.size(); ++i) aok = aok && avg[i] == static_cast<float>(ref[i]);
          CHECK(aok);
          if (!aok) std::fprintf(stderr, "  avg mismatch: level %s, C=%lld\n", simd_level_name(level), static_cast<long long>(k.C));
        }
        // The same input stored as NCHW planes (stride_c): pooled plane by plane, transposed.
        {
          std::vector<float> xp(x.size());
          for (int64_t n = 0; n < k.N; ++n)
            for (int64_t h = 0; h < k.H; ++h)
              for (int64_t w = 0; w < k.W; ++w)
                for (int64_t c = 0; c < k.C; ++c)
                  xp[static_cast<std::size_t>(((n * k.C + c) * k.H + h) * k.W + w)] =
                      x[static_cast<std::size_t>(((n * k.H + h) * k.W + w) * k.C + c)];
          InputView pv;
          pv.data = xp.data();
          pv.stride_n = k.C * k.H * k.W * 4;
          pv.stride_c = k.H * k.W * 4;
          pv.stride_h = k.W * 4;
          naive_max(k, g, x, ref, ridx);
          std::vector<float> out(ref.size());
          std::vector<int64_t> idx(ref.size());
          max_pool2d(DType::f32, g, pv, out.data(), idx.data());
          bool pok = true;
          for (std::size_t i = 0; i < ref.size(); ++i) {
            pok = pok && ((std::isnan(ref[i]) && std::isnan(out[i])) || static_cast<double>(out[i]) == ref[i]) &&
                  idx[i] == ridx[i];
          }
          // Planar float averages are transposed to NHWC first: the NHWC path's bits exactly.
          if (k.C > 1) {
            CHECK(!avg_reads_planar(DType::f32) && avg_reads_planar(DType::i32));
            InputView nv = in;
            nv.data = x.data();
            for (bool include : {true, false}) {
              std::vector<float> a1(ref.size()), a2(ref.size());
              avg_pool2d(DType::f32, DType::f32, g, nv, a1.data(), include, 0);
              avg_pool2d(DType::f32, DType::f32, g, pv, a2.data(), include, 0);
              pok = pok && std::memcmp(a1.data(), a2.data(), a1.size() * sizeof(float)) == 0;
            }
          }
          CHECK(pok);
          if (!pok) std::fprintf(stderr, "  planar mismatch: level %s, C=%lld\n", simd_level_name(level), static_cast<long long>(k.C));
        }
      }
    }
  }
  set_simd_level(best_simd_level());
}

// The output offset hint: the input's offset for float32 sliding windows whose chunks are
// whole cache lines (the AVX-512 kernels), else 0.
static void test_output_offset() {
  const Geometry g = make_geometry(2, 6, 6, 32, ax(3, 1, 1, 1, 1), ax(3, 1, 1, 1, 1), false, true);
  std::vector<float> buf(2 * 6 * 6 * 32 + 64);
  InputView in;
  in.data = aligned_at(buf.data(), 16);
  in.stride_n = 6 * 6 * 32 * 4;
  in.stride_h = 6 * 32 * 4;
  const Geometry g2 = make_geometry(2, 6, 6, 32, ax(2, 2), ax(2, 2), false, true);  // not sliding
  const Geometry g3 = make_geometry(2, 6, 6, 24, ax(3, 1, 1, 1, 1), ax(3, 1, 1, 1, 1), false, true);  // 96-byte pixels
  for (int li = 0; li < 3; ++li) {
    const auto level = static_cast<SimdLevel>(li);
    if (!simd_level_supported(level)) continue;
    set_simd_level(level);
    const int64_t want = level == SimdLevel::avx512 ? 16 : 0;
    CHECK(preferred_output_offset(DType::f32, DType::f32, g, in) == want);
    CHECK(preferred_output_offset(DType::f16, DType::f16, g, in) == 0);
    CHECK(preferred_output_offset(DType::f32, DType::f64, g, in) == 0);
    CHECK(preferred_output_offset(DType::f32, DType::f32, g2, in) == 0);
    CHECK(preferred_output_offset(DType::f32, DType::f32, g3, in) == 0);
  }
  set_simd_level(best_simd_level());
  // A float pointer that is not 4-byte aligned (the core API allows it): no hint.
  in.data = reinterpret_cast<const char*>(aligned_at(buf.data(), 0)) + 2;
  CHECK(preferred_output_offset(DType::f32, DType::f32, g, in) == 0);
}

// Streamed sliding windows over an input and output both 4 bytes past a 64-byte line (floats
// aligned to their size, as the core requires, but not to a vector or a line): ordinary
// stores, same results (a streaming store there would fault). (Until 2026-12 this used 2 bytes
// past a line, which the core never sees from Python (bindings accept only aligned arrays)
// and which is undefined behaviour for float loads: UBSan's alignment check stopped there.)
static void test_misaligned_stream(std::mt19937& rng) {
  const Case k{1, 6, 7, 64, ax(3, 1, 1, 1, 1), ax(3, 1, 1, 1, 1), false};
  const Geometry g = make_geometry(k.N, k.H, k.W, k.C, k.h, k.w, k.ceil, true);
  std::normal_distribution<float> dist(0.0f, 3.0f);
  std::vector<float> x(static_cast<std::size_t>(k.N * k.H * k.W * k.C));
  for (auto& v : x) v = std::round(dist(rng));
  std::vector<double> ref, ref_avg;
  std::vector<int64_t> ridx;
  naive_max(k, g, x, ref, ridx);
  naive_avg(k, g, x, false, ref_avg);
  std::vector<char> inbuf(x.size() * 4 + 128), outbuf(ref.size() * 4 + 128);
  char* ip = reinterpret_cast<char*>(aligned_at(inbuf.data(), 0)) + 4;
  char* op = reinterpret_cast<char*>(aligned_at(outbuf.data(), 0)) + 4;
  std::memcpy(ip, x.data(), x.size() * 4);
  InputView in;
  in.data = ip;
  in.stride_n = k.H * k.W * k.C * 4;
  in.stride_h = k.W * k.C * 4;
  const int64_t before = stream_threshold();
  set_stream_threshold(0);
  for (int li = 0; li < 3; ++li) {
    const auto level = static_cast<SimdLevel>(li);
    if (!simd_level_supported(level)) continue;
    set_simd_level(level);
    max_pool2d(DType::f32, g, in, op, nullptr);
    bool ok = true;
    for (std::size_t i = 0; i < ref.size(); ++i) {
      float v;
      std::memcpy(&v, op + i * 4, 4);
      ok = ok && static_cast<double>(v) == ref[i];
    }
    CHECK(ok);
    avg_pool2d(DType::f32, DType::f32, g, in, op, false, 0);
    bool aok = true;
    for (std::size_t i = 0; i < ref_avg.size(); ++i) {
      float v;
      std::memcpy(&v, op + i * 4, 4);
      aok = aok && v == static_cast<float>(ref_avg[i]);
    }
    CHECK(aok);
  }
  set_stream_threshold(before);
  set_simd_level(best_simd_level());
}

// to_channels_last against a plain loop: every element size, channel and pixel tails, padded
// and negative strides, streamed or not, at every SIMD level.
template <class E>
static void check_transpose(std::mt19937& rng, int64_t N, int64_t C, int64_t H, int64_t W, int64_t pad_w, bool flip) {
  const int64_t size = static_cast<int64_t>(sizeof(E));
  const int64_t row = W + pad_w, plane = H * row, image = C * plane;
  std::vector<E> src(static_cast<std::size_t>(N * image));
  for (auto& v : src) v = static_cast<E>(rng());
  // flip: channels and rows run backwards (negative strides from the last plane's last row).
  const E* base = src.data() + (flip ? (C - 1) * plane + (H - 1) * row : 0);
  const int64_t sc = (flip ? -plane : plane) * size, sh = (flip ? -row : row) * size;
  std::vector<E> want(static_cast<std::size_t>(N * H * W * C));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t w = 0; w < W; ++w)
          want[static_cast<std::size_t>(((n * H + h) * W + w) * C + c)] =
              *reinterpret_cast<const E*>(reinterpret_cast<const char*>(base) + n * image * size + c * sc + h * sh + w * size);
  const int64_t default_threshold = stream_threshold();
  for (int li = 0; li < 3; ++li) {
    const auto level = static_cast<SimdLevel>(li);
    if (!simd_level_supported(level)) continue;
    set_simd_level(level);
    // Streaming asked for on an aligned and a misaligned output (the kernel must refuse the latter).
    for (int64_t threshold : {int64_t{0}, int64_t{1} << 40, int64_t{-1}}) {
      set_stream_threshold(threshold < 0 ? 0 : threshold);
      std::vector<E> buf(want.size() + 128 / sizeof(E));
      E* dst = aligned_at(buf.data(), threshold < 0 ? sizeof(E) : 0);
      to_channels_last(base, dst, N, C, H, W, image * size, sc, sh, static_cast<int>(size));
      const bool ok = std::memcmp(dst, want.data(), want.size() * sizeof(E)) == 0;
      CHECK(ok);
      if (!ok) {
        std::fprintf(stderr, "  transpose mismatch: level %s, size %d, N=%lld C=%lld H=%lld W=%lld pad %lld flip %d\n",
                     simd_level_name(level), static_cast<int>(size), static_cast<long long>(N), static_cast<long long>(C),
                     static_cast<long long>(H), static_cast<long long>(W), static_cast<long long>(pad_w), static_cast<int>(flip));
      }
    }
  }
  set_stream_threshold(default_threshold);
  set_simd_level(best_simd_level());
}

static void test_transpose(std::mt19937& rng) {
  const int64_t shapes[][5] = {{1, 1, 1, 1, 0},   {2, 3, 5, 7, 0},    {1, 16, 4, 16, 0}, {2, 17, 3, 33, 1},
                               {1, 32, 2, 24, 8}, {3, 64, 5, 40, 0}, {1, 8, 1, 1025, 0}, {2, 48, 2, 1100, 3}};
  for (const auto& s : shapes) {
    for (bool flip : {false, true}) {
      check_transpose<std::uint8_t>(rng, s[0], s[1], s[2], s[3], s[4], flip);
      check_transpose<std::uint16_t>(rng, s[0], s[1], s[2], s[3], s[4], flip);
      check_transpose<std::uint32_t>(rng, s[0], s[1], s[2], s[3], s[4], flip);
      check_transpose<std::uint64_t>(rng, s[0], s[1], s[2], s[3], s[4], flip);
    }
  }
}

// cpp/tests/test_strategies.cpp: each kernel strategy at each level (returns the failures).
int run_strategy_tests(int* checks);

int main() {
  std::mt19937 rng(1234);
  test_shapes();
  test_kernels(rng);
  test_output_offset();
  test_misaligned_stream(rng);
  test_transpose(rng);
  g_failures += run_strategy_tests(&g_checks);
  std::printf("nhwcpool C++ core: %d checks, %d failed (OpenMP %s, best SIMD %s)\n", g_checks, g_failures,
              openmp_enabled() ? "on" : "off", simd_level_name(best_simd_level()));
  return g_failures == 0 ? 0 : 1;
}
