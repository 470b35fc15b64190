"""A plain NumPy reference for the pooling gradients and max unpooling.

Nothing here imports nhwcpool.  Written for clarity: explicit loops over output pixels
(row-major, the order in which PyTorch's CPU kernels add the terms) and over the taps of each
window; the only vectorisation is over the independent (N, C) planes.

* max_pool2d_backward: each output's gradient added to the cell its index names, outputs
  in row-major order, starting from 0; float16 sums in float32 and rounds once.
* avg_pool2d_backward: each output's gradient divided by the forward's divisor (the rules of
  reference.avg_pool2d: count_include_pad counts cells inside [-pad_begin, n + pad_end),
  never with "same"; divisor_override wins) in the accumulation type, then added to every
  in-range cell of its window, outputs in row-major order.
* max_unpool2d: zeros, then each value written to the cell its index names, in row-major
  order (the last write wins).
"""

from __future__ import annotations

import numpy as np
from reference import from4d, out_size, pair, resolve_padding, to4d


def acc_dtype(dtype):
    dtype = np.dtype(dtype)
    return np.dtype(np.float32) if dtype == np.float16 else dtype


def _shape4(input_shape):
    s = tuple(int(v) for v in input_shape)
    return {2: (1, s[0], s[1], 1), 3: (1, *s), 4: s}[len(s)]


def max_pool2d_backward(grad_output, indices, input_shape, ignore_outside=False):
    g = np.asarray(grad_output)
    nd = g.ndim
    g4, i4 = to4d(g), to4d(np.asarray(indices))
    N, OH, OW, C = g4.shape
    _, H, W, _ = _shape4(input_shape)
    acc = acc_dtype(g.dtype)
    gin = np.zeros((N, H * W, C), dtype=acc)
    for oh in range(OH):
        for ow in range(OW):
            idx = i4[:, oh, ow, :]
            inside = (idx >= 0) & (idx < H * W)
            assert ignore_outside or inside.all()
            # one term per (n, c) plane: no target repeats within this assignment; outside
            # indices (ignore_outside) add nothing
            n_in, c_in = np.nonzero(inside)
            gin[n_in, idx[n_in, c_in], c_in] += g4[:, oh, ow, :][n_in, c_in].astype(acc)
    return from4d(gin.reshape(N, H, W, C).astype(g.dtype), nd)


def avg_pool2d_backward(
    grad_output,
    input_shape,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode=False,
    count_include_pad=True,
    divisor_override=None,
):
    g = np.asarray(grad_output)
    nd = g.ndim
    g4 = to4d(g)
    N, H, W, C = _shape4(input_shape)
    k = pair(kernel_size)
    s = k if stride is None else pair(stride)
    ((pt, pb), (pl, pr)), is_same = resolve_padding(padding, (H, W), k, s)
    OH = out_size(H, k[0], s[0], pt, pb, 1, ceil_mode)
    OW = out_size(W, k[1], s[1], pl, pr, 1, ceil_mode)
    assert g4.shape == (N, OH, OW, C), (g4.shape, (N, OH, OW, C))
    acc = acc_dtype(g.dtype)
    gin = np.zeros((N, H, W, C), dtype=acc)
    for oh in range(OH):
        h0 = oh * s[0] - pt
        h1 = min(h0 + k[0], H + pb)
        hs, he = max(h0, 0), min(h1, H)
        for ow in range(OW):
            w0 = ow * s[1] - pl
            w1 = min(w0 + k[1], W + pr)
            ws, we = max(w0, 0), min(w1, W)
            if divisor_override is not None:
                div = int(divisor_override)
            elif count_include_pad and not is_same:
                div = (h1 - h0) * (w1 - w0)
            else:
                div = (he - hs) * (we - ws)
            with np.errstate(all="ignore"):
                q = g4[:, oh, ow, :].astype(acc) / acc.type(div)
                for ih in range(hs, he):
                    for iw in range(ws, we):
                        gin[:, ih, iw, :] += q
    return from4d(gin.astype(g.dtype), nd)


def max_unpool2d(x, indices, output_size):
    x = np.asarray(x)
    nd = x.ndim
    x4, i4 = to4d(x), to4d(np.asarray(indices))
    N, OH, OW, C = x4.shape
    H, W = output_size
    out = np.zeros((N, H * W, C), dtype=x.dtype)
    nn = np.arange(N)[:, None]
    cc = np.arange(C)[None, :]
    for oh in range(OH):
        for ow in range(OW):
            out[nn, i4[:, oh, ow, :], cc] = x4[:, oh, ow, :]
    return from4d(out.reshape(N, H, W, C), nd)
