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
