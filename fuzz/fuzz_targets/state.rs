//! `state.json`: bytes → `cryo_container::store::parse_record`, what
//! `store::read_record` runs on the file. A record that parses is encoded
//! with `store::encode_record`, what `Locked::save` writes, and that output
//! must parse back to the same JSON: otherwise cryo could write a state
//! file it cannot read again. (`Record::state`/`status` read /proc and
//! cgroupfs, so they are not called here.)
#![no_main]

use cryo_container::store::{encode_record, parse_record};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(rec) = parse_record(data) else {
        return;
    };
    // Locked::save turns an encoding error into an error, not a panic.
    let Ok(bytes) = encode_record(&rec) else {
        return;
    };
    let again = match parse_record(&bytes) {
        Ok(r) => r,
        Err(e) => panic!(
            "state.json written by save() does not parse back: {e}\n{}",
            String::from_utf8_lossy(&bytes)
        ),
    };
    // Compare as JSON values: `annotations` is a HashMap, so the byte order
    // of two encodings may differ, and the capability sets of
    // `config.process` are HashSets written as arrays in any order.
    let again = encode_record(&again).expect("a parsed record encodes");
    let mut v1: serde_json::Value = serde_json::from_slice(&bytes).expect("valid JSON");
    let mut v2: serde_json::Value = serde_json::from_slice(&again).expect("valid JSON");
    sort_capability_sets(&mut v1);
    sort_capability_sets(&mut v2);
    assert_eq!(v1, v2, "state.json round trip changed the record");
});

/// Sorts the arrays of every `capabilities` object (bounding, effective,
/// ...), wherever it is.
fn sort_capability_sets(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, child) in m.iter_mut() {
                if k == "capabilities" {
                    if let serde_json::Value::Object(sets) = child {
                        for set in sets.values_mut() {
                            if let serde_json::Value::Array(a) = set {
                                a.sort_by_key(|c| c.to_string());
                            }
                        }
                    }
                }
                sort_capability_sets(child);
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(sort_capability_sets),
        _ => {}
    }
}
