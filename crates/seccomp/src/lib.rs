//! OCI `linux.seccomp` support.
//!
//! The profile is compiled with libseccomp **in the runtime's parent
//! process, before it forks** ([`compile`]): a bad profile fails
//! `cryo create` with a clear error and nothing is created. The result, a
//! [`CompiledFilter`], is a plain classic-BPF program plus the
//! `seccomp(2)` flags; the container's init process, right before `execve`,
//! only calls [`cryo_sys::seccomp::set_no_new_privs`] (unless it keeps
//! `CAP_SYS_ADMIN`) and [`CompiledFilter::install`]
//! ([`cryo_sys::seccomp::install_filter`]): one system call, no libseccomp,
//! no allocation.
//!
//! Semantics follow runc:
//! * `SCMP_ACT_KILL` is `SCMP_ACT_KILL_THREAD`; `ERRNO` and `TRACE` without
//!   `errnoRet` (or `defaultErrnoRet`) use `EPERM`;
//! * syscall names unknown to libseccomp are skipped (listed in
//!   [`CompiledFilter::skipped_syscalls`]), and so is a rule whose action
//!   (including its errno) equals the default action;
//! * conditions of one rule on distinct arguments are AND-ed in one rule;
//!   if an argument index repeats, each condition becomes its own rule
//!   ([`group_conditions`]);
//! * the native architecture is always in the filter, the listed ones are
//!   added;
//! * `SCMP_ACT_NOTIFY` adds `SECCOMP_FILTER_FLAG_NEW_LISTENER`; it cannot
//!   be the default action nor apply to `write` (runc's rules: the runtime
//!   itself would block on them before the agent has the listener fd).
//!
//! Not done (unlike runc): the "-ENOSYS stub" patching that makes
//! syscalls newer than the profile fail with `ENOSYS` instead of the
//! default action. Profiles whose default is `SCMP_ACT_ERRNO` with
//! `defaultErrnoRet: 38` (Podman's, Docker's recent ones) already behave so.

pub mod features;
mod json;
mod listener;
mod rules;

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::fd::OwnedFd;
use std::path::PathBuf;

use libseccomp::{ScmpAction, ScmpArch, ScmpFilterContext, ScmpSyscall, ScmpVersion};
use oci_spec::runtime::{Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompFilterFlag};

pub use cryo_sys::seccomp::{
    filter_flags_supported, install_filter, set_no_new_privs, BPF_MAXINSNS,
    SECCOMP_FILTER_FLAG_LOG, SECCOMP_FILTER_FLAG_NEW_LISTENER, SECCOMP_FILTER_FLAG_SPEC_ALLOW,
    SECCOMP_FILTER_FLAG_TSYNC, SECCOMP_FILTER_FLAG_TSYNC_ESRCH,
    SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
};
pub use json::{check_profile_value, parse_profile};
pub use listener::{listener_payload, send_listener_fd};
pub use rules::{group_conditions, ArgCondition, DEFAULT_ERRNO_RET, MAX_SYSCALL_ARGS};

/// Why a seccomp profile could not be compiled, or a listener fd not sent.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    /// A field of the profile has an invalid value; `field` is its path
    /// (e.g. `linux.seccomp.syscalls[3].errnoRet`).
    #[error("{field}: {message}")]
    Invalid {
        /// Path of the offending field, rooted at `linux.seccomp`.
        field: String,
        /// What is wrong with its value (names the value).
        message: String,
    },
    /// The profile is not valid JSON / does not match the OCI schema.
    #[error("linux.seccomp: {0}")]
    Json(#[source] serde_json::Error),
    /// An architecture valid for OCI is not known to this libseccomp.
    #[error(
        "linux.seccomp.architectures[{index}]: {arch} is not supported by libseccomp {version}"
    )]
    UnsupportedArch {
        /// Position in `architectures`.
        index: usize,
        /// The OCI name, e.g. `SCMP_ARCH_LOONGARCH64`.
        arch: String,
        /// libseccomp's version.
        version: String,
        /// libseccomp's error.
        #[source]
        source: libseccomp::error::SeccompError,
    },
    /// A filter flag (or the combination the profile needs) is refused by
    /// the running kernel.
    #[error("linux.seccomp.flags: {flag} is not supported by the running kernel ({kernel_hint})")]
    UnsupportedFlag {
        /// The flag's name, e.g. `SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV`.
        flag: &'static str,
        /// Minimum kernel that has it.
        kernel_hint: &'static str,
    },
    /// libseccomp refused an operation.
    #[error("linux.seccomp: libseccomp failed to {what}: {source}")]
    Libseccomp {
        /// What was being done (names the rule / syscall).
        what: String,
        /// libseccomp's error.
        #[source]
        source: libseccomp::error::SeccompError,
    },
    /// The compiled program exceeds the kernel's size limit.
    #[error("linux.seccomp: the compiled BPF program has {0} instructions, more than the kernel's limit of 4096")]
    TooLong(usize),
    /// Exporting the BPF program, or talking to the seccomp agent, failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

/// A profile compiled to a kernel-ready program, built in the parent and
/// handed to the container child (which inherits it through `fork`).
#[derive(Debug, Clone)]
pub struct CompiledFilter {
    /// The classic-BPF program, exactly what libseccomp would load.
    pub program: Vec<libc::sock_filter>,
    /// `SECCOMP_FILTER_FLAG_*` flags for `seccomp(SECCOMP_SET_MODE_FILTER)`
    /// (already checked against the running kernel).
    pub flags: u32,
    /// Some rule uses `SCMP_ACT_NOTIFY`: `flags` contains
    /// `SECCOMP_FILTER_FLAG_NEW_LISTENER` and installing returns the
    /// listener fd, to be sent to `listener_path` ([`send_listener_fd`]).
    pub notify: bool,
    /// `listenerPath`: the seccomp agent's unix socket (always `Some` when
    /// `notify`).
    pub listener_path: Option<PathBuf>,
    /// `listenerMetadata`: opaque string for the agent (goes into the
    /// `metadata` of the payload, see [`listener_payload`]).
    pub listener_metadata: Option<String>,
    /// Syscall names of the profile unknown to libseccomp, skipped (worth a
    /// debug log line, not an error, as in runc).
    pub skipped_syscalls: Vec<String>,
}

impl CompiledFilter {
    /// Installs the program on the calling thread (all threads with
    /// `TSYNC`), see [`install_filter`]: call it last before `execve`, after
    /// [`set_no_new_privs`] unless the process has `CAP_SYS_ADMIN`. Returns
    /// the listener fd when [`Self::notify`].
    pub fn install(&self) -> io::Result<Option<OwnedFd>> {
        install_filter(&self.program, self.flags)
    }
}

fn oci_name<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::from("?"),
    }
}

fn scmp_arch(arch: Arch) -> ScmpArch {
    match arch {
        Arch::ScmpArchNative => ScmpArch::Native,
        Arch::ScmpArchX86 => ScmpArch::X86,
        Arch::ScmpArchX86_64 => ScmpArch::X8664,
        Arch::ScmpArchX32 => ScmpArch::X32,
        Arch::ScmpArchArm => ScmpArch::Arm,
        Arch::ScmpArchAarch64 => ScmpArch::Aarch64,
        Arch::ScmpArchMips => ScmpArch::Mips,
        Arch::ScmpArchMips64 => ScmpArch::Mips64,
        Arch::ScmpArchMips64n32 => ScmpArch::Mips64N32,
        Arch::ScmpArchMipsel => ScmpArch::Mipsel,
        Arch::ScmpArchMipsel64 => ScmpArch::Mipsel64,
        Arch::ScmpArchMipsel64n32 => ScmpArch::Mipsel64N32,
        Arch::ScmpArchPpc => ScmpArch::Ppc,
        Arch::ScmpArchPpc64 => ScmpArch::Ppc64,
        Arch::ScmpArchPpc64le => ScmpArch::Ppc64Le,
        Arch::ScmpArchS390 => ScmpArch::S390,
        Arch::ScmpArchS390x => ScmpArch::S390X,
        Arch::ScmpArchParisc => ScmpArch::Parisc,
        Arch::ScmpArchParisc64 => ScmpArch::Parisc64,
        Arch::ScmpArchRiscv64 => ScmpArch::Riscv64,
        Arch::ScmpArchLoongarch64 => ScmpArch::Loongarch64,
        Arch::ScmpArchM68k => ScmpArch::M68k,
        Arch::ScmpArchSh => ScmpArch::Sh,
        Arch::ScmpArchSheb => ScmpArch::Sheb,
    }
}

/// Kernel flag bit, name, and first kernel that has it.
const FLAG_INFO: [(u32, &str, &str); 6] = [
    (SECCOMP_FILTER_FLAG_TSYNC, "SECCOMP_FILTER_FLAG_TSYNC", "Linux 3.17"),
    (SECCOMP_FILTER_FLAG_LOG, "SECCOMP_FILTER_FLAG_LOG", "Linux 4.14"),
    (SECCOMP_FILTER_FLAG_SPEC_ALLOW, "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "Linux 4.17"),
    (
        SECCOMP_FILTER_FLAG_NEW_LISTENER,
        "SECCOMP_FILTER_FLAG_NEW_LISTENER (needed by SCMP_ACT_NOTIFY)",
        "Linux 5.0",
    ),
    (
        SECCOMP_FILTER_FLAG_TSYNC_ESRCH,
        "SECCOMP_FILTER_FLAG_TSYNC_ESRCH (needed by SECCOMP_FILTER_FLAG_TSYNC with SCMP_ACT_NOTIFY)",
        "Linux 5.7",
    ),
    (
        SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
        "Linux 5.19",
    ),
];

/// Translates the profile's `flags` (plus what `notify` implies) to kernel
/// flags, pure: no kernel probing.
///
/// * `TSYNC`, `LOG`, `SPEC_ALLOW` pass through;
/// * `notify` adds `NEW_LISTENER`, and with `TSYNC` also `TSYNC_ESRCH`
///   (the kernel refuses `TSYNC|NEW_LISTENER` without it; libseccomp does
///   the same);
/// * `WAIT_KILLABLE_RECV` is only meaningful with a listener (the kernel
///   refuses it without `NEW_LISTENER`): kept when `notify`, dropped
///   otherwise, as libseccomp's `SCMP_FLTATR_CTL_WAITKILL` does.
pub fn kernel_flags(flags: &[LinuxSeccompFilterFlag], notify: bool) -> u32 {
    let mut out = 0;
    for f in flags {
        out |= match f {
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => SECCOMP_FILTER_FLAG_TSYNC,
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => SECCOMP_FILTER_FLAG_LOG,
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => SECCOMP_FILTER_FLAG_SPEC_ALLOW,
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv if notify => {
                SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
            }
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => 0,
        };
    }
    if notify {
        out |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
        if out & SECCOMP_FILTER_FLAG_TSYNC != 0 {
            out |= SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
        }
    }
    out
}

/// Checks `flags` against the running kernel; the error names the first
/// flag the kernel refuses.
fn check_kernel_flags(flags: u32) -> Result<(), SeccompError> {
    if flags == 0 || filter_flags_supported(flags) {
        return Ok(());
    }
    for (bit, name, kernel) in FLAG_INFO {
        if flags & bit == 0 {
            continue;
        }
        // WAIT_KILLABLE_RECV is only accepted together with NEW_LISTENER.
        let probe = if bit == SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV {
            bit | SECCOMP_FILTER_FLAG_NEW_LISTENER
        } else {
            bit
        };
        if !filter_flags_supported(probe) {
            return Err(SeccompError::UnsupportedFlag {
                flag: name,
                kernel_hint: kernel,
            });
        }
    }
    Err(SeccompError::UnsupportedFlag {
        flag: "the combination of the requested flags",
        kernel_hint: "see seccomp(2)",
    })
}

fn libseccomp_version() -> String {
    ScmpVersion::current()
        .map(|v| v.to_string())
        .unwrap_or_else(|_| String::from("(unknown version)"))
}

/// Compiles an OCI `linux.seccomp` profile to a BPF program, without
/// loading anything. Run it in the runtime before forking the container.
///
/// May probe the running kernel for the filter flags it needs (a harmless
/// `seccomp(2)` call with a NULL program that attaches nothing).
pub fn compile(seccomp: &LinuxSeccomp) -> Result<CompiledFilter, SeccompError> {
    const ROOT: &str = "linux.seccomp";
    let default_action = rules::action(
        seccomp.default_action(),
        seccomp.default_errno_ret(),
        &format!("{ROOT}.defaultErrnoRet"),
    )?;
    if default_action == ScmpAction::Notify {
        return Err(SeccompError::Invalid {
            field: format!("{ROOT}.defaultAction"),
            message: String::from(
                "SCMP_ACT_NOTIFY cannot be the default action (the runtime itself would block before the agent gets the listener)",
            ),
        });
    }

    let syscalls = seccomp.syscalls().as_deref().unwrap_or_default();
    let mut notify = false;
    for (i, call) in syscalls.iter().enumerate() {
        if call.action() == LinuxSeccompAction::ScmpActNotify {
            notify = true;
            if call.names().iter().any(|n| n == "write") {
                return Err(SeccompError::Invalid {
                    field: format!("{ROOT}.syscalls[{i}].action"),
                    message: String::from(
                        "SCMP_ACT_NOTIFY cannot be used for the write syscall (the runtime itself needs it before the agent gets the listener)",
                    ),
                });
            }
        }
    }
    if notify && seccomp.listener_path().is_none() {
        return Err(SeccompError::Invalid {
            field: format!("{ROOT}.listenerPath"),
            message: String::from("required when a rule uses SCMP_ACT_NOTIFY"),
        });
    }

    let lib = |what: String| move |source| SeccompError::Libseccomp { what, source };
    let mut ctx = ScmpFilterContext::new(default_action).map_err(lib(format!(
        "create a filter with default action {default_action:?}"
    )))?;
    // Real errno values in libseccomp's errors (libseccomp >= 2.5.0).
    let _ = ctx.set_api_sysrawrc(true);

    for (index, arch) in seccomp.architectures().iter().flatten().enumerate() {
        ctx.add_arch(scmp_arch(*arch))
            .map_err(|source| SeccompError::UnsupportedArch {
                index,
                arch: oci_name(arch),
                version: libseccomp_version(),
                source,
            })?;
    }

    let mut skipped_syscalls = Vec::new();
    let mut added = 0usize;
    for (i, call) in syscalls.iter().enumerate() {
        let field = format!("{ROOT}.syscalls[{i}]");
        let action = rules::action(
            call.action(),
            call.errno_ret(),
            &format!("{field}.errnoRet"),
        )?;
        let conds = call
            .args()
            .iter()
            .flatten()
            .enumerate()
            .map(|(j, a)| ArgCondition::from_oci(a, &format!("{field}.args[{j}]")))
            .collect::<Result<Vec<_>, _>>()?;
        if action == default_action {
            // Redundant; libseccomp would refuse it.
            continue;
        }
        let groups: Vec<Vec<_>> = group_conditions(&conds)
            .into_iter()
            .map(|g| g.into_iter().map(ArgCondition::to_libseccomp).collect())
            .collect();
        for name in call.names() {
            let Ok(nr) = ScmpSyscall::from_name(name) else {
                skipped_syscalls.push(name.clone());
                continue;
            };
            for group in &groups {
                ctx.add_rule_conditional(action, nr, group)
                    .map_err(lib(format!("add {field} ({name}, {action:?})")))?;
                added += 1;
            }
        }
    }
    // Like runc: a binary tree for long rule sets (libseccomp <= 2.5.4
    // misbehaves with it and no rule at all); not fatal if unavailable.
    if added > 32 {
        let _ = ctx.set_ctl_optimize(2);
    }

    let flags = kernel_flags(seccomp.flags().as_deref().unwrap_or_default(), notify);
    check_kernel_flags(flags)?;

    let program = export(&ctx)?;
    Ok(CompiledFilter {
        program,
        flags,
        notify,
        listener_path: seccomp.listener_path().clone(),
        listener_metadata: seccomp.listener_metadata().clone(),
        skipped_syscalls,
    })
}

/// Exports the filter's BPF through a memfd and decodes it.
fn export(ctx: &ScmpFilterContext) -> Result<Vec<libc::sock_filter>, SeccompError> {
    let io_err = |what: &str| {
        let what = format!("linux.seccomp: {what}");
        move |source| SeccompError::Io { what, source }
    };
    let fd =
        nix::sys::memfd::memfd_create("cryo-seccomp-bpf", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
            .map_err(|e| io_err("memfd_create for the BPF export")(io::Error::from(e)))?;
    ctx.export_bpf(&fd)
        .map_err(|source| SeccompError::Libseccomp {
            what: String::from("export the BPF program"),
            source,
        })?;
    let mut file = File::from(fd);
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0))
        .and_then(|_| file.read_to_end(&mut bytes))
        .map_err(io_err("reading back the exported BPF program"))?;
    let program = decode_bpf(&bytes)?;
    if program.is_empty() {
        return Err(io_err("exported BPF program")(io::Error::new(
            io::ErrorKind::InvalidData,
            "libseccomp exported an empty program",
        )));
    }
    if program.len() > BPF_MAXINSNS {
        return Err(SeccompError::TooLong(program.len()));
    }
    Ok(program)
}

/// Decodes libseccomp's `seccomp_export_bpf` output: an array of native
/// `struct sock_filter { u16 code; u8 jt; u8 jf; u32 k; }` (8 bytes each).
pub fn decode_bpf(bytes: &[u8]) -> Result<Vec<libc::sock_filter>, SeccompError> {
    const INSN: usize = std::mem::size_of::<libc::sock_filter>();
    let chunks = bytes.chunks_exact(INSN);
    if !chunks.remainder().is_empty() {
        return Err(SeccompError::Io {
            what: String::from("linux.seccomp: exported BPF program"),
            source: io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{} bytes is not a whole number of {INSN}-byte instructions",
                    bytes.len()
                ),
            ),
        });
    }
    Ok(chunks
        .map(|c| libc::sock_filter {
            code: u16::from_ne_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(json: &str) -> LinuxSeccomp {
        parse_profile(json.as_bytes()).expect("test profile parses")
    }

    fn podman() -> LinuxSeccomp {
        let bytes = include_bytes!("../tests/fixtures/podman-default-seccomp.json");
        parse_profile(bytes).expect("podman profile parses")
    }

    #[test]
    fn podman_default_profile_compiles() {
        let f = compile(&podman()).expect("podman profile compiles");
        assert!(
            f.program.len() > 10,
            "program has {} insns",
            f.program.len()
        );
        assert!(f.program.len() <= BPF_MAXINSNS);
        assert_eq!(f.flags, 0);
        assert!(!f.notify);
        assert!(f.skipped_syscalls.is_empty(), "{:?}", f.skipped_syscalls);
    }

    #[test]
    fn unknown_syscall_is_skipped() {
        let f = compile(&profile(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
                {"names":["mkdir","cryo_no_such_syscall"],"action":"SCMP_ACT_ERRNO"}]}"#,
        ))
        .expect("compiles");
        assert_eq!(
            f.skipped_syscalls,
            vec![String::from("cryo_no_such_syscall")]
        );
        assert!(!f.program.is_empty());
    }

    #[test]
    fn rule_equal_to_default_is_skipped() {
        let only_default = compile(&profile(r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#)).expect("ok");
        let redundant = compile(&profile(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,"syscalls":[
                {"names":["mkdir"],"action":"SCMP_ACT_ERRNO","errnoRet":1},
                {"names":["rmdir"],"action":"SCMP_ACT_ERRNO"}]}"#,
        ))
        .expect("redundant rules are skipped, not refused");
        assert_eq!(redundant.program.len(), only_default.program.len());
    }

    #[test]
    fn repeated_arg_index_compiles() {
        compile(&profile(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["kill"],"action":"SCMP_ACT_ERRNO",
                "args":[{"index":1,"value":0,"op":"SCMP_CMP_EQ"},{"index":1,"value":28,"op":"SCMP_CMP_EQ"}]}]}"#,
        ))
        .expect("split into two rules");
    }

    #[test]
    fn all_actions_and_ops_compile() {
        let f = compile(&profile(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,
                "architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32","SCMP_ARCH_AARCH64","SCMP_ARCH_ARM"],
                "flags":["SECCOMP_FILTER_FLAG_LOG","SECCOMP_FILTER_FLAG_SPEC_ALLOW","SECCOMP_FILTER_FLAG_TSYNC"],
                "syscalls":[
                {"names":["reboot"],"action":"SCMP_ACT_KILL"},
                {"names":["kexec_load"],"action":"SCMP_ACT_KILL_PROCESS"},
                {"names":["acct"],"action":"SCMP_ACT_KILL_THREAD"},
                {"names":["swapon"],"action":"SCMP_ACT_TRAP"},
                {"names":["mkdir"],"action":"SCMP_ACT_ERRNO","errnoRet":42},
                {"names":["ptrace"],"action":"SCMP_ACT_TRACE","errnoRet":3},
                {"names":["getpid"],"action":"SCMP_ACT_LOG"},
                {"names":["exit_group","read","write"],"action":"SCMP_ACT_ALLOW"},
                {"names":["openat"],"action":"SCMP_ACT_ALLOW","args":[
                    {"index":0,"value":1,"op":"SCMP_CMP_NE"},{"index":1,"value":2,"op":"SCMP_CMP_LT"},
                    {"index":2,"value":3,"op":"SCMP_CMP_LE"}]},
                {"names":["dup3"],"action":"SCMP_ACT_ALLOW","args":[
                    {"index":0,"value":1,"op":"SCMP_CMP_EQ"},{"index":1,"value":2,"op":"SCMP_CMP_GE"},
                    {"index":2,"value":524288,"valueTwo":524288,"op":"SCMP_CMP_MASKED_EQ"}]},
                {"names":["kill"],"action":"SCMP_ACT_ALLOW","args":[{"index":1,"value":9,"op":"SCMP_CMP_GT"}]}
            ]}"#,
        ))
        .expect("compiles");
        assert_eq!(
            f.flags,
            SECCOMP_FILTER_FLAG_LOG | SECCOMP_FILTER_FLAG_SPEC_ALLOW | SECCOMP_FILTER_FLAG_TSYNC
        );
    }

    #[test]
    fn notify_sets_new_listener_and_keeps_listener_fields() {
        let f = compile(&profile(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/run/agent.sock","listenerMetadata":"meta",
                "flags":["SECCOMP_FILTER_FLAG_TSYNC"],
                "syscalls":[{"names":["getcwd"],"action":"SCMP_ACT_NOTIFY"}]}"#,
        ))
        .expect("compiles");
        assert!(f.notify);
        assert_eq!(
            f.flags,
            SECCOMP_FILTER_FLAG_NEW_LISTENER
                | SECCOMP_FILTER_FLAG_TSYNC
                | SECCOMP_FILTER_FLAG_TSYNC_ESRCH
        );
        assert_eq!(f.listener_path, Some(PathBuf::from("/run/agent.sock")));
        assert_eq!(f.listener_metadata.as_deref(), Some("meta"));
    }

    #[test]
    fn notify_misuse_is_refused() {
        let e = |j: &str| {
            compile(&profile(j))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        let msg = e(r#"{"defaultAction":"SCMP_ACT_NOTIFY","listenerPath":"/x"}"#);
        assert!(msg.contains("linux.seccomp.defaultAction"), "{msg}");
        let msg = e(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getcwd"],"action":"SCMP_ACT_NOTIFY"}]}"#,
        );
        assert!(msg.contains("linux.seccomp.listenerPath"), "{msg}");
        let msg = e(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/x","syscalls":[{"names":["read","write"],"action":"SCMP_ACT_NOTIFY"}]}"#,
        );
        assert!(
            msg.contains("linux.seccomp.syscalls[0].action") && msg.contains("write"),
            "{msg}"
        );
    }

    #[test]
    fn wait_killable_recv_only_with_listener() {
        let without = compile(&profile(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]}"#,
        ))
        .expect("dropped without a listener");
        assert_eq!(without.flags, 0);
        let flags = kernel_flags(
            &[LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv],
            true,
        );
        assert_eq!(
            flags,
            SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV | SECCOMP_FILTER_FLAG_NEW_LISTENER
        );
        // With a listener: accepted on Linux >= 5.19, else an error naming it.
        let r = compile(&profile(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/x","flags":["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
                "syscalls":[{"names":["getcwd"],"action":"SCMP_ACT_NOTIFY"}]}"#,
        ));
        match r {
            Ok(f) => assert_eq!(f.flags, flags),
            Err(e) => {
                let msg = e.to_string();
                assert!(
                    msg.contains("SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"),
                    "{msg}"
                );
            }
        }
    }

    #[test]
    fn bad_values_name_the_field() {
        let e = |j: &str| {
            compile(&profile(j))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        let msg = e(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["kill"],"action":"SCMP_ACT_ERRNO","args":[{"index":9,"value":0,"op":"SCMP_CMP_EQ"}]}]}"#,
        );
        assert!(
            msg.contains("linux.seccomp.syscalls[0].args[0].index") && msg.contains('9'),
            "{msg}"
        );
        let msg = e(r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":65536}"#);
        assert!(
            msg.contains("linux.seccomp.defaultErrnoRet") && msg.contains("65536"),
            "{msg}"
        );
    }

    #[test]
    fn arch_unknown_to_libseccomp_names_it() {
        // LoongArch64 is valid OCI but needs libseccomp >= 2.6.
        let r = compile(&profile(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_LOONGARCH64"]}"#,
        ));
        let new_enough = ScmpVersion::current()
            .map(|v| (v.major, v.minor) >= (2, 6))
            .unwrap_or(false);
        match r {
            Ok(_) => assert!(new_enough, "libseccomp < 2.6 accepted LoongArch64"),
            Err(e) => {
                let msg = e.to_string();
                assert!(!new_enough, "{msg}");
                assert!(
                    msg.contains("linux.seccomp.architectures[1]")
                        && msg.contains("SCMP_ARCH_LOONGARCH64"),
                    "{msg}"
                );
            }
        }
    }

    #[test]
    fn decode_rejects_partial_instruction() {
        assert!(decode_bpf(&[0u8; 12]).is_err());
        let one = decode_bpf(&[6, 0, 1, 2, 0, 0, 0xff, 0x7f]).expect("one insn");
        assert_eq!((one[0].code, one[0].jt, one[0].jf), (6, 1, 2));
        assert_eq!(one[0].k, u32::from_ne_bytes([0, 0, 0xff, 0x7f]));
    }
}
