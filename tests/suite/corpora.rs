//! Real migration sets from public projects (the folder named by `UPCYCLE_CORPORA`, one corpus
//! per subfolder with a SOURCE.txt): each reads as its layout, with the migration and down counts
//! SOURCE.txt states, and with exactly the error findings we accept as true. Skipped when the
//! variable is not set, so the crate tests on its own.

use std::path::{Path, PathBuf};

use upcycle::check::{Finding, Severity};
use upcycle::migration::{Layout, Reading, read_dirs};

/// Which error findings a corpus may have.
enum Errors {
    None,
    /// Only `non-transactional-in-transaction`, only in files whose path ends with this.
    NonTransactionalIn(&'static str),
    /// Only `missing-down`, one per migration without a down.
    MissingDowns,
}

struct Corpus {
    name: &'static str,
    /// Folders inside the corpus read as one set (`.` for the corpus folder itself).
    dirs: &'static [&'static str],
    layout: Layout,
    errors: Errors,
}

const CORPORA: &[Corpus] = &[
    Corpus {
        name: "atuin-server-pg",
        dirs: &["."],
        layout: Layout::Sqlx,
        errors: Errors::None,
    },
    // A true positive: diesel runs this down in a transaction, and CREATE INDEX CONCURRENTLY
    // fails there ("cannot run inside a transaction block").
    Corpus {
        name: "crates-io",
        dirs: &["."],
        layout: Layout::Diesel,
        errors: Errors::NonTransactionalIn("2024-04-12-144536_remove-downloads-column/down.sql"),
    },
    // The project's build merges these two folders into one dbmate folder.
    Corpus {
        name: "fluidity-pg",
        dirs: &["100-up-sql-shared", "101-up-postgres"],
        layout: Layout::Dbmate,
        errors: Errors::None,
    },
    Corpus {
        name: "goalert",
        dirs: &["."],
        layout: Layout::SqlMigrate,
        errors: Errors::None,
    },
    Corpus {
        name: "hatchet",
        dirs: &["."],
        layout: Layout::Goose,
        errors: Errors::MissingDowns,
    },
    Corpus {
        name: "kestra-pg",
        dirs: &["."],
        layout: Layout::Flyway,
        errors: Errors::None,
    },
    // golang-migrate files; sqlx reads a pair folder the same way, and detection prefers it.
    Corpus {
        name: "openmeter",
        dirs: &["."],
        layout: Layout::Sqlx,
        errors: Errors::None,
    },
];

/// What SOURCE.txt says about a corpus.
#[derive(Debug, PartialEq, Eq)]
struct Source {
    migrations: usize,
    /// Migrations with a down (with SQL or an empty down section).
    downs: usize,
}

/// Parses `migrations: N` and `downs: no (…)` / `downs: yes: A with SQL, B with an empty down
/// section, C without any down`.
fn parse_source(text: &str) -> Source {
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .map(str::trim)
            .unwrap_or_else(|| panic!("SOURCE.txt has no `{key}` line"))
    };
    let migrations: usize = field("migrations:").parse().expect("migrations: N");
    let downs_line = field("downs:");
    let downs = if downs_line.starts_with("no") {
        0
    } else {
        let list = downs_line
            .strip_prefix("yes:")
            .unwrap_or_else(|| panic!("downs: `{downs_line}`"))
            .trim();
        list.split(',')
            .map(str::trim)
            .filter(|part| {
                part.ends_with("with SQL") || part.ends_with("with an empty down section")
            })
            .map(|part| {
                part.split_whitespace()
                    .next()
                    .and_then(|n| n.parse::<usize>().ok())
                    .unwrap_or_else(|| panic!("downs part `{part}`"))
            })
            .sum()
    };
    Source { migrations, downs }
}

fn read(root: &Path, corpus: &Corpus, forced: Option<Layout>) -> Reading {
    let dirs: Vec<_> = corpus
        .dirs
        .iter()
        .map(|d| {
            let path: PathBuf = if *d == "." {
                root.join(corpus.name)
            } else {
                root.join(corpus.name).join(d)
            };
            upcycle::source::read_dir(&path).unwrap_or_else(|e| panic!("{}: {e:#}", corpus.name))
        })
        .collect();
    read_dirs(&dirs, forced).unwrap_or_else(|e| panic!("{}: {e}", corpus.name))
}

fn errors(reading: &Reading) -> Vec<&Finding> {
    reading
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .collect()
}

fn downs(reading: &Reading) -> usize {
    reading.set.iter().filter(|m| m.down.is_some()).count()
}

#[test]
fn source_lines_parse() {
    let hatchet = "migrations: 224\ndowns: yes: 124 with SQL, 12 with an empty down section, 88 without any down\n";
    assert_eq!(
        parse_source(hatchet),
        Source {
            migrations: 224,
            downs: 136
        }
    );
    assert_eq!(
        parse_source("migrations: 26\ndowns: no (layout/corpus has no down migrations)\n"),
        Source {
            migrations: 26,
            downs: 0
        }
    );
    assert_eq!(
        parse_source("migrations: 285\ndowns: yes: 285 with SQL\n"),
        Source {
            migrations: 285,
            downs: 285
        }
    );
}

#[test]
fn corpora_read_as_their_source_says() {
    let Some(root) = std::env::var_os("UPCYCLE_CORPORA") else {
        println!("skipping: UPCYCLE_CORPORA is not set");
        return;
    };
    let root = PathBuf::from(root);
    for corpus in CORPORA {
        let source_file = root.join(corpus.name).join("SOURCE.txt");
        let source = parse_source(
            &std::fs::read_to_string(&source_file)
                .unwrap_or_else(|e| panic!("{}: {e}", source_file.display())),
        );
        let reading = read(&root, corpus, None);
        let name = corpus.name;

        assert_eq!(
            reading.detection.layout, corpus.layout,
            "{name}: {}",
            reading.detection.reason
        );
        assert_eq!(reading.set.len(), source.migrations, "{name}: migrations");
        assert_eq!(
            downs(&reading),
            source.downs,
            "{name}: migrations with a down"
        );

        let errors = errors(&reading);
        match corpus.errors {
            Errors::None => assert!(errors.is_empty(), "{name}: {errors:#?}"),
            Errors::NonTransactionalIn(file) => {
                assert!(
                    !errors.is_empty(),
                    "{name}: the known true positive in {file} is no longer found"
                );
                for f in &errors {
                    assert!(
                        f.code.to_string() == "non-transactional-in-transaction"
                            && f.path.ends_with(file),
                        "{name}: unexpected {f:#?}"
                    );
                }
            }
            Errors::MissingDowns => {
                assert!(
                    errors.iter().all(|f| f.code.to_string() == "missing-down"),
                    "{name}: {errors:#?}"
                );
                assert_eq!(
                    errors.len(),
                    source.migrations - source.downs,
                    "{name}: one missing-down per migration without a down"
                );
            }
        }
    }
}

/// sqlx and golang-migrate read a pair folder alike: forcing golang-migrate changes nothing.
#[test]
fn openmeter_reads_the_same_as_golang_migrate() {
    let Some(root) = std::env::var_os("UPCYCLE_CORPORA") else {
        println!("skipping: UPCYCLE_CORPORA is not set");
        return;
    };
    let root = PathBuf::from(root);
    let corpus = CORPORA
        .iter()
        .find(|c| c.name == "openmeter")
        .expect("openmeter row");
    let detected = read(&root, corpus, None);
    let forced = read(&root, corpus, Some(Layout::GolangMigrate));
    assert_eq!(
        detected.detection.also,
        Some(Layout::GolangMigrate),
        "{}",
        detected.detection.reason
    );
    assert_eq!(forced.detection.layout, Layout::GolangMigrate);
    assert_eq!(forced.set.len(), detected.set.len());
    assert_eq!(downs(&forced), downs(&detected));
    let versions = |r: &Reading| {
        r.set
            .iter()
            .map(|m| m.version.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(versions(&forced), versions(&detected));
    assert!(errors(&forced).is_empty(), "{:#?}", errors(&forced));
}
