// Bindings of the threading layer: which backend parallel_for runs on, and a private probe that
// drives parallel_for directly so the tests can check its chunks, its exceptions, nested calls
// and many callers at once under whichever backend (OpenMP, std::thread pool, serial) is built.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "nhwcpool/parallel.hpp"

namespace py = pybind11;
using std::int64_t;

namespace {

struct Probe {
  int threads;
  int64_t throw_at;          // the chunk holding this index throws (-1: none)
  bool bad_alloc;            // throw std::bad_alloc (MemoryError) instead of std::runtime_error
  int64_t nested;            // > 0: each chunk runs parallel_for over this many items inside
  int64_t sleep_us;          // per chunk, so that chunks overlap in time
  std::thread::id caller;
  std::mutex mu;
  std::vector<std::tuple<int64_t, int64_t, bool, int64_t>> chunks;  // begin, end, on caller, inner items
};

void inner_chunk(const void* ctx, int64_t b, int64_t e) {
  // Each inner chunk adds its own length; chunks of one call may run on several threads.
  static_cast<std::atomic<int64_t>*>(const_cast<void*>(ctx))->fetch_add(e - b);
}

void probe_chunk(const void* ctx, int64_t b, int64_t e) {
  auto& p = *static_cast<Probe*>(const_cast<void*>(ctx));
  if (p.sleep_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(p.sleep_us));
  std::atomic<int64_t> inner{0};
  if (p.nested > 0) {
    nhwcpool::parallel_for(p.nested, int64_t{1} << 40, p.threads, &inner_chunk, &inner);
  }
  {
    std::lock_guard<std::mutex> lk(p.mu);
    p.chunks.emplace_back(b, e, std::this_thread::get_id() == p.caller, inner.load());
  }
  if (p.throw_at >= b && p.throw_at < e) {
    if (p.bad_alloc) throw std::bad_alloc();
    throw std::runtime_error("nhwcpool probe: chunk [" + std::to_string(b) + ", " + std::to_string(e) + ") failed");
  }
}

}  // namespace

void bind_threads(py::module_& m) {
  m.def("threading_backend", [] { return std::string(nhwcpool::threading_backend_name(nhwcpool::threading_backend())); });
  m.def("_max_team_size", &nhwcpool::max_team_size);
  m.def(
      "_parallel_probe",
      [](int64_t n, int64_t work, int threads, int64_t throw_at, bool bad_alloc, int64_t nested, int64_t sleep_us) {
        if (threads < 1 || threads > (1 << 16)) throw py::value_error("_parallel_probe: threads must be in [1, 65536]");
        if (n < 0 || n > (int64_t{1} << 20)) throw py::value_error("_parallel_probe: n must be in [0, 2**20]");
        if (nested < 0 || nested > (int64_t{1} << 20)) throw py::value_error("_parallel_probe: nested must be in [0, 2**20]");
        if (sleep_us < 0 || sleep_us > 1000000) throw py::value_error("_parallel_probe: sleep_us must be in [0, 10**6]");
        Probe p{threads, throw_at, bad_alloc, nested, sleep_us, std::this_thread::get_id(), {}, {}};
        {
          py::gil_scoped_release release;
          nhwcpool::parallel_for(n, work, threads, &probe_chunk, &p);
        }
        return p.chunks;
      },
      py::arg("n"), py::arg("work"), py::arg("threads"), py::arg("throw_at") = -1, py::arg("bad_alloc") = false,
      py::arg("nested") = 0, py::arg("sleep_us") = 0);
}
