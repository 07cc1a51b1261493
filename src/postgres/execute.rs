//! Runs one script the way its layout's tool does (the whole script as one simple query, or
//! statement by statement, COPY data through copy-in) and turns a server error into the file and
//! line of the failing statement, with the server's message, detail, hint and context.

use std::fmt;

use futures_util::StreamExt;
use sqlx::postgres::{PgDatabaseError, PgErrorPosition};
use sqlx::{AssertSqlSafe, PgConnection};

use crate::migration::{Execution, Script};
use crate::sql::{LineIndex, Statement, StatementKind};

/// A script that failed on the server, located in its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptError {
    pub path: String,
    pub line: Option<u32>,
    /// SQLSTATE (`42601` syntax error, `55P03` lock not available, …).
    pub sqlstate: Option<String>,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
    /// Where inside a function the error happened (PL/pgSQL context).
    pub context: Option<String>,
}

impl ScriptError {
    /// `lock_timeout` expired: the migration waited for a lock and was rolled back.
    pub fn is_lock_timeout(&self) -> bool {
        self.sqlstate.as_deref() == Some("55P03")
    }

    /// `path:line`.
    pub fn location(&self) -> String {
        match self.line {
            Some(line) => format!("{}:{line}", self.path),
            None => self.path.clone(),
        }
    }
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location(), self.message)?;
        if let Some(code) = &self.sqlstate {
            write!(f, " (SQLSTATE {code})")?;
        }
        for (label, value) in [
            ("detail", &self.detail),
            ("hint", &self.hint),
            ("where", &self.context),
        ] {
            if let Some(value) = value {
                write!(f, "\n  {label}: {value}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for ScriptError {}

/// The 1-based line in the file of byte `offset` of the script text.
fn line_at(script: &Script, offset: usize) -> u32 {
    LineIndex::new(&script.text).line(offset) + script.first_line - 1
}

/// Byte offset of the 1-based character position `position` in `text`.
fn byte_of_char(text: &str, position: usize) -> usize {
    text.char_indices()
        .nth(position.saturating_sub(1))
        .map_or(text.len(), |(i, _)| i)
}

fn to_error(
    e: &sqlx::Error,
    script: &Script,
    sent_from: usize,
    sent: &str,
    fallback: Option<&Statement>,
) -> ScriptError {
    let fallback_line = fallback.map(|s| s.line);
    let Some(pg) = e
        .as_database_error()
        .and_then(|d| d.try_downcast_ref::<PgDatabaseError>())
    else {
        return ScriptError {
            path: script.path.clone(),
            line: fallback_line,
            sqlstate: None,
            message: e.to_string(),
            detail: None,
            hint: None,
            context: None,
        };
    };
    let line = match pg.position() {
        Some(PgErrorPosition::Original(p)) => {
            Some(line_at(script, sent_from + byte_of_char(sent, p)))
        }
        _ => fallback_line,
    };
    ScriptError {
        path: script.path.clone(),
        line,
        sqlstate: Some(pg.code().to_string()),
        message: pg.message().to_string(),
        detail: pg.detail().map(str::to_string),
        hint: pg.hint().map(str::to_string),
        context: pg.r#where().map(str::to_string),
    }
}

/// Runs `script` on `conn` (inside whatever transaction the caller opened, or none).
pub async fn run_script(conn: &mut PgConnection, script: &Script) -> Result<(), ScriptError> {
    match script.execution {
        Execution::WholeScript => run_whole(conn, script).await,
        Execution::PerStatement => {
            for statement in script.executable_statements() {
                run_statement(conn, script, statement).await?;
            }
            Ok(())
        }
    }
}

async fn run_whole(conn: &mut PgConnection, script: &Script) -> Result<(), ScriptError> {
    let sql: Vec<&Statement> = script
        .statements
        .iter()
        .filter(|s| s.kind == StatementKind::Sql)
        .collect();
    if sql.is_empty() {
        return Ok(());
    }
    let mut stream = sqlx::raw_sql(AssertSqlSafe(script.text.clone())).execute_many(&mut *conn);
    let mut done = 0;
    while let Some(result) = stream.next().await {
        match result {
            Ok(_) => done += 1,
            Err(e) => {
                return Err(to_error(
                    &e,
                    script,
                    0,
                    &script.text,
                    sql.get(done).copied(),
                ));
            }
        }
    }
    Ok(())
}

async fn run_statement(
    conn: &mut PgConnection,
    script: &Script,
    statement: &Statement,
) -> Result<(), ScriptError> {
    let text = &script.text[statement.range.clone()];
    match &statement.kind {
        StatementKind::Sql => {
            sqlx::raw_sql(AssertSqlSafe(text.to_string()))
                .execute(&mut *conn)
                .await
                .map_err(|e| to_error(&e, script, statement.range.start, text, Some(statement)))?;
        }
        StatementKind::CopyFromStdin { data } => {
            let fail =
                |e: sqlx::Error| to_error(&e, script, statement.range.start, text, Some(statement));
            let mut copy = conn.copy_in_raw(text).await.map_err(fail)?;
            copy.send(script.text[data.clone()].as_bytes())
                .await
                .map_err(fail)?;
            copy.finish().await.map_err(fail)?;
        }
        StatementKind::PsqlMeta => {
            return Err(ScriptError {
                path: script.path.clone(),
                line: Some(statement.line),
                sqlstate: None,
                message: "a psql meta-command cannot be sent to the server; remove it".into(),
                detail: None,
                hint: None,
                context: None,
            });
        }
    }
    Ok(())
}
