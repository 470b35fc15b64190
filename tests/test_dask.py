"""nhwcpool.dask against the NumPy functions on the whole array, for many chunkings.

* Property tests (hypothesis) run the graphs on Dask's synchronous scheduler: random shapes,
  random uneven chunks (down to 1 cell, smaller than the kernel), every padding form,
  dilation, ceil_mode, count_include_pad, divisor_override.
* A table of cases, the pyramid and a worker killed in the middle of a pyramid run on a real
  dask.distributed LocalCluster (2 worker processes, one thread each, loopback only).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

import dask
import nhwcpool
import nhwcpool.dask as nd
import zarr
from dask.highlevelgraph import HighLevelGraph
from dask_reference import ref_pyramid, synthetic_block
from hypothesis import given, settings
from hypothesis import strategies as st
from nhwcpool.dask import _pyramid

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def client():
    env = {"PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            host="127.0.0.1",
            env=env,
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


def assert_same(got, exp):
    assert got.shape == exp.shape
    assert got.dtype == exp.dtype
    np.testing.assert_array_equal(got, exp, strict=True)


def random_array(rng, shape, dtype):
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)


# --------------------------------------------------------------------------------------------
# Property tests of the block logic (synchronous scheduler)


@st.composite
def chunking(draw, n):
    cuts = draw(st.lists(st.integers(1, max(n - 1, 1)), max_size=min(n - 1, 6), unique=True))
    edges = [0, *sorted(c for c in cuts if 0 < c < n), n]
    return tuple(b - a for a, b in pairwise(edges))


@st.composite
def pool_case(draw, with_dilation):
    ndim = draw(st.sampled_from([2, 3, 4]))
    kh, kw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    sh, sw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    dh, dw = (draw(st.integers(1, 3)), draw(st.integers(1, 3))) if with_dilation else (1, 1)
    eh, ew = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    h, w = draw(st.integers(eh, eh + 20)), draw(st.integers(ew, ew + 20))
    form = draw(st.sampled_from(["int", "pair", "asym", "same", "valid"]))
    if form == "int":
        padding = draw(st.integers(0, min(eh, ew) // 2))
    elif form == "pair":
        padding = (draw(st.integers(0, eh // 2)), draw(st.integers(0, ew // 2)))
    elif form == "asym":
        padding = tuple((draw(st.integers(0, e // 2)), draw(st.integers(0, e // 2))) for e in (eh, ew))
    else:
        padding = form
    ceil_mode = draw(st.booleans())
    shape = {2: (h, w), 3: (h, w, draw(st.integers(1, 4))), 4: (2, h, w, draw(st.integers(1, 3)))}[ndim]
    chunks = [draw(chunking(n)) for n in shape]
    return shape, tuple(chunks), (kh, kw), (sh, sw), padding, (dh, dw), ceil_mode


@settings(max_examples=100)
@given(
    case=pool_case(True),
    dtype=st.sampled_from(["float32", "uint8", "int16", "float64"]),
    seed=st.integers(0, 9),
)
def test_max_pool2d_matches_numpy(case, dtype, seed):
    shape, chunks, k, s, p, d, ceil_mode = case
    x = random_array(np.random.default_rng(seed), shape, dtype)
    if dtype == "float32" and seed == 3:
        x.flat[:: max(x.size // 3, 1)] = np.nan
    exp = nhwcpool.max_pool2d(x, k, s, p, dilation=d, ceil_mode=ceil_mode)
    y = nd.max_pool2d(da.from_array(x, chunks=chunks), k, s, p, dilation=d, ceil_mode=ceil_mode)
    assert y.shape == exp.shape
    assert y.dtype == exp.dtype
    assert_same(y.compute(scheduler="sync"), exp)


@settings(max_examples=100)
@given(
    case=pool_case(False),
    dtype=st.sampled_from(["float32", "uint8", "int16", "float64", "uint16"]),
    include=st.booleans(),
    divisor=st.sampled_from([None, None, 3, -7]),
    out_dtype=st.sampled_from([None, None, "uint8", "float32"]),
    seed=st.integers(0, 9),
)
def test_avg_pool2d_matches_numpy(case, dtype, include, divisor, out_dtype, seed):
    shape, chunks, k, s, p, _, ceil_mode = case
    x = random_array(np.random.default_rng(seed), shape, dtype)
    kw = dict(ceil_mode=ceil_mode, count_include_pad=include, divisor_override=divisor, dtype=out_dtype)
    exp = nhwcpool.avg_pool2d(x, k, s, p, **kw)
    y = nd.avg_pool2d(da.from_array(x, chunks=chunks), k, s, p, **kw)
    assert y.shape == exp.shape
    assert y.dtype == exp.dtype
    got = y.compute(scheduler="sync")
    if x.dtype.kind != "f" or max(k) <= 3:
        # integer sums are exact; float windows up to 3x3 are summed in the same order by a
        # block's call as by the whole array's
        assert_same(got, exp)
    else:
        assert_avg_close(got, exp, x, k, s, p, kw)


def assert_avg_close(got, exp, x, k, s, p, kw):
    """Float averages: within the last-bit differences of the NumPy function's own summation
    orders (its path, chosen from the window and the input's extent, may differ between a
    block and the whole array): 2 ulp of the result plus the summation error bound of the
    window, ntaps * eps(accumulator) * mean|x|. Integer outputs: at most 1 apart."""
    assert got.shape == exp.shape
    assert got.dtype == exp.dtype
    np.testing.assert_array_equal(np.isnan(got), np.isnan(exp))
    absmean = nhwcpool.avg_pool2d(np.abs(x).astype(np.float64), k, s, p, **{**kw, "dtype": np.float64})
    eps = np.finfo(np.float32 if x.dtype == np.float32 else np.float64).eps
    g, e = got.astype(np.float64), exp.astype(np.float64)
    if exp.dtype.kind == "f":
        lim = 2 * np.finfo(exp.dtype).eps * np.abs(e) + 2 * k[0] * k[1] * eps * np.abs(absmean)
    else:
        lim = np.ones_like(e)
    ok = np.isnan(e) | (np.abs(g - e) <= lim)
    assert ok.all(), (g[~ok][:5], e[~ok][:5])


@st.composite
def pyramid_case(draw):
    ndim = draw(st.sampled_from([2, 3, 4]))
    factor = draw(st.integers(2, 3))
    levels = draw(st.integers(1, 3))
    edge = draw(st.sampled_from(["partial", "trim"]))
    low = factor**levels if edge == "trim" else 1
    h, w = draw(st.integers(low, low + 40)), draw(st.integers(low, low + 40))
    shape = {2: (h, w), 3: (h, w, draw(st.integers(1, 4))), 4: (2, h, w, 2)}[ndim]
    chunks = tuple(draw(chunking(n)) for n in shape)
    op = draw(st.sampled_from(["mean", "max", "min"]))
    return shape, chunks, levels, factor, edge, op


@settings(max_examples=70)
@given(
    case=pyramid_case(),
    dtype=st.sampled_from(["uint8", "uint16", "float32", "int16"]),
    seed=st.integers(0, 9),
)
def test_pyramid_block_logic_matches_whole_array(case, dtype, seed):
    """The chunk logic, with the NumPy reference as the per-block function."""
    shape, chunks, levels, factor, edge, op = case
    x = random_array(np.random.default_rng(seed), shape, dtype)
    exp = ref_pyramid(x, levels, op=op, factor=factor, edge=edge)
    ys = _pyramid(da.from_array(x, chunks=chunks), levels, op, factor, edge, None, ref_pyramid)
    assert [y.shape for y in ys] == [e.shape for e in exp]
    for got, e in zip(dask.compute(*ys, scheduler="sync"), exp, strict=True):
        assert_same(got, e)
    # partial cells only at the image border: every block but the last spans whole cells
    h_axis = 1 if x.ndim == 4 else 0
    for i, y in enumerate(ys, start=1):
        for ax in (h_axis, h_axis + 1):
            assert all(c >= 1 for c in y.chunks[ax])
            assert sum(y.chunks[ax]) == exp[i - 1].shape[ax]


@settings(max_examples=50)
@given(
    case=pyramid_case(),
    dtype=st.sampled_from(["uint8", "uint16", "float32", "float64", "int16"]),
    out_dtype=st.sampled_from([None, None, "uint8", "float32"]),
    seed=st.integers(0, 9),
)
def test_pyramid_matches_numpy_pyramid(case, dtype, out_dtype, seed):
    shape, chunks, levels, factor, edge, op = case
    x = random_array(np.random.default_rng(seed), shape, dtype)
    kw = dict(op=op, factor=factor, edge=edge, dtype=out_dtype)
    exp = nhwcpool.pyramid(x, levels, **kw)
    ys = nd.pyramid(da.from_array(x, chunks=chunks), levels, **kw)
    assert [(y.shape, y.dtype) for y in ys] == [(e.shape, e.dtype) for e in exp]
    for got, e in zip(dask.compute(*ys, scheduler="sync"), exp, strict=True):
        assert_same(got, e)


# --------------------------------------------------------------------------------------------
# Graph shape


def graph_len(arrays):
    """Tasks in the arrays' graphs together (shared tasks counted once), unoptimized."""
    return len(dict(HighLevelGraph.merge(*[a.__dask_graph__() for a in arrays])))


def test_pyramid_task_count_and_chunks():
    a = da.zeros((4096, 4096, 3), dtype=np.uint8, chunks=(1024, 1024, 3))
    ys = _pyramid(a, 5, "mean", 2, "partial", None, ref_pyramid)
    # 16 input blocks + 16 pyramid tasks + 16 getitem tasks per level
    assert graph_len(ys) == 16 + 16 + 16 * 5
    assert [y.chunks[:2] for y in ys] == [((1024 >> i,) * 4, (1024 >> i,) * 4) for i in range(1, 6)]
    # unaligned input chunks: no rechunk layer, block boundaries rounded to 32
    b = da.zeros((1000, 1000), dtype=np.uint8, chunks=(300, 300))
    ys = _pyramid(b, 5, "max", 2, "partial", None, ref_pyramid)
    assert ys[0].chunks == ((144, 160, 144, 52),) * 2  # boundaries 288, 608, 896
    assert ys[4].chunks == ((9, 10, 9, 4),) * 2


def test_pool_task_count_and_chunks():
    a = da.zeros((4, 1024, 1024, 16), dtype=np.float32, chunks=(2, 256, 256, 16))
    y = nd.max_pool2d(a, 3, 2, 1)
    assert y.chunks == ((2, 2), (128,) * 4, (128,) * 4, (16,))
    # 3x3/s2/p1 needs one row and column before each block: 2 x 4 x 4 pool tasks, plus a slice
    # of each of the up to 3 neighbours a block reads from
    assert graph_len([y]) == 32 + 32 + 2 * (3 * 3 * 3 + 3 + 3)


# --------------------------------------------------------------------------------------------
# Errors


def test_errors():
    x = np.zeros((8, 8), np.float32)
    with pytest.raises(TypeError, match=r"a must be a dask\.array\.Array"):
        nd.max_pool2d(x, 2)
    with pytest.raises(ValueError, match=r"2 .* dimensions"):
        nd.avg_pool2d(da.zeros((2, 2, 2, 2, 2)), 2)
    with pytest.raises(ValueError, match="kernel_size must be >= 1"):
        nd.max_pool2d(da.from_array(x), 0)
    with pytest.raises(ValueError, match="padding must be at most half"):
        nd.avg_pool2d(da.from_array(x), 2, 1, 2)
    with pytest.raises(TypeError, match="dtype"):
        nd.max_pool2d(da.from_array(x.astype(bool)), 2)
    u = da.from_array(np.arange(10.0), chunks=5)
    u = da.stack([u[u > 3], u[u > 3]], axis=1, allow_unknown_chunksizes=True)  # shape (nan, 2)
    with pytest.raises(ValueError, match="unknown chunk sizes"):
        nd.max_pool2d(u, 1)
    d = da.from_array(x)
    with pytest.raises(ValueError, match="op must be one of"):
        nd.pyramid(d, 1, op="median")
    with pytest.raises(TypeError, match="op must be a string"):
        nd.pyramid(d, 1, op=None)
    with pytest.raises(ValueError, match="edge must be one of"):
        nd.pyramid(d, 1, edge="crop")
    with pytest.raises(ValueError, match="factor must be an integer >= 2"):
        nd.pyramid(d, 1, factor=1)
    with pytest.raises(ValueError, match="levels must be an integer >= 0"):
        nd.pyramid(d, -1)
    with pytest.raises(TypeError, match="unsupported dtype"):
        nd.pyramid(d.astype(bool), 1)
    with pytest.raises(ValueError, match="level 4 empty"):
        nd.pyramid(d, 4, edge="trim")
    assert nd.pyramid(d, 0) == []
    assert [y.shape for y in nd.pyramid(d, 3, edge="trim")] == [(4, 4), (2, 2), (1, 1)]


def test_import_nhwcpool_does_not_import_dask():
    code = "import sys, nhwcpool; assert not any(m.split('.')[0] == 'dask' for m in sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True)


# --------------------------------------------------------------------------------------------
# On a dask.distributed LocalCluster


POOL_TABLE = [
    # (function, shape, dtype, chunks, args, kwargs)
    ("max", (64, 64, 3), "uint8", (16, 16, 3), (2,), {}),
    ("max", (65, 67, 3), "uint8", ((10, 30, 25), (7, 7, 50, 3), 3), (3, 2, 1), {"ceil_mode": True}),
    ("max", (9, 11), "float32", (1, 1), (3, 1, "same"), {}),  # chunks of one cell
    ("max", (2, 37, 29, 5), "float64", (2, 10, 8, (2, 3)), (3, 3), {"dilation": 2}),
    ("max", (50, 50, 2), "int16", (50, 50, 2), ((4, 3), (2, 3), ((1, 2), (0, 1))), {}),  # one chunk
    ("max", (33, 31, 4), "float32", (7, 9, 4), (5, 3, 2), {"ceil_mode": True}),
    ("max", (30, 30), "uint16", (4, 6), (7, 1, "valid"), {}),  # chunks smaller than the kernel
    ("avg", (64, 64, 3), "uint8", (16, 16, 3), (2,), {"dtype": "uint8"}),
    ("avg", (65, 67, 3), "uint8", ((10, 30, 25), (7, 7, 50, 3), 3), (3, 2, 1), {"ceil_mode": True}),
    ("avg", (45, 46, 3), "float32", (11, 13, 3), (3, 2, 1), {"count_include_pad": False, "ceil_mode": True}),
    ("avg", (2, 40, 44, 8), "float32", (2, 9, 10, 8), (4, 3, "same"), {}),
    ("avg", (40, 40, 1), "float64", (3, 17, 1), ((5, 2), (3, 1), ((2, 1), (0, 1))), {"divisor_override": 7}),
    (
        "avg",
        (24, 80, 3),
        "uint16",
        (5, 13, 3),
        (9, 4, 4),
        {"ceil_mode": True, "count_include_pad": True},
    ),
    ("avg", (30, 30, 16), "float32", (8, 8, 16), (2,), {}),
]


def test_pool_table_on_local_cluster(client):
    rng = np.random.default_rng(0)
    lazy, expected = [], []
    for fn, shape, dtype, chunks, args, kwargs in POOL_TABLE:
        x = random_array(rng, shape, dtype)
        np_fn, dask_fn = (
            (nhwcpool.max_pool2d, nd.max_pool2d) if fn == "max" else (nhwcpool.avg_pool2d, nd.avg_pool2d)
        )
        expected.append(np_fn(x, *args, **kwargs))
        lazy.append(dask_fn(da.from_array(x, chunks=chunks), *args, **kwargs))
    results = client.gather(client.compute(lazy))
    for got, exp in zip(results, expected, strict=True):
        assert_same(got, exp)


def test_pyramid_on_local_cluster(client):
    a = da.map_blocks(
        synthetic_block, dtype=np.uint8, chunks=((100, 156, 44), (64, 128, 108), (3,)), kind="uint8"
    )
    x = a.compute(scheduler="sync")
    cases = [
        ("mean", 2, "partial", 3),
        ("max", 2, "trim", 4),
        ("min", 3, "partial", 2),
        ("mean", 2, "trim", 5),
    ]
    lazy, expected = [], []
    for op, factor, edge, levels in cases:
        lazy.extend(nd.pyramid(a, levels, op=op, factor=factor, edge=edge))
        expected.extend(nhwcpool.pyramid(x, levels, op=op, factor=factor, edge=edge))
        lazy.extend(_pyramid(a, levels, op, factor, edge, None, ref_pyramid))
        expected.extend(ref_pyramid(x, levels, op=op, factor=factor, edge=edge))
    results = client.gather(client.compute(lazy))
    for got, exp in zip(results, expected, strict=True):
        assert_same(got, exp)


def test_worker_killed_mid_pyramid_loses_nothing(client):
    """A worker process dies while pyramid tasks are in flight: the nanny restarts it, the
    scheduler recomputes what it held, and the result is exact."""
    a = da.map_blocks(
        synthetic_block, dtype=np.uint16, chunks=((64,) * 6, (64,) * 4), kind="uint16", delay=0.15
    )
    x = a.compute(scheduler="sync")
    ys = nd.pyramid(a, 3)
    futures = client.compute(ys)
    victim = next(iter(client.scheduler_info()["workers"]))
    deadline = time.monotonic() + 30
    while not any(f.done() for f in futures) and time.monotonic() < deadline:
        if client.processing(workers=[victim]).get(victim):  # a pyramid task in flight there
            break
        time.sleep(0.01)
    time.sleep(0.2)  # a block or two finished and held in its memory
    assert not all(f.done() for f in futures)
    client.run(os._exit, 1, workers=[victim], on_error="ignore")  # the process dies, no reply
    results = client.gather(futures)
    for got, exp in zip(results, nhwcpool.pyramid(x, 3), strict=True):
        assert_same(got, exp)
    client.wait_for_workers(2, timeout=60)
    assert victim not in client.scheduler_info()["workers"]  # the nanny started a new one


# --------------------------------------------------------------------------------------------
# examples/ome_zarr_pyramid.py


def _load_example():
    path = HERE.parent / "examples" / "ome_zarr_pyramid.py"
    spec = importlib.util.spec_from_file_location("ome_zarr_pyramid_example", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return path, mod


def _read_levels(out):
    """The levels as (c, y, x) NumPy arrays, through ome-zarr's reader when it is installed,
    else through zarr and the multiscales metadata."""
    try:
        from ome_zarr.io import parse_url  # noqa: PLC0415 - optional reader
        from ome_zarr.reader import Reader  # noqa: PLC0415
    except ImportError:
        root = zarr.open_group(str(out), mode="r")
        paths = [d["path"] for d in root.attrs["multiscales"][0]["datasets"]]
        return [np.asarray(root[p][...]) for p in paths]
    node = next(iter(Reader(parse_url(str(out)))()))
    return [np.asarray(d.compute(scheduler="sync")) for d in node.data]


def test_ome_zarr_example_writes_an_exact_pyramid(client, tmp_path):
    path, example = _load_example()
    out = tmp_path / "synthetic.ome.zarr"
    cmd = [sys.executable, str(path), str(out), "--size", "300", "--chunk", "64", "--levels", "3"]
    run = subprocess.run(
        [*cmd, "--scheduler", client.scheduler.address],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert (
        "levels (y, x, c): 0: (300, 300, 3), 1: (150, 150, 3), 2: (75, 75, 3), 3: (38, 38, 3)" in run.stdout
    )
    assert run.stdout.count("peak memory (max RSS) of worker") == 2

    ms = zarr.open_group(str(out), mode="r").attrs["multiscales"][0]
    assert ms["version"] == "0.4"
    assert [a["name"] for a in ms["axes"]] == ["c", "y", "x"]
    assert [d["path"] for d in ms["datasets"]] == ["0", "1", "2", "3"]
    assert [d["coordinateTransformations"][0]["scale"] for d in ms["datasets"]] == [
        [1.0, 1, 1],
        [1.0, 2, 2],
        [1.0, 4, 4],
        [1.0, 8, 8],
    ]
    x = example.synthetic({None: {"array-location": [(0, 300), (0, 300), (0, 3)]}}, channels=3, kind="uint8")
    expected = [x, *nhwcpool.pyramid(x, 3)]
    for got, exp in zip(expected[1:], ref_pyramid(x, 3), strict=True):  # the documented rules
        assert_same(got, exp)
    for got, exp in zip(_read_levels(out), expected, strict=True):
        assert_same(got, exp.transpose(2, 0, 1))
