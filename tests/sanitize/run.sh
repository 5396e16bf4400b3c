#!/usr/bin/env bash
# tests/sanitize/run.sh asan|tsan BUILD_DIR [SOURCE_DIR]
# The sanitizer jobs (ctest label `sanitize`, see docs/security.md):
#   asan  configures and builds cuclip with -DCUCLIP_SANITIZE=ON (ASan + UBSan, every report fatal)
#         -DCUCLIP_CUDA=OFF in BUILD_DIR and runs that tree's cpu and emulated tests.
#   tsan  configures with -DCUCLIP_TSAN=ON, builds only the shared-model threading test
#         (tests/security/test_threads.cpp) and runs it under ThreadSanitizer.
# Any sanitizer report makes a test fail, hence this script. Times are printed at the end.
#   CUCLIP_SANITIZE_JOBS  parallel compile/test jobs (default: nproc)
set -uo pipefail
mode="${1:?usage: run.sh asan|tsan BUILD_DIR [SOURCE_DIR]}"
build="${2:?usage: run.sh asan|tsan BUILD_DIR [SOURCE_DIR]}"
root="${3:-$(cd "$(dirname "$0")/../.." && pwd)}"
jobs="${CUCLIP_SANITIZE_JOBS:-$(nproc)}"
cxx="${CXX:-c++}"
cc="${CC:-cc}"
t0=$(date +%s)

common=(-DCMAKE_BUILD_TYPE=Release -DCUCLIP_CUDA=OFF -DCUCLIP_BUILD_BENCHMARKS=OFF -DCUCLIP_BUILD_TESTS=ON
        -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx"
        # -g1: line tables only, so that reports name file:line without the cost of full debug info.
        "-DCMAKE_CXX_FLAGS=-g1" "-DCMAKE_C_FLAGS=-g1")
case "$mode" in
  asan)
    flags=(-DCUCLIP_SANITIZE=ON)
    targets=(all)
    # Reports are fatal (-fno-sanitize-recover=all at compile time; halt_on_error for ASan).
    export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:detect_stack_use_after_return=0:strict_string_checks=1}"
    export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
    ;;
  tsan)
    # OpenBLAS's threads are not instrumented; the CPU GEMM does not need it.
    flags=(-DCUCLIP_TSAN=ON -DCUCLIP_OPENBLAS=OFF)
    # GCC instruments the ifunc resolvers of target_clones functions (engine/cpu/attention.cpp,
    # engine/image/src/resample.cpp) with TSan's function entry hook, which the dynamic loader runs
    # before the TSan runtime exists: the binary crashes at startup. Without entry/exit hooks the
    # accesses are still all checked; a report then shows the racing lines without their callers.
    if ! "$cxx" --version 2>/dev/null | grep -qi clang; then
      common+=("-DCMAKE_CXX_FLAGS=-g1 --param=tsan-instrument-func-entry-exit=0" "-DCMAKE_C_FLAGS=-g1 --param=tsan-instrument-func-entry-exit=0")
    fi
    targets=(security_threads_share_one_model)
    export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:history_size=4}"
    # libgomp is not TSan-instrumented: its barriers are invisible, so any OpenMP team of more than
    # one thread produces false reports. The contexts use n_threads = 1; OMP_NUM_THREADS=1 also
    # covers OpenMP regions outside a context (the model's one-time weight packing, Model::cpu_weight).
    export OMP_NUM_THREADS=1
    ;;
  *) echo "run.sh: unknown mode '$mode' (asan or tsan)" >&2; exit 2 ;;
esac

mkdir -p "$build"
echo "sanitize[$mode]: configuring $build"
if ! cmake -S "$root" -B "$build" "${common[@]}" "${flags[@]}" > "$build/cuclip-configure.log" 2>&1; then
  cat "$build/cuclip-configure.log" >&2
  exit 1
fi
echo "sanitize[$mode]: building (${targets[*]}) with $jobs jobs"
if ! cmake --build "$build" -j"$jobs" --target "${targets[@]}" > "$build/cuclip-build.log" 2>&1; then
  tail -n 80 "$build/cuclip-build.log" >&2
  echo "sanitize[$mode]: build failed (log: $build/cuclip-build.log)" >&2
  exit 1
fi
t1=$(date +%s)
echo "sanitize[$mode]: build took $((t1 - t0)) s"

rc=0
if [ "$mode" = asan ]; then
  ctest --test-dir "$build" -L 'cpu|emulated' -LE 'fuzz|sanitize|gpu' -j"$jobs" --output-on-failure --timeout 1800 || rc=1
else
  ctest --test-dir "$build" -R '^security_threads_share_one_model$' --output-on-failure --timeout 1800 || rc=1
fi
t2=$(date +%s)
echo "sanitize[$mode]: tests took $((t2 - t1)) s, total $((t2 - t0)) s"
exit $rc
