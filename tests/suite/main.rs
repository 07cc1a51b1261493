//! upcycle's integration tests, in one test binary: one link instead of one per file, one
//! shared PostgreSQL server (`support`) for every test, and a target folder that fits a small CI
//! disk. Each module below was its own `tests/*.rs` file; `cargo test --test suite <module>::`
//! runs one of them.

// Shared helpers.
mod action_support;
mod common;
mod fake_github;
mod support;

mod action;
mod action_deploy;
mod action_image;
mod apply;
mod apply_concurrency;
mod apply_corpora;
mod apply_faults;
mod apply_paths;
mod check;
mod check_corpora;
mod check_jobs;
mod check_providers;
mod cli;
mod corpora;
mod docs;
mod environments;
mod github;
mod history_compat;
mod layouts;
mod sandbox;
mod schema;
mod tls;
mod workflows;
