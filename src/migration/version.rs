//! `Version`: the text a layout gives a migration, and the key that orders it the way that
//! layout's tool orders it (integers, strings, Flyway's dotted parts).

use std::cmp::Ordering;
use std::fmt;

/// One part of an ordering key. Parts of one layout always have the same shape.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Part {
    /// An integer version (sqlx, golang-migrate, goose, timestamps).
    Int(i128),
    /// A digit string of any length compared as a number (Flyway's `BigInteger` parts).
    Digits(String),
    /// A string compared bytewise (diesel versions, sql-migrate ids).
    Text(String),
}

impl Part {
    /// A digit string with leading zeros removed, so `007` and `7` are one number.
    pub fn digits(s: &str) -> Part {
        let trimmed = s.trim_start_matches('0');
        Part::Digits(if trimmed.is_empty() {
            "0".into()
        } else {
            trimmed.into()
        })
    }

    fn rank(&self) -> u8 {
        match self {
            Part::Int(_) => 0,
            Part::Digits(_) => 1,
            Part::Text(_) => 2,
        }
    }
}

impl Ord for Part {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Part::Int(a), Part::Int(b)) => a.cmp(b),
            (Part::Digits(a), Part::Digits(b)) => a.len().cmp(&b.len()).then_with(|| a.cmp(b)),
            (Part::Text(a), Part::Text(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PartialOrd for Part {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A migration's version: its text as the layout writes it, ordered and compared by key.
/// Two versions with equal keys are the same version (`001` and `1` in sqlx; `1.0` and `1` in
/// Flyway), which is what makes a duplicate.
#[derive(Debug, Clone)]
pub struct Version {
    text: String,
    key: Vec<Part>,
}

impl Version {
    pub fn new(text: impl Into<String>, key: Vec<Part>) -> Self {
        Version {
            text: text.into(),
            key,
        }
    }

    /// An integer version (`text` is kept as written).
    pub fn int(text: &str, value: i128) -> Self {
        Version::new(text, vec![Part::Int(value)])
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn key(&self) -> &[Part] {
        &self.key
    }

    /// The version as an integer, when it is one (for tracking tables with bigint versions).
    pub fn as_i64(&self) -> Option<i64> {
        match self.key.as_slice() {
            [Part::Int(v)] => i64::try_from(*v).ok(),
            _ => self.text.parse().ok(),
        }
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for Version {}

impl std::hash::Hash for Version {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.key.hash(state);
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key.cmp(&other.key)
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl serde::Serialize for Version {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_compare_numerically_and_ignore_leading_zeros() {
        let v = |parts: &[&str]| {
            Version::new(
                parts.join("."),
                parts.iter().map(|p| Part::digits(p)).collect(),
            )
        };
        assert!(v(&["1", "9"]) < v(&["1", "10"]));
        assert_eq!(v(&["1", "007"]), v(&["1", "7"]));
        assert!(v(&["2"]) > v(&["1", "99"]));
    }

    #[test]
    fn int_versions_equal_by_value() {
        assert_eq!(Version::int("001", 1), Version::int("1", 1));
        assert_eq!(Version::int("001", 1).to_string(), "001");
    }
}
