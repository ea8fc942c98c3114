#!/usr/bin/env bash
# Walk through the OCI container lifecycle with cryo:
#   create -> state -> start -> list/state -> exec -> checkpoint -> restore
#   -> exec -> kill -> delete
# using a busybox bundle whose process prints a counter once a second into
# /tmp/ticks inside the container (the rootfs is a plain directory, so the host
# reads it at $BUNDLE/rootfs/tmp/ticks).
#
#   CRYO=/path/to/cryo scripts/demo.sh     (default /usr/local/bin/cryo)
#   CRYO=runc scripts/demo.sh              (runc is CLI-compatible)
#
# Needs root. Uses a private state directory (--root) under /run/cryo-demo and
# removes the container, bundle and state on exit, also on failure or Ctrl-C.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CRYO=${CRYO:-/usr/local/bin/cryo}
DEMO_ROOT=/run/cryo-demo

die() { echo "demo: ERROR: $*" >&2; exit 1; }
say() { printf '\n== %s\n' "$*"; }
# Echo a command (shell-quoted) and run it.
run() {
  printf '$'
  printf ' %q' "$@"
  printf '\n'
  "$@"
}

[ "$(id -u)" -eq 0 ] || die "must run as root"
CRYO_PATH=$(command -v "$CRYO" 2>/dev/null) || die "$CRYO not found (run: make build)"
CRYO=$CRYO_PATH
command -v jq >/dev/null 2>&1 || die "jq not found (run: make deps)"

ID=demo-$$
STATE_ROOT=$DEMO_ROOT/$ID
WORK=$(mktemp -d /tmp/cryo-demo.XXXXXX)
BUNDLE=$WORK/bundle
TICKS=$BUNDLE/rootfs/tmp/ticks
mkdir -p "$STATE_ROOT"

# runc prints `state` JSON without a final newline: print it through a
# variable so the transcript stays tidy with either runtime.
cryo() {
  if [ "$1" = state ]; then
    local out
    out=$(run "$CRYO" --root "$STATE_ROOT" "$@")
    printf '%s\n' "$out"
  else
    run "$CRYO" --root "$STATE_ROOT" "$@"
  fi
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if "$CRYO" --root "$STATE_ROOT" state "$ID" >/dev/null 2>&1; then
    echo "demo: cleaning up container $ID"
    "$CRYO" --root "$STATE_ROOT" kill "$ID" KILL >/dev/null 2>&1 || true
    "$CRYO" --root "$STATE_ROOT" delete --force "$ID" >/dev/null 2>&1 || true
  fi
  for id in ${WARM_IDS:-}; do
    "$CRYO" --root "$STATE_ROOT" delete --force "$id" >/dev/null 2>&1 || true
  done
  rm -rf "$WORK"
  rm -rf "$STATE_ROOT"
  rmdir "$DEMO_ROOT" 2>/dev/null || true
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

status_of() {
  "$CRYO" --root "$STATE_ROOT" state "$ID" | jq -r .status
}
status_of_id() {
  "$CRYO" --root "$STATE_ROOT" state "$1" | jq -r .status
}

# Poll until the container reports status $1 (at most ~10 s).
wait_status() {
  local want=$1 s=
  for _ in $(seq 1 50); do
    s=$(status_of 2>/dev/null || true)
    [ "$s" = "$want" ] && return 0
    sleep 0.2
  done
  die "container $ID did not reach status '$want' (last: '${s:-?}')"
}

say "runtime"
run "$CRYO" --version

say "bundle: busybox rootfs, process prints a tick per second to /tmp/ticks"
# The rootfs is writable here so the counter can write /tmp/ticks.
# shellcheck disable=SC2016 # $i is for the container's shell
BUNDLE_READONLY=false run "$HERE/make-bundle.sh" "$BUNDLE" \
  sh -c 'exec >>/tmp/ticks 2>&1; i=0; while true; do echo tick $i; i=$((i+1)); sleep 1; done'
run jq -c '.process.args' "$BUNDLE/config.json"

say "create (the container process exists but the user program has not started)"
# stdio of a detached container is inherited from `create`: keep it off this
# terminal/pipe so the demo's output is not held open by the container.
printf '$ %q --root %q create --bundle %q %q </dev/null >%q 2>&1\n' \
  "$CRYO" "$STATE_ROOT" "$BUNDLE" "$ID" "$WORK/create.log"
if ! "$CRYO" --root "$STATE_ROOT" create --bundle "$BUNDLE" "$ID" </dev/null >"$WORK/create.log" 2>&1; then
  cat "$WORK/create.log" >&2
  die "create failed"
fi
cryo state "$ID"
[ "$(status_of)" = created ] || die "expected status 'created' after create"
[ ! -s "$TICKS" ] || die "the program ran before start"

say "start"
cryo start "$ID"
wait_status running
sleep 3
cryo list
cryo state "$ID"
run tail -n 3 "$TICKS"

say "exec (a second process in the container's namespaces)"
cryo exec "$ID" sh -c 'echo "hello from $(hostname), pid 1 is: $(cat /proc/1/cmdline | tr "\\0" " ")"'

say "checkpoint (CRIU dumps the running container to an image directory; the container goes away)"
IMAGES=$WORK/checkpoint
before=$(tail -n 1 "$TICKS")
cryo checkpoint --image-path "$IMAGES" "$ID"
if "$CRYO" --root "$STATE_ROOT" state "$ID" >/dev/null 2>&1; then
  die "container $ID still exists after checkpoint"
fi
run ls "$IMAGES"
echo "last tick before the checkpoint: $before"
sleep 2
[ "$(tail -n 1 "$TICKS")" = "$before" ] || die "the container kept ticking while checkpointed"
echo "2 s later, still: $(tail -n 1 "$TICKS") (nothing runs)"

say "restore (the same processes come back and count on from where they were)"
printf '$ %q --root %q restore --detach --bundle %q --image-path %q %q </dev/null >%q 2>&1\n' \
  "$CRYO" "$STATE_ROOT" "$BUNDLE" "$IMAGES" "$ID" "$WORK/restore.log"
if ! "$CRYO" --root "$STATE_ROOT" restore --detach --bundle "$BUNDLE" --image-path "$IMAGES" "$ID" \
  </dev/null >"$WORK/restore.log" 2>&1; then
  cat "$WORK/restore.log" >&2
  die "restore failed"
fi
wait_status running
sleep 2
run tail -n 3 "$TICKS"
n_before=${before#tick }
n_after=$(tail -n 1 "$TICKS")
n_after=${n_after#tick }
[ "$n_after" -gt "$n_before" ] || die "counter did not continue after restore ($n_before -> $n_after)"
echo "counter continued: $n_before -> $n_after"
cryo exec "$ID" sh -c 'echo "restored: pid 1 is still: $(cat /proc/1/cmdline | tr "\\0" " ")"'

say "quick startup: a program with a slow warm-up, started cold vs restored from its warm checkpoint"
WBUNDLE=$WORK/warm-bundle
BUNDLE_READONLY=false "$HERE/make-bundle.sh" "$WBUNDLE" /warmup 150000000 32 >/dev/null
gcc -static -O2 -o "$WBUNDLE/rootfs/warmup" "$HERE/warmup.c" || die "gcc -static scripts/warmup.c failed"
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
t0=$(date +%s%N)
"$CRYO" --root "$STATE_ROOT" run -d --bundle "$WBUNDLE" warm </dev/null >/dev/null 2>&1 || die "run warm failed"
WARM_IDS="warm"
for _ in $(seq 1 300); do [ -s "$WBUNDLE/rootfs/tmp/ready" ] && break; sleep 0.02; done
[ -s "$WBUNDLE/rootfs/tmp/ready" ] || die "the warm-up program never got ready"
cold=$(ms "$t0")
echo "cold start until ready: ${cold} ms ($(cat "$WBUNDLE/rootfs/tmp/ready"))"
cryo checkpoint --image-path "$WORK/warm-image" warm
WARM_IDS=""
restored=()
for i in 1 2 3; do
  t0=$(date +%s%N)
  "$CRYO" --root "$STATE_ROOT" restore -d --lazy --bundle "$WBUNDLE" --image-path "$WORK/warm-image" "warm-$i" \
    </dev/null >/dev/null 2>&1 || die "restore --lazy warm-$i failed"
  WARM_IDS="$WARM_IDS warm-$i"
  restored+=("$(ms "$t0")")
  [ "$(status_of_id "warm-$i")" = running ] || die "warm-$i is not running"
done
echo "restored 3 warm copies (restore --lazy, each its own pid and network namespace): ${restored[*]} ms"
echo "  vs ${cold} ms cold start each"
cryo list
for id in $WARM_IDS; do
  "$CRYO" --root "$STATE_ROOT" delete --force "$id" >/dev/null 2>&1 || true
done
WARM_IDS=""

say "kill"
cryo kill "$ID" KILL
wait_status stopped
cryo state "$ID"

say "delete"
cryo delete "$ID"
if "$CRYO" --root "$STATE_ROOT" state "$ID" >/dev/null 2>&1; then
  die "container $ID still exists after delete"
fi
cryo list

say "demo finished OK"
