"""Argument normalisation and documentation for the public functions.

This layer only turns Python arguments into plain integers, pairs and arrays; every size,
padding and window rule is computed (and checked) once, in the C++ core (``cpp/src/shape.cpp``).
"""

from __future__ import annotations

import operator
import os
import sys
import warnings
from collections.abc import Sequence
from typing import Any, Literal, overload

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

IntOrPair = int | tuple[int, int]
Padding = int | tuple[int, int] | tuple[tuple[int, int], tuple[int, int]] | str
DTypeLike = npt.DTypeLike

_SUPPORTED_NAMES = "float16, float32, float64, int8, uint8, int16, uint16, int32, int64, uint32, uint64"
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_EXPLICIT: int = _core.PAD_EXPLICIT
_PAD_MODES: dict[str, int] = {"valid": _core.PAD_VALID, "same": _core.PAD_SAME}
_PADDING_FORMS = "an int, a pair (ph, pw), ((top, bottom), (left, right)), 'valid' or 'same'"


# --------------------------------------------------------------------------------------------
# Scalars and pairs


def _int(value: Any, name: str) -> int:
    if type(value) is int and _INT64_MIN <= value <= _INT64_MAX:
        return value
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
    if type(value) is int and _INT64_MIN <= value <= _INT64_MAX:
        return value, value
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            msg = f"{name} must be an int or a pair (h, w), got {len(value)} values: {value!r}"
            raise ValueError(msg)
        return _int(value[0], f"{name}[0]"), _int(value[1], f"{name}[1]")
    i = _int(value, name)
    return i, i


def _divisor(divisor_override: Any) -> int:
    """divisor_override as the core takes it: 0 for None, else a nonzero int64."""
    if divisor_override is None:
        return 0
    div = _int(divisor_override, "divisor_override")
    if div == 0:
        msg = "divisor_override must be a nonzero integer, got 0"
        raise ValueError(msg)
    return div


def _flag(value: Any, name: str) -> bool:
    if value is True or value is False:
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    msg = f"{name} must be a bool, got {type(value).__name__} {value!r}"
    raise TypeError(msg)


def _pad_string(padding: str, forms: str) -> int:
    mode = _PAD_MODES.get(padding.lower())
    if mode is None:
        msg = f"padding must be {forms}; got the unknown string {padding!r}"
        raise ValueError(msg)
    return mode


def _padding(padding: Any) -> tuple[int, int, int, int, int]:
    """(mode, top, bottom, left, right); mode is one of _core.PAD_EXPLICIT/VALID/SAME."""
    if type(padding) is int and 0 <= padding <= _INT64_MAX:
        return _EXPLICIT, padding, padding, padding, padding
    if isinstance(padding, str):
        return _pad_string(padding, _PADDING_FORMS), 0, 0, 0, 0
    if isinstance(padding, (tuple, list)):
        if len(padding) != 2:
            msg = f"padding must be {_PADDING_FORMS}; got {len(padding)} values: {padding!r}"
            raise ValueError(msg)
        a, b = padding
        if isinstance(a, (tuple, list)) or isinstance(b, (tuple, list)):
            t, bo = _pair_strict(a, "padding[0]")
            le, r = _pair_strict(b, "padding[1]")
            return _EXPLICIT, t, bo, le, r
        ph, pw = _int(a, "padding[0]"), _int(b, "padding[1]")
        return _EXPLICIT, ph, ph, pw, pw
    p = _int(padding, "padding")
    return _EXPLICIT, p, p, p, p


def _pair_strict(value: Any, name: str) -> tuple[int, int]:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        msg = f"{name} must be a (begin, end) pair of ints, got {value!r}"
        raise ValueError(msg)
    return _int(value[0], f"{name}[0]"), _int(value[1], f"{name}[1]")


def _window(
    kernel_size: Any, stride: Any, padding: Any
) -> tuple[int, int, int, int, int, int, int, int, int]:
    """(kh, kw, sh, sw, mode, top, bottom, left, right); stride None means the kernel size."""
    kh, kw = _pair(kernel_size, "kernel_size")
    sh, sw = (kh, kw) if stride is None else _pair(stride, "stride")
    return (kh, kw, sh, sw, *_padding(padding))


def _array(x: Any, name: str = "x") -> np.ndarray[Any, Any]:
    if type(x) is np.ndarray:
        return x
    if not isinstance(x, np.ndarray) and hasattr(type(x), "__dlpack__"):
        return _from_dlpack(x, name)
    return np.asarray(x)


def _from_dlpack(x: Any, name: str) -> np.ndarray[Any, Any]:
    """A NumPy view of a CPU array from another library (torch, JAX, CuPy...) via DLPack:
    no copy, whatever its strides (so an NHWC-contiguous one is read in place)."""
    if getattr(x, "requires_grad", False):
        msg = (
            f"{name} is a tensor that requires grad; nhwcpool's NumPy-level functions record no "
            f"gradient: pass {name}.detach(), or use nhwcpool.torch for autograd"
        )
        raise TypeError(msg)
    try:
        return np.from_dlpack(x)
    except (BufferError, RuntimeError, TypeError, ValueError) as exc:
        msg = (
            f"{name} ({type(x).__module__}.{type(x).__name__}) could not be read through DLPack as a "
            f"CPU array of a supported dtype ({_SUPPORTED_NAMES}): {exc}"
        )
        raise TypeError(msg) from None


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
        float16/32/64, int8/16/32/64 or uint8/16/32/64, in any memory layout.
    kernel_size : int or (kh, kw)
        Window size f.
    stride : int or (sh, sw), optional
        Step s between windows; defaults to ``kernel_size`` (as PyTorch and Keras).
    padding : int, (ph, pw), ((top, bottom), (left, right)), "valid" or "same"
        Numeric padding as PyTorch: each side at most half the effective kernel
        ``dilation*(k-1)+1``; padded cells never win. "same"/"valid" as TensorFlow/Keras.
    dilation : int or (dh, dw)
        Spacing between window taps.
    ceil_mode : bool
        Round the output size up (PyTorch's rule: the last window must start inside the
        input or the begin padding).
    return_indices : bool
        Also return int64 indices ``y * W + x`` of each maximum within its (n, c) plane.
    out : ndarray, optional
        C-contiguous, writeable array of the output's shape and dtype, not overlapping x.

    Returns
    -------
    ndarray, or (ndarray, int64 ndarray) when ``return_indices``.
        Output size per axis: ``floor((n + pad_begin + pad_end - dilation*(k-1) - 1)/s) + 1``.
        A window holding a NaN gives NaN; on ties the first tap in row-major order wins.
    """
    if (
        type(kernel_size) is int
        and type(padding) is int
        and type(dilation) is int
        and (stride is None or type(stride) is int)
    ):
        # Fast path for plain ints (call latency): the core checks their range and the
        # flags' types with the same messages as the general path below.
        s = kernel_size if stride is None else stride
        return _core.max_pool2d(
            x if type(x) is np.ndarray else _array(x),
            kernel_size,
            kernel_size,
            s,
            s,
            dilation,
            dilation,
            padding,
            padding,
            padding,
            padding,
            ceil_mode,
            _EXPLICIT,
            return_indices,
            out,
        )
    kh, kw, sh, sw, mode, pt, pb, pl, pr = _window(kernel_size, stride, padding)
    dh, dw = _pair(dilation, "dilation")
    return _core.max_pool2d(
        _array(x),
        kh,
        kw,
        sh,
        sw,
        dh,
        dw,
        pt,
        pb,
        pl,
        pr,
        _flag(ceil_mode, "ceil_mode"),
        mode,
        _flag(return_indices, "return_indices"),
        out,
    )


def _dtype(dtype: Any) -> np.dtype[Any] | None:
    if dtype is None:
        return None
    try:
        dt: np.dtype[Any] = np.dtype(dtype)
    except TypeError:
        msg = f"dtype must be a NumPy dtype (one of {_SUPPORTED_NAMES}); got {dtype!r}"
        raise TypeError(msg) from None
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

    Parameters are as for :func:`max_pool2d` (no dilation), plus:

    count_include_pad : bool
        With numeric padding, count padded cells in the divisor (PyTorch's default). The
        overhang that ``ceil_mode`` adds past the padding is never counted.
        ``padding="same"`` always excludes padding (TensorFlow/Keras).
    divisor_override : int, optional
        Nonzero divisor used instead of the window's cell count.
    dtype : dtype, optional
        Output dtype. Default: the input dtype for floats; float64 for integers (like
        ``numpy.mean``; the integer sum is exact). Integer outputs are rounded half to even
        and clipped to the dtype's range. float16 accumulates in float32; float32 and
        float64 accumulate in float64.
    """
    if (
        type(kernel_size) is int
        and type(padding) is int
        and (stride is None or type(stride) is int)
        and divisor_override is None
        and dtype is None
    ):  # fast path for plain ints, as in max_pool2d
        s = kernel_size if stride is None else stride
        return _core.avg_pool2d(
            x if type(x) is np.ndarray else _array(x),
            kernel_size,
            kernel_size,
            s,
            s,
            padding,
            padding,
            padding,
            padding,
            ceil_mode,
            _EXPLICIT,
            count_include_pad,
            0,
            None,
            out,
        )
    kh, kw, sh, sw, mode, pt, pb, pl, pr = _window(kernel_size, stride, padding)
    div = _divisor(divisor_override)
    return _core.avg_pool2d(
        _array(x),
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
        _dtype(dtype),
        out,
    )


def _spatial(a: np.ndarray[Any, Any]) -> tuple[int, int]:
    if a.ndim == 4:
        return a.shape[1], a.shape[2]
    if a.ndim in (2, 3):
        return a.shape[0], a.shape[1]
    msg = f"x must have 2 (H, W), 3 (H, W, C) or 4 (N, H, W, C) dimensions, got {a.ndim}"
    raise ValueError(msg)


def _global_shape(res: np.ndarray[Any, Any], keepdims: bool) -> np.ndarray[Any, Any]:
    if keepdims:
        return res
    if res.ndim == 4:
        return res.reshape(res.shape[0], res.shape[3])
    out: np.ndarray[Any, Any] = res.reshape(res.shape[2:])
    return out  # (1, 1, C) -> (C,), (1, 1) -> ()


def global_max_pool2d(x: npt.ArrayLike, *, keepdims: bool = True) -> np.ndarray[Any, Any]:
    """Max over the whole H x W plane of every channel (Keras ``GlobalMaxPooling2D``).

    Returns shape (N, 1, 1, C) / (1, 1, C) / (1, 1), or with ``keepdims=False``
    (N, C) / (C,) / ().
    """
    a = _array(x)
    keep = _flag(keepdims, "keepdims")
    h, w = _spatial(a)
    res = _core.max_pool2d(a, h, w, 1, 1, 1, 1, 0, 0, 0, 0, False, _EXPLICIT, False, None)
    assert isinstance(res, np.ndarray)  # no indices requested
    return _global_shape(res, keep)


def global_avg_pool2d(
    x: npt.ArrayLike, *, keepdims: bool = True, dtype: DTypeLike | None = None
) -> np.ndarray[Any, Any]:
    """Mean over the whole H x W plane of every channel (7x7x1000 -> 1x1x1000).

    Shapes as :func:`global_max_pool2d`; dtype rules as :func:`avg_pool2d`.
    """
    a = _array(x)
    keep = _flag(keepdims, "keepdims")
    h, w = _spatial(a)
    res = _core.avg_pool2d(a, h, w, 1, 1, 0, 0, 0, 0, False, _EXPLICIT, True, 0, _dtype(dtype), None)
    return _global_shape(res, keep)


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
    mode = _EXPLICIT
    if isinstance(padding, str):
        mode = _pad_string(padding, "an int, a (begin, end) pair, 'valid' or 'same'")
        pb = pe = 0
    elif isinstance(padding, (tuple, list)):
        pb, pe = _pair_strict(padding, "padding")
    else:
        pb = pe = _int(padding, "padding")
    return int(_core.output_size(n_, k, s, d, pb, pe, ceil, mode))


def output_shape(
    input_shape: Sequence[int],
    kernel_size: IntOrPair,
    stride: IntOrPair | None = None,
    padding: Padding = 0,
    dilation: IntOrPair = 1,
    ceil_mode: bool = False,
) -> tuple[int, ...]:
    """Shape that :func:`max_pool2d` / :func:`avg_pool2d` return for an input of this shape."""
    if not isinstance(input_shape, (tuple, list)):
        msg = f"input_shape must be a tuple of 2 to 4 ints, got {type(input_shape).__name__}"
        raise TypeError(msg)
    dims = [_int(v, "input_shape") for v in input_shape]
    kh, kw, sh, sw, mode, pt, pb, pl, pr = _window(kernel_size, stride, padding)
    dh, dw = _pair(dilation, "dilation")
    return tuple(
        _core.output_shape(dims, kh, kw, sh, sw, dh, dw, pt, pb, pl, pr, _flag(ceil_mode, "ceil_mode"), mode)
    )


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
    level = _core.get_simd_level()
    # On aarch64 the baseline level is called "neon"; "baseline" still names it.
    chosen = {level, "baseline"} if level == _core.compiled_simd_levels()[0] else {level}
    if want and want.strip().lower() not in chosen:
        warnings.warn(
            f"NHWCPOOL_SIMD={want!r} is unknown or not supported here; using "
            f"{_core.get_simd_level()!r} (supported: {', '.join(_core.supported_simd_levels())})",
            RuntimeWarning,
            stacklevel=3,
        )


def _config() -> dict[str, Any]:
    return {
        "version": _core.__version__,
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "compiler": _core.compiler(),
        "openmp": bool(_core.openmp_enabled()),
        "threading": _core.threading_backend(),
        "threads": get_num_threads(),
        "simd_level": _core.get_simd_level(),
        "simd_supported": list(_core.supported_simd_levels()),
        "simd_compiled": list(_core.compiled_simd_levels()),
        "NHWCPOOL_SIMD": os.environ.get("NHWCPOOL_SIMD"),
        "cache_bytes": int(_core._last_level_cache_bytes()),
    }


def show_config() -> None:
    """Print the version, compiler, threading backend and thread count, the SIMD level and the
    last-level cache size the kernels' thresholds use."""
    c = _config()
    if c["threading"] == "serial":
        threads = f"serial (a build without threads: set_num_threads({c['threads']}) has no effect)"
    else:
        threads = f"{c['threading']} ({c['threads']} thread{'s' if c['threads'] != 1 else ''})"
    lines = [
        f"nhwcpool {c['version']}",
        f"  python:    {c['python']} (numpy {c['numpy']})",
        f"  compiler:  {c['compiler']}",
        f"  threads:   {threads}",
        (
            f"  SIMD:      {c['simd_level']} (chosen at run time; this CPU supports "
            f"{', '.join(c['simd_supported'])}; built: {', '.join(c['simd_compiled'])})"
        ),
        f"  NHWCPOOL_SIMD: {c['NHWCPOOL_SIMD'] or 'not set'}",
        (
            f"  cache:     {c['cache_bytes'] / 2**20:g} MiB last level (streaming stores and "
            "L2-only prefetch scale with it)"
        ),
    ]
    print("\n".join(lines))
