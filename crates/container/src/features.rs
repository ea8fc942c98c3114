//! `features`: the OCI runtime features document (runtime-spec
//! `features.md`), describing what cryo actually implements. Field order
//! and omitted fields follow runc's `features` output.

use std::collections::BTreeMap;

use oci_spec::runtime::LinuxNamespaceType;
use serde::Serialize;

use crate::hooks::HookKind;

/// The lowest runtime-spec version cryo accepts.
pub const OCI_VERSION_MIN: &str = "1.0.0";

/// The hooks cryo runs (see `hooks.rs`), in runc's order.
pub const HOOKS: [HookKind; 6] = [
    HookKind::Prestart,
    HookKind::CreateRuntime,
    HookKind::CreateContainer,
    HookKind::StartContainer,
    HookKind::Poststart,
    HookKind::Poststop,
];

/// The features document.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Features {
    pub oci_version_min: String,
    pub oci_version_max: String,
    pub hooks: Vec<String>,
    pub mount_options: Vec<String>,
    pub linux: LinuxFeatures,
    pub annotations: BTreeMap<String, String>,
}

/// `linux`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LinuxFeatures {
    pub namespaces: Vec<LinuxNamespaceType>,
    pub capabilities: Vec<String>,
    pub cgroup: CgroupFeatures,
    pub seccomp: SeccompFeatures,
    pub apparmor: Enabled,
    pub selinux: Enabled,
    pub intel_rdt: Enabled,
}

/// `linux.cgroup`: which cgroup managers are built in.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CgroupFeatures {
    pub v1: bool,
    pub v2: bool,
    pub systemd: bool,
    pub systemd_user: bool,
}

/// `linux.seccomp`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SeccompFeatures {
    pub enabled: bool,
    pub actions: Vec<String>,
    pub operators: Vec<String>,
    pub archs: Vec<String>,
    pub known_flags: Vec<String>,
    pub supported_flags: Vec<String>,
}

/// `{"enabled": bool}`.
#[derive(Debug, Clone, Serialize)]
pub struct Enabled {
    pub enabled: bool,
}

/// What this build of cryo supports. Annotations hold the libseccomp
/// version; the caller adds its own version and commit.
pub fn features() -> Features {
    let namespaces = vec![
        LinuxNamespaceType::Cgroup,
        LinuxNamespaceType::Ipc,
        LinuxNamespaceType::Mount,
        LinuxNamespaceType::Network,
        LinuxNamespaceType::Pid,
        LinuxNamespaceType::Time,
        LinuxNamespaceType::User,
        LinuxNamespaceType::Uts,
    ];
    let mut annotations = BTreeMap::new();
    if let Some(v) = cryo_seccomp::features::libseccomp_version() {
        annotations.insert("io.github.seccomp.libseccomp.version".to_string(), v);
    }
    Features {
        oci_version_min: OCI_VERSION_MIN.to_string(),
        oci_version_max: cryo_oci::OCI_VERSION.to_string(),
        hooks: HOOKS.iter().map(|k| k.name().to_string()).collect(),
        mount_options: crate::mount_options::KNOWN
            .iter()
            .map(|s| s.to_string())
            .collect(),
        linux: LinuxFeatures {
            namespaces,
            capabilities: cryo_oci::caps::NAMES
                .iter()
                .map(|s| s.to_string())
                .collect(),
            cgroup: CgroupFeatures {
                v1: true,
                v2: true,
                systemd: false,
                systemd_user: false,
            },
            seccomp: SeccompFeatures {
                enabled: true,
                actions: cryo_seccomp::features::actions(),
                operators: cryo_seccomp::features::operators(),
                archs: cryo_seccomp::features::archs(),
                known_flags: cryo_seccomp::features::known_flags(),
                supported_flags: cryo_seccomp::features::supported_flags(),
            },
            apparmor: Enabled { enabled: false },
            selinux: Enabled { enabled: false },
            intel_rdt: Enabled { enabled: false },
        },
        annotations,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_follows_the_oci_schema() {
        let f = features();
        let text = serde_json::to_string(&f).expect("json");
        let parsed: oci_spec::runtime::Features = serde_json::from_str(&text).expect("oci types");
        assert_eq!(parsed.oci_version_min(), "1.0.0");
        assert_eq!(
            parsed.hooks().as_deref(),
            Some(
                &[
                    "prestart",
                    "createRuntime",
                    "createContainer",
                    "startContainer",
                    "poststart",
                    "poststop"
                ]
                .map(String::from)[..]
            )
        );
        let linux = parsed.linux().as_ref().expect("linux");
        let ns = linux.namespaces().as_ref().expect("namespaces");
        assert_eq!(ns.len(), 8);
        assert!(ns.contains(&LinuxNamespaceType::Time));
        let v: serde_json::Value = serde_json::from_str(&text).expect("value");
        assert_eq!(v["linux"]["namespaces"][5], "time");
        assert_eq!(v["linux"]["namespaces"][2], "mount");
        assert_eq!(v["linux"]["seccomp"]["enabled"], true);
        assert_eq!(v["linux"]["intelRdt"]["enabled"], false);
        assert_eq!(v["linux"]["cgroup"]["systemdUser"], false);
        assert_eq!(v["linux"]["capabilities"][0], "CAP_CHOWN");
        assert!(v["mountOptions"]
            .as_array()
            .expect("array")
            .contains(&serde_json::json!("rbind")));
    }
}
