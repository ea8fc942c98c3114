//! Pure translation of OCI seccomp vocabulary (actions, conditions) to
//! libseccomp's, without touching a filter context.

use libseccomp::{ScmpAction, ScmpArgCompare, ScmpCompareOp};
use oci_spec::runtime::{LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompOperator};

use crate::SeccompError;

/// Number of arguments a system call has at most (indices 0..=5).
pub const MAX_SYSCALL_ARGS: usize = 6;

/// The errno used by `SCMP_ACT_ERRNO` / `SCMP_ACT_TRACE` without `errnoRet`
/// (runtime-spec and runc).
pub const DEFAULT_ERRNO_RET: u32 = libc::EPERM as u32;

/// One validated argument comparison of a rule (`linux.seccomp.syscalls[].args[]`).
///
/// For `SCMP_CMP_MASKED_EQ`, `value` is the mask and `value_two` the value
/// the masked argument must equal (runtime-spec / libseccomp order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArgCondition {
    /// Zero-based argument index (0..=5).
    pub index: u32,
    /// Comparison operator.
    pub op: LinuxSeccompOperator,
    /// First operand (the mask for `MASKED_EQ`).
    pub value: u64,
    /// Second operand (only meaningful for `MASKED_EQ`; 0 when absent).
    pub value_two: u64,
}

impl ArgCondition {
    /// Validates one OCI argument; `field` names it in errors
    /// (e.g. `linux.seccomp.syscalls[3].args[1]`).
    pub fn from_oci(arg: &LinuxSeccompArg, field: &str) -> Result<Self, SeccompError> {
        let index = arg.index();
        if index >= MAX_SYSCALL_ARGS {
            return Err(SeccompError::Invalid {
                field: format!("{field}.index"),
                message: format!(
                    "{index} is out of range: a system call has at most {MAX_SYSCALL_ARGS} arguments (0..=5)"
                ),
            });
        }
        Ok(Self {
            // `index < 6`, the cast cannot truncate.
            index: index as u32,
            op: arg.op(),
            value: arg.value(),
            value_two: arg.value_two().unwrap_or(0),
        })
    }

    /// The libseccomp comparison this condition stands for.
    pub fn to_libseccomp(self) -> ScmpArgCompare {
        match self.op {
            LinuxSeccompOperator::ScmpCmpNe => {
                ScmpArgCompare::new(self.index, ScmpCompareOp::NotEqual, self.value)
            }
            LinuxSeccompOperator::ScmpCmpLt => {
                ScmpArgCompare::new(self.index, ScmpCompareOp::Less, self.value)
            }
            LinuxSeccompOperator::ScmpCmpLe => {
                ScmpArgCompare::new(self.index, ScmpCompareOp::LessOrEqual, self.value)
            }
            LinuxSeccompOperator::ScmpCmpEq => {
                ScmpArgCompare::new(self.index, ScmpCompareOp::Equal, self.value)
            }
            LinuxSeccompOperator::ScmpCmpGe => {
                ScmpArgCompare::new(self.index, ScmpCompareOp::GreaterEqual, self.value)
            }
            LinuxSeccompOperator::ScmpCmpGt => {
                ScmpArgCompare::new(self.index, ScmpCompareOp::Greater, self.value)
            }
            LinuxSeccompOperator::ScmpCmpMaskedEq => ScmpArgCompare::new(
                self.index,
                ScmpCompareOp::MaskedEqual(self.value),
                self.value_two,
            ),
        }
    }
}

/// Splits the conditions of one OCI syscall rule into the libseccomp rules
/// to add, the way runc does:
///
/// * no condition: one unconditional rule (`[[]]`);
/// * every condition on a distinct argument index: one rule with all of
///   them (they are AND-ed);
/// * some argument index repeated: libseccomp cannot compare one argument
///   twice in a rule, so each condition becomes a rule of its own (the
///   conditions are then effectively OR-ed, runc's historical behaviour).
pub fn group_conditions(conds: &[ArgCondition]) -> Vec<Vec<ArgCondition>> {
    let mut counts = [0usize; MAX_SYSCALL_ARGS];
    for c in conds {
        if let Some(n) = counts.get_mut(c.index as usize) {
            *n += 1;
        }
    }
    if counts.iter().any(|&n| n > 1) {
        conds.iter().map(|c| vec![*c]).collect()
    } else {
        vec![conds.to_vec()]
    }
}

/// Translates an OCI action (with its `errnoRet`) to libseccomp's.
///
/// `SCMP_ACT_KILL` is `SCMP_ACT_KILL_THREAD` (as in runc and libseccomp);
/// `ERRNO` and `TRACE` use `errno_ret`, defaulting to `EPERM`; the value
/// must fit the 16-bit `SECCOMP_RET_DATA`. `errno_field` names the
/// `errnoRet` in errors (e.g. `linux.seccomp.syscalls[3].errnoRet`).
pub fn action(
    action: LinuxSeccompAction,
    errno_ret: Option<u32>,
    errno_field: &str,
) -> Result<ScmpAction, SeccompError> {
    let data = || -> Result<u16, SeccompError> {
        let v = errno_ret.unwrap_or(DEFAULT_ERRNO_RET);
        u16::try_from(v).map_err(|_| SeccompError::Invalid {
            field: errno_field.to_string(),
            message: format!("{v} does not fit the 16-bit SECCOMP_RET_DATA (max 65535)"),
        })
    };
    Ok(match action {
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            ScmpAction::KillThread
        }
        LinuxSeccompAction::ScmpActKillProcess => ScmpAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => ScmpAction::Trap,
        LinuxSeccompAction::ScmpActErrno => ScmpAction::Errno(i32::from(data()?)),
        LinuxSeccompAction::ScmpActTrace => ScmpAction::Trace(data()?),
        LinuxSeccompAction::ScmpActLog => ScmpAction::Log,
        LinuxSeccompAction::ScmpActAllow => ScmpAction::Allow,
        LinuxSeccompAction::ScmpActNotify => ScmpAction::Notify,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(index: u32, op: LinuxSeccompOperator, value: u64) -> ArgCondition {
        ArgCondition {
            index,
            op,
            value,
            value_two: 0,
        }
    }

    #[test]
    fn no_condition_is_one_unconditional_rule() {
        assert_eq!(group_conditions(&[]), vec![Vec::<ArgCondition>::new()]);
    }

    #[test]
    fn distinct_indices_stay_in_one_rule() {
        let conds = [
            c(0, LinuxSeccompOperator::ScmpCmpEq, 16),
            c(2, LinuxSeccompOperator::ScmpCmpEq, 9),
        ];
        assert_eq!(group_conditions(&conds), vec![conds.to_vec()]);
    }

    #[test]
    fn repeated_index_splits_every_condition() {
        let conds = [
            c(1, LinuxSeccompOperator::ScmpCmpEq, 0),
            c(0, LinuxSeccompOperator::ScmpCmpNe, 7),
            c(1, LinuxSeccompOperator::ScmpCmpEq, 28),
        ];
        assert_eq!(
            group_conditions(&conds),
            vec![vec![conds[0]], vec![conds[1]], vec![conds[2]]]
        );
    }

    #[test]
    fn masked_eq_uses_value_as_mask() {
        let cond = ArgCondition {
            index: 1,
            op: LinuxSeccompOperator::ScmpCmpMaskedEq,
            value: 0xf0,
            value_two: 0x20,
        };
        assert_eq!(
            cond.to_libseccomp(),
            ScmpArgCompare::new(1, ScmpCompareOp::MaskedEqual(0xf0), 0x20)
        );
    }

    #[test]
    fn actions_map_like_runc() {
        let map = |a, e| action(a, e, "f.errnoRet");
        assert_eq!(
            map(LinuxSeccompAction::ScmpActKill, None).ok(),
            Some(ScmpAction::KillThread)
        );
        assert_eq!(
            map(LinuxSeccompAction::ScmpActErrno, None).ok(),
            Some(ScmpAction::Errno(libc::EPERM))
        );
        assert_eq!(
            map(LinuxSeccompAction::ScmpActErrno, Some(38)).ok(),
            Some(ScmpAction::Errno(38))
        );
        assert_eq!(
            map(LinuxSeccompAction::ScmpActTrace, Some(7)).ok(),
            Some(ScmpAction::Trace(7))
        );
        assert_eq!(
            map(LinuxSeccompAction::ScmpActTrace, None).ok(),
            Some(ScmpAction::Trace(1))
        );
        let err = map(LinuxSeccompAction::ScmpActErrno, Some(70000))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("f.errnoRet") && err.contains("70000"), "{err}");
    }

    #[test]
    fn arg_index_out_of_range_is_an_error() {
        let arg: LinuxSeccompArg =
            serde_json::from_str(r#"{"index":6,"value":1,"op":"SCMP_CMP_EQ"}"#)
                .expect("valid arg JSON");
        let err = ArgCondition::from_oci(&arg, "linux.seccomp.syscalls[0].args[0]")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("linux.seccomp.syscalls[0].args[0].index"),
            "{err}"
        );
    }
}
