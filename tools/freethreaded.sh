#!/usr/bin/env bash
# Build nhwcpool on a free-threaded CPython (3.13t) and run the concurrency tests without the GIL.
#
#   bash tools/freethreaded.sh                 # everything below; ~15 min on 2 cores
#   bash tools/freethreaded.sh tests           # extra pytest paths/args after the first word
#   NHWCPOOL_FT_PREFIX=/opt/py313t bash tools/freethreaded.sh
#   NHWCPOOL_FT_SUITE=sid NHWCPOOL_FT_PKG=python3.14 bash tools/freethreaded.sh   # 3.14t, if mirrored
#
# Where a free-threaded interpreter comes from (what was tried, see docs/hardening.md):
#   * uv python install 3.13t / 3.14t, pbs-installer, portable-python: download from GitHub,
#     which this workplace cannot reach (uv: "dns error ... failed to lookup address").
#   * Debian (bookworm, trixie, sid) ships python3.13/3.14 but no free-threaded (nogil) build.
#   * What works: Debian's *source* package of python3.13 (trixie: the pristine CPython 3.13.5
#     tarball) from deb.debian.org, through a private apt configuration (the system's apt state
#     is not touched), built with ./configure --disable-gil. (sid's python3.14 source is listed
#     but its files are not on the mirror here: 404.)
# Then: a venv, numpy/pytest/hypothesis from PyPI (numpy ships cp313t wheels), nhwcpool built
# with its own build dir, a check that importing nhwcpool keeps the GIL disabled (the module
# declares py::mod_gil_not_used()), and pytest on tests/test_hardening_concurrency.py (default).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$(pwd)
work=${NHWCPOOL_FT_WORK:-/tmp/nhwc-ft}
suite=${NHWCPOOL_FT_SUITE:-trixie}
pkg=${NHWCPOOL_FT_PKG:-python3.13}   # Debian source package = CPython version
ver=${pkg#python}
prefix=${NHWCPOOL_FT_PREFIX:-$work/py${ver/./}t}
venv=$work/venv
jobs=${NHWCPOOL_FT_JOBS:-$(nproc 2>/dev/null || echo 2)}
SECONDS=0
mkdir -p "$work"

py=$prefix/bin/python${ver}t
if [[ ! -x "$py" ]]; then
  echo "==> fetching the CPython $ver source (Debian $suite source package, private apt state in $work/apt)"
  apt_dir=$work/apt
  mkdir -p "$apt_dir/state/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/sources"
  touch "$apt_dir/state/status"
  rm -f "$apt_dir"/sources/*.sources
  cat > "$apt_dir/sources/$suite.sources" <<EOF
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: $suite
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  apto=(-o "Dir::State=$apt_dir/state" -o "Dir::State::status=$apt_dir/state/status"
        -o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$apt_dir/sources"
        -o "Dir::Cache=$apt_dir/cache")
  apt-get "${apto[@]}" update -qq
  (cd "$work" && apt-get "${apto[@]}" source --download-only -qq "$pkg")
  tarball=$(ls "$work"/"$pkg"_*.orig.tar.* | head -n1)
  src=$work/src
  rm -rf "$src" && mkdir -p "$src"
  tar -xf "$tarball" -C "$src" --strip-components=1
  echo "==> configure --disable-gil ($(basename "$tarball")), make -j$jobs"
  (cd "$src" && ./configure --disable-gil --prefix="$prefix" --with-ensurepip=install > "$work/configure.log" 2>&1 \
     && make -j"$jobs" > "$work/make.log" 2>&1 && make altinstall > "$work/install.log" 2>&1) \
    || { echo "CPython build failed; see $work/*.log"; tail -20 "$work/make.log" 2>/dev/null; exit 1; }
  echo "    built in ${SECONDS}s"
fi
"$py" -c 'import sys, sysconfig; print("==>", sys.version); assert sysconfig.get_config_var("Py_GIL_DISABLED") == 1, "not a free-threaded build"'

if [[ ! -x "$venv/bin/python" ]]; then
  "$py" -m venv "$venv"
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_PROGRESS_BAR=off
# Binary NumPy only: NumPy 2.4 has no cp313t wheels (pip would compile it for ~20 min), 2.3.x has.
"$venv/bin/python" -m pip install -q --only-binary numpy "numpy>=1.23" \
  || "$venv/bin/python" -m pip install -q --only-binary numpy "numpy>=1.23,<2.4"
"$venv/bin/python" -m pip install -q --only-binary :all: "pytest>=7" "hypothesis>=6.80"
echo "==> pip install . (build dir build/ft${ver/./}t)"
"$venv/bin/python" -m pip install -q --force-reinstall --no-deps "$repo" -Cbuild-dir="build/ft${ver/./}t" \
  > "$work/pip-nhwcpool.log" 2>&1 || { tail -30 "$work/pip-nhwcpool.log"; exit 1; }

echo "==> GIL status after importing nhwcpool"
"$venv/bin/python" -W error::RuntimeWarning - <<'PY'
import sys
import numpy
import nhwcpool
nhwcpool.show_config()
enabled = sys._is_gil_enabled()
print(f"numpy {numpy.__version__}; sys._is_gil_enabled() = {enabled}")
assert not enabled, "importing nhwcpool (or numpy) re-enabled the GIL"
PY

args=("$@")
[[ ${#args[@]} -eq 0 ]] && args=(tests/test_hardening_concurrency.py)
echo "==> python -m pytest ${args[*]} -q -p no:cacheprovider   (PYTHON_GIL=0)"
status=0
PYTHON_GIL=0 "$venv/bin/python" -m pytest "${args[@]}" -q -p no:cacheprovider -rfEsxX || status=$?
echo "==> exit $status, total ${SECONDS}s"
exit $status
