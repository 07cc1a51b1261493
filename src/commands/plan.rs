//! `upcycle plan`: what `up` would do (read-only; takes no lock).

use crate::Outcome;
use crate::plan::{Target, plan_up};
use crate::report;
use crate::settings::{DbSettings, Settings};

use super::session::{Access, Session};

pub async fn run(settings: &Settings, db: &DbSettings, target: &Target) -> anyhow::Result<Outcome> {
    let reading = super::read(settings)?;
    let session = Session::open(db, Access::Read).await?;
    let plan = plan_up(&reading.set, &session.history, target)?;
    session.close().await?;
    settings
        .term
        .out(&report::plan::render(&plan, &reading, settings.format));
    Ok(Outcome::Clean)
}
