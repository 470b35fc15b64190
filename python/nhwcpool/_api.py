"""Argument normalisation and documentation for the public functions.

This layer only turns Python arguments into plain integers, pairs and arrays; every size,
padding and window rule is computed (and checked) once, in the C++ core (``cpp/src/shape.cpp``).
"""

from __future__ import annotations

import operator
import os
import sys
import warnings
from typing import Any, Literal, Union, overload

import numpy as np
import numpy.typing as npt

from . import _core

__all__ = [
    "avg_pool2d",
    "get_num_threads",
    "global_avg_pool2d",
    "global_max_pool2d",
    "max_pool2d",
    "output_shape",
    "output_size",
    "set_num_threads",
    "show_config",
]

IntOrPair = Union[int, tuple[int, int]]
Padding = Union[int, tuple[int, int], tuple[tuple[int, int], tuple[int, int]], str]
DTypeLike = npt.DTypeLike

_SUPPORTED_DTYPES = tuple(
    np.dtype(t)
    for t in (
        np.float16,
        np.float32,
        np.float64,
        np.int8,
        np.uint8,
        np.int16,
        np.uint16,
        np.int32,
        np.int64,
        np.uint32,
        np.uint64,
    )
)
_SUPPORTED_NAMES = ", ".join(d.name for d in _SUPPORTED_DTYPES)
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_TooHardError = getattr(np, "exceptions", np).TooHardError
_PADDING_FORMS = "an int, a pair (ph, pw), ((top, bottom), (left, right)), 'valid' or 'same'"


# --------------------------------------------------------------------------------------------
# Scalars and pairs


def _int(value: Any, name: str) -> int:
    if isinstance(value, (bool, np.bool_)):
        msg = f"{name} must be an integer, got the bool {value!r}"
        raise TypeError(msg)
    try:
        i = operator.index(value)
    except TypeError:
        msg = f"{name} must be an integer, got {type(value).__name__} {value!r}"
        raise TypeError(msg) from None
    if not _INT64_MIN <= i <= _INT64_MAX:
        msg = f"{name} must fit in a signed 64-bit integer, got {i}"
        raise ValueError(msg)
    return i


def _pair(value: Any, name: str) -> tuple[int, int]:
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            msg = f"{name} must be an int or a pair (h, w), got {len(value)} values: {value!r}"
            raise ValueError(msg)
        return _int(value[0], f"{name}[0]"), _int(value[1], f"{name}[1]")
    i = _int(value, name)
    return i, i


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        msg = f"{name} must be a bool, got {type(value).__name__} {value!r}"
        raise TypeError(msg)
    return bool(value)


def _padding(padding: Any) -> tuple[str, tuple[int, int, int, int]]:
    """Return (mode, (top, bottom, left, right)); mode is 'explicit', 'valid' or 'same'."""
    if isinstance(padding, str):
        mode = padding.lower()
        if mode not in ("valid", "same"):
            msg = f"padding must be {_PADDING_FORMS}; got the unknown string {padding!r}"
            raise ValueError(msg)
        return mode, (0, 0, 0, 0)
    if isinstance(padding, (tuple, list)):
        if len(padding) != 2:
            msg = f"padding must be {_PADDING_FORMS}; got {len(padding)} values: {padding!r}"
            raise ValueError(msg)
        a, b = padding
        if isinstance(a, (tuple, list)) or isinstance(b, (tuple, list)):
            t, bo = _pair_strict(a, "padding[0]")
            le, r = _pair_strict(b, "padding[1]")
            return "explicit", (t, bo, le, r)
        ph, pw = _int(a, "padding[0]"), _int(b, "padding[1]")
        return "explicit", (ph, ph, pw, pw)
    p = _int(padding, "padding")
    return "explicit", (p, p, p, p)


def _pair_strict(value: Any, name: str) -> tuple[int, int]:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        msg = f"{name} must be a (begin, end) pair of ints, got {value!r}"
        raise ValueError(msg)
    return _int(value[0], f"{name}[0]"), _int(value[1], f"{name}[1]")


def _resolve_padding(
    mode: str,
    pads: tuple[int, int, int, int],
    hw: tuple[int, int],
    k: tuple[int, int],
    s: tuple[int, int],
    d: tuple[int, int],
) -> tuple[tuple[int, int, int, int], bool]:
    """Explicit per-side padding, and whether PyTorch's pad <= kernel/2 limit applies."""
    if mode == "same":
        pt, pb = _core.same_padding(hw[0], k[0], s[0], d[0])
        pl, pr = _core.same_padding(hw[1], k[1], s[1], d[1])
        return (pt, pb, pl, pr), False
    return pads, mode == "explicit"


# --------------------------------------------------------------------------------------------
# Arrays


def _check_dtype(dt: np.dtype[Any], name: str) -> None:
    if dt.kind not in "fiu" or dt.newbyteorder("=") not in _SUPPORTED_DTYPES:
        msg = f"{name} has unsupported dtype {dt}; supported dtypes are: {_SUPPORTED_NAMES}"
        raise TypeError(msg)


def _as_nhwc(x: Any) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Return (the array as given, a 4-D NHWC view whose (W, C) rows are contiguous)."""
    arr = np.asarray(x)
    _check_dtype(arr.dtype, "x")
    if arr.ndim not in (2, 3, 4):
        msg = (
            "x must have 2 (H, W), 3 (H, W, C) or 4 (N, H, W, C) dimensions, "
            f"got {arr.ndim} (shape {arr.shape})"
        )
        raise ValueError(msg)
    x4 = arr
    if not x4.dtype.isnative:
        x4 = x4.astype(x4.dtype.newbyteorder("="))
    if x4.ndim == 2:
        x4 = x4[None, :, :, None]
    elif x4.ndim == 3:
        x4 = x4[None]
    _, _, w, c = x4.shape
    isz = x4.itemsize
    rows_ok = (c <= 1 or x4.strides[3] == isz) and (w <= 1 or x4.strides[2] == c * isz)
    if not rows_ok or not x4.flags.aligned:
        x4 = np.array(x4, order="C", copy=True)
    return arr, x4


def _out_shape(ndim: int, n: int, oh: int, ow: int, c: int) -> tuple[int, ...]:
    if ndim == 4:
        return (n, oh, ow, c)
    if ndim == 3:
        return (oh, ow, c)
    return (oh, ow)


def _as_4d(a: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    if a.ndim == 2:
        return a[None, :, :, None]
    if a.ndim == 3:
        return a[None]
    return a


def _output(
    out: Any, shape: tuple[int, ...], dtype: np.dtype[Any], x: np.ndarray[Any, Any], name: str = "out"
) -> np.ndarray[Any, Any]:
    if out is None:
        return np.empty(shape, dtype=dtype)
    if not isinstance(out, np.ndarray):
        msg = f"{name} must be a numpy.ndarray, got {type(out).__name__}"
        raise TypeError(msg)
    if out.dtype != dtype:
        msg = f"{name} must have dtype {dtype} (native byte order), got {out.dtype}"
        raise TypeError(msg)
    if out.shape != shape:
        msg = f"{name} must have shape {shape}, got {out.shape}"
        raise ValueError(msg)
    if not out.flags.c_contiguous:
        msg = f"{name} must be C-contiguous"
        raise ValueError(msg)
    if not out.flags.writeable:
        msg = f"{name} must be writeable"
        raise ValueError(msg)
    if not out.flags.aligned:
        msg = f"{name} must be aligned"
        raise ValueError(msg)
    if out.size and x.size and np.may_share_memory(out, x):
        try:
            overlap = np.shares_memory(out, x, max_work=100_000)
        except _TooHardError:
            overlap = True
        if overlap:
            msg = f"{name} must not overlap the input x"
            raise ValueError(msg)
    return out


# --------------------------------------------------------------------------------------------
# Public functions


@overload
def max_pool2d(
    x: npt.ArrayLike,
    kernel_size: IntOrPair,
    stride: IntOrPair | None = ...,
    padding: Padding = ...,
    *,
    dilation: IntOrPair = ...,
    ceil_mode: bool = ...,
    return_indices: Literal[False] = ...,
    out: np.ndarray[Any, Any] | None = ...,
) -> np.ndarray[Any, Any]: ...
@overload
def max_pool2d(
    x: npt.ArrayLike,
    kernel_size: IntOrPair,
    stride: IntOrPair | None = ...,
    padding: Padding = ...,
    *,
    dilation: IntOrPair = ...,
    ceil_mode: bool = ...,
    return_indices: Literal[True],
    out: np.ndarray[Any, Any] | None = ...,
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]: ...
def max_pool2d(
    x: npt.ArrayLike,
    kernel_size: IntOrPair,
    stride: IntOrPair | None = None,
    padding: Padding = 0,
    *,
    dilation: IntOrPair = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
    out: np.ndarray[Any, Any] | None = None,
) -> np.ndarray[Any, Any] | tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """2-D max pooling over the H and W axes of a channels-last array.

    Parameters
    ----------
    x : array_like, shape (H, W), (H, W, C) or (N, H, W, C)
        Any of float16/32/64, int8/16/32/64, uint8/16/32/64. Any memory layout.
    kernel_size : int or (kh, kw)
        Window size f.
    stride : int or (sh, sw), optional
        Step s between windows; defaults to ``kernel_size`` (as PyTorch and Keras).
    padding : int, (ph, pw), ((top, bottom), (left, right)), "valid" or "same"
        Numeric padding follows PyTorch: each side at most half the effective kernel,
        padded cells never win. "same"/"valid" follow TensorFlow/Keras.
    dilation : int or (dh, dw)
        Spacing between window taps.
    ceil_mode : bool
        Round the output size up (PyTorch's rule: the last window must start inside the input
        or the begin padding).
    return_indices : bool
        Also return int64 indices ``y * W + x`` of each max within its (n, c) plane.
    out : ndarray, optional
        C-contiguous, writeable array of the output shape and dtype to write into.

    Returns
    -------
    ndarray, or (ndarray, ndarray of int64) when ``return_indices``.
        Output size per axis: ``floor((n + pad_begin + pad_end - dilation*(k-1) - 1) / s) + 1``.
        A window holding a NaN gives NaN; on ties the first tap in row-major order wins.
    """
    arr, x4 = _as_nhwc(x)
    k = _pair(kernel_size, "kernel_size")
    s = k if stride is None else _pair(stride, "stride")
    d = _pair(dilation, "dilation")
    mode, pads = _padding(padding)
    ceil = _flag(ceil_mode, "ceil_mode")
    want_idx = _flag(return_indices, "return_indices")
    n, h, w, c = x4.shape
    pads, limit = _resolve_padding(mode, pads, (h, w), k, s, d)
    oh, ow = _core.output_geometry(n, h, w, c, k, s, d, pads, ceil, limit)
    shape = _out_shape(arr.ndim, n, oh, ow, c)
    res = _output(out, shape, x4.dtype, arr)
    idx = np.empty(shape, dtype=np.int64) if want_idx else None
    _core.max_pool2d(x4, _as_4d(res), None if idx is None else _as_4d(idx), k, s, d, pads, ceil, limit)
    if idx is not None:
        return res, idx
    return res


def _avg_dtype(in_dtype: np.dtype[Any], dtype: Any) -> np.dtype[Any]:
    if dtype is None:
        return in_dtype if in_dtype.kind == "f" else np.dtype(np.float64)
    try:
        dt = np.dtype(dtype)
    except TypeError:
        msg = f"dtype must be a NumPy dtype; supported: {_SUPPORTED_NAMES}; got {dtype!r}"
        raise TypeError(msg) from None
    if dt not in _SUPPORTED_DTYPES:
        msg = f"dtype {dt} is not supported; supported dtypes are: {_SUPPORTED_NAMES}"
        raise TypeError(msg)
    return dt


def avg_pool2d(
    x: npt.ArrayLike,
    kernel_size: IntOrPair,
    stride: IntOrPair | None = None,
    padding: Padding = 0,
    *,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
    dtype: DTypeLike | None = None,
    out: np.ndarray[Any, Any] | None = None,
) -> np.ndarray[Any, Any]:
    """2-D average pooling over the H and W axes of a channels-last array.

    Parameters are as for :func:`max_pool2d`, plus:

    count_include_pad : bool
        With numeric padding, count padded cells in the divisor (PyTorch's default). The
        overhang that ``ceil_mode`` adds past the padding is never counted. ``padding="same"``
        always excludes padding (TensorFlow/Keras).
    divisor_override : int, optional
        Nonzero divisor used instead of the window's cell count.
    dtype : dtype, optional
        Output dtype. Default: the input dtype for floats; float64 for integers (like
        ``numpy.mean``; the sum is exact). Integer outputs are rounded half to even and clipped.
        float16 accumulates in float32; float32 and float64 accumulate in float64.
    """
    arr, x4 = _as_nhwc(x)
    k = _pair(kernel_size, "kernel_size")
    s = k if stride is None else _pair(stride, "stride")
    mode, pads = _padding(padding)
    ceil = _flag(ceil_mode, "ceil_mode")
    include = _flag(count_include_pad, "count_include_pad") and mode != "same"
    div = 0
    if divisor_override is not None:
        div = _int(divisor_override, "divisor_override")
        if div == 0:
            msg = "divisor_override must be a nonzero integer, got 0"
            raise ValueError(msg)
    out_dtype = _avg_dtype(x4.dtype, dtype)
    n, h, w, c = x4.shape
    pads, limit = _resolve_padding(mode, pads, (h, w), k, s, (1, 1))
    oh, ow = _core.output_geometry(n, h, w, c, k, s, (1, 1), pads, ceil, limit)
    shape = _out_shape(arr.ndim, n, oh, ow, c)
    res = _output(out, shape, out_dtype, arr)
    _core.avg_pool2d(x4, _as_4d(res), k, s, pads, ceil, include, div, limit)
    return res


def _global_shape(res4: np.ndarray[Any, Any], ndim: int, keepdims: Any) -> np.ndarray[Any, Any]:
    n, _, _, c = res4.shape
    if _flag(keepdims, "keepdims"):
        return res4.reshape(_out_shape(ndim, n, 1, 1, c))
    if ndim == 4:
        return res4.reshape(n, c)
    return res4.reshape((c,) if ndim == 3 else ())


def global_max_pool2d(x: npt.ArrayLike, *, keepdims: bool = True) -> np.ndarray[Any, Any]:
    """Max over the whole H x W plane of every channel (Keras ``GlobalMaxPooling2D``).

    Returns shape (N, 1, 1, C) / (1, 1, C) / (1, 1), or with ``keepdims=False``
    (N, C) / (C,) / ().
    """
    arr, x4 = _as_nhwc(x)
    _flag(keepdims, "keepdims")
    return _global_shape(max_pool2d(x4, (x4.shape[1], x4.shape[2]), 1), arr.ndim, keepdims)


def global_avg_pool2d(
    x: npt.ArrayLike, *, keepdims: bool = True, dtype: DTypeLike | None = None
) -> np.ndarray[Any, Any]:
    """Mean over the whole H x W plane of every channel (7x7x1000 -> 1x1x1000).

    Shapes as :func:`global_max_pool2d`; dtype rules as :func:`avg_pool2d`.
    """
    arr, x4 = _as_nhwc(x)
    _flag(keepdims, "keepdims")
    res4 = avg_pool2d(x4, (x4.shape[1], x4.shape[2]), 1, dtype=dtype)
    return _global_shape(res4, arr.ndim, keepdims)


def output_size(
    n: int,
    kernel_size: int,
    stride: int | None = None,
    padding: int | tuple[int, int] | str = 0,
    dilation: int = 1,
    ceil_mode: bool = False,
) -> int:
    """Output length of one axis: ``floor((n + pad_begin + pad_end - dilation*(k-1) - 1)/s) + 1``.

    ``padding`` is per side (int), a (begin, end) pair, or "valid"/"same". Raises ValueError
    when the arguments are invalid or the window does not fit.
    """
    n_ = _int(n, "n")
    k = _int(kernel_size, "kernel_size")
    s = k if stride is None else _int(stride, "stride")
    d = _int(dilation, "dilation")
    ceil = _flag(ceil_mode, "ceil_mode")
    limit = True
    if isinstance(padding, str):
        mode = padding.lower()
        if mode not in ("valid", "same"):
            msg = f"padding must be an int, a (begin, end) pair, 'valid' or 'same'; got {padding!r}"
            raise ValueError(msg)
        pb, pe = _core.same_padding(n_, k, s, d) if mode == "same" else (0, 0)
        limit = False
    elif isinstance(padding, (tuple, list)):
        pb, pe = _pair_strict(padding, "padding")
    else:
        pb = pe = _int(padding, "padding")
    return int(_core.output_size(n_, k, s, d, pb, pe, ceil, limit))


def output_shape(
    input_shape: tuple[int, ...],
    kernel_size: IntOrPair,
    stride: IntOrPair | None = None,
    padding: Padding = 0,
    dilation: IntOrPair = 1,
    ceil_mode: bool = False,
) -> tuple[int, ...]:
    """Shape that :func:`max_pool2d` / :func:`avg_pool2d` return for an input of this shape."""
    try:
        dims = tuple(_int(v, "input_shape") for v in input_shape)
    except TypeError:
        if not hasattr(input_shape, "__iter__"):
            msg = f"input_shape must be a tuple of 2 to 4 ints, got {input_shape!r}"
            raise TypeError(msg) from None
        raise
    if len(dims) not in (2, 3, 4):
        msg = f"input_shape must have 2 (H, W), 3 (H, W, C) or 4 (N, H, W, C) entries, got {len(dims)}"
        raise ValueError(msg)
    if any(v < 0 for v in dims):
        msg = f"input_shape must not contain negative sizes, got {dims}"
        raise ValueError(msg)
    full = (1, *dims, 1) if len(dims) == 2 else (1, *dims) if len(dims) == 3 else dims
    n, h, w, c = full
    k = _pair(kernel_size, "kernel_size")
    s = k if stride is None else _pair(stride, "stride")
    d = _pair(dilation, "dilation")
    mode, pads = _padding(padding)
    ceil = _flag(ceil_mode, "ceil_mode")
    pads, limit = _resolve_padding(mode, pads, (h, w), k, s, d)
    oh, ow = _core.output_geometry(n, h, w, c, k, s, d, pads, ceil, limit)
    return _out_shape(len(dims), n, oh, ow, c)


# --------------------------------------------------------------------------------------------
# Runtime configuration


def set_num_threads(n: int) -> None:
    """Set the number of threads every later call uses, from any Python thread."""
    _core.set_num_threads(_int(n, "n"))


def get_num_threads() -> int:
    """Number of threads pooling calls use."""
    return int(_core.get_num_threads())


def _default_threads() -> int:
    env = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    if hasattr(os, "process_cpu_count"):
        return os.process_cpu_count() or 1
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def _init_runtime() -> None:
    _core.set_num_threads(_default_threads())
    want = os.environ.get("NHWCPOOL_SIMD")
    if want and want.strip().lower() != _core.get_simd_level():
        warnings.warn(
            f"NHWCPOOL_SIMD={want!r} is unknown or not supported here; using "
            f"{_core.get_simd_level()!r} (supported: {', '.join(_core.supported_simd_levels())})",
            RuntimeWarning,
            stacklevel=3,
        )


def _config() -> dict[str, Any]:
    from . import __version__

    return {
        "version": __version__,
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "compiler": _core.compiler(),
        "openmp": bool(_core.openmp_enabled()),
        "threads": get_num_threads(),
        "simd_level": _core.get_simd_level(),
        "simd_supported": list(_core.supported_simd_levels()),
        "simd_compiled": list(_core.compiled_simd_levels()),
        "NHWCPOOL_SIMD": os.environ.get("NHWCPOOL_SIMD"),
    }


def show_config() -> None:
    """Print the version, compiler, OpenMP status, SIMD level chosen at run time and threads."""
    c = _config()
    lines = [
        f"nhwcpool {c['version']}",
        f"  python:    {c['python']} (numpy {c['numpy']})",
        f"  compiler:  {c['compiler']}",
        f"  OpenMP:    {'on' if c['openmp'] else 'off (serial build)'}",
        f"  threads:   {c['threads']}",
        f"  SIMD:      {c['simd_level']} (chosen at run time; this CPU supports "
        f"{', '.join(c['simd_supported'])}; built: {', '.join(c['simd_compiled'])})",
        f"  NHWCPOOL_SIMD: {c['NHWCPOOL_SIMD'] or 'not set'}",
    ]
    print("\n".join(lines))
