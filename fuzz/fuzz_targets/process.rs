//! `exec --process` files: bytes → `cryo_oci::spec::parse_process` (what
//! `load_process` does after reading the file).
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() as u64 > cryo_oci::spec::MAX_CONFIG_BYTES {
        return;
    }
    match cryo_oci::spec::parse_process(Path::new("process.json"), data) {
        Ok(p) => {
            let _ = p.args();
            let _ = p.cwd();
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
