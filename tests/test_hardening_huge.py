"""Huge tensors: a uint8 input with more than 2**31 elements in one (n, c) plane.

x has shape (1, 46341, 46341, 1): 2,147,488,281 elements (2.0 GiB), past 2**31 = 2,147,483,648,
so every int32 element or byte offset inside the plane would overflow. Checked:

* max_pool2d(k=3, s=3, return_indices=True) equals NumPy's window max for every output, and
  every int64 index equals the first row-major argmax of its window (ties are common), in
  particular the planted maximum in the last cell, index 46341*46341 - 1 = 2,147,488,280;
* global_max_pool2d finds the planted maxima; global_avg_pool2d equals the exact mean.

Slow (~30 s on 2 cores, ~80 s under ASan) and needs ~5 GiB: marked ``slow``, and skipped
when less than 8 GiB of memory is available (or when that cannot be told: no /proc/meminfo).
Run it with

    python -m pytest tests/test_hardening_huge.py -m slow -q -s
"""

from __future__ import annotations

import pathlib
import time

import nhwcpool
import numpy as np
import pytest

pytestmark = pytest.mark.slow

SIDE = 46341  # SIDE**2 > 2**31
K = 3  # 46341 = 3 * 15447: windows tile the plane exactly
CHUNK = 1024  # output rows per verification chunk


def _mem_available():
    try:
        with pathlib.Path("/proc/meminfo").open() as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


@pytest.fixture(scope="module")
def huge():
    avail = _mem_available()
    if avail is None:
        pytest.skip("needs ~6 GiB; cannot tell the available memory here (no /proc/meminfo)")
    if avail < 8 * 2**30:
        pytest.skip(f"needs ~6 GiB, only {avail / 2**30:.1f} GiB available")
    t = time.perf_counter()
    x = np.empty((1, SIDE, SIDE, 1), np.uint8)
    plane = x[0, :, :, 0]
    cols = (np.arange(SIDE, dtype=np.int64) * 13)[None, :]
    for r0 in range(0, SIDE, 2048):
        r1 = min(r0 + 2048, SIDE)
        rows = (np.arange(r0, r1, dtype=np.int64) * 7)[:, None]
        plane[r0:r1] = ((rows + cols) % 250).astype(np.uint8)  # values 0..249, many ties
    # planted maxima (255 appears nowhere else)
    plants = {
        "last cell": (SIDE - 1, SIDE - 1),
        "last row, first col": (SIDE - 1, 0),
        "tie A (first in row-major order)": (SIDE - 5, SIDE - 6),
        "tie B (same window, later)": (SIDE - 4, SIDE - 6),
        "middle": (30001, 12345),
    }
    for r, c in plants.values():
        plane[r, c] = 255
    print(f"\nfilled {x.size:,} elements ({x.nbytes / 2**30:.2f} GiB) in {time.perf_counter() - t:.1f}s")
    return x, plants


def test_huge_max_pool_values_and_int64_indices(huge):
    x, plants = huge
    assert x.size > 2**31
    plane = x[0, :, :, 0]
    t = time.perf_counter()
    vals, idx = nhwcpool.max_pool2d(x, K, return_indices=True)
    t_pool = time.perf_counter() - t
    o = SIDE // K
    assert vals.shape == idx.shape == (1, o, o, 1)
    assert idx.dtype == np.int64

    # the planted maxima, by hand
    for name, (r, c) in plants.items():
        i, j = r // K, c // K
        assert vals[0, i, j, 0] == 255, name
    last = SIDE * SIDE - 1
    assert idx[0, o - 1, o - 1, 0] == last == 2_147_488_280 > 2**31
    ra, ca = plants["tie A (first in row-major order)"]
    assert idx[0, ra // K, ca // K, 0] == ra * SIDE + ca  # first tap wins the tie
    r, c = plants["last row, first col"]
    assert idx[0, r // K, c // K, 0] == r * SIDE + c

    # every window, in chunks: value = window max, index = first row-major argmax
    t = time.perf_counter()
    v2, i2 = vals[0, :, :, 0], idx[0, :, :, 0]
    bad = 0
    for i0 in range(0, o, CHUNK):
        i1 = min(i0 + CHUNK, o)
        blk = plane[i0 * K : i1 * K].reshape(i1 - i0, K, o, K).transpose(0, 2, 1, 3)
        blk = blk.reshape(i1 - i0, o, K * K)  # (rows, cols, taps in row-major order)
        arg = blk.argmax(axis=2)  # first maximum
        mx = np.take_along_axis(blk, arg[..., None], axis=2)[..., 0]
        dr, dc = np.divmod(arg, K)
        gi = (np.arange(i0, i1)[:, None] * K + dr) * SIDE + np.arange(o)[None, :] * K + dc
        bad += int(np.count_nonzero(mx != v2[i0:i1])) + int(np.count_nonzero(gi != i2[i0:i1]))
    t_check = time.perf_counter() - t
    assert bad == 0, f"{bad} wrong values/indices"
    print(
        f"max_pool2d(k=3, return_indices) on {x.size:,} elements: {t_pool:.2f}s "
        f"(threads={nhwcpool.get_num_threads()}); full check {t_check:.1f}s; "
        f"max index {int(idx.max()):,}"
    )


def test_huge_global_pools(huge):
    x, plants = huge
    t = time.perf_counter()
    gm = nhwcpool.global_max_pool2d(x, keepdims=False)
    ga = nhwcpool.global_avg_pool2d(x, keepdims=False)
    t_pool = time.perf_counter() - t
    assert gm.shape == (1, 1)
    assert gm[0, 0] == 255
    total = int(x.sum(dtype=np.uint64))
    assert ga.dtype == np.float64
    assert ga[0, 0] == total / x.size  # the integer sum is exact; one correctly rounded division
    # a row slice (no copy: rows stay contiguous) holding only the "middle" plant
    y = x[:, : SIDE - 5]
    r, c = plants["middle"]
    assert nhwcpool.global_max_pool2d(y)[0, 0, 0, 0] == 255
    x[0, r, c, 0] = 0
    try:
        assert nhwcpool.global_max_pool2d(y)[0, 0, 0, 0] == 249
    finally:
        x[0, r, c, 0] = 255
    print(f"global max + avg over {x.size:,} elements: {t_pool:.2f}s")
