//! Several runners at once: eight `upcycle up` processes started together on one fresh database
//! with the bundled `migrations/` (which has a CREATE INDEX CONCURRENTLY migration, the case a
//! transaction-scoped lock would hang). The advisory lock lets one apply; the others wait, then
//! find nothing to do.

use crate::support;

use std::process::{Command, Stdio};

use support::{column, fresh_db, objects, root, text};

const RUNNERS: usize = 8;

#[tokio::test]
async fn eight_concurrent_ups_apply_every_migration_exactly_once() {
    let url = fresh_db("concurrent").await;
    let children: Vec<_> = (0..RUNNERS)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_upcycle"))
                .args(["up", "--database-url", &url])
                .current_dir(root())
                .env_remove("DATABASE_URL")
                .env("NO_COLOR", "1")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start upcycle")
        })
        .collect();
    let outputs: Vec<_> = children
        .into_iter()
        .map(|c| c.wait_with_output().expect("wait for upcycle"))
        .collect();

    let mut applied_counts = Vec::new();
    for (i, out) in outputs.iter().enumerate() {
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert!(
            out.status.success(),
            "runner {i} exited {:?}\nstdout: {stdout}\nstderr: {stderr}",
            out.status.code()
        );
        let line = stdout
            .lines()
            .find(|l| l.starts_with("applied "))
            .unwrap_or_else(|| panic!("runner {i}: no report\n{stdout}"));
        applied_counts.push(line.split_whitespace().nth(1).unwrap_or("").to_string());
    }
    applied_counts.sort();
    // One runner applied all seven; every other one found nothing left to do.
    let mut expected = vec!["0".to_string(); RUNNERS - 1];
    expected.push("7".to_string());
    assert_eq!(applied_counts, expected);

    let versions = column(
        &url,
        "SELECT version FROM upcycle_migrations ORDER BY ordinal",
    )
    .await;
    assert_eq!(versions.len(), 7, "{versions:?}");
    let mut unique = versions.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        versions.len(),
        "a migration was recorded twice"
    );
    assert_eq!(
        column(&url, "SELECT DISTINCT state FROM upcycle_migrations").await,
        ["applied"]
    );
    let mut on_disk: Vec<String> = std::fs::read_dir(root().join("migrations"))
        .expect("migrations/")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.ends_with(".up.sql")
                .then(|| name.split('_').next().unwrap_or("").to_string())
        })
        .collect();
    on_disk.sort();
    assert_eq!(versions, on_disk);

    let schema = objects(&url).await;
    for object in [
        "rel:users",
        "rel:projects",
        "rel:jobs",
        "rel:results",
        "rel:jobs_project_id_status_active_idx",
        "type:job_status",
        "func:jobs_set_updated_at",
    ] {
        assert!(
            schema.contains(&object.to_string()),
            "{object} missing: {schema:?}"
        );
    }
    // The concurrently built index is valid (a failed CONCURRENTLY build leaves it invalid).
    assert_eq!(
        column(
            &url,
            "SELECT i.indisvalid::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 'jobs_project_id_status_active_idx'",
        )
        .await,
        ["true"]
    );
}
