//! Reading every layout: one folder per layout under `tests/fixtures/layouts/` (its detected
//! layout, versions in order, downs, transaction modes and JSON report), and one folder per defect
//! under `tests/fixtures/bad/` whose `EXPECT` line says what it must produce.

use crate::common;

use std::path::Path;

use common::{Expect, bad_cases, bad_dir, cases, layout_dir, parse_expect};
use upcycle::check::Severity;
use upcycle::migration::{Checksum, Layout, Reading, read_dirs};
use upcycle::term::{Term, Verbosity};

/// `(version, has a down, runs in a transaction)` of one migration, in apply order.
type Row = (&'static str, bool, bool);

/// What one layout fixture must read as.
struct Case {
    name: &'static str,
    layout: Layout,
    migrations: &'static [Row],
    /// Findings other than info: `(code, file relative to the fixture, line)`.
    findings: &'static [(&'static str, &'static str, Option<u32>)],
}

const CASES: &[Case] = &[
    Case {
        name: "alembic",
        layout: Layout::Alembic,
        migrations: &[],
        findings: &[],
    },
    Case {
        name: "dbmate",
        layout: Layout::Dbmate,
        migrations: &[
            ("20240101090000", true, true),
            ("20240102090000", true, false),
            ("20240103090000", true, true),
        ],
        findings: &[],
    },
    Case {
        name: "diesel",
        layout: Layout::Diesel,
        migrations: &[
            ("20240101090000", true, true),
            ("20240102090000", true, false),
            ("20240103090000", true, true),
        ],
        findings: &[],
    },
    Case {
        name: "flyway",
        layout: Layout::Flyway,
        // 1_10 after 1_9 (numeric parts), the repeatable after every versioned migration.
        migrations: &[
            ("1", false, true),
            ("1.9", false, true),
            ("1.10", false, false),
            ("R__active_users_view", false, true),
        ],
        findings: &[],
    },
    Case {
        name: "golang-migrate",
        layout: Layout::GolangMigrate,
        migrations: &[
            ("000001", true, true),
            ("000002", true, false),
            ("000003", true, true),
        ],
        findings: &[],
    },
    Case {
        name: "goose",
        layout: Layout::Goose,
        migrations: &[
            ("00001", true, true),
            ("00002", true, true),
            ("00003", true, false),
        ],
        findings: &[],
    },
    Case {
        name: "rollback-suffix",
        layout: Layout::RollbackSuffix,
        migrations: &[
            ("20240101_090000", true, true),
            ("20240102_090000", true, false),
            ("20240103_090000", true, true),
        ],
        findings: &[],
    },
    Case {
        name: "sql-migrate",
        layout: Layout::SqlMigrate,
        migrations: &[
            ("20240101090000-create-users.sql", true, true),
            ("20240102090000-users-touch-updated-at.sql", true, true),
            ("20240103090000-index-users-email.sql", true, false),
        ],
        findings: &[],
    },
    Case {
        name: "sqlx-bom",
        layout: Layout::Sqlx,
        // The BOM comes before `-- no-transaction`, so sqlx does not see it: both run in a transaction.
        migrations: &[
            ("20240301090000", false, true),
            ("20240302090000", false, true),
        ],
        findings: &[(
            "directive-ignored",
            "20240302090000_add_mood_calm.sql",
            Some(1),
        )],
    },
    Case {
        name: "sqlx-crlf",
        layout: Layout::Sqlx,
        migrations: &[
            ("20240201090000", false, true),
            ("20240202090000", false, false),
            ("20240203090000", false, true),
        ],
        findings: &[],
    },
    Case {
        name: "sqlx-reversible",
        layout: Layout::Sqlx,
        migrations: &[
            ("20240101090000", true, true),
            ("20240102090000", true, false),
            ("20240103090000", true, true),
        ],
        findings: &[],
    },
    Case {
        name: "sqlx-simple",
        layout: Layout::Sqlx,
        migrations: &[
            ("20240101090000", false, true),
            ("20240102090000", false, false),
            ("20240103090000", false, true),
        ],
        findings: &[],
    },
];

fn read(dir: &str, forced: Option<Layout>) -> Reading {
    let folder =
        upcycle::source::read_dir(Path::new(dir)).unwrap_or_else(|e| panic!("{dir}: {e:#}"));
    read_dirs(&[folder], forced).unwrap_or_else(|e| panic!("{dir}: {e}"))
}

fn rows(reading: &Reading) -> Vec<(String, bool, bool)> {
    reading
        .set
        .iter()
        .map(|m| {
            (
                m.version.to_string(),
                m.down.is_some(),
                m.up.transaction.is_wrapped(),
            )
        })
        .collect()
}

fn expected_rows(rows: &[Row]) -> Vec<(String, bool, bool)> {
    rows.iter()
        .map(|(v, d, t)| ((*v).to_string(), *d, *t))
        .collect()
}

/// `(code, path, line)` of every finding that is not info.
fn noteworthy(reading: &Reading) -> Vec<(String, String, Option<u32>)> {
    reading
        .findings
        .iter()
        .filter(|f| f.severity != Severity::Info)
        .map(|f| (f.code.to_string(), f.path.clone(), f.line))
        .collect()
}

#[test]
fn every_layout_fixture_has_a_row_and_every_row_a_fixture() {
    let on_disk = cases(common::LAYOUTS);
    let in_table: Vec<String> = CASES.iter().map(|c| c.name.to_string()).collect();
    assert_eq!(
        on_disk, in_table,
        "tests/fixtures/layouts/ and CASES list different layouts (both sorted by name)"
    );
}

#[test]
fn every_layout_fixture_reads_as_its_layout() {
    for case in CASES {
        let dir = layout_dir(case.name);
        let reading = read(&dir, None);
        assert_eq!(
            reading.detection.layout, case.layout,
            "{}: detected layout ({})",
            case.name, reading.detection.reason
        );
        assert_eq!(
            rows(&reading),
            expected_rows(case.migrations),
            "{}: (version, down, transaction) in order",
            case.name
        );
        assert!(
            !reading.has_errors(),
            "{}: a clean fixture has error findings: {:#?}",
            case.name,
            reading.findings
        );
        let want: Vec<(String, String, Option<u32>)> = case
            .findings
            .iter()
            .map(|(code, file, line)| ((*code).to_string(), format!("{dir}/{file}"), *line))
            .collect();
        assert_eq!(noteworthy(&reading), want, "{}: findings", case.name);
        insta::assert_snapshot!(
            format!("list-json-{}", case.name),
            upcycle::report::list::json(&reading)
        );
    }
}

#[test]
fn text_and_markdown_reports_of_a_fixture_with_findings() {
    let reading = read(&layout_dir("sqlx-bom"), None);
    let term = Term {
        color: false,
        verbosity: Verbosity::Normal,
    };
    insta::assert_snapshot!(
        "list-text-sqlx-bom",
        upcycle::report::list::text(&reading, &term)
    );
    insta::assert_snapshot!(
        "list-markdown-sqlx-bom",
        upcycle::report::list::markdown(&reading)
    );
}

#[test]
fn a_pair_folder_reads_alike_as_sqlx_and_golang_migrate() {
    let detected = read(&layout_dir("sqlx-reversible"), None);
    let forced = read(&layout_dir("sqlx-reversible"), Some(Layout::GolangMigrate));
    assert_eq!(detected.detection.layout, Layout::Sqlx);
    assert_eq!(forced.detection.layout, Layout::GolangMigrate);
    assert_eq!(rows(&forced), rows(&detected));
    assert!(!forced.has_errors(), "{:#?}", forced.findings);
}

#[test]
fn golang_migrate_is_chosen_because_sqlx_would_wrap_the_concurrent_index() {
    let dir = layout_dir("golang-migrate");
    let detected = read(&dir, None);
    assert_eq!(detected.detection.also, Some(Layout::Sqlx));
    // Read the sqlx way, the bare CREATE/DROP INDEX CONCURRENTLY files run in a transaction and fail.
    let as_sqlx = read(&dir, Some(Layout::Sqlx));
    assert_eq!(
        noteworthy(&as_sqlx),
        vec![
            (
                "non-transactional-in-transaction".to_string(),
                format!("{dir}/000002_drop_users_email_index.down.sql"),
                Some(1)
            ),
            (
                "non-transactional-in-transaction".to_string(),
                format!("{dir}/000002_index_users_email.up.sql"),
                Some(1)
            ),
        ]
    );
}

#[test]
fn crlf_files_keep_their_bytes_and_their_lines() {
    let dir = layout_dir("sqlx-crlf");
    let reading = read(&dir, None);
    let first = reading.set.iter().next().expect("a migration");
    let bytes = std::fs::read(&first.up.path).expect("the fixture file");
    assert!(
        bytes.windows(2).any(|w| w == b"\r\n"),
        "the fixture lost its CRLF line endings (check .gitattributes)"
    );
    assert_eq!(first.up.raw_bytes(), bytes);
    assert_eq!(first.up.checksum, Checksum::of(&bytes));
    let lf: Vec<u8> = String::from_utf8(bytes.clone())
        .expect("UTF-8")
        .replace("\r\n", "\n")
        .into_bytes();
    assert_ne!(
        first.up.checksum,
        Checksum::of(&lf),
        "the checksum covers the bytes as on disk, CRs included"
    );
    let lines: Vec<(u32, u32)> = first
        .up
        .statements
        .iter()
        .map(|s| (s.line, s.end_line))
        .collect();
    assert_eq!(lines, vec![(1, 5)]);
}

#[test]
fn a_bom_is_kept_in_the_checksum_and_left_out_of_the_sql() {
    let reading = read(&layout_dir("sqlx-bom"), None);
    for m in &reading.set {
        let bytes = std::fs::read(&m.up.path).expect("the fixture file");
        assert!(
            bytes.starts_with("\u{feff}".as_bytes()),
            "{}: the fixture lost its BOM",
            m.up.path
        );
        assert!(m.up.bom);
        assert!(!m.up.text.starts_with('\u{feff}'));
        assert_eq!(m.up.checksum, Checksum::of(&bytes));
        assert_eq!(m.up.statements.len(), 1, "{}", m.up.path);
    }
}

#[test]
fn expect_lines_parse() {
    assert_eq!(parse_expect("exit 2\n"), Expect::Exit2);
    assert_eq!(
        parse_expect("psql-only 1_a.sql:3"),
        Expect::Finding {
            code: "psql-only".into(),
            path: "1_a.sql".into(),
            line: Some(3)
        }
    );
    assert_eq!(
        parse_expect("invalid-config 2024-01-02-090000_x/metadata.toml"),
        Expect::Finding {
            code: "invalid-config".into(),
            path: "2024-01-02-090000_x/metadata.toml".into(),
            line: None
        }
    );
}

/// Every `tests/fixtures/bad/*/EXPECT`: adding a fixture folder adds a case here.
#[test]
fn every_bad_fixture_reports_exactly_its_expect() {
    let mut failures = Vec::new();
    for (case, expect) in bad_cases() {
        let dir = bad_dir(&case);
        let folder =
            upcycle::source::read_dir(Path::new(&dir)).unwrap_or_else(|e| panic!("{case}: {e:#}"));
        let result = read_dirs(&[folder], None);
        let got = match (&expect, result) {
            (Expect::Exit2, Err(_)) => continue,
            (Expect::Exit2, Ok(reading)) => format!(
                "read as {} with findings {:?}",
                reading.detection.layout,
                noteworthy(&reading)
            ),
            (Expect::Finding { .. }, Err(e)) => format!("no layout: {e}"),
            (Expect::Finding { code, path, line }, Ok(reading)) => {
                let want = vec![(code.clone(), format!("{dir}/{path}"), *line)];
                let got = noteworthy(&reading);
                if got == want {
                    continue;
                }
                format!("{got:?}")
            }
        };
        failures.push(format!("{case}: expected {expect:?}, got {got}"));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The EXPECT codes are codes the table knows, so a renamed code cannot leave a fixture asserting nothing.
#[test]
fn bad_fixture_codes_exist() {
    for (case, expect) in bad_cases() {
        if let Expect::Finding { code, .. } = expect {
            assert!(
                upcycle::check::CODES.iter().any(|c| c.id == code),
                "{case}: unknown code {code}"
            );
        }
    }
}
