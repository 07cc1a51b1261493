//! The GitHub edge against a fake REST API on 127.0.0.1 (tests/fake_github): the exact requests
//! of the sticky comment (list every page, then PATCH, or POST only when no page holds the
//! marker), no duplicate after a failed write, 403/404/422 as GitHub sends them, the pulls of a
//! commit, GHES paths; then `upcycle action` on a pull request end to end, with insta snapshots
//! of the comment of a clean and of a failing check.

use crate::action_support;
use crate::fake_github;
use crate::support;

use std::time::Duration;

use action_support::{Run, event_with_base, pr_workspace};
use fake_github::{FakeGitHub, OWNER, PR, READ_ONLY_TOKEN, REPO, REPO_ID, TOKEN};
use upcycle::action::context::Repository;
use upcycle::github::{GitHub, Upserted};

const MARKER: &str = "<!-- upcycle:check:migrations -->";
const LIST: &str = "/repos/upcycle-dev/shop/issues/42/comments?per_page=100";
const POST: &str = "/repos/upcycle-dev/shop/issues/42/comments";

fn client(api_url: &str, token: &str) -> GitHub {
    let mut gh = GitHub::new(
        api_url,
        token,
        Repository {
            owner: OWNER.into(),
            name: REPO.into(),
        },
    )
    .expect("client");
    gh.backoff = Duration::from_millis(10);
    gh
}

fn body(text: &str) -> String {
    format!("{MARKER}\n{text}")
}

#[tokio::test]
async fn the_first_run_creates_the_comment_and_the_second_updates_it_in_place() {
    let fake = FakeGitHub::start().await;
    let gh = client(&fake.uri(), TOKEN);
    let first = gh
        .upsert_comment(PR, MARKER, &body("run 1"))
        .await
        .expect("created");
    let Upserted::Created(created) = first else {
        panic!("the first run creates: {first:?}")
    };
    let second = gh
        .upsert_comment(PR, MARKER, &body("run 2"))
        .await
        .expect("updated");
    assert_eq!(
        second,
        Upserted::Updated(upcycle::github::IssueComment {
            body: body("run 2"),
            ..created.clone()
        })
    );
    let patch = format!("/repos/upcycle-dev/shop/issues/comments/{}", created.id);
    assert_eq!(
        fake.calls(),
        vec![
            format!("GET {LIST}"),
            format!("POST {POST}"),
            format!("GET {LIST}"),
            format!("PATCH {patch}"),
        ]
    );
    let requests = fake.requests();
    assert_eq!(
        requests[1].body,
        Some(serde_json::json!({ "body": body("run 1") }))
    );
    assert!(
        requests[3].body.as_ref().expect("body")["body"]
            .as_str()
            .expect("text")
            .starts_with(MARKER)
    );
    assert!(
        requests
            .iter()
            .all(|r| r.authorization.as_deref() == Some(&*format!("Bearer {TOKEN}")))
    );
    assert_eq!(
        fake.comments_with(MARKER),
        vec![(created.id, body("run 2"))],
        "never a second comment"
    );
}

#[tokio::test]
async fn the_comment_is_found_on_page_2_of_3() {
    let fake = FakeGitHub::start().await;
    let ids = fake.seed_comments(250, |i| {
        if i == 150 {
            body("old report")
        } else {
            format!("LGTM #{i}")
        }
    });
    let gh = client(&fake.uri(), TOKEN);
    let done = gh
        .upsert_comment(PR, MARKER, &body("new report"))
        .await
        .expect("upsert");
    assert_eq!(done.comment().id, ids[150]);
    assert!(matches!(done, Upserted::Updated(_)));
    let page =
        |n: u32| format!("GET /repositories/{REPO_ID}/issues/42/comments?per_page=100&page={n}");
    assert_eq!(
        fake.calls(),
        vec![
            format!("GET {LIST}"),
            page(2),
            page(3),
            format!("PATCH /repos/upcycle-dev/shop/issues/comments/{}", ids[150]),
        ],
        "every page through Link rel=next, then one PATCH and no POST"
    );
    assert!(
        fake.requests().iter().all(|r| r.authorization.is_some()),
        "the token goes with the Link pages too"
    );
}

#[tokio::test]
async fn a_failed_write_is_tried_again_only_after_listing_again() {
    // The POST went through but its answer was lost (502): the retry finds it and updates it.
    let fake = FakeGitHub::start().await;
    fake.fail_next_write(502, true);
    let gh = client(&fake.uri(), TOKEN);
    let done = gh
        .upsert_comment(PR, MARKER, &body("x"))
        .await
        .expect("upsert");
    assert!(matches!(done, Upserted::Updated(_)), "{done:?}");
    let id = done.comment().id;
    assert_eq!(
        fake.calls(),
        vec![
            format!("GET {LIST}"),
            format!("POST {POST}"),
            format!("GET {LIST}"),
            format!("PATCH /repos/upcycle-dev/shop/issues/comments/{id}"),
        ]
    );
    assert_eq!(fake.comments_with(MARKER).len(), 1, "no duplicate");

    // The POST did not go through: listing again finds nothing, so one POST more.
    let fake = FakeGitHub::start().await;
    fake.fail_next_write(503, false);
    let gh = client(&fake.uri(), TOKEN);
    let done = gh
        .upsert_comment(PR, MARKER, &body("y"))
        .await
        .expect("upsert");
    assert!(matches!(done, Upserted::Created(_)), "{done:?}");
    assert_eq!(
        fake.calls(),
        vec![
            format!("GET {LIST}"),
            format!("POST {POST}"),
            format!("GET {LIST}"),
            format!("POST {POST}")
        ]
    );
    assert_eq!(fake.comments_with(MARKER).len(), 1);

    // A write that keeps failing gives up after the tries, with the error.
    let fake = FakeGitHub::start().await;
    for _ in 0..3 {
        fake.fail_next_write(502, false);
    }
    let gh = client(&fake.uri(), TOKEN);
    let err = gh
        .upsert_comment(PR, MARKER, &body("z"))
        .await
        .expect_err("gives up");
    assert_eq!(err.status(), Some(502));
    assert_eq!(
        fake.calls()
            .iter()
            .filter(|c| c.starts_with("POST"))
            .count(),
        3
    );
}

#[tokio::test]
async fn github_errors_come_back_as_github_sent_them() {
    let fake = FakeGitHub::start().await;
    let read_only = client(&fake.uri(), READ_ONLY_TOKEN);
    let err = read_only
        .upsert_comment(PR, MARKER, &body("x"))
        .await
        .expect_err("403");
    assert!(err.is_forbidden(), "{err}");
    assert_eq!(
        err.to_string(),
        "GitHub answered 403 to POST /repos/upcycle-dev/shop/issues/42/comments: Resource not accessible by integration"
    );
    assert_eq!(
        fake.calls(),
        vec![format!("GET {LIST}"), format!("POST {POST}")],
        "no retry of a 403"
    );

    let gh = client(&fake.uri(), TOKEN);
    let err = gh.find_comment(7, MARKER).await.expect_err("no PR 7");
    assert_eq!(err.status(), Some(404));
    assert!(err.to_string().ends_with(": Not Found"), "{err}");

    let long = body(&"x".repeat(65_537));
    let err = gh.create_comment(PR, &long).await.expect_err("422");
    assert_eq!(err.status(), Some(422));
    assert!(
        err.to_string()
            .contains("Validation Failed (body is too long (maximum is 65536 characters))"),
        "{err}"
    );
    let wrong = client(&fake.uri(), "ghs_nope");
    assert_eq!(
        wrong.comments(PR).await.expect_err("401").status(),
        Some(401)
    );
}

#[tokio::test]
async fn the_pull_requests_of_a_commit() {
    let fake = FakeGitHub::start().await;
    let sha = "9a1b2c3d4e5f60718293a4b5c6d7e8f901234567";
    fake.set_commit_pulls(sha, &[42]);
    let gh = client(&fake.uri(), TOKEN);
    let pulls = gh.pulls_of_commit(sha).await.expect("pulls");
    assert_eq!(pulls.len(), 1);
    assert_eq!(pulls[0].number, 42);
    assert_eq!(pulls[0].base_ref, "main");
    assert_eq!(
        fake.calls(),
        vec![format!(
            "GET /repos/upcycle-dev/shop/commits/{sha}/pulls?per_page=100"
        )]
    );
    let err = gh
        .pulls_of_commit("0000000")
        .await
        .expect_err("unknown sha");
    assert_eq!(err.status(), Some(422));
}

#[tokio::test]
async fn ghes_keeps_its_api_prefix_through_the_pages() {
    let fake = FakeGitHub::start().await;
    fake.seed_comments(120, |i| format!("comment {i}"));
    let gh = client(&format!("{}/api/v3", fake.uri()), TOKEN);
    assert_eq!(gh.comments(PR).await.expect("all pages").len(), 120);
    let found = fake.server.received_requests().await.expect("recorded");
    let paths: Vec<String> = found
        .iter()
        .map(|r| format!("{}?{}", r.url.path(), r.url.query().unwrap_or("")))
        .collect();
    assert_eq!(
        paths,
        vec![
            "/api/v3/repos/upcycle-dev/shop/issues/42/comments?per_page=100".to_string(),
            format!("/api/v3/repositories/{REPO_ID}/issues/42/comments?per_page=100&page=2"),
        ]
    );
}

// ---- `upcycle action` on a pull request, end to end ----

fn comment_snapshot(name: &str, body: &str) {
    insta::with_settings!({
        filters => vec![
            (r"\d+ ms", "[ms]"),
            (r"in \d+\.\d s", "in [t] s"),
            (r"127\.0\.0\.1:\d+", "127.0.0.1:[port]"),
            (
                r"localhost:\d+/postgres\?host=[^ ·]+",
                "localhost:[port]/postgres?host=[server folder]",
            ),
            (r"PostgreSQL \d+", "PostgreSQL [major]"),
            (r"\b[0-9a-f]{40}\b", "[sha]"),
        ],
    }, {
        insta::assert_snapshot!(name, body);
    });
}

fn pr_run(ws: &tempfile::TempDir, event: &std::path::Path, api: &str, token: &str) -> Run {
    Run::new(ws, "pull_request", &event.display().to_string())
        .var("GITHUB_API_URL", api)
        .input("github-token", token)
        .input("sandbox", "local")
}

#[tokio::test]
async fn a_pr_run_comments_once_and_the_next_run_updates_that_comment() {
    let fake = FakeGitHub::start().await;
    let (ws, base) = pr_workspace("migrations", "20260101090500");
    let runner = tempfile::tempdir().expect("dir");
    let event = event_with_base("pull_request.synchronize.json", &base, runner.path());

    let first = pr_run(&ws, &event, &fake.uri(), TOKEN).run();
    assert_eq!(first.code, 0, "{first:?}");
    assert_eq!(
        fake.calls(),
        vec![format!("GET {LIST}"), format!("POST {POST}")]
    );
    let posted = fake.comments_with(MARKER);
    assert_eq!(posted.len(), 1);
    assert!(
        posted[0]
            .1
            .starts_with(&format!("{MARKER}\n### ✅ upcycle check: 2 of 7 migration")),
        "{}",
        posted[0].1
    );
    assert!(
        !first.summary().contains("No PR comment"),
        "{}",
        first.summary()
    );
    assert!(
        first.stdout.starts_with(&format!("::add-mask::{TOKEN}\n")),
        "{}",
        first.stdout
    );
    comment_snapshot("comment-clean", &posted[0].1);
    comment_snapshot("summary-clean", &first.summary());

    fake.clear_requests();
    let second = pr_run(&ws, &event, &fake.uri(), TOKEN).run();
    assert_eq!(second.code, 0, "{second:?}");
    assert_eq!(
        fake.calls(),
        vec![
            format!("GET {LIST}"),
            format!(
                "PATCH /repos/upcycle-dev/shop/issues/comments/{}",
                posted[0].0
            ),
        ],
        "the second run updates; it never posts a second comment"
    );
    assert_eq!(fake.comments_with(MARKER).len(), 1);
}

#[tokio::test]
async fn a_failing_pr_run_comments_its_findings_and_fails() {
    let fake = FakeGitHub::start().await;
    let (ws, base) = pr_workspace("tests/fixtures/action/failing", "20260301000200");
    let runner = tempfile::tempdir().expect("dir");
    let event = event_with_base("pull_request.opened.json", &base, runner.path());
    let out = pr_run(&ws, &event, &fake.uri(), TOKEN).run();
    assert_eq!(out.code, 1, "{out:?}");
    let posted = fake.comments_with(MARKER);
    assert_eq!(posted.len(), 1, "{:?}", fake.calls());
    comment_snapshot("comment-failing", &posted[0].1);
    comment_snapshot("summary-failing", &out.summary());
}

#[tokio::test]
async fn a_read_only_token_puts_the_report_in_the_summary_and_exits_0() {
    let fake = FakeGitHub::start().await;
    let (ws, base) = pr_workspace("migrations", "20260101090500");
    let runner = tempfile::tempdir().expect("dir");
    let event = event_with_base("pull_request.opened.json", &base, runner.path());
    let out = pr_run(&ws, &event, &fake.uri(), READ_ONLY_TOKEN).run();
    assert_eq!(out.code, 0, "a read-only token is no failure: {out:?}");
    assert_eq!(
        fake.calls(),
        vec![format!("GET {LIST}"), format!("POST {POST}")]
    );
    let summary = out.summary();
    assert!(summary.starts_with("### ✅ upcycle check"), "{summary}");
    assert!(
        summary.contains("> ℹ️ No PR comment was posted: the token may not write to this pull request (GitHub answered 403 to POST /repos/upcycle-dev/shop/issues/42/comments: Resource not accessible by integration). Pull requests from forks get a read-only token; otherwise give the job `permissions: pull-requests: write`."),
        "{summary}"
    );
    assert!(!out.stdout.contains("::warning"), "{}", out.stdout);

    let no_token = Run::new(&ws, "pull_request", &event.display().to_string())
        .input("sandbox", "local")
        .run();
    assert_eq!(no_token.code, 0);
    assert!(
        no_token
            .summary()
            .contains("No PR comment was posted: the step has no github-token")
    );
}

#[tokio::test]
async fn a_plan_on_a_pr_keeps_one_comment_per_environment_and_sets_its_outputs() {
    let fake = FakeGitHub::start().await;
    let url = support::fresh_db("action_plan").await;
    let (ws, base) = pr_workspace("migrations", "20260101090500");
    let runner = tempfile::tempdir().expect("dir");
    let event = event_with_base("pull_request.opened.json", &base, runner.path());
    let out = Run::new(&ws, "pull_request", &event.display().to_string())
        .var("GITHUB_API_URL", &fake.uri())
        .input("github-token", TOKEN)
        .input("command", "plan")
        .input("database-url", &url)
        .run();
    assert_eq!(out.code, 0, "{out:?}");
    let outputs = out.outputs();
    assert_eq!(outputs["pending-count"], "7");
    assert_eq!(outputs["plan-digest"].len(), 16, "{outputs:?}");
    assert_eq!(outputs["report-path"], ".upcycle/plan-report.json");
    let posted = fake.comments_with("<!-- upcycle:plan:migrations@default -->");
    assert_eq!(posted.len(), 1, "{:?}", fake.calls());
    assert!(
        posted[0]
            .1
            .contains("**7 pending migration(s)** · plan digest"),
        "{}",
        posted[0].1
    );
    assert!(
        fake.comments_with(MARKER).is_empty(),
        "the plan's comment is not the check's"
    );
}

/// A check of 1,500 migrations whose downs all fail to restore the schema: far over the budget.
fn huge_report() -> upcycle::check::report::CheckReport {
    use upcycle::check::report::{CheckReport, MigrationCheck, StepOutcome, Summary};
    use upcycle::check::{Code, Finding};
    let ok = |ms| {
        Some(StepOutcome {
            ok: true,
            ms,
            error: None,
        })
    };
    let mut report = CheckReport {
        layout: "sqlx".into(),
        dirs: vec!["migrations".into()],
        sandbox: "local (PostgreSQL 15)".into(),
        base: Some("6dcb09b5b57875f334f61aebed695e2e4193db5e".into()),
        migrations: Vec::new(),
        full_cycle: None,
        findings: Vec::new(),
        summary: Summary::default(),
        reproduce: "upcycle check --dir migrations --base 6dcb09b".into(),
    };
    for i in 0..1500u32 {
        let version = format!("{}", 20_260_101_000_000u64 + u64::from(i));
        let name = format!("add_table_{i}");
        let down = format!("migrations/{version}_{name}.down.sql");
        report.migrations.push(MigrationCheck {
            version: version.clone(),
            name: name.clone(),
            path: format!("migrations/{version}_{name}.up.sql"),
            down_path: Some(down.clone()),
            transaction: true,
            cycled: true,
            up: ok(3),
            down: ok(2),
            reup: ok(3),
            schema_restored: Some(false),
            reup_matches: Some(true),
            diff: (0..30)
                .map(|c| format!("table public.t{i}: column c{c} integer is left behind"))
                .collect(),
            reup_diff: Vec::new(),
            errors: 1,
        });
        report.findings.push(Finding::new(
            Code::SchemaNotRestored,
            down,
            Some(1),
            format!("the down leaves table public.t{i} behind (30 columns)"),
        ));
    }
    report.summarize(123_456);
    report
}

#[tokio::test]
async fn a_huge_check_degrades_to_fit_the_comment_and_github_takes_it() {
    use upcycle::action::publish::SUMMARY_BUDGET;
    use upcycle::report::comment::{COMMENT_BUDGET, fit};
    let report = huge_report();
    let mut parts = upcycle::report::check::markdown_parts(&report, &|_, _| None);
    parts.marker = MARKER.into();
    parts.full_report =
        Some("[the job summary of this run](https://github.com/upcycle-dev/shop/actions/runs/7012345678)".into());
    let full = parts.full();
    assert!(
        full.chars().count() > 10 * COMMENT_BUDGET,
        "the report is huge"
    );
    let body = fit(&parts, COMMENT_BUDGET);
    assert!(
        body.chars().count() <= COMMENT_BUDGET,
        "{}",
        body.chars().count()
    );
    assert!(
        body.starts_with(&format!("{MARKER}\n### ❌ upcycle check")),
        "{body}"
    );

    let fake = FakeGitHub::start().await;
    let gh = client(&fake.uri(), TOKEN);
    let posted = gh.upsert_comment(PR, MARKER, &body).await;
    assert!(matches!(posted, Ok(Upserted::Created(_))), "{posted:?}");
    let over = gh.upsert_comment(PR, MARKER, &full).await;
    assert_eq!(
        over.expect_err("GitHub refuses a body over the limit")
            .status(),
        Some(422)
    );
    comment_snapshot("comment-huge", &body);

    // The job summary has a larger budget: more of the report, still within it.
    let summary = fit(&parts, SUMMARY_BUDGET);
    assert!(summary.chars().count() <= SUMMARY_BUDGET);
    assert!(summary.chars().count() > body.chars().count());
}
