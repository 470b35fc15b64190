// Strategy trace for tests (trace.hpp): names always, recording only with
// NHWCPOOL_TRACE_STRATEGIES.
#include "nhwcpool/trace.hpp"

#ifdef NHWCPOOL_TRACE_STRATEGIES
#include <atomic>
#endif

namespace nhwcpool {

const char* strategy_name(Strategy s) {
  static const char* const kNames[] = {
      "rows_vertical", "rows_window",  "rows_shifted", "gather_row",    "gather_fused",  "running_w",
      "running_h",     "running_fused", "slide_cols",  "argmax_flat",   "argmax_gather", "argmax_window",
      "slide",         "pixel_runs",   "max_zmm",      "max_h16_bits",  "max_int_zmm",   "avg_zmm",
      "argmax_zmm",    "block",        "argmax_block", "wide",          "wide_f32_groups", "argmax_wide",
      "avg_redo_f64",  "global_avg"};
  static_assert(sizeof(kNames) / sizeof(kNames[0]) == static_cast<int>(Strategy::count), "one name per strategy");
  const int i = static_cast<int>(s);
  return i >= 0 && i < static_cast<int>(Strategy::count) ? kNames[i] : "?";
}

#ifdef NHWCPOOL_TRACE_STRATEGIES
namespace {
std::atomic<std::uint64_t>& trace_bits() {
  static std::atomic<std::uint64_t> bits{0};
  return bits;
}
}  // namespace

void trace_strategy(Strategy s) {
  trace_bits().fetch_or(std::uint64_t{1} << static_cast<int>(s), std::memory_order_relaxed);
}

std::uint64_t take_strategy_trace() { return trace_bits().exchange(0, std::memory_order_relaxed); }
#endif

}  // namespace nhwcpool
