//! Crash at every step: each verb is SIGKILLed at every named point of
//! `cryo_faults::Point` (the fault-injection build, `CRYO_FAULT_BIN`, with
//! `CRYO_FAULT=<point>`), and what it leaves must be either
//!
//! * intact: the container in its right state (running containers keep
//!   counting), or
//! * removed whole by `delete --force` of the production binary: no state
//!   directory, no cgroup, no mount under the state directory or the image
//!   directory (CRIU's root, its cgroup yard), and no process (nothing of
//!   the container, no CRIU, no half-forked cryo: every process the killed
//!   cryo started carries its `CRYO_FAULT_TAG` in its environment).
//!
//! A checkpoint killed anywhere leaves the container running (once its
//! CRIU has stopped too) and no image marked complete, except after the
//! mark, where the image restores.
//!
//! Needs root, CRIU and both binaries; fails without them.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use cryo_e2e::*;
use cryo_faults::Point;

const WAIT: Duration = Duration::from_secs(20);

fn verb(p: Point) -> &'static str {
    p.name().split_once('.').map_or("", |(v, _)| v)
}

fn points_of(verbs: &[&str]) -> Vec<Point> {
    Point::ALL
        .iter()
        .copied()
        .filter(|p| verbs.contains(&verb(*p)))
        .collect()
}

/// Runs the fault-injection cryo on `rt`'s state root with `CRYO_FAULT`
/// naming `p`, and asserts it died of SIGKILL. Returns the tag every
/// process it started inherited.
fn crash(rt: &Runtime, p: Point, args: &[&str]) -> String {
    let tag = format!("{}-{}", std::process::id(), p.name());
    eprintln!("crash at {}: {args:?}", p.name());
    let logs = tempfile::tempdir().expect("tempdir");
    let (out, err) = (logs.path().join("out"), logs.path().join("err"));
    let mut cmd = Command::new(fault_bin());
    cmd.arg("--root")
        .arg(rt.root_path())
        .args(args)
        .env(cryo_faults::ENV, p.name())
        .env("CRYO_FAULT_TAG", &tag)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).expect("stdout file"))
        .stderr(std::fs::File::create(&err).expect("stderr file"));
    let mut child = cmd.spawn().expect("spawn the fault-injection cryo");
    let status = wait_child(&mut child, WAIT, p.name());
    assert_eq!(
        status.signal(),
        Some(libc::SIGKILL),
        "{args:?} with CRYO_FAULT={} did not crash there: {status}\nstderr: {}",
        p.name(),
        std::fs::read_to_string(&err).unwrap_or_default()
    );
    tag
}

/// Processes whose environment has `CRYO_FAULT_TAG=tag`.
fn tagged(tag: &str) -> Vec<String> {
    let want = format!("CRYO_FAULT_TAG={tag}");
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter(|e| {
            std::fs::read(e.path().join("environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|v| v == want.as_bytes()))
        })
        .filter(|e| {
            let pid = e.file_name().to_string_lossy().parse::<i64>().unwrap_or(0);
            !pid_is_dead(pid)
        })
        .map(|e| {
            let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            format!(
                "{} {}",
                e.file_name().to_string_lossy(),
                String::from_utf8_lossy(&cmd).replace('\0', " ")
            )
        })
        .collect()
}

/// CRIUs working in `dir` (CRIU rewrites its environment for its process
/// title, so the tag does not find it; its cwd is its work directory).
fn criu_in(dir: &Path) -> Vec<String> {
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    procs
        .flatten()
        .filter(|e| {
            std::fs::read_link(e.path().join("exe"))
                .is_ok_and(|x| x.file_name().is_some_and(|n| n == "criu"))
                && std::fs::read_link(e.path().join("cwd")).is_ok_and(|c| c == dir)
        })
        .filter(|e| !pid_is_dead(e.file_name().to_string_lossy().parse::<i64>().unwrap_or(0)))
        .map(|e| format!("{} criu", e.file_name().to_string_lossy()))
        .collect()
}

/// Waits until no process the crashed cryo started is left: none with
/// its tag, no CRIU in `work` (a CRIU whose client died stops at its next
/// notification).
fn wait_untagged(tag: &str, work: Option<&Path>) {
    let mut left = Vec::new();
    let gone = (0..(WAIT.as_millis() / 50)).any(|_| {
        left = tagged(tag);
        if let Some(w) = work {
            left.extend(criu_in(w));
        }
        if left.is_empty() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
        false
    });
    assert!(
        gone,
        "processes of the crashed cryo ({tag}) still run: {left:?}"
    );
}

/// Cgroup directories a container `id` with the default cgroup path would have.
fn cgroup_dirs(id: &str) -> Vec<PathBuf> {
    std::fs::read_dir("/sys/fs/cgroup")
        .expect("read /sys/fs/cgroup")
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path().join("cryo").join(id))
        .collect()
}

/// Asserts nothing of container `id` is left: state, cgroup, mounts under
/// its state directory or any of `paths`, processes of the crashed cryo.
fn assert_gone(rt: &Runtime, id: &str, paths: &[&Path], tag: &str, what: &str) {
    let out = rt.output(&["state", id]);
    assert!(
        !out.success() && out.stderr.contains("does not exist"),
        "{what}: state left\n{out}"
    );
    let dir = rt.root_path().join(id);
    assert!(!dir.exists(), "{what}: {} left", dir.display());
    for cg in cgroup_dirs(id) {
        assert!(!cg.exists(), "{what}: cgroup {} left", cg.display());
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    for m in parse_mountinfo(&mounts) {
        let at = Path::new(&m.mount_point);
        assert!(
            !at.starts_with(&dir) && !paths.iter().any(|p| at.starts_with(p)),
            "{what}: {} is still mounted ({} {})",
            m.mount_point,
            m.fstype,
            m.source
        );
    }
    wait_untagged(tag, paths.first().copied());
}

fn delete_force(rt: &Runtime, id: &str) {
    rt.run_ok(&["delete", "--force", id]);
}

fn run_counter<'a>(rt: &'a Runtime, b: &Bundle, id: &str) -> Container<'a> {
    let c = rt.guard(id);
    let (out, _, _) = rt.output_detached(&["run", "-d", "--bundle", b.path_str(), id]);
    assert!(out.success(), "run -d failed\n{out}");
    let at = read_counter(b);
    wait_counter(b, at + 3);
    c
}

fn assert_running(rt: &Runtime, id: &str, b: &Bundle, what: &str) {
    assert_eq!(rt.status(id), "running", "{what}");
    let at = read_counter(b);
    let moved = (0..200).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        read_counter(b) > at
    });
    if !moved {
        let tasks: Vec<String> = cgroup_dirs(id)
            .iter()
            .filter_map(|d| std::fs::read_to_string(d.join("cgroup.procs")).ok())
            .flat_map(|s| s.lines().map(String::from).collect::<Vec<_>>())
            .map(|pid| {
                let st = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
                let keep: Vec<&str> = st
                    .lines()
                    .filter(|l| l.starts_with("State") || l.starts_with("TracerPid"))
                    .collect();
                format!("{pid}: {keep:?}")
            })
            .collect();
        panic!(
            "{what}: the container is {} but its counter stays at {at}; freezer {:?}; tasks {tasks:?}",
            rt.status(id),
            std::fs::read_to_string(format!("/sys/fs/cgroup/freezer/cryo/{id}/freezer.state"))
        );
    }
    assert_continues(b, at);
}

/// The create, start, exec and delete points, each on a fresh container.
#[test]
fn crashes_in_create_start_exec_and_delete() {
    let rt = Runtime::cryo();
    let b = counter_bundle();
    for p in points_of(&["create", "start", "exec", "delete"]) {
        let id = unique_id(p.name());
        let _guard = rt.guard(&id);
        let what = p.name();
        let create = ["create", "--bundle", b.path_str(), id.as_str()];
        let tag = match p {
            Point::CreateAfterStateDir | Point::CreateAfterCgroup | Point::CreateAfterClone => {
                crash(&rt, p, &create)
            }
            Point::CreateAfterState => {
                let tag = crash(&rt, p, &create);
                // Intact: created, and it starts.
                assert_eq!(rt.status(&id), "created", "{what}");
                rt.run_ok(&["start", &id]);
                assert_running(&rt, &id, &b, what);
                tag
            }
            Point::StartAfterExec => {
                let (out, _, _) = rt.output_detached(&create);
                assert!(out.success(), "{out}");
                let tag = crash(&rt, p, &["start", &id]);
                // Intact: the program runs, and the state says so.
                assert_running(&rt, &id, &b, what);
                let again = rt.run_fail(&["start", &id]);
                assert!(!again.stderr.is_empty(), "{what}: {again}");
                tag
            }
            Point::ExecAfterFork | Point::ExecAfterSpawn => {
                let _c = run_counter(&rt, &b, &id);
                let tag = crash(&rt, p, &["exec", "-d", &id, "sleep", "1000"]);
                wait_untagged(&tag, None);
                assert_running(&rt, &id, &b, what);
                tag
            }
            Point::DeleteAfterKill | Point::DeleteAfterCgroup => {
                let _c = run_counter(&rt, &b, &id);
                crash(&rt, p, &["delete", "--force", &id])
            }
            other => panic!("{} is not a create/start/exec/delete point", other.name()),
        };
        delete_force(&rt, &id);
        assert_gone(&rt, &id, &[], &tag, what);
    }
}

/// Restore of `img` as `id` must be refused as incomplete, leaving nothing;
/// inspect refuses it too.
fn assert_incomplete(rt: &Runtime, b: &Bundle, img: &Path, what: &str) {
    let id = unique_id("refused");
    let _g = rt.guard(&id);
    let (out, _, _) = rt.output_detached(&[
        "restore",
        "-d",
        "--bundle",
        b.path_str(),
        "--image-path",
        path_str(img),
        &id,
    ]);
    assert!(
        !out.success() && out.stderr.contains("is incomplete"),
        "{what}: restore of the interrupted checkpoint\n{out}"
    );
    assert!(
        !rt.root_path().join(&id).exists(),
        "{what}: a refused restore left state"
    );
    let out = rt.run_fail(&["inspect", path_str(img)]);
    assert!(out.stderr.contains("is incomplete"), "{what}: {out}");
}

/// The checkpoint points: the container stays running (or, once CRIU
/// finished a dump that does not leave it running, is gone and cleanly
/// deletable), and the images are marked complete only at the end.
#[test]
fn crashes_in_checkpoint() {
    let rt = Runtime::cryo();
    let b = counter_bundle();
    let mut cases: Vec<(Point, bool)> = points_of(&["checkpoint"])
        .into_iter()
        .map(|p| (p, false))
        .collect();
    // Where leave-running changes the outcome.
    cases.push((Point::CheckpointAfterDump, true));
    cases.push((Point::CheckpointBeforeDestroy, true));
    for (p, leave_running) in cases {
        let what = format!(
            "{}{}",
            p.name(),
            if leave_running {
                " --leave-running"
            } else {
                ""
            }
        );
        let id = unique_id(p.name());
        let c = run_counter(&rt, &b, &id);
        let img = image_dir("crash");
        let mut args = vec!["checkpoint", "--image-path", path_str(img.path())];
        if leave_running {
            args.push("--leave-running");
        }
        args.push(&id);
        let tag = crash(&rt, p, &args);
        // Its CRIU stops by itself (at its next notification) or has finished.
        wait_untagged(&tag, Some(img.path()));
        match p {
            Point::CheckpointAfterFreeze
            | Point::CheckpointAfterCriuSpawned
            | Point::CheckpointMidDump
            | Point::CheckpointAtPostDump => {
                assert_running(&rt, &id, &b, &what);
                assert_incomplete(&rt, &b, img.path(), &what);
            }
            Point::CheckpointAfterDump => {
                let want = if leave_running { "running" } else { "stopped" };
                assert_eq!(rt.status(&id), want, "{what}");
                if leave_running {
                    assert_running(&rt, &id, &b, &what);
                }
                assert_incomplete(&rt, &b, img.path(), &what);
            }
            Point::CheckpointBeforeDestroy if leave_running => {
                assert_running(&rt, &id, &b, &what);
                rt.run_ok(&["inspect", path_str(img.path())]);
            }
            Point::CheckpointBeforeDestroy => {
                // CRIU killed the tasks; the image is complete and restores.
                assert_eq!(rt.status(&id), "stopped", "{what}");
                let at = read_counter(&b);
                let copy = unique_id("crash-copy");
                let _g = rt.guard(&copy);
                let (out, _, _) = rt.output_detached(&[
                    "restore",
                    "-d",
                    "--bundle",
                    b.path_str(),
                    "--image-path",
                    path_str(img.path()),
                    &copy,
                ]);
                assert!(
                    out.success(),
                    "{what}: restore of the complete image\n{out}"
                );
                assert_continues(&b, at);
                delete_force(&rt, &copy);
            }
            other => panic!("{} is not a checkpoint point", other.name()),
        }
        delete_force(&rt, &id);
        assert_gone(&rt, &id, &[img.path()], &tag, &what);
        drop(c);
    }
}

/// The restore points, all from one image: nothing but a running, recorded
/// container, or nothing at all once `delete --force` ran; the image
/// restores afterwards as before.
#[test]
fn crashes_in_restore() {
    let rt = Runtime::cryo();
    let b = counter_bundle();
    let img = image_dir("crash-restore");
    let src = unique_id("restore-src");
    let c = run_counter(&rt, &b, &src);
    rt.run_ok(&["checkpoint", "--image-path", path_str(img.path()), &src]);
    drop(c);
    let restore = |id: &str| {
        vec![
            "restore".to_string(),
            "-d".into(),
            "--bundle".into(),
            b.path_str().into(),
            "--image-path".into(),
            path_str(img.path()).into(),
            id.to_string(),
        ]
    };
    for p in points_of(&["restore"]) {
        let id = unique_id(p.name());
        let _guard = rt.guard(&id);
        let args = restore(&id);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let tag = crash(&rt, p, &args);
        match p {
            Point::RestoreAfterState => assert_running(&rt, &id, &b, p.name()),
            Point::RestoreAfterCgroup
            | Point::RestoreAfterMount
            | Point::RestoreAfterCriuSpawned
            | Point::RestoreMidRestore
            | Point::RestoreAfterCriu => {
                // Right away, as a client cleaning up after the crash would.
            }
            other => panic!("{} is not a restore point", other.name()),
        }
        delete_force(&rt, &id);
        assert_gone(&rt, &id, &[img.path()], &tag, p.name());
    }
    let id = unique_id("restore-after");
    let _guard = rt.guard(&id);
    let args = restore(&id);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (out, _, _) = rt.output_detached(&args);
    assert!(out.success(), "the image no longer restores\n{out}");
    assert_running(&rt, &id, &b, "restore after the crashes");
}

/// Every point belongs to a verb one of the tests above goes through.
#[test]
fn every_point_is_exercised() {
    for p in Point::ALL {
        assert!(
            ["create", "start", "exec", "delete", "checkpoint", "restore"].contains(&verb(*p)),
            "{} is run by no test",
            p.name()
        );
    }
}

/// The production binary has no crash points: `CRYO_FAULT` does nothing,
/// and neither the variable nor any point name is in it.
#[test]
fn production_binary_has_no_crash_points() {
    let rt = Runtime::cryo();
    let b = counter_bundle();
    let id = unique_id("no-faults");
    let _g = rt.guard(&id);
    let logs = tempfile::tempdir().expect("tempdir");
    let mut cmd = rt.cmd(&["create", "--bundle", b.path_str(), &id]);
    cmd.env(cryo_faults::ENV, Point::CreateAfterCgroup.name())
        .stdout(std::fs::File::create(logs.path().join("out")).expect("file"))
        .stderr(std::fs::File::create(logs.path().join("err")).expect("file"));
    let mut child = cmd.spawn().expect("spawn cryo");
    let status = wait_child(&mut child, WAIT, "create");
    assert!(status.success(), "create with CRYO_FAULT set: {status}");
    assert_eq!(rt.status(&id), "created");
    delete_force(&rt, &id);

    let version = rt.run_ok(&["--version"]);
    assert!(!version.stdout.contains("fault-injection"), "{version}");
    let bytes = std::fs::read(cryo_bin()).expect("read CRYO_BIN");
    let has = |s: &str| bytes.windows(s.len()).any(|w| w == s.as_bytes());
    assert!(
        !has(cryo_faults::ENV),
        "CRYO_BIN holds {:?}",
        cryo_faults::ENV
    );
    for p in Point::ALL {
        assert!(!has(p.name()), "CRYO_BIN holds the point {}", p.name());
    }
}

/// A restore's CRIU killed outright (not by our crash: it had no chance to
/// undo its work) leaves its cgroup yard, a tmpfs with the hierarchies
/// mounted in it, in its work directory; `delete --force` of what the
/// killed restore left unmounts and removes it, unless another CRIU works
/// in that directory (its yard cannot be told apart).
#[test]
fn delete_removes_the_cgroup_yard_of_a_killed_criu() {
    let rt = Runtime::cryo();
    let work = tempfile::tempdir().expect("work dir");
    let yard = work.path().join(".criu.cgyard.e2e");
    let left = |id: &str| {
        let dir = rt.root_path().join(id);
        std::fs::create_dir_all(&dir).expect("mkdir state");
        let pending = serde_json::json!({"cgroup_paths": {}, "criu_work": path_str(work.path())});
        std::fs::write(dir.join("pending.json"), pending.to_string()).expect("pending");
        std::fs::create_dir_all(&yard).expect("mkdir yard");
        host_ok("mount", &["-t", "tmpfs", "none", path_str(&yard)]);
        std::fs::create_dir(yard.join("memory")).expect("mkdir");
        host_ok(
            "mount",
            &["-t", "tmpfs", "none", path_str(&yard.join("memory"))],
        );
    };
    let mounted = || {
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
        parse_mountinfo(&mounts)
            .iter()
            .filter(|m| Path::new(&m.mount_point).starts_with(work.path()))
            .count()
    };

    // Another CRIU (a process whose cwd is the work directory) is at work:
    // its yard might be this one, so it stays.
    let id = unique_id("yard-busy");
    left(&id);
    // Unmounted on the way out, whatever happens.
    let _unmount = HostMount(yard.clone());
    let mut other = Command::new("sleep");
    other.arg("100").current_dir(work.path());
    let busy = HostProcess(other.spawn().expect("spawn"));
    delete_force(&rt, &id);
    assert!(!rt.root_path().join(&id).exists());
    assert_eq!(mounted(), 2, "the yard of a CRIU at work was touched");
    drop(busy);

    let id = unique_id("yard");
    host_ok("umount", &["-R", path_str(&yard)]);
    left(&id);
    delete_force(&rt, &id);
    assert!(!rt.root_path().join(&id).exists(), "state directory left");
    assert_eq!(mounted(), 0, "the cgroup yard is still mounted");
    assert!(!yard.exists(), "the cgroup yard directory is left");
}
