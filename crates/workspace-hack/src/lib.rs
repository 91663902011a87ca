//! No code: this crate only unifies dependency features across the workspace's
//! builds, so that the README's run, test and Python-install commands share one
//! compilation (see its Cargo.toml).
