//! cryo-sys
