//! The Action's inputs and outputs: ONE table each (id, description, required, default), the
//! source of truth that `action.yml` mirrors (a test compares them), and the parsing of the
//! `INPUT_*` variables into typed [`Inputs`] whose errors name the input.

use std::path::PathBuf;

use crate::env::Env;

/// One input as `action.yml` declares it.
#[derive(Debug, Clone, Copy)]
pub struct InputSpec {
    pub input: Input,
    /// The id in `action.yml` (`fail-on`); GitHub passes it as `INPUT_FAIL-ON`.
    pub id: &'static str,
    pub description: &'static str,
    pub required: bool,
    /// The default `action.yml` declares (`None`: no default line).
    pub default: Option<&'static str>,
}

macro_rules! inputs {
    ($($variant:ident => ($id:literal, $required:literal, $default:expr, $description:literal),)*) => {
        /// An input of the Action. Add one by adding a row to `inputs!`; nothing else lists them.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Input { $($variant,)* }

        /// Every input, in `action.yml` order.
        pub const INPUTS: &[InputSpec] = &[
            $(InputSpec { input: Input::$variant, id: $id, description: $description, required: $required, default: $default },)*
        ];

        impl Input {
            pub fn spec(self) -> &'static InputSpec {
                &INPUTS[self as usize]
            }
        }
    };
}

inputs! {
    Command => ("command", false, Some("check"),
        "What to do: check (prove every new migration up, down, up again in a throwaway PostgreSQL), plan (what would be applied to the database), apply (plan, a backup when protected, then up; the result goes to the pull request(s) of the commit), or status (applied and pending migrations)."),
    Dir => ("dir", false, Some("migrations"),
        "Migration folder, relative to the repository root. Several folders (one per line, or comma-separated) are merged into one ordered set, as repeated --dir does."),
    DatabaseUrl => ("database-url", false, None,
        "The target database for plan, apply and status (postgres://…). Pass it from a secret; its password is masked in the log."),
    Environment => ("environment", false, None,
        "Environment from upcycle.toml (dev, uat, production, …): its settings apply, and the PR comment of a plan or a deploy is kept per environment."),
    GithubToken => ("github-token", false, Some("${{ github.token }}"),
        "Token for the PR comment; it needs `pull-requests: write`. With a read-only token (fork PRs) the report goes to the job summary only."),
    Sandbox => ("sandbox", false, Some("auto"),
        "Where check gets its throwaway PostgreSQL: auto, docker, local, or the postgres:// URL of a server (a service container) on which it may create and drop databases."),
    SandboxImage => ("sandbox-image", false, Some(crate::sandbox::DEFAULT_IMAGE),
        "Image for sandbox docker; it must be present on the runner (upcycle never pulls)."),
    Base => ("base", false, None,
        "Git ref or sha whose migrations are taken as already shipped (only new or changed ones are cycled) [default: the pull request's base sha]. The checkout needs that history (fetch-depth: 0)."),
    Comment => ("comment", false, Some("true"),
        "Post the report as one PR comment per migration folder (per environment for plans), updated in place on every run: true or false."),
    FailOn => ("fail-on", false, Some("error"),
        "Which findings fail the step: error, warning (errors and warnings), or never."),
    ExpectPlan => ("expect-plan", false, None,
        "For apply: refuse unless the plan's digest is this one (the plan-digest output of the plan a reviewer saw). Required for a protected environment."),
    Backup => ("backup", false, Some("false"),
        "For apply: take a pg_dump backup first (always done for a protected environment): true or false."),
}

/// One output, as `action.yml` declares it.
#[derive(Debug, Clone, Copy)]
pub struct OutputSpec {
    pub output: Output,
    pub id: &'static str,
    pub description: &'static str,
}

macro_rules! outputs {
    ($($variant:ident => ($id:literal, $description:literal),)*) => {
        /// An output of the Action. Add one by adding a row to `outputs!`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Output { $($variant,)* }

        /// Every output, in `action.yml` order.
        pub const OUTPUTS: &[OutputSpec] = &[
            $(OutputSpec { output: Output::$variant, id: $id, description: $description },)*
        ];

        impl Output {
            pub fn id(self) -> &'static str {
                OUTPUTS[self as usize].id
            }
        }
    };
}

outputs! {
    PendingCount => ("pending-count", "Migrations pending: that the plan would apply (plan, status), or left unapplied after a failure (apply)."),
    AppliedCount => ("applied-count", "Migrations applied by this run (apply), or applied in the database (status)."),
    PlanDigest => ("plan-digest", "Digest of the plan; pass it to expect-plan when applying what was reviewed (plan)."),
    FindingsCount => ("findings-count", "Findings of error or warning severity (check)."),
    ReportPath => ("report-path", "The JSON report, relative to the workspace (upload it as an artifact)."),
    BackupPath => ("backup-path", "The pg_dump backup taken before applying, relative to the workspace (apply). It holds your data: move it to private storage in a next step; never upload it as a public artifact."),
}

/// What the Action is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionCommand {
    Check,
    Plan,
    Apply,
    Status,
}

impl ActionCommand {
    pub const ALL: &[(ActionCommand, &str)] = &[
        (ActionCommand::Check, "check"),
        (ActionCommand::Plan, "plan"),
        (ActionCommand::Apply, "apply"),
        (ActionCommand::Status, "status"),
    ];

    pub fn id(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(c, _)| *c == self)
            .map_or("?", |(_, id)| id)
    }

    /// Whether the command works on the target database.
    pub fn needs_database(self) -> bool {
        self != ActionCommand::Check
    }
}

/// Which findings fail the step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOn {
    Error,
    Warning,
    Never,
}

/// Where `check` gets its throwaway PostgreSQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SandboxChoice {
    /// A provider id: auto, docker, local.
    Provider(crate::sandbox::Provider),
    /// An existing server (`sandbox: postgres://…`).
    Url(String),
}

/// The inputs, validated: no raw strings past this point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inputs {
    pub command: ActionCommand,
    pub dirs: Vec<PathBuf>,
    pub database_url: Option<String>,
    pub environment: Option<String>,
    pub github_token: Option<String>,
    pub sandbox: SandboxChoice,
    pub sandbox_image: String,
    /// Given explicitly; the PR's base applies otherwise (see `ActionContext::base`).
    pub base: Option<String>,
    pub comment: bool,
    pub fail_on: FailOn,
    pub expect_plan: Option<String>,
    pub backup: bool,
}

/// An input that cannot be used; its message names the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("input `{input}`: {message}")]
pub struct InputError {
    pub input: &'static str,
    pub message: String,
}

impl Input {
    fn error(self, message: impl Into<String>) -> InputError {
        InputError {
            input: self.spec().id,
            message: message.into(),
        }
    }
}

/// The raw value: `INPUT_<ID>` (GitHub keeps hyphens: `INPUT_FAIL-ON`), then the spelling with
/// underscores (`INPUT_FAIL_ON`), trimmed; empty counts as unset. Not the table's default.
pub fn raw(env: &dyn Env, input: Input) -> Option<String> {
    let upper = input.spec().id.to_ascii_uppercase();
    [
        format!("INPUT_{upper}"),
        format!("INPUT_{}", upper.replace('-', "_")),
    ]
    .iter()
    .filter_map(|key| env.var(key))
    .map(|v| v.trim().to_string())
    .find(|v| !v.is_empty())
}

/// The value, or the table's default (defaults that are workflow expressions, like
/// `${{ github.token }}`, only mean something to the runner, so they count as unset here).
fn value(env: &dyn Env, input: Input) -> Option<String> {
    raw(env, input).or_else(|| {
        input
            .spec()
            .default
            .filter(|d| !d.contains("${{"))
            .map(str::to_string)
    })
}

fn one_of<T: Copy>(input: Input, text: &str, choices: &[(T, &str)]) -> Result<T, InputError> {
    choices
        .iter()
        .find(|(_, id)| *id == text)
        .map(|(c, _)| *c)
        .ok_or_else(|| {
            let ids: Vec<&str> = choices.iter().map(|(_, id)| *id).collect();
            input.error(format!("\"{text}\" is not one of {}", ids.join(", ")))
        })
}

/// A boolean the way the Actions toolkit reads one (`getBooleanInput`).
fn boolean(input: Input, text: &str) -> Result<bool, InputError> {
    match text {
        "true" | "True" | "TRUE" => Ok(true),
        "false" | "False" | "FALSE" => Ok(false),
        _ => Err(input.error(format!("\"{text}\" is not true or false"))),
    }
}

fn is_postgres_url(text: &str) -> bool {
    text.starts_with("postgres://") || text.starts_with("postgresql://")
}

/// A git ref or sha that is safe to hand to git (never read as an option).
fn git_ref(input: Input, text: &str) -> Result<String, InputError> {
    if text.starts_with('-') || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(input.error(format!(
            "\"{text}\" is not a git ref or sha (no spaces, not starting with -)"
        )));
    }
    Ok(text.to_string())
}

/// Reads and validates every input from `env`.
pub fn parse(env: &dyn Env) -> Result<Inputs, InputError> {
    let text = |input| value(env, input).unwrap_or_default();
    let command = one_of(Input::Command, &text(Input::Command), ActionCommand::ALL)?;
    let dirs: Vec<PathBuf> = text(Input::Dir)
        .split(['\n', ','])
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .collect();
    if dirs.is_empty() {
        return Err(Input::Dir.error("names no folder"));
    }
    let database_url = value(env, Input::DatabaseUrl);
    if let Some(url) = &database_url
        && !is_postgres_url(url)
    {
        return Err(Input::DatabaseUrl.error("not a postgres:// or postgresql:// URL"));
    }
    let sandbox_text = text(Input::Sandbox);
    let sandbox = if is_postgres_url(&sandbox_text) {
        SandboxChoice::Url(sandbox_text)
    } else {
        use crate::sandbox::{PROVIDERS, Provider};
        let ids: Vec<(Provider, &str)> = PROVIDERS
            .iter()
            .filter(|p| p.provider != Provider::Url)
            .map(|p| (p.provider, p.id))
            .collect();
        match one_of(Input::Sandbox, &sandbox_text, &ids) {
            Ok(p) => SandboxChoice::Provider(p),
            Err(e) => {
                return Err(Input::Sandbox.error(format!("{}, or a postgres:// URL", e.message)));
            }
        }
    };
    let sandbox_image = text(Input::SandboxImage);
    if sandbox_image.is_empty() {
        return Err(Input::SandboxImage.error("must name an image"));
    }
    let base = value(env, Input::Base)
        .map(|b| git_ref(Input::Base, &b))
        .transpose()?;
    let expect_plan = value(env, Input::ExpectPlan);
    if let Some(digest) = &expect_plan
        && !digest.chars().all(|c| c.is_ascii_alphanumeric())
    {
        return Err(Input::ExpectPlan.error(format!(
            "\"{digest}\" is not a plan digest (the plan-digest output of a plan step)"
        )));
    }
    let inputs = Inputs {
        command,
        dirs,
        database_url,
        environment: value(env, Input::Environment),
        github_token: value(env, Input::GithubToken),
        sandbox,
        sandbox_image,
        base,
        comment: boolean(Input::Comment, &text(Input::Comment))?,
        fail_on: one_of(
            Input::FailOn,
            &text(Input::FailOn),
            &[
                (FailOn::Error, "error"),
                (FailOn::Warning, "warning"),
                (FailOn::Never, "never"),
            ],
        )?,
        expect_plan,
        backup: boolean(Input::Backup, &text(Input::Backup))?,
    };
    if inputs.command.needs_database()
        && inputs.database_url.is_none()
        && inputs.environment.is_none()
        && env.var("DATABASE_URL").is_none()
    {
        return Err(Input::DatabaseUrl.error(format!(
            "command {} needs the target database: set database-url (from a secret), or an environment from upcycle.toml",
            inputs.command.id()
        )));
    }
    Ok(inputs)
}

/// The values to mask in the log before anything else is printed: the token, and the database
/// URLs with their passwords (as written and percent-decoded). Read raw, so that they are
/// masked even when another input is invalid.
pub fn secrets(env: &dyn Env) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(token) = raw(env, Input::GithubToken) {
        out.push(token);
    }
    let urls = [
        raw(env, Input::DatabaseUrl),
        raw(env, Input::Sandbox).filter(|s| is_postgres_url(s)),
    ];
    for url in urls.into_iter().flatten() {
        let (_, password) = crate::postgres::url::split_password(&url);
        if let Some(password) = password.filter(|p| !p.is_empty()) {
            let written = url
                .split_once("://")
                .and_then(|(_, rest)| rest.split_once('@'))
                .and_then(|(userinfo, _)| userinfo.split_once(':'))
                .map(|(_, p)| p.to_string());
            out.push(url.clone());
            out.extend(written.filter(|w| *w != password));
            out.push(password);
        }
    }
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::MapEnv;

    #[test]
    fn defaults_fill_every_input() {
        let inputs = parse(&MapEnv::default()).expect("defaults are valid");
        assert_eq!(inputs.command, ActionCommand::Check);
        assert_eq!(inputs.dirs, vec![PathBuf::from("migrations")]);
        assert_eq!(inputs.fail_on, FailOn::Error);
        assert!(inputs.comment);
        assert_eq!(
            inputs.github_token, None,
            "an expression default is unset here"
        );
        assert_eq!(
            inputs.sandbox,
            SandboxChoice::Provider(crate::sandbox::Provider::Auto)
        );
    }

    #[test]
    fn hyphens_and_underscores_both_work_and_errors_name_the_input() {
        let env = MapEnv::default()
            .with("INPUT_FAIL-ON", "warning")
            .with("INPUT_GITHUB_TOKEN", "t0k")
            .with("INPUT_DIR", "db/a\n db/b, db/c ,\n");
        let inputs = parse(&env).expect("valid");
        assert_eq!(inputs.fail_on, FailOn::Warning);
        assert_eq!(inputs.github_token.as_deref(), Some("t0k"));
        assert_eq!(inputs.dirs.len(), 3);
        let bad = parse(&MapEnv::default().with("INPUT_FAIL-ON", "sometimes"));
        assert_eq!(
            bad.expect_err("invalid").to_string(),
            "input `fail-on`: \"sometimes\" is not one of error, warning, never"
        );
        let bad = parse(&MapEnv::default().with("INPUT_COMMENT", "yes"));
        assert_eq!(bad.expect_err("invalid").input, "comment");
        let bad = parse(&MapEnv::default().with("INPUT_BASE", "--upload-pack=x"));
        assert_eq!(bad.expect_err("invalid").input, "base");
        let bad = parse(&MapEnv::default().with("INPUT_COMMAND", "plan"));
        assert_eq!(bad.expect_err("needs a database").input, "database-url");
    }

    #[test]
    fn secrets_include_the_decoded_password() {
        let env = MapEnv::default()
            .with("INPUT_GITHUB-TOKEN", "ghs_abc")
            .with("INPUT_DATABASE-URL", "postgres://app:p%40ss@db/app")
            .with("INPUT_COMMAND", "nonsense");
        let s = secrets(&env);
        assert!(s.contains(&"ghs_abc".to_string()));
        assert!(s.contains(&"p%40ss".to_string()));
        assert!(s.contains(&"p@ss".to_string()));
    }
}
