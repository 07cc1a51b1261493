//! The `url` sandbox: an existing server (`--sandbox-url`). upcycle never touches its existing
//! databases: each use gets a new one (`upcycle_check_<pid>_<n>_<random>`, see
//! [`super::Sandbox::database`]) that its guard drops afterwards. Every message masks the password.

use anyhow::{Context, bail};

use crate::postgres::ConnectSettings;
use crate::postgres::url::{mask, scrub};

/// Checks that the server answers and that the role may create databases.
pub async fn check(url: &str) -> anyhow::Result<()> {
    let mut settings = ConnectSettings::new(url);
    settings.attempts = 3;
    settings.application_name = "upcycle-sandbox".into();
    let mut conn = settings
        .connect()
        .await
        .context("--sandbox-url: the server for throwaway databases")?;
    let row: Result<(String, bool), _> = sqlx::query_as(
        "SELECT current_user::text, rolsuper OR rolcreatedb FROM pg_roles WHERE rolname = current_user",
    )
    .fetch_one(&mut conn)
    .await;
    crate::postgres::connect::close(conn).await;
    let (role, may_create) = row
        .map_err(|e| anyhow::anyhow!("{}", scrub(&e.to_string(), url)))
        .with_context(|| format!("reading the role's privileges on {}", mask(url)))?;
    if !may_create {
        bail!(
            "--sandbox-url {}: role {role} may not create databases; grant it CREATEDB (ALTER ROLE {role} CREATEDB) or use another role",
            mask(url)
        );
    }
    Ok(())
}
