"""Two threads against one on case f of benchmarks/compare.py (3x3/s1/p1 average,
count_include_pad=False, float32 (8, 56, 56, 256)), nhwcpool alone, in one process:
set_num_threads(1) and (2) alternate round by round; medians of each round's median of 5 calls.

    python benchmarks/thread_scaling.py [ROUNDS]

Prints the threading backend (OpenMP or std::thread pool: build with
-Ccmake.define.NHWCPOOL_OPENMP=OFF for the latter) and the load average before and after. On a
machine whose cores are all busy with other work, two threads cannot show their speed-up; the
README's figure was taken under `chrt -f 1` (real-time priority) for that reason.
"""

from __future__ import annotations

import os
import statistics
import sys
import time

import nhwcpool
import numpy as np


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 21
    reps = 5
    x = np.random.default_rng(0).standard_normal((8, 56, 56, 256)).astype(np.float32)
    out = nhwcpool.avg_pool2d(x, 3, 1, 1, count_include_pad=False)

    def once(n: int) -> float:
        nhwcpool.set_num_threads(n)
        nhwcpool.avg_pool2d(x, 3, 1, 1, count_include_pad=False, out=out)  # warm
        ts = []
        for _ in range(reps):
            t = time.perf_counter()
            nhwcpool.avg_pool2d(x, 3, 1, 1, count_include_pad=False, out=out)
            ts.append(time.perf_counter() - t)
        return statistics.median(ts)

    print("load before:", os.getloadavg())
    one: list[float] = []
    two: list[float] = []
    for r in range(rounds):
        for n in (1, 2) if r % 2 == 0 else (2, 1):
            (one if n == 1 else two).append(once(n))
    m1, m2 = statistics.median(one), statistics.median(two)
    print(f"threads: {nhwcpool._core.threading_backend()}, SIMD {nhwcpool._core.get_simd_level()}")
    print(
        f"1 thread {m1 * 1e3:.2f} ms, 2 threads {m2 * 1e3:.2f} ms, speed-up {m1 / m2:.2f}x "
        f"(medians of {rounds} alternated rounds of {reps} calls)"
    )
    ratios = sorted(a / b for a, b in zip(one, two, strict=True))
    print(
        f"per-round ratios: min {ratios[0]:.2f} median {statistics.median(ratios):.2f} max {ratios[-1]:.2f}"
    )
    print("load after:", os.getloadavg())


if __name__ == "__main__":
    main()
