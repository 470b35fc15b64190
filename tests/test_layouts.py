"""Memory layouts, views, out=, empty batches/channels and plain lists."""

from __future__ import annotations

import nhwcpool
import numpy as np
import pytest
import reference as R
from strategies import make_array

DTYPES = R.ALL_DTYPES


def _data(shape, dtype, seed=0):
    kind = "special" if np.dtype(dtype).kind == "f" else "full"
    return make_array(shape, dtype, kind, seed, avg_safe=True)


# (name, function making the view from a contiguous base)
def _views():
    return {
        "slice-step": lambda b: b[:, ::2, 1::2, :],
        "slice-channels": lambda b: b[..., 1:-1],
        "channel-step": lambda b: b[..., ::3],
        "negative-h": lambda b: b[:, ::-1],
        "negative-all": lambda b: b[::-1, ::-1, ::-1, ::-1],
        "fortran": np.asfortranarray,
        "transposed-hw": lambda b: b.transpose(0, 2, 1, 3),
        "nchw-permuted": lambda b: np.ascontiguousarray(b.transpose(0, 3, 1, 2)).transpose(0, 2, 3, 1),
        "broadcast": lambda b: np.broadcast_to(b[:, :, :, :1], b.shape),
        "read-only": lambda b: _readonly(b.copy()),
        "byteswapped": lambda b: b.astype(b.dtype.newbyteorder()),
        "unaligned": _unaligned,
        "zero-stride-batch": lambda b: np.broadcast_to(b[:1], b.shape),
        "unaligned-byteswapped": lambda b: _unaligned(b.astype(b.dtype.newbyteorder())),
        "readonly-fortran-negative": lambda b: _readonly(np.asfortranarray(b))[:, ::-1, :, ::-2],
    }


def _readonly(a):
    a.flags.writeable = False
    return a


def _unaligned(b):
    raw = np.frombuffer(bytearray(b.size * b.itemsize + 1), dtype=b.dtype, offset=1)
    u = raw.reshape(b.shape)
    u[...] = b
    if b.itemsize > 1:
        assert not u.flags.aligned
    return u


VIEWS = _views()
CONFIGS = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=1, padding=1),
    dict(kernel_size=(2, 3), stride=(1, 2), padding="same", ceil_mode=True),
]


def _call_max(x, cfg, **kw):
    return nhwcpool.max_pool2d(x, **cfg, **kw)


def _call_avg(x, cfg, **kw):
    return nhwcpool.avg_pool2d(x, **cfg, **kw)


@pytest.mark.parametrize("view", list(VIEWS))
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_views_max(view, dtype):
    base = _data((3, 9, 8, 7), dtype, seed=1)
    x = VIEWS[view](base)
    xc = np.ascontiguousarray(x).astype(x.dtype.newbyteorder("="))
    for cfg in CONFIGS:
        exp_v, exp_i = R.max_pool2d(
            xc, cfg["kernel_size"], cfg.get("stride"), cfg.get("padding", 0), 1, cfg.get("ceil_mode", False)
        )
        v, i = _call_max(x, cfg, return_indices=True)
        R.assert_max_equal(v, exp_v)
        np.testing.assert_array_equal(i, exp_i)
        assert v.flags.c_contiguous
        assert i.flags.c_contiguous
        assert v.dtype.isnative
        assert not np.shares_memory(v, x)
    np.testing.assert_array_equal(x, xc)  # input not modified


@pytest.mark.parametrize("view", list(VIEWS))
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_views_avg(view, dtype):
    base = _data((3, 9, 8, 7), dtype, seed=2)
    x = VIEWS[view](base)
    xc = np.ascontiguousarray(x).astype(x.dtype.newbyteorder("="))
    for cfg in CONFIGS:
        exp, am, nt = R.avg_pool2d(
            xc, cfg["kernel_size"], cfg.get("stride"), cfg.get("padding", 0), cfg.get("ceil_mode", False)
        )
        got = _call_avg(x, cfg)
        R.assert_avg_close(got, exp, am, nt, xc.dtype)
        assert got.flags.c_contiguous
        assert got.dtype.isnative


@pytest.mark.parametrize("view", list(VIEWS))
@pytest.mark.parametrize("dtype", ["float32", "float16", "uint8", "int64"])
def test_views_global(view, dtype):
    base = _data((3, 9, 8, 7), dtype, seed=3)
    x = VIEWS[view](base)
    xc = np.ascontiguousarray(x).astype(x.dtype.newbyteorder("="))
    R.assert_max_equal(nhwcpool.global_max_pool2d(x), R.global_max_pool2d(xc))
    exp, am, nt = R.global_avg_pool2d(xc)
    R.assert_avg_close(nhwcpool.global_avg_pool2d(x), exp, am, nt, xc.dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("ndim", [2, 3])
def test_views_low_ndim(dtype, ndim):
    base = _data((11, 10, 5), dtype, seed=4)
    for view in (base[::-1, ::2, 2], base[1::2, :, :].transpose(1, 0, 2), base[..., ::2]):
        x = view
        if ndim == 2 and x.ndim == 3:
            x = x[..., 0]
        if ndim == 3 and x.ndim == 2:
            x = x[..., None]
        xc = np.ascontiguousarray(x)
        exp_v, exp_i = R.max_pool2d(xc, 2, 1, 1, 2)
        v, i = nhwcpool.max_pool2d(x, 2, 1, 1, dilation=2, return_indices=True)
        R.assert_max_equal(v, exp_v)
        np.testing.assert_array_equal(i, exp_i)
        exp, am, nt = R.avg_pool2d(xc, 3, 2, 1, True, False)
        got = nhwcpool.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False)
        R.assert_avg_close(got, exp, am, nt, xc.dtype)


# ----------------------------------------------------------------------------
# out=
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_out_max(dtype):
    x = _data((2, 6, 7, 5), dtype, seed=5)
    exp_v, exp_i = R.max_pool2d(x, 2, 2, 0)
    out = np.full(exp_v.shape, 1, dtype=dtype)
    res = nhwcpool.max_pool2d(x, 2, out=out)
    assert res is out
    R.assert_max_equal(out, exp_v)
    out2 = np.zeros(exp_v.shape, dtype=dtype)
    res = nhwcpool.max_pool2d(x, 2, out=out2, return_indices=True)
    assert isinstance(res, tuple)
    assert len(res) == 2
    assert res[0] is out2
    R.assert_max_equal(out2, exp_v)
    np.testing.assert_array_equal(res[1], exp_i)
    assert res[1].dtype == np.int64


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_out_avg(dtype):
    x = _data((2, 6, 7, 5), dtype, seed=6)
    exp, am, nt = R.avg_pool2d(x, 3, 2, 1, False, False)
    out = np.full(exp.shape, 3, dtype=exp.dtype)
    res = nhwcpool.avg_pool2d(x, 3, 2, 1, count_include_pad=False, out=out)
    assert res is out
    R.assert_avg_close(out, exp, am, nt, x.dtype)
    # with dtype=, out must have that dtype
    for od in ("float32", "int16", "uint8"):
        exp, am, nt = R.avg_pool2d(x, 2, dtype=od)
        out = np.zeros(exp.shape, dtype=od)
        res = nhwcpool.avg_pool2d(x, 2, dtype=od, out=out)
        assert res is out
        R.assert_avg_close(out, exp, am, nt, x.dtype)


def test_out_is_a_contiguous_view_into_bigger_buffer():
    x = _data((2, 6, 6, 4), np.float32, seed=7)
    buf = np.full((3, 3, 3, 4), -1.0, np.float32)
    out = buf[:2]  # C-contiguous view of the first two batch entries
    assert out.flags.c_contiguous
    nhwcpool.max_pool2d(x, 2, out=out)
    R.assert_max_equal(out, R.max_pool2d(x, 2)[0])
    assert np.all(buf[2] == -1.0)  # nothing written past out


@pytest.mark.parametrize("fn", ["max", "avg"])
def test_out_can_be_reused(fn):
    x1 = _data((1, 4, 4, 3), np.float64, seed=8)
    x2 = _data((1, 4, 4, 3), np.float64, seed=9)
    out = np.empty((1, 2, 2, 3))
    f = nhwcpool.max_pool2d if fn == "max" else nhwcpool.avg_pool2d
    f(x1, 2, out=out)
    a = out.copy()
    f(x2, 2, out=out)
    assert not np.array_equal(a, out, equal_nan=True)
    np.testing.assert_array_equal(out, f(x2, 2))


def test_out_zero_size():
    x = np.zeros((0, 4, 4, 3), np.float32)
    out = np.zeros((0, 2, 2, 3), np.float32)
    assert nhwcpool.max_pool2d(x, 2, out=out) is out
    assert nhwcpool.avg_pool2d(x, 2, out=out) is out


# ----------------------------------------------------------------------------
# empty batch / channels
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize(
    ("shape", "exp_shape"),
    [
        ((0, 5, 5, 3), (0, 2, 2, 3)),
        ((2, 5, 5, 0), (2, 2, 2, 0)),
        ((0, 5, 5, 0), (0, 2, 2, 0)),
        ((5, 5, 0), (2, 2, 0)),
    ],
)
def test_empty_batch_or_channels(dtype, shape, exp_shape):
    x = np.zeros(shape, dtype)
    v, i = nhwcpool.max_pool2d(x, 2, return_indices=True)
    assert v.shape == exp_shape
    assert v.dtype == np.dtype(dtype)
    assert i.shape == exp_shape
    assert i.dtype == np.int64
    a = nhwcpool.avg_pool2d(x, 2)
    assert a.shape == exp_shape
    assert a.dtype == (np.dtype(dtype) if np.dtype(dtype).kind == "f" else np.float64)
    assert nhwcpool.avg_pool2d(x, 2, dtype=np.int8).dtype == np.int8
    assert nhwcpool.max_pool2d(x, 3, 1, padding="same").shape == shape
    gshape = (*exp_shape[:-3], 1, 1, *exp_shape[-1:])
    assert nhwcpool.global_max_pool2d(x).shape == gshape
    assert nhwcpool.global_avg_pool2d(x).shape == gshape
    flat = exp_shape[:-3] + exp_shape[-1:]
    assert nhwcpool.global_max_pool2d(x, keepdims=False).shape == flat
    assert nhwcpool.global_avg_pool2d(x, keepdims=False).shape == flat


def test_empty_still_validates_hyperparameters():
    x = np.zeros((0, 5, 5, 3), np.float32)
    with pytest.raises(ValueError, match="kernel_size"):
        nhwcpool.max_pool2d(x, 0)
    with pytest.raises(ValueError, match="padding"):
        nhwcpool.avg_pool2d(x, 2, padding=3)
    with pytest.raises(ValueError, match=r"kernel|window|output|input|stride|padding|dilation"):
        nhwcpool.max_pool2d(x, 6)  # window larger than the 5x5 input
    with pytest.raises(TypeError):
        nhwcpool.max_pool2d(np.zeros((0, 5, 5, 3), np.complex64), 2)


# ----------------------------------------------------------------------------
# anything np.asarray accepts
# ----------------------------------------------------------------------------
def test_lists_and_tuples_as_input():
    g = [[1, 3, 2, 1], [2, 9, 1, 1], [1, 3, 2, 3], [5, 6, 1, 2]]
    got = nhwcpool.max_pool2d(g, 2)
    assert isinstance(got, np.ndarray)
    assert got.dtype == np.asarray(g).dtype
    assert got.tolist() == [[9, 2], [6, 3]]
    got = nhwcpool.max_pool2d(tuple(tuple(r) for r in g), 2)
    assert got.tolist() == [[9, 2], [6, 3]]
    gf = [[float(v) for v in r] for r in g]
    got = nhwcpool.avg_pool2d(gf, 2)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, [[3.75, 1.25], [3.75, 2.0]])
    got = nhwcpool.avg_pool2d(g, 2)  # python ints -> int64 -> float64 mean
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, [[3.75, 1.25], [3.75, 2.0]])
    g3 = [[[v, -v] for v in r] for r in g]
    got = nhwcpool.max_pool2d(g3, 2)
    assert got.shape == (2, 2, 2)
    assert got[..., 0].tolist() == [[9, 2], [6, 3]]
    assert got[..., 1].tolist() == [[-1, -1], [-1, -1]]
    assert nhwcpool.global_max_pool2d(g).tolist() == [[9]]
    assert nhwcpool.global_avg_pool2d(g, keepdims=False) == np.mean(g)
    assert nhwcpool.global_avg_pool2d(g, keepdims=False).shape == ()


class _ArrayLike:
    def __init__(self, a):
        self._a = a

    def __array__(self, dtype=None, copy=None):
        return self._a if dtype is None else self._a.astype(dtype)


def test_array_protocol_objects_and_scalars_types():
    a = np.arange(16, dtype=np.int16).reshape(4, 4)
    got = nhwcpool.max_pool2d(_ArrayLike(a), 2)
    assert got.dtype == np.int16
    assert got.tolist() == [[5, 7], [13, 15]]
    # numpy matrix subclass / memoryview
    got = nhwcpool.max_pool2d(memoryview(np.ascontiguousarray(a)), 2)
    assert got.tolist() == [[5, 7], [13, 15]]


@pytest.mark.parametrize("ndim", [2, 3, 4])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_ndim_layouts_agree(ndim, dtype):
    plane = _data((7, 6), dtype, seed=10)
    x = {2: plane, 3: plane[:, :, None], 4: plane[None, :, :, None]}[ndim]
    v, i = nhwcpool.max_pool2d(x, 3, 2, 1, return_indices=True)
    v2, i2 = nhwcpool.max_pool2d(plane, 3, 2, 1, return_indices=True)
    assert v.ndim == ndim
    assert i.ndim == ndim
    R.assert_max_equal(v.reshape(v2.shape), v2)
    np.testing.assert_array_equal(i.reshape(i2.shape), i2)
    a = nhwcpool.avg_pool2d(x, 3, 2, 1)
    a2 = nhwcpool.avg_pool2d(plane, 3, 2, 1)
    assert a.ndim == ndim
    np.testing.assert_array_equal(a.reshape(a2.shape), a2)


def test_output_is_new_array_even_for_identity_pooling():
    x = _data((2, 4, 4, 3), np.float32, seed=11)
    v = nhwcpool.max_pool2d(x, 1)
    assert v is not x
    assert not np.shares_memory(v, x)
    R.assert_max_equal(v, x)
    a = nhwcpool.avg_pool2d(x, 1)
    assert a is not x
    assert not np.shares_memory(a, x)
    np.testing.assert_array_equal(a, x)
    v[...] = 0  # writeable, independent
    assert not np.all(x == 0)


@pytest.mark.parametrize("view", ["slice-step", "negative-all", "fortran", "byteswapped", "unaligned"])
@pytest.mark.parametrize("dtype", ["float32", "float16", "int8", "uint64"])
def test_out_with_views(view, dtype):
    base = _data((3, 9, 8, 7), dtype, seed=12)
    x = VIEWS[view](base)
    xc = np.ascontiguousarray(x).astype(x.dtype.newbyteorder("="))
    exp_v, exp_i = R.max_pool2d(xc, 3, 2, 1)
    out = np.empty(exp_v.shape, dtype=xc.dtype)
    res = nhwcpool.max_pool2d(x, 3, 2, 1, out=out, return_indices=True)
    assert res[0] is out
    R.assert_max_equal(out, exp_v)
    np.testing.assert_array_equal(res[1], exp_i)
    exp, am, nt = R.avg_pool2d(xc, 3, 2, 1)
    out = np.empty(exp.shape, dtype=exp.dtype)
    assert nhwcpool.avg_pool2d(x, 3, 2, 1, out=out) is out
    R.assert_avg_close(out, exp, am, nt, xc.dtype)
