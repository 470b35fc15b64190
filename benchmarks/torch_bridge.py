#!/usr/bin/env python3
"""nhwcpool.torch against torch.nn's own pooling, side by side (CPU, channels_last).

    python benchmarks/torch_bridge.py                       # everything below, 1 and 2 threads
    python benchmarks/torch_bridge.py --parts step --threads 2 --reps 20
    python benchmarks/torch_bridge.py --parts resnet --batches 1,32

Parts:

* ``step``: a training step of one max-pool layer, forward + backward (``y = pool(x);
  y.backward(g)``), ``nhwcpool.torch.MaxPool2d`` against ``torch.nn.MaxPool2d`` on the same
  channels_last tensors; the two alternate, medians and their ratio per case and thread count.
* ``resnet``: a torchvision-style ResNet-18 (written here; random weights, nothing is
  downloaded), eval mode, channels_last, ``torch.no_grad``: inference time per batch before
  and after ``replace_pooling`` (its 3x3/s2/p1 max pool and global average pool).
* ``memory``: what a max-pool layer saves for its backward (bytes per output element, counted
  with ``torch.autograd.graph.saved_tensors_hooks``), and the peak memory of a training step of
  the small CNN below, each contestant in a fresh subprocess (``ru_maxrss`` before and after:
  torch's allocations are invisible to tracemalloc).

Thread counts apply to both libraries (``torch.set_num_threads`` and
``nhwcpool.set_num_threads``). Print ``os.getloadavg()`` before and after: on a shared machine
compare ratios, not absolute times.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import nhwcpool
import nhwcpool.torch as npt
import torch

CL = torch.channels_last

# (name, input shape NCHW, kernel, stride, padding)
STEP_CASES = [
    ("a: 2x2/s2 (8,128,112,112)", (8, 128, 112, 112), 2, 2, 0),  # compare.py's case a
    ("b: stem 3x3/s2/p1 (8,64,112,112)", (8, 64, 112, 112), 3, 2, 1),  # ResNet's, case b
    ("2x2/s2 in cache (8,128,56,56)", (8, 128, 56, 56), 2, 2, 0),
    ("3x3/s1/p1 (8,256,28,28)", (8, 256, 28, 28), 3, 1, 1),
    ("2x2/s2 small C (32,16,64,64)", (32, 16, 64, 64), 2, 2, 0),
]


def _threads(t: int) -> None:
    torch.set_num_threads(t)
    nhwcpool.set_num_threads(t)


def _median_ms(fn, reps: int) -> float:
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts) * 1e3


# --------------------------------------------------------------------------------------------
# training step of one layer


def part_step(args: argparse.Namespace) -> None:
    print("\n## max-pool training step (forward + backward), channels_last float32, medians")
    print("(wall-clock medians, and the medians of the process's CPU time per step: on a loaded machine")
    print(" the CPU time is the steadier figure at one thread; at two it includes OpenMP's spinning)")
    print(
        f"{'case':40s} {'threads':>7s} {'torch.nn ms':>12s} {'nhwcpool ms':>12s} {'speedup':>8s}"
        f" {'torch CPU ms':>12s} {'nhwc CPU ms':>12s} {'CPU ratio':>8s}"
    )
    for t in args.threads:
        _threads(t)
        for name, shape, k, s, p in STEP_CASES:
            torch.manual_seed(0)
            x = torch.randn(shape).contiguous(memory_format=CL).requires_grad_()
            theirs = torch.nn.MaxPool2d(k, s, p)
            ours = npt.MaxPool2d(k, s, p)
            g = torch.randn_like(theirs(x)).contiguous(memory_format=CL)

            def step(m, x=x, g=g):
                x.grad = None
                m(x).backward(g)

            for m in (theirs, ours):  # warm up, and check they agree
                step(m)
            ref = x.grad.clone()
            step(ours)
            assert torch.equal(x.grad, ref), name
            wall: dict[str, list[float]] = {"torch": [], "ours": []}
            cpu: dict[str, list[float]] = {"torch": [], "ours": []}
            for _ in range(args.reps):  # interleaved: both see the same machine load
                for key, m in (("torch", theirs), ("ours", ours)):
                    c0, t0 = time.process_time(), time.perf_counter()
                    step(m)
                    wall[key].append((time.perf_counter() - t0) * 1e3)
                    cpu[key].append((time.process_time() - c0) * 1e3)
            ma, mb = statistics.median(wall["torch"]), statistics.median(wall["ours"])
            ca, cb = statistics.median(cpu["torch"]), statistics.median(cpu["ours"])
            print(
                f"{name:40s} {t:7d} {ma:12.2f} {mb:12.2f} {ma / mb:7.2f}x {ca:12.2f} {cb:12.2f} {ca / cb:7.2f}x",
                flush=True,
            )


# --------------------------------------------------------------------------------------------
# ResNet-18 (torchvision's layout, written out)


class BasicBlock(torch.nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = torch.nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(cout)
        self.relu = torch.nn.ReLU(inplace=True)
        self.conv2 = torch.nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = torch.nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = torch.nn.Sequential(
                torch.nn.Conv2d(cin, cout, 1, stride, bias=False), torch.nn.BatchNorm2d(cout)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        idt = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.relu(y + idt)


class ResNet18(torch.nn.Module):
    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(64)
        self.relu = torch.nn.ReLU(inplace=True)
        self.maxpool = torch.nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        layers, cin = [], 64
        for i, cout in enumerate((64, 128, 256, 512)):
            layers.append(
                torch.nn.Sequential(BasicBlock(cin, cout, 1 if i == 0 else 2), BasicBlock(cout, cout, 1))
            )
            cin = cout
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.avgpool = torch.nn.AdaptiveAvgPool2d((1, 1))
        self.fc = torch.nn.Linear(512, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def part_resnet(args: argparse.Namespace) -> None:
    print("\n## ResNet-18 inference (eval, channels_last, no_grad), per batch, medians")
    print(
        f"{'batch':>5s} {'threads':>7s} {'torch.nn ms':>12s} {'replace_pooling ms':>19s} {'speedup':>8s} "
        f"{'pools torch ms':>15s} {'pools nhwcpool ms':>18s}"
    )
    torch.manual_seed(0)
    base = ResNet18().eval().to(memory_format=CL)
    ours = ResNet18().eval().to(memory_format=CL)
    ours.load_state_dict(base.state_dict())
    npt.replace_pooling(ours)
    assert type(ours.maxpool) is npt.MaxPool2d
    assert type(ours.avgpool) is npt.GlobalAvgPool2d
    for t in args.threads:
        _threads(t)
        for b in args.batches:
            x = torch.randn(b, 3, 224, 224).contiguous(memory_format=CL)
            reps = max(3, args.reps // (4 if b > 8 else 1))
            with torch.no_grad():
                ya, yb = base(x), ours(x)
                torch.testing.assert_close(yb, ya)
                a, bb = [], []
                for _ in range(reps):
                    a.append(_median_ms(lambda x=x: base(x), 1))
                    bb.append(_median_ms(lambda x=x: ours(x), 1))
                # the pooling layers alone, on the activations they see in the network
                h = base.relu(base.bn1(base.conv1(x)))
                f = base.layer4(base.layer3(base.layer2(base.layer1(base.maxpool(h)))))
                pa = _median_ms(lambda h=h, f=f: (base.maxpool(h), base.avgpool(f)), reps * 4)
                pb = _median_ms(lambda h=h, f=f: (ours.maxpool(h), ours.avgpool(f)), reps * 4)
            ma, mb = statistics.median(a), statistics.median(bb)
            print(f"{b:5d} {t:7d} {ma:12.2f} {mb:19.2f} {ma / mb:7.3f}x {pa:15.3f} {pb:18.3f}", flush=True)


# --------------------------------------------------------------------------------------------
# memory


def small_cnn(pool: str) -> torch.nn.Module:
    torch.manual_seed(0)
    mp = npt.MaxPool2d if pool == "nhwcpool" else torch.nn.MaxPool2d
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 64, 3, padding=1),
        torch.nn.ReLU(),
        mp(2),
        torch.nn.Conv2d(64, 128, 3, padding=1),
        torch.nn.ReLU(),
        mp(2),
        torch.nn.Conv2d(128, 128, 3, padding=1),
        torch.nn.ReLU(),
        mp(2),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(128, 10),
    ).to(memory_format=CL)


def saved_bytes(pool: str) -> tuple[int, int]:
    """(bytes a max-pool layer newly saves for backward, its output elements)."""
    x = torch.randn(8, 64, 56, 56).contiguous(memory_format=CL).requires_grad_()
    y0 = x * 1  # a non-leaf input, as inside a network
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        if t.data_ptr() != y0.data_ptr():  # a reference to the layer's input costs nothing new
            seen[t.data_ptr()] = t.untyped_storage().nbytes()
        return t

    m = npt.MaxPool2d(2) if pool == "nhwcpool" else torch.nn.MaxPool2d(2)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        y = m(y0)
    return sum(seen.values()), y.numel()


def memory_worker(pool: str, threads: int) -> None:
    _threads(threads)
    if pool == "nhwcpool-nocache":
        nhwcpool._core._set_output_cache_bytes(0)
        pool = "nhwcpool"
    model = small_cnn(pool)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x = torch.randn(32, 3, 128, 128).contiguous(memory_format=CL)
    target = torch.randint(0, 10, (32,))

    def step() -> None:
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), target).backward()
        opt.step()

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for _ in range(3):  # the peak over three steps (the output cache fills in the first)
        step()
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    nbytes, nout = saved_bytes(pool)
    print(json.dumps({"peak_step_kib": after - before, "saved_bytes": nbytes, "out_elems": nout}))


def part_memory(args: argparse.Namespace) -> None:
    print("\n## memory: saved for backward by one max-pool layer, peak of a training step (fresh process)")
    for pool in ("torch.nn", "nhwcpool", "nhwcpool-nocache"):
        out = subprocess.run(
            [sys.executable, __file__, "--memory-worker", pool, "--threads", str(args.threads[-1])],
            capture_output=True,
            text=True,
            check=True,
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        per = r["saved_bytes"] / r["out_elems"]
        print(
            f"{pool:16s}: saves {per:.1f} bytes per output element (and torch.nn a reference to its input); "
            f"3 training steps of the small CNN, batch 32, 128x128: peak RSS +{r['peak_step_kib'] / 1024:.1f} MiB"
        )
    print(
        "(nhwcpool-nocache: nhwcpool's cache of freed large results turned off, _set_output_cache_bytes(0))"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--parts", default="step,resnet,memory")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--batches", default="1,32")
    ap.add_argument("--memory-worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.threads = [int(v) for v in str(args.threads).split(",")]
    args.batches = [int(v) for v in args.batches.split(",")]
    if args.memory_worker:
        memory_worker(args.memory_worker, args.threads[-1])
        return
    print(f"torch {torch.__version__}, nhwcpool {nhwcpool.__version__}, load average {os.getloadavg()}")
    parts = args.parts.split(",")
    if "step" in parts:
        part_step(args)
    if "resnet" in parts:
        part_resnet(args)
    if "memory" in parts:
        part_memory(args)
    print(f"\nload average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
