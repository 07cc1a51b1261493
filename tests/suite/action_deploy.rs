//! `upcycle action` with `command: apply` and `status` against a real PostgreSQL, reporting to
//! a fake GitHub API (tests/fake_github): a deploy after the merge comments on the pull
//! request(s) of the commit, once per environment; a protected environment applies only the
//! reviewed plan and backs up first; a deploy that fails midway reports what it applied, then
//! fails the step; a deploy that applies nothing tells no pull request. Insta snapshots of the
//! deploy comment and its job summary.

use crate::action_support;
use crate::fake_github;
use crate::support;

use action_support::{Run, workspace_with};
use fake_github::{FakeGitHub, PR, TOKEN};

const SHA: &str = "e5bd3914e2e596debea16f433f57875b5b90bcd6";
const DEV_MARKER: &str = "<!-- upcycle:deploy:migrations@dev -->";

const CONFIG: &str = r#"
[environments.dev]
database_url_env = "DEV_DATABASE_URL"

[environments.production]
database_url_env = "PROD_DATABASE_URL"
protected = true
backup_dir = "backups/production"
"#;

fn workspace(fixture: &str) -> tempfile::TempDir {
    let ws = workspace_with(&[("migrations", fixture)]);
    std::fs::write(ws.path().join("upcycle.toml"), CONFIG).expect("upcycle.toml");
    ws
}

fn deploy(ws: &tempfile::TempDir, api: &str, env: &str, url: &str) -> Run {
    Run::new(ws, "push", "push.main.json")
        .var("GITHUB_API_URL", api)
        .input("github-token", TOKEN)
        .input("command", "apply")
        .input("environment", env)
        .input("database-url", url)
}

async fn applied_versions(url: &str) -> Vec<String> {
    support::column(
        url,
        "SELECT version::text FROM upcycle_migrations ORDER BY version",
    )
    .await
}

async fn has_tracking_table(url: &str) -> bool {
    support::column(
        url,
        "SELECT count(*)::text FROM pg_tables WHERE tablename = 'upcycle_migrations'",
    )
    .await
        == ["1"]
}

fn snapshot(name: &str, text: &str) {
    insta::with_settings!({
        filters => vec![
            (r"\d+ ms", "[ms]"),
            (r"in \d+\.\d s", "in [t] s"),
        ],
    }, {
        insta::assert_snapshot!(name, text);
    });
}

#[tokio::test]
async fn a_deploy_after_the_merge_comments_on_the_pr_of_the_commit() {
    let fake = FakeGitHub::start().await;
    fake.set_commit_pulls(SHA, &[PR]);
    let url = support::fresh_db("deploy_dev").await;
    let ws = workspace("migrations");
    let out = deploy(&ws, &fake.uri(), "dev", &url).run();
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(applied_versions(&url).await.len(), 7);
    let outputs = out.outputs();
    assert_eq!(outputs["applied-count"], "7");
    assert_eq!(outputs["pending-count"], "0");
    assert_eq!(outputs["plan-digest"].len(), 16, "{outputs:?}");
    assert_eq!(outputs["report-path"], ".upcycle/deploy-report.json");
    assert!(!outputs.contains_key("backup-path"), "dev is not protected");
    assert_eq!(
        fake.calls(),
        vec![
            format!("GET /repos/upcycle-dev/shop/commits/{SHA}/pulls?per_page=100"),
            format!("GET /repos/upcycle-dev/shop/issues/{PR}/comments?per_page=100"),
            format!("POST /repos/upcycle-dev/shop/issues/{PR}/comments"),
        ]
    );
    let posted = fake.comments_with(DEV_MARKER);
    assert_eq!(posted.len(), 1);
    assert!(
        posted[0]
            .1
            .starts_with(&format!("{DEV_MARKER}\n### 🚀 upcycle deployed to dev")),
        "{}",
        posted[0].1
    );
    snapshot("deploy-comment", &posted[0].1);
    snapshot("deploy-summary", &out.summary());
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(ws.path().join(".upcycle/deploy-report.json")).expect("report"),
    )
    .expect("JSON");
    assert_eq!(report["applied_count"], 7, "{report:#}");
    assert_eq!(report["environment"], "dev");

    // The job re-run: nothing to apply, and the PR's deploy comment stays as it was.
    fake.clear_requests();
    let again = deploy(&ws, &fake.uri(), "dev", &url).run();
    assert_eq!(again.code, 0, "{again:?}");
    assert_eq!(again.outputs()["applied-count"], "0");
    assert!(fake.calls().is_empty(), "{:?}", fake.calls());
    assert!(
        again
            .summary()
            .contains("### ✅ upcycle: dev is up to date"),
        "{}",
        again.summary()
    );
    assert!(
        again
            .summary()
            .contains("No PR comment was posted: nothing was applied"),
        "{}",
        again.summary()
    );
}

#[tokio::test]
async fn a_protected_environment_applies_only_the_reviewed_plan_after_a_backup() {
    // Trust authentication ignores the password; it is there to be kept out of the log.
    let db = support::fresh_db("deploy_prod").await;
    let url = db.replacen("postgres@", "postgres:s3cret-pw@", 1);
    assert!(url.contains(":s3cret-pw@"), "{url}");
    let ws = workspace("migrations");
    let apply = |digest: Option<&str>| {
        let run = Run::new(&ws, "push", "push.main.json")
            .input("command", "apply")
            .input("environment", "production")
            .var("PROD_DATABASE_URL", &url);
        match digest {
            Some(d) => run.input("expect-plan", d),
            None => run,
        }
    };

    let unreviewed = apply(None).run();
    assert_eq!(unreviewed.code, 2, "{unreviewed:?}");
    assert!(
        unreviewed.stderr.contains(
            "input `expect-plan`: environment production is protected, so apply runs only the plan a reviewer saw"
        ),
        "{}",
        unreviewed.stderr
    );
    assert!(
        unreviewed
            .summary()
            .starts_with("### ❌ upcycle apply: error"),
        "{}",
        unreviewed.summary()
    );
    assert!(!has_tracking_table(&url).await, "nothing was changed");

    let stale = apply(Some("0000000000000000")).run();
    assert_eq!(stale.code, 2, "{stale:?}");
    assert!(
        stale.stderr.contains("the plan is not the one reviewed"),
        "{}",
        stale.stderr
    );
    assert!(applied_versions(&url).await.is_empty(), "nothing applied");
    assert!(!ws.path().join("backups").exists(), "no backup either");

    let planned = Run::new(&ws, "push", "push.main.json")
        .input("command", "plan")
        .input("environment", "production")
        .var("PROD_DATABASE_URL", &url)
        .run();
    assert_eq!(planned.code, 0, "{planned:?}");
    let digest = planned.outputs()["plan-digest"].clone();

    let reviewed = apply(Some(&digest)).run();
    assert_eq!(reviewed.code, 0, "{reviewed:?}");
    assert_eq!(applied_versions(&url).await.len(), 7);
    let outputs = reviewed.outputs();
    let backup = outputs.get("backup-path").expect("a backup-path output");
    assert!(backup.starts_with("backups/production/"), "{backup}");
    let size = std::fs::metadata(ws.path().join(backup))
        .expect("the backup file")
        .len();
    assert!(size > 0);
    assert!(
        reviewed.summary().contains("A backup was taken first"),
        "{}",
        reviewed.summary()
    );
    for text in [&reviewed.stdout, &reviewed.stderr, &reviewed.summary()] {
        assert!(!text.contains("s3cret-pw"), "the password leaked:\n{text}");
    }
}

#[tokio::test]
async fn a_deploy_that_fails_midway_reports_to_every_pr_of_the_commit_then_fails() {
    let fake = FakeGitHub::start().await;
    fake.set_commit_pulls(SHA, &[PR, 43]);
    let url = support::fresh_db("deploy_fail").await;
    let ws = workspace("tests/fixtures/action/failing");
    let out = deploy(&ws, &fake.uri(), "dev", &url).run();
    assert_eq!(out.code, 2, "{out:?}");
    assert_eq!(
        applied_versions(&url).await,
        ["20260301000100", "20260301000200"],
        "the two before the failure stay applied; the failed one left no row"
    );
    for pr in [PR, 43] {
        let posted = fake.comments_on(pr, DEV_MARKER);
        assert_eq!(posted.len(), 1, "PR {pr}: {:?}", fake.calls());
        let body = &posted[0].1;
        assert!(
            body.contains("### ❌ upcycle: the deploy to dev failed"),
            "{body}"
        );
        assert!(body.contains("**2 of 3 migration(s) applied**"), "{body}");
        assert!(body.contains("| broken\\_up | yes | ❌ failed |"), "{body}");
        assert!(body.contains("column \"nots\" does not exist"), "{body}");
    }
    assert!(
        out.stdout.contains("::error title=upcycle::"),
        "{}",
        out.stdout
    );
    assert_eq!(out.outputs()["applied-count"], "2");
    assert_eq!(out.outputs()["pending-count"], "1");
}

#[tokio::test]
async fn a_commit_in_no_pull_request_is_said_in_the_summary() {
    let fake = FakeGitHub::start().await;
    fake.set_commit_pulls(SHA, &[]);
    let url = support::fresh_db("deploy_direct").await;
    let ws = workspace("migrations");
    let out = deploy(&ws, &fake.uri(), "dev", &url).run();
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.summary().contains(&format!(
            "No PR comment was posted: commit {SHA} belongs to no pull request"
        )),
        "{}",
        out.summary()
    );
}

#[tokio::test]
async fn status_counts_applied_and_pending_and_apply_needs_a_database() {
    let url = support::fresh_db("deploy_status").await;
    let ws = workspace("migrations");
    let status = |url: &str| {
        Run::new(&ws, "push", "push.main.json")
            .input("command", "status")
            .input("database-url", url)
            .run()
    };
    let before = status(&url);
    assert_eq!(before.code, 0, "{before:?}");
    assert_eq!(before.outputs()["pending-count"], "7");
    assert_eq!(before.outputs()["applied-count"], "0");
    assert!(
        before
            .summary()
            .starts_with("### 📋 upcycle status of default\n\n**0 applied, 7 pending**"),
        "{}",
        before.summary()
    );
    let up = Run::new(&ws, "push", "push.main.json")
        .input("command", "apply")
        .input("database-url", &url)
        .run();
    assert_eq!(up.code, 0, "{up:?}");
    let after = status(&url);
    assert_eq!(after.outputs()["pending-count"], "0");
    assert_eq!(after.outputs()["applied-count"], "7");

    let nowhere = Run::new(&ws, "push", "push.main.json")
        .input("command", "apply")
        .run();
    assert_eq!(nowhere.code, 2, "{nowhere:?}");
    assert!(
        nowhere
            .stderr
            .contains("input `database-url`: command apply needs the target database"),
        "{}",
        nowhere.stderr
    );
}
