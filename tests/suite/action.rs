//! The Action's entry edge: `action.yml` mirrors the input and output tables; the event
//! fixtures fold into the typed context; and `upcycle action` as a process (no token, a push
//! event) masks secrets first, names a bad input (exit 2), and writes annotations, the job
//! summary and outputs, exiting per `fail-on`.

use crate::action_support;

use std::path::Path;

use action_support::{Run, workspace_with};
use serde_yaml::Value;
use upcycle::action::context::{Event, fold};
use upcycle::action::{INPUTS, OUTPUTS};
use upcycle::env::MapEnv;

fn yaml_str(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The inputs and outputs sections `action.yml` should have, for the failure message.
fn expected_sections() -> String {
    let mut out = String::from("inputs:\n");
    for i in INPUTS {
        out.push_str(&format!(
            "  {}:\n    description: {}\n    required: {}\n",
            i.id,
            quoted(i.description),
            i.required
        ));
        if let Some(d) = i.default {
            out.push_str(&format!("    default: {}\n", quoted(d)));
        }
    }
    out.push_str("outputs:\n");
    for o in OUTPUTS {
        out.push_str(&format!(
            "  {}:\n    description: {}\n",
            o.id,
            quoted(o.description)
        ));
    }
    out
}

#[test]
fn action_yml_mirrors_the_input_and_output_tables() {
    let text = std::fs::read_to_string("action.yml").expect("action.yml at the crate root");
    let doc: Value = serde_yaml::from_str(&text).expect("action.yml is YAML");
    let hint = format!("\naction.yml should have:\n{}", expected_sections());
    let inputs = doc["inputs"]
        .as_mapping()
        .unwrap_or_else(|| panic!("no inputs{hint}"));
    let ids: Vec<String> = inputs.keys().filter_map(yaml_str).collect();
    let want: Vec<&str> = INPUTS.iter().map(|i| i.id).collect();
    assert_eq!(ids, want, "input ids and order{hint}");
    for spec in INPUTS {
        let i = &inputs[spec.id];
        assert_eq!(
            yaml_str(&i["description"]).as_deref(),
            Some(spec.description),
            "{}{hint}",
            spec.id
        );
        assert_eq!(
            i["required"].as_bool(),
            Some(spec.required),
            "{} required{hint}",
            spec.id
        );
        assert_eq!(
            i.get("default").and_then(yaml_str).as_deref(),
            spec.default,
            "{} default{hint}",
            spec.id
        );
    }
    let outputs = doc["outputs"]
        .as_mapping()
        .unwrap_or_else(|| panic!("no outputs{hint}"));
    let ids: Vec<String> = outputs.keys().filter_map(yaml_str).collect();
    let want: Vec<&str> = OUTPUTS.iter().map(|o| o.id).collect();
    assert_eq!(ids, want, "output ids and order{hint}");
    for spec in OUTPUTS {
        assert_eq!(
            yaml_str(&outputs[spec.id]["description"]).as_deref(),
            Some(spec.description),
            "{}{hint}",
            spec.id
        );
    }
    assert_eq!(doc["runs"]["using"].as_str(), Some("docker"));
    assert_eq!(
        doc["runs"]["image"].as_str(),
        Some("docker://ghcr.io/upcycle-dev/upcycle:v0"),
        "the published image, never a Dockerfile built on the user's runner"
    );
    assert_eq!(doc["runs"]["args"][0].as_str(), Some("action"));
    assert!(doc["branding"]["icon"].is_string() && doc["branding"]["color"].is_string());
}

fn github_env(event: &str, file: &str) -> MapEnv {
    MapEnv::default()
        .with("GITHUB_REPOSITORY", "upcycle-dev/shop")
        .with("GITHUB_SHA", "e5bd3914e2e596debea16f433f57875b5b90bcd6")
        .with("GITHUB_EVENT_NAME", event)
        .with(
            "GITHUB_EVENT_PATH",
            &format!("tests/fixtures/events/{file}"),
        )
        .with("GITHUB_RUN_ID", "7012345678")
        .with("GITHUB_WORKSPACE", "/github/workspace")
}

fn read(path: &Path) -> std::io::Result<String> {
    std::fs::read_to_string(path)
}

#[test]
fn pull_request_events_give_the_pr_and_its_base() {
    for (file, head) in [
        (
            "pull_request.opened.json",
            "c0ffee5b2a8f1d6e4e3a9b7c1d2e3f4a5b6c7d8e",
        ),
        (
            "pull_request.synchronize.json",
            "e5bd3914e2e596debea16f433f57875b5b90bcd6",
        ),
    ] {
        let ctx = fold(&github_env("pull_request", file), &read).expect(file);
        let pr = ctx.pull_request().expect("a pull request");
        assert_eq!(pr.number, 42, "{file}");
        assert_eq!(pr.base_ref, "main");
        assert_eq!(pr.base_sha, "6dcb09b5b57875f334f61aebed695e2e4193db5e");
        assert_eq!(pr.head_ref, "feature/order-status");
        assert_eq!(pr.head_sha, head, "{file}");
        assert_eq!(
            ctx.base().as_deref(),
            Some("6dcb09b5b57875f334f61aebed695e2e4193db5e"),
            "the base defaults to the PR's base sha"
        );
        assert_eq!(ctx.github.repository.to_string(), "upcycle-dev/shop");
        assert_eq!(ctx.github.api_url, "https://api.github.com");
        assert_eq!(
            ctx.github.run_url().as_deref(),
            Some("https://github.com/upcycle-dev/shop/actions/runs/7012345678")
        );
    }
    let explicit = github_env("pull_request_target", "pull_request.opened.json")
        .with("INPUT_BASE", "origin/main");
    let ctx = fold(&explicit, &read).expect("pull_request_target reads the same payload");
    assert_eq!(ctx.base().as_deref(), Some("origin/main"), "the input wins");
}

#[test]
fn push_and_dispatch_have_no_pull_request() {
    let ctx = fold(&github_env("push", "push.main.json"), &read).expect("push");
    assert_eq!(
        ctx.github.event,
        Event::Push {
            git_ref: "refs/heads/main".into(),
            before: "6dcb09b5b57875f334f61aebed695e2e4193db5e".into(),
            after: "9a1b2c3d4e5f60718293a4b5c6d7e8f901234567".into(),
        }
    );
    assert_eq!(ctx.pull_request(), None);
    assert_eq!(
        ctx.base(),
        None,
        "no PR, no base: every migration is cycled"
    );
    let ctx = fold(
        &github_env("workflow_dispatch", "workflow_dispatch.json")
            .with("GITHUB_API_URL", "https://ghe.example.com/api/v3"),
        &read,
    )
    .expect("dispatch");
    assert_eq!(ctx.github.event, Event::Other);
    assert_eq!(ctx.github.api_url, "https://ghe.example.com/api/v3");
}

#[test]
fn a_broken_context_is_named() {
    let err = fold(&github_env("pull_request", "push.main.json"), &read)
        .expect_err("a push payload is no pull_request event");
    assert!(format!("{err:#}").contains("GITHUB_EVENT_PATH"), "{err:#}");
    let err = fold(&MapEnv::default(), &read).expect_err("outside Actions");
    assert!(err.to_string().contains("GITHUB_REPOSITORY"), "{err}");
}

#[test]
fn a_bad_input_exits_2_naming_it_after_masking_the_secrets() {
    let ws = workspace_with(&[("migrations", "tests/fixtures/layouts/sqlx-reversible")]);
    let out = Run::new(&ws, "push", "push.main.json")
        .input("fail-on", "sometimes")
        .input("github-token", "ghs_secret_token")
        .input("database-url", "postgres://app:pa%24s@db/app")
        .run();
    assert_eq!(out.code, 2, "{out:?}");
    let first: Vec<&str> = out.stdout.lines().take(2).collect();
    assert_eq!(first[0], "::add-mask::ghs_secret_token", "{}", out.stdout);
    assert!(out.stdout.contains("::add-mask::pa$s"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("::error title=upcycle::input `fail-on`: \"sometimes\" is not one of error, warning, never"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.contains("upcycle: input `fail-on`"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_failing_check_annotates_summarizes_and_fails_per_fail_on() {
    let ws = workspace_with(&[("migrations", "tests/fixtures/action/failing")]);
    let out = Run::new(&ws, "push", "push.main.json")
        .input("sandbox", "local")
        .run();
    assert_eq!(out.code, 1, "{out:?}");
    let annotations: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("::error") || l.starts_with("::warning"))
        .collect();
    assert!(!annotations.is_empty(), "{}", out.stdout);
    let first_warning = annotations
        .iter()
        .position(|a| a.starts_with("::warning"))
        .unwrap_or(annotations.len());
    assert!(
        annotations[first_warning..]
            .iter()
            .all(|a| a.starts_with("::warning")),
        "most severe first: {annotations:?}"
    );
    assert!(
        annotations.iter().any(|a| a.contains(
            "file=migrations/20260301000300_broken_up.up.sql,line=3,title=upcycle up-failed::the up fails: column \"nots\" does not exist"
        )),
        "{annotations:?}"
    );
    let summary = out.summary();
    assert!(summary.starts_with("### ❌ upcycle check"), "{summary}");
    assert!(
        summary.contains(
            "> ℹ️ No PR comment was posted: this run is for a push event, not a pull request."
        ),
        "{summary}"
    );
    let outputs = out.outputs();
    assert_eq!(
        outputs.get("report-path").map(String::as_str),
        Some(".upcycle/check-report.json")
    );
    let findings: usize = outputs["findings-count"].parse().expect("a number");
    assert!(findings >= 2, "{outputs:?}");
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(ws.path().join(".upcycle/check-report.json")).expect("report"),
    )
    .expect("JSON");
    assert_eq!(report["summary"]["failed"].as_u64(), Some(2), "{report:#}");

    let never = Run::new(&ws, "push", "push.main.json")
        .input("sandbox", "local")
        .input("fail-on", "never")
        .run();
    assert_eq!(never.code, 0, "fail-on: never");
}
