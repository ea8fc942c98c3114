//! `state.json`: bytes → `cryo_container::store::Record` with serde_json,
//! exactly as `store::read_record` parses the file. A record that parses is
//! re-serialized the way `Locked::save` writes it, and that output must
//! parse back to the same JSON: otherwise cryo could write a state file it
//! cannot read again. (`Record::state`/`status` read /proc and cgroupfs, so
//! they are not called here.)
#![no_main]

use cryo_container::store::Record;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(rec) = serde_json::from_slice::<Record>(data) else {
        return;
    };
    // Locked::save turns a serialization error into an error, not a panic.
    let Ok(bytes) = serde_json::to_vec(&rec) else {
        return;
    };
    let again: Record = match serde_json::from_slice(&bytes) {
        Ok(r) => r,
        Err(e) => panic!(
            "state.json written by save() does not parse back: {e}\n{}",
            String::from_utf8_lossy(&bytes)
        ),
    };
    // Compare as JSON values: `annotations` is a HashMap, so the byte order
    // of two serializations may differ.
    let v1: serde_json::Value = serde_json::from_slice(&bytes).expect("valid JSON");
    let v2 = serde_json::to_value(&again).expect("serializes twice");
    assert_eq!(v1, v2, "state.json round trip changed the record");
});
