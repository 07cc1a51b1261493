//! Shared by the integration tests: where the fixtures are, and the `EXPECT` line of each bad
//! fixture (`tests/fixtures/bad/<case>/EXPECT` beside the `migrations/` folder it describes).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// Fixtures live under the crate root, which is the working directory of `cargo test`.
pub const LAYOUTS: &str = "tests/fixtures/layouts";
pub const BAD: &str = "tests/fixtures/bad";

/// The folder names under `root`, sorted.
pub fn cases(root: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root)
        .unwrap_or_else(|e| panic!("reading {root}: {e}"))
        .map(|entry| entry.expect("a directory entry"))
        .filter(|entry| entry.file_type().is_ok_and(|t| t.is_dir()))
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// `tests/fixtures/layouts/<case>`, as the user would type it.
pub fn layout_dir(case: &str) -> String {
    format!("{LAYOUTS}/{case}")
}

/// `tests/fixtures/bad/<case>/migrations`, the folder a bad case is read from.
pub fn bad_dir(case: &str) -> String {
    format!("{BAD}/{case}/migrations")
}

/// What a bad fixture must produce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// Exactly one finding that is not info: this code, at this path (relative to the
    /// fixture's `migrations/`), at this line when it has one.
    Finding {
        code: String,
        path: String,
        line: Option<u32>,
    },
    /// No layout can be read: exit code 2 with one error line.
    Exit2,
}

/// Parses an `EXPECT` line: `<code> <path>[:<line>]` or `exit 2`.
pub fn parse_expect(line: &str) -> Expect {
    let line = line.trim();
    if line == "exit 2" {
        return Expect::Exit2;
    }
    let (code, place) = line
        .split_once(' ')
        .unwrap_or_else(|| panic!("EXPECT `{line}`: want `<code> <path>[:<line>]` or `exit 2`"));
    let (path, line) = match place.rsplit_once(':') {
        Some((path, n)) if n.chars().all(|c| c.is_ascii_digit()) => {
            (path, Some(n.parse().expect("a line number")))
        }
        _ => (place, None),
    };
    Expect::Finding {
        code: code.into(),
        path: path.into(),
        line,
    }
}

/// Every bad fixture with its expectation, read from its `EXPECT` file.
pub fn bad_cases() -> Vec<(String, Expect)> {
    let cases: Vec<(String, Expect)> = cases(BAD)
        .into_iter()
        .map(|case| {
            let file = Path::new(BAD).join(&case).join("EXPECT");
            let text = std::fs::read_to_string(&file)
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            let expect = parse_expect(&text);
            (case, expect)
        })
        .collect();
    assert!(
        cases.len() >= 20,
        "the bad fixtures went missing: {cases:?}"
    );
    cases
}

/// Copies a fixture folder (recursively) into `to`.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("creating the copy");
    for entry in std::fs::read_dir(from).expect("reading the fixture") {
        let entry = entry.expect("a directory entry");
        let target: PathBuf = to.join(entry.file_name());
        if entry.file_type().expect("a file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copying a fixture file");
        }
    }
}
