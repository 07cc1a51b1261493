//! `upcycle sandbox-probe` (hidden): start the configured sandbox, run `select 1` in a fresh
//! database, remove everything, and print each step with its time. It proves a provider works
//! where upcycle runs (a container action's sibling mode included) and measures start-up.

use std::time::Instant;

use anyhow::{Context, bail};

use crate::Outcome;
use crate::sandbox::{Sandbox, SandboxSettings};
use crate::settings::Settings;

pub async fn run(settings: &Settings, sandbox: &SandboxSettings) -> anyhow::Result<Outcome> {
    let term = &settings.term;
    let sandbox = Sandbox::start(sandbox).await?;
    term.out(&format!("provider: {}", sandbox.provider()));
    term.out(&format!("server: {}", sandbox.describe()));
    if let Some(docker) = sandbox.docker() {
        term.out(&format!("container: {}", docker.id()));
        term.out(&format!("run id: {}", docker.run_id));
    }
    term.out(&format!(
        "ready_ms: {} (start to first connection)",
        sandbox.startup_time().as_millis()
    ));
    let t = Instant::now();
    let db = sandbox.database().await?;
    let mut conn = crate::postgres::ConnectSettings::new(db.url())
        .connect()
        .await?;
    let one: i32 = sqlx::query_scalar("select 1")
        .fetch_one(&mut conn)
        .await
        .context("select 1 in the throwaway database")?;
    crate::postgres::connect::close(conn).await;
    if one != 1 {
        bail!("select 1 returned {one}");
    }
    term.out(&format!(
        "select 1: {one} in {} ({} ms with create)",
        db.name(),
        t.elapsed().as_millis()
    ));
    let t = Instant::now();
    db.drop_now().await?;
    sandbox.close().await?;
    term.out(&format!("removed_ms: {}", t.elapsed().as_millis()));
    Ok(Outcome::Clean)
}
