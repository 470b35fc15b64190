"""nhwcpool.jax against JAX's own pooling (optional: skipped when jax is absent).

The oracle is ``lax.reduce_window`` on the same NHWC array (max with a -inf / dtype-min init,
sum divided by the divisor the chosen options define) and ``jax.grad`` of it. Padding,
"same" and the ceil_mode overhang are turned into reduce_window's explicit (low, high)
padding with tests/reference.py's plain formulas. Max values and max gradients must be equal
(JAX's select_and_scatter routes each gradient to the first maximum in window order, like
nhwcpool's indices, ties included); averages and their gradients agree to rounding (the two
sum in different orders).

CPU jax compiles are slow: cases reuse a few shapes, and most checks run eagerly.
"""

from __future__ import annotations

import doctest
import subprocess
import sys

import numpy as np
import pytest

jax = pytest.importorskip("jax")
jnp = jax.numpy
lax = jax.lax

import nhwcpool
import nhwcpool.jax as npj
import reference as R

# --------------------------------------------------------------------------------------------
# The oracle


def _geometry(shape4, kernel, stride, padding, dilation, ceil_mode):
    """reduce_window's ((lo, hi), (lo, hi)) padding and the user's (pads, is_same)."""
    _, h, w, _ = shape4
    k = R.pair(kernel)
    s = k if stride is None else R.pair(stride)
    d = R.pair(dilation)
    pads, is_same = R.resolve_padding(padding, (h, w), k, s, d)
    rw = []
    for n, kk, ss, dd, (pb, pe) in zip((h, w), k, s, d, pads, strict=True):
        o = R.out_size(n, kk, ss, pb, pe, dd, ceil_mode)
        overhang = max(0, (o - 1) * ss + dd * (kk - 1) + 1 - (n + pb + pe))
        rw.append((pb, pe + overhang))
    return k, s, d, pads, is_same, rw


def ref_max(x, kernel, stride=None, padding=0, *, dilation=1, ceil_mode=False):
    x4 = _to4(x)
    k, s, d, _, _, rw = _geometry(x4.shape, kernel, stride, padding, dilation, ceil_mode)
    init = -jnp.inf if jnp.issubdtype(x4.dtype, jnp.floating) else jnp.iinfo(x4.dtype).min
    y = lax.reduce_window(
        x4,
        np.array(init, x4.dtype),
        lax.max,
        (1, *k, 1),
        (1, *s, 1),
        ((0, 0), *rw, (0, 0)),
        window_dilation=(1, *d, 1),
    )
    return _from4(y, x.ndim)


def ref_max_taps(x, kernel, stride=None, padding=0, *, dilation=1, ceil_mode=False):
    """Max as the first argmax over the stacked window taps: JAX has no gradient for
    reduce_window max with window dilation, so the dilated cases' gradients use this one."""
    x4 = _to4(x)
    k, s, d, _, _, rw = _geometry(x4.shape, kernel, stride, padding, dilation, ceil_mode)
    xp = jnp.pad(x4, ((0, 0), *rw, (0, 0)), constant_values=-jnp.inf)
    oh = (xp.shape[1] - d[0] * (k[0] - 1) - 1) // s[0] + 1
    ow = (xp.shape[2] - d[1] * (k[1] - 1) - 1) // s[1] + 1
    taps = jnp.stack(
        [
            xp[
                :,
                i * d[0] : i * d[0] + (oh - 1) * s[0] + 1 : s[0],
                j * d[1] : j * d[1] + (ow - 1) * s[1] + 1 : s[1],
            ]
            for i in range(k[0])
            for j in range(k[1])
        ]
    )  # row-major window order
    first = jnp.argmax(taps, axis=0)  # the first maximum
    return _from4(jnp.take_along_axis(taps, first[None], axis=0)[0], x.ndim)


def ref_avg(
    x, kernel, stride=None, padding=0, *, ceil_mode=False, count_include_pad=True, divisor_override=None
):
    x4 = _to4(x)
    _, h, w, _ = x4.shape
    k, s, _, pads, is_same, rw = _geometry(x4.shape, kernel, stride, padding, 1, ceil_mode)
    window = dict(window_dimensions=(1, *k, 1), window_strides=(1, *s, 1), padding=((0, 0), *rw, (0, 0)))
    total = lax.reduce_window(x4, np.array(0, x4.dtype), lax.add, **window)
    if divisor_override is not None:
        div = np.float64(divisor_override)
    else:
        # cells counted: the input, plus the numeric padding with count_include_pad (never
        # the ceil_mode overhang, never "same" padding)
        counted = np.ones((h, w))
        if count_include_pad and not is_same:
            counted = np.pad(counted, pads, constant_values=1.0)
            window["padding"] = (
                (0, 0),
                *((0, hi - pe) for (_, hi), (_, pe) in zip(rw, pads, strict=True)),
                (0, 0),
            )
        with jax.ensure_compile_time_eval():  # a constant, also under jit
            div = np.asarray(
                lax.reduce_window(
                    counted[None, :, :, None].astype(x4.dtype), np.array(0, x4.dtype), lax.add, **window
                )
            )
    return _from4(total / jnp.asarray(div, x4.dtype), x.ndim)


def _to4(x):
    if x.ndim == 2:
        return x[None, :, :, None]
    return x[None] if x.ndim == 3 else x


def _from4(y, ndim):
    if ndim == 2:
        return y[0, :, :, 0]
    return y[0] if ndim == 3 else y


def _loss_weights(shape, seed=7):
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape), jnp.float32)


def _data(shape, *, ties=False, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    a = rng.integers(-2, 3, size=shape) if ties else rng.standard_normal(shape)
    return jnp.asarray(a.astype(dtype))


# (shape, kernel, stride, padding, extra): shapes repeat so that compilations are shared
MAX_CASES = [
    ((2, 9, 11, 5), 2, None, 0, {}),
    ((2, 9, 11, 5), 3, 2, 1, {}),
    ((2, 9, 11, 5), 3, 1, 1, {}),
    ((2, 9, 11, 5), (3, 2), (2, 1), (1, 0), {}),
    ((2, 9, 11, 5), 3, 2, ((0, 1), (1, 0)), {}),
    ((2, 9, 11, 5), 3, 2, "same", {}),
    ((2, 9, 11, 5), 4, 3, "SAME", {}),
    ((2, 9, 11, 5), 3, 2, "valid", {}),
    ((2, 9, 11, 5), 3, 2, 1, {"ceil_mode": True}),
    ((2, 9, 11, 5), 2, 2, 0, {"ceil_mode": True}),
    ((2, 9, 11, 5), 3, 2, 2, {"dilation": 2}),
    ((2, 9, 11, 5), (2, 3), (1, 2), 1, {"dilation": (3, 1), "ceil_mode": True}),
    ((9, 11, 5), 3, 2, 1, {}),
    ((9, 11), 3, 2, "same", {}),
]

AVG_CASES = [
    ((2, 9, 11, 5), 2, None, 0, {}),
    ((2, 9, 11, 5), 3, 2, 1, {}),
    ((2, 9, 11, 5), 3, 2, 1, {"count_include_pad": False}),
    ((2, 9, 11, 5), 3, 1, 1, {}),
    ((2, 9, 11, 5), (3, 2), (2, 1), (1, 0), {}),
    ((2, 9, 11, 5), 3, 2, ((0, 1), (1, 0)), {"count_include_pad": True}),
    ((2, 9, 11, 5), 3, 2, "same", {}),
    ((2, 9, 11, 5), 3, 2, "valid", {}),
    ((2, 9, 11, 5), 3, 2, 1, {"ceil_mode": True}),
    ((2, 9, 11, 5), 3, 2, 1, {"ceil_mode": True, "count_include_pad": False}),
    ((2, 9, 11, 5), 3, 2, 1, {"divisor_override": 4}),
    ((2, 9, 11, 5), 2, 2, 0, {"ceil_mode": True, "divisor_override": -3}),
    ((9, 11, 5), 3, 2, 1, {}),
    ((9, 11), 3, 2, "same", {}),
]


def _id(case):
    shape, k, s, p, extra = case
    return f"{shape}-k{k}-s{s}-p{p}-" + "-".join(f"{a}={b}" for a, b in extra.items())


# --------------------------------------------------------------------------------------------
# Forward and gradient against reduce_window


@pytest.mark.parametrize("case", MAX_CASES, ids=_id)
@pytest.mark.parametrize("ties", [False, True], ids=["random", "ties"])
def test_max_forward_and_grad_equal_reduce_window(case, ties):
    shape, k, s, p, extra = case
    x = _data(shape, ties=ties, seed=len(MAX_CASES))
    y = npj.max_pool2d(x, k, s, p, **extra)
    r = ref_max(x, k, s, p, **extra)
    assert y.shape == r.shape
    assert y.dtype == x.dtype
    np.testing.assert_array_equal(np.asarray(y), np.asarray(r))

    ref = ref_max if extra.get("dilation", 1) == 1 else ref_max_taps
    np.testing.assert_array_equal(np.asarray(ref(x, k, s, p, **extra)), np.asarray(r))

    wts = _loss_weights(r.shape)
    g = jax.grad(lambda x: jnp.vdot(wts, npj.max_pool2d(x, k, s, p, **extra)))(x)
    gr = jax.grad(lambda x: jnp.vdot(wts, ref(x, k, s, p, **extra)))(x)
    np.testing.assert_array_equal(np.asarray(g), np.asarray(gr))


@pytest.mark.parametrize("case", AVG_CASES, ids=_id)
def test_avg_forward_and_grad_match_reduce_window(case):
    shape, k, s, p, extra = case
    x = _data(shape, seed=3)
    y = npj.avg_pool2d(x, k, s, p, **extra)
    r = ref_avg(x, k, s, p, **extra)
    assert y.shape == r.shape
    assert y.dtype == x.dtype
    np.testing.assert_allclose(np.asarray(y), np.asarray(r), rtol=1e-5, atol=1e-6)

    wts = _loss_weights(r.shape)
    g = jax.grad(lambda x: jnp.vdot(wts, npj.avg_pool2d(x, k, s, p, **extra)))(x)
    gr = jax.grad(lambda x: jnp.vdot(wts, ref_avg(x, k, s, p, **extra)))(x)
    np.testing.assert_allclose(np.asarray(g), np.asarray(gr), rtol=1e-5, atol=1e-6)


def test_max_gradient_ties_go_to_the_first_maximum():
    x = jnp.ones((4, 4), jnp.float32)  # every window is one tie
    g = jax.grad(lambda x: npj.max_pool2d(x, 2, 1).sum())(x)
    # window (i, j) picks its top-left cell (i, j): cell counts of a 3x3 block of windows
    expected = np.zeros((4, 4), np.float32)
    expected[:3, :3] = 1.0
    np.testing.assert_array_equal(np.asarray(g), expected)
    gr = jax.grad(lambda x: ref_max(x, 2, 1).sum())(x)
    np.testing.assert_array_equal(np.asarray(gr), expected)


def test_max_gradient_where_jax_differs_nan_and_all_minus_inf_windows():
    """The README's documented differences: nhwcpool's gradient follows its forward's indices."""
    x = np.zeros((4, 4), np.float32)
    x[0, 0] = 5.0
    x[0, 1] = np.nan  # window (0, 0): 5, NaN, 0, 0
    x[2:, 2:] = -np.inf  # window (1, 1): all -inf
    x = jnp.asarray(x)
    np.testing.assert_array_equal(np.asarray(npj.max_pool2d(x, 2)), np.asarray(ref_max(x, 2)))
    g = np.asarray(jax.grad(lambda a: npj.max_pool2d(a, 2).sum())(x))
    gr = np.asarray(jax.grad(lambda a: ref_max(a, 2).sum())(x))
    assert g[0, 1] == 1.0  # the NaN
    assert gr[1, 0] == 1.0  # JAX: the cell after the NaN
    assert g[2, 2] == 1.0  # the first cell of the all -inf window, as JAX
    assert gr[2, 2] == 1.0
    # an all -inf window whose first cells are padding: nhwcpool picks the first input cell,
    # JAX the padded cell (the gradient is lost)
    x = jnp.zeros((4, 4), jnp.float32).at[0, 0].set(-jnp.inf)
    g = np.asarray(jax.grad(lambda a: npj.max_pool2d(a, 2, 2, 1).sum())(x))
    gr = np.asarray(jax.grad(lambda a: ref_max(a, 2, 2, 1).sum())(x))
    assert g[0, 0] == 1.0
    assert gr[0, 0] == 0.0
    assert g.sum() == 9.0
    assert gr.sum() == 8.0


def test_max_gradient_of_windows_wholly_in_the_padding_is_zero():
    """Dilation can put a window's every tap in the padding: its output is -inf for any input
    and carries no gradient (the index max_pool2d gives it lies outside the plane)."""
    x = jnp.asarray(np.arange(2 * 4 * 3, dtype=np.float32).reshape(2, 4, 3))
    kw = dict(dilation=3)
    y = npj.max_pool2d(x, 2, 1, 1, **kw)
    assert np.isneginf(np.asarray(y)).all()  # (symmetric padding: all windows or none)
    np.testing.assert_array_equal(np.asarray(y), np.asarray(ref_max(x, 2, 1, 1, **kw)))
    w = jnp.asarray(np.random.default_rng(0).standard_normal(y.shape).astype(np.float32))
    g = jax.grad(lambda a: (npj.max_pool2d(a, 2, 1, 1, **kw) * w).sum())(x)
    # (JAX has no gradient of a dilated reduce_window max to compare with: every window is
    # empty here, so the gradient is 0)
    np.testing.assert_array_equal(np.asarray(g), np.zeros(x.shape, np.float32))
    # second order: the gradient's adjoint reads 0 there, not NaN
    vjp_x = jax.vjp(lambda a: npj.max_pool2d(a, 2, 1, 1, **kw), x)[1]
    gg = jax.vjp(lambda ct: vjp_x(ct)[0], w)[1](jnp.ones_like(x))[0]
    np.testing.assert_array_equal(np.asarray(gg), np.zeros(w.shape, np.float32))


# --------------------------------------------------------------------------------------------
# Transformations


def test_jit_grad_of_a_small_loss_matches_lax():
    """A conv -> max pool -> conv -> avg pool -> dense loss: gradients w.r.t. the parameters."""
    rng = np.random.default_rng(1)
    x = jnp.asarray(rng.standard_normal((2, 12, 12, 3)), jnp.float32)
    params = {
        "w1": jnp.asarray(rng.standard_normal((3, 3, 3, 4)) * 0.3, jnp.float32),
        "w2": jnp.asarray(rng.standard_normal((3, 3, 4, 4)) * 0.3, jnp.float32),
        "d": jnp.asarray(rng.standard_normal((4, 2)), jnp.float32),
    }
    dn = ("NHWC", "HWIO", "NHWC")

    def net(params, x, maxpool, avgpool):
        h = jnp.tanh(lax.conv_general_dilated(x, params["w1"], (1, 1), "SAME", dimension_numbers=dn))
        h = maxpool(h, 3, 2, 1)
        h = jnp.tanh(lax.conv_general_dilated(h, params["w2"], (1, 1), "SAME", dimension_numbers=dn))
        h = avgpool(h, 2, padding="same")
        h = h.mean(axis=(1, 2)) @ params["d"]
        return jnp.sum(h**2)

    ours = jax.jit(jax.value_and_grad(lambda p: net(p, x, npj.max_pool2d, npj.avg_pool2d)))
    theirs = jax.jit(jax.value_and_grad(lambda p: net(p, x, ref_max, ref_avg)))
    (v, g), (vr, gr) = ours(params), theirs(params)
    np.testing.assert_allclose(float(v), float(vr), rtol=1e-5)
    for name in params:
        np.testing.assert_allclose(np.asarray(g[name]), np.asarray(gr[name]), rtol=1e-4, atol=1e-6)
    # a second call reuses the compiled function
    v2, _ = ours(params)
    assert float(v2) == float(v)


@pytest.mark.parametrize("shape", [(3, 2, 9, 11, 5), (3, 9, 11, 5), (3, 9, 11)], ids=["4d", "3d", "2d"])
def test_vmap_over_a_leading_axis(shape):
    x = _data(shape, ties=True, seed=5)

    def f(x):
        return npj.max_pool2d(x, 3, 2, 1) * 2.0 + npj.avg_pool2d(x, 3, 2, 1, ceil_mode=True)

    got = jax.vmap(f)(x)
    expected = jnp.stack([f(xi) for xi in x])
    np.testing.assert_array_equal(np.asarray(got), np.asarray(expected))

    def loss(x):
        return jnp.sum(f(x) ** 2)

    gv = jax.jit(jax.vmap(jax.grad(loss)))(x)
    ge = jnp.stack([jax.grad(loss)(xi) for xi in x])
    np.testing.assert_array_equal(np.asarray(gv), np.asarray(ge))


def test_vmap_other_axes_nested_and_unbatched_residuals():
    x = _data((2, 9, 11, 5), seed=6)
    # a mapped axis that is not the first: vmap over C of an (N, H, W) stack
    got = jax.vmap(lambda a: npj.max_pool2d(a[..., None], 3, 2, 1)[..., 0], in_axes=3, out_axes=3)(x)
    np.testing.assert_array_equal(np.asarray(got), np.asarray(ref_max(x, 3, 2, 1)))
    # nested vmap over N and C of 2-d planes
    nested = jax.vmap(jax.vmap(lambda a: npj.avg_pool2d(a, 3, 2, 1), in_axes=2, out_axes=2))(x)
    np.testing.assert_allclose(np.asarray(nested), np.asarray(ref_avg(x, 3, 2, 1)), rtol=1e-6, atol=1e-7)
    # vmap over cotangents only: the saved indices are not batched, the cotangents are
    y, vjp = jax.vjp(lambda a: npj.max_pool2d(a, 3, 2, 1), x)
    cts = jnp.stack([jnp.ones_like(y), 2.0 * _loss_weights(y.shape)])
    gs = jax.vmap(vjp)(cts)[0]
    _, vjp_ref = jax.vjp(lambda a: ref_max(a, 3, 2, 1), x)
    for i in range(2):
        np.testing.assert_array_equal(np.asarray(gs[i]), np.asarray(vjp_ref(cts[i])[0]))


def test_eval_shape_needs_no_data_and_huge_planes_need_x64(monkeypatch):
    def boom(*_args, **_kwargs):
        msg = "a kernel ran during abstract evaluation"
        raise AssertionError(msg)

    for name in ("max_pool2d", "avg_pool2d", "max_pool2d_backward", "avg_pool2d_backward"):
        monkeypatch.setattr(nhwcpool, name, boom, raising=False)
    x = jax.ShapeDtypeStruct((4, 33, 17, 8), jnp.float32)
    out = jax.eval_shape(lambda a: npj.max_pool2d(a, 3, 2, "same", ceil_mode=False), x)
    assert out.shape == (4, 17, 9, 8)
    assert out.dtype == jnp.float32
    out = jax.eval_shape(jax.grad(lambda a: npj.avg_pool2d(a, 3, 2, 1, ceil_mode=True).sum()), x)
    assert out.shape == x.shape
    # a plane of more than 2**31 cells: int64 indices, which need x64 (never allocated here)
    huge = jax.ShapeDtypeStruct((1, 65536, 32769, 1), jnp.float32)
    assert jax.eval_shape(lambda a: npj.max_pool2d(a, 2), huge).shape == (1, 32768, 16384, 1)
    if not jax.config.jax_enable_x64:
        with pytest.raises(ValueError, match="jax_enable_x64"):
            jax.eval_shape(jax.grad(lambda a: npj.max_pool2d(a, 2).sum()), huge)


def test_eager_calls_compile_once():
    """Outside jit every call would otherwise trace a new callback and compile it again
    (50 ms a call, measured)."""
    x = _data((2, 9, 11, 5), seed=17)
    for _ in range(3):
        npj.max_pool2d(x, (2, 3), 1, 0)
    win = npj._window((2, 3), 1, 0, 1, False)
    fn = npj._max_fn(win, x.shape, np.dtype(np.float32), npj._in_place())
    assert fn._cache_size() == 1


def test_no_tracer_leaks():
    x = _data((2, 9, 11, 5), seed=8)
    with jax.checking_leaks():
        jax.jit(jax.grad(lambda a: npj.max_pool2d(a, 3, 2, 1).sum() + npj.avg_pool2d(a, 3, 2, 1).sum()))(x)
        jax.vmap(jax.grad(lambda a: npj.max_pool2d(a, 2).sum()))(x)
        jax.vjp(lambda a: npj.avg_pool2d(a, 2, ceil_mode=True), x)[1](jnp.ones((2, 5, 6, 5)))


@pytest.mark.parametrize("shape", [(2, 9, 11, 5), (9, 11)], ids=["4d", "2d"])
@pytest.mark.parametrize("pool", ["max", "avg"])
def test_grad_of_grad_matches_lax(pool, shape):
    """The backward passes are differentiable again (gradient penalties, Hessian-vector
    products): a second reverse pass through each equals lax's."""
    x = _data(shape, seed=15)
    ours, ref = (npj.max_pool2d, ref_max) if pool == "max" else (npj.avg_pool2d, ref_avg)
    kw = {} if pool == "max" else {"count_include_pad": False}

    def penalty(pool_fn):
        def inner(a):
            return jnp.sum(jnp.sin(pool_fn(a, 3, 2, 1, **kw)) ** 2)

        return lambda a: jnp.sum(jax.grad(inner)(a) ** 2 * jnp.cos(a))

    got = jax.grad(penalty(ours))(x)
    expected = jax.grad(penalty(ref))(x)
    np.testing.assert_allclose(np.asarray(got), np.asarray(expected), rtol=1e-5, atol=1e-6)


@pytest.fixture
def pure_callback_path(monkeypatch):
    """Run through jax.pure_callback (older jax, or buffer_callback switched off)."""
    monkeypatch.setattr(npj, "_USE_BUFFER_CALLBACK", False)


@pytest.mark.usefixtures("pure_callback_path")
def test_pure_callback_path():
    x = _data((3, 2, 9, 11, 5), ties=True, seed=16)
    jaxpr = str(jax.make_jaxpr(jax.grad(lambda a: npj.max_pool2d(a, 2).sum()))(x[0]))
    assert "pure_callback" in jaxpr
    assert "buffer_callback" not in jaxpr

    def loss(pool):
        def f(a):
            return jnp.sum(jnp.sin(pool(a, 3, 2, 1)) ** 2 * 3.0)

        return f

    for pool, ref in ((npj.max_pool2d, ref_max), (npj.avg_pool2d, ref_avg)):
        np.testing.assert_allclose(np.asarray(pool(x[0], 3, 2, 1)), np.asarray(ref(x[0], 3, 2, 1)), rtol=1e-6)
        got = jax.jit(jax.vmap(jax.grad(loss(pool))))(x)
        expected = jax.vmap(jax.grad(loss(ref)))(x)
        np.testing.assert_allclose(np.asarray(got), np.asarray(expected), rtol=1e-5, atol=1e-6)
        got2 = jax.grad(lambda a, p=pool: jnp.sum(jax.grad(loss(p))(a) ** 2))(x[0])
        expected2 = jax.grad(lambda a, r=ref: jnp.sum(jax.grad(loss(r))(a) ** 2))(x[0])
        np.testing.assert_allclose(np.asarray(got2), np.asarray(expected2), rtol=1e-5, atol=1e-6)


def test_forward_mode_is_refused_clearly():
    x = _data((2, 9, 11, 5), seed=9)
    # custom_vjp functions are reverse-mode only: JAX says so at trace time
    with pytest.raises(TypeError, match="custom_vjp"):
        jax.jvp(lambda a: npj.max_pool2d(a, 2), (x,), (x,))


# --------------------------------------------------------------------------------------------
# dtypes


def test_float64_with_x64():
    with jax.enable_x64(True):
        x = _data((2, 9, 11, 5), ties=True, seed=11, dtype=np.float64)
        assert x.dtype == jnp.float64
        y = npj.max_pool2d(x, 3, 2, 1)
        assert y.dtype == jnp.float64
        np.testing.assert_array_equal(np.asarray(y), np.asarray(ref_max(x, 3, 2, 1)))
        g = jax.grad(lambda a: jnp.sum(npj.max_pool2d(a, 3, 2, 1) ** 2))(x)
        gr = jax.grad(lambda a: jnp.sum(ref_max(a, 3, 2, 1) ** 2))(x)
        np.testing.assert_array_equal(np.asarray(g), np.asarray(gr))
        x = _data((2, 9, 11, 5), seed=12, dtype=np.float64)
        ya = npj.avg_pool2d(x, 3, 2, 1, count_include_pad=False)
        assert ya.dtype == jnp.float64
        np.testing.assert_allclose(
            np.asarray(ya), np.asarray(ref_avg(x, 3, 2, 1, count_include_pad=False)), rtol=1e-13
        )
        g = jax.grad(lambda a: jnp.sum(npj.avg_pool2d(a, 3, 2, 1) ** 2))(x)
        gr = jax.grad(lambda a: jnp.sum(ref_avg(a, 3, 2, 1) ** 2))(x)
        np.testing.assert_allclose(np.asarray(g), np.asarray(gr), rtol=1e-13)
        # integers average to float64 under x64 (after a float32 call of the same shape)
        xi = jnp.arange(99, dtype=jnp.int32).reshape(9, 11)
        with jax.enable_x64(False):
            assert npj.avg_pool2d(xi, 3).dtype == jnp.float32
        assert npj.avg_pool2d(xi, 3).dtype == jnp.float64


def test_float16():
    x = _data((2, 9, 11, 5), seed=13, dtype=np.float16)
    y = npj.max_pool2d(x, 3, 2, 1)
    assert y.dtype == jnp.float16
    np.testing.assert_array_equal(np.asarray(y), np.asarray(ref_max(x, 3, 2, 1)))
    g = jax.grad(lambda a: npj.max_pool2d(a, 3, 2, 1).astype(jnp.float32).sum())(x)
    assert g.dtype == jnp.float16
    np.testing.assert_array_equal(
        np.asarray(g), np.asarray(jax.grad(lambda a: ref_max(a, 3, 2, 1).astype(jnp.float32).sum())(x))
    )
    ya = npj.avg_pool2d(x, 3, 2, 1)
    assert ya.dtype == jnp.float16
    ref = ref_avg(x.astype(jnp.float32), 3, 2, 1)
    np.testing.assert_allclose(np.asarray(ya, np.float32), np.asarray(ref), rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int32"])
def test_integers_forward_only(dtype):
    x = jnp.asarray(np.random.default_rng(14).integers(0, 100, size=(9, 11, 3)).astype(dtype))
    y = npj.max_pool2d(x, 3, 2, 1)
    assert y.dtype == x.dtype
    np.testing.assert_array_equal(np.asarray(y), np.asarray(ref_max(x, 3, 2, 1)))
    ya = npj.avg_pool2d(x, 3, 2, 1)
    assert ya.dtype == jnp.float32  # JAX's default float
    np.testing.assert_allclose(np.asarray(ya), np.asarray(ref_avg(x.astype(jnp.float32), 3, 2, 1)), rtol=1e-6)
    # an integer input inside a differentiated computation: its cotangent is zero, others flow
    ds = jax.grad(lambda s: jnp.sum(s * npj.max_pool2d(x, 3, 2, 1)) + jnp.sum(s * npj.avg_pool2d(x, 2)))(1.0)
    expected = float(np.asarray(y, np.float64).sum() + np.asarray(npj.avg_pool2d(x, 2), np.float64).sum())
    np.testing.assert_allclose(float(ds), expected, rtol=1e-5)


# --------------------------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: npj.max_pool2d(jnp.ones((4, 4), jnp.bfloat16), 2), TypeError, "bfloat16"),
        (lambda: npj.avg_pool2d(jnp.ones((4, 4), jnp.bfloat16), 2), TypeError, "bfloat16"),
        (lambda: npj.max_pool2d(jnp.ones((4, 4), bool), 2), TypeError, "unsupported dtype bool"),
        (
            lambda: npj.avg_pool2d(jnp.ones((4, 4), jnp.complex64), 2),
            TypeError,
            "unsupported dtype complex64",
        ),
        (lambda: npj.max_pool2d(jnp.ones((4,)), 2), ValueError, "2 \\(H, W\\), 3"),
        (lambda: npj.max_pool2d(jnp.ones((1, 2, 4, 4, 1)), 2), ValueError, "got 5"),
        (lambda: npj.max_pool2d(object(), 2), TypeError, "x must be an array"),
        (lambda: npj.max_pool2d(jnp.ones((4, 4)), 0), ValueError, "kernel_size"),
        (lambda: npj.max_pool2d(jnp.ones((4, 4)), 2.5), TypeError, "kernel_size"),
        (lambda: npj.max_pool2d(jnp.ones((4, 4)), 5), ValueError, "output"),
        (lambda: npj.max_pool2d(jnp.ones((4, 4)), 2, 0), ValueError, "stride"),
        (lambda: npj.max_pool2d(jnp.ones((8, 8)), 3, 1, 2), ValueError, "padding"),
        (lambda: npj.max_pool2d(jnp.ones((8, 8)), 3, padding="full"), ValueError, "padding"),
        (lambda: npj.max_pool2d(jnp.ones((8, 8)), 3, dilation=0), ValueError, "dilation"),
        (lambda: npj.max_pool2d(jnp.ones((8, 8)), 2, ceil_mode="yes"), TypeError, "ceil_mode"),
        (lambda: npj.avg_pool2d(jnp.ones((8, 8)), 2, divisor_override=0), ValueError, "divisor_override"),
        (lambda: npj.avg_pool2d(jnp.ones((8, 8)), 2, divisor_override=1.5), TypeError, "divisor_override"),
        (lambda: npj.avg_pool2d(jnp.ones((8, 8)), 2, count_include_pad=None), TypeError, "count_include_pad"),
    ],
)
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_bad_input_under_jit_is_raised_at_trace_time():
    with pytest.raises(ValueError, match="larger than the padded input"):
        jax.jit(lambda a: npj.max_pool2d(a, 9))(jnp.ones((4, 4)))
    with pytest.raises(TypeError, match="bfloat16"):
        jax.jit(jax.grad(lambda a: npj.avg_pool2d(a, 2).sum()))(jnp.ones((4, 4), jnp.bfloat16))


def test_import_nhwcpool_does_not_import_jax():
    code = "import sys, nhwcpool; assert 'jax' not in sys.modules, 'jax imported'; print('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"


def test_module_docstring_examples():
    result = doctest.testmod(npj)
    assert result.attempted >= 4
    assert result.failed == 0
