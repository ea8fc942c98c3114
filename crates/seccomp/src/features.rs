//! What the `seccomp` part of `cryo features` reports: the actions,
//! operators and filter flags [`crate::compile`] understands, the
//! architectures the linked libseccomp accepts, and the flags the running
//! kernel accepts. Names are the OCI ones (`SCMP_ACT_ERRNO`), sorted like
//! runc's lists except the flags, which keep the kernel's bit order.

use libseccomp::{ScmpAction, ScmpFilterContext};
use oci_spec::runtime::{Arch, LinuxSeccompAction, LinuxSeccompFilterFlag, LinuxSeccompOperator};

use crate::{
    filter_flags_supported, oci_name, scmp_arch, SECCOMP_FILTER_FLAG_LOG,
    SECCOMP_FILTER_FLAG_NEW_LISTENER, SECCOMP_FILTER_FLAG_SPEC_ALLOW, SECCOMP_FILTER_FLAG_TSYNC,
    SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
};

/// Every OCI action; [`crate::rules::action`] maps each of them.
const ACTIONS: [LinuxSeccompAction; 9] = [
    LinuxSeccompAction::ScmpActKill,
    LinuxSeccompAction::ScmpActKillThread,
    LinuxSeccompAction::ScmpActKillProcess,
    LinuxSeccompAction::ScmpActTrap,
    LinuxSeccompAction::ScmpActErrno,
    LinuxSeccompAction::ScmpActTrace,
    LinuxSeccompAction::ScmpActLog,
    LinuxSeccompAction::ScmpActAllow,
    LinuxSeccompAction::ScmpActNotify,
];

/// Every OCI operator; [`crate::ArgCondition::to_libseccomp`] maps each.
const OPERATORS: [LinuxSeccompOperator; 7] = [
    LinuxSeccompOperator::ScmpCmpNe,
    LinuxSeccompOperator::ScmpCmpLt,
    LinuxSeccompOperator::ScmpCmpLe,
    LinuxSeccompOperator::ScmpCmpEq,
    LinuxSeccompOperator::ScmpCmpGe,
    LinuxSeccompOperator::ScmpCmpGt,
    LinuxSeccompOperator::ScmpCmpMaskedEq,
];

/// Every concrete OCI architecture (not `SCMP_ARCH_NATIVE`).
const ARCHS: [Arch; 23] = [
    Arch::ScmpArchX86,
    Arch::ScmpArchX86_64,
    Arch::ScmpArchX32,
    Arch::ScmpArchArm,
    Arch::ScmpArchAarch64,
    Arch::ScmpArchMips,
    Arch::ScmpArchMips64,
    Arch::ScmpArchMips64n32,
    Arch::ScmpArchMipsel,
    Arch::ScmpArchMipsel64,
    Arch::ScmpArchMipsel64n32,
    Arch::ScmpArchPpc,
    Arch::ScmpArchPpc64,
    Arch::ScmpArchPpc64le,
    Arch::ScmpArchS390,
    Arch::ScmpArchS390x,
    Arch::ScmpArchParisc,
    Arch::ScmpArchParisc64,
    Arch::ScmpArchRiscv64,
    Arch::ScmpArchLoongarch64,
    Arch::ScmpArchM68k,
    Arch::ScmpArchSh,
    Arch::ScmpArchSheb,
];

/// The OCI filter flags [`crate::kernel_flags`] translates, with the
/// kernel bits to probe for each (`WAIT_KILLABLE_RECV` is only accepted
/// together with `NEW_LISTENER`).
const FLAGS: [(LinuxSeccompFilterFlag, u32); 4] = [
    (
        LinuxSeccompFilterFlag::SeccompFilterFlagTsync,
        SECCOMP_FILTER_FLAG_TSYNC,
    ),
    (
        LinuxSeccompFilterFlag::SeccompFilterFlagLog,
        SECCOMP_FILTER_FLAG_LOG,
    ),
    (
        LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow,
        SECCOMP_FILTER_FLAG_SPEC_ALLOW,
    ),
    (
        LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv,
        SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV | SECCOMP_FILTER_FLAG_NEW_LISTENER,
    ),
];

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// The seccomp actions cryo handles, sorted.
pub fn actions() -> Vec<String> {
    sorted(ACTIONS.iter().map(oci_name).collect())
}

/// The argument comparison operators cryo handles, sorted.
pub fn operators() -> Vec<String> {
    sorted(OPERATORS.iter().map(oci_name).collect())
}

/// The architectures the linked libseccomp can add to a filter, sorted.
pub fn archs() -> Vec<String> {
    let accepted = |arch: Arch| {
        ScmpFilterContext::new(ScmpAction::Allow)
            .and_then(|mut ctx| ctx.add_arch(scmp_arch(arch)).map(drop))
            .is_ok()
    };
    sorted(
        ARCHS
            .iter()
            .filter(|a| accepted(**a))
            .map(oci_name)
            .collect(),
    )
}

/// The filter flags cryo recognises (`linux.seccomp.flags`).
pub fn known_flags() -> Vec<String> {
    FLAGS.iter().map(|(f, _)| oci_name(f)).collect()
}

/// The recognised flags the running kernel accepts (probed with a
/// harmless `seccomp(2)` call that attaches nothing).
pub fn supported_flags() -> Vec<String> {
    FLAGS
        .iter()
        .filter(|(_, bits)| filter_flags_supported(*bits))
        .map(|(f, _)| oci_name(f))
        .collect()
}

/// The linked libseccomp's version (`2.5.4`), if it can tell.
pub fn libseccomp_version() -> Option<String> {
    libseccomp::ScmpVersion::current()
        .ok()
        .map(|v| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_use_oci_names() {
        let a = actions();
        assert_eq!(a.len(), 9);
        assert!(a.contains(&"SCMP_ACT_ERRNO".to_string()), "{a:?}");
        assert!(a.windows(2).all(|w| w[0] < w[1]));
        let o = operators();
        assert_eq!(o.first().map(String::as_str), Some("SCMP_CMP_EQ"));
        assert!(o.contains(&"SCMP_CMP_MASKED_EQ".to_string()));
        let archs = archs();
        assert!(archs.contains(&"SCMP_ARCH_X86_64".to_string()), "{archs:?}");
        assert!(!archs.iter().any(|a| a == "SCMP_ARCH_NATIVE"));
        assert_eq!(
            known_flags(),
            [
                "SECCOMP_FILTER_FLAG_TSYNC",
                "SECCOMP_FILTER_FLAG_LOG",
                "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"
            ]
        );
        let supported = supported_flags();
        assert!(supported.iter().all(|f| known_flags().contains(f)));
        assert!(supported.contains(&"SECCOMP_FILTER_FLAG_TSYNC".to_string()));
    }
}
