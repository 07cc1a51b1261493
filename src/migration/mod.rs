//! Migrations as read from disk: `Version`, `Script`, `Migration`, `MigrationSet`, and the layout
//! readers that build them from the files teams already have. Pure: bytes in, values out.

mod files;
pub mod layout;
mod script;
mod set;
mod version;

pub use files::{Dir, SourceFile};
pub use layout::{
    Detection, LAYOUTS, Layout, LayoutSpec, NewMigration, Numbering, Reading, read_dirs,
};
pub use script::{Checksum, Direction, Execution, Script, ScriptSpec, Transaction, TxPolicy, hex};
pub use set::{Migration, MigrationSet};
pub use version::{Part, Version};
