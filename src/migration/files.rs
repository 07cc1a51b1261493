//! The files of a migration folder as plain data (`source.rs` reads them from disk).

/// One file of a migration folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// Path relative to its folder, with `/` separators.
    pub rel: String,
    pub bytes: Vec<u8>,
}

impl SourceFile {
    /// The file name (last path component).
    pub fn name(&self) -> &str {
        self.rel.rsplit('/').next().unwrap_or(&self.rel)
    }

    /// The folder part of `rel` ("" for files at the top).
    pub fn parent(&self) -> &str {
        self.rel.rsplit_once('/').map_or("", |(parent, _)| parent)
    }
}

/// A migration folder given with `--dir`: how the user named it, and its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dir {
    pub display: String,
    pub files: Vec<SourceFile>,
}

impl Dir {
    /// A folder `m` holding `(relative path, text)` files: the tests' fixture in one line.
    #[cfg(test)]
    pub(crate) fn of_texts(files: &[(&str, &str)]) -> Dir {
        Dir {
            display: "m".into(),
            files: files
                .iter()
                .map(|(rel, text)| SourceFile {
                    rel: (*rel).into(),
                    bytes: text.as_bytes().to_vec(),
                })
                .collect(),
        }
    }

    /// The path of `file` as the user would type it.
    pub fn path_of(&self, file: &SourceFile) -> String {
        let base = self.display.trim_end_matches('/');
        if base.is_empty() || base == "." {
            file.rel.clone()
        } else {
            format!("{base}/{}", file.rel)
        }
    }
}
