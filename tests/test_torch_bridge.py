"""nhwcpool.torch (the PyTorch bridge) and DLPack input, against torch.nn.functional.

Skipped when torch is absent. Forward values and indices must equal PyTorch's exactly for
max; averages agree to the last bits nhwcpool documents (torch.testing's default tolerances).
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

import nhwcpool
import nhwcpool.torch as npt

CL = torch.channels_last
FLOATS = [torch.float16, torch.float32, torch.float64]


# ----------------------------------------------------------------------------
# random cases
# ----------------------------------------------------------------------------
def _case(seed, dilation=True, big=False):
    """A random valid torch configuration: shape (N, C, H, W) and pooling arguments."""
    rng = np.random.default_rng(seed)
    while True:
        n = int(rng.integers(0, 4)) if rng.random() < 0.1 else int(rng.integers(1, 4))
        c = int(rng.choice([1, 2, 3, 5, 8, 16, 17, 33, 64] if big else [1, 2, 3, 4, 5, 8, 16, 17]))
        h, w = (int(v) for v in rng.integers(1, 14, 2))
        k = [int(v) for v in rng.integers(1, 5, 2)]
        s = [int(v) for v in rng.integers(1, 4, 2)]
        d = [int(v) for v in rng.integers(1, 3, 2)] if dilation else [1, 1]
        p = [int(rng.integers(0, k[0] // 2 + 1)), int(rng.integers(0, k[1] // 2 + 1))]
        ceil = bool(rng.random() < 0.5)
        try:
            nhwcpool.output_size(h, k[0], s[0], p[0], d[0], ceil)
            nhwcpool.output_size(w, k[1], s[1], p[1], d[1], ceil)
        except ValueError:
            continue
        # torch also needs the whole padded input covered by the first window
        return (n, c, h, w), dict(kernel_size=k, stride=s, padding=p, dilation=d, ceil_mode=ceil), rng


def _data(shape, dtype, rng, ties):
    v = rng.integers(-2, 3, size=shape) if ties else rng.standard_normal(shape) * 4
    return torch.from_numpy(np.asarray(v, dtype=np.float64)).to(dtype)


def _layout(x, how):
    if how == "channels_last":
        return x.contiguous(memory_format=CL)
    if how == "contiguous":
        return x.contiguous()
    if how == "3d":
        return x[0].contiguous() if x.shape[0] else x.new_zeros(x.shape[1:])
    if how == "3d_hwc":  # (C, H, W) whose H, W, C axes are contiguous
        x0 = x[0] if x.shape[0] else x.new_zeros(x.shape[1:])
        return x0.permute(1, 2, 0).contiguous().permute(2, 0, 1)
    if how == "strided":  # neither: every other column
        return torch.cat([x, x], dim=3)[..., ::2]
    raise ValueError(how)


LAYOUTS = ["channels_last", "contiguous", "3d", "3d_hwc", "strided"]


def _is_cl(t):
    return t.dim() == 3 or t.is_contiguous(memory_format=CL)


@pytest.mark.parametrize("dtype", FLOATS, ids=str)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("seed", range(12))
def test_max_forward_vs_torch(seed, layout, dtype):
    shape, kw, rng = _case(seed * 7 + 1)
    x = _layout(_data(shape, dtype, rng, ties=seed % 2 == 0), layout)
    ev, ei = F.max_pool2d(x, **kw, return_indices=True)
    gv, gi = npt.max_pool2d(x, **kw, return_indices=True)
    assert gv.shape == ev.shape
    assert gv.dtype == ev.dtype
    assert gi.dtype == torch.int64
    assert torch.equal(gv, ev)
    assert torch.equal(gi, ei)
    assert _is_cl(gv)
    assert _is_cl(gi)
    assert torch.equal(npt.max_pool2d(x, **kw), ev)


@pytest.mark.parametrize("dtype", FLOATS, ids=str)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("seed", range(12))
def test_avg_forward_vs_torch(seed, layout, dtype):
    shape, kw, rng = _case(seed * 7 + 2, dilation=False)
    del kw["dilation"]
    x = _layout(_data(shape, dtype, rng, ties=seed % 3 == 0), layout)
    cip = bool(rng.random() < 0.5)
    div = [None, None, 3, -2][seed % 4]
    exp = F.avg_pool2d(x, **kw, count_include_pad=cip, divisor_override=div)
    got = npt.avg_pool2d(x, **kw, count_include_pad=cip, divisor_override=div)
    assert got.shape == exp.shape
    assert got.dtype == exp.dtype
    assert _is_cl(got)
    torch.testing.assert_close(got, exp)


@pytest.mark.parametrize("dtype", FLOATS, ids=str)
@pytest.mark.parametrize("layout", ["channels_last", "contiguous", "3d"])
def test_global_avg_vs_torch(dtype, layout):
    x = _layout(_data((3, 19, 7, 5), dtype, np.random.default_rng(5), ties=False), layout)
    got = npt.global_avg_pool2d(x)
    exp = F.adaptive_avg_pool2d(x, 1)
    assert got.shape == exp.shape
    torch.testing.assert_close(got, exp)


@pytest.mark.parametrize("dtype", [torch.int8, torch.uint8, torch.int16, torch.int32, torch.int64], ids=str)
def test_max_integer_dtypes(dtype):
    info = torch.iinfo(dtype)
    x = (
        torch.randint(info.min, info.max, (2, 3, 9, 8), dtype=torch.int64)
        .to(dtype)
        .contiguous(memory_format=CL)
    )
    for kw in (dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)):
        ev, ei = F.max_pool2d(x, **kw, return_indices=True)
        gv, gi = npt.max_pool2d(x, **kw, return_indices=True)
        assert torch.equal(gv, ev)
        assert torch.equal(gi, ei)


def test_argument_forms_as_torch():
    x = torch.randn(2, 4, 11, 10).contiguous(memory_format=CL)
    for args, kw in [
        ((3,), {}),
        (((3, 2),), {"stride": (1, 2)}),
        (((3,),), {"stride": []}),
        ((3, 2, (1, 0)), {}),
        ((3, None, 1), {"dilation": (1, 2)}),
        ((torch.Size([2, 2]),), {}),
    ]:
        assert torch.equal(npt.max_pool2d(x, *args, **kw), F.max_pool2d(x, *args, **kw))
        kw.pop("dilation", None)
        torch.testing.assert_close(npt.avg_pool2d(x, *args, **kw), F.avg_pool2d(x, *args, **kw))


def test_nan_and_inf_as_torch():
    x = torch.randn(1, 16, 6, 6)
    x[0, 0, 0, 0] = float("nan")
    x[0, 1, 2, 3] = float("inf")
    x[0, 2, :3, :3] = float("-inf")
    x = x.contiguous(memory_format=CL)
    ev, ei = F.max_pool2d(x, 3, 1, 1, return_indices=True)
    gv, gi = npt.max_pool2d(x, 3, 1, 1, return_indices=True)
    torch.testing.assert_close(gv, ev, equal_nan=True, rtol=0, atol=0)
    assert torch.equal(gi, ei)


def test_zero_batch():
    x = torch.zeros(0, 3, 8, 8).contiguous(memory_format=CL)
    assert npt.max_pool2d(x, 2).shape == (0, 3, 4, 4)
    assert npt.avg_pool2d(x, 2).shape == (0, 3, 4, 4)


# ----------------------------------------------------------------------------
# no copies: a channels_last tensor is read in place and results are NumPy's buffers
# ----------------------------------------------------------------------------
def test_channels_last_read_in_place(monkeypatch):
    seen = []
    real = nhwcpool.max_pool2d

    def spy(a, *args, **kw):
        seen.append(a)
        return real(a, *args, **kw)

    monkeypatch.setattr(nhwcpool, "max_pool2d", spy)
    x = torch.randn(2, 8, 6, 6).contiguous(memory_format=CL)
    y = npt.max_pool2d(x, 2)
    (a,) = seen
    assert a.flags.c_contiguous
    assert a.ctypes.data == x.data_ptr()
    assert np.shares_memory(a, x.numpy())
    assert y.is_contiguous(memory_format=CL)


# ----------------------------------------------------------------------------
# bad input: PyTorch's rules, nhwcpool's exception classes (PoolingError is both)
# ----------------------------------------------------------------------------
def test_pooling_error_is_value_and_runtime_error():
    assert issubclass(npt.PoolingError, ValueError)
    assert issubclass(npt.PoolingError, RuntimeError)


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda x: npt.max_pool2d(x, 2, padding=2), npt.PoolingError, "half of kernel size"),
        (lambda x: npt.avg_pool2d(x, 3, padding=(0, 2)), npt.PoolingError, "half of kernel size"),
        (lambda x: npt.max_pool2d(x, 0), npt.PoolingError, "kernel_size should be greater than zero"),
        (lambda x: npt.max_pool2d(x, 2, stride=0), npt.PoolingError, "stride should be greater than zero"),
        (lambda x: npt.max_pool2d(x, 2, dilation=0), npt.PoolingError, "dilation should be greater"),
        (lambda x: npt.max_pool2d(x, 2, padding=-1), npt.PoolingError, "non-negative"),
        (lambda x: npt.max_pool2d(x, 9), npt.PoolingError, "Output size is too small"),
        (lambda x: npt.max_pool2d(x, (2, 2, 2)), npt.PoolingError, "tuple of two ints"),
        (lambda x: npt.max_pool2d(x, 2.0), TypeError, "kernel_size must be an int"),
        (lambda x: npt.max_pool2d(x, True), TypeError, "kernel_size must be an int"),
        (lambda x: npt.max_pool2d(x, 2, ceil_mode=1), TypeError, "ceil_mode must be a bool"),
        (lambda x: npt.avg_pool2d(x, 2, divisor_override=0), npt.PoolingError, "divisor must be not zero"),
        (lambda x: npt.max_pool2d(x[0, 0], 2), npt.PoolingError, "Expected 3D or 4D"),
        (lambda x: npt.max_pool2d(x[:, :0], 2), npt.PoolingError, "Expected 3D or 4D"),
        (lambda x: npt.max_pool2d(x.to(torch.bfloat16), 2), TypeError, "unsupported dtype"),
        (lambda x: npt.max_pool2d(x > 0, 2), TypeError, "unsupported dtype"),
        (lambda x: npt.avg_pool2d(x.to(torch.int32), 2), TypeError, "truncates integer averages"),
        (lambda x: npt.global_avg_pool2d(x.to(torch.int64)), TypeError, "unsupported dtype"),
        (lambda x: npt.max_pool2d(x.numpy(), 2), TypeError, "must be a torch.Tensor"),
        (lambda x: npt.max_pool2d(x.to_sparse(), 2), TypeError, "dense"),
    ],
)
def test_bad_input(call, exc, match):
    x = torch.randn(2, 3, 8, 8)
    with pytest.raises(exc, match=match):
        call(x)


def test_torch_rejects_the_same_padding():
    x = torch.randn(1, 1, 8, 8)
    for kw in (dict(padding=2), dict(padding=2, return_indices=True)):
        with pytest.raises(RuntimeError, match="half of"):
            F.max_pool2d(x, 2, **kw)
        with pytest.raises(npt.PoolingError, match="half of"):
            npt.max_pool2d(x, 2, **kw)
    # with dilation torch checks the kernel size, not the effective one: so does the bridge
    with pytest.raises(RuntimeError, match="half of kernel size"):
        F.max_pool2d(x, 3, padding=2, dilation=2)
    with pytest.raises(npt.PoolingError, match="half of kernel size"):
        npt.max_pool2d(x, 3, padding=2, dilation=2)
    assert torch.equal(npt.max_pool2d(x, 2, padding=1, dilation=2), F.max_pool2d(x, 2, padding=1, dilation=2))


# ----------------------------------------------------------------------------
# modules and replace_pooling
# ----------------------------------------------------------------------------
def test_modules_mirror_torch_nn():
    pairs = [
        (npt.MaxPool2d(3, 2, 1, ceil_mode=True), torch.nn.MaxPool2d(3, 2, 1, ceil_mode=True)),
        (npt.MaxPool2d((2, 3), dilation=2), torch.nn.MaxPool2d((2, 3), dilation=2)),
        (
            npt.AvgPool2d(3, 1, 1, count_include_pad=False),
            torch.nn.AvgPool2d(3, 1, 1, count_include_pad=False),
        ),
        (npt.AvgPool2d(2, divisor_override=3), torch.nn.AvgPool2d(2, divisor_override=3)),
    ]
    x = torch.randn(2, 8, 12, 12).contiguous(memory_format=CL)
    for ours, theirs in pairs:
        assert ours.extra_repr() == theirs.extra_repr()
        assert repr(ours).split("(", 1)[1] == repr(theirs).split("(", 1)[1]
        torch.testing.assert_close(
            ours(x),
            theirs(x),
            rtol=0 if isinstance(ours, npt.MaxPool2d) else None,
            atol=0 if isinstance(ours, npt.MaxPool2d) else None,
        )
    m = npt.MaxPool2d(2, return_indices=True)
    _v, i = m(x)
    assert torch.equal(i, torch.nn.MaxPool2d(2, return_indices=True)(x)[1])
    with pytest.raises(npt.PoolingError, match="output_size 1"):
        npt.GlobalAvgPool2d(2)


class _Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(4, 8, 3, padding=1)
        self.pool = torch.nn.AvgPool2d(2, ceil_mode=True)

    def forward(self, x):
        return self.pool(torch.relu(self.conv(x)))


class _MyPool(torch.nn.MaxPool2d):  # a subclass may change forward: never replaced
    pass


def _small_cnn():
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3, padding=1),
        torch.nn.MaxPool2d(3, 2, 1),
        _Block(),
        torch.nn.Sequential(torch.nn.MaxPool2d(2, ceil_mode=True), _MyPool(1)),
        torch.nn.AdaptiveAvgPool2d((1, 1)),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.AdaptiveAvgPool2d(2),  # not global: left to torch
        torch.nn.Flatten(),
        torch.nn.Linear(32, 10),
    )


def test_replace_pooling_small_cnn():
    model = _small_cnn().eval()
    x = torch.randn(4, 3, 32, 32).contiguous(memory_format=CL)
    with torch.no_grad():
        before = model(x)
    same = npt.replace_pooling(model)
    assert same is model
    kinds = [type(m) for m in model.modules()]
    assert kinds.count(npt.MaxPool2d) == 2
    assert kinds.count(npt.AvgPool2d) == 1
    assert kinds.count(npt.GlobalAvgPool2d) == 2
    assert torch.nn.AvgPool2d not in kinds
    assert _MyPool in kinds
    assert torch.nn.AdaptiveAvgPool2d in kinds  # the (2, 2) one
    assert not model.training
    with torch.no_grad():
        after = model(x)
    torch.testing.assert_close(after, before)
    # idempotent, and a bare pooling module is returned replaced
    npt.replace_pooling(model)
    assert [type(m) for m in model.modules()] == kinds
    assert type(npt.replace_pooling(torch.nn.MaxPool2d(2))) is npt.MaxPool2d
    with pytest.raises(TypeError, match=r"torch.nn.Module"):
        npt.replace_pooling(object())


# ----------------------------------------------------------------------------
# torch.compile and the operator registrations
# ----------------------------------------------------------------------------
def _pipeline(x):
    y = npt.max_pool2d(x, 3, 2, 1)
    z = npt.avg_pool2d(torch.relu(y), 2, ceil_mode=True, count_include_pad=False)
    return npt.global_avg_pool2d(z) * 2


# inductor imports torch.jit.script_method users, deprecated (the suite turns warnings into errors)
COMPILE_WARNINGS = pytest.mark.filterwarnings(
    "ignore:`torch.jit.script_method` is deprecated:DeprecationWarning"
)


@COMPILE_WARNINGS
def test_compile_fullgraph_no_graph_break():
    import torch._dynamo as dynamo  # noqa: PLC0415

    x = torch.randn(2, 5, 16, 16).contiguous(memory_format=CL)
    explained = dynamo.explain(_pipeline)(x)
    assert explained.graph_break_count == 0
    assert explained.graph_count == 1
    compiled = torch.compile(_pipeline, fullgraph=True)
    assert torch.equal(compiled(x), _pipeline(x))


def test_opcheck_forward_ops():
    x = torch.randn(2, 5, 9, 8).contiguous(memory_format=CL)
    ops = torch.ops.nhwcpool
    checks = ("test_schema", "test_faketensor")
    for op, args in [
        (ops.max_pool2d.default, (x, [3, 3], [2, 2], [1, 1], [1, 1], True)),
        (ops.max_pool2d_with_indices.default, (x, [2, 3], [1, 2], [1, 0], [2, 1], False)),
        (ops.avg_pool2d.default, (x, [3, 2], [2, 1], [1, 1], True, False, None)),
        (ops.avg_pool2d.default, (x.contiguous(), [2, 2], [2, 2], [0, 0], False, True, 3)),
    ]:
        torch.library.opcheck(op, args, test_utils=checks)


# ----------------------------------------------------------------------------
# DLPack: NumPy-level functions take torch / JAX arrays without a copy
# ----------------------------------------------------------------------------
def test_dlpack_torch_zero_copy():
    t = torch.randn(2, 9, 8, 5)
    a = nhwcpool._api._array(t)
    assert isinstance(a, np.ndarray)
    assert a.ctypes.data == t.data_ptr()
    assert np.shares_memory(a, t.numpy())
    ref = t.numpy()
    for f, kw in [
        (nhwcpool.max_pool2d, dict(kernel_size=3, stride=2, padding=1)),
        (nhwcpool.avg_pool2d, dict(kernel_size=(2, 3), ceil_mode=True)),
    ]:
        np.testing.assert_array_equal(f(t, **kw), f(ref, **kw))
    _v, i = nhwcpool.max_pool2d(t, 2, return_indices=True)
    np.testing.assert_array_equal(i, nhwcpool.max_pool2d(ref, 2, return_indices=True)[1])
    np.testing.assert_array_equal(nhwcpool.global_max_pool2d(t), nhwcpool.global_max_pool2d(ref))
    np.testing.assert_array_equal(nhwcpool.global_avg_pool2d(t), nhwcpool.global_avg_pool2d(ref))
    # a channels_last NCHW tensor seen as NHWC is NHWC-contiguous: still no copy
    cl = torch.randn(2, 5, 9, 8).contiguous(memory_format=CL).permute(0, 2, 3, 1)
    a = nhwcpool._api._array(cl)
    assert a.flags.c_contiguous
    assert a.ctypes.data == cl.data_ptr()
    # strided (NCHW seen as NHWC): a view with torch's strides, pooled like NumPy's
    nchw = torch.randn(2, 5, 9, 8).permute(0, 2, 3, 1)
    a = nhwcpool._api._array(nchw)
    assert a.ctypes.data == nchw.data_ptr()
    assert a.strides == tuple(4 * s for s in nchw.stride())
    np.testing.assert_array_equal(nhwcpool.max_pool2d(nchw, 2), nhwcpool.max_pool2d(nchw.numpy(), 2))


def test_dlpack_bad_inputs():
    with pytest.raises(TypeError, match=r"requires grad; .*detach"):
        nhwcpool.max_pool2d(torch.randn(4, 4, 3, requires_grad=True), 2)
    with pytest.raises(TypeError, match="unsupported dtype bool"):
        nhwcpool.max_pool2d(torch.zeros(4, 4, 3, dtype=torch.bool), 2)
    with pytest.raises(TypeError, match=r"DLPack.*float16"):
        nhwcpool.avg_pool2d(torch.zeros(4, 4, 3, dtype=torch.bfloat16), 2)
    with pytest.raises(TypeError, match="DLPack"):
        nhwcpool.max_pool2d(torch.zeros(4, 4, 3, dtype=torch.complex64).conj(), 2)
    with pytest.raises(ValueError, match="dimensions"):
        nhwcpool.max_pool2d(torch.zeros(2, 2, 4, 4, 3), 2)
    # out= stays a NumPy array (a writeable view of a tensor is fine)
    out = torch.empty(2, 2, 3)
    nhwcpool.max_pool2d(torch.randn(4, 4, 3), 2, out=out.numpy())
    with pytest.raises(TypeError, match=r"out must be a numpy.ndarray"):
        nhwcpool.max_pool2d(torch.randn(4, 4, 3), 2, out=out)


def test_dlpack_jax_zero_copy():
    jnp = pytest.importorskip("jax.numpy")
    j = jnp.arange(2 * 6 * 6 * 3, dtype=jnp.float32).reshape(2, 6, 6, 3)
    a = nhwcpool._api._array(j)
    assert a.ctypes.data == j.unsafe_buffer_pointer()
    np.testing.assert_array_equal(nhwcpool.max_pool2d(j, 2), nhwcpool.max_pool2d(np.asarray(j), 2))
    np.testing.assert_array_equal(
        nhwcpool.avg_pool2d(j, 3, 1, 1), nhwcpool.avg_pool2d(np.asarray(j), 3, 1, 1)
    )


def test_import_nhwcpool_does_not_import_torch():
    code = "import sys, nhwcpool; nhwcpool.max_pool2d([[1, 2], [3, 4]], 2); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ----------------------------------------------------------------------------
# gradients (nhwcpool's backward) against torch's autograd
# ----------------------------------------------------------------------------
def _grads(fn, x, g):
    x = x.detach().clone().requires_grad_()
    y = fn(x)
    y.backward(g)
    return y, x.grad


@pytest.mark.parametrize("dtype", FLOATS, ids=str)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("seed", range(10))
def test_max_backward_vs_torch(seed, layout, dtype):
    shape, kw, rng = _case(seed * 11 + 3)
    x = _layout(_data(shape, dtype, rng, ties=seed % 2 == 0), layout)
    yshape = F.max_pool2d(x, **kw).shape
    g = torch.from_numpy(rng.standard_normal(yshape)).to(dtype)
    if seed % 3 == 0:
        g = g.contiguous(memory_format=CL) if g.dim() == 4 else g
    ey, eg = _grads(lambda t: F.max_pool2d(t, **kw), x, g)
    gy, gg = _grads(lambda t: npt.max_pool2d(t, **kw), x, g)
    assert torch.equal(gy, ey)
    assert gg.shape == eg.shape
    assert gg.dtype == eg.dtype
    if dtype == torch.float16:
        # nhwcpool sums float16 gradients in float32 and rounds once; torch rounds each
        # addition: compare both with the exact (float64) gradient
        _, exact = _grads(lambda t: F.max_pool2d(t, **kw), x.double(), g.double())
        torch.testing.assert_close(gg.double(), exact, rtol=2**-11, atol=0)
        torch.testing.assert_close(eg.double(), exact, rtol=2e-3, atol=2e-2)
    else:
        assert torch.equal(gg, eg)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_max_backward_windows_wholly_in_the_padding(layout):
    # Dilation can put every tap of a window in the padding (with PyTorch's symmetric padding,
    # then every window of the output): PyTorch returns -inf and an index outside the plane
    # (equal here), and its backward writes that gradient out of bounds; ours drops it (the
    # output is -inf for any input), and double backward reads 0 there.
    x = _layout(torch.arange(2 * 3 * 2 * 4, dtype=torch.float64).reshape(2, 3, 2, 4), layout)
    kw = dict(kernel_size=2, stride=1, padding=1, dilation=3)
    ey, ei = F.max_pool2d(x, return_indices=True, **kw)
    gy, gi = npt.max_pool2d(x, return_indices=True, **kw)
    assert torch.equal(gy, ey)
    assert torch.equal(gi, ei)
    assert torch.isneginf(ey).all()
    g = torch.randn(ey.shape, dtype=torch.float64)
    _, got = _grads(lambda t: npt.max_pool2d(t, **kw), x, g)
    assert torch.equal(got, torch.zeros_like(x))
    xx = x.detach().clone().requires_grad_()
    gout = g.clone().requires_grad_()
    (gx,) = torch.autograd.grad(npt.max_pool2d(xx, **kw), xx, gout, create_graph=True)
    (ggo,) = torch.autograd.grad((gx * torch.randn(x.shape, dtype=torch.float64)).sum(), gout)
    assert torch.equal(ggo, torch.zeros_like(g))


@pytest.mark.parametrize("dtype", FLOATS, ids=str)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("seed", range(10))
def test_avg_backward_vs_torch(seed, layout, dtype):
    shape, kw, rng = _case(seed * 11 + 4, dilation=False)
    del kw["dilation"]
    kw.update(count_include_pad=bool(seed % 2), divisor_override=[None, None, 3][seed % 3])
    x = _layout(_data(shape, dtype, rng, ties=False), layout)
    yshape = F.avg_pool2d(x, **kw).shape
    g = torch.from_numpy(rng.standard_normal(yshape)).to(dtype)
    ey, eg = _grads(lambda t: F.avg_pool2d(t, **kw), x, g)
    gy, gg = _grads(lambda t: npt.avg_pool2d(t, **kw), x, g)
    torch.testing.assert_close(gy, ey)
    assert gg.shape == eg.shape
    assert gg.dtype == eg.dtype
    if dtype == torch.float16:  # float32 sums rounded once (torch rounds each addition)
        _, exact = _grads(lambda t: F.avg_pool2d(t, **kw), x.double(), g.double())
        torch.testing.assert_close(gg.double(), exact, rtol=2**-10, atol=1e-6)
        torch.testing.assert_close(eg.double(), exact, rtol=2e-3, atol=2e-2)
    else:
        torch.testing.assert_close(gg, eg)


@pytest.mark.parametrize("layout", ["channels_last", "contiguous", "3d"])
def test_global_avg_backward_vs_torch(layout):
    x = _layout(_data((3, 6, 7, 5), torch.float64, np.random.default_rng(2), ties=False), layout)
    g = torch.randn(F.adaptive_avg_pool2d(x, 1).shape, dtype=torch.float64)
    _, eg = _grads(lambda t: F.adaptive_avg_pool2d(t, 1), x, g)
    _, gg = _grads(npt.global_avg_pool2d, x, g)
    torch.testing.assert_close(gg, eg)


def _distinct(shape, seed):
    # gradcheck's finite differences need a unique maximum in every window
    rng = np.random.default_rng(seed)
    v = rng.permutation(int(np.prod(shape))).reshape(shape) / 7.0
    return torch.from_numpy(v).contiguous(memory_format=CL).requires_grad_()


@pytest.mark.parametrize(
    "kw",
    [
        dict(kernel_size=2),
        dict(kernel_size=3, stride=1, padding=1),
        dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2), ceil_mode=True),
    ],
)
def test_gradcheck_max(kw):
    x = _distinct((2, 3, 7, 6), 0)
    assert torch.autograd.gradcheck(lambda t: npt.max_pool2d(t, **kw), (x,))
    assert torch.autograd.gradgradcheck(lambda t: npt.max_pool2d(t, **kw), (x,))


@pytest.mark.parametrize(
    "kw",
    [
        dict(kernel_size=2),
        dict(kernel_size=3, stride=1, padding=1, count_include_pad=False),
        dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 1), ceil_mode=True, divisor_override=5),
    ],
)
def test_gradcheck_avg(kw):
    x = torch.randn(2, 3, 7, 6, dtype=torch.float64).contiguous(memory_format=CL).requires_grad_()
    assert torch.autograd.gradcheck(lambda t: npt.avg_pool2d(t, **kw), (x,))
    assert torch.autograd.gradgradcheck(lambda t: npt.avg_pool2d(t, **kw), (x,))
    x3 = torch.randn(3, 5, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(npt.global_avg_pool2d, (x3,))


def test_max_with_indices_backward_and_unpool():
    x = _distinct((2, 4, 8, 8), 1)
    y, i = npt.max_pool2d(x, 2, return_indices=True)
    assert not i.requires_grad
    y.sum().backward()
    g = x.grad
    x2 = x.detach().clone().requires_grad_()
    F.max_pool2d(x2, 2).sum().backward()
    assert torch.equal(g, x2.grad)
    # the indices feed torch's own unpool
    assert torch.equal(F.max_unpool2d(y, i, 2), F.max_unpool2d(*F.max_pool2d(x, 2, return_indices=True), 2))


def test_opcheck_backward_ops():
    g = torch.randn(2, 5, 4, 4).contiguous(memory_format=CL)
    _, idx = npt.max_pool2d(torch.randn(2, 5, 9, 8).contiguous(memory_format=CL), 2, return_indices=True)
    ops = torch.ops.nhwcpool
    torch.library.opcheck(ops.max_pool2d_backward.default, (g, idx, [2, 5, 9, 8]))
    torch.library.opcheck(
        ops.avg_pool2d_backward.default, (g, [2, 5, 9, 8], [2, 2], [2, 2], [0, 0], False, True, None)
    )
    x = torch.randn(2, 5, 9, 8, dtype=torch.float64).contiguous(memory_format=CL).requires_grad_()
    torch.library.opcheck(ops.max_pool2d_with_indices.default, (x, [3, 3], [2, 2], [1, 1], [1, 1], True))
    torch.library.opcheck(ops.avg_pool2d.default, (x, [3, 2], [2, 1], [1, 1], True, False, None))


def _train_step(x):
    y = npt.max_pool2d(x, 3, 2, 1)
    z = npt.avg_pool2d(torch.relu(y), 2, ceil_mode=True, count_include_pad=False)
    return (npt.global_avg_pool2d(z) ** 2).sum()


@COMPILE_WARNINGS
@pytest.mark.parametrize("backend", ["aot_eager", "inductor"])
def test_compile_fullgraph_backward(backend):
    compiled = torch.compile(_train_step, fullgraph=True, backend=backend, dynamic=backend == "aot_eager")
    for shape in [(2, 5, 16, 16), (3, 4, 20, 18)]:
        x = torch.randn(shape).contiguous(memory_format=CL)
        a = x.clone().requires_grad_()
        b = x.clone().requires_grad_()
        _train_step(a).backward()
        compiled(b).backward()
        torch.testing.assert_close(b.grad, a.grad)


def test_replace_pooling_trains_like_torch():
    x = torch.randn(4, 3, 32, 32).contiguous(memory_format=CL)
    target = torch.randint(0, 10, (4,))
    theirs, ours = _small_cnn().train(), npt.replace_pooling(_small_cnn().train())
    opt_a = torch.optim.SGD(theirs.parameters(), lr=0.1)
    opt_b = torch.optim.SGD(ours.parameters(), lr=0.1)
    for _ in range(3):
        for m, opt in ((theirs, opt_a), (ours, opt_b)):
            opt.zero_grad()
            F.cross_entropy(m(x), target).backward()
            opt.step()
    for pa, pb in zip(theirs.parameters(), ours.parameters(), strict=False):
        torch.testing.assert_close(pb, pa)


def test_saves_only_indices():
    x = torch.randn(2, 8, 8, 8).contiguous(memory_format=CL).requires_grad_() * 1
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t):
        y = npt.max_pool2d(x, 2)
        npt.avg_pool2d(x, 2)
    assert len(saved) == 1
    assert saved[0].dtype == torch.int64
    assert saved[0].shape == y.shape


@COMPILE_WARNINGS
def test_compile_replaced_model_fullgraph():
    model = npt.replace_pooling(_small_cnn().eval())
    x = torch.randn(2, 3, 32, 32).contiguous(memory_format=CL)
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), model(x))


def test_dlpack_backward_functions():
    x = torch.randn(2, 8, 6, 5)
    xn = x.numpy()
    y, i = nhwcpool.max_pool2d(xn, 2, return_indices=True)
    g = torch.randn(y.shape)
    np.testing.assert_array_equal(
        nhwcpool.max_pool2d_backward(g, torch.from_numpy(i), xn.shape),
        nhwcpool.max_pool2d_backward(g.numpy(), i, xn.shape),
    )
    ga = torch.randn(nhwcpool.avg_pool2d(xn, 3, 1, 1).shape)
    np.testing.assert_array_equal(
        nhwcpool.avg_pool2d_backward(ga, xn.shape, 3, 1, 1),
        nhwcpool.avg_pool2d_backward(ga.numpy(), xn.shape, 3, 1, 1),
    )
    np.testing.assert_array_equal(
        nhwcpool.max_unpool2d(torch.from_numpy(y), torch.from_numpy(i), (8, 6)),
        nhwcpool.max_unpool2d(y, i, (8, 6)),
    )
    with pytest.raises(TypeError, match=r"grad_output is a tensor that requires grad"):
        nhwcpool.max_pool2d_backward(g.requires_grad_(), i, xn.shape)
