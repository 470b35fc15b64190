"""nhwcpool.keras on Keras 3's tensorflow, torch and jax backends, and examples/keras_cnn.py.

Keras fixes its backend once per process (KERAS_BACKEND), so every backend runs
tests/keras_bridge_check.py in its own subprocess (forward and gradient equality with
keras.layers for random shapes, options and both data formats, dtypes, config, bad arguments,
save/load, and the documents' CNN trained step for step against keras.layers). The subprocesses
and the example's short run start together on first use, so their imports overlap.
Each test skips when Keras or its backend is not installed; this process never imports them.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
CHECK = HERE / "keras_bridge_check.py"
EXAMPLE = HERE.parent / "examples" / "keras_cnn.py"
BACKENDS = ("tensorflow", "torch", "jax")
TIMEOUT = 600


def _have(*modules: str) -> bool:
    return all(importlib.util.find_spec(m) is not None for m in modules)


def _env(backend: str) -> dict[str, str]:
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="2", MPLBACKEND="Agg")
    env.pop("PYTHONPATH", None)  # import the installed nhwcpool, as the tests do
    return env


class _Runs:
    """Subprocesses started together on first use; ``result(key)`` waits for one."""

    def __init__(self, tmp: Path) -> None:
        self.procs: dict[str, subprocess.Popen[str]] = {}
        self.figure = tmp / "keras_cnn.png"
        for backend in BACKENDS:
            if _have("keras", backend, "sklearn"):
                self._start(backend, [str(CHECK)], backend)
        if EXAMPLE.exists() and _have("keras", "tensorflow", "sklearn", "matplotlib"):
            args = [str(EXAMPLE), "--epochs", "3", "--figure", str(self.figure)]
            self._start("example", args, "tensorflow", cwd=tmp)

    def _start(self, key: str, args: list[str], backend: str, cwd: Path | None = None) -> None:
        self.procs[key] = subprocess.Popen(
            [sys.executable, *args],
            env=_env(backend),
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def result(self, key: str) -> str:
        proc = self.procs[key]
        out, _ = proc.communicate(timeout=TIMEOUT)
        assert proc.returncode == 0, out
        return out

    def close(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.communicate()


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory):
    r = _Runs(tmp_path_factory.mktemp("keras"))
    yield r
    r.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_layers_on_backend(runs: _Runs, backend: str) -> None:
    if backend not in runs.procs:
        pytest.skip(f"needs keras, {backend} and scikit-learn")
    out = runs.result(backend)
    for line in (
        "pooling layers: 34 cases equal keras.layers",
        "global layers: 16 cases equal keras.layers",
        "float16, bfloat16 match keras.layers",
        "config equals keras.layers'",
        "save/load:",
        "document CNN: 5 SGD steps give the same weights as keras.layers",
        f"ALL OK {backend} (",
    ):
        assert line in out, out


def test_example_keras_cnn(runs: _Runs) -> None:
    if "example" not in runs.procs:
        pytest.skip("needs examples/keras_cnn.py, keras, tensorflow, scikit-learn and matplotlib")
    out = runs.result("example")
    # model.summary(): the document's parameter counts
    for layer, params in (
        ("conv2d (Conv2D)", "78"),
        ("max_pooling2d (MaxPooling2D)", "0"),
        ("conv2d_1 (Conv2D)", "456"),
        ("max_pooling2d_1 (MaxPooling2D)", "0"),
        ("dense (Dense)", "8,148"),
        ("dense_1 (Dense)", "850"),
    ):
        assert re.search(re.escape(layer) + r".*\s" + re.escape(params) + r"\s", out), (layer, out)
    assert "Total params: 9,532" in out
    assert "(None, 12, 12, 3)" in out
    assert "(None, 4, 4, 6)" in out
    assert "data: (1438, 28, 28, 1) training, (359, 28, 28, 1) held out" in out
    for epoch in (1, 2, 3):
        assert f"Epoch {epoch}/3" in out
    assert re.search(r"45/45 - .* - accuracy: [0-9.]+ - loss: [0-9.]+ - val_accuracy", out), out
    last = out.strip().splitlines()[-2:]
    assert last[0] == f"figure: {runs.figure}", last
    m = re.fullmatch(r"test accuracy: (\d\.\d{4})", last[1])
    assert m, last
    assert float(m.group(1)) >= 0.8  # three epochs; the full run (20) reaches >= 0.95
    png = runs.figure.read_bytes()
    assert png.startswith(b"\x89PNG")
    assert len(png) > 20_000
