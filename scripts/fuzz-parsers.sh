#!/usr/bin/env bash
# Coverage-guided fuzzing (cargo-fuzz, libFuzzer) of every parser of untrusted input: the
# targets in fuzz/fuzz_targets, one at a time, each for a bounded time. Prints, per target,
# the executions, the coverage reached and whether it crashed; exits non-zero on a crash
# (the input that crashed is under fuzz/artifacts/<target>/). Not part of CI: see
# docs/reliability.md, "Parser fuzzing".
#
# Usage: scripts/fuzz-parsers.sh [seconds-per-target] [target ...]
# Stable toolchain: cargo-fuzz needs nightly flags (-Zsanitizer), so RUSTC_BOOTSTRAP=1.
# The targets open no sockets and start no servers; corpora grow in fuzz/corpus (ignored by
# git), seeded from fuzz/seeds. Knobs: FUZZ_SANITIZER (address, the default, or none).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds="${1:-60}"
shift || true
sanitizer="${FUZZ_SANITIZER:-address}"
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install --locked cargo-fuzz
fi

cargo fuzz build --sanitizer "$sanitizer"

if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo fuzz list)
fi

logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT
crashed=0
printf '%-18s %8s %14s %10s %8s %s\n' target seconds executions exec/s cov result
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target"
  dirs=("corpus/$target")
  [ -d "seeds/$target" ] && dirs+=("seeds/$target")
  log="$logs/$target.log"
  status=0
  cargo fuzz run --sanitizer "$sanitizer" "$target" "${dirs[@]}" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    >"$log" 2>&1 || status=$?
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)"
  cov="$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)"
  if [ "$status" -ne 0 ]; then
    crashed=1
    result="CRASH (exit $status)"
    artifact="$(grep -o 'artifacts/[^ ]*' "$log" | tail -1 || true)"
    [ -n "$artifact" ] && result="$result: fuzz/$artifact"
    # The panic message and the first frames say what broke.
    grep -m1 -A12 -E "panicked at|ERROR: (libFuzzer|AddressSanitizer)" "$log" >&2 || tail -30 "$log" >&2
  else
    result=ok
  fi
  printf '%-18s %8s %14s %10s %8s %s\n' "$target" "$seconds" "${execs:-?}" "${rate:-?}" "${cov:-?}" "$result"
done
exit "$crashed"
