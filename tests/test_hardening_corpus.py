"""Replay of the fuzz corpus (tests/fuzz_corpus/*.json) against the NumPy reference.

This module is also the *case model* that tools/fuzz.py drives: a "case" is a JSON-able dict
describing one call (function, input array recipe, hyperparameters, optional ``out=``, SIMD
level and thread count).  ``build_x`` turns the recipe into an array with the requested
memory layout (byte-swapped, Fortran order, negative/odd steps, unaligned, read-only,
zero-stride broadcast, huge ``as_strided`` strides, lists, ...); ``classify`` decides from
the documented API rules alone whether the call is valid; ``check_case`` runs it and returns
a list of problems (empty = fine):

* a valid call must succeed and match tests/reference.py (max: exact values, NaNs and int64
  indices; avg: the reference's tolerance, exact for integer inputs);
* an invalid call must raise ValueError or TypeError (nothing else, and no crash);
* ``out=`` must be returned as is, and must be rejected when it overlaps the input.

Case JSON (see tools/fuzz.py for the generator)::

    {"func": "max_pool2d", "x": {<array recipe>}, "args": {<encoded kwargs>},
     "out": null | {"kind": "good" | "alias" | "adjacent" | "wrong_dtype" | ...},
     "simd": "avx2" | null, "threads": 3 | null, "note": "..."}

Encoded values: JSON lists are tuples, ``{"list": [...]}`` a list, ``{"float": 1.5}``,
``{"np": "int32", "v": 3}`` a NumPy scalar, ``{"npbool": true}``, ``{"ndarray": [...]}``,
``{"object": null}`` an ``object()``, ``{"complex": [re, im]}``.
"""

# The spec model raises Invalid("reason") at every rule; the messages are the point.
# ruff: noqa: EM101, EM102

from __future__ import annotations

import base64
import json
import operator
import os
import pathlib
import subprocess
import sys
import warnings

import nhwcpool
import numpy as np
import pytest
import reference as R

CORPUS_DIR = pathlib.Path(__file__).with_name("fuzz_corpus")
SUPPORTED = (
    "float16",
    "float32",
    "float64",
    "int8",
    "uint8",
    "int16",
    "uint16",
    "int32",
    "int64",
    "uint32",
    "uint64",
)
UNSUPPORTED = (
    "bool",
    "complex64",
    "complex128",
    "object",
    "U3",
    "S2",
    "datetime64[s]",
    "timedelta64[s]",
    "longdouble",
    "V4",
)
FUNCS = (
    "max_pool2d",
    "avg_pool2d",
    "global_max_pool2d",
    "global_avg_pool2d",
    "output_size",
    "output_shape",
)
SIGNATURES = {  # keyword arguments besides x (out= is handled separately)
    "max_pool2d": {"kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices"},
    "avg_pool2d": {
        "kernel_size",
        "stride",
        "padding",
        "ceil_mode",
        "count_include_pad",
        "divisor_override",
        "dtype",
    },
    "global_max_pool2d": {"keepdims"},
    "global_avg_pool2d": {"keepdims", "dtype"},
    "output_size": {"n", "kernel_size", "stride", "padding", "dilation", "ceil_mode"},
    "output_shape": {"input_shape", "kernel_size", "stride", "padding", "dilation", "ceil_mode"},
}
REQUIRED = {
    "max_pool2d": {"kernel_size"},
    "avg_pool2d": {"kernel_size"},
    "output_size": {"n", "kernel_size"},
    "output_shape": {"input_shape", "kernel_size"},
}
INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)


class Invalid(Exception):
    """Raised by the spec model when a call is invalid (the library must raise)."""


class Unspecified(Exception):
    """The documented rules don't say (e.g. a byte-swapped output dtype): any clean outcome."""


# --------------------------------------------------------------------------------------------
# JSON value encoding


def dec(v):
    if isinstance(v, list):
        return tuple(dec(e) for e in v)
    if isinstance(v, dict):
        if "list" in v:
            return [dec(e) for e in v["list"]]
        if "float" in v:
            return float(v["float"])
        if "np" in v:
            return np.dtype(v["np"]).type(v["v"])
        if "npbool" in v:
            return np.bool_(v["npbool"])
        if "ndarray" in v:
            return np.array(v["ndarray"])
        if "object" in v:
            return object()
        if "complex" in v:
            return complex(*v["complex"])
        raise ValueError(f"unknown encoded value {v!r}")
    return v


def decode_args(args):
    return {k: dec(v) for k, v in args.items()}


# --------------------------------------------------------------------------------------------
# Arrays with any layout


def _native(dt):
    return dt.newbyteorder("=") if dt.byteorder not in ("=", "|") else dt


def _values(dt, shape, mode, rng):
    """Logical values of a native dtype (mode: normal, ties, specials, extreme, zeros)."""
    n = int(np.prod(shape, dtype=np.int64))
    if dt.kind == "f":
        info = np.finfo(dt)
        if mode == "ties":
            v = rng.integers(-2, 3, n).astype(np.float64)
        elif mode == "specials":
            pool = np.array(
                [
                    np.nan,
                    np.inf,
                    -np.inf,
                    -0.0,
                    0.0,
                    float(info.smallest_subnormal),
                    -float(info.smallest_subnormal),
                    float(info.max),
                    -float(info.max),
                    1.0,
                    -1.0,
                    0.5,
                    float(info.tiny),
                ],
                dtype=np.float64,
            )
            v = np.where(rng.random(n) < 0.5, pool[rng.integers(0, len(pool), n)], rng.standard_normal(n))
        elif mode == "extreme":
            v = rng.choice(
                np.array(
                    [float(info.max), -float(info.max), float(info.max) / 3, -float(info.max) / 2], np.float64
                ),
                n,
            )
        elif mode == "zeros":
            v = np.zeros(n)
        else:
            v = rng.standard_normal(n) * 10
        with np.errstate(over="ignore"):
            return v.astype(dt).reshape(shape)
    if dt.kind in "iu":
        info = np.iinfo(dt)
        if mode == "ties":
            lo = max(int(info.min), -2)
            v = rng.integers(lo, lo + 4, n, dtype=np.int64)
        elif mode in ("specials", "extreme"):
            pool = [int(info.min), int(info.max), 0, 1, int(info.max) - 1, int(info.min) + 1]
            if info.min < 0:
                pool.append(-1)
            v = np.array([pool[i] for i in rng.integers(0, len(pool), n)], dtype=object)
            return v.astype(dt).reshape(shape)
        elif mode == "zeros":
            v = np.zeros(n, np.int64)
        else:
            return rng.integers(int(info.min), int(info.max), n, dtype=dt, endpoint=True).reshape(shape)
        return v.astype(dt).reshape(shape)
    # unsupported dtypes: anything of that dtype will do
    base = np.arange(n) % 7
    try:
        return base.astype(dt).reshape(shape)
    except (TypeError, ValueError):
        return np.zeros(shape, dt)


def _filler(dt):
    """A value that would win a max (and skew a mean) if a kernel read a skipped element."""
    if dt.kind == "f":
        return np.inf
    if dt.kind in "iu":
        return np.iinfo(dt).max
    return None


def _rebase(x, owner, offset_extra, readonly):
    """The same view (shape, strides) over a copy of ``owner``'s bytes shifted by offset_extra."""
    start = x.__array_interface__["data"][0] - owner.__array_interface__["data"][0]
    raw = bytearray(owner.nbytes + offset_extra + 16)
    mv = np.frombuffer(raw, np.uint8, count=owner.nbytes, offset=offset_extra)
    mv[...] = np.frombuffer(owner.tobytes(), np.uint8)  # owners are C-contiguous
    y = np.ndarray(x.shape, x.dtype, buffer=raw, offset=offset_extra + start, strides=x.strides)
    if readonly:
        y.flags.writeable = False
    return y


def build_x(spec):
    """Build the input from its recipe. Returns the object to pass (array, list or other)."""
    special = spec.get("special")
    if special is not None:
        return {
            "none": None,
            "string": "abc",
            "ragged": [[1], [1, 2]],
            "object": object(),
            "bigint": [[2**64, 1], [1, 1]],
            "scalar": 3.0,
            "dict": {"a": 1},
        }[special]
    dt = np.dtype(spec["dtype"])
    shape = tuple(int(s) for s in spec["shape"])
    rng = np.random.default_rng(spec.get("seed", 0))
    supported = dt.kind in "fiu" and dt.name in SUPPORTED
    if spec.get("data") is not None:
        vals = np.frombuffer(base64.b64decode(spec["data"]), dtype=dt).reshape(shape).copy()
    else:
        vals = _values(dt, shape, spec.get("values", "normal"), rng)
    readonly = bool(spec.get("readonly"))
    if spec.get("byteswap") and supported:
        vals = vals.astype(vals.dtype.newbyteorder())
    ndim = len(shape)

    if spec.get("broadcast"):
        axes = [a for a in spec["broadcast"] if a < ndim]
        sel = tuple(slice(0, 1) if a in axes else slice(None) for a in range(ndim))
        x = np.broadcast_to(vals[sel], shape)  # zero strides, read-only
    elif spec.get("strided") is not None and ndim > 0 and not vals.dtype.hasobject:
        strides = [int(s) for s in spec["strided"]][:ndim]
        strides += [dt.itemsize] * (ndim - len(strides))
        span = sum((s - 1) * st for s, st in zip(shape, strides, strict=True)) if 0 not in shape else 0
        raw = bytearray(span + dt.itemsize + 8)
        x = np.ndarray(shape, vals.dtype, buffer=raw, offset=0, strides=strides)
        if x.size:
            x[...] = vals  # overlapping elements (zero/small strides) just keep one value
        if readonly:
            x.flags.writeable = False
    else:
        order = spec.get("order")
        steps = spec.get("steps")
        perm = list(order) if order is not None and len(order) == ndim else list(range(ndim))
        st = [int(s) for s in steps][:ndim] if steps else []
        st += [1] * (ndim - len(st))
        st = [s if s != 0 else 1 for s in st]
        big = tuple(n * abs(s) for n, s in zip(shape, st, strict=True))
        if vals.dtype.hasobject or not supported:
            owner = np.empty(tuple(big[p] for p in perm), vals.dtype)
        else:
            owner = np.full(tuple(big[p] for p in perm), _filler(vals.dtype), vals.dtype)
        g = owner.transpose(np.argsort(perm))
        sel = tuple(slice(None, None, s) for s in st)
        x = g[sel] if sel else g[...]  # g[()] of a 0-d array would be a scalar
        x[...] = vals
        if spec.get("unaligned") and not vals.dtype.hasobject:
            x = _rebase(x, owner, 1, readonly)
        elif readonly:
            x.flags.writeable = False
    if spec.get("as_list"):
        return x.tolist()
    return x


def x_reference(x):
    """What the library should see: the values as a C-contiguous native array."""
    a = np.asarray(x)
    if a.dtype.kind in "fiu" and a.dtype.name in SUPPORTED:
        return np.ascontiguousarray(a.astype(_native(a.dtype)))
    return a


# --------------------------------------------------------------------------------------------
# The spec model: is this call valid?


def s_int(v, name):
    if isinstance(v, (bool, np.bool_)):
        raise Invalid(f"{name}: bool")
    try:
        i = operator.index(v)
    except TypeError:
        raise Invalid(f"{name}: not an integer") from None
    if not INT64_MIN <= i <= INT64_MAX:
        raise Invalid(f"{name}: out of int64")
    return i


def s_pair(v, name):
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise Invalid(f"{name}: not a pair")
        return s_int(v[0], name), s_int(v[1], name)
    i = s_int(v, name)
    return i, i


def s_flag(v, name):
    if v is True or v is False or isinstance(v, np.bool_):
        return bool(v)
    raise Invalid(f"{name}: not a bool")


def s_padding(p):
    """-> (mode, ((top, bottom), (left, right)))"""
    if isinstance(p, str):
        m = p.lower()
        if m not in ("valid", "same"):
            raise Invalid("padding: unknown string")
        return m, ((0, 0), (0, 0))
    if isinstance(p, (tuple, list)):
        if len(p) != 2:
            raise Invalid("padding: length")
        a, b = p
        if isinstance(a, (tuple, list)) or isinstance(b, (tuple, list)):
            for e in (a, b):
                if not isinstance(e, (tuple, list)) or len(e) != 2:
                    raise Invalid("padding: nested pair")
            return "explicit", (
                (s_int(a[0], "pad"), s_int(a[1], "pad")),
                (s_int(b[0], "pad"), s_int(b[1], "pad")),
            )
        ph, pw = s_int(a, "pad"), s_int(b, "pad")
        return "explicit", ((ph, ph), (pw, pw))
    q = s_int(p, "pad")
    return "explicit", ((q, q), (q, q))


def s_axis(n, k, s, d, pb, pe, ceil, limit):
    """Output size of one axis, or Invalid (every rule of shape.hpp, in exact integers)."""
    if k < 1 or s < 1 or d < 1:
        raise Invalid("kernel/stride/dilation < 1")
    eff = d * (k - 1) + 1
    if eff > INT64_MAX:
        raise Invalid("effective kernel overflows")
    if n < 1:
        raise Invalid("input size < 1")
    if pb < 0 or pe < 0:
        raise Invalid("negative padding")
    if limit and (pb > eff // 2 or pe > eff // 2):
        raise Invalid("padding above half the kernel")
    if n + pb + pe > INT64_MAX:
        raise Invalid("padded size overflows")
    out = R.out_size(n, k, s, pb, pe, d, ceil)
    if out < 1:
        raise Invalid("window larger than the padded input")
    return out


def s_same(n, k, s, d):
    if k < 1 or s < 1 or d < 1 or n < 1:
        raise Invalid("same padding of invalid axis")
    eff = d * (k - 1) + 1
    if eff > INT64_MAX:
        raise Invalid("effective kernel overflows")
    o = -(-n // s)
    if (o - 1) * s > INT64_MAX or (o - 1) * s + eff > INT64_MAX:
        raise Invalid("same padding overflows")
    total = max((o - 1) * s + eff - n, 0)  # R.same_pads, in exact integers (no float ceil)
    return total // 2, total - total // 2


def s_geometry(dims, k, s, d, padding, ceil):
    """dims = (N, H, W, C) -> (OH, OW, ((pt, pb), (pl, pr)), mode)."""
    n, h, w, c = dims
    if h < 1 or w < 1:
        raise Invalid("empty spatial axis")
    mode, pads = s_padding(padding)
    if mode == "same":
        pads = (s_same(h, k[0], s[0], d[0]), s_same(w, k[1], s[1], d[1]))
    oh = s_axis(h, k[0], s[0], d[0], pads[0][0], pads[0][1], ceil, mode == "explicit")
    ow = s_axis(w, k[1], s[1], d[1], pads[1][0], pads[1][1], ceil, mode == "explicit")
    if n * h * w * c * 8 > INT64_MAX or n * oh * ow * c * 8 > INT64_MAX:
        raise Invalid("size overflows int64")
    if max(h * w, h * w * c, oh * ow, oh * ow * c) > INT64_MAX:
        # e.g. (9, 2**63-1, 0): zero elements, but the core multiplies H*W first
        raise Unspecified("a partial size product overflows (implementation limit)")
    if w * c * 16 > INT64_MAX:
        raise Unspecified("row scratch size overflows (implementation limit)")
    return oh, ow, pads, mode


def dims4(shape):
    nd = len(shape)
    if nd == 2:
        return (1, shape[0], shape[1], 1)
    if nd == 3:
        return (1, *shape)
    return tuple(shape)


def s_x(x):
    """The input as the library sees it -> native C-contiguous array, or Invalid."""
    try:
        a = np.asarray(x)
    except (ValueError, TypeError):
        raise Invalid("not array-like") from None
    if a.dtype.kind not in "fiu" or _native(a.dtype).name not in SUPPORTED:
        raise Invalid("unsupported dtype")
    if a.ndim not in (2, 3, 4):
        raise Invalid("ndim")
    return x_reference(a)


def s_dtype(v):
    if v is None:
        return None
    try:
        dt = np.dtype(v)
    except (TypeError, ValueError):
        raise Invalid("dtype: not a dtype") from None
    if dt.kind not in "fiu" or _native(dt).name not in SUPPORTED:
        raise Invalid("dtype: unsupported")
    if dt.byteorder not in ("=", "|"):
        raise Unspecified("byte-swapped output dtype")
    return dt


def classify(case, x):
    """Validate a case by the documented rules. Returns a dict describing the expected call
    (for the reference) or raises Invalid / Unspecified."""
    func = case["func"]
    a = decode_args(case.get("args", {}))
    unknown = set(a) - SIGNATURES[func]
    if unknown:
        raise Invalid(f"unexpected keyword arguments {sorted(unknown)}")
    if REQUIRED.get(func, set()) - set(a):
        raise Invalid("missing a required argument")
    if func == "output_size":
        n = s_int(a.get("n"), "n")
        k = s_int(a.get("kernel_size"), "k")
        s = k if a.get("stride") is None else s_int(a["stride"], "s")
        d = s_int(a.get("dilation", 1), "d")
        ceil = s_flag(a.get("ceil_mode", False), "ceil_mode")
        p = a.get("padding", 0)
        if isinstance(p, str):
            if p.lower() not in ("valid", "same"):
                raise Invalid("padding string")
            pb, pe = (0, 0) if p.lower() == "valid" else s_same(n, k, s, d)
            return {"value": s_axis(n, k, s, d, pb, pe, ceil, False)}
        if isinstance(p, (tuple, list)):
            if len(p) != 2:
                raise Invalid("padding pair")
            pb, pe = s_int(p[0], "pad"), s_int(p[1], "pad")
        else:
            pb = pe = s_int(p, "pad")
        return {"value": s_axis(n, k, s, d, pb, pe, ceil, True)}

    if func == "output_shape":
        shp = a.get("input_shape")
        if not isinstance(shp, (tuple, list)):
            raise Invalid("input_shape must be a tuple or list")
        dims = tuple(s_int(v, "dim") for v in shp)
        if len(dims) not in (2, 3, 4) or any(v < 0 for v in dims):
            raise Invalid("input_shape")
        k = s_pair(a.get("kernel_size"), "k")
        s = k if a.get("stride") is None else s_pair(a["stride"], "s")
        d = s_pair(a.get("dilation", 1), "d")
        ceil = s_flag(a.get("ceil_mode", False), "ceil")
        oh, ow, _, _ = s_geometry(dims4(dims), k, s, d, a.get("padding", 0), ceil)
        out = list(dims)
        hax = 1 if len(dims) == 4 else 0
        out[hax], out[hax + 1] = oh, ow
        return {"value": tuple(out)}

    xr = s_x(x)
    if func in ("global_max_pool2d", "global_avg_pool2d"):
        s_flag(a.get("keepdims", True), "keepdims")
        dt = s_dtype(a.get("dtype")) if func == "global_avg_pool2d" else None
        n, h, w, c = dims4(xr.shape)
        s_geometry((n, h, w, c), (h, w), (1, 1), (1, 1), 0, False)
        return {"xr": xr, "dtype": dt}

    k = s_pair(a.get("kernel_size"), "k")
    s = k if a.get("stride") is None else s_pair(a["stride"], "s")
    ceil = s_flag(a.get("ceil_mode", False), "ceil")
    if func == "max_pool2d":
        d = s_pair(a.get("dilation", 1), "d")
        s_flag(a.get("return_indices", False), "return_indices")
    else:
        d = (1, 1)
        s_flag(a.get("count_include_pad", True), "count_include_pad")
        div = a.get("divisor_override")
        if div is not None and s_int(div, "divisor_override") == 0:
            raise Invalid("divisor_override 0")
    dt = s_dtype(a.get("dtype")) if func == "avg_pool2d" else None
    oh, ow, pads, mode = s_geometry(dims4(xr.shape), k, s, d, a.get("padding", 0), ceil)
    return {"xr": xr, "k": k, "s": s, "d": d, "pads": pads, "mode": mode, "oh": oh, "ow": ow, "dtype": dt}


def out_shape_dtype(case, spec):
    """Shape and dtype the result should have (valid cases)."""
    func = case["func"]
    xr = spec["xr"]
    nd = xr.ndim
    n, _, _, c = dims4(xr.shape)
    if func.startswith("global"):
        oh = ow = 1
    else:
        oh, ow = spec["oh"], spec["ow"]
    shape = {4: (n, oh, ow, c), 3: (oh, ow, c), 2: (oh, ow)}[nd]
    if "avg" in func:
        dt = spec["dtype"] if spec["dtype"] is not None else R.default_avg_dtype(xr.dtype)
    else:
        dt = xr.dtype
    return shape, np.dtype(dt)


# --------------------------------------------------------------------------------------------
# out= arrays


def build_out(kind, shape, dtype, x):
    """``out`` of the given kind. Returns (out, must_fail)."""
    dtype = np.dtype(dtype)
    if kind == "good":
        return np.full(shape, 7, dtype), False
    if kind == "list":
        return np.zeros(shape, dtype).tolist(), True
    if kind == "wrong_dtype":
        other = np.dtype(np.float32 if dtype != np.float32 else np.float64)
        return np.empty(shape, other), True
    if kind == "swapped":
        if dtype.itemsize == 1:
            return np.empty(shape, np.float16 if dtype.kind != "f" else np.int8), True
        return np.empty(shape, dtype.newbyteorder()), True
    if kind == "wrong_shape":
        return np.empty((*shape[:-1], shape[-1] + 1) if shape else (1,), dtype), True
    if kind == "extra_dim":
        return np.empty((1, *shape), dtype), True
    if kind == "noncontig":
        big = np.empty((*shape[:-1], 2 * shape[-1]) if shape else (2,), dtype)
        o = big[..., ::2]
        # a view with a single element per row may still be C-contiguous: then it is valid
        return o, not o.flags.c_contiguous
    if kind == "readonly":
        o = np.empty(shape, dtype)
        o.flags.writeable = False
        return o, True
    if kind == "unaligned":
        n = int(np.prod(shape, dtype=np.int64))
        o = np.frombuffer(bytearray(n * dtype.itemsize + 1), dtype, count=n, offset=1).reshape(shape)
        return o, dtype.itemsize > 1 and n > 0 and not o.flags.aligned
    if kind in ("alias", "adjacent"):
        # Both x and out inside one buffer: overlapping ("alias") or side by side ("adjacent").
        if (
            not isinstance(x, np.ndarray)
            or not x.flags.c_contiguous
            or x.size == 0
            or not x.flags.writeable
            or x.dtype.hasobject
        ):
            return np.empty(shape, dtype), False
        n = int(np.prod(shape, dtype=np.int64))
        if n == 0:
            return np.empty(shape, dtype), False
        raw = x.base if isinstance(x.base, np.ndarray) and x.base.flags.c_contiguous else None
        if raw is None or raw.nbytes < x.nbytes:
            return np.empty(shape, dtype), False
        byte_view = raw.reshape(-1).view(np.uint8)
        start = x.__array_interface__["data"][0] - raw.__array_interface__["data"][0]
        need = n * dtype.itemsize
        if kind == "alias":
            off = start + (x.nbytes // 2 // dtype.itemsize) * dtype.itemsize
            off -= off % dtype.alignment
            if off + need > byte_view.size:
                off = max(0, byte_view.size - need)
                off -= off % dtype.alignment
            if off + need > byte_view.size or off >= start + x.nbytes or off + need <= start:
                return np.empty(shape, dtype), False
            return byte_view[off : off + need].view(dtype).reshape(shape), True
        off = start + x.nbytes
        off += (-off) % dtype.alignment
        if off + need > byte_view.size:
            return np.empty(shape, dtype), False
        return byte_view[off : off + need].view(dtype).reshape(shape), False
    raise ValueError(f"unknown out kind {kind!r}")


# --------------------------------------------------------------------------------------------
# Running a case


def call(case, x, out):
    func = case["func"]
    a = decode_args(case.get("args", {}))
    if out is not None:
        a["out"] = out
    if func == "output_size":
        return nhwcpool.output_size(**a)
    if func == "output_shape":
        return nhwcpool.output_shape(**a)
    return getattr(nhwcpool, func)(x, **a)


def _compare(case, spec, got, out):
    """Problems comparing a successful result with the reference."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return _compare_quiet(case, spec, got, out)


def _compare_quiet(case, spec, got, out):
    func = case["func"]
    a = decode_args(case.get("args", {}))
    if func in ("output_size", "output_shape"):
        return [] if got == spec["value"] else [f"{func} returned {got!r}, expected {spec['value']!r}"]
    xr = spec["xr"]
    shape, dt = out_shape_dtype(case, spec)
    idx = None
    if func == "max_pool2d" and a.get("return_indices"):
        if not (isinstance(got, tuple) and len(got) == 2):
            return [f"return_indices gave {type(got).__name__}"]
        got, idx = got
    problems = []
    if out is not None and got is not out:
        problems.append("out= was not returned")
    if func.startswith("global"):
        keep = bool(a.get("keepdims", True))
        if not keep:
            shape = (shape[0], shape[3]) if len(shape) == 4 else shape[2:]
    if not isinstance(got, np.ndarray) or got.shape != shape or got.dtype != dt:
        msg = (
            f"result {type(got).__name__} {getattr(got, 'shape', None)} "
            f"{getattr(got, 'dtype', None)}, expected {shape} {dt}"
        )
        return [*problems, msg]
    try:
        if func == "max_pool2d":
            big = (
                max(
                    spec["k"][0] * spec["d"][0],
                    spec["k"][1] * spec["d"][1],
                    *spec["pads"][0],
                    *spec["pads"][1],
                )
                > 1024
            )
            ref = ref_max_arith if big else R.max_pool2d
            ev, ei = ref(xr, spec["k"], spec["s"], spec["pads"], spec["d"], bool(a.get("ceil_mode", False)))
            R.assert_max_equal(got, ev)
            if idx is not None:
                assert idx.dtype == np.int64, idx.dtype
                assert idx.shape == shape, idx.shape
                np.testing.assert_array_equal(idx, ei)
        elif func == "global_max_pool2d":
            ev = R.global_max_pool2d(xr, keepdims=bool(a.get("keepdims", True)))
            R.assert_max_equal(got, ev)
        else:
            if func == "avg_pool2d":
                div = a.get("divisor_override")
                cip = bool(a.get("count_include_pad", True)) and spec["mode"] == "explicit"
                e, am, nt = R.avg_pool2d(
                    xr,
                    spec["k"],
                    spec["s"],
                    spec["pads"],
                    bool(a.get("ceil_mode", False)),
                    cip,
                    None if div is None else int(div),
                    spec["dtype"],
                )
                # padding "same" never counts padded cells: resolve_padding got explicit pads,
                # so the reference was told count_include_pad=False above.
            else:
                e, am, nt = R.global_avg_pool2d(
                    xr, keepdims=bool(a.get("keepdims", True)), dtype=spec["dtype"]
                )
            _assert_avg(got, e, am, nt, xr.dtype, case)
    except AssertionError as exc:
        problems.append(f"mismatch with the reference: {str(exc)[:600]}")
    return problems


def ref_max_arith(x, k, s, pads, d, ceil):
    """tests/reference.py's max_pool2d with the taps of a window found by arithmetic instead
    of enumeration, for kernels/paddings like 2**62 (same scan order, NaN and index rules)."""
    x4 = R.to4d(x)
    n_, h, w, c = x4.shape
    (pt, pb), (pl, pr) = pads
    oh = R.out_size(h, k[0], s[0], pt, pb, d[0], ceil)
    ow = R.out_size(w, k[1], s[1], pl, pr, d[1], ceil)

    def taps(o, st, p, kk, dd, n):
        ws = o * st - p
        t0 = 0 if ws >= 0 else -(ws // dd)  # ceil(-ws / dd)
        t1 = min(kk, -((ws - n) // dd)) if n - ws > 0 else 0
        return [ws + t * dd for t in range(t0, t1)], ws + t0 * dd

    lowest = -np.inf if x4.dtype.kind == "f" else np.iinfo(x4.dtype).min
    vals = np.empty((n_, oh, ow, c), x4.dtype)
    idxs = np.empty((n_, oh, ow, c), np.int64)
    for i in range(oh):
        rows, r0 = taps(i, s[0], pt, k[0], d[0], h)
        for j in range(ow):
            cols, c0 = taps(j, s[1], pl, k[1], d[1], w)
            cur = np.full((n_, c), lowest, x4.dtype)
            # an empty window's PyTorch start index can exceed int64 (dilation ~2**62): the
            # core wraps it (two's complement), and so does this model
            start = (r0 * w + c0 + 2**63) % 2**64 - 2**63
            idx = np.full((n_, c), start, np.int64)
            for r in rows:
                for cc in cols:
                    v = x4[:, r, cc, :]
                    take = v > cur
                    if x4.dtype.kind == "f":
                        take |= np.isnan(v)
                    cur = np.where(take, v, cur)
                    idx = np.where(take, r * w + cc, idx)
            vals[:, i, j, :] = cur
            idxs[:, i, j, :] = idx
    return R.from4d(vals, x.ndim), R.from4d(idxs, x.ndim)


def _assert_avg(got, e, am, nt, in_dtype, case):
    """Reference tolerance, leaving out cells whose float64 partial sums may overflow (the
    summation order then decides between inf and a finite value)."""
    a = decode_args(case.get("args", {}))
    div = a.get("divisor_override")
    mag = np.abs(am) * (abs(int(div)) if div is not None else 1.0)
    if in_dtype.kind == "f" and in_dtype.itemsize == 8:
        with np.errstate(all="ignore"):
            ok = np.asarray(mag * 4 < np.finfo(np.float64).max)
    else:
        ok = np.ones(np.shape(e), bool)
    if ok.all():
        R.assert_avg_close(got, e, am, nt, in_dtype)
    else:
        R.assert_avg_close(
            np.asarray(got)[ok], np.asarray(e)[ok], np.asarray(am)[ok], np.asarray(nt)[ok], in_dtype
        )


def check_case(case):
    """Run one case; return a list of problems (empty when everything is as specified)."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        x = build_x(case["x"]) if case.get("x") is not None else None
    try:
        spec = classify(case, x)
        expect = "ok"
    except Invalid as exc:
        spec, expect = None, f"error ({exc})"
    except Unspecified as exc:
        spec, expect = None, f"unspecified ({exc})"

    out = None
    out_must_fail = False
    oc = case.get("out")
    if oc is not None:
        if spec is not None and "xr" in spec and not case["func"].startswith("global"):
            shape, dt = out_shape_dtype(case, spec)
        else:
            shape, dt = (2, 2), np.dtype(np.float64)
        out, out_must_fail = build_out(oc["kind"], shape, dt, x)
        if case["func"] not in ("max_pool2d", "avg_pool2d"):
            out_must_fail = True  # no out= parameter
        if out_must_fail and expect == "ok":
            expect = f"error (out kind {oc['kind']})"

    core = nhwcpool._core
    prev_simd, prev_threads = core.get_simd_level(), nhwcpool.get_num_threads()
    try:
        if case.get("simd") and case["simd"] in core.supported_simd_levels():
            core.set_simd_level(case["simd"])
        if case.get("threads"):
            nhwcpool.set_num_threads(int(case["threads"]))
        try:
            got = call(case, x, out)
        except (ValueError, TypeError) as exc:
            if expect == "ok":
                return [f"valid call raised {type(exc).__name__}: {exc}"]
            return []
        except MemoryError:
            return []  # a valid but too large request may fail to allocate
        except Exception as exc:  # noqa: BLE001 - anything else is a finding
            return [f"raised {type(exc).__name__} (only ValueError/TypeError allowed): {exc}"]
    finally:
        core.set_simd_level(prev_simd)
        nhwcpool.set_num_threads(prev_threads)
    if expect.startswith("error"):
        return [f"invalid call succeeded; expected {expect}"]
    if expect.startswith("unspecified"):
        return []
    return _compare(case, spec, got, out)


# --------------------------------------------------------------------------------------------
# The corpus


SANITIZED = "libasan" in os.environ.get("LD_PRELOAD", "")


def load_corpus():
    cases = []
    for path in sorted(CORPUS_DIR.glob("*.json")):
        data = json.loads(path.read_text())
        items = data["cases"] if isinstance(data, dict) else data
        for i, c in enumerate(items):
            cases.append(pytest.param(c, id=f"{path.stem}-{i}-{c.get('func')}"))
    return cases


CORPUS = load_corpus()


def test_corpus_is_present():
    assert len(CORPUS) >= 100, f"only {len(CORPUS)} cases in {CORPUS_DIR}"


def _replay_in_subprocess(case):
    """Bug reproducers abort a sanitizer build: replay them in a child process."""
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); import test_hardening_corpus as H; "
        "p = H.check_case(json.loads(sys.argv[2])); print(json.dumps(p)); sys.exit(1 if p else 0)"
    )
    r = subprocess.run(
        [sys.executable, "-c", code, str(pathlib.Path(__file__).parent), json.dumps(case)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return r.returncode, r.stdout, r.stderr


@pytest.mark.parametrize("case", CORPUS)
def test_corpus_case(case):
    if case.get("bug") and (SANITIZED or case.get("subprocess")):
        rc, out, err = _replay_in_subprocess(case)
        if rc != 0:
            report = [
                ln
                for ln in err.splitlines()
                if "runtime error" in ln or "ERROR:" in ln or "terminate" in ln or "Error" in ln
            ]
            msg = f"{case['bug']} (exit {rc}): {' | '.join(report[:2]) or out.strip()}"
            if case.get("xfail"):
                pytest.xfail(f"known open bug {msg}")
            pytest.fail(f"regression of {msg}\n{out}{err[-3000:]}")
        return
    problems = check_case(case)
    if problems and case.get("xfail"):
        # an open bug: reported, not failing the suite; once fixed the case simply passes
        pytest.xfail(f"known open bug {case['bug']}: {problems[0][:200]}")
    assert not problems, json.dumps(case) + "\n" + "\n".join(problems)


def test_case_model_catches_a_wrong_result(monkeypatch):
    """The checker itself must notice a wrong answer (guards against a vacuous replay)."""
    case = {
        "func": "max_pool2d",
        "x": {"dtype": "float32", "shape": [1, 4, 4, 2], "seed": 1},
        "args": {"kernel_size": 2, "return_indices": True},
    }
    assert check_case(case) == []
    real = nhwcpool.max_pool2d

    def wrong(*args, **kwargs):
        v, i = real(*args, **kwargs)
        return v, i + 1

    monkeypatch.setattr(nhwcpool, "max_pool2d", wrong)
    assert check_case(case)
