// The threading layer: OpenMP when the compiler has it, serial otherwise.
#pragma once
#include <cstdint>

namespace nhwcpool {

// Process-wide thread count. Stored in an atomic and passed as num_threads() to every
// parallel region, so it applies to calls from every Python thread (OpenMP's own setting
// is per calling thread).
void set_num_threads(int n);
int get_num_threads();
bool openmp_enabled();

// Splits [0, n) into at most `threads` contiguous chunks and calls fn(ctx, begin, end) once
// per chunk, in parallel. `work` is a rough cost of the whole call; small calls run serially
// so tiny inputs don't pay for waking a thread team.
using RangeFn = void (*)(const void* ctx, std::int64_t begin, std::int64_t end);
void parallel_for(std::int64_t n, std::int64_t work, int threads, RangeFn fn, const void* ctx);

}  // namespace nhwcpool
