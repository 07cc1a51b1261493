//! The binary: parse, run, map the outcome to an exit code (0 clean, 1 findings, 2 error), and
//! print an error once, on stderr.

use std::process::ExitCode;

use clap::Parser;
use upcycle::cli::Cli;
use upcycle::env::ProcessEnv;
use upcycle::term::Term;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = cli
        .settings(&ProcessEnv)
        .and_then(|settings| upcycle::commands::run(&cli.command, &settings, &ProcessEnv));
    match result {
        Ok(outcome) => ExitCode::from(outcome.code()),
        Err(err) => {
            Term::error(&format!("{err:#}"));
            ExitCode::from(2)
        }
    }
}
