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
    # - experimental: dockerd 20.10 has `docker checkpoint` only then.
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
        "deprecated-key-path": $key,
        experimental: true
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

# The workload of the checkpoint scenarios: its state is the shell variable
# i, counted up and written to /tmp/c ten times a second. A restored container
# goes on counting from the checkpoint's value; a restarted one from 1.
# The write goes through a rename: a checkpoint or a reader never finds
# /tmp/c empty between the truncation and the write.
COUNTER_LOOP='i=0; while :; do i=$((i+1)); echo $i > /tmp/c.new; mv /tmp/c.new /tmp/c; sleep 0.1; done'

# counter NAME: the number in the container's /tmp/c, read with docker exec;
# fails if there is none. The shell rewrites the file every 0.1 s (`echo >`
# truncates first), so a read can catch it empty: such a read is retried a
# few times before it counts as "none".
counter() {
    local out try
    for try in 1 2 3 4 5; do
        out=$(d exec "$1" cat /tmp/c 2>/dev/null) || return 1
        if [[ $out =~ ^[0-9]+$ ]]; then
            printf '%s\n' "$out"
            return 0
        fi
        sleep 0.03
    done
    return 1
}
counter_at_least() { local v; v=$(counter "$1") && ((v >= $2)); } # NAME MIN
counter_not() { local v; v=$(counter "$1") && ((v != $2)); }       # NAME VALUE

# dockerd 20.10 hands a checkpoint to containerd as a tar in the content
# store, both ways: `checkpoint create` deletes its checkpoint image but the
# blobs stay until containerd's garbage collection, and a `start --checkpoint`
# before that fails with "failed to upload checkpoint to containerd: commit
# failed: content sha256:...: already exists" (with runc too). dockerd keeps
# images in its own store, so the moby namespace holds only checkpoint blobs.
checkpoint_blobs_gone() { [[ -z $(ctr --address "$CTRD_ADDR" -n moby content ls -q) ]]; }

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

sc_checkpoint_start() {
    local name=cryo-it-ckpt id v0 v1 v2 out
    id=$(start_detached "$name" -- sh -c "$COUNTER_LOOP") || exit 1
    wait_until 20 counter_at_least "$name" 20 || die "counter did not reach 20 in 20s (now '$(counter "$name")')"
    v0=$(counter "$name") || die "cannot read the counter before the checkpoint"
    log "counter before the checkpoint: $v0"
    # Without --leave-running the container stops at the checkpoint.
    out=$(d checkpoint create "$name" cp1 2>&1) || die "docker checkpoint create exited $? ($out)"
    expect_eq "$(inspect "$name" '{{.State.Status}}')" exited "status after checkpoint create"
    out=$(runtime_status "$id") && die "the runtime still knows $id after the checkpoint: status $out"
    out=$(d checkpoint ls "$name") || die "docker checkpoint ls exited $?"
    log "docker checkpoint ls: $out"
    awk 'NR > 1 { print $1 }' <<<"$out" | grep -qx cp1 || die "docker checkpoint ls does not list cp1: '$out'"
    wait_until 15 checkpoint_blobs_gone || die "containerd kept the checkpoint's blobs for 15s"
    out=$(d start --checkpoint cp1 "$name" 2>&1) || die "docker start --checkpoint cp1 exited $? ($out)"
    expect_eq "$(inspect "$name" '{{.State.Status}}')" running "status after start --checkpoint"
    expect_eq "$(runtime_status "$id")" running "status from the runtime's state after start --checkpoint"
    # /tmp/c (the container's rw layer) may still hold the checkpoint's
    # value; the first change must be the restored shell counting on.
    wait_until 10 counter "$name" || die "no counter in the restored container after 10s"
    v1=$(counter "$name") || die "cannot read the counter after restore"
    log "counter after restore: $v1"
    ((v1 >= v0)) || die "counter restarted: $v1 after restore, $v0 before the checkpoint"
    wait_until 10 counter_not "$name" "$v1" || die "counter stuck at $v1 after restore"
    v2=$(counter "$name")
    log "counter next: $v2"
    ((v2 > v1)) || die "counter went from $v1 to $v2 after restore: restarted"
}

sc_checkpoint_leave_running() {
    local name=cryo-it-ckpt-lr id v0 vk v1 v2 out
    id=$(start_detached "$name" -- sh -c "$COUNTER_LOOP") || exit 1
    wait_until 20 counter_at_least "$name" 20 || die "counter did not reach 20 in 20s (now '$(counter "$name")')"
    v0=$(counter "$name") || die "cannot read the counter before the checkpoint"
    log "counter before the checkpoint: $v0"
    out=$(d checkpoint create --leave-running "$name" cp-lr 2>&1) ||
        die "docker checkpoint create --leave-running exited $? ($out)"
    # The shim paused the container for the checkpoint and resumed it.
    expect_eq "$(inspect "$name" '{{.State.Status}}')" running "status after checkpoint create --leave-running"
    expect_eq "$(runtime_status "$id")" running "status from the runtime's state after the checkpoint"
    # It goes on counting; 3s later kill it.
    sleep 3
    vk=$(counter "$name") || die "cannot read the counter after the checkpoint"
    log "counter 3s after the checkpoint: $vk"
    ((vk > v0)) || die "counter at $vk 3s after the checkpoint, was $v0 before it"
    d kill "$name" >/dev/null || die "docker kill exited $?"
    wait_until 10 eval "[[ \$(inspect $name '{{.State.Status}}') == exited ]]" ||
        die "status is '$(inspect "$name" '{{.State.Status}}')' 10s after docker kill"
    wait_until 15 checkpoint_blobs_gone || die "containerd kept the checkpoint's blobs for 15s"
    out=$(d start --checkpoint cp-lr "$name" 2>&1) || die "docker start --checkpoint cp-lr exited $? ($out)"
    expect_eq "$(inspect "$name" '{{.State.Status}}')" running "status after start --checkpoint"
    expect_eq "$(runtime_status "$id")" running "status from the runtime's state after start --checkpoint"
    # /tmp/c still holds the value at the kill until the restored shell,
    # back at the checkpoint's value, writes it.
    wait_until 10 counter_not "$name" "$vk" || die "counter still at $vk (the value at the kill) 10s after restore"
    v1=$(counter "$name") || die "cannot read the counter after restore"
    log "counter after restore: $v1"
    ((v1 >= v0)) || die "counter restarted: $v1 after restore, $v0 before the checkpoint"
    ((v1 < vk)) || die "counter $v1 after restore is not the checkpoint's: $v0 before it, $vk at the kill 3s later"
    wait_until 10 counter_not "$name" "$v1" || die "counter stuck at $v1 after restore"
    v2=$(counter "$name")
    log "counter next: $v2"
    ((v2 > v1)) || die "counter went from $v1 to $v2 after restore"
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
    run_scenario "docker checkpoint create, start --checkpoint: counter goes on" sc_checkpoint_start
    run_scenario "docker checkpoint create --leave-running, kill, start --checkpoint" sc_checkpoint_leave_running
    it_finish
}

main "$@"
