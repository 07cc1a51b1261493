//! Throwaway PostgreSQL servers: `local` (initdb + postgres from the server binaries in a temp
//! folder). Each provider hands back a connection URL and removes everything on every path.

pub mod local;

pub use local::{LocalOptions, LocalServer};
