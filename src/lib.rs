//! upcycle: make PostgreSQL schema migrations safe to ship.
//!
//! The crate is a pure domain (`migration`, `sql`, `check`, `report`) with I/O at the edges
//! (`source`, `term`, `postgres`, `sandbox`, `github`). Entry edges (`cli`, and `action` for
//! the GitHub Action) turn the outside world into validated settings; `commands` orchestrate;
//! `main` only maps the outcome to an exit code.

pub mod action;
pub mod backup;
pub mod check;
pub mod cli;
pub mod commands;
pub mod config;
pub mod env;
pub mod github;
pub mod history;
pub mod migration;
pub mod plan;
pub mod postgres;
pub mod report;
pub mod sandbox;
pub mod settings;
pub mod source;
pub mod sql;
pub mod term;

/// The exit contract shared by every command (ripgrep's): 0 clean, 1 findings, 2 error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing of error severity was found.
    Clean,
    /// The command ran and found problems of error severity.
    Findings,
}

impl Outcome {
    /// The process exit code for this outcome.
    pub fn code(self) -> u8 {
        match self {
            Outcome::Clean => 0,
            Outcome::Findings => 1,
        }
    }
}
