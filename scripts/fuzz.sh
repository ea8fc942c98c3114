#!/usr/bin/env bash
# Bounded fuzzing run of every target in fuzz/ (see docs/fuzzing.md).
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]      default 20
#
# Builds the libFuzzer targets with plain `cargo build` and the same
# coverage flags cargo-fuzz passes for `cargo fuzz run -s none` (all stable
# -C flags: no nightly, no cargo-fuzz install), then runs each target for
# SECONDS_PER_TARGET seconds (libFuzzer -max_total_time, -timeout=5 per
# input) over its checked-in seed corpus fuzz/corpus/<target>/. Prints one
# line per target and a final `N passed, N failed`; exits non-zero if any
# target crashed, hung, ran out of memory, or the build failed. A crashing
# input is saved as fuzz/artifacts/<target>/crash-<sha1> (or timeout-/oom-).
#
# Environment:
#   FUZZ_TARGETS="spec seccomp"   run only these targets (default: all)
#   FUZZ_SANITIZER=address        build with AddressSanitizer; on a stable
#                                 toolchain this needs RUSTC_BOOTSTRAP=1,
#                                 which the script sets (default: none)
#   FUZZ_JOBS=N                   cargo build jobs (default: cargo's)
#   FUZZ_PARALLEL=N               fuzz N targets at a time, one core each
#                                 (default 1)
#   FUZZ_OPT_LEVEL=N              build at opt-level N instead of the
#                                 release profile's 3: 1 builds about a third
#                                 faster and fuzzes slower (make test uses 1)
#   ZSTD_SYS_USE_PKG_CONFIG       set (the default when pkg-config finds
#                                 libzstd): link the system libzstd instead
#                                 of compiling it
#   CARGO_TARGET_DIR              build dir (default: fuzz/target); new
#                                 corpus entries and logs go below it, the
#                                 checked-in seeds are never written to.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
export PATH="${HOME:-/root}/.cargo/bin:$PATH"

SECS=${1:-20}
if ! [[ $SECS =~ ^[0-9]+$ ]] || [ "$SECS" -lt 1 ]; then
  echo "usage: $0 [SECONDS_PER_TARGET]" >&2
  exit 2
fi

ALL_TARGETS=(spec process state seccomp mount_options id descriptors cli archive)
read -r -a TARGETS <<<"${FUZZ_TARGETS:-${ALL_TARGETS[*]}}"
SANITIZER=${FUZZ_SANITIZER:-none}
PARALLEL=${FUZZ_PARALLEL:-1}
if [ -n "${FUZZ_OPT_LEVEL:-}" ]; then
  export CARGO_PROFILE_RELEASE_OPT_LEVEL=$FUZZ_OPT_LEVEL
fi
if ! [[ $PARALLEL =~ ^[0-9]+$ ]] || [ "$PARALLEL" -lt 1 ]; then
  echo "fuzz: FUZZ_PARALLEL must be a number >= 1" >&2
  exit 2
fi
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/fuzz/target}
case $TARGET_DIR in /*) ;; *) TARGET_DIR=$ROOT/$TARGET_DIR ;; esac

TRIPLE=$(rustc -vV | sed -n 's/^host: //p')
if [ -z "$TRIPLE" ]; then
  echo "fuzz: rustc not found (install Rust with rustup)" >&2
  echo "0 passed, ${#TARGETS[@]} failed"
  exit 1
fi

# cargo-fuzz 0.13's flags for `cargo fuzz build --release -s none`.
RUSTFLAGS_FUZZ="-Cpasses=sancov-module \
 -Cllvm-args=-sanitizer-coverage-level=4 \
 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
 -Cllvm-args=-sanitizer-coverage-pc-table \
 -Cllvm-args=-sanitizer-coverage-trace-compares \
 -Cllvm-args=-sanitizer-coverage-stack-depth \
 -Cllvm-args=-simplifycfg-branch-fold-threshold=0 \
 --cfg fuzzing -Cdebug-assertions -Ccodegen-units=1"
case $SANITIZER in
  none) ;;
  address | leak | thread | memory)
    # Sanitizers are unstable (-Z): allow them on a stable compiler.
    export RUSTC_BOOTSTRAP=1
    RUSTFLAGS_FUZZ+=" -Zsanitizer=$SANITIZER"
    export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_odr_violation=0:detect_leaks=0"
    ;;
  *)
    echo "fuzz: FUZZ_SANITIZER must be none, address, leak, thread or memory" >&2
    exit 2
    ;;
esac

# zstd-sys compiles libzstd from source, a sixth of the whole build, unless
# told to link the system's: do that when libzstd-dev is installed.
if [ -z "${ZSTD_SYS_USE_PKG_CONFIG+set}" ] && pkg-config --exists libzstd 2>/dev/null; then
  export ZSTD_SYS_USE_PKG_CONFIG=1
fi

BIN_DIR=$TARGET_DIR/$TRIPLE/release
WORK=$TARGET_DIR/fuzz-work
mkdir -p "$WORK"

build_args=()
for t in "${TARGETS[@]}"; do build_args+=(--bin "$t"); done
[ -n "${FUZZ_JOBS:-}" ] && build_args+=(-j "$FUZZ_JOBS")

echo "+ building fuzz targets (sanitizer: $SANITIZER, opt-level: ${FUZZ_OPT_LEVEL:-3}, target dir: $TARGET_DIR)"
start=$(date +%s)
# --target keeps RUSTFLAGS off build scripts and proc macros, as cargo-fuzz does.
if ! RUSTFLAGS="$RUSTFLAGS_FUZZ ${RUSTFLAGS:-}" CARGO_TARGET_DIR=$TARGET_DIR \
  cargo build --manifest-path fuzz/Cargo.toml --locked --release \
  --target "$TRIPLE" "${build_args[@]}"; then
  echo "fuzz: build failed"
  echo "0 passed, ${#TARGETS[@]} failed"
  exit 1
fi
echo "+ built in $(($(date +%s) - start))s; fuzzing each target for ${SECS}s, $PARALLEL at a time"

# Runs target $1 and writes its exit status to $WORK/$1.rc.
fuzz_one() {
  local t=$1
  local seeds=$ROOT/fuzz/corpus/$t
  local corpus=$WORK/corpus/$t
  local artifacts=$ROOT/fuzz/artifacts/$t/
  local log=$WORK/$t.log
  mkdir -p "$seeds" "$corpus" "$artifacts"
  local dict=()
  [ -f "$ROOT/fuzz/dicts/$t.dict" ] && dict=(-dict="$ROOT/fuzz/dicts/$t.dict")

  # New inputs go to the first corpus dir (the scratch one); the seeds are
  # only read. The outer timeout is a backstop: libFuzzer checks
  # -max_total_time between inputs and -timeout per input.
  timeout -k 10 $((SECS + 120)) "$BIN_DIR/$t" \
    -max_total_time="$SECS" -timeout=5 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$artifacts" "${dict[@]}" \
    "$corpus" "$seeds" >"$log" 2>&1
  echo $? >"$WORK/$t.rc"
}

# FUZZ_PARALLEL targets at a time (each fuzzes on one core).
running=0
for t in "${TARGETS[@]}"; do
  rm -f "$WORK/$t.rc"
  if [ "$running" -ge "$PARALLEL" ]; then
    wait -n
    running=$((running - 1))
  fi
  fuzz_one "$t" &
  running=$((running + 1))
done
wait

passed=0
failed=0
for t in "${TARGETS[@]}"; do
  corpus=$WORK/corpus/$t
  log=$WORK/$t.log
  rc=$(cat "$WORK/$t.rc" 2>/dev/null || echo "?")
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
  cov=$(grep -oE '(DONE|INITED|pulse|NEW|REDUCE) +cov: [0-9]+' "$log" | tail -n1 | grep -oE '[0-9]+$')
  units=$(find "$corpus" -type f | wc -l)
  if [ "$rc" = 0 ]; then
    passed=$((passed + 1))
    printf 'PASS %-14s %9s runs in %ss, cov %s, corpus %s\n' "$t" "${runs:-?}" "$SECS" "${cov:-?}" "$units"
  else
    failed=$((failed + 1))
    artifact=$(grep -oE 'Test unit written to .*' "$log" | tail -n1 | sed 's/^Test unit written to //')
    printf 'FAIL %-14s exit %s; input: %s; log: %s\n' "$t" "$rc" "${artifact:-none}" "$log"
    # The panic message and stack trace.
    grep -nE "panicked at|ERROR: libFuzzer|SUMMARY|==[0-9]+== ERROR" "$log" | head -n 5 | sed 's/^/    /'
    sed -n '/panicked at\|ERROR: libFuzzer\|ERROR: AddressSanitizer/,$p' "$log" | head -n 60 | sed 's/^/    | /'
  fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
