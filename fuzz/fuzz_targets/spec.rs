//! `config.json`: bytes → `cryo_oci::spec::parse_spec` (serde_path_to_error
//! over oci-spec: the path `cryo create`/`run` use via `load_spec`), then
//! `validate` on success.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // load_spec refuses larger files before parsing.
    if data.len() as u64 > cryo_oci::spec::MAX_CONFIG_BYTES {
        return;
    }
    match cryo_oci::spec::parse_spec(Path::new("config.json"), data) {
        Ok(spec) => {
            let _ = cryo_oci::spec::validate(&spec);
        }
        Err(e) => {
            // Error messages are printed to users: building them must not panic.
            let _ = e.to_string();
        }
    }
});
