#!/usr/bin/env bash
# doc-transcripts.sh [CRYO]: runs the workflows docs/checkpoint.md shows and
# prints each command (prefixed "# ") with its real output, so the docs'
# transcripts can be refreshed from a real run. Run as root; needs CRIU 4.x
# (make deps). Everything it makes lives under one temp dir, a private
# --root and the cgroup /cryo-doc; all removed at the end.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
CRYO=$(readlink -f "${1:-target/release/cryo}")
[ -x "$CRYO" ] || { echo "doc-transcripts: $CRYO is not executable" >&2; exit 1; }
export PATH=/usr/local/sbin:/usr/local/bin:$PATH

W=$(mktemp -d /tmp/cryo-doc.XXXXXX)
ROOT=/run/cryo-doc
cleanup() {
  set +e
  for id in $("$CRYO" --root "$ROOT" list -q 2>/dev/null); do "$CRYO" --root "$ROOT" delete -f "$id" >/dev/null 2>&1; done
  rm -rf "$ROOT" "$W"
  for h in /sys/fs/cgroup/*/cryo-doc /sys/fs/cgroup/cryo-doc; do
    [ -d "$h" ] && find "$h" -depth -type d -exec rmdir {} + 2>/dev/null
  done
}
trap cleanup EXIT

# cryo as the docs spell it (no --root): a function so transcripts read as typed
cryo() { "$CRYO" --root "$ROOT" "$@"; }
show() { printf '# %s\n' "$*" | sed "s#$W#/srv#g"; eval "$@" 2>&1 | sed "s#$W#/srv#g"; }

counter_bundle() { # DIR ID: busybox bundle counting into DIR/out/counter
  BUNDLE_TERMINAL=false bash scripts/make-bundle.sh "$1" sh -c \
    'i=$(cat /out/counter 2>/dev/null || echo 0); while :; do i=$((i+1)); echo $i > /out/counter; sleep 0.1; done' >/dev/null
  mkdir -p "$1/out"
  jq --arg out "$1/out" --arg cg "/cryo-doc/$2" \
    '.mounts += [{destination: "/out", type: "bind", source: $out, options: ["rbind","rw"]}]
     | .linux.cgroupsPath = $cg' "$1/config.json" > "$1/c" && mv "$1/c" "$1/config.json"
}

mkdir -p "$W/ckpt"
counter_bundle "$W/counter" web

echo '## A round trip'
show 'cryo run -d --bundle '"$W"'/counter web </dev/null >/dev/null 2>&1'
sleep 1
show "cat $W/counter/out/counter"
show "cryo checkpoint --image-path $W/ckpt/web web"
show 'cryo state web || true'
show "cryo restore -d --bundle $W/counter --image-path $W/ckpt/web web </dev/null"
sleep 0.5
show "cryo state web | jq -r .status"
show "cat $W/counter/out/counter"

echo; echo '## Archives'
show "cryo checkpoint --export $W/ckpt/web.tar.zst web"
show "stat -c '%A %s %n' $W/ckpt/web.tar.zst"
show "head -c \$((\$(stat -c %s $W/ckpt/web.tar.zst) / 2)) $W/ckpt/web.tar.zst > $W/ckpt/cut.tar.zst"
show "cryo restore -d --import $W/ckpt/cut.tar.zst --bundle $W/counter web </dev/null || true"
show "cryo restore -d --import $W/ckpt/web.tar.zst --bundle $W/counter web </dev/null"
show "cryo list --format json | jq -r '.[] | .id + \" \" + .status'"

echo; echo '## Forensics (leave running)'
show "cryo checkpoint --leave-running --image-path $W/ckpt/web-live web"
show "cryo state web | jq -r .status"
show "cryo inspect --ps $W/ckpt/web-live"

echo; echo '## Surviving a reboot'
counter_bundle "$W/db" db
show 'cryo run -d --bundle '"$W"'/db db </dev/null >/dev/null 2>&1'
sleep 0.5
show "cryo checkpoint --all --image-root $W/reboot"
show "rm -rf $ROOT   # what a reboot does to /run"
show "cryo restore --all --image-root $W/reboot </dev/null"
show "cryo list"

echo; echo '## Restore through create'
for id in web db; do cryo delete -f "$id" >/dev/null 2>&1 || true; done
cp -a "$W/counter" "$W/again"
jq --arg p "$W/reboot/web/images" '.annotations["org.cryo.restore-from"] = $p' "$W/again/config.json" > "$W/again/c"
mv "$W/again/c" "$W/again/config.json"
show "jq '.annotations' $W/again/config.json"
show "cryo create --bundle $W/again web2 </dev/null >/dev/null"
show "cryo state web2 | jq -r .status"
show "cryo start web2"
show "cryo state web2 | jq -r .status"
cryo delete -f web2 >/dev/null 2>&1

echo; echo '## A pod'
counter_bundle "$W/pause" pod-holder
counter_bundle "$W/app" pod-app
show 'cryo run -d --bundle '"$W"'/pause pod-holder </dev/null >/dev/null 2>&1'
HP=$(cryo state pod-holder | jq -r .pid)
jq --arg pid "$HP" '.linux.namespaces |= map(if .type == "network" or .type == "ipc" or .type == "uts"
     then .path = "/proc/\($pid)/ns/" + (if .type == "network" then "net" else .type end) else . end)' \
  "$W/app/config.json" > "$W/app/c" && mv "$W/app/c" "$W/app/config.json"
show "jq -c '.linux.namespaces' $W/app/config.json"
show 'cryo run -d --bundle '"$W"'/app pod-app </dev/null >/dev/null 2>&1'
sleep 0.5
show "cryo checkpoint --group pod-holder,pod-app --image-root $W/pod"
show "ls $W/pod"
show "cryo restore --group --image-root $W/pod </dev/null"
show "cryo list"
show "[ \$(readlink /proc/\$(cryo state pod-app | jq .pid)/ns/net) = \$(readlink /proc/\$(cryo state pod-holder | jq .pid)/ns/net) ] && echo same netns"
