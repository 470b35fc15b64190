// C++ tests of the threading layer (parallel_for) under whichever backend is built: OpenMP,
// the std::thread pool (NHWCPOOL_OPENMP=OFF) or serial. Chunk boundaries, exceptions, nested
// calls, many callers at once, and a forked child. Built with NHWCPOOL_BUILD_TESTS=ON.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "nhwcpool/parallel.hpp"

#if defined(__unix__) || defined(__APPLE__)
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#define NHWCPOOL_TEST_FORK 1
#endif

using namespace nhwcpool;
using std::int64_t;

static std::atomic<int> g_failures{0};
static std::atomic<int> g_checks{0};

#define CHECK(cond)                                                                  \
  do {                                                                               \
    ++g_checks;                                                                      \
    if (!(cond)) {                                                                   \
      ++g_failures;                                                                  \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                                \
  } while (0)

constexpr int64_t kBig = int64_t{1} << 40;  // a `work` past the serial threshold

struct Record {
  std::mutex mu;
  std::vector<std::pair<int64_t, int64_t>> chunks;
  std::atomic<int64_t> covered{0};
  int64_t throw_at = -1;
  bool bad_alloc = false;
  int nested_threads = 0;
  std::atomic<int64_t> nested_covered{0};
};

static void add_one(const void* ctx, int64_t b, int64_t e) {
  static_cast<std::atomic<int64_t>*>(const_cast<void*>(ctx))->fetch_add(e - b);
}

static void record(const void* ctx, int64_t b, int64_t e) {
  auto& r = *static_cast<Record*>(const_cast<void*>(ctx));
  {
    std::lock_guard<std::mutex> lk(r.mu);
    r.chunks.emplace_back(b, e);
  }
  r.covered += e - b;
  if (r.nested_threads > 0) parallel_for(1000, kBig, r.nested_threads, &add_one, &r.nested_covered);
  if (r.throw_at >= b && r.throw_at < e) {
    if (r.bad_alloc) throw std::bad_alloc();
    throw std::runtime_error("chunk " + std::to_string(b));
  }
}

// The chunks are [n*t/T, n*(t+1)/T) for T = min(threads, n, 4 x processors), whatever backend.
static void test_chunks() {
  for (int64_t n : {1, 2, 3, 7, 64, 1000, 4099}) {
    for (int threads : {1, 2, 3, 4, 7, 16, 1000}) {
      Record r;
      parallel_for(n, kBig, threads, &record, &r);
      int64_t team = threads < n ? threads : n;
      if (team > max_team_size()) team = max_team_size();
      std::vector<std::pair<int64_t, int64_t>> want;
      if (team == 1) {
        want.emplace_back(0, n);
      } else {
        for (int64_t t = 0; t < team; ++t) {
          if (n * t / team < n * (t + 1) / team) want.emplace_back(n * t / team, n * (t + 1) / team);
        }
      }
      std::sort(r.chunks.begin(), r.chunks.end());
      CHECK(r.chunks == want);
      CHECK(r.covered == n);
    }
  }
  // Small work: one call on the caller.
  Record r;
  parallel_for(100, 10, 4, &record, &r);
  CHECK((r.chunks.size() == 1 && r.chunks[0] == std::make_pair<int64_t, int64_t>(0, 100)));
  Record none;
  parallel_for(0, kBig, 4, &record, &none);
  CHECK(none.chunks.empty());
}

static void test_exceptions() {
  for (int threads : {1, 2, 4}) {
    for (int64_t at : {0, 50, 99}) {
      for (bool bad_alloc : {false, true}) {
        Record r;
        r.throw_at = at;
        r.bad_alloc = bad_alloc;
        bool runtime = false, alloc = false;
        try {
          parallel_for(100, kBig, threads, &record, &r);
        } catch (const std::bad_alloc&) {
          alloc = true;
        } catch (const std::runtime_error&) {
          runtime = true;
        }
        CHECK(alloc == bad_alloc);
        CHECK(runtime == !bad_alloc);
        // and the layer still works afterwards
        Record ok;
        parallel_for(100, kBig, threads, &record, &ok);
        CHECK(ok.covered == 100);
      }
    }
  }
}

static void test_nested() {
  for (int threads : {2, 4}) {
    Record r;
    r.nested_threads = threads;
    parallel_for(64, kBig, threads, &record, &r);
    CHECK(r.covered == 64);
    CHECK(r.nested_covered == 1000 * static_cast<int64_t>(r.chunks.size()));
  }
}

static void test_many_callers() {
  std::vector<std::thread> callers;
  std::atomic<int64_t> total{0};
  for (int c = 0; c < 8; ++c) {
    callers.emplace_back([&total, c] {
      for (int rep = 0; rep < 200; ++rep) {
        Record r;
        const int64_t n = 1 + (rep * 37 + c * 11) % 300;
        parallel_for(n, kBig, 1 + (rep + c) % 4, &record, &r);
        CHECK(r.covered == n);
        total += r.covered;
      }
    });
  }
  for (auto& t : callers) t.join();
  CHECK(total > 0);
}

#ifdef NHWCPOOL_TEST_FORK
// A child forked after parallel calls must run parallel_for to the end (in parallel or
// serially, depending on the backend) instead of waiting for the parent's workers.
// NHWCPOOL_TEST_FORK_SERIAL=1 keeps the child's calls on one thread: qemu-user (7.2) aborts on
// its own assertion (qemu_plugin_vcpu_init_hook) when a forked child of a multi-threaded
// program starts a thread, so tools/aarch64.sh sets it for the std::thread pool build.
static void test_fork() {
  const bool serial_child = std::getenv("NHWCPOOL_TEST_FORK_SERIAL") != nullptr;
  Record warm;
  parallel_for(1000, kBig, 4, &record, &warm);
  const pid_t pid = fork();
  if (pid == 0) {
    alarm(20);  // a hang fails the test (SIGALRM) instead of hanging it
    int ok = 1;
    for (int threads : {2, 4, 1, 3}) {
      if (serial_child && threads > 1) continue;
      Record r;
      parallel_for(1000, kBig, threads, &record, &r);
      ok &= r.covered == 1000;
    }
    _exit(ok ? 0 : 3);
  }
  CHECK(pid > 0);
  int status = 0;
  CHECK(waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  Record after;
  parallel_for(1000, kBig, 4, &record, &after);
  CHECK(after.covered == 1000);
}
#endif

int main() {
  test_chunks();
  test_exceptions();
  test_nested();
  test_many_callers();
#ifdef NHWCPOOL_TEST_FORK
  test_fork();
#endif
  std::printf("nhwcpool threading layer (%s, max team %lld): %d checks, %d failed\n",
              threading_backend_name(threading_backend()), static_cast<long long>(max_team_size()),
              g_checks.load(), g_failures.load());
  return g_failures == 0 ? 0 : 1;
}
