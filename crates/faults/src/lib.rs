//! cryo-faults: named crash points for tests.
//!
//! `cryo_faults::point(Point::CreateAfterCgroup)` marks a place in a verb
//! where a real crash (an OOM kill, a `kill -9`, a power cut of the
//! runtime only) would leave the most to clean up. Without the `enabled`
//! feature, [`point`] is an empty inline function and the binary holds
//! neither the names nor the environment lookup. With it (only in the
//! test binary `make test` builds into `target/fault-injection/cryo`, via
//! the `cryo` package's `fault-injection` feature), the process SIGKILLs
//! itself at the point the `CRYO_FAULT` environment variable names.
//!
//! `tests/tests/faults.rs` runs every point of [`Point::ALL`] and checks
//! what each leaves behind: the container intact, or removed whole by
//! `delete --force`.

/// Defines [`Point`], [`Point::ALL`] and [`Point::name`] from one list, so
/// the three cannot disagree.
macro_rules! points {
    ($($(#[doc = $doc:literal])* $variant:ident => $name:literal,)*) => {
        /// One crash point. The names (see [`Point::name`]) are what
        /// `CRYO_FAULT` takes.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Point {
            $($(#[doc = $doc])* $variant,)*
        }

        impl Point {
            /// Every point, in the order of the verbs.
            pub const ALL: &'static [Point] = &[$(Point::$variant,)*];

            /// `<verb>.<where>`, the value of `CRYO_FAULT` that fires this point.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Point::$variant => $name,)*
                }
            }
        }
    };
}

points! {
    /// create: the state directory exists (locked), nothing else.
    CreateAfterStateDir => "create.after-state-dir",
    /// create: the cgroup exists, no process yet.
    CreateAfterCgroup => "create.after-cgroup",
    /// create: the init is forked and told cryo its pid; no state yet.
    CreateAfterClone => "create.after-clone",
    /// create: state.json is written; the init waits for `start`.
    CreateAfterState => "create.after-state",
    /// start: the init has exec'd the program; state.json still says created.
    StartAfterExec => "start.after-exec",
    /// exec: stage 1 is forked, not yet in the container's cgroup.
    ExecAfterFork => "exec.after-fork",
    /// exec: the process runs in the container; its pid file is not written.
    ExecAfterSpawn => "exec.after-spawn",
    /// delete: every process is killed; cgroup and state are still there.
    DeleteAfterKill => "delete.after-kill",
    /// delete: the cgroup is removed; the state directory is still there.
    DeleteAfterCgroup => "delete.after-cgroup",
    /// checkpoint: cryo froze the cgroup; CRIU is not started.
    CheckpointAfterFreeze => "checkpoint.after-freeze",
    /// checkpoint: CRIU is started and in no request yet.
    CheckpointAfterCriuSpawned => "checkpoint.after-criu-spawned",
    /// checkpoint: CRIU has seized the tasks and asks to lock the network.
    CheckpointMidDump => "checkpoint.mid-dump",
    /// checkpoint: CRIU has written the images and asks `post-dump` (the
    /// tasks are still alive).
    CheckpointAtPostDump => "checkpoint.at-post-dump",
    /// checkpoint: CRIU finished the dump (and killed the tasks, unless
    /// leave-running); the image is not marked complete yet.
    CheckpointAfterDump => "checkpoint.after-dump",
    /// checkpoint: the image is marked complete; the container (whose
    /// tasks CRIU killed) is not destroyed yet.
    CheckpointBeforeDestroy => "checkpoint.before-destroy",
    /// restore: the cgroup exists.
    RestoreAfterCgroup => "restore.after-cgroup",
    /// restore: the rootfs is bound at `<state>/criu-root`.
    RestoreAfterMount => "restore.after-mount",
    /// restore: CRIU is started, in the cgroup, and in no request yet.
    RestoreAfterCriuSpawned => "restore.after-criu-spawned",
    /// restore: CRIU is restoring and asks to set up namespaces.
    RestoreMidRestore => "restore.mid-restore",
    /// restore: CRIU restored the tree (it runs); no state yet.
    RestoreAfterCriu => "restore.after-criu",
    /// restore: state.json is written; CRIU's root is still mounted.
    RestoreAfterState => "restore.after-state",
}

/// The environment variable naming the point to crash at.
pub const ENV: &str = "CRYO_FAULT";

/// Whether this build has fault points (the test binary only).
pub const ENABLED: bool = cfg!(feature = "enabled");

/// A crash point: SIGKILLs the process if `CRYO_FAULT` names `p` (fault
/// builds only; otherwise nothing).
#[inline(always)]
pub fn point(p: Point) {
    #[cfg(feature = "enabled")]
    if std::env::var_os(ENV).is_some_and(|v| v == p.name()) {
        cryo_sys::process::kill_self();
    }
    #[cfg(not(feature = "enabled"))]
    let _ = p;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_cover_every_point() {
        let mut names: Vec<&str> = Point::ALL.iter().map(|p| p.name()).collect();
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n, "duplicate names");
        for p in Point::ALL {
            let (verb, at) = p.name().split_once('.').unwrap_or_default();
            assert!(!verb.is_empty() && !at.is_empty(), "{p:?}");
        }
    }

    #[cfg(not(feature = "enabled"))]
    #[test]
    fn disabled_points_do_nothing() {
        std::env::set_var(ENV, Point::CreateAfterCgroup.name());
        point(Point::CreateAfterCgroup);
        const { assert!(!ENABLED) };
    }
}
