"""JAX bridge: nhwcpool's max and average pooling as JAX functions on NHWC arrays.

>>> import jax, jax.numpy as jnp
>>> import nhwcpool.jax as npj
>>> x = jnp.arange(16.0).reshape(1, 4, 4, 1)
>>> npj.max_pool2d(x, 2)[0, :, :, 0].tolist()
[[5.0, 7.0], [13.0, 15.0]]
>>> jax.grad(lambda x: npj.max_pool2d(x, 2).sum())(x)[0, :, :, 0].tolist()[1]
[0.0, 1.0, 0.0, 1.0]

``max_pool2d`` and ``avg_pool2d`` take the arguments of :func:`nhwcpool.max_pool2d` and
:func:`nhwcpool.avg_pool2d` (every padding form, ``ceil_mode``, ``dilation`` for max,
``count_include_pad`` and ``divisor_override`` for average) on arrays of shape (H, W),
(H, W, C) or (N, H, W, C). They work under ``jax.jit``, ``jax.grad`` / ``jax.vjp``
(a ``jax.custom_vjp`` whose backward calls nhwcpool's backward kernels; the backward is
differentiable again, so reverse mode composes to any order) and ``jax.vmap``. Forward mode
(``jax.jvp``, ``jax.jacfwd``) is not available, as for any ``custom_vjp`` function. They
equal ``lax.reduce_window`` (max with a -inf init; sum divided by the window's divisor)
and its gradient (see "Use it in training" in the README for where they differ: NaN and
all -inf windows).

How it calls the C++ core, and why
----------------------------------
The kernels run from a host callback inside ``jax.custom_vjp``, not from an XLA FFI custom
call (``jax.ffi``). An FFI target has to be compiled against the XLA FFI headers that ship
inside the jax wheel (``jax.ffi.include_dir()``); a plain ``pip install nhwcpool`` builds in
an isolated environment without jax, so such a target would be missing from every ordinary
build and wheel, and its ABI would tie our wheels to jax's releases. A callback needs
nothing at build time. When jax has ``jax.experimental.buffer_callback`` (0.10 here), the
callback gets XLA's own input and output buffers: the core reads the input and writes the
output in place, and the bridge costs ~15 us per call over the NumPy call. Older jax
(>= 0.4.35) gets ``jax.pure_callback``, which copies the input and the result (~80 us plus
the copies). Either way the call is opaque to XLA (no fusion with neighbouring ops). README
"Use it in training" gives the measured figures. Output shapes are computed in Python from
:func:`nhwcpool.output_shape`, so tracing (abstract evaluation) never touches data.

Under ``jax.vmap`` the callbacks receive the mapped axes in front (``vmap_method=
"broadcast_all"``) and fold them into the batch axis N: one kernel call per ``vmap``-ed call,
no Python loop.

The max layer keeps its argmax indices for the backward pass as int32 (4 bytes per output
element; PyTorch keeps 8) when a plane has fewer than 2**31 cells, int64 otherwise (which
needs ``jax_enable_x64``). dtypes: float16, float32, float64 (with x64 enabled) and integers
(forward only; their gradient is zero, as for any integer JAX input). bfloat16 is not
supported by the core: a ``TypeError`` asks for a cast.

``import nhwcpool`` never imports jax; importing ``nhwcpool.jax`` does.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

import jax
import jax.numpy as jnp
import numpy as np

import nhwcpool

from . import _api

_buffer_callback: Callable[..., Any] | None
try:
    from jax.experimental.buffer_callback import buffer_callback as _buffer_callback
except ImportError:  # pragma: no cover - older jax: results are copied (pure_callback)
    _buffer_callback = None
# Read when a function is traced; tests and the benchmark switch it off to run the
# pure_callback path.
_USE_BUFFER_CALLBACK: bool = _buffer_callback is not None

__all__ = ["avg_pool2d", "max_pool2d"]

_INT32_MAX = 2**31 - 1
_FLOAT_NAMES = ("float16", "float32", "float64")
_INT_NAMES = ("int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64")
_SUPPORTED = "float16, float32, float64, int8, uint8, int16, uint16, int32, uint32, int64, uint64"

# Normalised, hashable window arguments: kernel (kh, kw), stride (sh, sw), padding either
# "valid"/"same" or ((top, bottom), (left, right)), dilation (dh, dw), ceil_mode.
_Window = tuple[tuple[int, int], tuple[int, int], Any, tuple[int, int], bool]


# --------------------------------------------------------------------------------------------
# Argument checks (at trace time, so that errors are Python exceptions, not callback failures)


def _as_array(x: Any, name: str = "x") -> jax.Array:
    if isinstance(x, jax.Array):  # concrete arrays and tracers
        return x
    try:
        return jnp.asarray(x)
    except TypeError as exc:
        msg = f"{name} must be an array (jax or NumPy), got {type(x).__name__}"
        raise TypeError(msg) from exc


def _check_x(x: jax.Array) -> None:
    if x.ndim not in (2, 3, 4):
        msg = f"x must have 2 (H, W), 3 (H, W, C) or 4 (N, H, W, C) dimensions, got {x.ndim}"
        raise ValueError(msg)
    name = np.dtype(x.dtype).name
    if name == "bfloat16":
        msg = (
            "x has dtype bfloat16, which nhwcpool's core does not support; cast it with "
            "x.astype(jnp.float32) (or float16). Supported dtypes: " + _SUPPORTED
        )
        raise TypeError(msg)
    if name not in _FLOAT_NAMES and name not in _INT_NAMES:
        msg = f"x has unsupported dtype {name}; supported dtypes are: {_SUPPORTED}"
        raise TypeError(msg)


def _window(kernel_size: Any, stride: Any, padding: Any, dilation: Any, ceil_mode: Any) -> _Window:
    """The arguments in one canonical, hashable form (checked by nhwcpool's own normaliser)."""
    kh, kw, sh, sw, mode, pt, pb, pl, pr = _api._window(kernel_size, stride, padding)
    pad: Any = ((pt, pb), (pl, pr)) if mode == _api._EXPLICIT else padding.lower()
    return (kh, kw), (sh, sw), pad, _api._pair(dilation, "dilation"), _api._flag(ceil_mode, "ceil_mode")


def _out_shape(shape: tuple[int, ...], win: _Window) -> tuple[int, ...]:
    kernel, stride, pad, dilation, ceil = win
    return tuple(nhwcpool.output_shape(list(shape), kernel, stride, pad, dilation, ceil))


# --------------------------------------------------------------------------------------------
# Host side: fold vmap's leading axes into N, call the core, unfold. Each host function gets
# NumPy views of its inputs and either `out` (the XLA output buffers, written in place, with
# buffer_callback) or None (pure_callback: it returns new arrays).


def _fold(a: np.ndarray[Any, Any], base_ndim: int) -> tuple[np.ndarray[Any, Any], tuple[int, ...]]:
    """View an array with extra leading (vmap) axes as an NHWC array the core accepts.

    Returns the view and the leading shape to restore (the vmap axes, plus N for 4-d bases).
    A 2-d base (H, W) gets a channel axis of 1, so that vmap's axes never turn into H or W.
    """
    extra = a.ndim - base_ndim
    if extra == 0:
        return a, ()
    lead = a.shape[: extra + (1 if base_ndim == 4 else 0)]
    plane = a.shape[extra + (1 if base_ndim == 4 else 0) :]
    if base_ndim == 2:
        plane = (*plane, 1)
    return a.reshape(-1, *plane), lead


def _unfold(r: np.ndarray[Any, Any], lead: tuple[int, ...], base_ndim: int) -> np.ndarray[Any, Any]:
    if not lead:
        return r
    plane = r.shape[1:3] if base_ndim == 2 else r.shape[1:]
    return r.reshape(*lead, *plane)


def _folded_out(out: Any, base_ndim: int) -> np.ndarray[Any, Any] | None:
    """The folded, writeable view of an output buffer (None for pure_callback)."""
    return None if out is None else _fold(np.asarray(out), base_ndim)[0]


def _plane(base_shape: tuple[int, ...]) -> tuple[int, ...]:
    """(H, W, C) of an unbatched 2-d or 3-d shape (C = 1 for 2-d)."""
    return (*base_shape, 1) if len(base_shape) == 2 else base_shape


def _in_shape(
    folded: np.ndarray[Any, Any], lead: tuple[int, ...], base_shape: tuple[int, ...]
) -> tuple[int, ...]:
    """The input shape that matches a folded cotangent (base_shape when nothing was folded)."""
    if not lead:
        return base_shape
    return (folded.shape[0], *(base_shape[1:] if len(base_shape) == 4 else _plane(base_shape)))


def _max_fwd_host(x: Any, *, out: Any, win: _Window, idx_dtype: Any, base_ndim: int) -> Any:
    kernel, stride, pad, dilation, ceil = win
    xf, lead = _fold(np.asarray(x), base_ndim)
    args = (xf, kernel, stride, pad)
    if idx_dtype is None:  # values only
        y = nhwcpool.max_pool2d(*args, dilation=dilation, ceil_mode=ceil, out=_folded_out(out, base_ndim))
        return None if out is not None else _unfold(y, lead, base_ndim)
    y_out = None if out is None else _folded_out(out[0], base_ndim)
    y, idx = nhwcpool.max_pool2d(*args, dilation=dilation, ceil_mode=ceil, return_indices=True, out=y_out)
    if out is not None:
        np.copyto(_fold(np.asarray(out[1]), base_ndim)[0], idx, casting="same_kind")  # int64 -> int32
        return None
    return _unfold(y, lead, base_ndim), _unfold(idx.astype(idx_dtype, copy=False), lead, base_ndim)


def _max_bwd_host(g: Any, idx: Any, *, out: Any, base_shape: tuple[int, ...]) -> Any:
    base_ndim = len(base_shape)
    gf, lead = _fold(np.asarray(g), base_ndim)
    idf, _ = _fold(np.asarray(idx), base_ndim)
    gi = nhwcpool.max_pool2d_backward(
        gf,
        idf.astype(np.int64, copy=False),
        _in_shape(gf, lead, base_shape),
        out=_folded_out(out, base_ndim),
        ignore_outside=True,  # windows wholly in the padding (dilation): -inf, no gradient
    )
    return None if out is not None else _unfold(gi, lead, base_ndim)


def _avg_fwd_host(
    x: Any, *, out: Any, win: _Window, cip: bool, div: int | None, out_dtype: Any, base_ndim: int
) -> Any:
    kernel, stride, pad, _, ceil = win
    xf, lead = _fold(np.asarray(x), base_ndim)
    y = nhwcpool.avg_pool2d(
        xf,
        kernel,
        stride,
        pad,
        ceil_mode=ceil,
        count_include_pad=cip,
        divisor_override=div,
        dtype=out_dtype,
        out=_folded_out(out, base_ndim),
    )
    return None if out is not None else _unfold(y, lead, base_ndim)


def _avg_bwd_host(
    g: Any, *, out: Any, win: _Window, cip: bool, div: int | None, base_shape: tuple[int, ...]
) -> Any:
    kernel, stride, pad, _, ceil = win
    base_ndim = len(base_shape)
    gf, lead = _fold(np.asarray(g), base_ndim)
    gi = nhwcpool.avg_pool2d_backward(
        gf,
        _in_shape(gf, lead, base_shape),
        kernel,
        stride,
        pad,
        ceil_mode=ceil,
        count_include_pad=cip,
        divisor_override=div,
        out=_folded_out(out, base_ndim),
    )
    return None if out is not None else _unfold(gi, lead, base_ndim)


def _shape4(shape: tuple[int, ...]) -> tuple[int, ...]:
    """(N, H, W, C) of an unbatched 2-d, 3-d or 4-d shape."""
    return tuple(shape) if len(shape) == 4 else (1, *_plane(tuple(shape)))


# --------------------------------------------------------------------------------------------
# Tracing side


def _struct(shape: tuple[int, ...], dtype: Any) -> Any:
    return jax.ShapeDtypeStruct(shape, dtype)  # type: ignore[no-untyped-call]


def _x64() -> bool:
    """Whether JAX keeps 64-bit types (jax_enable_x64, also inside jax.enable_x64 contexts)."""
    return bool(jax.dtypes.canonicalize_dtype(np.int64) == np.int64)


_F = TypeVar("_F", bound=Callable[..., Any])


def _jit(f: _F) -> _F:
    """jit, so that eager calls reuse one compiled callback per shape instead of tracing and
    compiling a new one each time (inside an outer jit it is inlined)."""
    return cast("_F", jax.jit(f))


def _in_place() -> bool:
    # buffer_callback hands over device buffers: NumPy can only read them on the CPU backend.
    # Elsewhere pure_callback moves the data to the host and back.
    return _USE_BUFFER_CALLBACK and _buffer_callback is not None and jax.default_backend() == "cpu"


def _callback(in_place: bool, fn: Callable[..., Any], result: Any, *args: Any) -> Any:
    """Run the host function fn(*args, out=...) from XLA.

    buffer_callback (recent jax) hands the callback XLA's own input and output buffers, so the
    core reads and writes them in place; pure_callback copies the result into a new buffer
    (and costs ~80 us more per call, README "Use it in training").
    """
    if in_place and _buffer_callback is not None:

        def write(_ctx: Any, out: Any, *buffers: Any) -> None:
            fn(*buffers, out=out)

        return _buffer_callback(write, result, vmap_method="broadcast_all")(*args)
    return jax.pure_callback(functools.partial(fn, out=None), result, *args, vmap_method="broadcast_all")


def _zero_cotangent(shape: tuple[int, ...]) -> Any:
    """The cotangent of an integer input: float0 zeros, as jax.grad expects."""
    return np.zeros(shape, dtype=jax.dtypes.float0)


def _is_float(dtype: Any) -> bool:
    return bool(jnp.issubdtype(dtype, jnp.floating))


# --------------------------------------------------------------------------------------------
# custom_vjp functions, one per (window, options, unbatched shape, dtype): all static, x is
# the only argument


@functools.lru_cache(maxsize=1024)
def _max_fn(
    win: _Window, shape: tuple[int, ...], dtype: np.dtype[Any], in_place: bool
) -> Callable[[jax.Array], jax.Array]:
    """A custom_vjp max pool for one window and one (unbatched) input shape and dtype.

    Everything static (output shape, index dtype) is computed here, once, in Python.
    """
    oshape = _out_shape(shape, win)  # ValueError now if the window does not fit
    h, w = shape[1:3] if len(shape) == 4 else shape[:2]
    idx_dtype = np.dtype(np.int32 if h * w <= _INT32_MAX else np.int64)
    y_struct = _struct(oshape, dtype)
    base_ndim = len(shape)

    def primal(x: jax.Array) -> jax.Array:
        host = functools.partial(_max_fwd_host, win=win, idx_dtype=None, base_ndim=base_ndim)
        y: jax.Array = _callback(in_place, host, y_struct, x)
        return y

    def fwd(x: jax.Array) -> tuple[jax.Array, jax.Array]:
        if idx_dtype == np.int64 and not _x64():
            msg = (
                f"the gradient of a max pool over {h}x{w}-cell planes needs int64 argmax "
                "indices; enable them with jax.config.update('jax_enable_x64', True)"
            )
            raise ValueError(msg)
        y, idx = with_indices(x)
        return y, idx  # the only residual: the argmax of every output

    def bwd(idx: jax.Array, g: jax.Array) -> tuple[Any]:
        if not _is_float(dtype):
            return (_zero_cotangent(shape),)
        return (_max_scatter_fn(shape, dtype, oshape, in_place)(g.astype(dtype), idx),)

    # Forward with indices, itself differentiable (so that fwd can be differentiated again,
    # for grad of grad): its cotangent goes through the same scatter.
    def values_and_indices(x: jax.Array) -> tuple[jax.Array, jax.Array]:
        host = functools.partial(_max_fwd_host, win=win, idx_dtype=idx_dtype, base_ndim=base_ndim)
        y, idx = _callback(in_place, host, (y_struct, _struct(oshape, idx_dtype)), x)
        return y, idx

    def vi_fwd(x: jax.Array) -> tuple[tuple[jax.Array, jax.Array], jax.Array]:
        y, idx = values_and_indices(x)
        return (y, idx), idx

    def vi_bwd(idx: jax.Array, cts: tuple[jax.Array, Any]) -> tuple[Any]:
        return bwd(idx, cts[0])

    with_indices = jax.custom_vjp(values_and_indices)
    with_indices.defvjp(vi_fwd, vi_bwd)

    f = jax.custom_vjp(primal)
    f.defvjp(fwd, bwd)
    return _jit(f)


@functools.lru_cache(maxsize=1024)
def _avg_fn(
    win: _Window,
    cip: bool,
    div: int | None,
    shape: tuple[int, ...],
    dtype: np.dtype[Any],
    x64: bool,
    in_place: bool,
) -> Callable[[jax.Array], jax.Array]:
    """A custom_vjp average pool for one window, options, (unbatched) shape and dtype."""
    # Integer inputs average to JAX's default float (float32, or float64 with x64).
    odt = dtype if _is_float(dtype) else np.dtype(np.float64 if x64 else np.float32)
    y_struct = _struct(_out_shape(shape, win), odt)
    base_ndim = len(shape)

    def primal(x: jax.Array) -> jax.Array:
        host = functools.partial(_avg_fwd_host, win=win, cip=cip, div=div, out_dtype=odt, base_ndim=base_ndim)
        y: jax.Array = _callback(in_place, host, y_struct, x)
        return y

    def fwd(x: jax.Array) -> tuple[jax.Array, None]:
        # average pooling is linear: nothing to keep. f (not primal) keeps fwd differentiable.
        return f(x), None

    def bwd(_: None, g: jax.Array) -> tuple[Any]:
        if not _is_float(dtype):
            return (_zero_cotangent(shape),)
        return (_avg_adjoint_fn(win, cip, div, shape, dtype, x64, in_place)(g.astype(dtype)),)

    f = jax.custom_vjp(primal)
    f.defvjp(fwd, bwd)
    return _jit(f)


# The backward passes are linear in the cotangent, and are custom_vjp functions themselves, so
# that reverse mode composes to any order (grad of grad, Hessian-vector products, gradient
# penalties). Max: the adjoint of the scatter to the argmax is a gather from it (plain XLA).
# Average: the adjoint of the adjoint is the forward average itself.


@functools.lru_cache(maxsize=1024)
def _max_scatter_fn(
    shape: tuple[int, ...], dtype: np.dtype[Any], oshape: tuple[int, ...], in_place: bool
) -> Callable[[jax.Array, jax.Array], jax.Array]:
    """g, idx -> the max pool's input gradient (g added at each output's argmax)."""
    x_struct = _struct(shape, dtype)
    host = functools.partial(_max_bwd_host, base_shape=shape)
    # (planes, cells, channels) views of the input and of the output for the gather
    _, h, w, c = _shape4(shape)
    _, oh, ow, _ = _shape4(oshape)
    n = shape[0] if len(shape) == 4 else 1

    def scatter(g: jax.Array, idx: jax.Array) -> jax.Array:
        gi: jax.Array = _callback(in_place, host, x_struct, g, idx)
        return gi

    def fwd(g: jax.Array, idx: jax.Array) -> tuple[jax.Array, jax.Array]:
        return scatter(g, idx), idx

    def bwd(idx: jax.Array, ct: jax.Array) -> tuple[jax.Array, None]:
        # An index outside the plane (a window wholly in the padding) carried no gradient: it
        # reads 0 (take_along_axis would fill it with NaN).
        flat = idx.reshape(n, oh * ow, c)
        inside = (flat >= 0) & (flat < h * w)
        taken = jnp.take_along_axis(ct.reshape(n, h * w, c), jnp.clip(flat, 0, h * w - 1), axis=1)
        return jnp.where(inside, taken, jnp.zeros((), taken.dtype)).reshape(oshape), None

    f = jax.custom_vjp(scatter)
    f.defvjp(fwd, bwd)
    return _jit(f)


@functools.lru_cache(maxsize=1024)
def _avg_adjoint_fn(
    win: _Window,
    cip: bool,
    div: int | None,
    shape: tuple[int, ...],
    dtype: np.dtype[Any],
    x64: bool,
    in_place: bool,
) -> Callable[[jax.Array], jax.Array]:
    """g -> the average pool's input gradient."""
    x_struct = _struct(shape, dtype)
    host = functools.partial(_avg_bwd_host, win=win, cip=cip, div=div, base_shape=shape)

    def adjoint(g: jax.Array) -> jax.Array:
        gi: jax.Array = _callback(in_place, host, x_struct, g)
        return gi

    def fwd(g: jax.Array) -> tuple[jax.Array, None]:
        return adjoint(g), None

    def bwd(_: None, ct: jax.Array) -> tuple[jax.Array]:
        return (_avg_fn(win, cip, div, shape, dtype, x64, in_place)(ct.astype(dtype)),)

    f = jax.custom_vjp(adjoint)
    f.defvjp(fwd, bwd)
    return _jit(f)


# --------------------------------------------------------------------------------------------
# Public functions


def max_pool2d(
    x: Any,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    *,
    dilation: Any = 1,
    ceil_mode: bool = False,
) -> jax.Array:
    """2-D max pooling of a channels-last JAX array; see :func:`nhwcpool.max_pool2d`.

    Differentiable (the gradient goes to the first maximum of each window in row-major
    order, as the forward's indices say; overlapping windows add up), jit-able and vmap-able.
    """
    win = _window(kernel_size, stride, padding, dilation, ceil_mode)
    a = _as_array(x)
    _check_x(a)
    return _max_fn(win, tuple(a.shape), np.dtype(a.dtype), _in_place())(a)


def avg_pool2d(
    x: Any,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    *,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> jax.Array:
    """2-D average pooling of a channels-last JAX array; see :func:`nhwcpool.avg_pool2d`.

    Float inputs keep their dtype; integer inputs give JAX's default float dtype.
    The gradient spreads each output's cotangent over the cells its divisor counted.
    """
    win = _window(kernel_size, stride, padding, 1, ceil_mode)
    cip = _api._flag(count_include_pad, "count_include_pad")
    div = None
    if divisor_override is not None:
        div = _api._int(divisor_override, "divisor_override")
        if div == 0:
            msg = "divisor_override must be a nonzero integer, got 0"
            raise ValueError(msg)
    a = _as_array(x)
    _check_x(a)
    return _avg_fn(win, cip, div, tuple(a.shape), np.dtype(a.dtype), _x64(), _in_place())(a)
