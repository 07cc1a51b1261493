//! The objects of a schema snapshot: plain data read from the catalog, with no OIDs. Names are
//! quoted as PostgreSQL quotes identifiers (`quote_ident`), so a key is never ambiguous.

use std::collections::BTreeMap;

use serde::Serialize;

/// Privileges that differ from the object's default ACL (the owner's implicit privileges, and
/// PUBLIC's for functions and types), so an untouched object has none, and a revoked default
/// (`REVOKE EXECUTE … FROM PUBLIC`) still shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Privileges {
    /// Grantee (`PUBLIC` or a role) → privileges beyond the default (`SELECT`,
    /// `SELECT WITH GRANT OPTION`), sorted.
    pub granted: BTreeMap<String, Vec<String>>,
    /// Grantee → default privileges that were revoked, sorted.
    pub revoked: BTreeMap<String, Vec<String>>,
}

impl Privileges {
    /// True when the object has its default ACL.
    pub fn is_default(&self) -> bool {
        self.granted.is_empty() && self.revoked.is_empty()
    }
}

/// A schema (namespace).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Schema {
    pub comment: Option<String>,
    #[serde(skip_serializing_if = "Privileges::is_default")]
    pub grants: Privileges,
}

/// An installed extension; the objects it creates are not part of the snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Extension {
    pub version: String,
    pub schema: String,
}

/// What kind of table a relation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TableKind {
    Table,
    Partitioned,
    Unlogged,
    Foreign,
}

impl TableKind {
    /// The words a person reads.
    pub fn as_str(self) -> &'static str {
        match self {
            TableKind::Table => "table",
            TableKind::Partitioned => "partitioned table",
            TableKind::Unlogged => "unlogged table",
            TableKind::Foreign => "foreign table",
        }
    }
}

/// A table, with everything that hangs off it. Child maps are keyed by the child's own name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Table {
    pub kind: TableKind,
    pub columns: BTreeMap<String, Column>,
    pub constraints: BTreeMap<String, Constraint>,
    pub indexes: BTreeMap<String, Index>,
    pub triggers: BTreeMap<String, Trigger>,
    /// Rewrite rules (`CREATE RULE`): name → `pg_get_ruledef`, whitespace normalised.
    pub rules: BTreeMap<String, String>,
    pub row_security: bool,
    pub force_row_security: bool,
    pub policies: BTreeMap<String, Policy>,
    /// `pg_get_partkeydef` of a partitioned table.
    pub partition_key: Option<String>,
    /// The parent and bound of a partition.
    pub partition_of: Option<PartitionOf>,
    /// Parents by plain inheritance (`INHERITS`), in order.
    pub inherits: Vec<String>,
    /// Storage parameters (`fillfactor=70`), sorted.
    pub options: Vec<String>,
    /// `REPLICA IDENTITY` when not the default: `nothing`, `full` or `index`.
    pub replica_identity: Option<String>,
    /// The server and options of a foreign table.
    pub foreign: Option<ForeignTable>,
    pub comment: Option<String>,
    #[serde(skip_serializing_if = "Privileges::is_default")]
    pub grants: Privileges,
}

impl Table {
    /// An empty table of this kind (the catalog edge fills it in; tests build with it).
    pub fn new(kind: TableKind) -> Table {
        Table {
            kind,
            columns: BTreeMap::new(),
            constraints: BTreeMap::new(),
            indexes: BTreeMap::new(),
            triggers: BTreeMap::new(),
            rules: BTreeMap::new(),
            row_security: false,
            force_row_security: false,
            policies: BTreeMap::new(),
            partition_key: None,
            partition_of: None,
            inherits: Vec::new(),
            options: Vec::new(),
            replica_identity: None,
            foreign: None,
            comment: None,
            grants: Privileges::default(),
        }
    }
}

/// A partition's place under its parent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartitionOf {
    /// Qualified name of the parent table.
    pub parent: String,
    /// `FOR VALUES …` or `DEFAULT`.
    pub bound: String,
}

/// A foreign table's server and options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ForeignTable {
    pub server: String,
    pub options: Vec<String>,
}

/// `GENERATED … AS IDENTITY`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Identity {
    Always,
    ByDefault,
}

impl Identity {
    pub fn as_str(self) -> &'static str {
        match self {
            Identity::Always => "always",
            Identity::ByDefault => "by default",
        }
    }
}

/// A column of a table, view or composite type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Column {
    /// 1-based position among the live (not dropped) columns.
    pub position: u32,
    /// As `format_type` gives it: `character varying(100)`, `timestamp with time zone`.
    #[serde(rename = "type")]
    pub data_type: String,
    pub default: Option<String>,
    pub not_null: bool,
    pub identity: Option<Identity>,
    /// The expression of a `GENERATED ALWAYS AS (…) STORED` column.
    pub generated: Option<String>,
    /// The collation, when not the type's default.
    pub collation: Option<String>,
    /// `SET STORAGE`, when not the type's default: `plain`, `external`, `extended`, `main`.
    pub storage: Option<String>,
    /// `SET COMPRESSION`, when set: `pglz`, `lz4`.
    pub compression: Option<String>,
    /// `SET STATISTICS`, when set.
    pub statistics: Option<i32>,
    pub comment: Option<String>,
    #[serde(skip_serializing_if = "Privileges::is_default")]
    pub grants: Privileges,
}

impl Column {
    /// A nullable column of `data_type` with nothing else set.
    pub fn new(position: u32, data_type: &str) -> Column {
        Column {
            position,
            data_type: data_type.to_string(),
            default: None,
            not_null: false,
            identity: None,
            generated: None,
            collation: None,
            storage: None,
            compression: None,
            statistics: None,
            comment: None,
            grants: Privileges::default(),
        }
    }
}

/// What a constraint enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConstraintKind {
    Check,
    ForeignKey,
    PrimaryKey,
    Unique,
    Exclusion,
    Trigger,
}

/// A table constraint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Constraint {
    pub kind: ConstraintKind,
    /// `pg_get_constraintdef`: `FOREIGN KEY (owner_id) REFERENCES users(id) ON DELETE CASCADE`.
    pub definition: String,
    pub deferrable: bool,
    pub initially_deferred: bool,
    /// False for a `NOT VALID` constraint not yet validated.
    pub validated: bool,
    pub comment: Option<String>,
}

/// An index of a table or materialized view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Index {
    /// `pg_get_indexdef`: `CREATE INDEX … ON public.jobs USING btree (status)`.
    pub definition: String,
    /// False after a failed `CREATE INDEX CONCURRENTLY`.
    pub valid: bool,
    pub ready: bool,
    /// `CLUSTER … USING` this index.
    pub clustered: bool,
    pub comment: Option<String>,
}

/// A (non-internal) trigger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Trigger {
    /// `pg_get_triggerdef`.
    pub definition: String,
    /// `origin` (enabled), `disabled`, `replica` or `always`.
    pub enabled: String,
    pub comment: Option<String>,
}

/// A row-level security policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Policy {
    /// `ALL`, `SELECT`, `INSERT`, `UPDATE` or `DELETE`.
    pub command: String,
    pub permissive: bool,
    /// Role names, sorted (`PUBLIC` for everyone).
    pub roles: Vec<String>,
    pub using: Option<String>,
    pub with_check: Option<String>,
    pub comment: Option<String>,
}

/// A view or a materialized view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct View {
    pub materialized: bool,
    /// `pg_get_viewdef`, whitespace normalised.
    pub definition: String,
    pub columns: BTreeMap<String, Column>,
    /// A materialized view's indexes.
    pub indexes: BTreeMap<String, Index>,
    /// `INSTEAD OF` triggers and the like.
    pub triggers: BTreeMap<String, Trigger>,
    /// Rewrite rules other than the view's own `_RETURN`: name → `pg_get_ruledef`, normalised.
    pub rules: BTreeMap<String, String>,
    /// `security_barrier`, `check_option`, `security_invoker`…, sorted.
    pub options: Vec<String>,
    /// False for a materialized view created `WITH NO DATA` and not refreshed.
    pub populated: bool,
    pub comment: Option<String>,
    #[serde(skip_serializing_if = "Privileges::is_default")]
    pub grants: Privileges,
}

impl View {
    pub fn kind(&self) -> &'static str {
        if self.materialized {
            "materialized view"
        } else {
            "view"
        }
    }
}

/// A sequence (identity sequences included).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sequence {
    #[serde(rename = "type")]
    pub data_type: String,
    pub start: i64,
    pub increment: i64,
    pub min: i64,
    pub max: i64,
    pub cache: i64,
    pub cycle: bool,
    /// `schema.table.column` of `OWNED BY` (or the identity column).
    pub owned_by: Option<String>,
    pub comment: Option<String>,
    #[serde(skip_serializing_if = "Privileges::is_default")]
    pub grants: Privileges,
}

/// A function, procedure, aggregate or window function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Function {
    /// `function`, `procedure`, `aggregate` or `window`.
    pub kind: String,
    /// `pg_get_function_result` (none for a procedure).
    pub result: Option<String>,
    pub language: String,
    /// `immutable`, `stable` or `volatile`.
    pub volatility: String,
    pub security_definer: bool,
    /// `pg_get_functiondef` (an aggregate's state function and type for an aggregate).
    pub definition: String,
    /// The body alone (`prosrc`, or the SQL-standard body).
    pub body: String,
    pub comment: Option<String>,
    #[serde(skip_serializing_if = "Privileges::is_default")]
    pub grants: Privileges,
}

/// A user-defined type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Type {
    #[serde(flatten)]
    pub def: TypeDef,
    pub comment: Option<String>,
    #[serde(skip_serializing_if = "Privileges::is_default")]
    pub grants: Privileges,
}

/// What a user-defined type is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum TypeDef {
    Enum {
        /// In sort order.
        labels: Vec<String>,
    },
    Domain {
        base_type: String,
        default: Option<String>,
        not_null: bool,
        collation: Option<String>,
        /// Check constraint name → `pg_get_constraintdef`.
        checks: BTreeMap<String, String>,
    },
    Composite {
        attributes: BTreeMap<String, Column>,
    },
    Range {
        subtype: String,
        /// The subtype's btree operator class.
        opclass: String,
        collation: Option<String>,
        canonical: Option<String>,
        subtype_diff: Option<String>,
        multirange: Option<String>,
    },
}

impl TypeDef {
    pub fn kind(&self) -> &'static str {
        match self {
            TypeDef::Enum { .. } => "enum",
            TypeDef::Domain { .. } => "domain",
            TypeDef::Composite { .. } => "composite type",
            TypeDef::Range { .. } => "range type",
        }
    }
}
