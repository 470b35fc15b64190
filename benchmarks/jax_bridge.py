#!/usr/bin/env python3
"""What the JAX bridge's host callback costs: nhwcpool.jax.max_pool2d under jax.jit (through
jax.experimental.buffer_callback, the default, and through jax.pure_callback, the path for
jax < 0.7) against the same NumPy-level nhwcpool call and against jax.lax.reduce_window
under jax.jit.

    python benchmarks/jax_bridge.py                  # 1 and 2 threads, every case
    python benchmarks/jax_bridge.py --threads 1 --cases small

Max pooling 2x2/s2 (the documents' MaxPool2D) on float32 NHWC arrays, forward alone and
forward + input gradient (given the output's cotangent). Each thread count runs in its own
subprocess pinned to that many CPUs, with OMP/XLA/nhwcpool threads set before any import.
The contestants of a case run in turn, round after round; the script prints the median
wall-clock and CPU time of each and the ratios, and the machine's load first and last
(timings on a shared machine are noisy: compare the columns of one run).
"""

# ruff: noqa: PLC0415  (jax and nhwcpool are imported in the worker, after the thread setup)
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

CASES = {
    "small": (1, 8, 8, 16),
    "medium": (8, 56, 56, 64),
    "large": (32, 112, 112, 64),
}


def _interleaved_medians(rows: dict, budget: float) -> dict:
    """Median wall and CPU (process) time of every row, the rows run in turn (round-robin) so
    that a change in the machine's load hits all of them alike."""
    for fn in rows.values():  # warm up (compilation, page faults)
        fn()
        fn()
    wall: dict = {name: [] for name in rows}
    cpu: dict = {name: [] for name in rows}
    start = time.perf_counter()
    rounds = 0
    while rounds < 7 or (time.perf_counter() - start < budget * len(rows) and rounds < 2000):
        for name, fn in rows.items():
            w0, c0 = time.perf_counter(), time.process_time()
            fn()
            cpu[name].append(time.process_time() - c0)
            wall[name].append(time.perf_counter() - w0)
        rounds += 1
    return {name: (sorted(wall[name])[rounds // 2], sorted(cpu[name])[rounds // 2], rounds) for name in rows}


def worker(threads: int, cases: list[str], budget: float) -> None:
    import jax
    import jax.numpy as jnp
    import nhwcpool
    import nhwcpool.jax as npj
    import numpy as np

    nhwcpool.set_num_threads(threads)
    k = 2

    def bridge(x):
        return npj.max_pool2d(x, k)

    def lax_max(x):
        return jax.lax.reduce_window(x, -np.inf, jax.lax.max, (1, k, k, 1), (1, k, k, 1), "VALID")

    def with_grad(f):
        def run(x, g):
            y, vjp = jax.vjp(f, x)
            return y, vjp(g)[0]

        return jax.jit(run)

    def pure(f):
        """f traced through jax.pure_callback (the bridge's path for jax < 0.7)."""

        def run(*args):
            npj._USE_BUFFER_CALLBACK = False
            try:
                return f(*args)
            finally:
                npj._USE_BUFFER_CALLBACK = True

        return run

    bridge_fwd, lax_fwd = jax.jit(bridge), jax.jit(lax_max)
    bridge_both, lax_both = with_grad(bridge), with_grad(lax_max)
    pure_fwd, pure_both = jax.jit(pure(bridge)), with_grad(pure(bridge))
    for name in cases:
        shape = CASES[name]
        rng = np.random.default_rng(0)
        xn = rng.standard_normal(shape, dtype=np.float32)
        xj = jnp.asarray(xn)
        gn = rng.standard_normal(nhwcpool.output_shape(shape, k), dtype=np.float32)
        gj = jnp.asarray(gn)

        def np_both(xn=xn, gn=gn):
            y, idx = nhwcpool.max_pool2d(xn, k, return_indices=True)
            return y, nhwcpool.max_pool2d_backward(gn, idx, xn.shape)

        rows = {
            "numpy fwd": lambda xn=xn: nhwcpool.max_pool2d(xn, k),
            "bridge fwd": lambda xj=xj: bridge_fwd(xj).block_until_ready(),
            "pure fwd": lambda xj=xj: pure_fwd(xj).block_until_ready(),
            "lax fwd": lambda xj=xj: lax_fwd(xj).block_until_ready(),
            "numpy fwd+grad": np_both,
            "bridge fwd+grad": lambda xj=xj, gj=gj: jax.block_until_ready(bridge_both(xj, gj)),
            "pure fwd+grad": lambda xj=xj, gj=gj: jax.block_until_ready(pure_both(xj, gj)),
            "lax fwd+grad": lambda xj=xj, gj=gj: jax.block_until_ready(lax_both(xj, gj)),
        }
        # the bridge and lax agree before anything is timed
        np.testing.assert_array_equal(np.asarray(bridge_fwd(xj)), np.asarray(lax_fwd(xj)))
        np.testing.assert_array_equal(np.asarray(bridge_both(xj, gj)[1]), np.asarray(lax_both(xj, gj)[1]))
        np.testing.assert_array_equal(np.asarray(pure_both(xj, gj)[1]), np.asarray(lax_both(xj, gj)[1]))
        for row, (wall, cpu, reps) in _interleaved_medians(rows, budget).items():
            rec = {"threads": threads, "case": name, "row": row, "wall_s": wall, "cpu_s": cpu, "reps": reps}
            print(json.dumps(rec))
            sys.stdout.flush()


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--budget", type=float, default=1.0, help="seconds of timing per row (default 1)")
    ap.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    cases = args.cases.split(",")
    if args.worker:
        worker(args.worker, cases, args.budget)
        return

    print(_load())
    results = []
    for t in (int(v) for v in args.threads.split(",")):
        env = dict(os.environ)
        env.update(
            OMP_NUM_THREADS=str(t),
            NHWCPOOL_NUM_THREADS=str(t),
            JAX_PLATFORMS="cpu",
            XLA_FLAGS=f"--xla_cpu_multi_thread_eigen={'false' if t == 1 else 'true'}",
        )
        cpus = sorted(os.sched_getaffinity(0))[:t]
        cmd = ["taskset", "-c", ",".join(map(str, cpus)), sys.executable, __file__, "--worker", str(t)]
        cmd += ["--cases", args.cases, "--budget", str(args.budget)]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
        results += [json.loads(line) for line in out.splitlines() if line.startswith("{")]

    print("\nmax_pool2d 2x2/s2 float32, medians in microseconds (lower is better)")
    head = (
        "| threads | case | shape | numpy | bridge (jit) | pure_callback (jit) | lax (jit) "
        "| bridge/numpy | bridge/lax |"
    )
    for clock, what in (("wall_s", "wall-clock"), ("cpu_s", "CPU time of the process (all its threads)")):
        for part in ("fwd", "fwd+grad"):
            print(f"\n{part}, {what}:\n{head}\n|---|---|---|---:|---:|---:|---:|---:|---:|")
            for t in sorted({r["threads"] for r in results}):
                for c in cases:
                    m = {r["row"]: r[clock] * 1e6 for r in results if r["threads"] == t and r["case"] == c}
                    nb, br, pc, lx = (m[f"{r} {part}"] for r in ("numpy", "bridge", "pure", "lax"))
                    print(
                        f"| {t} | {c} | {CASES[c]} | {nb:.1f} | {br:.1f} | {pc:.1f} | {lx:.1f} | "
                        f"{br / nb:.2f} | {br / lx:.2f} |"
                    )
    reps = sorted({r["reps"] for r in results})
    print(f"\nrounds per case: {reps[0]}-{reps[-1]}")
    print(_load())


if __name__ == "__main__":
    main()
