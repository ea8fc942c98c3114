//! Container ids: bytes (lossy UTF-8) → `cryo_oci::validate_id`. An accepted
//! id names one directory under the state root, so it must never be able to
//! address anything else.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let id = String::from_utf8_lossy(data);
    match cryo_oci::validate_id(&id) {
        Ok(()) => {
            assert!(!id.is_empty());
            assert!(id.len() <= cryo_oci::id::MAX_ID_LEN);
            assert!(id != "." && id != "..", "{id:?}");
            assert!(!id.contains('/') && !id.contains('\0'), "{id:?}");
            // Joined under a root, it stays a single normal component.
            let p = std::path::Path::new("/run/cryo").join(&*id);
            assert_eq!(
                p.parent(),
                Some(std::path::Path::new("/run/cryo")),
                "{id:?}"
            );
            assert_eq!(p.components().count(), 4, "{id:?}");
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
