//! Running `upcycle action` as the runner would: a workspace folder (optionally a git repository
//! with a base commit), the `GITHUB_*` and `INPUT_*` variables (inputs spelled with hyphens, as
//! GitHub passes them), and files for `GITHUB_STEP_SUMMARY` and `GITHUB_OUTPUT` to read back.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

/// Copies each `(dest, fixture dir)` into a new workspace.
pub fn workspace_with(dirs: &[(&str, &str)]) -> TempDir {
    let ws = tempfile::tempdir().expect("temp workspace");
    for (dest, src) in dirs {
        copy_files(Path::new(src), &ws.path().join(dest), |_| true);
    }
    ws
}

/// Copies the files of `src` that `keep` accepts (by file name) into `dest`.
pub fn copy_files(src: &Path, dest: &Path, keep: impl Fn(&str) -> bool) {
    std::fs::create_dir_all(dest).expect("create dest");
    for entry in std::fs::read_dir(src).unwrap_or_else(|e| panic!("{}: {e}", src.display())) {
        let entry = entry.expect("entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type().expect("type").is_file() && keep(&name) {
            std::fs::copy(entry.path(), dest.join(&name)).expect("copy");
        }
    }
}

fn git(ws: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(ws)
        .args([
            "-c",
            "user.name=upcycle tests",
            "-c",
            "user.email=tests@upcycle.invalid",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .env("GIT_AUTHOR_DATE", "2026-11-23T09:00:00Z")
        .env("GIT_COMMITTER_DATE", "2026-11-23T09:00:00Z")
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A PR workspace: the files of the fixture folder `src` that sort before `split` are committed
/// in `migrations/` as the base, the rest as the head. Returns the workspace and the base sha.
pub fn pr_workspace(src: &str, split: &str) -> (TempDir, String) {
    let ws = tempfile::tempdir().expect("temp workspace");
    let dest = ws.path().join("migrations");
    git(ws.path(), &["init", "-q", "-b", "main"]);
    copy_files(Path::new(src), &dest, |n| n < split);
    git(ws.path(), &["add", "-A"]);
    git(ws.path(), &["commit", "-q", "-m", "base"]);
    let base = git(ws.path(), &["rev-parse", "HEAD"]);
    copy_files(Path::new(src), &dest, |_| true);
    git(ws.path(), &["add", "-A"]);
    git(ws.path(), &["commit", "-q", "-m", "head"]);
    (ws, base)
}

/// The event fixture with the pull request's base sha replaced (for a real git base).
pub fn event_with_base(fixture: &str, base_sha: &str, dir: &Path) -> PathBuf {
    let text =
        std::fs::read_to_string(format!("tests/fixtures/events/{fixture}")).expect("fixture");
    let mut event: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    event["pull_request"]["base"]["sha"] = serde_json::Value::String(base_sha.into());
    let path = dir.join("event.json");
    std::fs::write(&path, serde_json::to_string_pretty(&event).expect("JSON")).expect("write");
    path
}

/// One `upcycle action` process.
pub struct Run {
    workspace: PathBuf,
    runner: TempDir,
    env: BTreeMap<String, String>,
}

/// What the process left.
#[derive(Debug)]
pub struct Finished {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    summary: PathBuf,
    output: PathBuf,
    _runner: TempDir,
}

impl Run {
    /// A run in `workspace` for `event` described by the fixture `event_file`.
    pub fn new(workspace: &TempDir, event: &str, event_file: &str) -> Run {
        let runner = tempfile::tempdir().expect("runner dir");
        let mut env = BTreeMap::new();
        let event_path = if Path::new(event_file).is_absolute() {
            PathBuf::from(event_file)
        } else {
            std::env::current_dir()
                .expect("cwd")
                .join("tests/fixtures/events")
                .join(event_file)
        };
        for (k, v) in [
            ("GITHUB_ACTIONS", "true".to_string()),
            ("GITHUB_REPOSITORY", "upcycle-dev/shop".into()),
            (
                "GITHUB_SHA",
                "e5bd3914e2e596debea16f433f57875b5b90bcd6".into(),
            ),
            ("GITHUB_EVENT_NAME", event.into()),
            ("GITHUB_EVENT_PATH", event_path.display().to_string()),
            ("GITHUB_SERVER_URL", "https://github.com".into()),
            ("GITHUB_API_URL", "http://127.0.0.1:9".into()),
            ("GITHUB_RUN_ID", "7012345678".into()),
            ("GITHUB_WORKSPACE", workspace.path().display().to_string()),
            (
                "GITHUB_STEP_SUMMARY",
                runner.path().join("summary.md").display().to_string(),
            ),
            (
                "GITHUB_OUTPUT",
                runner.path().join("output.txt").display().to_string(),
            ),
        ] {
            env.insert(k.to_string(), v);
        }
        Run {
            workspace: workspace.path().to_path_buf(),
            runner,
            env,
        }
    }

    /// An input, as GitHub passes it (`INPUT_FAIL-ON`).
    pub fn input(mut self, id: &str, value: &str) -> Run {
        self.env
            .insert(format!("INPUT_{}", id.to_ascii_uppercase()), value.into());
        self
    }

    pub fn var(mut self, key: &str, value: &str) -> Run {
        self.env.insert(key.into(), value.into());
        self
    }

    pub fn run(self) -> Finished {
        let out = Command::new(env!("CARGO_BIN_EXE_upcycle"))
            .arg("action")
            .current_dir(&self.workspace)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(&self.env)
            .output()
            .expect("running upcycle action");
        Finished {
            code: out.status.code().expect("an exit code"),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            summary: self.runner.path().join("summary.md"),
            output: self.runner.path().join("output.txt"),
            _runner: self.runner,
        }
    }
}

impl Finished {
    /// The job summary written (empty when none).
    pub fn summary(&self) -> String {
        std::fs::read_to_string(&self.summary).unwrap_or_default()
    }

    /// The outputs, parsed from `name<<DELIM … DELIM` entries.
    pub fn outputs(&self) -> BTreeMap<String, String> {
        parse_outputs(&std::fs::read_to_string(&self.output).unwrap_or_default())
    }
}

/// `name<<DELIM … DELIM` entries of a `GITHUB_OUTPUT` file (upcycle's delimiters are random
/// `ghadelimiter_…` strings).
pub fn parse_outputs(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let (name, delimiter) = line.split_once("<<").expect("name<<DELIM");
        assert!(delimiter.starts_with("ghadelimiter_"), "{line}");
        let mut value = Vec::new();
        for l in lines.by_ref() {
            if l == delimiter {
                break;
            }
            value.push(l);
        }
        out.insert(name.to_string(), value.join("\n"));
    }
    out
}
