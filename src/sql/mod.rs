//! SQL scripts as the server and psql see them: statements with their lines, psql-only content,
//! statements that cannot run inside a transaction, and the line-based splits of goose and
//! sql-migrate. Pure: text in, values out.

mod classify;
mod goose_split;
mod lines;
mod server_wide;
mod split;

pub use classify::{Classified, classify, keeps_rows, non_transactional_reason};
pub use goose_split::{ToolSplit, goose_split};
pub use lines::LineIndex;
pub use server_wide::server_wide;
pub use split::{LexProblem, LexProblemKind, Split, Statement, StatementKind, split};
