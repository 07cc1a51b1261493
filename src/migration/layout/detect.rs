//! Layout detection. Content markers (`-- +goose Up`, `up.sql` inside a folder, `alembic.ini`)
//! beat name patterns; a folder whose files carry the markers of two layouts is an error, and so
//! is one that fits none. sqlx and golang-migrate read a `.up.sql`/`.down.sql` folder the same
//! way; detection prefers sqlx and says so, unless the files need golang-migrate's execution.

use std::collections::BTreeMap;

use super::{Dir, Evidence, LAYOUTS, Layout};
use crate::sql;

/// The chosen layout and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Detection {
    pub layout: Layout,
    /// A sentence a person reads: what in the files decided it.
    pub reason: String,
    /// Another layout the files also fit, read the same way.
    pub also: Option<Layout>,
}

/// Why no layout could be chosen.
#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    #[error(
        "{dirs}: no migration layout fits these files ({files} file(s), e.g. {example}); expected one of: {expected}. Pass --layout if the names are right"
    )]
    NoneFits {
        dirs: String,
        files: usize,
        example: String,
        expected: String,
    },
    #[error(
        "{dirs}: the files fit two layouts: {first} ({first_file}) and {second} ({second_file}); keep one layout per folder, or pass --layout to choose"
    )]
    TwoLayouts {
        dirs: String,
        first: Layout,
        first_file: String,
        second: Layout,
        second_file: String,
    },
    #[error(
        "{dirs}: no files to read; create a migration with `upcycle new <name>`, or point --dir at the migration folder"
    )]
    Empty { dirs: String },
}

#[derive(Default)]
struct Tally {
    markers: usize,
    names: usize,
    marker: Option<&'static str>,
    example: Option<String>,
    files: std::collections::BTreeSet<String>,
}

/// Chooses the layout of `dirs` (all read as one set).
pub fn detect(dirs: &[Dir]) -> Result<Detection, DetectError> {
    let dirs_label = dirs
        .iter()
        .map(|d| d.display.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let files: Vec<(&Dir, &super::SourceFile)> = dirs
        .iter()
        .flat_map(|d| d.files.iter().map(move |f| (d, f)))
        .collect();
    if files.is_empty() {
        return Err(DetectError::Empty { dirs: dirs_label });
    }
    let mut tallies: BTreeMap<usize, Tally> = BTreeMap::new();
    for (dir, file) in &files {
        for (index, spec) in LAYOUTS.iter().enumerate() {
            let Some(evidence) = (spec.recognise)(file) else {
                continue;
            };
            let tally = tallies.entry(index).or_default();
            tally.files.insert(dir.path_of(file));
            match evidence {
                Evidence::Marker(marker) => {
                    tally.markers += 1;
                    tally.marker.get_or_insert(marker);
                    if tally.example.is_none() || tally.markers == 1 {
                        tally.example = Some(dir.path_of(file));
                    }
                }
                Evidence::Name => {
                    tally.names += 1;
                    tally.example.get_or_insert_with(|| dir.path_of(file));
                }
            }
        }
    }
    let by_markers: Vec<(usize, &Tally)> = tallies
        .iter()
        .filter(|(_, t)| t.markers > 0)
        .map(|(i, t)| (*i, t))
        .collect();
    match by_markers.as_slice() {
        [(index, tally)] => {
            let layout = LAYOUTS[*index].layout;
            // Files named for a layout without markers (Flyway's V files beside diesel folders)
            // are a second layout when the two claim different files, as between name layouts.
            let named = tallies
                .iter()
                .filter(|(i, t)| *i != index && t.names > 0)
                .map(|(i, t)| (LAYOUTS[*i].layout, t));
            if let Some(err) = second_layout(&dirs_label, layout, tally, named) {
                return Err(err);
            }
            return Ok(Detection {
                layout,
                reason: format!(
                    "{} file(s) carry {}'s marker `{}` (e.g. {})",
                    tally.markers,
                    layout,
                    tally.marker.unwrap_or(""),
                    tally.example.as_deref().unwrap_or("")
                ),
                also: None,
            });
        }
        [(a, ta), (b, tb), ..] => {
            return Err(DetectError::TwoLayouts {
                dirs: dirs_label,
                first: LAYOUTS[*a].layout,
                first_file: ta.example.clone().unwrap_or_default(),
                second: LAYOUTS[*b].layout,
                second_file: tb.example.clone().unwrap_or_default(),
            });
        }
        [] => {}
    }
    by_name(dirs, &tallies, &dirs_label, files.len())
}

fn by_name(
    dirs: &[Dir],
    tallies: &BTreeMap<usize, Tally>,
    dirs_label: &str,
    count: usize,
) -> Result<Detection, DetectError> {
    let mut named: Vec<(Layout, &Tally)> = tallies
        .iter()
        .filter(|(_, t)| t.names > 0)
        .map(|(i, t)| (LAYOUTS[*i].layout, t))
        .collect();
    named.sort_by_key(|(_, t)| std::cmp::Reverse(t.files.len()));
    let Some((first, first_tally)) = named.first().copied() else {
        let example = dirs
            .iter()
            .flat_map(|d| d.files.first().map(|f| d.path_of(f)))
            .next()
            .unwrap_or_default();
        let expected = LAYOUTS
            .iter()
            .map(|s| format!("{} ({})", s.id, s.pattern))
            .collect::<Vec<_>>()
            .join("; ");
        return Err(DetectError::NoneFits {
            dirs: dirs_label.into(),
            files: count,
            example,
            expected,
        });
    };
    if let Some(err) = second_layout(
        dirs_label,
        first,
        first_tally,
        named.iter().skip(1).copied(),
    ) {
        return Err(err);
    }
    let twin = named
        .iter()
        .skip(1)
        .find(|(l, t)| t.files == first_tally.files && twins(first, *l))
        .map(|(l, _)| *l);
    match twin {
        Some(_) => Ok(sqlx_or_golang(dirs, first_tally.files.len())),
        None => Ok(Detection {
            layout: first,
            reason: format!(
                "{} file(s) are named {} (e.g. {})",
                first_tally.files.len(),
                first.spec().pattern,
                first_tally.example.as_deref().unwrap_or("")
            ),
            also: None,
        }),
    }
}

/// Another layout that claims files the first does not (and the reverse) is a second layout.
fn second_layout<'a>(
    dirs_label: &str,
    first: Layout,
    first_tally: &Tally,
    others: impl Iterator<Item = (Layout, &'a Tally)>,
) -> Option<DetectError> {
    for (other, tally) in others {
        let theirs = tally.files.difference(&first_tally.files).next();
        let ours = first_tally.files.difference(&tally.files).next();
        if let (Some(theirs), Some(ours)) = (theirs, ours) {
            return Some(DetectError::TwoLayouts {
                dirs: dirs_label.into(),
                first,
                first_file: ours.clone(),
                second: other,
                second_file: theirs.clone(),
            });
        }
    }
    None
}

fn twins(a: Layout, b: Layout) -> bool {
    matches!(
        (a, b),
        (Layout::Sqlx, Layout::GolangMigrate) | (Layout::GolangMigrate, Layout::Sqlx)
    )
}

/// sqlx and golang-migrate read a pair folder alike. sqlx wraps every migration in a
/// transaction unless its first bytes say `-- no-transaction`; golang-migrate sends every file
/// bare. A transactional-looking file with CREATE INDEX CONCURRENTLY only works with the latter.
fn sqlx_or_golang(dirs: &[Dir], count: usize) -> Detection {
    let needs_bare = dirs
        .iter()
        .flat_map(|d| d.files.iter().map(move |f| (d, f)))
        .find(|(_, f)| {
            let text = String::from_utf8_lossy(&f.bytes);
            !text.starts_with("-- no-transaction") && {
                let split = sql::split(&text, 1);
                split.statements.len() == 1
                    && split.sql().any(|s| {
                        sql::classify(&text[s.range.clone()])
                            .non_transactional
                            .is_some()
                    })
            }
        });
    match needs_bare {
        Some((dir, file)) => Detection {
            layout: Layout::GolangMigrate,
            reason: format!(
                "{count} file(s) fit sqlx and golang-migrate alike; {} runs a statement that cannot run in a transaction without sqlx's `-- no-transaction`, which only golang-migrate's execution allows",
                dir.path_of(file)
            ),
            also: Some(Layout::Sqlx),
        },
        None => Detection {
            layout: Layout::Sqlx,
            reason: format!(
                "{count} file(s) fit sqlx and golang-migrate alike and read the same; sqlx is assumed (each migration in a transaction); pass --layout golang-migrate for its execution"
            ),
            also: Some(Layout::GolangMigrate),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(files: &[(&str, &str)]) -> Dir {
        Dir::of_texts(files)
    }

    #[test]
    fn named_files_beside_a_marker_layout_are_a_second_layout() {
        let mixed = dir(&[
            ("2024-01-01-090000_init/up.sql", "SELECT 1;"),
            ("V2__add.sql", "SELECT 2;"),
        ]);
        match detect(&[mixed]) {
            Err(DetectError::TwoLayouts {
                first: Layout::Diesel,
                second: Layout::Flyway,
                second_file,
                ..
            }) => assert_eq!(second_file, "m/V2__add.sql"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_marker_layout_sharing_its_names_with_a_name_layout_is_one_layout() {
        // goose files are sqlx-named too; a goose file without its marker is not a second layout.
        let goose = dir(&[
            ("1_a.sql", "-- +goose Up\nSELECT 1;\n"),
            ("2_b.sql", "SELECT 2;\n"),
        ]);
        assert_eq!(detect(&[goose]).map(|d| d.layout).ok(), Some(Layout::Goose));
    }
}
