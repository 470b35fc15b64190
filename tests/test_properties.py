"""Hypothesis property tests: nhwcpool against the plain reference in reference.py.

Every example is run under every SIMD level this CPU + build supports.
"""

from __future__ import annotations

import nhwcpool
import numpy as np
import pytest
import reference as R
from conftest import SIMD_LEVELS, each_simd_level
from hypothesis import example, given, settings
from hypothesis import strategies as st
from strategies import CHANNELS, data_kind, full_shape, make_array, pool_configs

DTYPES = st.sampled_from(R.ALL_DTYPES)
SEEDS = st.integers(0, 2**32 - 1)


def _check_new_array(res, x):
    assert isinstance(res, np.ndarray)
    assert res.flags.c_contiguous
    assert res.flags.writeable
    assert not np.shares_memory(res, x)


# ----------------------------------------------------------------------------
# max pooling
# ----------------------------------------------------------------------------
@settings(max_examples=250)
@given(cfg=pool_configs(), dtype=DTYPES, data=st.data(), seed=SEEDS, return_indices=st.booleans())
def test_max_pool2d_matches_reference(cfg, dtype, data, seed, return_indices):
    kind = data.draw(data_kind(dtype), label="kind")
    x = make_array(cfg["shape"], dtype, kind, seed)
    exp_v, exp_i = R.max_pool2d(
        x, cfg["kernel_size"], cfg["stride"], cfg["padding"], cfg["dilation"], cfg["ceil_mode"]
    )
    x_before = x.copy()
    shape = nhwcpool.output_shape(
        x.shape, cfg["kernel_size"], cfg["stride"], cfg["padding"], cfg["dilation"], cfg["ceil_mode"]
    )
    assert tuple(shape) == exp_v.shape
    results = {}
    for level in each_simd_level():
        res = nhwcpool.max_pool2d(
            x,
            cfg["kernel_size"],
            cfg["stride"],
            cfg["padding"],
            dilation=cfg["dilation"],
            ceil_mode=cfg["ceil_mode"],
            return_indices=return_indices,
        )
        if return_indices:
            assert isinstance(res, tuple)
            assert len(res) == 2
            v, i = res
            assert i.dtype == np.int64
            assert i.shape == exp_i.shape
            np.testing.assert_array_equal(i, exp_i, err_msg=f"indices, simd={level}")
            _check_new_array(i, x)
        else:
            v = res
        R.assert_max_equal(v, exp_v)
        _check_new_array(v, x)
        results[level] = v
    np.testing.assert_array_equal(x, x_before)  # input untouched
    # all SIMD levels agree bit for bit
    first = results[SIMD_LEVELS[0]]
    for level, v in results.items():
        assert v.tobytes() == first.tobytes(), f"simd {level} differs from {SIMD_LEVELS[0]}"


@settings(max_examples=150)
@given(cfg=pool_configs(max_k=3), dtype=st.sampled_from(R.FLOAT_DTYPES), seed=SEEDS)
def test_max_pool2d_with_indices_is_bitwise_reference(cfg, dtype, seed):
    """With return_indices the value must be the very input cell the index
    points at, bit for bit (-0.0 vs +0.0 ties, NaN), or -inf for a window with
    no valid cell: i.e. bitwise equal to the reference."""
    x = make_array(cfg["shape"], dtype, "special", seed)
    # plenty of signed zeros: ties between -0.0 and +0.0
    rng = np.random.default_rng(seed)
    x[rng.random(x.shape) < 0.3] = -0.0
    x[rng.random(x.shape) < 0.3] = 0.0
    exp_v, exp_i = R.max_pool2d(
        x, cfg["kernel_size"], cfg["stride"], cfg["padding"], cfg["dilation"], cfg["ceil_mode"]
    )
    for level in each_simd_level():
        v, i = nhwcpool.max_pool2d(
            x,
            cfg["kernel_size"],
            cfg["stride"],
            cfg["padding"],
            dilation=cfg["dilation"],
            ceil_mode=cfg["ceil_mode"],
            return_indices=True,
        )
        np.testing.assert_array_equal(i, exp_i, err_msg=f"simd={level}")
        assert v.dtype == exp_v.dtype
        assert v.tobytes() == exp_v.tobytes(), f"simd={level}: values not bitwise equal"


# ----------------------------------------------------------------------------
# average pooling
# ----------------------------------------------------------------------------
AVG_OUT_DTYPES = st.one_of(st.none(), st.sampled_from(R.ALL_DTYPES))
DIVISORS = st.one_of(st.none(), st.none(), st.integers(1, 30), st.integers(-9, -1))


@settings(max_examples=250)
@given(
    cfg=pool_configs(dilation=False, max_k=6),
    dtype=DTYPES,
    data=st.data(),
    seed=SEEDS,
    count_include_pad=st.booleans(),
    divisor_override=DIVISORS,
    out_dtype=AVG_OUT_DTYPES,
)
def test_avg_pool2d_matches_reference(cfg, dtype, data, seed, count_include_pad, divisor_override, out_dtype):
    kind = data.draw(data_kind(dtype), label="kind")
    x = make_array(cfg["shape"], dtype, kind, seed, avg_safe=True)
    exp, absmean, ntaps = R.avg_pool2d(
        x,
        cfg["kernel_size"],
        cfg["stride"],
        cfg["padding"],
        cfg["ceil_mode"],
        count_include_pad,
        divisor_override,
        out_dtype,
    )
    x_before = x.copy()
    results = {}
    for level in each_simd_level():
        kwargs = dict(ceil_mode=cfg["ceil_mode"], count_include_pad=count_include_pad)
        if divisor_override is not None:
            kwargs["divisor_override"] = divisor_override
        if out_dtype is not None:
            kwargs["dtype"] = out_dtype
        got = nhwcpool.avg_pool2d(x, cfg["kernel_size"], cfg["stride"], cfg["padding"], **kwargs)
        _check_new_array(got, x)
        try:
            R.assert_avg_close(got, exp, absmean, ntaps, dtype)
        except AssertionError as e:
            msg = f"simd={level}: {e}"
            raise AssertionError(msg) from None
        results[level] = got
    np.testing.assert_array_equal(x, x_before)


# ----------------------------------------------------------------------------
# global pooling
# ----------------------------------------------------------------------------
@settings(max_examples=150)
@given(
    ndim=st.sampled_from([2, 3, 4]),
    N=st.integers(0, 3),
    H=st.integers(1, 12),
    W=st.integers(1, 12),
    C=CHANNELS,
    dtype=DTYPES,
    data=st.data(),
    seed=SEEDS,
    keepdims=st.booleans(),
    out_dtype=AVG_OUT_DTYPES,
)
def test_global_pools_match_reference(ndim, N, H, W, C, dtype, data, seed, keepdims, out_dtype):
    kind = data.draw(data_kind(dtype), label="kind")
    shape = full_shape(ndim, N, H, W, C)
    x = make_array(shape, dtype, kind, seed, avg_safe=True)
    exp_max = R.global_max_pool2d(x, keepdims=keepdims)
    exp_avg, absmean, ntaps = R.global_avg_pool2d(x, keepdims=keepdims, dtype=out_dtype)
    for _ in each_simd_level():
        got = nhwcpool.global_max_pool2d(x, keepdims=keepdims)
        R.assert_max_equal(got, exp_max)
        kw = {} if out_dtype is None else {"dtype": out_dtype}
        got = nhwcpool.global_avg_pool2d(x, keepdims=keepdims, **kw)
        R.assert_avg_close(got, exp_avg, absmean, ntaps, dtype)


# ----------------------------------------------------------------------------
# shape arithmetic
# ----------------------------------------------------------------------------
@settings(max_examples=300)
@given(
    n=st.integers(1, 64),
    k=st.integers(1, 9),
    s=st.one_of(st.none(), st.integers(1, 9)),
    d=st.integers(1, 4),
    ceil_mode=st.booleans(),
    data=st.data(),
)
def test_output_size_matches_reference(n, k, s, d, ceil_mode, data):
    eff = d * (k - 1) + 1
    form = data.draw(st.sampled_from(["int", "pair", "same", "valid"]), label="form")
    if form == "int":
        padding = data.draw(st.integers(0, eff // 2), label="p")
    elif form == "pair":
        padding = (data.draw(st.integers(0, eff // 2)), data.draw(st.integers(0, eff // 2)))
    else:
        padding = data.draw(st.sampled_from([form, form.upper()]))
    expected = R.output_size(n, k, s, padding, d, ceil_mode)
    if expected >= 1:
        got = nhwcpool.output_size(n, k, s, padding, d, ceil_mode)
        assert isinstance(got, int)
        assert got == expected
    else:
        with pytest.raises(ValueError, match=r"kernel|window|output|input|stride|padding|dilation|\bn\b"):
            nhwcpool.output_size(n, k, s, padding, d, ceil_mode)


@settings(max_examples=200)
@given(cfg=pool_configs(max_hw=40))
def test_output_shape_matches_reference(cfg):
    args = (cfg["kernel_size"], cfg["stride"], cfg["padding"], cfg["dilation"], cfg["ceil_mode"])
    expected = R.output_shape(cfg["shape"], *args)
    got = nhwcpool.output_shape(cfg["shape"], *args)
    assert isinstance(got, tuple)
    assert got == expected
    assert all(isinstance(v, int) for v in got)
    # and the pooling functions really produce that shape
    x = np.zeros(cfg["shape"], dtype=np.float32)
    assert (
        nhwcpool.max_pool2d(
            x,
            cfg["kernel_size"],
            cfg["stride"],
            cfg["padding"],
            dilation=cfg["dilation"],
            ceil_mode=cfg["ceil_mode"],
        ).shape
        == expected
    )


# ----------------------------------------------------------------------------
# validation: random (often invalid) hyperparameters
# ----------------------------------------------------------------------------
def _spec_valid(H, W, k, s, pads, d, ceil_mode):
    if min(k + s + d) < 1:
        return False
    if not R.padding_is_valid(pads, k, d):
        return False
    # the output size formula decides (with ceil_mode, PyTorch's rule can give
    # one window even when the window is larger than the padded input)
    oh = R.out_size(H, k[0], s[0], pads[0][0], pads[0][1], d[0], ceil_mode)
    ow = R.out_size(W, k[1], s[1], pads[1][0], pads[1][1], d[1], ceil_mode)
    return oh >= 1 and ow >= 1


@settings(max_examples=300)
@given(
    H=st.integers(1, 9),
    W=st.integers(1, 9),
    k=st.tuples(st.integers(-1, 7), st.integers(-1, 7)),
    s=st.tuples(st.integers(-1, 4), st.integers(-1, 4)),
    d=st.tuples(st.integers(-1, 3), st.integers(-1, 3)),
    pads=st.tuples(
        st.tuples(st.integers(-1, 4), st.integers(-1, 4)),
        st.tuples(st.integers(-1, 4), st.integers(-1, 4)),
    ),
    ceil_mode=st.booleans(),
    use_avg=st.booleans(),
)
# window larger than the input, but ceil_mode's rule still gives one window
@example(H=2, W=2, k=(3, 3), s=(3, 3), d=(1, 1), pads=((0, 0), (0, 0)), ceil_mode=True, use_avg=False)
@example(H=2, W=2, k=(3, 3), s=(3, 3), d=(1, 1), pads=((0, 0), (0, 0)), ceil_mode=True, use_avg=True)
@example(H=2, W=2, k=(3, 3), s=(3, 3), d=(1, 1), pads=((0, 0), (0, 0)), ceil_mode=False, use_avg=False)
@example(H=2, W=2, k=(3, 3), s=(1, 1), d=(1, 1), pads=((0, 0), (0, 0)), ceil_mode=True, use_avg=True)
# padding limit on the effective kernel: eff 5 -> 2 allowed, 3 not
@example(H=4, W=4, k=(3, 3), s=(1, 1), d=(2, 2), pads=((2, 2), (0, 0)), ceil_mode=False, use_avg=False)
@example(H=4, W=4, k=(3, 3), s=(1, 1), d=(2, 2), pads=((3, 0), (0, 0)), ceil_mode=False, use_avg=False)
@example(H=4, W=4, k=(2, 2), s=(1, 1), d=(1, 1), pads=((0, 0), (1, 2)), ceil_mode=False, use_avg=True)
def test_validation_matches_spec(H, W, k, s, d, pads, ceil_mode, use_avg):
    if use_avg:
        d = (1, 1)
    x = np.arange(2 * H * W * 3, dtype=np.float32).reshape(2, H, W, 3) % 5
    valid = _spec_valid(H, W, k, s, pads, d, ceil_mode)
    if use_avg:
        call = lambda: nhwcpool.avg_pool2d(x, k, s, pads, ceil_mode=ceil_mode)
    else:
        call = lambda: nhwcpool.max_pool2d(x, k, s, pads, dilation=d, ceil_mode=ceil_mode)
    if not valid:
        with pytest.raises(
            ValueError, match=r"kernel_size|stride|dilation|padding|window|output|input|\bx\b"
        ):
            call()
        with pytest.raises(ValueError, match=r"kernel|window|output|input|stride|padding|dilation"):
            nhwcpool.output_shape(x.shape, k, s, pads, d, ceil_mode)
        return
    got = call()
    if use_avg:
        exp, am, nt = R.avg_pool2d(x, k, s, pads, ceil_mode)
        R.assert_avg_close(got, exp, am, nt, x.dtype)
    else:
        exp, _ = R.max_pool2d(x, k, s, pads, d, ceil_mode)
        R.assert_max_equal(got, exp)
    assert nhwcpool.output_shape(x.shape, k, s, pads, d, ceil_mode) == exp.shape
