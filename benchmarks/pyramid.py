"""Image pyramids side by side: nhwcpool.pyramid against what a user has otherwise.

    python benchmarks/pyramid.py                 # all cases, 1 and 2 threads (~3 min idle)
    python benchmarks/pyramid.py --threads 2 --cases rgb_mean --repeat 5

Each case is timed as the median of --repeat runs (the slow alternatives: at most 3) and
reported against `np.copyto` of the same input, measured in the same run, and against the
best alternative: repeated nhwcpool avg_pool2d/max_pool2d calls with dtype=, scikit-image
`block_reduce` chains (np.mean / np.max) and `downscale_local_mean` chains, and
`dask.array.coarsen` chains on the threaded scheduler (1024 x 1024 chunks), each level
computed from the previous one as such chains do. The CPU model and the load average before
and after are printed: on a shared machine, compare ratios within one run.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np

import nhwcpool

CASES = {
    # name: (shape, dtype, levels, op)
    "rgb_mean": ((4096, 4096, 3), np.uint8, 6, "mean"),
    "u16_mean": ((8192, 8192), np.uint16, 6, "mean"),
    "rgba_max": ((4096, 4096, 4), np.uint8, 5, "max"),
}


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def median_time(fn, repeat: int) -> float:
    fn()  # warm up (page faults, caches, thread team)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def alternatives(x: np.ndarray, levels: int, op: str, threads: int):
    spatial = (2, 2) + (1,) * (x.ndim - 2)
    out = {}

    def nhwcpool_chain():
        cur = x
        res = []
        for _ in range(levels):
            if op == "mean":
                cur = nhwcpool.avg_pool2d(cur, 2, ceil_mode=True, count_include_pad=False, dtype=x.dtype)
            else:
                cur = nhwcpool.max_pool2d(cur, 2, ceil_mode=True)
            res.append(cur)
        return res

    out["nhwcpool avg/max_pool2d chain"] = nhwcpool_chain
    try:
        from skimage.measure import block_reduce
        from skimage.transform import downscale_local_mean

        def skimage_block_reduce():
            cur = x
            res = []
            for _ in range(levels):
                cur = block_reduce(cur, spatial, np.mean if op == "mean" else np.max)
                res.append(cur.astype(x.dtype) if op == "mean" else cur)
            return res

        out["skimage block_reduce chain"] = skimage_block_reduce
        if op == "mean":

            def skimage_downscale():
                cur = x
                res = []
                for _ in range(levels):
                    cur = downscale_local_mean(cur, spatial)
                    res.append(cur.astype(x.dtype))
                return res

            out["skimage downscale_local_mean chain"] = skimage_downscale
    except ImportError:
        pass
    try:
        import dask
        import dask.array as da

        def dask_coarsen():
            a = da.from_array(x, chunks=(1024, 1024) + x.shape[2:])
            res = []
            cur = a
            for _ in range(levels):
                axes = {0: 2, 1: 2}
                cur = da.coarsen(np.mean if op == "mean" else np.max, cur, axes, trim_excess=True)
                res.append(cur.astype(x.dtype) if op == "mean" else cur)
            with dask.config.set(scheduler="threads", num_workers=threads):
                return dask.compute(*res)

        out["dask.array.coarsen chain (threads)"] = dask_coarsen
    except ImportError:
        pass
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--no-alternatives", action="store_true", help="only copy and nhwcpool.pyramid")
    args = ap.parse_args()
    print(f"CPU: {cpu_model()} ({os.cpu_count()} logical CPUs); nhwcpool {nhwcpool.__version__}, "
          f"SIMD {nhwcpool._core.get_simd_level()}, numpy {np.__version__}")
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    rows = []
    for threads in [int(t) for t in args.threads.split(",")]:
        nhwcpool.set_num_threads(threads)
        for name in args.cases.split(","):
            shape, dtype, levels, op = CASES[name]
            rng = np.random.default_rng(0)
            x = rng.integers(0, np.iinfo(dtype).max, size=shape, dtype=dtype, endpoint=True)
            y = np.empty_like(x)
            t_copy = median_time(lambda: np.copyto(y, x), args.repeat)
            t_pyr = median_time(lambda: nhwcpool.pyramid(x, levels, op=op), args.repeat)
            line = (f"[{threads} thread{'s' if threads > 1 else ''}] {name}: {shape} {np.dtype(dtype).name}, "
                    f"{levels}-level {op}: np.copyto {t_copy * 1e3:.2f} ms, nhwcpool.pyramid {t_pyr * 1e3:.2f} ms "
                    f"= {t_pyr / t_copy:.2f}x copy")
            print(line, flush=True)
            best = None
            if not args.no_alternatives:
                for alt, fn in alternatives(x, levels, op, threads).items():
                    t = median_time(fn, min(args.repeat, 3))
                    print(f"    {alt}: {t * 1e3:.1f} ms = {t / t_copy:.1f}x copy; pyramid is {t / t_pyr:.1f}x faster",
                          flush=True)
                    if best is None or t < best[1]:
                        best = (alt, t)
            rows.append((threads, name, t_copy, t_pyr, best))
        # the forward's 2x2/s2 image kernels (uint8/uint16, C <= 4)
        x = np.random.default_rng(0).integers(0, 256, size=(16, 224, 224, 3), dtype=np.uint8)
        y = np.empty_like(x)
        t_copy = median_time(lambda: np.copyto(y, x), 4 * args.repeat)
        for label, fn in (
            ("max_pool2d(x, 2)", lambda: nhwcpool.max_pool2d(x, 2)),
            ("avg_pool2d(x, 2, dtype=uint8)", lambda: nhwcpool.avg_pool2d(x, 2, dtype=np.uint8)),
        ):
            t = median_time(fn, 4 * args.repeat)
            print(f"[{threads} thread{'s' if threads > 1 else ''}] (16, 224, 224, 3) uint8 {label}: "
                  f"np.copyto {t_copy * 1e3:.3f} ms, nhwcpool {t * 1e3:.3f} ms = {t / t_copy:.2f}x copy", flush=True)
            rows.append((threads, f"2x2/s2 {label.split('(')[0]} (16,224,224,3) uint8", t_copy, t, None))
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print()
    print("| threads | case | np.copyto | nhwcpool | / copy | best alternative | its time | pyramid faster by |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    def ms(t: float) -> str:
        return f"{t * 1e3:.1f} ms" if t >= 0.01 else f"{t * 1e3:.3f} ms"

    for threads, name, t_copy, t_pyr, best in rows:
        if best:
            alt, t_alt = best
            tail = f"{alt} | {ms(t_alt)} | {t_alt / t_pyr:.1f}x"
        else:
            tail = "- | - | -"
        print(f"| {threads} | {name} | {ms(t_copy)} | {ms(t_pyr)} | {t_pyr / t_copy:.2f}x | {tail} |")


if __name__ == "__main__":
    main()
