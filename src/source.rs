//! Reads migration folders from disk into plain `Dir` values (relative path + bytes). Nothing
//! else: no parsing, no layout knowledge.

use std::path::Path;

use anyhow::{Context, bail};

use crate::migration::{Dir, SourceFile};

/// How deep below a migration folder files are read (diesel and Alembic nest one or two levels).
const MAX_DEPTH: usize = 4;

/// Reads every file under `path` (hidden entries skipped), sorted by relative path.
pub fn read_dir(path: &Path) -> anyhow::Result<Dir> {
    let display = path.display().to_string();
    if !path.exists() {
        bail!(
            "migration folder {display} does not exist; pass --dir with the folder that holds the migrations, or create one with `upcycle new <name>`"
        );
    }
    if !path.is_dir() {
        bail!("{display} is not a folder; --dir takes the folder that holds the migrations");
    }
    let mut files = Vec::new();
    walk(path, "", 0, &mut files)?;
    files.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok(Dir { display, files })
}

fn walk(root: &Path, rel: &str, depth: usize, out: &mut Vec<SourceFile>) -> anyhow::Result<()> {
    let here = if rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
    };
    let entries =
        std::fs::read_dir(&here).with_context(|| format!("reading folder {}", here.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("reading folder {}", here.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let child = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        let kind = entry
            .file_type()
            .with_context(|| format!("reading {}", entry.path().display()))?;
        let kind = if kind.is_symlink() {
            std::fs::metadata(entry.path())
                .map(|m| m.file_type())
                .unwrap_or(kind)
        } else {
            kind
        };
        if kind.is_dir() {
            if depth + 1 < MAX_DEPTH {
                walk(root, &child, depth + 1, out)?;
            }
        } else if kind.is_file() {
            let bytes = std::fs::read(entry.path())
                .with_context(|| format!("reading {}", entry.path().display()))?;
            out.push(SourceFile { rel: child, bytes });
        }
    }
    Ok(())
}

/// Reads several folders (each `--dir`), in the order given.
pub fn read_dirs(paths: &[std::path::PathBuf]) -> anyhow::Result<Vec<Dir>> {
    paths.iter().map(|p| read_dir(p)).collect()
}

/// Reads `path` as it is at git revision `rev` (for PR mode's base), through `git -C path`.
/// Same shape as `read_dir`, so the same readers apply; a folder absent at `rev` is empty.
pub fn read_dir_at(path: &Path, rev: &str) -> anyhow::Result<Dir> {
    use std::process::Command;
    let display = path.display().to_string();
    let git = |args: &[&str]| -> anyhow::Result<Vec<u8>> {
        let out = Command::new("git")
            .arg("-C")
            .arg(path)
            .args(args)
            .output()
            .context("running git (PR mode reads the base branch with git)")?;
        if !out.status.success() {
            bail!(
                "git {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(out.stdout)
    };
    git(&["rev-parse", "--verify", "--quiet", &format!("{rev}^{{commit}}")])
        .with_context(|| format!("--base {rev}: not a commit in the repository of {display} (fetch it first, e.g. `git fetch origin {rev}`, with enough history)"))?;
    let listing = git(&["ls-tree", "-r", "-z", "--name-only", rev, "--", "."])?;
    let mut files = Vec::new();
    for name in listing.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let rel = String::from_utf8_lossy(name).into_owned();
        if rel.split('/').any(|p| p.starts_with('.')) || rel.split('/').count() > MAX_DEPTH {
            continue;
        }
        let bytes = git(&["show", &format!("{rev}:./{rel}")])?;
        files.push(SourceFile { rel, bytes });
    }
    files.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok(Dir { display, files })
}
