"""Write an OME-Zarr multiscale pyramid of a synthetic image larger than this machine's memory.

    pip install ".[dask]"
    python examples/ome_zarr_pyramid.py /tmp/synthetic.ome.zarr               # > free memory
    python examples/ome_zarr_pyramid.py /tmp/small.ome.zarr --size 16384      # a quick run

The image (uint8 RGB by default, or ``--dtype uint16 --channels 1``) is never held whole: it
is generated lazily, block by block, by a deterministic function of each block's position
(``da.map_blocks``), and each block is written to level 0 and reduced to every coarser level by
``nhwcpool.dask.pyramid`` in the same pass, on a dask.distributed LocalCluster (or the cluster
at ``--scheduler``). Without ``--size`` the image's side is chosen so that it is 1.25x the memory
available now (psutil). The store is Zarr format 2 with OME-Zarr 0.4 ``multiscales`` metadata:
datasets "0" (full size) to "L", axes c, y, x (0.4 puts channel before space, so the
channels-last levels are written transposed, per block), a ``scale`` transformation per level.

Prints the level shapes, the task count, the wall time and the peak memory (max RSS) of each
worker.
"""

from __future__ import annotations

import argparse
import math
import resource
import shutil
import sys
import time
from pathlib import Path

import dask.array as da
import nhwcpool.dask
import numpy as np
import psutil
import zarr
from dask.highlevelgraph import HighLevelGraph
from distributed import Client, LocalCluster, futures_of, progress, wait


def synthetic(block_info=None, *, channels, kind):
    """A smooth, compressible test card: per channel, the sum of a wave down the rows and a
    wave across the columns (1-D tables), with one bit flipped in alternate 256-pixel squares.
    A function of the global pixel position only, so any chunking gives the same image;
    cheap broadcast integer operations (a few ms per MiB)."""
    (y0, y1), (x0, x1), _ = block_info[None]["array-location"]
    top = int(np.iinfo(kind).max)
    y = np.arange(y0, y1)
    x = np.arange(x0, x1)
    board = ((y[:, None] >> 8) & 1).astype(kind) ^ ((x[None, :] >> 8) & 1).astype(kind)
    board *= np.array(top // 8 + 1, dtype=kind)  # one bit: XOR keeps values in range
    out = np.empty((y1 - y0, x1 - x0, channels), dtype=kind)
    for c in range(channels):
        rows = np.rint((0.25 + 0.25 * np.sin(y / (97.0 + 41 * c))) * top).astype(kind)  # [0, top/2]
        cols = np.rint((0.25 + 0.25 * np.cos(x / (151.0 + 29 * c) + c)) * top).astype(kind)
        np.add(rows[:, None], cols[None, :], out=out[..., c])
        out[..., c] ^= board
    return out


def default_size(channels: int, itemsize: int, chunk: int) -> int:
    """Side of a square image 1.25x the memory available now, rounded up to whole chunks."""
    want = 1.25 * psutil.virtual_memory().available / (channels * itemsize)
    return math.ceil(math.sqrt(want) / chunk) * chunk


def multiscales(name, n_levels, factor, op, edge):
    return [
        {
            "version": "0.4",
            "name": name,
            "axes": [
                {"name": "c", "type": "channel"},
                {"name": "y", "type": "space", "unit": "micrometer"},
                {"name": "x", "type": "space", "unit": "micrometer"},
            ],
            "datasets": [
                {
                    "path": str(i),
                    "coordinateTransformations": [{"type": "scale", "scale": [1.0, factor**i, factor**i]}],
                }
                for i in range(n_levels + 1)
            ],
            "type": op,
            "metadata": {"method": "nhwcpool.dask.pyramid", "op": op, "factor": factor, "edge": edge},
        }
    ]


def _max_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path, help="the .zarr directory to write (replaced)")
    ap.add_argument("--size", type=int, help="image side in pixels (default: 1.25x free memory)")
    ap.add_argument("--levels", type=int, default=6, help="levels below full size (default 6)")
    ap.add_argument("--op", choices=["mean", "max", "min"], default="mean")
    ap.add_argument("--edge", choices=["partial", "trim"], default="partial")
    ap.add_argument("--factor", type=int, default=2)
    ap.add_argument("--dtype", choices=["uint8", "uint16"], default="uint8")
    ap.add_argument("--channels", type=int, default=3)
    ap.add_argument("--chunk", type=int, default=1024, help="block side (compute and storage)")
    ap.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes")
    ap.add_argument("--scheduler", help="address of a running scheduler instead of a LocalCluster")
    args = ap.parse_args(argv)

    dtype = np.dtype(args.dtype)
    size = args.size or default_size(args.channels, dtype.itemsize, args.chunk)
    nbytes = size * size * args.channels * dtype.itemsize
    avail = psutil.virtual_memory().available
    print(
        f"image {size} x {size} x {args.channels} {dtype}: {nbytes / 2**30:.2f} GiB "
        f"(memory available: {avail / 2**30:.1f} GiB)"
    )
    free_disk = shutil.disk_usage(args.out.resolve().parent).free
    if nbytes > 2 * free_disk:  # compressed smooth data takes well under half
        print(f"not enough disk at {args.out.parent} ({free_disk / 2**30:.1f} GiB free)", file=sys.stderr)
        return 1

    if args.scheduler:
        cluster, client = None, Client(args.scheduler)
    else:
        cluster = LocalCluster(
            n_workers=args.workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            host="127.0.0.1",
        )
        client = Client(cluster)
    try:
        image = da.map_blocks(
            synthetic,
            chunks=da.core.normalize_chunks(
                (args.chunk, args.chunk, args.channels), (size, size, args.channels)
            ),
            dtype=dtype,
            meta=np.empty((0, 0, 0), dtype),
            channels=args.channels,
            kind=dtype.name,
        )
        levels = [
            image,
            *nhwcpool.dask.pyramid(image, args.levels, op=args.op, factor=args.factor, edge=args.edge),
        ]
        root = zarr.open_group(str(args.out), mode="w", zarr_format=2)
        sources, targets = [], []
        for i, level in enumerate(levels):
            # storage chunks of args.chunk at every level: merge the shrinking level blocks
            cyx = level.rechunk((args.chunk, args.chunk, args.channels)).transpose(2, 0, 1)
            arr = root.create_array(
                str(i),
                shape=cyx.shape,
                chunks=(1, args.chunk, args.chunk),
                dtype=dtype,
                chunk_key_encoding={"name": "v2", "separator": "/"},
            )
            sources.append(cyx)
            targets.append(arr)
        root.attrs["multiscales"] = multiscales(args.out.name, args.levels, args.factor, args.op, args.edge)
        # one store task per storage block (returning None); persisted, so nothing comes back
        stores = da.store(sources, targets, lock=False, compute=False)
        stores = list(stores) if isinstance(stores, tuple) else [stores]
        n_tasks = len(dict(HighLevelGraph.merge(*[s.__dask_graph__() for s in stores])))
        print("levels (y, x, c):", ", ".join(f"{i}: {lv.shape}" for i, lv in enumerate(levels)))
        print(f"tasks: {n_tasks}")
        t0 = time.perf_counter()
        stored = client.persist(stores)
        progress(stored)
        wait(stored)
        for s in stored:  # raises a failed task's error here
            client.gather(futures_of(s))
        seconds = time.perf_counter() - t0
        print(f"\nwrote {args.out} in {seconds:.1f} s ({nbytes / seconds / 2**20:.0f} MiB/s of image)")
        for addr, rss in sorted(client.run(_max_rss).items()):
            print(f"peak memory (max RSS) of worker {addr}: {rss / 2**20:.0f} MiB")
        return 0
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


if __name__ == "__main__":
    sys.exit(main())
