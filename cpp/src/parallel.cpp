#include "nhwcpool/parallel.hpp"

#include <atomic>
#include <exception>

#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#define NHWCPOOL_HAVE_ATFORK 1
#endif

namespace nhwcpool {
namespace {
std::atomic<int> g_threads{1};
// Set in a child created by fork(): GCC's libgomp cannot start a thread team there once the
// parent has used one (the child hangs; GCC bug 60035, LightGBM#4751), so the child runs serial.
std::atomic<bool> g_forked_child{false};

#ifdef NHWCPOOL_HAVE_ATFORK
void on_fork_child() { g_forked_child.store(true, std::memory_order_relaxed); }
[[maybe_unused]] const bool g_atfork_registered = [] { return pthread_atfork(nullptr, nullptr, &on_fork_child) == 0; }();
#endif
// Below this much work (elements touched) a call runs on the calling thread only.
constexpr std::int64_t kSerialWork = std::int64_t{1} << 16;
}  // namespace

void set_num_threads(int n) { g_threads.store(n < 1 ? 1 : n, std::memory_order_relaxed); }
int get_num_threads() { return g_threads.load(std::memory_order_relaxed); }

bool openmp_enabled() {
#ifdef _OPENMP
  return true;
#else
  return false;
#endif
}

void parallel_for(std::int64_t n, std::int64_t work, int threads, RangeFn fn, const void* ctx) {
  if (n <= 0) return;
  std::int64_t nt = threads < 1 ? 1 : threads;
  if (nt > n) nt = n;
#ifdef _OPENMP
  // libgomp treats a failed thread creation as fatal (exit or crash, BUG-7: ~32,700 threads),
  // so the team is capped at 4x the processors available, whatever set_num_threads asked for.
  // Computed once: omp_get_num_procs() queries the affinity mask (a system call) each time.
  static const std::int64_t cap = 4 * static_cast<std::int64_t>(omp_get_num_procs() > 0 ? omp_get_num_procs() : 1);
  if (nt > cap) nt = cap;
#endif
  if (work < kSerialWork || g_forked_child.load(std::memory_order_relaxed)) nt = 1;
#ifdef _OPENMP
  if (nt > 1) {
    // MSVC's OpenMP 2.0 wants a signed loop index in canonical form.
    const int team = static_cast<int>(nt);
    // An exception must not leave an OpenMP region (that terminates the process): each chunk
    // catches it, and the first one is rethrown here (a failed allocation -> MemoryError).
    std::exception_ptr error;
    std::atomic<bool> failed{false};
#pragma omp parallel for num_threads(team) schedule(static, 1)
    for (int t = 0; t < team; ++t) {
      const std::int64_t b = n * t / team;
      const std::int64_t e = n * (t + 1) / team;
      try {
        if (b < e) fn(ctx, b, e);
      } catch (...) {
        if (!failed.exchange(true)) error = std::current_exception();
      }
    }
    if (error) std::rethrow_exception(error);
    return;
  }
#endif
  fn(ctx, 0, n);
}

}  // namespace nhwcpool
