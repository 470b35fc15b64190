"""A mean pyramid of a Dask image on a LocalCluster: nhwcpool.dask.pyramid against what a Dask
user writes today, measured side by side in one run.

    python benchmarks/dask_pyramid.py                      # 8192 x 8192 x 3 uint8, 6 levels
    python benchmarks/dask_pyramid.py --size 16384 --chunk 2048 --repeat 5

Contestants, each persisting every level on the cluster (2 worker processes x 1 thread):

* input only: generating the synthetic image block by block (what every contestant includes),
  keeping one pixel per block
* nhwcpool.dask.pyramid: every level from each block in one task
* coarsen chain: ``da.coarsen(np.mean, level, {y: 2, x: 2}).astype(uint8)`` per level, each level
  from the previous one (means of truncated means, float64 temporaries)
* avg_pool2d chain: ``map_blocks(nhwcpool.avg_pool2d, level, 2, dtype=uint8)`` per level (means
  of rounded means, one task per block per level)

Prints the median and the fastest wall time, the median over the input's, and the task count.
"""

from __future__ import annotations

import argparse
import statistics
import time

import dask.array as da
import nhwcpool
import nhwcpool.dask
import numpy as np
from dask.highlevelgraph import HighLevelGraph
from distributed import Client, LocalCluster, wait


def synthetic(block_info=None):
    (y0, y1), (x0, x1), (c0, c1) = block_info[None]["array-location"]
    y = np.arange(y0, y1, dtype=np.uint32)[:, None, None]
    x = np.arange(x0, x1, dtype=np.uint32)[None, :, None]
    c = np.arange(c0, c1, dtype=np.uint32)[None, None, :]
    return ((y * 7 + x * 13 + c * 101) ^ (y >> 3)).astype(np.uint8)


def _corner(block):
    return block[:1, :1].copy()  # the input's cost without keeping it


def contestants(img, levels):
    def coarsen_chain():
        out, lv = [], img
        for _ in range(levels):
            lv = da.coarsen(np.mean, lv, {0: 2, 1: 2}, trim_excess=True).astype(np.uint8)
            out.append(lv)
        return out

    def avg_chain():
        out, lv = [], img
        for _ in range(levels):
            lv = lv.map_blocks(
                nhwcpool.avg_pool2d,
                2,
                dtype=np.uint8,
                chunks=(
                    tuple(c // 2 for c in lv.chunks[0]),
                    tuple(c // 2 for c in lv.chunks[1]),
                    lv.chunks[2],
                ),
            )
            out.append(lv)
        return out

    return {
        "input only": lambda: [img.map_blocks(_corner, chunks=(1, 1, 3))],
        "nhwcpool.dask.pyramid": lambda: nhwcpool.dask.pyramid(img, levels),
        "coarsen chain": coarsen_chain,
        "avg_pool2d chain": avg_chain,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=8192)
    ap.add_argument("--chunk", type=int, default=1024)
    ap.add_argument("--levels", type=int, default=6)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    if args.chunk % 2**args.levels or args.size % args.chunk:
        ap.error("--chunk must divide --size and be a multiple of 2**levels (the chains halve every block)")

    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster,
        Client(cluster) as client,
    ):
        chunks = da.core.normalize_chunks((args.chunk, args.chunk, 3), (args.size, args.size, 3))
        img = da.map_blocks(synthetic, chunks=chunks, dtype=np.uint8)
        runs = contestants(img, args.levels)
        times: dict[str, list[float]] = {k: [] for k in runs}
        tasks = {}
        for _ in range(args.repeat):
            for name, build in runs.items():  # interleaved: load changes hit every contestant
                arrays = build()
                tasks[name] = len(dict(HighLevelGraph.merge(*[a.__dask_graph__() for a in arrays])))
                t0 = time.perf_counter()
                kept = client.persist(arrays)
                wait(kept)
                times[name].append(time.perf_counter() - t0)
                del kept
        base = statistics.median(times["input only"])
        print(
            f"{args.size} x {args.size} x 3 uint8, {args.chunk} chunks, {args.levels} levels, 2 workers x 1 thread"
        )
        print(f"{'contestant':24s} {'median s':>9s} {'min s':>7s} {'over input s':>13s} {'tasks':>7s}")
        for name, ts in times.items():
            med = statistics.median(ts)
            print(f"{name:24s} {med:9.2f} {min(ts):7.2f} {med - base:13.2f} {tasks[name]:7d}")


if __name__ == "__main__":
    main()
