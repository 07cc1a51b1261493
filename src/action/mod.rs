//! `upcycle action`: the GitHub Action's entry edge (the container image runs it). Secrets are
//! masked first; then the inputs and the GitHub context are folded into one [`ActionContext`]
//! before any logic runs (an invalid input is an error naming it: exit 2); then the command
//! runs through the same code as the CLI, and [`publish`] sends its report to the log, the job
//! summary, the outputs and the sticky PR comment (on the pull request of the event, or, for a
//! deploy, on the pull request(s) that brought the commit). `check` runs here; `plan`, `apply`
//! and `status` in [`deploy`].

pub mod context;
pub mod deploy;
pub mod inputs;
pub mod publish;
pub mod workflow;

use std::path::{Path, PathBuf};

pub use context::ActionContext;
pub use deploy::Ran;
pub use inputs::{INPUTS, Input, OUTPUTS, Output};
pub use publish::{CommentOn, Publication, publish};

use crate::Outcome;
use crate::cli::{FormatArg, GlobalArgs, SandboxArgs};
use crate::commands::{block_on, check, shell_line};
use crate::env::Env;
use crate::report;
use crate::settings::Settings;
use crate::term::{Term, Verbosity};
use inputs::{ActionCommand, SandboxChoice};

/// Runs the Action: masks, folds the context (reading the event file with `read`), runs the
/// command, publishes. An error is also printed as an `::error::` annotation.
pub fn run(
    env: &dyn Env,
    read: &dyn Fn(&Path) -> std::io::Result<String>,
) -> anyhow::Result<Outcome> {
    let term = Term::new(true, true, Verbosity::Normal);
    for secret in inputs::secrets(env) {
        term.out(&workflow::add_mask(&secret));
    }
    let result = context::fold(env, read).and_then(|ctx| run_folded(&ctx, env, &term));
    if let Err(e) = &result {
        term.out(&workflow::error(&format!("{e:#}")));
    }
    result
}

fn run_folded(ctx: &ActionContext, env: &dyn Env, term: &Term) -> anyhow::Result<Outcome> {
    let settings = GlobalArgs {
        dirs: ctx.inputs.dirs.clone(),
        layout: None,
        format: FormatArg::Markdown,
        quiet: false,
        verbose: false,
        no_color: true,
        config: None,
    }
    .settings(env)?;
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let ran = match ctx.inputs.command {
        ActionCommand::Check => run_check(ctx, env, &settings).map(Ran::ok),
        ActionCommand::Plan => deploy::run_plan(ctx, env, &settings).map(Ran::ok),
        ActionCommand::Apply => deploy::run_apply(ctx, env, &settings),
        ActionCommand::Status => deploy::run_status(ctx, env, &settings).map(Ran::ok),
    };
    // An error before anything was published (nothing changed) goes to the job summary too.
    let ran = match ran {
        Ok(ran) => ran,
        Err(e) => {
            publish::error_summary(ctx, &e)?;
            return Err(e);
        }
    };
    let outcome = publish(ctx, ran.publication, term, &cwd)?;
    // A deploy that failed midway is reported first, then fails the step as an error.
    match ran.failure {
        Some(e) => Err(e),
        None => Ok(outcome),
    }
}

impl Ran {
    fn ok(publication: Publication) -> Ran {
        Ran {
            publication,
            failure: None,
        }
    }
}

/// The comment key of the migration folders: each sticky comment is per folder (set).
fn dirs_key(settings: &Settings) -> String {
    settings
        .dirs
        .iter()
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(",")
}

fn run_check(
    ctx: &ActionContext,
    env: &dyn Env,
    settings: &Settings,
) -> anyhow::Result<Publication> {
    let (sandbox, sandbox_url) = match &ctx.inputs.sandbox {
        SandboxChoice::Provider(p) => (p.id().to_string(), None),
        SandboxChoice::Url(url) => ("url".to_string(), Some(url.clone())),
    };
    let base = ctx.base();
    let mut words = vec!["upcycle".to_string(), "check".to_string()];
    for dir in &settings.dirs {
        words.extend(["--dir".to_string(), dir.display().to_string()]);
    }
    if let Some(base) = &base {
        words.extend(["--base".to_string(), base.clone()]);
    }
    match &sandbox_url {
        Some(url) => words.extend(["--sandbox-url".to_string(), crate::postgres::url::mask(url)]),
        None if sandbox != "auto" => words.extend(["--sandbox".to_string(), sandbox.clone()]),
        None => {}
    }
    let options = check::CheckOptions {
        sandbox: SandboxArgs {
            sandbox: Some(sandbox),
            sandbox_image: ctx.inputs.sandbox_image.clone(),
            sandbox_url,
            pg_bin: None,
        }
        .settings(env)?,
        base,
        full_cycle: false,
        seed: None,
        seed_at: None,
        reproduce: shell_line(words),
        verify_snapshots: false,
        jobs: None,
    };
    let report = block_on(check::report(settings, &options))?;
    // Finding places link to the files at the commit checked (the PR's head, not its merge).
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let head = ctx
        .pull_request()
        .map_or(ctx.github.sha.as_str(), |pr| pr.head_sha.as_str());
    let counted = report
        .findings
        .iter()
        .filter(|f| f.severity != crate::check::Severity::Info)
        .count();
    Ok(Publication {
        kind: "check",
        key: dirs_key(settings),
        comment_on: CommentOn::PullRequest,
        parts: report::check::markdown_parts(&report, &|path, line| {
            let rel = workflow::workspace_relative(path, &cwd, &ctx.github.workspace);
            let outside = rel.starts_with('/') || rel.starts_with("..");
            (!outside).then(|| {
                workflow::blob_url(
                    &ctx.github.server_url,
                    &ctx.github.repository.to_string(),
                    head,
                    &rel,
                    line,
                )
            })
        }),
        failed: publish::fails(ctx.inputs.fail_on, &report.findings),
        findings: report.findings.clone(),
        outputs: vec![(Output::FindingsCount, counted.to_string())],
        json: serde_json::to_string_pretty(&report)?,
    })
}
