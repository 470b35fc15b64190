"""Data generators and hypothesis strategies shared by the property tests."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

# channel counts around the vector widths (8/16/32/64 lanes of 1..8 bytes)
SPECIAL_C = [0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 40]
CHANNELS = st.one_of(st.sampled_from(SPECIAL_C), st.integers(0, 40))

FLOAT_KINDS = ["ties", "dyadic", "wide", "special"]
INT_KINDS = ["ties", "full", "extremes"]


def make_array(shape, dtype, kind, seed, avg_safe=False):
    """Deterministic test data.

    kind: "ties" (few distinct values: exercises the tie / index rule),
    "dyadic" (k/8: sums are exact in every accumulator), "wide" (random
    magnitudes), "special" (dyadic + NaN/inf/-inf/extremes/-0.0/subnormal) for
    floats; "ties", "full" (uniform over the whole range), "extremes" (dtype
    min/max and neighbours) for integers.  avg_safe keeps float64 sums away
    from overflow (the package sums float64 in float64, so an order-dependent
    overflow would make the expected value ill-defined).
    """
    dtype = np.dtype(dtype)
    rng = np.random.default_rng(seed)
    shape = tuple(shape)
    if dtype.kind == "f":
        fi = np.finfo(dtype)
        if kind == "ties":
            v = rng.integers(-2, 3, size=shape).astype(np.float64)
        elif kind == "dyadic":
            v = rng.integers(-2048, 2049, size=shape) / 8.0
        elif kind == "wide":
            lim = {2: 4, 4: 30, 8: 200}[dtype.itemsize]
            v = rng.standard_normal(shape) * 10.0 ** rng.integers(-lim, lim + 1, size=shape)
        elif kind == "special":
            v = rng.integers(-2048, 2049, size=shape) / 8.0
            big = float(fi.max)
            if avg_safe and dtype == np.float64:
                big = 1e300
            specials = np.array(
                [
                    np.nan,
                    np.inf,
                    -np.inf,
                    big,
                    -big,
                    -0.0,
                    0.0,
                    float(fi.tiny),
                    float(fi.smallest_subnormal),
                    -float(fi.smallest_subnormal),
                ]
            )
            mask = rng.random(shape) < rng.choice([0.02, 0.1, 0.4])
            v = np.where(mask, specials[rng.integers(0, len(specials), size=shape)], v)
        else:
            raise ValueError(kind)
        with np.errstate(all="ignore"):
            return v.astype(dtype)
    info = np.iinfo(dtype)
    lo, hi = int(info.min), int(info.max)
    if kind == "ties":
        base = rng.choice([lo, max(lo, 0), max(lo, -1), hi - 2])
        base = min(max(int(base), lo), hi - 2)
        return (rng.integers(0, 3, size=shape).astype(object) + base).astype(dtype)
    if kind == "full":
        return rng.integers(lo, hi, size=shape, dtype=dtype, endpoint=True)
    if kind == "extremes":
        cands = sorted({lo, lo + 1, max(lo, -1), 0, 1, hi - 1, hi})
        return np.array(cands, dtype=dtype)[rng.integers(0, len(cands), size=shape)]
    raise ValueError(kind)


def data_kind(dtype):
    return st.sampled_from(FLOAT_KINDS if np.dtype(dtype).kind == "f" else INT_KINDS)


def full_shape(ndim, N, H, W, C):
    return {2: (H, W), 3: (H, W, C), 4: (N, H, W, C)}[ndim]


def _padding_spec(kind, pads, spell):
    """Turn per-side pads into one of the accepted spellings."""
    (t, b), (l, r) = pads
    if kind == "int":
        return t
    if kind == "pair":
        return [t, l] if spell else (t, l)
    if kind == "nested":
        return [[t, b], [l, r]] if spell else ((t, b), (l, r))
    raise ValueError(kind)


@st.composite
def pool_configs(draw, *, dilation=True, max_k=5, max_hw=12, max_n=3, torch_compatible=False):
    """A valid pooling configuration.

    Returns dict(ndim, shape, kernel_size, stride, padding, dilation,
    ceil_mode, kernel, strides, dil).  With torch_compatible the padding is
    symmetric, numeric, and <= k // 2 (PyTorch's own limit).
    """
    ndim = draw(st.sampled_from([2, 3, 4, 4]))
    kh = draw(st.integers(1, max_k))
    kw = draw(st.integers(1, max_k)) if draw(st.booleans()) else kh
    kernel_size = kh if kh == kw and draw(st.booleans()) else (kh, kw)
    if draw(st.booleans()) and isinstance(kernel_size, tuple):
        kernel_size = list(kernel_size)
    if dilation:
        dh = draw(st.integers(1, 3))
        dw = draw(st.integers(1, 3)) if draw(st.booleans()) else dh
    else:
        dh = dw = 1
    dil_arg = dh if dh == dw and draw(st.booleans()) else (dh, dw)
    stride_kind = draw(st.sampled_from(["none", "int", "pair", "pair"]))
    if stride_kind == "none":
        stride, sh, sw = None, kh, kw
    elif stride_kind == "int":
        sh = sw = draw(st.integers(1, 6))
        stride = sh
    else:
        sh, sw = draw(st.integers(1, 6)), draw(st.integers(1, 6))
        stride = (sh, sw)
    effh, effw = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    ceil_mode = draw(st.booleans())

    if torch_compatible:
        pad_kind = draw(st.sampled_from(["int", "pair"]))
        if pad_kind == "int":
            ph = pw = draw(st.integers(0, min(kh // 2, effh // 2, kw // 2, effw // 2)))
        else:
            ph = draw(st.integers(0, min(kh // 2, effh // 2)))
            pw = draw(st.integers(0, min(kw // 2, effw // 2)))
        pads = ((ph, ph), (pw, pw))
        padding = _padding_spec(pad_kind, pads, False)
        minH = max(1, effh - 2 * ph)
        minW = max(1, effw - 2 * pw)
    else:
        pad_kind = draw(st.sampled_from(["int", "pair", "nested", "nested", "valid", "same", "same"]))
        if pad_kind in ("valid", "same"):
            padding = draw(st.sampled_from([pad_kind, pad_kind.upper(), pad_kind.capitalize()]))
            if pad_kind == "valid":
                minH, minW = effh, effw
            else:
                minH = minW = 1
        else:
            if pad_kind == "int":
                p = draw(st.integers(0, min(effh // 2, effw // 2)))
                pads = ((p, p), (p, p))
            elif pad_kind == "pair":
                ph = draw(st.integers(0, effh // 2))
                pw = draw(st.integers(0, effw // 2))
                pads = ((ph, ph), (pw, pw))
            else:
                pads = (
                    (draw(st.integers(0, effh // 2)), draw(st.integers(0, effh // 2))),
                    (draw(st.integers(0, effw // 2)), draw(st.integers(0, effw // 2))),
                )
            padding = _padding_spec(pad_kind, pads, draw(st.booleans()))
            minH = max(1, effh - sum(pads[0]))
            minW = max(1, effw - sum(pads[1]))
    H = draw(st.integers(minH, max(minH, max_hw)))
    W = draw(st.integers(minW, max(minW, max_hw)))
    N = draw(st.integers(0, max_n)) if ndim == 4 else 1
    C = draw(CHANNELS) if ndim >= 3 else 1
    if torch_compatible and C == 0:
        C = 1  # torch rejects a zero channel dimension
    return dict(
        ndim=ndim,
        shape=full_shape(ndim, N, H, W, C),
        kernel_size=kernel_size,
        stride=stride,
        padding=padding,
        dilation=dil_arg,
        ceil_mode=ceil_mode,
        kernel=(kh, kw),
        strides=(sh, sw),
        dil=(dh, dw),
    )
