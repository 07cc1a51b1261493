//! The GitHub context folded once: `GITHUB_*` variables and the event JSON become one typed
//! [`ActionContext`] (with the validated inputs) before any logic runs. The event file is read
//! through an injected reader, so tests pass fixtures and never touch the process environment.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;

use super::inputs::{self, Inputs};
use crate::env::Env;

/// `owner/name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repository {
    pub owner: String,
    pub name: String,
}

impl std::fmt::Display for Repository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

/// The pull request an event is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequest {
    pub number: u64,
    pub base_ref: String,
    pub base_sha: String,
    pub head_ref: String,
    pub head_sha: String,
    pub html_url: Option<String>,
}

/// What triggered the run, as far as upcycle cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `pull_request` or `pull_request_target` (any action: opened, synchronize, …).
    PullRequest(PullRequest),
    /// A push: the ref, and the commits before and after.
    Push {
        git_ref: String,
        before: String,
        after: String,
    },
    /// Any other event (workflow_dispatch, schedule, …): no pull request.
    Other,
}

/// Everything the run knows about GitHub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitHubContext {
    pub repository: Repository,
    pub sha: String,
    pub event_name: String,
    pub event: Event,
    /// REST base: `https://api.github.com`, or `https://HOST/api/v3` on GHES.
    pub api_url: String,
    pub server_url: String,
    pub run_id: Option<String>,
    pub workspace: PathBuf,
    /// `GITHUB_STEP_SUMMARY`: the file the job summary is appended to.
    pub step_summary: Option<PathBuf>,
    /// `GITHUB_OUTPUT`: the file outputs are appended to.
    pub output: Option<PathBuf>,
}

impl GitHubContext {
    /// The run's page, for "the full report is in the job summary" links.
    pub fn run_url(&self) -> Option<String> {
        self.run_id.as_ref().map(|id| {
            format!(
                "{}/{}/actions/runs/{id}",
                self.server_url.trim_end_matches('/'),
                self.repository
            )
        })
    }
}

/// Inputs and GitHub context: the one value the Action's logic reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionContext {
    pub inputs: Inputs,
    pub github: GitHubContext,
}

impl ActionContext {
    pub fn pull_request(&self) -> Option<&PullRequest> {
        match &self.github.event {
            Event::PullRequest(pr) => Some(pr),
            _ => None,
        }
    }

    /// The base for PR mode: the `base` input, else the pull request's base sha.
    pub fn base(&self) -> Option<String> {
        self.inputs
            .base
            .clone()
            .or_else(|| self.pull_request().map(|pr| pr.base_sha.clone()))
    }
}

#[derive(Deserialize)]
struct GitRef {
    #[serde(rename = "ref")]
    git_ref: String,
    sha: String,
}

#[derive(Deserialize)]
struct PullRequestJson {
    number: u64,
    base: GitRef,
    head: GitRef,
    html_url: Option<String>,
}

#[derive(Deserialize)]
struct PullRequestEvent {
    pull_request: PullRequestJson,
}

#[derive(Deserialize)]
struct PushEvent {
    #[serde(rename = "ref")]
    git_ref: String,
    before: String,
    after: String,
}

/// Reads the event JSON of `event_name` (lenient: only the fields upcycle uses).
pub fn parse_event(event_name: &str, json: &str) -> anyhow::Result<Event> {
    Ok(match event_name {
        "pull_request" | "pull_request_target" => {
            let e: PullRequestEvent = serde_json::from_str(json)?;
            let pr = e.pull_request;
            Event::PullRequest(PullRequest {
                number: pr.number,
                base_ref: pr.base.git_ref,
                base_sha: pr.base.sha,
                head_ref: pr.head.git_ref,
                head_sha: pr.head.sha,
                html_url: pr.html_url,
            })
        }
        "push" => {
            let e: PushEvent = serde_json::from_str(json)?;
            Event::Push {
                git_ref: e.git_ref,
                before: e.before,
                after: e.after,
            }
        }
        _ => Event::Other,
    })
}

/// Folds the inputs and the GitHub context; `read` reads the event file.
pub fn fold(
    env: &dyn Env,
    read: &dyn Fn(&Path) -> std::io::Result<String>,
) -> anyhow::Result<ActionContext> {
    let inputs = inputs::parse(env)?;
    let need = |key: &str| {
        env.var(key).ok_or_else(|| {
            anyhow::anyhow!(
                "{key} is not set: `upcycle action` runs as a step of a GitHub Actions job"
            )
        })
    };
    let repository = need("GITHUB_REPOSITORY")?;
    let Some((owner, name)) = repository
        .split_once('/')
        .filter(|(o, n)| !o.is_empty() && !n.is_empty() && !n.contains('/'))
    else {
        bail!("GITHUB_REPOSITORY \"{repository}\" is not owner/name");
    };
    let event_name = need("GITHUB_EVENT_NAME")?;
    let event = match env.var("GITHUB_EVENT_PATH") {
        Some(path) => {
            let json = read(Path::new(&path))
                .with_context(|| format!("GITHUB_EVENT_PATH {path}: reading the event"))?;
            parse_event(&event_name, &json)
                .with_context(|| format!("GITHUB_EVENT_PATH {path}: not a {event_name} event"))?
        }
        None => Event::Other,
    };
    Ok(ActionContext {
        inputs,
        github: GitHubContext {
            repository: Repository {
                owner: owner.into(),
                name: name.into(),
            },
            sha: need("GITHUB_SHA")?,
            event_name,
            event,
            api_url: env
                .var("GITHUB_API_URL")
                .unwrap_or_else(|| "https://api.github.com".into()),
            server_url: env
                .var("GITHUB_SERVER_URL")
                .unwrap_or_else(|| "https://github.com".into()),
            run_id: env.var("GITHUB_RUN_ID"),
            workspace: env
                .var("GITHUB_WORKSPACE")
                .map_or_else(|| PathBuf::from("."), PathBuf::from),
            step_summary: env.var("GITHUB_STEP_SUMMARY").map(PathBuf::from),
            output: env.var("GITHUB_OUTPUT").map(PathBuf::from),
        },
    })
}
