//! Real migration sets from public projects (the folder named by `UPCYCLE_CORPORA`, one corpus
//! per subfolder with a SOURCE.txt) applied by the binary to a real PostgreSQL, as each
//! project's tool runs them: `up`, then `plan` is empty and the history is exactly the set (or
//! the part of it up to a stop), then `down` as far as the downs are clean, and `up` again.
//! Skipped when the variable is not set.
//!
//! Where a corpus cannot be applied as it is, the test says why and what it does instead:
//! - crates-io: the reading has two error findings (CREATE INDEX CONCURRENTLY in a transactional
//!   down: a true positive), so `up` refuses; that refusal is asserted, and a copy with that one
//!   down fixed is applied.
//! - hatchet: goose files without a `-- +goose Down` section are `missing-down` errors, so `up`
//!   refuses the folder; a copy gets an empty Down section in those files (which is what goose
//!   runs for them: nothing) and is applied up to the last version before the Go migration
//!   20260424190713 that the corpus lacks.
//! - Some downs run but do not restore the schema, so the following up fails; `down` stops at
//!   the newest such migration (named at each test), found by running the cycle.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Instant;

use support::{column, copy_dir, fresh_db, text, upcycle};
use upcycle::migration::{Layout, read_dirs};

/// How far `down` goes.
enum Down {
    /// The corpus has no downs.
    No,
    /// Every down is clean: revert everything.
    All,
    /// Revert down to this migration (it stays applied): its own down is the first that fails.
    /// Named by the start of its path inside the corpus.
    To(&'static str),
}

struct Corpus {
    name: &'static str,
    /// Folders inside the corpus, read as one set (`.` for the corpus folder itself).
    dirs: &'static [&'static str],
    layout: Option<&'static str>,
    /// Apply up to and including the migration whose path starts with this.
    up_to: Option<&'static str>,
    down: Down,
    /// Changes a copy of the corpus before it is applied (what and why: see the module docs).
    patch: Option<fn(&Path)>,
}

fn corpora_root() -> Option<PathBuf> {
    match std::env::var_os("UPCYCLE_CORPORA") {
        Some(root) => Some(PathBuf::from(root)),
        None => {
            println!("skipping: UPCYCLE_CORPORA is not set (the folder with the corpora)");
            None
        }
    }
}

fn exits(out: &Output, code: i32, what: &str) -> (String, String) {
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(
        out.status.code(),
        Some(code),
        "{what}: expected exit {code}\nstdout: {stdout}\nstderr: {stderr}"
    );
    (stdout, stderr)
}

/// A run of the binary against one corpus on one database.
struct Runner {
    dirs: Vec<String>,
    layout: Option<&'static str>,
    url: support::TestDb,
    log: Vec<String>,
}

impl Runner {
    fn run(&mut self, args: &[&str]) -> Output {
        let mut all: Vec<&str> = Vec::new();
        for d in &self.dirs {
            all.extend(["--dir", d.as_str()]);
        }
        if let Some(layout) = self.layout {
            all.extend(["--layout", layout]);
        }
        all.extend_from_slice(args);
        all.extend(["--database-url", self.url.as_str()]);
        let start = Instant::now();
        let out = upcycle(&all);
        let summary = text(&out.stdout)
            .lines()
            .find(|l| l.starts_with("applied ") || l.starts_with("reverted "))
            .map(str::to_string)
            .unwrap_or_default();
        self.log.push(format!(
            "{} → exit {:?} in {:.2} s {}",
            args.join(" "),
            out.status.code(),
            start.elapsed().as_secs_f64(),
            summary
        ));
        out
    }

    /// Versions in the tracking table, in the order applied.
    async fn history(&self) -> Vec<String> {
        column(
            &self.url,
            "SELECT version FROM upcycle_migrations ORDER BY ordinal",
        )
        .await
    }
}

/// The set's versions in order, as upcycle reads the folders, with the path of each up.
fn versions(dirs: &[String], layout: Option<&str>) -> Vec<(String, String)> {
    let folders: Vec<_> = dirs
        .iter()
        .map(|d| upcycle::source::read_dir(Path::new(d)).unwrap_or_else(|e| panic!("{d}: {e:#}")))
        .collect();
    let reading = read_dirs(&folders, layout.and_then(Layout::from_id))
        .unwrap_or_else(|e| panic!("{dirs:?}: {e}"));
    reading
        .set
        .iter()
        .map(|m| (m.version.to_string(), m.up.path.clone()))
        .collect()
}

/// The version of the migration whose up path (inside one of the corpus folders) starts with
/// `prefix`.
fn version_of(set: &[(String, String)], dirs: &[String], prefix: &str) -> String {
    set.iter()
        .find(|(_, path)| {
            dirs.iter().any(|d| {
                path.strip_prefix(d.as_str())
                    .is_some_and(|rest| rest.trim_start_matches('/').starts_with(prefix))
            })
        })
        .unwrap_or_else(|| panic!("no migration at {prefix}"))
        .0
        .clone()
}

/// up → plan empty, history = set (to the stop) → down as far as clean → up again.
async fn cycle(corpus: &Corpus) {
    let Some(root) = corpora_root() else {
        return;
    };
    let source = root.join(corpus.name);
    let tmp = tempfile::tempdir().expect("temp dir");
    let base = match corpus.patch {
        Some(patch) => {
            let copy = tmp.path().join(corpus.name);
            copy_dir(&source, &copy);
            patch(&copy);
            copy
        }
        None => source,
    };
    let dirs: Vec<String> = corpus
        .dirs
        .iter()
        .map(|d| {
            if *d == "." {
                base.display().to_string()
            } else {
                base.join(d).display().to_string()
            }
        })
        .collect();
    let set = versions(&dirs, corpus.layout);
    let all: Vec<String> = set.iter().map(|(v, _)| v.clone()).collect();
    let (target, expected): (Vec<String>, Vec<String>) = match corpus.up_to {
        Some(prefix) => {
            let to = version_of(&set, &dirs, prefix);
            let n = all.iter().position(|v| *v == to).expect("in the set") + 1;
            (vec!["--to".into(), to], all[..n].to_vec())
        }
        None => (Vec::new(), all.clone()),
    };
    let target: Vec<&str> = target.iter().map(String::as_str).collect();
    let mut r = Runner {
        dirs: dirs.clone(),
        layout: corpus.layout,
        url: fresh_db(&corpus.name.replace('-', "_")).await,
        log: Vec::new(),
    };

    let out = r.run(&[&["up"][..], &target].concat());
    let (stdout, _) = exits(&out, 0, corpus.name);
    assert!(
        stdout.contains(&format!("applied {0} of {0}", expected.len())),
        "{}: {stdout}",
        corpus.name
    );
    assert_eq!(r.history().await, expected, "{}: history", corpus.name);
    let plan = r.run(&[&["plan"][..], &target].concat());
    let (plan, _) = exits(&plan, 0, corpus.name);
    assert!(
        plan.contains("nothing to apply"),
        "{}: plan after up:\n{plan}",
        corpus.name
    );
    let verify = r.run(&["verify"]);
    exits(&verify, 0, corpus.name);

    let kept = match corpus.down {
        Down::No => None,
        Down::All => {
            let n = expected.len().to_string();
            let out = r.run(&["down", "--count", &n]);
            exits(&out, 0, corpus.name);
            Some(0)
        }
        Down::To(prefix) => {
            let to = version_of(&set, &dirs, prefix);
            let out = r.run(&["down", "--to", &to]);
            exits(&out, 0, corpus.name);
            Some(expected.iter().position(|v| *v == to).expect("applied") + 1)
        }
    };
    if let Some(kept) = kept {
        assert_eq!(
            r.history().await,
            expected[..kept],
            "{}: history after down",
            corpus.name
        );
        let out = r.run(&[&["up"][..], &target].concat());
        let (stdout, _) = exits(&out, 0, corpus.name);
        let again = expected.len() - kept;
        assert!(
            stdout.contains(&format!("applied {again} of {again}")),
            "{}: {stdout}",
            corpus.name
        );
        assert_eq!(r.history().await, expected, "{}: history", corpus.name);
        let plan = r.run(&[&["plan"][..], &target].concat());
        let (plan, _) = exits(&plan, 0, corpus.name);
        assert!(plan.contains("nothing to apply"), "{}: {plan}", corpus.name);
    }
    println!(
        "{} ({} of {} migrations):\n  {}",
        corpus.name,
        expected.len(),
        all.len(),
        r.log.join("\n  ")
    );
}

#[tokio::test]
async fn openmeter_ups_and_downs_all_apply() {
    cycle(&Corpus {
        name: "openmeter",
        dirs: &["."],
        layout: Some("golang-migrate"),
        up_to: None,
        down: Down::All,
        patch: None,
    })
    .await;
}

#[tokio::test]
async fn kestra_ups_apply() {
    cycle(&Corpus {
        name: "kestra-pg",
        dirs: &["."],
        layout: None,
        up_to: None,
        down: Down::No,
        patch: None,
    })
    .await;
}

#[tokio::test]
async fn atuin_ups_apply() {
    cycle(&Corpus {
        name: "atuin-server-pg",
        dirs: &["."],
        layout: None,
        up_to: None,
        down: Down::No,
        patch: None,
    })
    .await;
}

/// Two folders merged into one set. The down of 20230315104305 has a typo (`DROP_COLUMN`), and
/// 20231108211305 adds an enum label with an empty down (PostgreSQL cannot drop a label), so
/// after reverting it the up fails with "enum label already exists": the clean cycle stops at
/// 20231108211305, which stays applied.
#[tokio::test]
async fn fluidity_ups_apply_and_downs_revert_to_the_enum_label() {
    cycle(&Corpus {
        name: "fluidity-pg",
        dirs: &["100-up-sql-shared", "101-up-postgres"],
        layout: None,
        up_to: None,
        down: Down::To("20231108211305"),
        patch: None,
    })
    .await;
}

/// The reading's two error findings (a true positive) make `up` refuse before connecting.
#[tokio::test]
async fn crates_io_is_refused_for_its_concurrent_index_in_a_transactional_down() {
    let Some(root) = corpora_root() else {
        return;
    };
    let dir = root.join("crates-io").display().to_string();
    let url = fresh_db("crates_io_refused").await;
    let out = upcycle(&["--dir", &dir, "up", "--database-url", &url]);
    let (_, stderr) = exits(&out, 2, "crates-io");
    for needle in [
        "the migrations have 2 error(s); nothing was applied",
        "2024-04-12-144536_remove-downloads-column/down.sql",
        "non-transactional-in-transaction",
    ] {
        assert!(stderr.contains(needle), "`{needle}` in {stderr}");
    }
    assert_eq!(
        column(
            &url,
            "SELECT to_regclass('public.upcycle_migrations')::text"
        )
        .await,
        [""]
    );
}

/// Every up applies (7 of them outside a transaction, by metadata.toml); the down of
/// 2024-10-25-112826 drops a constraint its up never made, so the downs stop above it.
#[tokio::test]
async fn crates_io_with_that_down_fixed_applies() {
    cycle(&Corpus {
        name: "crates-io",
        dirs: &["."],
        layout: None,
        up_to: None,
        down: Down::To("2024-11-12-125605"),
        patch: Some(|dir| {
            let down = dir.join("2024-04-12-144536_remove-downloads-column/down.sql");
            let text = std::fs::read_to_string(&down).expect("read the down");
            assert!(text.contains("create index concurrently"), "{text}");
            std::fs::write(
                &down,
                text.replace("create index concurrently", "create index"),
            )
            .expect("fix the down");
        }),
    })
    .await;
}

/// sql-migrate; its newer files have function bodies with `;` at line ends, which the tool
/// sends whole (upcycle's SQL-aware split). The down of 20170620104459 is invalid SQL, and the
/// down of 20170630095448 drops `enum_integration_keys_source` where its up created
/// `enum_integration_keys_type`, so after reverting it the up fails with "type already exists":
/// the clean cycle stops at 20170630095448, which stays applied.
#[tokio::test]
async fn goalert_ups_apply_and_downs_revert_to_the_misnamed_type() {
    cycle(&Corpus {
        name: "goalert",
        dirs: &["."],
        layout: None,
        up_to: None,
        down: Down::To("20170630095448"),
        patch: None,
    })
    .await;
}

/// Goose files without a Down section get an empty one in a copy, so the reading has no error;
/// applied up to 20260421184231, the last version before the Go migration 20260424190713 that
/// the corpus lacks. The down of 20260316185928 is broken (its table was dropped by a later up
/// whose down does not restore it), so the downs stop above it.
#[tokio::test]
async fn hatchet_applies_up_to_the_missing_go_migration() {
    if let Some(root) = corpora_root() {
        let dir = root.join("hatchet").display().to_string();
        let url = fresh_db("hatchet_refused").await;
        let out = upcycle(&["--dir", &dir, "up", "--database-url", &url]);
        println!(
            "hatchet as it is: exit {:?}: {}",
            out.status.code(),
            text(&out.stderr).lines().next().unwrap_or("")
        );
    }
    cycle(&Corpus {
        name: "hatchet",
        dirs: &["."],
        layout: None,
        up_to: Some("20260421184231"),
        down: Down::To("20260316185928"),
        patch: Some(|dir| {
            for entry in std::fs::read_dir(dir).expect("read the copy") {
                let path = entry.expect("entry").path();
                if path.extension().is_some_and(|e| e == "sql") {
                    let text = std::fs::read_to_string(&path).expect("read");
                    if !text.contains("-- +goose Down") {
                        let sep = if text.ends_with('\n') { "" } else { "\n" };
                        std::fs::write(&path, format!("{text}{sep}\n-- +goose Down\n"))
                            .expect("write");
                    }
                }
            }
        }),
    })
    .await;
}
