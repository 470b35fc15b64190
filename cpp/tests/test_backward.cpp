// C++ unit tests of the backward kernels, without Python: cover tables, max/avg gradients and
// unpooling at every SIMD level and several thread counts against naive scatter loops (the
// order PyTorch adds terms in: outputs row-major), and bad indices. Built with
// -DNHWCPOOL_BUILD_TESTS=ON as nhwcpool_cpp_backward_tests.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <stdexcept>
#include <vector>

#include "nhwcpool/backward.hpp"
#include "nhwcpool/kernels.hpp"
#include "nhwcpool/parallel.hpp"
#include "nhwcpool/shape.hpp"

using namespace nhwcpool;
using std::int64_t;

static int g_failures = 0;
static int g_checks = 0;

#define CHECK(cond)                                                                 \
  do {                                                                              \
    ++g_checks;                                                                     \
    if (!(cond)) {                                                                  \
      ++g_failures;                                                                 \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                               \
  } while (0)

static AxisParams ax(int64_t k, int64_t s, int64_t pb = 0, int64_t pe = 0, int64_t d = 1) {
  AxisParams p;
  p.kernel = k; p.stride = s; p.dilation = d; p.pad_begin = pb; p.pad_end = pe;
  return p;
}

static void test_cover_tables() {
  // 3/s1/p1 over 5: input 0 is covered by outputs 0, 1; input 2 by 1, 2, 3; input 4 by 3, 4.
  const AxisParams p = ax(3, 1, 1, 1);
  const int64_t out = output_size(5, p, false, true, "");
  const AxisTable t = make_axis_table(5, out, p);
  const CoverTable c = make_cover_table(5, t, 1);
  CHECK(c.offsets[0] == 0 && c.offsets[1] == 2 && c.offsets[5] == 13);
  CHECK(c.outputs[0] == 0 && c.outputs[1] == 1);
  CHECK(c.outputs[c.offsets[2]] == 1 && c.outputs[c.offsets[2] + 2] == 3);
  CHECK(c.most == 3 && c.span == 3);
  // 2/s3 over 8: inputs 2 and 5 are covered by nothing.
  const AxisParams q = ax(2, 3);
  const AxisTable t2 = make_axis_table(8, output_size(8, q, false, true, ""), q);
  const CoverTable c2 = make_cover_table(8, t2, 1);
  CHECK(c2.offsets[3] - c2.offsets[2] == 0 && c2.offsets[6] - c2.offsets[5] == 0 && c2.most == 1);
  // dilation 2, kernel 3 over 7 (3 outputs): input 4 is tap 2 of output 0 and tap 1 of output 2.
  const AxisParams r = ax(3, 1, 0, 0, 2);
  const AxisTable t3 = make_axis_table(7, output_size(7, r, false, true, ""), r);
  const CoverTable c3 = make_cover_table(7, t3, 2);
  CHECK(c3.offsets[5] - c3.offsets[4] == 2 && c3.outputs[c3.offsets[4]] == 0 && c3.outputs[c3.offsets[4] + 1] == 2);
  CHECK(c3.most == 2 && c3.span == 3);
}

// One configuration at every SIMD level and thread count, float32, against naive loops.
static void check_case(std::mt19937& rng, int64_t N, int64_t H, int64_t W, int64_t C, const AxisParams& h,
                       const AxisParams& w, bool ceil_mode, bool include) {
  const Geometry g = make_geometry(N, H, W, C, h, w, ceil_mode, true);
  std::uniform_int_distribution<int> small(-3, 3);
  std::normal_distribution<float> normal;
  std::vector<float> x(static_cast<std::size_t>(N * H * W * C)), go(static_cast<std::size_t>(N * g.OH * g.OW * C));
  for (auto& v : x) v = static_cast<float>(small(rng));  // ties
  for (auto& v : go) v = normal(rng);
  std::vector<float> y(go.size());
  std::vector<int64_t> idx(go.size());
  InputView in;
  in.data = x.data();
  in.stride_n = H * W * C * 4;
  in.stride_h = W * C * 4;
  max_pool2d(DType::f32, g, in, y.data(), idx.data());
  // naive: scatter in output order
  std::vector<float> want_max(x.size(), 0.0f), want_avg(x.size(), 0.0f);
  const AxisTable ht = make_axis_table(H, g.OH, h), wt = make_axis_table(W, g.OW, w);
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t oh = 0; oh < g.OH; ++oh) {
      for (int64_t ow = 0; ow < g.OW; ++ow) {
        const auto oi = static_cast<std::size_t>(oh), wi = static_cast<std::size_t>(ow);
        const int64_t div = include ? ht.padded_count[oi] * wt.padded_count[wi] : ht.count[oi] * wt.count[wi];
        for (int64_t c = 0; c < C; ++c) {
          const std::size_t o = static_cast<std::size_t>(((n * g.OH + oh) * g.OW + ow) * C + c);
          want_max[static_cast<std::size_t>((n * H * W + idx[o]) * C + c)] += go[o];
          const float q = go[o] / static_cast<float>(div);
          if (h.dilation == 1 && w.dilation == 1) {
            for (int64_t i = 0; i < ht.count[oi]; ++i) {
              for (int64_t j = 0; j < wt.count[wi]; ++j) {
                want_avg[static_cast<std::size_t>(((n * H + ht.first[oi] + i) * W + wt.first[wi] + j) * C + c)] += q;
              }
            }
          }
        }
      }
    }
  }
  std::vector<float> got(x.size()), un(x.size());
  for (int level = 0; level < 3; ++level) {
    const auto lv = static_cast<SimdLevel>(level);
    if (!simd_level_supported(lv)) continue;
    set_simd_level(lv);
    for (int threads : {1, 2, 3}) {
      set_num_threads(threads);
      std::fill(got.begin(), got.end(), 99.0f);
      max_pool2d_backward(DType::f32, N, H, W, C, g.OH, g.OW, go.data(), idx.data(), got.data());
      CHECK(std::memcmp(got.data(), want_max.data(), got.size() * 4) == 0);
      max_unpool2d(DType::f32, N, H, W, C, g.OH, g.OW, y.data(), idx.data(), un.data());
      for (std::size_t i = 0; i < un.size(); ++i) {
        if (un[i] != 0.0f) CHECK(un[i] == x[i]);  // every nonzero sits where its maximum was
      }
      if (h.dilation == 1 && w.dilation == 1) {
        std::fill(got.begin(), got.end(), 99.0f);
        avg_pool2d_backward(DType::f32, g, go.data(), got.data(), include, 0);
        CHECK(std::memcmp(got.data(), want_avg.data(), got.size() * 4) == 0);
      }
    }
  }
  set_num_threads(1);
  set_simd_level(best_simd_level());
}

static void test_gradients(std::mt19937& rng) {
  check_case(rng, 2, 9, 11, 5, ax(2, 2), ax(2, 2), false, true);
  check_case(rng, 2, 9, 11, 37, ax(3, 2, 1, 1), ax(3, 2, 1, 1), true, true);
  check_case(rng, 1, 12, 10, 70, ax(3, 1, 1, 1), ax(3, 1, 1, 1), false, false);
  check_case(rng, 3, 8, 7, 3, ax(3, 2, 1, 0), ax(2, 1, 0, 1), true, false);  // asymmetric
  check_case(rng, 2, 9, 9, 4, ax(2, 1, 0, 0, 2), ax(3, 2, 1, 1, 2), false, true);  // dilated (max only)
  check_case(rng, 1, 40, 30, 64, ax(5, 1, 2, 2), ax(5, 1, 2, 2), false, true);  // parallel, chunked
}

static void test_bad_indices() {
  std::vector<float> go(8, 1.0f), gi(16, 0.0f);
  std::vector<int64_t> idx(8, 3);
  for (int64_t bad : {int64_t{-1}, int64_t{16}, INT64_MIN, INT64_MAX}) {
    idx[5] = bad;
    bool thrown = false;
    try {
      max_pool2d_backward(DType::f32, 1, 4, 4, 1, 2, 4, go.data(), idx.data(), gi.data());
    } catch (const std::invalid_argument& e) {
      thrown = std::strstr(e.what(), "indices must lie in [0, H*W) = [0, 16)") != nullptr;
    }
    CHECK(thrown);
  }
}

int main() {
  std::mt19937 rng(4321);
  test_cover_tables();
  test_gradients(rng);
  test_bad_indices();
  std::printf("nhwcpool C++ backward: %d checks, %d failed\n", g_checks, g_failures);
  return g_failures == 0 ? 0 : 1;
}
