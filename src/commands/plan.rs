//! `upcycle plan`: what `up` would do (read-only; takes no lock).

use crate::Outcome;
use crate::migration::Reading;
use crate::plan::{Plan, Target, plan_up};
use crate::report;
use crate::settings::{DbSettings, Settings};

use super::session::{Access, Session};

pub async fn run(settings: &Settings, db: &DbSettings, target: &Target) -> anyhow::Result<Outcome> {
    let (plan, reading) = plan(settings, db, target).await?;
    settings
        .term
        .out(&report::plan::render(&plan, &reading, settings.format));
    Ok(Outcome::Clean)
}

/// The plan for `target` on the database, and the migrations it was made from.
pub async fn plan(
    settings: &Settings,
    db: &DbSettings,
    target: &Target,
) -> anyhow::Result<(Plan, Reading)> {
    let reading = super::read(settings)?;
    let session = Session::open(db, Access::Read).await?;
    let plan = plan_up(&reading.set, &session.history, target)?;
    session.close().await?;
    Ok((plan, reading))
}
