"""The max-backward / unpool scatter's paths (cpp/src/kernels/backward.hpp, scatter_item).

The scatter checks its indices a block at a time and writes a checked block without branches:
C = 1 to 8 with a dense destination take unrolled paths (several whole pixels per block when
an item holds the whole pixel), other channel counts blocks of 8 channels and a tail; a block
holding an index past the zeroed rows or outside the plane goes element by element. These
tests force each of those paths at every SIMD level and compare bit for bit with the plain
reference (reference_backward.py: outputs in row-major order, each cell's terms summed in that
order), so a change of the order of the sums would show: the gradients have wide magnitudes
and many outputs name the same cell.
"""

from __future__ import annotations

import nhwcpool
import numpy as np
import pytest
import reference_backward as RB
from conftest import SIMD_LEVELS, using_simd

SMALL_C = [*range(1, 10), 11, 15, 16, 17, 19]


def _grad(shape, dtype, rng):
    # wide magnitudes: sums of several terms depend on their order (float16: no overflow)
    top = 3 if np.dtype(dtype) == np.float16 else 5
    v = rng.standard_normal(shape) * 10.0 ** rng.integers(-4, top, size=shape)
    return v.astype(dtype)


def _same(a, b, what):
    assert a.shape == b.shape, what
    assert a.dtype == b.dtype, what
    assert a.tobytes() == b.tobytes(), f"results differ bit for bit: {what}"


def _check_all(g, idx, shape, what, threads=(1, 2, 3)):
    with np.errstate(invalid="ignore", over="ignore"):  # inf + -inf in the special values
        exp = RB.max_pool2d_backward(g, idx, shape)
    for level in SIMD_LEVELS:
        with using_simd(level):
            for t in threads:
                nhwcpool.set_num_threads(t)
                _same(nhwcpool.max_pool2d_backward(g, idx, shape), exp, f"{what} {level} T={t}")


@pytest.mark.usefixtures("restore_threads")
@pytest.mark.parametrize("C", SMALL_C)
def test_forward_indices_every_geometry(C):
    """Indices from max_pool2d: ties, NaN, -inf, dilation, padding, ceil_mode, stride > kernel."""
    rng = np.random.default_rng(C)
    configs = [
        dict(kernel_size=2, stride=2, padding=0),
        dict(kernel_size=3, stride=1, padding=1),
        dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
        dict(kernel_size=(2, 3), stride=(3, 4), padding=0),  # stride > kernel: uncovered cells
        dict(kernel_size=3, stride=1, padding=2, dilation=2),
        dict(kernel_size=5, stride=1, padding=2),
    ]
    # (3, 9, 11): a small image (zeroed at once); (2, 40, 37): zeroed row by row (> 16 KiB)
    for n, h, w in [(3, 9, 11), (2, 40, 37)]:
        x = rng.standard_normal((n, h, w, C)).astype(np.float32)
        x[:, ::3, ::2, :] = 0.5  # ties
        x[0, 1, 2, 0] = np.nan
        x[-1, 2, :, -1] = -np.inf
        x[-1, 3, 1:4, :] = -np.inf
        for cfg in configs:
            kw = {"dilation": 1, "ceil_mode": False, **cfg}
            v, idx = nhwcpool.max_pool2d(
                x,
                kw["kernel_size"],
                kw["stride"],
                kw["padding"],
                dilation=kw["dilation"],
                ceil_mode=kw["ceil_mode"],
                return_indices=True,
            )
            for dtype in ("float32", "float64", "float16"):
                g = _grad(v.shape, dtype, rng)
                _check_all(g, idx, x.shape, f"C={C} {(n, h, w)} {cfg} {dtype}", threads=(1, 2))


@pytest.mark.usefixtures("restore_threads")
@pytest.mark.parametrize("C", SMALL_C)
def test_arbitrary_indices_repeats_and_order(C):
    """Indices not from a window: many outputs name one cell, rows go back and far ahead
    (the lazy zeroing), pixel counts that leave a partial block; special gradient values."""
    rng = np.random.default_rng(100 + C)
    for n, h, w, oh, ow in [(2, 5, 4, 7, 3), (3, 45, 41, 13, 11), (1, 3, 3, 1, 1), (5, 2, 2, 4, 5)]:
        idx = rng.integers(0, h * w, size=(n, oh, ow, C)).astype(np.int64)
        idx[:, ::2, :, :] = rng.integers(0, min(3, h * w), size=idx[:, ::2, :, :].shape)  # repeats
        idx[:, 0, 0, :] = h * w - 1  # the last row first: everything zeroed at once
        if oh > 2:
            idx[:, 1, :, 0] = 0
        for dtype in ("float32", "float64", "float16"):
            g = _grad(idx.shape, dtype, rng)
            if dtype != "float16":
                g.flat[:: max(1, g.size // 7)] = np.array([np.nan, np.inf, -np.inf, -0.0], dtype)[
                    np.arange(len(g.flat[:: max(1, g.size // 7)])) % 4
                ]
            _check_all(g, idx, (n, h, w, C), f"C={C} {(n, h, w, oh, ow)} {dtype}")


@pytest.mark.usefixtures("restore_threads")
@pytest.mark.parametrize("C", [3, 8, 13, 40])
def test_channel_ranges_of_one_image(C):
    """Few images for the threads: an image is split into channel ranges whose last one may
    hold fewer channels than the destination's pixel (not the dense small-C path)."""
    rng = np.random.default_rng(200 + C)
    shape = (1, 30, 29, C)
    x = rng.standard_normal(shape).astype(np.float32)
    v, idx = nhwcpool.max_pool2d(x, 3, 1, 1, return_indices=True)
    g = _grad(v.shape, np.float32, rng)
    _check_all(g, idx, shape, f"C={C}", threads=(1, 2, 4, 7))


@pytest.mark.parametrize("C", [1, 3, 5, 8, 12, 16, 21])
@pytest.mark.parametrize("big", [False, True])
def test_bad_index_anywhere_in_a_block(C, big):
    """An index outside the plane at any pixel and channel of a block (first, middle, last;
    in the pixel-block tail) raises and names the first one; ignore_outside skips it."""
    rng = np.random.default_rng(300 + C)
    h, w = (48, 47) if big else (6, 5)
    shape = (2, h, w, C)
    x = rng.standard_normal(shape).astype(np.float32)
    v, idx = nhwcpool.max_pool2d(x, 2, 2, return_indices=True)
    g = _grad(v.shape, np.float32, rng)
    _, oh, ow, _ = v.shape
    positions = {(0, 0, 0, 0), (1, oh - 1, ow - 1, C - 1), (0, oh // 2, ow // 3, C // 2), (1, 0, ow - 1, 0)}
    for level in SIMD_LEVELS:
        with using_simd(level):
            for pos in sorted(positions):
                for bad in (-1, h * w, 2**62):
                    i2 = idx.copy()
                    i2[pos] = bad
                    with pytest.raises(ValueError, match="indices must lie in") as e:
                        nhwcpool.max_pool2d_backward(g, i2, shape)
                    assert f"got {bad} at (n, oh, ow, c) = {pos}" in str(e.value)
                    exp = RB.max_pool2d_backward(g, i2, shape, ignore_outside=True)
                    _same(
                        nhwcpool.max_pool2d_backward(g, i2, shape, ignore_outside=True), exp, f"{pos} {level}"
                    )
                    with pytest.raises(ValueError, match="indices must lie in"):
                        nhwcpool.max_unpool2d(v, i2, (h, w))


@pytest.mark.parametrize("C", [1, 2, 3, 4, 5, 6, 7, 8, 10])
@pytest.mark.parametrize("dtype", ["uint8", "int16", "float32", "int64"])
def test_unpool_small_channels(C, dtype):
    """max_unpool2d shares the scatter (copies instead of sums; the last write wins)."""
    rng = np.random.default_rng(400 + C)
    for n, h, w, oh, ow in [(2, 6, 7, 4, 5), (1, 70, 33, 9, 8)]:
        idx = rng.integers(0, h * w, size=(n, oh, ow, C)).astype(np.int64)
        idx[:, 1::2] = idx[:, :1]  # repeats: the last write wins
        vals = rng.integers(1, 100, size=idx.shape).astype(dtype)
        exp = RB.max_unpool2d(vals, idx, (h, w))
        for level in SIMD_LEVELS:
            with using_simd(level):
                _same(nhwcpool.max_unpool2d(vals, idx, (h, w)), exp, f"C={C} {dtype} {level}")
