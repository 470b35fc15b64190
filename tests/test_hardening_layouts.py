"""Every memory layout a NumPy user can hand over gives the reference's answer.

Each layout builds an array holding *the same logical values* as a C-contiguous one; every
public function must then return the reference result (tests/reference.py) and be
bit-identical to its result on the C-contiguous copy.  Layouts: non-contiguous slices,
negative strides on each axis, Fortran and other axis orders, read-only, byte-swapped,
unaligned (offset 1 into a bytearray), unaligned + byte-swapped, zero-stride broadcasts,
``as_strided`` views with huge strides over a small buffer, overlapping sliding-window views,
read-only memmaps and bytes buffers, nested lists, empty batch/channel axes. Also: 0-d input
is a ValueError, and an ``out=`` that overlaps the input is rejected while one that only
shares its buffer is accepted.
"""

from __future__ import annotations

import nhwcpool
import numpy as np
import pytest
import reference as R
from conftest import each_simd_level

SHAPE = (2, 7, 9, 3)  # N, H, W, C
DTYPES = ["float32", "int16", "float16", "uint8", "float64"]
as_strided = np.lib.stride_tricks.as_strided


def values(dtype, shape=SHAPE, seed=0):
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    if dt.kind == "f":
        v = rng.integers(-6, 7, shape).astype(dt)  # ties on purpose (index rule)
        v.flat[::11] = np.nan
        v.flat[5::13] = -np.inf
        return v
    info = np.iinfo(dt)
    return rng.integers(info.min, info.max, shape, endpoint=True, dtype=dt)


def _big_then_slice(v, steps):
    """A view with the given per-axis steps (may be negative) over a larger buffer whose
    skipped elements hold the dtype's maximum (a kernel reading them would be caught)."""
    big_shape = tuple(n * abs(s) for n, s in zip(v.shape, steps, strict=True))
    fill = np.inf if v.dtype.kind == "f" else np.iinfo(v.dtype).max
    big = np.full(big_shape, fill, v.dtype)
    sel = tuple(slice(None, None, s) for s in steps)
    big[sel] = v
    return big[sel]


def _unaligned(v, offset=1):
    raw = bytearray(v.nbytes + offset)
    u = np.frombuffer(raw, v.dtype, count=v.size, offset=offset).reshape(v.shape)
    u[...] = v
    return u


def _swapped(v):
    return v.astype(v.dtype.newbyteorder())


def _readonly(v):
    v = v.copy()
    v.flags.writeable = False
    return v


def _order(v, perm):
    """Same values, memory laid out with axes in `perm` order (slowest first)."""
    return np.ascontiguousarray(v.transpose(perm)).transpose(np.argsort(perm))


def _broadcast(v, axes):
    sel = tuple(slice(0, 1) if a in axes else slice(None) for a in range(v.ndim))
    return np.broadcast_to(v[sel], v.shape)


def _huge_strides(v):
    """as_strided over a small-ish buffer: every element far from its neighbours (1 MiB per
    row, 4 KiB per pixel, an odd channel stride of 3 itemsizes)."""
    h = v.shape[1]
    isz = v.itemsize
    strides = (h * (1 << 20) + 64, 1 << 20, 4096, 3 * isz)
    span = sum((d - 1) * s for d, s in zip(v.shape, strides, strict=True)) + isz
    buf = np.zeros(span, np.uint8)
    x = as_strided(
        buf.view(v.dtype) if span % isz == 0 else buf[: span - span % isz].view(v.dtype),
        shape=v.shape,
        strides=strides,
    )
    x[...] = v
    return x


def _odd_strides(v):
    """Strides that are not multiples of the itemsize: unaligned elements."""
    _, h, w, c = v.shape
    isz = v.itemsize
    strides = (
        (h * w * c * isz + 3, w * c * isz + 1, c * isz + 1, isz)
        if isz > 1
        else (h * w * c + 3, w * c + 1, c + 1, 1)
    )
    span = sum((d - 1) * s for d, s in zip(v.shape, strides, strict=True)) + isz
    raw = bytearray(span + 1)
    x = np.ndarray(v.shape, v.dtype, buffer=raw, offset=1, strides=strides)
    x[...] = v
    return x


def _sliding(v):
    """Overlapping views: sliding_window_view over W, windows of 1 pixel (then squeezed):
    element (n, h, w, c) is read from an array whose W stride equals the C-stride."""
    n, h, w, c = v.shape
    flat = np.empty((n, h, w + c - 1), v.dtype)
    # build a view x[n, h, w, c] = flat[n, h, w + c]: W and C strides are both one item
    x = as_strided(
        flat, shape=(n, h, w, c), strides=(flat.strides[0], flat.strides[1], flat.strides[2], flat.strides[2])
    )
    # choose values consistent with the overlap: x[n, h, w, c] = g[n, h, w + c]
    g = values(v.dtype, (n, h, w + c - 1), seed=7)
    flat[...] = g
    return x


LAYOUTS = {
    "c_contiguous": lambda v: v.copy(),
    "slice_steps": lambda v: _big_then_slice(v, (1, 2, 3, 1)),
    "slice_channel_step": lambda v: _big_then_slice(v, (1, 1, 1, 2)),
    "neg_N": lambda v: _big_then_slice(v, (-1, 1, 1, 1)),
    "neg_H": lambda v: _big_then_slice(v, (1, -1, 1, 1)),
    "neg_W": lambda v: _big_then_slice(v, (1, 1, -1, 1)),
    "neg_C": lambda v: _big_then_slice(v, (1, 1, 1, -1)),
    "neg_all_steps": lambda v: _big_then_slice(v, (-2, -3, -2, -2)),
    "fortran": np.asfortranarray,
    "nchw_memory": lambda v: _order(v, (0, 3, 1, 2)),
    "hwnc_memory": lambda v: _order(v, (1, 2, 0, 3)),
    "wc_swapped_memory": lambda v: _order(v, (0, 1, 3, 2)),
    "readonly": _readonly,
    "byteswapped": _swapped,
    "byteswapped_fortran": lambda v: np.asfortranarray(_swapped(v)),
    "unaligned": _unaligned,
    "unaligned_byteswapped": lambda v: _unaligned(_swapped(v)),
    "unaligned_readonly": lambda v: _readonly(_unaligned(v)),
    "broadcast_N": lambda v: _broadcast(v, {0}),
    "broadcast_H": lambda v: _broadcast(v, {1}),
    "broadcast_W": lambda v: _broadcast(v, {2}),
    "broadcast_C": lambda v: _broadcast(v, {3}),
    "broadcast_all": lambda v: _broadcast(v, {0, 1, 2, 3}),
    "huge_strides": _huge_strides,
    "odd_byte_strides": _odd_strides,
    "sliding_overlap": _sliding,
    "bytes_buffer": lambda v: np.frombuffer(v.tobytes(), v.dtype).reshape(v.shape),
    "nested_list": lambda v: v.tolist(),
}

# (kernel, stride, padding, dilation, ceil_mode)
MAX_CONFIGS = [
    (3, 2, 1, 1, False),
    ((2, 3), (1, 2), ((1, 0), (0, 1)), (2, 1), True),
    (2, None, "same", 1, False),
]
AVG_CONFIGS = [(3, 2, 1, False), ((2, 3), (1, 2), "same", True)]


def _ref_input(x):
    a = np.asarray(x)
    return np.ascontiguousarray(a.astype(a.dtype.newbyteorder("=")))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_layout_matches_reference(layout, dtype):
    v = values(dtype)
    x = LAYOUTS[layout](v)
    xr = _ref_input(x)  # logical values (the sliding layout has its own)
    if layout == "nested_list":
        xr = np.asarray(x)  # a list becomes int64/float64
    if not isinstance(x, list):
        assert x.shape == SHAPE
    before = np.array(x, copy=True)

    for k, s, p, d, ceil in MAX_CONFIGS:
        got, idx = nhwcpool.max_pool2d(x, k, s, p, dilation=d, ceil_mode=ceil, return_indices=True)
        base, base_idx = nhwcpool.max_pool2d(xr, k, s, p, dilation=d, ceil_mode=ceil, return_indices=True)
        pads, _ = R.resolve_padding(p, SHAPE[1:3], R.pair(k), R.pair(k if s is None else s), R.pair(d))
        ev, ei = R.max_pool2d(xr, k, s, pads, d, ceil)
        R.assert_max_equal(got, ev)
        np.testing.assert_array_equal(idx, ei)
        assert got.dtype == xr.dtype
        assert got.flags.c_contiguous
        assert got.dtype.isnative
        assert got.tobytes() == base.tobytes()
        assert idx.tobytes() == base_idx.tobytes()

    for k, s, p, ceil in AVG_CONFIGS:
        for out_dtype in (None, "float64", "int32"):
            got = nhwcpool.avg_pool2d(x, k, s, p, ceil_mode=ceil, dtype=out_dtype)
            base = nhwcpool.avg_pool2d(xr, k, s, p, ceil_mode=ceil, dtype=out_dtype)
            pads, same = R.resolve_padding(p, SHAPE[1:3], R.pair(k), R.pair(s))
            with np.errstate(all="ignore"):
                e, am, nt = R.avg_pool2d(xr, k, s, pads, ceil, not same, None, out_dtype)
            R.assert_avg_close(got, e, am, nt, xr.dtype)
            assert got.tobytes() == base.tobytes(), "layout changed the bits of an average"

    gm = nhwcpool.global_max_pool2d(x)
    R.assert_max_equal(gm, R.global_max_pool2d(xr))
    ga = nhwcpool.global_avg_pool2d(x, keepdims=False)
    with np.errstate(all="ignore"):
        e, am, nt = R.global_avg_pool2d(xr, keepdims=False)
    R.assert_avg_close(ga, e, am, nt, xr.dtype)

    # the input is never written to
    np.testing.assert_array_equal(np.asarray(x), before)


@pytest.mark.parametrize("ndim", [2, 3])
@pytest.mark.parametrize("layout", ["neg_H", "fortran", "byteswapped", "unaligned", "broadcast_W"])
def test_lower_rank_layouts(layout, ndim):
    v4 = values("float32")
    v = v4[0] if ndim == 3 else v4[0, :, :, 0]
    fn = LAYOUTS[layout]
    if layout.startswith(("neg_", "broadcast_")):
        axis = {"H": 0, "W": 1}[layout[-1]]
        x = (
            _big_then_slice(v, tuple(-1 if a == axis else 1 for a in range(ndim)))
            if layout.startswith("neg_")
            else _broadcast(v, {axis})
        )
    else:
        x = fn(v)
    xr = _ref_input(x)
    got, idx = nhwcpool.max_pool2d(x, 3, 1, 1, return_indices=True)
    ev, ei = R.max_pool2d(xr, 3, 1, 1)
    R.assert_max_equal(got, ev)
    np.testing.assert_array_equal(idx, ei)
    e, am, nt = R.avg_pool2d(xr, 2, 1, 0)
    R.assert_avg_close(nhwcpool.avg_pool2d(x, 2, 1), e, am, nt, xr.dtype)


def test_readonly_memmap(tmp_path):
    v = values("float32")
    path = tmp_path / "x.bin"
    v.tofile(path)
    mm = np.memmap(path, dtype=np.float32, mode="r", shape=SHAPE)
    got, idx = nhwcpool.max_pool2d(mm, 2, return_indices=True)
    ev, ei = R.max_pool2d(v, 2)
    R.assert_max_equal(got, ev)
    np.testing.assert_array_equal(idx, ei)
    assert type(got) is np.ndarray
    del mm


@pytest.mark.parametrize("shape", [(0, 4, 4, 3), (2, 4, 4, 0), (0, 4, 4, 0), (4, 4, 0)])
@pytest.mark.parametrize("make", ["zeros", "empty", "slice"])
def test_empty_batch_or_channels(shape, make):
    """NumPy 2 gives freshly made empty arrays all-zero strides; they are valid inputs."""
    if make == "zeros":
        x = np.zeros(shape, np.float32)
    elif make == "empty":
        x = np.empty(shape, np.float32)
    else:
        full = np.ones(tuple(max(d, 2) for d in shape), np.float32)
        x = full[tuple(slice(0, d) for d in shape)]
    out_shape = nhwcpool.output_shape(shape, 2)
    got, idx = nhwcpool.max_pool2d(x, 2, return_indices=True)
    assert got.shape == idx.shape == out_shape
    assert nhwcpool.avg_pool2d(x, 2).shape == out_shape
    assert nhwcpool.avg_pool2d(x, 2, dtype=np.int8).shape == out_shape
    assert nhwcpool.global_max_pool2d(x, keepdims=False).size == 0
    assert nhwcpool.global_avg_pool2d(x).size == 0


@pytest.mark.parametrize("func", ["max", "avg", "gmax", "gavg"])
@pytest.mark.parametrize(
    "x",
    [np.float32(1.0), np.array(2.0), np.array(3, np.uint8), 5, 2.5],
    ids=["np_scalar", "0d_f64", "0d_u8", "int", "float"],
)
def test_zero_dim_is_value_error(func, x):
    f = {
        "max": lambda a: nhwcpool.max_pool2d(a, 1),
        "avg": lambda a: nhwcpool.avg_pool2d(a, 1),
        "gmax": nhwcpool.global_max_pool2d,
        "gavg": nhwcpool.global_avg_pool2d,
    }[func]
    with pytest.raises(ValueError, match="dimensions"):
        f(x)


@pytest.mark.parametrize("shape", [(5,), (1, 2, 3, 4, 5), (1, 1, 1, 1, 1, 1)])
def test_wrong_rank_is_value_error(shape):
    with pytest.raises(ValueError, match="dimensions"):
        nhwcpool.max_pool2d(np.zeros(shape, np.float32), 1)
    with pytest.raises(ValueError, match="dimensions"):
        nhwcpool.global_avg_pool2d(np.zeros(shape, np.float32))


# --------------------------------------------------------------------------------------------
# out= that aliases the input


def _shared(nbytes_x, x_shape, dtype, out_offset, out_shape, out_dtype=None):
    """x and out carved out of one bytearray-backed buffer."""
    out_dtype = np.dtype(out_dtype or dtype)
    buf = np.zeros(max(nbytes_x, out_offset + int(np.prod(out_shape)) * out_dtype.itemsize) + 64, np.uint8)
    x = buf[:nbytes_x].view(dtype).reshape(x_shape)
    out = buf[out_offset : out_offset + int(np.prod(out_shape)) * out_dtype.itemsize].view(out_dtype)
    return buf, x, out.reshape(out_shape)


def test_out_is_the_input_is_rejected():
    x = values("float32")
    before = x.copy()
    with pytest.raises(ValueError, match="overlap"):
        nhwcpool.max_pool2d(x, 1, out=x)
    with pytest.raises(ValueError, match="overlap"):
        nhwcpool.avg_pool2d(x, 1, out=x)
    np.testing.assert_array_equal(x, before)


OUT_FUNCS = {
    "max": lambda x, out: nhwcpool.max_pool2d(x, 2, out=out),
    "max_idx": lambda x, out: nhwcpool.max_pool2d(x, 2, return_indices=True, out=out),
    "avg": lambda x, out: nhwcpool.avg_pool2d(x, 2, out=out),
    "avg_f64": lambda x, out: nhwcpool.avg_pool2d(x, 2, dtype=np.float64, out=out),
}


@pytest.mark.parametrize("where", ["start", "middle", "last_byte"])
@pytest.mark.parametrize("func", list(OUT_FUNCS))
def test_overlapping_out_is_rejected(where, func):
    dt = np.dtype(np.float32)
    out_dt = np.dtype(np.float64 if func == "avg_f64" else dt)
    out_shape = (2, 3, 4, 3)
    n_x = int(np.prod(SHAPE)) * dt.itemsize
    off = {"start": 0, "middle": (n_x // 2) // 8 * 8, "last_byte": n_x - 8}[where]
    _, x, out = _shared(n_x, SHAPE, dt, off, out_shape, out_dt)
    x[...] = values("float32")
    before = np.array(x)
    with pytest.raises(ValueError, match="overlap"):
        OUT_FUNCS[func](x, out)
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("func", ["max", "max_idx", "avg", "avg_f64"])
def test_out_in_the_gaps_of_a_strided_input(func):
    """x = the even rows of a buffer, out inside one odd (skipped) row: no element is shared,
    but the byte ranges interleave. Refusing (a bounds test) or computing correctly (an exact
    test) are both fine; writing into x is not."""
    big = np.zeros((2, 14, 9, 3), np.float32)
    x = big[:, ::2]
    x[...] = values("float32")
    before = np.array(x)
    out_dt = np.dtype(np.float64 if func == "avg_f64" else np.float32)
    k = (7, 9)  # one window per plane: out has 2 * 3 values
    n = 2 * 3 * out_dt.itemsize // 4
    # row 1 is skipped by x; start one float in so that a float64 view is 8-byte aligned
    out = big[0, 1].reshape(-1)[1 : 1 + n].view(out_dt).reshape(2, 1, 1, 3)
    assert not np.shares_memory(out, x)
    try:
        if func.startswith("max"):
            res = nhwcpool.max_pool2d(x, k, out=out, return_indices=func == "max_idx")
        else:
            res = nhwcpool.avg_pool2d(x, k, out=out, dtype=out_dt)
    except ValueError as exc:
        refused = str(exc)
        assert "overlap" in refused
    else:
        res = res[0] if isinstance(res, tuple) else res
        assert res is out
        if func.startswith("max"):
            R.assert_max_equal(out, R.max_pool2d(before, k)[0])
        else:
            e, am, nt = R.avg_pool2d(before, k, dtype=out_dt)
            R.assert_avg_close(out, e, am, nt, before.dtype)
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("layout", ["byteswapped", "unaligned", "fortran", "neg_W"])
def test_out_overlapping_an_input_that_gets_copied_is_rejected(layout):
    """Such inputs are converted to a native contiguous copy first; out= overlapping the
    caller's array must still be refused (it would change the caller's input)."""
    v = values("float32")
    n_x = v.nbytes
    buf = np.zeros(n_x + 64, np.uint8)
    if layout == "byteswapped":
        x = buf[:n_x].view(">f4" if np.little_endian else "<f4").reshape(SHAPE)
    elif layout == "unaligned":
        x = buf[1 : 1 + n_x].view(np.float32).reshape(SHAPE)
    elif layout == "fortran":
        x = buf[:n_x].view(np.float32).reshape(SHAPE[::-1]).T
    else:
        x = buf[:n_x].view(np.float32).reshape(SHAPE)[:, :, ::-1]
    x[...] = v
    before = np.array(x)
    out = buf[16 : 16 + 2 * 3 * 4 * 3 * 4].view(np.float32).reshape(2, 3, 4, 3)
    assert out.flags.aligned
    assert out.flags.c_contiguous
    with pytest.raises(ValueError, match="overlap"):
        nhwcpool.max_pool2d(x, 2, out=out)
    with pytest.raises(ValueError, match="overlap"):
        nhwcpool.avg_pool2d(x, 2, out=out)
    np.testing.assert_array_equal(x, before)


def test_out_adjacent_in_the_same_buffer_is_accepted():
    dt = np.dtype(np.float32)
    n_x = int(np.prod(SHAPE)) * dt.itemsize
    out_shape = (2, 3, 4, 3)
    buf, x, out = _shared(n_x, SHAPE, dt, n_x, out_shape)
    x[...] = values("float32")
    res = nhwcpool.max_pool2d(x, 2, out=out)
    assert res is out
    R.assert_max_equal(out, R.max_pool2d(np.array(x), 2)[0])
    # and the other way round: out first, x after it
    buf2 = np.zeros(n_x + out.nbytes, np.uint8)
    out2 = buf2[: out.nbytes].view(dt).reshape(out_shape)
    x2 = buf2[out.nbytes :].view(dt).reshape(SHAPE)
    x2[...] = x
    assert nhwcpool.max_pool2d(x2, 2, out=out2) is out2
    np.testing.assert_array_equal(out2, out)
    del buf


def test_out_disjoint_from_a_broadcast_input_is_accepted():
    x = _broadcast(values("int16"), {1, 2})
    out = np.empty((2, 3, 4, 3), np.int16)
    assert nhwcpool.max_pool2d(x, 2, out=out) is out
    R.assert_max_equal(out, R.max_pool2d(np.array(x), 2)[0])


# Planar layouts (W contiguous, C not) are pooled plane by plane and transposed (dispatch.cpp
# run_planar): evenly spaced planes (NCHW, or one image) take one call, others one per sample.
# Averages whose sums are not exact (floats, int64) transpose the input to NHWC first
# (to_channels_last). Shapes give several transpose segments and channel tiles (C > 16), and
# with 64 channels every pixel is whole cache lines, so "+stream" levels stream the transpose.
PLANAR = {
    "nchw": lambda v: _order(v, (0, 3, 1, 2)),
    "cnhw": lambda v: _order(v, (3, 0, 1, 2)),
    "nchw_every_other_n": lambda v: _order(np.concatenate([v, v[::-1]]), (0, 3, 1, 2))[::2],
    "nchw_neg_c_neg_h": lambda v: _order(v[:, ::-1, :, ::-1], (0, 3, 1, 2))[:, ::-1, :, ::-1],
    "chw_single": lambda v: _order(v[:1], (0, 3, 1, 2)),
}


@pytest.mark.parametrize("dtype", ["float32", "float16", "float64", "uint8", "int64"])
@pytest.mark.parametrize("layout", list(PLANAR))
@pytest.mark.parametrize("shape", [(2, 19, 23, 21), (3, 4, 5, 2), (1, 40, 33, 17), (1, 9, 37, 64)])
def test_planar_layouts(shape, layout, dtype):
    x = PLANAR[layout](values(dtype, shape, seed=sum(shape)))
    v = np.ascontiguousarray(x)
    assert x.strides[2] == x.itemsize
    assert not x.flags.c_contiguous
    for _ in each_simd_level():
        for k, s, p, d, ceil in MAX_CONFIGS:
            got, idx = nhwcpool.max_pool2d(x, k, s, p, dilation=d, ceil_mode=ceil, return_indices=True)
            pads, _ = R.resolve_padding(p, v.shape[1:3], R.pair(k), R.pair(k if s is None else s), R.pair(d))
            ev, ei = R.max_pool2d(v, k, s, pads, d, ceil)
            R.assert_max_equal(got, ev)
            np.testing.assert_array_equal(idx, ei)
            assert got.flags.c_contiguous
            assert idx.flags.c_contiguous
            assert nhwcpool.max_pool2d(x, k, s, p, dilation=d, ceil_mode=ceil).tobytes() == got.tobytes()
        for k, s, p, ceil in AVG_CONFIGS:
            for include in (True, False):
                for out_dtype in (None, "float32"):
                    got = nhwcpool.avg_pool2d(
                        x, k, s, p, ceil_mode=ceil, count_include_pad=include, dtype=out_dtype
                    )
                    base = nhwcpool.avg_pool2d(
                        v, k, s, p, ceil_mode=ceil, count_include_pad=include, dtype=out_dtype
                    )
                    assert got.dtype == base.dtype
                    assert got.flags.c_contiguous
                    assert got.tobytes() == base.tobytes(), "planar layout changed the bits of an average"
        gm = nhwcpool.global_max_pool2d(x)
        R.assert_max_equal(gm, R.global_max_pool2d(v))
        assert nhwcpool.global_avg_pool2d(x).tobytes() == nhwcpool.global_avg_pool2d(v).tobytes()


@pytest.mark.parametrize("dtype", ["float32", "uint8", "float16", "float64"])
@pytest.mark.parametrize("layout", ["nchw", "cnhw", "nchw_every_other_n"])
def test_large_planar_layouts(layout, dtype):
    # Planes large enough for the short-row prefetch (inputs of 4 MiB or more), several
    # transpose tasks per sample, at one and two threads; bit for bit the NHWC path's result.
    x = PLANAR[layout](values(dtype, (4, 128, 128, 24), seed=5))
    v = np.ascontiguousarray(x)
    for threads in (1, 2):
        before = nhwcpool.get_num_threads()
        nhwcpool.set_num_threads(threads)
        try:
            for k, s, p in ((2, 2, 0), (3, 2, 1), (3, 1, 1)):
                got, idx = nhwcpool.max_pool2d(x, k, s, p, return_indices=True)
                exp, eidx = nhwcpool.max_pool2d(v, k, s, p, return_indices=True)
                assert got.tobytes() == exp.tobytes()
                assert idx.tobytes() == eidx.tobytes()
                assert nhwcpool.avg_pool2d(x, k, s, p).tobytes() == nhwcpool.avg_pool2d(v, k, s, p).tobytes()
        finally:
            nhwcpool.set_num_threads(before)


@pytest.mark.parametrize("dtype", ["float32", "float16", "float64", "int64"])
@pytest.mark.parametrize("channels", [3, 16, 33, 64])
def test_planar_float_averages_keep_the_nhwc_bits(dtype, channels):
    # Plane-by-plane sums run rows first; averages whose sums are not exact (floats, and
    # int64's float64 sums) transpose the input to NHWC and take the NHWC path instead, so a
    # planar view gives the same bits as the contiguous array (and PyTorch's row-major order on
    # its direct path).
    rng = np.random.default_rng(channels)
    v = rng.standard_normal((2, 15, 17, channels)) * (1e15 if dtype == "int64" else 1)
    v = v.astype(dtype)
    x = np.ascontiguousarray(v.transpose(0, 3, 1, 2)).transpose(0, 2, 3, 1)
    for _ in each_simd_level():
        for k, s, p in ((3, 2, 1), (2, 2, 0), (3, 1, 1)):
            assert nhwcpool.avg_pool2d(x, k, s, p).tobytes() == nhwcpool.avg_pool2d(v, k, s, p).tobytes()
        assert nhwcpool.global_avg_pool2d(x).tobytes() == nhwcpool.global_avg_pool2d(v).tobytes()


def test_short_row_prefetch_with_a_huge_stride():
    # Prefetching covers the rows a window adds, never stride rows (a stride of 10**7 rows of
    # 256 bytes once meant 4 * 10**7 prefetches per output row).
    x = values("float32", (1024, 64, 64, 1), seed=3)
    got = nhwcpool.max_pool2d(x, 2, (10**7, 2))
    exp, _ = R.max_pool2d(x, 2, (10**7, 2), 0)
    R.assert_max_equal(got, exp)
    xi = values("int32", (1024, 64, 64, 1), seed=4)
    a = nhwcpool.avg_pool2d(xi, 2, (10**7, 2))
    e, am, nt = R.avg_pool2d(xi, 2, (10**7, 2), 0)
    R.assert_avg_close(a, e, am, nt, xi.dtype)
