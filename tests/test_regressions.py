"""Regression tests for bugs found outside the fuzz corpus (see docs/hardening.md)."""

from __future__ import annotations

import nhwcpool
import numpy as np
import pytest


@pytest.fixture
def restore_threads():
    before = nhwcpool.get_num_threads()
    yield
    nhwcpool.set_num_threads(before)


@pytest.mark.usefixtures("restore_threads")
def test_huge_thread_request_is_capped():
    # BUG-7: 40,000 output rows and set_num_threads(65536) asked libgomp for ~40,000 threads,
    # which exits or crashes the process. The team is now capped at 4x the processors.
    nhwcpool.set_num_threads(65536)
    assert nhwcpool.get_num_threads() == 65536  # the request is kept, the team is capped
    x = np.ones((1, 40000, 64, 4), np.float32)
    out = nhwcpool.avg_pool2d(x, (1, 2), 1)
    assert out.shape == (1, 40000, 63, 4)
    assert np.all(out == 1.0)


def test_divisor_override_int64_min():
    # BUG-6: |INT64_MIN| was formed by negation (undefined behaviour).
    x = np.full((2, 2, 1), 2.0**62, np.float64)
    got = nhwcpool.avg_pool2d(x, 2, divisor_override=-(2**63))
    np.testing.assert_array_equal(got, np.full((1, 1, 1), -(4 * 2.0**62) / 2.0**63))
