#!/usr/bin/env python3
"""Leak check: 100,000 nhwcpool calls must leave RSS and reference counts flat.

    python tools/leakcheck.py                 # 100,000 calls, threads as configured
    python tools/leakcheck.py --calls 1000000 --threads 2 --rounds 3

The call mix (tests/test_hardening_memory.py: make_calls) covers every public function on
success and error paths: return_indices, out= (good, wrong shape/dtype, read-only,
overlapping), inputs the binding must convert first (byte-swapped, unaligned, Fortran,
negative strides, nested lists) including errors raised after such a conversion, 0-d/5-d
inputs, bad hyperparameters and dtypes.

Reported: RSS before and after (after a 2,000-call warm-up and gc.collect()), the
sys.getrefcount of every input/output array, of the dtype objects the binding creates
(np.dtype('float32'), ...) and of the module. Exit status 1 if RSS grew by more than
--max-growth-mib (default 4) in any round, or a reference count changed.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tests"))

import nhwcpool
import test_hardening_memory as M


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--calls", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=1, help="repeat the measurement")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--max-growth-mib", type=float, default=4.0)
    ap.add_argument(
        "--selftest",
        action="store_true",
        help="add a deliberately leaking call (keeps its output and a reference to "
        "an input): the check must then FAIL",
    )
    args = ap.parse_args(argv)
    if args.selftest:
        sink = []
        real = M.make_calls

        def leaky(inp):
            calls = real(inp)
            x = inp["x"]
            calls.append(("LEAK", None, lambda: sink.append((x, nhwcpool.avg_pool2d(x, 1)))))
            return calls

        M.make_calls = leaky
    if args.threads:
        nhwcpool.set_num_threads(args.threads)
    print(
        f"nhwcpool {nhwcpool.__version__}, threads={nhwcpool.get_num_threads()}, "
        f"simd={nhwcpool._core.get_simd_level()}"
    )
    ok = True
    for r in range(args.rounds):
        t = time.perf_counter()
        res = M.leakcheck(args.calls)
        dt = time.perf_counter() - t
        mib = 2**20
        grew = res["rss_delta"] / mib
        print(
            f"round {r + 1}: {res['calls']} calls ({res['kinds']} kinds) in {dt:.1f}s "
            f"({res['calls'] / dt:,.0f}/s): RSS before {res['rss_before'] / mib:.1f} MiB, "
            f"after {res['rss_after'] / mib:.1f} MiB, delta {grew:+.2f} MiB; "
            f"refcount changes: {res['refcount_changes'] or 'none'}"
        )
        if grew > args.max_growth_mib or res["refcount_changes"]:
            ok = False
    print("OK: flat" if ok else "FAIL: memory or references grew")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
