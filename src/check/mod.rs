//! Findings: the one currency every check pays in (reading, integrity, lint, schema proofs).

pub mod base;
mod codes;
mod finding;
pub mod jobs;
pub mod report;
pub mod schema;

pub use codes::{CODES, Code, CodeSpec};
pub use finding::{Finding, Severity};
