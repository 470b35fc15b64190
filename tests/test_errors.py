"""Every bad input is rejected with ValueError / TypeError whose message names
the offending argument; nothing crashes and nothing is modified."""

from __future__ import annotations

import nhwcpool
import numpy as np
import pytest
from nhwcpool import _core

X = np.arange(2 * 6 * 6 * 3, dtype=np.float32).reshape(2, 6, 6, 3)

VE = ValueError
TE = TypeError
EITHER = (ValueError, TypeError)


def _call(fn, x, kwargs):
    if fn == "max":
        return nhwcpool.max_pool2d(x, **kwargs)
    if fn == "avg":
        return nhwcpool.avg_pool2d(x, **kwargs)
    if fn == "gmax":
        return nhwcpool.global_max_pool2d(x, **kwargs)
    if fn == "gavg":
        return nhwcpool.global_avg_pool2d(x, **kwargs)
    raise AssertionError(fn)


def _check_raises(fn, x, kwargs, exc, match):
    x_before = np.array(x, copy=True)
    out = kwargs.get("out")
    out_before = None if not isinstance(out, np.ndarray) else out.copy()
    with pytest.raises(exc, match=match):
        _call(fn, x, kwargs)
    np.testing.assert_array_equal(np.asarray(x), x_before)  # x untouched
    if out_before is not None:
        assert out.tobytes() == out_before.tobytes()  # out untouched


# ----------------------------------------------------------------------------
# hyperparameters shared by max and avg
# ----------------------------------------------------------------------------
COMMON_BAD = [
    # kernel_size
    (dict(kernel_size=0), VE, "kernel_size"),
    (dict(kernel_size=-1), VE, "kernel_size"),
    (dict(kernel_size=(0, 2)), VE, "kernel_size"),
    (dict(kernel_size=(2, 0)), VE, "kernel_size"),
    (dict(kernel_size=(2, -3)), VE, "kernel_size"),
    (dict(kernel_size=(2, 2, 2)), EITHER, "kernel_size"),
    (dict(kernel_size=(2,)), EITHER, "kernel_size"),
    (dict(kernel_size=()), EITHER, "kernel_size"),
    (dict(kernel_size=[2, 2, 1]), EITHER, "kernel_size"),
    (dict(kernel_size=2.5), TE, "kernel_size"),
    (dict(kernel_size=2.0), TE, "kernel_size"),
    (dict(kernel_size="2"), TE, "kernel_size"),
    (dict(kernel_size=True), TE, "kernel_size"),
    (dict(kernel_size=False), TE, "kernel_size"),
    (dict(kernel_size=(2, 2.5)), TE, "kernel_size"),
    (dict(kernel_size=(True, 2)), TE, "kernel_size"),
    (dict(kernel_size=None), TE, "kernel_size"),
    (dict(kernel_size=2**64), EITHER, "kernel_size"),
    (dict(kernel_size=(2, 2**70)), EITHER, "kernel_size"),
    (dict(kernel_size=7), VE, r"kernel_size|window|output|input|\bx\b"),  # window > 6x6 input
    (dict(kernel_size=(2, 7)), VE, r"kernel_size|window|output|input|\bx\b"),
    # stride
    (dict(kernel_size=2, stride=0), VE, "stride"),
    (dict(kernel_size=2, stride=-1), VE, "stride"),
    (dict(kernel_size=2, stride=(1, 0)), VE, "stride"),
    (dict(kernel_size=2, stride=(1, 1, 1)), EITHER, "stride"),
    (dict(kernel_size=2, stride=(1,)), EITHER, "stride"),
    (dict(kernel_size=2, stride=2.5), TE, "stride"),
    (dict(kernel_size=2, stride="2"), TE, "stride"),
    (dict(kernel_size=2, stride=True), TE, "stride"),
    (dict(kernel_size=2, stride=(1, 1.5)), TE, "stride"),
    (dict(kernel_size=2, stride=2**64), EITHER, "stride"),
    # padding
    (dict(kernel_size=3, padding=-1), VE, "padding"),
    (dict(kernel_size=3, padding=(1, -1)), VE, "padding"),
    (dict(kernel_size=3, padding=((0, -1), (0, 0))), VE, "padding"),
    (dict(kernel_size=3, padding=((0, 0), (-1, 0))), VE, "padding"),
    (dict(kernel_size=2, padding=2), VE, "padding"),  # > effective kernel // 2 = 1
    (dict(kernel_size=3, padding=2), VE, "padding"),
    (dict(kernel_size=3, padding=(1, 2)), VE, "padding"),
    (dict(kernel_size=3, padding=((2, 0), (0, 0))), VE, "padding"),
    (dict(kernel_size=3, padding=((0, 2), (0, 0))), VE, "padding"),
    (dict(kernel_size=3, padding=((0, 0), (0, 2))), VE, "padding"),
    (dict(kernel_size=(1, 5), padding=(1, 0)), VE, "padding"),  # 1 > 1 // 2 = 0
    (dict(kernel_size=1, padding=1), VE, "padding"),
    (dict(kernel_size=3, padding=(1, 1, 1)), EITHER, "padding"),
    (dict(kernel_size=3, padding=((1, 1), (1,))), EITHER, "padding"),
    (dict(kernel_size=3, padding=((1, 1, 1), (1, 1))), EITHER, "padding"),
    (dict(kernel_size=3, padding=((1, 1),)), EITHER, "padding"),
    (dict(kernel_size=3, padding="full"), VE, "padding"),
    (dict(kernel_size=3, padding=""), VE, "padding"),
    (dict(kernel_size=3, padding="same "), VE, "padding"),
    (dict(kernel_size=3, padding=1.5), TE, "padding"),
    (dict(kernel_size=3, padding="1"), EITHER, "padding"),
    (dict(kernel_size=3, padding=True), TE, "padding"),
    (dict(kernel_size=3, padding=(1, 0.5)), TE, "padding"),
    (dict(kernel_size=3, padding=None), TE, "padding"),
    (dict(kernel_size=3, padding=2**64), EITHER, "padding"),
]


@pytest.mark.parametrize("fn", ["max", "avg"])
@pytest.mark.parametrize(("kwargs", "exc", "match"), COMMON_BAD, ids=[repr(c[0]) for c in COMMON_BAD])
def test_bad_hyperparameters(fn, kwargs, exc, match):
    _check_raises(fn, X.copy(), kwargs, exc, match)


MAX_BAD = [
    (dict(kernel_size=2, dilation=0), VE, "dilation"),
    (dict(kernel_size=2, dilation=-2), VE, "dilation"),
    (dict(kernel_size=2, dilation=(1, 0)), VE, "dilation"),
    (dict(kernel_size=2, dilation=(1, 2, 3)), EITHER, "dilation"),
    (dict(kernel_size=2, dilation=(2,)), EITHER, "dilation"),
    (dict(kernel_size=2, dilation=1.5), TE, "dilation"),
    (dict(kernel_size=2, dilation="2"), TE, "dilation"),
    (dict(kernel_size=2, dilation=True), TE, "dilation"),
    (dict(kernel_size=2, dilation=2**64), EITHER, "dilation"),
    # effective kernel 2*(3-1)+1 = 5 is fine on 6x6, 3*(3-1)+1 = 7 is not
    (dict(kernel_size=3, dilation=3), VE, r"kernel_size|dilation|window|output|input|\bx\b"),
    (dict(kernel_size=(2, 3), dilation=(1, 3)), VE, r"kernel_size|dilation|window|output|input|\bx\b"),
    # padding limit uses the effective kernel: k=2, d=3 -> eff 4 -> pad <= 2
    (dict(kernel_size=2, dilation=3, padding=3), VE, "padding"),
    (dict(kernel_size=2, dilation=(1, 3), padding=(2, 1)), VE, "padding"),
]


@pytest.mark.parametrize(("kwargs", "exc", "match"), MAX_BAD, ids=[repr(c[0]) for c in MAX_BAD])
def test_bad_max_only(kwargs, exc, match):
    _check_raises("max", X.copy(), kwargs, exc, match)


def test_dilation_is_not_an_avg_argument():
    with pytest.raises(TypeError):
        nhwcpool.avg_pool2d(X, 2, dilation=2)


AVG_BAD = [
    (dict(kernel_size=2, divisor_override=0), VE, "divisor_override"),
    (dict(kernel_size=2, divisor_override=1.5), TE, "divisor_override"),
    (dict(kernel_size=2, divisor_override=2.0), TE, "divisor_override"),
    (dict(kernel_size=2, divisor_override="4"), TE, "divisor_override"),
    (dict(kernel_size=2, divisor_override=True), TE, "divisor_override"),
    (dict(kernel_size=2, divisor_override=2**64), EITHER, "divisor_override"),
    (dict(kernel_size=2, dtype=np.bool_), TE, "dtype"),
    (dict(kernel_size=2, dtype=np.complex64), TE, "dtype"),
    (dict(kernel_size=2, dtype=np.complex128), TE, "dtype"),
    (dict(kernel_size=2, dtype=object), TE, "dtype"),
    (dict(kernel_size=2, dtype="U3"), TE, "dtype"),
    (dict(kernel_size=2, dtype="datetime64[s]"), TE, "dtype"),
    (dict(kernel_size=2, dtype=np.longdouble), TE, "dtype"),
    (dict(kernel_size=2, dtype="notadtype"), TE, "dtype"),
]


@pytest.mark.parametrize(("kwargs", "exc", "match"), AVG_BAD, ids=[repr(c[0]) for c in AVG_BAD])
def test_bad_avg_only(kwargs, exc, match):
    _check_raises("avg", X.copy(), kwargs, exc, match)


@pytest.mark.parametrize("dtype", [np.bool_, np.complex64, "notadtype", object])
def test_bad_global_avg_dtype(dtype):
    _check_raises("gavg", X.copy(), dict(dtype=dtype), TE, "dtype")


# ----------------------------------------------------------------------------
# the input array
# ----------------------------------------------------------------------------
BAD_X = [
    pytest.param(np.float32(1.0), VE, r"\bx\b", id="ndim0"),
    pytest.param(np.ones(6, np.float32), VE, r"\bx\b", id="ndim1"),
    pytest.param(np.ones((1, 1, 4, 4, 1), np.float32), VE, r"\bx\b", id="ndim5"),
    pytest.param(np.ones((1, 1, 1, 4, 4, 1), np.float32), VE, r"\bx\b", id="ndim6"),
    pytest.param(np.ones((0, 4), np.float32), VE, r"\bx\b", id="2d-H0"),
    pytest.param(np.ones((4, 0), np.float32), VE, r"\bx\b", id="2d-W0"),
    pytest.param(np.ones((0, 4, 3), np.float32), VE, r"\bx\b", id="3d-H0"),
    pytest.param(np.ones((4, 0, 3), np.float32), VE, r"\bx\b", id="3d-W0"),
    pytest.param(np.ones((2, 0, 4, 3), np.float32), VE, r"\bx\b", id="4d-H0"),
    pytest.param(np.ones((2, 4, 0, 3), np.float32), VE, r"\bx\b", id="4d-W0"),
    pytest.param(np.ones((0, 0, 0, 0), np.float32), VE, r"\bx\b", id="4d-all0"),
]


@pytest.mark.parametrize("fn", ["max", "avg", "gmax", "gavg"])
@pytest.mark.parametrize(("x", "exc", "match"), BAD_X)
def test_bad_x_shape(fn, x, exc, match):
    kwargs = {} if fn.startswith("g") else dict(kernel_size=1)
    _check_raises(fn, x, kwargs, exc, match)


def _unsupported_arrays():
    shape = (4, 4, 2)
    arrs = [
        pytest.param(np.zeros(shape, np.bool_), id="bool"),
        pytest.param(np.zeros(shape, np.complex64), id="complex64"),
        pytest.param(np.zeros(shape, np.complex128), id="complex128"),
        pytest.param(np.zeros(shape, object), id="object"),
        pytest.param(np.full(shape, "a"), id="str"),
        pytest.param(np.zeros(shape, "S2"), id="bytes"),
        pytest.param(np.zeros(shape, "datetime64[s]"), id="datetime64"),
        pytest.param(np.zeros(shape, "timedelta64[s]"), id="timedelta64"),
        pytest.param(np.zeros(shape, "V4"), id="void"),
        pytest.param(np.zeros(shape, [("a", "f4"), ("b", "i4")]), id="structured"),
    ]
    if np.dtype(np.longdouble) != np.dtype(np.float64):
        arrs.append(pytest.param(np.zeros(shape, np.longdouble), id="longdouble"))
    if hasattr(np, "clongdouble") and np.dtype(np.clongdouble).itemsize > 16:
        arrs.append(pytest.param(np.zeros(shape, np.clongdouble), id="clongdouble"))
    return arrs


SUPPORTED_NAMES = ["float16", "float32", "float64", "int8", "uint8", "int16", "uint16", "int32", "int64"]


@pytest.mark.parametrize("fn", ["max", "avg", "gmax", "gavg"])
@pytest.mark.parametrize("x", _unsupported_arrays())
def test_unsupported_dtype(fn, x):
    kwargs = {} if fn.startswith("g") else dict(kernel_size=2)
    with pytest.raises(TypeError) as info:
        _call(fn, x, kwargs)
    msg = str(info.value)
    missing = [name for name in SUPPORTED_NAMES if name not in msg]
    assert not missing, f"message does not list {missing}: {msg!r}"


@pytest.mark.parametrize("fn", ["max", "avg", "gmax", "gavg"])
def test_unsupported_python_inputs(fn):
    kwargs = {} if fn.startswith("g") else dict(kernel_size=1)
    with pytest.raises(TypeError):
        _call(fn, [[True, False], [False, True]], kwargs)
    with pytest.raises(TypeError):
        _call(fn, [[1 + 2j, 0], [0, 0]], kwargs)
    with pytest.raises(TypeError):
        _call(fn, [["a", "b"], ["c", "d"]], kwargs)
    with pytest.raises((TypeError, ValueError)):
        _call(fn, None, kwargs)
    with pytest.raises((TypeError, ValueError)):
        _call(fn, [[1, 2], [3]], kwargs)  # ragged


# ----------------------------------------------------------------------------
# bad out=
# ----------------------------------------------------------------------------
def _bad_outs():
    good_shape = (2, 3, 3, 3)
    big = np.zeros((2, 3, 6, 3), np.float32)
    return [
        pytest.param(np.zeros((2, 3, 3, 4), np.float32), id="wrong-shape"),
        pytest.param(np.zeros((2, 3, 3), np.float32), id="wrong-ndim"),
        pytest.param(np.zeros((3 * 3 * 3 * 2,), np.float32), id="flat"),
        pytest.param(np.zeros(good_shape, np.float64), id="wrong-dtype-f64"),
        pytest.param(np.zeros(good_shape, np.int32), id="wrong-dtype-i32"),
        pytest.param(np.zeros(good_shape, np.float32).astype(">f4"), id="byteswapped"),
        pytest.param(big[:, :, ::2], id="non-contiguous"),
        pytest.param(np.zeros(good_shape, np.float32, order="F"), id="fortran"),
        pytest.param(np.zeros(good_shape, np.float32)[::-1], id="negative-stride"),
        pytest.param(_readonly(np.zeros(good_shape, np.float32)), id="read-only"),
        pytest.param(np.zeros(good_shape, np.float32).tolist(), id="list"),
        pytest.param("out", id="str"),
    ]


def _readonly(a):
    a.flags.writeable = False
    return a


@pytest.mark.parametrize("out", _bad_outs())
@pytest.mark.parametrize("fn", ["max", "avg"])
def test_bad_out(fn, out):
    x = X.copy()
    _check_raises(fn, x, dict(kernel_size=2, out=out), EITHER, "out")


def test_out_overlapping_input_is_rejected():
    # kernel 1 / stride 1 keeps the shape, so x itself would be a shape-valid out
    x = X.copy()
    _check_raises("max", x, dict(kernel_size=1, out=x), EITHER, "out")
    _check_raises("avg", x, dict(kernel_size=1, out=x), EITHER, "out")
    # out and x are two views of one buffer that partly overlap
    buf = np.arange(2 * 6 * 6 * 3 + 6 * 6 * 3, dtype=np.float32)
    xv = buf[: X.size].reshape(X.shape)
    ov = buf[6 * 6 * 3 :].reshape(X.shape)
    _check_raises("max", xv, dict(kernel_size=1, out=ov), EITHER, "out")
    _check_raises("avg", xv, dict(kernel_size=1, out=ov), EITHER, "out")
    # out of a different shape overlapping x's memory
    flat = X.copy().reshape(-1)
    xs = flat.reshape(X.shape)
    out = flat[: 2 * 3 * 3 * 3].reshape(2, 3, 3, 3)
    _check_raises("max", xs, dict(kernel_size=2, out=out), EITHER, "out")


def test_out_wrong_dtype_for_avg_of_ints():
    xi = X.astype(np.int16)
    # the default result dtype for integers is float64, not the input's
    _check_raises("avg", xi, dict(kernel_size=2, out=np.zeros((2, 3, 3, 3), np.int16)), EITHER, "out")
    _check_raises("avg", xi, dict(kernel_size=2, out=np.zeros((2, 3, 3, 3), np.float32)), EITHER, "out")
    # with dtype= the out dtype must match dtype
    _check_raises(
        "avg",
        xi,
        dict(kernel_size=2, dtype=np.float32, out=np.zeros((2, 3, 3, 3), np.float64)),
        EITHER,
        "out|dtype",
    )


def test_bad_out_with_bad_kernel_leaves_out_untouched():
    out = np.full((2, 3, 3, 3), 7.0, np.float32)
    _check_raises("max", X.copy(), dict(kernel_size=0, out=out), VE, "kernel_size")
    _check_raises("avg", X.copy(), dict(kernel_size=2, padding=5, out=out), VE, "padding")
    assert np.all(out == 7.0)


# ----------------------------------------------------------------------------
# shape helpers, threads, SIMD hooks
# ----------------------------------------------------------------------------
OUTPUT_SIZE_BAD = [
    (dict(n=5, kernel_size=0), VE, "kernel_size"),
    (dict(n=5, kernel_size=-2), VE, "kernel_size"),
    (dict(n=5, kernel_size=2, stride=0), VE, "stride"),
    (dict(n=5, kernel_size=2, dilation=0), VE, "dilation"),
    (dict(n=5, kernel_size=3, padding=-1), VE, "padding"),
    (dict(n=5, kernel_size=3, padding=(0, -1)), VE, "padding"),
    (dict(n=5, kernel_size=3, padding="full"), VE, "padding"),
    (dict(n=5, kernel_size=3, padding=2), VE, "padding"),
    (dict(n=5, kernel_size=3, padding=(0, 2)), VE, "padding"),
    (dict(n=5, kernel_size=6), VE, r"kernel_size|window|output|input|\bn\b"),
    (dict(n=5, kernel_size=3, dilation=3), VE, r"kernel_size|dilation|window|output|input|\bn\b"),
    (dict(n=0, kernel_size=1), VE, r"\bn\b|input|size"),
    (dict(n=-3, kernel_size=1), VE, r"\bn\b|input|size"),
    (dict(n=5, kernel_size=2.5), TE, "kernel_size"),
    (dict(n=5, kernel_size=True), TE, "kernel_size"),
    (dict(n=5, kernel_size="2"), TE, "kernel_size"),
    (dict(n=5, kernel_size=2, stride=1.5), TE, "stride"),
    (dict(n=5.0, kernel_size=2), TE, r"\bn\b"),
]


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"), OUTPUT_SIZE_BAD, ids=[repr(c[0]) for c in OUTPUT_SIZE_BAD]
)
def test_bad_output_size(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        nhwcpool.output_size(**kwargs)


OUTPUT_SHAPE_BAD = [
    (((2**40, 2**40, 2**40, 2**10), 1), VE, None),
    (((2**31, 2**31, 2**31, 4), 2), VE, None),
    (((2**62, 2**62), 1), VE, None),
    (((3, 2**62, 2**62, 3), 1), VE, None),
    (((5,), 1), VE, "input_shape|shape|ndim"),
    (((1, 1, 5, 5, 1), 1), VE, "input_shape|shape|ndim"),
    (((), 1), VE, "input_shape|shape|ndim"),
    (((0, 5), 1), VE, r"input_shape|shape|\bx\b|\bH\b|size"),
    (((5, 0, 3), 1), VE, r"input_shape|shape|\bx\b|\bW\b|size"),
    (((-1, 5, 5, 1), 1), VE, r"input_shape|shape|\bx\b|size|negative"),
    (((5, 5), 0), VE, "kernel_size"),
    (((5, 5), 6), VE, "kernel_size|window|output|input"),
    (((5, 5), 3, None, 2), VE, "padding"),
    (((5, 5), 3, None, "nope"), VE, "padding"),
    (((5, 5), 2.5), TE, "kernel_size"),
    (((5.0, 5), 2), TE, "input_shape|shape"),
]


@pytest.mark.parametrize(
    ("args", "exc", "match"), OUTPUT_SHAPE_BAD, ids=[repr(c[0]) for c in OUTPUT_SHAPE_BAD]
)
def test_bad_output_shape(args, exc, match):
    with pytest.raises(exc, match=match):
        nhwcpool.output_shape(*args)


OVERFLOW = r"(?i)overflow|too large|exceed"


def test_output_shape_product_overflow_named():
    with pytest.raises(ValueError, match=OVERFLOW):
        nhwcpool.output_shape((2**40, 2**40, 2**40, 2**10), 1)
    # with a kernel that reduces, the *input* product still overflows
    with pytest.raises(ValueError, match=OVERFLOW):
        nhwcpool.output_shape((2**40, 2**40, 2**40, 2**10), (2**20, 2**20))


@pytest.mark.parametrize("n", [0, -1, -100])
@pytest.mark.usefixtures("restore_threads")
def test_set_num_threads_rejects_non_positive(n):
    before = nhwcpool.get_num_threads()
    with pytest.raises(ValueError, match=r"\bn\b|threads"):
        nhwcpool.set_num_threads(n)
    assert nhwcpool.get_num_threads() == before


@pytest.mark.parametrize("n", [1.5, "2", None])
@pytest.mark.usefixtures("restore_threads")
def test_set_num_threads_rejects_non_integers(n):
    before = nhwcpool.get_num_threads()
    with pytest.raises((TypeError, ValueError)):
        nhwcpool.set_num_threads(n)
    assert nhwcpool.get_num_threads() == before


@pytest.mark.parametrize("name", ["sse9", "", "AVX-1024", "neon2"])
def test_set_simd_level_rejects_unknown(name):
    before = nhwcpool._core.get_simd_level()
    with pytest.raises(ValueError, match=r"(?i)simd|level"):
        nhwcpool._core.set_simd_level(name)
    assert nhwcpool._core.get_simd_level() == before


def test_set_simd_level_rejects_unsupported():
    baseline = nhwcpool._core.compiled_simd_levels()[0]  # "baseline"; "neon" on aarch64
    assert baseline in ("baseline", "neon")
    known = [baseline, "avx2", "avx512"]
    supported = list(nhwcpool._core.supported_simd_levels())
    assert baseline in supported
    assert set(supported) <= set(known)
    before = nhwcpool._core.get_simd_level()
    for name in known:
        if name not in supported:
            with pytest.raises(ValueError, match=r"(?i)simd|level|support"):
                nhwcpool._core.set_simd_level(name)
            assert nhwcpool._core.get_simd_level() == before


def test_huge_but_valid_stride_does_not_crash():
    x = X.copy()
    got = nhwcpool.max_pool2d(x, 2, stride=2**62)
    np.testing.assert_array_equal(got, x[:, :2, :2].max(axis=(1, 2), keepdims=True))
    got = nhwcpool.max_pool2d(x, 2, stride=2**62, ceil_mode=True)
    np.testing.assert_array_equal(got, x[:, :2, :2].max(axis=(1, 2), keepdims=True))
    # s = 2**63 - 1 with ceil_mode: n - k + s - 1 exceeds int64. Correct answer is 1
    # window (the second would start at s >= n); an overflow ValueError is tolerated.
    try:
        got = nhwcpool.max_pool2d(x, 2, stride=2**63 - 1, ceil_mode=True)
    except ValueError:
        pass
    else:
        assert got.shape == (2, 1, 1, 3)
        np.testing.assert_array_equal(got, x[:, :2, :2].max(axis=(1, 2), keepdims=True))
    assert nhwcpool.output_size(6, 2, 2**62) == 1
    assert nhwcpool.output_size(6, 2, 2**62, 0, 1, True) == 1


# ----------------------------------------------------------------------------
# flags: plain-int hyperparameters take the fast path (checked in the core), pairs take the
# general path (checked in Python); both must give the same errors and results
# ----------------------------------------------------------------------------
FLAG_BAD = [
    ("max", "ceil_mode", 1),
    ("max", "ceil_mode", "yes"),
    ("max", "ceil_mode", None),
    ("max", "ceil_mode", 1.0),
    ("max", "return_indices", 0),
    ("max", "return_indices", "no"),
    ("avg", "ceil_mode", 1),
    ("avg", "count_include_pad", None),
    ("avg", "count_include_pad", 0),
]


@pytest.mark.parametrize("kernel", [2, (2, 2)], ids=["int", "pair"])
@pytest.mark.parametrize(("fn", "name", "value"), FLAG_BAD)
def test_bad_flags(fn, name, value, kernel):
    _check_raises(fn, X.copy(), {"kernel_size": kernel, name: value}, TE, name)


@pytest.mark.parametrize("kernel", [2, (2, 2)], ids=["int", "pair"])
def test_numpy_bool_flags(kernel):
    x = np.arange(5 * 5 * 2, dtype=np.float32).reshape(5, 5, 2)
    want = nhwcpool.max_pool2d(x, 2, ceil_mode=True, return_indices=True)
    got = nhwcpool.max_pool2d(x, kernel, ceil_mode=np.True_, return_indices=np.True_)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    want = nhwcpool.avg_pool2d(x, 2, 2, 1, count_include_pad=False)
    got = nhwcpool.avg_pool2d(x, kernel, 2, 1, count_include_pad=np.False_)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("big", [2**63, -(2**63) - 1, 2**70])
@pytest.mark.parametrize("name", ["kernel_size", "stride", "padding", "dilation"])
def test_int_range_named_on_the_fast_path(name, big):
    kwargs = {"kernel_size": 2, name: big}
    with pytest.raises(ValueError, match=f"{name} must fit in a signed 64-bit integer"):
        nhwcpool.max_pool2d(X, **kwargs)


def test_core_entry_points_check_their_arguments():
    # The compiled functions are private, but calling them wrongly must still only raise.
    args = [X, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0, False, 0, False, None]
    assert _core.max_pool2d(*args).shape == (2, 3, 3, 3)
    with pytest.raises(TypeError, match="15 positional arguments"):
        _core.max_pool2d(*args[:-1])
    with pytest.raises(TypeError, match="takes no keyword arguments"):
        _core.max_pool2d(*args[:-1], out=None)
    with pytest.raises(TypeError, match=r"\bx\b"):
        _core.max_pool2d([[1.0]], *args[1:])
    for i, bad in [(1, 2.0), (3, "2"), (7, None), (11, 1), (12, 1.5), (13, None)]:
        with pytest.raises(TypeError):
            _core.max_pool2d(*args[:i], bad, *args[i + 1 :])
    avg = [X, 2, 2, 2, 2, 0, 0, 0, 0, False, 0, True, 0, None, None]
    assert _core.avg_pool2d(*avg).shape == (2, 3, 3, 3)
    with pytest.raises(TypeError, match="dtype"):
        _core.avg_pool2d(*avg[:13], "float32", None)
    with pytest.raises(TypeError, match="out"):
        _core.avg_pool2d(*avg[:14], [1.0])
