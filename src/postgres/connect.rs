//! Connecting: the URL (with TLS up to verify-full, a CA file), retries with backoff for a
//! server that is not up yet, and errors that never show the password.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection};

use super::url::{mask, scrub};

/// How to reach a database.
#[derive(Debug, Clone)]
pub struct ConnectSettings {
    /// The URL (`postgres://user:pass@host:port/db?sslmode=verify-full`).
    pub url: String,
    /// A CA certificate for `sslmode=verify-ca|verify-full`.
    pub ca_file: Option<PathBuf>,
    /// Connection attempts before giving up (1 = no retry).
    pub attempts: u32,
    /// `application_name`, so the run shows in pg_stat_activity.
    pub application_name: String,
}

impl ConnectSettings {
    pub fn new(url: impl Into<String>) -> Self {
        ConnectSettings {
            url: url.into(),
            ca_file: None,
            attempts: 5,
            application_name: "upcycle".into(),
        }
    }

    /// The URL with its password masked.
    pub fn masked(&self) -> String {
        mask(&self.url)
    }

    fn options(&self) -> anyhow::Result<PgConnectOptions> {
        let mut options = PgConnectOptions::from_str(&self.url).map_err(|e| {
            anyhow::anyhow!(
                "{}: not a valid database URL: {}",
                self.masked(),
                scrub(&e.to_string(), &self.url)
            )
        })?;
        if let Some(ca) = &self.ca_file {
            options = options.ssl_root_cert(ca);
        }
        Ok(options
            .application_name(&self.application_name)
            .log_statements(log::LevelFilter::Off))
    }

    /// Connects, retrying with backoff while the server is unreachable (never on a refused login).
    pub async fn connect(&self) -> anyhow::Result<PgConnection> {
        let options = self.options()?;
        let mut delay = Duration::from_millis(200);
        let mut attempt = 1;
        loop {
            match options.connect().await {
                Ok(conn) => return Ok(conn),
                Err(e) if attempt < self.attempts && retryable(&e) => {
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                    attempt += 1;
                }
                Err(e) => {
                    return Err(anyhow::anyhow!("{}", scrub(&describe(&e), &self.url)))
                        .with_context(|| {
                            format!(
                                "connecting to {} (attempt {attempt} of {})",
                                self.masked(),
                                self.attempts
                            )
                        });
                }
            }
        }
    }
}

/// A sqlx error as a person reads it: the server's message (and SQLSTATE) for database errors,
/// without sqlx's suffix naming the server's own source line, which reads like a line of ours.
pub fn describe(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(db) => match db.code() {
            Some(code) => format!("{} (SQLSTATE {code})", db.message()),
            None => db.message().to_string(),
        },
        other => other.to_string(),
    }
}

/// Whether an error may go away by waiting (the server starting, a network blip).
fn retryable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::Protocol(_) => true,
        // 57P03: the database system is starting up.
        sqlx::Error::Database(db) => db.code().as_deref() == Some("57P03"),
        _ => false,
    }
}

/// Closes a connection, ignoring errors (the server may already be gone).
pub async fn close(conn: PgConnection) {
    let _ = conn.close().await;
}
