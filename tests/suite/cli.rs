//! The binary's contract: exit codes (0 clean, 1 error findings, 2 error), one `upcycle: ` line
//! on stderr for an error, the JSON document's keys, merged `--dir`s, `new` in every layout,
//! `--help`, and colour only where allowed.

use crate::common;

use std::path::Path;
use std::process::{Command, Output};

use common::{Expect, bad_cases, bad_dir, cases, copy_dir, layout_dir};
use serde_json::Value;

fn upcycle(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_upcycle"))
        .args(args)
        .env_remove("NO_COLOR")
        .output()
        .expect("running upcycle")
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("an exit code, not a signal")
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("UTF-8 stdout")
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).expect("UTF-8 stderr")
}

/// Asserts the error contract: exit 2, nothing on stdout, one `upcycle: ` line naming `names`.
fn assert_one_error(out: &Output, names: &str) -> String {
    let err = stderr(out);
    assert_eq!(code(out), 2, "stdout: {}\nstderr: {err}", stdout(out));
    assert_eq!(stdout(out), "", "an error prints nothing on stdout");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "exactly one error line: {err}");
    assert!(lines[0].starts_with("upcycle: "), "{err}");
    assert!(lines[0].contains(names), "the error names {names}: {err}");
    err
}

fn list_json(dirs: &[&str]) -> Value {
    let mut args = vec!["list", "--format", "json"];
    for dir in dirs {
        args.extend(["--dir", dir]);
    }
    let out = upcycle(&args);
    assert!(code(&out) < 2, "{}", stderr(&out));
    serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(&out)))
}

fn migrations(doc: &Value) -> &Vec<Value> {
    doc["migrations"]
        .as_array()
        .expect("migrations is an array")
}

#[test]
fn a_clean_folder_exits_0() {
    for case in cases(common::LAYOUTS) {
        let out = upcycle(&["list", "--dir", &layout_dir(&case)]);
        assert_eq!(code(&out), 0, "{case}: {}{}", stdout(&out), stderr(&out));
        assert_eq!(
            stderr(&out),
            "",
            "{case}: stderr is for errors and progress"
        );
        assert!(
            stdout(&out).contains("migration(s);"),
            "{case}: {}",
            stdout(&out)
        );
    }
}

/// Every bad fixture through the binary: the exit code its finding's severity implies (or 2),
/// and the finding on stdout as `path:line: severity[code]`.
#[test]
fn bad_folders_exit_as_their_expect_says() {
    for (case, expect) in bad_cases() {
        let dir = bad_dir(&case);
        let out = upcycle(&["list", "--dir", &dir]);
        match expect {
            Expect::Exit2 => {
                assert_one_error(&out, &dir);
            }
            Expect::Finding {
                code: id,
                path,
                line,
            } => {
                let spec = upcycle::check::CODES
                    .iter()
                    .find(|c| c.id == id)
                    .unwrap_or_else(|| panic!("{case}: unknown code {id}"));
                let want_code = if spec.severity == upcycle::check::Severity::Error {
                    1
                } else {
                    0
                };
                assert_eq!(
                    code(&out),
                    want_code,
                    "{case}: {}{}",
                    stdout(&out),
                    stderr(&out)
                );
                let place = match line {
                    Some(line) => format!("{dir}/{path}:{line}"),
                    None => format!("{dir}/{path}"),
                };
                let want = format!("{place}: {}[{id}]: ", spec.severity.as_str());
                assert!(
                    stdout(&out).lines().any(|l| l.starts_with(&want)),
                    "{case}: no line starting `{want}` in\n{}",
                    stdout(&out)
                );
                assert_eq!(stderr(&out), "", "{case}");
            }
        }
    }
}

#[test]
fn a_missing_folder_exits_2_naming_it() {
    let tmp = tempfile::tempdir().expect("a temp dir");
    let missing = tmp.path().join("no-such-migrations");
    let missing = missing.to_str().expect("a UTF-8 path");
    assert_one_error(&upcycle(&["list", "--dir", missing]), missing);
}

#[test]
fn an_empty_folder_exits_2_naming_it() {
    let tmp = tempfile::tempdir().expect("a temp dir");
    let dir = tmp.path().to_str().expect("a UTF-8 path");
    let err = assert_one_error(&upcycle(&["list", "--dir", dir]), dir);
    assert!(err.contains("no files"), "{err}");
}

#[test]
fn a_folder_with_two_layouts_exits_2_naming_both() {
    let dir = bad_dir("two-layouts");
    let err = assert_one_error(&upcycle(&["list", "--dir", &dir]), &dir);
    assert!(err.contains("diesel") && err.contains("flyway"), "{err}");
    assert!(
        err.contains("V2__add_users_name.sql"),
        "the error names a file of the second layout: {err}"
    );
}

#[test]
fn a_folder_that_fits_no_layout_exits_2() {
    let dir = bad_dir("no-layout");
    let err = assert_one_error(&upcycle(&["list", "--dir", &dir]), &dir);
    assert!(
        err.contains("--layout"),
        "the error says how to go on: {err}"
    );
}

#[test]
fn json_has_the_documented_keys() {
    let doc = list_json(&[&layout_dir("sqlx-reversible")]);
    for key in ["layout", "dirs", "migrations", "findings"] {
        assert!(
            doc.get(key).is_some(),
            "top-level key {key} missing: {doc:#}"
        );
    }
    assert_eq!(doc["layout"], "sqlx");
    assert_eq!(
        doc["dirs"],
        serde_json::json!([layout_dir("sqlx-reversible")])
    );
    let ms = migrations(&doc);
    assert_eq!(ms.len(), 3);
    for m in ms {
        for key in [
            "version",
            "name",
            "up_path",
            "down_path",
            "transaction",
            "checksum",
        ] {
            assert!(m.get(key).is_some(), "migration key {key} missing: {m:#}");
        }
        assert!(m["version"].is_string() && m["name"].is_string() && m["up_path"].is_string());
        assert!(
            m["down_path"].is_string(),
            "every migration here has a down: {m:#}"
        );
        assert!(m["transaction"].is_boolean());
        assert_eq!(
            m["checksum"].as_str().map(str::len),
            Some(64),
            "SHA-256 in hex: {m:#}"
        );
    }
    assert_eq!(
        ms[1]["transaction"], false,
        "the `-- no-transaction` migration"
    );

    // A finding, with a line.
    let doc = list_json(&[&bad_dir("cic-in-transaction")]);
    let findings = doc["findings"].as_array().expect("findings is an array");
    let f = findings
        .iter()
        .find(|f| f["severity"] == "error")
        .expect("an error finding");
    for key in ["severity", "code", "path", "line", "message"] {
        assert!(f.get(key).is_some(), "finding key {key} missing: {f:#}");
    }
    assert_eq!(f["code"], "non-transactional-in-transaction");
    assert_eq!(
        f["path"],
        format!(
            "{}/20240102090000_index_users_email.sql",
            bad_dir("cic-in-transaction")
        )
    );
    assert_eq!(f["line"], 1);
    assert!(f["message"].as_str().is_some_and(|m| !m.is_empty()));
}

#[test]
fn two_dirs_merge_into_one_ordered_set() {
    let (a, b) = (layout_dir("sqlx-simple"), layout_dir("sqlx-crlf"));
    // Given in reverse order: the set is ordered by version, not by folder.
    let doc = list_json(&[&b, &a]);
    assert_eq!(doc["layout"], "sqlx");
    assert_eq!(doc["dirs"], serde_json::json!([b, a]));
    let versions: Vec<&str> = migrations(&doc)
        .iter()
        .map(|m| m["version"].as_str().expect("a version"))
        .collect();
    assert_eq!(
        versions,
        [
            "20240101090000",
            "20240102090000",
            "20240103090000",
            "20240201090000",
            "20240202090000",
            "20240203090000"
        ]
    );
    let first = &migrations(&doc)[0];
    assert_eq!(
        first["up_path"],
        format!("{a}/20240101090000_create_users.sql")
    );
    assert_eq!(
        migrations(&doc)[3]["up_path"],
        format!("{b}/20240201090000_create_projects.sql")
    );
    assert!(
        doc["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .all(|f| f["severity"] != "error"),
        "{doc:#}"
    );
}

#[test]
fn the_same_version_in_two_dirs_is_a_duplicate() {
    let (a, b) = (layout_dir("sqlx-simple"), layout_dir("sqlx-reversible"));
    let out = upcycle(&["list", "--dir", &a, "--dir", &b]);
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    assert!(
        stdout(&out).contains("error[duplicate-version]"),
        "{}",
        stdout(&out)
    );
}

/// `new` in a copy of each layout fixture writes files that the next `list` reads as one more
/// migration, named as asked.
#[test]
fn new_adds_one_migration_in_every_layout() {
    for case in cases(common::LAYOUTS)
        .into_iter()
        .filter(|c| c != "alembic")
    {
        let tmp = tempfile::tempdir().expect("a temp dir");
        let dir = tmp.path().join(&case);
        copy_dir(Path::new(&layout_dir(&case)), &dir);
        let dir = dir.to_str().expect("a UTF-8 path");
        let before = list_json(&[dir]);

        let out = upcycle(&["new", "Add users bio", "--dir", dir]);
        assert_eq!(code(&out), 0, "{case}: {}", stderr(&out));
        let written: Vec<String> = stdout(&out).lines().map(str::to_string).collect();
        assert!(
            !written.is_empty(),
            "{case}: `new` prints the files it wrote"
        );
        for file in &written {
            assert!(
                Path::new(file).is_file(),
                "{case}: {file} was printed but not written"
            );
            assert!(file.contains("add_users_bio"), "{case}: {file}");
        }

        let after = list_json(&[dir]);
        assert_eq!(
            after["layout"], before["layout"],
            "{case}: the new files keep the layout"
        );
        assert_eq!(
            migrations(&after).len(),
            migrations(&before).len() + 1,
            "{case}: {after:#}"
        );
        let added: Vec<&Value> = migrations(&after)
            .iter()
            .filter(|m| m["name"] == "add_users_bio")
            .collect();
        assert_eq!(added.len(), 1, "{case}: {after:#}");
        let with_down = migrations(&before)
            .iter()
            .any(|m| !m["down_path"].is_null());
        assert_eq!(
            !added[0]["down_path"].is_null(),
            with_down,
            "{case}: a down exactly where the folder has downs"
        );
        // It comes after every versioned migration that was there (Flyway's repeatables run last).
        let last_versioned = migrations(&after)
            .iter()
            .rposition(|m| !m["version"].as_str().unwrap_or("").starts_with("R__"));
        let position = migrations(&after)
            .iter()
            .position(|m| m["name"] == "add_users_bio");
        assert_eq!(
            position, last_versioned,
            "{case}: the new migration is the last to apply"
        );
    }
}

#[test]
fn new_in_an_empty_folder_writes_an_sqlx_pair() {
    let tmp = tempfile::tempdir().expect("a temp dir");
    let dir = tmp.path().join("migrations");
    let dir = dir.to_str().expect("a UTF-8 path");
    let out = upcycle(&["new", "create_users", "--dir", dir]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("the folder was created")
        .map(|e| {
            e.expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(
        names[0].ends_with("_create_users.down.sql") && names[1].ends_with("_create_users.up.sql"),
        "{names:?}"
    );
    let version = names[0].split('_').next().expect("a version");
    assert!(
        version.len() == 14 && version.bytes().all(|b| b.is_ascii_digit()),
        "a UTC timestamp version: {version}"
    );

    let doc = list_json(&[dir]);
    assert_eq!(doc["layout"], "sqlx");
    assert_eq!(migrations(&doc).len(), 1);
    assert!(!migrations(&doc)[0]["down_path"].is_null());
}

#[test]
fn new_in_an_alembic_project_points_to_alembic() {
    let tmp = tempfile::tempdir().expect("a temp dir");
    copy_dir(Path::new(&layout_dir("alembic")), tmp.path());
    let dir = tmp.path().to_str().expect("a UTF-8 path");
    let err = assert_one_error(&upcycle(&["new", "add_users_bio", "--dir", dir]), dir);
    assert!(err.contains("alembic revision"), "{err}");
}

#[test]
fn new_refuses_a_name_without_letters_or_digits() {
    for name in ["", "--- ", "!!"] {
        let tmp = tempfile::tempdir().expect("a temp dir");
        let dir = tmp.path().to_str().expect("a UTF-8 path");
        let out = upcycle(&["new", "--dir", dir, "--", name]);
        let err = stderr(&out);
        assert_eq!(code(&out), 2, "{name:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{name:?}: {err}");
        assert!(
            err.starts_with("upcycle: ") && err.contains("name"),
            "{name:?}: {err}"
        );
        assert_eq!(
            std::fs::read_dir(dir).expect("the temp dir").count(),
            0,
            "{name:?}: nothing is written"
        );
    }
}

#[test]
fn help() {
    let out = upcycle(&["--help"]);
    assert_eq!(code(&out), 0);
    insta::assert_snapshot!("help", stdout(&out));
}

fn has_escape(text: &str) -> bool {
    text.contains('\u{1b}')
}

#[test]
fn no_color_is_respected() {
    let dir = bad_dir("cic-in-transaction");
    for (env, flag) in [(Some("1"), None), (None, Some("--no-color"))] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_upcycle"));
        cmd.args(["list", "--dir", &dir]).env_remove("NO_COLOR");
        if let Some(value) = env {
            cmd.env("NO_COLOR", value);
        }
        if let Some(flag) = flag {
            cmd.arg(flag);
        }
        let out = cmd.output().expect("running upcycle");
        assert_eq!(code(&out), 1);
        assert!(
            !has_escape(&stdout(&out)) && !has_escape(&stderr(&out)),
            "{}",
            stdout(&out)
        );
    }
}

/// On a terminal colour is on, unless `NO_COLOR` says otherwise. Needs util-linux `script` for a
/// pseudo-terminal; skipped without it.
#[test]
fn no_color_is_respected_on_a_terminal() {
    let util_linux = Command::new("script")
        .arg("--version")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("util-linux"));
    if !util_linux {
        println!("skipping: util-linux `script` is not installed");
        return;
    }
    let line = format!(
        "{} list --dir {}",
        env!("CARGO_BIN_EXE_upcycle"),
        bad_dir("cic-in-transaction")
    );
    let on_tty = |no_color: Option<&str>| {
        let mut cmd = Command::new("script");
        cmd.args(["-qec", &line, "/dev/null"])
            .env_remove("NO_COLOR");
        if let Some(value) = no_color {
            cmd.env("NO_COLOR", value);
        }
        String::from_utf8_lossy(&cmd.output().expect("running script").stdout).into_owned()
    };
    let coloured = on_tty(None);
    if !coloured.contains("non-transactional-in-transaction") {
        println!("skipping: `script` could not open a pseudo-terminal here: {coloured}");
        return;
    }
    assert!(has_escape(&coloured), "a terminal gets colour: {coloured}");
    let plain = on_tty(Some("1"));
    assert!(
        plain.contains("error[non-transactional-in-transaction]"),
        "{plain}"
    );
    assert!(!has_escape(&plain), "NO_COLOR=1 on a terminal: {plain}");
}
