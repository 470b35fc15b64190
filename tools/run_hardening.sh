#!/usr/bin/env bash
# Run one of the hardening test files with its time and peak memory.
#
#   bash tools/run_hardening.sh concurrency   # tests/test_hardening_concurrency.py (~4 s)
#   bash tools/run_hardening.sh layouts       # tests/test_hardening_layouts.py     (~1 s)
#   bash tools/run_hardening.sh huge          # tests/test_hardening_huge.py -m slow (~30 s, ~5 GiB)
#   bash tools/run_hardening.sh memory        # tests/test_hardening_memory.py (5,000-call version)
#   bash tools/run_hardening.sh corpus        # tests/test_hardening_corpus.py (fuzz corpus replay)
#   bash tools/run_hardening.sh all           # all of the above
#   PYTHON=/tmp/nhwc-asan/bin/python bash tools/run_hardening.sh layouts   # another interpreter
#
# Extra arguments go to pytest. Uses the installed nhwcpool (pip install . first). For the
# sanitizer build use tools/sanitize.sh, for 100,000 calls tools/leakcheck.py, for fuzzing
# tools/fuzz.py, for free-threaded CPython tools/freethreaded.sh (see docs/hardening.md).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
py=${PYTHON:-python3}
what=${1:-all}
shift || true

run() {
  local name=$1
  shift
  local args=(-q -p no:cacheprovider -rfEsxX)
  [[ $name == huge ]] && args+=(-m slow -s)
  echo "==> $py -m pytest tests/test_hardening_$name.py ${args[*]} $*"
  if [[ -x /usr/bin/time ]]; then
    /usr/bin/time -f "    wall %e s, peak RSS %M kB" "$py" -m pytest "tests/test_hardening_$name.py" "${args[@]}" "$@"
  else
    "$py" -m pytest "tests/test_hardening_$name.py" "${args[@]}" "$@"
  fi
}

case $what in
  concurrency | layouts | huge | memory | corpus) run "$what" "$@" ;;
  all)
    status=0
    for name in concurrency layouts memory corpus huge; do
      run "$name" "$@" || status=$?
    done
    exit $status
    ;;
  *)
    echo "usage: bash tools/run_hardening.sh {concurrency|layouts|huge|memory|corpus|all} [pytest args]" >&2
    exit 2
    ;;
esac
