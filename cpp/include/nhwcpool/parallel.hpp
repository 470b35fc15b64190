// The threading layer: OpenMP when the compiler has it, else a small persistent std::thread
// pool, else (a platform without threads, or NHWCPOOL_THREAD_POOL=OFF) serial.
#pragma once
#include <cstdint>

namespace nhwcpool {

// Process-wide thread count. Stored in an atomic and passed as num_threads() to every
// parallel region, so it applies to calls from every Python thread (OpenMP's own setting
// is per calling thread).
void set_num_threads(int n);
int get_num_threads();
bool openmp_enabled();

// Which backend parallel_for runs on.
enum class ThreadingBackend { serial, openmp, thread_pool };
ThreadingBackend threading_backend();
// "serial", "OpenMP" or "std::thread pool" (as show_config() prints it).
const char* threading_backend_name(ThreadingBackend backend);

// Splits [0, n) into at most `threads` contiguous chunks and calls fn(ctx, begin, end) once
// per chunk, in parallel. `work` is a rough cost of the whole call; small calls run serially
// so tiny inputs don't pay for waking a thread team. The chunk boundaries depend only on n and
// the team size, never on the backend or on which thread runs a chunk. An exception thrown by
// a chunk is rethrown here, in the caller (the first one if several chunks throw).
using RangeFn = void (*)(const void* ctx, std::int64_t begin, std::int64_t end);
void parallel_for(std::int64_t n, std::int64_t work, int threads, RangeFn fn, const void* ctx);

// The largest team parallel_for starts: 4x the processors available to the process.
std::int64_t max_team_size();

}  // namespace nhwcpool
