// The entry points of this ISA's namespace (kernels.hpp): max_pool, avg_pool (with the
// accumulator choice), output_offset, transpose.
//
// Part of the per-ISA kernel source: included only by kernels/all.hpp, inside namespace
// nhwcpool::NHWCPOOL_ISA (outside the anonymous namespace), after every other file.

void max_pool(const MaxPoolArgs& a) {
  if (image_max_pool(a)) return;  // 2x2/s2 uint8/uint16 images, C <= 4 (image_forward.hpp)
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

// Accumulators: float16 sums in float32 (float64 if a float64 result is asked for), float32
// in float32 up to 64 cells and float64 beyond, float64 in float64, 8- to 32-bit integers exactly in int64, 64-bit integers in float64
// (as numpy.mean does); the mean is then formed in float64 (float32 for float16).
void avg_pool(const AvgPoolArgs& a) {
  if (image_avg_pool(a)) return;  // 2x2/s2 uint8/uint16 images, C <= 4 (image_forward.hpp)
  if (global_avg(a)) return;      // whole-plane float32/float16 averages (global_avg.hpp)
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
