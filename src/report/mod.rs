//! Reports: what people and machines read, rendered from domain values. Pure: no I/O.

pub mod check;
pub mod comment;
pub mod deploy;
pub mod docs;
pub mod escape;
pub mod list;
pub mod plan;

use crate::check::{Finding, Severity};

/// `N errors, N warnings, N info` for a list of findings.
pub fn counts(findings: &[Finding]) -> String {
    let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
    let plural = |n: usize, word: &str| {
        if n == 1 {
            format!("{n} {word}")
        } else {
            format!("{n} {word}s")
        }
    };
    format!(
        "{}, {}, {} info",
        plural(count(Severity::Error), "error"),
        plural(count(Severity::Warning), "warning"),
        count(Severity::Info)
    )
}
