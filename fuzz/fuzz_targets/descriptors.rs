//! The stdio records of a checkpoint image directory, both read by
//! `restore` from images that may come from an imported archive: runc's
//! `descriptors.json` (`cryo_checkpoint::descriptors::parse`) and cryo's
//! `cryo-stdio.json` sidecar (`descriptors::parse_external`). The same
//! bytes go to both parsers (both are JSON arrays). What an accepted
//! document promises restore is checked: it never touches the files named.
#![no_main]

use cryo_checkpoint::descriptors;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match descriptors::parse(data) {
        Ok(v) => {
            // Restore only ever looks at fds 0-2, but the list is bounded.
            assert!(v.len() <= 1024, "{} descriptors accepted", v.len());
            for t in &v {
                let _ = descriptors::is_inherited(t);
            }
        }
        Err(e) => assert!(!e.is_empty()),
    }
    match descriptors::parse_external(data) {
        Ok(v) => {
            // One entry at most for each of fds 0-2, each a CRIU file key:
            // restore maps entry `fd` to its own fd 3 + fd.
            assert!(v.len() <= 3, "{v:?}");
            let mut fds: Vec<i32> = v.iter().map(|e| e.fd).collect();
            fds.sort_unstable();
            fds.dedup();
            assert_eq!(fds.len(), v.len(), "duplicate fd in {v:?}");
            for e in &v {
                assert!((0..3).contains(&e.fd), "{e:?}");
                assert!(e.key.starts_with("file["), "{e:?}");
            }
        }
        Err(e) => assert!(!e.is_empty()),
    }
});
