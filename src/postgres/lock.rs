//! The migration lock: a session-level advisory lock taken with `pg_try_advisory_lock`, polled
//! on its own idle connection (never inside a transaction, where it would make CREATE INDEX
//! CONCURRENTLY wait forever). The guard owns that connection: `release` unlocks, and dropping
//! the guard closes the connection, which releases the lock on every other path.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use sqlx::PgConnection;

use super::ConnectSettings;

/// Holds the lock while alive.
pub struct LockGuard {
    conn: Option<PgConnection>,
    key: i64,
}

impl LockGuard {
    /// Waits up to `wait` for the lock on `key`.
    pub async fn acquire(
        connect: &ConnectSettings,
        key: i64,
        wait: Duration,
    ) -> anyhow::Result<LockGuard> {
        let mut conn = connect.connect().await?;
        let start = Instant::now();
        let mut delay = Duration::from_millis(50);
        loop {
            let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                .bind(key)
                .fetch_one(&mut conn)
                .await
                .context("taking the migration lock")?;
            if got {
                return Ok(LockGuard {
                    conn: Some(conn),
                    key,
                });
            }
            if start.elapsed() >= wait {
                bail!(
                    "another upcycle run holds the migration lock on this database (waited {:.1}s); let it finish, or raise --lock-wait. pg_locks shows the holder: SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = {}",
                    wait.as_secs_f64(),
                    (key as u64) & 0xffff_ffff
                );
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_millis(500));
        }
    }

    /// Unlocks and closes the lock's connection.
    pub async fn release(mut self) -> anyhow::Result<()> {
        if let Some(mut conn) = self.conn.take() {
            sqlx::query("SELECT pg_advisory_unlock($1)")
                .bind(self.key)
                .execute(&mut conn)
                .await
                .context("releasing the migration lock")?;
            super::connect::close(conn).await;
        }
        Ok(())
    }
}
