"""Gradients of the pooling functions and max unpooling, on NHWC NumPy arrays.

The hyperparameters go through the forward's normalisation (``_api._window`` and friends) and
the C++ core computes the windows with the forward's own tables (``cpp/src/shape.cpp``), so a
gradient always matches the forward call with the same arguments.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from . import _core
from ._api import IntOrPair, Padding, _array, _divisor, _flag, _int, _window

__all__ = ["avg_pool2d_backward", "max_pool2d_backward", "max_unpool2d"]

_INT64_MAX = 2**63 - 1


def _native(a: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """``a`` itself when C-contiguous, aligned and native; else a copy that is."""
    if a.flags.c_contiguous and a.flags.aligned and a.dtype.isnative:
        return a
    return np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("="))


def _ndim(a: np.ndarray[Any, Any], name: str) -> None:
    if not 2 <= a.ndim <= 4:
        msg = f"{name} must have 2 (H, W), 3 (H, W, C) or 4 (N, H, W, C) dimensions, got {a.ndim}"
        raise ValueError(msg)


def _grad(grad_output: Any) -> np.ndarray[Any, Any]:
    a = _array(grad_output, "grad_output")
    if a.dtype.kind != "f" or a.dtype.itemsize not in (2, 4, 8):
        msg = f"grad_output must have dtype float16, float32 or float64, got {a.dtype}"
        raise TypeError(msg)
    _ndim(a, "grad_output")
    return _native(a)


def _indices(indices: Any) -> np.ndarray[Any, Any]:
    a = _array(indices, "indices")
    if a.dtype.kind not in "iu":
        msg = (
            "indices must be an integer array (int64, as max_pool2d(..., return_indices=True) "
            f"returns), got dtype {a.dtype}"
        )
        raise TypeError(msg)
    if a.dtype.kind == "u" and a.dtype.itemsize == 8 and a.size and int(a.max()) > _INT64_MAX:
        msg = f"indices must lie in [0, H*W) of their (n, c) plane, got {int(a.max())}"
        raise ValueError(msg)
    if a.dtype != np.int64:
        return np.ascontiguousarray(a, dtype=np.int64)
    return _native(a)


def _shape(input_shape: Any, name: str) -> list[int]:
    if not isinstance(input_shape, (tuple, list)):
        msg = f"{name} must be a tuple of ints, got {type(input_shape).__name__}"
        raise TypeError(msg)
    return [_int(v, name) for v in input_shape]


def max_pool2d_backward(
    grad_output: npt.ArrayLike,
    indices: npt.ArrayLike,
    input_shape: Sequence[int],
    *,
    out: np.ndarray[Any, Any] | None = None,
    ignore_outside: bool = False,
) -> np.ndarray[Any, Any]:
    """Gradient of :func:`max_pool2d` with respect to its input.

    Parameters
    ----------
    grad_output : array_like, float16/32/64, shape (OH, OW), (OH, OW, C) or (N, OH, OW, C)
        Gradient of the loss with respect to the pooled output (any memory layout).
    indices : array_like of int64, the shape of ``grad_output``
        The indices ``max_pool2d(x, ..., return_indices=True)`` returned: ``y * W + x`` of each
        window's maximum inside its (n, c) plane.
    input_shape : tuple of ints
        Shape of the forward's input ``x``: (H, W), (H, W, C) or (N, H, W, C), as many entries
        as ``grad_output`` has dimensions, with its N and C.
    out : ndarray, optional
        C-contiguous, writeable array of ``input_shape`` and ``grad_output``'s dtype, not
        overlapping ``grad_output`` or ``indices``.
    ignore_outside : bool, default False
        Skip indices outside ``[0, H*W)`` instead of raising. :func:`max_pool2d` gives such an
        index (PyTorch's, computed from the window's corner) to a window lying wholly in the
        padding, which only dilation makes possible; that output is ``-inf`` whatever the
        input, so its gradient is zero and skipping it is exact. The framework bridges set it
        (their indices always come from :func:`max_pool2d`); PyTorch's own kernel writes such
        a gradient outside its plane.

    Returns
    -------
    ndarray of ``input_shape``, ``grad_output``'s dtype
        Each output's gradient added to the input cell its index names (overlapping windows add
        up, in output order as PyTorch's CPU kernel: equal results in float32/float64); 0 where
        no index points. float16 sums in float32 and rounds once. Deterministic for any thread
        count. An index outside ``[0, H*W)`` raises ValueError (unless ``ignore_outside``).
    """
    g = _grad(grad_output)
    idx = _indices(indices)
    return _core.max_pool2d_backward(
        g, idx, _shape(input_shape, "input_shape"), out, _flag(ignore_outside, "ignore_outside")
    )


def avg_pool2d_backward(
    grad_output: npt.ArrayLike,
    input_shape: Sequence[int],
    kernel_size: IntOrPair,
    stride: IntOrPair | None = None,
    padding: Padding = 0,
    *,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
    out: np.ndarray[Any, Any] | None = None,
) -> np.ndarray[Any, Any]:
    """Gradient of :func:`avg_pool2d` with respect to its input.

    ``kernel_size``, ``stride``, ``padding`` (every form the forward takes), ``ceil_mode``,
    ``count_include_pad`` and ``divisor_override`` are the forward's; ``grad_output`` must have
    the shape ``avg_pool2d`` returns for an input of ``input_shape`` (float16/32/64, any
    layout). Each output's gradient, divided by its window's divisor exactly as the forward
    divides (padded cells counted only with numeric padding and ``count_include_pad``; never
    with "same"), goes to every in-range cell of the window. Sums run in PyTorch's order
    (float16 in float32); deterministic for any thread count. ``out`` as for
    :func:`max_pool2d_backward`.
    """
    g = _grad(grad_output)
    shape = _shape(input_shape, "input_shape")
    kh, kw, sh, sw, mode, pt, pb, pl, pr = _window(kernel_size, stride, padding)
    div = _divisor(divisor_override)
    return _core.avg_pool2d_backward(
        g,
        shape,
        kh,
        kw,
        sh,
        sw,
        pt,
        pb,
        pl,
        pr,
        _flag(ceil_mode, "ceil_mode"),
        mode,
        _flag(count_include_pad, "count_include_pad"),
        div,
        out,
    )


def max_unpool2d(
    x: npt.ArrayLike,
    indices: npt.ArrayLike,
    output_size: Sequence[int],
    *,
    out: np.ndarray[Any, Any] | None = None,
) -> np.ndarray[Any, Any]:
    """PyTorch's ``max_unpool2d`` on NHWC arrays: the inverse placement of :func:`max_pool2d`.

    ``x`` (OH, OW), (OH, OW, C) or (N, OH, OW, C), any dtype the forward takes; ``indices`` of
    its shape (int64, as ``max_pool2d(..., return_indices=True)`` returns); ``output_size`` =
    (H, W). Returns zeros of x's shape with (H, W) spatial axes, and each value of ``x`` at the
    cell its index names (repeated indices: the last in row-major order wins, as PyTorch's CPU
    kernel). An index outside ``[0, H*W)`` raises ValueError. ``out``: C-contiguous, writeable,
    of the result's shape and dtype, not overlapping ``x`` or ``indices``.
    """
    a = _array(x)
    if a.dtype.kind not in "fiu":
        msg = (
            f"x has unsupported dtype {a.dtype}; supported dtypes are: float16, float32, float64, "
            "int8, uint8, int16, uint16, int32, int64, uint32, uint64"
        )
        raise TypeError(msg)
    _ndim(a, "x")
    idx = _indices(indices)
    if not isinstance(output_size, (tuple, list)) or len(output_size) != 2:
        msg = f"output_size must be a pair (H, W), got {output_size!r}"
        raise ValueError(msg)
    size = [_int(output_size[0], "output_size[0]"), _int(output_size[1], "output_size[1]")]
    return _core.max_unpool2d(_native(a), idx, size, out)
