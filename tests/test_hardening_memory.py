"""No leaks: many calls (success and error paths, out=, return_indices, converted inputs)
leave the process RSS flat and the reference counts of inputs, outputs and dtypes unchanged.

The quick version runs 5,000 calls; ``python tools/leakcheck.py`` runs 100,000 with the same
call mix (it imports ``CALLS`` from here).
"""

from __future__ import annotations

import gc
import os
import pathlib
import sys

import nhwcpool
import numpy as np
import pytest


def rss_bytes():
    """Resident set size of this process (Linux /proc; elsewhere the peak from getrusage)."""
    try:
        statm = pathlib.Path("/proc/self/statm").read_text()
        return int(statm.split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # pragma: no cover - non-Linux
        import resource  # noqa: PLC0415 - Unix only

        scale = 1 if sys.platform == "darwin" else 1024
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def _unaligned(a):
    u = np.frombuffer(bytearray(a.nbytes + 1), a.dtype, count=a.size, offset=1).reshape(a.shape)
    u[...] = a
    return u


def make_inputs():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 16, 16, 8)).astype(np.float32)
    inp = {
        "x": x,
        "xi": rng.integers(-100, 100, (16, 16, 3)).astype(np.int16),
        "xs": x.astype(x.dtype.newbyteorder()),  # byte-swapped: converted in the binding
        "xu": _unaligned(x),  # unaligned: converted
        "xf": np.asfortranarray(x),  # Fortran: converted
        "xneg": x[:, ::-1, :, ::-1],  # negative strides: converted
        "xb": x > 0,  # unsupported dtype
        "x0": np.float32(1.0),  # 0-d
        "x5": x.reshape(1, 2, 16, 16, 8),  # 5-d
        "lst": x[0, :4, :4, :2].tolist(),  # a nested list: converted by np.asarray
        "o_max": np.empty((2, 8, 8, 8), np.float32),
        "o_avg": np.empty((2, 8, 8, 8), np.float32),
        "o_bad_shape": np.empty((2, 8, 8, 7), np.float32),
        "o_bad_dtype": np.empty((2, 8, 8, 8), np.float64),
        "o_ro": np.empty((2, 8, 8, 8), np.float32),
    }
    inp["o_ro"].flags.writeable = False
    return inp


def make_calls(inp):
    """(name, expected exception or None, callable)."""
    x, xi, xs, xu, xf, xn = inp["x"], inp["xi"], inp["xs"], inp["xu"], inp["xf"], inp["xneg"]
    mp, ap = nhwcpool.max_pool2d, nhwcpool.avg_pool2d
    return [
        ("max", None, lambda: mp(x, 2)),
        ("max idx pad", None, lambda: mp(x, 3, 1, 1, return_indices=True)),
        ("max out", None, lambda: mp(x, 2, out=inp["o_max"])),
        ("max out idx", None, lambda: mp(x, 2, return_indices=True, out=inp["o_max"])),
        ("max same dil", None, lambda: mp(xi, 3, 1, "same", dilation=2)),
        ("avg", None, lambda: ap(x, 3, 2, 1, ceil_mode=True)),
        ("avg int8", None, lambda: ap(xi, 2, dtype=np.int8)),
        ("avg f16", None, lambda: ap(x, 2, dtype="float16")),
        ("avg out", None, lambda: ap(x, 2, out=inp["o_avg"])),
        ("gmax", None, lambda: nhwcpool.global_max_pool2d(x)),
        ("gavg", None, lambda: nhwcpool.global_avg_pool2d(xi, keepdims=False, dtype=np.float32)),
        ("max swapped", None, lambda: mp(xs, 2, return_indices=True)),
        ("avg unaligned", None, lambda: ap(xu, 2)),
        ("max fortran", None, lambda: mp(xf, 2, return_indices=True)),
        ("avg negative strides", None, lambda: ap(xn, 3, 1, 1)),
        ("max list", None, lambda: mp(inp["lst"], 2)),
        ("output_size", None, lambda: nhwcpool.output_size(10, 3, 2, "same")),
        ("output_shape", None, lambda: nhwcpool.output_shape(x.shape, 2)),
        ("threads", None, nhwcpool.get_num_threads),
        # error paths (several after an input conversion or output allocation)
        ("err kernel 0", ValueError, lambda: mp(x, 0)),
        ("err window", ValueError, lambda: mp(x, 99)),
        ("err window swapped", ValueError, lambda: mp(xs, 99)),
        ("err window fortran", ValueError, lambda: ap(xf, 3, padding=2)),
        ("err dtype bool", TypeError, lambda: mp(inp["xb"], 2)),
        ("err out dtype arg", TypeError, lambda: ap(x, 2, dtype="complex64")),
        ("err out shape", ValueError, lambda: mp(x, 2, out=inp["o_bad_shape"])),
        ("err out shape converted", ValueError, lambda: mp(xu, 2, out=inp["o_bad_shape"])),
        ("err out dtype", TypeError, lambda: ap(x, 2, out=inp["o_bad_dtype"])),
        ("err out readonly", ValueError, lambda: mp(x, 2, return_indices=True, out=inp["o_ro"])),
        ("err out overlap", ValueError, lambda: mp(x, 1, out=x)),
        ("err 0-d", ValueError, lambda: mp(inp["x0"], 1)),
        ("err 5-d", ValueError, lambda: nhwcpool.global_avg_pool2d(inp["x5"])),
        ("err padding str", ValueError, lambda: mp(x, 2, padding="bogus")),
        ("err stride float", TypeError, lambda: ap(x, 2, stride=1.5)),
        ("err divisor 0", ValueError, lambda: ap(x, 2, divisor_override=0)),
        ("err output_size", ValueError, lambda: nhwcpool.output_size(3, 5)),
        ("err output_shape", ValueError, lambda: nhwcpool.output_shape((4, 4, 4, 4, 4), 2)),
    ]


def tracked_objects(inp):
    objs = dict(inp)
    for name in ("float16", "float32", "float64", "int8", "int16", "int64", "uint8", "bool"):
        objs[f"dtype {name}"] = np.dtype(name)
    objs["dtype swapped f32"] = inp["xs"].dtype
    objs["module _core"] = nhwcpool._core
    return objs


def refcounts(objs):
    return {k: sys.getrefcount(v) for k, v in objs.items()}


def run_calls(calls, n):
    k = len(calls)
    for i in range(n):
        name, exc, fn = calls[i % k]
        if exc is None:
            fn()
        else:
            try:
                fn()
            except exc:
                pass
            else:  # pragma: no cover - a missing error is a bug
                msg = f"{name}: expected {exc.__name__}"
                raise AssertionError(msg)


def leakcheck(n_calls, warmup=2000, verbose=False):
    """Returns a dict with RSS before/after and refcount changes."""
    inp = make_inputs()
    calls = make_calls(inp)
    run_calls(calls, warmup)  # caches, lazily created objects, allocator arenas
    objs = tracked_objects(inp)
    gc.collect()
    rc_before = refcounts(objs)
    rss_before = rss_bytes()
    run_calls(calls, n_calls)
    gc.collect()
    rss_after = rss_bytes()
    rc_after = refcounts(objs)
    changed = {k: (rc_before[k], rc_after[k]) for k in rc_before if rc_before[k] != rc_after[k]}
    res = {
        "calls": n_calls,
        "kinds": len(calls),
        "rss_before": rss_before,
        "rss_after": rss_after,
        "rss_delta": rss_after - rss_before,
        "refcount_changes": changed,
    }
    if verbose:
        print(res)
    return res


@pytest.mark.usefixtures("restore_threads")
@pytest.mark.parametrize("threads", [1, 2])
def test_5000_calls_leave_rss_and_refcounts_flat(threads):
    nhwcpool.set_num_threads(threads)
    res = leakcheck(5000, warmup=1000)
    assert not res["refcount_changes"], res
    if "libasan" in os.environ.get("LD_PRELOAD", ""):
        # ASan keeps freed blocks in a quarantine (256 MiB by default): RSS grows by design
        return
    assert res["rss_delta"] < 8 * 2**20, f"RSS grew by {res['rss_delta'] / 2**20:.1f} MiB: {res}"


def test_every_call_kind_behaves_as_listed():
    inp = make_inputs()
    for name, exc, fn in make_calls(inp):
        if exc is None:
            fn()
        else:
            with pytest.raises(exc):
                fn()
            del name
