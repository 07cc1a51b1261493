//! `upcycle action`: the GitHub Action's entry edge (the container image runs it). Secrets are
//! masked first; then the inputs and the GitHub context are folded into one [`ActionContext`]
//! before any logic runs (an invalid input is an error naming it: exit 2); then the command
//! runs through the same code as the CLI, and [`publish`] sends its report to the log, the job
//! summary, the outputs and the sticky PR comment. `check` and `plan` are wired; `apply` and
//! `status` are accepted inputs that this version refuses.

pub mod context;
pub mod inputs;
pub mod publish;
pub mod workflow;

use std::path::{Path, PathBuf};

use anyhow::bail;

pub use context::ActionContext;
pub use inputs::{INPUTS, Input, OUTPUTS, Output};
pub use publish::{Publication, publish};

use crate::Outcome;
use crate::cli::{Cli, Command, FormatArg, GlobalArgs, SandboxArgs};
use crate::commands::{block_on, check, plan, shell_line};
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
    let publication = match ctx.inputs.command {
        ActionCommand::Check => run_check(ctx, env, &settings)?,
        ActionCommand::Plan => run_plan(ctx, env, &settings)?,
        other => bail!(
            "input `command`: {} is not available in the Action yet (check and plan are); run `upcycle {}` in a step instead",
            other.id(),
            if other == ActionCommand::Apply {
                "up"
            } else {
                "status"
            }
        ),
    };
    publish(ctx, publication, term, &cwd)
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
    };
    let report = block_on(check::report(settings, &options))?;
    let counted = report
        .findings
        .iter()
        .filter(|f| f.severity != crate::check::Severity::Info)
        .count();
    Ok(Publication {
        kind: "check",
        key: dirs_key(settings),
        parts: report::check::markdown_parts(&report),
        failed: publish::fails(ctx.inputs.fail_on, &report.findings),
        findings: report.findings.clone(),
        outputs: vec![(Output::FindingsCount, counted.to_string())],
        json: serde_json::to_string_pretty(&report)?,
    })
}

fn run_plan(
    ctx: &ActionContext,
    env: &dyn Env,
    settings: &Settings,
) -> anyhow::Result<Publication> {
    // The CLI's own defaults for everything the Action has no input for.
    let Cli {
        command: Command::Plan(mut args),
        ..
    } = <Cli as clap::Parser>::try_parse_from(["upcycle", "plan"])?
    else {
        bail!("the plan command's defaults could not be read");
    };
    args.db.database_url = ctx.inputs.database_url.clone();
    args.db.environment = ctx.inputs.environment.clone();
    let db = args
        .db
        .settings(env, &settings.config, &settings.config_path)?;
    let (plan, reading) = block_on(plan::plan(settings, &db, &args.target.target()))?;
    let environment = ctx.inputs.environment.as_deref().unwrap_or("default");
    let title = match &ctx.inputs.environment {
        Some(env) => format!("upcycle plan for {env}"),
        None => "upcycle plan".to_string(),
    };
    Ok(Publication {
        kind: "plan",
        key: format!("{}@{environment}", dirs_key(settings)),
        parts: report::plan::markdown_parts(&plan, &title),
        findings: Vec::new(),
        outputs: vec![
            (Output::PendingCount, plan.steps.len().to_string()),
            (Output::PlanDigest, plan.digest.clone()),
        ],
        json: report::plan::render(&plan, &reading, crate::settings::Format::Json),
        failed: false,
    })
}
