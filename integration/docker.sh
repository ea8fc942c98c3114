#!/usr/bin/env bash
# Docker (dockerd 20.10 on containerd 1.6 with the runc v2 shim) driving the
# runtime in $CRYO_BIN (default /usr/local/bin/cryo), registered in dockerd's
# daemon.json as the runtime "cryo" and chosen with `docker run --runtime cryo`.
# Reference: every scenario must pass with CRYO_BIN=/usr/sbin/runc.
#
# The script starts its own containerd and dockerd (config, sockets and
# exec-root under $IT_RUN_DIR/docker, data under $IT_STATE_DIR/docker), with no
# networking (no bridge, no iptables, no ip_forward change), and stops them at
# exit; the host's dockerd/containerd, if any, are neither used nor touched.
#
# To add a scenario: write a function sc_NAME (fail with `die MSG`), give every
# container a name starting with cryo-it- (docker_cleanup removes them after
# each scenario, even on failure or timeout) and add a run_scenario line in main.

here=$(dirname "${BASH_SOURCE[0]}")
lib=$here/lib.sh
[[ -f $lib ]] || lib=$here/../lib.sh # while the script waits in integration/pending/
# shellcheck source=integration/lib.sh
. "$lib"

DOCKER_DIR=$IT_RUN_DIR/docker                 # sockets, pid file, daemon.json
DOCKER_SOCK=$DOCKER_DIR/docker.sock
DOCKER_PIDFILE=$DOCKER_DIR/dockerd.pid
DOCKER_EXEC_ROOT=$DOCKER_DIR/exec
DOCKER_DATA=$IT_STATE_DIR/docker/data
# The runtime gets --root EXEC_ROOT/runtime-runc/moby (the shim adds the
# containerd namespace, moby): dockerd 20.10 uses runtime-runc for every
# runtime given by path, although it also creates an empty runtime-NAME.
RUNTIME_ROOTS=("$DOCKER_EXEC_ROOT/runtime-runc/moby" "$DOCKER_EXEC_ROOT/runtime-cryo/moby")
# The client that matches the daemon (docker.io ships /usr/bin/docker; a
# newer client elsewhere in PATH works too, through API version negotiation).
DOCKER_CLI=${CRYO_IT_DOCKER_CLI:-$([[ -x /usr/bin/docker ]] && echo /usr/bin/docker || echo docker)}
DOCKER=()
DOCKERD_PID=""
DOCKER_MADE_RUNDIR=0
CGROUP_PARENT=cryo-it-docker # dockerd's --cgroup-parent (cgroupfs driver): /cryo-it-docker/ID
# Options for every container: the runtime under test, no network.
RUN_OPTS=(--runtime cryo --network none)

dockerd_start() {
    local driver config
    command -v dockerd >/dev/null || { setup_error "dockerd not installed (apt-get install docker.io)"; return 1; }
    command -v "$DOCKER_CLI" >/dev/null || { setup_error "docker client $DOCKER_CLI not found"; return 1; }
    stop_pidfile_daemon "$DOCKER_PIDFILE" "$DOCKER_SOCK"
    mkdir -p "$DOCKER_DIR" "$DOCKER_DATA" "$DOCKER_DIR/cli"
    if [[ -n ${CRYO_IT_DOCKER_STORAGE_DRIVER:-} ]]; then
        driver=$CRYO_IT_DOCKER_STORAGE_DRIVER
    elif [[ -s $IT_STATE_DIR/docker/storage-driver ]]; then
        driver=$(<"$IT_STATE_DIR/docker/storage-driver") # dockerd keeps one driver per data-root
    elif overlay_works "$DOCKER_DATA"; then
        driver=overlay2
    else
        driver=vfs
    fi
    printf '%s\n' "$driver" >"$IT_STATE_DIR/docker/storage-driver"
    config=$DOCKER_DIR/daemon.json
    # - runtimes: what docs/clients/docker.md tells users to write.
    # - default-ulimits: no CAP_SYS_RESOURCE on the CI host, RLIMIT_NOFILE above
    #   the hard limit cannot be set.
    # - no bridge/iptables/ip-forward: leave the host's network alone.
    # - deprecated-key-path: dockerd 20.10 otherwise writes /etc/docker/key.json.
    # - cgroup-parent: not /docker, which a host dockerd would share.
    jq -n --arg rt "$CRYO_BIN" --arg driver "$driver" --arg key "$DOCKER_DATA/key.json" \
        --arg cgparent "/$CGROUP_PARENT" '{
        runtimes: { cryo: { path: $rt } },
        "default-ulimits": { nofile: { Name: "nofile", Soft: 1024, Hard: 1024 } },
        "exec-opts": ["native.cgroupdriver=cgroupfs"],
        "cgroup-parent": $cgparent,
        "storage-driver": $driver,
        bridge: "none", iptables: false, "ip-masq": false, "ip-forward": false,
        "userland-proxy": false,
        "log-driver": "json-file",
        "deprecated-key-path": $key
    }' >"$config" || { setup_error "cannot write $config"; return 1; }
    # dockerd creates /run/docker/plugins whatever its --exec-root.
    DOCKER_MADE_RUNDIR=0
    [[ -e /run/docker ]] || DOCKER_MADE_RUNDIR=1
    setsid dockerd --config-file "$config" --data-root "$DOCKER_DATA" --exec-root "$DOCKER_EXEC_ROOT" \
        --host "unix://$DOCKER_SOCK" --pidfile "$DOCKER_PIDFILE" --containerd "$CTRD_ADDR" \
        </dev/null >>"$IT_LOG_DIR/dockerd.log" 2>&1 &
    DOCKERD_PID=$!
    # Private client configuration (~/.docker is left alone).
    export DOCKER_CONFIG=$DOCKER_DIR/cli
    DOCKER=("$DOCKER_CLI" --host "unix://$DOCKER_SOCK")
    if ! wait_until 60 "${DOCKER[@]}" version; then
        tail -n 20 "$IT_LOG_DIR/dockerd.log" >&2
        setup_error "dockerd did not come up on $DOCKER_SOCK (log: $IT_LOG_DIR/dockerd.log)"
        return 1
    fi
    log "dockerd: $(dockerd --version) pid $DOCKERD_PID on $DOCKER_SOCK, storage driver $driver"
}

dockerd_stop() {
    [[ -n $DOCKERD_PID ]] || return 0
    kill -TERM "$DOCKERD_PID" 2>/dev/null
    if ! wait_until 30 eval "! kill -0 $DOCKERD_PID"; then
        log "dockerd $DOCKERD_PID ignored SIGTERM, killing it"
        kill -KILL "$DOCKERD_PID" 2>/dev/null
    fi
    wait "$DOCKERD_PID" 2>/dev/null
    rm -f "$DOCKER_PIDFILE" "$DOCKER_SOCK"
    DOCKERD_PID=""
    if ((DOCKER_MADE_RUNDIR)); then # only if empty: another dockerd may use it now
        rmdir /run/docker/plugins /run/docker 2>/dev/null
    fi
    cgroup_rmdir_parent "$CGROUP_PARENT"
    return 0
}

docker_setup() {
    [[ $EUID -eq 0 ]] || { setup_error "must run as root"; return 1; }
    [[ -x $CRYO_BIN ]] || { setup_error "runtime CRYO_BIN=$CRYO_BIN is not an executable"; return 1; }
    command -v jq >/dev/null || { setup_error "jq not installed"; return 1; }
    # Stop a dockerd left by a killed earlier run before its containerd goes.
    stop_pidfile_daemon "$DOCKER_PIDFILE" "$DOCKER_SOCK"
    containerd_start docker || return 1
    dockerd_start || return 1
    local runtimes
    runtimes=$(d info --format '{{json .Runtimes}}') || { setup_error "docker info failed"; return 1; }
    log "docker info runtimes: $runtimes"
    jq -e .cryo >/dev/null <<<"$runtimes" || { setup_error "dockerd does not list the runtime cryo"; return 1; }
    make_docker_image || return 1
    docker_cleanup || { setup_error "cannot remove leftover cryo-it-* containers"; return 1; }
}

# make_docker_image: `docker load` $IMAGE unless present.
make_docker_image() {
    if d image inspect "$IMAGE" >/dev/null 2>&1; then
        return 0
    fi
    local archive rc
    archive=$(mktemp /tmp/cryo-it-image.XXXXXX.tar)
    build_busybox_image_archive "$archive" || { rm -f "$archive"; return 1; }
    timeout 120 "${DOCKER[@]}" load --input "$archive" >&2
    rc=$?
    rm -f "$archive"
    ((rc == 0)) || { setup_error "docker load of $IMAGE failed (rc=$rc)"; return 1; }
}

# Remove every test container (cryo-it-*), whatever state it is in.
docker_cleanup() {
    local ids
    ((${#DOCKER[@]})) || return 0
    ids=$(timeout 30 "${DOCKER[@]}" ps -a -q --filter 'name=^/?cryo-it-') || return 1
    [[ -z $ids ]] && return 0
    # shellcheck disable=SC2086 # one id per word
    timeout 60 "${DOCKER[@]}" rm -f $ids >/dev/null
}

docker_teardown() {
    {
        if [[ -n $DOCKERD_PID ]]; then
            docker_cleanup || log "warning: docker_cleanup failed"
            dockerd_stop
        fi
        containerd_stop
    } >>"$IT_LOG_DIR/teardown.log" 2>&1
}

d() { "${DOCKER[@]}" "$@"; }

# start_detached NAME [RUN OPTIONS...] -- CMD...: `docker run -d`, check it runs
# with the runtime under test; prints the container id.
start_detached() {
    local name=$1 opts=() id
    shift
    while (($#)) && [[ $1 != -- ]]; do
        opts+=("$1")
        shift
    done
    shift
    id=$(d run -d --name "$name" "${RUN_OPTS[@]}" "${opts[@]}" "$IMAGE" "$@") || die "docker run -d $* exited $?"
    [[ $id =~ ^[0-9a-f]{64}$ ]] || die "docker run -d printed '$id', not a container id"
    expect_eq "$(inspect "$name" '{{.State.Status}}')" running "status after run -d"
    expect_eq "$(inspect "$name" '{{.HostConfig.Runtime}}')" cryo "runtime of the container"
    printf '%s' "$id"
}

inspect() { d inspect --format "$2" "$1"; }

# The runtime's own view: `$CRYO_BIN --root ROOT state ID` | .status, with the
# first root in RUNTIME_ROOTS that knows ID; fails if none does.
runtime_status() {
    local root out
    for root in "${RUNTIME_ROOTS[@]}"; do
        if out=$("$CRYO_BIN" --root "$root" state "$1" 2>/dev/null); then
            log "runtime state ($root): $out"
            jq -r .status <<<"$out"
            return
        fi
    done
    log "$CRYO_BIN state $1 failed with --root ${RUNTIME_ROOTS[*]}"
    return 1
}

# --------------------------------------------------------------- scenarios

sc_run_echo() {
    local out rc
    out=$(d run --rm --name cryo-it-echo "${RUN_OPTS[@]}" "$IMAGE" echo hi)
    rc=$?
    log "stdout: $out"
    ((rc == 0)) || die "docker run --rm exited $rc (stdout: $out)"
    expect_eq "$out" hi "stdout"
}

sc_exit_code() {
    local rc
    d run --rm --name cryo-it-exit "${RUN_OPTS[@]}" "$IMAGE" sh -c 'exit 3'
    rc=$?
    expect_eq "$rc" 3 "docker run exit status"
}

sc_detached_exec() {
    local name=cryo-it-exec id out rc
    id=$(start_detached "$name" -- sleep 1000) || exit 1
    out=$(runtime_status "$id") || die "$CRYO_BIN state $id failed (with --root ${RUNTIME_ROOTS[*]})"
    expect_eq "$out" running "status from the runtime's state"
    out=$(d exec "$name" echo hi)
    rc=$?
    log "exec stdout: $out"
    ((rc == 0)) || die "docker exec echo hi exited $rc (stdout: $out)"
    expect_eq "$out" hi "exec stdout"
    # The exec'd process joins the container's namespaces: pid 1 is the sleep.
    out=$(d exec "$name" cat /proc/1/cmdline | tr '\0' ' ')
    expect_eq "$out" "sleep 1000 " "/proc/1/cmdline seen by exec"
    d exec "$name" sh -c 'exit 3'
    rc=$?
    expect_eq "$rc" 3 "exit status of docker exec sh -c 'exit 3'"
    expect_eq "$(inspect "$name" '{{.State.Status}}')" running "status after the execs"
}

sc_update_memory() {
    local name=cryo-it-update pid dir mem swap
    start_detached "$name" -- sleep 1000 >/dev/null || exit 1
    pid=$(inspect "$name" '{{.State.Pid}}')
    [[ $pid =~ ^[1-9][0-9]*$ ]] || die "bad container pid '$pid'"
    d update --memory 64m --memory-swap 128m "$name" || die "docker update exited $?"
    expect_eq "$(inspect "$name" '{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}}')" \
        "67108864 134217728" "docker inspect Memory MemorySwap"
    log "/proc/$pid/cgroup:"
    cat "/proc/$pid/cgroup" >&2
    dir=$(cgroup_dir "$pid" memory) || die "cannot find the memory cgroup of pid $pid"
    if cgroup_is_v1 memory; then
        mem=$(cat "$dir/memory.limit_in_bytes") || die "cannot read $dir/memory.limit_in_bytes"
        expect_eq "$mem" 67108864 "$dir/memory.limit_in_bytes"
        if [[ -e $dir/memory.memsw.limit_in_bytes ]]; then # swap accounting on
            swap=$(cat "$dir/memory.memsw.limit_in_bytes")
            expect_eq "$swap" 134217728 "$dir/memory.memsw.limit_in_bytes"
        fi
    else
        mem=$(cat "$dir/memory.max") || die "cannot read $dir/memory.max"
        expect_eq "$mem" 67108864 "$dir/memory.max"
        if [[ -e $dir/memory.swap.max ]]; then # v2: swap only, memory-swap minus memory
            swap=$(cat "$dir/memory.swap.max")
            expect_eq "$swap" 67108864 "$dir/memory.swap.max"
        fi
    fi
    expect_eq "$(inspect "$name" '{{.State.Status}}')" running "status after update"
}

sc_top() {
    local name=cryo-it-top pid out
    start_detached "$name" -- sleep 1000 >/dev/null || exit 1
    pid=$(inspect "$name" '{{.State.Pid}}')
    out=$(d top "$name") || die "docker top exited $?"
    log "docker top: $out"
    # Default ps options -ef: UID PID PPID C STIME TTY TIME CMD
    expect_eq "$(awk 'NR == 1 { print $2 }' <<<"$out")" PID "second column of the docker top header"
    expect_eq "$(awk 'NR > 1 && / sleep 1000$/ { print $2 }' <<<"$out")" "$pid" "pid of 'sleep 1000' in docker top"
}

sc_stop_rm() {
    local name=cryo-it-stop id pid out
    id=$(start_detached "$name" -- sleep 1000) || exit 1
    pid=$(inspect "$name" '{{.State.Pid}}')
    kill -0 "$pid" 2>/dev/null || die "container process $pid is not alive"
    # sleep is pid 1 and ignores SIGTERM: SIGKILL after 2s.
    d stop -t 2 "$name" || die "docker stop -t 2 exited $?"
    expect_eq "$(inspect "$name" '{{.State.Status}} {{.State.ExitCode}}')" "exited 137" "status, exit code after stop"
    kill -0 "$pid" 2>/dev/null && die "container process $pid still alive after stop"
    out=$(runtime_status "$id") && die "the runtime still knows $id after docker stop: status $out"
    out=$(d ps -q --filter "name=^/?$name\$")
    expect_eq "$out" "" "docker ps (running containers) after stop"
    d rm "$name" || die "docker rm exited $?"
    d inspect "$name" >/dev/null 2>&1 && die "container still exists after docker rm"
    out=$(d ps -a -q --filter "name=^/?$name\$")
    expect_eq "$out" "" "docker ps -a after rm"
}

main() {
    trap docker_teardown EXIT
    trap 'exit 130' INT TERM
    it_setup docker_setup
    IT_CLEANUP=docker_cleanup
    run_scenario "docker run --rm echo hi" sc_run_echo
    run_scenario "docker run --rm exit code 3" sc_exit_code
    run_scenario "docker run -d, exec" sc_detached_exec
    run_scenario "docker update --memory 64m --memory-swap 128m" sc_update_memory
    run_scenario "docker top" sc_top
    run_scenario "docker stop -t 2, rm" sc_stop_rm
    it_finish
}

main "$@"
