"""The 2x2/s2 uint8/uint16 image kernels (C = 1..4, cpp/src/kernels/image_forward.hpp) against
the plain reference (tests/reference.py), at every SIMD level."""

from __future__ import annotations

import numpy as np
import pytest
import reference as ref
from conftest import SIMD_LEVELS, using_simd

import nhwcpool

SHAPES = [(2, 2), (3, 5), (7, 9), (6, 34), (5, 67), (10, 130), (4, 3), (2, 11)]


def data(shape, dtype, seed):
    info = np.iinfo(dtype)
    return np.random.default_rng(seed).integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)


@pytest.mark.parametrize("level", SIMD_LEVELS)
@pytest.mark.parametrize("dtype", ["uint8", "uint16"])
@pytest.mark.parametrize("c", [1, 2, 3, 4])
def test_max_2x2_s2(level, dtype, c):
    with using_simd(level):
        for i, (h, w) in enumerate(SHAPES):
            for shape in ((2, h, w, c), (h, w, c)) + (((h, w),) if c == 1 else ()):
                x = data(shape, dtype, i)
                np.testing.assert_array_equal(nhwcpool.max_pool2d(x, 2), ref.max_pool2d(x, 2)[0])
                np.testing.assert_array_equal(nhwcpool.max_pool2d(x, 2, ceil_mode=True), ref.max_pool2d(x, 2, ceil_mode=True)[0])


@pytest.mark.parametrize("level", SIMD_LEVELS)
@pytest.mark.parametrize("dtype", ["uint8", "uint16"])
@pytest.mark.parametrize("c", [1, 2, 3, 4])
@pytest.mark.parametrize("out", [None, "same", "float32", "float64", "int32"])
def test_avg_2x2_s2(level, dtype, c, out):
    out_dtype = dtype if out == "same" else out
    with using_simd(level):
        for i, (h, w) in enumerate(SHAPES):
            x = data((2, h, w, c), dtype, i)
            got = nhwcpool.avg_pool2d(x, 2, dtype=out_dtype)
            want = ref.avg_pool2d(x, 2, dtype=out_dtype)[0]
            assert got.dtype == want.dtype
            np.testing.assert_array_equal(got, want)


def test_rounding_half_to_even():
    x = np.array([[1, 2, 2, 3, 0, 0, 255, 255], [1, 2, 2, 3, 1, 0, 255, 254]], np.uint8).reshape(2, 4, 2)
    x = np.ascontiguousarray(x[:, :, 0:1].repeat(3, axis=2))  # C = 3
    got = nhwcpool.avg_pool2d(x, 2, dtype=np.uint8)
    np.testing.assert_array_equal(got, ref.avg_pool2d(x, 2, dtype=np.uint8)[0])


@pytest.mark.parametrize("level", SIMD_LEVELS)
def test_views_and_other_windows_take_other_paths(level):
    x = data((3, 20, 30, 6), "uint8", 1)
    with using_simd(level):
        for v in (x[:, 1:17, 2:27, 1:4], x[..., 2:4], x[:, ::2, :, :3]):
            np.testing.assert_array_equal(nhwcpool.max_pool2d(v, 2), ref.max_pool2d(v, 2)[0])
            np.testing.assert_array_equal(
                nhwcpool.avg_pool2d(v, 2, dtype=np.uint8), ref.avg_pool2d(v, 2, dtype=np.uint8)[0]
            )
        v = x[..., :3]
        for args in ((2, 1), (3, 2), (2, 2, 1)):
            np.testing.assert_array_equal(nhwcpool.max_pool2d(v, *args), ref.max_pool2d(v, *args)[0])
        idx_v, idx = nhwcpool.max_pool2d(np.ascontiguousarray(v), 2, return_indices=True)
        np.testing.assert_array_equal(idx_v, ref.max_pool2d(v, 2)[0])


def test_thread_counts_agree():
    x = data((16, 224, 224, 3), "uint8", 3)
    before = nhwcpool.get_num_threads()
    try:
        outs = []
        for t in (1, 2, 3):
            nhwcpool.set_num_threads(t)
            outs.append((nhwcpool.max_pool2d(x, 2), nhwcpool.avg_pool2d(x, 2, dtype=np.uint8)))
    finally:
        nhwcpool.set_num_threads(before)
    for a, b in outs[1:]:
        assert a.tobytes() == outs[0][0].tobytes() and b.tobytes() == outs[0][1].tobytes()
    np.testing.assert_array_equal(outs[0][0], x.reshape(16, 112, 2, 112, 2, 3).max(axis=(2, 4)))
