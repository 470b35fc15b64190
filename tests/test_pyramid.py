"""nhwcpool.pyramid against the plain reference in pyramid_reference.py."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from conftest import SIMD_LEVELS, using_simd
from hypothesis import given, settings
from hypothesis import strategies as st
from pyramid_reference import convert, level_sizes, pyramid_ref

import nhwcpool

FLOATS = ["float16", "float32", "float64"]
INTS = ["int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64"]
DTYPES = FLOATS + INTS
OPS = ["mean", "max", "min"]


def random_array(rng, shape, dtype, full_range=True):
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return (rng.normal(size=shape) * 100).astype(dtype)
    info = np.iinfo(dtype)
    lo, hi = (info.min, info.max) if full_range else (max(info.min, -100), min(info.max, 100))
    return rng.integers(lo, hi, size=shape, dtype=dtype, endpoint=True)


def check(x, levels, op="mean", factor=2, edge="partial", dtype=None):
    got = nhwcpool.pyramid(x, levels, op=op, factor=factor, edge=edge, dtype=dtype)
    ref = pyramid_ref(x, levels, op, factor, edge, dtype)
    assert isinstance(got, list)
    assert len(got) == levels
    for i, (g, r) in enumerate(zip(got, ref), 1):
        assert g.shape == r.shape, (i, g.shape, r.shape)
        assert g.dtype == r.dtype, (i, g.dtype, r.dtype)
        np.testing.assert_array_equal(g, r, err_msg=f"level {i}")
    return got


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("edge", ["partial", "trim"])
@pytest.mark.parametrize("factor", [2, 3, 4])
def test_matches_reference(dtype, op, edge, factor):
    rng = np.random.default_rng(hash((dtype, op, edge, factor)) % 2**32)
    shape = {2: (2, 13, 11, 3), 3: (2, 19, 20, 2), 4: (1, 37, 18, 1)}[factor]
    levels = 3 if factor == 2 else 2
    check(random_array(rng, shape, dtype), levels, op, factor, edge)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", OPS)
def test_several_levels_per_pass(dtype, op):
    # 16 images of 40 rows: the first pass covers levels 1-4 (N * rows >= 16), then the
    # accumulators widen (uint8 sums: uint16 up to level 4, then uint32) in a second pass
    rng = np.random.default_rng(7)
    x = random_array(rng, (16, 40, 23, 2), dtype)
    check(x, 5, op)
    check(x, 4, op, edge="trim")


@pytest.mark.parametrize("in_dtype", DTYPES)
@pytest.mark.parametrize("out_dtype", DTYPES)
@pytest.mark.parametrize("op", ["mean", "max"])
def test_output_dtype(in_dtype, out_dtype, op):
    rng = np.random.default_rng(3)
    x = random_array(rng, (9, 7, 2), in_dtype)
    if np.dtype(in_dtype).kind == "f":
        x.flat[::5] = np.array([np.nan, np.inf, -np.inf, 300.5, -129.5])[np.arange(x.size)[::5] % 5].astype(in_dtype)
    if np.dtype(in_dtype).itemsize == 8 and np.dtype(out_dtype).kind == "f" and op == "mean":
        # float(sum) of 64-bit integers beyond 2**64 is rounded once more in the core
        x = random_array(rng, (9, 7, 2), in_dtype, full_range=False)
    check(x, 3, op, dtype=out_dtype)


@pytest.mark.parametrize(
    "shape",
    [(1, 1), (1, 1, 1), (1, 1, 1, 1), (5, 7), (7, 5, 1), (3, 8, 9, 4), (6, 5, 5), (2, 4, 4, 17), (4, 3, 64), (1, 200)],
)
@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float32", "int16"])
def test_layouts_and_tiny_images(shape, dtype):
    rng = np.random.default_rng(1)
    x = random_array(rng, shape, dtype)
    for op in OPS:
        check(x, 4, op)


@pytest.mark.parametrize("c", [1, 2, 3, 4, 5, 8, 33])
@pytest.mark.parametrize("dtype", ["uint8", "uint16"])
def test_channel_counts(c, dtype):
    rng = np.random.default_rng(c)
    x = random_array(rng, (2, 37, 29, c), dtype)
    for op in OPS:
        check(x, 3, op)
        check(x, 2, op, factor=3)


def test_levels_beyond_the_image():
    rng = np.random.default_rng(5)
    x = random_array(rng, (5, 7, 3), "uint8")
    got = check(x, 7)
    for lvl in got[3:]:
        assert lvl.shape == (1, 1, 3)
        np.testing.assert_array_equal(lvl, got[2])
    sums = x.reshape(-1, 3).astype(np.int64).sum(0)
    assert got[-1][0, 0].tolist() == [round(Fraction(int(s), 35)) for s in sums]
    check(x, 7, "max")


def test_zero_levels_and_empty():
    assert nhwcpool.pyramid(np.zeros((4, 4), np.uint8), 0) == []
    got = nhwcpool.pyramid(np.zeros((0, 4, 4, 3), np.uint8), 2)
    assert [g.shape for g in got] == [(0, 2, 2, 3), (0, 1, 1, 3)]
    got = nhwcpool.pyramid(np.zeros((4, 4, 0), np.float32), 1)
    assert got[0].shape == (2, 2, 0)


def test_rounding_half_to_even_and_no_mean_of_means():
    x = np.array([[1, 2], [1, 2]], np.uint8)  # 1.5 -> 2
    assert nhwcpool.pyramid(x, 1)[0].item() == 2
    x = np.array([[2, 3], [2, 3]], np.uint8)  # 2.5 -> 2
    assert nhwcpool.pyramid(x, 1)[0].item() == 2
    x = np.array([[0, 1], [0, 1]], np.int8)  # 0.5 -> 0
    assert nhwcpool.pyramid(x, 1)[0].item() == 0
    x = np.array([[-3, -2], [-3, -2]], np.int8)  # -2.5 -> -2
    assert nhwcpool.pyramid(x, 1)[0].item() == -2
    # four 2x2 blocks with means 0.5 (-> 0 each): the level-2 mean of means would be 0,
    # the exact mean of the 16 pixels is 0.5 -> 0; with one more pixel it is 9/16 -> 1
    x = np.tile(np.array([[0, 1], [1, 0]], np.uint8), (2, 2))
    x[0, 0] = 1
    lv = nhwcpool.pyramid(x, 2)
    assert lv[0].tolist() == [[1, 0], [0, 0]]
    assert lv[1].item() == 1


@pytest.mark.parametrize("dtype", INTS)
@pytest.mark.parametrize("value", ["min", "max"])
def test_extreme_values_never_overflow(dtype, value):
    info = np.iinfo(dtype)
    v = info.min if value == "min" else info.max
    x = np.full((64, 64), v, dtype)
    for lvl in nhwcpool.pyramid(x, 7):
        assert lvl.dtype == np.dtype(dtype)
        assert (lvl == v).all()


@pytest.mark.parametrize("dtype", ["int64", "uint64", "int32", "uint32"])
def test_wide_sums_round_exactly(dtype):
    info = np.iinfo(dtype)
    rng = np.random.default_rng(11)
    x = rng.integers(info.max - 3, info.max, size=(8, 8), dtype=dtype, endpoint=True)
    check(x, 3)
    x = rng.integers(info.min, info.min + 3, size=(8, 8), dtype=dtype, endpoint=True)
    check(x, 3)
    x = rng.integers(info.min, info.max, size=(2, 32, 17, 1), dtype=dtype, endpoint=True)
    check(x, 5)


def test_large_uint8_level_is_exact():
    # a level-10 block of 2**20 pixels: uint16, uint32 then uint64 sums
    x = np.full((1024, 1024), 255, np.uint8)
    x[0, 0] = 0
    got = nhwcpool.pyramid(x, 10)
    assert got[-1].item() == 255  # 255 - 255 / 2**20 rounds to 255
    x = np.zeros((1024, 1024), np.uint8)
    x[:512] = 1
    x[0, 0] = 0  # mean just below 0.5 -> 0
    assert nhwcpool.pyramid(x, 10)[-1].item() == 0


def test_float32_deep_mean_is_float64_sum():
    rng = np.random.default_rng(2)
    x = rng.random((64, 64, 1), dtype=np.float32)
    top = nhwcpool.pyramid(x, 6)[-1]
    assert top.dtype == np.float32
    assert top.item() == np.float32(x.astype(np.float64).sum() / 4096) or abs(
        top.item() - x.astype(np.float64).mean()
    ) <= np.spacing(np.float32(top.item()))


@pytest.mark.parametrize("op", OPS)
def test_nan_propagates(op):
    x = np.arange(64, dtype=np.float32).reshape(8, 8)
    x[5, 6] = np.nan
    got = nhwcpool.pyramid(x, 3, op=op)
    assert np.isnan(got[0][2, 3]) and np.isnan(got[1][1, 1]) and np.isnan(got[2][0, 0])
    assert np.isfinite(got[0][0, 0])
    check(x, 3, op)
    h = x.astype(np.float16)
    check(h, 3, op)


def test_strided_and_foreign_layouts():
    rng = np.random.default_rng(4)
    base = random_array(rng, (3, 30, 40, 6), "uint16")
    for x in (
        base[:, 3:27, 5:33, 1:4],  # rows not contiguous
        base[1, ::2, ::3, :],  # strided
        np.asfortranarray(base[0]),
        base[0].transpose(1, 0, 2),
        base[0].astype(">u2"),
        base[..., ::-1],
    ):
        for op in OPS:
            check(x, 3, op)


@pytest.mark.parametrize("dtype", ["uint8", "float32", "int64", "float16"])
@pytest.mark.parametrize("op", OPS)
def test_thread_count_bit_identity(dtype, op):
    rng = np.random.default_rng(9)
    x = random_array(rng, (2, 300, 257, 3), dtype)
    before = nhwcpool.get_num_threads()
    try:
        results = []
        for t in (1, 2, 3, 7):
            nhwcpool.set_num_threads(t)
            results.append(nhwcpool.pyramid(x, 6, op=op))
    finally:
        nhwcpool.set_num_threads(before)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("level", SIMD_LEVELS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_each_simd_level(level, dtype):
    rng = np.random.default_rng(12)
    x = random_array(rng, (3, 45, 38, 3), dtype)
    with using_simd(level):
        for op in OPS:
            check(x, 4, op)
            check(x, 2, op, factor=3, edge="trim")


@pytest.mark.parametrize("level", SIMD_LEVELS)
@pytest.mark.parametrize("c", [1, 2, 3, 4])
@pytest.mark.parametrize("dtype", ["uint8", "uint16"])
def test_image_kernels_each_simd_level(level, c, dtype):
    # sizes around vector widths, odd edges, several passes
    rng = np.random.default_rng(c)
    for shape in [(70, 129, c), (33, 65, c), (2, 17, 200, c)]:
        x = random_array(rng, shape, dtype)
        with using_simd(level):
            for op in OPS:
                for edge in ("partial", "trim"):
                    check(x, 3, op, edge=edge)


@settings(max_examples=60)
@given(
    data=st.data(),
    dtype=st.sampled_from(DTYPES),
    op=st.sampled_from(OPS),
    factor=st.integers(2, 4),
    edge=st.sampled_from(["partial", "trim"]),
    ndim=st.integers(2, 4),
)
def test_property_against_reference(data, dtype, op, factor, edge, ndim):
    h = data.draw(st.integers(1, 40), label="H")
    w = data.draw(st.integers(1, 40), label="W")
    c = data.draw(st.integers(1, 5), label="C")
    n = data.draw(st.integers(1, 3), label="N")
    shape = {2: (h, w), 3: (h, w, c), 4: (n, h, w, c)}[ndim]
    if edge == "trim":
        max_levels = 0
        while factor ** (max_levels + 1) <= min(h, w):
            max_levels += 1
    else:
        max_levels = 6
    levels = data.draw(st.integers(0, max_levels), label="levels")
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    x = random_array(np.random.default_rng(seed), shape, dtype, full_range=data.draw(st.booleans()))
    out = data.draw(st.sampled_from([None, *DTYPES]), label="dtype")
    if (
        out is not None
        and np.dtype(out).kind == "f"
        and np.dtype(dtype).kind in "iu"
        and np.dtype(dtype).itemsize == 8
        and op == "mean"
    ):
        x = random_array(np.random.default_rng(seed), shape, dtype, full_range=False)
    check(x, levels, op, factor, edge, out)


def test_sizes_helper_matches():
    for h, w, f in [(13, 11, 2), (100, 7, 3), (1, 1, 2)]:
        got = nhwcpool.pyramid(np.zeros((h, w), np.uint8), 4, factor=f)
        assert [g.shape for g in got] == level_sizes(h, w, 4, f, "partial")


def test_convert_rules():
    assert convert(np.float64(np.nan), "uint8") == 0
    assert convert(300.5, "uint8") == 255
    assert convert(-3.5, "int8") == -4


# ------------------------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        (dict(levels=-1), ValueError, "levels must be an integer >= 0"),
        (dict(levels=2**70), ValueError, "levels must be at most"),
        (dict(levels=1.5), TypeError, "levels must be an integer"),
        (dict(levels=True), TypeError, "levels must be an integer"),
        (dict(levels="2"), TypeError, "levels must be an integer"),
        (dict(levels=2, factor=1), ValueError, "factor must be an integer >= 2"),
        (dict(levels=2, factor=0), ValueError, "factor must be an integer >= 2"),
        (dict(levels=2, factor=2.0), TypeError, "factor must be an integer"),
        (dict(levels=2, op="median"), ValueError, "op must be one of"),
        (dict(levels=2, op=None), TypeError, "op must be a string"),
        (dict(levels=2, edge="pad"), ValueError, "edge must be one of"),
        (dict(levels=2, dtype="complex64"), TypeError, "dtype has unsupported dtype"),
        (dict(levels=2, dtype="not a dtype"), TypeError, "dtype must be a NumPy dtype"),
        (dict(levels=3, edge="trim"), ValueError, "level 3"),
    ],
)
def test_bad_arguments(kwargs, exc, match):
    x = np.zeros((7, 6, 3), np.uint8)
    levels = kwargs.pop("levels")
    with pytest.raises(exc, match=match):
        nhwcpool.pyramid(x, levels, **kwargs)


@pytest.mark.parametrize(
    ("x", "exc", "match"),
    [
        (np.zeros((4, 4), bool), TypeError, "unsupported dtype bool"),
        (np.zeros((4, 4), np.complex64), TypeError, "unsupported dtype"),
        (np.zeros((4, 4), object), TypeError, "unsupported dtype"),
        (np.zeros(4, np.uint8), ValueError, "2 \\(H, W\\), 3"),
        (np.zeros((1, 2, 4, 4, 1), np.uint8), ValueError, "got 5"),
        (np.zeros((0, 4), np.uint8), ValueError, "non-empty spatial axes"),
    ],
)
def test_bad_input_arrays(x, exc, match):
    with pytest.raises(exc, match=match):
        nhwcpool.pyramid(x, 1)


def test_core_rejects_bad_rows_directly():
    x = np.zeros((8, 8, 3), np.uint8)[:, ::2]
    with pytest.raises(ValueError, match="contiguous"):
        nhwcpool._core._pyramid(x, 1, 0, 2, 0, np.dtype(np.uint8))
    with pytest.raises(ValueError, match="op must be"):
        nhwcpool._core._pyramid(np.zeros((4, 4), np.uint8), 1, 7, 2, 0, np.dtype(np.uint8))
    with pytest.raises(ValueError, match="factor must be"):
        nhwcpool._core._pyramid(np.zeros((4, 4), np.uint8), 1, 0, 1, 0, np.dtype(np.uint8))
    with pytest.raises(ValueError, match="native byte order"):
        nhwcpool._core._pyramid(np.zeros((4, 4), np.uint16), 1, 0, 2, 0, np.dtype(">u2"))


def test_levels_huge_factor():
    got = nhwcpool.pyramid(np.arange(12, dtype=np.float64).reshape(3, 4), 3, factor=2**62)
    assert [g.item() for g in got] == [5.5, 5.5, 5.5]
