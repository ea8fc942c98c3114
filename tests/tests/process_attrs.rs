//! Process attributes from the spec: personality, ioPriority, scheduler,
//! execCPUAffinity, seccomp, and the fields cryo refuses with a clear error.

use cryo_e2e::*;
use serde_json::json;

#[test]
fn personality_linux32() {
    let rt = Runtime::cryo();
    let mut b = Bundle::new(&["uname", "-m"]);
    b.config_mut()["linux"]["personality"] = json!({"domain": "LINUX32"});
    let out = rt.run_fg_ok(&b, "pers32");
    assert_eq!(out.trim(), "i686", "{out}");
}

#[test]
fn io_priority_is_applied() {
    let rt = Runtime::cryo();
    let mut b = Bundle::new(&["ionice", "-p", "1"]);
    b.config_mut()["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_IDLE", "priority": 0});
    let out = rt.run_fg_ok(&b, "ioprio");
    assert!(out.contains("idle"), "{out}");
}

#[test]
fn scheduler_policy_is_applied() {
    let rt = Runtime::cryo();
    let mut b = Bundle::new(&["sh", "-c", "cut -d' ' -f41 /proc/self/stat"]);
    b.config_mut()["process"]["scheduler"] = json!({"policy": "SCHED_BATCH", "nice": 5});
    let out = rt.run_fg_ok(&b, "sched");
    // Field 41 of /proc/<pid>/stat is the policy: SCHED_BATCH is 3.
    assert_eq!(out.trim(), "3", "{out}");
}

#[test]
fn exec_cpu_affinity_final() {
    let rt = Runtime::cryo();
    let b = Bundle::new(LONG_RUNNING);
    let c = rt.create(&b, "affinity");
    c.start();
    let mut process = b.config()["process"].clone();
    process["args"] = json!(["sh", "-c", "grep Cpus_allowed_list /proc/self/status"]);
    process["execCPUAffinity"] = json!({"final": "0"});
    let pf = b.path().join("p.json");
    std::fs::write(&pf, process.to_string()).expect("write");
    let out = rt.run_ok(&["exec", "--process", pf.to_str().expect("utf8"), &c.id]);
    assert_eq!(out.stdout.split_whitespace().last(), Some("0"), "{out}");
}

#[test]
fn seccomp_errno_rule_applies_in_the_container() {
    let rt = Runtime::cryo();
    let mut b = Bundle::new(&["sh", "-c", "mkdir /tmp/x && echo made || echo refused"]);
    b.config_mut()["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
    });
    let out = rt.run_fg_ok(&b, "seccomp");
    assert_eq!(out.trim(), "refused", "{out}");
}

#[test]
fn bad_seccomp_profile_fails_create_and_names_it() {
    let rt = Runtime::cryo();
    let mut b = Bundle::new(&["true"]);
    b.config_mut()["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "flags": ["SECCOMP_FILTER_FLAG_NOPE"]
    });
    let (_c, out) = rt.try_create(&b, "badseccomp", &[]);
    assert_eq!(out.code(), Some(1), "{out}");
    assert!(out.stderr.contains("seccomp"), "{out}");
    assert!(rt.root_entries().is_empty(), "{:?}", rt.root_entries());
}

#[test]
fn unsupported_fields_are_refused_clearly() {
    let rt = Runtime::cryo();
    for (name, patch) in [
        ("intelrdt", json!({"linux": {"intelRdt": {"closID": "x"}}})),
        (
            "apparmor",
            json!({"process": {"apparmorProfile": "docker-default"}}),
        ),
        (
            "selinux",
            json!({"process": {"selinuxLabel": "system_u:system_r:container_t:s0"}}),
        ),
        (
            "mountlabel",
            json!({"linux": {"mountLabel": "system_u:object_r:container_file_t:s0"}}),
        ),
    ] {
        let mut b = Bundle::new(&["true"]);
        for (section, fields) in patch.as_object().expect("object") {
            for (k, v) in fields.as_object().expect("object") {
                b.config_mut()[section][k] = v.clone();
            }
        }
        let (_c, out) = rt.try_create(&b, name, &[]);
        assert_eq!(out.code(), Some(1), "{name}: {out}");
        assert!(out.stderr.contains("not supported"), "{name}: {out}");
        assert!(
            rt.root_entries().is_empty(),
            "{name}: {:?}",
            rt.root_entries()
        );
    }
}

#[test]
fn invalid_config_names_the_field_and_never_panics() {
    let rt = Runtime::cryo();
    for (name, patch, field) in [
        (
            "wrongtype",
            json!({"process": {"user": {"uid": "zero", "gid": 0}}}),
            "process.user.uid",
        ),
        (
            "badenum",
            json!({"linux": {"namespaces": [{"type": "bogus"}]}}),
            "linux.namespaces",
        ),
    ] {
        let mut b = Bundle::new(&["true"]);
        for (section, fields) in patch.as_object().expect("object") {
            for (k, v) in fields.as_object().expect("object") {
                b.config_mut()[section][k] = v.clone();
            }
        }
        let (_c, out) = rt.try_create(&b, name, &[]);
        assert_eq!(out.code(), Some(1), "{name}: {out}");
        assert!(
            out.stderr.contains(field),
            "{name}: error must name {field}: {out}"
        );
        assert!(!out.stderr.contains("panicked"), "{out}");
    }
    let b = Bundle::new(&["true"]);
    std::fs::write(b.path().join("config.json"), "{ not json").expect("write");
    let id = unique_id("notjson");
    let _g = rt.guard(&id);
    let out = rt.run_fail(&["create", "--bundle", b.path_str(), &id]);
    assert!(out.stderr.contains("config.json"), "{out}");
    assert!(!out.stderr.contains("panicked"), "{out}");
}
