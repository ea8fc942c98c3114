/// `cryo --version`: the shape clients parse (`<name> version <x>`,
/// `commit:`, `spec:`).
pub fn print() {
    println!("cryo version {}", env!("CARGO_PKG_VERSION"));
    println!("commit: {}", env!("CRYO_COMMIT"));
    println!("spec: {}", cryo_oci::OCI_VERSION);
}
