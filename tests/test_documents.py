"""Acceptance tests: the worked examples of the two source documents, replayed
exactly (grids copied from shared/docs/worked-examples.md; rows top to bottom).

Each grid example runs for every supported dtype, under the 2-D (H, W),
3-D (H, W, 1) and 4-D (1, H, W, 1) layouts, plus a batched / multi-channel
4-D layout where every (n, c) plane is a copy (or a negated / offset copy),
and under every SIMD level.
"""

from __future__ import annotations

import nhwcpool
import numpy as np
import pytest
import reference as R

ALL = R.ALL_DTYPES

EX1 = [[1, 3, 2, 1], [2, 9, 1, 1], [1, 3, 2, 3], [5, 6, 1, 2]]
EX1_OUT = [[9, 2], [6, 3]]
EX2 = [[1, 3, 2, 1, 3], [2, 9, 1, 1, 5], [1, 3, 2, 3, 2], [8, 3, 5, 1, 0], [5, 6, 1, 2, 9]]
EX2_OUT = [[9, 9, 5], [9, 9, 5], [8, 6, 9]]
EX4 = [[1, 3, 2, 1], [2, 9, 1, 1], [1, 4, 2, 3], [5, 6, 1, 2]]
EX4_OUT = [[3.75, 1.25], [4, 2]]
EX7 = [[1, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]]
EX7_OUT = [[6, 8], [3, 4]]
EX8 = [[7, 3, 5, 2], [8, 7, 1, 6], [4, 9, 3, 9], [0, 8, 4, 5]]
EX8_OUT = [[6.25, 3.5], [5.25, 5.25]]

LAYOUTS = ["2d", "3d", "4d", "4d-batched"]


def _layout(grid, dtype, layout):
    g = np.asarray(grid).astype(dtype)
    if layout == "2d":
        return g
    if layout == "3d":
        return g[:, :, None]
    if layout == "4d":
        return g[None, :, :, None]
    # N=2, C=3: the same grid in every plane
    return np.broadcast_to(g[None, :, :, None], (2, *g.shape, 3)).copy()


def _expect_layout(grid_out, dtype, layout):
    return _layout(grid_out, dtype, layout)


MAX_EXAMPLES = [
    pytest.param(EX1, dict(kernel_size=2, stride=2), EX1_OUT, id="ex1-f2s2"),
    pytest.param(EX2, dict(kernel_size=3, stride=1), EX2_OUT, id="ex2-f3s1"),
    pytest.param(EX7, dict(kernel_size=(2, 2), stride=(2, 2)), EX7_OUT, id="ex7-2x2s2"),
    pytest.param(EX7, dict(kernel_size=2), EX7_OUT, id="ex7-stride-default"),
]
AVG_EXAMPLES = [
    pytest.param(EX4, dict(kernel_size=2, stride=2), EX4_OUT, id="ex4-f2s2"),
    pytest.param(EX8, dict(kernel_size=(2, 2), stride=(2, 2)), EX8_OUT, id="ex8-2x2s2"),
    pytest.param(EX8, dict(kernel_size=2), EX8_OUT, id="ex8-stride-default"),
]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", ALL, ids=str)
@pytest.mark.parametrize(("grid", "kw", "expected"), MAX_EXAMPLES)
@pytest.mark.usefixtures("simd_level")
def test_max_examples(grid, kw, expected, dtype, layout):
    x = _layout(grid, dtype, layout)
    got = nhwcpool.max_pool2d(x, **kw)
    exp = _expect_layout(expected, dtype, layout)
    assert got.dtype == np.dtype(dtype)
    assert got.shape == exp.shape
    np.testing.assert_array_equal(got, exp)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", ALL, ids=str)
@pytest.mark.parametrize(("grid", "kw", "expected"), AVG_EXAMPLES)
@pytest.mark.usefixtures("simd_level")
def test_avg_examples(grid, kw, expected, dtype, layout):
    x = _layout(grid, dtype, layout)
    got = nhwcpool.avg_pool2d(x, **kw)
    out_dtype = np.dtype(dtype) if np.dtype(dtype).kind == "f" else np.dtype(np.float64)
    exp = _expect_layout(expected, out_dtype, layout)
    assert got.dtype == out_dtype
    assert got.shape == exp.shape
    # 3.75, 1.25, 6.25, 5.25, ... are exact in every float type
    np.testing.assert_array_equal(got, exp)


@pytest.mark.parametrize("out_dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("dtype", ALL, ids=str)
def test_avg_example_with_dtype_argument(dtype, out_dtype):
    got = nhwcpool.avg_pool2d(np.asarray(EX4, dtype=dtype), 2, 2, dtype=out_dtype)
    assert got.dtype == np.dtype(out_dtype)
    np.testing.assert_array_equal(got, np.asarray(EX4_OUT, dtype=out_dtype))


def test_example1_stated_results_in_order():
    got = nhwcpool.max_pool2d(np.array(EX1), 2, 2)
    assert got.ravel().tolist() == [9, 2, 6, 3]


def test_example1_indices():
    v, i = nhwcpool.max_pool2d(np.array(EX1, dtype=np.float32), 2, 2, return_indices=True)
    # 9 at (1,1), 2 at (0,2), 6 at (3,1), 3 at (2,3) in the 4x4 plane
    assert i.tolist() == [[1 * 4 + 1, 0 * 4 + 2], [3 * 4 + 1, 2 * 4 + 3]]
    assert v.tolist() == [[9, 2], [6, 3]]


@pytest.mark.parametrize("dtype", ALL, ids=str)
def test_example2_output_size(dtype):
    # floor((n + 2p - f)/s) + 1 with n=5, p=0, f=3, s=1 -> 3
    assert nhwcpool.output_size(5, 3, 1) == 3
    assert nhwcpool.output_size(5, 3, 1, 0) == 3
    assert nhwcpool.output_shape((5, 5), 3, 1) == (3, 3)
    assert nhwcpool.max_pool2d(np.asarray(EX2, dtype=dtype), 3, 1).shape == (3, 3)


@pytest.mark.parametrize("layout", ["3d", "4d", "4d-batched"])
@pytest.mark.parametrize("dtype", ALL, ids=str)
@pytest.mark.usefixtures("simd_level")
def test_example3_two_channels(dtype, layout):
    g = np.asarray(EX2)
    x = np.stack([g, g.T], axis=-1).astype(dtype)  # 5x5x2
    exp = np.stack([np.asarray(EX2_OUT), np.asarray(EX2_OUT).T], axis=-1).astype(dtype)
    if layout == "4d":
        x, exp = x[None], exp[None]
    elif layout == "4d-batched":
        x = np.stack([x, x[::-1, ::-1]])
        exp = np.stack([exp, R.max_pool2d(x[1], 3, 1)[0]])
    got = nhwcpool.max_pool2d(x, 3, stride=1)
    assert got.shape == exp.shape
    assert got.shape[-3:] == (3, 3, 2)
    np.testing.assert_array_equal(got, exp)
    # channel 1 is the transpose of channel 0's result
    first = got if layout == "3d" else got[0]
    np.testing.assert_array_equal(first[..., 1], np.asarray(EX2_OUT).T)


@pytest.mark.parametrize("dtype", ALL, ids=str)
@pytest.mark.usefixtures("simd_level")
def test_example5_global_average_7x7x1000(dtype):
    rng = np.random.default_rng(5)
    dt = np.dtype(dtype)
    if dt.kind == "f":
        x = rng.standard_normal((7, 7, 1000)).astype(dt)
    else:
        info = np.iinfo(dt)
        x = rng.integers(info.min, info.max, size=(7, 7, 1000), endpoint=True, dtype=dt)
    exact_mean = (
        x.astype(np.float64).mean(axis=(0, 1))
        if dt.itemsize < 8 or dt.kind == "f"
        else (np.array([sum(int(v) for v in x[:, :, c].ravel()) / 49 for c in range(1000)]))
    )
    out_dt = dt if dt.kind == "f" else np.dtype(np.float64)
    rtol = {2: 1e-3, 4: 1e-6, 8: 1e-12}[out_dt.itemsize]
    for got in (
        nhwcpool.global_avg_pool2d(x),
        nhwcpool.avg_pool2d(x, 7),
        nhwcpool.avg_pool2d(x, (7, 7), stride=1),
    ):
        assert got.shape == (1, 1, 1000)
        assert got.dtype == out_dt
        scale = np.abs(x.astype(np.float64)).mean(axis=(0, 1))
        np.testing.assert_allclose(
            got[0, 0].astype(np.float64),
            exact_mean,
            rtol=rtol,
            atol=float(scale.max()) * 49 * 4 * R.acc_eps(dt) + 1e-300,
        )
    g = nhwcpool.global_avg_pool2d(x, keepdims=False)
    assert g.shape == (1000,)
    # 2-D layout: one 7x7 plane -> 1x1
    for c in (0, 999):
        g2 = nhwcpool.global_avg_pool2d(np.ascontiguousarray(x[:, :, c]))
        assert g2.shape == (1, 1)
        assert g2.dtype == out_dt
        np.testing.assert_allclose(
            float(g2[0, 0]),
            exact_mean[c],
            rtol=rtol,
            atol=float(np.abs(x[:, :, c].astype(np.float64)).mean()) * 49 * 4 * R.acc_eps(dt) + 1e-300,
        )
    # batched NHWC version
    xb = np.stack([x, x])
    gb = nhwcpool.global_avg_pool2d(xb)
    assert gb.shape == (2, 1, 1, 1000)
    np.testing.assert_array_equal(gb[0], gb[1])


@pytest.mark.parametrize(
    ("nH", "nW", "nC"),
    [(4, 4, 1), (224, 224, 3), (28, 28, 1), (24, 24, 3), (7, 9, 5), (112, 56, 64), (5, 6, 2)],
)
@pytest.mark.parametrize(("f", "s"), [(2, 2), (3, 2)])
def test_example6_hyperparameter_summary(nH, nW, nC, f, s):
    exp = ((nH - f) // s + 1, (nW - f) // s + 1, nC)
    assert nhwcpool.output_shape((nH, nW, nC), f, s) == exp
    assert nhwcpool.output_shape((2, nH, nW, nC), f, s) == (2, *exp)
    assert nhwcpool.output_size(nH, f, s) == exp[0]
    assert nhwcpool.output_size(nW, f, s, 0) == exp[1]
    if (f, s) == (2, 2) and nH % 2 == 0 and nW % 2 == 0:
        assert exp[:2] == (nH // 2, nW // 2)  # "halves height and width"
    if nH * nW * nC <= 100_000:
        x = np.zeros((nH, nW, nC), dtype=np.float32)
        assert nhwcpool.max_pool2d(x, f, s).shape == exp
        assert nhwcpool.avg_pool2d(x, f, s).shape == exp
        assert nhwcpool.max_pool2d(x, f, s, padding=0).shape == exp


def _conv_valid(x, w):
    """Tiny NHWC 'valid' convolution (cross-correlation), stride 1.
    x: (N, H, W, Cin), w: (kh, kw, Cin, Cout)."""
    kh, kw, _, cout = w.shape
    N, H, W, _ = x.shape
    out = np.zeros((N, H - kh + 1, W - kw + 1, cout), dtype=np.float64)
    for i in range(kh):
        for j in range(kw):
            out += np.einsum("nhwc,cd->nhwd", x[:, i : i + H - kh + 1, j : j + W - kw + 1, :], w[i, j])
    return out


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
@pytest.mark.parametrize("batched", [False, True])
@pytest.mark.usefixtures("simd_level")
def test_example9_keras_shape_flow(dtype, batched):
    rng = np.random.default_rng(9)
    N = 3 if batched else 1
    x = rng.standard_normal((N, 28, 28, 1)).astype(dtype)
    w1 = rng.standard_normal((5, 5, 1, 3))
    w2 = rng.standard_normal((5, 5, 3, 6))

    c1 = _conv_valid(x.astype(np.float64), w1).astype(dtype)
    assert c1.shape == (N, 24, 24, 3)
    p1 = nhwcpool.max_pool2d(c1, 2)  # MaxPool2D(): pool 2, stride defaults to 2
    assert p1.shape == (N, 12, 12, 3)
    # max of each disjoint 2x2 block
    np.testing.assert_array_equal(p1, c1.reshape(N, 12, 2, 12, 2, 3).max(axis=(2, 4)))
    c2 = _conv_valid(p1.astype(np.float64), w2).astype(dtype)
    assert c2.shape == (N, 8, 8, 6)
    p2 = nhwcpool.max_pool2d(c2, 2)
    assert p2.shape == (N, 4, 4, 6)
    np.testing.assert_array_equal(p2, c2.reshape(N, 4, 2, 4, 2, 6).max(axis=(2, 4)))
    flat = p2.reshape(N, -1)
    assert flat.shape[1] == 96
    dense84 = 84 * (flat.shape[1] + 1)
    assert dense84 == 8148
    assert 10 * (84 + 1) == 850

    # the same flow on the sizes alone, with output_shape
    s = nhwcpool.output_shape((28 - 4, 28 - 4, 3), 2)
    assert s == (12, 12, 3)
    s = nhwcpool.output_shape((s[0] - 4, s[1] - 4, 6), 2)
    assert s == (4, 4, 6)
    assert 84 * (int(np.prod(s)) + 1) == 8148

    # without pooling: 24x24x3 -> conv 5x5 (6) -> 20x20x6 = 2400 -> 84*2401
    c2_nopool = _conv_valid(c1.astype(np.float64), w2)
    assert c2_nopool.shape == (N, 20, 20, 6)
    assert 84 * (c2_nopool[0].size + 1) == 201_684


@pytest.mark.parametrize("dtype", ALL, ids=str)
def test_examples_in_channels_and_batch_are_independent(dtype):
    """Example 1 and 7 pooled together as a (2, 4, 4, 2) batch with the two
    grids swapped between batch entries."""
    a, b = np.asarray(EX1), np.asarray(EX7)
    x = np.stack([np.stack([a, b], -1), np.stack([b, a], -1)]).astype(dtype)
    got = nhwcpool.max_pool2d(x, 2)
    ea, eb = np.asarray(EX1_OUT), np.asarray(EX7_OUT)
    exp = np.stack([np.stack([ea, eb], -1), np.stack([eb, ea], -1)]).astype(dtype)
    np.testing.assert_array_equal(got, exp)
