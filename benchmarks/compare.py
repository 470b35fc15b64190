#!/usr/bin/env python3
"""Side-by-side benchmark of nhwcpool against other CPU pooling implementations.

    python benchmarks/compare.py                 # everything importable, 1 and 2 threads
    python benchmarks/compare.py --quick --cases a,g,l --threads 1
    python benchmarks/compare.py --contestants torch,numpy,copy --markdown table.md

Every contestant runs in its own subprocess (``compare.py --worker NAME --threads T ...``)
so that thread-pool settings never leak from one library into another.  The worker pins
itself to T CPUs and sets every threading knob (OpenMP/MKL env vars, TF intra/inter-op
threads, XLA_FLAGS, torch.set_num_threads, ORT intra_op_num_threads,
nhwcpool.set_num_threads) *before* importing the library.  It streams one JSON record per
case on stdout; the parent gathers them, prints a table per case, and writes JSON, a
markdown table and a PNG chart.  See benchmarks/README.md.
"""

# ruff: noqa: PLC0415, BLE001  (optional libraries are imported lazily, inside their worker;
#                               a harness must survive any exception a contestant throws)
from __future__ import annotations

import os
import sys

# --------------------------------------------------------------------------------------------
# Worker-side thread configuration.  This must run before numpy (or anything with a thread
# pool) is imported, so it sits above every other import and reads sys.argv directly.
# --------------------------------------------------------------------------------------------


def _argv_value(flag: str, default: str | None = None) -> str | None:
    argv = sys.argv
    for i, a in enumerate(argv):
        if a == flag and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith(flag + "="):
            return a.split("=", 1)[1]
    return default


def thread_env(threads: int) -> dict[str, str]:
    """Environment every worker gets for a T-thread run (same for every contestant)."""
    t = str(threads)
    return {
        "OMP_NUM_THREADS": t,
        "MKL_NUM_THREADS": t,
        "OPENBLAS_NUM_THREADS": t,
        "NUMEXPR_NUM_THREADS": t,
        "VECLIB_MAXIMUM_THREADS": t,
        "TF_NUM_INTRAOP_THREADS": t,
        "TF_NUM_INTEROP_THREADS": t,
        "NHWCPOOL_NUM_THREADS": t,
        # XLA ignores most of this on recent jaxlib; the CPU affinity mask (set below) is
        # what actually sizes its thread pool.  multi_thread_eigen is only disabled for T=1.
        "XLA_FLAGS": (
            f"--xla_cpu_multi_thread_eigen={'false' if threads == 1 else 'true'} "
            f"intra_op_parallelism_threads={t}"
        ),
        "JAX_PLATFORMS": "cpu",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "KMP_WARNINGS": "0",
    }


# --simd LEVEL holds every contestant to one instruction-set level (issue 19): nhwcpool through
# NHWCPOOL_SIMD, PyTorch's ATen kernels through ATEN_CPU_CAPABILITY, oneDNN (PyTorch's mkldnn
# path and TensorFlow's) through ONEDNN_MAX_CPU_ISA. ONNX Runtime and XLA (JAX) have no such
# switch and run at the machine's best level: the tables say so.
SIMD_ENV: dict[str, dict[str, str]] = {
    "avx512": {"NHWCPOOL_SIMD": "avx512"},
    "avx2": {"NHWCPOOL_SIMD": "avx2", "ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"},
    "baseline": {
        "NHWCPOOL_SIMD": "baseline",
        "ATEN_CPU_CAPABILITY": "default",
        "ONEDNN_MAX_CPU_ISA": "SSE41",
    },
}
UNHELD = ("onnxruntime", "jax")  # contestants no --simd level reaches


def _early_worker_setup() -> None:
    if "--worker" not in sys.argv:
        return
    threads = int(_argv_value("--threads", "1"))
    os.environ.update(thread_env(threads))
    if "--no-pin" not in sys.argv and hasattr(os, "sched_setaffinity"):
        cpus = sorted(os.sched_getaffinity(0))
        if threads <= len(cpus):
            os.sched_setaffinity(0, cpus[:threads])


_early_worker_setup()

# --------------------------------------------------------------------------------------------

import argparse
import contextlib
import gc
import importlib.util
import json
import math
import platform
import queue
import subprocess
import tempfile
import threading
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NoReturn

import numpy as np

HERE = Path(__file__).resolve().parent
MARK = "@@NHWCBENCH@@ "
BUSY = 0.15  # other processes' share of the CPUs above which a timing is flagged

# --------------------------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    op: str  # "max" | "avg" | "gavg" | "gmax"
    shape: tuple  # (N, H, W, C)
    dtype: str = "float32"
    k: int = 1
    s: int = 1
    p: int = 0
    count_include_pad: bool = True
    return_indices: bool = False
    latency: bool = False  # report microseconds per call, many calls per repetition
    note: str = ""
    # Gradient with respect to the input (max: from the forward's indices, computed untimed;
    # the result has the input's shape). Timed: the backward op alone.
    backward: bool = False

    @property
    def fwd_shape(self) -> tuple:
        """Shape of the forward's output (the gradient that backward reads)."""
        n, h, w, c = self.shape
        if self.op in ("gavg", "gmax"):
            return (n, 1, 1, c)
        return (n, (h + 2 * self.p - self.k) // self.s + 1, (w + 2 * self.p - self.k) // self.s + 1, c)

    @property
    def out_shape(self) -> tuple:
        return self.shape if self.backward else self.fwd_shape

    @property
    def itemsize(self) -> int:
        return np.dtype(self.dtype).itemsize

    @property
    def in_bytes(self) -> int:
        return math.prod(self.shape) * self.itemsize

    @property
    def out_bytes(self) -> int:
        return math.prod(self.out_shape) * self.itemsize

    @property
    def idx_bytes(self) -> int:
        if self.backward:
            return math.prod(self.fwd_shape) * 8 if self.op == "max" else 0
        return math.prod(self.out_shape) * 8 if self.return_indices else 0

    @property
    def traffic_bytes(self) -> int:
        if self.backward:  # gradient in (+ indices), gradient out
            return math.prod(self.fwd_shape) * self.itemsize + self.idx_bytes + self.in_bytes
        return self.in_bytes + self.out_bytes + self.idx_bytes

    def source(self, llc: int | None) -> str:
        """Where a repeated call finds its input: 'cache' when input and output fit in the
        last-level cache together (the repetitions then read it from there), else 'memory'."""
        if not llc:
            return "?"
        return "cache" if self.traffic_bytes <= llc else "memory"

    @property
    def desc(self) -> str:
        if self.op == "gavg":
            what = "global avg"
        elif self.op == "gmax":
            what = "global max"
        else:
            what = f"{self.k}x{self.k}/s{self.s}" + (f"/p{self.p}" if self.p else "") + f" {self.op}"
            if self.op == "avg" and not self.count_include_pad:
                what += " (count_include_pad=False)"
            if self.return_indices:
                what += " +indices"
            if self.backward:
                what += " backward"
        return f"{what}, {self.dtype} {tuple(self.shape)}"


CASES: dict[str, Case] = {
    c.id: c
    for c in [
        Case("a", "max", (8, 112, 112, 128), k=2, s=2),
        Case("b", "max", (8, 112, 112, 64), k=3, s=2, p=1),
        Case("c1", "max", (8, 20, 20, 512), k=5, s=1, p=2),
        Case("c2", "max", (1, 80, 80, 256), k=5, s=1, p=2),
        Case("d1", "max", (256, 24, 24, 3), k=2, s=2),
        Case("d2", "max", (256, 8, 8, 6), k=2, s=2),
        Case("e", "avg", (8, 112, 112, 128), k=2, s=2),
        Case("f", "avg", (8, 56, 56, 256), k=3, s=1, p=1, count_include_pad=False),
        Case("g", "gavg", (64, 7, 7, 2048)),
        Case("g1", "gavg", (1, 7, 7, 2048), note="batch 1: channels split among threads"),
        Case("g14", "gavg", (32, 14, 14, 1280), note="float64 sums (196 cells)"),
        Case("h", "max", (16, 224, 224, 3), dtype="uint8", k=2, s=2),
        Case("i", "max", (1, 40, 40, 512), k=13, s=1, p=6),
        Case("j", "max", (32, 112, 112, 256), k=2, s=2, note="~400 MB input"),
        Case("k_max", "max", (8, 112, 112, 128), dtype="float16", k=2, s=2),
        Case("k_avg", "avg", (8, 112, 112, 128), dtype="float16", k=2, s=2),
        Case("l", "max", (1, 4, 4, 1), k=2, s=2, latency=True, note="call latency"),
        Case("m", "max", (8, 112, 112, 128), k=2, s=2, return_indices=True),
        # Backward (gradient with respect to the input) of cases a, b, c, d1 (few channels), e, f.
        Case("bw_a", "max", (8, 112, 112, 128), k=2, s=2, backward=True),
        Case("bw_b", "max", (8, 112, 112, 64), k=3, s=2, p=1, backward=True),
        Case("bw_c1", "max", (8, 20, 20, 512), k=5, s=1, p=2, backward=True),
        Case("bw_c2", "max", (1, 80, 80, 256), k=5, s=1, p=2, backward=True),
        Case("bw_d1", "max", (256, 24, 24, 3), k=2, s=2, backward=True),
        Case("bw_d1avg", "avg", (256, 24, 24, 3), k=2, s=2, backward=True),
        Case("bw_e", "avg", (8, 112, 112, 128), k=2, s=2, backward=True),
        Case("bw_f", "avg", (8, 56, 56, 256), k=3, s=1, p=1, count_include_pad=False, backward=True),
    ]
}

CONTESTANTS = [
    "nhwcpool",
    "nhwcpool_out",
    "torch",
    "torch_mkldnn",
    "onnxruntime",
    "tensorflow",
    "jax",
    "numpy",
    "copy",
    "roof",
]
IMPORT_NAME = {
    "nhwcpool": "nhwcpool",
    "nhwcpool_out": "nhwcpool",
    "torch": "torch",
    "torch_mkldnn": "torch",
    "onnxruntime": "onnxruntime",
    "tensorflow": "tensorflow",
    "jax": "jax",
    "numpy": "numpy",
    "copy": "numpy",
    "roof": "numpy",
}
PEERS = ["torch", "torch_mkldnn", "onnxruntime", "tensorflow", "jax"]  # "best peer" is chosen among these
MAIN = "nhwcpool"


def expand_cases(spec: str | None) -> list[str]:
    if not spec or spec == "all":
        return list(CASES)
    out: list[str] = []
    for raw in spec.split(","):
        tok = raw.strip()
        if not tok:
            continue
        if tok in CASES:
            hits = [tok]
        else:  # a bare letter expands to its sub-cases: c -> c1,c2 ; k -> k_max,k_avg
            hits = [cid for cid in CASES if cid.rstrip("0123456789").rstrip("_").split("_")[0] == tok]
        if not hits:
            msg = f"unknown case {tok!r}; known: {', '.join(CASES)}"
            raise SystemExit(msg)
        out += [h for h in hits if h not in out]
    return out


# --------------------------------------------------------------------------------------------
# Inputs and the NumPy reference
# --------------------------------------------------------------------------------------------


def make_input(case: Case) -> np.ndarray:
    """Deterministic input: the same bytes in every worker."""
    rng = np.random.default_rng(sum(map(ord, case.id)) * 7919)
    if case.dtype == "uint8":
        return rng.integers(0, 256, size=case.shape, dtype=np.uint8)
    x = rng.random(case.shape, dtype=np.float32)
    x -= np.float32(0.5)  # negative values: zero-padding bugs become visible
    if case.dtype != "float32":
        x = x.astype(case.dtype)
    return x


def make_grad(case: Case) -> np.ndarray:
    """Deterministic gradient of the forward's output (backward cases)."""
    rng = np.random.default_rng(sum(map(ord, case.id)) * 104729)
    return (rng.random(case.fwd_shape, dtype=np.float32) - np.float32(0.5)).astype(case.dtype)


def np_backward64(case: Case, x: np.ndarray) -> np.ndarray:
    """float64 gradient with respect to x: max via the first-max indices, avg via the divisors."""
    n, h, w, c = x.shape
    k, s, p = case.k, case.s, case.p
    g = make_grad(case).astype(np.float64)
    _, oh, ow, _ = case.fwd_shape
    if case.op == "max":
        _, idx = np_max_pool_indices(x, k, s, p)
        gin = np.zeros((n, h * w, c))
        for i in range(oh):
            for j in range(ow):  # one term per (n, c) plane in each assignment: no repeats
                gin[np.arange(n)[:, None], idx[:, i, j, :], np.arange(c)[None, :]] += g[:, i, j, :]
        return gin.reshape(n, h, w, c)
    q = g / (k * k) if case.count_include_pad or p == 0 else g / avg_counts(h, w, k, s, p)
    gp = np.zeros((n, h + 2 * p, w + 2 * p, c))
    for di in range(k):
        for dj in range(k):
            gp[:, di : di + s * (oh - 1) + 1 : s, dj : dj + s * (ow - 1) + 1 : s, :] += q
    return gp[:, p : p + h, p : p + w, :]


def _lowest(dtype) -> np.generic:
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return dtype.type(-np.inf)
    return dtype.type(np.iinfo(dtype).min)


def _windows(x: np.ndarray, k: int, s: int, p: int, pad_value, oh: int, ow: int):
    """Yield (di, dj, strided view) for every kernel offset: out[.., i, j, ..] op= view."""
    xp = np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)), constant_values=pad_value) if p else x
    for di in range(k):
        for dj in range(k):
            yield di, dj, xp[:, di : di + s * (oh - 1) + 1 : s, dj : dj + s * (ow - 1) + 1 : s, :]


def np_max_pool(x: np.ndarray, k: int, s: int, p: int) -> np.ndarray:
    _, oh, ow, _ = Case("_", "max", x.shape, k=k, s=s, p=p).out_shape
    out = None
    for _, _, v in _windows(x, k, s, p, _lowest(x.dtype), oh, ow):
        if out is None:
            out = v.copy()
        else:
            np.maximum(out, v, out=out)
    return out


def np_max_pool_indices(x: np.ndarray, k: int, s: int, p: int) -> tuple[np.ndarray, np.ndarray]:
    """Max pool + flat per-plane argmax (h * W + w, PyTorch convention; first max wins)."""
    n, _, w, c = x.shape
    _, oh, ow, _ = Case("_", "max", x.shape, k=k, s=s, p=p).out_shape
    best = None
    code = np.zeros((n, oh, ow, c), dtype=np.int16)  # which kernel offset won
    for di, dj, v in _windows(x, k, s, p, _lowest(x.dtype), oh, ow):
        if best is None:
            best = v.copy()
            continue
        better = v > best
        np.copyto(best, v, where=better)
        code[better] = di * k + dj
    di, dj = np.divmod(code.astype(np.int64), k)
    hh = (np.arange(oh) * s - p).reshape(1, oh, 1, 1) + di
    ww = (np.arange(ow) * s - p).reshape(1, 1, ow, 1) + dj
    return best, hh * w + ww


def np_avg_pool(x: np.ndarray, k: int, s: int, p: int, count_include_pad: bool, acc=np.float32) -> np.ndarray:
    n, h, w, c = x.shape
    _, oh, ow, _ = Case("_", "avg", x.shape, k=k, s=s, p=p).out_shape
    acc_arr = np.zeros((n, oh, ow, c), dtype=acc)
    for _, _, v in _windows(x, k, s, p, 0, oh, ow):
        np.add(acc_arr, v, out=acc_arr, casting="unsafe" if v.dtype != acc else "same_kind")
    if count_include_pad or p == 0:
        acc_arr /= acc(k * k)
    else:
        acc_arr /= avg_counts(h, w, k, s, p).astype(acc)
    return acc_arr.astype(x.dtype, copy=False)


def avg_counts(h: int, w: int, k: int, s: int, p: int) -> np.ndarray:
    """Number of non-padding elements in every window, shape (1, OH, OW, 1)."""
    ones = np.ones((1, h, w, 1), dtype=np.float64)
    _, oh, ow, _ = Case("_", "avg", (1, h, w, 1), k=k, s=s, p=p).out_shape
    cnt = np.zeros((1, oh, ow, 1))
    for _, _, v in _windows(ones, k, s, p, 0, oh, ow):
        cnt += v
    return cnt


def np_global(x: np.ndarray, op: str, acc=np.float32) -> np.ndarray:
    if op == "gmax":
        return x.max(axis=(1, 2), keepdims=True)
    return x.mean(axis=(1, 2), keepdims=True, dtype=acc).astype(x.dtype)


def reference(case: Case, x: np.ndarray) -> dict:
    """Exact for max; float64 accumulation for averages and gradients."""
    if case.backward:
        return {"values64": np_backward64(case, x)}
    if case.op == "max":
        if case.return_indices:
            v, i = np_max_pool_indices(x, case.k, case.s, case.p)
            return {"values": v, "indices": i}
        return {"values": np_max_pool(x, case.k, case.s, case.p)}
    if case.op == "avg":
        return {"values64": _avg64(case, x)}
    if case.op == "gmax":
        return {"values": np_global(x, "gmax")}
    return {"values64": x.mean(axis=(1, 2), keepdims=True, dtype=np.float64)}


def _avg64(case: Case, x: np.ndarray) -> np.ndarray:
    n, h, w, c = x.shape
    _, oh, ow, _ = case.out_shape
    acc = np.zeros((n, oh, ow, c), dtype=np.float64)
    for _, _, v in _windows(x, case.k, case.s, case.p, 0, oh, ow):
        acc += v
    if case.count_include_pad or case.p == 0:
        acc /= case.k * case.k
    else:
        acc /= avg_counts(h, w, case.k, case.s, case.p)
    return acc


TOL = {"float32": (1e-5, 1e-5), "float16": (4e-3, 2e-3), "float64": (1e-12, 1e-12)}


def check(case: Case, x: np.ndarray, ref: dict, got: dict) -> tuple[bool, str]:
    """Compare a contestant's NHWC output (and indices) with the reference."""
    v = got["values"]
    want_shape = case.out_shape
    if tuple(v.shape) != tuple(want_shape):
        return False, f"shape {tuple(v.shape)} != {tuple(want_shape)}"
    if v.dtype != np.dtype(case.dtype):  # computed in another precision: not the same job
        return False, f"out dtype {v.dtype} != {case.dtype}"
    notes = []
    if "values" in ref:  # exact comparison (max pooling)
        r = ref["values"]
        bad = np.count_nonzero(v != r)
        if bad:
            err = np.max(np.abs(v.astype(np.float64) - r.astype(np.float64)))
            return False, f"{bad} of {r.size} values differ (max |err| {err:.3g})"
    else:
        r = ref["values64"]
        rtol, atol = TOL.get(str(v.dtype), TOL["float32"])
        vv = v.astype(np.float64)
        close = np.isclose(vv, r, rtol=rtol, atol=atol)
        if not close.all():
            err = np.max(np.abs(vv - r))
            return (
                False,
                f"{close.size - np.count_nonzero(close)} of {r.size} values off (max |err| {err:.3g})",
            )
    if case.return_indices:
        idx = got.get("indices")
        if idx is None:
            return False, "no indices returned"
        if tuple(idx.shape) != tuple(want_shape):
            return False, f"indices shape {tuple(idx.shape)}"
        n, h, w, c = x.shape
        idx = idx.astype(np.int64)
        if idx.min() < 0 or idx.max() >= h * w:
            return False, "indices out of range"
        # Gather instead of comparing indices: robust to ties (any max position is valid).
        flat = x.reshape(n, h * w, c)
        gathered = np.take_along_axis(flat, idx.reshape(n, -1, c), axis=1).reshape(idx.shape)
        bad = np.count_nonzero(gathered != ref["values"])
        if bad:
            return False, f"{bad} indices do not point at the max"
        exact = np.count_nonzero(idx != ref["indices"])
        if exact:
            notes.append(f"{exact} tie indices differ from first-max")
    if got.get("note"):
        notes.append(got["note"])
    return True, "; ".join(notes)


def selftest(trials: int = 200) -> int:
    """Check the vectorised NumPy reference against a naive per-window loop on small inputs."""
    rng = np.random.default_rng(0)
    for t in range(trials):
        n, c = int(rng.integers(1, 3)), int(rng.integers(1, 4))
        k = int(rng.integers(1, 5))
        s = int(rng.integers(1, 4))
        p = int(rng.integers(0, k // 2 + 1))
        h, w = int(rng.integers(k, k + 7)), int(rng.integers(k, k + 7))
        dtype = ["float32", "float16", "uint8"][t % 3]
        op = ["max", "avg", "gavg", "gmax"][t % 4] if dtype != "uint8" else "max"
        case = Case(
            "selftest",
            op,
            (n, h, w, c),
            dtype=dtype,
            k=k,
            s=s,
            p=p,
            count_include_pad=bool(t % 2),
            return_indices=(op == "max" and t % 5 == 0),
        )
        x = (
            rng.integers(0, 256, size=case.shape).astype(dtype)
            if dtype == "uint8"
            else (rng.random(case.shape) - 0.5).astype(dtype)
        )
        ref = reference(case, x)
        _, oh, ow, _ = case.out_shape
        exp = np.zeros(case.out_shape, dtype=np.float64)
        exp_idx = np.zeros(case.out_shape, dtype=np.int64)
        for b in range(n):
            for ch in range(c):
                plane = x[b, :, :, ch].astype(np.float64)
                if op in ("gavg", "gmax"):
                    exp[b, 0, 0, ch] = plane.mean() if op == "gavg" else plane.max()
                    continue
                for i in range(oh):
                    for j in range(ow):
                        vals, pos = [], []
                        for di in range(k):
                            for dj in range(k):
                                y, z = i * s - p + di, j * s - p + dj
                                if 0 <= y < h and 0 <= z < w:
                                    vals.append(plane[y, z])
                                    pos.append(y * w + z)
                        if op == "max":
                            a = int(np.argmax(vals))
                            exp[b, i, j, ch], exp_idx[b, i, j, ch] = vals[a], pos[a]
                        else:
                            exp[b, i, j, ch] = sum(vals) / (k * k if case.count_include_pad else len(vals))
        got = ref.get("values", ref.get("values64"))
        if not np.allclose(got.astype(np.float64), exp, rtol=1e-12, atol=1e-12):
            print(f"selftest FAILED values: {case}")
            return 1
        if case.return_indices and not np.array_equal(ref["indices"], exp_idx):
            print(f"selftest FAILED indices: {case}")
            return 1
        # the timed NumPy contestant must pass the same check as everyone else
        r = NumpyRef(1).prepare(case, x)
        ok, detail = check(case, x, ref, r[1](r[0]()))
        if not ok:
            print(f"selftest FAILED numpy contestant: {case}: {detail}")
            return 1
    print(f"selftest: {trials} passed, 0 failed")
    return 0


# --------------------------------------------------------------------------------------------
# Contestants (worker side).  prepare() returns (call, extract): call() runs one pooling op
# on preallocated/converted inputs; extract(result) -> {"values": NHWC ndarray, "indices": ...}
# --------------------------------------------------------------------------------------------


class Unsupported(Exception):
    pass


def skip(reason: str) -> NoReturn:
    """This contestant cannot run this case (reported as 'skip: reason')."""
    raise Unsupported(reason)


def _nhwc(a: np.ndarray) -> np.ndarray:
    return a.transpose(0, 2, 3, 1)


class Contestant:
    name = "?"

    def __init__(self, threads: int):
        self.threads = threads

    def info(self) -> dict:
        return {}

    def prepare(self, case: Case, x: np.ndarray):
        raise NotImplementedError


class NhwcPool(Contestant):
    name = "nhwcpool"
    use_out = False

    def __init__(self, threads):
        super().__init__(threads)
        import nhwcpool

        self.m = nhwcpool
        nhwcpool.set_num_threads(threads)

    def info(self):
        m = self.m
        d = {
            "version": getattr(m, "__version__", "?"),
            "num_threads": m.get_num_threads(),
            "file": m.__file__,
        }
        try:
            core = [p for p in Path(m.__file__).parent.iterdir() if p.name.startswith("_core")]
            d["core_mtime"] = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(core[0].stat().st_mtime))
        except (OSError, IndexError):
            pass
        try:
            import io

            buf = io.StringIO()
            with contextlib.redirect_stdout(buf):
                r = m.show_config()
            d["config"] = (buf.getvalue() or (r if isinstance(r, str) else repr(r)))[:2000]
        except Exception as e:  # pragma: no cover - informational only
            d["config"] = f"show_config failed: {e}"
        return d

    def _call(self, case: Case, x: np.ndarray):
        m = self.m
        if case.backward:
            g = make_grad(case)
            if case.op == "max":
                _, idx = m.max_pool2d(x, case.k, case.s, case.p, return_indices=True)  # not timed
                return lambda **kw: m.max_pool2d_backward(g, idx, x.shape, **kw)
            return lambda **kw: m.avg_pool2d_backward(
                g, x.shape, case.k, case.s, case.p, count_include_pad=case.count_include_pad, **kw
            )
        if case.op == "max":
            return lambda **kw: m.max_pool2d(
                x, case.k, case.s, case.p, return_indices=case.return_indices, **kw
            )
        if case.op == "avg":
            return lambda **kw: m.avg_pool2d(
                x, case.k, case.s, case.p, count_include_pad=case.count_include_pad, **kw
            )
        if case.op == "gavg":
            return lambda **kw: m.global_avg_pool2d(x, keepdims=True, **kw)
        return lambda **kw: m.global_max_pool2d(x, keepdims=True, **kw)

    @staticmethod
    def _extract(r):
        if isinstance(r, tuple):
            return {"values": np.asarray(r[0]), "indices": np.asarray(r[1])}
        return {"values": np.asarray(r)}

    def prepare(self, case, x):
        f = self._call(case, x)
        if not self.use_out:
            return f, self._extract
        first = f()
        if isinstance(first, tuple):
            outs = [np.empty_like(np.asarray(first[0])), np.empty_like(np.asarray(first[1]))]
            candidates = [tuple(outs), outs[0]]
        else:
            candidates = [np.empty_like(np.asarray(first))]
        last_err = None
        for out in candidates:
            try:
                r = f(out=out)
            except TypeError as e:
                last_err = e
                continue
            except ValueError as e:
                last_err = e
                continue
            target = out[0] if isinstance(out, tuple) else out
            vals = r[0] if isinstance(r, tuple) else r
            if not np.shares_memory(np.asarray(vals), target):
                skip("out= result does not alias the given array")
            return (lambda out=out: f(out=out)), self._extract
        skip(f"no out= for this op ({str(last_err)[:80]})")


class NhwcPoolOut(NhwcPool):
    name = "nhwcpool_out"
    use_out = True


class Torch(Contestant):
    name = "torch"

    def __init__(self, threads):
        super().__init__(threads)
        import torch
        import torch.nn.functional as F

        torch.set_num_threads(threads)
        with contextlib.suppress(RuntimeError):  # only settable once per process
            torch.set_num_interop_threads(threads)
        torch.set_grad_enabled(False)
        self.torch, self.F = torch, F

    def info(self):
        t = self.torch
        return {
            "version": t.__version__,
            "num_threads": t.get_num_threads(),
            "mkldnn": t.backends.mkldnn.is_available(),
        }

    def prepare(self, case, x):
        torch = self.torch
        xt = torch.from_numpy(x).permute(0, 3, 1, 2)  # zero-copy, channels_last strides
        assert xt.is_contiguous(memory_format=torch.channels_last)
        call = self._make_call(case, xt)
        try:
            call()
        except RuntimeError as e:
            # torch 2.13 rejects some channels_last inputs (e.g. uint8 max pooling goes down a
            # quantized-style kernel with a size check that fails).  Fall back to a contiguous
            # NCHW copy (conversion not timed) and say so in the table.
            xt = xt.contiguous()
            call = self._make_call(case, xt)
            call()
            self.note = "NCHW fallback: channels_last raises " + str(e).splitlines()[0][:60]
        else:
            self.note = ""
        note = self.note

        def extract(r):
            if isinstance(r, tuple):
                d = {"values": _nhwc(r[0].numpy()), "indices": _nhwc(r[1].numpy())}
            else:
                d = {"values": _nhwc(r.numpy())}
            d["note"] = note
            return d

        return call, extract

    def _make_call(self, case, xt):
        F = self.F
        if case.backward:
            # The kernels autograd runs for F.max_pool2d / F.avg_pool2d (channels_last in, out).
            aten = self.torch.ops.aten
            gt = self.torch.from_numpy(make_grad(case)).permute(0, 3, 1, 2)
            k, s, p = [case.k] * 2, [case.s] * 2, [case.p] * 2
            if case.op == "max":
                _, it = aten.max_pool2d_with_indices(xt, k, s, p, [1, 1], False)  # not timed
                return lambda: aten.max_pool2d_with_indices_backward(gt, xt, k, s, p, [1, 1], False, it)
            return lambda: aten.avg_pool2d_backward(gt, xt, k, s, p, False, case.count_include_pad, None)
        if case.op == "max":
            call = lambda: F.max_pool2d(xt, case.k, case.s, case.p, return_indices=case.return_indices)
        elif case.op == "avg":
            call = lambda: F.avg_pool2d(xt, case.k, case.s, case.p, count_include_pad=case.count_include_pad)
        elif case.op == "gavg":
            call = lambda: F.adaptive_avg_pool2d(xt, 1)
        else:
            call = lambda: F.adaptive_max_pool2d(xt, 1)
        return call


class TorchMkldnn(Torch):
    name = "torch_mkldnn"

    def prepare(self, case, x):
        torch, F = self.torch, self.F
        if case.return_indices:
            skip("no return_indices on mkldnn tensors")
        if case.backward:
            skip("no backward on mkldnn tensors")
        try:
            xm = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))).to_mkldnn()  # not timed
        except Exception as e:
            msg = f"to_mkldnn: {str(e)[:60]}"
            raise Unsupported(msg) from e
        if case.op == "max":
            call = lambda: F.max_pool2d(xm, case.k, case.s, case.p)
        elif case.op == "avg":
            call = lambda: F.avg_pool2d(xm, case.k, case.s, case.p, count_include_pad=case.count_include_pad)
        elif case.op == "gavg":
            call = lambda: F.adaptive_avg_pool2d(xm, 1)
        else:
            skip("no global max on mkldnn")
        try:
            call()
        except Exception as e:
            raise Unsupported(str(e).splitlines()[0][:80]) from e
        return call, lambda r: {"values": _nhwc(r.to_dense().numpy())}


class OnnxRuntime(Contestant):
    name = "onnxruntime"

    def __init__(self, threads):
        super().__init__(threads)
        import onnx
        import onnxruntime as ort

        self.onnx, self.ort = onnx, ort

    def info(self):
        return {
            "version": self.ort.__version__,
            "onnx": self.onnx.__version__,
            "intra_op_num_threads": self.threads,
        }

    def prepare(self, case, x):
        ort = self.ort
        from onnx import TensorProto, helper

        if case.return_indices:
            skip("indices not benchmarked for ORT (NCHW index semantics)")
        if case.backward:
            skip("inference only")
        elem = {
            "float32": TensorProto.FLOAT,
            "float16": TensorProto.FLOAT16,
            "float64": TensorProto.DOUBLE,
            "uint8": TensorProto.UINT8,
            "int8": TensorProto.INT8,
        }[case.dtype]
        n, h, w, c = case.shape
        on, oh, ow, oc = case.out_shape
        if case.op == "max":
            node = helper.make_node(
                "MaxPool",
                ["X"],
                ["Y"],
                kernel_shape=[case.k] * 2,
                strides=[case.s] * 2,
                pads=[case.p] * 4,
                ceil_mode=0,
            )
        elif case.op == "avg":
            node = helper.make_node(
                "AveragePool",
                ["X"],
                ["Y"],
                kernel_shape=[case.k] * 2,
                strides=[case.s] * 2,
                pads=[case.p] * 4,
                ceil_mode=0,
                count_include_pad=int(case.count_include_pad),
            )
        elif case.op == "gavg":
            node = helper.make_node("GlobalAveragePool", ["X"], ["Y"])
        else:
            node = helper.make_node("GlobalMaxPool", ["X"], ["Y"])
        graph = helper.make_graph(
            [node],
            "pool",
            [helper.make_tensor_value_info("X", elem, [n, c, h, w])],
            [helper.make_tensor_value_info("Y", elem, [on, oc, oh, ow])],
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
        model.ir_version = 9
        so = ort.SessionOptions()
        so.intra_op_num_threads = self.threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.log_severity_level = 3
        try:
            sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
        except Exception as e:
            raise Unsupported(str(e).splitlines()[0][:80]) from e
        x_nchw = np.ascontiguousarray(x.transpose(0, 3, 1, 2))  # layout conversion: not timed
        xv = ort.OrtValue.ortvalue_from_numpy(x_nchw)
        yv = ort.OrtValue.ortvalue_from_shape_and_type([on, oc, oh, ow], x.dtype)
        io = sess.io_binding()
        io.bind_ortvalue_input("X", xv)
        io.bind_ortvalue_output("Y", yv)

        def call(_keep=(x_nchw, xv, yv, sess)):
            sess.run_with_iobinding(io)
            return yv

        return call, lambda r: {"values": _nhwc(r.numpy())}


def tf_same_pads(size: int, k: int, s: int) -> tuple[int, int]:
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


class TensorFlow(Contestant):
    name = "tensorflow"

    def __init__(self, threads):
        super().__init__(threads)
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
        self.tf = tf

    def info(self):
        tf = self.tf
        return {
            "version": tf.__version__,
            "intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
            "inter_op": tf.config.threading.get_inter_op_parallelism_threads(),
        }

    def prepare(self, case, x):
        tf = self.tf
        _, h, w, c = case.shape
        with tf.device("/CPU:0"):
            xt = tf.constant(x)  # copy into a TF tensor: not timed
        k, s, p = case.k, case.s, case.p
        if case.backward:
            return self._prepare_backward(case, xt)
        if case.op == "max":
            pad = "VALID" if p == 0 else [[0, 0], [p, p], [p, p], [0, 0]]
            if case.return_indices:
                if p:
                    skip("max_pool_with_argmax has no explicit padding")
                call = lambda: tf.nn.max_pool_with_argmax(xt, k, s, "VALID", include_batch_in_index=False)

                def extract(r):  # TF index is (y * W + x) * C + c
                    return {"values": r[0].numpy(), "indices": r[1].numpy() // c}

                return call, extract
            call = lambda: tf.nn.max_pool2d(xt, k, s, pad)
        elif case.op == "avg":
            if p == 0:
                pad = "VALID"
            elif (
                not case.count_include_pad
                and tf_same_pads(h, k, s) == (p, p)
                and tf_same_pads(w, k, s) == (p, p)
            ):
                pad = "SAME"  # TF's SAME average excludes padding == PyTorch count_include_pad=False
            else:
                skip("avg_pool2d has no explicit padding and SAME is not equivalent")
            call = lambda: tf.nn.avg_pool2d(xt, k, s, pad)
        elif case.op == "gavg":
            call = lambda: tf.reduce_mean(xt, axis=[1, 2], keepdims=True)
        else:
            call = lambda: tf.reduce_max(xt, axis=[1, 2], keepdims=True)
        try:
            call()
        except Exception as e:
            raise Unsupported(str(e).splitlines()[0][:80]) from e
        return call, lambda r: {"values": r.numpy()}

    def _prepare_backward(self, case, xt):
        """The ops TF's gradient registry runs for tf.nn.max_pool2d / avg_pool2d."""
        tf = self.tf
        _, h, w, _ = case.shape
        k, s, p = case.k, case.s, case.p
        with tf.device("/CPU:0"):
            gt = tf.constant(make_grad(case))
        ks, st = [1, k, k, 1], [1, s, s, 1]
        if case.op == "max":
            pad = "VALID" if p == 0 else [[0, 0], [p, p], [p, p], [0, 0]]
            yt = tf.nn.max_pool2d(xt, k, s, pad)  # not timed
            kw = (
                dict(padding="VALID")
                if p == 0
                else dict(padding="EXPLICIT", explicit_paddings=[0, 0, p, p, p, p, 0, 0])
            )
            call = lambda: tf.raw_ops.MaxPoolGrad(
                orig_input=xt, orig_output=yt, grad=gt, ksize=ks, strides=st, **kw
            )
        else:
            if p == 0:
                pad = "VALID"
            elif (
                not case.count_include_pad
                and tf_same_pads(h, k, s) == (p, p)
                and tf_same_pads(w, k, s) == (p, p)
            ):
                pad = "SAME"
            else:
                skip("avg_pool2d has no explicit padding and SAME is not equivalent")
            call = lambda: tf.raw_ops.AvgPoolGrad(
                orig_input_shape=list(case.shape), grad=gt, ksize=ks, strides=st, padding=pad
            )
        try:
            call()
        except Exception as e:
            raise Unsupported(str(e).splitlines()[0][:80]) from e
        return call, lambda r: {"values": r.numpy()}


class Jax(Contestant):
    name = "jax"

    def __init__(self, threads):
        super().__init__(threads)
        import jax

        # Without x64, JAX silently computes float64 inputs in float32 (and returns float32).
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
        from jax import lax

        self.jax, self.jnp, self.lax = jax, jnp, lax

    def info(self):
        import jaxlib

        return {
            "version": self.jax.__version__,
            "jaxlib": jaxlib.__version__,
            "devices": str(self.jax.devices()),
            "XLA_FLAGS": os.environ.get("XLA_FLAGS", ""),
        }

    def prepare(self, case, x):
        jax, jnp, lax = self.jax, self.jnp, self.lax
        if case.return_indices:
            skip("reduce_window has no argmax")
        k, s, p = case.k, case.s, case.p
        dims, strides, pads = (1, k, k, 1), (1, s, s, 1), ((0, 0), (p, p), (p, p), (0, 0))
        if case.op == "max":
            init = _lowest(x.dtype)
            fn = lambda a: lax.reduce_window(a, init, lax.max, dims, strides, pads)
        elif case.op == "avg":
            if case.count_include_pad or p == 0:
                div = np.asarray(k * k, dtype=x.dtype)
            else:
                div = avg_counts(case.shape[1], case.shape[2], k, s, p).astype(x.dtype)
            zero = x.dtype.type(0)
            fn = lambda a: lax.reduce_window(a, zero, lax.add, dims, strides, pads) / div
        elif case.op == "gavg":
            fn = lambda a: jnp.mean(a, axis=(1, 2), keepdims=True)
        else:
            fn = lambda a: jnp.max(a, axis=(1, 2), keepdims=True)
        xd = jax.device_put(x)
        xd.block_until_ready()
        if case.backward:
            # jax.grad's pullback (XLA recomputes what it needs of the forward: select_and_scatter
            # for max takes the operand; it is part of what a JAX user pays for the gradient).
            jb = jax.jit(lambda a, g: jax.vjp(fn, a)[1](g)[0])
            gd = jax.device_put(make_grad(case))
            return (lambda: jb(xd, gd).block_until_ready()), lambda r: {"values": np.asarray(r)}
        jf = jax.jit(fn)
        return (lambda: jf(xd).block_until_ready()), lambda r: {"values": np.asarray(r)}


class NumpyRef(Contestant):
    name = "numpy"

    def info(self):
        return {"version": np.__version__}

    def prepare(self, case, x):
        k, s, p = case.k, case.s, case.p
        if case.backward:
            skip("no backward (the reference runs in float64 only)")
        if case.op == "max":
            if case.return_indices:
                return (lambda: np_max_pool_indices(x, k, s, p)), lambda r: {"values": r[0], "indices": r[1]}
            call = lambda: np_max_pool(x, k, s, p)
        elif case.op == "avg":
            call = lambda: np_avg_pool(x, k, s, p, case.count_include_pad)
        else:
            call = lambda: np_global(x, case.op)
        return call, lambda r: {"values": r}


class CopyRef(Contestant):
    """np.copyto of the input into a preallocated array: the memory-bandwidth yardstick."""

    name = "copy"

    def info(self):
        return {"version": np.__version__}

    def prepare(self, case, x):  # noqa: ARG002 - the same copy whatever the case
        dst = np.empty_like(x)
        return (lambda: np.copyto(dst, x)), (lambda _r: {"copy_ok": bool(np.array_equal(dst, x))})


class RoofRef(Contestant):
    """The memory roof of a case at T threads: read the input once, then write an output-sized
    buffer once, each split into T contiguous slices run on T Python threads (NumPy releases the
    GIL in both loops). np.copyto alone is single-threaded, so at T=2 it is no yardstick for a
    two-thread kernel (issue 19). Reported as one time per call: read time + write time."""

    name = "roof"

    def __init__(self, threads):
        super().__init__(threads)
        from concurrent.futures import ThreadPoolExecutor

        self.pool = ThreadPoolExecutor(max_workers=threads) if threads > 1 else None

    def info(self):
        return {"version": np.__version__}

    def _split(self, a: np.ndarray):
        n, t = a.size, self.threads
        return [a[n * i // t : n * (i + 1) // t] for i in range(t)]

    def _run(self, fn, parts):
        # Slices under 1 MiB run on the calling thread: waking a pool costs more than they take.
        if self.pool is None or parts[0].nbytes < (1 << 20):
            for p in parts:
                fn(p)
        else:
            list(self.pool.map(fn, parts))

    def prepare(self, case, x):
        flat = x.reshape(-1).view(np.uint8)
        src = flat.view(np.uint64) if flat.size % 8 == 0 else flat  # 8-byte words read fastest
        dst = np.empty(case.out_bytes + case.idx_bytes, dtype=np.uint8)
        reads, writes = self._split(src), self._split(dst)
        read = np.bitwise_or.reduce
        write = lambda p: p.fill(1)

        def call():
            self._run(read, reads)
            self._run(write, writes)

        return call, (lambda _r: {"roof_ok": True})


ADAPTERS = {
    c.name: c
    for c in [
        NhwcPool,
        NhwcPoolOut,
        Torch,
        TorchMkldnn,
        OnnxRuntime,
        TensorFlow,
        Jax,
        NumpyRef,
        CopyRef,
        RoofRef,
    ]
}

# --------------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------------


def measure(call, *, quick: bool, latency: bool) -> dict:
    """Warm up, pick calls-per-repetition, then time repetitions; returns seconds per call."""
    clock = time.perf_counter
    target = 0.06 if quick else 0.5  # seconds of timed work per contestant per case
    min_reps = 3 if quick else 5
    max_reps = 2000
    min_rep_time = (0.002 if quick else 0.02) if latency else 0.0005

    call()  # warm-up (compilation, first-touch of buffers, caches)
    t0 = clock()
    call()
    est = clock() - t0
    number = 1
    if est < min_rep_time:
        number = max(1, int(min_rep_time / max(est, 1e-7)))
        t0 = clock()
        for _ in range(number):
            call()
        est = (clock() - t0) / number
    reps = int(min(max_reps, max(min_reps, math.ceil(target / max(est * number, 1e-9)))))
    gc_was = gc.isenabled()
    gc.disable()
    times = []
    try:
        for _ in range(reps):
            t0 = clock()
            for _ in range(number):
                call()
            times.append((clock() - t0) / number)
    finally:
        if gc_was:
            gc.enable()
    times.sort()
    q1, q3 = np.percentile(times, [25, 75])
    return {
        "median_s": float(np.median(times)),
        "min_s": times[0],
        "iqr_s": float(q3 - q1),
        "reps": reps,
        "number": number,
    }


# --------------------------------------------------------------------------------------------
# Worker
# --------------------------------------------------------------------------------------------


def emit(obj: dict) -> None:
    sys.stdout.write(MARK + json.dumps(obj) + "\n")
    sys.stdout.flush()


def run_case(adapter, name: str, threads: int, cid: str, *, quick: bool, do_check: bool) -> dict:
    """Make the case's input, check the contestant's output (unless told not to), time it, free it."""
    case = CASES[cid]
    rec = {"type": "result", "contestant": name, "threads": threads, "case": cid}
    x = ref = call = extract = res = got = None
    try:
        x = make_input(case)
        call, extract = adapter.prepare(case, x)
        if do_check:
            yardstick = name in ("copy", "roof")
            ref = None if yardstick else reference(case, x)
            res = call()
            got = extract(res)
            if yardstick:
                ok, detail = got.get("copy_ok", got.get("roof_ok", False)), ""
            else:
                ok, detail = check(case, x, ref, got)
            rec.update(status="ok" if ok else "mismatch", detail=detail)
            got = res = ref = None
        else:
            rec.update(status="ok", detail="")
        rec.update(measure(call, quick=quick, latency=case.latency))
    except Unsupported as e:
        rec.update(status="skip", detail=str(e))
    except Exception as e:
        msg = str(e).splitlines()[0] if str(e) else ""
        rec.update(status="error", detail=f"{type(e).__name__}: {msg}"[:200])
        traceback.print_exc(file=sys.stderr)
    finally:
        del x, ref, call, extract, res, got
        gc.collect()
    return rec


def worker_main(args) -> int:
    """--worker NAME: run --cases, or with --serve take {"case": id, "check": bool} lines on stdin."""
    name, threads = args.worker, args.threads_worker
    try:
        adapter = ADAPTERS[name](threads)
        info = adapter.info()
    except Exception as e:
        emit(
            {
                "type": "header",
                "contestant": name,
                "threads": threads,
                "import_error": f"{type(e).__name__}: {e}",
            }
        )
        return 0
    info["affinity"] = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    info["pid"] = os.getpid()
    emit({"type": "header", "contestant": name, "threads": threads, "info": info})
    if args.serve:
        for line in sys.stdin:
            cmd = json.loads(line)
            if cmd.get("quit"):
                break
            emit({"type": "start", "case": cmd["case"]})
            emit(
                run_case(
                    adapter, name, threads, cmd["case"], quick=args.quick, do_check=cmd.get("check", True)
                )
            )
        return 0
    for cid in expand_cases(args.cases):
        emit({"type": "start", "case": cid})
        emit(run_case(adapter, name, threads, cid, quick=args.quick, do_check=True))
    return 0


# --------------------------------------------------------------------------------------------
# Parent: run workers, collect, report
# --------------------------------------------------------------------------------------------


def _cpu_busy_seconds() -> float | None:
    """Busy CPU-seconds of the whole machine since boot (all CPUs), from /proc/stat."""
    try:
        with Path("/proc/stat").open() as f:
            vals = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0)
    return (sum(vals[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds() -> float:
    import resource

    a = resource.getrusage(resource.RUSAGE_SELF)
    b = resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime


def _pid_cpu_seconds(pid: int) -> float:
    """utime + stime of a live process, all its threads (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class ForeignLoad:
    """CPU time used by *other* processes while a block runs, as a fraction of the machine.

    Our own CPU time is this process, its reaped children, and the live worker pids passed in.
    """

    def __init__(self, pids=()):
        self.pids = list(pids)

    def _own(self) -> float:
        return _own_cpu_seconds() + sum(_pid_cpu_seconds(p) for p in self.pids)

    def __enter__(self):
        self.t0, self.busy0, self.own0 = time.monotonic(), _cpu_busy_seconds(), self._own()
        return self

    def __exit__(self, *exc):
        wall = time.monotonic() - self.t0
        busy1 = _cpu_busy_seconds()
        if self.busy0 is None or busy1 is None or wall <= 0:
            self.fraction = None
        else:
            foreign = (busy1 - self.busy0) - (self._own() - self.own0)
            self.fraction = max(0.0, foreign / (wall * (os.cpu_count() or 1)))
        return False


def machine_idle_check(seconds: float = 1.0, pids=()) -> float | None:
    with ForeignLoad(pids) as fl:
        time.sleep(seconds)
    return fl.fraction


def wait_for_quiet(budget: float, threshold: float = 0.10, pids=()) -> float | None:
    """Sleep (up to `budget` seconds) until other processes use < threshold of the CPUs."""
    deadline = time.monotonic() + budget
    while True:
        frac = machine_idle_check(0.5, pids)
        if frac is None or frac < threshold or time.monotonic() > deadline:
            return frac
        time.sleep(1.0)


class Worker:
    """A persistent `--worker NAME --threads T --serve` subprocess, driven one case at a time."""

    def __init__(self, name: str, threads: int, args, log):
        self.name, self.threads, self.args, self.log = name, threads, args, log
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--worker",
            name,
            "--threads",
            str(threads),
            "--serve",
        ]
        if args.quick:
            cmd.append("--quick")
        if args.no_pin:
            cmd.append("--no-pin")
        env = dict(os.environ)
        env.update(thread_env(threads))
        if getattr(args, "simd", None):
            env.update(SIMD_ENV[args.simd])
        self.errf = tempfile.TemporaryFile("w+")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.errf,
            text=True,
            env=env,
            start_new_session=True,
        )
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        self.header: dict = {}

    def _pump(self):
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith(MARK):
                self.lines.put(json.loads(line[len(MARK) :]))
        self.lines.put(None)  # EOF

    def _next(self, timeout: float) -> dict | None:
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            return {"type": "timeout"}

    def wait_header(self, timeout: float = 600.0) -> dict:
        rec = self._next(timeout)
        if rec is None or rec.get("type") != "header":
            self.header = {"import_error": self._death_note(rec)}
        else:
            self.header = {k: v for k, v in rec.items() if k != "type"}
        return self.header

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None and "import_error" not in self.header

    def _death_note(self, rec) -> str:
        if rec is not None and rec.get("type") == "timeout":
            self.kill()
            why = "timeout"
        else:
            why = f"worker died (rc={self.proc.wait()})"
        self.errf.seek(0)
        tail = self.errf.read().strip().splitlines()
        return why + (": " + tail[-1][:150] if tail else "")

    def run(self, cid: str, check: bool) -> dict:
        base = {"contestant": self.name, "threads": self.threads, "case": cid}
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(json.dumps({"case": cid, "check": check}) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            return {**base, "status": "error", "detail": self._death_note(None)}
        deadline = time.monotonic() + self.args.timeout
        while True:
            rec = self._next(max(0.1, deadline - time.monotonic()))
            if rec is None or rec.get("type") == "timeout":
                return {**base, "status": "error", "detail": self._death_note(rec)}
            if rec.get("type") == "result":
                return {k: v for k, v in rec.items() if k != "type"}

    def settle(self, max_s: float = 1.0) -> None:
        """Wait until the worker's threads stop burning CPU (spin-waiting pools) before the next one runs."""
        end = time.monotonic() + max_s
        last = _pid_cpu_seconds(self.proc.pid)
        while time.monotonic() < end:
            time.sleep(0.05)
            now = _pid_cpu_seconds(self.proc.pid)
            if now - last <= 0.011:  # at most one clock tick in 50 ms
                return
            last = now

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, 9)

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write(json.dumps({"quit": True}) + "\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.kill()
                self.proc.wait()
        self.errf.seek(0)
        tail = self.errf.read()[-4000:]
        if tail.strip():
            self.log.write(
                f"--- {self.name} T={self.threads} (rc={self.proc.returncode}) stderr tail ---\n{tail}\n"
            )
        self.errf.close()


def run_all(cases, threads_list, available, args, progress, log) -> tuple[dict, list[dict]]:
    """For each T: start one worker per contestant, then run case by case, all contestants back to back.

    Case-major order means a contestant and its rivals are timed seconds apart, so slow drifts of the
    machine (another job starting, thermal state) hit them alike. With --rounds R every case is timed R
    times (contestant order reversed on odd rounds) and the round with the lowest median is kept.
    """
    headers: dict = {}
    records: list[dict] = []
    for t in threads_list:
        workers = {c: Worker(c, t, args, log) for c in available}  # imports run concurrently
        for c, w in workers.items():
            headers[f"{c}@{t}"] = w.wait_header()
        verdict: dict = {}  # (contestant, case) -> status of the checked round
        try:
            for r in range(args.rounds):
                order = available if r % 2 == 0 else available[::-1]
                for cid in cases:
                    pids = [w.proc.pid for w in workers.values() if w.proc.poll() is None]
                    if args.wait_quiet > 0:
                        wait_for_quiet(args.wait_quiet, pids=pids)
                    for c in order:
                        w = workers[c]
                        if progress.desc is not None:
                            progress.desc(f"T={t} round {r + 1}/{args.rounds} {cid} {c}")
                        if "import_error" in w.header:
                            if r == 0:
                                records.append(
                                    {
                                        "contestant": c,
                                        "threads": t,
                                        "case": cid,
                                        "status": "skip",
                                        "detail": "import failed: " + w.header["import_error"][:120],
                                    }
                                )
                            progress(1)
                            continue
                        if r > 0 and verdict.get((c, cid)) != "ok":
                            progress(1)  # skipped/failed cases are not timed again
                            continue
                        if not w.alive:  # crashed earlier: start a fresh one
                            w.close()
                            w = workers[c] = Worker(c, t, args, log)
                            w.wait_header()
                        pids = [x.proc.pid for x in workers.values() if x.proc.poll() is None]
                        with ForeignLoad(pids) as fl:
                            rec = w.run(cid, check=(r == 0))
                        rec["foreign_cpu"] = fl.fraction
                        rec["round"] = r
                        if r == 0:
                            verdict[(c, cid)] = rec.get("status")
                        records.append(rec)
                        w.settle()
                        progress(1)
        finally:
            for w in workers.values():
                w.close()
    return headers, merge_rounds(records)


def merge_rounds(records: list[dict]) -> list[dict]:
    """One record per (contestant, threads, case): the checked round's verdict, the fastest round's time."""
    groups: dict = {}
    for rec in records:
        groups.setdefault((rec["contestant"], rec["threads"], rec["case"]), []).append(rec)
    out = []
    for recs in groups.values():
        first = min(recs, key=lambda r: r.get("round", 0))
        timed = [r for r in recs if r.get("median_s")]
        best = min(timed, key=lambda r: r["median_s"]) if timed else first
        merged = {**best, "status": first.get("status"), "detail": first.get("detail", "")}
        merged["round_medians_s"] = [r.get("median_s") for r in sorted(recs, key=lambda r: r.get("round", 0))]
        out.append(merged)
    return out


def summarize(cases: list[str], threads_list: list[int], results: list[dict]) -> tuple[list[dict], dict]:
    idx = {(r["contestant"], r["threads"], r["case"]): r for r in results}
    for r in results:
        case = CASES[r["case"]]
        if r.get("median_s"):
            nbytes = 2 * case.in_bytes if r["contestant"] == "copy" else case.traffic_bytes
            r["gbps"] = nbytes / r["median_s"] / 1e9
    for r in results:
        cp = idx.get(("copy", r["threads"], r["case"]))
        if r.get("gbps") and cp and cp.get("gbps"):
            r["frac_copy"] = r["gbps"] / cp["gbps"]
        roof = idx.get(("roof", r["threads"], r["case"]))
        if r.get("median_s") and roof and roof.get("median_s"):
            # time / (time to read the input + write the output at T threads): 1.0 is the roof
            r["x_roof"] = r["median_s"] / roof["median_s"]
    summary = []
    for cid in cases:
        for t in threads_list:
            main = idx.get((MAIN, t, cid), {})
            out = idx.get(("nhwcpool_out", t, cid), {})
            peers = [
                idx[(p, t, cid)]
                for p in PEERS
                if (p, t, cid) in idx
                and idx[(p, t, cid)].get("status") == "ok"
                and idx[(p, t, cid)].get("median_s")
            ]
            best = min(peers, key=lambda r: r["median_s"]) if peers else None
            row = {
                "case": cid,
                "threads": t,
                "desc": CASES[cid].desc,
                "nhwcpool_s": main.get("median_s"),
                "nhwcpool_status": main.get("status", "absent"),
                "nhwcpool_out_s": out.get("median_s"),
                "nhwcpool_gbps": main.get("gbps"),
                "nhwcpool_frac_copy": main.get("frac_copy"),
                "copy_s": idx.get(("copy", t, cid), {}).get("median_s"),
                "roof_s": idx.get(("roof", t, cid), {}).get("median_s"),
                "nhwcpool_x_roof": main.get("x_roof"),
                "source": CASES[cid].source(llc_bytes()),
                "numpy_s": idx.get(("numpy", t, cid), {}).get("median_s"),
                "best_peer": best["contestant"] if best else None,
                "best_peer_s": best["median_s"] if best else None,
            }
            if best and main.get("median_s") and main.get("status") == "ok":
                row["speedup"] = best["median_s"] / main["median_s"]
                row["busy"] = any((r.get("foreign_cpu") or 0) > BUSY for r in (main, best))
            else:
                row["speedup"] = None
            summary.append(row)
    return summary, idx


def _fmt_time(sec, latency: bool) -> str:
    if sec is None:
        return "-"
    if latency:
        return f"{sec * 1e6:.2f}"
    v = sec * 1e3
    return f"{v:.3f}" if v < 10 else f"{v:.2f}" if v < 100 else f"{v:.1f}"


def _tm(r: dict | None, latency: bool) -> str:
    """Time cell; '*' when other processes were busy while it was measured."""
    r = r or {}
    t = _fmt_time(r.get("median_s"), latency)
    return t + ("*" if r.get("median_s") and (r.get("foreign_cpu") or 0) > BUSY else "")


def _fmt(v, spec, dash="-"):
    return dash if v is None else format(v, spec)


def _status(rs: list[dict]) -> str:
    parts = []
    for r in rs:
        if r is None:
            continue
        st = r.get("status", "?")
        detail = r.get("detail", "")
        if len(detail) > 100:
            detail = detail[:97] + "..."
        s = st if st == "ok" else f"{st.upper() if st == 'mismatch' else st}: {detail}"
        if st == "ok" and detail:
            s = f"ok ({detail})"
        if s not in parts:
            parts.append(s)
    return " | ".join(parts) if parts else "-"


def text_tables(cases, threads_list, contestants, idx, summary) -> str:
    lines = []
    for cid in cases:
        case = CASES[cid]
        unit = "us/call" if case.latency else "ms"
        lines.append("")
        lines.append(
            f"== {cid}: {case.desc}   in {case.in_bytes / 1e6:.3g} MB, out {case.out_bytes / 1e6:.3g} MB"
            + (f", idx {case.idx_bytes / 1e6:.3g} MB" if case.idx_bytes else "")
            + (f"  [{case.note}]" if case.note else "")
            + f"; input from {case.source(llc_bytes())}"
        )
        hdr = f"{'contestant':<14}"
        for t in threads_list:
            hdr += f" | T={t} {unit:>7} {'GB/s':>7} {'%copy':>6} {'xroof':>6}"
        hdr += " | status"
        lines.append(hdr)
        lines.append("-" * len(hdr))
        for c in contestants:
            rs = [idx.get((c, t, cid)) for t in threads_list]
            if all(r is None for r in rs):
                continue
            row = f"{c:<14}"
            for r0 in rs:
                r = r0 or {}
                frac = r.get("frac_copy")
                row += (
                    f" | {'':3}{_tm(r, case.latency):>8} {_fmt(r.get('gbps'), '.1f'):>7}"
                    f" {_fmt(None if frac is None else 100 * frac, '.0f'):>6}"
                    f" {_fmt(r.get('x_roof'), '.2f'):>6}"
                )
            row += " | " + _status(rs)
            lines.append(row)
        sp = []
        for s in summary:
            if s["case"] == cid:
                if s["speedup"] is not None:
                    sp.append(
                        f"T={s['threads']}: {s['speedup']:.2f}x{'*' if s.get('busy') else ''} vs {s['best_peer']}"
                    )
                else:
                    sp.append(f"T={s['threads']}: n/a")
        lines.append("nhwcpool speedup over best peer: " + ",  ".join(sp))
    return "\n".join(lines)


def markdown(cases, threads_list, contestants, idx, summary, meta) -> str:
    out = []
    caches = ", ".join(f"{k} {v // 1024} KiB" for k, v in (meta.get("caches") or {}).items())
    simd = meta.get("simd", "best")
    out.append(
        f"Machine: {meta['cpu']} ({meta['ncpu']} CPUs{'; caches per instance: ' + caches if caches else ''}), "
        f"Python {meta['python']}, NumPy {meta['numpy']}; SIMD level: {simd}"
        + (
            f" (nhwcpool, PyTorch and oneDNN/TensorFlow held to it; {', '.join(UNHELD)} at their best)"
            if simd != "best"
            else ""
        )
        + f"; {'quick run; ' if meta['quick'] else ''}median of repetitions. "
        "Speedup = best peer time / nhwcpool time (peers: " + ", ".join(PEERS) + "). "
        "GB/s counts input + output (+ int64 indices) bytes; % copy = GB/s relative to np.copyto of the "
        "same input (2 x input bytes, one thread). x roof = nhwcpool time / the time to read the input "
        "and write the output with T threads (1.00 = at the memory roof). Input from: 'cache' when "
        "input + output fit in the last-level cache (repeated calls then find them there), else 'memory'."
    )
    out.append("")
    out.append(
        "| case | what | T | nhwcpool | nhwcpool out= | best peer | peer time | speedup | nhwcpool GB/s "
        "| % of copy BW | x roof | input from |"
    )
    out.append("|---|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---|")
    for s in summary:
        case = CASES[s["case"]]
        u = " us" if case.latency else " ms"
        nh = _fmt_time(s["nhwcpool_s"], case.latency)
        if s["nhwcpool_status"] != "ok" and s["nhwcpool_s"] is not None:
            nh += f" ({s['nhwcpool_status']})"
        elif s["nhwcpool_s"] is None:
            nh = s["nhwcpool_status"]
        out.append(
            f"| {s['case']} | {case.desc} | {s['threads']} | {nh}{u if s['nhwcpool_s'] else ''} | "
            f"{_fmt_time(s['nhwcpool_out_s'], case.latency)}{u if s['nhwcpool_out_s'] else ''} | {s['best_peer'] or '-'} | "
            f"{_fmt_time(s['best_peer_s'], case.latency)}{u if s['best_peer_s'] else ''} | "
            f"{_fmt(s['speedup'], '.2f')}{'x' if s['speedup'] else ''}{'*' if s.get('busy') else ''} | "
            f"{_fmt(s['nhwcpool_gbps'], '.1f')} | "
            f"{_fmt(None if s['nhwcpool_frac_copy'] is None else 100 * s['nhwcpool_frac_copy'], '.0f')}"
            f"{'%' if s['nhwcpool_frac_copy'] else ''} | "
            f"{_fmt(s.get('nhwcpool_x_roof'), '.2f')} | {s.get('source', '?')} |"
        )
    if any(s.get("busy") for s in summary):
        out.append("")
        out.append(
            f"\\* other processes used more than {100 * BUSY:.0f}% of the CPUs while nhwcpool or the best peer "
            "was timed: treat that ratio with suspicion."
        )
    out.append("")
    out.append("<details><summary>All contestants (time per call; ms, or us for case l)</summary>")
    out.append("")
    head = "| case | contestant | " + " | ".join(f"T={t}" for t in threads_list) + " | status |"
    out.append(head)
    out.append("|---|---|" + "---:|" * len(threads_list) + "---|")
    for cid in cases:
        case = CASES[cid]
        for c in contestants:
            rs = [idx.get((c, t, cid)) for t in threads_list]
            if all(r is None for r in rs):
                continue
            cells = [_tm(r, case.latency) for r in rs]
            st = _status(rs).replace("|", "/")
            out.append(f"| {cid} | {c} | " + " | ".join(cells) + f" | {st} |")
    out.append("")
    out.append("</details>")
    return "\n".join(out) + "\n"


def draw_png(path: Path, cases, threads_list, summary) -> None:
    import matplotlib as mpl

    mpl.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    fig, ax = plt.subplots(figsize=(max(6, 0.6 * len(cases) + 2), 5.5))
    width = 0.8 / max(1, len(threads_list))
    sp = {(s["case"], s["threads"]): s for s in summary}
    vals = [s["speedup"] for s in summary if s["speedup"]] or [1.0]
    lo, hi = max(1 / 64, min(0.5, min(vals) / 1.6)), max(2.0, max(vals) * 2.0)
    for i, t in enumerate(threads_list):
        xs, ys, labels = [], [], []
        for j, cid in enumerate(cases):
            s = sp.get((cid, t))
            v = s["speedup"] if s else None
            xs.append(j + (i - (len(threads_list) - 1) / 2) * width)
            ys.append(v or float("nan"))
            label = "n/a" if not v else f"{v:.2f}" if v >= 0.1 else f"{v:.2g}"
            labels.append(label + ("*" if s and s.get("busy") else ""))
        # bars grow from 1x so slower-than-peer cases point down on the log axis
        bars = ax.bar(
            xs,
            [0.0 if math.isnan(y) else y - 1.0 for y in ys],
            width,
            bottom=1.0,
            label=f"{t} thread{'s' if t > 1 else ''}",
        )
        for b, lab, v in zip(bars, labels, ys, strict=True):
            down = not math.isnan(v) and v < 1.0
            ax.annotate(
                lab,
                (b.get_x() + b.get_width() / 2, 1.0 if math.isnan(v) else min(max(v, lo * 1.6), hi)),
                ha="center",
                va="top" if down else "bottom",
                fontsize=7,
                rotation=90,
                xytext=(0, -2 if down else 2),
                textcoords="offset points",
            )
    ax.axhline(1.0, color="black", linewidth=1, linestyle="--")
    ax.set_yscale("log", base=2)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xticks(range(len(cases)))
    ax.set_xticklabels(cases)
    ax.set_ylabel("nhwcpool speedup over best peer (x, log scale)")
    ax.set_xlabel("case")
    ax.set_title(
        "nhwcpool vs the fastest of torch, torch-mkldnn, onnxruntime, tensorflow, jax\n"
        "(> 1: nhwcpool faster; bars start at 1x; * = machine was busy during the timing)",
        fontsize=9,
    )
    ax.legend(fontsize=8)
    ax.set_ylim(lo, hi)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def cache_sizes() -> dict[str, int]:
    """Data/unified cache sizes in bytes per level, e.g. {'L1d': 32768, 'L2': 1048576, 'L3': 33554432},
    read from Linux sysfs for CPU 0 (each cache as one instance sees it)."""
    out: dict[str, int] = {}
    base = Path("/sys/devices/system/cpu/cpu0/cache")
    for d in sorted(base.glob("index*")):
        try:
            level = (d / "level").read_text().strip()
            kind = (d / "type").read_text().strip()
            size = (d / "size").read_text().strip()
        except OSError:
            continue
        if kind == "Instruction":
            continue
        mult = {"K": 1024, "M": 1024**2, "G": 1024**3}.get(size[-1:], 1)
        out[f"L{level}{'d' if kind == 'Data' else ''}"] = int(size.rstrip("KMG")) * mult
    return out


def llc_bytes() -> int | None:
    sizes = cache_sizes()
    return max(sizes.values()) if sizes else None


def machine_meta(args, threads_list) -> dict:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        rev = (
            subprocess.run(
                ["git", "-C", str(HERE), "describe", "--always", "--dirty"],
                capture_output=True,
                check=False,
                text=True,
                timeout=10,
            ).stdout.strip()
            or None
        )
    except (OSError, subprocess.SubprocessError):
        rev = None
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "cpu": cpu,
        "caches": cache_sizes(),
        "simd": getattr(args, "simd", None) or "best",
        "git": rev,
        "ncpu": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
        "threads": threads_list,
        "quick": args.quick,
        "pinned": not args.no_pin,
        "argv": sys.argv[1:],
    }


def parent_main(args) -> int:
    threads_list = [int(t) for t in args.threads.split(",") if t.strip()]
    cases = expand_cases(args.cases)
    contestants = (
        CONTESTANTS if not args.contestants else [c.strip() for c in args.contestants.split(",") if c.strip()]
    )
    for c in contestants:
        if c not in ADAPTERS:
            msg = f"unknown contestant {c!r}; known: {', '.join(CONTESTANTS)}"
            raise SystemExit(msg)
    available, missing = [], []
    for c in contestants:
        (available if importlib.util.find_spec(IMPORT_NAME[c]) is not None else missing).append(c)
    if missing:
        print(f"not importable, skipped: {', '.join(missing)}", file=sys.stderr)
    if "copy" not in available:
        print("note: without the 'copy' contestant there is no % of copy bandwidth", file=sys.stderr)

    meta = machine_meta(args, threads_list)
    total = len(threads_list) * len(available) * len(cases) * args.rounds
    try:
        from tqdm import tqdm

        bar = tqdm(total=total, unit="run", dynamic_ncols=True, file=sys.stderr)
    except ImportError:  # progress bar is a nicety
        bar = None

    def progress(n):
        if bar is not None:
            bar.update(n)

    progress.desc = bar.set_description if bar is not None else None

    idle = machine_idle_check()
    meta["foreign_cpu_before"] = idle
    if idle is not None and idle > 0.10:
        print(
            f"WARNING: other processes are using {100 * idle:.0f}% of the machine's CPU time; "
            "timings (T>1 especially) will be disturbed",
            file=sys.stderr,
        )
    log_path = Path(args.json or str(HERE / "results" / "latest.json")).with_suffix(".log")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    t_start = time.monotonic()
    with log_path.open("w") as log:
        headers, results = run_all(cases, threads_list, available, args, progress, log)
    if bar is not None:
        bar.close()
    for c in missing:
        for t in threads_list:
            for cid in cases:
                results.append(
                    {"contestant": c, "threads": t, "case": cid, "status": "skip", "detail": "not importable"}
                )
    busy = sorted(
        {
            f"{r['contestant']}@T={r['threads']}/{r['case']}": r["foreign_cpu"]
            for r in results
            if r.get("median_s") and (r.get("foreign_cpu") or 0) > BUSY
        }.items()
    )
    busy_workers = [f"{k} {100 * v:.0f}%" for k, v in busy]
    meta["wall_s"] = time.monotonic() - t_start
    meta["busy_workers"] = busy_workers
    meta["log"] = str(log_path)
    return report(args, meta, headers, results, cases, threads_list, contestants)


def replot(args) -> int:
    """Re-render tables, markdown and chart from a JSON written by an earlier run."""
    doc = json.loads(Path(args.from_json).read_text())
    cases = [cid for cid in doc["cases"] if cid in CASES]
    contestants = [c for c in CONTESTANTS if any(r["contestant"] == c for r in doc["results"])]
    if Path(args.json).resolve() == Path(args.from_json).resolve():
        args.json = ""  # never rewrite the input
    return report(
        args, doc["meta"], doc.get("workers", {}), doc["results"], cases, doc["meta"]["threads"], contestants
    )


def report(args, meta, headers, results, cases, threads_list, contestants) -> int:
    summary, idx = summarize(cases, threads_list, results)
    shown = [c for c in CONTESTANTS if c in contestants]
    caches = ", ".join(f"{k} {v // 1024} KiB" for k, v in (meta.get("caches") or {}).items())
    print(f"CPU: {meta.get('cpu')} ({meta.get('ncpu')} CPUs); caches per instance: {caches or 'unknown'}")
    print(
        f"SIMD level: {meta.get('simd', 'best')}"
        + (
            f" (held: nhwcpool, torch, oneDNN/TensorFlow; not held: {', '.join(UNHELD)})"
            if meta.get("simd", "best") != "best"
            else ""
        )
    )
    print(text_tables(cases, threads_list, shown, idx, summary))
    print()
    print(f"total wall time {meta.get('wall_s', 0):.0f} s; worker stderr in {meta.get('log')}")
    busy_workers = meta.get("busy_workers", [])
    if busy_workers:
        timed = sum(1 for r in results if r.get("median_s"))
        print(
            f"WARNING: other processes used >{100 * BUSY:.0f}% of the CPUs while {len(busy_workers)} of {timed} "
            "timings ran (marked * in the tables); rerun on a quiet machine for trustworthy numbers."
        )

    doc = {
        "meta": meta,
        "workers": headers,
        "cases": {
            cid: {
                **asdict(CASES[cid]),
                "desc": CASES[cid].desc,
                "out_shape": CASES[cid].out_shape,
                "in_bytes": CASES[cid].in_bytes,
                "out_bytes": CASES[cid].out_bytes,
                "idx_bytes": CASES[cid].idx_bytes,
            }
            for cid in cases
        },
        "results": results,
        "summary": summary,
    }
    if args.json:
        jp = Path(args.json)
        jp.parent.mkdir(parents=True, exist_ok=True)
        jp.write_text(json.dumps(doc, indent=1))
        print(f"wrote {jp}")
    md = markdown(cases, threads_list, shown, idx, summary, meta)
    if args.markdown:
        mp = Path(args.markdown)
        mp.parent.mkdir(parents=True, exist_ok=True)
        mp.write_text(md)
        print(f"wrote {mp}")
    if args.png:
        try:
            draw_png(Path(args.png), cases, threads_list, summary)
            print(f"wrote {args.png}")
        except ImportError as e:
            print(f"no chart: {e}", file=sys.stderr)
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    ap.add_argument(
        "--cases",
        default="all",
        help="comma-separated case ids or letters (default all): " + ", ".join(CASES),
    )
    ap.add_argument("--contestants", default="", help="comma-separated subset of: " + ", ".join(CONTESTANTS))
    ap.add_argument("--quick", action="store_true", help="few repetitions (smoke test)")
    ap.add_argument("--json", default=str(HERE / "results" / "latest.json"))
    ap.add_argument("--png", default=str(HERE / "results" / "speedup.png"))
    ap.add_argument("--markdown", default=str(HERE / "results" / "latest.md"))
    ap.add_argument("--rounds", type=int, default=1, help="time every case R times, keep the fastest round")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per case before a worker is killed")
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="S",
        help="before each worker, wait up to S seconds for other processes to go quiet",
    )
    ap.add_argument("--no-pin", action="store_true", help="do not pin workers to T CPUs")
    ap.add_argument(
        "--simd",
        choices=sorted(SIMD_ENV),
        help="hold nhwcpool, PyTorch and oneDNN/TensorFlow to this instruction-set level "
        "(ONNX Runtime and JAX cannot be held and run at their best level)",
    )
    ap.add_argument("--list", action="store_true", help="list cases and exit")
    ap.add_argument(
        "--from-json", metavar="PATH", help="re-render tables/markdown/png from an earlier JSON and exit"
    )
    ap.add_argument(
        "--selftest", action="store_true", help="check the NumPy reference against naive loops and exit"
    )
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.list:
        for cid, c in CASES.items():
            print(f"{cid:6} {c.desc}  ({c.in_bytes / 1e6:.3g} MB in){'  ' + c.note if c.note else ''}")
        return 0
    if args.from_json:
        return replot(args)
    if args.selftest:
        return selftest()
    if args.worker:
        args.threads_worker = int(args.threads)
        return worker_main(args)
    return parent_main(args)


if __name__ == "__main__":
    sys.exit(main())
