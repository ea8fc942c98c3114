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
    it_finish
}

main "$@"
