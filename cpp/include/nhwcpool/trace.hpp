// Strategy trace, for tests: which kernel strategies a call ran (docs/architecture.md names
// them). Recorded only in builds configured with -DNHWCPOOL_TRACE_STRATEGIES=ON; otherwise
// NHWCPOOL_TRACE(...) expands to nothing and the kernels are compiled exactly as without it.
#pragma once
#include <cstdint>

namespace nhwcpool {

enum class Strategy : int {
  rows_vertical,      // separable: the window's rows reduced into a row buffer (row_passes.hpp)
  rows_window,        // separable: horizontal pass window by window over C (row_passes.hpp)
  rows_shifted,       // separable: small pixels, tap columns as shifted W*C rows (row_passes.hpp)
  gather_row,         // small-C gather over the row buffer (small_c_gather.hpp)
  gather_fused,       // small-C gather straight from the input rows (small_c_gather.hpp)
  running_w,          // running max/sums along W, vhgw_axis (running.hpp)
  running_h,          // running max/sums along H, VerticalVhgw (running_vertical.hpp)
  running_fused,      // both running passes fused per channel vector (running_fused.hpp)
  slide_cols,         // column slide (slide_cols.hpp)
  argmax_flat,        // separable-side argmax, flat branch-free loop (argmax_rows.hpp)
  argmax_gather,      // ... with AVX-512 gathers (argmax_rows.hpp)
  argmax_window,      // separable-side argmax window by window (argmax_rows.hpp)
  slide,              // sliding window in registers (slide.hpp)
  pixel_runs,         // a row's full windows as one run, AVX-512 (fused_zmm.hpp)
  max_zmm,            // fused AVX-512 float32/float16 max block (fused_zmm.hpp)
  max_h16_bits,       // fused AVX-512 float16 max on the bits, kept (fused_zmm.hpp)
  max_int_zmm,        // fused AVX-512 integer max block (fused_zmm.hpp)
  avg_zmm,            // fused AVX-512 average block (fused_zmm.hpp)
  argmax_zmm,         // fused AVX-512 float32 argmax block (direct_argmax.hpp)
  block,              // generic register block, reduce_block (blocks.hpp)
  argmax_block,       // generic argmax register block (direct_argmax.hpp)
  wide,               // taps outer over long channel blocks, reduce_wide (wide.hpp)
  wide_f32_groups,    // ... float32 sums seven taps at a time, AVX2+ (wide.hpp)
  argmax_wide,        // taps-outer argmax (wide.hpp)
  avg_redo_f64,       // a float32-sum average row redone in float64 (divisors.hpp)
  global_avg,         // whole-plane float32/float16 average, (image, channel chunk) tasks (global_avg.hpp)
  count
};

// The name above ("slide", "running_fused", ...), or "?" out of range.
const char* strategy_name(Strategy s);

#ifdef NHWCPOOL_TRACE_STRATEGIES
void trace_strategy(Strategy s);      // records s (any thread)
std::uint64_t take_strategy_trace();  // bit i set: Strategy i ran since the last take; clears
#define NHWCPOOL_TRACE(s) ::nhwcpool::trace_strategy(::nhwcpool::Strategy::s)
#else
#define NHWCPOOL_TRACE(s) ((void)0)
#endif

}  // namespace nhwcpool
