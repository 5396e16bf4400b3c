#!/usr/bin/env bash
# tests/fuzz/run.sh SECONDS [TARGET...]
# Builds cuclip's libFuzzer targets (clang, ASan + UBSan + libFuzzer) in their own build tree and
# runs each for SECONDS (default: every target). Any crash, sanitizer report, leak, timeout (>10 s
# on one input) or out-of-memory (>2 GB) is a finding: the input is saved under
# tests/fuzz/out/<target>/ and the script exits 1 after running the remaining targets.
#   CUCLIP_FUZZ_BUILD_DIR  build tree (default: <repo>/build-fuzz)
#   CUCLIP_FUZZ_JOBS       parallel compile jobs (default: nproc)
# Reproduce a finding:  $CUCLIP_FUZZ_BUILD_DIR/fuzzers/fuzz_<target> tests/fuzz/out/<target>/crash-...
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
seconds="${1:-30}"
shift || true
build="${CUCLIP_FUZZ_BUILD_DIR:-$root/build-fuzz}"
jobs="${CUCLIP_FUZZ_JOBS:-$(nproc)}"
all_targets=(model_file safetensors convert_dir tokenizer_files tokenizer image cli_jsonl)
[ $# -gt 0 ] && targets=("$@") || targets=("${all_targets[@]}")

# Largest input each target is given: enough for every structure it parses, small enough that one
# exec stays in the millisecond range.
declare -A max_len=([model_file]=65536 [safetensors]=16384 [convert_dir]=65536 [tokenizer_files]=65536
                    [tokenizer]=20000 [image]=65536 [cli_jsonl]=8192)
declare -A dict=([model_file]=json.dict [safetensors]=json.dict [convert_dir]=json.dict
                 [tokenizer_files]=json.dict [cli_jsonl]=json.dict)

if ! command -v clang++ >/dev/null 2>&1 || ! command -v clang >/dev/null 2>&1; then
  echo "fuzz: clang/clang++ not found; install the Debian packages: clang libclang-rt-14-dev libomp-dev" >&2
  exit 1
fi
probe="$(mktemp -d)"
printf 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }\n' > "$probe/p.cpp"
if ! clang++ -fsanitize=fuzzer,address,undefined "$probe/p.cpp" -o "$probe/p" 2> "$probe/err"; then
  cat "$probe/err" >&2
  echo "fuzz: clang++ cannot link libFuzzer + ASan/UBSan; install the Debian package libclang-rt-14-dev" >&2
  rm -rf "$probe"
  exit 1
fi
rm -rf "$probe"

t0=$(date +%s)
mkdir -p "$build"
echo "fuzz: configuring and building in $build"
if ! CC=clang CXX=clang++ cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCUCLIP_CUDA=OFF \
      -DCUCLIP_BUILD_BENCHMARKS=OFF -DCUCLIP_BUILD_TESTS=ON -DCUCLIP_FUZZ=ON -DCUCLIP_SANITIZE=ON \
      "-DCMAKE_C_FLAGS=-fsanitize=fuzzer-no-link" "-DCMAKE_CXX_FLAGS=-fsanitize=fuzzer-no-link" > "$build/cuclip-configure.log" 2>&1; then
  cat "$build/cuclip-configure.log" >&2
  echo "fuzz: configure failed" >&2
  exit 1
fi
if ! cmake --build "$build" --target cuclip_fuzzers -j"$jobs" > "$build/cuclip-build.log" 2>&1; then
  tail -n 60 "$build/cuclip-build.log" >&2
  echo "fuzz: build failed (full log: $build/cuclip-build.log)" >&2
  exit 1
fi
t1=$(date +%s)
echo "fuzz: build took $((t1 - t0)) s; running ${#targets[@]} target(s) for ${seconds} s each"

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:allocator_may_return_null=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
failed=()
for t in "${targets[@]}"; do
  exe="$build/fuzzers/fuzz_$t"
  if [ ! -x "$exe" ]; then echo "fuzz: no target '$t'" >&2; failed+=("$t"); continue; fi
  work="$build/corpus-work/$t"
  out="$here/out/$t"
  mkdir -p "$work" "$out"
  args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len="${max_len[$t]:-65536}"
        -artifact_prefix="$out/" -print_final_stats=1)
  [ -n "${dict[$t]:-}" ] && args+=(-dict="$here/${dict[$t]}")
  log="$build/fuzz_$t.log"
  # The seeds are read, never written: new inputs go to the work corpus.
  timeout --kill-after=30 $((seconds + 300)) "$exe" "${args[@]}" "$work" "$here/corpus/$t" > "$log" 2>&1
  rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  if [ $rc -ne 0 ]; then
    echo "fuzz: FINDING in $t (exit $rc); inputs saved in $out/" >&2
    grep -E 'ERROR|SUMMARY|runtime error|invariant failed|Test unit written|==[0-9]+==' "$log" | head -n 40 >&2
    echo "  full log: $log" >&2
    failed+=("$t")
  else
    echo "fuzz: $t ok (${execs:-?} execs in ${seconds} s)"
  fi
done
echo "fuzz: total $(( $(date +%s) - t0 )) s"
if [ ${#failed[@]} -ne 0 ]; then
  echo "fuzz: findings in: ${failed[*]}" >&2
  exit 1
fi
exit 0
