//! The one writer to stdout and stderr: reports to stdout, progress and errors to stderr,
//! colour only when asked for and allowed (`--no-color`, `NO_COLOR`, not a terminal).

use std::io::{IsTerminal, Write};

/// How much to say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

/// Output settings shared by every command.
#[derive(Debug, Clone, Copy)]
pub struct Term {
    pub color: bool,
    pub verbosity: Verbosity,
}

impl Term {
    /// Colour when stdout is a terminal and neither `--no-color` nor `NO_COLOR` says otherwise.
    pub fn new(no_color: bool, no_color_env: bool, verbosity: Verbosity) -> Self {
        Term {
            color: !no_color && !no_color_env && std::io::stdout().is_terminal(),
            verbosity,
        }
    }

    /// Writes a report to stdout.
    pub fn out(&self, text: &str) {
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(text.as_bytes());
        if !text.ends_with('\n') && !text.is_empty() {
            let _ = stdout.write_all(b"\n");
        }
        let _ = stdout.flush();
    }

    /// A progress line on stderr (silent with `-q`).
    pub fn progress(&self, line: &str) {
        if self.verbosity >= Verbosity::Normal {
            let _ = writeln!(std::io::stderr().lock(), "{line}");
        }
    }

    /// A detail line on stderr (only with `-v`).
    pub fn detail(&self, line: &str) {
        if self.verbosity >= Verbosity::Verbose {
            let _ = writeln!(std::io::stderr().lock(), "{line}");
        }
    }

    /// Whether a person can answer a question (stdin is a terminal).
    pub fn interactive(&self) -> bool {
        std::io::stdin().is_terminal()
    }

    /// Asks on stderr and reads one line from stdin.
    pub fn ask(&self, prompt: &str) -> Option<String> {
        let _ = write!(std::io::stderr().lock(), "{prompt}");
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).ok()?;
        Some(line.trim().to_string())
    }

    /// The error line, printed once by `main`.
    pub fn error(line: &str) {
        let _ = writeln!(std::io::stderr().lock(), "upcycle: {line}");
    }

    /// `text` in the colour of `severity`, when colour is on.
    pub fn paint(&self, text: &str, severity: crate::check::Severity) -> String {
        if !self.color {
            return text.to_string();
        }
        let code = match severity {
            crate::check::Severity::Error => "31",
            crate::check::Severity::Warning => "33",
            crate::check::Severity::Info => "36",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }
}
