#!/usr/bin/env bash
# Install everything cryo needs to build, test and demo on Debian 12 (bookworm).
#
#  * Debian packages: the reference runtimes (runc, crun), the real clients
#    (podman, containerd, conmon), busybox-static for test rootfses, and the
#    build dependencies of CRIU.
#  * CRIU 4.x built from Debian's own source package (sid) and installed to
#    /usr/local/sbin/criu. bookworm's criu 3.17 cannot even start on recent
#    kernels ("vdso: Unexpected rt vDSO area bounds").
#
# Idempotent: when everything is present it only runs a few dpkg-query calls.
# Must run as root. Environment knobs:
#   CRYO_BUILD_DIR     build/cache directory        (default /var/cache/cryo-build)
#   CRIU_DEB_VERSION   Debian source version to use (default 4.2.1-1; falls back
#                      to the newest >= 4 that sid has)
#   CRIU_PREFIX        where the criu binary goes   (default /usr/local/sbin)
set -euo pipefail

log() { echo "cryo-deps: $*"; }
die() { echo "cryo-deps: ERROR: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (try: sudo $0)"

BUILD_DIR=${CRYO_BUILD_DIR:-/var/cache/cryo-build}
CRIU_DEB_VERSION=${CRIU_DEB_VERSION:-4.2.1-1}
CRIU_PREFIX=${CRIU_PREFIX:-/usr/local/sbin}
CRIU_BIN=$CRIU_PREFIX/criu
export DEBIAN_FRONTEND=noninteractive

# Packages the project uses directly.
BASE_PKGS=(
  runc crun podman containerd docker.io conmon busybox-static iptables libseccomp-dev
  pkg-config uidmap fuse-overlayfs jq iproute2 procps util-linux gcc make zstd
  # The fuzz build of make test: libFuzzer is C++, and with libzstd-dev the
  # zstd crate links the system libzstd instead of compiling it.
  g++ libzstd-dev
)
# What building the `criu` binary needs (docs are not built, so no asciidoc/xmlto).
# The -dev packages also pull in the shared libraries /usr/local/sbin/criu links to.
CRIU_BUILD_PKGS=(
  libc6-dev libprotobuf-c-dev libprotobuf-dev protobuf-c-compiler protobuf-compiler
  python3-protobuf libnl-3-dev libnet1-dev libcap-dev libnftables-dev libgnutls28-dev
  libbsd-dev uuid-dev libaio-dev python3 xz-utils
)

# Wait for another apt/dpkg (e.g. one started in the background) to finish.
# `fuser` (psmisc) may not exist on a fresh machine; apt's own lock timeout and
# the retry loop below cover that case.
wait_for_apt_locks() {
  command -v fuser >/dev/null 2>&1 || return 0
  local waited=0 lock
  for lock in /var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock; do
    while fuser "$lock" >/dev/null 2>&1; do
      if [ "$waited" -eq 0 ]; then log "waiting for another apt/dpkg to release $lock"; fi
      sleep 2
      waited=$((waited + 2))
      [ "$waited" -lt 900 ] || die "apt/dpkg lock $lock still held after ${waited}s"
    done
  done
}

# apt-get with a lock timeout and a few retries (apt-get update does not honour
# DPkg::Lock::Timeout for the lists lock on every apt version).
apt_get() {
  local try
  for try in 1 2 3 4 5; do
    wait_for_apt_locks
    if apt-get -q -o DPkg::Lock::Timeout=600 "$@"; then
      return 0
    fi
    [ "$try" -lt 5 ] || break
    log "apt-get $1 failed (try $try), retrying in 5s"
    sleep 5
  done
  die "apt-get $* failed"
}

# ---------------------------------------------------------------- packages --
# One dpkg-query for all packages; unknown ones are simply absent from its output.
installed=" $(dpkg-query -W -f='${db:Status-Abbrev}${Package} ' \
  "${BASE_PKGS[@]}" "${CRIU_BUILD_PKGS[@]}" 2>/dev/null | grep -o 'ii [^ ]*' | cut -c4- | tr '\n' ' ' || true) "
missing=()
for p in "${BASE_PKGS[@]}" "${CRIU_BUILD_PKGS[@]}"; do
  [[ $installed == *" $p "* ]] || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing ${#missing[@]} package(s): ${missing[*]}"
  apt_get update
  apt_get install -y "${missing[@]}"
else
  log "all Debian packages present"
fi

# -------------------------------------------------------------------- criu --
criu_major() {
  # `criu --version` prints "Version: 4.2.1" (plus "GitID: ..." for git builds).
  local v
  v=$("$1" --version 2>/dev/null | awk '/^Version:/ {print $2; exit}') || return 1
  [ -n "$v" ] || return 1
  echo "${v%%.*}"
}

have_criu4() {
  [ -x "$CRIU_BIN" ] || return 1
  local major
  major=$(criu_major "$CRIU_BIN") || return 1
  [ "$major" -ge 4 ] 2>/dev/null
}

# The mirror host the machine already uses for Debian (deb.debian.org if none).
debian_mirror() {
  local files=() f uri
  [ -f /etc/apt/sources.list ] && files+=(/etc/apt/sources.list)
  for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && files+=("$f")
  done
  if [ "${#files[@]}" -gt 0 ]; then
    # One-line format: "deb [opts] URI suite comp..."; deb822: "URIs: URI ...".
    uri=$(awk '
      /^[[:space:]]*#/ { next }
      $1 == "deb" || $1 == "deb-src" {
        for (i = 2; i <= NF; i++) if ($i ~ /^https?:\/\//) { print $i; break }
      }
      tolower($1) == "uris:" { for (i = 2; i <= NF; i++) print $i }
    ' "${files[@]}" | grep -E '^https?://[^ ]+/debian/?$' | head -n1 || true)
  fi
  echo "${uri:-http://deb.debian.org/debian}"
}

build_criu() {
  local apt_dir=$BUILD_DIR/apt src_dir=$BUILD_DIR/src mirror
  mirror=$(debian_mirror)
  mirror=${mirror%/}
  log "fetching the criu source package from Debian sid ($mirror) with a private apt config"

  mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" \
    "$apt_dir/sources.list.d" "$apt_dir/preferences.d" "$src_dir"
  echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror sid main" \
    >"$apt_dir/sources.list"
  # apt downloads as the unprivileged _apt user when it can write the target.
  if id _apt >/dev/null 2>&1; then chown _apt "$src_dir"; fi

  local opts=(
    -o "Dir::Etc::SourceList=$apt_dir/sources.list"
    -o "Dir::Etc::SourceParts=$apt_dir/sources.list.d"
    -o "Dir::Etc::Preferences=$apt_dir/preferences"
    -o "Dir::Etc::PreferencesParts=$apt_dir/preferences.d"
    -o "Dir::State::Lists=$apt_dir/lists"
    -o "Dir::Cache=$apt_dir/cache"
    -o "APT::Get::List-Cleanup=0"
  )
  apt-get -q "${opts[@]}" update >"$BUILD_DIR/apt-update.log" 2>&1 ||
    { cat "$BUILD_DIR/apt-update.log" >&2; die "private apt-get update (sid deb-src) failed"; }

  # Pick the version: the pinned one if sid has it, else the newest >= 4.
  local versions version
  versions=$(apt-cache "${opts[@]}" showsrc --only-source criu 2>/dev/null |
    awk '/^Version:/ {print $2}' | sort -uV)
  [ -n "$versions" ] || die "Debian sid has no criu source package"
  if grep -qxF "$CRIU_DEB_VERSION" <<<"$versions"; then
    version=$CRIU_DEB_VERSION
  else
    version=$(awk '{ v = $0; sub(/^[0-9]+:/, "", v); split(v, a, "."); if (a[1] + 0 >= 4) print $0 }' \
      <<<"$versions" | tail -n1)
    [ -n "$version" ] || die "no criu >= 4 in Debian sid (have: $(echo "$versions" | tr '\n' ' '))"
    log "criu $CRIU_DEB_VERSION not in sid, using $version"
  fi
  local upstream=${version#*:}
  upstream=${upstream%-*}
  local orig=$src_dir/criu_${upstream}.orig.tar.xz
  local dsc=$src_dir/criu_${version#*:}.dsc

  # Only the .dsc and the upstream (orig) tarball are needed: upstream builds
  # as-is, so the Debian patches are not applied. The .debian.tar.xz part may
  # not be downloadable (it 404s through some mirrors/proxies), so a failure
  # is fine as long as the orig tarball arrived and matches the signed .dsc.
  if [ ! -s "$orig" ] || [ ! -s "$dsc" ]; then
    log "downloading criu $version source"
    (cd "$src_dir" && apt-get -q "${opts[@]}" source --download-only "criu=$version") \
      >"$BUILD_DIR/apt-source.log" 2>&1 || true
  fi
  if [ ! -s "$dsc" ] || [ ! -s "$orig" ]; then
    cat "$BUILD_DIR/apt-source.log" >&2 2>/dev/null || true
    die "could not download criu $version source"
  fi
  local want have
  want=$(awk '/^Checksums-Sha256:/ {f = 1; next} /^[^ ]/ {f = 0} f && $3 ~ /\.orig\.tar\./ {print $1}' "$dsc")
  have=$(sha256sum "$orig" | awk '{print $1}')
  if [ -z "$want" ] || [ "$want" != "$have" ]; then
    rm -f "$orig" "$dsc"
    die "checksum mismatch for $(basename "$orig") (want '$want', have '$have')"
  fi

  local tree=$BUILD_DIR/criu-$upstream
  if [ ! -f "$tree/Makefile" ]; then
    log "unpacking $(basename "$orig")"
    rm -rf "$tree.tmp"
    mkdir -p "$tree.tmp"
    tar -xf "$orig" -C "$tree.tmp" --strip-components=1
    mv "$tree.tmp" "$tree"
  fi

  local jobs
  jobs=$(nproc 2>/dev/null || echo 2)
  log "building criu $upstream (make -j$jobs criu; log: $BUILD_DIR/criu-build.log)"
  local t0=$SECONDS
  if ! make -C "$tree" -j"$jobs" criu >"$BUILD_DIR/criu-build.log" 2>&1; then
    tail -n 40 "$BUILD_DIR/criu-build.log" >&2
    die "criu build failed (full log: $BUILD_DIR/criu-build.log)"
  fi
  log "criu built in $((SECONDS - t0))s"
  install -D -m 0755 "$tree/criu/criu" "$CRIU_BIN"
}

mkdir -p "$BUILD_DIR"
if have_criu4; then
  log "criu $("$CRIU_BIN" --version | awk '/^Version:/ {print $2}') already at $CRIU_BIN"
else
  if [ -x "$CRIU_BIN" ]; then
    log "$CRIU_BIN is not criu >= 4 ($("$CRIU_BIN" --version 2>&1 | head -n1 || true)); rebuilding"
  fi
  build_criu
  have_criu4 || die "$CRIU_BIN --version does not report 4.x after install"
  log "installed $("$CRIU_BIN" --version | awk '/^Version:/ {print "criu " $2}') to $CRIU_BIN"
  # A fresh install is worth a kernel check; warnings are informative only.
  if check_out=$("$CRIU_BIN" check 2>&1); then
    log "criu check: $(echo "$check_out" | tail -n1)"
  else
    printf 'cryo-deps:   %s\n' "${check_out//$'\n'/$'\n'cryo-deps:   }" >&2
    log "WARNING: criu check failed; checkpoint/restore will not work on this kernel"
  fi
fi

# ----------------------------------------------------------- pipe-max-size --
# CRIU's lazy-pages page server sizes its pipes to 4 MiB; above
# fs.pipe-max-size that needs CAP_SYS_RESOURCE, which hosts like this one do
# not grant (root without it gets EPERM and CRIU fails on the first page).
PIPE_MAX=4194304
SYSCTL_CONF=/etc/sysctl.d/90-cryo-criu.conf
if [ "$(cat /proc/sys/fs/pipe-max-size 2>/dev/null || echo 0)" -lt "$PIPE_MAX" ]; then
  log "raising fs.pipe-max-size to $PIPE_MAX for CRIU's lazy pages ($SYSCTL_CONF)"
  echo "$PIPE_MAX" >/proc/sys/fs/pipe-max-size || log "WARNING: cannot set fs.pipe-max-size; lazy pages will be refused"
fi
if [ ! -f "$SYSCTL_CONF" ]; then
  mkdir -p /etc/sysctl.d
  printf '# cryo: CRIU lazy pages need 4 MiB pipes (see docs/checkpoint.md)\nfs.pipe-max-size = %s\n' "$PIPE_MAX" >"$SYSCTL_CONF"
fi

# PATH order: /usr/local/sbin comes before /usr/sbin, so `criu` is the 4.x one
# even if Debian's criu 3.17 package is installed.
log "done"
