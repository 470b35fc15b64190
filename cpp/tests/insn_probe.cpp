// One pooling call on one thread, shape from the command line, for counting instructions per
// output element under an emulator (tools/aarch64.sh --counts: qemu-aarch64 counts every
// instruction it executes; the call is repeated R times, and runs with two values of R are
// subtracted, so start-up, filling the input and the checksum cancel). Not a test: it prints
// the output count and a checksum.
//   insn_probe max|avg|gavg|hmax|havg N H W C k s p R     (hmax, havg: float16 in and out)
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "nhwcpool/kernels.hpp"
#include "nhwcpool/parallel.hpp"
#include "nhwcpool/shape.hpp"

using namespace nhwcpool;
using std::int64_t;

int main(int argc, char** argv) {
  if (argc != 10) {
    std::fprintf(stderr, "usage: %s max|avg|gavg|hmax|havg N H W C k s p R\n", argv[0]);
    return 2;
  }
  const char* op = argv[1];
  const int64_t N = std::atoll(argv[2]), H = std::atoll(argv[3]), W = std::atoll(argv[4]), C = std::atoll(argv[5]);
  const int64_t k = std::atoll(argv[6]), s = std::atoll(argv[7]), p = std::atoll(argv[8]);
  const int64_t reps = std::atoll(argv[9]);
  AxisParams ah, aw;
  const bool global = std::strcmp(op, "gavg") == 0;
  const bool half = op[0] == 'h';
  if (half) ++op;  // "max" or "avg"
  ah.kernel = global ? H : k;
  aw.kernel = global ? W : k;
  ah.stride = aw.stride = global ? 1 : s;
  ah.dilation = aw.dilation = 1;
  ah.pad_begin = ah.pad_end = aw.pad_begin = aw.pad_end = global ? 0 : p;
  const Geometry g = make_geometry(N, H, W, C, ah, aw, false, true);
  std::vector<float> x(static_cast<std::size_t>(N * H * W * C));
  std::uint32_t r = 12345;
  for (auto& v : x) {
    r = r * 1664525u + 1013904223u;
    v = static_cast<float>(static_cast<int>(r >> 9) - (1 << 22)) / 4096.0f;
  }
  // float16: random normal halves of magnitude in [2^-7, 2) (no inf or NaN).
  std::vector<std::uint16_t> xh(half ? x.size() : 0);
  for (auto& h : xh) {
    r = r * 1664525u + 1013904223u;
    h = static_cast<std::uint16_t>(((r >> 16) & 0x9fffu) + 0x2000u);  // sign, exponent field 8 .. 15, fraction
  }
  const int64_t size = half ? 2 : 4;
  const DType dt = half ? DType::f16 : DType::f32;
  InputView in;
  in.data = half ? static_cast<const void*>(xh.data()) : static_cast<const void*>(x.data());
  in.stride_n = H * W * C * size;
  in.stride_h = W * C * size;
  set_num_threads(1);
  const std::size_t nout = static_cast<std::size_t>(N * g.OH * g.OW * C);
  std::vector<float> out(half ? 0 : nout);
  std::vector<std::uint16_t> outh(half ? nout : 0);
  void* o = half ? static_cast<void*>(outh.data()) : static_cast<void*>(out.data());
  for (int64_t rep = 0; rep < reps; ++rep) {
    if (std::strcmp(op, "max") == 0) {
      max_pool2d(dt, g, in, o, nullptr);
    } else {
      avg_pool2d(dt, dt, g, in, o, false, 0);
    }
  }
  double sum = 0;
  for (float v : out) sum += v;
  for (std::uint16_t h : outh) sum += h;
  std::printf("outputs %lld checksum %.6g\n", static_cast<long long>(nout), sum);
  return 0;
}
