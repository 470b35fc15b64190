#!/usr/bin/env bash
# Build nhwcpool with AddressSanitizer + UndefinedBehaviorSanitizer and run the test suite on it.
#
#   bash tools/sanitize.sh                      # build + whole suite (python -m pytest tests -x)
#   bash tools/sanitize.sh -m "not slow"        # extra arguments go to pytest
#   NHWCPOOL_ASAN_SKIP_BUILD=1 bash tools/sanitize.sh tests/test_hardening_layouts.py
#   NHWCPOOL_ASAN_REV=HEAD bash tools/sanitize.sh      # build a commit, not the work tree
#
# What it does:
#   1. python3 -m venv $NHWCPOOL_ASAN_VENV (default /tmp/nhwc-asan); with --system-site-packages
#      so the already-installed PyTorch oracle is visible (its tests then run under ASan too; set
#      NHWCPOOL_ASAN_SYSTEM_SITE=0 for an isolated venv, the torch tests then skip).
#   2. pip install pytest hypothesis numpy, then pip install --force-reinstall --no-deps . with
#      -Ccmake.define.NHWCPOOL_SANITIZE=ON -Ccmake.build-type=RelWithDebInfo -Cbuild-dir=build/asan
#      (its own build directory, so it never clashes with the normal build/{wheel_tag}); checks
#      that the installed extension has __asan_* symbols.
#   3. python -m pytest tests -x -q -p no:cacheprovider --capture=sys, sanitizer runtimes preloaded
#      (CPython itself is not instrumented, so libasan must come first in the process;
#      libstdc++ is preloaded too so ASan's __cxa_throw interceptor finds the real one):
#        LD_PRELOAD=libasan.so:libubsan.so:libstdc++.so
#        ASAN_OPTIONS=detect_leaks=0:...      (CPython "leaks" its interned objects at exit)
#        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
#      A sanitizer report aborts the process (halt_on_error / abort_on_error), so pytest fails.
#   4. Prints the time taken; exit status is pytest's.
#
# `bash tools/sanitize.sh --build-only` builds (and checks the instrumentation) without testing.
# Also used by tools/fuzz.py: `bash tools/sanitize.sh --env` prints the export lines only, so
#   eval "$(bash tools/sanitize.sh --env)"
#   LD_PRELOAD=$SANITIZE_LD_PRELOAD "$NHWCPOOL_ASAN_VENV/bin/python" tools/fuzz.py ...
# runs the fuzzer on the sanitizer build.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$(pwd)
venv=${NHWCPOOL_ASAN_VENV:-/tmp/nhwc-asan}
CXX=${CXX:-g++}

asan_lib=$($CXX -print-file-name=libasan.so)
ubsan_lib=$($CXX -print-file-name=libubsan.so)
stdcxx_lib=$($CXX -print-file-name=libstdc++.so)
for lib in "$asan_lib" "$ubsan_lib" "$stdcxx_lib"; do
  if [[ ! -e "$lib" ]]; then
    echo "ERROR: $lib not found (is the compiler's sanitizer runtime installed?)" >&2
    exit 2
  fi
done

# abort_on_error=1: a report kills the process with SIGABRT, so pytest/fuzz cannot miss it.

sanitizer_env() {
  cat <<EOF
export NHWCPOOL_ASAN_VENV='$venv'
export SANITIZE_LD_PRELOAD='$asan_lib:$ubsan_lib:$stdcxx_lib'
export ASAN_OPTIONS='detect_leaks=0:abort_on_error=1:halt_on_error=1:strict_init_order=1:detect_stack_use_after_return=1:check_initialization_order=1'
export UBSAN_OPTIONS='print_stacktrace=1:halt_on_error=1:abort_on_error=1'
EOF
}

if [[ "${1:-}" == "--env" ]]; then
  sanitizer_env
  exit 0
fi
build_only=0
if [[ "${1:-}" == "--build-only" ]]; then
  build_only=1
  shift
fi

SECONDS=0
if [[ "${NHWCPOOL_ASAN_SKIP_BUILD:-0}" != 1 ]]; then
  site_flag=--system-site-packages
  [[ "${NHWCPOOL_ASAN_SYSTEM_SITE:-1}" == 0 ]] && site_flag=
  echo "==> python3 -m venv $site_flag $venv"
  python3 -m venv $site_flag "$venv"
  export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_PROGRESS_BAR=off
  export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc 2>/dev/null || echo 2)}
  mkdir -p "$repo/build"
  echo "==> pip install .[test] with NHWCPOOL_SANITIZE=ON (build dir build/asan)"
  # --force-reinstall --no-deps for nhwcpool itself: the version number does not change between
  # edits, and with --system-site-packages pip would otherwise keep a non-sanitized copy.
  "$venv/bin/python" -m pip install -q "pytest>=7" "hypothesis>=6.80" "numpy>=1.23"
  src=$repo
  builddir=build/asan
  if [[ -n "${NHWCPOOL_ASAN_REV:-}" ]]; then
    # Build a committed revision (git archive) instead of the work tree, e.g. while the work tree
    # holds unfinished edits: NHWCPOOL_ASAN_REV=HEAD bash tools/sanitize.sh
    src=$(mktemp -d "${TMPDIR:-/tmp}/nhwc-asan-src.XXXXXX")
    git -C "$repo" archive --format=tar "$NHWCPOOL_ASAN_REV" | tar -x -C "$src"
    builddir=$repo/build/asan-rev
    echo "    source: $NHWCPOOL_ASAN_REV = $(git -C "$repo" rev-parse --short "$NHWCPOOL_ASAN_REV") (exported to $src)"
  else
    echo "    source: work tree at $(git -C "$repo" rev-parse --short HEAD)$(git -C "$repo" diff --quiet HEAD -- cpp python CMakeLists.txt pyproject.toml || echo ' + uncommitted changes')"
  fi
  "$venv/bin/python" -m pip install --force-reinstall --no-deps -v "$src" \
    -Ccmake.define.NHWCPOOL_SANITIZE=ON -Ccmake.build-type=RelWithDebInfo -Cbuild-dir="$builddir" \
    > "$repo/build/asan-pip.log" 2>&1 || { tail -50 "$repo/build/asan-pip.log"; exit 1; }
  grep -E "nhwcpool|fsanitize" "$repo/build/asan-pip.log" | grep -E "SIMD|OpenMP|fsanitize" | head -5 || true
  echo "    build: ${SECONDS}s"
fi

eval "$(sanitizer_env)"
# (imported with the runtimes preloaded: loading an ASan-linked module without them breaks)
so=$(LD_PRELOAD=$SANITIZE_LD_PRELOAD "$venv/bin/python" -c 'import nhwcpool._core as c; print(c.__file__)')
if [[ $(nm -D "$so" 2>/dev/null | grep -c __asan_) == 0 ]]; then
  echo "ERROR: $so is not instrumented with ASan" >&2
  exit 1
fi
echo "==> sanitized extension: $so"
if [[ $build_only == 1 ]]; then
  exit 0
fi

t0=$SECONDS
echo "==> LD_PRELOAD=$SANITIZE_LD_PRELOAD"
echo "    ASAN_OPTIONS=$ASAN_OPTIONS"
echo "    UBSAN_OPTIONS=$UBSAN_OPTIONS"
echo "==> python -m pytest tests -x -q -p no:cacheprovider --capture=sys $*"
status=0
# --capture=sys: pytest's default fd-level capture would swallow a report printed just before
# the abort; with sys-level capture the sanitizers' stderr reaches this script's stderr.
LD_PRELOAD=$SANITIZE_LD_PRELOAD "$venv/bin/python" -m pytest tests -x -q -p no:cacheprovider --capture=sys "$@" \
  || status=$?
case $status in
  0) echo "==> no sanitizer report, all tests passed" ;;
  134) echo "==> ABORTED (exit 134): a sanitizer report (runtime error / ERROR: AddressSanitizer) is above" ;;
esac
echo "==> pytest exit $status; tests ${SECONDS}s-${t0}s = $((SECONDS - t0))s; total ${SECONDS}s"
exit $status
