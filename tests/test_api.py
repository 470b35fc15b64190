"""Public API surface: shape helpers, global pooling, dtype rules, config,
version, the module entry point, and hand-picked semantic edge cases."""

from __future__ import annotations

import contextlib
import os
import platform
import re
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version

import nhwcpool
import numpy as np
import pytest
import reference as R
from conftest import SIMD_LEVELS, using_simd


# ----------------------------------------------------------------------------
# output_size / output_shape
# ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "kwargs", "expected"),
    [
        ((5, 3, 1), {}, 3),
        ((4, 2), {}, 2),  # stride defaults to kernel_size
        ((5, 2), {}, 2),
        ((5, 2), dict(ceil_mode=True), 3),
        ((5, 2, 2, 1), {}, 3),
        ((4, 1, 2), dict(ceil_mode=True), 2),  # last window would start at n + pb: dropped
        ((5, 1, 2), dict(ceil_mode=True), 3),
        ((6, 3, 2, 1), dict(ceil_mode=True), 4),  # (6+2-3+1)//2+1 = 4; 3*2 = 6 < 7: kept
        ((6, 2, 2, 1), dict(ceil_mode=True), 4),  # (6+2-2+1)//2+1 = 4; 3*2 = 6 < 7: kept
        ((5, 2, 2, 1), dict(ceil_mode=True), 3),  # (5+2-2+1)//2+1 = 4; 3*2 = 6 >= 6: dropped
        ((7, 3, 2, "same"), {}, 4),
        ((7, 3, 2, "SAME"), {}, 4),
        ((7, 3, 2, "Same"), {}, 4),
        ((7, 3, 2, "valid"), {}, 3),
        ((7, 3, 2, "VALID"), {}, 3),
        ((1, 5, 1, "same"), {}, 1),
        ((10, 3, 1, 0, 2), {}, 6),  # dilation: effective kernel 5
        ((10, 3, 1, "same", 2), {}, 10),
        ((5, 3, 2, (1, 0)), {}, 2),  # (begin, end) pair
        ((5, 3, 2, (0, 1)), {}, 2),
        ((5, 3, 2, (1, 1)), {}, 3),
        ((5, 3, 2, [1, 1]), {}, 3),
        ((2, 3, 1, 1), {}, 2),
        ((3, 3, 1), {}, 1),
        ((1, 1, 1), {}, 1),
        ((2**40, 2, 2), {}, 2**39),
    ],
)
def test_output_size_values(args, kwargs, expected):
    exp_ref = R.output_size(*args, **kwargs)
    assert exp_ref == expected
    got = nhwcpool.output_size(*args, **kwargs)
    assert got == exp_ref
    assert isinstance(got, int)


def test_output_size_keyword_arguments():
    assert nhwcpool.output_size(n=9, kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=False) == 5
    assert nhwcpool.output_size(9, 3, stride=None, padding="same") == 3
    assert nhwcpool.output_size(9, 2, padding=1, ceil_mode=True) == 5
    assert nhwcpool.output_size(np.int64(9), np.int32(3)) == 3


@pytest.mark.parametrize(
    ("shape", "args", "expected"),
    [
        ((5, 5), (3, 1), (3, 3)),
        ((5, 5, 2), (3, 1), (3, 3, 2)),
        ((4, 5, 5, 2), (3, 1), (4, 3, 3, 2)),
        ((0, 5, 5, 2), (3, 1), (0, 3, 3, 2)),
        ((1, 5, 5, 0), (3, 1), (1, 3, 3, 0)),
        ((8, 9), ((2, 3),), (4, 3)),
        ((8, 9), ([2, 3], [1, 2]), (7, 4)),
        ((7, 7, 3), (3, 2, "same"), (4, 4, 3)),
        ((7, 8, 3), ((3, 4), (2, 3), "SAME"), (4, 3, 3)),
        ((7, 7, 3), (3, 2, "valid"), (3, 3, 3)),
        ((7, 7, 3), (3, 2, ((1, 0), (0, 1))), (3, 3, 3)),
        ((7, 7, 3), (3, 2, (1, 0)), (4, 3, 3)),
        ((7, 7, 3), (3, 2, 1, 1, True), (4, 4, 3)),
        ((10, 10), (3, 1, 0, 2), (6, 6)),
        ((10, 11), (3, 1, 0, (2, 3)), (6, 5)),
        ((28, 28, 1), (2,), (14, 14, 1)),
    ],
)
def test_output_shape_values(shape, args, expected):
    assert R.output_shape(shape, *args) == expected
    got = nhwcpool.output_shape(shape, *args)
    assert got == expected
    assert isinstance(got, tuple)
    assert nhwcpool.output_shape(list(shape), *args) == expected
    if 0 not in shape:
        x = np.zeros(shape, np.float32)
        kw = dict(zip(["kernel_size", "stride", "padding", "dilation", "ceil_mode"], args, strict=False))
        assert nhwcpool.max_pool2d(x, **kw).shape == expected


# ----------------------------------------------------------------------------
# hyperparameter spellings
# ----------------------------------------------------------------------------
def test_hyperparameter_spellings_agree():
    x = np.arange(2 * 9 * 8 * 3, dtype=np.float32).reshape(2, 9, 8, 3) % 7
    base = nhwcpool.max_pool2d(x, (3, 3), (2, 2), ((1, 1), (1, 1)), dilation=(1, 1))
    for args, kw in [
        ((3,), dict(stride=2, padding=1)),
        (([3, 3],), dict(stride=[2, 2], padding=[1, 1])),
        ((3, 2, (1, 1)), dict(dilation=1)),
        ((3, 2, [[1, 1], [1, 1]]), {}),
        ((np.int64(3), np.int32(2), np.int16(1)), dict(dilation=np.uint8(1))),
    ]:
        np.testing.assert_array_equal(nhwcpool.max_pool2d(x, *args, **kw), base)
    # stride=None means stride = kernel_size, also for non-square kernels
    np.testing.assert_array_equal(
        nhwcpool.avg_pool2d(x, (2, 3)), nhwcpool.avg_pool2d(x, (2, 3), stride=(2, 3))
    )
    np.testing.assert_array_equal(
        nhwcpool.avg_pool2d(x, (2, 3), None), nhwcpool.avg_pool2d(x, (2, 3), (2, 3))
    )


def test_valid_padding_equals_zero_padding():
    x = np.random.default_rng(0).standard_normal((2, 9, 8, 5)).astype(np.float32)
    for f in (nhwcpool.max_pool2d, nhwcpool.avg_pool2d):
        np.testing.assert_array_equal(f(x, 3, 2, "valid"), f(x, 3, 2, 0))
        np.testing.assert_array_equal(f(x, 3, 2, "VaLiD"), f(x, 3, 2))


def test_same_padding_odd_cell_goes_bottom_right():
    # 4 wide, k=2, s=1: total pad 1 -> (0 before, 1 after)
    x = np.array([[1.0, 2.0, 3.0, 4.0]] * 2)
    got = nhwcpool.avg_pool2d(x, (1, 2), 1, "same")
    # last window holds only x[:, 3] (padded cell excluded from the divisor)
    np.testing.assert_array_equal(got, [[1.5, 2.5, 3.5, 4.0]] * 2)
    v, i = nhwcpool.max_pool2d(-x, (1, 2), 1, "same", return_indices=True)
    np.testing.assert_array_equal(v, [[-1, -2, -3, -4]] * 2)
    np.testing.assert_array_equal(i, [[0, 1, 2, 3], [4, 5, 6, 7]])
    # k=3, s=1 on 5: total 2 -> (1, 1)
    y = np.arange(5.0)[None, :]
    np.testing.assert_array_equal(nhwcpool.avg_pool2d(y, (1, 3), 1, "same"), [[0.5, 1, 2, 3, 3.5]])


def test_same_average_excludes_padding_regardless_of_count_include_pad():
    x = np.ones((5, 5, 2), np.float64)
    for cip in (True, False):
        got = nhwcpool.avg_pool2d(x, 3, 1, "same", count_include_pad=cip)
        np.testing.assert_array_equal(got, np.ones((5, 5, 2)))
        got = nhwcpool.avg_pool2d(x, 4, 3, "SAME", count_include_pad=cip, ceil_mode=True)
        np.testing.assert_array_equal(got, np.ones(got.shape))
    # while numeric padding does count it
    got = nhwcpool.avg_pool2d(x, 3, 1, 1)
    assert got[0, 0, 0] == pytest.approx(4 / 9, rel=1e-15)
    got = nhwcpool.avg_pool2d(x, 3, 1, 1, count_include_pad=False)
    assert got[0, 0, 0] == 1.0


def test_count_include_pad_never_counts_ceil_overhang():
    # n=4, k=3, s=2, p=1, ceil: windows start at -1, 1, 3 ; the last covers
    # [3, 6) but the padded input ends at 5: divisor 2 rows (3, 4), not 3.
    x = np.ones((4, 4), np.float64)
    assert nhwcpool.output_size(4, 3, 2, 1, 1, True) == 3
    got = nhwcpool.avg_pool2d(x, 3, 2, 1, ceil_mode=True)
    # rows/cols per axis: (in-input, counted) = (2, 3), (3, 3), (1, 2)
    exp = np.array([[4 / 9, 6 / 9, 2 / 6], [6 / 9, 1.0, 3 / 6], [2 / 6, 3 / 6, 1 / 4]])
    np.testing.assert_allclose(got, exp, rtol=1e-15)
    got = nhwcpool.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False)
    np.testing.assert_array_equal(got, np.ones((3, 3)))
    got = nhwcpool.avg_pool2d(x, 3, 2, 1, ceil_mode=True, divisor_override=2)
    np.testing.assert_array_equal(got, [[2, 3, 1], [3, 4.5, 1.5], [1, 1.5, 0.5]])
    # asymmetric numeric padding: divisor counts [-top, n + bottom)
    # n=5, k=3, s=2, ceil: windows start -1, 1, 3; the last is [3, 6)
    got = nhwcpool.avg_pool2d(np.ones((5, 1)), (3, 1), 2, ((1, 0), (0, 0)), ceil_mode=True)
    np.testing.assert_allclose(got, [[2 / 3], [1.0], [1.0]], rtol=1e-15)  # 6 > 5 + 0
    got = nhwcpool.avg_pool2d(np.ones((5, 1)), (3, 1), 2, ((1, 1), (0, 0)), ceil_mode=True)
    np.testing.assert_allclose(got, [[2 / 3], [1.0], [2 / 3]], rtol=1e-15)  # 6 <= 5 + 1
    got = nhwcpool.avg_pool2d(np.ones((5, 1)), (3, 1), 2, ((0, 1), (0, 0)), ceil_mode=True)
    # starts 0, 2, 4 -> [4, 7) counted up to 6: 2 cells, 1 in input
    np.testing.assert_allclose(got, [[1.0], [1.0], [1 / 2]], rtol=1e-15)


def test_divisor_override():
    x = np.arange(16, dtype=np.float32).reshape(4, 4)
    got = nhwcpool.avg_pool2d(x, 2, divisor_override=1)
    np.testing.assert_array_equal(got, [[10, 18], [42, 50]])
    got = nhwcpool.avg_pool2d(x, 2, divisor_override=-2)
    np.testing.assert_array_equal(got, [[-5, -9], [-21, -25]])
    got = nhwcpool.avg_pool2d(x, 3, 1, 1, divisor_override=3, count_include_pad=False)
    assert got[0, 0] == np.float32((0 + 1 + 4 + 5) / 3)
    got = nhwcpool.avg_pool2d(x, 3, 1, "same", divisor_override=3)
    assert got[0, 0] == np.float32((0 + 1 + 4 + 5) / 3)
    xi = np.arange(16, dtype=np.int32).reshape(4, 4)
    np.testing.assert_allclose(
        nhwcpool.avg_pool2d(xi, 2, divisor_override=3), [[10 / 3, 6], [14, 50 / 3]], rtol=1e-15
    )


# ----------------------------------------------------------------------------
# max semantics: NaN, indices, ties, empty windows
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.usefixtures("simd_level")
def test_max_nan_rules(dtype):
    nan = np.nan
    x = np.array(
        [
            [1, nan, 2, 3],
            [nan, 5, 4, 4],
            [7, 7, -np.inf, -np.inf],
            [7, 7, -np.inf, -np.inf],
        ],
        dtype=dtype,
    )
    v, i = nhwcpool.max_pool2d(x, 2, return_indices=True)
    assert np.isnan(v[0, 0])
    assert i[0, 0] == 4
    assert v[0, 1] == 4
    assert i[0, 1] == 6
    assert v[1, 0] == 7
    assert i[1, 0] == 8
    assert v[1, 1] == -np.inf
    assert i[1, 1] == 10
    # NaN in the tail of a wide channel vector: every C and every lane
    for C in (1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65):
        y = np.zeros((1, 4, 4, C), dtype)
        y[0, 1, 1, C - 1] = nan
        y[0, 2, 3, 0] = nan
        v = nhwcpool.max_pool2d(y, 2)
        assert np.isnan(v[0, 0, 0, C - 1])
        assert np.isnan(v[0, 1, 1, 0])
        assert np.isnan(v).sum() == 2
        g = nhwcpool.global_max_pool2d(y, keepdims=False)
        assert np.isnan(g[0, C - 1])
        assert np.isnan(g[0, 0])
        assert not np.isnan(g[0, 1 : C - 1]).any()


@pytest.mark.usefixtures("simd_level")
def test_identical_channels_give_identical_output():
    rng = np.random.default_rng(3)
    plane = rng.standard_normal((9, 10)).astype(np.float32)
    plane[rng.random(plane.shape) < 0.2] = np.nan
    for C in (3, 8, 16, 17, 33, 64, 65):
        x = np.repeat(plane[None, :, :, None], C, axis=3)
        v, i = nhwcpool.max_pool2d(x, 3, 2, 1, return_indices=True)
        for c in range(1, C):
            assert v[..., c].tobytes() == v[..., 0].tobytes()
            np.testing.assert_array_equal(i[..., c], i[..., 0])
        a = nhwcpool.avg_pool2d(x, 3, 2, 1)
        for c in range(1, C):
            assert a[..., c].tobytes() == a[..., 0].tobytes()


@pytest.mark.parametrize("dtype", R.ALL_DTYPES, ids=str)
def test_max_empty_window_gives_lowest(dtype):
    # 1x1 input, k=2, d=2 (effective 3), pad 1: taps -1 and 1 are both outside
    x = np.full((1, 1), 5, dtype=dtype)
    v, i = nhwcpool.max_pool2d(x, 2, 1, 1, dilation=2, return_indices=True)
    exp_v, exp_i = R.max_pool2d(x, 2, 1, 1, 2)
    lowest = -np.inf if np.dtype(dtype).kind == "f" else np.iinfo(dtype).min
    assert v.shape == (1, 1)
    assert v[0, 0] == lowest
    np.testing.assert_array_equal(i, exp_i)
    # a 3x3 input, k=2, d=4 (effective 5), pad 2: output row/col 1 has taps
    # -1 and 3, both outside, while rows/cols 0 and 2 each hit one cell
    x = (np.arange(9) + 1).astype(dtype).reshape(3, 3)
    v, i = nhwcpool.max_pool2d(x, (2, 2), 1, 2, dilation=(4, 4), return_indices=True)
    exp_v, exp_i = R.max_pool2d(x, (2, 2), 1, 2, (4, 4))
    assert v.shape == (3, 3)
    R.assert_max_equal(v, exp_v)
    np.testing.assert_array_equal(i, exp_i)
    assert (v == lowest).any()
    assert (v != lowest).any()


@pytest.mark.parametrize("dtype", R.INT_DTYPES, ids=str)
@pytest.mark.usefixtures("simd_level")
def test_max_integer_extremes(dtype):
    info = np.iinfo(dtype)
    x = np.array([[info.min, info.min], [info.min, info.min]], dtype=dtype)
    v, i = nhwcpool.max_pool2d(x, 2, return_indices=True)
    assert v[0, 0] == info.min
    assert i[0, 0] == 0
    x = np.array([[info.min, info.max], [info.max, info.min]], dtype=dtype)
    v, i = nhwcpool.max_pool2d(x, 2, return_indices=True)
    assert v[0, 0] == info.max
    assert i[0, 0] == 1
    # unsigned: values above the signed range must not compare as negative
    x = np.array([[1, info.max // 2 + 1], [info.max // 2, 0]], dtype=dtype)
    v = nhwcpool.max_pool2d(x, 2)
    assert v[0, 0] == info.max // 2 + 1
    C = 70
    y = np.full((2, 3, 3, C), info.min, dtype=dtype)
    y[1, 2, 2, C - 1] = info.max
    y[0, 0, 1, 5] = info.min + 1
    v, i = nhwcpool.max_pool2d(y, 3, return_indices=True)
    assert v[1, 0, 0, C - 1] == info.max
    assert i[1, 0, 0, C - 1] == 8
    assert v[0, 0, 0, 5] == info.min + 1
    assert i[0, 0, 0, 5] == 1
    assert (v[0, 0, 0, :5] == info.min).all()
    assert (i[0, 0, 0, :5] == 0).all()


def test_indices_are_per_plane_row_major():
    rng = np.random.default_rng(1)
    x = rng.permutation(2 * 5 * 7 * 3).astype(np.float64).reshape(2, 5, 7, 3)
    v, i = nhwcpool.max_pool2d(x, 2, 2, return_indices=True)
    assert i.shape == v.shape == (2, 2, 3, 3)
    assert i.dtype == np.int64
    assert i.min() >= 0
    assert i.max() < 5 * 7
    for n in range(2):
        for c in range(3):
            plane = x[n, :, :, c]
            np.testing.assert_array_equal(plane.ravel()[i[n, :, :, c]], v[n, :, :, c])


# ----------------------------------------------------------------------------
# average dtype rules
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", R.ALL_DTYPES, ids=str)
def test_avg_default_result_dtype(dtype):
    x = np.ones((4, 4, 3), dtype)
    exp = np.dtype(dtype) if np.dtype(dtype).kind == "f" else np.dtype(np.float64)
    assert nhwcpool.avg_pool2d(x, 2).dtype == exp
    assert nhwcpool.global_avg_pool2d(x).dtype == exp
    for od in R.ALL_DTYPES:
        assert nhwcpool.avg_pool2d(x, 2, dtype=od).dtype == od
        assert nhwcpool.global_avg_pool2d(x, dtype=od).dtype == od
    assert nhwcpool.avg_pool2d(x, 2, dtype="float32").dtype == np.float32
    assert nhwcpool.avg_pool2d(x, 2, dtype=np.dtype("int16")).dtype == np.int16
    assert nhwcpool.avg_pool2d(x, 2, dtype=None).dtype == exp


def test_float16_accumulates_in_float32():
    x = np.full((1, 4, 4, 9), 65504, np.float16)  # float16 max
    np.testing.assert_array_equal(nhwcpool.avg_pool2d(x, 2), x[:, ::2, ::2])
    np.testing.assert_array_equal(nhwcpool.global_avg_pool2d(x)[0, 0, 0], x[0, 0, 0])
    # 2048 + 1 + 1 + 1 = 2051 is not representable in float16 (f16 sum gives 2048)
    y = np.array([[2048, 1], [1, 1]], np.float16)
    assert nhwcpool.avg_pool2d(y, 2)[0, 0] == np.float16(2051 / 4)
    assert nhwcpool.avg_pool2d(y, 2)[0, 0] != np.float16(512)


def test_float32_average_sums():
    # The mean of finite values is finite: a row whose float32 sum overflows is redone in float64.
    x = np.full((1, 2, 2, 17), 3e38, np.float32)
    np.testing.assert_array_equal(nhwcpool.avg_pool2d(x, 2), x[:, :1, :1])
    np.testing.assert_array_equal(nhwcpool.global_avg_pool2d(x), x[:, :1, :1])
    x3 = np.full((1, 2, 2, 3), -3e38, np.float32)  # the small-channel (separable) path too
    np.testing.assert_array_equal(nhwcpool.avg_pool2d(x3, 2), x3[:, :1, :1])
    # Up to 64 cells, float32 sums in row-major order as PyTorch: 2**24 + 1 rounds to 2**24.
    y = np.zeros((2, 2, 17), np.float32)
    y[0, 0] = 2.0**24
    y[0, 1] = 1.0
    y[1, 0] = 1.0
    got = nhwcpool.avg_pool2d(y, 2)
    np.testing.assert_array_equal(got[0, 0], np.full(17, 4194304.0, np.float32))
    assert got.dtype == np.float32
    # dtype=float64 sums in float64: the exact mean (2**24 + 2) / 4.
    np.testing.assert_array_equal(nhwcpool.avg_pool2d(y, 2, dtype=np.float64)[0, 0], np.full(17, 4194304.5))
    # More than 64 cells: float64 sums, then one rounding to float32.
    z = np.zeros((9, 9, 17), np.float32)
    z[0, 0] = 2.0**24
    z[0, 1] = 1.0
    z[1, 0] = 1.0
    np.testing.assert_array_equal(
        nhwcpool.global_avg_pool2d(z, keepdims=False), np.full(17, np.float32((2.0**24 + 2) / 81))
    )


def test_integer_sums_are_exact():
    x = np.full((2, 2, 5), 2**31 - 1, np.int32)
    got = nhwcpool.avg_pool2d(x, 2)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, np.full((1, 1, 5), 2**31 - 1, np.float64))
    x = np.full((2, 2, 5), 255, np.uint8)
    np.testing.assert_array_equal(nhwcpool.avg_pool2d(x, 2), np.full((1, 1, 5), 255.0))
    np.testing.assert_array_equal(nhwcpool.avg_pool2d(x, 2, divisor_override=1), np.full((1, 1, 5), 1020.0))
    x = np.full((2, 2, 5), -32768, np.int16)
    np.testing.assert_array_equal(
        nhwcpool.avg_pool2d(x, 2, divisor_override=1), np.full((1, 1, 5), -131072.0)
    )
    # int64 / uint64 accumulate in float64 (no wrap-around)
    x = np.full((2, 2, 5), 2**62, np.int64)
    np.testing.assert_array_equal(nhwcpool.avg_pool2d(x, 2), np.full((1, 1, 5), 2.0**62))
    x = np.full((2, 2, 5), 2**64 - 1, np.uint64)
    np.testing.assert_array_equal(nhwcpool.avg_pool2d(x, 2), np.full((1, 1, 5), 2.0**64))
    x = np.array([[2**63 - 1, -(2**63)], [2**63 - 1, -(2**63)]], np.int64)
    assert abs(nhwcpool.avg_pool2d(x, 2)[0, 0]) <= 2.0**12


@pytest.mark.parametrize(
    ("vals", "od", "expected"),
    [
        ([1, 2, 0, 0], "int16", 1),  # 0.75
        ([1, 0, 0, 0], "int16", 0),  # 0.25
        ([2, 0, 0, 0], "int16", 0),  # 0.5 -> 0 (half to even)
        ([6, 0, 0, 0], "int16", 2),  # 1.5 -> 2
        ([10, 0, 0, 0], "int16", 2),  # 2.5 -> 2
        ([14, 0, 0, 0], "int16", 4),  # 3.5 -> 4
        ([-10, 0, 0, 0], "int16", -2),  # -2.5 -> -2
        ([-6, 0, 0, 0], "int16", -2),  # -1.5 -> -2
        ([-2, 0, 0, 0], "int16", 0),  # -0.5 -> 0
        ([-3, 0, 0, 0], "int16", -1),  # -0.75 -> -1
        ([255, 255, 255, 255], "uint8", 255),
        ([255, 255, 255, 254], "uint8", 255),  # 254.75
        ([-3, -3, -3, -3], "uint8", 0),  # clipped
        ([1000, 1000, 1000, 1000], "int8", 127),  # clipped
        ([-1000, -1000, -1000, -1000], "int8", -128),  # clipped
    ],
)
@pytest.mark.parametrize("in_dtype", ["int16", "int32", "int64", "float32", "float64"])
def test_integer_output_dtype_rounds_half_even_and_clips(vals, od, expected, in_dtype):
    x = np.array(vals, dtype=in_dtype).reshape(2, 2)
    got = nhwcpool.avg_pool2d(x, 2, dtype=od)
    assert got.dtype == np.dtype(od)
    assert got[0, 0] == expected
    g = nhwcpool.global_avg_pool2d(x, dtype=od, keepdims=False)
    assert g.dtype == np.dtype(od)
    assert g == expected


def test_integer_output_clips_with_divisor_override():
    x = np.full((2, 2), 255, np.uint8)
    assert nhwcpool.avg_pool2d(x, 2, divisor_override=1, dtype=np.uint8)[0, 0] == 255
    assert nhwcpool.avg_pool2d(x, 2, divisor_override=-1, dtype=np.uint8)[0, 0] == 0
    assert nhwcpool.avg_pool2d(x, 2, divisor_override=-1, dtype=np.int16)[0, 0] == -1020
    x = np.full((2, 2), -128, np.int8)
    assert nhwcpool.avg_pool2d(x, 2, divisor_override=1, dtype=np.int8)[0, 0] == -128
    assert nhwcpool.avg_pool2d(x, 2, divisor_override=1, dtype=np.int32)[0, 0] == -512
    x = np.full((2, 2), 2**63 - 1, np.int64)
    assert nhwcpool.avg_pool2d(x, 2, divisor_override=1, dtype=np.int64)[0, 0] == 2**63 - 1
    x = np.full((2, 2), 2**64 - 1, np.uint64)
    assert nhwcpool.avg_pool2d(x, 2, divisor_override=1, dtype=np.uint64)[0, 0] == 2**64 - 1
    assert nhwcpool.avg_pool2d(x, 2, divisor_override=-1, dtype=np.int64)[0, 0] == -(2**63)


@pytest.mark.parametrize("od", ["int8", "uint8", "int16", "uint16", "int32", "int64", "uint32", "uint64"])
@pytest.mark.parametrize("in_dtype", ["float16", "float32", "float64"])
def test_integer_output_nan_and_inf(od, in_dtype):
    info = np.iinfo(od)
    x = np.array([[np.nan, 1], [2, 3]], in_dtype)
    assert nhwcpool.avg_pool2d(x, 2, dtype=od)[0, 0] == 0
    x = np.array([[np.inf, 1], [2, 3]], in_dtype)
    assert nhwcpool.avg_pool2d(x, 2, dtype=od)[0, 0] == info.max
    x = np.array([[-np.inf, 1], [2, 3]], in_dtype)
    assert nhwcpool.avg_pool2d(x, 2, dtype=od)[0, 0] == info.min
    x = np.array([[np.inf, -np.inf], [2, 3]], in_dtype)
    assert nhwcpool.avg_pool2d(x, 2, dtype=od)[0, 0] == 0
    x = np.array([[1e4, 1e4], [1e4, 1e4]], in_dtype)
    assert nhwcpool.avg_pool2d(x, 2, dtype=od)[0, 0] == min(10000, info.max)
    x = np.array([[-1e4, -1e4], [-1e4, -1e4]], in_dtype)
    assert nhwcpool.avg_pool2d(x, 2, dtype=od)[0, 0] == max(-10000, info.min)


def test_float_avg_special_values():
    x = np.array([[np.inf, 1], [2, 3]], np.float32)
    assert nhwcpool.avg_pool2d(x, 2)[0, 0] == np.inf
    x = np.array([[np.inf, -np.inf], [2, 3]], np.float32)
    assert np.isnan(nhwcpool.avg_pool2d(x, 2)[0, 0])
    x = np.array([[np.nan, 1], [2, 3]], np.float64)
    assert np.isnan(nhwcpool.avg_pool2d(x, 2)[0, 0])
    x = np.array([[np.nan, 1], [2, 3]], np.float16)
    assert np.isnan(nhwcpool.global_avg_pool2d(x)[0, 0])


# ----------------------------------------------------------------------------
# global pooling
# ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("shape", "keep", "flat"),
    [
        ((3, 5, 6, 4), (3, 1, 1, 4), (3, 4)),
        ((5, 6, 4), (1, 1, 4), (4,)),
        ((5, 6), (1, 1), ()),
        ((1, 1, 1, 1), (1, 1, 1, 1), (1, 1)),
        ((2, 1, 7, 33), (2, 1, 1, 33), (2, 33)),
    ],
)
@pytest.mark.parametrize("dtype", ["float32", "int16", "uint8", "float16", "int64"])
def test_global_shapes_and_values(shape, keep, flat, dtype):
    rng = np.random.default_rng(2)
    x = (rng.integers(-50, 50, size=shape) % (256 if dtype == "uint8" else 1000)).astype(dtype)
    axes = (0, 1) if len(shape) in (2, 3) else (1, 2)
    gm = nhwcpool.global_max_pool2d(x)
    assert gm.shape == keep
    assert gm.dtype == x.dtype
    np.testing.assert_array_equal(gm, x.max(axis=axes, keepdims=True))
    gm = nhwcpool.global_max_pool2d(x, keepdims=False)
    assert gm.shape == flat
    np.testing.assert_array_equal(gm, x.max(axis=axes))
    ga = nhwcpool.global_avg_pool2d(x)
    assert ga.shape == keep
    exp = x.astype(np.float64).mean(axis=axes, keepdims=True)
    np.testing.assert_allclose(ga.astype(np.float64), exp, rtol=1e-3 if dtype == "float16" else 1e-6)
    ga = nhwcpool.global_avg_pool2d(x, keepdims=False)
    assert ga.shape == flat
    assert isinstance(ga, np.ndarray)
    # equals avg_pool2d with the whole plane as the window
    H, W = (shape[0], shape[1]) if len(shape) in (2, 3) else (shape[1], shape[2])
    np.testing.assert_allclose(
        nhwcpool.global_avg_pool2d(x).astype(np.float64),
        nhwcpool.avg_pool2d(x, (H, W)).astype(np.float64),
        rtol=1e-3 if dtype == "float16" else 1e-12,
    )
    np.testing.assert_array_equal(nhwcpool.global_max_pool2d(x), nhwcpool.max_pool2d(x, (H, W)))


# ----------------------------------------------------------------------------
# version, config, entry point, SIMD hooks
# ----------------------------------------------------------------------------
def test_version():
    v = nhwcpool.__version__
    assert isinstance(v, str)
    assert re.match(r"^\d+\.\d+(\.\d+)?", v)
    with contextlib.suppress(PackageNotFoundError):  # a source tree without metadata
        assert version("nhwcpool") == v


def test_show_config(capsys):
    ret = nhwcpool.show_config()
    assert ret is None
    out = capsys.readouterr().out
    assert nhwcpool.__version__ in out
    backend = nhwcpool._core.threading_backend()
    assert backend in ("OpenMP", "std::thread pool", "serial")
    assert re.search(r"^\s*threads:\s+" + re.escape(backend) + r"\b", out, re.MULTILINE)
    assert (backend == "OpenMP") == nhwcpool._core.openmp_enabled()
    assert re.search(r"simd", out, re.IGNORECASE)
    assert nhwcpool._core.get_simd_level() in out
    assert re.search(r"compiler", out, re.IGNORECASE)
    assert re.search(r"thread", out, re.IGNORECASE)
    assert str(nhwcpool.get_num_threads()) in out


@pytest.mark.usefixtures("restore_threads")
def test_show_config_follows_simd_and_threads(capsys):
    for level in SIMD_LEVELS:
        with using_simd(level):
            nhwcpool.show_config()
            out = capsys.readouterr().out
            assert level in out
    nhwcpool.set_num_threads(3)
    nhwcpool.show_config()
    assert re.search(r"thread[^\n]*\b3\b", capsys.readouterr().out, re.IGNORECASE)


def _run_py(code, env_extra=None, args=None):
    env = dict(os.environ)
    env.pop("NHWCPOOL_SIMD", None)
    if env_extra:
        env.update(env_extra)
    cmd = [sys.executable] + (args if args is not None else ["-c", code])
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120, check=False)


def test_python_dash_m_demo():
    proc = _run_py(None, args=["-m", "nhwcpool"])
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.strip()
    # the documents' first example: 9, 2, 6, 3 (in that order)
    assert re.search(r"9\D+2\D+6\D+3", out), out


@pytest.mark.parametrize("level", SIMD_LEVELS)
def test_env_var_forces_simd_level(level):
    proc = _run_py(
        "import nhwcpool, numpy as np\n"
        "print(nhwcpool._core.get_simd_level())\n"
        "print(nhwcpool.max_pool2d(np.array([[1,3,2,1],[2,9,1,1],[1,3,2,3],[5,6,1,2]], np.float32), 2).tolist())\n",
        env_extra={"NHWCPOOL_SIMD": level},
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.split("\n")
    assert lines[0].strip() == level
    assert lines[1].strip() == "[[9.0, 2.0], [6.0, 3.0]]"


def test_simd_hooks():
    levels = nhwcpool._core.supported_simd_levels()
    assert isinstance(levels, list)
    assert all(isinstance(s, str) for s in levels)
    baseline = "neon" if platform.machine().lower() in ("aarch64", "arm64") else "baseline"
    assert nhwcpool._core.compiled_simd_levels()[0] == baseline
    assert baseline in levels
    assert nhwcpool._core.get_simd_level() in levels
    before = nhwcpool._core.get_simd_level()
    try:
        for level in levels:
            nhwcpool._core.set_simd_level(level)
            assert nhwcpool._core.get_simd_level() == level
    finally:
        nhwcpool._core.set_simd_level(before)


def test_public_names():
    for name in [
        "max_pool2d",
        "avg_pool2d",
        "global_max_pool2d",
        "global_avg_pool2d",
        "output_size",
        "output_shape",
        "set_num_threads",
        "get_num_threads",
        "show_config",
    ]:
        assert callable(getattr(nhwcpool, name)), name


# ----------------------------------------------------------------------------
# planes beyond the 32-bit range (np.zeros is lazily allocated: only the
# pages the kernels touch become resident)
# ----------------------------------------------------------------------------
def test_indices_beyond_int32_range():
    n = 46341  # n * n > 2**31 - 1
    x = np.zeros((1, n, n, 1), np.int8)
    x[0, n - 1, n - 1, 0] = 5
    x[0, 0, 1, 0] = 3
    v, i = nhwcpool.max_pool2d(x, 2, stride=n - 2, return_indices=True)
    assert v.shape == (1, 2, 2, 1)
    assert v.ravel().tolist() == [3, 0, 0, 5]
    assert i.ravel().tolist() == [1, n - 2, (n - 2) * n, (n - 1) * n + (n - 1)]
    assert (n - 1) * n + (n - 1) > 2**31 - 1
    a = nhwcpool.avg_pool2d(x, 2, stride=n - 2)
    assert a.ravel().tolist() == [0.75, 0.0, 0.0, 1.25]


def test_width_beyond_int32_range():
    W = 2**31 + 3
    x = np.zeros((3, W), np.uint8)
    x[2, W - 1] = 7
    x[1, W - 2] = 9
    v, i = nhwcpool.max_pool2d(x, (2, 2), stride=(1, W - 2), return_indices=True)
    assert v.shape == (2, 2)
    assert v.tolist() == [[0, 9], [0, 9]]
    assert i.tolist() == [[0, W + W - 2], [W, W + W - 2]]
    v, i = nhwcpool.max_pool2d(x, (1, 2), stride=(1, W - 2), return_indices=True)
    assert v.tolist() == [[0, 0], [0, 9], [0, 7]]
    assert i[2, 1] == 2 * W + W - 1 > 2**32
    assert nhwcpool.output_size(W, 2, W - 2) == 2
    assert nhwcpool.output_shape((3, W), (1, 2), (1, W - 2)) == (3, 2)


def test_baseline_level_name_per_architecture():
    """x86-64 calls its baseline kernels "baseline"; aarch64 "neon" (NEON is baseline there),
    and "baseline" still selects it. "neon" is not a level on x86-64."""
    core = nhwcpool._core
    before = core.get_simd_level()
    baseline = core.compiled_simd_levels()[0]
    try:
        core.set_simd_level("baseline")
        assert core.get_simd_level() == baseline
        if baseline == "neon":
            core.set_simd_level("neon")
            assert core.get_simd_level() == "neon"
        else:
            with pytest.raises(ValueError, match=r"(?i)simd|level"):
                core.set_simd_level("neon")
    finally:
        core.set_simd_level(before)
