"""A plain, obviously-correct NumPy/Python reference for nhwcpool.

Nothing here imports nhwcpool.  Everything is written for clarity, not speed:
explicit loops over output pixels and over the taps of each window.  The only
vectorisation is over the (N, C) planes, which are independent of each other,
so every (n, c) plane is processed by exactly the same scalar rules.

Spec rules implemented here (see the brief):

* Output size per axis: floor((n + pb + pe - d*(k-1) - 1) / s) + 1; with
  ceil_mode the PyTorch rule (add s-1 before dividing, then drop the last
  window if it would start at or after n + pb).
* "same" padding (TF/Keras): total = max((ceil(n/s) - 1)*s + (k-1)*d + 1 - n, 0),
  begin = total // 2, end = total - begin.  "same" average never counts padded
  cells in the divisor.
* Max: padded cells ignored; scan taps row-major, take a tap when
  ``v > cur or isnan(v)``; start from -inf (floats) / dtype min (ints) and from
  the index of the first tap whose row and column are >= 0.
* Average: the PyTorch divisor rules (count_include_pad counts cells inside
  [-pad_begin, n + pad_end), never the ceil_mode overhang; divisor_override
  wins); float16 -> float32 accumulation, float32 -> float32 up to 64 cells (float64 beyond), integers exact,
  result float64 unless ``dtype=``; integer output dtypes round half to even and
  clip (NaN -> 0).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

FLOAT_DTYPES = [np.dtype(t) for t in ("float16", "float32", "float64")]
INT_DTYPES = [np.dtype(t) for t in ("int8", "uint8", "int16", "uint16", "int32", "int64", "uint32", "uint64")]
ALL_DTYPES = FLOAT_DTYPES + INT_DTYPES
# the list the brief calls "the" supported dtypes (uint32/uint64 are extras)
CORE_DTYPE_NAMES = [
    "float16",
    "float32",
    "float64",
    "int8",
    "uint8",
    "int16",
    "uint16",
    "int32",
    "int64",
]


# ----------------------------------------------------------------------------
# hyperparameter helpers
# ----------------------------------------------------------------------------
def pair(v):
    """int -> (v, v); (a, b) -> (a, b)."""
    if isinstance(v, (tuple, list)):
        assert len(v) == 2
        return int(v[0]), int(v[1])
    return int(v), int(v)


def same_pads(n, k, s, d=1):
    """TF/Keras "same" padding for one axis -> (begin, end)."""
    total = max((math.ceil(n / s) - 1) * s + (k - 1) * d + 1 - n, 0)
    begin = total // 2
    return begin, total - begin


def resolve_padding(padding, hw, kernel, stride, dilation=(1, 1)):
    """Return (((top, bottom), (left, right)), is_same)."""
    (H, W) = hw
    (kh, kw) = kernel
    (sh, sw) = stride
    (dh, dw) = dilation
    if isinstance(padding, str):
        p = padding.lower()
        if p == "valid":
            return ((0, 0), (0, 0)), False
        if p == "same":
            return (same_pads(H, kh, sh, dh), same_pads(W, kw, sw, dw)), True
        raise ValueError(padding)
    if isinstance(padding, (tuple, list)):
        a, b = padding
        if isinstance(a, (tuple, list)):
            return ((int(a[0]), int(a[1])), (int(b[0]), int(b[1]))), False
        return ((int(a), int(a)), (int(b), int(b))), False
    p = int(padding)
    return ((p, p), (p, p)), False


def out_size(n, k, s, pb, pe, d=1, ceil_mode=False):
    """Number of output positions along one axis (may be < 1 for invalid input)."""
    eff = d * (k - 1) + 1
    num = n + pb + pe - eff
    if ceil_mode:
        out = (num + (s - 1)) // s + 1  # Python // is floor division
        if (out - 1) * s >= n + pb:
            out -= 1
    else:
        out = num // s + 1
    return out


def output_size(n, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    if stride is None:
        stride = kernel_size
    if isinstance(padding, str):
        pb, pe = (0, 0) if padding.lower() == "valid" else same_pads(n, kernel_size, stride, dilation)
    elif isinstance(padding, (tuple, list)):
        pb, pe = padding
    else:
        pb = pe = padding
    return out_size(n, kernel_size, stride, pb, pe, dilation, ceil_mode)


def output_shape(input_shape, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    shape = tuple(int(v) for v in input_shape)
    nd = len(shape)
    assert nd in (2, 3, 4)
    hax = {2: 0, 3: 0, 4: 1}[nd]
    H, W = shape[hax], shape[hax + 1]
    k = pair(kernel_size)
    s = k if stride is None else pair(stride)
    d = pair(dilation)
    ((pt, pb), (pl, pr)), _ = resolve_padding(padding, (H, W), k, s, d)
    oh = out_size(H, k[0], s[0], pt, pb, d[0], ceil_mode)
    ow = out_size(W, k[1], s[1], pl, pr, d[1], ceil_mode)
    out = list(shape)
    out[hax], out[hax + 1] = oh, ow
    return tuple(out)


def padding_is_valid(pads, kernel, dilation=(1, 1)):
    """Numeric padding rule: 0 <= pad <= effective_kernel // 2 for every side."""
    for (b, e), k, d in zip(pads, kernel, dilation, strict=False):
        eff = d * (k - 1) + 1
        if not (0 <= b <= eff // 2 and 0 <= e <= eff // 2):
            return False
    return True


# ----------------------------------------------------------------------------
# layout helpers
# ----------------------------------------------------------------------------
def to4d(x):
    x = np.asarray(x)
    if x.ndim == 2:
        return x[None, :, :, None]
    if x.ndim == 3:
        return x[None]
    assert x.ndim == 4
    return x


def from4d(y, ndim):
    if ndim == 2:
        return y[0, :, :, 0]
    if ndim == 3:
        return y[0]
    return y


def _taps(o, s, pb, k, d):
    """Coordinates of the taps of output position o along one axis."""
    start = o * s - pb
    return [start + i * d for i in range(k)]


def _first_nonneg_tap(o, s, pb, d):
    t = o * s - pb
    while t < 0:
        t += d
    return t


# ----------------------------------------------------------------------------
# max pooling
# ----------------------------------------------------------------------------
def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """Returns (values, indices) with the exact PyTorch index / NaN rule."""
    x = np.asarray(x)
    nd = x.ndim
    x4 = to4d(x)
    N, H, W, C = x4.shape
    k = pair(kernel_size)
    s = k if stride is None else pair(stride)
    d = pair(dilation)
    ((pt, pb), (pl, pr)), _ = resolve_padding(padding, (H, W), k, s, d)
    OH = out_size(H, k[0], s[0], pt, pb, d[0], ceil_mode)
    OW = out_size(W, k[1], s[1], pl, pr, d[1], ceil_mode)
    assert OH >= 1, "reference called with an invalid configuration"
    assert OW >= 1, "reference called with an invalid configuration"

    dt = x4.dtype
    is_float = dt.kind == "f"
    lowest = -np.inf if is_float else np.iinfo(dt).min
    vals = np.empty((N, OH, OW, C), dtype=dt)
    idxs = np.empty((N, OH, OW, C), dtype=np.int64)
    for oh in range(OH):
        rows = [r for r in _taps(oh, s[0], pt, k[0], d[0]) if 0 <= r < H]
        r0 = _first_nonneg_tap(oh, s[0], pt, d[0])
        for ow in range(OW):
            cols = [c for c in _taps(ow, s[1], pl, k[1], d[1]) if 0 <= c < W]
            c0 = _first_nonneg_tap(ow, s[1], pl, d[1])
            cur = np.full((N, C), lowest, dtype=dt)
            idx = np.full((N, C), r0 * W + c0, dtype=np.int64)
            for r in rows:  # row-major scan of the window
                for c in cols:
                    v = x4[:, r, c, :]
                    take = v > cur
                    if is_float:
                        take = take | np.isnan(v)
                    cur = np.where(take, v, cur)
                    idx = np.where(take, r * W + c, idx)
            vals[:, oh, ow, :] = cur
            idxs[:, oh, ow, :] = idx
    return from4d(vals, nd), from4d(idxs, nd)


# ----------------------------------------------------------------------------
# average pooling
# ----------------------------------------------------------------------------
def acc_eps(in_dtype):
    """Machine epsilon of the accumulator the spec prescribes (0 = exact)."""
    in_dtype = np.dtype(in_dtype)
    if in_dtype in (np.float16, np.float32):
        # float16 sums in float32; float32 sums in float32 up to 64 cells (PyTorch's arithmetic)
        # and in float64 beyond: float32's epsilon bounds both.
        return float(np.finfo(np.float32).eps)
    if in_dtype.kind == "f":
        return float(np.finfo(np.float64).eps)
    if in_dtype.itemsize == 8:  # int64 / uint64 accumulate in float64
        return float(np.finfo(np.float64).eps)
    return 0.0


def default_avg_dtype(in_dtype):
    in_dtype = np.dtype(in_dtype)
    return in_dtype if in_dtype.kind == "f" else np.dtype(np.float64)


def _round_half_even_div(s, d):
    """Exact round-half-to-even of s / d for integer arrays (int64 or object)."""
    neg = d < 0
    if neg:
        s, d = -s, -d
    q = s // d  # floor
    r = s - q * d  # 0 <= r < d
    twice = 2 * r
    up = (twice > d) | ((twice == d) & (q % 2 != 0))
    return q + up.astype(q.dtype) if q.dtype != object else q + up.astype(int)


def _clip_to(vals, out_dtype):
    info = np.iinfo(out_dtype)
    v = np.asarray(vals, dtype=object)
    v = np.where(v < int(info.min), int(info.min), v)
    v = np.where(v > int(info.max), int(info.max), v)
    return v.astype(out_dtype)


def _float_to_int_round_clip(f, out_dtype):
    """float64 array -> round half to even, clip, NaN -> 0 (exactly in python ints)."""
    info = np.iinfo(out_dtype)
    res = np.empty(f.shape, dtype=object)
    for i, fv in np.ndenumerate(f):
        v = float(fv)
        if math.isnan(v):
            res[i] = 0
        elif math.isinf(v):
            res[i] = int(info.max) if v > 0 else int(info.min)
        else:
            res[i] = round(Fraction(v))  # exact, half to even
    return _clip_to(res, out_dtype)


def avg_pool2d(
    x,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode=False,
    count_include_pad=True,
    divisor_override=None,
    dtype=None,
):
    """Returns (expected, abs_mean, ntaps).

    expected: the reference result in the output dtype.  Integer inputs: the
      exact sum (python ints) divided once, correctly rounded (float output) or
      rounded half to even from the exact rational and clipped (integer
      output).  Float inputs: float64 sum (IEEE inf/nan behaviour), one
      division, one rounding to the output dtype;
    abs_mean: float64 array, sum(|finite x|) / |divisor| per output cell (to
      size the accumulation tolerance);
    ntaps: number of in-input cells summed per output cell (int array).
    """
    x = np.asarray(x)
    nd = x.ndim
    x4 = to4d(x)
    N, H, W, C = x4.shape
    k = pair(kernel_size)
    s = k if stride is None else pair(stride)
    ((pt, pb), (pl, pr)), is_same = resolve_padding(padding, (H, W), k, s)
    OH = out_size(H, k[0], s[0], pt, pb, 1, ceil_mode)
    OW = out_size(W, k[1], s[1], pl, pr, 1, ceil_mode)
    assert OH >= 1
    assert OW >= 1

    in_dt = x4.dtype
    out_dt = default_avg_dtype(in_dt) if dtype is None else np.dtype(dtype)
    exp = np.empty((N, OH, OW, C), dtype=out_dt)
    absmean = np.empty((N, OH, OW, C), dtype=np.float64)
    ntaps = np.empty((N, OH, OW, C), dtype=np.int64)

    if in_dt.kind == "f":
        xs = x4.astype(np.float64)  # exact widening
        xa = np.where(np.isfinite(xs), np.abs(xs), 0.0)
    else:
        xs = x4.astype(object)  # python ints: exact for every integer dtype
        xa = np.abs(x4.astype(np.float64))

    for oh in range(OH):
        h0 = oh * s[0] - pt
        h1 = min(h0 + k[0], H + pb)  # the divisor never counts the ceil overhang
        pool_h = h1 - h0
        hs, he = max(h0, 0), min(h1, H)
        for ow in range(OW):
            w0 = ow * s[1] - pl
            w1 = min(w0 + k[1], W + pr)
            pool_w = w1 - w0
            ws, we = max(w0, 0), min(w1, W)
            cells = max(he - hs, 0) * max(we - ws, 0)
            if divisor_override is not None:
                div = int(divisor_override)
            elif count_include_pad and not is_same:
                div = pool_h * pool_w
            else:
                div = cells
            assert cells > 0
            assert div != 0
            window = xs[:, hs:he, ws:we, :]  # (N, rows, cols, C)
            ntaps[:, oh, ow, :] = cells
            absmean[:, oh, ow, :] = xa[:, hs:he, ws:we, :].sum(axis=(1, 2)) / abs(div)
            with np.errstate(all="ignore"):
                if in_dt.kind == "f":
                    mean = window.sum(axis=(1, 2)) / div  # float64
                    if out_dt.kind == "f":
                        exp[:, oh, ow, :] = mean.astype(out_dt)
                    else:
                        exp[:, oh, ow, :] = _float_to_int_round_clip(mean, out_dt)
                else:
                    total = window.sum(axis=(1, 2))  # object array of exact ints
                    if total.dtype != object:
                        total = total.astype(object)
                    if out_dt.kind == "f":
                        # int / int true division is correctly rounded in Python
                        q = np.array([t / div for t in total.ravel()], dtype=np.float64)
                        exp[:, oh, ow, :] = q.reshape(total.shape).astype(out_dt)
                    else:
                        q = _round_half_even_div(total, div)
                        exp[:, oh, ow, :] = _clip_to(q, out_dt)
    return from4d(exp, nd), from4d(absmean, nd), from4d(ntaps, nd)


def global_max_pool2d(x, keepdims=True):
    x = np.asarray(x)
    H, W = (x.shape[0], x.shape[1]) if x.ndim in (2, 3) else (x.shape[1], x.shape[2])
    v, _ = max_pool2d(x, (H, W))
    return v if keepdims else _drop_spatial(v)


def global_avg_pool2d(x, keepdims=True, dtype=None):
    x = np.asarray(x)
    H, W = (x.shape[0], x.shape[1]) if x.ndim in (2, 3) else (x.shape[1], x.shape[2])
    e, a, t = avg_pool2d(x, (H, W), dtype=dtype)
    if keepdims:
        return e, a, t
    return _drop_spatial(e), _drop_spatial(a), _drop_spatial(t)


def _drop_spatial(y):
    if y.ndim == 2:
        return y.reshape(())
    if y.ndim == 3:
        return y.reshape(y.shape[2:])
    return y.reshape(y.shape[0], y.shape[3])


# ----------------------------------------------------------------------------
# comparison helpers used by the tests
# ----------------------------------------------------------------------------
_RTOL = {np.dtype(np.float16): 1e-3, np.dtype(np.float32): 1e-6, np.dtype(np.float64): 1e-12}


def assert_max_equal(got, exp):
    """Exact equality, NaN where NaN, same dtype and shape."""
    got = np.asarray(got)
    assert got.shape == exp.shape, (got.shape, exp.shape)
    assert got.dtype.type == exp.dtype.type, (got.dtype, exp.dtype)
    np.testing.assert_array_equal(got, exp, strict=False)
    if exp.dtype.kind == "f":
        np.testing.assert_array_equal(np.isnan(got), np.isnan(exp))


def assert_avg_close(got, expected, absmean, ntaps, in_dtype):
    """Compare an average result with the exactly-rounded reference.

    Allowed error = final rounding (rtol of the output dtype, or 1 unit for
    integer outputs from inexact accumulators) + the accumulation error bound
    2 * ntaps * eps(accumulator) * sum|x| / |divisor|.
    """
    got = np.asarray(got)
    assert got.shape == expected.shape, (got.shape, expected.shape)
    assert got.dtype.type == expected.dtype.type, (got.dtype, expected.dtype)
    if got.size == 0:
        return
    eps = acc_eps(in_dtype)
    acc_tol = 3.0 * ntaps.astype(np.float64) * eps * absmean
    out_dt = expected.dtype
    if out_dt.kind == "f":
        g = got.astype(np.float64)
        e = expected.astype(np.float64)
        nan_g, nan_e = np.isnan(g), np.isnan(e)
        np.testing.assert_array_equal(nan_g, nan_e, err_msg="NaN positions differ")
        inf_e = np.isinf(e)
        # an exact +-inf must be reproduced exactly (unless the exact mean is
        # right at the overflow threshold, where rounding order may matter)
        finfo = np.finfo(out_dt)
        near_edge = inf_e & (absmean >= 0.999 * float(finfo.max))
        bad_inf = inf_e & ~near_edge & (g != e)
        assert not bad_inf.any(), f"inf mismatch: got {g[bad_inf][:5]}, expected {e[bad_inf][:5]}"
        m = ~nan_e & ~inf_e
        rtol = _RTOL[np.dtype(out_dt)]
        atol = acc_tol + 2.0 * float(finfo.smallest_subnormal)
        with np.errstate(all="ignore"):
            err = np.abs(g - e)
            lim = rtol * np.abs(e) + atol
        bad = m & ~(err <= lim)
        assert not bad.any(), (
            f"{bad.sum()} mismatches; first got={g[bad][:5]} expected={e[bad][:5]} "
            f"(out dtype {out_dt}, in dtype {np.dtype(in_dtype)})"
        )
    else:
        exact_input = acc_eps(in_dtype) == 0.0 and np.dtype(in_dtype).kind != "f"
        go = got.astype(object)
        eo = expected.astype(object)
        diff = np.abs(go - eo).astype(np.float64)
        lim = 0.0 if exact_input else 1.0 + acc_tol
        bad = diff > lim
        assert not np.any(bad), (
            f"{np.sum(bad)} mismatches; first got={got[bad][:5]} expected={expected[bad][:5]}"
        )
