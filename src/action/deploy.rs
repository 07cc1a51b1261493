//! The Action's database commands: `plan` (what would be applied), `apply` (plan, then a
//! backup when asked or protected, then up with `expect-plan`; the result goes to the job
//! summary and to the deploy comment, per environment, on the pull request(s) that brought the
//! commit) and `status`. Each takes the CLI's own defaults for what the Action has no input for.

use anyhow::bail;

use super::context::ActionContext;
use super::dirs_key;
use super::inputs::{Input, Output};
use super::publish::{CommentOn, Publication};
use crate::cli::{Cli, Command, DbArgs};
use crate::commands::{block_on, migrate, plan, state};
use crate::env::Env;
use crate::migration::Direction;
use crate::report;
use crate::settings::{DbSettings, Format, Settings};

/// What an Action command produced: the report to publish, and the error that stopped an
/// apply after it started (reported first, then the step fails with exit 2).
pub struct Ran {
    pub publication: Publication,
    pub failure: Option<anyhow::Error>,
}

/// The CLI's defaults for `upcycle <command>`, then the Action's database inputs.
fn cli_defaults(command: &str) -> anyhow::Result<Command> {
    let cli = <Cli as clap::Parser>::try_parse_from(["upcycle", command])?;
    Ok(cli.command)
}

fn db_settings(
    ctx: &ActionContext,
    env: &dyn Env,
    settings: &Settings,
    mut db: DbArgs,
) -> anyhow::Result<DbSettings> {
    if ctx.inputs.database_url.is_none() {
        // Where the CLI would look next: the environment's variable, else DATABASE_URL.
        let var = ctx
            .inputs
            .environment
            .as_deref()
            .and_then(|name| settings.config.environments.get(name))
            .and_then(|e| e.database_url_env.clone())
            .unwrap_or_else(|| "DATABASE_URL".into());
        if env.var(&var).is_none() {
            bail!(
                "input `{}`: not given, and {var} is not set; pass the target database from a secret (database-url: ${{{{ secrets.DATABASE_URL }}}})",
                Input::DatabaseUrl.spec().id
            );
        }
    }
    db.database_url = ctx.inputs.database_url.clone();
    db.environment = ctx.inputs.environment.clone();
    db.settings(env, &settings.config, &settings.config_path)
}

fn environment(ctx: &ActionContext) -> &str {
    ctx.inputs.environment.as_deref().unwrap_or("default")
}

pub fn run_plan(
    ctx: &ActionContext,
    env: &dyn Env,
    settings: &Settings,
) -> anyhow::Result<Publication> {
    let Command::Plan(args) = cli_defaults("plan")? else {
        bail!("the plan command's defaults could not be read");
    };
    let db = db_settings(ctx, env, settings, args.db)?;
    let (plan, reading) = block_on(plan::plan(settings, &db, &args.target.target()))?;
    let title = match &ctx.inputs.environment {
        Some(env) => format!("upcycle plan for {env}"),
        None => "upcycle plan".to_string(),
    };
    Ok(Publication {
        kind: "plan",
        key: format!("{}@{}", dirs_key(settings), environment(ctx)),
        comment_on: CommentOn::PullRequest,
        parts: report::plan::markdown_parts(&plan, &title),
        findings: Vec::new(),
        outputs: vec![
            (Output::PendingCount, plan.steps.len().to_string()),
            (Output::PlanDigest, plan.digest.clone()),
        ],
        json: report::plan::render(&plan, &reading, Format::Json),
        failed: false,
    })
}

/// `command: apply`. The job's `environment:` (GitHub's required reviewers) is the
/// confirmation a protected environment needs; the plan it runs must be the reviewed one, so a
/// protected environment needs `expect-plan`.
pub fn run_apply(ctx: &ActionContext, env: &dyn Env, settings: &Settings) -> anyhow::Result<Ran> {
    let Command::Up(args) = cli_defaults("up")? else {
        bail!("the up command's defaults could not be read");
    };
    let mut db = db_settings(ctx, env, settings, args.db)?;
    if db.protected && ctx.inputs.expect_plan.is_none() {
        bail!(
            "input `{}`: environment {} is protected, so apply runs only the plan a reviewer saw: pass the plan-digest output of a `command: plan` step (nothing was changed)",
            Input::ExpectPlan.spec().id,
            environment(ctx)
        );
    }
    db.confirmed = true;
    let options = migrate::Options {
        direction: Direction::Up,
        target: args.target.target(),
        dry_run: false,
        expect_plan: ctx.inputs.expect_plan.clone(),
        backup: ctx.inputs.backup,
    };
    let term = settings.term;
    let applied = block_on(migrate::execute(settings, &db, &options, &mut |event| {
        term.progress(&migrate::progress_line(Direction::Up, &event))
    }))?;
    let failure_text = applied.failure.as_ref().map(|e| format!("{e:#}"));
    let commit_url = format!(
        "{}/{}/commit/{}",
        ctx.github.server_url.trim_end_matches('/'),
        ctx.github.repository,
        ctx.github.sha
    );
    let run_url = ctx.github.run_url();
    let deploy = report::deploy::Deploy {
        environment: environment(ctx),
        plan: &applied.plan,
        done: &applied.done,
        backup: applied.backup.as_ref().map(|b| b.id.as_str()),
        failure: failure_text.as_deref(),
        sha: &ctx.github.sha,
        commit_url: Some(&commit_url),
        run_url: run_url.as_deref(),
    };
    let mut outputs = vec![
        (Output::AppliedCount, applied.done.len().to_string()),
        (
            Output::PendingCount,
            (applied.plan.steps.len() - applied.done.len()).to_string(),
        ),
        (Output::PlanDigest, applied.plan.digest.clone()),
    ];
    if let Some(b) = &applied.backup {
        outputs.push((
            Output::BackupPath,
            db.backup_dir.join(&b.file).display().to_string(),
        ));
    }
    let json = serde_json::to_string_pretty(&serde_json::json!({
        "environment": environment(ctx),
        "sha": ctx.github.sha,
        "digest": applied.plan.digest,
        "planned": applied.plan.steps.len(),
        "applied_count": applied.done.len(),
        "steps": applied.done,
        "backup": applied.backup,
        "error": failure_text,
    }))?;
    Ok(Ran {
        publication: Publication {
            kind: "deploy",
            key: format!("{}@{}", dirs_key(settings), environment(ctx)),
            comment_on: if applied.done.is_empty() && applied.failure.is_none() {
                CommentOn::Skip(
                    "nothing was applied, so no pull request is told (its deploy comment stays as it was).",
                )
            } else {
                CommentOn::PullsOfCommit
            },
            parts: report::deploy::markdown_parts(&deploy),
            findings: Vec::new(),
            outputs,
            json,
            failed: false,
        },
        failure: applied.failure,
    })
}

/// `command: status`: read-only; never fails the step but for an error.
pub fn run_status(
    ctx: &ActionContext,
    env: &dyn Env,
    settings: &Settings,
) -> anyhow::Result<Publication> {
    let Command::Status(args) = cli_defaults("status")? else {
        bail!("the status command's defaults could not be read");
    };
    let db = db_settings(ctx, env, settings, args)?;
    let lines = block_on(state::status_lines(settings, &db))?;
    let count = |s: state::State| lines.iter().filter(|l| l.state == s).count();
    Ok(Publication {
        kind: "status",
        key: format!("{}@{}", dirs_key(settings), environment(ctx)),
        comment_on: CommentOn::PullRequest,
        parts: report::deploy::status_parts(environment(ctx), &lines),
        findings: Vec::new(),
        outputs: vec![
            (
                Output::PendingCount,
                count(state::State::Pending).to_string(),
            ),
            (
                Output::AppliedCount,
                count(state::State::Applied).to_string(),
            ),
        ],
        json: state::render(&lines, Format::Json),
        failed: false,
    })
}
