//! Parsing a `linux.seccomp` object with errors that name the offending
//! field and value.
//!
//! oci-spec already rejects unknown `SCMP_ACT_*` / `SCMP_ARCH_*` /
//! `SECCOMP_FILTER_FLAG_*` / `SCMP_CMP_*` strings at deserialization, but
//! serde's message ("unknown variant `X`, expected one of ...") does not say
//! where. [`check_profile_value`] walks the raw JSON first and reports e.g.
//! `linux.seccomp.architectures[1]: unknown value "SCMP_ARCH_BOGUS"`.

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompFilterFlag, LinuxSeccompOperator,
};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::SeccompError;

/// Checks that `s` deserializes as `T` exactly like oci-spec would.
fn check_enum<T: DeserializeOwned>(v: &Value, field: &str) -> Result<(), SeccompError> {
    match v {
        Value::String(_) => serde_json::from_value::<T>(v.clone())
            .map(drop)
            .map_err(|_| SeccompError::Invalid {
                field: field.to_string(),
                message: format!("unknown value {v}"),
            }),
        _ => Err(SeccompError::Invalid {
            field: field.to_string(),
            message: format!("expected a string, found {v}"),
        }),
    }
}

fn check_list<T: DeserializeOwned>(v: Option<&Value>, field: &str) -> Result<(), SeccompError> {
    match v {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, item)| check_enum::<T>(item, &format!("{field}[{i}]"))),
        Some(other) => Err(SeccompError::Invalid {
            field: field.to_string(),
            message: format!("expected an array, found {other}"),
        }),
    }
}

/// Checks every enumerated string of a raw `linux.seccomp` JSON object
/// (`defaultAction`, `architectures`, `flags`, `syscalls[].action`,
/// `syscalls[].args[].op`); errors name the field path (rooted at
/// `linux.seccomp`) and the bad value. Other shape errors are left to serde.
pub fn check_profile_value(v: &Value) -> Result<(), SeccompError> {
    const ROOT: &str = "linux.seccomp";
    let Some(obj) = v.as_object() else {
        return Ok(());
    };
    if let Some(a) = obj.get("defaultAction") {
        check_enum::<LinuxSeccompAction>(a, &format!("{ROOT}.defaultAction"))?;
    }
    check_list::<Arch>(obj.get("architectures"), &format!("{ROOT}.architectures"))?;
    check_list::<LinuxSeccompFilterFlag>(obj.get("flags"), &format!("{ROOT}.flags"))?;
    if let Some(Value::Array(calls)) = obj.get("syscalls") {
        for (i, call) in calls.iter().enumerate() {
            let field = format!("{ROOT}.syscalls[{i}]");
            if let Some(a) = call.get("action") {
                check_enum::<LinuxSeccompAction>(a, &format!("{field}.action"))?;
            }
            if let Some(Value::Array(args)) = call.get("args") {
                for (j, arg) in args.iter().enumerate() {
                    if let Some(op) = arg.get("op") {
                        check_enum::<LinuxSeccompOperator>(op, &format!("{field}.args[{j}].op"))?;
                    }
                }
            }
        }
    }
    Ok(())
}

/// Parses a `linux.seccomp` JSON object (as found in `config.json`), with
/// field-naming errors for unknown enumerated strings.
pub fn parse_profile(json: &[u8]) -> Result<LinuxSeccomp, SeccompError> {
    let v: Value = serde_json::from_slice(json).map_err(SeccompError::Json)?;
    check_profile_value(&v)?;
    serde_json::from_value(v).map_err(SeccompError::Json)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err_of(json: &str) -> String {
        parse_profile(json.as_bytes())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    }

    #[test]
    fn bad_arch_names_field_and_value() {
        let e = err_of(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_BOGUS"]}"#,
        );
        assert!(e.contains("linux.seccomp.architectures[1]"), "{e}");
        assert!(e.contains("SCMP_ARCH_BOGUS"), "{e}");
    }

    #[test]
    fn bad_flag_names_field_and_value() {
        let e = err_of(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_LOG","SECCOMP_FILTER_FLAG_BOGUS"]}"#,
        );
        assert!(e.contains("linux.seccomp.flags[1]"), "{e}");
        assert!(e.contains("SECCOMP_FILTER_FLAG_BOGUS"), "{e}");
    }

    #[test]
    fn bad_action_and_op_name_field_and_value() {
        let e = err_of(r#"{"defaultAction":"SCMP_ACT_NOPE"}"#);
        assert!(
            e.contains("linux.seccomp.defaultAction") && e.contains("SCMP_ACT_NOPE"),
            "{e}"
        );
        let e = err_of(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["kill"],"action":"SCMP_ACT_ERRNO","args":[{"index":1,"value":0,"op":"SCMP_CMP_ALMOST"}]}]}"#,
        );
        assert!(e.contains("linux.seccomp.syscalls[0].args[0].op"), "{e}");
        assert!(e.contains("SCMP_CMP_ALMOST"), "{e}");
        let e = err_of(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["kill"],"action":"SCMP_ACT_MAYBE"}]}"#,
        );
        assert!(
            e.contains("linux.seccomp.syscalls[0].action") && e.contains("SCMP_ACT_MAYBE"),
            "{e}"
        );
    }

    #[test]
    fn oci_spec_itself_rejects_unknown_values() {
        // Why check_profile_value exists: serde already refuses, without a path.
        let r: Result<LinuxSeccomp, _> = serde_json::from_str(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_BOGUS"]}"#,
        );
        let e = r.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("SCMP_ARCH_BOGUS"), "{e}");
    }

    #[test]
    fn every_known_value_parses() {
        let json = r#"{
            "defaultAction": "SCMP_ACT_KILL_PROCESS",
            "architectures": ["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32","SCMP_ARCH_AARCH64","SCMP_ARCH_ARM",
                "SCMP_ARCH_MIPS64N32","SCMP_ARCH_PPC64LE","SCMP_ARCH_S390X","SCMP_ARCH_RISCV64"],
            "flags": ["SECCOMP_FILTER_FLAG_TSYNC","SECCOMP_FILTER_FLAG_LOG","SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
            "syscalls": [
                {"names":["a"],"action":"SCMP_ACT_KILL"},
                {"names":["b"],"action":"SCMP_ACT_KILL_THREAD"},
                {"names":["c"],"action":"SCMP_ACT_TRAP"},
                {"names":["d"],"action":"SCMP_ACT_ERRNO","errnoRet":1},
                {"names":["e"],"action":"SCMP_ACT_TRACE","errnoRet":1},
                {"names":["f"],"action":"SCMP_ACT_LOG"},
                {"names":["g"],"action":"SCMP_ACT_ALLOW"},
                {"names":["h"],"action":"SCMP_ACT_NOTIFY","args":[
                    {"index":0,"value":1,"op":"SCMP_CMP_NE"},{"index":1,"value":1,"op":"SCMP_CMP_LT"},
                    {"index":2,"value":1,"op":"SCMP_CMP_LE"},{"index":3,"value":1,"op":"SCMP_CMP_EQ"},
                    {"index":4,"value":1,"op":"SCMP_CMP_GE"},{"index":5,"value":1,"op":"SCMP_CMP_GT"},
                    {"index":0,"value":1,"valueTwo":1,"op":"SCMP_CMP_MASKED_EQ"}]}
            ]
        }"#;
        assert!(parse_profile(json.as_bytes()).is_ok());
    }
}
