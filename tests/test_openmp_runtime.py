"""The private OpenMP runtime's spin count (python/nhwcpool/_openmp.py)."""

from __future__ import annotations

import os
import subprocess
import sys

from nhwcpool import _openmp


def _package(tmp_path, vendored):
    pkg = tmp_path / "nhwcpool"
    pkg.mkdir()
    if vendored:
        libs = tmp_path / "nhwcpool.libs"
        libs.mkdir()
        (libs / "libgomp-a34b3233.so.1.0.0").write_bytes(b"")
    return pkg


def test_private_runtime_spins_briefly(tmp_path):
    pkg = _package(tmp_path, vendored=True)
    assert _openmp.private_runtime(pkg)
    assert _openmp.spin_env(pkg, {}) == {"GOMP_SPINCOUNT": "10000"}
    # the user's own settings win
    assert _openmp.spin_env(pkg, {"OMP_WAIT_POLICY": "active"}) == {}
    assert _openmp.spin_env(pkg, {"GOMP_SPINCOUNT": "300000"}) == {}


def test_shared_runtime_left_alone(tmp_path):
    pkg = _package(tmp_path, vendored=False)
    assert not _openmp.private_runtime(pkg)
    assert _openmp.spin_env(pkg, {}) == {}


def test_environment_restored(tmp_path, monkeypatch):
    pkg = _package(tmp_path, vendored=True)
    monkeypatch.delenv("GOMP_SPINCOUNT", raising=False)
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    with _openmp.quiet_private_runtime(pkg):
        assert os.environ["GOMP_SPINCOUNT"] == "10000"
    assert "GOMP_SPINCOUNT" not in os.environ


def test_import_leaves_environment_alone():
    code = "import os, nhwcpool; print(sorted(k for k in os.environ if k in ('GOMP_SPINCOUNT', 'OMP_WAIT_POLICY')))"
    env = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == "[]"
