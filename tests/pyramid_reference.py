"""A plain Python/NumPy reference for nhwcpool.pyramid (nothing here imports nhwcpool).

Every level is computed from the input's blocks directly:

* integer means: the exact block sum (Python ints) as a Fraction of the pixel count, rounded
  half to even (Python's round), then clipped to the output dtype; float outputs get
  float(sum) / count;
* float means: float64 sums in the documented order (each column of a block's children summed
  top to bottom, then the columns left to right; the children of a level-k block are the
  level-(k-1) block sums), divided once by the pixel count;
* max / min: numpy.max / numpy.min over the block (NaN propagates), converted to the output.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np


def _as4(x):
    x = np.asarray(x)
    if x.ndim == 2:
        return x[None, :, :, None]
    if x.ndim == 3:
        return x[None]
    return x


def _restore(y, ndim):
    if ndim == 2:
        return y[0, :, :, 0]
    if ndim == 3:
        return y[0]
    return y


def level_sizes(h, w, levels, factor, edge):
    out = []
    for i in range(1, levels + 1):
        b = factor**i
        if edge == "partial":
            out.append((-(-h // b), -(-w // b)))
        else:
            out.append((h // b, w // b))
    return out


def convert(v, out_dtype):
    """One value (Python int, float or NumPy scalar) to out_dtype with avg_pool2d(dtype=)'s rules."""
    out_dtype = np.dtype(out_dtype)
    if out_dtype.kind == "f":
        with np.errstate(over="ignore"):
            if isinstance(v, (int, np.integer)):
                return np.array(float(int(v))).astype(out_dtype)[()]
            return np.array(np.float64(v)).astype(out_dtype)[()]
    info = np.iinfo(out_dtype)
    if isinstance(v, (int, np.integer)):
        i = int(v)
    else:
        f = float(v)
        if f != f:
            return out_dtype.type(0)
        if f == float("inf"):
            return out_dtype.type(info.max)
        if f == float("-inf"):
            return out_dtype.type(info.min)
        i = round(Fraction(f))  # half to even
    return out_dtype.type(min(max(i, info.min), info.max))


def _float_sums(x4, levels, factor, edge):
    """float64 block sums of every level, in the documented order."""
    sums = []
    prev = x4.astype(np.float64)
    for oh, ow in level_sizes(x4.shape[1], x4.shape[2], levels, factor, edge):
        ph, pw = prev.shape[1], prev.shape[2]
        cur = np.empty((x4.shape[0], oh, ow, x4.shape[3]), np.float64)
        for oy in range(oh):
            r0, r1 = oy * factor, min(oy * factor + factor, ph)
            col = prev[:, r0].copy()
            for r in range(r0 + 1, r1):
                col = col + prev[:, r]
            for ox in range(ow):
                m0, m1 = ox * factor, min(ox * factor + factor, pw)
                h = col[:, m0].copy()
                for m in range(m0 + 1, m1):
                    h = h + col[:, m]
                cur[:, oy, ox] = h
        sums.append(cur)
        prev = cur
    return sums


def pyramid_ref(x, levels, op="mean", factor=2, edge="partial", dtype=None):
    x = np.asarray(x)
    nd = x.ndim
    x4 = _as4(x)
    n, h, w, c = x4.shape
    out_dtype = (np.dtype(dtype) if dtype is not None else x.dtype).newbyteorder("=")
    result = []
    fsums = _float_sums(x4, levels, factor, edge) if (op == "mean" and x.dtype.kind == "f") else None
    for i, (oh, ow) in enumerate(level_sizes(h, w, levels, factor, edge)):
        b = factor ** (i + 1)
        y = np.empty((n, oh, ow, c), out_dtype)
        for oy in range(oh):
            for ox in range(ow):
                blk = x4[:, oy * b : min(oy * b + b, h), ox * b : min(ox * b + b, w), :]
                count = blk.shape[1] * blk.shape[2]
                for ni in range(n):
                    for ci in range(c):
                        cell = blk[ni, :, :, ci]
                        if op == "max":
                            v = np.max(cell) if x.dtype.kind == "f" else int(cell.max())
                        elif op == "min":
                            v = np.min(cell) if x.dtype.kind == "f" else int(cell.min())
                        elif x.dtype.kind == "f":
                            v = fsums[i][ni, oy, ox, ci] / count
                        else:
                            s = sum(int(t) for t in cell.ravel())
                            if out_dtype.kind == "f":
                                v = float(s) / count
                            else:
                                v = round(Fraction(s, count))
                        y[ni, oy, ox, ci] = convert(v, out_dtype)
        result.append(_restore(y, nd))
    return result
