"""Shared fixtures for the nhwcpool test suite.

* Hypothesis profiles: "ci" (derandomized, no example database: CI runs are
  reproducible) is loaded when the environment has CI=true, otherwise "dev".
  NHWCPOOL_HYPOTHESIS_PROFILE=<name> overrides the choice.
* SIMD levels: ``SIMD_LEVELS`` lists what this CPU + build supports;
  ``simd_level`` is a parametrized fixture that switches the level for one
  test and restores the previous one; ``each_simd_level()`` iterates inside a
  test (used by the hypothesis tests so the reference runs once per example).
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

sys.path.insert(0, str(Path(__file__).resolve().parent))

import nhwcpool

_common = dict(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.register_profile("ci", derandomize=True, database=None, **_common)
settings.register_profile("dev", **_common)
settings.register_profile("thorough", max_examples=2000, **_common)
_default_profile = "ci" if os.environ.get("CI", "").strip().lower() == "true" else "dev"
settings.load_profile(os.environ.get("NHWCPOOL_HYPOTHESIS_PROFILE", _default_profile))


def supported_simd_levels():
    levels = list(nhwcpool._core.supported_simd_levels())
    assert levels, "supported_simd_levels() returned nothing"
    return levels


SIMD_LEVELS = supported_simd_levels()


@contextlib.contextmanager
def using_simd(level):
    core = nhwcpool._core
    previous = core.get_simd_level()
    core.set_simd_level(level)
    try:
        assert core.get_simd_level() == level
        yield level
    finally:
        core.set_simd_level(previous)


@contextlib.contextmanager
def streaming_stores():
    """Write every output with the non-temporal-store paths (normally only outputs of
    several MiB take them)."""
    core = nhwcpool._core
    previous = core._get_stream_threshold()
    core._set_stream_threshold(0)
    try:
        yield
    finally:
        core._set_stream_threshold(previous)


def each_simd_level():
    """Yield every supported SIMD level with it active, once with ordinary and once with
    streaming output stores ("<level>+stream"); restores afterwards."""
    for level in SIMD_LEVELS:
        with using_simd(level):
            yield level
            with streaming_stores():
                yield f"{level}+stream"


@pytest.fixture(params=SIMD_LEVELS)
def simd_level(request):
    with using_simd(request.param) as level:
        yield level


@pytest.fixture
def restore_threads():
    before = nhwcpool.get_num_threads()
    yield before
    nhwcpool.set_num_threads(before)


def pytest_report_header():
    line = (
        f"nhwcpool {getattr(nhwcpool, '__version__', '?')}; "
        f"simd levels {SIMD_LEVELS}; active {nhwcpool._core.get_simd_level()}; "
        f"threads {nhwcpool.get_num_threads()}; "
        f"hypothesis profile {settings._current_profile}"
    )
    return [line]


def pytest_configure(config):
    # pyproject turns every warning into an error; a third-party import done
    # lazily by hypothesis while it reports a failure (mypy_extensions) warns
    # about its own deprecation, which must not turn a failure report into an
    # INTERNALERROR.
    config.addinivalue_line(
        "filterwarnings", "ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning"
    )
