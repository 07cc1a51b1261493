//! The Action's image, run the way GitHub's runner runs a container action.
//!
//! The image is the Dockerfile's `runtime-prebuilt` target with this test build's binary, built by
//! `scripts/build-action-image.sh` on its cached local base (once per test process, removed when
//! the process is gone). Each run copies what the runner does (actions/runner,
//! ContainerActionHandler + DockerCommandManager.DockerRun): a `github_network_<hex>` network,
//! `--rm --workdir /github/workspace`, the host's Docker socket, the home / workflow /
//! file_commands / workspace bind mounts, `HOME=/github/home`, `GITHUB_ACTIONS=true`, `CI=true`,
//! every input with a default from action.yml as `INPUT_<ID>` (hyphens kept), and `action` (the
//! `args` of action.yml) after the image. The workspace is owned by uid 1001, as on a hosted
//! runner, while the action runs as root. The sandbox is a sibling container that must join the
//! network and be gone afterwards.
//!
//! Docker is required: the tests skip, saying so, only when `docker info` fails and
//! `UPCYCLE_REQUIRE_DOCKER` is unset (scripts/test.sh sets it). The sandbox image is
//! `UPCYCLE_TEST_IMAGE` (default `upcycle-local/postgres:15`, scripts/build-pg-image.sh).

use crate::action_support;

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use action_support::{copy_files, event_with_base, parse_outputs, pr_workspace};
use upcycle::action::INPUTS;
use upcycle::sandbox::docker::LABEL_RUN;

/// The uid:gid of the runner's user on GitHub-hosted runners, which owns the workspace.
const RUNNER_OWNER: &str = "1001:1001";
/// Longest a run may take before the test removes the container and fails.
const RUN_LIMIT: Duration = Duration::from_secs(600);

fn sandbox_image() -> String {
    std::env::var("UPCYCLE_TEST_IMAGE").unwrap_or_else(|_| "upcycle-local/postgres:15".into())
}

/// Whether the Docker daemon answers. When it does not: a failure if `UPCYCLE_REQUIRE_DOCKER` is
/// set, else a skip that says why.
fn docker_ready(test: &str) -> bool {
    let answer = Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .stdin(Stdio::null())
        .output();
    let why = match answer {
        Ok(out) if out.status.success() => return true,
        Ok(out) => format!(
            "`docker info` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) => format!("the docker CLI cannot be run: {e}"),
    };
    if std::env::var_os("UPCYCLE_REQUIRE_DOCKER").is_some() {
        panic!("{test}: Docker is required (UPCYCLE_REQUIRE_DOCKER is set), but {why}");
    }
    println!(
        "{test}: SKIPPED, Docker is not available ({why}); set UPCYCLE_REQUIRE_DOCKER=1 to make this a failure"
    );
    false
}

fn docker(args: &[&str]) -> std::process::Output {
    Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run docker")
}

fn docker_ok(args: &[&str]) -> String {
    let out = docker(args);
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn random_hex() -> String {
    format!("{:016x}", fastrand::u64(..))
}

/// Runs `script` detached: it outlives this process (statics are never dropped).
fn when_this_process_is_gone(script: &str) {
    use std::os::unix::process::CommandExt;
    let script = format!(
        "while kill -0 {me} 2>/dev/null; do sleep 1; done; {script}",
        me = std::process::id()
    );
    let _ = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn();
}

/// The image under test: built once per process from this test build's binary.
fn action_image() -> &'static str {
    static IMAGE: OnceLock<Result<String, String>> = OnceLock::new();
    let built = IMAGE.get_or_init(|| {
        let tag = format!("upcycle-local/upcycle-test:{}", random_hex());
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/build-action-image.sh");
        let start = Instant::now();
        let out = Command::new(&script)
            .args(["--bin", env!("CARGO_BIN_EXE_upcycle"), "--tag", &tag])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("running {}: {e}", script.display()))?;
        // Removed with its intermediate layers once the tests are done; the base stays cached.
        when_this_process_is_gone(&format!("docker rmi -f {tag} >/dev/null 2>&1"));
        let log = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            return Err(format!("{} failed:\n{log}", script.display()));
        }
        eprintln!(
            "action image {tag} built in {:.1} s:\n{log}",
            start.elapsed().as_secs_f64()
        );
        Ok(tag)
    });
    match built {
        Ok(tag) => tag,
        Err(e) => panic!("{e}"),
    }
}

/// Chowns `dir` to the runner's user, as GitHub mounts the workspace; only possible as root.
fn own_like_the_runner(dir: &Path) {
    let me = std::fs::metadata(dir).expect("workspace").uid();
    if me == 0 {
        let out = Command::new("chown")
            .args(["-R", RUNNER_OWNER])
            .arg(dir)
            .output()
            .expect("chown");
        assert!(out.status.success(), "chown -R {RUNNER_OWNER}: {out:?}");
    } else {
        eprintln!("not root: the workspace keeps its owner (uid {me})");
    }
}

/// The runner's side of one step: its temp folders, the job network and the container name.
/// Drop removes the container and the network, whatever happened.
struct Step {
    temp: tempfile::TempDir,
    network: String,
    container: String,
}

impl Step {
    fn new() -> Step {
        let temp = tempfile::tempdir().expect("runner temp");
        for dir in ["_github_home", "_github_workflow", "_runner_file_commands"] {
            std::fs::create_dir(temp.path().join(dir)).expect("mkdir");
        }
        let hex = random_hex();
        let step = Step {
            temp,
            network: format!("github_network_{hex}"),
            container: format!("upcycle_action_test_{hex}"),
        };
        docker_ok(&[
            "network",
            "create",
            "--label",
            "dev.upcycle.test=action-image",
            &step.network,
        ]);
        step
    }

    fn workflow_dir(&self) -> PathBuf {
        self.temp.path().join("_github_workflow")
    }

    fn file_commands(&self) -> PathBuf {
        self.temp.path().join("_runner_file_commands")
    }

    /// `docker run` as the runner does it, with the inputs of action.yml (defaults, then
    /// `inputs`), for `event` described by `/github/workflow/event.json`.
    fn run(&self, workspace: &Path, event: &str, token: &str, inputs: &[(&str, &str)]) -> Finished {
        let mut input_values: BTreeMap<String, String> = INPUTS
            .iter()
            .filter_map(|i| i.default.map(|d| (i.id.to_string(), d.to_string())))
            .collect();
        input_values.insert("github-token".into(), token.into());
        for (id, value) in inputs {
            input_values.insert((*id).into(), (*value).into());
        }
        // The runner creates the file-command files before the step.
        let summary = self.file_commands().join("step_summary_4d8c1e2f");
        let output = self.file_commands().join("set_output_4d8c1e2f");
        for file in [&summary, &output] {
            std::fs::write(file, "").expect("file command");
        }
        own_like_the_runner(self.temp.path());

        let mut env: Vec<(String, String)> = vec![
            ("HOME".into(), "/github/home".into()),
            ("GITHUB_REPOSITORY".into(), "upcycle-dev/shop".into()),
            (
                "GITHUB_SHA".into(),
                "e5bd3914e2e596debea16f433f57875b5b90bcd6".into(),
            ),
            ("GITHUB_EVENT_NAME".into(), event.into()),
            (
                "GITHUB_EVENT_PATH".into(),
                "/github/workflow/event.json".into(),
            ),
            ("GITHUB_WORKSPACE".into(), "/github/workspace".into()),
            ("GITHUB_SERVER_URL".into(), "https://github.com".into()),
            // Nothing answers there: a run that tried to comment would say so.
            ("GITHUB_API_URL".into(), "http://127.0.0.1:9".into()),
            ("GITHUB_RUN_ID".into(), "7012345678".into()),
            (
                "GITHUB_STEP_SUMMARY".into(),
                "/github/file_commands/step_summary_4d8c1e2f".into(),
            ),
            (
                "GITHUB_OUTPUT".into(),
                "/github/file_commands/set_output_4d8c1e2f".into(),
            ),
            ("RUNNER_OS".into(), "Linux".into()),
            ("RUNNER_TEMP".into(), "/home/runner/work/_temp".into()),
        ];
        for (id, value) in &input_values {
            env.push((format!("INPUT_{}", id.to_ascii_uppercase()), value.clone()));
        }

        let mut cmd = Command::new("docker");
        cmd.args(["run", "--name", &self.container])
            .args(["--label", "dev.upcycle.test=action-image"])
            .args(["--workdir", "/github/workspace", "--rm"]);
        for (key, value) in &env {
            cmd.args(["-e", &format!("{key}={value}")]);
        }
        cmd.args(["-e", "GITHUB_ACTIONS=true", "-e", "CI=true"])
            .args(["--network", &self.network])
            .args(["-v", "/var/run/docker.sock:/var/run/docker.sock"]);
        for (host, container) in [
            (self.temp.path().join("_github_home"), "/github/home"),
            (self.workflow_dir(), "/github/workflow"),
            (self.file_commands(), "/github/file_commands"),
            (workspace.to_path_buf(), "/github/workspace"),
        ] {
            cmd.args(["-v", &format!("{}:{container}", host.display())]);
        }
        cmd.arg(action_image()).arg("action");

        let stdout_path = self.temp.path().join("stdout");
        let stderr_path = self.temp.path().join("stderr");
        let start = Instant::now();
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout_path).expect("stdout file"))
            .stderr(std::fs::File::create(&stderr_path).expect("stderr file"))
            .spawn()
            .expect("docker run");
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for docker run") {
                break status;
            }
            if start.elapsed() > RUN_LIMIT {
                let _ = docker(&["rm", "-f", "-v", &self.container]);
                let _ = child.kill();
                panic!(
                    "the action ran longer than {} s; stdout so far:\n{}",
                    RUN_LIMIT.as_secs(),
                    std::fs::read_to_string(&stdout_path).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        let finished = Finished {
            code: status.code().expect("an exit code"),
            seconds: start.elapsed().as_secs_f64(),
            stdout: std::fs::read_to_string(&stdout_path).unwrap_or_default(),
            stderr: std::fs::read_to_string(&stderr_path).unwrap_or_default(),
            summary: std::fs::read_to_string(&summary).unwrap_or_default(),
            outputs: parse_outputs(&std::fs::read_to_string(&output).unwrap_or_default()),
        };
        eprintln!(
            "docker run of the action: exit {} in {:.1} s\n--- stdout\n{}--- stderr\n{}",
            finished.code, finished.seconds, finished.stdout, finished.stderr
        );
        finished
    }

    /// Sandbox containers (running or not) still attached to this step's network.
    fn leftover_sandboxes(&self) -> Vec<String> {
        docker_ok(&[
            "ps",
            "-aq",
            "--filter",
            &format!("label={LABEL_RUN}"),
            "--filter",
            &format!("network={}", self.network),
        ])
        .lines()
        .map(str::to_string)
        .collect()
    }

    /// Removes the network now; fails while anything is still attached to it.
    fn remove_network(&self) {
        docker_ok(&["network", "rm", &self.network]);
    }
}

impl Drop for Step {
    fn drop(&mut self) {
        let _ = docker(&["rm", "-f", "-v", &self.container]);
        let _ = docker(&["network", "rm", &self.network]);
    }
}

#[derive(Debug)]
struct Finished {
    code: i32,
    seconds: f64,
    stdout: String,
    stderr: String,
    summary: String,
    outputs: BTreeMap<String, String>,
}

#[test]
fn the_image_checks_the_bundled_migrations_like_a_container_action() {
    if !docker_ready("the_image_checks_the_bundled_migrations_like_a_container_action") {
        return;
    }
    let ws = tempfile::tempdir().expect("workspace");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    copy_files(
        &root.join("migrations"),
        &ws.path().join("migrations"),
        |_| true,
    );
    own_like_the_runner(ws.path());
    let step = Step::new();
    std::fs::copy(
        root.join("tests/fixtures/events/push.main.json"),
        step.workflow_dir().join("event.json"),
    )
    .expect("event");
    let token = "ghs_upcycleImageTestToken0123456789";
    let image = sandbox_image();
    let out = step.run(
        ws.path(),
        "push",
        token,
        &[
            ("command", "check"),
            ("dir", "migrations"),
            ("sandbox", "docker"),
            ("sandbox-image", &image),
        ],
    );
    assert_eq!(out.code, 0, "{out:#?}");
    assert!(
        out.stdout.starts_with(&format!("::add-mask::{token}\n")),
        "the token is masked first: {}",
        out.stdout
    );
    assert!(
        out.stderr
            .contains(&format!("via network {} (sibling container)", step.network)),
        "the sandbox joins the action's network: {}",
        out.stderr
    );

    let summary = &out.summary;
    assert!(
        summary.starts_with(
            "### ✅ upcycle check: 7 of 7 migration\\(s\\) cycled: 7 passed; 0 error\\(s\\), 0 warning\\(s\\)"
        ),
        "{summary}"
    );
    assert_eq!(summary.matches("| ✅ passed |").count(), 7, "{summary}");
    for entry in std::fs::read_dir(root.join("migrations")).expect("migrations") {
        let name = entry
            .expect("entry")
            .file_name()
            .into_string()
            .expect("utf-8");
        let version = name.split('_').next().expect("a version");
        assert!(summary.contains(version), "{version} in {summary}");
    }
    let plain = summary.replace('\\', "");
    assert!(
        plain.contains(&format!("({image}, PostgreSQL "))
            && plain.contains(&format!("via network {} (sibling container)", step.network)),
        "the summary names the sandbox image and how it was reached: {summary}"
    );
    assert!(
        summary.contains(
            "> ℹ️ No PR comment was posted: this run is for a push event, not a pull request."
        ),
        "{summary}"
    );

    assert_eq!(
        out.outputs.get("findings-count").map(String::as_str),
        Some("0"),
        "{:?}",
        out.outputs
    );
    assert_eq!(
        out.outputs.get("report-path").map(String::as_str),
        Some(".upcycle/check-report.json"),
        "{:?}",
        out.outputs
    );
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(ws.path().join(".upcycle/check-report.json"))
            .expect("the JSON report in the workspace"),
    )
    .expect("JSON");
    assert_eq!(
        report["summary"]["migrations"].as_u64(),
        Some(7),
        "{report:#}"
    );
    assert_eq!(report["summary"]["passed"].as_u64(), Some(7), "{report:#}");
    assert_eq!(report["summary"]["failed"].as_u64(), Some(0), "{report:#}");

    assert_eq!(
        step.leftover_sandboxes(),
        Vec::<String>::new(),
        "the sandbox container must be gone when the action ends"
    );
    step.remove_network();
}

#[test]
fn a_pull_request_with_a_broken_migration_fails_with_annotations() {
    if !docker_ready("a_pull_request_with_a_broken_migration_fails_with_annotations") {
        return;
    }
    // A git workspace owned by another uid: PR mode reads the base commit with git, which
    // refuses such a repository unless the image marks it safe.
    let (ws, base) = pr_workspace("tests/fixtures/action/failing", "20260301000200");
    own_like_the_runner(ws.path());
    let step = Step::new();
    let event = event_with_base("pull_request.opened.json", &base, &step.workflow_dir());
    assert_eq!(event, step.workflow_dir().join("event.json"));
    let image = sandbox_image();
    let out = step.run(
        ws.path(),
        "pull_request",
        "",
        &[("sandbox", "docker"), ("sandbox-image", &image)],
    );
    assert_eq!(out.code, 1, "{out:#?}");
    assert!(
        !out.stdout.contains("dubious ownership") && !out.stderr.contains("dubious ownership"),
        "git must accept the workspace: {out:#?}"
    );
    assert!(
        out.stdout.lines().any(|l| l.starts_with(
            "::error file=migrations/20260301000300_broken_up.up.sql,line=3,title=upcycle up-failed::the up fails: column \"nots\" does not exist"
        )),
        "{}",
        out.stdout
    );
    assert!(
        out.summary.starts_with("### ❌ upcycle check"),
        "{}",
        out.summary
    );
    assert!(
        out.summary
            .contains("No PR comment was posted: the step has no github-token"),
        "{}",
        out.summary
    );
    let findings: usize = out.outputs["findings-count"].parse().expect("a number");
    assert!(findings >= 1, "{:?}", out.outputs);
    assert!(ws.path().join(".upcycle/check-report.json").is_file());
    assert_eq!(step.leftover_sandboxes(), Vec::<String>::new());
    step.remove_network();
}
