//! The apply engine against a real PostgreSQL: up, down, status, verify, repair, force and
//! baseline on the bundled set, and the failure paths (a failing migration, a dirty one, bad
//! input, an unexpected plan).

use crate::support;

use support::{column, fresh_db, objects, text, upcycle};

fn ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

#[tokio::test]
async fn bundled_set_goes_up_down_and_up_again() {
    let url = fresh_db("bundled").await;
    let db = ["--database-url", url.as_str()];
    let out = ok(&upcycle(&[&["up"][..], &db].concat()));
    assert!(out.contains("applied 7 of 7"), "{out}");
    let after_up = objects(&url).await;
    assert!(
        after_up.contains(&"rel:jobs".to_string())
            && after_up.contains(&"type:job_status".to_string()),
        "{after_up:?}"
    );
    let plan = ok(&upcycle(&[&["plan"][..], &db].concat()));
    assert!(plan.contains("nothing to apply"), "{plan}");
    let down = ok(&upcycle(&[&["down", "--count", "7"][..], &db].concat()));
    assert!(down.contains("reverted 7 of 7"), "{down}");
    assert!(objects(&url).await.is_empty(), "{:?}", objects(&url).await);
    assert_eq!(
        column(&url, "SELECT count(*)::text FROM upcycle_migrations").await,
        ["0"]
    );
    ok(&upcycle(&[&["up"][..], &db].concat()));
    assert_eq!(objects(&url).await, after_up);
    let versions = column(
        &url,
        "SELECT version FROM upcycle_migrations ORDER BY ordinal",
    )
    .await;
    assert_eq!(versions.len(), 7);
    assert_eq!(versions[0], "20260101090000");
    let states = column(&url, "SELECT DISTINCT state FROM upcycle_migrations").await;
    assert_eq!(states, ["applied"]);
    let status = ok(&upcycle(&[&["status"][..], &db].concat()));
    assert!(
        status.contains("7 applied, 0 pending, 0 dirty, 0 modified, 0 missing"),
        "{status}"
    );
    let verify = ok(&upcycle(&[&["verify"][..], &db].concat()));
    assert!(verify.contains("verified: 7"), "{verify}");
}
