"""nhwcpool: fast, exact 2-D max and average pooling on channels-last (NHWC) NumPy arrays.

>>> import numpy as np, nhwcpool
>>> x = np.array([[1, 3, 2, 1], [2, 9, 1, 1], [1, 3, 2, 3], [5, 6, 1, 2]])
>>> nhwcpool.max_pool2d(x, 2).tolist()      # f=2, s=2 (stride defaults to the kernel)
[[9, 2], [6, 3]]
"""

from __future__ import annotations

from pathlib import Path as _Path

from ._openmp import quiet_private_runtime as _quiet_private_runtime

try:
    with _quiet_private_runtime(_Path(__file__).resolve().parent):
        from . import _core
except ImportError as exc:  # pragma: no cover - only when the extension is missing
    msg = (
        "nhwcpool's compiled extension (_core) could not be imported. Install the package with "
        "`pip install .` (it builds the C++ core) rather than importing it from the source tree."
    )
    raise ImportError(msg) from exc

from ._api import (
    _init_runtime,
    avg_pool2d,
    get_num_threads,
    global_avg_pool2d,
    global_max_pool2d,
    max_pool2d,
    output_shape,
    output_size,
    set_num_threads,
    show_config,
)
from ._backward import avg_pool2d_backward, max_pool2d_backward, max_unpool2d
from ._pyramid import pyramid

__version__: str = _core.__version__

__all__ = [
    "__version__",
    "avg_pool2d",
    "avg_pool2d_backward",
    "get_num_threads",
    "global_avg_pool2d",
    "global_max_pool2d",
    "max_pool2d",
    "max_pool2d_backward",
    "max_unpool2d",
    "output_shape",
    "output_size",
    "pyramid",
    "set_num_threads",
    "show_config",
]

_init_runtime()


def __dir__() -> list[str]:
    return __all__
