//! The checksums tracking tables keep, as pure functions of a script: upcycle's SHA-256, sqlx's
//! SHA-384 of the file bytes, Flyway's CRC32 of the lines. A history row carries its checksum in
//! the algorithm of the table it came from; `matches` compares it with the script's checksum in
//! that same algorithm, so plans and `verify` need not know which table the row came from.
//!
//! No I/O: this module is domain code that lives beside the tables it describes.

use sha2::{Digest, Sha384};

use super::super::tracking::HistoryMode;
use crate::migration::{Script, hex};

/// A checksum algorithm, as recognised from the text a history row carries. The three forms are
/// disjoint: 64 hex digits, 96 hex digits, a signed 32-bit decimal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// upcycle's own: SHA-256 of the file bytes, lowercase hex.
    Sha256,
    /// sqlx: SHA-384 of the file bytes, lowercase hex of the stored BYTEA.
    Sha384,
    /// Flyway: CRC32 of the lines without their terminators, as a signed int32 in decimal.
    FlywayCrc32,
}

impl Algorithm {
    /// The algorithm a recorded checksum is written in, or `None` for a form none of them has.
    pub fn of(recorded: &str) -> Option<Algorithm> {
        let hex = |len| recorded.len() == len && recorded.bytes().all(|b| b.is_ascii_hexdigit());
        if hex(64) {
            Some(Algorithm::Sha256)
        } else if hex(96) {
            Some(Algorithm::Sha384)
        } else if recorded.parse::<i32>().is_ok() {
            Some(Algorithm::FlywayCrc32)
        } else {
            None
        }
    }

    /// The checksum of `script` in this algorithm, in its recorded text form.
    pub fn of_script(self, script: &Script) -> String {
        match self {
            Algorithm::Sha256 => script.checksum.to_string(),
            Algorithm::Sha384 => hex(&sqlx_bytes(script)),
            Algorithm::FlywayCrc32 => flyway(script).to_string(),
        }
    }
}

/// The checksum a history mode records for `script`, in the text form its rows are read back
/// with; `None` for tables that keep no checksum (diesel, golang-migrate, dbmate, goose).
pub fn recorded_by(mode: HistoryMode, script: &Script) -> Option<String> {
    let algorithm = match mode {
        HistoryMode::Upcycle | HistoryMode::Auto => Algorithm::Sha256,
        HistoryMode::Sqlx => Algorithm::Sha384,
        HistoryMode::Flyway => Algorithm::FlywayCrc32,
        HistoryMode::Diesel
        | HistoryMode::GolangMigrate
        | HistoryMode::Dbmate
        | HistoryMode::Goose => return None,
    };
    Some(algorithm.of_script(script))
}

/// The checksum of `script` in the algorithm `recorded` is written in (SHA-256 when the form is
/// not recognised), for showing next to it.
pub fn like(recorded: &str, script: &Script) -> String {
    Algorithm::of(recorded)
        .unwrap_or(Algorithm::Sha256)
        .of_script(script)
}

/// Whether a recorded checksum is the checksum of `script` (in the recorded one's algorithm).
pub fn matches(recorded: &str, script: &Script) -> bool {
    recorded.eq_ignore_ascii_case(&like(recorded, script))
}

/// sqlx: SHA-384 of the file contents exactly as on disk (BOM and line endings included).
pub fn sqlx_bytes(script: &Script) -> Vec<u8> {
    Sha384::digest(script.raw_bytes()).to_vec()
}

/// Flyway: CRC32 over the UTF-8 bytes of every line with its terminator (`\n`, `\r`, `\r\n`)
/// removed and a BOM removed from the first line, as Java's `(int) crc.getValue()`. Blank lines
/// and line endings therefore do not change it.
pub fn flyway(script: &Script) -> i32 {
    flyway_of(&script.text)
}

/// `flyway` over a text (a leading BOM is ignored).
pub fn flyway_of(text: &str) -> i32 {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut crc = Crc32::new();
    for line in text.split(['\n', '\r']) {
        crc.update(line.as_bytes());
    }
    crc.finish() as i32
}

/// CRC-32/ISO-HDLC (IEEE 802.3, reflected polynomial 0xEDB88320): Java's `java.util.zip.CRC32`.
pub struct Crc32(u32);

const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

impl Crc32 {
    pub fn new() -> Self {
        Crc32(!0)
    }

    pub fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = CRC_TABLE[((self.0 ^ u32::from(b)) & 0xff) as usize] ^ (self.0 >> 8);
        }
    }

    pub fn finish(&self) -> u32 {
        !self.0
    }
}

impl Default for Crc32 {
    fn default() -> Self {
        Crc32::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migration::{Dir, read_dirs};

    /// The text of the test vectors (formats-and-tracking §3).
    const T: &str = "CREATE TABLE t (id int);\r\nINSERT INTO t VALUES (1);\n";

    /// The up script of a one-file sqlx folder holding `text`.
    fn script(text: &str) -> Script {
        let dir = Dir::of_texts(&[("1_t.sql", text)]);
        let reading = read_dirs(&[dir], None).expect("reads");
        reading.set.as_slice()[0].up.clone()
    }

    #[test]
    fn crc32_is_the_ieee_one() {
        let mut crc = Crc32::new();
        crc.update(b"123456789");
        assert_eq!(crc.finish(), 0xCBF4_3926);
        let mut goose = Crc32::new();
        goose.update(b"goose");
        assert_eq!(goose.finish(), 4_097_083_626);
    }

    #[test]
    fn sqlx_checksum_matches_the_vector() {
        assert_eq!(
            hex(&sqlx_bytes(&script(T))),
            "327a7ef81059f887c4f23a106d92ba984cec06b67cb82f6ef00cadc2f6e4f6f7f28b20ca4e51b17aa691998d51f88ad8"
        );
    }

    #[test]
    fn flyway_checksum_matches_the_vector_and_ignores_line_endings_and_bom() {
        assert_eq!(flyway(&script(T)), 169_406_234);
        assert_eq!(flyway_of(&T.replace("\r\n", "\n")), 169_406_234);
        assert_eq!(flyway_of(&format!("\u{feff}{T}\n\n")), 169_406_234);
        assert_ne!(flyway_of("CREATE TABLE t (id int);"), 169_406_234);
    }

    #[test]
    fn a_bom_counts_for_sqlx_and_upcycle_but_not_for_flyway() {
        let plain = script(T);
        let bom = script(&format!("\u{feff}{T}"));
        assert_ne!(sqlx_bytes(&plain), sqlx_bytes(&bom));
        assert_ne!(plain.checksum, bom.checksum);
        assert_eq!(flyway(&plain), flyway(&bom));
    }

    #[test]
    fn recorded_checksums_are_compared_in_their_own_algorithm() {
        let s = script(T);
        let sha384 = recorded_by(HistoryMode::Sqlx, &s).unwrap();
        let crc = recorded_by(HistoryMode::Flyway, &s).unwrap();
        let sha256 = recorded_by(HistoryMode::Upcycle, &s).unwrap();
        assert_eq!(crc, "169406234");
        assert_eq!(Algorithm::of(&sha384), Some(Algorithm::Sha384));
        assert_eq!(Algorithm::of(&crc), Some(Algorithm::FlywayCrc32));
        assert_eq!(Algorithm::of("-5"), Some(Algorithm::FlywayCrc32));
        assert_eq!(Algorithm::of(&sha256), Some(Algorithm::Sha256));
        assert_eq!(Algorithm::of("old"), None);
        for recorded in [&sha384, &crc, &sha256] {
            assert!(matches(recorded, &s), "{recorded}");
            assert!(!matches(recorded, &script("SELECT 1;")), "{recorded}");
        }
        assert!(matches(&sha384.to_uppercase(), &s));
        assert!(!matches("old", &s));
        assert_eq!(like("169406234", &s), "169406234");
        assert_eq!(recorded_by(HistoryMode::Diesel, &s), None);
    }
}
