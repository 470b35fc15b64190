"""How long nhwcpool's own OpenMP threads spin after a call, when its runtime is private.

A manylinux wheel carries its own copy of GCC's OpenMP runtime (auditwheel renames it
``libgomp-<hash>.so.1`` in ``nhwcpool.libs/``), so a process that also imports PyTorch runs two
runtimes, each with its own thread team. After a parallel region libgomp's threads spin
(GOMP_SPINCOUNT, 300,000 iterations by default: milliseconds) before they sleep, and our
spinning threads then take cores from torch's next convolution. ``benchmarks/torch_step.py``
measured a training step that alternates the two at 2 threads: see the README ("Two OpenMP
runtimes"). The fix: our private runtime spins 10,000 iterations (a fraction of a millisecond:
back-to-back pooling calls still find the team awake), unless the user set OMP_WAIT_POLICY or
GOMP_SPINCOUNT. libgomp reads these once, when it is loaded, so the variable is set only
around the extension's import and then restored: a runtime loaded later (torch's, or a shared
system one in a source build, which this leaves alone) never sees it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PRIVATE_SPINCOUNT = "10000"


def private_runtime(package_dir: Path) -> bool:
    """True when the wheel vendored its own libgomp next to the package (auditwheel's layout)."""
    libs = package_dir.parent / f"{package_dir.name}.libs"
    return any(libs.glob("libgomp*"))


def spin_env(package_dir: Path, environ: dict[str, str] | os._Environ[str]) -> dict[str, str]:
    """The variables to set while the extension (and so its private libgomp) loads."""
    if "OMP_WAIT_POLICY" in environ or "GOMP_SPINCOUNT" in environ:
        return {}
    return {"GOMP_SPINCOUNT": PRIVATE_SPINCOUNT} if private_runtime(package_dir) else {}


@contextmanager
def quiet_private_runtime(package_dir: Path) -> Iterator[None]:
    extra = spin_env(package_dir, os.environ)
    for k, v in extra.items():
        os.environ[k] = v
    try:
        yield
    finally:
        for k in extra:
            os.environ.pop(k, None)
