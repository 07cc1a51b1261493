//! `upcycle check` gives the same verdict whichever sandbox provider runs it: the same fixture
//! checked with `--sandbox docker` (image `UPCYCLE_TEST_IMAGE`, default
//! `upcycle-local/postgres:15`, built by scripts/build-pg-image.sh), `--sandbox local`, and
//! `--sandbox url` on the tests' shared server, must give the same per-migration results and
//! findings, and the docker run must leave no container behind.
//!
//! The docker part is skipped, saying so, only when the `docker` command is not installed.

use crate::support;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::Value;
use support::{fresh_db, root, text};

fn image() -> String {
    std::env::var("UPCYCLE_TEST_IMAGE").unwrap_or_else(|_| "upcycle-local/postgres:15".into())
}

fn docker_installed(test: &str) -> bool {
    match Command::new("docker").arg("--version").output() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            println!("{test}: docker part skipped, docker is not installed");
            false
        }
        _ => true,
    }
}

fn fixture(case: &str) -> PathBuf {
    root().join("tests/fixtures/check").join(case)
}

/// The `dev.upcycle.sandbox` labels (`<pid>-<random>`) of every container, running or not.
fn sandbox_labels() -> Vec<String> {
    let out = Command::new("docker")
        .args([
            "ps",
            "-a",
            "--filter",
            "label=dev.upcycle.sandbox",
            "--format",
            "{{.Label \"dev.upcycle.sandbox\"}}",
        ])
        .output()
        .expect("run docker ps");
    assert!(out.status.success(), "docker ps: {}", text(&out.stderr));
    text(&out.stdout).lines().map(str::to_string).collect()
}

/// One check run: its exit code, JSON report, and (docker) whether its container was seen.
struct Run {
    provider: &'static str,
    out: Output,
    report: Value,
    pid: u32,
    container_seen: bool,
}

/// Runs `upcycle check --format json <sandbox args>` in the fixture; for docker, watches for
/// the container labelled with the child's pid while it runs, and asserts it is gone after.
fn run(provider: &'static str, case: &str, sandbox: &[String]) -> Run {
    let child = Command::new(env!("CARGO_BIN_EXE_upcycle"))
        .args(["check", "--format", "json"])
        .args(sandbox)
        .current_dir(fixture(case))
        .env("NO_COLOR", "1")
        .env_remove("DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run upcycle");
    let pid = child.id();
    let ours = format!("{pid}-");
    let running = AtomicBool::new(true);
    let (out, container_seen) = std::thread::scope(|s| {
        let watcher = (provider == "docker").then(|| {
            s.spawn(|| {
                let mut seen = false;
                while running.load(Ordering::SeqCst) && !seen {
                    seen = sandbox_labels().iter().any(|l| l.starts_with(&ours));
                    std::thread::sleep(Duration::from_millis(200));
                }
                seen
            })
        });
        let out = child.wait_with_output().expect("wait for upcycle");
        running.store(false, Ordering::SeqCst);
        let seen = watcher.is_some_and(|w| w.join().expect("watcher"));
        (out, seen)
    });
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{provider}: no JSON report ({e}); exit {:?}\nstderr: {}",
            out.status.code(),
            text(&out.stderr)
        )
    });
    if provider == "docker" {
        let left: Vec<String> = sandbox_labels()
            .into_iter()
            .filter(|l| l.starts_with(&ours))
            .collect();
        assert!(left.is_empty(), "the docker run left {left:?} behind");
    }
    Run {
        provider,
        out,
        report,
        pid,
        container_seen,
    }
}

/// What must not depend on the provider: per migration its steps' verdicts, the schema
/// comparisons and diffs; and the findings' code, place and severity.
fn verdict(report: &Value) -> (Vec<String>, Vec<String>) {
    let ok = |s: &Value| match &s["ok"] {
        Value::Bool(b) => b.to_string(),
        _ => "-".into(),
    };
    let migrations = report["migrations"]
        .as_array()
        .expect("migrations")
        .iter()
        .map(|m| {
            format!(
                "{} {} cycled={} up={} down={} reup={} restored={} reup_matches={} diff={} reup_diff={}",
                m["version"],
                m["name"],
                m["cycled"],
                ok(&m["up"]),
                ok(&m["down"]),
                ok(&m["reup"]),
                m["schema_restored"],
                m["reup_matches"],
                m["diff"],
                m["reup_diff"]
            )
        })
        .collect();
    let findings = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            format!(
                "{} {} {}:{}",
                f["severity"], f["code"], f["path"], f["line"]
            )
        })
        .collect();
    (migrations, findings)
}

/// `PostgreSQL 15` from a sandbox description.
fn major(report: &Value) -> Option<String> {
    let s = report["sandbox"].as_str()?;
    let at = s.find("PostgreSQL ")?;
    Some(s[at..].split([')', '.']).next()?.to_string())
}

/// Checks `case` on every provider; each must exit with `exit` and agree with the others.
async fn same_on_every_provider(test: &str, case: &str, exit: i32) -> Vec<Run> {
    let url = fresh_db("providers").await;
    let docker = docker_installed(test);
    let runs: Vec<Run> = std::thread::scope(|s| {
        let mut handles = Vec::new();
        if docker {
            let args = vec![
                "--sandbox".to_string(),
                "docker".into(),
                "--sandbox-image".into(),
                image(),
            ];
            handles.push(s.spawn(move || run("docker", case, &args)));
        }
        let local = vec!["--sandbox".to_string(), "local".into()];
        handles.push(s.spawn(move || run("local", case, &local)));
        let by_url = vec![
            "--sandbox".to_string(),
            "url".into(),
            "--sandbox-url".into(),
            url.to_string(),
        ];
        handles.push(s.spawn(move || run("url", case, &by_url)));
        handles
            .into_iter()
            .map(|h| h.join().expect("a provider run"))
            .collect()
    });
    for r in &runs {
        assert_eq!(
            r.out.status.code(),
            Some(exit),
            "{} on {case}: {}\nstderr: {}",
            r.provider,
            text(&r.out.stdout),
            text(&r.out.stderr)
        );
        let sandbox = r.report["sandbox"].as_str().unwrap_or_default();
        let kind = match r.provider {
            "docker" => "docker container ",
            "local" => "local server ",
            _ => "existing server ",
        };
        assert!(sandbox.starts_with(kind), "{}: {sandbox}", r.provider);
        println!(
            "{test}: {} in {} ms: {sandbox}",
            r.provider, r.report["summary"]["ms"]
        );
    }
    let reference = &runs[runs.len() - 1];
    for r in &runs[..runs.len() - 1] {
        let (ours, theirs) = (verdict(&r.report), verdict(&reference.report));
        if major(&r.report) == major(&reference.report) {
            assert_eq!(
                ours, theirs,
                "{} and {} disagree",
                r.provider, reference.provider
            );
        } else {
            // Another major version may word a definition differently; the verdicts must agree.
            println!(
                "{test}: {} runs {:?}, {} runs {:?}: diffs not compared",
                r.provider,
                major(&r.report),
                reference.provider,
                major(&reference.report)
            );
            assert_eq!(
                ours.1, theirs.1,
                "{} and {} disagree",
                r.provider, reference.provider
            );
        }
    }
    if let Some(d) = runs.iter().find(|r| r.provider == "docker") {
        assert!(
            d.container_seen,
            "the docker run's container (label dev.upcycle.sandbox={}-…) was never seen",
            d.pid
        );
        // And by its id, from the report.
        let sandbox = d.report["sandbox"].as_str().unwrap_or_default();
        let id = sandbox
            .strip_prefix("docker container ")
            .and_then(|s| s.split_whitespace().next())
            .unwrap_or_else(|| panic!("no container id in {sandbox}"));
        let out = Command::new("docker")
            .args(["ps", "-aq", "--filter", &format!("id={id}")])
            .output()
            .expect("docker ps");
        assert!(
            text(&out.stdout).trim().is_empty(),
            "container {id} is still there"
        );
    }
    runs
}

#[tokio::test]
async fn the_clean_set_passes_alike_on_every_provider() {
    let runs = same_on_every_provider("the_clean_set_passes_alike", "clean", 0).await;
    for r in &runs {
        assert_eq!(r.report["summary"]["passed"], 3, "{}", r.provider);
        assert_eq!(
            r.report["findings"],
            serde_json::json!([]),
            "{}",
            r.provider
        );
    }
}

#[tokio::test]
async fn a_leftover_index_is_reported_alike_on_every_provider() {
    let runs = same_on_every_provider("a_leftover_index", "down-misses-index", 1).await;
    for r in &runs {
        let m = &r.report["migrations"][1];
        assert_eq!(
            m["diff"],
            serde_json::json!([
                "index t_a_idx: added (CREATE INDEX t_a_idx ON public.t USING btree (a))"
            ]),
            "{}",
            r.provider
        );
    }
}
