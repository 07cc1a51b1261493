//! Catalog rows as the server writes them with `to_json`: every snapshot query returns its
//! rows this way, whether it runs on its own (`fetch`) or inside the change log's re-read
//! function (`reread`), so both go through the same decoders.

use anyhow::Context;
use serde_json::{Map, Value};
use sqlx::postgres::types::Oid;

/// One row: column name to value (`to_json` of the row).
#[derive(Debug)]
pub(super) struct Row(Map<String, Value>);

impl Row {
    /// Parses `to_json(row)`; `what` names the query in the error.
    pub(super) fn parse(json: &str, what: &str) -> anyhow::Result<Row> {
        serde_json::from_str(json)
            .map(Row)
            .with_context(|| format!("decoding a row of {what} from the catalog"))
    }

    /// Parses `json_agg(row)` (NULL for no rows); `what` names the query in the error.
    pub(super) fn parse_all(json: Option<&str>, what: &str) -> anyhow::Result<Vec<Row>> {
        let Some(json) = json else {
            return Ok(Vec::new());
        };
        let rows: Vec<Map<String, Value>> = serde_json::from_str(json)
            .with_context(|| format!("decoding the rows of {what} from the catalog"))?;
        Ok(rows.into_iter().map(Row).collect())
    }
}

/// A value a catalog column holds, as `to_json` writes it (integers as numbers, oids as strings,
/// arrays as arrays, NULL as null).
pub(super) trait Field: Sized {
    fn from_json(value: &Value) -> Option<Self>;
}

impl Field for String {
    fn from_json(value: &Value) -> Option<Self> {
        value.as_str().map(str::to_string)
    }
}

impl Field for bool {
    fn from_json(value: &Value) -> Option<Self> {
        value.as_bool()
    }
}

impl Field for i64 {
    fn from_json(value: &Value) -> Option<Self> {
        value.as_i64()
    }
}

impl Field for i32 {
    fn from_json(value: &Value) -> Option<Self> {
        value.as_i64().and_then(|n| i32::try_from(n).ok())
    }
}

impl Field for i16 {
    fn from_json(value: &Value) -> Option<Self> {
        value.as_i64().and_then(|n| i16::try_from(n).ok())
    }
}

/// `to_json` writes an `oid` as a string (its type is not in the numeric category).
impl Field for Oid {
    fn from_json(value: &Value) -> Option<Self> {
        match value {
            Value::String(text) => text.parse().ok().map(Oid),
            _ => value.as_u64().and_then(|n| u32::try_from(n).ok()).map(Oid),
        }
    }
}

impl<T: Field> Field for Option<T> {
    fn from_json(value: &Value) -> Option<Self> {
        if value.is_null() {
            Some(None)
        } else {
            T::from_json(value).map(Some)
        }
    }
}

impl<T: Field> Field for Vec<T> {
    fn from_json(value: &Value) -> Option<Self> {
        match value {
            // An empty array (`ARRAY(SELECT …)` with no rows) is `[]`; NULL is no elements.
            Value::Null => Some(Vec::new()),
            Value::Array(items) => items.iter().map(T::from_json).collect(),
            _ => None,
        }
    }
}

/// A column of a catalog row, the column named in the error.
pub(super) fn get<T: Field>(row: &Row, column: &str) -> anyhow::Result<T> {
    let value = row.0.get(column).unwrap_or(&Value::Null);
    T::from_json(value).with_context(|| {
        format!(
            "catalog column {column}: unexpected value {}",
            if value.is_null() {
                "null".to_string()
            } else {
                value.to_string()
            }
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_decode_as_json_writes_them() {
        let row = Row::parse(
            r#"{"key":"public.t","oid":"16385","rel":16386,"n":-3,"ok":true,"none":null,"labels":["a",null]}"#,
            "t",
        )
        .unwrap();
        assert_eq!(get::<String>(&row, "key").unwrap(), "public.t");
        assert_eq!(get::<Oid>(&row, "oid").unwrap(), Oid(16385));
        assert_eq!(get::<Oid>(&row, "rel").unwrap(), Oid(16386));
        assert_eq!(get::<i16>(&row, "n").unwrap(), -3);
        assert!(get::<bool>(&row, "ok").unwrap());
        assert_eq!(get::<Option<String>>(&row, "none").unwrap(), None);
        assert_eq!(
            get::<Vec<String>>(&row, "none").unwrap(),
            Vec::<String>::new()
        );
        assert_eq!(
            get::<Vec<Option<String>>>(&row, "labels").unwrap(),
            vec![Some("a".to_string()), None]
        );
    }

    #[test]
    fn a_wrong_value_names_the_column() {
        let row = Row::parse(r#"{"key":1}"#, "t").unwrap();
        let e = get::<String>(&row, "key").unwrap_err().to_string();
        assert!(e.contains("catalog column key"), "{e}");
        assert!(get::<bool>(&row, "missing").is_err());
        assert!(Row::parse_all(None, "t").unwrap().is_empty());
    }
}
