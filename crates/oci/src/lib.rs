//! cryo-oci
