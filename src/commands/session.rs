//! A database session for the commands that touch one: the connection (timeouts set), the
//! migration lock (a guard), the tracking table (`--history auto` resolved once, here), and the
//! history as it stands.

use sqlx::PgConnection;

use crate::history::History;
use crate::postgres::{LockGuard, Tracking, apply::set_timeouts, connect};
use crate::settings::DbSettings;

/// An open session. `close` releases the lock; dropping it releases the lock too (the lock's
/// connection closes).
pub struct Session {
    pub conn: PgConnection,
    /// The tracking table of this session, its mode resolved (never `Auto`).
    pub tracking: Tracking,
    pub history: History,
    lock: Option<LockGuard>,
}

/// Whether the command changes the database (and so needs the lock and the table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

impl Session {
    pub async fn open(db: &DbSettings, access: Access) -> anyhow::Result<Session> {
        let lock = match access {
            Access::Write => {
                Some(LockGuard::acquire(&db.connect, db.tracking.lock_key(), db.lock_wait).await?)
            }
            Access::Read => None,
        };
        let mut conn = db.connect.connect().await?;
        set_timeouts(&mut conn, &db.apply).await?;
        let tracking = db.tracking.resolve(&mut conn).await?;
        if access == Access::Write {
            tracking.ensure(&mut conn).await?;
        }
        let history = tracking.read(&mut conn).await?;
        Ok(Session {
            conn,
            tracking,
            history,
            lock,
        })
    }

    /// Re-reads the history (after changes).
    pub async fn reload(&mut self) -> anyhow::Result<()> {
        self.history = self.tracking.read(&mut self.conn).await?;
        Ok(())
    }

    pub async fn close(self) -> anyhow::Result<()> {
        connect::close(self.conn).await;
        if let Some(lock) = self.lock {
            lock.release().await?;
        }
        Ok(())
    }
}
