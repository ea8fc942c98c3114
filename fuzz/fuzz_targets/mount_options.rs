//! OCI mount options: bytes → a list of strings (split on NUL, so an option
//! may contain commas or newlines) → `cryo_container::mount_options::parse`,
//! and each option through `propagation` (`rootfsPropagation`).
#![no_main]

use cryo_container::mount_options::{self, KNOWN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let opts: Vec<String> = data
        .split(|&b| b == 0)
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect();
    if let Ok(o) = mount_options::parse(&opts) {
        // Recognised options never leak into the filesystem data string.
        let data_opts: Vec<&str> = if o.data.is_empty() {
            Vec::new()
        } else {
            o.data.split(',').collect()
        };
        // An option that holds commas ("ro,nosuid") is not one cryo knows:
        // it goes to the data string whole, as with runc, and its parts
        // show up there.
        let parts_of_unknown: Vec<&str> = opts
            .iter()
            .filter(|o| o.contains(','))
            .flat_map(|o| o.split(','))
            .collect();
        for d in data_opts {
            assert!(
                !KNOWN.contains(&d) || parts_of_unknown.contains(&d),
                "known option {d:?} ended up in data {:?}",
                o.data
            );
        }
        if o.recursive {
            assert!(o.bind, "rbind without bind");
        }
    }
    for opt in &opts {
        let _ = mount_options::propagation(opt);
    }
});
