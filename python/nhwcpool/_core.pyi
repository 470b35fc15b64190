from typing import Any

import numpy as np

__version__: str
PAD_EXPLICIT: int
PAD_VALID: int
PAD_SAME: int

def output_size(
    n: int, kernel: int, stride: int, dilation: int, pad_begin: int, pad_end: int, ceil_mode: bool, mode: int
) -> int: ...
def output_shape(
    dims: list[int],
    kh: int,
    kw: int,
    sh: int,
    sw: int,
    dh: int,
    dw: int,
    pt: int,
    pb: int,
    pl: int,
    pr: int,
    ceil_mode: bool,
    mode: int,
) -> tuple[int, ...]: ...
def max_pool2d(
    x: np.ndarray[Any, Any],
    kh: int,
    kw: int,
    sh: int,
    sw: int,
    dh: int,
    dw: int,
    pt: int,
    pb: int,
    pl: int,
    pr: int,
    ceil_mode: bool,
    mode: int,
    return_indices: bool,
    out: np.ndarray[Any, Any] | None,
    /,
) -> np.ndarray[Any, Any] | tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]: ...
def avg_pool2d(
    x: np.ndarray[Any, Any],
    kh: int,
    kw: int,
    sh: int,
    sw: int,
    pt: int,
    pb: int,
    pl: int,
    pr: int,
    ceil_mode: bool,
    mode: int,
    count_include_pad: bool,
    divisor_override: int,
    dtype: np.dtype[Any] | None,
    out: np.ndarray[Any, Any] | None,
    /,
) -> np.ndarray[Any, Any]: ...
def max_pool2d_backward(
    grad_output: np.ndarray[Any, Any],
    indices: np.ndarray[Any, Any],
    input_shape: list[int],
    out: np.ndarray[Any, Any] | None,
    ignore_outside: bool = False,
) -> np.ndarray[Any, Any]: ...
def avg_pool2d_backward(
    grad_output: np.ndarray[Any, Any],
    input_shape: list[int],
    kh: int,
    kw: int,
    sh: int,
    sw: int,
    pt: int,
    pb: int,
    pl: int,
    pr: int,
    ceil_mode: bool,
    mode: int,
    count_include_pad: bool,
    divisor_override: int,
    out: np.ndarray[Any, Any] | None,
) -> np.ndarray[Any, Any]: ...
def max_unpool2d(
    x: np.ndarray[Any, Any],
    indices: np.ndarray[Any, Any],
    output_size: list[int],
    out: np.ndarray[Any, Any] | None,
) -> np.ndarray[Any, Any]: ...
def set_num_threads(n: int) -> None: ...
def get_num_threads() -> int: ...
def openmp_enabled() -> bool: ...
def threading_backend() -> str: ...
def _max_team_size() -> int: ...
def _parallel_probe(
    n: int,
    work: int,
    threads: int,
    throw_at: int = -1,
    bad_alloc: bool = False,
    nested: int = 0,
    sleep_us: int = 0,
) -> list[tuple[int, int, bool, int]]: ...
def compiler() -> str: ...
def get_simd_level() -> str: ...
def best_simd_level() -> str: ...
def set_simd_level(name: str) -> None: ...
def supported_simd_levels() -> list[str]: ...
def compiled_simd_levels() -> list[str]: ...
def _set_stream_threshold(bytes: int, /) -> None: ...
def _get_stream_threshold() -> int: ...
def _last_level_cache_bytes() -> int: ...
def _set_output_cache_bytes(bytes: int, /) -> None: ...
def _get_output_cache_bytes() -> int: ...
def _output_cache_held() -> int: ...
def _pyramid(
    x: np.ndarray[Any, Any], levels: int, op: int, factor: int, edge: int, out_dtype: np.dtype[Any]
) -> list[np.ndarray[Any, Any]]: ...
