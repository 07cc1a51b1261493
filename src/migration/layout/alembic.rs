//! Alembic: migrations are Python (`versions/<rev>_<slug>.py`), so upcycle recognises the
//! project and reports that it runs through the alembic CLI; it reads no SQL from it.

use super::{Evidence, Read};
use crate::check::{Code, Finding};
use crate::migration::{Dir, SourceFile};

pub fn recognise(file: &SourceFile) -> Option<Evidence> {
    let name = file.name();
    let in_versions = file.parent().rsplit('/').next() == Some("versions") && name.ends_with(".py");
    (name == "alembic.ini" || name == "env.py" || name == "script.py.mako" || in_versions)
        .then_some(Evidence::Marker("alembic.ini / versions/*.py"))
}

/// The `revision = '…'` id of a revision file, read statically.
fn revision(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let rest = line.trim_start().strip_prefix("revision")?;
        let value = rest.split_once('=')?.1.trim();
        Some(value.trim_matches(|c| c == '\'' || c == '"').to_string())
    })
}

pub fn read(dir: &Dir, read: &mut Read) {
    let mut revisions = Vec::new();
    for file in dir.files.iter().filter(|f| recognise(f).is_some()) {
        read.claim(file);
        if file.name().ends_with(".py")
            && file.name() != "env.py"
            && let Some(rev) = revision(&String::from_utf8_lossy(&file.bytes))
        {
            revisions.push(rev);
        }
    }
    read.findings.push(Finding::new(
        Code::CodeMigration,
        &dir.display,
        None,
        format!("Alembic project with {} revision(s); its migrations are Python and run through the alembic CLI (alembic upgrade / downgrade)", revisions.len()),
    ));
}

pub fn new_files(_version: &str, _name: &str, _with_down: bool) -> Vec<(String, String)> {
    Vec::new()
}
