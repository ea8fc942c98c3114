#!/usr/bin/env bash
# containerd 1.6 (ctr + the runc v2 shim) driving the runtime in $CRYO_BIN
# (default /usr/local/bin/cryo) through `ctr run --runc-binary`.
# Reference: every scenario must pass with CRYO_BIN=/usr/sbin/runc.
#
# The script starts its own containerd (config, socket and state under
# $IT_RUN_DIR/containerd, content under $IT_STATE_DIR/containerd) and stops it
# at exit; the host's containerd, if any, is neither used nor touched.
#
# To add a scenario: write a function sc_NAME (fail with `die MSG`), give every
# container an id starting with cryo-it- (containerd_cleanup removes them after
# each scenario, even on failure or timeout) and add a run_scenario line in main.

here=$(dirname "${BASH_SOURCE[0]}")
lib=$here/lib.sh
[[ -f $lib ]] || lib=$here/../lib.sh # while the script waits in integration/pending/
# shellcheck source=integration/lib.sh
. "$lib"

NS=cryo-it                            # containerd namespace
RUNC_ROOT=$IT_RUN_DIR/ctr-runc        # --runc-root: the runtime gets --root $RUNC_ROOT/$NS
FIFO_DIR=$IT_RUN_DIR/containerd/fifo  # ctr's stdio FIFOs (default /run/containerd/fifo)
CKPT_DIR=$IT_RUN_DIR/containerd/ckpt  # `ctr t checkpoint --image-path/--work-path` folders
CTR=()

containerd_setup() {
    [[ $EUID -eq 0 ]] || { setup_error "must run as root"; return 1; }
    [[ -x $CRYO_BIN ]] || { setup_error "runtime CRYO_BIN=$CRYO_BIN is not an executable"; return 1; }
    command -v jq >/dev/null || { setup_error "jq not installed"; return 1; }
    containerd_start containerd || return 1
    CTR=(ctr --address "$CTRD_ADDR" --namespace "$NS")
    mkdir -p "$RUNC_ROOT" "$FIFO_DIR"
    containerd_import_image "$NS" || return 1
    containerd_cleanup || { setup_error "cannot remove leftover cryo-it-* containers"; return 1; }
}

# Remove every test container (cryo-it-*) and its task, whatever state it is in.
containerd_cleanup() {
    local ids id rc=0
    ((${#CTR[@]})) || return 0
    ids=$(timeout 30 "${CTR[@]}" containers ls -q) || return 1
    for id in $ids; do
        [[ $id == cryo-it-* ]] || continue
        # A frozen task cannot die (cgroup v1 freezer): thaw it first.
        timeout 30 "${CTR[@]}" tasks resume "$id" 2>/dev/null
        timeout 30 "${CTR[@]}" tasks kill --all --signal SIGKILL "$id" 2>/dev/null
        wait_until 10 task_stopped_or_gone "$id"
        timeout 30 "${CTR[@]}" tasks delete --force "$id" 2>/dev/null
        timeout 30 "${CTR[@]}" containers delete "$id" || rc=1
    done
    # Checkpoint images (localhost/cryo-it-*) made by `ctr c checkpoint`.
    ids=$(timeout 30 "${CTR[@]}" images ls -q) || return 1
    for id in $ids; do
        [[ $id == localhost/cryo-it-* ]] || continue
        timeout 30 "${CTR[@]}" images rm "$id" >/dev/null || rc=1
    done
    # `ctr c restore` has no --fifo-dir: its stdio FIFOs stay behind in
    # containerd's default folder, one temporary folder per task.
    local d f ours
    for d in /run/containerd/fifo/*/; do
        [[ -d $d ]] || continue
        ours=0
        for f in "$d"*; do
            [[ -e $f ]] || continue
            [[ $(basename "$f") == cryo-it-*-std* ]] || { ours=0; break; }
            ours=1
        done
        ((ours)) && rm -rf "$d"
    done
    rm -rf "$CKPT_DIR"
    return "$rc"
}

containerd_teardown() {
    [[ -n ${CTRD_PID:-} ]] || return 0
    {
        containerd_cleanup || log "warning: containerd_cleanup failed"
        containerd_stop
        cgroup_rmdir_parent "$NS" # ctr puts containers in the cgroup /NAMESPACE/ID
    } >>"$IT_LOG_DIR/teardown.log" 2>&1
}

c() { "${CTR[@]}" "$@"; }

# ctr run with the runtime under test: ctr_run [RUN OPTIONS...] IMAGE ID [CMD...]
ctr_run() { c run --runc-binary "$CRYO_BIN" --runc-root "$RUNC_ROOT" --fifo-dir "$FIFO_DIR" "$@"; }

# start_detached ID CMD...: `ctr run -d` a container, check it is RUNNING.
start_detached() {
    local id=$1 out
    shift
    out=$(ctr_run -d --null-io "$IMAGE" "$id" "$@" 2>&1) || die "ctr run -d $* exited $? ($out)"
    expect_eq "$(task_status "$id")" RUNNING "ctr task status after run -d"
}

# Columns of `ctr tasks ls`: TASK PID STATUS.
task_status() { c tasks ls | awk -v id="$1" '$1 == id { print $3 }'; }
task_pid() { c tasks ls | awk -v id="$1" '$1 == id { print $2 }'; }
task_is() { [[ $(task_status "$1") == "$2" ]]; }
task_stopped_or_gone() { local s; s=$(task_status "$1"); [[ -z $s || $s == STOPPED ]]; }
# Number of processes `ctr tasks ps ID` lists (one line each after a header).
task_nprocs() { c tasks ps "$1" | awk 'NR > 1' | grep -c .; }
task_has_nprocs() { (($(task_nprocs "$1") >= $2)); }

# The runtime's own view: `$CRYO_BIN --root ROOT state ID` | .status
runtime_status() {
    local out
    out=$("$CRYO_BIN" --root "$RUNC_ROOT/$NS" state "$1") || return 1
    log "runtime state: $out"
    jq -r .status <<<"$out"
}

# The freezer state of PID's cgroup: FROZEN/THAWED (v1) or 1/0 (v2 cgroup.freeze).
freezer_state() {
    local dir
    if cgroup_is_v1 freezer; then
        dir=$(cgroup_dir "$1" freezer) || die "cannot find the freezer cgroup of pid $1"
        cat "$dir/freezer.state"
    else
        dir=$(cgroup_dir "$1" freezer) || die "cannot find the cgroup of pid $1"
        cat "$dir/cgroup.freeze"
    fi
}

# The workload of the checkpoint scenarios: its state is the shell variable
# i, counted up and written to /tmp/c ten times a second. A restored container
# goes on counting from the checkpoint's value; a restarted one from 1.
# The write goes through a rename: a checkpoint or a reader never finds
# /tmp/c empty between the truncation and the write.
COUNTER_LOOP='i=0; while :; do i=$((i+1)); echo $i > /tmp/c.new; mv /tmp/c.new /tmp/c; sleep 0.1; done'

# counter ID: the number in the container's /tmp/c, read with ctr t exec;
# fails if there is none. The shell rewrites the file every 0.1 s (`echo >`
# truncates first), so a read can catch it empty: such a read is retried a
# few times before it counts as "none".
counter() {
    local out try
    for try in 1 2 3 4 5; do
        out=$(c tasks exec --fifo-dir "$FIFO_DIR" --exec-id "cat-$(date +%s%N)" "$1" cat /tmp/c 2>/dev/null) || return 1
        if [[ $out =~ ^[0-9]+$ ]]; then
            printf '%s\n' "$out"
            return 0
        fi
        sleep 0.03
    done
    return 1
}
counter_at_least() { local v; v=$(counter "$1") && ((v >= $2)); } # ID MIN
counter_not() { local v; v=$(counter "$1") && ((v != $2)); }       # ID VALUE

# --------------------------------------------------------------- scenarios

sc_run_echo() {
    local out rc
    out=$(ctr_run --rm "$IMAGE" cryo-it-echo echo hi)
    rc=$?
    log "stdout: $out"
    ((rc == 0)) || die "ctr run --rm exited $rc (stdout: $out)"
    expect_eq "$out" hi "stdout"
    c containers ls -q | grep -qx cryo-it-echo && die "container still listed after ctr run --rm"
    return 0
}

sc_exit_code() {
    local rc
    ctr_run --rm "$IMAGE" cryo-it-exit sh -c 'exit 3'
    rc=$?
    expect_eq "$rc" 3 "ctr run exit status"
}

sc_detached_exec() {
    local id=cryo-it-exec out rc
    start_detached "$id" sleep 1000
    out=$(runtime_status "$id") || die "$CRYO_BIN --root $RUNC_ROOT/$NS state $id failed"
    expect_eq "$out" running "status from the runtime's state"
    out=$(c tasks exec --fifo-dir "$FIFO_DIR" --exec-id e1 "$id" echo hi)
    rc=$?
    log "exec e1 stdout: $out"
    ((rc == 0)) || die "ctr t exec echo hi exited $rc (stdout: $out)"
    expect_eq "$out" hi "exec stdout"
    # The exec'd process joins the container's namespaces: pid 1 is the sleep.
    out=$(c tasks exec --fifo-dir "$FIFO_DIR" --exec-id e2 "$id" cat /proc/1/cmdline | tr '\0' ' ')
    expect_eq "$out" "sleep 1000 " "/proc/1/cmdline seen by exec"
    c tasks exec --fifo-dir "$FIFO_DIR" --exec-id e3 "$id" sh -c 'exit 3'
    rc=$?
    expect_eq "$rc" 3 "exit status of exec sh -c 'exit 3'"
    expect_eq "$(task_status "$id")" RUNNING "task status after the execs"
}

sc_ps() {
    local id=cryo-it-ps pid out pids n p
    # Two processes without exec: sh (pid 1 in the container) and its sleep.
    start_detached "$id" sh -c 'sleep 1000 & wait'
    pid=$(task_pid "$id")
    [[ $pid =~ ^[1-9][0-9]*$ ]] || die "bad task pid '$pid'"
    # ps may run before sh has forked the sleep: wait for the second process.
    wait_until 10 task_has_nprocs "$id" 2
    out=$(c tasks ps "$id") || die "ctr t ps exited $?"
    log "ctr t ps: $out"
    [[ $(head -n 1 <<<"$out") == PID* ]] || die "ctr t ps: no PID header in '$out'"
    pids=$(awk 'NR > 1 { print $1 }' <<<"$out")
    grep -qx "$pid" <<<"$pids" || die "ctr t ps does not list the init pid $pid: '$out'"
    n=$(grep -c . <<<"$pids")
    expect_eq "$n" 2 "number of pids listed by ctr t ps"
    for p in $pids; do
        kill -0 "$p" 2>/dev/null || die "pid $p listed by ctr t ps is not a live host pid"
    done
}

sc_pause_resume() {
    local id=cryo-it-pause pid
    start_detached "$id" sleep 1000
    pid=$(task_pid "$id")
    [[ $pid =~ ^[1-9][0-9]*$ ]] || die "bad task pid '$pid'"
    c tasks pause "$id" || die "ctr t pause exited $?"
    expect_eq "$(task_status "$id")" PAUSED "ctr task status after pause"
    expect_eq "$(runtime_status "$id")" paused "status from the runtime's state after pause"
    case $(freezer_state "$pid") in FROZEN | 1) ;; *) die "freezer of pid $pid is '$(freezer_state "$pid")' after pause" ;; esac
    c tasks resume "$id" || die "ctr t resume exited $?"
    expect_eq "$(task_status "$id")" RUNNING "ctr task status after resume"
    expect_eq "$(runtime_status "$id")" running "status from the runtime's state after resume"
    case $(freezer_state "$pid") in THAWED | 0) ;; *) die "freezer of pid $pid is '$(freezer_state "$pid")' after resume" ;; esac
    kill -0 "$pid" 2>/dev/null || die "container process $pid died"
}

sc_kill_rm() {
    local id=cryo-it-kill pid out
    start_detached "$id" sleep 1000
    pid=$(task_pid "$id")
    [[ $pid =~ ^[1-9][0-9]*$ ]] || die "bad task pid '$pid'"
    c tasks kill --signal SIGKILL "$id" || die "ctr t kill -s SIGKILL exited $?"
    wait_until 10 task_is "$id" STOPPED || die "task status is '$(task_status "$id")' 10s after SIGKILL"
    kill -0 "$pid" 2>/dev/null && die "container process $pid still alive after SIGKILL"
    expect_eq "$(runtime_status "$id")" stopped "status from the runtime's state after SIGKILL"
    c tasks delete "$id" || die "ctr t rm exited $?"
    out=$(task_status "$id")
    expect_eq "$out" "" "ctr task status after ctr t rm"
    out=$("$CRYO_BIN" --root "$RUNC_ROOT/$NS" state "$id" 2>&1) &&
        die "the runtime still knows $id after ctr t rm: $out"
    c containers delete "$id" || die "ctr c rm exited $?"
    c containers ls -q | grep -qx "$id" && die "container still listed after ctr c rm"
    return 0
}

sc_checkpoint_restore() {
    local id=cryo-it-ckpt ref=localhost/cryo-it-ckpt:1 pid v0 vk v1 v2 out
    start_detached "$id" sh -c "$COUNTER_LOOP"
    pid=$(task_pid "$id")
    wait_until 20 counter_at_least "$id" 20 || die "counter did not reach 20 in 20s (now '$(counter "$id")')"
    v0=$(counter "$id") || die "cannot read the counter before the checkpoint"
    log "counter before the checkpoint: $v0"
    # The client pauses the task, the shim has the runtime checkpoint the
    # paused container (--leave-running) and the client resumes it.
    out=$(c containers checkpoint --task "$id" "$ref" 2>&1) || die "ctr c checkpoint --task exited $? ($out)"
    expect_eq "$(task_status "$id")" RUNNING "ctr task status after c checkpoint --task"
    expect_eq "$(runtime_status "$id")" running "status from the runtime's state after c checkpoint --task"
    c images ls -q | grep -qxF "$ref" || die "no image $ref after ctr c checkpoint"
    # It goes on counting; 3s later throw task and container away.
    sleep 3
    vk=$(counter "$id") || die "cannot read the counter after the checkpoint"
    log "counter 3s after the checkpoint: $vk"
    ((vk > v0)) || die "counter at $vk 3s after the checkpoint, was $v0 before it"
    c tasks kill --signal SIGKILL "$id" || die "ctr t kill -s SIGKILL exited $?"
    wait_until 10 task_is "$id" STOPPED || die "task status is '$(task_status "$id")' 10s after SIGKILL"
    c tasks delete "$id" || die "ctr t rm exited $?"
    c containers delete "$id" || die "ctr c rm exited $?"
    # Container (spec, runtime options) and task (CRIU images) from the checkpoint.
    out=$(c containers restore --live "$id" "$ref" 2>&1) || die "ctr c restore --live exited $? ($out)"
    expect_eq "$(task_status "$id")" RUNNING "ctr task status after c restore --live"
    expect_eq "$(runtime_status "$id")" running "status from the runtime's state after c restore --live"
    [[ $(task_pid "$id") != "$pid" ]] || die "restored task has the old host pid $pid"
    # The restored rootfs is a fresh snapshot: /tmp/c comes from the restored shell.
    wait_until 10 counter "$id" || die "no counter in the restored container after 10s"
    v1=$(counter "$id") || die "cannot read the counter after restore"
    log "counter after restore: $v1"
    ((v1 >= v0)) || die "counter restarted: $v1 after restore, $v0 before the checkpoint"
    ((v1 < vk)) || die "counter $v1 after restore is not the checkpoint's: $v0 before it, $vk at the kill 3s later"
    wait_until 10 counter_not "$id" "$v1" || die "counter stuck at $v1 after restore"
    v2=$(counter "$id")
    log "counter next: $v2"
    ((v2 > v1)) || die "counter went from $v1 to $v2 after restore"
}

sc_checkpoint_paused() {
    local id=cryo-it-ckpt-paused pid v0 v1 out
    start_detached "$id" sh -c "$COUNTER_LOOP"
    pid=$(task_pid "$id")
    wait_until 20 counter_at_least "$id" 10 || die "counter did not reach 10 in 20s (now '$(counter "$id")')"
    c tasks pause "$id" || die "ctr t pause exited $?"
    # An exec would freeze too: read the paused task's file from the host.
    v0=$(cat "/proc/$pid/root/tmp/c") || die "cannot read /proc/$pid/root/tmp/c"
    log "counter of the paused task: $v0"
    # (ctr c checkpoint refuses a paused task itself: its client pauses first.)
    out=$(c tasks checkpoint --image-path "$CKPT_DIR/images" --work-path "$CKPT_DIR/work" "$id" 2>&1) ||
        die "ctr t checkpoint of the paused task exited $? ($out)"
    [[ -s $CKPT_DIR/images/inventory.img ]] || die "no CRIU inventory.img in the image path: $(ls "$CKPT_DIR/images" 2>&1)"
    out=$(jq -c . "$CKPT_DIR/images/descriptors.json") || die "no valid descriptors.json in the image path"
    log "descriptors.json: $out"
    [[ -s $CKPT_DIR/work/dump.log ]] || die "no CRIU dump.log in the work path: $(ls "$CKPT_DIR/work" 2>&1)"
    # Still there and still paused: the client resumes only what it paused.
    expect_eq "$(task_status "$id")" PAUSED "ctr task status after t checkpoint"
    expect_eq "$(runtime_status "$id")" paused "status from the runtime's state after t checkpoint"
    case $(freezer_state "$pid") in FROZEN | 1) ;; *) die "freezer of pid $pid is '$(freezer_state "$pid")' after t checkpoint" ;; esac
    expect_eq "$(cat "/proc/$pid/root/tmp/c")" "$v0" "counter of the task paused through the checkpoint"
    c tasks resume "$id" || die "ctr t resume exited $?"
    expect_eq "$(runtime_status "$id")" running "status from the runtime's state after resume"
    wait_until 10 counter_not "$id" "$v0" || die "counter stuck at $v0 after resume"
    v1=$(counter "$id")
    log "counter after resume: $v1"
    ((v1 > v0)) || die "counter went from $v0 to $v1 after resume"
    [[ $(task_pid "$id") == "$pid" ]] || die "task pid changed from $pid to $(task_pid "$id")"
}

main() {
    trap containerd_teardown EXIT
    trap 'exit 130' INT TERM
    it_setup containerd_setup
    IT_CLEANUP=containerd_cleanup
    run_scenario "ctr run --rm echo hi" sc_run_echo
    run_scenario "ctr run --rm exit code 3" sc_exit_code
    run_scenario "ctr run -d, t exec" sc_detached_exec
    run_scenario "ctr t ps" sc_ps
    run_scenario "ctr t pause, resume" sc_pause_resume
    run_scenario "ctr t kill -s SIGKILL, t rm, c rm" sc_kill_rm
    run_scenario "ctr c checkpoint --task, c restore --live: counter goes on" sc_checkpoint_restore
    run_scenario "ctr t pause, t checkpoint: a paused task stays paused" sc_checkpoint_paused
    it_finish
}

main "$@"
