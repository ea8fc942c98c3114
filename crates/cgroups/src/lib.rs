//! cryo-cgroups
