#!/usr/bin/env python3
# /// script
# dependencies = ["nox>=2025.10.14"]
# ///
"""Developer tasks. `nox -l` lists them; `nox` runs the default ones (lint, tests).

Sessions use plain venv + pip on purpose: `pip install torch==2.13.0` then finds the CPU wheel
that this project's machines keep on disk (uv would download a multi-GB CUDA build instead).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nox

nox.needs_version = ">=2025.10.14"
nox.options.default_venv_backend = "venv"

DIR = Path(__file__).parent.resolve()
PYPROJECT = nox.project.load_toml(DIR / "pyproject.toml")
TORCH = "torch==2.13.0"  # the oracle; exact pin, never a range
SIMD_LEVELS = ("baseline", "avx2", "avx512")


@nox.session(reuse_venv=True)
def lint(session: nox.Session) -> None:
    """Run every pre-commit hook (ruff, mypy, codespell, zizmor, schema checks) on all files."""
    session.install("pre-commit")
    session.run("pre-commit", "run", "--all-files", "--show-diff-on-failure", *session.posargs)


@nox.session
def tests(session: nox.Session) -> None:
    """Build, install as the README says (with the PyTorch oracle) and run pytest."""
    session.install(".[test]")
    session.install(TORCH)
    session.run("pytest", *session.posargs)
    session.run("python", "-m", "nhwcpool")


@nox.session(default=False)
def tests_no_oracle(session: nox.Session) -> None:
    """Same, without PyTorch: the differential tests must skip, everything else must pass."""
    session.install(".[test]")
    session.run("pytest", *session.posargs)


@nox.session(default=False)
@nox.parametrize(
    "define",
    ["NHWCPOOL_OPENMP=OFF", "NHWCPOOL_OPENMP=OFF;NHWCPOOL_THREAD_POOL=OFF", "NHWCPOOL_DISPATCH=OFF"],
)
def options(session: nox.Session, define: str) -> None:
    """Build with CMake options flipped (std::thread pool; serial; baseline-only kernels), test."""
    session.install(".[test]", env={"SKBUILD_CMAKE_DEFINE": f"{define};NHWCPOOL_WERROR=ON"})
    session.run("python", "-m", "nhwcpool")
    session.run("pytest", *session.posargs)


@nox.session(default=False)
def simd(session: nox.Session) -> None:
    """Run the suite once per SIMD level this CPU supports (NHWCPOOL_SIMD=...)."""
    session.install(".[test]")
    flags = Path("/proc/cpuinfo").read_text().split() if sys.platform == "linux" else []
    needs = {
        "baseline": [],
        "avx2": ["avx2", "fma", "f16c"],
        "avx512": ["avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512dq"],
    }
    for level in SIMD_LEVELS:
        if sys.platform == "linux" and not all(f in flags for f in needs[level]):
            session.log(f"skipping NHWCPOOL_SIMD={level}: this CPU lacks it")
            continue
        session.run("pytest", *session.posargs, env={"NHWCPOOL_SIMD": level})


@nox.session(default=False)
def build(session: nox.Session) -> None:
    """Build the sdist and a wheel into dist/ and check their metadata."""
    session.install("build", "twine")
    session.run("python", "-m", "build")
    session.run("twine", "check", "--strict", *(str(p) for p in Path("dist").glob("*")))


@nox.session(default=False)
def wheels(session: nox.Session) -> None:
    """Build the release wheels for this platform with cibuildwheel (Linux needs Docker)."""
    session.install("cibuildwheel")
    session.run("cibuildwheel", "--output-dir", "wheelhouse", *session.posargs)


@nox.session(default=False, venv_backend="none")
def dev(session: nox.Session) -> None:
    """Make .venv/ with an editable install (rebuilt on import) and the dev dependency group."""
    session.run(sys.executable, "-m", "venv", ".venv")
    bindir = ".venv/Scripts" if os.name == "nt" else ".venv/bin"
    py = f"{bindir}/python"
    build_requires = PYPROJECT["build-system"]["requires"]
    dev_group = nox.project.dependency_groups(PYPROJECT, "dev")
    session.run(py, "-m", "pip", "install", "--upgrade", "pip")
    session.run(py, "-m", "pip", "install", *build_requires, *dev_group)
    session.run(
        py,
        "-m",
        "pip",
        "install",
        "--no-build-isolation",
        "-e",
        ".",
        "-Ceditable.rebuild=true",
        "-Cbuild-dir=build/editable",
        "-Ccmake.define.CMAKE_EXPORT_COMPILE_COMMANDS=ON",
    )
    session.log(f"done: activate with `source {bindir}/activate`")


if __name__ == "__main__":
    nox.main()
