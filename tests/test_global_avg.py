"""Whole-plane averages (global_avg_pool2d, avg_pool2d with a kernel covering the plane): the
exact summation order documented in the README, bit for bit, at every SIMD level (with and
without streamed stores), for thread counts that split a small batch's channels
(cpp/src/kernels/global_avg.hpp).

float32 up to 64 cells: float32 sums from +0 in row-major tap order, one float32 division;
beyond: float64 sums, times the float64 reciprocal of the divisor, rounded to float32;
float16: float32 sums, one float32 division, rounded to float16. An image whose float32
sums overflow is redone entirely in float64.
"""

from __future__ import annotations

import nhwcpool
import numpy as np
import pytest
from conftest import each_simd_level


def expected(x: np.ndarray, divisor: int) -> np.ndarray:
    with np.errstate(over="ignore", invalid="ignore"):
        return _expected(x, divisor)


def _expected(x: np.ndarray, divisor: int) -> np.ndarray:
    n, h, w, c = x.shape
    taps = x.reshape(n, h * w, c)
    if x.dtype == np.float32 and h * w <= 64:
        acc = np.zeros((n, c), np.float32)
        for t in range(h * w):
            acc = acc + taps[:, t]
        out = acc / np.float32(divisor)
        for i in range(n):
            if not np.all(np.isfinite(acc[i])):  # the float64 redo of the image
                s = np.zeros(c, np.float64)
                for t in range(h * w):
                    s = s + taps[i, t].astype(np.float64)
                out[i] = (s * (1.0 / divisor)).astype(np.float32)
        return out
    if x.dtype == np.float32:
        acc = np.zeros((n, c), np.float64)
        for t in range(h * w):
            acc = acc + taps[:, t].astype(np.float64)
        return (acc * (1.0 / divisor)).astype(np.float32)
    acc = np.zeros((n, c), np.float32)
    for t in range(h * w):
        acc = acc + taps[:, t].astype(np.float32)
    return (acc / np.float32(divisor)).astype(np.float16)


SHAPES = [
    (1, 7, 7, 1000),  # batch 1: the channels split among threads; 8-lane tail
    (3, 7, 7, 2050),  # more than one 8 KiB accumulator chunk, a 2-lane tail
    (2, 14, 14, 136),  # float32: float64 sums
    (9, 8, 8, 512),  # 64 cells: still float32 sums; 9 images over 2 threads
    (2, 1, 1, 40),  # one cell
    (1, 3, 5, 24),  # 15 taps: two passes of 7 and one of 1
]


def assert_same_bits_everywhere(x, want, threads):
    """global_avg_pool2d(x) has want's bits at every SIMD level and each thread count."""
    before = nhwcpool.get_num_threads()
    try:
        for level in each_simd_level():
            for t in threads:
                nhwcpool.set_num_threads(t)
                got = nhwcpool.global_avg_pool2d(x, keepdims=False)
                assert got.tobytes() == want.tobytes(), (level, t)
    finally:
        nhwcpool.set_num_threads(before)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_global_avg_order_levels_threads(shape, dtype):
    rng = np.random.default_rng(sum(shape))
    x = (rng.standard_normal(shape) * 100).astype(dtype)
    want = expected(x, shape[1] * shape[2])
    assert_same_bits_everywhere(x, want, threads=(1, 2, 3))


def test_global_avg_overflow_redone_per_image():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 7, 7, 300)).astype(np.float32)
    x[1, 2, 3, 299] = x[1, 4, 3, 299] = 3e38  # image 1's float32 sum overflows in its last chunk
    x[2, 0, 0, 5] = np.inf
    want = expected(x, 49)
    assert np.isfinite(want[1]).all()
    assert np.isinf(want[2, 5])
    assert_same_bits_everywhere(x, want, threads=(1, 2))


def test_whole_plane_avg_pool_padding_and_divisor():
    # A kernel larger than the plane with padding: one window, the whole plane; the divisor
    # counts the padding (or not), or is overridden.
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 7, 7, 96)).astype(np.float32)
    for level in each_simd_level():
        cases = [
            ({}, 81),
            ({"count_include_pad": False}, 49),
            ({"divisor_override": 10}, 10),
        ]
        for kw, div in cases:
            got = nhwcpool.avg_pool2d(x, 9, 1, 1, **kw).reshape(2, 96)
            assert got.tobytes() == expected(x, div).tobytes(), (level, kw)
