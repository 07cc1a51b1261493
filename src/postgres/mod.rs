//! The PostgreSQL edge: connecting (TLS, retries, masked URLs), the tracking tables (upcycle's
//! own and the tools' native ones), the migration lock, running scripts as their tools do, and
//! applying a plan.

pub mod apply;
pub mod catalog;
pub mod compat;
pub mod connect;
pub mod data;
pub mod execute;
pub mod lock;
pub mod tracking;
pub mod url;

pub use connect::ConnectSettings;
pub use execute::{ScriptError, run_script};
pub use lock::LockGuard;
pub use tracking::Tracking;
