#!/usr/bin/env bash
# Cross-compile nhwcpool's C++ core and its C++ tests for aarch64 and run them under qemu.
#
#   bash tools/aarch64.sh            # build (OpenMP, then the std::thread pool) + every check
#   bash tools/aarch64.sh --counts   # also: instructions per output element of the main cases
#   bash tools/aarch64.sh --clang    # also: a third build with clang (as macOS arm64 wheels are)
#   NHWCPOOL_AARCH64_COUNTS_BEFORE=/path/to/an/older/nhwcpool_insn_probe bash tools/aarch64.sh --counts
#                                    # ... beside those of another build's probe (a column "before")
#
# Needs Debian/Ubuntu's g++-aarch64-linux-gnu and qemu-user (qemu-aarch64); when they are
# missing and this runs as root with apt-get, it installs them (printing the command), else it
# says what to install and fails. Every command it runs is printed first ("+ ..."). It exits
# non-zero on any failure:
#   1. two builds with tools/aarch64-toolchain.cmake and -DNHWCPOOL_BUILD_TESTS=ON
#      -DNHWCPOOL_WERROR=ON: OpenMP (libgomp) with -DNHWCPOOL_TRACE_STRATEGIES=ON (so the
#      strategy tests also check that each NEON strategy of their table is reached), and
#      -DNHWCPOOL_OPENMP=OFF (the std::thread pool, kernels as shipped; --counts uses it);
#   2. each build's programs are aarch64 ELF files, and the kernels objects (forward, backward,
#      pyramid) hold no fused multiply-add (fmadd/fmsub/fnmadd/fnmsub/fmla/fmls): floating-point contraction is off;
#   3. each build's test programs under qemu-aarch64 -L /usr/aarch64-linux-gnu:
#      nhwcpool_cpp_tests (shapes, every kernel path against a naive loop, and the strategy
#      table of cpp/tests/test_strategies.cpp at the neon level),
#      nhwcpool_cpp_backward_tests (gradients and unpooling),
#      nhwcpool_cpp_semantics_tests (NaN, -0/+0, first of equal values, the float32 average's
#      order and roundings) and nhwcpool_cpp_parallel_tests (the threading layer: chunks,
#      exceptions, nested calls, many callers, fork);
#   4. on an x86-64 host, the semantics test built natively too (baseline kernels): its digest of
#      every output bit must equal the aarch64 builds' (same bits on both architectures).
#   With --clang, a third build (clang++ --target=aarch64-linux-gnu, tools/aarch64-clang-toolchain.cmake,
#   std::thread pool, strategy trace on) goes through steps 2-4 too; clang and lld are installed
#   like the rest when missing.
# Build directories: $NHWCPOOL_AARCH64_BUILD (default build/aarch64)/{openmp,pool,clang}.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$(pwd)
out=${NHWCPOOL_AARCH64_BUILD:-$repo/build/aarch64}
triple=aarch64-linux-gnu
sysroot=/usr/$triple
counts=0
variants=(openmp pool)
for arg in "$@"; do
  case "$arg" in
    --counts) counts=1 ;;
    --clang) variants+=(clang) ;;
    -h | --help) sed -n '2,33p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done

run() {
  echo "+ $*" >&2
  "$@"
}

need=()
command -v "$triple-g++" > /dev/null || need+=("g++-$triple")
command -v qemu-aarch64 > /dev/null || need+=(qemu-user)
command -v cmake > /dev/null || need+=(cmake)
[[ " ${variants[*]} " == *" clang "* ]] && ! command -v clang++ > /dev/null && need+=(clang)
if ((${#need[@]})); then
  if [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null; then
    run apt-get update
    run apt-get install -y "${need[@]}"
  else
    echo "missing: ${need[*]} (e.g. sudo apt-get install ${need[*]})" >&2
    exit 1
  fi
fi
generator=()
command -v ninja > /dev/null && generator=(-G Ninja)

run "$triple-g++" --version | sed -n 1p
run qemu-aarch64 --version | sed -n 1p

qemu=(qemu-aarch64 -L "$sysroot")
fused='\s(fmadd|fmsub|fnmadd|fnmsub|fmla|fmls)\s'
failed=0
digests=()
mkdir -p "$out"
for variant in "${variants[@]}"; do
  dir=$out/$variant
  toolchain=$repo/tools/aarch64-toolchain.cmake
  opts=(-DNHWCPOOL_TRACE_STRATEGIES=ON)
  [ "$variant" = pool ] && opts=(-DNHWCPOOL_OPENMP=OFF)
  if [ "$variant" = clang ]; then
    toolchain=$repo/tools/aarch64-clang-toolchain.cmake
    opts=(-DNHWCPOOL_OPENMP=OFF -DNHWCPOOL_TRACE_STRATEGIES=ON)
    run clang++ --version | sed -n 1p
  fi
  echo "=== aarch64, build: $variant"
  run cmake -S "$repo" -B "$dir" "${generator[@]}" -DCMAKE_TOOLCHAIN_FILE="$toolchain" \
    -DCMAKE_BUILD_TYPE=Release -DNHWCPOOL_BUILD_TESTS=ON -DNHWCPOOL_WERROR=ON "${opts[@]}" > "$dir.configure.log" 2>&1 ||
    { cat "$dir.configure.log"; exit 1; }
  grep -E "nhwcpool (SIMD kernels|threads)" "$dir.configure.log"
  run cmake --build "$dir" --parallel
  progs=(nhwcpool_cpp_tests nhwcpool_cpp_backward_tests nhwcpool_cpp_semantics_tests nhwcpool_cpp_parallel_tests)
  for prog in "${progs[@]}"; do
    file -b "$dir/$prog" | grep -q "ARM aarch64" || { echo "FAIL: $dir/$prog is not an aarch64 program" >&2; exit 1; }
  done
  for obj in kernels_baseline backward_baseline pyramid_baseline; do
    kernels=$(find "$dir" -name "$obj.cpp.o" | head -1)
    n_fused=$("$triple-objdump" -d --no-show-raw-insn "$kernels" | grep -cE "$fused" || true)
    echo "+ $triple-objdump -d $kernels | grep -cE '$fused'  ->  $n_fused"
    if [ "$n_fused" != 0 ]; then
      echo "FAIL: fused multiply-adds in the aarch64 kernels ($obj; contraction is on)" >&2
      failed=1
    fi
  done
  # qemu-user aborts (its own assertion) when a forked child of a multi-threaded program starts
  # a thread; the pool build's fork test then keeps its child on one thread.
  fork_env=()
  [ "$variant" != openmp ] && fork_env=(env NHWCPOOL_TEST_FORK_SERIAL=1)
  for prog in "${progs[@]}"; do
    if ! run "${fork_env[@]}" "${qemu[@]}" "$dir/$prog" | tee "$dir/$prog.out"; then
      echo "FAIL: $prog ($variant)" >&2
      failed=1
    fi
  done
  digests+=("$(awk '/output digest/ {print $NF}' "$dir/nhwcpool_cpp_semantics_tests.out")")
done

# The same semantics test on this machine's own architecture (baseline kernels only): its
# digest of every output bit must be the aarch64 builds' one.
if [ "$(uname -m)" = x86_64 ]; then
  native=$out/native-x86_64
  echo "=== x86-64 (native, baseline kernels): the digest to compare with"
  run cmake -S "$repo" -B "$native" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DNHWCPOOL_BUILD_TESTS=ON \
    -DNHWCPOOL_DISPATCH=OFF > "$native.configure.log" 2>&1 || { cat "$native.configure.log"; exit 1; }
  run cmake --build "$native" --target nhwcpool_cpp_semantics_tests --parallel
  run "$native/nhwcpool_cpp_semantics_tests" | tee "$native/semantics.out" || failed=1
  want=$(awk '/output digest/ {print $NF}' "$native/semantics.out")
  for d in "${digests[@]}"; do
    if [ -z "$d" ] || [ "$d" != "$want" ]; then
      echo "FAIL: aarch64 output digest '$d' differs from x86-64's '$want'" >&2
      failed=1
    fi
  done
  [ "$failed" = 0 ] && echo "aarch64 outputs are bit-identical to x86-64's (digest $want)"
fi

if ((counts)); then
  # Instructions per output element: qemu logs every instruction it executes with
  # -one-insn-per-tb (called -singlestep before qemu 8.1) and -d exec,nochain; a run with the
  # call repeated 3 times minus one with it once, over 2x the outputs. With
  # NHWCPOOL_AARCH64_COUNTS_BEFORE naming another aarch64 build's nhwcpool_insn_probe (say, of
  # an older commit), its counts are printed beside ("before") with their ratio.
  probe=$out/pool/nhwcpool_insn_probe
  before=${NHWCPOOL_AARCH64_COUNTS_BEFORE:-}
  step=-singlestep
  qemu-aarch64 -h | grep -q -- '-one-insn-per-tb' && step=-one-insn-per-tb
  insns() {
    local prog=$1
    shift
    "${qemu[@]}" "$step" -d exec,nochain -D /dev/stderr "$prog" "$@" 2>&1 > /dev/null | grep -c '^Trace'
  }
  per_output() {  # probe args... -> instructions per output element
    local prog=$1 outputs one three
    shift
    outputs=$("${qemu[@]}" "$prog" "$@" 1 | awk '{print $2}')
    one=$(insns "$prog" "$@" 1)
    three=$(insns "$prog" "$@" 3)
    awk -v o="$outputs" -v a="$one" -v b="$three" 'BEGIN { printf "%.2f", (b - a) / (2 * o) }'
  }
  echo "=== instructions per output element (aarch64, one thread; h: float16)"
  if [ -n "$before" ]; then
    echo "before: $before"
    printf '%-40s %12s %12s %8s\n' case before now ratio
  else
    printf '%-40s %12s\n' case insns/output
  fi
  while read -r name args; do
    [ -z "$name" ] && continue
    # shellcheck disable=SC2086
    now=$(per_output "$probe" $args)
    if [ -n "$before" ]; then
      # shellcheck disable=SC2086
      was=$(per_output "$before" $args)
      awk -v n="$name" -v a="$was" -v b="$now" 'BEGIN { printf "%-40s %12.2f %12.2f %7.2fx\n", n, a, b, a / b }'
    else
      printf '%-40s %12s\n' "$name" "$now"
    fi
  done << 'EOF'
2x2/s2_max_(1,32,32,64)             max 1 32 32 64 2 2 0
3x3/s2/p1_max_(1,32,32,64)          max 1 32 32 64 3 2 1
3x3/s1/p1_max_(1,32,32,64)          max 1 32 32 64 3 1 1
2x2/s2_avg_(1,32,32,64)             avg 1 32 32 64 2 2 0
3x3/s1/p1_avg_(1,32,32,64)          avg 1 32 32 64 3 1 1
2x2/s2_max_(1,32,32,16)_runs        max 1 32 32 16 2 2 0
2x2/s2_avg_(1,32,32,16)_runs        avg 1 32 32 16 2 2 0
3x3/s2/p1_max_(1,32,32,100)_tail    max 1 32 32 100 3 2 1
5x5/s1/p2_max_(1,32,32,64)_cols     max 1 32 32 64 5 1 2
5x5/s1/p2_avg_(1,32,32,64)_cols     avg 1 32 32 64 5 1 2
7x7/s1/p3_max_(1,32,32,64)_running  max 1 32 32 64 7 1 3
9x9/s1/p4_avg_(1,32,32,64)_running  avg 1 32 32 64 9 1 4
2x2/s2_max_h_(1,32,32,64)           hmax 1 32 32 64 2 2 0
2x2/s2_avg_h_(1,32,32,64)           havg 1 32 32 64 2 2 0
2x2/s2_avg_h_(1,32,32,16)_runs      havg 1 32 32 16 2 2 0
2x2/s2_max_(16,24,24,3)_small_C     max 16 24 24 3 2 2 0
2x2/s2_avg_(16,24,24,3)_small_C     avg 16 24 24 3 2 2 0
global_avg_(4,7,7,512)              gavg 4 7 7 512 7 1 0
EOF
fi

if ((failed)); then
  echo "tools/aarch64.sh: FAILED" >&2
  exit 1
fi
echo "tools/aarch64.sh: all aarch64 checks passed (builds: ${variants[*]})"
