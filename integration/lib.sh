# shellcheck shell=bash
# Shared helpers for cryo's client integration scenarios. Source it, don't run it.
#
# A scenario script integration/<client>.sh looks like:
#
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#   sc_something() {                       # one function per scenario
#       out=$(pm run --rm ... "$IMAGE" echo hi) || die "podman run failed (rc=$?)"
#       expect_eq "$out" hi "output"
#   }
#   it_setup podman_setup                  # optional; on error every scenario fails
#   IT_CLEANUP=podman_cleanup              # optional; runs after every scenario
#   run_scenario "run echo" sc_something
#   it_finish                              # prints summary, exit status
#
# Scenario functions run in a subshell in their own process group, stdin from
# /dev/null, output captured to a per-scenario log (shown on failure), killed
# after CRYO_IT_TIMEOUT seconds (default 60). They fail with `die MSG` or by
# returning non-zero. `scenario NAME` / `pass` / `fail MSG` are the underlying
# bookkeeping and may be used directly for checks that need no function.
#
# Results are appended to $CRYO_IT_RESULTS (set by run.sh) as
# "PASS|FAIL<TAB>script<TAB>scenario<TAB>message" lines.

CRYO_BIN=${CRYO_BIN:-/usr/local/bin/cryo}
IT_TIMEOUT=${CRYO_IT_TIMEOUT:-60}
# Private podman state, so tests neither depend on nor touch the host's.
IT_STATE_DIR=${CRYO_IT_STATE_DIR:-/var/lib/cryo-it}
IT_RUN_DIR=${CRYO_IT_RUN_DIR:-/run/cryo-it}
IMAGE=localhost/cryo-busybox:latest

IT_SCRIPT=$(basename "$0" .sh)
IT_LOG_DIR=${CRYO_IT_LOG_DIR:-/tmp/cryo-it-logs}/$IT_SCRIPT
if [[ -n ${CRYO_IT_RESULTS:-} ]]; then
    IT_RESULTS=$CRYO_IT_RESULTS
    IT_STANDALONE=0
else
    IT_RESULTS=$(mktemp /tmp/cryo-it-results.XXXXXX)
    IT_STANDALONE=1
fi
IT_PASSED=0
IT_FAILED=0
IT_CURRENT=""
IT_RECORDED=1
IT_SETUP_ERROR=""
IT_CLEANUP=""
rm -rf "$IT_LOG_DIR"
mkdir -p "$IT_LOG_DIR"

log() { printf '%s\n' "$*" >&2; }

# ---------------------------------------------------------------- bookkeeping

scenario() {
    IT_CURRENT=$1
    IT_RECORDED=0
    printf '=== %s: %s\n' "$IT_SCRIPT" "$IT_CURRENT"
}

_it_record() {
    local status=$1 msg=$2
    if ((IT_RECORDED)); then
        log "warning: result for '$IT_CURRENT' already recorded, ignoring $status $msg"
        return 0
    fi
    IT_RECORDED=1
    msg=${msg//$'\n'/ }
    msg=${msg//$'\t'/ }
    printf '%s\t%s\t%s\t%s\n' "$status" "$IT_SCRIPT" "$IT_CURRENT" "$msg" >>"$IT_RESULTS"
    if [[ $status == PASS ]]; then
        IT_PASSED=$((IT_PASSED + 1))
        printf 'PASS %s: %s\n' "$IT_SCRIPT" "$IT_CURRENT"
    else
        IT_FAILED=$((IT_FAILED + 1))
        printf 'FAIL %s: %s: %s\n' "$IT_SCRIPT" "$IT_CURRENT" "$msg"
    fi
}

pass() { _it_record PASS ""; }
fail() { _it_record FAIL "${*:-failed}"; }

# Inside a scenario function: record why it failed and stop it.
die() {
    log "FAILED: $*"
    if [[ -n ${IT_MSG_FILE:-} ]]; then printf '%s\n' "$*" >"$IT_MSG_FILE"; fi
    exit 1
}

expect_eq() { # ACTUAL EXPECTED WHAT
    [[ $1 == "$2" ]] || die "$3: expected '$2', got '$1'"
}

# it_setup FN: run a setup function (in this shell, so it can set globals).
# If it fails, IT_SETUP_ERROR is set and every later scenario fails with it.
it_setup() {
    local err
    err=$(mktemp)
    if ! IT_MSG_FILE=$err "$@"; then
        IT_SETUP_ERROR=$(cat "$err")
        IT_SETUP_ERROR=${IT_SETUP_ERROR:-"$1 failed"}
        log "setup failed: $IT_SETUP_ERROR"
    fi
    rm -f "$err"
}

# Setup functions use this instead of die (die would exit the whole script).
setup_error() {
    log "setup error: $*"
    printf '%s\n' "$*" >"$IT_MSG_FILE"
    return 1
}

_it_slug() { local s=${1//[^A-Za-z0-9._-]/_}; printf '%s' "$s"; }

# run_scenario NAME FN [ARGS...]
run_scenario() {
    local name=$1 fn=$2
    shift 2
    local logf msgf pid rc msg
    scenario "$name"
    if [[ -n $IT_SETUP_ERROR ]]; then
        fail "setup failed: $IT_SETUP_ERROR"
        return 0
    fi
    logf=$IT_LOG_DIR/$(_it_slug "$name").log
    msgf=$(mktemp)
    set -m # own process group, so a timeout kills everything it started
    (
        IT_MSG_FILE=$msgf
        "$fn" "$@"
    ) </dev/null >"$logf" 2>&1 &
    pid=$!
    set +m
    if timeout "$IT_TIMEOUT" tail --pid="$pid" -s 0.2 -f /dev/null; then
        wait "$pid"
        rc=$?
        msg=$(cat "$msgf")
    else
        kill -TERM -- "-$pid" 2>/dev/null
        sleep 2
        kill -KILL -- "-$pid" 2>/dev/null
        wait "$pid"
        rc=124
        msg="timed out after ${IT_TIMEOUT}s"
    fi
    rm -f "$msgf"
    if ((rc == 0)); then
        pass
    else
        fail "${msg:-exited with status $rc}"
        sed 's/^/    | /' "$logf" | tail -n 40
    fi
    if [[ -n $IT_CLEANUP ]]; then
        "$IT_CLEANUP" >>"$logf" 2>&1 || log "warning: cleanup after '$name' failed (see $logf)"
    fi
    return 0
}

it_finish() {
    if ((IT_STANDALONE)); then
        printf '%s passed, %s failed\n' "$IT_PASSED" "$IT_FAILED"
        rm -f "$IT_RESULTS"
    else
        printf '# %s: %s passed, %s failed (logs in %s)\n' "$IT_SCRIPT" "$IT_PASSED" "$IT_FAILED" "$IT_LOG_DIR"
    fi
    ((IT_FAILED == 0 && IT_PASSED > 0))
}

# ---------------------------------------------------------------- busybox image

# build_busybox_rootfs_tar OUT.tar: a minimal rootfs from busybox-static.
build_busybox_rootfs_tar() {
    local out=$1 bb=/bin/busybox root applet
    [[ -x $bb ]] || { setup_error "$bb not found (install busybox-static)"; return 1; }
    # A dynamically linked busybox would not run in the image.
    if ldd "$bb" >/dev/null 2>&1; then
        setup_error "$bb is not statically linked (install busybox-static)"
        return 1
    fi
    root=$(mktemp -d /tmp/cryo-it-rootfs.XXXXXX)
    mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,root,home/user,run,var/tmp}
    install -m 0755 -d "$root/tmp"
    chmod 1777 "$root/tmp" "$root/var/tmp"
    chmod 0700 "$root/root"
    cp "$bb" "$root/bin/busybox"
    chmod 0755 "$root/bin/busybox"
    while read -r applet; do
        case $applet in bin/busybox | linuxrc | "") continue ;; esac
        [[ -e $root/$applet || -L $root/$applet ]] || ln -s /bin/busybox "$root/$applet"
    done < <("$bb" --list-full)
    cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
user:x:1000:1000:user:/home/user:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
    cat >"$root/etc/group" <<'EOF'
root:x:0:
user:x:1000:
nogroup:x:65534:
EOF
    chown 1000:1000 "$root/home/user"
    tar -C "$root" --numeric-owner -cf "$out" .
    local rc=$?
    rm -rf "$root"
    ((rc == 0)) || { setup_error "tar of busybox rootfs failed"; return 1; }
}

# ---------------------------------------------------------------- podman

# Storage driver for the private store. Once a store exists its driver is kept
# (containers/storage refuses to switch); otherwise native overlay if the
# kernel can mount it on the store's filesystem, else vfs.
podman_storage_driver() {
    local d=$IT_STATE_DIR probe rc
    if [[ -n ${CRYO_IT_STORAGE_DRIVER:-} ]]; then
        printf '%s\n' "$CRYO_IT_STORAGE_DRIVER"
        return
    fi
    if [[ -s $d/storage-driver ]]; then
        cat "$d/storage-driver"
        return
    fi
    mkdir -p "$d"
    probe=$(mktemp -d "$d/overlay-probe.XXXXXX")
    mkdir "$probe"/{l,u,w,m}
    mount -t overlay overlay -o "lowerdir=$probe/l,upperdir=$probe/u,workdir=$probe/w" "$probe/m" 2>/dev/null
    rc=$?
    ((rc == 0)) && umount "$probe/m"
    rm -rf "$probe"
    if ((rc == 0)); then echo overlay; else echo vfs; fi | tee "$d/storage-driver"
}

# Writes the private containers.conf / storage.conf and sets PODMAN (array).
podman_configure() {
    command -v podman >/dev/null || { setup_error "podman not installed"; return 1; }
    command -v conmon >/dev/null || { setup_error "conmon not installed"; return 1; }
    [[ $EUID -eq 0 ]] || { setup_error "must run as root"; return 1; }
    [[ -x $CRYO_BIN ]] || { setup_error "runtime CRYO_BIN=$CRYO_BIN is not an executable"; return 1; }
    local driver
    driver=$(podman_storage_driver) || { setup_error "cannot choose a storage driver"; return 1; }
    mkdir -p "$IT_STATE_DIR/storage" "$IT_STATE_DIR/networks" "$IT_RUN_DIR/runroot" "$IT_RUN_DIR/tmp"
    PODMAN_CONF=$IT_RUN_DIR/containers.conf
    PODMAN_STORAGE_CONF=$IT_RUN_DIR/storage.conf
    cat >"$PODMAN_CONF" <<EOF
# Generated by integration/lib.sh: private podman configuration for cryo tests.
[containers]
# No CAP_SYS_RESOURCE on the CI host: podman's default (raise to the hard
# limit) fails in the runtime's setrlimit.
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
log_driver = "k8s-file"
netns = "none"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "$IT_RUN_DIR/tmp"
# File locks under tmp_dir: the default SHM segment is shared with the host's podman.
lock_type = "file"

[network]
network_config_dir = "$IT_STATE_DIR/networks"
EOF
    cat >"$PODMAN_STORAGE_CONF" <<EOF
[storage]
driver = "$driver"
graphroot = "$IT_STATE_DIR/storage"
runroot = "$IT_RUN_DIR/runroot"
EOF
    export CONTAINERS_CONF=$PODMAN_CONF
    export CONTAINERS_STORAGE_CONF=$PODMAN_STORAGE_CONF
    PODMAN=(podman --root "$IT_STATE_DIR/storage" --runroot "$IT_RUN_DIR/runroot"
        --storage-driver "$driver" --runtime "$CRYO_BIN")
    # shellcheck disable=SC2034 # for the scenario scripts
    PODMAN_DRIVER=$driver
}

# pm ARGS...: podman with the private configuration and the runtime under test.
pm() { "${PODMAN[@]}" "$@"; }

# make_busybox_image: import localhost/cryo-busybox:latest unless present.
make_busybox_image() {
    if timeout 60 "${PODMAN[@]}" image exists "$IMAGE"; then
        return 0
    fi
    local tarball rc
    tarball=$(mktemp /tmp/cryo-it-busybox.XXXXXX.tar)
    build_busybox_rootfs_tar "$tarball" || { rm -f "$tarball"; return 1; }
    timeout 120 "${PODMAN[@]}" import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["/bin/sh"]' \
        "$tarball" "$IMAGE" >&2
    rc=$?
    rm -f "$tarball"
    ((rc == 0)) || { setup_error "podman import of $IMAGE failed (rc=$rc)"; return 1; }
}

# ---------------------------------------------------------------- generic helpers
# (used by the containerd and docker scenarios)

# wait_until SECONDS CMD...: retry CMD every 0.2s until it succeeds; fails after SECONDS.
wait_until() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || return 1
        sleep 0.2
    done
}

# overlay_works DIR: can the kernel mount overlayfs with layers on DIR's filesystem?
overlay_works() {
    local probe rc
    mkdir -p "$1"
    probe=$(mktemp -d "$1/overlay-probe.XXXXXX") || return 1
    mkdir "$probe"/{l,u,w,m}
    mount -t overlay overlay -o "lowerdir=$probe/l,upperdir=$probe/u,workdir=$probe/w" "$probe/m" 2>/dev/null
    rc=$?
    ((rc == 0)) && umount "$probe/m"
    rm -rf "$probe"
    return "$rc"
}

# cgroup_dir PID CONTROLLER: the host path of PID's cgroup for CONTROLLER
# (memory, freezer, pids, ...): the v1 hierarchy if CONTROLLER is mounted as
# cgroup v1, else the cgroup v2 (unified) one.
cgroup_dir() {
    local pid=$1 ctl=$2 cg mnt
    cg=$(awk -F: -v c="$ctl" '{ n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c) { print $3; exit } }' "/proc/$pid/cgroup")
    if [[ -n $cg ]]; then
        mnt=$(findmnt -rn -t cgroup -o TARGET,OPTIONS | awk -v c="$ctl" '{ n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c) { print $1; exit } }')
    else
        cg=$(awk -F: '$1 == "0" { print $3 }' "/proc/$pid/cgroup")
        mnt=$(findmnt -rn -t cgroup2 -o TARGET | head -n 1)
    fi
    [[ -n $mnt && -n $cg ]] || return 1
    printf '%s%s\n' "$mnt" "${cg%/}"
}

# cgroup_is_v1 CONTROLLER: is CONTROLLER mounted as a cgroup v1 hierarchy?
cgroup_is_v1() {
    findmnt -rn -t cgroup -o OPTIONS | tr ',' '\n' | grep -qx "$1"
}

# cgroup_rmdir_parent NAME: remove the (empty) cgroup /NAME from every cgroup
# v1 and v2 hierarchy: the parent a client created for its containers.
cgroup_rmdir_parent() {
    local mnt
    while read -r mnt; do
        [[ -d $mnt/$1 ]] && rmdir "$mnt/$1" 2>/dev/null
    done < <(findmnt -rn -t cgroup,cgroup2 -o TARGET)
    return 0
}

# stop_pidfile_daemon PIDFILE MARKER: stop the daemon whose pid is in PIDFILE
# (left by an earlier run of these scripts) if it is alive and its command line
# contains MARKER (its private socket path); TERM, then KILL after 15s.
stop_pidfile_daemon() {
    local pidfile=$1 marker=$2 pid
    [[ -s $pidfile ]] || return 0
    pid=$(<"$pidfile")
    if [[ $pid =~ ^[1-9][0-9]*$ ]] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$marker"; then
        log "stopping daemon $pid ($pidfile)"
        kill -TERM "$pid" 2>/dev/null
        wait_until 15 eval "! kill -0 $pid" || kill -KILL "$pid" 2>/dev/null
        wait_until 5 eval "! kill -0 $pid"
    fi
    rm -f "$pidfile"
}

# ---------------------------------------------------------------- image archive

# image_arch: the OCI architecture name of this machine (amd64, arm64, ...).
image_arch() {
    local a
    a=$(dpkg --print-architecture 2>/dev/null) && [[ -n $a ]] && { printf '%s\n' "$a"; return; }
    case $(uname -m) in
    x86_64) echo amd64 ;; aarch64) echo arm64 ;; armv7l) echo arm ;; i?86) echo 386 ;;
    *) uname -m ;;
    esac
}

# build_busybox_image_archive OUT.tar [NAME]: the busybox rootfs as a
# `docker save`-style archive (manifest.json, config, one uncompressed layer)
# tagged NAME (default $IMAGE). Both `docker load` and `ctr images import` read it.
build_busybox_image_archive() {
    local out=$1 name=${2:-$IMAGE} dir layer config rc
    command -v sha256sum >/dev/null || { setup_error "sha256sum not found"; return 1; }
    dir=$(mktemp -d /tmp/cryo-it-image.XXXXXX)
    build_busybox_rootfs_tar "$dir/layer.tar" || { rm -rf "$dir"; return 1; }
    layer=$(sha256sum "$dir/layer.tar" | cut -d' ' -f1)
    mkdir "$dir/$layer"
    mv "$dir/layer.tar" "$dir/$layer/layer.tar"
    printf '{"architecture":"%s","os":"linux","created":"1970-01-01T00:00:00Z",%s,%s,%s}' \
        "$(image_arch)" \
        '"config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["/bin/sh"],"WorkingDir":"/"}' \
        "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:$layer\"]}" \
        '"history":[{"created":"1970-01-01T00:00:00Z","created_by":"cryo integration/lib.sh: busybox-static"}]' \
        >"$dir/config.json"
    config=$(sha256sum "$dir/config.json" | cut -d' ' -f1)
    mv "$dir/config.json" "$dir/$config.json"
    printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["%s/layer.tar"]}]\n' "$config" "$name" "$layer" \
        >"$dir/manifest.json"
    tar -C "$dir" --numeric-owner -cf "$out" manifest.json "$config.json" "$layer"
    rc=$?
    rm -rf "$dir"
    ((rc == 0)) || { setup_error "tar of the image archive failed"; return 1; }
}

# ---------------------------------------------------------------- containerd

# containerd_start NAME: start a private containerd for scenario script NAME
# (config, socket and state under $IT_RUN_DIR/NAME, content under
# $IT_STATE_DIR/NAME/containerd) and wait until it answers. Sets CTRD_ADDR,
# CTRD_PID, CTRD_PIDFILE, CTRD_SNAPSHOTTER, CTRD_TMPDIR. Stop it with containerd_stop.
containerd_start() {
    local name=$1 dir config root snap
    command -v containerd >/dev/null || { setup_error "containerd not installed"; return 1; }
    command -v ctr >/dev/null || { setup_error "ctr not installed"; return 1; }
    command -v containerd-shim-runc-v2 >/dev/null || { setup_error "containerd-shim-runc-v2 not installed"; return 1; }
    dir=$IT_RUN_DIR/$name
    root=$IT_STATE_DIR/$name/containerd
    CTRD_ADDR=$dir/containerd.sock
    CTRD_PIDFILE=$dir/containerd.pid
    config=$dir/containerd.toml
    stop_pidfile_daemon "$CTRD_PIDFILE" "$CTRD_ADDR"
    mkdir -p "$dir" "$root"
    if [[ -n ${CRYO_IT_SNAPSHOTTER:-} ]]; then
        snap=$CRYO_IT_SNAPSHOTTER
    elif [[ -s $root/snapshotter ]]; then
        snap=$(<"$root/snapshotter") # keep the snapshotter the images were unpacked with
    elif overlay_works "$root"; then
        snap=overlayfs
    else
        snap=native
    fi
    printf '%s\n' "$snap" >"$root/snapshotter"
    CTRD_SNAPSHOTTER=$snap
    # The runc v2 shim puts its socket in /run/containerd/s whatever the
    # daemon's --state: remember whether to remove that folder again.
    CTRD_MADE_RUNDIR=0
    [[ -e /run/containerd ]] || CTRD_MADE_RUNDIR=1
    cat >"$config" <<EOF
# Generated by integration/lib.sh: private containerd for cryo's $name scenarios.
version = 2
# No CRI (kubelet) plugin and no snapshotters this host cannot use.
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper"]

[grpc]
  address = "$CTRD_ADDR"

[debug]
  address = ""

[metrics]
  address = ""

[plugins]
  # The default (/opt/containerd) would be created on the host.
  [plugins."io.containerd.internal.v1.opt"]
    path = "$root/opt"
EOF
    # Its own TMPDIR: a task restored from a checkpoint image leaves that
    # image unpacked in $TMPDIR/ctrd-checkpoint* (containerd 1.6 never
    # removes it); containerd_stop removes the folder.
    CTRD_TMPDIR=$dir/tmp
    rm -rf "$CTRD_TMPDIR"
    mkdir -m 0700 "$CTRD_TMPDIR"
    # setsid: own session, so a ^C reaches only the script (whose EXIT trap
    # removes the containers first), not the daemon.
    TMPDIR=$CTRD_TMPDIR setsid containerd --config "$config" --address "$CTRD_ADDR" --root "$root" --state "$dir/state" \
        </dev/null >>"$IT_LOG_DIR/containerd.log" 2>&1 &
    CTRD_PID=$!
    printf '%s' "$CTRD_PID" >"$CTRD_PIDFILE"
    if ! wait_until 30 ctr --address "$CTRD_ADDR" version; then
        tail -n 20 "$IT_LOG_DIR/containerd.log" >&2
        setup_error "containerd did not come up on $CTRD_ADDR (log: $IT_LOG_DIR/containerd.log)"
        return 1
    fi
    log "containerd: $(containerd --version) pid $CTRD_PID on $CTRD_ADDR, snapshotter $snap"
}

# containerd_stop: stop the containerd started by containerd_start.
containerd_stop() {
    [[ -n ${CTRD_PID:-} ]] || return 0
    kill -TERM "$CTRD_PID" 2>/dev/null
    if ! wait_until 15 eval "! kill -0 $CTRD_PID"; then
        log "containerd $CTRD_PID ignored SIGTERM, killing it"
        kill -KILL "$CTRD_PID" 2>/dev/null
    fi
    wait "$CTRD_PID" 2>/dev/null
    rm -f "$CTRD_PIDFILE" "$CTRD_ADDR" "$CTRD_ADDR.ttrpc"
    rm -rf "$CTRD_TMPDIR"
    CTRD_PID=""
    if ((CTRD_MADE_RUNDIR)); then # only if empty: another containerd may use it now
        rmdir /run/containerd/s /run/containerd/fifo /run/containerd 2>/dev/null
    fi
    return 0
}

# containerd_import_image NAMESPACE: import $IMAGE into the private containerd
# unless it is there already.
containerd_import_image() {
    local ns=$1 archive rc
    if ctr --address "$CTRD_ADDR" -n "$ns" images ls -q | grep -qxF "$IMAGE"; then
        return 0
    fi
    archive=$(mktemp /tmp/cryo-it-image.XXXXXX.tar)
    build_busybox_image_archive "$archive" || { rm -f "$archive"; return 1; }
    timeout 120 ctr --address "$CTRD_ADDR" -n "$ns" images import \
        --snapshotter "$CTRD_SNAPSHOTTER" "$archive" >&2
    rc=$?
    rm -f "$archive"
    ((rc == 0)) || { setup_error "ctr images import of $IMAGE failed (rc=$rc)"; return 1; }
}
