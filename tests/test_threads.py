"""Thread safety and thread-count independence."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

import nhwcpool
import numpy as np
import pytest
import reference as R
from conftest import SIMD_LEVELS, using_simd
from strategies import make_array


def _same(a, b):
    if isinstance(a, tuple):
        assert isinstance(b, tuple)
        assert len(a) == len(b)
        for u, v in zip(a, b, strict=False):
            _same(u, v)
        return
    assert a.dtype == b.dtype
    assert a.shape == b.shape
    assert a.tobytes() == b.tobytes()  # bit-identical


def _jobs():
    """A mix of calls on different shapes / dtypes / options."""
    jobs = []
    dtypes = ["float32", "float64", "float16", "int8", "uint8", "int16", "uint16", "int32", "int64"]
    for j, dt in enumerate(dtypes):
        kind = "special" if np.dtype(dt).kind == "f" else "full"
        x = make_array((2 + j % 3, 17 + j, 13 + 2 * j, 1 + 7 * j), dt, kind, seed=100 + j, avg_safe=True)
        jobs.append(("max", x, dict(kernel_size=3, stride=2, padding=1, return_indices=True)))
        jobs.append(("max", x, dict(kernel_size=(2, 3), dilation=(2, 1), ceil_mode=True)))
        jobs.append(("avg", x, dict(kernel_size=3, stride=1, padding="same")))
        jobs.append(("avg", x, dict(kernel_size=2, ceil_mode=True, padding=1, count_include_pad=False)))
        jobs.append(("avg", x, dict(kernel_size=4, stride=3, divisor_override=5, dtype="float32")))
        jobs.append(("gmax", x, dict()))
        jobs.append(("gavg", x, dict(keepdims=False)))
        jobs.append(("size", x, dict()))
    return jobs


def _run(job):
    fn, x, kw = job
    if fn == "max":
        return nhwcpool.max_pool2d(x, **kw)
    if fn == "avg":
        return nhwcpool.avg_pool2d(x, **kw)
    if fn == "gmax":
        return nhwcpool.global_max_pool2d(x, **kw)
    if fn == "gavg":
        return nhwcpool.global_avg_pool2d(x, **kw)
    if fn == "size":
        return np.array(
            (*nhwcpool.output_shape(x.shape, 3, 2, "same"), nhwcpool.output_size(x.shape[1], 3, 2))
        )
    raise AssertionError(fn)


@pytest.mark.parametrize("num_threads", [1, 2])
@pytest.mark.usefixtures("restore_threads")
def test_many_python_threads_equal_serial(num_threads):
    nhwcpool.set_num_threads(num_threads)
    jobs = _jobs()
    serial = [_run(j) for j in jobs]
    work = jobs * 4
    with ThreadPoolExecutor(max_workers=8) as ex:
        results = list(ex.map(_run, work))
    for k, r in enumerate(results):
        _same(r, serial[k % len(jobs)])


@pytest.mark.usefixtures("restore_threads")
def test_threads_with_out_arrays():
    """Each thread writes into its own out= buffer."""
    nhwcpool.set_num_threads(2)
    x = make_array((4, 32, 32, 24), "float32", "special", seed=7)
    ref_max = nhwcpool.max_pool2d(x, 3, 2, 1)
    ref_avg = nhwcpool.avg_pool2d(x, 3, 2, 1)
    outs = [np.empty_like(ref_max) for _ in range(16)]

    def work(k):
        if k % 2:
            return nhwcpool.max_pool2d(x, 3, 2, 1, out=outs[k])
        return nhwcpool.avg_pool2d(x, 3, 2, 1, out=outs[k])

    with ThreadPoolExecutor(max_workers=8) as ex:
        res = list(ex.map(work, range(16)))
    for k, r in enumerate(res):
        assert r is outs[k]
        _same(r, ref_max if k % 2 else ref_avg)


@pytest.mark.usefixtures("restore_threads")
def test_set_get_num_threads():
    for n in (1, 2, 3, 1, 4):
        nhwcpool.set_num_threads(n)
        assert nhwcpool.get_num_threads() == n
    assert isinstance(nhwcpool.get_num_threads(), int)


def _big_inputs():
    out = []
    for dt in ["float32", "float64", "float16", "int8", "uint16", "int32", "int64", "uint64"]:
        kind = "wide" if np.dtype(dt).kind == "f" else "full"
        out.append(make_array((5, 40, 36, 33), dt, kind, seed=11, avg_safe=True))
    return out


@pytest.mark.usefixtures("restore_threads")
def test_results_identical_for_1_and_2_threads():
    xs = _big_inputs()

    def everything():
        res = []
        for x in xs:
            res.append(nhwcpool.max_pool2d(x, 3, 2, 1, return_indices=True))
            res.append(nhwcpool.max_pool2d(x, 3, 1, "same", dilation=2, ceil_mode=True))
            res.append(nhwcpool.avg_pool2d(x, 3, 2, 1, ceil_mode=True))
            res.append(nhwcpool.avg_pool2d(x, (5, 4), (2, 3), "same"))
            res.append(nhwcpool.avg_pool2d(x, 2, dtype="float16"))
            res.append(nhwcpool.global_avg_pool2d(x))
            res.append(nhwcpool.global_max_pool2d(x))
            res.append(nhwcpool.global_avg_pool2d(x[:1, :, :, :1]))  # a single plane
        return res

    nhwcpool.set_num_threads(1)
    one = everything()
    nhwcpool.set_num_threads(2)
    two = everything()
    nhwcpool.set_num_threads(3)  # more threads than cores
    three = everything()
    for a, b, c in zip(one, two, three, strict=False):
        _same(a, b)
        _same(a, c)


@pytest.mark.usefixtures("restore_threads")
def test_set_num_threads_from_worker_thread_is_process_wide():
    nhwcpool.set_num_threads(1)
    assert nhwcpool.get_num_threads() == 1
    seen = {}

    def worker():
        nhwcpool.set_num_threads(3)
        seen["worker"] = nhwcpool.get_num_threads()

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert seen["worker"] == 3
    assert nhwcpool.get_num_threads() == 3  # honoured in the main thread
    # and the other way round: the main thread's setting is seen by a new worker
    nhwcpool.set_num_threads(2)
    with ThreadPoolExecutor(max_workers=2) as ex:
        assert ex.submit(nhwcpool.get_num_threads).result() == 2
    # pooling still works after the change
    x = make_array((2, 8, 8, 5), "float32", "dyadic", seed=1)
    nhwcpool.max_pool2d(x, 2)


@pytest.mark.usefixtures("restore_threads")
def test_simd_levels_and_threads_combined():
    x = make_array((3, 20, 21, 35), "float32", "special", seed=3)
    results = []
    for level in SIMD_LEVELS:
        with using_simd(level):
            for n in (1, 2):
                nhwcpool.set_num_threads(n)
                results.append(nhwcpool.max_pool2d(x, 3, 2, 1, return_indices=True))
    for r in results[1:]:
        _same(r, results[0])


@pytest.mark.parametrize("dtype", ["float32", "float16", "float64", "int8", "uint16", "int64"])
@pytest.mark.usefixtures("simd_level")
@pytest.mark.usefixtures("restore_threads")
def test_large_inputs_match_reference_with_threads(dtype):
    """Inputs big enough to be split across threads, against the reference."""
    kind = "special" if np.dtype(dtype).kind == "f" else "ties"
    x = make_array((3, 41, 37, 67), dtype, kind, seed=21, avg_safe=True)
    exp_v, exp_i = R.max_pool2d(x, 3, 2, 1)
    exp_a, am, nt = R.avg_pool2d(x, (3, 2), (2, 1), "same", True)
    for n in (1, 2):
        nhwcpool.set_num_threads(n)
        v, i = nhwcpool.max_pool2d(x, 3, 2, 1, return_indices=True)
        R.assert_max_equal(v, exp_v)
        np.testing.assert_array_equal(i, exp_i)
        a = nhwcpool.avg_pool2d(x, (3, 2), (2, 1), "same", ceil_mode=True)
        R.assert_avg_close(a, exp_a, am, nt, x.dtype)


@pytest.mark.usefixtures("restore_threads")
def test_pooling_while_other_threads_change_the_thread_count():
    """set_num_threads from some Python threads while others pool: results
    stay bit-identical to the serial ones and nothing crashes."""
    jobs = _jobs()
    serial = [_run(j) for j in jobs]
    stop = threading.Event()

    def toggler(seed):
        k = seed
        while not stop.is_set():
            nhwcpool.set_num_threads(1 + k % 3)
            nhwcpool.get_num_threads()
            k += 1

    togglers = [threading.Thread(target=toggler, args=(s,)) for s in range(2)]
    for t in togglers:
        t.start()
    try:
        with ThreadPoolExecutor(max_workers=6) as ex:
            results = list(ex.map(_run, jobs * 3))
    finally:
        stop.set()
        for t in togglers:
            t.join()
    for k, r in enumerate(results):
        _same(r, serial[k % len(jobs)])
    assert nhwcpool.get_num_threads() in (1, 2, 3)


# --------------------------------------------------------------------------------------------
# The threading layer itself, under whichever backend this build has (OpenMP, the std::thread
# pool of builds without OpenMP, or serial): _core._parallel_probe runs parallel_for with a
# chunk function that records its range and thread, can sleep, throw or nest a parallel_for.

BIG_WORK = 1 << 40  # past the threshold below which a call stays on the caller


def _expected_chunks(n, threads):
    team = min(threads, n, nhwcpool._core._max_team_size())
    if team <= 1:
        return [(0, n)]
    return [(n * t // team, n * (t + 1) // team) for t in range(team) if n * t // team < n * (t + 1) // team]


def test_threading_backend_is_named():
    backend = nhwcpool._core.threading_backend()
    assert backend in ("OpenMP", "std::thread pool", "serial")
    assert nhwcpool._core.openmp_enabled() == (backend == "OpenMP")
    assert nhwcpool._api._config()["threading"] == backend
    assert nhwcpool._core._max_team_size() >= 4


@pytest.mark.parametrize("threads", [1, 2, 3, 4, 7, 64, 65536])
def test_chunks_are_the_same_on_every_backend(threads):
    for n in (1, 2, 5, 64, 1001):
        got = sorted((b, e) for b, e, _, _ in nhwcpool._core._parallel_probe(n, BIG_WORK, threads))
        assert got == _expected_chunks(n, threads), (n, threads)
    # small work: one call, on the caller
    assert nhwcpool._core._parallel_probe(100, 10, threads) == [(0, 100, True, 0)]


@pytest.mark.parametrize("threads", [1, 2, 4])
@pytest.mark.parametrize("at", [0, 37, 99])
def test_exception_in_a_chunk_reaches_the_caller(threads, at):
    with pytest.raises(RuntimeError, match="nhwcpool probe: chunk"):
        nhwcpool._core._parallel_probe(100, BIG_WORK, threads, throw_at=at)
    with pytest.raises(MemoryError):
        nhwcpool._core._parallel_probe(100, BIG_WORK, threads, throw_at=at, bad_alloc=True)
    # the layer (and pooling) still works afterwards, at that thread count
    got = nhwcpool._core._parallel_probe(100, BIG_WORK, threads)
    assert sorted((b, e) for b, e, _, _ in got) == _expected_chunks(100, threads)


@pytest.mark.parametrize("threads", [2, 4])
def test_parallel_for_inside_a_chunk_does_not_deadlock(threads):
    got = nhwcpool._core._parallel_probe(16, BIG_WORK, threads, nested=1000)
    assert sorted((b, e) for b, e, _, _ in got) == _expected_chunks(16, threads)
    assert all(inner == 1000 for *_, inner in got)


def _join_all(threads, timeout):
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    assert not any(t.is_alive() for t in threads), "a call never returned (deadlock?)"


def test_many_python_threads_share_the_layer():
    """Callers that find the pool busy run their own chunks: every call completes, with its own
    chunks, and nothing waits for another caller."""
    errors = []

    def caller(k):
        try:
            for rep in range(25):
                n = 1 + (k * 31 + rep * 7) % 200
                threads = 1 + (k + rep) % 4
                got = nhwcpool._core._parallel_probe(n, BIG_WORK, threads, sleep_us=200 * (rep % 2))
                assert sorted((b, e) for b, e, _, _ in got) == _expected_chunks(n, threads)
                if rep % 5 == 0:
                    with pytest.raises(RuntimeError):
                        nhwcpool._core._parallel_probe(n, BIG_WORK, threads, throw_at=n - 1)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    workers = [threading.Thread(target=caller, args=(k,), daemon=True) for k in range(12)]
    for t in workers:
        t.start()
    _join_all(workers, 60)
    assert not errors, errors[0]


@pytest.mark.usefixtures("restore_threads")
def test_bit_identical_for_any_thread_count():
    """A case-f-like 3x3/s1 average (count_include_pad=False) and a 3x3/s2 max with indices."""
    x = make_array((3, 30, 28, 64), "float32", "special", seed=5)
    x16 = make_array((2, 33, 19, 24), "float16", "special", seed=6)
    results = {}
    for n in (1, 2, 3, 5, 8, 32):
        nhwcpool.set_num_threads(n)
        results[n] = (
            nhwcpool.avg_pool2d(x, 3, 1, 1, count_include_pad=False),
            nhwcpool.max_pool2d(x, 3, 2, 1, return_indices=True),
            nhwcpool.avg_pool2d(x16, (2, 3), 1, "same"),
            nhwcpool.global_avg_pool2d(x),
        )
    for r in results.values():
        for a, b in zip(r, results[1], strict=True):
            _same(a, b)


def _fork_child_report(write_fd):
    """In the forked child: pool and probe, send a verdict, never return to pytest."""
    code = 1
    try:
        nhwcpool.set_num_threads(2)
        x = make_array((2, 64, 64, 32), "float32", "special", seed=9)
        v = nhwcpool.avg_pool2d(x, 3, 1, 1, count_include_pad=False)
        parallel = False
        for _ in range(3):  # sleeping chunks: a worker has 50 ms to take the second one
            got = nhwcpool._core._parallel_probe(2, BIG_WORK, 2, sleep_us=50_000)
            assert sorted((b, e) for b, e, _, _ in got) == [(0, 1), (1, 2)]
            parallel |= not all(on_caller for _, _, on_caller, _ in got)
        os.write(write_fd, f"ok {int(parallel)} ".encode() + hashlib.sha256(v.tobytes()).digest())
        code = 0
    except BaseException as exc:  # noqa: BLE001
        os.write(write_fd, f"raised {exc!r}".encode())
    finally:
        os.close(write_fd)
        os._exit(code)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no os.fork on this platform")
@pytest.mark.usefixtures("restore_threads")
# JAX (imported by the JAX bridge's tests earlier in the same process) warns on every fork.
@pytest.mark.filterwarnings("ignore:os.fork\\(\\) was called:RuntimeWarning")
def test_forked_child_pools_and_does_not_hang():
    """After parallel calls in the parent, a forked child must not wait for the parent's
    workers (which it does not have). OpenMP builds run the child serially (libgomp cannot
    start a team there); the std::thread pool starts a new pool in the child."""
    nhwcpool.set_num_threads(2)
    x = make_array((2, 64, 64, 32), "float32", "special", seed=9)
    expected = nhwcpool.avg_pool2d(x, 3, 1, 1, count_include_pad=False)
    nhwcpool._core._parallel_probe(64, BIG_WORK, 2, sleep_us=100)  # workers exist now
    r, w = os.pipe()
    with warnings.catch_warnings():
        # Python >= 3.12 warns that fork() in a process with threads may deadlock.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:
        os.close(r)
        _fork_child_report(w)
    os.close(w)
    deadline = time.monotonic() + 60
    status = None
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.02)
    else:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(r)
        msg = "forked child hung"
        raise AssertionError(msg)
    data = b""
    while chunk := os.read(r, 1 << 20):
        data += chunk
    os.close(r)
    assert os.waitstatus_to_exitcode(status) == 0, data[:500]
    head, payload = data[:5], data[5:]
    assert head in (b"ok 0 ", b"ok 1 "), data[:500]
    assert payload == hashlib.sha256(expected.tobytes()).digest()
    if nhwcpool._core.threading_backend() == "std::thread pool":
        assert head == b"ok 1 ", "the child's chunks all ran on its calling thread"
    elif nhwcpool._core.threading_backend() == "serial":
        assert head == b"ok 0 "


def test_interpreter_exits_promptly_with_workers_alive():
    """Process exit right after parallel calls (workers still spinning or parked, pool never
    joined) and after a call that raised: exit status 0, no hang, no crash at shutdown."""
    code = (
        "import threading, numpy as np, nhwcpool\n"
        "nhwcpool.set_num_threads(2)\n"
        "x = np.ones((4, 64, 64, 32), np.float32)\n"
        "def work():\n"
        "    for _ in range(3):\n"
        "        nhwcpool.avg_pool2d(x, 3, 1, 1)\n"
        "ts = [threading.Thread(target=work) for _ in range(4)]\n"
        "[t.start() for t in ts]; [t.join() for t in ts]\n"
        "try:\n"
        "    nhwcpool._core._parallel_probe(8, 1 << 40, 2, throw_at=3)\n"
        "except RuntimeError:\n"
        "    pass\n"
        "nhwcpool.max_pool2d(x, 2)\n"
        "print(nhwcpool._core.threading_backend())\n"
    )
    for _ in range(3):
        proc = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == nhwcpool._core.threading_backend()
