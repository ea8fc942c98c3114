//! `linux.seccomp`: bytes → `cryo_seccomp::parse_profile`, then `compile`
//! (libseccomp builds and exports the BPF program; nothing is loaded into
//! the kernel, only the harmless NULL-program flag probe of seccomp(2)).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let profile = match cryo_seccomp::parse_profile(data) {
        Ok(p) => p,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    match cryo_seccomp::compile(&profile) {
        Ok(filter) => {
            assert!(!filter.program.is_empty(), "compiled an empty program");
            assert!(
                filter.program.len() <= cryo_seccomp::BPF_MAXINSNS,
                "program longer than the kernel accepts"
            );
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
