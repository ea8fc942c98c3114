//! Tests against the host's real cgroupfs. They need root (as CI has) and
//! fail, not skip, without it. Every test uses its own cgroup
//! `/cryo-test-<pid>-<n>` and a guard that thaws, kills the child and
//! removes the cgroup even when an assertion fails.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicUsize, Ordering};

use cryo_cgroups::{
    detect_mode, from_paths, open, CgroupDriver, CgroupError, CgroupMode, UNIFIED_KEY,
};
use oci_spec::runtime::{
    LinuxCpuBuilder, LinuxHugepageLimitBuilder, LinuxMemoryBuilder, LinuxPidsBuilder,
    LinuxResources, LinuxResourcesBuilder,
};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn unique_path() -> String {
    format!(
        "/cryo-test-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// Cleans up on drop: thaw, kill the child, destroy the cgroup.
struct Guard {
    cg: Box<dyn CgroupDriver>,
    child: Option<Child>,
}

impl Guard {
    fn new(cg: Box<dyn CgroupDriver>) -> Self {
        Self { cg, child: None }
    }

    fn spawn_sleep(&mut self) -> i32 {
        let child = Command::new("sleep")
            .arg("60")
            .spawn()
            .expect("spawn sleep");
        let pid = i32::try_from(child.id()).expect("pid fits i32");
        self.child = Some(child);
        pid
    }

    fn kill_child(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.cg.thaw();
        self.kill_child();
        if let Err(e) = self.cg.destroy() {
            eprintln!("cleanup: {e}");
        }
    }
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
        .trim()
        .to_owned()
}

/// (directory, is_v1) where `controller`'s files are for this driver.
fn where_is(paths: &BTreeMap<String, PathBuf>, controller: &str) -> (PathBuf, bool) {
    match paths.get(controller) {
        Some(d) => (d.clone(), true),
        None => (
            paths
                .get(UNIFIED_KEY)
                .unwrap_or_else(|| panic!("{controller} is neither v1 nor unified"))
                .clone(),
            false,
        ),
    }
}

fn basic_resources() -> LinuxResources {
    LinuxResourcesBuilder::default()
        .memory(
            LinuxMemoryBuilder::default()
                .limit(64 << 20)
                .build()
                .expect("memory"),
        )
        .pids(LinuxPidsBuilder::default().limit(32).build().expect("pids"))
        .cpu(
            LinuxCpuBuilder::default()
                .shares(512u64)
                .cpus("0")
                .mems("0")
                .build()
                .expect("cpu"),
        )
        .build()
        .expect("resources")
}

#[test]
fn detects_mode_and_resolves_every_hierarchy() {
    let mode = detect_mode().expect("detect mode");
    let path = unique_path();
    let cg = open(&path).expect("open");
    assert_eq!(cg.mode(), mode);
    let paths = cg.paths();
    assert!(!paths.is_empty());
    for dir in paths.values() {
        assert!(dir.ends_with(path.trim_start_matches('/')), "{dir:?}");
        assert!(!dir.exists(), "open must not create anything: {dir:?}");
    }
    match mode {
        CgroupMode::V2 => assert_eq!(paths.len(), 1),
        CgroupMode::Hybrid => {
            assert!(paths.contains_key(UNIFIED_KEY));
            assert!(paths.contains_key("memory"));
        }
        CgroupMode::V1 => assert!(!paths.contains_key(UNIFIED_KEY)),
    }
    assert!(matches!(
        open("/cryo-test/../etc"),
        Err(CgroupError::InvalidPath { .. })
    ));
}

#[test]
fn create_apply_join_freeze_stats_destroy() {
    let path = unique_path();
    let mut g = Guard::new(open(&path).expect("open"));
    g.cg.create().expect("create");
    let paths = g.cg.paths();
    for dir in paths.values() {
        assert!(dir.is_dir(), "created {dir:?}");
    }

    // v1 cpuset was initialised from the parent before any task joins
    if let Some(cs) = paths.get("cpuset") {
        let parent = cs.parent().expect("parent");
        assert_eq!(
            read(&cs.join("cpuset.cpus")),
            read(&parent.join("cpuset.cpus"))
        );
        assert_eq!(
            read(&cs.join("cpuset.mems")),
            read(&parent.join("cpuset.mems"))
        );
    }

    g.cg.apply(&basic_resources()).expect("apply");
    let (mem, v1) = where_is(&paths, "memory");
    let file = if v1 {
        "memory.limit_in_bytes"
    } else {
        "memory.max"
    };
    assert_eq!(read(&mem.join(file)), "67108864");
    let (pids, _) = where_is(&paths, "pids");
    assert_eq!(read(&pids.join("pids.max")), "32");
    let (cpu, v1) = where_is(&paths, "cpu");
    if v1 {
        assert_eq!(read(&cpu.join("cpu.shares")), "512");
    } else {
        assert_eq!(read(&cpu.join("cpu.weight")), "20");
    }
    let (cpuset, _) = where_is(&paths, "cpuset");
    assert_eq!(read(&cpuset.join("cpuset.cpus")), "0");
    assert_eq!(read(&cpuset.join("cpuset.mems")), "0");

    // join a child process
    let pid = g.spawn_sleep();
    g.cg.add_process(pid).expect("add_process");
    let procs = g.cg.processes().expect("processes");
    assert!(procs.contains(&pid), "{pid} in {procs:?}");
    let own = read(Path::new(&format!("/proc/{pid}/cgroup")));
    assert!(own.contains(&path), "{own}");
    for dir in paths.values() {
        let members = read(&dir.join("cgroup.procs"));
        assert!(
            members.lines().any(|l| l == pid.to_string()),
            "{pid} in {dir:?}"
        );
    }

    // freeze / thaw
    g.cg.freeze().expect("freeze");
    assert!(g.cg.is_frozen().expect("is_frozen"));
    match paths.get("freezer") {
        Some(f) => assert_eq!(read(&f.join("freezer.state")), "FROZEN"),
        None => {
            let events = read(&paths[UNIFIED_KEY].join("cgroup.events"));
            assert!(events.lines().any(|l| l == "frozen 1"), "{events}");
        }
    }
    g.cg.thaw().expect("thaw");
    assert!(!g.cg.is_frozen().expect("is_frozen"));
    if let Some(f) = paths.get("freezer") {
        assert_eq!(read(&f.join("freezer.state")), "THAWED");
    }

    // stats
    let stats = g.cg.stats().expect("stats");
    assert!(stats.pids.current >= 1, "{stats:?}");
    assert_eq!(stats.pids.limit, 32);
    assert_eq!(stats.memory.usage.limit, 64 << 20);
    let json = serde_json::to_value(&stats).expect("json");
    eprintln!("stats: {json}");
    assert!(json["cpu"]["usage"].get("kernel").is_some(), "{json}");
    assert_eq!(json["pids"]["limit"], 32);

    // re-open from the stored paths: same view
    let again = from_paths(paths.clone()).expect("from_paths");
    assert_eq!(again.paths(), paths);
    assert!(again.processes().expect("processes").contains(&pid));

    // destroy: busy while the child lives, then gone and idempotent
    assert!(g.cg.destroy().is_err(), "rmdir of a populated cgroup fails");
    g.kill_child();
    g.cg.destroy().expect("destroy");
    for dir in paths.values() {
        assert!(!dir.exists(), "removed {dir:?}");
    }
    g.cg.destroy().expect("destroy is idempotent");
    assert!(g.cg.stats().is_err(), "stats of a removed cgroup");
}

#[test]
fn nested_paths_are_created_and_removed_recursively() {
    let top = unique_path();
    let leaf = format!("{top}/nested/leaf");
    // the guard removes the whole tree from the top
    let g = Guard::new(open(&top).expect("open top"));
    let cg = open(&leaf).expect("open leaf");
    cg.create().expect("create");
    for dir in cg.paths().values() {
        assert!(dir.is_dir(), "{dir:?}");
    }
    if let Some(cs) = cg.paths().get("cpuset") {
        assert!(!read(&cs.join("cpuset.cpus")).is_empty());
        assert!(!read(&cs.join("cpuset.mems")).is_empty());
    }
    let leaf_paths = cg.paths();
    g.cg.destroy().expect("recursive destroy");
    for dir in leaf_paths.values().chain(g.cg.paths().values()) {
        assert!(!dir.exists(), "{dir:?}");
    }
}

#[test]
fn hugetlb_limit() {
    let sizes = cryo_cgroups::resources::host_hugepage_sizes();
    if sizes.is_empty() {
        eprintln!("host has no huge page sizes in /sys/kernel/mm/hugepages");
        return;
    }
    let path = unique_path();
    let g = Guard::new(open(&path).expect("open"));
    g.cg.create().expect("create");
    let limits = sizes
        .iter()
        .map(|s| {
            LinuxHugepageLimitBuilder::default()
                .page_size(s.as_str())
                .limit(1i64 << 30)
                .build()
                .expect("limit")
        })
        .collect::<Vec<_>>();
    let r = LinuxResourcesBuilder::default()
        .hugepage_limits(limits)
        .build()
        .expect("resources");
    g.cg.apply(&r).expect("apply hugetlb");
    let paths = g.cg.paths();
    let (dir, v1) = where_is(&paths, "hugetlb");
    if g.cg.mode() == CgroupMode::Hybrid && !v1 {
        // this project's CI host: hugetlb lives in the unified hierarchy
        assert_eq!(dir, paths[UNIFIED_KEY]);
    }
    for s in &sizes {
        let file = if v1 {
            format!("hugetlb.{s}.limit_in_bytes")
        } else {
            format!("hugetlb.{s}.max")
        };
        assert_eq!(read(&dir.join(file)), (1u64 << 30).to_string());
    }
    let stats = g.cg.stats().expect("stats");
    for s in &sizes {
        assert!(stats.hugetlb.contains_key(s), "{s} in {:?}", stats.hugetlb);
    }
    let bad = LinuxResourcesBuilder::default()
        .hugepage_limits(vec![LinuxHugepageLimitBuilder::default()
            .page_size("3MB")
            .limit(1)
            .build()
            .expect("limit")])
        .build()
        .expect("resources");
    let err = g.cg.apply(&bad).expect_err("3MB pages do not exist");
    assert!(err.to_string().contains("3MB"), "{err}");
}

/// Drives the cgroup v2 code paths (subtree_control, cgroup.procs,
/// cgroup.freeze/cgroup.events, rmdir) on the host's cgroup2 mount alone,
/// which on a hybrid host is not covered by the test above.
#[test]
fn unified_hierarchy_alone() {
    let mounts = cryo_cgroups::mountinfo::read_mounts().expect("mountinfo");
    let Some(m) = mounts.iter().find(|m| m.unified) else {
        eprintln!("no cgroup2 mount on this host (pure v1)");
        return;
    };
    let dir = m
        .mount_point
        .join(unique_path().trim_start_matches('/'))
        .join("inner");
    let top = dir.parent().expect("parent").to_path_buf();
    let mut g = Guard::new(
        from_paths(BTreeMap::from([(UNIFIED_KEY.to_owned(), top.clone())])).expect("top"),
    );
    let cg =
        from_paths(BTreeMap::from([(UNIFIED_KEY.to_owned(), dir.clone())])).expect("from_paths");
    assert_eq!(cg.mode(), CgroupMode::V2);
    cg.create().expect("create");
    assert!(dir.is_dir());
    // the available controllers were enabled down to the parent
    let available = read(&m.mount_point.join("cgroup.controllers"));
    let enabled = read(&top.join("cgroup.subtree_control"));
    for c in available.split_whitespace() {
        assert!(
            enabled.split_whitespace().any(|e| e == c),
            "{c} in {enabled}"
        );
    }
    let pid = g.spawn_sleep();
    cg.add_process(pid).expect("add_process");
    // recursive: visible from the parent cgroup too
    assert!(g.cg.processes().expect("processes").contains(&pid));
    cg.freeze().expect("freeze");
    assert!(cg.is_frozen().expect("is_frozen"));
    assert!(read(&dir.join("cgroup.events")).contains("frozen 1"));
    // the task is stopped in the freezer
    let status = read(Path::new(&format!("/proc/{pid}/status")));
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("State:") && !l.contains("R (running)")),
        "{status}"
    );
    cg.thaw().expect("thaw");
    assert!(!cg.is_frozen().expect("is_frozen"));
    assert!(read(&dir.join("cgroup.events")).contains("frozen 0"));
    g.kill_child();
    cg.destroy().expect("destroy");
    assert!(!dir.exists());
}
