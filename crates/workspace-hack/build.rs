//! Empty: present so that Cargo resolves this crate's build-dependencies, which unify
//! the features of the host dependencies (see Cargo.toml).
fn main() {}
