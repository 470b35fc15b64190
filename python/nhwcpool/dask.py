"""Pooling and image pyramids on Dask arrays (optional extra ``nhwcpool[dask]``).

``nhwcpool.dask.max_pool2d`` / ``avg_pool2d`` / ``pyramid`` take a ``dask.array.Array`` of shape
(H, W), (H, W, C) or (N, H, W, C) with any chunking and return lazy Dask arrays whose values are
those of the NumPy functions on the whole array.

How the blocks are cut (per spatial axis; N and C chunks map through unchanged):

* pooling: output window j belongs to the output block whose stride cells ``j*s`` hold the input
  block's boundaries rounded to a multiple of the stride, so an output block holds about its input
  block's windows divided by the stride and outputs scale with inputs. Each output task takes the
  rows and columns its windows read: its own part plus thin strips of its neighbours
  (``effective kernel - stride`` cells after it, the begin padding before it), each strip a small
  slicing task, and calls the NumPy function once on the pieces with the padding that the global
  image has at this place: begin padding only on the first block, end padding (and ``ceil_mode``'s
  last window, which the core never counts in a divisor) only on the last block, ``"same"`` padding
  as explicit padding with the pad excluded from the divisor. Every window is computed whole by one
  call, from the same input cells, in the same order as on the whole array.
* pyramid: block boundaries rounded to multiples of ``factor**levels``, so every block but the
  last along an axis reduces whole cells at every level; each block's ``nhwcpool.pyramid`` runs
  once and its levels are split off by small getitem tasks.

Neither realignment rechunks the input: a task whose block boundaries were moved concatenates the
pieces of the input blocks it covers, which are passed whole when they are wholly needed.

``import nhwcpool`` never imports Dask; this module does (``import nhwcpool.dask``).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from functools import partial
from itertools import pairwise, product
from typing import Any

import dask.array as da
import numpy as np
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph

import nhwcpool

from ._api import _EXPLICIT, _PAD_MODES, _pair, _window

__all__ = ["avg_pool2d", "max_pool2d", "pyramid"]

# (input block index, start, stop) within that block
_Piece = tuple[int, int, int]


# --------------------------------------------------------------------------------------------
# Input checks and axis bookkeeping


def _check_array(a: Any) -> tuple[int, int]:
    """The (H, W) axis numbers of ``a``; TypeError/ValueError for anything but a known-chunk Array."""
    if not isinstance(a, da.Array):
        msg = f"a must be a dask.array.Array, got {type(a).__name__} (use nhwcpool.* for NumPy arrays)"
        raise TypeError(msg)
    if a.ndim not in (2, 3, 4):
        msg = f"a must have 2 (H, W), 3 (H, W, C) or 4 (N, H, W, C) dimensions, got {a.ndim}"
        raise ValueError(msg)
    if any(math.isnan(c) for cs in a.chunks for c in cs):
        msg = "a has unknown chunk sizes (NaN); call a.compute_chunk_sizes() first"
        raise ValueError(msg)
    return (1, 2) if a.ndim == 4 else (0, 1)


def _empty_probe(a: da.Array, h_axis: int) -> np.ndarray[Any, Any]:
    """A zero-byte array with a's H and W (C = 0): the NumPy functions check every argument
    against it and return the output's spatial shape and dtype without touching any data."""
    h, w = a.shape[h_axis], a.shape[h_axis + 1]
    return np.empty((h, w, 0), dtype=a.dtype)


def _starts(chunks: Sequence[int]) -> list[int]:
    out = [0]
    for c in chunks:
        out.append(out[-1] + c)
    return out


def _aligned_bounds(chunks: Sequence[int], n: int, unit: int) -> list[int]:
    """Interior chunk boundaries rounded to the nearest multiple of ``unit`` (deduplicated,
    strictly inside (0, n)), with 0 and n: block boundaries near the input's own."""
    inner = set()
    for b in _starts(chunks)[1:-1]:
        r = (b + unit // 2) // unit * unit
        if 0 < r < n:
            inner.add(r)
    return [0, *sorted(inner), n]


def _pieces(starts: Sequence[int], lo: int, hi: int) -> list[_Piece]:
    """The parts of input blocks (given by their start offsets, last = n) that cover [lo, hi)."""
    out = []
    for b in range(len(starts) - 1):
        s0, s1 = starts[b], starts[b + 1]
        if s1 <= lo or s0 >= hi or s0 == s1:
            continue
        out.append((b, max(lo, s0) - s0, min(hi, s1) - s0))
    return out


class _PoolAxis:
    """One spatial axis of a pooling: output block ranges, input pieces and local padding."""

    def __init__(
        self,
        chunks: Sequence[int],
        n: int,
        out: int,
        eff: int,
        stride: int,
        pad: tuple[int, int],
    ) -> None:
        p0, p1 = pad
        starts = _starts(chunks)
        # window j's stride cell j*s is in [b_k, b_{k+1}) -> block k; the blocks past the last
        # window are dropped and the last kept block takes every remaining window.
        firsts = [b // stride for b in _aligned_bounds(chunks, n, stride)[:-1]]
        firsts = [j for j in firsts if j < out]
        bounds = [*firsts, out]
        self.out_chunks = tuple(bounds[i + 1] - bounds[i] for i in range(len(firsts)))
        self.blocks: list[tuple[list[_Piece], int, int, bool]] = []
        for j0, j1 in pairwise(bounds):
            lo_w = j0 * stride - p0  # first cell of the first window (may be padding)
            hi_w = (j1 - 1) * stride - p0 + eff  # one past the last cell of the last window
            lo, hi = max(0, lo_w), min(n, hi_w)
            pad_begin = lo - lo_w  # > 0 only where windows start in the global begin padding
            pad_end = max(0, hi_w - n)
            local_ceil = False
            if pad_end > p1:
                # only the global last window under ceil_mode reaches past the end padding:
                # the same overhang, never counted in a divisor, comes from ceil_mode locally.
                pad_end, local_ceil = p1, True
            self.blocks.append((_pieces(starts, lo, hi), pad_begin, pad_end, local_ceil))


def _graph(name: str, dsk: dict[Any, Any], dependency: Any) -> HighLevelGraph:
    return HighLevelGraph.from_collections(name, dsk, dependencies=[dependency])


def _new_array(graph: HighLevelGraph, name: str, chunks: list[tuple[int, ...]], dtype: Any) -> da.Array:
    meta = np.empty((0,) * len(chunks), dtype=dtype)
    out: da.Array = da.Array(graph, name, tuple(chunks), meta=meta)  # type: ignore[no-untyped-call]
    return out


def _assemble(parts: list[list[np.ndarray[Any, Any]]], h_axis: int) -> np.ndarray[Any, Any]:
    if len(parts) == 1 and len(parts[0]) == 1:
        return parts[0][0]
    rows = [p[0] if len(p) == 1 else np.concatenate(p, axis=h_axis + 1) for p in parts]
    return rows[0] if len(rows) == 1 else np.concatenate(rows, axis=h_axis)


def _pool_block(
    parts: list[list[np.ndarray[Any, Any]]],
    *,
    fn: Callable[..., np.ndarray[Any, Any]],
    h_axis: int,
    pads: tuple[tuple[int, int], tuple[int, int]],
    expect: tuple[int, int],
    kwargs: dict[str, Any],
) -> np.ndarray[Any, Any]:
    x = _assemble(parts, h_axis)
    y = fn(x, padding=pads, **kwargs)
    got = (y.shape[h_axis], y.shape[h_axis + 1])
    if got != expect:  # an internal invariant: a wrong block would silently corrupt the result
        msg = f"nhwcpool.dask: block result {got} != planned {expect} (please report this)"
        raise RuntimeError(msg)
    return y


def _graph_key_grid(
    a: da.Array,
    h_axis: int,
    idx: tuple[int, ...],
    h_pieces: list[_Piece],
    w_pieces: list[_Piece],
    slice_name: str,
    dsk: dict[Any, Any],
) -> list[list[Any]]:
    """Keys of the input pieces of one output block (slicing tasks added to dsk where a piece
    is not a whole input block)."""
    grid = []
    for ph in h_pieces:
        row = []
        for pw in w_pieces:
            in_idx = list(idx)
            in_idx[h_axis], in_idx[h_axis + 1] = ph[0], pw[0]
            key = (a.name, *in_idx)
            hsize = a.chunks[h_axis][ph[0]]
            wsize = a.chunks[h_axis + 1][pw[0]]
            if (ph[1], ph[2], pw[1], pw[2]) != (0, hsize, 0, wsize):
                sl = [slice(None)] * a.ndim
                sl[h_axis], sl[h_axis + 1] = slice(ph[1], ph[2]), slice(pw[1], pw[2])
                skey = (slice_name, *idx, ph[0], pw[0])
                dsk[skey] = (operator.getitem, key, tuple(sl))
                key = skey
            row.append(key)
        grid.append(row)
    return grid


def _pool(
    a: da.Array,
    fn: Callable[..., np.ndarray[Any, Any]],
    kernel_size: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    ceil_mode: bool,
    kwargs: dict[str, Any],
    local_kwargs: Callable[[bool], dict[str, Any]],
    label: str,
) -> da.Array:
    h_axis = _check_array(a)[0]
    # every argument checked by the NumPy function itself, on an empty array of a's H x W
    probe = fn(_empty_probe(a, h_axis), kernel_size, stride, padding, ceil_mode=ceil_mode, **kwargs)
    out_h, out_w = probe.shape[0], probe.shape[1]
    kh, kw, sh, sw, mode, pt, pb, pl, pr = _window(kernel_size, stride, padding)
    dh, dw = _pair(dilation, "dilation")
    eh, ew = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    same = mode == _PAD_MODES["same"]
    if same:
        # TensorFlow/Keras "same" (README, Padding): output ceil(n/s), the odd cell at the end;
        # ceil_mode does not apply. Explicit padding of these sizes never exceeds eff // 2.
        def same_pad(n: int, s: int, e: int, o: int) -> tuple[int, int]:
            total = max((o - 1) * s + e - n, 0)
            return total // 2, total - total // 2

        pt, pb = same_pad(a.shape[h_axis], sh, eh, out_h)
        pl, pr = same_pad(a.shape[h_axis + 1], sw, ew, out_w)
    elif mode != _EXPLICIT:  # "valid"
        pt = pb = pl = pr = 0
    use_ceil = bool(ceil_mode) and not same
    hx = _PoolAxis(a.chunks[h_axis], a.shape[h_axis], out_h, eh, sh, (pt, pb))
    wx = _PoolAxis(a.chunks[h_axis + 1], a.shape[h_axis + 1], out_w, ew, sw, (pl, pr))

    token = tokenize(a, label, kh, kw, sh, sw, dh, dw, pt, pb, pl, pr, mode, use_ceil, kwargs)
    name = f"nhwcpool-{label}-{token}"
    slice_name = f"nhwcpool-{label}-piece-{token}"
    dsk: dict[Any, Any] = {}
    ranges = [range(len(c)) for c in a.chunks]
    ranges[h_axis] = range(len(hx.blocks))
    ranges[h_axis + 1] = range(len(wx.blocks))
    for idx in product(*ranges):
        hp, hb0, hb1, hceil = hx.blocks[idx[h_axis]]
        wp, wb0, wb1, wceil = wx.blocks[idx[h_axis + 1]]
        grid = _graph_key_grid(a, h_axis, idx, hp, wp, slice_name, dsk)
        call = dict(kernel_size=(kh, kw), stride=(sh, sw), ceil_mode=hceil or wceil)
        call.update(local_kwargs(same))
        task = partial(
            _pool_block,
            fn=fn,
            h_axis=h_axis,
            pads=((hb0, hb1), (wb0, wb1)),
            expect=(hx.out_chunks[idx[h_axis]], wx.out_chunks[idx[h_axis + 1]]),
            kwargs=call,
        )
        key = (name, *idx)
        dsk[key] = (task, grid)
    chunks = list(a.chunks)
    chunks[h_axis], chunks[h_axis + 1] = hx.out_chunks, wx.out_chunks
    return _new_array(_graph(name, dsk, a), name, chunks, probe.dtype)


# --------------------------------------------------------------------------------------------
# Public functions


def max_pool2d(
    a: da.Array,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    *,
    dilation: Any = 1,
    ceil_mode: bool = False,
) -> da.Array:
    """:func:`nhwcpool.max_pool2d` over a Dask array (lazy): the same values, bit for bit.

    ``a``: ``dask.array.Array`` of shape (H, W), (H, W, C) or (N, H, W, C), any chunking.
    Arguments as :func:`nhwcpool.max_pool2d` (``return_indices`` and ``out`` are not offered).
    Output blocks along H and W hold the windows of the input blocks (block boundaries rounded
    to the stride), N and C chunks are kept.
    """
    return _pool(
        a,
        nhwcpool.max_pool2d,
        kernel_size,
        stride,
        padding,
        dilation,
        ceil_mode,
        {"dilation": dilation},
        lambda _same: {"dilation": dilation},
        "max_pool2d",
    )


def avg_pool2d(
    a: da.Array,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    *,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
    dtype: Any = None,
) -> da.Array:
    """:func:`nhwcpool.avg_pool2d` over a Dask array (lazy).

    Every window is averaged whole by one call of :func:`nhwcpool.avg_pool2d` on the cells it
    covers, with the global padding, ``ceil_mode`` and ``count_include_pad`` rules applied
    where the image border is, so integer results are bit-identical and float results are too
    whenever the NumPy function's summation order does not depend on where its input starts
    (see the README's "Dask and images larger than memory").
    """
    kwargs = {"count_include_pad": count_include_pad, "divisor_override": divisor_override, "dtype": dtype}

    def local(same: bool) -> dict[str, Any]:
        # "same" becomes explicit padding that the divisor excludes (as Keras)
        return {**kwargs, "count_include_pad": False} if same else dict(kwargs)

    return _pool(
        a, nhwcpool.avg_pool2d, kernel_size, stride, padding, 1, ceil_mode, kwargs, local, "avg_pool2d"
    )


# --------------------------------------------------------------------------------------------
# Pyramid


def _pyramid_block(
    parts: list[list[np.ndarray[Any, Any]]],
    *,
    fn: Callable[..., list[np.ndarray[Any, Any]]],
    h_axis: int,
    levels: int,
    kwargs: dict[str, Any],
) -> tuple[np.ndarray[Any, Any], ...]:
    return tuple(fn(_assemble(parts, h_axis), levels, **kwargs))


def _pyramid(
    a: da.Array,
    levels: int,
    op: str,
    factor: int,
    edge: str,
    dtype: Any,
    fn: Callable[..., list[np.ndarray[Any, Any]]],
) -> list[da.Array]:
    h_axis = _check_array(a)[0]
    kwargs = {"op": op, "factor": factor, "edge": edge, "dtype": dtype}
    # every argument checked by the NumPy function itself, with its messages, on one pixel
    # (edge="trim" probed as "partial": a trimmed 1 x 1 image has no level; checked below)
    probe = fn(
        np.zeros((1, 1), dtype=a.dtype), levels, **{**kwargs, "edge": "partial" if edge == "trim" else edge}
    )
    if not probe:
        return []  # levels == 0
    levels, unit = len(probe), int(factor) ** len(probe)
    n_h, n_w = a.shape[h_axis], a.shape[h_axis + 1]
    if edge == "trim" and (n_h < unit or n_w < unit):
        msg = (
            f"edge='trim' leaves level {levels} empty: {n_h} x {n_w} holds no whole "
            f"{unit} x {unit} block (factor**levels)"
        )
        raise ValueError(msg)
    out_dtype = probe[0].dtype

    per_axis = []
    for ax in (h_axis, h_axis + 1):
        n = a.shape[ax]
        bounds = _aligned_bounds(a.chunks[ax], n, unit)
        if edge == "trim" and len(bounds) > 2 and n - bounds[-2] < unit:
            del bounds[-2]  # a tail without a whole block joins its neighbour
        starts = _starts(a.chunks[ax])
        blocks = [_pieces(starts, lo, hi) for lo, hi in pairwise(bounds)]
        sizes = [hi - lo for lo, hi in pairwise(bounds)]
        per_axis.append((blocks, sizes))
    (hb, hs), (wb, ws) = per_axis

    token = tokenize(a, "pyramid", levels, kwargs, getattr(fn, "__qualname__", repr(fn)))
    name = f"nhwcpool-pyramid-{token}"
    slice_name = f"nhwcpool-pyramid-piece-{token}"
    dsk: dict[Any, Any] = {}
    ranges = [range(len(c)) for c in a.chunks]
    ranges[h_axis], ranges[h_axis + 1] = range(len(hb)), range(len(wb))
    task = partial(_pyramid_block, fn=fn, h_axis=h_axis, levels=levels, kwargs=kwargs)
    for idx in product(*ranges):
        grid = _graph_key_grid(a, h_axis, idx, hb[idx[h_axis]], wb[idx[h_axis + 1]], slice_name, dsk)
        key = (name, *idx)
        dsk[key] = (task, grid)
    base = _graph(name, dsk, a)

    def cells(size: int, step: int) -> int:
        return -(-size // step) if edge == "partial" else size // step

    out = []
    for i in range(1, levels + 1):
        step = int(factor) ** i
        lname = f"{name}-level{i}"
        ldsk: dict[Any, Any] = {
            (lname, *idx): (operator.getitem, (name, *idx), i - 1) for idx in product(*ranges)
        }
        chunks = list(a.chunks)
        chunks[h_axis] = tuple(cells(s, step) for s in hs)
        chunks[h_axis + 1] = tuple(cells(s, step) for s in ws)
        out.append(_new_array(_graph(lname, ldsk, _Layer(base, name)), lname, chunks, out_dtype))
    return out


class _Layer:
    """A minimal collection wrapping the shared per-block pyramid layer, for
    HighLevelGraph.from_collections (every level depends on the same tasks)."""

    def __init__(self, graph: HighLevelGraph, name: str) -> None:
        self._graph, self._name = graph, name

    def __dask_graph__(self) -> HighLevelGraph:
        return self._graph

    def __dask_layers__(self) -> tuple[str]:
        return (self._name,)


def pyramid(
    a: da.Array,
    levels: int,
    *,
    op: str = "mean",
    factor: int = 2,
    edge: str = "partial",
    dtype: Any = None,
) -> list[da.Array]:
    """:func:`nhwcpool.pyramid` over a Dask array: a list of ``levels`` lazy Dask arrays.

    Block boundaries along H and W are rounded to multiples of ``factor**levels``; each block's
    pyramid is computed once (one task), its levels split off by one small task per level, so
    level i has the input's blocks scaled down by ``factor**i``. Partial cells (``edge="partial"``)
    occur only at the image border, as in the NumPy function; values are the same.
    """
    return _pyramid(a, levels, op, factor, edge, dtype, nhwcpool.pyramid)
