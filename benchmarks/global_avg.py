"""Global average pooling sweep: nhwcpool.global_avg_pool2d against PyTorch, shape by shape.

    python benchmarks/global_avg.py                         # every setting below, full sweep
    python benchmarks/global_avg.py --simd avx2 --threads 1 --n 1 2 --c 2048 --hw 7x7

Each (SIMD level, thread count) setting runs in its own subprocess with NHWCPOOL_SIMD,
ATEN_CPU_CAPABILITY (as benchmarks/compare.py's --simd) and the thread variables set before
torch and nhwcpool are imported. In it every shape is timed by alternating the contestants
(nhwcpool, ``x.mean((2, 3))`` and ``F.adaptive_avg_pool2d(x, 1)`` on the same memory viewed as a
channels_last NCHW tensor), a batch of calls per round, and the median per call is kept. The
peer is the faster of the two PyTorch calls. One thread: median CPU time of the process
(robust when other jobs share the cores); two threads: the fastest round's wall time. Printed: one row per shape, the ratio
peer / nhwcpool (> 1: nhwcpool faster) per setting, and the worst ratio per setting.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

SIMD_ENV = {
    "avx512": {"NHWCPOOL_SIMD": "avx512"},  # ATen picks AVX-512 itself on this machine
    "avx2": {"NHWCPOOL_SIMD": "avx2", "ATEN_CPU_CAPABILITY": "avx2"},
}


def thread_env(t: int) -> dict[str, str]:
    s = str(t)
    return {"OMP_NUM_THREADS": s, "MKL_NUM_THREADS": s, "NHWCPOOL_NUM_THREADS": s}


def worker(args: argparse.Namespace) -> None:
    # Imported here, after the parent set the SIMD and thread variables for this subprocess.
    import nhwcpool  # noqa: PLC0415
    import numpy as np  # noqa: PLC0415
    import torch  # noqa: PLC0415
    import torch.nn.functional as F  # noqa: PLC0415

    threads = args.threads[0]
    torch.set_num_threads(threads)
    nhwcpool.set_num_threads(threads)
    clock = time.process_time if threads == 1 else time.perf_counter
    rng = np.random.default_rng(0)
    for dt in args.dtype:
        for hw in args.hw:
            h, w = (int(v) for v in hw.split("x"))
            for n in args.n:
                for c in args.c:
                    nbytes = n * h * w * c * np.dtype(dt).itemsize
                    if nbytes > args.max_mb * 2**20:
                        continue
                    x = rng.standard_normal((n, h, w, c), dtype=np.float32).astype(dt)
                    xt = torch.from_numpy(x).permute(0, 3, 1, 2)  # channels_last view
                    fns = {
                        "nhwcpool": lambda x=x: nhwcpool.global_avg_pool2d(x),
                        "mean": lambda xt=xt: xt.mean((2, 3)),
                        "adaptive": lambda xt=xt: F.adaptive_avg_pool2d(xt, 1),
                    }
                    ref = fns["adaptive"]().numpy().reshape(n, c)
                    got = fns["nhwcpool"]().reshape(n, c)
                    same = bool(np.array_equal(ref, got))
                    # a batch of calls per round lasting about args.round_ms
                    t0 = time.perf_counter()
                    fns["nhwcpool"]()
                    one = max(time.perf_counter() - t0, 1e-7)
                    reps = max(1, min(2000, int(args.round_ms * 1e-3 / one)))
                    times: dict[str, list[float]] = {k: [] for k in fns}
                    for _ in range(args.rounds):
                        for k, f in fns.items():
                            t0 = clock()
                            for _ in range(reps):
                                f()
                            times[k].append((clock() - t0) / reps)
                    # one thread: the median of CPU times; two: the fastest wall time (medians
                    # of wall time on a shared machine measure the other jobs)
                    pick = (lambda v: sorted(v)[len(v) // 2]) if threads == 1 else min
                    med = {k: pick(v) for k, v in times.items()}
                    peer = "mean" if med["mean"] <= med["adaptive"] else "adaptive"
                    row = {
                        "dtype": dt,
                        "n": n,
                        "hw": hw,
                        "c": c,
                        "us": med["nhwcpool"] * 1e6,
                        "peer": peer,
                        "peer_us": med[peer] * 1e6,
                        "ratio": med[peer] / med["nhwcpool"],
                        "same_as_torch": same,
                    }
                    print(json.dumps(row), flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--simd", nargs="+", default=["avx512", "avx2"], choices=sorted(SIMD_ENV))
    p.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    p.add_argument("--n", nargs="+", type=int, default=[1, 2, 8, 32, 128, 256])
    p.add_argument("--hw", nargs="+", default=["7x7", "14x14", "8x8", "1x1"])
    p.add_argument("--c", nargs="+", type=int, default=[512, 1000, 1024, 1280, 2048, 4096])
    p.add_argument("--dtype", nargs="+", default=["float32", "float16"])
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--round-ms", type=float, default=3.0)
    p.add_argument("--max-mb", type=float, default=128.0, help="skip inputs larger than this")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args)
        return
    settings = [(s, t) for s in args.simd for t in args.threads]
    rows: dict[tuple, dict[tuple[str, int], float]] = {}
    for simd, t in settings:
        env = dict(os.environ, **SIMD_ENV[simd], **thread_env(t))
        cmd = [sys.executable, __file__, "--worker", "--simd", simd, "--threads", str(t)]
        for flag in ("n", "hw", "c", "dtype"):
            cmd += [f"--{flag}", *map(str, getattr(args, flag))]
        cmd += ["--rounds", str(args.rounds), "--round-ms", str(args.round_ms), "--max-mb", str(args.max_mb)]
        out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
        for line in out.splitlines():
            r = json.loads(line)
            key = (r["dtype"], r["hw"], r["n"], r["c"])
            rows.setdefault(key, {})[(simd, t)] = r["ratio"]
            if not r["same_as_torch"] and r["dtype"] == "float32" and r["hw"] in ("7x7", "1x1"):
                print(f"note: {key} differs from torch", file=sys.stderr)
        print(f"done {simd} T={t}", file=sys.stderr, flush=True)
    head = "| dtype | HxW | N | C | " + " | ".join(f"{s} T={t}" for s, t in settings) + " |"
    print(head)
    print("|---|---|---:|---:|" + "---:|" * len(settings))
    worst = dict.fromkeys(settings, (9e9, None))
    for key in sorted(rows, key=lambda k: (k[0], k[1], k[2], k[3])):
        cells = []
        for st in settings:
            v = rows[key].get(st)
            cells.append("-" if v is None else f"{v:.2f}")
            if v is not None and v < worst[st][0]:
                worst[st] = (v, key)
        print(f"| {key[0]} | {key[1]} | {key[2]} | {key[3]} | " + " | ".join(cells) + " |")
    for st, (v, key) in worst.items():
        print(f"worst {st[0]} T={st[1]}: {v:.2f}x at {key}")
    print("shapes below 1.0x: " + str(sum(1 for r in rows.values() for v in r.values() if v < 1.0)))


if __name__ == "__main__":
    main()
