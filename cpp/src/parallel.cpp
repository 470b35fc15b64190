#include "nhwcpool/parallel.hpp"

#include <atomic>
#include <exception>
#include <thread>

#ifdef _OPENMP
#include <omp.h>
#elif defined(NHWCPOOL_THREAD_POOL)
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <new>
#include <system_error>
#endif
#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#define NHWCPOOL_HAVE_ATFORK 1
#endif
#if defined(__linux__)
#include <sched.h>
#endif
#if defined(__x86_64__) || defined(__i386__) || defined(_M_X64) || defined(_M_IX86)
#include <immintrin.h>
#endif

namespace nhwcpool {
namespace {
std::atomic<int> g_threads{1};
// Below this much work (elements touched) a call runs on the calling thread only.
constexpr std::int64_t kSerialWork = std::int64_t{1} << 16;

std::int64_t processors() {
#ifdef _OPENMP
  int p = omp_get_num_procs();  // the affinity mask, as libgomp sees it
#else
  int p = 0;
#if defined(__linux__) && defined(CPU_COUNT)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) p = CPU_COUNT(&set);
#endif
  if (p <= 0) p = static_cast<int>(std::thread::hardware_concurrency());
#endif
  return p > 0 ? p : 1;
}

// The chunks of every backend: chunk t of `team` is [n*t/team, n*(t+1)/team).
inline std::int64_t chunk_begin(std::int64_t n, std::int64_t t, std::int64_t team) { return n * t / team; }

// On one thread, the same chunks in order (an exception ends the call at its chunk).
void run_serial(std::int64_t n, std::int64_t team, RangeFn fn, const void* ctx) {
  for (std::int64_t t = 0; t < team; ++t) {
    const std::int64_t b = chunk_begin(n, t, team);
    const std::int64_t e = chunk_begin(n, t + 1, team);
    if (b < e) fn(ctx, b, e);
  }
}

#ifdef _OPENMP
// Set in a child created by fork(): GCC's libgomp cannot start a thread team there once the
// parent has used one (the child hangs; GCC bug 60035, LightGBM#4751), so the child runs serial.
std::atomic<bool> g_forked_child{false};
#ifdef NHWCPOOL_HAVE_ATFORK
void on_fork_child() { g_forked_child.store(true, std::memory_order_relaxed); }
#endif

void run_team(std::int64_t n, std::int64_t nt, RangeFn fn, const void* ctx) {
  if (g_forked_child.load(std::memory_order_relaxed)) return run_serial(n, nt, fn, ctx);
  // MSVC's OpenMP 2.0 wants a signed loop index in canonical form.
  const int team = static_cast<int>(nt);
  // An exception must not leave an OpenMP region (that terminates the process): each chunk
  // catches it, and the first one is rethrown here (a failed allocation -> MemoryError).
  std::exception_ptr error;
  std::atomic<bool> failed{false};
#pragma omp parallel for num_threads(team) schedule(static, 1)
  for (int t = 0; t < team; ++t) {
    const std::int64_t b = chunk_begin(n, t, team);
    const std::int64_t e = chunk_begin(n, t + 1, team);
    try {
      if (b < e) fn(ctx, b, e);
    } catch (...) {
      if (!failed.exchange(true)) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
}

#elif defined(NHWCPOOL_THREAD_POOL)
// ---------------------------------------------------------------------------------------------
// The std::thread pool (no OpenMP: macOS wheels, compilers without it, NHWCPOOL_OPENMP=OFF).
//
// * One call at a time owns the pool (g_busy). A call that finds it owned (another Python
//   thread pooling at the same moment) or that comes from inside a chunk (t_in_chunk) runs its
//   chunks on its own thread, in order: nothing waits for the pool, so nothing can deadlock.
// * The owner publishes a Job (on its stack) and works on it too; workers and owner claim
//   chunks from one atomic counter, so the chunk boundaries are exactly OpenMP's
//   schedule(static, 1) ones and the results are the same bit for bit.
// * Workers spin for a short while (kSpin) after a job, then park on a condition variable.
// * Workers are started on demand (team - 1 of them, up to 4x the processors) and never
//   stopped: the pool is allocated once and never destroyed, so process exit neither joins
//   (no hang when a worker is mid-chunk or exit() comes from an odd thread) nor runs a
//   destructor that races with static destruction; parked workers end with the process.
// * fork(): the child has none of the parent's workers, and the parent's mutexes may have been
//   held by them. The child drops (leaks) the inherited pool and starts a new one lazily on its
//   first parallel call, so a forked child runs in parallel too.
// The owner-participates, claim-by-counter design is the usual one of OpenMP runtimes and of
// PyTorch's and XNNPACK's (pthreadpool) intra-op pools.
constexpr auto kSpin = std::chrono::microseconds(100);

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__) || defined(_M_X64) || defined(_M_IX86)
  _mm_pause();
#elif defined(__aarch64__) && (defined(__GNUC__) || defined(__clang__))
  __asm__ __volatile__("yield" ::: "memory");
#endif
}

// Spins until pred() or kSpin has passed; true if pred() held.
template <class Pred>
bool spin_until(Pred pred) {
  const auto until = std::chrono::steady_clock::now() + kSpin;
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (pred()) return true;
      cpu_relax();
    }
    if (std::chrono::steady_clock::now() >= until) return pred();
  }
}

struct Job {
  RangeFn fn;
  const void* ctx;
  std::int64_t n;
  std::int64_t team;
  std::atomic<std::int64_t> next{0};  // the next chunk to claim
  std::atomic<std::int64_t> refs{0};  // workers holding this job (changed under Pool::mu)
  std::atomic<bool> failed{false};
  std::exception_ptr error;           // set by the first chunk that throws
};

thread_local bool t_in_chunk = false;

void run_chunks(Job& j) {
  const bool outer = t_in_chunk;
  t_in_chunk = true;
  for (;;) {
    const std::int64_t t = j.next.fetch_add(1, std::memory_order_relaxed);
    if (t >= j.team) break;
    if (j.failed.load(std::memory_order_relaxed)) continue;  // the call fails: skip the rest
    const std::int64_t b = chunk_begin(j.n, t, j.team);
    const std::int64_t e = chunk_begin(j.n, t + 1, j.team);
    try {
      if (b < e) j.fn(j.ctx, b, e);
    } catch (...) {
      if (!j.failed.exchange(true)) j.error = std::current_exception();
    }
  }
  t_in_chunk = outer;
}

struct Pool {
  std::mutex mu;
  std::condition_variable work_cv;  // workers park here
  std::condition_variable done_cv;  // the owner waits here for the last worker
  std::atomic<std::uint64_t> generation{0};  // bumped (under mu) for every published job
  Job* job = nullptr;                        // the open job, under mu
  std::int64_t workers = 0;                  // started so far (touched by the owner only)
  bool spawn_failed = false;

  void worker() {
    std::uint64_t seen = 0;
    for (;;) {
      spin_until([&] { return generation.load(std::memory_order_acquire) != seen; });
      Job* j;
      {
        std::unique_lock<std::mutex> lk(mu);
        work_cv.wait(lk, [&] { return generation.load(std::memory_order_relaxed) != seen; });
        seen = generation.load(std::memory_order_relaxed);
        j = job;
        if (j == nullptr) continue;  // already closed
        j->refs.fetch_add(1, std::memory_order_relaxed);
      }
      run_chunks(*j);
      bool last;
      {
        std::lock_guard<std::mutex> lk(mu);
        last = j->refs.fetch_sub(1, std::memory_order_acq_rel) == 1;
      }
      // (j may be gone from here on: only the pool is touched.)
      if (last) done_cv.notify_all();
    }
  }

  void grow(std::int64_t want) {
    while (workers < want && !spawn_failed) {
      try {
        std::thread([this] { worker(); }).detach();
        ++workers;
      } catch (const std::system_error&) {
        spawn_failed = true;  // too many threads: the owner and the workers so far do the work
      } catch (const std::bad_alloc&) {
        spawn_failed = true;
      }
    }
  }

  void run(Job& j) {
    grow(j.team - 1);
    {
      std::lock_guard<std::mutex> lk(mu);
      job = &j;
      generation.fetch_add(1, std::memory_order_release);
    }
    // Wake just enough parked workers; spinning ones see the generation change by themselves.
    if (j.team - 1 >= workers) {
      work_cv.notify_all();
    } else {
      for (std::int64_t k = 1; k < j.team; ++k) work_cv.notify_one();
    }
    run_chunks(j);
    {
      std::lock_guard<std::mutex> lk(mu);
      job = nullptr;  // every chunk is claimed: no worker may join any more
    }
    if (!spin_until([&] { return j.refs.load(std::memory_order_acquire) == 0; })) {
      std::unique_lock<std::mutex> lk(mu);
      done_cv.wait(lk, [&] { return j.refs.load(std::memory_order_acquire) == 0; });
    }
  }
};

std::atomic<bool> g_busy{false};          // a call owns the pool
std::atomic<Pool*> g_pool{nullptr};       // created by the first owner; never deleted

#ifdef NHWCPOOL_HAVE_ATFORK
void on_fork_child() {
  // Only the forking thread exists in the child: forget the parent's pool (its workers are
  // gone, its mutex may be locked for ever) and let the next call start a new one.
  g_pool.store(nullptr, std::memory_order_relaxed);
  g_busy.store(false, std::memory_order_relaxed);
}
#endif

void run_team(std::int64_t n, std::int64_t nt, RangeFn fn, const void* ctx) {
  if (t_in_chunk || g_busy.exchange(true, std::memory_order_acquire)) return run_serial(n, nt, fn, ctx);
  struct Release {
    ~Release() { g_busy.store(false, std::memory_order_release); }
  } release;
  Pool* pool = g_pool.load(std::memory_order_relaxed);
  if (pool == nullptr) {
    pool = new (std::nothrow) Pool;
    if (pool == nullptr) return run_serial(n, nt, fn, ctx);
    g_pool.store(pool, std::memory_order_relaxed);
  }
  Job j;
  j.fn = fn;
  j.ctx = ctx;
  j.n = n;
  j.team = nt;
  pool->run(j);
  if (j.error) std::rethrow_exception(j.error);
}

#else
// Serial backend: the same chunks, in order.
void run_team(std::int64_t n, std::int64_t nt, RangeFn fn, const void* ctx) { run_serial(n, nt, fn, ctx); }
#endif

#if defined(NHWCPOOL_HAVE_ATFORK) && (defined(_OPENMP) || defined(NHWCPOOL_THREAD_POOL))
[[maybe_unused]] const bool g_atfork_registered = [] { return pthread_atfork(nullptr, nullptr, &on_fork_child) == 0; }();
#endif
}  // namespace

void set_num_threads(int n) { g_threads.store(n < 1 ? 1 : n, std::memory_order_relaxed); }
int get_num_threads() { return g_threads.load(std::memory_order_relaxed); }

bool openmp_enabled() { return threading_backend() == ThreadingBackend::openmp; }

ThreadingBackend threading_backend() {
#ifdef _OPENMP
  return ThreadingBackend::openmp;
#elif defined(NHWCPOOL_THREAD_POOL)
  return ThreadingBackend::thread_pool;
#else
  return ThreadingBackend::serial;
#endif
}

const char* threading_backend_name(ThreadingBackend backend) {
  switch (backend) {
    case ThreadingBackend::openmp: return "OpenMP";
    case ThreadingBackend::thread_pool: return "std::thread pool";
    case ThreadingBackend::serial: break;
  }
  return "serial";
}

std::int64_t max_team_size() {
  // libgomp treats a failed thread creation as fatal (exit or crash, BUG-7: ~32,700 threads),
  // so the team is capped at 4x the processors available, whatever set_num_threads asked for;
  // the std::thread pool keeps the same cap. Computed once: the affinity mask is a system call.
  static const std::int64_t cap = 4 * processors();
  return cap;
}

void parallel_for(std::int64_t n, std::int64_t work, int threads, RangeFn fn, const void* ctx) {
  if (n <= 0) return;
  std::int64_t nt = threads < 1 ? 1 : threads;
  if (nt > n) nt = n;
  if (nt > 1 && nt > max_team_size()) nt = max_team_size();
  if (work < kSerialWork) nt = 1;
  if (nt == 1) return fn(ctx, 0, n);
  run_team(n, nt, fn, ctx);
}

}  // namespace nhwcpool
