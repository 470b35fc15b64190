#!/usr/bin/env python3
"""Two OpenMP runtimes in one process: PyTorch's and nhwcpool's, alternating.

    python benchmarks/torch_step.py                  # every configuration below, 2 threads
    python benchmarks/torch_step.py --reps 40 --configs shared,two,two-passive

A training step alternates torch's convolutions (1x1, channels_last) and nhwcpool's max
pooling (3x3/s1/p1 via nhwcpool.torch, forward and backward). Each worker times, interleaved,
the alternating step and its two halves alone (the convolutions with the pools left out, the
pools with the convolutions left out) and reports medians; ``interference`` is
``alternating / (convs alone + pools alone)`` (1.00 = the two thread pools do not slow each
other).

An OpenMP thread that finishes a parallel region spins for a while before it sleeps
(libgomp: GOMP_SPINCOUNT, 300,000 iterations by default; OMP_WAIT_POLICY=passive sleeps at
once), in case another region follows. With two runtimes, one's spinning workers compete for
the cores with the other's team. Configurations:

* ``shared``: nhwcpool built from source links the system's ``libgomp.so.1``, the SONAME that
  torch's bundled copy has too, so the dynamic loader keeps one runtime for both.
* ``two``: as a manylinux wheel, where auditwheel vendors a renamed copy
  (``nhwcpool.libs/libgomp-<hash>.so.1``): here simulated by a copy of the installed package
  whose extension needs ``libgomp.so.9``, a copy of libgomp under that SONAME in
  ``nhwcpool.libs/`` (same-length byte edits, what ``patchelf --replace-needed/--set-soname``
  does). nhwcpool sees its private runtime and makes it spin 10,000 iterations
  (``python/nhwcpool/_openmp.py``); torch's keeps libgomp's default.
* ``two-unfixed``: the same with GOMP_SPINCOUNT=300000 (libgomp's default) for both runtimes,
  i.e. without that fix.
* ``shared-passive``, ``two-passive`` (OMP_WAIT_POLICY=passive), ``two-spin10k``
  (GOMP_SPINCOUNT=10000): the environment variable set for both runtimes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONFIGS = {
    "shared": ("shared", {}),
    "two": ("two", {}),
    "two-unfixed": ("two", {"GOMP_SPINCOUNT": "300000"}),
    "shared-passive": ("shared", {"OMP_WAIT_POLICY": "passive"}),
    "two-passive": ("two", {"OMP_WAIT_POLICY": "passive"}),
    "two-spin10k": ("two", {"GOMP_SPINCOUNT": "10000"}),
}


# --------------------------------------------------------------------------------------------
# worker


def worker(args: argparse.Namespace) -> None:
    import nhwcpool  # noqa: PLC0415
    import nhwcpool.torch as npt  # noqa: PLC0415
    import numpy as np  # noqa: PLC0415
    import torch  # noqa: PLC0415

    torch.set_num_threads(args.threads)
    nhwcpool.set_num_threads(args.threads)
    gomps = sorted(
        {line.split()[-1] for line in Path("/proc/self/maps").read_text().splitlines() if "gomp" in line}
    )
    train = hasattr(nhwcpool, "max_pool2d_backward") and not args.inference
    torch.manual_seed(0)
    c = args.channels
    convs = [torch.nn.Conv2d(c, c, 1).to(memory_format=torch.channels_last) for _ in range(args.layers)]
    x0 = torch.randn(args.batch, c, args.size, args.size).contiguous(memory_format=torch.channels_last)

    def pool(t):
        return npt.max_pool2d(t, 3, 1, 1)

    def step(use_conv: bool, use_pool: bool) -> tuple[float, float]:
        x = x0.clone().requires_grad_(train)
        c0 = time.process_time()
        t0 = time.perf_counter()
        with torch.set_grad_enabled(train):
            y = x
            for conv in convs:
                if use_conv:
                    y = conv(y)
                if use_pool:
                    y = pool(y)
            if train:
                y.sum().backward()
        return time.perf_counter() - t0, time.process_time() - c0

    variants = {"alternating": (True, True), "convs alone": (True, False), "pools alone": (False, True)}
    for v in variants.values():
        for _ in range(3):
            step(*v)
    times: dict[str, list[float]] = {k: [] for k in variants}
    cpu: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(args.reps):
        for k, v in variants.items():
            wall, used = step(*v)
            times[k].append(wall)
            cpu[k].append(used)
    # CPU that idle teams burn: the process's CPU time during a 50 ms sleep right after one
    # nhwcpool call / one torch convolution (spinning threads count, sleeping ones do not)
    idle: dict[str, list[float]] = {"after nhwcpool": [], "after torch": []}
    xi = x0.detach()
    for _ in range(10):
        for k, fn in (("after nhwcpool", lambda: pool(xi)), ("after torch", lambda: convs[0](xi))):
            with torch.no_grad():
                fn()
            c0 = time.process_time()
            time.sleep(0.05)
            idle[k].append((time.process_time() - c0) * 1e3)
    med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
    med["interference"] = med["alternating"] / (med["convs alone"] + med["pools alone"])
    cpu_med = {k: statistics.median(v) * 1e3 for k, v in cpu.items()}
    idle_med = {k: statistics.median(v) for k, v in idle.items()}
    out = {
        "median_ms": med,
        "cpu_ms": cpu_med,
        "idle_cpu_ms": idle_med,
        "train": train,
        "runtimes": gomps,
        "numpy": np.__version__,
    }
    print(json.dumps(out))


# --------------------------------------------------------------------------------------------
# parent: the simulated vendored runtime and the table


def _libgomp() -> Path:
    import nhwcpool._core as core  # noqa: PLC0415

    out = subprocess.run(["ldd", core.__file__], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        if "libgomp.so.1" in line and "=>" in line:
            return Path(line.split("=>")[1].split("(")[0].strip())
    msg = "the installed nhwcpool is not linked to libgomp.so.1 (serial build?)"
    raise SystemExit(msg)


def vendored_copy(tmp: Path) -> Path:
    """A copy of the installed package whose extension loads its own renamed libgomp."""
    import nhwcpool  # noqa: PLC0415

    src = Path(nhwcpool.__file__).parent
    dst = tmp / "site" / "nhwcpool"
    shutil.copytree(src, dst)
    old, new = b"libgomp.so.1", b"libgomp.so.9"  # same length: string tables keep their offsets
    for so in dst.glob("_core*.so"):
        so.write_bytes(so.read_bytes().replace(old, new))
    libs = tmp / "site" / "nhwcpool.libs"  # auditwheel's place for vendored libraries
    libs.mkdir()
    (libs / "libgomp.so.9").write_bytes(_libgomp().read_bytes().replace(old, new))
    return tmp / "site"


def run_config(name: str, site: Path | None, args: argparse.Namespace) -> dict:
    kind, extra = CONFIGS[name]
    env = dict(os.environ)
    for k in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT"):
        env.pop(k, None)
    env.update(extra)
    env["OMP_NUM_THREADS"] = str(args.threads)
    if kind == "two":
        assert site is not None
        env["PYTHONPATH"] = str(site)
        env["LD_LIBRARY_PATH"] = str(site / "nhwcpool.libs") + os.pathsep + env.get("LD_LIBRARY_PATH", "")
    cmd = [sys.executable, __file__, "--worker", "--threads", str(args.threads), "--reps", str(args.reps)]
    cmd += ["--batch", str(args.batch), "--channels", str(args.channels), "--size", str(args.size)]
    cmd += ["--layers", str(args.layers)] + (["--inference"] if args.inference else [])
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        print(out.stderr, file=sys.stderr)
        msg = f"{name}: worker failed"
        raise SystemExit(msg)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--channels", type=int, default=64)
    ap.add_argument("--size", type=int, default=56)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--inference", action="store_true", help="forward only")
    ap.add_argument("--configs", default=",".join(CONFIGS))
    ap.add_argument("--rounds", type=int, default=1, help="run the list of configurations R times")
    args = ap.parse_args()
    if args.worker:
        worker(args)
        return
    names = [n.strip() for n in args.configs.split(",") if n.strip()]
    unknown = set(names) - set(CONFIGS)
    if unknown:
        msg = f"unknown configurations {sorted(unknown)}; known: {', '.join(CONFIGS)}"
        raise SystemExit(msg)
    print(
        f"load average before: {os.getloadavg()}, {args.threads} threads, "
        f"({args.batch},{args.channels},{args.size},{args.size}) x {args.layers} layers of 1x1 conv + 3x3/s1 max pool"
    )
    with tempfile.TemporaryDirectory() as tmp:
        site = vendored_copy(Path(tmp)) if any(CONFIGS[n][0] == "two" for n in names) else None
        rows = []
        for r in range(args.rounds):
            for name in names:
                res = run_config(name, site, args)
                m = res["median_ms"]
                rows.append((name, r, m, res))
                print(
                    f"{name:18s} alternating {m['alternating']:8.2f} ms  convs {m['convs alone']:8.2f} ms  "
                    f"pools {m['pools alone']:7.2f} ms  interference {m['interference']:.3f}  "
                    f"CPU time alternating {res['cpu_ms']['alternating']:8.2f} ms  "
                    f"idle spin after nhwcpool {res['idle_cpu_ms']['after nhwcpool']:5.2f} ms, "
                    f"after torch {res['idle_cpu_ms']['after torch']:5.2f} ms  "
                    f"({'train' if res['train'] else 'inference'}; runtimes: "
                    f"{', '.join(Path(p).name for p in res['runtimes'])})",
                    flush=True,
                )
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
