#!/usr/bin/env bash
# Podman 4.x driving the runtime in $CRYO_BIN (default /usr/local/bin/cryo).
# Reference: every scenario must pass with CRYO_BIN=/usr/sbin/runc.
#
# To add a scenario: write a function sc_NAME (fail with `die MSG`), give every
# container a name starting with cryo-it- (podman_cleanup removes them after
# each scenario, even on failure or timeout) and add a run_scenario line in main.

# shellcheck source=integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Options for every container: no network (no CNI/netavark setup needed).
RUN_OPTS=(--network none)

podman_setup() {
    podman_configure || return 1
    log "podman: $(podman --version), storage driver $PODMAN_DRIVER, runtime $CRYO_BIN"
    log "podman: CONTAINERS_CONF=$CONTAINERS_CONF CONTAINERS_STORAGE_CONF=$CONTAINERS_STORAGE_CONF"
    make_busybox_image || return 1
    podman_cleanup || { setup_error "cannot remove leftover cryo-it-* containers"; return 1; }
}

# Remove every test container (cryo-it-*), whatever state it is in.
podman_cleanup() {
    local ids
    ids=$(timeout 30 "${PODMAN[@]}" ps -a -q --filter 'name=^cryo-it-') || return 1
    [[ -z $ids ]] && return 0
    # shellcheck disable=SC2086 # one id per word
    timeout 60 "${PODMAN[@]}" rm -f -t 0 $ids >/dev/null
}

# Output of `podman run --rm --name cryo-it-NAME [OPTS...] IMAGE CMD...`;
# usage: run_rm NAME OPTS... -- CMD...  (dies if podman fails)
run_rm() {
    local name=cryo-it-$1 opts=() out rc
    shift
    while (($#)) && [[ $1 != -- ]]; do
        opts+=("$1")
        shift
    done
    shift
    out=$(pm run --rm --name "$name" "${RUN_OPTS[@]}" "${opts[@]}" "$IMAGE" "$@")
    rc=$?
    ((rc == 0)) || die "podman run ${opts[*]} $* exited $rc (stdout: $out)"
    log "stdout: $out"
    printf '%s' "$out"
}

state_of() { pm inspect --format '{{.State.Status}}' "$1"; }
pid_of() { pm inspect --format '{{.State.Pid}}' "$1"; }

# --------------------------------------------------------------- scenarios

sc_run_echo() {
    local out
    out=$(run_rm echo -- echo hi) || exit 1
    expect_eq "$out" hi "stdout"
}

sc_detached_ps_stop_rm() {
    local name=cryo-it-lifecycle id out pid
    id=$(pm run -d --name "$name" "${RUN_OPTS[@]}" "$IMAGE" sleep 1000) || die "podman run -d exited $?"
    [[ $id =~ ^[0-9a-f]{64}$ ]] || die "podman run -d printed '$id', not a container id"
    out=$(pm ps --filter "name=^$name\$" --filter status=running --format '{{.Names}}|{{.Status}}') ||
        die "podman ps exited $?"
    [[ $out == "$name|Up "* ]] || die "podman ps: expected '$name|Up ...', got '$out'"
    pid=$(pid_of "$name")
    [[ $pid =~ ^[1-9][0-9]*$ ]] || die "bad container pid '$pid'"
    kill -0 "$pid" 2>/dev/null || die "container process $pid is not alive"
    pm stop -t 2 "$name" || die "podman stop -t 2 exited $?"
    expect_eq "$(state_of "$name")" exited "status after stop"
    kill -0 "$pid" 2>/dev/null && die "container process $pid still alive after stop"
    out=$(pm ps --filter "name=^$name\$" -q)
    expect_eq "$out" "" "podman ps (running containers) after stop"
    pm rm "$name" || die "podman rm exited $?"
    pm container exists "$name" && die "container still exists after podman rm"
    out=$(pm ps -a --filter "name=^$name\$" -q)
    expect_eq "$out" "" "podman ps -a after rm"
}

sc_exit_code() {
    local rc
    pm run --rm --name cryo-it-exit "${RUN_OPTS[@]}" "$IMAGE" sh -c 'exit 3'
    rc=$?
    expect_eq "$rc" 3 "podman run exit status"
}

sc_detached_rm_force() {
    local name=cryo-it-rmf pid
    # sleep is pid 1 and ignores SIGTERM: keep podman's wait before SIGKILL short.
    pm run -d --name "$name" --stop-timeout 2 "${RUN_OPTS[@]}" "$IMAGE" sleep 1000 >/dev/null ||
        die "podman run -d exited $?"
    expect_eq "$(state_of "$name")" running "status"
    pid=$(pid_of "$name")
    pm rm -f "$name" || die "podman rm -f exited $?"
    pm container exists "$name" && die "container still exists after podman rm -f"
    kill -0 "$pid" 2>/dev/null && die "container process $pid still alive after rm -f"
    return 0
}

sc_hostname() {
    local out
    out=$(run_rm hostname --hostname foo -- hostname) || exit 1
    expect_eq "$out" foo "hostname"
}

sc_env() {
    local out
    # shellcheck disable=SC2016 # expanded by the container's shell
    out=$(run_rm env --env A=b -- sh -c 'echo "$A"') || exit 1
    expect_eq "$out" b "\$A"
}

sc_workdir() {
    local out
    out=$(run_rm workdir --workdir /tmp -- pwd) || exit 1
    expect_eq "$out" /tmp "pwd"
}

sc_user() {
    local out
    out=$(run_rm user --user 1000:1000 -- id) || exit 1
    [[ $out == "uid=1000(user) gid=1000(user)"* ]] || die "id: expected uid=1000(user) gid=1000(user)..., got '$out'"
}

sc_tty() {
    local cmd out rc
    # podman -t needs a terminal on our side too: script(1) provides one.
    cmd=$(printf '%q ' "${PODMAN[@]}" run --rm -t --name cryo-it-tty "${RUN_OPTS[@]}" "$IMAGE" tty)
    out=$(script -qec "$cmd" /dev/null)
    rc=$?
    out=${out//$'\r'/}
    log "output: $out"
    ((rc == 0)) || die "podman run -t exited $rc (output: $out)"
    expect_eq "$out" /dev/pts/0 "tty"
}

sc_memory_limit_in_container() {
    local out
    out=$(run_rm mem --memory 64m -- cat /sys/fs/cgroup/memory/memory.limit_in_bytes) || exit 1
    expect_eq "$out" 67108864 "memory.limit_in_bytes seen in the container"
}

sc_memory_limit_host() {
    local name=cryo-it-memhost pid cg mnt file limit
    pm run -d --name "$name" --memory 64m "${RUN_OPTS[@]}" "$IMAGE" sleep 1000 >/dev/null ||
        die "podman run -d --memory 64m exited $?"
    pid=$(pid_of "$name")
    [[ $pid =~ ^[1-9][0-9]*$ ]] || die "bad pid '$pid'"
    log "/proc/$pid/cgroup:"
    cat "/proc/$pid/cgroup" >&2
    cg=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ { print $3 }' "/proc/$pid/cgroup")
    if [[ -n $cg ]]; then # cgroup v1 memory controller
        mnt=$(findmnt -rn -t cgroup -o TARGET,OPTIONS | awk '$2 ~ /(^|,)memory(,|$)/ { print $1; exit }')
        file=$mnt$cg/memory.limit_in_bytes
    else # cgroup v2
        cg=$(awk -F: '$1 == "0" { print $3 }' "/proc/$pid/cgroup")
        mnt=$(findmnt -rn -t cgroup2 -o TARGET | head -n 1)
        file=$mnt$cg/memory.max
    fi
    [[ -n $mnt && -n $cg ]] || die "cannot find the memory cgroup of pid $pid"
    limit=$(cat "$file") || die "cannot read $file"
    expect_eq "$limit" 67108864 "$file"
}

# A long-running detached container for the exec/pause/top scenarios.
start_sleeper() {
    pm run -d --name "$1" --stop-timeout 2 "${RUN_OPTS[@]}" "$IMAGE" sleep 1000 >/dev/null ||
        die "podman run -d exited $?"
}

sc_exec_plain() {
    local out
    start_sleeper cryo-it-exec
    out=$(pm exec cryo-it-exec echo hello-from-exec) || die "podman exec exited $?"
    expect_eq "$out" hello-from-exec "exec stdout"
}

sc_exec_flags() {
    local out
    start_sleeper cryo-it-execf
    # shellcheck disable=SC2016 # expanded by the container's shell
    out=$(pm exec -e FOO=bar -w /bin -u 1000:1000 cryo-it-execf sh -c 'id -u; pwd; echo "$FOO"') ||
        die "podman exec exited $?"
    expect_eq "$out" $'1000\n/bin\nbar' "exec -e -w -u"
}

sc_exec_exit_code_and_missing() {
    local rc
    start_sleeper cryo-it-execrc
    pm exec cryo-it-execrc sh -c 'exit 42'
    rc=$?
    expect_eq "$rc" 42 "exec exit status"
    pm exec cryo-it-execrc /nonexistent
    rc=$?
    expect_eq "$rc" 127 "exec of a missing binary (podman maps 'no such file' to 127)"
}

sc_exec_tty() {
    local cmd out rc
    start_sleeper cryo-it-exectty
    cmd=$(printf '%q ' "${PODMAN[@]}" exec -it cryo-it-exectty sh -c 'tty; echo done')
    out=$(script -qec "$cmd" /dev/null)
    rc=$?
    out=${out//$'\r'/}
    ((rc == 0)) || die "podman exec -it exited $rc (output: $out)"
    # script(1) may add a ^@ from the terminal setup before or after the output.
    [[ $out == */dev/pts/[0-9]*$'\n'done* ]] || die "exec -it output: '$out'"
}

sc_pause_unpause() {
    start_sleeper cryo-it-pause
    pm pause cryo-it-pause >/dev/null || die "podman pause exited $?"
    expect_eq "$(state_of cryo-it-pause)" paused "status after pause"
    pm unpause cryo-it-pause >/dev/null || die "podman unpause exited $?"
    expect_eq "$(state_of cryo-it-pause)" running "status after unpause"
}

sc_top() {
    local out
    start_sleeper cryo-it-top
    out=$(pm top cryo-it-top pid,comm) || die "podman top exited $?"
    [[ $out == *sleep* ]] || die "podman top does not show sleep: '$out'"
}

sc_restart() {
    local before after
    start_sleeper cryo-it-restart
    before=$(pid_of cryo-it-restart)
    pm restart -t 1 cryo-it-restart >/dev/null || die "podman restart exited $?"
    expect_eq "$(state_of cryo-it-restart)" running "status after restart"
    after=$(pid_of cryo-it-restart)
    [[ $before != "$after" ]] || die "restart kept the same pid $before"
}

# --------------------------------------------------------------- checkpoint/restore
# The workload's state lives in the memory of its shell (the variable i): a
# container started afresh instead of restored counts from 1 again.

# The write goes through a rename: a checkpoint or a reader never finds
# /tmp/c empty between the truncation and the write.
# shellcheck disable=SC2016 # expanded by the container's shell
COUNTER='i=0; while :; do i=$((i+1)); echo $i > /tmp/c.new; mv /tmp/c.new /tmp/c; sleep 0.1; done'
# Checkpoints are taken once the counter is past this, so a restarted
# counter (read within a second or so of the restore) cannot reach it.
COUNTER_MIN=20

# counter_of NAME: the counter of a running container, read with podman exec
# (retried: the shell truncates /tmp/c before it writes the next number).
counter_of() {
    local v n
    for n in 1 2 3 4 5; do
        v=$(pm exec "$1" cat /tmp/c 2>/dev/null)
        [[ $v =~ ^[0-9]+$ ]] && { printf '%s\n' "$v"; return 0; }
        sleep 0.1
    done
    return 1
}

counter_at_least() { local v; v=$(counter_of "$1") && ((v >= $2)); }

# stopped_counter NAME: the counter a stopped (or checkpointed) container
# left in its rootfs, read through podman container mount.
stopped_counter() {
    local m v
    m=$(pm container mount "$1") || return 1
    v=$(cat "$m/tmp/c")
    pm container umount "$1" >/dev/null
    [[ $v =~ ^[0-9]+$ ]] || return 1
    printf '%s\n' "$v"
}

# start_counter NAME [OPTS...]: a detached counter, past COUNTER_MIN.
start_counter() {
    local name=$1
    shift
    pm run -d --name "$name" --stop-timeout 2 "${RUN_OPTS[@]}" "$@" "$IMAGE" sh -c "$COUNTER" >/dev/null ||
        die "podman run -d (counter) exited $?"
    wait_until 20 counter_at_least "$name" "$COUNTER_MIN" || die "the counter in $name did not reach $COUNTER_MIN"
}

# expect_restored NAME AT: NAME is running again after a restore, its counter
# carries on from AT (the value at the checkpoint) and keeps moving.
expect_restored() {
    local name=$1 at=$2 v
    expect_eq "$(pm inspect --format '{{.State.Status}} {{.State.Restored}}' "$name")" "running true" \
        "status and .State.Restored after restore"
    v=$(counter_of "$name") || die "cannot read the counter of $name after restore"
    log "$name: counter $v after restore (checkpoint at $at)"
    ((v >= at)) || die "counter after restore is $v, below $at at the checkpoint: the shell started afresh"
    wait_until 10 counter_at_least "$name" $((v + 5)) || die "the counter of $name stopped at $v after restore"
}

sc_checkpoint_restore() {
    local name=cryo-it-ckpt out at
    start_counter "$name"
    out=$(pm container checkpoint "$name") || die "podman container checkpoint exited $?"
    expect_eq "$out" "$name" "podman container checkpoint output"
    expect_eq "$(pm inspect --format '{{.State.Status}} {{.State.Checkpointed}}' "$name")" "exited true" \
        "status and .State.Checkpointed after checkpoint"
    at=$(stopped_counter "$name") || die "cannot read the counter from the checkpointed rootfs"
    log "$name: counter $at at the checkpoint"
    ((at >= COUNTER_MIN)) || die "counter at the checkpoint is $at, below $COUNTER_MIN"
    out=$(pm container restore "$name") || die "podman container restore exited $?"
    expect_eq "$out" "$name" "podman container restore output"
    expect_restored "$name" "$at"
}

sc_checkpoint_leave_running() {
    local name=cryo-it-ckptlr pid before after stopped v
    start_counter "$name"
    pid=$(pid_of "$name")
    before=$(counter_of "$name") || die "cannot read the counter"
    pm container checkpoint --leave-running "$name" >/dev/null || die "podman container checkpoint --leave-running exited $?"
    expect_eq "$(state_of "$name")" running "status after checkpoint --leave-running"
    expect_eq "$(pid_of "$name")" "$pid" "pid after checkpoint --leave-running (the same process, not a restore)"
    after=$(counter_of "$name") || die "cannot read the counter after checkpoint --leave-running"
    log "$name: counter $before before, $after after checkpoint --leave-running"
    ((after >= before)) || die "counter went back from $before to $after"
    # Far enough past the checkpoint that a restore from it is told apart.
    wait_until 15 counter_at_least "$name" $((after + 30)) ||
        die "the counter stopped at $after after checkpoint --leave-running"
    pm stop -t 1 "$name" >/dev/null || die "podman stop exited $?"
    expect_eq "$(state_of "$name")" exited "status after stop"
    stopped=$(stopped_counter "$name") || die "cannot read the counter of the stopped container"
    log "$name: counter $stopped at stop"
    # The checkpoint is still there: a restore goes back to its state.
    pm container restore "$name" >/dev/null || die "podman container restore exited $?"
    expect_restored "$name" "$before"
    v=$(counter_of "$name")
    ((v < stopped)) || die "counter $v after restore is not below $stopped at stop: not the checkpoint's state"
}

# A server and a client in one container, over one TCP connection on lo:
# the server (accepting once) writes what it receives to /tmp/recv.
# shellcheck disable=SC2016 # expanded by the container's shell
TCP_PAIR='sleep 100000 | nc -l -p 5000 > /tmp/recv &
sleep 0.5
i=0; while :; do i=$((i+1)); echo $i; sleep 0.1; done | nc 127.0.0.1 5000'

# received NAME: the numbers the server got, one a line; the last line is
# left out (it may be half written).
received() {
    local out
    out=$(pm exec "$1" cat /tmp/recv) || return 1
    printf '%s\n' "$out" | sed '$d'
}

last_received() { received "$1" | tail -n 1; }
received_past() { local v; v=$(last_received "$1") && [[ $v =~ ^[0-9]+$ ]] && ((v > $2)); }

# established NAME: the container's established TCP connections (addresses
# and ports), sorted.
established() { pm exec "$1" netstat -tn | awk '$6 == "ESTABLISHED" { print $4 " " $5 }' | sort | tr '\n' ' '; }

sc_checkpoint_tcp_established() {
    local name=cryo-it-ckpttcp netns=cryo-it-ckpttcp at got n m conns
    # The container joins a network namespace of ours with lo up, as podman's
    # own (bridge, pod) namespaces are joined by path: runc marks it external
    # and restores into it. (A namespace the runtime makes, --network none,
    # does not do: runc always restores it empty, lo down, where CRIU cannot
    # reconnect the sockets.)
    ip netns del "$netns" 2>/dev/null
    ip netns add "$netns" || die "ip netns add $netns failed"
    # shellcheck disable=SC2064 # now, while netns is set
    trap "ip netns del $netns" EXIT
    ip -n "$netns" link set lo up || die "cannot bring lo up in $netns"
    pm run -d --name "$name" --stop-timeout 2 --network "ns:/run/netns/$netns" "$IMAGE" sh -c "$TCP_PAIR" >/dev/null ||
        die "podman run -d (tcp pair) exited $?"
    wait_until 20 received_past "$name" 10 || die "no data over the connection in $name"
    conns=$(established "$name")
    log "$name: $conns"
    [[ -n $conns ]] || die "no established TCP connection in $name"
    # An established connection needs --tcp-established: without it the
    # checkpoint fails and the container keeps running.
    pm container checkpoint "$name" >/dev/null 2>&1 && die "checkpoint without --tcp-established succeeded"
    expect_eq "$(state_of "$name")" running "status after a checkpoint that failed"
    pm container checkpoint --tcp-established "$name" >/dev/null ||
        die "podman container checkpoint --tcp-established exited $?"
    expect_eq "$(state_of "$name")" exited "status after checkpoint --tcp-established"
    m=$(pm container mount "$name") || die "podman container mount exited $?"
    at=$(sed '$d' "$m/tmp/recv" | tail -n 1)
    pm container umount "$name" >/dev/null
    log "$name: received up to $at at the checkpoint"
    [[ $at =~ ^[0-9]+$ ]] || die "cannot read /tmp/recv from the checkpointed rootfs"
    pm container restore --tcp-established "$name" >/dev/null ||
        die "podman container restore --tcp-established exited $?"
    expect_eq "$(state_of "$name")" running "status after restore --tcp-established"
    wait_until 15 received_past "$name" $((at + 10)) || die "no new data over the connection after restore (last $at)"
    expect_eq "$(established "$name")" "$conns" "established connections after restore (the same ports)"
    # One stream, in order, with no gap or restart: 1, 2, 3, ...
    got=$(received "$name") || die "cannot read /tmp/recv"
    n=$(printf '%s\n' "$got" | wc -l)
    expect_eq "$got" "$(seq 1 "$n")" "numbers received over the connection"
}

sc_checkpoint_export_import() {
    local name=cryo-it-ckptexp copy=cryo-it-ckptexp-copy tarball=$IT_RUN_DIR/tmp/cryo-it-ckptexp.tar.gz at out
    rm -f "$tarball"
    start_counter "$name"
    pm container checkpoint --export "$tarball" "$name" >/dev/null ||
        die "podman container checkpoint --export exited $?"
    [[ -s $tarball ]] || die "no checkpoint archive at $tarball"
    at=$(stopped_counter "$name") || die "cannot read the counter from the checkpointed rootfs"
    log "$name: counter $at at the checkpoint"
    pm rm -f -t 0 "$name" >/dev/null || die "podman rm -f exited $?"
    pm container exists "$name" && die "container still exists after podman rm -f"
    out=$(pm container restore --import "$tarball") || die "podman container restore --import exited $?"
    log "restore --import: $out"
    expect_restored "$name" "$at"
    # A second container from the same archive, beside the first.
    out=$(pm container restore --import "$tarball" --name "$copy") ||
        die "podman container restore --import --name exited $?"
    log "restore --import --name: $out"
    expect_restored "$copy" "$at"
    expect_eq "$(state_of "$name")" running "status of $name beside its copy"
    [[ $(pm inspect --format '{{.Id}}' "$name") != "$(pm inspect --format '{{.Id}}' "$copy")" ]] ||
        die "the copy has the same id as the original"
    rm -f "$tarball"
}

# json_number JSON KEY: the first number under "KEY" in podman's JSON.
json_number() { printf '%s\n' "$1" | sed -n 's/.*"'"$2"'": *\([0-9][0-9]*\).*/\1/p' | head -n 1; }

sc_checkpoint_keep_print_stats() {
    local name=cryo-it-ckptstat dir out at key v
    start_counter "$name"
    dir=$(pm inspect --format '{{.StaticDir}}' "$name") || die "podman inspect exited $?"
    out=$(pm container checkpoint --keep --print-stats "$name") ||
        die "podman container checkpoint --keep --print-stats exited $?"
    log "checkpoint --print-stats: $out"
    # Podman's own timing, the runtime's, and CRIU's stats-dump (the work path).
    for key in podman_checkpoint_duration runtime_checkpoint_duration freezing_time frozen_time memdump_time pages_written; do
        v=$(json_number "$out" "$key")
        [[ -n $v ]] || die "checkpoint --print-stats has no $key"
        [[ $key == frozen_time || $key == *_duration ]] && ((v == 0)) && die "checkpoint --print-stats: $key is 0"
    done
    [[ $out == *'"criu_statistics"'* ]] || die "checkpoint --print-stats has no criu_statistics"
    # --keep: CRIU's log and stats stay in the work path (podman removes them otherwise).
    [[ -s $dir/dump.log && -s $dir/stats-dump ]] || die "checkpoint --keep left no dump.log/stats-dump in $dir"
    grep -q 'Dumping finished successfully' "$dir/dump.log" || die "$dir/dump.log does not end in success"
    at=$(stopped_counter "$name") || die "cannot read the counter from the checkpointed rootfs"
    out=$(pm container restore --keep --print-stats "$name") ||
        die "podman container restore --keep --print-stats exited $?"
    log "restore --print-stats: $out"
    for key in podman_restore_duration runtime_restore_duration forking_time restore_time pages_restored; do
        v=$(json_number "$out" "$key")
        [[ -n $v ]] || die "restore --print-stats has no $key"
        [[ $key == *_duration ]] && ((v == 0)) && die "restore --print-stats: $key is 0"
    done
    [[ $out == *'"criu_statistics"'* ]] || die "restore --print-stats has no criu_statistics"
    [[ -s $dir/restore.log && -s $dir/stats-restore ]] || die "restore --keep left no restore.log/stats-restore in $dir"
    [[ -s $dir/checkpoint/inventory.img ]] || die "restore --keep removed the checkpoint images"
    expect_restored "$name" "$at"
}

# No podman process of this suite is left (conmon starts `podman container
# cleanup` when a container exits).
no_suite_podman() {
    ! pgrep -f -- "--root $IT_STATE_DIR/storage" >/dev/null
}

# containers/storage makes its overlay home a private bind mount and lifts
# it when the last podman process exits with no layer mounted. The cleanup
# processes conmon starts can race the last `rm -f` so that none of them
# lifts it; once no podman of the suite runs and no layer is mounted below
# it, it is the suite's to lift.
podman_teardown() {
    local home=$IT_STATE_DIR/storage/overlay
    podman_cleanup >/dev/null 2>&1 || true
    wait_until 15 no_suite_podman || log "warning: podman processes still running after the suite"
    if mountpoint -q "$home" && ! findmnt -rn -o TARGET | grep -q "^$home/"; then
        umount "$home" || log "warning: cannot unmount $home"
    fi
}

main() {
    it_setup podman_setup
    IT_CLEANUP=podman_cleanup
    run_scenario "run --rm echo hi" sc_run_echo
    run_scenario "run -d, ps, stop -t 2, rm" sc_detached_ps_stop_rm
    run_scenario "run --rm exit code 3" sc_exit_code
    run_scenario "run -d, rm -f" sc_detached_rm_force
    run_scenario "run --hostname foo" sc_hostname
    run_scenario "run --env A=b" sc_env
    run_scenario "run --workdir /tmp" sc_workdir
    run_scenario "run --user 1000:1000" sc_user
    run_scenario "run -t tty" sc_tty
    run_scenario "run --memory 64m (in container)" sc_memory_limit_in_container
    run_scenario "run --memory 64m (host cgroup)" sc_memory_limit_host
    run_scenario "exec" sc_exec_plain
    run_scenario "exec -e -w -u" sc_exec_flags
    run_scenario "exec exit codes" sc_exec_exit_code_and_missing
    run_scenario "exec -it" sc_exec_tty
    run_scenario "pause/unpause" sc_pause_unpause
    run_scenario "top" sc_top
    run_scenario "restart" sc_restart
    run_scenario "checkpoint, restore" sc_checkpoint_restore
    run_scenario "checkpoint --leave-running, stop, restore" sc_checkpoint_leave_running
    run_scenario "checkpoint/restore --tcp-established" sc_checkpoint_tcp_established
    run_scenario "checkpoint --export, rm -f, restore --import [--name]" sc_checkpoint_export_import
    run_scenario "checkpoint/restore --keep --print-stats" sc_checkpoint_keep_print_stats
    podman_teardown
    it_finish
}

main "$@"
