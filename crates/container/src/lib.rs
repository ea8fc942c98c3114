//! cryo-container
