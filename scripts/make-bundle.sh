#!/usr/bin/env bash
# make-bundle.sh DIR [ARGS...]
#
# Create an OCI bundle at DIR with a busybox rootfs (from busybox-static) and a
# runc-style default config.json whose process runs ARGS (default: sh).
#
# config.json is `runc spec` output when runc is installed (exact parity with
# the reference runtime), otherwise an embedded copy of what runc 1.1.5's
# `runc spec` prints. Then: terminal=false, hostname "cryo", args=ARGS.
#
# Environment knobs:
#   BUSYBOX            static busybox binary to use     (default /bin/busybox)
#   BUNDLE_READONLY    root.readonly, true|false         (default true, as runc)
#   BUNDLE_TERMINAL    process.terminal, true|false      (default false)
#   BUNDLE_HOSTNAME    hostname                          (default cryo)
set -euo pipefail

die() { echo "make-bundle: ERROR: $*" >&2; exit 1; }

[ $# -ge 1 ] || die "usage: $0 DIR [ARGS...]"
DIR=$1
shift
[ $# -gt 0 ] || set -- sh

BUSYBOX=${BUSYBOX:-/bin/busybox}
READONLY=${BUNDLE_READONLY:-true}
TERMINAL=${BUNDLE_TERMINAL:-false}
HOSTNAME_=${BUNDLE_HOSTNAME:-cryo}
case $READONLY in true | false) ;; *) die "BUNDLE_READONLY must be true or false" ;; esac
case $TERMINAL in true | false) ;; *) die "BUNDLE_TERMINAL must be true or false" ;; esac

command -v jq >/dev/null 2>&1 || die "jq not found (run scripts/install-deps.sh)"
[ -x "$BUSYBOX" ] || die "$BUSYBOX not found (apt-get install busybox-static)"
# The rootfs has no libraries, so busybox must be static.
if ldd "$BUSYBOX" >/dev/null 2>&1; then
  die "$BUSYBOX is dynamically linked; install busybox-static"
fi
if [ -e "$DIR/rootfs" ] || [ -e "$DIR/config.json" ]; then
  die "$DIR already contains a bundle"
fi

mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
ROOTFS=$DIR/rootfs

# ------------------------------------------------------------------ rootfs --
mkdir -p "$ROOTFS"
for d in bin sbin usr/bin usr/sbin proc sys dev tmp etc root home/user var; do
  mkdir -p "$ROOTFS/$d"
done
chmod 1777 "$ROOTFS/tmp"
chmod 0700 "$ROOTFS/root"
install -m 0755 "$BUSYBOX" "$ROOTFS/bin/busybox"
# Applet symlinks at the paths busybox itself reports (bin/ls, usr/bin/awk, ...).
while IFS= read -r applet; do
  [ -n "$applet" ] || continue
  [ -e "$ROOTFS/$applet" ] || [ -L "$ROOTFS/$applet" ] || ln -s /bin/busybox "$ROOTFS/$applet"
done < <("$ROOTFS/bin/busybox" --list-full)
[ -L "$ROOTFS/bin/sh" ] || ln -s /bin/busybox "$ROOTFS/bin/sh"

cat >"$ROOTFS/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
user:x:1000:1000:user:/home/user:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$ROOTFS/etc/group" <<'EOF'
root:x:0:
user:x:1000:
nogroup:x:65534:
EOF
chown 1000:1000 "$ROOTFS/home/user"
echo "$HOSTNAME_" >"$ROOTFS/etc/hostname"

# ------------------------------------------------------------- config.json --
default_spec() {
  # Verbatim `runc spec` output of runc 1.1.5 (Debian 12), used only when
  # runc is not installed.
  cat <<'EOF'
{
  "ociVersion": "1.0.2-dev",
  "process": {
    "terminal": true,
    "user": { "uid": 0, "gid": 0 },
    "args": [ "sh" ],
    "env": [
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      "TERM=xterm"
    ],
    "cwd": "/",
    "capabilities": {
      "bounding": [ "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" ],
      "effective": [ "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" ],
      "permitted": [ "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" ],
      "ambient": [ "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" ]
    },
    "rlimits": [ { "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 } ],
    "noNewPrivileges": true
  },
  "root": { "path": "rootfs", "readonly": true },
  "hostname": "runc",
  "mounts": [
    { "destination": "/proc", "type": "proc", "source": "proc" },
    { "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
      "options": [ "nosuid", "strictatime", "mode=755", "size=65536k" ] },
    { "destination": "/dev/pts", "type": "devpts", "source": "devpts",
      "options": [ "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5" ] },
    { "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
      "options": [ "nosuid", "noexec", "nodev", "mode=1777", "size=65536k" ] },
    { "destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
      "options": [ "nosuid", "noexec", "nodev" ] },
    { "destination": "/sys", "type": "sysfs", "source": "sysfs",
      "options": [ "nosuid", "noexec", "nodev", "ro" ] },
    { "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
      "options": [ "nosuid", "noexec", "nodev", "relatime", "ro" ] }
  ],
  "linux": {
    "resources": { "devices": [ { "allow": false, "access": "rwm" } ] },
    "namespaces": [
      { "type": "pid" }, { "type": "network" }, { "type": "ipc" },
      { "type": "uts" }, { "type": "mount" }
    ],
    "maskedPaths": [
      "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
      "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
      "/proc/sched_debug", "/sys/firmware", "/proc/scsi"
    ],
    "readonlyPaths": [
      "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"
    ]
  }
}
EOF
}

base=$(mktemp "$DIR/.spec.XXXXXX")
trap 'rm -f "$base"' EXIT
if command -v runc >/dev/null 2>&1; then
  # `runc spec` refuses to overwrite, and writes config.json into --bundle.
  tmpd=$(mktemp -d)
  runc spec --bundle "$tmpd"
  mv "$tmpd/config.json" "$base"
  rmdir "$tmpd"
else
  default_spec >"$base"
fi

# One jq call per argument: jq 1.6 has no NUL-safe bulk way (--args still
# parses options such as -c, and -R drops a trailing NUL).
args_json='[]'
for a in "$@"; do
  args_json=$(jq -c --arg a "$a" '. + [$a]' <<<"$args_json")
done
jq --argjson args "$args_json" \
  --argjson terminal "$TERMINAL" \
  --argjson readonly "$READONLY" \
  --arg hostname "$HOSTNAME_" \
  '.process.args = $args
   | .process.terminal = $terminal
   | .root.readonly = $readonly
   | .hostname = $hostname' "$base" >"$DIR/config.json"

echo "$DIR"
