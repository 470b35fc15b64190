"""Each kernel path, chosen by shape, checked against the reference at every SIMD level,
with ordinary and with streaming (non-temporal) output stores.

The hypothesis tests draw small channel counts; the paths below need wide pixels
(>= 64 bytes), >= 128 channels (streamed int64 indices) or a particular window/stride
mix, so they are listed explicitly. Outputs are also written through misaligned ``out=``
views, so the streaming stores see every alignment of their first and last lines.
"""

from __future__ import annotations

import contextlib
import io
import pathlib
import subprocess
import sys
import threading

import nhwcpool
import numpy as np
import pytest
import reference as R
from conftest import each_simd_level
from strategies import make_array

# (shape, kernel, stride, padding): which path each takes is noted.
CASES = [
    ((2, 9, 10, 128), 2, 2, 0),  # 2x2/s2: register blocks (float32), else taps outer (wide)
    ((1, 9, 9, 136), 3, 2, 1),  # 3x3/s2 with padding, odd block tail (float32 argmax: masked)
    ((1, 7, 6, 200), 3, 2, 1),  # float32 argmax: a partial block of 5 vectors, the last masked
    ((2, 7, 8, 130), 3, 1, 1),  # 3x3/s1: sliding register window (float32), else register-blocked
    ((1, 5, 9, 20), 3, 1, 0),  # sliding window, 4-lane channel tail
    ((2, 2, 6, 40), 3, 1, 1),  # sliding window, at most 2 rows in range
    ((1, 6, 10, 24), (1, 3), 1, (0, 1)),  # sliding window, one row
    ((1, 7, 9, 33), (3, 2), 1, (1, 0)),  # sliding window, 2 columns
    ((1, 6, 7, 256), 2, 1, 0),  # register-blocked direct, 2x2/s1
    ((1, 11, 9, 96), 5, 1, 2),  # separable, 5x5/s1 (float32: column slide)
    ((1, 12, 12, 72), 13, 1, 6),  # separable, kernel larger than the image
    ((2, 13, 14, 72), 13, 1, 6),  # running max (van Herk/Gil-Werman) on both axes
    ((2, 7, 23, 5), 6, 1, 3),  # running max, small C
    ((1, 16, 17, 40), (4, 7), 1, (2, 3)),  # running max, different windows per axis
    ((3, 9, 30, 64), (5, 9), 1, 0),  # running max, no padding, several blocks per row
    ((1, 6, 30, 136), (2, 9), 1, (1, 4)),  # running passes along W only: 64-channel chunks, 8-lane tail
    ((2, 11, 12, 24), 10, 1, 5),  # running passes, one vector and a half-vector tail per pixel
    ((2, 9, 12, 20), (5, 4), 1, (2, 1)),  # column slide (float32): 4 columns, a 4-lane channel tail
    ((1, 10, 14, 33), 8, 1, 4),  # column slide: 8 columns and rows, most windows at an edge
    ((2, 12, 11, 48), (3, 6), (2, 1), (1, 3)),  # column slide, rows with stride 2
    ((1, 6, 40, 16), (2, 7), 1, (1, 3)),  # column slide, one pixel per vector
    ((3, 9, 9, 3), 2, 2, 0),  # small C, shifted W*C vectors (float32: permute gather)
    ((2, 8, 8, 6), 2, 2, 0),  # float32 gather straight from the input rows
    ((2, 11, 37, 3), 3, 2, 1),  # gather over the row buffer (padding), edge windows apart
    ((1, 9, 40, 5), 5, 1, 2),  # gather, stride 1, 2 pixels per step
    ((1, 6, 50, 1), 3, 3, 0),  # gather, one channel, 10 pixels per step
    ((2, 7, 33, 15), 2, 2, 0),  # gather, one pixel per step
    ((1, 5, 31, 7), 2, 3, 0),  # gather, stride > kernel
    ((1, 5, 5, 2048), 5, 1, 0),  # global window over wide pixels
]
IDS = [f"{s}-k{k}s{st}p{p}" for s, k, st, p in CASES]


def _misaligned_out(shape, dtype, offset):
    itemsize = np.dtype(dtype).itemsize
    n = int(np.prod(shape))
    buf = np.zeros(n * itemsize + 64 + offset, np.uint8)
    start = (-buf.ctypes.data) % 64 + offset
    return buf[start : start + n * itemsize].view(dtype).reshape(shape)


@pytest.mark.parametrize(("shape", "k", "s", "p"), CASES, ids=IDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64, np.uint8, np.int32])
def test_max_paths(shape, k, s, p, dtype):
    x = make_array(shape, dtype, "special" if np.dtype(dtype).kind == "f" else "full", seed=sum(shape))
    exp_v, exp_i = R.max_pool2d(x, k, s, p)
    for level in each_simd_level():
        v = nhwcpool.max_pool2d(x, k, s, p)
        R.assert_max_equal(v, exp_v)
        v2, i2 = nhwcpool.max_pool2d(x, k, s, p, return_indices=True)
        R.assert_max_equal(v2, exp_v)
        np.testing.assert_array_equal(i2, exp_i, err_msg=f"indices, simd={level}")
        # offset 0: a 64-byte aligned output, where whole-line pixels are streamed
        for offset in (0, 4, 16, 40) if np.dtype(dtype).itemsize == 4 else (0,):
            o = _misaligned_out(exp_v.shape, dtype, offset)
            nhwcpool.max_pool2d(x, k, s, p, out=o)
            R.assert_max_equal(o, exp_v)


@pytest.mark.parametrize(("shape", "k", "s", "p"), CASES, ids=IDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64, np.int16])
@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avg_paths(shape, k, s, p, dtype, count_include_pad):
    x = make_array(
        shape, dtype, "dyadic" if np.dtype(dtype).kind == "f" else "full", seed=sum(shape), avg_safe=True
    )
    exp, absmean, ntaps = R.avg_pool2d(x, k, s, p, False, count_include_pad, None, None)
    for level in each_simd_level():
        got = nhwcpool.avg_pool2d(x, k, s, p, count_include_pad=count_include_pad)
        try:
            R.assert_avg_close(got, exp, absmean, ntaps, dtype)
        except AssertionError as e:
            msg = f"simd={level}: {e}"
            raise AssertionError(msg) from None
        if dtype in (np.float32, np.float64):
            for offset in (0, np.dtype(dtype).itemsize):  # 0: aligned, whole-line pixels are streamed
                o = _misaligned_out(exp.shape, dtype, offset)
                nhwcpool.avg_pool2d(x, k, s, p, count_include_pad=count_include_pad, out=o)
                np.testing.assert_array_equal(o, got)


# Paths that average float32 and float16 windows directly (per output pixel): register blocks,
# the fused AVX-512 blocks, the sliding window, taps outer. Their result is bit-exact: a float32
# sum over the window's taps in row-major order, starting from 0, then one division (PyTorch's
# channels-last order). (The separable and small-channel paths sum rows first, so only close.)
DIRECT_AVG = [
    ((2, 9, 10, 128), 2, 2, 0),
    ((1, 9, 9, 136), 3, 2, 1),
    ((1, 7, 6, 200), 3, 2, 1),
    ((2, 5, 7, 20), 3, 2, 1),
    ((2, 7, 8, 130), 3, 1, 1),
    ((1, 5, 9, 20), 3, 1, 0),
    ((2, 2, 6, 40), 3, 1, 1),
    ((1, 6, 10, 24), (1, 3), 1, (0, 1)),
    ((1, 7, 9, 33), (3, 2), 1, (1, 0)),
    ((1, 6, 7, 256), 2, 1, 0),
    ((2, 6, 11, 64), 2, 2, 0),  # pixel runs: a row's full windows in one call (<= 4 vectors)
    ((1, 7, 12, 16), 3, 2, 1),  # pixel runs between padded edge windows
    ((1, 5, 13, 48), (2, 3), (1, 3), (0, 1)),  # pixel runs, stride > kernel along W
    ((2, 7, 7, 1000), 7, 1, 0),  # wide windows (> 16 taps): taps in groups of 7
    ((1, 9, 9, 40), (5, 4), (3, 2), (2, 1)),  # wide, edge windows of fewer taps
    ((1, 8, 8, 24), 5, 4, 2),
]


def _avg_sum_then_divide(x, k, s, p, count_include_pad, divisor_override):
    (kh, kw), (sh, sw), (ph, pw) = R.pair(k), R.pair(s), R.pair(p)
    n, h, w, c = x.shape
    oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    xp = np.zeros((n, h + 2 * ph, w + 2 * pw, c), np.float32)  # + 0.0 leaves a sum's bits alone
    xp[:, ph : ph + h, pw : pw + w] = x
    inside = np.zeros(xp.shape[1:3], np.int64)
    inside[ph : ph + h, pw : pw + w] = 1
    acc = np.zeros((n, oh, ow, c), np.float32)
    count = np.zeros((oh, ow), np.int64)
    for i in range(kh):
        for j in range(kw):
            acc = acc + xp[:, i : i + sh * (oh - 1) + 1 : sh, j : j + sw * (ow - 1) + 1 : sw]
            count += inside[i : i + sh * (oh - 1) + 1 : sh, j : j + sw * (ow - 1) + 1 : sw]
    if count_include_pad:
        count[:] = kh * kw  # these windows never reach past the padding
    if divisor_override is not None:
        count[:] = divisor_override
    return acc / count.astype(np.float32)[None, :, :, None]


@pytest.mark.parametrize(
    ("shape", "k", "s", "p"), DIRECT_AVG, ids=[f"{c[0]}-k{c[1]}s{c[2]}p{c[3]}" for c in DIRECT_AVG]
)
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_direct_average_is_sum_then_divide(shape, k, s, p, dtype):
    """float16 too: its float32 mean is rounded to nearest even once."""
    x = (4 * np.random.default_rng(sum(shape)).standard_normal(shape)).astype(dtype)
    for include, override in ((True, None), (False, None), (True, 7)):
        exp = _avg_sum_then_divide(x.astype(np.float32), k, s, p, include, override).astype(dtype)
        for level in each_simd_level():
            got = nhwcpool.avg_pool2d(x, k, s, p, count_include_pad=include, divisor_override=override)
            np.testing.assert_array_equal(
                got, exp, err_msg=f"simd={level}, include={include}, divisor={override}"
            )


F16_MAX_CASES = [
    ((2, 6, 8, 128), 2, 2, 0),  # four whole vectors of 32 halves
    ((1, 7, 7, 136), 3, 2, 1),  # a 128-channel block, then one masked vector of 8
    ((1, 5, 6, 40), 3, 1, 1),  # one whole and one masked vector
    ((2, 4, 9, 64), (2, 3), (1, 2), (1, 0)),
]


@pytest.mark.parametrize(
    ("shape", "k", "s", "p"), F16_MAX_CASES, ids=[f"{c[0]}-k{c[1]}" for c in F16_MAX_CASES]
)
@pytest.mark.parametrize("dtype", [np.float16, np.float32])
@pytest.mark.parametrize("special", ["none", "nan", "-nan", "zeros", "inf"])
def test_wide_max_is_bitwise_reference(shape, k, s, p, dtype, special):
    """Plain max, bit for bit: float16 is reduced on its bits in the AVX-512 build and
    falls back to the float path for a window with a NaN (either sign) or with a maximum
    that is a zero of both signs (the first zero in tap order wins, as in PyTorch). Sparse
    specials, so that most blocks take the bit path and a few fall back."""
    rng = np.random.default_rng(sum(shape) + len(special))
    x = make_array(shape, dtype, "dyadic", seed=sum(shape))
    flat = x.reshape(-1)
    where = rng.choice(flat.size, size=max(1, flat.size // 200), replace=False)
    if special in ("nan", "-nan"):
        # quiet NaNs of one sign with two payloads (the last NaN in tap order wins), and in
        # places of the other sign
        sign = -1.0 if special == "-nan" else 1.0
        bits = np.array([0x7E00, 0x7E55], np.uint16) | (0x8000 if sign < 0 else 0)
        nans = bits.view(np.float16).astype(dtype)
        # the next pixel's same channel: windows holding a NaN with the larger payload
        # before one with the smaller (the last wins, not the larger)
        flat[where] = nans[1]
        flat[np.minimum(where + shape[-1], flat.size - 1)] = nans[0]
        flat[where[::7]] = np.copysign(np.nan, -sign)
    elif special == "inf":
        flat[where] = np.where(rng.random(where.size) < 0.5, np.inf, -np.inf)
    elif special == "zeros":
        x[...] = -np.abs(x)  # nothing positive: zeros are maxima
        flat = x.reshape(-1)
        zeros = rng.random(flat.size) < 0.3
        flat[zeros] = np.where(rng.random(int(zeros.sum())) < 0.5, -0.0, 0.0)
    exp_v, _ = R.max_pool2d(x, k, s, p)
    for level in each_simd_level():
        got = nhwcpool.max_pool2d(x, k, s, p)
        assert got.tobytes() == exp_v.tobytes(), f"simd={level}: not bitwise equal"


def _at_offset(x, offset):
    """A copy of x whose data starts `offset` bytes past a 64-byte boundary."""
    buf = np.empty(x.nbytes + 128, np.uint8)
    start = (-buf.ctypes.data) % 64 + offset
    y = buf[start : start + x.nbytes].view(x.dtype).reshape(x.shape)
    y[...] = x
    return y


@pytest.mark.parametrize("offset", [0, 4, 16, 60])
def test_wide_window_sums_align_to_the_input(offset):
    """Wide float32 windows sum in vectors that start on the first tap's vector boundary:
    the same bits at every input offset."""
    x = _at_offset(
        (4 * np.random.default_rng(offset).standard_normal((2, 7, 7, 1000))).astype(np.float32), offset
    )
    exp = _avg_sum_then_divide(x, 7, 1, 0, True, None)
    for level in each_simd_level():
        np.testing.assert_array_equal(nhwcpool.avg_pool2d(x, 7), exp, err_msg=f"simd={level}")
        np.testing.assert_array_equal(
            nhwcpool.avg_pool2d(x[:, :, :, 3:], 7), exp[..., 3:], err_msg=f"simd={level}"
        )


@pytest.mark.parametrize("offset", [0, 4, 16, 48, 60])
@pytest.mark.parametrize(
    ("shape", "k", "p"),
    [((2, 24, 24, 256), 3, 1), ((3, 5, 6, 16), 3, 1), ((2, 4, 4, 32), 3, 0), ((1, 6, 7, 48), 2, 0)],
)
def test_sliding_window_streams_into_an_output_aligned_like_the_input(offset, shape, k, p):
    """Large float32 3x3/s1 results are allocated with the input's offset within a cache line,
    so the sliding window can stream whole output lines (the AVX-512 build). Its chunks start
    on the input's lines, the last one wrapping into the next pixel: every input offset, with
    rows of one to five windows, gives the same bits through every output offset."""
    x = _at_offset(make_array(shape, np.float32, "special", seed=offset), offset)
    xa = _at_offset((4 * np.random.default_rng(offset).standard_normal(x.shape)).astype(np.float32), offset)
    exp_max, exp_idx = R.max_pool2d(x, k, 1, p)
    exp_avg = _avg_sum_then_divide(xa, k, 1, p, False, None)
    for level in each_simd_level():
        got = nhwcpool.max_pool2d(x, k, 1, p)
        R.assert_max_equal(got, exp_max)
        avg = nhwcpool.avg_pool2d(xa, k, 1, p, count_include_pad=False)
        np.testing.assert_array_equal(avg, exp_avg, err_msg=f"simd={level}")
        v, i = nhwcpool.max_pool2d(x, k, 1, p, return_indices=True)
        R.assert_max_equal(v, exp_max)
        np.testing.assert_array_equal(i, exp_idx)
        if level.startswith("avx512") and shape[-1] == 256:
            assert got.ctypes.data % 64 == offset
            assert avg.ctypes.data % 64 == offset
        if x.nbytes >= 1 << 20:
            assert v.ctypes.data % 64 == 0  # the argmax kernel never slides: aligned, streamable
        for out_off in (0, 8, offset):
            o = _misaligned_out(exp_max.shape, np.float32, out_off)
            R.assert_max_equal(nhwcpool.max_pool2d(x, k, 1, p, out=o), exp_max)
            o = _misaligned_out(exp_avg.shape, np.float32, out_off)
            nhwcpool.avg_pool2d(xa, k, 1, p, count_include_pad=False, out=o)
            np.testing.assert_array_equal(o, exp_avg, err_msg=f"simd={level}, out at {out_off}")


@pytest.mark.parametrize(("shape", "k", "p"), [((2, 9, 11, 256), 5, 2), ((1, 7, 12, 272), (4, 6), (1, 0))])
def test_column_slide_aligns_its_chunks_to_the_input(shape, k, p):
    """Over >= 256 channels the column slide (stride-1 windows of 4-8 columns) starts its
    channel chunks on the input's vector boundaries, after a head chunk of the lanes before the
    first one: every input offset gives the same bits, through every output offset."""
    base = make_array(shape, np.float32, "special", seed=shape[-1])
    basea = (4 * np.random.default_rng(shape[-1]).standard_normal(shape)).astype(np.float32)
    exp_max, _ = R.max_pool2d(base, k, 1, p)
    exp, absmean, ntaps = R.avg_pool2d(basea, k, 1, p, False, False, None, None)
    for level in each_simd_level():
        want = nhwcpool.avg_pool2d(_at_offset(basea, 0), k, 1, p, count_include_pad=False)
        R.assert_avg_close(want, exp, absmean, ntaps, np.float32)
        for in_off in (0, 4, 16, 36, 60):
            x, xa = _at_offset(base, in_off), _at_offset(basea, in_off)
            for out_off in (None, 0, in_off, 8):
                o = None if out_off is None else _misaligned_out(exp_max.shape, np.float32, out_off)
                got = nhwcpool.max_pool2d(x, k, 1, p, out=o)
                R.assert_max_equal(got, exp_max)
                o = None if out_off is None else _misaligned_out(want.shape, np.float32, out_off)
                avg = nhwcpool.avg_pool2d(xa, k, 1, p, count_include_pad=False, out=o)
                assert avg.tobytes() == want.tobytes(), f"simd={level}, input at {in_off}, out at {out_off}"


def test_streaming_threshold_hook_round_trips():
    core = nhwcpool._core
    before = core._get_stream_threshold()
    try:
        core._set_stream_threshold(12345)
        assert core._get_stream_threshold() == 12345
        with pytest.raises(ValueError, match="bytes must be >= 0"):
            core._set_stream_threshold(-1)
    finally:
        core._set_stream_threshold(before)
    assert before > 0


def test_thresholds_follow_the_last_level_cache():
    # Detected once (sysfs on Linux), clamped; the default stream threshold is a quarter of it
    # (a fresh process: other tests change the threshold).
    code = (
        "import nhwcpool._core as c; b = c._last_level_cache_bytes(); "
        "assert 4 << 20 <= b <= 1 << 30, b; assert c._get_stream_threshold() == b // 4; print(b)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    b = int(out.stdout)
    sysfs = pathlib.Path("/sys/devices/system/cpu/cpu0/cache")
    sizes = {}
    for d in sysfs.glob("index*"):
        try:
            level, size = int((d / "level").read_text()), (d / "size").read_text().strip()
        except (OSError, ValueError):
            continue
        if size.endswith("K") and size[:-1].isdigit():
            sizes[level] = max(sizes.get(level, 0), int(size[:-1]) << 10)
    if sizes:
        want = min(max(sizes[max(sizes)], 4 << 20), 1 << 30)
        assert b == want
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        nhwcpool.show_config()
    assert f"cache:     {b / 2**20:g} MiB last level" in buf.getvalue()


def test_output_cache_reuses_buffers_and_stays_bounded():
    core = nhwcpool._core
    before = core._get_output_cache_bytes()
    x = np.arange(4 * 64 * 64 * 128, dtype=np.float32).reshape(4, 64, 64, 128) % 977
    exp, exp_i = R.max_pool2d(x, 2)
    try:
        core._set_output_cache_bytes(8 << 20)
        first = nhwcpool.max_pool2d(x, 2)  # 2 MiB: from the cache's allocator
        assert first.base is not None
        assert first.flags.writeable
        assert first.flags.c_contiguous
        first[...] = -1  # a recycled buffer holds stale values; every element must be rewritten
        del first
        assert 0 < core._output_cache_held() <= 8 << 20
        for _ in range(3):
            v, i = nhwcpool.max_pool2d(x, 2, return_indices=True)
            np.testing.assert_array_equal(v, exp)
            np.testing.assert_array_equal(i, exp_i)
            v[...] = -1
            i[...] = -1
            del v, i
            assert core._output_cache_held() <= 8 << 20
        views = [nhwcpool.avg_pool2d(x, 2)[::2] for _ in range(4)]  # views keep buffers alive
        for v in views:
            np.testing.assert_array_equal(v, R.avg_pool2d(x, 2, None, 0, False, True, None, None)[0][::2])
        core._set_output_cache_bytes(0)  # off: frees what it holds
        assert core._output_cache_held() == 0
        assert nhwcpool.max_pool2d(x, 2).base is None
        with pytest.raises(ValueError, match="bytes must be >= 0"):
            core._set_output_cache_bytes(-5)
    finally:
        core._set_output_cache_bytes(before)


def test_output_cache_from_many_threads():
    xs = [np.random.default_rng(s).random((2, 64, 64, 256), np.float32) for s in range(4)]
    exps = [R.max_pool2d(x, 2)[0] for x in xs]  # 2 MiB results: all go through the cache
    errors = []

    def work(t):
        try:
            for k in range(15):
                j = (t + k) % 4
                got = nhwcpool.max_pool2d(xs[j], 2)
                if not np.array_equal(got, exps[j]):
                    errors.append((t, k))
                got[...] = np.nan  # scribble before the buffer goes back
        except Exception as e:  # noqa: BLE001  # pragma: no cover - any error fails the test below
            errors.append(repr(e))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    assert nhwcpool._core._output_cache_held() <= nhwcpool._core._get_output_cache_bytes()


GATHER_CASES = [
    ((2, 6, 37, 3), 2, 2, 0),
    ((1, 7, 29, 5), 3, 2, 1),
    ((1, 4, 23, 1), 3, 1, 0),
    ((3, 4, 9, 6), 2, 2, 0),
    ((1, 5, 30, 15), 2, 2, 0),
]


@pytest.mark.parametrize(("shape", "k", "s", "p"), [((256, 64, 64, 1), 2, 2, 0), ((128, 60, 50, 3), 3, 2, 1)])
def test_small_pixel_gather_on_inputs_past_the_row_prefetch_size(shape, k, s, p):
    # Inputs of 4 MiB or more with short rows prefetch rows ahead (ShortRowPrefetch).
    x = make_array(shape, np.float32, "dyadic", seed=sum(shape), avg_safe=True)
    assert x.nbytes >= 4 << 20
    exp_v, _ = R.max_pool2d(x, k, s, p)
    exp_a, absmean, ntaps = R.avg_pool2d(x, k, s, p, False, True, None, None)
    for level in each_simd_level():
        R.assert_max_equal(nhwcpool.max_pool2d(x, k, s, p), exp_v)
        got = nhwcpool.avg_pool2d(x, k, s, p)
        try:
            R.assert_avg_close(got, exp_a, absmean, ntaps, np.float32)
        except AssertionError as e:
            msg = f"simd={level}: {e}"
            raise AssertionError(msg) from None


@pytest.mark.parametrize(("shape", "k", "s", "p"), GATHER_CASES)
def test_small_pixel_gather_writes_only_its_output(shape, k, s, p):
    # The gather stores whole vectors where the row has room: nothing may land outside `out`.
    x = make_array(shape, np.float32, "dyadic", seed=sum(shape), avg_safe=True)
    exp_v, _ = R.max_pool2d(x, k, s, p)
    exp_a, absmean, ntaps = R.avg_pool2d(x, k, s, p, False, True, None, None)
    n = exp_v.size
    for level in each_simd_level():
        for fn, exp in ((nhwcpool.max_pool2d, exp_v), (nhwcpool.avg_pool2d, exp_a)):
            buf = np.full(n + 64, 7.0, np.float32)
            out = buf[32 : 32 + n].reshape(exp.shape)
            fn(x, k, s, p, out=out)
            np.testing.assert_array_equal(buf[:32], 7.0, err_msg=f"simd={level}")
            np.testing.assert_array_equal(buf[32 + n :], 7.0, err_msg=f"simd={level}")
            if fn is nhwcpool.max_pool2d:
                R.assert_max_equal(out, exp)
            else:
                R.assert_avg_close(out, exp, absmean, ntaps, np.float32)


def test_sliding_window_average_redoes_overflowing_rows():
    # 3x3/s1 float32 average (sliding register window): sums of 3e38 overflow float32, and
    # such rows are redone in float64, so the mean of finite values stays finite.
    for c in (17, 32):
        x = np.full((1, 5, 6, c), 3e38, np.float32)
        x[0, 2, 3, 1] = -3e38
        exp, absmean, ntaps = R.avg_pool2d(x, 3, 1, 1, False, False, None, None)
        for level in each_simd_level():
            got = nhwcpool.avg_pool2d(x, 3, 1, 1, count_include_pad=False)
            assert np.isfinite(got).all(), f"simd={level}"
            R.assert_avg_close(got, exp, absmean, ntaps, np.float32)


@pytest.mark.parametrize("offset", [0, 1, 4, 7, 12, 15])
def test_sliding_window_at_every_input_alignment(offset):
    # The sliding 3x3/s1 kernel starts its channel chunks on cache lines when C*4 is a
    # multiple of 64, with a shorter head chunk: inputs starting anywhere inside a line.
    shape = (2, 5, 7, 48)
    base = make_array((int(np.prod(shape)) + 16,), np.float32, "special", seed=offset)
    x = base[offset : offset + int(np.prod(shape))].reshape(shape)
    exp_v, _ = R.max_pool2d(x, 3, 1, 1)
    exp_a, absmean, ntaps = R.avg_pool2d(x, 3, 1, 1, False, False, None, None)
    for level in each_simd_level():
        R.assert_max_equal(nhwcpool.max_pool2d(x, 3, 1, 1), exp_v)
        got = nhwcpool.avg_pool2d(x, 3, 1, 1, count_include_pad=False)
        try:
            R.assert_avg_close(got, exp_a, absmean, ntaps, np.float32)
        except AssertionError as e:
            msg = f"simd={level}, offset={offset}: {e}"
            raise AssertionError(msg) from None


@pytest.mark.parametrize(
    ("shape", "k", "s", "p"),
    [
        ((2, 6, 12, 3), 2, 2, 0),  # 2 rows x 2 taps
        ((2, 7, 13, 3), 3, 2, (1, 0)),  # 3 x 3, and 2 rows at the padded top and bottom
        ((1, 6, 12, 2), (2, 3), (2, 1), 0),  # 2 rows x 3 taps
        ((1, 7, 12, 5), (3, 2), 2, (1, 0)),  # 3 rows x 2 taps
        ((1, 9, 17, 1), 4, 1, (2, 0)),  # 4 x 4 (general loop), 1-4 rows
    ],
)
def test_small_pixel_gather_nan_in_every_position(shape, k, s, p):
    # The planned gather runs max without NaN propagation and redoes a row when it read a
    # NaN: one NaN (or inf) at every position of the input must come out as the reference.
    base = make_array(shape, np.float32, "dyadic", seed=sum(shape))
    for level in each_simd_level():
        for flat in range(0, base.size, 5):
            for special in (np.nan, -np.inf):
                x = base.copy()
                x.reshape(-1)[flat] = special
                exp_v, _ = R.max_pool2d(x, k, s, p)
                got = nhwcpool.max_pool2d(x, k, s, p)
                try:
                    R.assert_max_equal(got, exp_v)
                except AssertionError as e:
                    msg = f"simd={level}, value {special} at {flat}: {e}"
                    raise AssertionError(msg) from None


# Register-blocked max over pixels of at most 4 vectors takes each row's full windows as one run
# (AVX-512: float32 and every integer type, fused vpmax kernels); edge windows, windows that
# lie wholly in the padding, dilation, ceil_mode and strides past the kernel around the runs.
RUN_GEOMETRIES = [
    ((2, 6, 11), 2, 2, 0, 1, False),
    ((1, 7, 12), 3, 2, 1, 1, False),
    ((1, 9, 14), 3, 1, 1, 1, False),
    ((1, 8, 15), 3, 2, 2, 2, True),
    ((2, 5, 13), (2, 3), (1, 3), (0, 1), 1, True),
    ((1, 4, 5), 2, 2, 1, 1, True),  # last column window wholly in the padding
]
RUN_DTYPES = [np.float32, np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64]


@pytest.mark.parametrize("dtype", RUN_DTYPES)
@pytest.mark.parametrize(
    "geom", RUN_GEOMETRIES, ids=[f"{g[0]}-k{g[1]}s{g[2]}p{g[3]}d{g[4]}c{int(g[5])}" for g in RUN_GEOMETRIES]
)
def test_max_pixel_runs(dtype, geom):
    (n, h, w), k, s, p, d, ceil = geom
    lanes = 64 // np.dtype(dtype).itemsize
    for c in (lanes, 2 * lanes + 3, 4 * lanes, 4 * lanes + 1):  # 1-4 vectors, a tail, past 4
        x = make_array((n, h, w, c), dtype, "special" if np.dtype(dtype).kind == "f" else "full", seed=c + h)
        exp_v, exp_i = R.max_pool2d(x, k, s, p, d, ceil)
        for level in each_simd_level():
            v = nhwcpool.max_pool2d(x, k, s, p, dilation=d, ceil_mode=ceil)
            R.assert_max_equal(v, exp_v)
            v2, i2 = nhwcpool.max_pool2d(x, k, s, p, dilation=d, ceil_mode=ceil, return_indices=True)
            R.assert_max_equal(v2, exp_v)
            np.testing.assert_array_equal(i2, exp_i, err_msg=f"indices, simd={level}, C={c}")
            for offset in (0, np.dtype(dtype).itemsize):  # 0: whole-line pixels are streamed
                o = _misaligned_out(exp_v.shape, dtype, offset)
                nhwcpool.max_pool2d(x, k, s, p, dilation=d, ceil_mode=ceil, out=o)
                R.assert_max_equal(o, exp_v)


AVG_RUN_GEOMETRIES = [g for g in RUN_GEOMETRIES if g[4] == 1]  # (average pooling has no dilation)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize(
    "geom", AVG_RUN_GEOMETRIES, ids=[f"{g[0]}-k{g[1]}s{g[2]}p{g[3]}c{int(g[5])}" for g in AVG_RUN_GEOMETRIES]
)
@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avg_pixel_runs(dtype, geom, count_include_pad):
    (n, h, w), k, s, p, _, ceil = geom
    for c in (16, 40, 64, 65):  # float32 accumulators: 1-4 vectors, then past the run size
        x = make_array((n, h, w, c), dtype, "dyadic", seed=c + h, avg_safe=True)
        exp, absmean, ntaps = R.avg_pool2d(x, k, s, p, ceil, count_include_pad, None, None)
        for level in each_simd_level():
            got = nhwcpool.avg_pool2d(x, k, s, p, ceil_mode=ceil, count_include_pad=count_include_pad)
            try:
                R.assert_avg_close(got, exp, absmean, ntaps, dtype)
            except AssertionError as e:
                msg = f"simd={level}, C={c}: {e}"
                raise AssertionError(msg) from None


@pytest.mark.parametrize("dilation", [(2, 1), (3, 1)])
def test_column_slide_with_dilated_rows(dilation):
    # The column slide takes any window rows (only W must be stride 1, undilated): dilation
    # along H, with edge windows and every SIMD level.
    x = make_array((2, 13, 15, 40), np.float32, "special", seed=7)
    exp_v, _ = R.max_pool2d(x, (3, 5), 1, (2, 2), dilation=dilation)
    for _level in each_simd_level():
        R.assert_max_equal(nhwcpool.max_pool2d(x, (3, 5), 1, (2, 2), dilation=dilation), exp_v)


@pytest.mark.parametrize("count_include_pad", [True, False])
def test_float64_sums_narrowed_to_float32_are_within_half_an_ulp(count_include_pad):
    # Windows over 64 cells sum float32 in float64, and the float32 mean is sum * (1/d):
    # within half a float32 ulp of the exact mean (a tie of float32 may round either way).
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((2, 15, 16, 20)) * 10.0 ** rng.integers(-3, 4, (2, 15, 16, 20))).astype(
        np.float32
    )
    x64 = x.astype(np.float64)
    pad = np.zeros((2, 27, 28, 20))
    pad[:, 6:21, 6:22] = x64
    inside = np.zeros((27, 28))
    inside[6:21, 6:22] = 1
    exact = np.zeros((2, 15, 16, 20))
    count = np.zeros((15, 16))
    for i in range(13):
        for j in range(13):
            exact += pad[:, i : i + 15, j : j + 16]
            count += inside[i : i + 15, j : j + 16]
    exact /= (np.full((15, 16), 169.0) if count_include_pad else count)[..., None]
    for _level in each_simd_level():
        got = nhwcpool.avg_pool2d(x, 13, 1, 6, count_include_pad=count_include_pad)
        assert got.dtype == np.float32
        err = np.abs(got.astype(np.float64) - exact)
        assert np.all(err <= 0.5 * np.spacing(np.abs(got)).astype(np.float64) * (1 + 1e-6))


def test_float64_sums_narrowed_to_float32_direct_path():
    # The same rule on the direct (per window) path: 9x9/s9 windows over 64 channels.
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 18, 18, 64)).astype(np.float32) * np.float32(1e3)
    exact = x.astype(np.float64).reshape(2, 2, 9, 2, 9, 64).sum(axis=(2, 4)) / 81.0
    for _level in each_simd_level():
        got = nhwcpool.avg_pool2d(x, 9, 9)
        err = np.abs(got.astype(np.float64) - exact)
        assert np.all(err <= 0.5 * np.spacing(np.abs(got)).astype(np.float64) * (1 + 1e-6))
