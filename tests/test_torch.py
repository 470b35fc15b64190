"""Differential tests against PyTorch (optional: skipped when torch is absent).

PyTorch pools NCHW tensors; the same data is permuted to NCHW, pooled with
torch.nn.functional and permuted back.  Only what PyTorch supports is
compared: symmetric numeric padding with pad <= k // 2.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")
F = torch.nn.functional

import nhwcpool
import reference as R
from conftest import each_simd_level
from strategies import data_kind, make_array, pool_configs

# dtypes torch's CPU max_pool2d implements
TORCH_MAX_DTYPES = ["float16", "float32", "float64", "int8", "uint8", "int16", "int32", "int64"]
TORCH_AVG_DTYPES = ["float32", "float64", "float16"]


def _pads(padding):
    if isinstance(padding, (tuple, list)):
        return tuple(int(p) for p in padding)
    return int(padding)


def _to_torch(x):
    x4 = R.to4d(x)
    return torch.from_numpy(np.ascontiguousarray(x4.transpose(0, 3, 1, 2)))


def _from_torch(t, ndim):
    return R.from4d(np.ascontiguousarray(t.numpy().transpose(0, 2, 3, 1)), ndim)


def torch_max(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    x = np.asarray(x)
    x4 = R.to4d(x)
    narrow = None
    if x.dtype in (np.int8, np.uint8) and x4.shape[1] * x4.shape[2] > 127:
        # torch's int8/uint8 kernel keeps plane offsets in the element type
        # and refuses planes of more than 127 cells: pool in int16 instead
        # (max is exact; only an empty window's "lowest" needs mapping back)
        narrow = x.dtype
        x = x.astype(np.int16)
    v, i = F.max_pool2d(
        _to_torch(x),
        kernel_size,
        stride=stride if stride is not None else None,
        padding=_pads(padding),
        dilation=dilation,
        ceil_mode=ceil_mode,
        return_indices=True,
    )
    nd = x.ndim
    v, i = _from_torch(v, nd), _from_torch(i, nd)
    if narrow is not None:
        v = np.where(v == np.iinfo(np.int16).min, np.iinfo(narrow).min, v).astype(narrow)
    return v, i


def torch_avg(
    x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None
):
    t = F.avg_pool2d(
        _to_torch(x),
        kernel_size,
        stride=stride,
        padding=_pads(padding),
        ceil_mode=ceil_mode,
        count_include_pad=count_include_pad,
        divisor_override=divisor_override,
    )
    return _from_torch(t, np.asarray(x).ndim)


def _check_max(x, **kw):
    tv, ti = torch_max(x, **kw)
    for level in each_simd_level():
        v, i = nhwcpool.max_pool2d(
            x,
            kw["kernel_size"],
            kw.get("stride"),
            kw.get("padding", 0),
            dilation=kw.get("dilation", 1),
            ceil_mode=kw.get("ceil_mode", False),
            return_indices=True,
        )
        assert v.shape == tv.shape, (v.shape, tv.shape, level)
        np.testing.assert_array_equal(i, ti, err_msg=f"indices differ from torch (simd={level})")
        R.assert_max_equal(v, tv)
        v2 = nhwcpool.max_pool2d(
            x,
            kw["kernel_size"],
            kw.get("stride"),
            kw.get("padding", 0),
            dilation=kw.get("dilation", 1),
            ceil_mode=kw.get("ceil_mode", False),
        )
        R.assert_max_equal(v2, tv)


def _check_avg(x, **kw):
    tv = torch_avg(x, **kw)
    exp, absmean, ntaps = R.avg_pool2d(
        x,
        kw["kernel_size"],
        kw.get("stride"),
        kw.get("padding", 0),
        kw.get("ceil_mode", False),
        kw.get("count_include_pad", True),
        kw.get("divisor_override"),
    )
    # the reference itself must agree with torch (up to torch's float32 accumulation)
    R.assert_avg_close(tv, exp, absmean, ntaps * 2**29 if x.dtype == np.float32 else ntaps, x.dtype)
    for _level in each_simd_level():
        kwargs = dict(
            ceil_mode=kw.get("ceil_mode", False), count_include_pad=kw.get("count_include_pad", True)
        )
        if kw.get("divisor_override") is not None:
            kwargs["divisor_override"] = kw["divisor_override"]
        got = nhwcpool.avg_pool2d(x, kw["kernel_size"], kw.get("stride"), kw.get("padding", 0), **kwargs)
        assert got.shape == tv.shape
        assert got.dtype == tv.dtype
        # torch accumulates float32 in float32: allow that on top of our bound
        R.assert_avg_close(
            got, tv.astype(got.dtype), absmean, ntaps * 2**29 if x.dtype == np.float32 else ntaps, x.dtype
        )
        R.assert_avg_close(got, exp, absmean, ntaps, x.dtype)


# ----------------------------------------------------------------------------
# random
# ----------------------------------------------------------------------------
@settings(max_examples=200)
@given(
    cfg=pool_configs(torch_compatible=True),
    dtype=st.sampled_from(TORCH_MAX_DTYPES),
    data=st.data(),
    seed=st.integers(0, 2**32 - 1),
)
def test_max_pool2d_vs_torch(cfg, dtype, data, seed):
    x = make_array(cfg["shape"], dtype, data.draw(data_kind(dtype)), seed)
    _check_max(
        x,
        kernel_size=cfg["kernel_size"],
        stride=cfg["stride"],
        padding=cfg["padding"],
        dilation=cfg["dilation"],
        ceil_mode=cfg["ceil_mode"],
    )


@settings(max_examples=200)
@given(
    cfg=pool_configs(torch_compatible=True, dilation=False, max_k=6),
    dtype=st.sampled_from(TORCH_AVG_DTYPES),
    kind=st.sampled_from(["ties", "dyadic", "wide", "special"]),
    seed=st.integers(0, 2**32 - 1),
    count_include_pad=st.booleans(),
    divisor_override=st.one_of(st.none(), st.integers(1, 20), st.integers(-5, -1)),
)
def test_avg_pool2d_vs_torch(cfg, dtype, kind, seed, count_include_pad, divisor_override):
    x = make_array(cfg["shape"], dtype, kind, seed, avg_safe=True)
    # torch accumulates float32 in float32 (we use float64) and float16 in
    # float32: keep finite data far from overflow so both are well defined
    lim = {"float16": 1000.0, "float32": 1e30, "float64": 1e300}[dtype]
    with np.errstate(invalid="ignore"):
        x = np.where(np.isfinite(x) & (np.abs(x) > lim), np.copysign(lim, x), x).astype(dtype)
    _check_avg(
        x,
        kernel_size=cfg["kernel_size"],
        stride=cfg["stride"],
        padding=cfg["padding"],
        ceil_mode=cfg["ceil_mode"],
        count_include_pad=count_include_pad,
        divisor_override=divisor_override,
    )


# ----------------------------------------------------------------------------
# hand-picked edge cases
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6, 7, 8])
@pytest.mark.parametrize("ceil_mode", [False, True])
def test_k1_s2(n, ceil_mode):
    x = np.arange(n * (n + 1) * 3, dtype=np.float32).reshape(n, n + 1, 3)
    _check_max(x, kernel_size=1, stride=2, ceil_mode=ceil_mode)
    _check_avg(x, kernel_size=1, stride=2, ceil_mode=ceil_mode)
    assert (
        nhwcpool.output_size(n, 1, 2, 0, 1, ceil_mode)
        == F.max_pool2d(torch.zeros(1, 1, n, 1), 1, 2, ceil_mode=ceil_mode).shape[2]
    )


@pytest.mark.parametrize("n", range(3, 11))
@pytest.mark.parametrize(
    ("k", "s", "p"), [(3, 2, 1), (2, 2, 1), (3, 3, 1), (4, 3, 2), (5, 2, 2), (2, 3, 1), (3, 4, 1)]
)
@pytest.mark.parametrize("count_include_pad", [True, False])
def test_ceil_mode_with_padding(n, k, s, p, count_include_pad):
    assert n + 2 * p >= k  # every combination here is valid
    rng = np.random.default_rng(n * 100 + k * 10 + s)
    x = (rng.integers(-64, 64, size=(2, n, n + 1, 5)) / 4).astype(np.float64)
    for ceil_mode in (False, True):
        _check_max(x, kernel_size=k, stride=s, padding=p, ceil_mode=ceil_mode)
        if n + 2 * p >= 2 * (k - 1) + 1:
            _check_max(x, kernel_size=k, stride=s, padding=p, ceil_mode=ceil_mode, dilation=2)
        _check_avg(
            x, kernel_size=k, stride=s, padding=p, ceil_mode=ceil_mode, count_include_pad=count_include_pad
        )
        _check_avg(
            x,
            kernel_size=k,
            stride=s,
            padding=p,
            ceil_mode=ceil_mode,
            count_include_pad=count_include_pad,
            divisor_override=3,
        )


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_all_nan_window(dtype):
    x = np.zeros((2, 6, 6, 9), dtype)
    x[:, 0:2, 0:2, :] = np.nan  # a whole 2x2 window
    x[0, 2:4, 2:4, 3] = np.nan
    x[1, 4, 4, 8] = np.nan
    x[1, 5, 5, 8] = np.nan
    _check_max(x, kernel_size=2)
    _check_max(x, kernel_size=3, stride=1, padding=1)
    _check_max(x, kernel_size=2, stride=1, dilation=2, ceil_mode=True)
    v, i = nhwcpool.max_pool2d(x, 2, return_indices=True)
    assert np.isnan(v[:, 0, 0, :]).all()
    assert (i[:, 0, 0, :] == 7).all()  # the last NaN of the window (row 1, col 1)
    assert i[1, 2, 2, 8] == 5 * 6 + 5


@pytest.mark.parametrize("C", [15, 16, 17, 31, 32, 33, 63, 64, 65])
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_nan_in_channel_tail(C, dtype):
    rng = np.random.default_rng(C)
    x = rng.standard_normal((2, 7, 8, C)).astype(dtype)
    x[0, 1, 1, C - 1] = np.nan  # last lane of the tail
    x[1, 3, 4, C - 1] = np.nan
    x[1, 3, 5, C - 1] = np.nan  # two NaNs in one window: last one wins
    x[0, 5, 6, C // 2] = np.nan
    x[0, :, :, 0] = np.nan  # a whole channel
    _check_max(x, kernel_size=2)
    _check_max(x, kernel_size=3, stride=1, padding=1)
    _check_max(x, kernel_size=3, stride=2, padding=1, ceil_mode=True, dilation=(1, 2))
    if dtype != "float16":
        _check_avg(x, kernel_size=3, stride=2, padding=1, ceil_mode=True)


@pytest.mark.parametrize("C", [3, 8, 17, 33, 64])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int8", "int32", "uint8"])
def test_identical_channels(C, dtype):
    rng = np.random.default_rng(C)
    plane = rng.integers(-5, 5, size=(2, 9, 11)).astype(dtype)
    if np.dtype(dtype).kind == "f":
        plane[rng.random(plane.shape) < 0.1] = np.nan
    x = np.repeat(plane[..., None], C, axis=-1)
    _check_max(x, kernel_size=3, stride=2, padding=1)
    for _ in each_simd_level():
        v, i = nhwcpool.max_pool2d(x, 3, 2, 1, return_indices=True)
        assert all(v[..., c].tobytes() == v[..., 0].tobytes() for c in range(C))
        assert all((i[..., c] == i[..., 0]).all() for c in range(C))


@pytest.mark.parametrize("dtype", TORCH_MAX_DTYPES)
def test_integer_and_float_extremes(dtype):
    dt = np.dtype(dtype)
    if dt.kind == "f":
        lo, hi = -np.inf, np.inf
        fi = np.finfo(dt)
        vals = [lo, float(fi.min), -1, -0.0, 0.0, 1, float(fi.max), hi]
    else:
        info = np.iinfo(dt)
        vals = [int(info.min), int(info.min) + 1, 0, int(info.max) - 1, int(info.max)]
    rng = np.random.default_rng(0)
    x = np.array(vals, dtype=dt)[rng.integers(0, len(vals), size=(3, 7, 6, 19))]
    x[0] = vals[0]  # a batch entry of only the lowest value
    _check_max(x, kernel_size=2)
    _check_max(x, kernel_size=3, stride=2, padding=1, ceil_mode=True)
    _check_max(x, kernel_size=(2, 3), stride=(1, 2), padding=(1, 1), dilation=(2, 1))


@pytest.mark.parametrize("dtype", TORCH_MAX_DTYPES)
def test_empty_windows_with_dilation_match_torch(dtype):
    # 1x1 input, k=2, d=2, pad 1: taps -1 and 1 are both outside
    _check_max(np.full((1, 1, 1, 4), 5, dtype=dtype), kernel_size=2, stride=1, padding=1, dilation=2)
    # 3x3, k=2, d=4, pad 1: the single window has taps -1 and 3
    x = (np.arange(2 * 3 * 3 * 17) % 100 + 1).astype(dtype).reshape(2, 3, 3, 17)
    _check_max(x, kernel_size=2, stride=1, padding=1, dilation=4)
    # mixed: 3x5, k=(2,2), d=(4,2), pad 1, ceil_mode: some windows empty, some not
    x = (np.arange(2 * 3 * 5 * 17) % 100 + 1).astype(dtype).reshape(2, 3, 5, 17)
    _check_max(x, kernel_size=2, stride=1, padding=1, dilation=(4, 2), ceil_mode=True)
    _check_max(x, kernel_size=2, stride=(1, 2), padding=(1, 1), dilation=(4, 3))


@pytest.mark.parametrize(
    ("n", "k", "s", "p"), [(2, 3, 3, 0), (2, 4, 3, 0), (1, 2, 2, 0), (2, 5, 4, 1), (3, 5, 5, 0)]
)
def test_ceil_mode_window_larger_than_input(n, k, s, p):
    """PyTorch's ceil rule gives one window although it overhangs the input."""
    x = np.arange(2 * n * (n + 1) * 3, dtype=np.float64).reshape(2, n, n + 1, 3) - 7
    _check_max(x, kernel_size=(k, k), stride=s, padding=p, ceil_mode=True)
    for cip in (True, False):
        _check_avg(x, kernel_size=(k, k), stride=s, padding=p, ceil_mode=True, count_include_pad=cip)
    with pytest.raises(ValueError, match=r"kernel|window|output|input|stride|padding|dilation"):
        nhwcpool.max_pool2d(x[:, :, :n], (k, k), s, p)  # without ceil_mode: no window
