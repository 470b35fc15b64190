"""Plain NumPy helpers for tests/test_dask.py, importable by the Dask worker processes
(the test cluster puts this directory on their PYTHONPATH).

``ref_pyramid`` is an obviously-correct pyramid (the rules of issue 21, section 1): level i
reduces the factor**i x factor**i blocks of the input directly, with ``np.*.reduceat`` over the
block starts (edge="partial": the last block holds what is left; "trim": whole blocks only).
Means: exact integer sums (int64) or float64 sums, one division, integers rounded half to even
and clipped. The float64 sum of a block runs down each column, then across the columns, the
same order for a block alone and inside a larger array, so the Dask chunk logic can be
checked against it bit for bit.
"""

from __future__ import annotations

import time

import numpy as np


def _reduce(x, op, f, h_axis):
    n_h, n_w = x.shape[h_axis], x.shape[h_axis + 1]
    ih, iw = np.arange(0, n_h, f), np.arange(0, n_w, f)
    if op in ("max", "min"):
        u = np.maximum if op == "max" else np.minimum
        return u.reduceat(u.reduceat(x, ih, axis=h_axis), iw, axis=h_axis + 1)
    acc = np.float64 if x.dtype.kind == "f" else np.int64
    s = np.add.reduceat(np.add.reduceat(x.astype(acc), ih, axis=h_axis), iw, axis=h_axis + 1)
    ch = np.diff(np.append(ih, n_h)).astype(np.int64)
    cw = np.diff(np.append(iw, n_w)).astype(np.int64)
    shape = [1] * x.ndim
    shape[h_axis], shape[h_axis + 1] = len(ch), len(cw)
    counts = np.multiply.outer(ch, cw).reshape(shape)
    return s / counts  # float64; exact ints below 2**53 give a correctly rounded quotient


def ref_pyramid(x, levels, *, op="mean", factor=2, edge="partial", dtype=None):
    x = np.asarray(x)
    h_axis = 1 if x.ndim == 4 else 0
    out_dtype = np.dtype(dtype) if dtype is not None else x.dtype
    res = []
    for i in range(1, levels + 1):
        f = factor**i
        xi = x
        if edge == "trim":
            sl = [slice(None)] * x.ndim
            sl[h_axis] = slice(0, x.shape[h_axis] // f * f)
            sl[h_axis + 1] = slice(0, x.shape[h_axis + 1] // f * f)
            xi = x[tuple(sl)]
            if xi.shape[h_axis] == 0 or xi.shape[h_axis + 1] == 0:
                msg = f"edge='trim' leaves level {i} empty"
                raise ValueError(msg)
        r = _reduce(xi, op, f, h_axis)
        if op != "mean":
            res.append(r.astype(out_dtype))
        elif out_dtype.kind in "iu":
            info = np.iinfo(out_dtype)
            res.append(np.clip(np.rint(r), info.min, info.max).astype(out_dtype))
        else:
            res.append(r.astype(out_dtype))
    return res


def synthetic_block(block_info=None, *, kind="uint8", seed=0, delay=0.0):
    """A deterministic integer image block: a function of the cells' positions only."""
    time.sleep(delay)
    loc = block_info[None]["array-location"]
    shape = block_info[None]["chunk-shape"]
    grids = np.meshgrid(*[np.arange(a, b, dtype=np.int64) for a, b in loc], indexing="ij", sparse=True)
    v = np.zeros(shape, dtype=np.int64) + seed
    for k, g in enumerate(grids):
        v = v * 31 + g * (7 + 2 * k)
    v = (v ^ (v >> 5)) * 2654435761
    return (v % (int(np.iinfo(kind).max) + 1)).astype(kind)
