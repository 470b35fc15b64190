"""PyTorch bridge: nhwcpool's pooling as autograd-aware, torch.compile-able PyTorch operators.

>>> import torch, nhwcpool.torch as npt                      # doctest: +SKIP
>>> x = torch.randn(8, 64, 56, 56).to(memory_format=torch.channels_last).requires_grad_()
>>> y = npt.max_pool2d(x, 3, 2, 1)                          # like torch.nn.functional.max_pool2d
>>> y.sum().backward()                                       # x.grad from nhwcpool's backward
>>> model = npt.replace_pooling(model)                       # nn.MaxPool2d/AvgPool2d/... swapped

Tensors are NCHW-shaped, (N, C, H, W) or (C, H, W), as in ``torch.nn.functional``. A
channels_last tensor is read in place (``x.permute(0, 2, 3, 1)`` is then an NHWC-contiguous
array that NumPy sees without a copy); a contiguous NCHW tensor is read as planes (max, and
integer averages) or transposed by the C++ core first (float averages). Results, indices and
gradients come back in channels_last memory format.

Every operator is a ``torch.library.custom_op`` (namespace ``nhwcpool``) with a fake (meta)
kernel and an autograd formula, so ``torch.autograd.gradcheck`` and
``torch.compile(fullgraph=True)`` work; the backward operators are custom ops too, with their
own (linear) derivatives, so double backward works.

Threads: nhwcpool keeps its own thread count (``nhwcpool.set_num_threads``; default
``OMP_NUM_THREADS`` or the CPUs available), independent of ``torch.set_num_threads``. The
GIL is released while the C++ kernels run. See the README, "Use it in training".

Importing ``nhwcpool`` never imports torch; importing ``nhwcpool.torch`` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import numpy as np
import torch

import nhwcpool

__all__ = [
    "AvgPool2d",
    "GlobalAvgPool2d",
    "MaxPool2d",
    "PoolingError",
    "avg_pool2d",
    "global_avg_pool2d",
    "max_pool2d",
    "replace_pooling",
]

Tensor = torch.Tensor

_FLOATS = (torch.float16, torch.float32, torch.float64)
_INTS = (
    torch.int8,
    torch.uint8,
    torch.int16,
    torch.uint16,
    torch.int32,
    torch.uint32,
    torch.int64,
    torch.uint64,
)
_SUPPORTED = "float16, float32, float64 (max also int8/16/32/64, uint8/16/32/64, without gradients)"


class PoolingError(ValueError, RuntimeError):
    """Bad pooling arguments. A ValueError (nhwcpool's convention) that is also a RuntimeError,
    the class torch.nn.functional raises for the same mistakes, so code written for either
    catches it."""


# --------------------------------------------------------------------------------------------
# Argument normalisation, with torch.nn.functional's rules and messages (pure Python: it is
# traced by torch.compile, so it must not call into the extension)


def _ints(value: Any, name: str, default: list[int] | None = None) -> list[int]:
    if value is None or (isinstance(value, (tuple, list)) and len(value) == 0 and default is not None):
        if default is None:
            msg = f"{name} must be an int or a pair of ints, got None"
            raise TypeError(msg)
        return list(default)
    if isinstance(value, (tuple, list, torch.Size)):
        if len(value) == 1:
            value = (value[0], value[0])
        if len(value) != 2:
            msg = f"{name} must be a single int, or a tuple of two ints, got {tuple(value)!r}"
            raise PoolingError(msg)
        out = [_int(v, name) for v in value]
    else:
        out = [_int(value, name)] * 2
    return out


def _int(v: Any, name: str) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, torch.SymInt)):
        msg = f"{name} must be an int or a pair of ints, got {type(v).__name__} {v!r}"
        raise TypeError(msg)
    return v  # type: ignore[return-value]


def _check_input(x: Any, op: str, allow_int: bool) -> None:
    if not isinstance(x, torch.Tensor):
        msg = f"{op}: input must be a torch.Tensor, got {type(x).__name__}"
        raise TypeError(msg)
    if x.device.type != "cpu":
        msg = f"{op}: nhwcpool pools CPU tensors; input is on {x.device}"
        raise PoolingError(msg)
    if x.layout != torch.strided:
        msg = f"{op}: input must be a dense (strided) tensor, got layout {x.layout}"
        raise TypeError(msg)
    if x.dtype not in _FLOATS and not (allow_int and x.dtype in _INTS):
        supported = _SUPPORTED if allow_int else "float16, float32, float64"
        msg = f"{op}: input has unsupported dtype {x.dtype}; supported: {supported}"
        if not allow_int and x.dtype in _INTS:
            msg += (
                " (torch truncates integer averages, nhwcpool rounds them: call "
                "nhwcpool.avg_pool2d on the NHWC array for its integer average)"
            )
        raise TypeError(msg)
    if x.dim() not in (3, 4) or any(s == 0 for s in x.shape[1:]):
        msg = (
            f"{op}: Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size for input, "
            f"but got: {tuple(x.shape)}"
        )
        raise PoolingError(msg)


def _check_window(kernel: list[int], stride: list[int], padding: list[int], dilation: list[int]) -> None:
    if kernel[0] <= 0 or kernel[1] <= 0:
        msg = f"kernel_size should be greater than zero, but got kH: {kernel[0]} kW: {kernel[1]}"
        raise PoolingError(msg)
    if stride[0] <= 0 or stride[1] <= 0:
        msg = f"stride should be greater than zero, but got dH: {stride[0]} dW: {stride[1]}"
        raise PoolingError(msg)
    if dilation[0] <= 0 or dilation[1] <= 0:
        msg = (
            f"dilation should be greater than zero, but got dilationH: {dilation[0]} dilationW: {dilation[1]}"
        )
        raise PoolingError(msg)
    if padding[0] < 0 or padding[1] < 0:
        msg = f"pad must be non-negative, but got padH: {padding[0]} padW: {padding[1]}"
        raise PoolingError(msg)
    # PyTorch's limit: half the kernel size (nhwcpool's own limit, half the effective kernel,
    # is looser with dilation). The bridge keeps torch's so the two accept the same calls.
    if kernel[1] // 2 < padding[1] or kernel[0] // 2 < padding[0]:
        msg = (
            "pad should be at most half of kernel size, but got "
            f"padH = {padding[0]}, padW = {padding[1]}, kH = {kernel[0]}, kW = {kernel[1]}"
        )
        raise PoolingError(msg)


def _flag(value: Any, name: str) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    msg = f"{name} must be a bool, got {type(value).__name__} {value!r}"
    raise TypeError(msg)


# --------------------------------------------------------------------------------------------
# NCHW tensor <-> NHWC array (no copy for channels_last tensors and for the results)


def _nhwc(t: Tensor) -> np.ndarray[Any, Any]:
    """The NHWC view of an (N, C, H, W) tensor, as a NumPy array sharing its memory."""
    return t.detach().permute(0, 2, 3, 1).numpy()


def _nchw(a: np.ndarray[Any, Any]) -> Tensor:
    """An NHWC result as an (N, C, H, W) channels_last tensor sharing its memory."""
    if a.size == 0:  # NumPy's strides of an empty array are not channels_last's
        n, h, w, c = a.shape
        return torch.empty((n, c, h, w), dtype=torch.from_numpy(a).dtype, memory_format=torch.channels_last)
    return torch.from_numpy(a).permute(0, 3, 1, 2)


def _p(v: Sequence[int]) -> tuple[int, int]:
    return v[0], v[1]


def _empty_cl(shape: Sequence[Any], like: Tensor, dtype: torch.dtype | None = None) -> Tensor:
    return torch.empty(
        tuple(shape),
        dtype=like.dtype if dtype is None else dtype,
        device=like.device,
        memory_format=torch.channels_last,
    )


def _out_hw(
    h: Any,
    w: Any,
    kernel: list[int],
    stride: list[int],
    padding: list[int],
    dilation: list[int],
    ceil_mode: bool,
) -> tuple[int, int]:
    # nhwcpool.output_size is the one definition of the window arithmetic (it raises
    # ValueError when the window does not fit: re-raised with PyTorch's wording).
    try:
        oh = nhwcpool.output_size(int(h), kernel[0], stride[0], padding[0], dilation[0], ceil_mode)
        ow = nhwcpool.output_size(int(w), kernel[1], stride[1], padding[1], dilation[1], ceil_mode)
    except ValueError as exc:
        msg = f"Given input size: ({h}x{w}). Output size is too small: {exc}"
        raise PoolingError(msg) from None
    return oh, ow


# --------------------------------------------------------------------------------------------
# Forward operators


@torch.library.custom_op("nhwcpool::max_pool2d", mutates_args=(), device_types="cpu")
def _max_op(
    x: Tensor,
    kernel_size: list[int],
    stride: list[int],
    padding: list[int],
    dilation: list[int],
    ceil_mode: bool,
) -> Tensor:
    _out_hw(x.shape[2], x.shape[3], kernel_size, stride, padding, dilation, ceil_mode)
    y = nhwcpool.max_pool2d(
        _nhwc(x), _p(kernel_size), _p(stride), _p(padding), dilation=_p(dilation), ceil_mode=ceil_mode
    )
    return _nchw(y)


@_max_op.register_fake
def _(x, kernel_size, stride, padding, dilation, ceil_mode):  # type: ignore[no-untyped-def]
    oh, ow = _out_hw(x.shape[2], x.shape[3], kernel_size, stride, padding, dilation, ceil_mode)
    return _empty_cl((x.shape[0], x.shape[1], oh, ow), x)


@torch.library.custom_op("nhwcpool::max_pool2d_with_indices", mutates_args=(), device_types="cpu")
def _max_idx_op(
    x: Tensor,
    kernel_size: list[int],
    stride: list[int],
    padding: list[int],
    dilation: list[int],
    ceil_mode: bool,
) -> tuple[Tensor, Tensor]:
    _out_hw(x.shape[2], x.shape[3], kernel_size, stride, padding, dilation, ceil_mode)
    y, i = nhwcpool.max_pool2d(
        _nhwc(x),
        _p(kernel_size),
        _p(stride),
        _p(padding),
        dilation=_p(dilation),
        ceil_mode=ceil_mode,
        return_indices=True,
    )
    return _nchw(y), _nchw(i)


@_max_idx_op.register_fake
def _(x, kernel_size, stride, padding, dilation, ceil_mode):  # type: ignore[no-untyped-def]
    oh, ow = _out_hw(x.shape[2], x.shape[3], kernel_size, stride, padding, dilation, ceil_mode)
    shape = (x.shape[0], x.shape[1], oh, ow)
    return _empty_cl(shape, x), _empty_cl(shape, x, torch.int64)


@torch.library.custom_op("nhwcpool::avg_pool2d", mutates_args=(), device_types="cpu")
def _avg_op(
    x: Tensor,
    kernel_size: list[int],
    stride: list[int],
    padding: list[int],
    ceil_mode: bool,
    count_include_pad: bool,
    divisor_override: int | None,
) -> Tensor:
    _out_hw(x.shape[2], x.shape[3], kernel_size, stride, padding, [1, 1], ceil_mode)
    y = nhwcpool.avg_pool2d(
        _nhwc(x),
        _p(kernel_size),
        _p(stride),
        _p(padding),
        ceil_mode=ceil_mode,
        count_include_pad=count_include_pad,
        divisor_override=divisor_override,
    )
    return _nchw(y)


@_avg_op.register_fake
def _(x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):  # type: ignore[no-untyped-def]  # noqa: ARG001
    oh, ow = _out_hw(x.shape[2], x.shape[3], kernel_size, stride, padding, [1, 1], ceil_mode)
    return _empty_cl((x.shape[0], x.shape[1], oh, ow), x)


# --------------------------------------------------------------------------------------------
# Backward operators (the NumPy-level backward of nhwcpool, NHWC), themselves differentiable:
# both are linear in the incoming gradient, so their derivative is the forward's adjoint.


@torch.library.custom_op("nhwcpool::max_pool2d_backward", mutates_args=(), device_types="cpu")
def _max_bwd_op(grad_output: Tensor, indices: Tensor, input_shape: list[int]) -> Tensor:
    n, c, h, w = input_shape
    # ignore_outside: a window wholly in the padding (dilation) has output -inf and an index
    # outside its plane (PyTorch's); its gradient is zero (PyTorch's kernel writes it out of bounds).
    g = nhwcpool.max_pool2d_backward(_nhwc(grad_output), _nhwc(indices), (n, h, w, c), ignore_outside=True)
    return _nchw(g)


@_max_bwd_op.register_fake
def _(grad_output, indices, input_shape):  # type: ignore[no-untyped-def]  # noqa: ARG001
    return _empty_cl(input_shape, grad_output)


@torch.library.custom_op("nhwcpool::avg_pool2d_backward", mutates_args=(), device_types="cpu")
def _avg_bwd_op(
    grad_output: Tensor,
    input_shape: list[int],
    kernel_size: list[int],
    stride: list[int],
    padding: list[int],
    ceil_mode: bool,
    count_include_pad: bool,
    divisor_override: int | None,
) -> Tensor:
    n, c, h, w = input_shape
    g = nhwcpool.avg_pool2d_backward(
        _nhwc(grad_output),
        (n, h, w, c),
        _p(kernel_size),
        _p(stride),
        _p(padding),
        ceil_mode=ceil_mode,
        count_include_pad=count_include_pad,
        divisor_override=divisor_override,
    )
    return _nchw(g)


@_avg_bwd_op.register_fake
def _(grad_output, input_shape, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):  # type: ignore[no-untyped-def]  # noqa: ARG001
    return _empty_cl(input_shape, grad_output)


# --------------------------------------------------------------------------------------------
# Autograd formulas


def _max_setup(ctx: Any, inputs: tuple[Any, ...], output: tuple[Tensor, Tensor]) -> None:
    x = inputs[0]
    ctx.input_shape = list(x.shape)
    ctx.save_for_backward(output[1])  # int64 indices: 8 bytes per output element
    ctx.mark_non_differentiable(output[1])
    # No zero-filled gradient for the indices output (it cost a fill of 8 bytes per output
    # element, a third of the backward's time): unused outputs' gradients arrive as None.
    ctx.set_materialize_grads(False)


def _max_backward(ctx: Any, grad_output: Tensor | None, _grad_indices: Any) -> tuple[Any, ...]:
    (indices,) = ctx.saved_tensors
    if grad_output is None:
        return None, None, None, None, None, None
    return _max_bwd_op(grad_output, indices, ctx.input_shape), None, None, None, None, None


_max_idx_op.register_autograd(_max_backward, setup_context=_max_setup)


def _max_bwd_setup(ctx: Any, inputs: tuple[Any, ...], output: Tensor) -> None:  # noqa: ARG001
    ctx.save_for_backward(inputs[1])


def _max_bwd_backward(ctx: Any, grad: Tensor) -> tuple[Any, ...]:
    # d(grad_input)/d(grad_output) routes each output's gradient to its argmax; its adjoint
    # reads the argmax cell back: a gather over each (n, c) plane.
    # Indices outside the plane (windows wholly in the padding) carried no gradient: read 0.
    (indices,) = ctx.saved_tensors
    n, c = indices.shape[0], indices.shape[1]
    plane = grad.shape[2] * grad.shape[3]
    idx = indices.reshape(n, c, -1)
    inside = (idx >= 0) & (idx < plane)
    flat = grad.reshape(n, c, -1).gather(2, idx.clamp(0, max(plane - 1, 0)))
    flat = torch.where(inside, flat, torch.zeros((), dtype=flat.dtype))
    return flat.reshape(indices.shape), None, None


_max_bwd_op.register_autograd(_max_bwd_backward, setup_context=_max_bwd_setup)


def _avg_setup(ctx: Any, inputs: tuple[Any, ...], output: Tensor) -> None:  # noqa: ARG001
    x, kernel, stride, padding, ceil_mode, count_include_pad, divisor = inputs
    # Only shapes and hyperparameters: average pooling's backward needs no tensor.
    ctx.args = (list(x.shape), kernel, stride, padding, ceil_mode, count_include_pad, divisor)


def _avg_backward(ctx: Any, grad_output: Tensor) -> tuple[Any, ...]:
    return _avg_bwd_op(grad_output, *ctx.args), None, None, None, None, None, None


_avg_op.register_autograd(_avg_backward, setup_context=_avg_setup)


def _avg_bwd_setup(ctx: Any, inputs: tuple[Any, ...], output: Tensor) -> None:  # noqa: ARG001
    ctx.args = inputs[2:]


def _avg_bwd_backward(ctx: Any, grad: Tensor) -> tuple[Any, ...]:
    # The backward spreads with the forward's weights; its adjoint is the forward itself.
    return _avg_op(grad, *ctx.args), None, None, None, None, None, None, None


_avg_bwd_op.register_autograd(_avg_bwd_backward, setup_context=_avg_bwd_setup)


# --------------------------------------------------------------------------------------------
# Functions with torch.nn.functional's signatures


def _batched(x: Tensor) -> tuple[Tensor, bool]:
    return (x.unsqueeze(0), True) if x.dim() == 3 else (x, False)


def max_pool2d(
    input: Tensor,
    kernel_size: int | Sequence[int],
    stride: int | Sequence[int] | None = None,
    padding: int | Sequence[int] = 0,
    dilation: int | Sequence[int] = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """``torch.nn.functional.max_pool2d`` computed by nhwcpool (same arguments and results).

    Returns a channels_last tensor, and with ``return_indices`` int64 indices ``y * W + x``
    within each (n, c) plane (PyTorch's convention, usable by ``F.max_unpool2d``). Floats
    are differentiable (the indices are saved for the backward: 8 bytes per output element);
    integer dtypes are supported without gradients.
    """
    _check_input(input, "max_pool2d", allow_int=True)
    k = _ints(kernel_size, "kernel_size")
    s = _ints(stride, "stride", default=k)
    p = _ints(padding, "padding")
    d = _ints(dilation, "dilation")
    ceil = _flag(ceil_mode, "ceil_mode")
    want = _flag(return_indices, "return_indices")
    _check_window(k, s, p, d)
    x, batched = _batched(input)
    if want or (torch.is_grad_enabled() and input.requires_grad):
        y, i = cast("tuple[Tensor, Tensor]", _max_idx_op(x, k, s, p, d, ceil))
        if batched:
            y, i = y.squeeze(0), i.squeeze(0)
        return (y, i) if want else y
    y = cast("Tensor", _max_op(x, k, s, p, d, ceil))
    return y.squeeze(0) if batched else y


def avg_pool2d(
    input: Tensor,
    kernel_size: int | Sequence[int],
    stride: int | Sequence[int] | None = None,
    padding: int | Sequence[int] = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    """``torch.nn.functional.avg_pool2d`` computed by nhwcpool (float16/32/64, channels_last
    result). Equal to PyTorch's up to the last-bit differences described in the README
    (float32 windows of up to 64 cells sum in PyTorch's order)."""
    _check_input(input, "avg_pool2d", allow_int=False)
    k = _ints(kernel_size, "kernel_size")
    s = _ints(stride, "stride", default=k)
    p = _ints(padding, "padding")
    ceil = _flag(ceil_mode, "ceil_mode")
    cip = _flag(count_include_pad, "count_include_pad")
    div = None
    if divisor_override is not None:
        div = _int(divisor_override, "divisor_override")
        if div == 0:
            msg = "divisor must be not zero"
            raise PoolingError(msg)
    _check_window(k, s, p, [1, 1])
    x, batched = _batched(input)
    y = cast("Tensor", _avg_op(x, k, s, p, ceil, cip, div))
    return y.squeeze(0) if batched else y


def global_avg_pool2d(input: Tensor) -> Tensor:
    """``torch.nn.functional.adaptive_avg_pool2d(input, 1)``: the mean of each (n, c) plane,
    shape (N, C, 1, 1) or (C, 1, 1), differentiable."""
    _check_input(input, "global_avg_pool2d", allow_int=False)
    x, batched = _batched(input)
    hw = [x.shape[2], x.shape[3]]
    y = cast("Tensor", _avg_op(x, hw, hw, [0, 0], False, True, None))
    return y.squeeze(0) if batched else y


# --------------------------------------------------------------------------------------------
# Modules


class MaxPool2d(torch.nn.MaxPool2d):
    """``torch.nn.MaxPool2d`` (same constructor, attributes and repr) computed by nhwcpool."""

    def forward(self, input: Tensor) -> Any:
        return max_pool2d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            self.ceil_mode,
            self.return_indices,
        )


class AvgPool2d(torch.nn.AvgPool2d):
    """``torch.nn.AvgPool2d`` (same constructor, attributes and repr) computed by nhwcpool."""

    def forward(self, input: Tensor) -> Tensor:
        return avg_pool2d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            self.divisor_override,
        )


def _is_global(output_size: Any) -> bool:
    if isinstance(output_size, (tuple, list)):
        return len(output_size) == 2 and all(v == 1 and not isinstance(v, bool) for v in output_size)
    return output_size == 1 and not isinstance(output_size, bool)


class GlobalAvgPool2d(torch.nn.AdaptiveAvgPool2d):
    """``torch.nn.AdaptiveAvgPool2d(1)`` (global average pooling) computed by nhwcpool."""

    def __init__(self, output_size: Any = 1) -> None:
        if not _is_global(output_size):
            msg = f"GlobalAvgPool2d only computes output_size 1 or (1, 1), got {output_size!r}"
            raise PoolingError(msg)
        super().__init__(output_size)

    def forward(self, input: Tensor) -> Tensor:
        return global_avg_pool2d(input)


def _replacement(m: torch.nn.Module) -> torch.nn.Module | None:
    t = type(m)
    new: torch.nn.Module
    if t is torch.nn.MaxPool2d:
        assert isinstance(m, torch.nn.MaxPool2d)
        new = MaxPool2d(m.kernel_size, m.stride, m.padding, m.dilation, m.return_indices, m.ceil_mode)
    elif t is torch.nn.AvgPool2d:
        assert isinstance(m, torch.nn.AvgPool2d)
        new = AvgPool2d(
            m.kernel_size, m.stride, m.padding, m.ceil_mode, m.count_include_pad, m.divisor_override
        )
    elif t is torch.nn.AdaptiveAvgPool2d and _is_global(m.output_size):
        new = GlobalAvgPool2d(m.output_size)
    else:
        return None
    new.train(m.training)
    return new


def replace_pooling(module: torch.nn.Module) -> torch.nn.Module:
    """Swap every ``torch.nn.MaxPool2d``, ``torch.nn.AvgPool2d`` and global
    ``torch.nn.AdaptiveAvgPool2d(1)`` inside ``module`` (recursively, in place) for
    nhwcpool's, and return ``module``. Exact instances only: subclasses (which may override
    ``forward``) and other adaptive sizes are left alone. A bare pooling module passed as
    ``module`` itself cannot be replaced in place: its replacement is returned."""
    if not isinstance(cast("Any", module), torch.nn.Module):
        msg = f"module must be a torch.nn.Module, got {type(module).__name__}"
        raise TypeError(msg)
    top = _replacement(module)
    if top is not None:
        return top
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            new = _replacement(child)
            if new is not None:
                setattr(parent, name, new)
    return module
