#!/usr/bin/env python3
"""Fuzz nhwcpool's public API against the NumPy reference (tests/reference.py).

Every execution draws one *case* (tests/test_hardening_corpus.py holds the case model):

* the function: max_pool2d, avg_pool2d, global_max_pool2d, global_avg_pool2d, output_size,
  output_shape;
* the input: every supported dtype and unsupported ones (bool, complex, object, str, bytes,
  datetime64, timedelta64, longdouble, void), ndim 0-5, sizes 0-9 (sometimes up to 48 x 48
  x 80, to reach the parallel and SIMD main loops), values with NaN/inf/-0/subnormals/ties/
  dtype extremes, and layouts: Fortran or any axis order, odd and negative steps,
  byte-swapped, unaligned (offset 1 in a bytearray), read-only, zero-stride broadcasts,
  as_strided views with huge (and odd, misaligned) strides, nested lists, non-arrays;
* hyperparameters, valid and not: kernel/stride/dilation/padding as ints, pairs, nested
  pairs, "same"/"valid"/"SAME"/"bogus", 0, negatives, 2**62, 2**63, floats, bools, None,
  NumPy scalars and arrays; ceil_mode, return_indices, count_include_pad, divisor_override,
  dtype=, keepdims, unknown keywords;
* out=: good, overlapping the input, adjacent to it in one buffer, wrong dtype/shape,
  byte-swapped, non-contiguous, read-only, unaligned, a list;
* the SIMD level (baseline/avx2/avx512) and the thread count (1-4, 7).

Checks (tests/test_hardening_corpus.py:check_case): no crash (run this on the sanitizer
build, where any memory error or UB aborts); an invalid call raises only ValueError or
TypeError; a valid call succeeds and matches the reference (max exactly, with NaNs and int64
indices; avg within the reference's tolerance, exactly for integer inputs).

Engines:
  --engine atheris  coverage-guided (libFuzzer inside atheris; the Python layers - nhwcpool's
                    _api.py and the case builder - are instrumented; the C++ core is not, GCC
                    cannot emit libFuzzer's coverage callbacks), needs `pip install atheris`;
  --engine random   plain random.Random-driven generation, same generator and checks.

Usage (sanitizer build, see tools/sanitize.sh):
  bash tools/sanitize.sh --build-only     # once: builds /tmp/nhwc-asan (or reuse it)
  eval "$(bash tools/sanitize.sh --env)"
  LD_PRELOAD=$SANITIZE_LD_PRELOAD $NHWCPOOL_ASAN_VENV/bin/python tools/fuzz.py \
      --engine atheris --time 900 --workdir build/fuzz-a
  python tools/fuzz.py --export build/fuzz-a build/fuzz-b --out tests/fuzz_corpus/sampled.json

Outputs in --workdir: last_case.json (the case being run: after a hard crash it is the
reproducer), findings/*.json (each distinct problem once, with the problem text),
samples.jsonl (one case per new behaviour class, for the regression corpus), stats.json.
"""

# atheris must instrument nhwcpool and the case module as they are imported, after NumPy and
# pytest: hence the imports inside main() and the module-level globals they fill.
# ruff: noqa: PLC0415, PLW0603

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pathlib
import random
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
sys.path.insert(0, str(TESTS))

import pytest  # noqa: F401  (the case module imports it; keep it uninstrumented)

H = None  # the case module, imported in main() (possibly under atheris instrumentation)
nhwcpool = None

BIG_INTS = [0, -1, -2, 2**31, 2**62, 2**63 - 1, 2**63, 2**64, -(2**63), -(2**63) - 1]


# --------------------------------------------------------------------------------------------
# Sources of choices


class RandomSource:
    def __init__(self, rng: random.Random):
        self.r = rng

    def int(self, lo, hi):
        return self.r.randint(lo, hi)

    def chance(self, p):
        return self.r.random() < p

    def pick(self, seq):
        return seq[self.r.randrange(len(seq))]

    def weighted(self, items):
        total = sum(w for _, w in items)
        t = self.r.random() * total
        for v, w in items:
            t -= w
            if t < 0:
                return v
        return items[-1][0]


class AtherisSource(RandomSource):
    def __init__(self, fdp):
        self.f = fdp

    def int(self, lo, hi):
        return self.f.ConsumeIntInRange(lo, hi)

    def chance(self, p):
        return self.f.ConsumeProbability() < p

    def pick(self, seq):
        return seq[self.f.ConsumeIntInRange(0, len(seq) - 1)]

    def weighted(self, items):
        total = sum(w for _, w in items)
        t = self.f.ConsumeProbability() * total
        for v, w in items:
            t -= w
            if t < 0:
                return v
        return items[-1][0]


# --------------------------------------------------------------------------------------------
# The generator


def g_bad_scalar(src):
    return src.pick(
        [
            0,
            -1,
            -3,
            2**62,
            2**63 - 1,
            2**63,
            2**64,
            -(2**63),
            -(2**63) - 1,
            {"float": 1.5},
            {"float": 2.0},
            True,
            False,
            None,
            "2",
            {"npbool": True},
            {"np": "int32", "v": 2},
            {"np": "uint8", "v": 3},
            {"np": "int64", "v": -1},
            {"ndarray": [2, 2]},
            {"ndarray": 2},
            [2],
            [2, 2, 2],
            [],
            {"object": None},
            {"complex": [2, 0]},
            {"list": [2, {"float": 2.0}]},
            [True, 1],
        ]
    )


def g_small(src, lo=1, hi=4):
    v = src.int(lo, hi)
    return {"np": src.pick(["int8", "int32", "int64", "uint16"]), "v": v} if src.chance(0.05) else v


def g_int_or_pair(src, lo=1, hi=4, bad=0.08):
    if src.chance(bad):
        return g_bad_scalar(src)
    if src.chance(0.4):
        pair = [g_small(src, lo, hi), g_small(src, lo, hi)]
        return {"list": pair} if src.chance(0.2) else pair
    return g_small(src, lo, hi)


def g_padding(src, bad=0.08):
    if src.chance(bad):
        return src.pick(
            [
                g_bad_scalar(src),
                "bogus",
                "",
                [1, 2, 3],
                [[1, 1], 1],
                [[1], [1, 1]],
                [[1, 1, 1], [1, 1]],
                [-1, 0],
                [[0, -1], [0, 0]],
            ]
        )
    kind = src.weighted(
        [
            ("zero", 30),
            ("int", 20),
            ("pair", 12),
            ("nested", 10),
            ("same", 10),
            ("valid", 6),
            ("SAME", 3),
            ("huge", 2),
        ]
    )
    if kind == "zero":
        return 0
    if kind == "int":
        return src.int(0, 3)
    if kind == "pair":
        return [src.int(0, 2), src.int(0, 2)]
    if kind == "nested":
        return [[src.int(0, 2), src.int(0, 2)], [src.int(0, 2), src.int(0, 2)]]
    if kind == "huge":
        return src.pick([2**40, 2**62, [0, 2**62]])
    return {"same": "same", "valid": "valid", "SAME": src.pick(["SAME", "Same", "VALID"])}[kind]


def g_flag(src, bad=0.04):
    if src.chance(bad):
        return src.pick([0, 1, None, "yes", {"npbool": True}, {"npbool": False}, {"float": 1.0}])
    return src.chance(0.5)


def g_shape(src, ndim):
    large = src.chance(0.08)
    shape = []
    for ax in range(ndim):
        role = {4: "NHWC", 3: "HWC", 2: "HW"}.get(ndim, "HWCXY")[ax]
        if src.chance(0.04):
            shape.append(0)
        elif role == "N":
            shape.append(src.int(1, 3))
        elif role in "HW":
            shape.append(src.int(1, 48 if large else 9))
        elif role == "C":
            shape.append(src.int(1, 80 if large else 9))
        else:
            shape.append(src.int(1, 3))
    return shape


def g_x(src):
    if src.chance(0.025):
        return {"special": src.pick(["none", "string", "ragged", "object", "bigint", "scalar", "dict"])}
    dtype = src.pick(list(H.UNSUPPORTED)) if src.chance(0.1) else src.pick(list(H.SUPPORTED))
    ndim = src.weighted([(0, 3), (1, 4), (2, 20), (3, 25), (4, 43), (5, 5)])
    shape = g_shape(src, ndim)
    spec = {
        "dtype": dtype,
        "shape": shape,
        "seed": src.int(0, 2**31 - 1),
        "values": src.weighted(
            [("normal", 40), ("ties", 25), ("specials", 20), ("extreme", 10), ("zeros", 5)]
        ),
    }
    layout = src.weighted(
        [
            ("plain", 40),
            ("order", 12),
            ("steps", 14),
            ("order+steps", 6),
            ("broadcast", 8),
            ("strided", 8),
            ("list", 3),
        ]
    )
    if layout in ("order", "order+steps") and ndim > 1:
        perm = list(range(ndim))
        for i in range(ndim - 1, 0, -1):  # Fisher-Yates with the source's choices
            j = src.int(0, i)
            perm[i], perm[j] = perm[j], perm[i]
        if src.chance(0.3):
            perm = list(range(ndim))[::-1]  # Fortran order
        spec["order"] = perm
    if layout in ("steps", "order+steps"):
        spec["steps"] = [src.pick([1, 1, 2, 3, -1, -1, -2, -3]) for _ in range(ndim)]
    if layout == "broadcast" and ndim > 0:
        spec["broadcast"] = sorted({src.int(0, ndim - 1) for _ in range(src.int(1, max(1, ndim)))})
    if layout == "strided" and ndim > 0:
        strides = [src.pick([0, 1, 3, 8, 16, 100, 4096, 65536, 1 << 20, 3 << 20]) for _ in range(ndim)]
        # keep the backing buffer below 64 MiB (it is allocated, though mostly never touched)
        while sum(max(n - 1, 0) * st for n, st in zip(shape, strides, strict=True)) > 1 << 26:
            strides[strides.index(max(strides))] //= 16
        spec["strided"] = strides
    if layout == "list":
        spec["as_list"] = True
    if src.chance(0.12):
        spec["byteswap"] = True
    if src.chance(0.12):
        spec["unaligned"] = True
    if src.chance(0.1):
        spec["readonly"] = True
    return spec


def g_dtype_arg(src):
    return src.weighted(
        [
            (None, 60),
            (src.pick(list(H.SUPPORTED)), 28),
            (
                src.pick(
                    [
                        ">f8",
                        "<f4",
                        ">i2",
                        "bool",
                        "complex64",
                        "longdouble",
                        "foo",
                        5,
                        "object",
                        {"np": "int32", "v": 1},
                    ]
                ),
                12,
            ),
        ]
    )


def g_out(src):
    if not src.chance(0.15):
        return None
    return {
        "kind": src.weighted(
            [
                ("good", 40),
                ("alias", 15),
                ("adjacent", 10),
                ("wrong_dtype", 5),
                ("swapped", 5),
                ("wrong_shape", 5),
                ("extra_dim", 3),
                ("noncontig", 6),
                ("readonly", 4),
                ("unaligned", 5),
                ("list", 2),
            ]
        )
    }


def gen_case(src, simd_levels):
    func = src.weighted(
        [
            ("max_pool2d", 35),
            ("avg_pool2d", 30),
            ("global_max_pool2d", 7),
            ("global_avg_pool2d", 7),
            ("output_size", 10),
            ("output_shape", 11),
        ]
    )
    case = {"func": func}
    args = {}
    if func == "output_size":
        args["n"] = src.pick(BIG_INTS) if src.chance(0.15) else src.int(1, 40)
        args["kernel_size"] = src.pick(BIG_INTS) if src.chance(0.1) else src.int(1, 6)
        if src.chance(0.6):
            args["stride"] = src.pick(BIG_INTS) if src.chance(0.15) else src.int(1, 5)
        if src.chance(0.5):
            p = g_padding(src)
            if isinstance(p, list) and p and isinstance(p[0], list):
                p = p[0]
            args["padding"] = p
        if src.chance(0.4):
            args["dilation"] = src.pick(BIG_INTS) if src.chance(0.1) else src.int(1, 4)
        if src.chance(0.5):
            args["ceil_mode"] = g_flag(src)
    elif func == "output_shape":
        nd = src.weighted([(2, 30), (3, 30), (4, 35), (1, 3), (5, 2)])
        dims = [src.int(0, 40) if not src.chance(0.1) else src.pick(BIG_INTS) for _ in range(nd)]
        args["input_shape"] = {"list": dims} if src.chance(0.3) else dims
        if src.chance(0.03):
            args["input_shape"] = g_bad_scalar(src)
        args["kernel_size"] = g_int_or_pair(src, 1, 6)
        if src.chance(0.6):
            args["stride"] = g_int_or_pair(src, 1, 5)
        if src.chance(0.6):
            args["padding"] = g_padding(src)
        if src.chance(0.3):
            args["dilation"] = g_int_or_pair(src, 1, 3)
        if src.chance(0.4):
            args["ceil_mode"] = g_flag(src)
    else:
        case["x"] = g_x(src)
        if func.startswith("global"):
            if src.chance(0.6):
                args["keepdims"] = g_flag(src)
            if func == "global_avg_pool2d" and src.chance(0.5):
                args["dtype"] = g_dtype_arg(src)
        else:
            args["kernel_size"] = g_int_or_pair(src, 1, 5)
            if src.chance(0.6):
                args["stride"] = None if src.chance(0.1) else g_int_or_pair(src, 1, 4)
            if src.chance(0.6):
                args["padding"] = g_padding(src)
            if src.chance(0.4):
                args["ceil_mode"] = g_flag(src)
            if func == "max_pool2d":
                if src.chance(0.35):
                    args["dilation"] = g_int_or_pair(src, 1, 3)
                if src.chance(0.5):
                    args["return_indices"] = g_flag(src)
            else:
                if src.chance(0.4):
                    args["count_include_pad"] = g_flag(src)
                if src.chance(0.25):
                    args["divisor_override"] = src.int(-5, 9) if src.chance(0.8) else g_bad_scalar(src)
                if src.chance(0.35):
                    args["dtype"] = g_dtype_arg(src)
            case["out"] = g_out(src)
    if src.chance(0.01):
        args["bogus_keyword"] = 1
    case["args"] = args
    case["simd"] = src.pick([None, None, *simd_levels])
    case["threads"] = src.weighted([(None, 50), (1, 15), (2, 15), (3, 8), (4, 8), (7, 4)])
    return case


# --------------------------------------------------------------------------------------------
# Book-keeping


def _ints(v):
    if isinstance(v, (list, tuple)):
        return [i for e in v for i in _ints(e)]
    if isinstance(v, dict):
        return _ints(v.get("list", []))
    return [v] if isinstance(v, int) and not isinstance(v, bool) else []


def known_bug(case):
    """Cases that hit an already-reported bug which aborted the sanitizer build; with
    --avoid-known a run skips them and can go on finding new ones. All are fixed (73df920);
    their reproducers are in tests/fuzz_corpus/regressions.json.

    BUG-1 (cpp/src/shape.cpp output_size): with ceil_mode, span + (stride - 1) overflows int64
    for a stride near 2**63 (UBSan: signed integer overflow; unsanitized: a wrong ValueError).
    """
    a = case.get("args", {})
    # BUG-2 (cpp/src/kernels/row_passes.hpp horizontal(): step = dilation * C): overflows for a huge
    # dilation that the geometry accepts (kernel 1, or padding up to half the effective kernel).
    if any(i >= 2**55 for i in _ints(a.get("dilation"))):
        return True
    # BUG-4 (cpp/src/kernels/separable.hpp use_direct(): g.h.kernel * g.w.kernel) and BUG-5 (TapList
    # scratch sized by kernel_size: size_t wrap -> heap-buffer-overflow, or std::bad_alloc):
    # huge kernels that ceil_mode or "same" padding make valid.
    if case["func"] in ("max_pool2d", "avg_pool2d") and any(i >= 2**31 for i in _ints(a.get("kernel_size"))):
        return True
    # BUG-9 (cpp/src/kernels/taplist.hpp wide_window(): 5 * stride_h * stride_w) for huge strides.
    if case["func"] in ("max_pool2d", "avg_pool2d") and any(i >= 2**31 for i in _ints(a.get("stride"))):
        return True
    # BUG-6 (cpp/src/kernels/divisors.hpp Divisor(): -v): negating divisor_override = -2**63.
    if -(2**63) in _ints(a.get("divisor_override")):
        return True
    ceil = a.get("ceil_mode")
    if ceil is True or (isinstance(ceil, dict) and ceil.get("npbool")):
        # span + (stride - 1) > INT64_MAX: a huge stride, or a huge n (output_size/_shape)
        big = _ints(a.get("stride")) + _ints(a.get("n")) + _ints(a.get("input_shape"))
        if any(i >= 2**62 for i in big):
            return True
    return False


def feature_key(case, outcome):
    """A coarse behaviour class: the first case of each class goes to the sampled corpus."""
    x = case.get("x") or {}
    a = case.get("args", {})
    layout = tuple(
        k
        for k in (
            "order",
            "steps",
            "broadcast",
            "strided",
            "as_list",
            "byteswap",
            "unaligned",
            "readonly",
            "special",
        )
        if x.get(k)
    )
    shape = x.get("shape") or []
    return json.dumps(
        [
            case["func"],
            x.get("dtype"),
            len(shape),
            0 in shape,
            layout,
            x.get("values"),
            (case.get("out") or {}).get("kind"),
            outcome,
            sorted(k for k, v in a.items() if v not in (None, 0, False)),
            type(a.get("padding")).__name__,
            case.get("simd"),
            (case.get("threads") or 1) > 1,
        ]
    )


class Fuzzer:
    def __init__(self, workdir: pathlib.Path, max_samples: int):
        self.workdir = workdir
        (workdir / "findings").mkdir(parents=True, exist_ok=True)
        self.last = workdir / "last_case.json"
        self.samples_path = workdir / "samples.jsonl"
        self.seen_keys = set()
        if self.samples_path.exists():
            for line in self.samples_path.read_text().splitlines():
                self.seen_keys.add(json.loads(line)["key"])
        self.samples = self.samples_path.open("a")
        self.max_samples = max_samples
        self.execs = 0
        self.valid = 0
        self.findings = {}
        self.start = time.time()
        self.last_report = self.start
        self.simd_levels = list(nhwcpool._core.supported_simd_levels())
        self.avoid_known = False
        self.skipped = 0

    def run(self, case):
        if self.avoid_known and known_bug(case):
            self.skipped += 1
            return
        self.execs += 1
        self.last.write_text(json.dumps(case))
        try:
            problems = H.check_case(case)
        except Exception as exc:  # noqa: BLE001 - a harness error is reported, not fatal
            problems = [f"HARNESS {type(exc).__name__}: {exc}"]
        if problems:
            sig = hashlib.sha1((case["func"] + problems[0].split(":")[0][:60]).encode()).hexdigest()[:12]
            if sig not in self.findings:
                self.findings[sig] = problems[0]
                rec = dict(case, problems=problems)
                (self.workdir / "findings" / f"{sig}.json").write_text(json.dumps(rec, indent=1))
                print(f"[fuzz] FINDING {sig}: {problems[0][:300]}", flush=True)
            outcome = "problem"
        else:
            try:
                H.classify(case, H.build_x(case["x"]) if case.get("x") else None)
                outcome = "ok"
                self.valid += 1
            except (H.Invalid, H.Unspecified):
                outcome = "error"
            except Exception:  # noqa: BLE001
                outcome = "error"
        key = feature_key(case, outcome)
        if key not in self.seen_keys and len(self.seen_keys) < self.max_samples:
            self.seen_keys.add(key)
            self.samples.write(json.dumps({"key": key, "case": case}) + "\n")
            self.samples.flush()
        now = time.time()
        if now - self.last_report >= 60:
            self.report()
            self.last_report = now

    def report(self, final=False):
        el = time.time() - self.start
        stats = {
            "execs": self.execs,
            "valid_calls": self.valid,
            "skipped_known": self.skipped,
            "seconds": round(el, 1),
            "execs_per_s": round(self.execs / max(el, 1e-9), 1),
            "findings": len(self.findings),
            "sample_classes": len(self.seen_keys),
        }
        print(f"[fuzz]{' FINAL' if final else ''} {json.dumps(stats)}", flush=True)
        if final:
            old = {}
            sp = self.workdir / "stats.json"
            if sp.exists():
                old = json.loads(sp.read_text())
            runs = [*old.get("runs", []), stats]
            sp.write_text(json.dumps({"runs": runs, "findings": self.findings}, indent=1))
        return stats


# --------------------------------------------------------------------------------------------
# Export of the sampled corpus


def export(workdirs, out_path, limit, seed=0, max_seconds=0.25):
    """Sample the behaviour classes the fuzz runs saw into a replayable JSON corpus: at most
    `limit` cases, each replaying (against the reference) in under `max_seconds` and passing
    today (known-bug cases live in regressions.json instead)."""
    global H
    if H is None:
        import test_hardening_corpus as H
    recs = []
    for wd in workdirs:
        p = pathlib.Path(wd) / "samples.jsonl"
        if p.exists():
            recs += [json.loads(line) for line in p.read_text().splitlines()]
    seen, uniq = set(), []
    for rec in recs:
        if rec["key"] not in seen:
            seen.add(rec["key"])
            uniq.append(rec)
    rng = random.Random(seed)
    rng.shuffle(uniq)
    # balance: round-robin over (function, outcome) so rare kinds are not crowded out
    groups = {}
    for rec in uniq:
        k = json.loads(rec["key"])
        groups.setdefault((k[0], k[7]), []).append(rec)
    order = []
    while any(groups.values()):
        order.extend(groups[g].pop() for g in list(groups) if groups[g])
    chosen, slow, failing = [], 0, 0
    for rec in order:
        if len(chosen) >= limit:
            break
        case = rec["case"]
        if known_bug(case):
            continue
        t = time.perf_counter()
        problems = H.check_case(case)
        dt = time.perf_counter() - t
        if problems:
            failing += 1
            continue
        if dt > max_seconds:
            slow += 1
            continue
        chosen.append(case)
    pathlib.Path(out_path).write_text(
        json.dumps(
            {
                "about": "Sampled by tools/fuzz.py --export from the fuzz runs' behaviour classes (one "
                "case per class, balanced over function x outcome); replayed against the "
                "reference by tests/test_hardening_corpus.py.",
                "cases": chosen,
            },
            separators=(",", ":"),
        )
        + "\n"
    )
    print(
        f"exported {len(chosen)} of {len(uniq)} classes to {out_path} "
        f"(skipped {slow} slow, {failing} failing)"
    )


# --------------------------------------------------------------------------------------------


def main(argv=None):
    global H, nhwcpool
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--engine", choices=["atheris", "random", "auto"], default="auto")
    ap.add_argument("--time", type=float, default=60.0, help="seconds to fuzz")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--workdir", default=str(ROOT / "build" / "fuzz"))
    ap.add_argument("--max-samples", type=int, default=30000)
    ap.add_argument("--export", nargs="*", metavar="WORKDIR", help="export sampled cases and exit")
    ap.add_argument("--out", default=str(TESTS / "fuzz_corpus" / "sampled.json"))
    ap.add_argument("--limit", type=int, default=400)
    ap.add_argument("--replay", metavar="JSON", help="run one case (a findings/*.json or last_case.json)")
    ap.add_argument(
        "--avoid-known",
        action="store_true",
        help="skip cases that hit the bugs listed in known_bug() (all fixed now; this is how a "
        "run kept going while they were open)",
    )
    args, rest = ap.parse_known_args(argv)

    if args.export is not None:
        export(args.export, args.out, args.limit)
        return 0

    engine = args.engine
    atheris = None
    if engine in ("atheris", "auto"):
        try:
            import atheris  # type: ignore[import-not-found]
        except ImportError:
            if engine == "atheris":
                raise
            engine = "random"
        else:
            engine = "atheris"

    if engine == "atheris":
        with atheris.instrument_imports(include=["nhwcpool", "test_hardening_corpus"]):
            import nhwcpool as _n
            import test_hardening_corpus as _h
    else:
        import nhwcpool as _n
        import test_hardening_corpus as _h
    nhwcpool, H = _n, _h

    if args.replay:
        case = json.loads(pathlib.Path(args.replay).read_text())
        case.pop("problems", None)
        problems = H.check_case(case)
        print(json.dumps(case))
        print("\n".join(problems) or "no problem")
        return 1 if problems else 0

    workdir = pathlib.Path(args.workdir)
    fz = Fuzzer(workdir, args.max_samples)
    fz.avoid_known = args.avoid_known
    print(
        f"[fuzz] engine={engine} time={args.time}s workdir={workdir} "
        f"simd={fz.simd_levels} threads_default={nhwcpool.get_num_threads()} "
        f"asan={'libasan' in os.environ.get('LD_PRELOAD', '')}",
        flush=True,
    )
    deadline = time.time() + args.time

    if engine == "random":
        seed = args.seed if args.seed is not None else int(time.time())
        print(f"[fuzz] seed={seed}", flush=True)
        rng = random.Random(seed)
        src = RandomSource(rng)
        while time.time() < deadline:
            fz.run(gen_case(src, fz.simd_levels))
        fz.report(final=True)
        return 1 if fz.findings else 0

    corpus_dir = workdir / "atheris-corpus"
    corpus_dir.mkdir(parents=True, exist_ok=True)

    def one_input(data):
        fdp = atheris.FuzzedDataProvider(data)
        fz.run(gen_case(AtherisSource(fdp), fz.simd_levels))

    import atexit

    atexit.register(fz.report, True)
    lf_args = [
        sys.argv[0],
        f"-max_total_time={int(args.time)}",
        "-timeout=120",
        "-rss_limit_mb=12288",
        "-max_len=512",
        "-print_final_stats=1",
        f"-artifact_prefix={workdir}/",
        *rest,
        str(corpus_dir),
    ]
    if args.seed is not None:
        lf_args.insert(1, f"-seed={args.seed}")
    atheris.Setup(lf_args, one_input)
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    sys.exit(main())
