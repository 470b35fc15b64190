"""max_pool2d_backward, avg_pool2d_backward and max_unpool2d.

* against PyTorch autograd (channels_last tensors) on random configurations: every option
  PyTorch has (padding, ceil_mode, dilation for max, count_include_pad, divisor_override,
  ties). float32/float64 results are compared for exact equality, overlapping windows
  included: both add each input cell's terms in output order (PyTorch's CPU kernels walk the
  outputs row-major; nhwcpool gathers them in that order). float16: within float16 rounding
  of the float32 sums (PyTorch's order of float16 roundings differs);
* against the plain NumPy adjoints of reference_backward.py (exact, float16 included) for
  every padding form, PyTorch's and the others (asymmetric, "same", "valid");
* hypothesis properties: the adjoint identity of average pooling, max's gradient sum;
* max_unpool2d against torch.nn.functional.max_unpool2d and the reference;
* bad input, thread-count and SIMD-level bit identity, strided/byte-swapped inputs.
"""

from __future__ import annotations

import nhwcpool
import numpy as np
import pytest
import reference as R
import reference_backward as RB
from conftest import SIMD_LEVELS, each_simd_level, using_simd
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import make_array, pool_configs

FLOATS = ["float16", "float32", "float64"]


def _grad(shape, dtype, seed, kind="dyadic"):
    """Gradient data: dyadic (k/8, sums exact in float32 for few terms) or wide normals."""
    rng = np.random.default_rng(seed)
    if kind == "dyadic":
        v = rng.integers(-64, 65, size=shape) / 8.0
    else:
        v = rng.standard_normal(shape) * 10.0 ** rng.integers(-3, 4, size=shape)
    return v.astype(dtype)


def _max_forward(x, cfg):
    return nhwcpool.max_pool2d(
        x,
        cfg["kernel_size"],
        cfg["stride"],
        cfg["padding"],
        dilation=cfg["dilation"],
        ceil_mode=cfg["ceil_mode"],
        return_indices=True,
    )


def _assert_same_bits(a, b, what=""):
    assert a.shape == b.shape, (a.shape, b.shape, what)
    assert a.dtype == b.dtype, (a.dtype, b.dtype, what)
    assert a.tobytes() == b.tobytes(), f"results differ bit for bit {what}"


# --------------------------------------------------------------------------------------------
# Against the NumPy reference: every padding form, every layout, float16 exact


@settings(max_examples=60)
@given(cfg=pool_configs(max_hw=9, max_n=2), dtype=st.sampled_from(FLOATS), seed=st.integers(0, 2**32 - 1))
def test_max_backward_matches_reference(cfg, dtype, seed):
    x = make_array(cfg["shape"], dtype, "ties", seed)
    _, idx = _max_forward(x, cfg)
    g = _grad(idx.shape, dtype, seed, kind="wide" if seed % 2 else "dyadic")
    if not ((idx >= 0) & (idx < _hw(x))).all():
        # a window with no in-range tap (extreme dilation): its index lies outside the plane,
        # an error unless ignore_outside skips it
        with pytest.raises(ValueError, match="indices must lie in"):
            nhwcpool.max_pool2d_backward(g, idx, x.shape)
        got = nhwcpool.max_pool2d_backward(g, idx, x.shape, ignore_outside=True)
        _assert_same_bits(got, RB.max_pool2d_backward(g, idx, x.shape, ignore_outside=True))
        return
    got = nhwcpool.max_pool2d_backward(g, idx, x.shape)
    _assert_same_bits(got, RB.max_pool2d_backward(g, idx, x.shape))
    _assert_same_bits(nhwcpool.max_pool2d_backward(g, idx, x.shape, ignore_outside=True), got)


def _hw(x):
    x4 = R.to4d(x)
    return x4.shape[1] * x4.shape[2]


@settings(max_examples=60)
@given(cfg=pool_configs(dilation=False, max_hw=9, max_n=2), dtype=st.sampled_from(FLOATS), data=st.data())
def test_avg_backward_matches_reference(cfg, dtype, data):
    cip = data.draw(st.booleans())
    div = data.draw(st.one_of(st.none(), st.integers(-7, 12).filter(lambda d: d != 0)))
    seed = data.draw(st.integers(0, 2**32 - 1))
    out_shape = nhwcpool.output_shape(
        cfg["shape"], cfg["kernel_size"], cfg["stride"], cfg["padding"], 1, cfg["ceil_mode"]
    )
    g = _grad(out_shape, dtype, seed, kind="wide" if seed % 2 else "dyadic")
    kw = dict(ceil_mode=cfg["ceil_mode"], count_include_pad=cip, divisor_override=div)
    got = nhwcpool.avg_pool2d_backward(
        g, cfg["shape"], cfg["kernel_size"], cfg["stride"], cfg["padding"], **kw
    )
    exp = RB.avg_pool2d_backward(g, cfg["shape"], cfg["kernel_size"], cfg["stride"], cfg["padding"], **kw)
    _assert_same_bits(got, exp)


def test_float16_sums_in_float32():
    # One input cell collects 1 + 2^-11 + 2^-11: float16 steps would round to 1 twice.
    g = np.array([[1.0, 2.0**-11, 2.0**-11]], dtype=np.float16)
    idx = np.zeros((1, 3), dtype=np.int64)
    got = nhwcpool.max_pool2d_backward(g, idx, (2, 2))
    assert got[0, 0] == np.float16(1.0 + 2.0**-10)
    assert got.dtype == np.float16
    # average: 3x3/s1 windows, every cell of the middle is covered 9 times
    go = np.full((3, 3), 2.0**-11 * 9, dtype=np.float16)
    go[0, 0] = 9.0
    gi = nhwcpool.avg_pool2d_backward(go, (5, 5), 3, 1)
    exp = RB.avg_pool2d_backward(go, (5, 5), 3, 1)
    _assert_same_bits(gi, exp)


# --------------------------------------------------------------------------------------------
# Against PyTorch autograd


torch = None


def _torch():
    global torch  # noqa: PLW0603
    torch = pytest.importorskip("torch")
    return torch


def _t(a4):
    """NHWC array -> NCHW tensor in channels_last memory (a leaf that takes gradients)."""
    return torch.from_numpy(np.ascontiguousarray(a4)).permute(0, 3, 1, 2)


def _np(t):
    return t.detach().permute(0, 2, 3, 1).numpy()


def _torch_max_grad(x, g, cfg):
    F = torch.nn.functional
    t = _t(R.to4d(x)).detach().requires_grad_()
    y = F.max_pool2d(
        t,
        cfg["kernel_size"],
        cfg["stride"],
        _pads(cfg["padding"]),
        dilation=cfg["dilation"],
        ceil_mode=cfg["ceil_mode"],
    )
    y.backward(_t(R.to4d(g)))
    return R.from4d(_np(t.grad), x.ndim)


def _pads(p):
    return tuple(int(v) for v in p) if isinstance(p, (tuple, list)) else int(p)


def _torch_compare(got, exp, dtype, magnitude):
    """magnitude: the same gradient of |grad_output| (the sum of the terms' sizes per cell)."""
    if np.dtype(dtype) == np.float16:
        # PyTorch rounds to float16 after each term; nhwcpool sums in float32 and rounds once.
        # With up to ~25 terms per cell PyTorch's own error reaches several float16 ulps of the
        # terms' total size (seen: 0.25 at a magnitude near 64, 4 ulps), so the bound is 16 ulps
        # of that size: a missing or extra term (a wrong window) is still far outside it.
        err = np.abs(got.astype(np.float32) - exp.astype(np.float32))
        assert (err <= 16 * 2.0**-10 * np.maximum(magnitude.astype(np.float32), 1.0)).all(), float(err.max())
    else:
        _assert_same_bits(got, exp, "(vs torch)")


@settings(max_examples=50)
@given(
    cfg=pool_configs(torch_compatible=True, max_hw=10, max_n=2),
    dtype=st.sampled_from(FLOATS),
    seed=st.integers(0, 2**32 - 1),
)
def test_max_backward_matches_torch(cfg, dtype, seed):
    _torch()
    if 0 in cfg["shape"]:
        return
    x = make_array(cfg["shape"], dtype, "ties", seed)  # ties: the first tap in window order wins
    v, idx = _max_forward(x, cfg)
    if not ((idx >= 0) & (idx < _hw(x))).all():
        return  # no in-range tap in some window (extreme dilation); see test_bad_indices
    g = _grad(v.shape, dtype, seed, kind="wide" if seed % 2 else "dyadic")
    got = nhwcpool.max_pool2d_backward(g, idx, x.shape)
    mag = nhwcpool.max_pool2d_backward(np.abs(g), idx, x.shape)
    _torch_compare(got, _torch_max_grad(x, g, cfg), dtype, mag)


@settings(max_examples=50)
@given(
    cfg=pool_configs(torch_compatible=True, dilation=False, max_hw=10, max_n=2),
    dtype=st.sampled_from(FLOATS),
    data=st.data(),
)
def test_avg_backward_matches_torch(cfg, dtype, data):
    _torch()
    if 0 in cfg["shape"]:
        return
    F = torch.nn.functional
    cip = data.draw(st.booleans())
    div = data.draw(st.one_of(st.none(), st.integers(1, 12)))
    seed = data.draw(st.integers(0, 2**32 - 1))
    x = make_array(cfg["shape"], dtype, "dyadic", seed)
    t = _t(R.to4d(x)).detach().requires_grad_()
    y = F.avg_pool2d(
        t,
        cfg["kernel_size"],
        cfg["stride"],
        _pads(cfg["padding"]),
        ceil_mode=cfg["ceil_mode"],
        count_include_pad=cip,
        divisor_override=div,
    )
    g4 = _grad(_np(y).shape, dtype, seed, kind="wide" if seed % 2 else "dyadic")
    y.backward(_t(g4))
    exp = R.from4d(_np(t.grad), x.ndim)
    g = R.from4d(g4, x.ndim)
    got = nhwcpool.avg_pool2d_backward(
        g,
        x.shape,
        cfg["kernel_size"],
        cfg["stride"],
        cfg["padding"],
        ceil_mode=cfg["ceil_mode"],
        count_include_pad=cip,
        divisor_override=div,
    )
    mag = nhwcpool.avg_pool2d_backward(
        np.abs(g),
        x.shape,
        cfg["kernel_size"],
        cfg["stride"],
        cfg["padding"],
        ceil_mode=cfg["ceil_mode"],
        count_include_pad=cip,
        divisor_override=div,
    )
    _torch_compare(got, exp, dtype, mag)


@pytest.mark.parametrize(
    ("k", "s", "p", "d", "ceil"),
    [
        (2, 2, 0, 1, False),
        (3, 2, 1, 1, False),
        (3, 1, 1, 1, True),
        (5, 1, 2, 1, False),
        (3, 2, 1, 2, True),
        (2, 3, 0, 1, True),
    ],
)
def test_torch_larger_cases(k, s, p, d, ceil):
    """A few larger arrays (several tasks per thread, channel chunks) with exact equality."""
    _torch()
    F = torch.nn.functional
    rng = np.random.default_rng(k * 100 + s * 10 + p)
    for shape in [(2, 23, 19, 70), (1, 17, 29, 150), (5, 12, 12, 3)]:
        x = rng.integers(-3, 4, size=shape).astype(np.float32)  # many ties
        g = rng.standard_normal(nhwcpool.output_shape(shape, k, s, p, d, ceil)).astype(np.float32)
        cfg = dict(kernel_size=k, stride=s, padding=p, dilation=d, ceil_mode=ceil)
        _, idx = _max_forward(x, cfg)
        _assert_same_bits(nhwcpool.max_pool2d_backward(g, idx, shape), _torch_max_grad(x, g, cfg), "max")
        if d == 1:
            for cip in (True, False):
                t = _t(x).detach().requires_grad_()
                F.avg_pool2d(t, k, s, p, ceil_mode=ceil, count_include_pad=cip).backward(_t(g))
                got = nhwcpool.avg_pool2d_backward(g, shape, k, s, p, ceil_mode=ceil, count_include_pad=cip)
                _assert_same_bits(got, _np(t.grad), "avg")


# --------------------------------------------------------------------------------------------
# Properties


@settings(max_examples=60)
@given(cfg=pool_configs(dilation=False, max_hw=9, max_n=2), data=st.data())
def test_avg_adjoint_identity(cfg, data):
    """<A x, g> = <x, A^T g> for A = avg_pool2d (float64)."""
    cip = data.draw(st.booleans())
    div = data.draw(st.one_of(st.none(), st.integers(1, 9)))
    seed = data.draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(cfg["shape"])
    args = (cfg["kernel_size"], cfg["stride"], cfg["padding"])
    kw = dict(ceil_mode=cfg["ceil_mode"], count_include_pad=cip, divisor_override=div)
    ax = nhwcpool.avg_pool2d(x, *args, **kw)
    g = rng.standard_normal(ax.shape)
    atg = nhwcpool.avg_pool2d_backward(g, x.shape, *args, **kw)
    lhs, rhs = float(np.sum(ax * g)), float(np.sum(x * atg))
    scale = float(np.sum(np.abs(ax * g))) + float(np.sum(np.abs(x * atg))) + 1e-300
    assert abs(lhs - rhs) <= 1e-12 * scale, (lhs, rhs)


@settings(max_examples=60)
@given(cfg=pool_configs(max_hw=9, max_n=2), dtype=st.sampled_from(FLOATS), seed=st.integers(0, 2**32 - 1))
def test_max_gradient_sums_to_grad_output(cfg, dtype, seed):
    x = make_array(cfg["shape"], dtype, "wide", seed)
    _, idx = _max_forward(x, cfg)
    if not ((idx >= 0) & (idx < _hw(x))).all():
        return
    g = _grad(idx.shape, dtype, seed)  # k/8 with |k| <= 64: every partial sum is exact
    gi = nhwcpool.max_pool2d_backward(g, idx, x.shape)
    assert gi.shape == x.shape
    assert gi.dtype == x.dtype
    g4, gi4 = R.to4d(g).astype(np.float64), R.to4d(gi).astype(np.float64)
    np.testing.assert_array_equal(gi4.sum(axis=(1, 2)), g4.sum(axis=(1, 2)))  # per (n, c) plane
    # and nothing lands where no index points
    N, H, W, C = R.to4d(x).shape
    hit = np.zeros((N, H * W, C), dtype=bool)
    i4 = R.to4d(idx)
    for n in range(i4.shape[0]):
        for c in range(i4.shape[3]):
            hit[n, i4[n, :, :, c].ravel(), c] = True
    assert (gi4.reshape(hit.shape)[~hit] == 0).all()


# --------------------------------------------------------------------------------------------
# max_unpool2d


@settings(max_examples=40)
@given(
    cfg=pool_configs(torch_compatible=True, dilation=False, max_hw=10, max_n=2),
    dtype=st.sampled_from(["float32", "float64", "float16"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_unpool_matches_torch(cfg, dtype, seed):
    _torch()
    if 0 in cfg["shape"]:
        return
    F = torch.nn.functional
    x = make_array(cfg["shape"], dtype, "wide", seed)
    v, idx = _max_forward(x, cfg)
    H, W = R.to4d(x).shape[1:3]
    got = nhwcpool.max_unpool2d(v, idx, (H, W))
    exp = F.max_unpool2d(
        _t(R.to4d(v)),
        _t(R.to4d(idx)),
        cfg["kernel_size"],
        cfg["stride"],
        _pads(cfg["padding"]),
        output_size=(H, W),
    )
    _assert_same_bits(got, R.from4d(np.ascontiguousarray(_np(exp)), x.ndim))


def test_unpool_repeated_indices_last_wins_like_torch():
    _torch()
    F = torch.nn.functional
    rng = np.random.default_rng(5)
    v = rng.standard_normal((2, 4, 5, 3)).astype(np.float32)
    idx = rng.integers(0, 6, size=v.shape).astype(np.int64)  # many repeats among 6 of 20 cells
    got = nhwcpool.max_unpool2d(v, idx, (4, 5))
    exp = F.max_unpool2d(_t(v), _t(idx), 1, output_size=(4, 5))
    _assert_same_bits(got, _np(exp).copy())
    _assert_same_bits(got, RB.max_unpool2d(v, idx, (4, 5)))


@pytest.mark.parametrize(
    "dtype", ["int8", "uint8", "int16", "uint16", "int32", "int64", "uint32", "uint64", "float16"]
)
def test_unpool_every_dtype(dtype):
    rng = np.random.default_rng(1)
    x = rng.integers(0, 100, size=(3, 7, 6, 5)).astype(dtype)
    v, idx = nhwcpool.max_pool2d(x, 3, 2, 1, return_indices=True)
    got = nhwcpool.max_unpool2d(v, idx, (7, 6))
    _assert_same_bits(got, RB.max_unpool2d(v, idx, (7, 6)))
    # 2-D and 3-D layouts
    got3 = nhwcpool.max_unpool2d(v[0], idx[0], (7, 6))
    _assert_same_bits(got3, got[0])
    got2 = nhwcpool.max_unpool2d(
        np.ascontiguousarray(v[0, :, :, 1]), np.ascontiguousarray(idx[0, :, :, 1]), (7, 6)
    )
    _assert_same_bits(got2, np.ascontiguousarray(got[0, :, :, 1]))


def test_unpool_inverts_pool_on_maxima():
    rng = np.random.default_rng(2)
    x = rng.random((2, 8, 8, 4)).astype(np.float32) + 1  # positive: the zeros never win
    v, idx = nhwcpool.max_pool2d(x, 2, return_indices=True)
    u = nhwcpool.max_unpool2d(v, idx, (8, 8))
    np.testing.assert_array_equal(nhwcpool.max_pool2d(u, 2), v)
    assert np.count_nonzero(u) == v.size


# --------------------------------------------------------------------------------------------
# Layouts, strides, empty arrays


def test_strided_and_byteswapped_inputs():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 11, 13, 6)).astype(np.float32)
    v, idx = nhwcpool.max_pool2d(x, 3, 2, 1, return_indices=True)
    g = rng.standard_normal(v.shape).astype(np.float32)
    exp_max = nhwcpool.max_pool2d_backward(g, idx, x.shape)
    exp_avg = nhwcpool.avg_pool2d_backward(g, x.shape, 3, 2, 1)
    variants = [
        (np.asfortranarray(g), np.asfortranarray(idx)),  # any strides
        (g[:, ::-1][:, ::-1], idx[:, ::-1][:, ::-1]),  # negative strides (same values)
        (g.astype(g.dtype.newbyteorder()), idx.astype(idx.dtype.newbyteorder())),  # byte-swapped
        (g, idx.astype(np.int32)),  # narrower indices
        (g, idx.astype(np.uint16).tolist()),  # a list
        (np.ascontiguousarray(g.transpose(0, 3, 1, 2)).transpose(0, 2, 3, 1), idx),  # NCHW memory
    ]
    for gv, iv in variants:
        _assert_same_bits(nhwcpool.max_pool2d_backward(gv, iv, x.shape), exp_max)
        _assert_same_bits(nhwcpool.avg_pool2d_backward(gv, x.shape, 3, 2, 1), exp_avg)
    # a list of Python floats is float64
    g64 = g.astype(np.float64)
    _assert_same_bits(
        nhwcpool.max_pool2d_backward(g64.tolist(), idx, x.shape),
        nhwcpool.max_pool2d_backward(g64, idx, x.shape),
    )
    # out= gets the same values
    out = np.full(x.shape, 7.0, dtype=np.float32)
    assert nhwcpool.max_pool2d_backward(g, idx, x.shape, out=out) is out
    _assert_same_bits(out, exp_max)
    out[...] = 7.0
    assert nhwcpool.avg_pool2d_backward(g, x.shape, 3, 2, 1, out=out) is out
    _assert_same_bits(out, exp_avg)
    u = np.full(x.shape, 7.0, dtype=np.float32)
    assert nhwcpool.max_unpool2d(v, idx, (11, 13), out=u) is u
    _assert_same_bits(u, nhwcpool.max_unpool2d(v, idx, (11, 13)))


def test_empty_arrays():
    for shape in [(0, 5, 5, 3), (2, 5, 5, 0)]:
        v, idx = nhwcpool.max_pool2d(np.zeros(shape, np.float32), 2, return_indices=True)
        gi = nhwcpool.max_pool2d_backward(v, idx, shape)
        assert gi.shape == shape
        assert gi.dtype == np.float32
        ga = nhwcpool.avg_pool2d_backward(v, shape, 2)
        assert ga.shape == shape
        assert nhwcpool.max_unpool2d(v, idx, (5, 5)).shape == shape
    # no outputs at all: the gradient is zero
    gi = nhwcpool.max_pool2d_backward(np.zeros((0, 0), np.float64), np.zeros((0, 0), np.int64), (3, 4))
    np.testing.assert_array_equal(gi, np.zeros((3, 4)))


def test_uncovered_cells_get_zero():
    # stride > kernel leaves rows and columns no window covers; ceil_mode adds partial windows
    g = np.ones((2, 3, 3, 2), dtype=np.float32)
    gi = nhwcpool.avg_pool2d_backward(g, (2, 8, 8, 2), 2, 3)
    exp = RB.avg_pool2d_backward(g, (2, 8, 8, 2), 2, 3)
    _assert_same_bits(gi, exp)
    assert (gi[:, 2::3] == 0).all()
    assert (gi[:, :, 2::3] == 0).all()


# --------------------------------------------------------------------------------------------
# Determinism: thread counts and SIMD levels


@pytest.mark.parametrize("shape", [(3, 31, 29, 40), (1, 40, 36, 130), (64, 9, 9, 3)])
@pytest.mark.usefixtures("restore_threads")
def test_bit_identical_for_any_thread_count(shape):
    rng = np.random.default_rng(11)
    x = rng.standard_normal(shape).astype(np.float32)
    results = {}
    for threads in (1, 2, 3, 4, 7):
        nhwcpool.set_num_threads(threads)
        for k, s, p in [(3, 1, 1), (2, 2, 0), (5, 2, 2)]:
            v, idx = nhwcpool.max_pool2d(x, k, s, p, return_indices=True)
            g = np.random.default_rng(k).standard_normal(v.shape).astype(np.float32) * 1e3
            for name, got in [
                ("max", nhwcpool.max_pool2d_backward(g, idx, shape)),
                ("avg", nhwcpool.avg_pool2d_backward(g, shape, k, s, p, count_include_pad=False)),
                ("avg16", nhwcpool.avg_pool2d_backward(g.astype(np.float16), shape, k, s, p)),
                ("max16", nhwcpool.max_pool2d_backward(g.astype(np.float16), idx, shape)),
                ("unpool", nhwcpool.max_unpool2d(v, idx, shape[1:3])),
            ]:
                key = (name, k, s, p)
                if key in results:
                    _assert_same_bits(got, results[key], f"{key} at {threads} threads")
                else:
                    results[key] = got


def test_each_simd_level_matches_reference():
    rng = np.random.default_rng(12)
    cases = [
        ((2, 9, 10, 19), 3, 1, 1),
        ((1, 12, 12, 64), 2, 2, 0),
        ((3, 7, 9, 5), (3, 2), (2, 1), ((1, 0), (0, 1))),
    ]
    for shape, k, s, p in cases:
        for dtype in FLOATS:
            x = rng.standard_normal(shape).astype(dtype)
            v, idx = nhwcpool.max_pool2d(x, k, s, p, return_indices=True)
            g = rng.standard_normal(v.shape).astype(dtype)
            exp_max = RB.max_pool2d_backward(g, idx, shape)
            exp_avg = RB.avg_pool2d_backward(g, shape, k, s, p, count_include_pad=False)
            for level in each_simd_level():
                _assert_same_bits(nhwcpool.max_pool2d_backward(g, idx, shape), exp_max, level)
                _assert_same_bits(
                    nhwcpool.avg_pool2d_backward(g, shape, k, s, p, count_include_pad=False), exp_avg, level
                )
                _assert_same_bits(
                    nhwcpool.max_unpool2d(v, idx, shape[1:3]), RB.max_unpool2d(v, idx, shape[1:3])
                )


@pytest.mark.parametrize("level", SIMD_LEVELS)
def test_special_values_per_level(level):
    g = np.array([[np.nan, np.inf], [-np.inf, -0.0]], dtype=np.float32)
    idx = np.array([[0, 1], [1, 3]], dtype=np.int64)
    with using_simd(level):
        gi = nhwcpool.max_pool2d_backward(g, idx, (2, 2))
        ga = nhwcpool.avg_pool2d_backward(np.array([[-0.0]], np.float32), (2, 2), 2)
    assert np.isnan(gi[0, 0])
    assert np.isnan(gi[0, 1])  # inf + -inf
    assert gi[1, 0] == 0
    assert gi[1, 1] == 0
    assert not np.signbit(gi[1, 1])  # 0 + -0 = +0, as PyTorch's zeroed gradient plus the term
    assert not np.signbit(ga).any()


# --------------------------------------------------------------------------------------------
# Bad input


def _ok():
    x = np.arange(2 * 6 * 6 * 3, dtype=np.float32).reshape(2, 6, 6, 3)
    v, idx = nhwcpool.max_pool2d(x, 2, return_indices=True)
    return x, v, idx


@pytest.mark.parametrize("bad", [-1, 36, 2**62, -(2**63)])
def test_bad_indices(bad):
    x, v, idx = _ok()
    for pos in [(0, 0, 0, 0), (1, 2, 2, 2), (0, 1, 2, 1)]:
        i2 = idx.copy()
        i2[pos] = bad
        out = np.full(x.shape, 5.0, np.float32)
        guard = np.full(100, 9.0, np.float32)
        with pytest.raises(ValueError, match=r"indices must lie in \[0, H\*W\) = \[0, 36\)") as e:
            nhwcpool.max_pool2d_backward(v, i2, x.shape, out=out)
        assert f"got {bad} at (n, oh, ow, c) = {pos}" in str(e.value)
        with pytest.raises(ValueError, match="indices must lie in"):
            nhwcpool.max_unpool2d(v, i2, (6, 6))
        assert (guard == 9.0).all()
    # indices of a larger input do not fit a smaller one
    with pytest.raises(ValueError, match="indices must lie in"):
        nhwcpool.max_pool2d_backward(v, idx, (2, 5, 5, 3))
    with pytest.raises(ValueError, match="indices must lie in"):
        nhwcpool.max_unpool2d(v, idx, (5, 6))
    with pytest.raises(ValueError, match="indices must lie in"):
        nhwcpool.max_pool2d_backward(v, idx.astype(np.uint64) + np.uint64(2**63), x.shape)


def test_bad_dtypes():
    x, v, idx = _ok()
    for bad in [
        v.astype(np.int32),
        v.astype(np.int64),
        v.astype(bool),
        v.astype(np.complex64),
        v.astype(object),
    ]:
        with pytest.raises(TypeError, match="grad_output must have dtype float16, float32 or float64"):
            nhwcpool.max_pool2d_backward(bad, idx, x.shape)
        with pytest.raises(TypeError, match="grad_output must have dtype float16, float32 or float64"):
            nhwcpool.avg_pool2d_backward(bad, x.shape, 2)
    for bad in [idx.astype(np.float64), idx.astype(bool), np.full(idx.shape, None)]:
        with pytest.raises(TypeError, match="indices must be an integer array"):
            nhwcpool.max_pool2d_backward(v, bad, x.shape)
        with pytest.raises(TypeError, match="indices must be an integer array"):
            nhwcpool.max_unpool2d(v, bad, (6, 6))
    with pytest.raises(TypeError, match="x has unsupported dtype"):
        nhwcpool.max_unpool2d(v.astype(np.complex64), idx, (6, 6))
    with pytest.raises(TypeError, match="x has unsupported dtype"):
        nhwcpool.max_unpool2d(v.astype(bool), idx, (6, 6))


def test_bad_shapes():
    x, v, idx = _ok()
    with pytest.raises(ValueError, match="indices must have the shape of grad_output"):
        nhwcpool.max_pool2d_backward(v, idx[:, :2], x.shape)
    with pytest.raises(ValueError, match="indices must have the shape of x"):
        nhwcpool.max_unpool2d(v, idx[:1], (6, 6))
    with pytest.raises(ValueError, match="input_shape must have as many entries as grad_output"):
        nhwcpool.max_pool2d_backward(v, idx, (6, 6, 3))
    with pytest.raises(ValueError, match="batch and channel sizes"):
        nhwcpool.max_pool2d_backward(v, idx, (2, 6, 6, 4))
    with pytest.raises(ValueError, match="batch and channel sizes"):
        nhwcpool.avg_pool2d_backward(v, (3, 6, 6, 3), 2)
    with pytest.raises(ValueError, match="non-empty spatial axes"):
        nhwcpool.max_pool2d_backward(v, idx, (2, 0, 6, 3))
    with pytest.raises(ValueError, match="must not contain negative"):
        nhwcpool.max_pool2d_backward(v, idx, (2, -6, 6, 3))
    with pytest.raises(TypeError, match="input_shape"):
        nhwcpool.max_pool2d_backward(v, idx, "abc")
    with pytest.raises(TypeError, match="input_shape must be an integer"):
        nhwcpool.max_pool2d_backward(v, idx, (2, 6.0, 6, 3))
    with pytest.raises(ValueError, match="dimensions"):
        nhwcpool.max_pool2d_backward(v[0, 0, 0], idx[0, 0, 0], (3,))
    with pytest.raises(ValueError, match="dimensions"):
        nhwcpool.avg_pool2d_backward(v[None], (1, *x.shape), 2)
    # average: grad_output must be the forward's output for input_shape
    with pytest.raises(ValueError, match=r"grad_output must have shape \(2, 2, 2, 3\)"):
        nhwcpool.avg_pool2d_backward(v, x.shape, 3)
    with pytest.raises(ValueError, match=r"grad_output must have shape \(2, 3, 3, 3\)"):
        nhwcpool.avg_pool2d_backward(v[:, :2], x.shape, 2)
    # windows that do not fit, bad hyperparameters (the forward's messages)
    with pytest.raises(ValueError, match="larger than the padded input"):
        nhwcpool.avg_pool2d_backward(v, (2, 1, 1, 3), 2)
    with pytest.raises(ValueError, match="padding must be at most half"):
        nhwcpool.avg_pool2d_backward(v, x.shape, 2, 2, 2)
    with pytest.raises(ValueError, match="kernel_size must be >= 1"):
        nhwcpool.avg_pool2d_backward(v, x.shape, 0)
    with pytest.raises(ValueError, match="stride must be >= 1"):
        nhwcpool.avg_pool2d_backward(v, x.shape, 2, 0)
    with pytest.raises(ValueError, match="divisor_override must be a nonzero integer"):
        nhwcpool.avg_pool2d_backward(v, x.shape, 2, divisor_override=0)
    with pytest.raises(TypeError, match="ceil_mode must be a bool"):
        nhwcpool.avg_pool2d_backward(v, x.shape, 2, ceil_mode=1)
    with pytest.raises(TypeError, match="count_include_pad must be a bool"):
        nhwcpool.avg_pool2d_backward(v, x.shape, 2, count_include_pad="yes")
    with pytest.raises(ValueError, match="unknown string"):
        nhwcpool.avg_pool2d_backward(v, x.shape, 2, padding="full")
    with pytest.raises(ValueError, match="output_size must be a pair"):
        nhwcpool.max_unpool2d(v, idx, (2, 6, 6, 3))
    with pytest.raises(ValueError, match="output_size must be positive"):
        nhwcpool.max_unpool2d(v, idx, (0, 6))
    with pytest.raises(ValueError, match="overflows"):
        nhwcpool.max_pool2d_backward(v, idx, (2, 2**40, 2**40, 3))


def test_bad_out():
    x, v, idx = _ok()
    calls = [
        lambda out: nhwcpool.max_pool2d_backward(v, idx, x.shape, out=out),
        lambda out: nhwcpool.avg_pool2d_backward(v, x.shape, 2, out=out),
        lambda out: nhwcpool.max_unpool2d(v, idx, (6, 6), out=out),
    ]
    ro = np.zeros(x.shape, np.float32)
    ro.flags.writeable = False
    for call in calls:
        with pytest.raises(TypeError, match=r"out must be a numpy\.ndarray"):
            call([0.0])
        with pytest.raises(TypeError, match="out must have dtype float32"):
            call(np.zeros(x.shape, np.float64))
        with pytest.raises(ValueError, match=r"out must have shape \(2, 6, 6, 3\)"):
            call(np.zeros((2, 6, 6, 4), np.float32))
        with pytest.raises(ValueError, match="out must be C-contiguous"):
            call(np.zeros((2, 6, 6, 6), np.float32)[..., ::2])
        with pytest.raises(ValueError, match="out must be writeable"):
            call(ro)
    # out overlapping an input
    big = np.zeros(2 * 6 * 6 * 3 + v.size, np.float32)
    gv = big[: v.size].reshape(v.shape)
    gv[...] = v
    with pytest.raises(ValueError, match="out must not overlap"):
        nhwcpool.max_pool2d_backward(gv, idx, x.shape, out=big[: x.size].reshape(x.shape))
    with pytest.raises(ValueError, match="out must not overlap"):
        nhwcpool.avg_pool2d_backward(
            gv, x.shape, 2, out=big[v.size - 1 : v.size - 1 + x.size].reshape(x.shape)
        )


@pytest.mark.usefixtures("restore_threads")
def test_forward_indices_outside_the_plane_are_rejected():
    # With extreme dilation a window can hold no in-range tap; the forward then reports
    # PyTorch's index of its first tap >= 0, which lies outside the plane: the gradient has
    # nowhere to go, and max_pool2d_backward says so instead of writing out of bounds, or, with
    # ignore_outside (the bridges' setting), skips it: the output is -inf for any input.
    x = np.ones((1, 1, 2), np.float32)  # H = W = 1; the window's taps at x = -1 and x = 1
    v, idx = nhwcpool.max_pool2d(x, (1, 2), 1, ((0, 0), (1, 1)), dilation=(1, 2), return_indices=True)
    assert idx.tolist() == [[[1, 1]]]
    assert np.isneginf(v).all()
    with pytest.raises(ValueError, match="indices must lie in"):
        nhwcpool.max_pool2d_backward(np.ones_like(v), idx, x.shape)
    got = nhwcpool.max_pool2d_backward(np.ones_like(v), idx, x.shape, ignore_outside=True)
    assert got.shape == x.shape
    assert not got.any()
    # mixed (asymmetric padding; PyTorch's symmetric padding makes every window empty or
    # none): some windows in range, some wholly in the padding; every thread count
    x = np.arange(2 * 1 * 2 * 3, dtype=np.float64).reshape(2, 1, 2, 3)
    v, idx = nhwcpool.max_pool2d(x, (1, 2), 1, ((0, 0), (1, 2)), dilation=(1, 3), return_indices=True)
    inside = (idx >= 0) & (idx < 2)
    assert inside.any()
    assert not inside.all()
    g = np.random.default_rng(0).standard_normal(v.shape)
    want = RB.max_pool2d_backward(g, idx, x.shape, ignore_outside=True)
    for t in (1, 2, 3):
        nhwcpool.set_num_threads(t)
        _assert_same_bits(nhwcpool.max_pool2d_backward(g, idx, x.shape, ignore_outside=True), want)
