"""Concurrency: many Python threads, changing thread counts, and fork.

* 10 Python threads call every public function at once on different shapes, dtypes, layouts
  and hyperparameters (including error paths and ``out=``) while another thread keeps
  changing ``set_num_threads`` (1, 2, 3, 4, 7) and reading ``get_num_threads``; every result
  must be bit-identical to the serial (1 thread) result.
* Results are bit-identical whatever the thread count (1, 2, 3, 4, 7, 16), for every
  supported SIMD level.
* fork (multiprocessing's "fork" start method) after a parallel call in the parent: the child
  must be able to pool, in parallel too. The child runs under a timeout so that a hang fails
  the test instead of hanging the suite.

Runs in a few seconds (NHWCPOOL_STRESS_SECONDS sets the threaded phase, default 2).
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import time
import warnings

import nhwcpool
import numpy as np
import pytest

STRESS_SECONDS = float(os.environ.get("NHWCPOOL_STRESS_SECONDS", "2"))
THREAD_COUNTS = (1, 2, 3, 4, 7)
N_WORKERS = 10


def _data(shape, dtype, seed):
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    if dt.kind == "f":
        v = (rng.standard_normal(shape) * 100).astype(dt)
        v.flat[::97] = np.nan
        return v
    info = np.iinfo(dt)
    return rng.integers(info.min, info.max, shape, endpoint=True, dtype=dt)


def _jobs():
    """(name, callable) pairs; large ones are past the parallel threshold (2**16 elements)."""
    j = []
    big_f32 = _data((2, 64, 64, 24), np.float32, 1)  # parallel path, wide pixels
    big_u8 = _data((1, 96, 80, 3), np.uint8, 2)  # parallel path, small C
    f16 = _data((3, 33, 31, 17), np.float16, 3)
    i64 = _data((2, 40, 40, 5), np.int64, 4)
    f64_t = np.asfortranarray(_data((2, 48, 50, 8), np.float64, 5))  # gets copied
    i16_sw = _data((37, 41, 6), np.int16, 6).astype(">i2")  # byte-swapped, 3-D
    u16_2d = _data((70, 90), np.uint16, 7)[::-1, ::2]  # 2-D, negative/odd strides
    i8 = _data((4, 16, 16, 64), np.int8, 8)
    u32 = _data((2, 30, 30, 9), np.uint32, 9)

    j += [
        ("max f32 3/1/1 idx", lambda: nhwcpool.max_pool2d(big_f32, 3, 1, 1, return_indices=True)),
        ("max f32 same dil", lambda: nhwcpool.max_pool2d(big_f32, (3, 2), 2, "same", dilation=2)),
        ("avg f32 ceil", lambda: nhwcpool.avg_pool2d(big_f32, 3, 2, 1, ceil_mode=True)),
        ("max u8 2", lambda: nhwcpool.max_pool2d(big_u8, 2)),
        ("avg u8 int out", lambda: nhwcpool.avg_pool2d(big_u8, 3, 1, 1, dtype=np.uint8)),
        ("avg f16", lambda: nhwcpool.avg_pool2d(f16, (2, 3), (1, 2), count_include_pad=False)),
        ("max f16 idx", lambda: nhwcpool.max_pool2d(f16, 3, 2, 1, ceil_mode=True, return_indices=True)),
        ("avg i64", lambda: nhwcpool.avg_pool2d(i64, 4, 3, 2, divisor_override=7)),
        ("max i64 idx", lambda: nhwcpool.max_pool2d(i64, 5, 1, 2, return_indices=True)),
        ("max fortran f64", lambda: nhwcpool.max_pool2d(f64_t, 3, 1, "same")),
        ("avg fortran f64 f32", lambda: nhwcpool.avg_pool2d(f64_t, 2, dtype=np.float32)),
        ("max swapped i16", lambda: nhwcpool.max_pool2d(i16_sw, 2, 1, return_indices=True)),
        ("avg swapped i16", lambda: nhwcpool.avg_pool2d(i16_sw, 3, 2, "same")),
        ("max 2d u16", lambda: nhwcpool.max_pool2d(u16_2d, 3, 2, 1, return_indices=True)),
        ("avg 2d u16", lambda: nhwcpool.avg_pool2d(u16_2d, 3, 1, 1)),
        ("max i8 wide", lambda: nhwcpool.max_pool2d(i8, 2, 1, return_indices=True)),
        ("avg i8 wide", lambda: nhwcpool.avg_pool2d(i8, 3, 1, 1, dtype=np.int8)),
        ("max u32", lambda: nhwcpool.max_pool2d(u32, 3, 3, 1, ceil_mode=True)),
        ("gmax f32", lambda: nhwcpool.global_max_pool2d(big_f32)),
        ("gavg u8", lambda: nhwcpool.global_avg_pool2d(big_u8, keepdims=False)),
        ("gavg f16 f64", lambda: nhwcpool.global_avg_pool2d(f16, dtype=np.float64)),
        ("gmax 2d", lambda: nhwcpool.global_max_pool2d(u16_2d, keepdims=False)),
        ("output_size", lambda: nhwcpool.output_size(97, 3, 2, "same", 2, True)),
        ("output_shape", lambda: nhwcpool.output_shape((2, 64, 64, 24), (3, 2), 2, ((1, 1), (0, 1)))),
    ]
    return j


def _errors():
    """Calls that must raise (exercised concurrently too: exception paths under threads)."""
    x = _data((2, 8, 8, 3), np.float32, 10)
    return [
        (ValueError, lambda: nhwcpool.max_pool2d(x, 9)),
        (ValueError, lambda: nhwcpool.avg_pool2d(x, 3, padding=2)),
        (TypeError, lambda: nhwcpool.max_pool2d(x.astype(bool), 2)),
        (ValueError, lambda: nhwcpool.max_pool2d(x, 1, out=x)),
        (TypeError, lambda: nhwcpool.avg_pool2d(x, 2, dtype="complex64")),
        (ValueError, lambda: nhwcpool.output_size(3, 5)),
    ]


def _snapshot(res):
    if isinstance(res, tuple) and all(isinstance(r, np.ndarray) for r in res):
        return tuple((r.shape, r.dtype.str, r.tobytes()) for r in res)
    if isinstance(res, np.ndarray):
        return (res.shape, res.dtype.str, res.tobytes())
    return res


@pytest.fixture
def serial_results(restore_threads):  # noqa: ARG001 - restores the thread count afterwards
    nhwcpool.set_num_threads(1)
    jobs = _jobs()
    return jobs, {name: _snapshot(fn()) for name, fn in jobs}


@pytest.mark.usefixtures("restore_threads")
@pytest.mark.parametrize("level", nhwcpool._core.supported_simd_levels())
def test_bit_identical_whatever_the_thread_count(level):
    core = nhwcpool._core
    prev = core.get_simd_level()
    core.set_simd_level(level)
    try:
        nhwcpool.set_num_threads(1)
        jobs = _jobs()
        base = {name: _snapshot(fn()) for name, fn in jobs}
        for n in (2, 3, 4, 7, 16):
            nhwcpool.set_num_threads(n)
            assert nhwcpool.get_num_threads() == n
            for name, fn in jobs:
                assert _snapshot(fn()) == base[name], f"{name}: threads={n} differs from 1 ({level})"
    finally:
        core.set_simd_level(prev)


def test_many_python_threads_with_changing_thread_count(serial_results):
    jobs, expected = serial_results
    errors = _errors()
    problems = []
    calls = [0] * N_WORKERS
    stop = threading.Event()
    start = threading.Barrier(N_WORKERS + 2)
    # give each worker a few preallocated out= buffers of its own
    x_out = _data((2, 64, 64, 24), np.float32, 1)

    def worker(i):
        rng = np.random.default_rng(100 + i)
        own_out = np.empty(nhwcpool.output_shape(x_out.shape, 3, 1, 1), np.float32)
        order = list(range(len(jobs)))
        start.wait()
        while not stop.is_set():
            rng.shuffle(order)
            for k in order:
                name, fn = jobs[k]
                try:
                    got = _snapshot(fn())
                except Exception as exc:  # noqa: BLE001
                    problems.append(f"worker {i} {name}: raised {exc!r}")
                    return
                if got != expected[name]:
                    problems.append(f"worker {i} {name}: result differs from the serial one")
                    return
                calls[i] += 1
            etype, efn = errors[calls[i] % len(errors)]
            try:
                efn()
            except etype:
                pass
            except Exception as exc:  # noqa: BLE001
                problems.append(f"worker {i}: error path raised {exc!r}, expected {etype.__name__}")
                return
            else:
                problems.append(f"worker {i}: error path did not raise {etype.__name__}")
                return
            res = nhwcpool.max_pool2d(x_out, 3, 1, 1, out=own_out)
            if res is not own_out or _snapshot(res) != expected["max f32 3/1/1 idx"][0]:
                problems.append(f"worker {i}: out= result wrong")
                return
            calls[i] += 1

    def changer():
        k = 0
        start.wait()
        while not stop.is_set():
            nhwcpool.set_num_threads(THREAD_COUNTS[k % len(THREAD_COUNTS)])
            got = nhwcpool.get_num_threads()
            if got not in THREAD_COUNTS:
                problems.append(f"get_num_threads() returned {got}")
            k += 1
            time.sleep(0.0005)

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(N_WORKERS)]
    threads.append(threading.Thread(target=changer, daemon=True))
    for t in threads:
        t.start()
    start.wait()
    time.sleep(STRESS_SECONDS)
    stop.set()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a worker thread hung"
    assert not problems, "\n".join(problems[:20])
    assert min(calls) >= 1, calls
    print(f"{N_WORKERS} workers, {sum(calls)} calls in {STRESS_SECONDS}s")


@pytest.mark.usefixtures("restore_threads")
def test_simd_level_switched_mid_run_keeps_max_exact():
    """Another thread flips the SIMD level while workers pool: max results (exact at every
    level) never change, and nothing crashes."""
    core = nhwcpool._core
    levels = core.supported_simd_levels()
    prev = core.get_simd_level()
    x = _data((2, 48, 48, 32), np.float32, 11)
    nhwcpool.set_num_threads(2)
    expected = _snapshot(nhwcpool.max_pool2d(x, 3, 1, 1, return_indices=True))
    stop = threading.Event()
    problems = []

    def worker():
        while not stop.is_set():
            if _snapshot(nhwcpool.max_pool2d(x, 3, 1, 1, return_indices=True)) != expected:
                problems.append("max changed while the SIMD level was switched")
                return

    ws = [threading.Thread(target=worker, daemon=True) for _ in range(8)]
    for w in ws:
        w.start()
    try:
        t_end = time.time() + min(STRESS_SECONDS, 1.0)
        k = 0
        while time.time() < t_end:
            core.set_simd_level(levels[k % len(levels)])
            k += 1
            time.sleep(0.001)
    finally:
        stop.set()
        for w in ws:
            w.join(timeout=60)
        core.set_simd_level(prev)
    assert not problems


# --------------------------------------------------------------------------------------------
# fork

FORK_X = _data((4, 96, 96, 32), np.float32, 12)  # large enough for the parallel path


def _child_pool(expected, threads, conn):
    try:
        if threads is not None:
            nhwcpool.set_num_threads(threads)
        got = _snapshot(nhwcpool.max_pool2d(FORK_X, 3, 1, 1, return_indices=True))
        conn.send("ok" if got == expected else "mismatch")
    except BaseException as exc:  # noqa: BLE001
        conn.send(f"raised {exc!r}")
    finally:
        conn.close()


def _fork_and_pool(child_threads, timeout=8.0):
    """Parallel call in the parent, then a forked child pools; returns the child's verdict."""
    if sys.platform == "win32" or "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork start method on this platform")
    nhwcpool.set_num_threads(2)
    expected = _snapshot(nhwcpool.max_pool2d(FORK_X, 3, 1, 1, return_indices=True))
    ctx = multiprocessing.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    with warnings.catch_warnings():
        # Python >= 3.12 warns that fork() in a process with (OpenMP) threads may deadlock.
        warnings.simplefilter("ignore", DeprecationWarning)
        p = ctx.Process(target=_child_pool, args=(expected, child_threads, send))
        p.start()
    send.close()
    p.join(timeout)
    hung = p.is_alive()
    if hung:
        p.kill()
        p.join(10)
    verdict = recv.recv() if not hung and recv.poll(1) else None
    recv.close()
    # the parent still works, in parallel, after the fork
    assert _snapshot(nhwcpool.max_pool2d(FORK_X, 3, 1, 1, return_indices=True)) == expected
    return hung, p.exitcode, verdict


@pytest.mark.usefixtures("restore_threads")
def test_fork_after_parallel_call_child_pools_in_parallel():
    """Regression (BUG-3, GCC bug 60035): libgomp hung in the child's first parallel region
    once the parent had run one; parallel_for now runs serially in a forked child."""
    hung, code, verdict = _fork_and_pool(child_threads=None)  # inherits 2 threads
    assert not hung, "forked child hung in its first pooling call (libgomp after fork)"
    assert verdict == "ok", (code, verdict)


@pytest.mark.usefixtures("restore_threads")
def test_fork_after_parallel_call_child_pools_serially():
    """set_num_threads(1) in the child (the workaround before the fix) keeps working."""
    hung, code, verdict = _fork_and_pool(child_threads=1)
    assert not hung, "child hung"
    assert verdict == "ok", (code, verdict)
    assert code == 0
