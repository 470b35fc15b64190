"""Image pyramids: every level of a factor**i block mean, max or min in one pass (``pyramid``)."""

from __future__ import annotations

import operator
from typing import Any

import numpy as np
import numpy.typing as npt

from . import _core

__all__ = ["pyramid"]

_OPS = {"mean": 0, "max": 1, "min": 2}
_EDGES = {"partial": 0, "trim": 1}
_SUPPORTED = "float16, float32, float64, int8, uint8, int16, uint16, int32, int64, uint32, uint64"


def _index(value: Any, name: str) -> int:
    if isinstance(value, (bool, np.bool_)):
        msg = f"{name} must be an integer, got the bool {value!r}"
        raise TypeError(msg)
    try:
        return operator.index(value)
    except TypeError:
        msg = f"{name} must be an integer, got {type(value).__name__} {value!r}"
        raise TypeError(msg) from None


def _choice(value: Any, name: str, table: dict[str, int]) -> int:
    if not isinstance(value, str):
        msg = f"{name} must be a string, one of {', '.join(map(repr, table))}; got {type(value).__name__} {value!r}"
        raise TypeError(msg)
    code = table.get(value)
    if code is None:
        msg = f"{name} must be one of {', '.join(map(repr, table))}; got {value!r}"
        raise ValueError(msg)
    return code


def pyramid(
    x: npt.ArrayLike,
    levels: int,
    *,
    op: str = "mean",
    factor: int = 2,
    edge: str = "partial",
    dtype: npt.DTypeLike | None = None,
) -> list[np.ndarray[Any, Any]]:
    """Every level of an image pyramid, computed in one pass over ``x``.

    Level ``i`` (1 to ``levels``) reduces the input's ``factor**i x factor**i`` blocks directly:
    a level-3 mean is the exact mean of the 64 (factor 2) pixels its block holds, not a mean of
    rounded means.

    Parameters
    ----------
    x : array_like, shape (H, W), (H, W, C) or (N, H, W, C)
        float16/32/64, int8/16/32/64 or uint8/16/32/64.
    levels : int
        Number of levels (>= 0; 0 gives an empty list).
    op : "mean", "max" or "min"
        Reduction of each block. max and min are exact; a NaN in a block gives NaN.
    factor : int
        Block side per level (>= 2).
    edge : "partial" or "trim"
        ``"partial"``: ``ceil(n / factor**i)`` cells per axis; a block cut by the image edge is
        reduced over the pixels it holds (no padding). ``"trim"``: ``floor(n / factor**i)``
        cells, whole blocks only; a level left without a cell is a ValueError.
    dtype : dtype, optional
        Output dtype; default the input's. Integer means are rounded half to even from exact
        integer sums; float means are float64 sums divided once by the pixel count. Integer
        outputs of another dtype are rounded half to even and clipped (NaN becomes 0).

    Returns
    -------
    list of ndarray
        ``levels`` arrays, level 1 first, each shaped like ``x`` with (H, W) reduced.
    """
    a = x if type(x) is np.ndarray else np.asarray(x)
    lv = _index(levels, "levels")
    if lv < 0:
        msg = f"levels must be an integer >= 0, got {lv}"
        raise ValueError(msg)
    if lv > 2**20:
        msg = f"levels must be at most 1048576, got {lv}"
        raise ValueError(msg)
    f = _index(factor, "factor")
    if f < 2:
        msg = f"factor must be an integer >= 2, got {f}"
        raise ValueError(msg)
    if f > 2**62:
        msg = f"factor must be at most 2**62, got {f}"
        raise ValueError(msg)
    code = _choice(op, "op", _OPS)
    ed = _choice(edge, "edge", _EDGES)
    if a.dtype.kind not in "fiu" or a.dtype.itemsize > 8 or (a.dtype.kind == "f" and a.dtype.itemsize < 2):
        msg = f"x has unsupported dtype {a.dtype}; supported dtypes are: {_SUPPORTED}"
        raise TypeError(msg)
    if dtype is None:
        out = a.dtype
    else:
        try:
            out = np.dtype(dtype)
        except TypeError:
            msg = f"dtype must be a NumPy dtype (one of {_SUPPORTED}); got {dtype!r}"
            raise TypeError(msg) from None
        if out.kind not in "fiu" or out.itemsize > 8:
            msg = f"dtype has unsupported dtype {out}; supported dtypes are: {_SUPPORTED}"
            raise TypeError(msg)
    out = out.newbyteorder("=")
    if a.ndim not in (2, 3, 4):
        msg = f"x must have 2 (H, W), 3 (H, W, C) or 4 (N, H, W, C) dimensions, got {a.ndim}"
        raise ValueError(msg)
    isz = a.dtype.itemsize
    rows = a.dtype.isnative and a.flags.aligned
    if rows and a.ndim == 2:
        rows = a.shape[1] <= 1 or a.strides[1] == isz
    elif rows:
        c = a.shape[-1]
        rows = (c <= 1 or a.strides[-1] == isz) and (a.shape[-2] <= 1 or a.strides[-2] == c * isz)
    if not rows:
        a = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("="))
    return list(_core._pyramid(a, lv, code, f, ed, out))
