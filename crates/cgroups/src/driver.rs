//! The cgroupfs driver: one struct for v1, v2 and hybrid hosts. Each
//! controller is routed to its v1 hierarchy when it has one, else to the
//! unified directory (v2 hosts, and v2-only controllers such as hugetlb on
//! this project's hybrid CI host).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxResources;

use crate::mountinfo::{ResolvedPaths, UNIFIED_KEY};
use crate::stats::CgroupStats;
use crate::{fs, resources, stats, v1, v2, CgroupDriver, CgroupError, CgroupMode};

/// Where a controller's files live.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Target<'a> {
    /// A cgroup v1 hierarchy directory: v1 file names.
    V1(&'a Path),
    /// The cgroup v2 directory: v2 file names.
    V2(&'a Path),
}

/// The cgroupfs driver behind [`crate::open`] and [`crate::from_paths`].
#[derive(Debug, Clone)]
pub struct FsCgroup {
    mode: CgroupMode,
    /// v1 subsystem -> directory (co-mounted subsystems share one).
    v1: BTreeMap<String, PathBuf>,
    /// v1 subsystem -> mount point, when known (not after `from_paths`).
    v1_mounts: BTreeMap<String, PathBuf>,
    unified: Option<PathBuf>,
    unified_mount: Option<PathBuf>,
    /// Every distinct directory: v1 ones first, then the unified one.
    dirs: Vec<PathBuf>,
}

impl FsCgroup {
    pub(crate) fn new(mode: CgroupMode, r: ResolvedPaths) -> Self {
        let mut dirs: Vec<PathBuf> = Vec::new();
        for d in r.v1.values() {
            if !dirs.contains(d) {
                dirs.push(d.clone());
            }
        }
        if let Some(u) = &r.unified {
            dirs.push(u.clone());
        }
        Self {
            mode,
            v1: r.v1,
            v1_mounts: r.v1_mounts,
            unified: r.unified,
            unified_mount: r.unified_mount,
            dirs,
        }
    }

    /// Where `controller` (v1 name: `memory`, `blkio`, `hugetlb`...) lives.
    pub(crate) fn target(&self, controller: &str) -> Result<Target<'_>, CgroupError> {
        if let Some(d) = self.v1.get(controller) {
            return Ok(Target::V1(d));
        }
        match &self.unified {
            Some(u) => Ok(Target::V2(u)),
            None => Err(CgroupError::NotMounted {
                controller: controller.to_owned(),
            }),
        }
    }

    pub(crate) fn has_v1(&self, controller: &str) -> bool {
        self.v1.contains_key(controller)
    }

    pub(crate) fn v1_dir(&self, controller: &str) -> Option<&Path> {
        self.v1.get(controller).map(PathBuf::as_path)
    }

    pub(crate) fn unified_dir(&self) -> Option<&Path> {
        self.unified.as_deref()
    }

    /// The directory whose cgroup.procs lists the container's processes:
    /// freezer, pids or memory on v1 (any v1 hierarchy as a last resort), the
    /// unified directory on v2.
    fn procs_dir(&self) -> Result<&Path, CgroupError> {
        ["freezer", "pids", "memory"]
            .iter()
            .find_map(|c| self.v1_dir(c))
            .or_else(|| self.unified_dir())
            .or_else(|| self.dirs.first().map(PathBuf::as_path))
            .ok_or_else(|| CgroupError::NotMounted {
                controller: "freezer".to_owned(),
            })
    }
}

impl CgroupDriver for FsCgroup {
    fn mode(&self) -> CgroupMode {
        self.mode
    }

    fn create(&self) -> Result<(), CgroupError> {
        for d in self
            .dirs
            .iter()
            .filter(|d| Some(*d) != self.unified.as_ref())
        {
            fs::mkdir_all(d)?;
        }
        if let Some(cpuset) = self.v1.get("cpuset") {
            v1::ensure_cpuset(cpuset, self.v1_mounts.get("cpuset").map(PathBuf::as_path))?;
        }
        if let Some(u) = &self.unified {
            fs::mkdir_all(u)?;
            v2::enable_controllers(u, self.unified_mount.as_deref())?;
        }
        Ok(())
    }

    fn apply(&self, r: &LinuxResources) -> Result<(), CgroupError> {
        resources::apply(self, r)
    }

    fn add_process(&self, pid: i32) -> Result<(), CgroupError> {
        let pid = pid.to_string();
        for d in &self.dirs {
            fs::write(&d.join("cgroup.procs"), &pid)?;
        }
        Ok(())
    }

    fn processes(&self) -> Result<Vec<i32>, CgroupError> {
        let mut pids = Vec::new();
        fs::collect_pids(self.procs_dir()?, &mut pids)?;
        pids.sort_unstable();
        pids.dedup();
        Ok(pids)
    }

    fn freeze(&self) -> Result<(), CgroupError> {
        match self.target("freezer")? {
            Target::V1(d) => v1::freeze(d),
            Target::V2(d) => v2::freeze(d),
        }
    }

    fn thaw(&self) -> Result<(), CgroupError> {
        match self.target("freezer")? {
            Target::V1(d) => v1::thaw(d),
            Target::V2(d) => v2::thaw(d),
        }
    }

    fn is_frozen(&self) -> Result<bool, CgroupError> {
        match self.target("freezer")? {
            Target::V1(d) => v1::is_frozen(d),
            Target::V2(d) => v2::is_frozen(d),
        }
    }

    fn destroy(&self) -> Result<(), CgroupError> {
        // Try every directory even if one fails, report the first error.
        let mut first_err = None;
        for d in &self.dirs {
            if let Err(e) = fs::remove_cgroup_tree(d) {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    fn paths(&self) -> BTreeMap<String, PathBuf> {
        let mut out = self.v1.clone();
        if let Some(u) = &self.unified {
            out.insert(UNIFIED_KEY.to_owned(), u.clone());
        }
        out
    }

    fn stats(&self) -> Result<CgroupStats, CgroupError> {
        // A removed cgroup is an error, missing optional files are not.
        let main = self.procs_dir()?;
        std::fs::metadata(main).map_err(|source| CgroupError::Read {
            path: main.to_path_buf(),
            source,
        })?;
        stats::collect(self)
    }
}

/// Builds a driver from a stored `paths()` map.
pub(crate) fn from_paths(paths: BTreeMap<String, PathBuf>) -> Result<FsCgroup, CgroupError> {
    if paths.is_empty() {
        return Err(CgroupError::InvalidPath {
            path: String::new(),
            reason: "the stored cgroup paths map is empty".to_owned(),
        });
    }
    let mut r = ResolvedPaths::default();
    for (key, path) in paths {
        let s = path.to_string_lossy();
        let bad = |reason: &str| CgroupError::InvalidPath {
            path: s.to_string(),
            reason: reason.to_owned(),
        };
        if !path.is_absolute() {
            return Err(bad("stored cgroup path is not absolute"));
        }
        if s.contains('\0') {
            return Err(bad("path contains a NUL byte"));
        }
        if path
            .components()
            .any(|c| c == std::path::Component::ParentDir)
        {
            return Err(bad("path contains a \"..\" component"));
        }
        if key == UNIFIED_KEY {
            r.unified = Some(path);
        } else {
            r.v1.insert(key, path);
        }
    }
    let mode = match (r.v1.is_empty(), r.unified.is_some()) {
        (true, _) => CgroupMode::V2,
        (false, true) => CgroupMode::Hybrid,
        (false, false) => CgroupMode::V1,
    };
    Ok(FsCgroup::new(mode, r))
}

#[cfg(test)]
mod fake_tree_tests {
    //! `apply`/`processes`/`paths` against plain directories that mimic
    //! cgroupfs (pre-created control files), for both file layouts.

    use super::*;
    use oci_spec::runtime::{
        LinuxBlockIoBuilder, LinuxCpuBuilder, LinuxDeviceCgroupBuilder, LinuxDeviceType,
        LinuxHugepageLimitBuilder, LinuxMemoryBuilder, LinuxNetworkBuilder, LinuxPidsBuilder,
        LinuxResourcesBuilder, LinuxThrottleDeviceBuilder,
    };
    use std::collections::HashMap;

    fn touch(dir: &Path, files: &[(&str, &str)]) {
        std::fs::create_dir_all(dir).expect("mkdir");
        for (f, content) in files {
            std::fs::write(dir.join(f), content).expect("write");
        }
    }

    fn get(dir: &Path, f: &str) -> String {
        std::fs::read_to_string(dir.join(f)).expect("read")
    }

    fn v2_tree() -> (tempfile::TempDir, PathBuf, FsCgroup) {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("ctr");
        touch(
            &dir,
            &[
                ("cgroup.controllers", "cpuset cpu io memory hugetlb pids\n"),
                ("cgroup.procs", ""),
                ("memory.max", "max\n"),
                ("memory.swap.max", "max\n"),
                ("memory.low", "0\n"),
                ("cpu.weight", "100\n"),
                ("cpu.max", "max 100000\n"),
                ("cpuset.cpus", ""),
                ("cpuset.mems", ""),
                ("pids.max", "max\n"),
                ("io.weight", "default 100\n"),
                ("io.max", ""),
                ("hugetlb.2MB.max", "max\n"),
            ],
        );
        let paths = BTreeMap::from([(UNIFIED_KEY.to_owned(), dir.clone())]);
        let cg = from_paths(paths).expect("from_paths");
        (tmp, dir, cg)
    }

    #[test]
    fn v2_apply_converts_like_runc() {
        let (_tmp, dir, cg) = v2_tree();
        assert_eq!(cg.mode(), CgroupMode::V2);
        let r = LinuxResourcesBuilder::default()
            .memory(
                LinuxMemoryBuilder::default()
                    .limit(64 << 20)
                    .swap(128 << 20)
                    .reservation(32 << 20)
                    .swappiness(10u64)
                    .build()
                    .expect("mem"),
            )
            .cpu(
                LinuxCpuBuilder::default()
                    .shares(1024u64)
                    .quota(50_000)
                    .period(100_000u64)
                    .cpus("0")
                    .build()
                    .expect("cpu"),
            )
            .pids(LinuxPidsBuilder::default().limit(32).build().expect("pids"))
            .block_io(
                LinuxBlockIoBuilder::default()
                    .weight(500u16)
                    .throttle_read_bps_device(vec![LinuxThrottleDeviceBuilder::default()
                        .major(8)
                        .minor(0)
                        .rate(1_048_576u64)
                        .build()
                        .expect("td")])
                    .build()
                    .expect("blkio"),
            )
            .hugepage_limits(vec![LinuxHugepageLimitBuilder::default()
                .page_size("2MB")
                .limit(4 << 20)
                .build()
                .expect("huge")])
            .unified(HashMap::from([(
                "memory.low".to_owned(),
                "1234".to_owned(),
            )]))
            .build()
            .expect("resources");
        cg.apply(&r).expect("apply");
        assert_eq!(get(&dir, "memory.max"), "67108864");
        assert_eq!(get(&dir, "memory.swap.max"), "67108864");
        // unified is applied last and wins
        assert_eq!(get(&dir, "memory.low"), "1234");
        assert_eq!(get(&dir, "cpu.weight"), "39");
        assert_eq!(get(&dir, "cpu.max"), "50000 100000");
        assert_eq!(get(&dir, "cpuset.cpus"), "0");
        assert_eq!(get(&dir, "pids.max"), "32");
        assert_eq!(get(&dir, "io.weight"), "4950");
        assert_eq!(get(&dir, "io.max"), "8:0 rbps=1048576");
        assert_eq!(get(&dir, "hugetlb.2MB.max"), "4194304");

        // only the period: the current quota is kept
        let r = LinuxResourcesBuilder::default()
            .cpu(
                LinuxCpuBuilder::default()
                    .period(200_000u64)
                    .build()
                    .expect("cpu"),
            )
            .build()
            .expect("resources");
        cg.apply(&r).expect("apply");
        assert_eq!(get(&dir, "cpu.max"), "50000 200000");
        // quota -1 is max; memory -1 with no swap means both unlimited
        let r = LinuxResourcesBuilder::default()
            .cpu(LinuxCpuBuilder::default().quota(-1).build().expect("cpu"))
            .memory(
                LinuxMemoryBuilder::default()
                    .limit(-1)
                    .build()
                    .expect("mem"),
            )
            .pids(LinuxPidsBuilder::default().limit(-1).build().expect("pids"))
            .build()
            .expect("resources");
        cg.apply(&r).expect("apply");
        assert_eq!(get(&dir, "cpu.max"), "max");
        assert_eq!(get(&dir, "memory.max"), "max");
        assert_eq!(get(&dir, "memory.swap.max"), "max");
        assert_eq!(get(&dir, "pids.max"), "max");
    }

    #[test]
    fn v2_rejects_before_writing() {
        let (_tmp, dir, cg) = v2_tree();
        let deny_all = LinuxDeviceCgroupBuilder::default()
            .allow(false)
            .access("rwm")
            .build()
            .expect("dev");
        let r = LinuxResourcesBuilder::default()
            .memory(
                LinuxMemoryBuilder::default()
                    .limit(1 << 20)
                    .build()
                    .expect("m"),
            )
            .devices(vec![deny_all])
            .build()
            .expect("resources");
        let err = cg.apply(&r).expect_err("devices on v2");
        assert!(matches!(err, CgroupError::Unsupported(_)), "{err}");
        assert!(err.to_string().contains("eBPF"), "{err}");
        assert_eq!(get(&dir, "memory.max"), "max\n", "nothing written");

        let r = LinuxResourcesBuilder::default()
            .network(
                LinuxNetworkBuilder::default()
                    .class_id(1u32)
                    .build()
                    .expect("n"),
            )
            .build()
            .expect("resources");
        assert!(matches!(cg.apply(&r), Err(CgroupError::Unsupported(_))));

        let r = LinuxResourcesBuilder::default()
            .cpu(
                LinuxCpuBuilder::default()
                    .realtime_runtime(1000)
                    .build()
                    .expect("cpu"),
            )
            .build()
            .expect("resources");
        assert!(matches!(cg.apply(&r), Err(CgroupError::Unsupported(_))));

        // swap below memory is invalid
        let r = LinuxResourcesBuilder::default()
            .memory(
                LinuxMemoryBuilder::default()
                    .limit(2 << 20)
                    .swap(1 << 20)
                    .build()
                    .expect("m"),
            )
            .build()
            .expect("resources");
        assert!(matches!(
            cg.apply(&r),
            Err(CgroupError::InvalidValue { .. })
        ));
    }

    #[test]
    fn v2_missing_controller_is_reported() {
        let (_tmp, dir, cg) = v2_tree();
        std::fs::write(dir.join("cgroup.controllers"), "cpu memory pids\n").expect("write");
        std::fs::remove_file(dir.join("hugetlb.2MB.max")).expect("rm");
        let r = LinuxResourcesBuilder::default()
            .hugepage_limits(vec![LinuxHugepageLimitBuilder::default()
                .page_size("2MB")
                .limit(4 << 20)
                .build()
                .expect("huge")])
            .build()
            .expect("resources");
        let err = cg.apply(&r).expect_err("no hugetlb");
        assert!(
            matches!(err, CgroupError::ControllerUnavailable { ref controller, .. } if controller == "hugetlb"),
            "{err}"
        );
    }

    #[test]
    fn v1_apply_writes_v1_files() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path();
        let mem = root.join("memory/ctr");
        let cpu = root.join("cpu,cpuacct/ctr");
        let devices = root.join("devices/ctr");
        let blkio = root.join("blkio/ctr");
        touch(
            &mem,
            &[
                ("memory.limit_in_bytes", "9223372036854771712\n"),
                ("memory.memsw.limit_in_bytes", "9223372036854771712\n"),
                ("memory.swappiness", "60\n"),
                ("memory.oom_control", ""),
                ("cgroup.procs", "1\n2\n"),
            ],
        );
        touch(&mem.join("child"), &[("cgroup.procs", "3\n2\n")]);
        touch(
            &cpu,
            &[
                ("cpu.shares", "1024\n"),
                ("cpu.cfs_quota_us", "-1\n"),
                ("cpu.cfs_period_us", "100000\n"),
            ],
        );
        touch(&devices, &[("devices.allow", ""), ("devices.deny", "")]);
        touch(
            &blkio,
            &[
                ("blkio.weight", ""),
                ("blkio.throttle.write_iops_device", ""),
            ],
        );
        let paths = BTreeMap::from([
            ("memory".to_owned(), mem.clone()),
            ("cpu".to_owned(), cpu.clone()),
            ("cpuacct".to_owned(), cpu.clone()),
            ("devices".to_owned(), devices.clone()),
            ("blkio".to_owned(), blkio.clone()),
        ]);
        let cg = from_paths(paths.clone()).expect("from_paths");
        assert_eq!(cg.mode(), CgroupMode::V1);
        assert_eq!(cg.paths(), paths);
        assert_eq!(cg.dirs.len(), 4, "co-mounted dirs are deduplicated");
        assert_eq!(cg.processes().expect("procs"), vec![1, 2, 3]);

        let r = LinuxResourcesBuilder::default()
            .memory(
                LinuxMemoryBuilder::default()
                    .limit(64 << 20)
                    .swap(128 << 20)
                    .kernel(1 << 20)
                    .swappiness(0u64)
                    .disable_oom_killer(true)
                    .build()
                    .expect("mem"),
            )
            .cpu(
                LinuxCpuBuilder::default()
                    .shares(512u64)
                    .quota(20_000)
                    .period(50_000u64)
                    .build()
                    .expect("cpu"),
            )
            .devices(vec![
                LinuxDeviceCgroupBuilder::default()
                    .allow(false)
                    .access("rwm")
                    .build()
                    .expect("dev"),
                LinuxDeviceCgroupBuilder::default()
                    .allow(true)
                    .typ(LinuxDeviceType::C)
                    .major(1)
                    .minor(3)
                    .access("rwm")
                    .build()
                    .expect("dev"),
            ])
            .block_io(
                LinuxBlockIoBuilder::default()
                    .weight(300u16)
                    .throttle_write_iops_device(vec![LinuxThrottleDeviceBuilder::default()
                        .major(254)
                        .minor(0)
                        .rate(100u64)
                        .build()
                        .expect("td")])
                    .build()
                    .expect("blkio"),
            )
            .build()
            .expect("resources");
        cg.apply(&r).expect("apply");
        assert_eq!(get(&mem, "memory.limit_in_bytes"), "67108864");
        assert_eq!(get(&mem, "memory.memsw.limit_in_bytes"), "134217728");
        assert_eq!(get(&mem, "memory.swappiness"), "0");
        assert_eq!(get(&mem, "memory.oom_control"), "1");
        assert_eq!(get(&cpu, "cpu.shares"), "512");
        assert_eq!(get(&cpu, "cpu.cfs_quota_us"), "20000");
        assert_eq!(get(&cpu, "cpu.cfs_period_us"), "50000");
        assert_eq!(get(&devices, "devices.deny"), "a *:* rwm");
        assert_eq!(get(&devices, "devices.allow"), "c 1:3 rwm");
        assert_eq!(get(&blkio, "blkio.weight"), "300");
        assert_eq!(get(&blkio, "blkio.throttle.write_iops_device"), "254:0 100");

        // v1-only host: unified, hugetlb (not mounted), net_prio are errors
        let r = LinuxResourcesBuilder::default()
            .unified(HashMap::from([("memory.high".to_owned(), "1".to_owned())]))
            .build()
            .expect("resources");
        assert!(matches!(cg.apply(&r), Err(CgroupError::Unsupported(_))));
        let r = LinuxResourcesBuilder::default()
            .hugepage_limits(vec![LinuxHugepageLimitBuilder::default()
                .page_size("2MB")
                .limit(1)
                .build()
                .expect("huge")])
            .build()
            .expect("resources");
        assert!(matches!(
            cg.apply(&r),
            Err(CgroupError::NotMounted { ref controller }) if controller == "hugetlb"
        ));
        // unset / empty resources touch nothing
        cg.apply(&LinuxResourcesBuilder::default().build().expect("empty"))
            .expect("empty apply");
    }

    #[test]
    fn from_paths_validation() {
        assert!(from_paths(BTreeMap::new()).is_err());
        let rel = BTreeMap::from([("memory".to_owned(), PathBuf::from("rel/x"))]);
        assert!(from_paths(rel).is_err());
        let dotdot = BTreeMap::from([("memory".to_owned(), PathBuf::from("/a/../b"))]);
        assert!(from_paths(dotdot).is_err());
        let hybrid = BTreeMap::from([
            (
                "memory".to_owned(),
                PathBuf::from("/sys/fs/cgroup/memory/x"),
            ),
            (
                UNIFIED_KEY.to_owned(),
                PathBuf::from("/sys/fs/cgroup/unified/x"),
            ),
        ]);
        let cg = from_paths(hybrid).expect("hybrid");
        assert_eq!(cg.mode(), CgroupMode::Hybrid);
        assert!(matches!(cg.target("memory"), Ok(Target::V1(_))));
        assert!(matches!(cg.target("hugetlb"), Ok(Target::V2(_))));
    }
}
