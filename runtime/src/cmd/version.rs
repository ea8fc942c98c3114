/// `cryo --version`: the shape clients parse (`<name> version <x>`,
/// `commit:`, `spec:`). A test build with crash points says so.
pub fn print() {
    println!("cryo version {}", env!("CARGO_PKG_VERSION"));
    println!("commit: {}", env!("CRYO_COMMIT"));
    println!("spec: {}", cryo_oci::OCI_VERSION);
    if cryo_faults::ENABLED {
        println!(
            "fault-injection: enabled (a test build: {} names a point to crash at)",
            cryo_faults::ENV
        );
    }
}
