//! OCI vocabulary for cryo: loading and validating a bundle's `config.json`,
//! the runtime state document (`cryo state`), container id rules, capability
//! names and the timestamp format runc prints.

pub mod caps;
pub mod id;
pub mod spec;
pub mod state;
pub mod time;

pub use id::{validate_id, IdError};
pub use oci_spec::runtime::Spec;
pub use spec::{default_spec_json, load_process, load_spec, SpecError};
pub use state::{State, Status};

/// The OCI runtime-spec version cryo implements and reports.
pub const OCI_VERSION: &str = "1.0.2-dev";
