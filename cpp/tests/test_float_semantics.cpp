// C++ tests of the floating-point rules every SIMD level and every architecture must keep,
// bit for bit (written for the aarch64 build: NEON's fmax/fmin treat NaN and -0/+0 unlike
// x86's maxps, and GCC contracts a*b+c into fused multiply-adds by default on aarch64):
//  * max with indices: NaN propagates (several NaNs: the last one's value and index, PyTorch's
//    `v > cur || isnan(v)`), the first of equal values wins (its index, and of -0/+0 its sign),
//    float32 and float64, on inputs that reach every strategy. Without indices: NaN where the
//    reference has NaN and the same number elsewhere (which zero, and which NaN payload, a
//    value-only strategy returns depends on its reduction order; a single -0/+0 pair gives
//    the first);
//  * float32 average on the direct path (C >= 16, windows that are not stride-1 ones of size
//    >= 3): the float32 sum in row-major window order divided once, exactly (PyTorch's
//    arithmetic). Inputs are random non-integers of mixed magnitude, so a sum rounded in another
//    order, or a multiply-add fused into one rounding (an "fma'd average", e.g. acc + x * (1/n)
//    or a reciprocal-and-correct division), changes the last bits and fails;
//  * float16: every half through the fused kernels' loads and stores (float16 widened and
//    rounded to nearest even, NaN quieted with its payload), against a scalar reference.
// It prints a digest of every output bit at the baseline level on one thread (values with and
// without indices, indices, averages): tools/aarch64.sh compares the aarch64 build's digest
// with the x86-64 build's, so the two architectures agree bit for bit, zeros' signs and NaN
// payloads of the value-only paths included.
// Built with NHWCPOOL_BUILD_TESTS=ON (nhwcpool_cpp_semantics_tests).
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "nhwcpool/kernels.hpp"
#include "nhwcpool/parallel.hpp"
#include "nhwcpool/shape.hpp"

using namespace nhwcpool;
using std::int64_t;

static int g_failures = 0;
static int g_checks = 0;
static std::uint64_t g_digest = 1469598103934665603ull;  // FNV-1a over the baseline outputs

// NHWCPOOL_TEST_DIGESTS=1 prints each part's own digest too, to find the part that differs.
template <class T>
static void digest(const std::vector<T>& v, const char* what, int64_t C) {
  std::uint64_t h = 1469598103934665603ull;
  const auto* p = reinterpret_cast<const unsigned char*>(v.data());
  for (std::size_t i = 0; i < v.size() * sizeof(T); ++i) {
    g_digest = (g_digest ^ p[i]) * 1099511628211ull;
    h = (h ^ p[i]) * 1099511628211ull;
  }
  if (std::getenv("NHWCPOOL_TEST_DIGESTS")) {
    std::printf("  digest %s C=%lld: %016llx\n", what, static_cast<long long>(C), static_cast<unsigned long long>(h));
  }
}

#define CHECK(cond)                                                                  \
  do {                                                                               \
    ++g_checks;                                                                      \
    if (!(cond)) {                                                                   \
      ++g_failures;                                                                  \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                                \
  } while (0)

static AxisParams ax(int64_t k, int64_t s, int64_t d = 1, int64_t pb = 0, int64_t pe = 0) {
  AxisParams p;
  p.kernel = k;
  p.stride = s;
  p.dilation = d;
  p.pad_begin = pb;
  p.pad_end = pe;
  return p;
}

struct Shape {
  int64_t N, H, W, C;
  AxisParams h, w;
  bool ceil;
};

template <class T>
static bool same_bits(T a, T b) {
  return std::memcmp(&a, &b, sizeof(T)) == 0;
}

// PyTorch's max: row-major window order, v > cur || isnan(v); the value is the chosen element's
// bits (NaN payload and the sign of a zero included).
template <class T>
static void ref_max(const Shape& k, const Geometry& g, const std::vector<T>& x, std::vector<T>& out,
                    std::vector<int64_t>& idx) {
  out.assign(static_cast<std::size_t>(g.N * g.OH * g.OW * g.C), T(0));
  idx.assign(out.size(), 0);
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t oh = 0; oh < g.OH; ++oh)
      for (int64_t ow = 0; ow < g.OW; ++ow)
        for (int64_t c = 0; c < g.C; ++c) {
          T best = -std::numeric_limits<T>::infinity();
          int64_t bi = -1;
          for (int64_t i = 0; i < k.h.kernel; ++i)
            for (int64_t j = 0; j < k.w.kernel; ++j) {
              const int64_t y = oh * k.h.stride - k.h.pad_begin + i * k.h.dilation;
              const int64_t xw = ow * k.w.stride - k.w.pad_begin + j * k.w.dilation;
              if (y < 0 || y >= g.H || xw < 0 || xw >= g.W) continue;
              const T v = x[static_cast<std::size_t>(((n * g.H + y) * g.W + xw) * g.C + c)];
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

// Values from a small alphabet, so that windows hold ties, NaNs (with distinct payloads), both
// zeros and infinities together.
template <class T>
static T special(std::mt19937& rng) {
  using U = typename std::conditional<sizeof(T) == 4, std::uint32_t, std::uint64_t>::type;
  const int pick = static_cast<int>(rng() % 16);
  switch (pick) {
    case 0: return T(-0.0);
    case 1: return T(0.0);
    case 2: {
      // a quiet NaN with a payload that tells which one it was (and either sign)
      T nan = std::numeric_limits<T>::quiet_NaN();
      U bits;
      std::memcpy(&bits, &nan, sizeof bits);
      bits |= static_cast<U>(1 + rng() % 1000);
      if (rng() % 2) bits |= U(1) << (8 * sizeof(U) - 1);
      std::memcpy(&nan, &bits, sizeof bits);
      return nan;
    }
    case 3: return std::numeric_limits<T>::infinity();
    case 4: return -std::numeric_limits<T>::infinity();
    case 5: return -std::numeric_limits<T>::max();
    case 6: case 7: return T(1);
    case 8: return T(-1);
    default: return rng() % 3 == 0 ? T(-0.0) : T(0.0);  // mostly zeros: -0/+0 ties everywhere
  }
}

constexpr int kLevels = 3;

// Every (level, thread count) sees the same inputs: each shape's generator is seeded by its
// position, so the digest does not depend on how many SIMD levels this machine runs.
template <class T>
static void test_max_semantics(std::uint32_t seed) {
  const DType dt = sizeof(T) == 4 ? DType::f32 : DType::f64;
  // C = 1, 3 (small-C gather), 8, 16, 17 (tails), 64, 70 (direct kernels); 2x2/s2, 3x3/s1
  // (sliding window, column slide), 3x3/s2/p1, 5x5/s1/p2, dilated, ceil_mode, 1x1 windows.
  const Shape shapes[] = {
      {2, 6, 6, 1, ax(2, 2), ax(2, 2), false},         {2, 8, 9, 3, ax(2, 2), ax(2, 2), true},
      {1, 7, 7, 3, ax(3, 1, 1, 1, 1), ax(3, 1, 1, 1, 1), false},
      {1, 8, 8, 8, ax(3, 2, 1, 1, 1), ax(3, 2, 1, 1, 1), false},
      {2, 6, 8, 16, ax(2, 2), ax(2, 2), false},        {1, 7, 9, 17, ax(3, 1, 1, 1, 1), ax(3, 1, 1, 1, 1), false},
      {1, 8, 8, 64, ax(2, 2), ax(2, 2), false},        {1, 6, 7, 64, ax(3, 1), ax(3, 1), false},
      {1, 9, 9, 70, ax(3, 2, 1, 1, 1), ax(3, 2, 1, 1, 1), true},
      {1, 9, 8, 24, ax(5, 1, 1, 2, 2), ax(5, 1, 1, 2, 2), false},
      {1, 9, 9, 20, ax(3, 1, 2, 1, 1), ax(2, 2, 2), false}, {2, 5, 5, 33, ax(1, 1), ax(1, 1), false},
      {1, 5, 40, 4, ax(2, 1), ax(12, 1), false},
  };
  for (int li = 0; li < kLevels; ++li) {
    const auto level = static_cast<SimdLevel>(li);
    if (!simd_level_supported(level)) continue;
    set_simd_level(level);
    for (int threads : {1, 2}) {
      set_num_threads(threads);
      std::uint32_t si = 0;
      for (const Shape& k : shapes) {
        std::mt19937 rng(seed + 7919 * si++);
        const Geometry g = make_geometry(k.N, k.H, k.W, k.C, k.h, k.w, k.ceil, true);
        std::vector<T> x(static_cast<std::size_t>(k.N * k.H * k.W * k.C));
        for (auto& v : x) v = special<T>(rng);
        std::vector<T> ref;
        std::vector<int64_t> ridx;
        ref_max(k, g, x, ref, ridx);
        InputView in;
        in.data = x.data();
        in.stride_n = k.H * k.W * k.C * static_cast<int64_t>(sizeof(T));
        in.stride_h = k.W * k.C * static_cast<int64_t>(sizeof(T));
        std::vector<T> out(ref.size()), out2(ref.size());
        std::vector<int64_t> idx(ref.size());
        max_pool2d(dt, g, in, out.data(), idx.data());
        max_pool2d(dt, g, in, out2.data(), nullptr);
        if (level == SimdLevel::baseline && threads == 1) {
          digest(out, "max+indices values", k.C);
          digest(out2, "max values", k.C);
          digest(idx, "max indices", k.C);
        }
        std::size_t bad = ref.size();
        for (std::size_t i = 0; i < ref.size() && bad == ref.size(); ++i) {
          const bool ok = same_bits(out[i], ref[i]) && idx[i] == ridx[i] &&
                          (std::isnan(ref[i]) ? std::isnan(out2[i]) : out2[i] == ref[i]);
          if (!ok) bad = i;
        }
        CHECK(bad == ref.size());
        if (bad != ref.size()) {
          std::fprintf(stderr,
                       "  max semantics: level %s, %s, threads %d, C=%lld %lldx%lld/s%lld: output %zu got %g/%g "
                       "(index %lld), want %g (index %lld)\n",
                       simd_level_name(level), sizeof(T) == 4 ? "float32" : "float64", threads,
                       static_cast<long long>(k.C), static_cast<long long>(k.h.kernel),
                       static_cast<long long>(k.w.kernel), static_cast<long long>(k.h.stride), bad,
                       static_cast<double>(out[bad]), static_cast<double>(out2[bad]),
                       static_cast<long long>(idx[bad]), static_cast<double>(ref[bad]),
                       static_cast<long long>(ridx[bad]));
        }
      }
    }
  }
  set_num_threads(1);
  set_simd_level(best_simd_level());
}

// A window of two zeros, each order, alone: the first one's sign.
static void test_signed_zero_pairs() {
  for (int li = 0; li < kLevels; ++li) {
    const auto level = static_cast<SimdLevel>(li);
    if (!simd_level_supported(level)) continue;
    set_simd_level(level);
    for (int64_t C : {1, 4, 16, 64}) {
      const Geometry g = make_geometry(1, 1, 2, C, ax(1, 1), ax(2, 2), false, true);
      for (int first_negative : {0, 1}) {
        std::vector<float> x(static_cast<std::size_t>(2 * C));
        for (int64_t c = 0; c < C; ++c) {
          x[static_cast<std::size_t>(c)] = first_negative ? -0.0f : 0.0f;
          x[static_cast<std::size_t>(C + c)] = first_negative ? 0.0f : -0.0f;
        }
        InputView in;
        in.data = x.data();
        in.stride_n = 2 * C * 4;
        in.stride_h = 2 * C * 4;
        std::vector<float> out(static_cast<std::size_t>(C), 1.0f);
        std::vector<int64_t> idx(static_cast<std::size_t>(C), 7);
        max_pool2d(DType::f32, g, in, out.data(), idx.data());
        bool ok = true;
        for (int64_t c = 0; c < C; ++c) {
          ok = ok && out[static_cast<std::size_t>(c)] == 0.0f &&
               std::signbit(out[static_cast<std::size_t>(c)]) == (first_negative == 1) && idx[static_cast<std::size_t>(c)] == 0;
        }
        max_pool2d(DType::f32, g, in, out.data(), nullptr);
        if (level == SimdLevel::baseline) digest(out, "zero pair", C);
        for (int64_t c = 0; c < C; ++c) {
          ok = ok && std::signbit(out[static_cast<std::size_t>(c)]) == (first_negative == 1);
        }
        CHECK(ok);
        if (!ok) std::fprintf(stderr, "  -0/+0: level %s, C=%lld, first %s\n", simd_level_name(level), static_cast<long long>(C), first_negative ? "-0" : "+0");
      }
    }
  }
  set_simd_level(best_simd_level());
}

// The float32 average of the direct path, against float32 row-major sums divided once.
static void test_avg_order(std::uint32_t seed) {
  struct AvgShape {
    Shape s;
    bool include;
  };
  const AvgShape shapes[] = {
      {{2, 8, 8, 16, ax(2, 2), ax(2, 2), false}, true},
      {{1, 9, 9, 64, ax(3, 2, 1, 1, 1), ax(3, 2, 1, 1, 1), true}, false},
      {{1, 9, 9, 64, ax(3, 2, 1, 1, 1), ax(3, 2, 1, 1, 1), true}, true},
      {{1, 10, 11, 20, ax(2, 2), ax(3, 2), false}, true},
      {{1, 12, 12, 33, ax(4, 4), ax(4, 4), false}, true},
      {{1, 10, 10, 48, ax(5, 3, 1, 2, 2), ax(5, 3, 1, 2, 2), false}, false},
      {{1, 7, 7, 17, ax(7, 7), ax(7, 7), false}, true},
      {{2, 6, 6, 24, ax(2, 1), ax(2, 1), false}, true},
  };
  // Mixed magnitudes, non-integers: nearly every addition rounds. Made from integers with exact
  // operations only (no log/exp, whose last bits may differ between libm builds), so that the
  // inputs, and the digest, are the same on every architecture.
  std::mt19937 rng;
  const auto mantissa = [&rng] { return static_cast<float>(static_cast<std::int32_t>(rng() >> 8) - (1 << 23)) / 4194304.0f; };
  const auto expo = [&rng] { return static_cast<int>(rng() % 13) - 6; };
  for (int li = 0; li < kLevels; ++li) {
    const auto level = static_cast<SimdLevel>(li);
    if (!simd_level_supported(level)) continue;
    set_simd_level(level);
    for (int threads : {1, 2}) {
      set_num_threads(threads);
      std::uint32_t si = 0;
      for (const AvgShape& as : shapes) {
        rng.seed(seed + 7919 * si++);
        const Shape& k = as.s;
        const Geometry g = make_geometry(k.N, k.H, k.W, k.C, k.h, k.w, k.ceil, true);
        std::vector<float> x(static_cast<std::size_t>(k.N * k.H * k.W * k.C));
        for (auto& v : x) {
          const float m = mantissa();  // (two statements: argument order is unspecified)
          v = std::ldexp(m, expo());
        }
        InputView in;
        in.data = x.data();
        in.stride_n = k.H * k.W * k.C * 4;
        in.stride_h = k.W * k.C * 4;
        std::vector<float> out(static_cast<std::size_t>(g.N * g.OH * g.OW * g.C));
        avg_pool2d(DType::f32, DType::f32, g, in, out.data(), as.include, 0);
        if (level == SimdLevel::baseline && threads == 1) digest(out, "avg", k.C);
        std::size_t bad = out.size();
        float want_bad = 0;
        for (int64_t n = 0; n < g.N && bad == out.size(); ++n)
          for (int64_t oh = 0; oh < g.OH; ++oh)
            for (int64_t ow = 0; ow < g.OW; ++ow)
              for (int64_t c = 0; c < g.C; ++c) {
                float s = 0.0f;
                int64_t cnt = 0, padded = 0;
                for (int64_t i = 0; i < k.h.kernel; ++i)
                  for (int64_t j = 0; j < k.w.kernel; ++j) {
                    const int64_t y = oh * k.h.stride - k.h.pad_begin + i * k.h.dilation;
                    const int64_t xw = ow * k.w.stride - k.w.pad_begin + j * k.w.dilation;
                    if (y >= -k.h.pad_begin && y < g.H + k.h.pad_end && xw >= -k.w.pad_begin && xw < g.W + k.w.pad_end) ++padded;
                    if (y < 0 || y >= g.H || xw < 0 || xw >= g.W) continue;
                    s += x[static_cast<std::size_t>(((n * g.H + y) * g.W + xw) * g.C + c)];
                    ++cnt;
                  }
                const float want = s / static_cast<float>(as.include ? padded : cnt);
                const auto o = static_cast<std::size_t>(((n * g.OH + oh) * g.OW + ow) * g.C + c);
                if (bad == out.size() && !same_bits(out[o], want)) {
                  bad = o;
                  want_bad = want;
                }
              }
        CHECK(bad == out.size());
        if (bad != out.size()) {
          std::fprintf(stderr, "  avg order: level %s, threads %d, C=%lld %lldx%lld/s%lld: output %zu got %.9g want %.9g\n",
                       simd_level_name(level), threads, static_cast<long long>(k.C), static_cast<long long>(k.h.kernel),
                       static_cast<long long>(k.w.kernel), static_cast<long long>(k.h.stride), bad,
                       static_cast<double>(out[bad]), static_cast<double>(want_bad));
        }
      }
    }
  }
  set_num_threads(1);
  set_simd_level(best_simd_level());
}

// float16 <-> float32, independent of the kernels' conversions: the value of a half, and a
// float rounded to the nearest half, ties to even, by scaling to its quantum and rounding
// there (nearbyint in the default mode). NaN: the quiet NaN with the float's top payload bits.
static double half_value(std::uint16_t h) {
  const int e = (h >> 10) & 31, m = h & 1023;
  const double s = (h & 0x8000) ? -1.0 : 1.0;
  if (e == 31) return m ? std::numeric_limits<double>::quiet_NaN() : s * INFINITY;
  if (e == 0) return s * std::ldexp(static_cast<double>(m), -24);
  return s * std::ldexp(static_cast<double>(m + 1024), e - 25);
}
static std::uint16_t ref_half(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  const auto sign = static_cast<std::uint16_t>((u >> 16) & 0x8000u);
  if (std::isnan(f)) return static_cast<std::uint16_t>(sign | 0x7e00u | ((u >> 13) & 0x3ffu));
  const double a = std::fabs(static_cast<double>(f));
  if (a == 0.0) return sign;
  if (a >= 65520.0) return static_cast<std::uint16_t>(sign | 0x7c00u);  // 65504 + half its ulp: a tie to even, inf
  int e;
  std::frexp(a, &e);                    // a = m * 2^e, m in [0.5, 1)
  const int q = e - 11 > -24 ? e - 11 : -24;  // the quantum 2^q at a (subnormals: 2^-24)
  const double r = std::nearbyint(std::ldexp(a, -q));  // 1024 <= r <= 2048 (subnormal: r < 1024)
  // (q + 25) << 10 is the exponent field of the binade 2^(q+10); r - 1024 the fraction (it
  // carries into the exponent at r = 2048, and gives the subnormal bits r at q = -24).
  return static_cast<std::uint16_t>(sign | (((q + 25) << 10) + static_cast<int>(r) - 1024));
}

// Every float16 through the fused kernels' loads and stores (the Vec layer's conversions:
// vcvtph2ps/vcvtps2ph, NEON's fcvtl/fcvtn), in whole vectors and in 1- to 3-lane tails:
//  * max over 1x1 windows: each half itself, a signalling NaN made quiet (payload kept);
//  * average over 1x1: the same, -0 made +0 (sums start from +0);
//  * average of each half and the next (a window of two): their midpoint, a tie, rounded to
//    even; average of random finite triples (divided by 3): other roundings, subnormal halves.
// Compared with the references above at every level; the baseline outputs go into the digest.
static void test_half_conversions(std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::uint16_t> all(65536);
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<std::uint16_t>(i);
  std::vector<std::uint16_t> pairs, triples;
  for (std::uint16_t sign : {0x0000, 0x8000}) {
    for (std::uint16_t h = 0; h < 0x7bff; ++h) {
      pairs.push_back(static_cast<std::uint16_t>(sign | h));
      pairs.push_back(static_cast<std::uint16_t>(sign | (h + 1)));
    }
  }
  while (triples.size() < 3 * 40000) {
    const auto h = static_cast<std::uint16_t>(rng() & 0xffffu);
    if ((h & 0x7c00u) != 0x7c00u) triples.push_back(h);  // finite (no inf - inf)
  }
  const auto to_float = [](std::uint16_t h) {
    const double v = half_value(h);
    if (!std::isnan(v)) return static_cast<float>(v);
    const std::uint32_t u = (static_cast<std::uint32_t>(h & 0x8000u) << 16) | 0x7fc00000u | (static_cast<std::uint32_t>(h & 0x3ffu) << 13);
    float f;
    std::memcpy(&f, &u, 4);
    return f;  // quiet, payload kept (as every conversion here does)
  };
  struct Case {
    const char* what;
    const std::vector<std::uint16_t>* x;
    int k;     // window width = stride
    bool max;
  };
  const Case cases[] = {{"half max 1x1", &all, 1, true},
                        {"half avg 1x1", &all, 1, false},
                        {"half avg pairs", &pairs, 2, false},
                        {"half avg triples", &triples, 3, false}};
  for (const Case& cs : cases) {
    const std::size_t nwin = cs.x->size() / static_cast<std::size_t>(cs.k);
    std::vector<std::uint16_t> want(nwin);
    for (std::size_t i = 0; i < nwin; ++i) {
      const std::uint16_t* w = cs.x->data() + i * static_cast<std::size_t>(cs.k);
      if (cs.max) {
        want[i] = ((w[0] & 0x7c00u) == 0x7c00u && (w[0] & 0x3ffu)) ? static_cast<std::uint16_t>(w[0] | 0x200u) : w[0];
      } else {
        float s = 0.0f + to_float(w[0]);
        for (int t = 1; t < cs.k; ++t) s = s + to_float(w[t]);
        want[i] = ref_half(s / static_cast<float>(cs.k));
      }
    }
    for (int64_t C : {16, 19, 37}) {  // NEON: whole vectors; a last vector of 3; of 1 (37 = 32 + 4 + 1)
      // Window i's taps at pixels k*(i / C) .. +k-1 of one row, channel i % C; zeros after the end.
      const int64_t OW = (static_cast<int64_t>(nwin) + C - 1) / C, W = OW * cs.k;
      std::vector<std::uint16_t> x(static_cast<std::size_t>(W * C), 0), ref(static_cast<std::size_t>(OW * C), 0);
      for (std::size_t i = 0; i < nwin; ++i) {
        const int64_t px = static_cast<int64_t>(i) / C, c = static_cast<int64_t>(i) % C;
        for (int t = 0; t < cs.k; ++t) {
          x[static_cast<std::size_t>((px * cs.k + t) * C + c)] = (*cs.x)[i * static_cast<std::size_t>(cs.k) + static_cast<std::size_t>(t)];
        }
        ref[static_cast<std::size_t>(px * C + c)] = want[i];
      }
      for (std::size_t i = nwin; i < ref.size(); ++i) ref[i] = 0;  // windows of +0 (max and average)
      const Geometry g = make_geometry(1, 1, W, C, ax(1, 1), ax(cs.k, cs.k), false, true);
      InputView in;
      in.data = x.data();
      in.stride_n = in.stride_h = W * C * 2;
      for (int li = 0; li < kLevels; ++li) {
        const auto level = static_cast<SimdLevel>(li);
        if (!simd_level_supported(level)) continue;
        set_simd_level(level);
        std::vector<std::uint16_t> out(ref.size(), 0x1234);
        if (cs.max) {
          max_pool2d(DType::f16, g, in, out.data(), nullptr);
        } else {
          avg_pool2d(DType::f16, DType::f16, g, in, out.data(), true, 0);
        }
        if (level == SimdLevel::baseline) digest(out, cs.what, C);
        std::size_t bad = out.size();
        for (std::size_t i = 0; i < out.size() && bad == out.size(); ++i) {
          if (out[i] != ref[i]) bad = i;
        }
        CHECK(bad == out.size());
        if (bad != out.size()) {
          std::fprintf(stderr, "  %s: level %s, C=%lld: output %zu is %04x, want %04x\n", cs.what, simd_level_name(level),
                       static_cast<long long>(C), bad, out[bad], ref[bad]);
        }
      }
    }
  }
  set_simd_level(best_simd_level());
}

// The reference itself must not be contracted: a*b + c computed with two roundings, checked
// on a case where a fused multiply-add gives another answer. (If this fails, the compiler
// flags of this file, not the kernels, allow contraction.)
static void test_no_contraction_here() {
  // (1 + 2^-12)^2 = 1 + 2^-11 + 2^-24 rounds (a tie, to even) to 1 + 2^-11 in float32.
  volatile float a = 1.0f + std::ldexp(1.0f, -12), c = -(1.0f + std::ldexp(1.0f, -11));
  const float fa = a, fc = c;
  const float separate = fa * fa + fc;  // 0 with two roundings
  const float fused = std::fma(fa, fa, fc);  // 2^-24 with one
  CHECK(fused == std::ldexp(1.0f, -24));
  CHECK(separate == 0.0f);
}

int main() {
  test_no_contraction_here();
  test_max_semantics<float>(20261205);
  test_max_semantics<double>(20261206);
  test_signed_zero_pairs();
  test_avg_order(20261207);
  test_half_conversions(20261208);
  std::printf("nhwcpool float semantics: %d checks, %d failed (best SIMD %s)\n", g_checks, g_failures,
              simd_level_name(best_simd_level()));
  std::printf("baseline output digest: %016llx\n", static_cast<unsigned long long>(g_digest));
  return g_failures == 0 ? 0 : 1;
}
