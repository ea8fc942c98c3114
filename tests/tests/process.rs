//! The container process: args, env, cwd, user, umask, capabilities,
//! rlimits, no_new_privs, oom_score_adj, sysctl, terminal, inherited fds.

use std::os::fd::AsRawFd;
use std::time::Duration;

use cryo_e2e::*;
use serde_json::json;

#[test]
fn args_are_passed_verbatim() {
    let rt = Runtime::cryo();
    let b = Bundle::new(&["sh", "-c", "echo \"$0|$1|$2|$#\"", "zero", "one two", ""]);
    assert_eq!(rt.run_fg_ok(&b, "args"), "zero|one two||2\n");
}

#[test]
fn env_is_set() {
    let rt = Runtime::cryo();
    let mut b = Bundle::new(&["sh", "-c", "echo \"$FOO|$EMPTY|$PATH\""]);
    b.config_mut()["process"]["env"] = json!(["PATH=/bin:/sbin", "FOO=bar baz", "EMPTY="]);
    assert_eq!(rt.run_fg_ok(&b, "env"), "bar baz||/bin:/sbin\n");
}

#[test]
fn home_defaults_from_passwd() {
    // runc sets HOME from /etc/passwd when the spec's env does not set it.
    let rt = Runtime::cryo();
    let mut b = Bundle::new(&["sh", "-c", "echo $HOME"]);
    b.config_mut()["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    assert_eq!(rt.run_fg_ok(&b, "home"), "/home/user\n");
}

#[test]
fn cwd_is_set() {
    let rt = Runtime::cryo();
    let mut b = Bundle::new(&["pwd"]);
    b.config_mut()["process"]["cwd"] = json!("/tmp");
    assert_eq!(rt.run_fg_ok(&b, "cwd"), "/tmp\n");
}

#[test]
fn missing_cwd_is_created() {
    let rt = Runtime::cryo();
    let mut b = Bundle::new(&["pwd"]);
    b.config_mut()["process"]["cwd"] = json!("/new/work/dir");
    assert_eq!(rt.run_fg_ok(&b, "cwdnew"), "/new/work/dir\n");
    assert!(b.rootfs().join("new/work/dir").is_dir());
}

#[test]
fn executable_not_found_fails_create() {
    let rt = Runtime::cryo();
    let b = Bundle::new(&["no-such-binary"]);
    let (c, out) = rt.try_create(&b, "noexe", &[]);
    assert_eq!(out.code(), Some(1), "{out}");
    // runc: `exec: "no-such-binary": executable file not found in $PATH`
    // (quotes appear backslash-escaped inside the logrus msg="..." field).
    assert!(
        out.stderr.contains("no-such-binary")
            && out.stderr.contains("executable file not found in $PATH"),
        "{out}"
    );
    drop(c);
    assert!(rt.root_entries().is_empty(), "{:?}", rt.root_entries());
}

#[test]
fn user_and_groups() {
    let rt = Runtime::cryo();
    let mut b = Bundle::new(&["sh", "-c", "id -u; id -g; id -G"]);
    b.config_mut()["process"]["user"] =
        json!({"uid": 1000, "gid": 1000, "additionalGids": [10, 20]});
    assert_eq!(rt.run_fg_ok(&b, "user"), "1000\n1000\n1000 10 20\n");
}

#[test]
fn root_user_has_no_extra_groups() {
    let rt = Runtime::cryo();
    let b = Bundle::new(&["sh", "-c", "id -u; id -G"]);
    assert_eq!(rt.run_fg_ok(&b, "rootuser"), "0\n0\n");
}

#[test]
fn umask_is_applied() {
    let rt = Runtime::cryo();
    let mut b = Bundle::new(&["sh", "-c", "umask; touch /tmp/f; stat -c %a /tmp/f"]);
    b.config_mut()["process"]["user"]["umask"] = json!(0o077);
    assert_eq!(rt.run_fg_ok(&b, "umask"), "0077\n600\n");
}

#[test]
fn default_umask_is_0022() {
    let rt = Runtime::cryo();
    let b = Bundle::new(&["sh", "-c", "umask"]);
    assert_eq!(rt.run_fg_ok(&b, "umaskdef"), "0022\n");
}

fn status_fields(out: &str, names: &[&str]) -> Vec<String> {
    names
        .iter()
        .map(|n| {
            out.lines()
                .find_map(|l| l.strip_prefix(&format!("{n}:")))
                .unwrap_or_else(|| panic!("{n} missing from:\n{out}"))
                .trim()
                .to_string()
        })
        .collect()
}

const CAP_FIELDS: [&str; 5] = ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"];

#[test]
fn capabilities_exact() {
    let rt = Runtime::cryo();
    let mut b = Bundle::new(&["cat", "/proc/self/status"]);
    let caps = json!(["CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    b.config_mut()["process"]["capabilities"] = json!({
        "bounding": caps, "effective": caps, "permitted": caps,
        "inheritable": caps, "ambient": caps,
    });
    let out = rt.run_fg_ok(&b, "capsexact");
    // CAP_KILL = 5, CAP_NET_BIND_SERVICE = 10 -> 0x420.
    assert_eq!(
        status_fields(&out, &CAP_FIELDS),
        vec!["0000000000000420"; 5]
    );
}

#[test]
fn capabilities_non_root_user() {
    let rt = Runtime::cryo();
    let mut b = Bundle::new(&["cat", "/proc/self/status"]);
    let caps = json!(["CAP_CHOWN", "CAP_SETUID"]);
    b.config_mut()["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    b.config_mut()["process"]["capabilities"] = json!({
        "bounding": caps, "effective": caps, "permitted": caps,
        "inheritable": caps, "ambient": caps,
    });
    let out = rt.run_fg_ok(&b, "capsuser");
    // CAP_CHOWN = 0, CAP_SETUID = 7 -> 0x81; ambient keeps them across exec.
    assert_eq!(
        status_fields(&out, &CAP_FIELDS),
        vec!["0000000000000081"; 5]
    );
}

#[test]
fn capabilities_bounding_only() {
    let rt = Runtime::cryo();
    let mut b = Bundle::new(&["cat", "/proc/self/status"]);
    b.config_mut()["process"]["capabilities"] = json!({
        "bounding": ["CAP_KILL", "CAP_SYS_ADMIN"],
    });
    b.config_mut()["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    let out = rt.run_fg_ok(&b, "capsbnd");
    // CAP_SYS_ADMIN = 21: 0x200020. Non-root with no permitted set: nothing else.
    assert_eq!(
        status_fields(&out, &CAP_FIELDS),
        [
            "0000000000000000",
            "0000000000000000",
            "0000000000000000",
            "0000000000200020",
            "0000000000000000"
        ]
    );
}

#[test]
fn rlimits_are_applied() {
    let rt = Runtime::cryo();
    let mut b = Bundle::new(&["sh", "-c", "ulimit -n; ulimit -Hn; cat /proc/self/limits"]);
    b.config_mut()["process"]["rlimits"] = json!([
        {"type": "RLIMIT_NOFILE", "soft": 512, "hard": 512},
        {"type": "RLIMIT_NPROC", "soft": 300, "hard": 400},
        {"type": "RLIMIT_CORE", "soft": 0, "hard": 0},
    ]);
    let out = rt.run_fg_ok(&b, "rlimits");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(&lines[..2], ["512", "512"], "{out}");
    let limit = |name: &str| -> Vec<String> {
        out.lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} missing:\n{out}"))[name.len()..]
            .split_whitespace()
            .take(2)
            .map(String::from)
            .collect()
    };
    assert_eq!(limit("Max processes"), ["300", "400"]);
    assert_eq!(limit("Max core file size"), ["0", "0"]);
}

#[test]
fn no_new_privileges() {
    let rt = Runtime::cryo();
    let b = Bundle::new(&["cat", "/proc/self/status"]);
    let out = rt.run_fg_ok(&b, "nnp1");
    assert_eq!(status_fields(&out, &["NoNewPrivs"]), ["1"]);

    let mut b = Bundle::new(&["cat", "/proc/self/status"]);
    b.config_mut()["process"]["noNewPrivileges"] = json!(false);
    let out = rt.run_fg_ok(&b, "nnp0");
    assert_eq!(status_fields(&out, &["NoNewPrivs"]), ["0"]);
}

#[test]
fn oom_score_adj() {
    let rt = Runtime::cryo();
    let mut b = Bundle::new(&["cat", "/proc/self/oom_score_adj"]);
    b.config_mut()["process"]["oomScoreAdj"] = json!(100);
    assert_eq!(rt.run_fg_ok(&b, "oom").trim(), "100");
}

#[test]
fn sysctl_in_new_netns() {
    let rt = Runtime::cryo();
    let host_before = read_trim(std::path::Path::new("/proc/sys/net/ipv4/ip_forward"));
    let want = if host_before == "1" { "0" } else { "1" };
    let mut b = Bundle::new(&["cat", "/proc/sys/net/ipv4/ip_forward"]);
    b.config_mut()["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": want});
    assert_eq!(rt.run_fg_ok(&b, "sysctl").trim(), want);
    assert_eq!(
        read_trim(std::path::Path::new("/proc/sys/net/ipv4/ip_forward")),
        host_before,
        "sysctl leaked to the host"
    );
}

#[test]
fn terminal_via_console_socket() {
    let rt = Runtime::cryo();
    let sock = ConsoleSocket::new();
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "tty; [ -t 0 ] && echo stdin-tty; [ -t 1 ] && echo stdout-tty; [ -t 2 ] && echo stderr-tty",
    ]);
    b.config_mut()["process"]["terminal"] = json!(true);
    let c = rt.create_with(&b, "tty", &["--console-socket", sock.path_str()]);
    let master = sock.recv_master(Duration::from_secs(10));
    c.start();
    let out = read_pty(&master, Duration::from_secs(10)).replace("\r\n", "\n");
    assert_eq!(out, "/dev/pts/0\nstdin-tty\nstdout-tty\nstderr-tty\n");
    c.wait_stopped();
}

#[test]
fn terminal_without_console_socket_fails_detached() {
    let rt = Runtime::cryo();
    let mut b = Bundle::new(&["true"]);
    b.config_mut()["process"]["terminal"] = json!(true);
    let (_c, out) = rt.try_create(&b, "ttynosock", &[]);
    assert_eq!(out.code(), Some(1), "{out}");
    assert!(
        out.stderr.contains("cannot allocate tty if")
            && out
                .stderr
                .contains("will detach without setting console socket"),
        "{out}"
    );
}

#[test]
fn console_socket_without_terminal_fails() {
    let rt = Runtime::cryo();
    let sock = ConsoleSocket::new();
    let b = Bundle::new(&["true"]);
    let (_c, out) = rt.try_create(&b, "socknotty", &["--console-socket", sock.path_str()]);
    assert_eq!(out.code(), Some(1), "{out}");
    assert!(
        out.stderr.contains("cannot use console socket if")
            && out.stderr.contains("will not detach or allocate tty"),
        "{out}"
    );
}

/// Shell snippet listing which of fds 3..9 are open in the container process.
const LIST_FDS: &str =
    "for i in 3 4 5 6 7 8 9; do [ -e /proc/self/fd/$i ] && echo open $i; done; true";

#[test]
fn preserve_fds() {
    let rt = Runtime::cryo();
    let script = format!("echo via-fd3 >&3; {LIST_FDS}");
    let b = Bundle::new(&["sh", "-c", &script]);
    b.save();
    let dir = tempfile::tempdir().expect("tempdir");
    let f3 = std::fs::File::create(dir.path().join("fd3")).expect("create");
    let f4 = std::fs::File::open("/dev/null").expect("open");
    let f5 = std::fs::File::open("/dev/zero").expect("open");
    let id = unique_id("preservefds");
    let _g = rt.guard(&id);
    let mut cmd = rt.cmd(&["run", "--preserve-fds", "1", "--bundle", b.path_str(), &id]);
    map_fds(
        &mut cmd,
        &[
            (f3.as_raw_fd(), 3),
            (f4.as_raw_fd(), 4),
            (f5.as_raw_fd(), 5),
        ],
    );
    let out = output_timeout(cmd, CMD_TIMEOUT);
    assert!(out.success(), "{out}");
    assert_eq!(
        out.stdout, "open 3\n",
        "only fd 3 may be open inside\n{out}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("fd3")).expect("read"),
        "via-fd3\n"
    );
}

#[test]
fn extra_fds_are_not_inherited() {
    let rt = Runtime::cryo();
    let b = Bundle::new(&["sh", "-c", LIST_FDS]);
    b.save();
    let f3 = std::fs::File::open("/dev/null").expect("open");
    let f4 = std::fs::File::open("/dev/zero").expect("open");
    let id = unique_id("nofds");
    let _g = rt.guard(&id);
    let mut cmd = rt.cmd(&["run", "--bundle", b.path_str(), &id]);
    map_fds(
        &mut cmd,
        &[
            (f3.as_raw_fd(), 3),
            (f4.as_raw_fd(), 4),
            (f4.as_raw_fd(), 9),
        ],
    );
    let out = output_timeout(cmd, CMD_TIMEOUT);
    assert!(out.success(), "{out}");
    assert_eq!(
        out.stdout, "",
        "no fd beyond stdio may be open inside\n{out}"
    );
}

#[test]
fn extra_fds_not_inherited_via_create_start() {
    let rt = Runtime::cryo();
    let b = Bundle::new(&["sh", "-c", LIST_FDS]);
    b.save();
    let f3 = std::fs::File::open("/dev/null").expect("open");
    let id = unique_id("nofdscreate");
    let c = rt.guard(&id);
    let dir = tempfile::tempdir().expect("tempdir");
    let so = std::fs::File::create(dir.path().join("stdout")).expect("create");
    let mut cmd = rt.cmd(&["create", "--bundle", b.path_str(), &id]);
    cmd.stdout(so).stderr(std::process::Stdio::null());
    map_fds(&mut cmd, &[(f3.as_raw_fd(), 3), (f3.as_raw_fd(), 7)]);
    let mut child = cmd.spawn().expect("spawn create");
    let st = wait_child(&mut child, CMD_TIMEOUT, "create");
    assert!(st.success());
    c.start();
    c.wait_stopped();
    assert_eq!(
        std::fs::read_to_string(dir.path().join("stdout")).expect("read"),
        ""
    );
}
