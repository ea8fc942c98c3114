//! `exec`: a second process in a running container, in its namespaces and
//! cgroup, with its own user, cwd, env, caps and terminal. Messages are the
//! words Podman and containerd match (recorded from runc 1.1.5).

use std::time::Duration;

use cryo_e2e::*;
use serde_json::json;

fn running(rt: &Runtime, name: &str) -> (Bundle, String) {
    let b = Bundle::new(LONG_RUNNING);
    let id = unique_id(name);
    // The container keeps the runtime's stdio: send it to files, not pipes.
    let (out, _, _) = rt.output_detached(&["run", "--detach", "--bundle", b.path_str(), &id]);
    assert!(out.success(), "{out}");
    (b, id)
}

struct Guard<'a>(&'a Runtime, String);
impl Drop for Guard<'_> {
    fn drop(&mut self) {
        let _ = self.0.output(&["delete", "--force", &self.1]);
    }
}

#[test]
fn exec_runs_in_the_containers_namespaces_and_cgroup() {
    let rt = Runtime::cryo();
    let (_b, id) = running(&rt, "exec-ns");
    let _g = Guard(&rt, id.clone());
    let init = rt.state(&id)["pid"].as_i64().expect("pid");
    let out = rt.run_ok(&[
        "exec",
        &id,
        "sh",
        "-c",
        "hostname; cat /proc/1/cmdline | tr '\\0' ' '; echo; readlink /proc/self/ns/net; cat /proc/self/cgroup | grep memory",
    ]);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines[0], "runc",
        "hostname of the container (runc's default spec): {out}"
    );
    assert!(
        lines[1].starts_with("sh -c trap"),
        "pid 1 of the container's pid ns: {out}"
    );
    assert_eq!(lines[2], ns_link(&init.to_string(), "net"), "{out}");
    let host_cg = std::fs::read_to_string(format!("/proc/{init}/cgroup")).expect("init cgroup");
    let init_mem = host_cg
        .lines()
        .find(|l| l.contains(":memory:"))
        .expect("memory line");
    assert_eq!(lines[3], init_mem, "{out}");
}

#[test]
fn exec_exit_status_is_the_processes() {
    let rt = Runtime::cryo();
    let (_b, id) = running(&rt, "exec-rc");
    let _g = Guard(&rt, id.clone());
    let out = rt.output(&["exec", &id, "sh", "-c", "exit 42"]);
    assert_eq!(out.code(), Some(42), "{out}");
}

#[test]
fn exec_user_cwd_env_flags() {
    let rt = Runtime::cryo();
    let (_b, id) = running(&rt, "exec-flags");
    let _g = Guard(&rt, id.clone());
    let out = rt.run_ok(&[
        "exec",
        "-u",
        "1000:1000",
        "--cwd",
        "/tmp",
        "-e",
        "FOO=bar",
        "--env",
        "X=1",
        &id,
        "sh",
        "-c",
        "id -u; id -g; pwd; echo $FOO$X",
    ]);
    assert_eq!(out.stdout, "1000\n1000\n/tmp\nbar1\n", "{out}");
}

#[test]
fn exec_missing_binary_and_cwd_use_runc_words() {
    let rt = Runtime::cryo();
    let (_b, id) = running(&rt, "exec-missing");
    let _g = Guard(&rt, id.clone());
    let out = rt.run_fail(&["exec", &id, "/nonexistent"]);
    assert!(
        out.stderr.contains("exec failed: unable to start container process: exec: \\\"/nonexistent\\\": stat /nonexistent: no such file or directory"),
        "{out}"
    );
    let out = rt.run_fail(&["exec", &id, "no-such-binary"]);
    assert!(
        out.stderr.contains("executable file not found in $PATH"),
        "{out}"
    );
    let out = rt.run_fail(&["exec", "--cwd", "/nope", &id, "true"]);
    assert!(
        out.stderr.contains(
            "chdir to cwd (\\\"/nope\\\") set in config.json failed: no such file or directory"
        ),
        "{out}"
    );
}

#[test]
fn exec_process_file_detached_with_pid_file() {
    let rt = Runtime::cryo();
    let (b, id) = running(&rt, "exec-procfile");
    let _g = Guard(&rt, id.clone());
    let mut process = b.config()["process"].clone();
    process["args"] = json!(["sh", "-c", "echo from-process-json > /tmp/marker; sleep 2"]);
    let pf = b.path().join("process.json");
    std::fs::write(&pf, process.to_string()).expect("write process.json");
    let pid_file = b.path().join("exec.pid");
    let (out, _, _) = rt.output_detached(&[
        "exec",
        "--process",
        pf.to_str().expect("utf8"),
        "--detach",
        "--pid-file",
        pid_file.to_str().expect("utf8"),
        &id,
    ]);
    assert!(out.success(), "{out}");
    let pid_text = std::fs::read_to_string(&pid_file).expect("pid file");
    assert!(
        !pid_text.ends_with('\n'),
        "bare pid, no newline: {pid_text:?}"
    );
    let pid: i64 = pid_text.parse().expect("pid");
    wait_for(Duration::from_secs(10), "marker", || {
        b.rootfs().join("tmp/marker").exists()
    });
    let ps = rt.run_ok(&["exec", &id, "cat", "/tmp/marker"]);
    assert_eq!(ps.stdout, "from-process-json\n");
    wait_for(Duration::from_secs(10), "detached exec exits", || {
        pid_is_dead(pid)
    });
}

#[test]
fn exec_with_tty_through_console_socket() {
    let rt = Runtime::cryo();
    let (_b, id) = running(&rt, "exec-tty");
    let _g = Guard(&rt, id.clone());
    let sock = ConsoleSocket::new();
    let (out, _, _) = rt.output_detached(&[
        "exec",
        "--tty",
        "--detach",
        "--console-socket",
        sock.path_str(),
        &id,
        "sh",
        "-c",
        "tty; [ -t 0 ] && echo stdin-tty",
    ]);
    assert!(out.success(), "{out}");
    let master = sock.recv_master(Duration::from_secs(10));
    let out = read_pty(&master, Duration::from_secs(10)).replace("\r\n", "\n");
    assert_eq!(out, "/dev/pts/0\nstdin-tty\n");
}

#[test]
fn exec_cap_flag_adds_a_capability() {
    let rt = Runtime::cryo();
    let (_b, id) = running(&rt, "exec-cap");
    let _g = Guard(&rt, id.clone());
    let base = rt.run_ok(&["exec", &id, "sh", "-c", "grep CapEff /proc/self/status"]);
    let more = rt.run_ok(&[
        "exec",
        "--cap",
        "CAP_SYS_ADMIN",
        &id,
        "sh",
        "-c",
        "grep CapEff /proc/self/status",
    ]);
    let mask =
        |s: &str| u64::from_str_radix(s.split_whitespace().nth(1).unwrap_or("0"), 16).unwrap_or(0);
    assert_eq!(mask(&base.stdout) & (1 << 21), 0, "{base}");
    assert_ne!(mask(&more.stdout) & (1 << 21), 0, "{more}");
}

#[test]
fn exec_refuses_stopped_and_paused_containers() {
    let rt = Runtime::cryo();
    let (_b, id) = running(&rt, "exec-paused");
    let _g = Guard(&rt, id.clone());
    rt.run_ok(&["pause", &id]);
    let out = rt.run_fail(&["exec", &id, "true"]);
    assert!(out.stderr.contains("paused"), "{out}");
    let (out, _, _) = rt.output_detached(&["exec", "--ignore-paused", "--detach", &id, "true"]);
    assert!(out.success(), "{out}");
    rt.run_ok(&["resume", &id]);
    rt.run_ok(&["kill", &id, "KILL"]);
    rt.wait_status(&id, "stopped", Duration::from_secs(10));
    let out = rt.run_fail(&["exec", &id, "true"]);
    assert!(out.stderr.contains("stopped"), "{out}");
}

#[test]
fn exec_does_not_leak_fds_and_preserves_requested_ones() {
    let rt = Runtime::cryo();
    let (_b, id) = running(&rt, "exec-fds");
    let _g = Guard(&rt, id.clone());
    let devnull = std::fs::File::open("/dev/null").expect("open");
    use std::os::fd::AsRawFd;
    let mut cmd = rt.cmd(&[
        "exec",
        "--preserve-fds",
        "1",
        &id,
        "sh",
        "-c",
        "for i in 3 4 5 6 7 8 9; do [ -e /proc/self/fd/$i ] && echo open $i; done; true",
    ]);
    map_fds(
        &mut cmd,
        &[(devnull.as_raw_fd(), 3), (devnull.as_raw_fd(), 4)],
    );
    let out = output_timeout(cmd, CMD_TIMEOUT);
    assert!(out.success(), "{out}");
    assert_eq!(out.stdout, "open 3\n", "fd 3 preserved, fd 4 closed: {out}");
}
