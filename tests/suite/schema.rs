//! The schema snapshot against a real PostgreSQL: the same schema built in another order
//! snapshots equal, each kind of change gives exactly its diff line, every bundled migration's
//! down restores the exact schema, no OID leaks into a snapshot, and the incremental reader
//! (`Catalog`) gives the full read's snapshot after every kind of change.

use crate::support;

use futures_util::StreamExt;
use sqlx::{AssertSqlSafe, Executor, PgConnection};
use support::{connect, create_db, fresh_db, own_server, text, upcycle};
use upcycle::check::schema::{SchemaSnapshot, SnapshotOptions, diff};
use upcycle::postgres::catalog::{Catalog, hidden_from_change_log, snapshot};

async fn take(conn: &mut PgConnection) -> SchemaSnapshot {
    snapshot(conn, &SnapshotOptions::default())
        .await
        .unwrap_or_else(|e| panic!("snapshot: {e:#}"))
}

/// Runs each statement of `sql` on its own (`;` followed by a newline ends one), outside a
/// transaction, so `ALTER TYPE … ADD VALUE` and `CREATE INDEX CONCURRENTLY` work.
async fn run(conn: &mut PgConnection, sql: &str) {
    for statement in sql.split(";\n").map(str::trim).filter(|s| !s.is_empty()) {
        conn.execute(sqlx::raw_sql(AssertSqlSafe(statement.to_string())))
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
}

fn lines(before: &SchemaSnapshot, after: &SchemaSnapshot) -> Vec<String> {
    diff(before, after)
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// A role for grants and policies; roles are per server, so tolerate a concurrent creator.
const ROLE: &str = "DO $$ BEGIN CREATE ROLE upcycle_schema_reader; \
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;\n";

/// One of each kind of object the snapshot covers.
const BASE: &str = "CREATE TYPE job_status AS ENUM ('queued', 'running');
CREATE DOMAIN email AS text;
CREATE TYPE address AS (street text, city text);
CREATE SEQUENCE counter;
CREATE TABLE users (id int NOT NULL, email varchar(100), name text, a int);
CREATE TABLE posts (id int PRIMARY KEY, user_id int);
CREATE INDEX users_email_idx ON users (email);
CREATE VIEW v AS SELECT id, name FROM users;
CREATE MATERIALIZED VIEW mv AS SELECT id FROM users;
CREATE FUNCTION f(x integer) RETURNS integer LANGUAGE sql AS 'SELECT x';
CREATE PROCEDURE p(x integer) LANGUAGE sql AS 'SELECT x';
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
";

/// For each kind of change: the statements, and the exact lines `diff` gives for them.
const CASES: &[(&str, &[&str])] = &[
    (
        "ALTER TABLE users ALTER COLUMN email TYPE text",
        &["column users.email: type character varying(100) → text"],
    ),
    (
        "ALTER TABLE users ALTER COLUMN name SET DEFAULT 'anon'",
        &["column users.name: default (none) → 'anon'::text"],
    ),
    (
        "ALTER TABLE users ALTER COLUMN email SET NOT NULL",
        &["column users.email: not null no → yes"],
    ),
    (
        "ALTER TABLE users ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY",
        &[
            "column users.id: identity (none) → always",
            "sequence users_id_seq: added",
        ],
    ),
    (
        "ALTER TABLE users ADD COLUMN b int GENERATED ALWAYS AS (a * 2) STORED",
        &["column users.b: added (integer GENERATED ALWAYS AS ((a * 2)) STORED)"],
    ),
    (
        "ALTER TABLE users ADD CONSTRAINT users_a_check CHECK (a > 0)",
        &["constraint users_a_check on users: added (CHECK ((a > 0)))"],
    ),
    (
        "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email)",
        &[
            "constraint users_email_key on users: added (UNIQUE (email))",
            "index users_email_key: added (CREATE UNIQUE INDEX users_email_key ON public.users USING btree (email))",
        ],
    ),
    (
        "ALTER TABLE posts ADD CONSTRAINT posts_user_fk FOREIGN KEY (user_id) REFERENCES posts (id) NOT VALID",
        &[
            "constraint posts_user_fk on posts: added (FOREIGN KEY (user_id) REFERENCES posts(id) NOT VALID)",
        ],
    ),
    (
        "CREATE INDEX CONCURRENTLY users_name_idx ON users (name) WHERE name IS NOT NULL",
        &[
            "index users_name_idx: added (CREATE INDEX users_name_idx ON public.users USING btree (name) WHERE (name IS NOT NULL))",
        ],
    ),
    (
        "UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'users_email_idx'::regclass",
        &["index users_email_idx: valid yes → no"],
    ),
    (
        "CREATE TRIGGER users_touch BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION touch()",
        &[
            "trigger users_touch on users: added (CREATE TRIGGER users_touch BEFORE UPDATE ON public.users FOR EACH ROW EXECUTE FUNCTION touch())",
        ],
    ),
    (
        "CREATE OR REPLACE VIEW v AS SELECT id, name FROM users WHERE id > 0",
        &["view v: definition changed"],
    ),
    (
        "CREATE UNIQUE INDEX mv_id ON mv (id);\nREFRESH MATERIALIZED VIEW mv",
        &["index mv_id: added (CREATE UNIQUE INDEX mv_id ON public.mv USING btree (id))"],
    ),
    (
        "CREATE MATERIALIZED VIEW mv2 AS SELECT 1 AS one WITH NO DATA",
        &["materialized view mv2: added"],
    ),
    (
        "CREATE OR REPLACE FUNCTION f(x integer) RETURNS integer LANGUAGE sql AS 'SELECT x + 1'",
        &["function f(integer): definition changed"],
    ),
    (
        "ALTER FUNCTION f(integer) STABLE",
        &["function f(integer): volatility volatile → stable"],
    ),
    (
        "CREATE OR REPLACE PROCEDURE p(x integer) LANGUAGE sql AS 'SELECT x + 1'",
        &["procedure p(integer): definition changed"],
    ),
    (
        "ALTER TYPE job_status ADD VALUE 'failed'",
        &["enum job_status: labels queued, running → queued, running, failed"],
    ),
    (
        "ALTER TYPE job_status ADD VALUE 'new' BEFORE 'queued'",
        &["enum job_status: labels queued, running → new, queued, running"],
    ),
    (
        "ALTER DOMAIN email ADD CONSTRAINT email_at CHECK (VALUE LIKE '%@%')",
        &["domain email: check email_at (none) → CHECK ((VALUE ~~ '%@%'::text))"],
    ),
    (
        "ALTER TYPE address ADD ATTRIBUTE zip text",
        &["attribute address.zip: added (text)"],
    ),
    (
        "ALTER SEQUENCE counter INCREMENT BY 5",
        &["sequence counter: increment 1 → 5"],
    ),
    (
        "CREATE EXTENSION citext",
        &["extension citext: added (version 1.6)"],
    ),
    (
        "CREATE POLICY own ON users FOR SELECT TO upcycle_schema_reader USING (id = 1)",
        &["policy own on users: added (FOR SELECT TO upcycle_schema_reader)"],
    ),
    (
        "ALTER TABLE users ENABLE ROW LEVEL SECURITY",
        &["table users: row level security no → yes"],
    ),
    (
        "GRANT SELECT, UPDATE ON users TO upcycle_schema_reader",
        &["table users: granted to upcycle_schema_reader (none) → SELECT, UPDATE"],
    ),
    (
        "GRANT SELECT (email) ON users TO upcycle_schema_reader",
        &["column users.email: granted to upcycle_schema_reader (none) → SELECT"],
    ),
    (
        "REVOKE EXECUTE ON FUNCTION f(integer) FROM PUBLIC",
        &["function f(integer): revoked from PUBLIC (none) → EXECUTE"],
    ),
    (
        "COMMENT ON COLUMN users.email IS 'login'",
        &["column users.email: comment (none) → login"],
    ),
    (
        "COMMENT ON TABLE users IS 'people'",
        &["table users: comment (none) → people"],
    ),
    (
        "ALTER TABLE users DROP COLUMN email CASCADE;\nALTER TABLE users ADD COLUMN email varchar(100)",
        &[
            "column order of users: id, email, name, a → id, name, a, email",
            "index users_email_idx: removed (CREATE INDEX users_email_idx ON public.users USING btree (email))",
        ],
    ),
    (
        "CREATE RULE users_no_delete AS ON DELETE TO users DO INSTEAD NOTHING",
        &[
            "rule users_no_delete on users: added (CREATE RULE users_no_delete AS ON DELETE TO public.users DO INSTEAD NOTHING;)",
        ],
    ),
    (
        "ALTER TABLE users SET UNLOGGED",
        &["table users: kind table → unlogged table"],
    ),
    (
        "ALTER TABLE users SET (fillfactor = 70)",
        &["table users: options (none) → fillfactor=70"],
    ),
    (
        "CREATE SCHEMA app;\nCREATE TABLE app.t (id int)",
        &["schema app: added", "table app.t: added"],
    ),
];

/// Runs the futures eight at a time, results in order: each holds a database until it ends,
/// and the 80 cases of a test at once would need some 600 MB of disk.
async fn bounded<F: Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    futures_util::stream::iter(futures)
        .buffered(8)
        .collect()
        .await
}

/// (b): each kind of change, in its own database, gives exactly its lines.
#[tokio::test]
async fn each_kind_of_change_gives_its_diff_line() {
    let results = bounded(CASES.iter().enumerate().map(|(i, (change, _))| async move {
        let url = fresh_db(&format!("schema_case{i}")).await;
        let mut conn = connect(&url).await;
        run(&mut conn, &format!("{ROLE}{BASE}")).await;
        let before = take(&mut conn).await;
        run(&mut conn, change).await;
        let after = take(&mut conn).await;
        lines(&before, &after)
    }))
    .await;
    let mut failures = Vec::new();
    for ((change, expected), got) in CASES.iter().zip(results) {
        if got != *expected {
            failures.push(format!(
                "{change}\n  expected: {expected:#?}\n  got: {got:#?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The same schema, built by statements in two different orders (and at different OIDs).
const ORDER_A: &str = "CREATE TYPE job_status AS ENUM ('queued', 'running', 'failed');
CREATE TABLE users (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email text NOT NULL);
CREATE TABLE jobs (id serial PRIMARY KEY, user_id bigint, status job_status NOT NULL DEFAULT 'queued');
ALTER TABLE jobs ADD CONSTRAINT jobs_user_fk FOREIGN KEY (user_id) REFERENCES users (id);
CREATE INDEX jobs_status_idx ON jobs (status);
CREATE INDEX jobs_user_idx ON jobs (user_id);
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
CREATE TRIGGER jobs_touch BEFORE UPDATE ON jobs FOR EACH ROW EXECUTE FUNCTION touch();
CREATE VIEW active AS SELECT id FROM jobs WHERE status = 'running';
COMMENT ON TABLE users IS 'people';
GRANT SELECT ON jobs TO upcycle_schema_reader;
GRANT SELECT ON users TO upcycle_schema_reader;
";

const ORDER_B: &str = "CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
CREATE TYPE job_status AS ENUM ('queued', 'failed');
ALTER TYPE job_status ADD VALUE 'running' BEFORE 'failed';
CREATE TABLE users (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email text NOT NULL);
GRANT SELECT ON users TO upcycle_schema_reader;
COMMENT ON TABLE users IS 'people';
CREATE TABLE jobs (id serial PRIMARY KEY, user_id bigint, status job_status NOT NULL DEFAULT 'queued');
CREATE INDEX jobs_user_idx ON jobs (user_id);
CREATE VIEW active AS SELECT id FROM jobs WHERE status = 'running';
CREATE TRIGGER jobs_touch BEFORE UPDATE ON jobs FOR EACH ROW EXECUTE FUNCTION touch();
CREATE INDEX jobs_status_idx ON jobs (status);
GRANT SELECT ON jobs TO upcycle_schema_reader;
ALTER TABLE jobs ADD CONSTRAINT jobs_user_fk FOREIGN KEY (user_id) REFERENCES users (id);
";

/// (a) and (d): two databases built in different orders snapshot equal, and their JSON is the
/// same byte for byte although every object has another OID.
#[tokio::test]
async fn same_schema_in_another_order_snapshots_equal_without_oids() {
    let (url_a, url_b) = (
        fresh_db("schema_order_a").await,
        fresh_db("schema_order_b").await,
    );
    let mut a = connect(&url_a).await;
    run(&mut a, &format!("{ROLE}{ORDER_A}")).await;
    let mut b = connect(&url_b).await;
    // Push database b's OIDs well away from database a's.
    run(
        &mut b,
        "CREATE TABLE churn (a int, b text, c int[]);\nDROP TABLE churn;\n",
    )
    .await;
    run(&mut b, &format!("{ROLE}{ORDER_B}")).await;
    let (snap_a, snap_b) = (take(&mut a).await, take(&mut b).await);
    assert_eq!(lines(&snap_a, &snap_b), Vec::<String>::new());
    assert_eq!(snap_a, snap_b);
    let (json_a, json_b) = (
        serde_json::to_string_pretty(&snap_a).expect("json"),
        serde_json::to_string_pretty(&snap_b).expect("json"),
    );
    assert_eq!(json_a, json_b);
    let oids: Vec<String> = support::column(
        &url_a,
        "SELECT oid::text FROM pg_class WHERE relnamespace = 'public'::regnamespace
         UNION SELECT oid::text FROM pg_type WHERE typnamespace = 'public'::regnamespace
         UNION SELECT oid::text FROM pg_proc WHERE pronamespace = 'public'::regnamespace
         UNION SELECT oid::text FROM pg_constraint WHERE connamespace = 'public'::regnamespace",
    )
    .await;
    assert!(oids.len() > 10, "{oids:?}");
    // As a whole number: a sequence's max (9223372036854775807) holds OID-like digit runs.
    let numbers: Vec<&str> = json_a
        .split(|c: char| !c.is_ascii_digit())
        .filter(|n| !n.is_empty())
        .collect();
    for oid in oids {
        assert!(
            !numbers.contains(&oid.as_str()),
            "OID {oid} in the snapshot:\n{json_a}"
        );
    }
    assert_eq!(snap_a.tables.len(), 2);
    assert!(snap_a.tables.contains_key("public.jobs"));
    assert!(!snap_a.tables.contains_key("public.upcycle_migrations"));
}

/// (c): for each bundled migration, up then down restores the exact schema.
#[tokio::test]
async fn every_bundled_down_restores_the_schema() {
    let url = fresh_db("schema_bundled").await;
    let db = ["--database-url", url.as_str()];
    let migrate = |args: &[&str]| {
        let out = upcycle(&[args, &db].concat());
        assert!(
            out.status.success(),
            "{args:?}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    };
    let mut conn = connect(&url).await;
    let count = std::fs::read_dir(support::root().join("migrations"))
        .expect("migrations/")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".up.sql"))
        })
        .count();
    assert!(count >= 7, "{count} migrations");
    for n in 1..=count {
        let before = take(&mut conn).await;
        migrate(&["up", "--count", "1"]);
        let applied = take(&mut conn).await;
        assert!(
            !diff(&before, &applied).is_empty(),
            "migration {n} changed nothing the snapshot sees"
        );
        migrate(&["down", "--count", "1"]);
        let restored = take(&mut conn).await;
        assert_eq!(
            lines(&before, &restored),
            Vec::<String>::new(),
            "migration {n}'s down does not restore the schema"
        );
        migrate(&["up", "--count", "1"]);
    }
}

/// Members of extensions stay out, and so do the tracking tables (unless asked for).
#[tokio::test]
async fn extension_members_and_tracking_tables_stay_out() {
    let url = fresh_db("schema_excluded").await;
    let mut conn = connect(&url).await;
    run(
        &mut conn,
        "CREATE EXTENSION citext;\nCREATE TABLE schema_migrations (version bigint PRIMARY KEY, dirty boolean);\nCREATE TABLE _sqlx_migrations (version bigint GENERATED ALWAYS AS IDENTITY)",
    )
    .await;
    let snap = take(&mut conn).await;
    assert!(snap.extensions.contains_key("citext"));
    assert!(snap.tables.is_empty(), "{:?}", snap.tables.keys());
    assert!(snap.sequences.is_empty(), "{:?}", snap.sequences.keys());
    assert!(snap.functions.is_empty(), "{:?}", snap.functions.keys());
    assert!(snap.types.is_empty(), "{:?}", snap.types.keys());
    let everything = snapshot(&mut conn, &SnapshotOptions::everything())
        .await
        .expect("snapshot");
    assert_eq!(
        everything.tables.keys().collect::<Vec<_>>(),
        ["public._sqlx_migrations", "public.schema_migrations"]
    );
    assert_eq!(
        everything.sequences.keys().collect::<Vec<_>>(),
        ["public._sqlx_migrations_version_seq"]
    );
}

/// Changes that reach past the relation they are made on, or that leave no new row behind:
/// renames (another relation prints the name), swaps, removals, in-place flags, settings.
const REACHING: &[&str] = &[
    "ALTER TABLE posts ADD CONSTRAINT posts_user_fk FOREIGN KEY (user_id) REFERENCES users (id)",
    "ALTER TABLE users RENAME COLUMN id TO tmp;\nALTER TABLE users RENAME COLUMN a TO id;\nALTER TABLE users RENAME COLUMN tmp TO a",
    "ALTER TABLE users RENAME TO people",
    "CREATE SCHEMA app;\nALTER TABLE users SET SCHEMA app",
    "ALTER SCHEMA public RENAME TO main;\nCREATE SCHEMA public",
    "DROP INDEX users_email_idx",
    "COMMENT ON INDEX users_email_idx IS NULL",
    "COMMENT ON COLUMN users.name IS NULL",
    "ALTER TABLE posts DROP CONSTRAINT posts_pkey",
    "DROP TRIGGER users_touch ON users",
    "ALTER FUNCTION touch() RENAME TO touched",
    "ALTER TYPE job_status RENAME VALUE 'queued' TO 'waiting'",
    "ALTER TYPE job_status RENAME TO state",
    "ALTER SEQUENCE counter OWNED BY NONE",
    "ALTER SEQUENCE counter RENAME TO tally",
    "CREATE TABLE extra (id int DEFAULT nextval('counter'))",
    "DROP MATERIALIZED VIEW mv",
    "REVOKE ALL ON users FROM upcycle_schema_reader",
    "SET TIME ZONE 'America/New_York'",
    "SET quote_all_identifiers = on",
    "UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'users_email_idx'::regclass",
    "ALTER TYPE address RENAME ATTRIBUTE city TO town",
    "INSERT INTO users (id) VALUES (1)",
    // What the change log must reach past or cannot see (see `changelog`).
    "ALTER TABLE users ADD COLUMN n serial",
    "ALTER TABLE posts ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY",
    "ALTER TABLE users ALTER COLUMN a SET NOT NULL;\nALTER TABLE users ALTER COLUMN a ADD GENERATED ALWAYS AS IDENTITY;\nALTER TABLE users ALTER COLUMN a TYPE bigint",
    "ALTER TABLE solo SET UNLOGGED",
    "ALTER TABLE solo ALTER COLUMN n TYPE bigint",
    "ALTER TABLE solo ALTER COLUMN n SET INCREMENT BY 5",
    "ALTER TABLE solo ALTER COLUMN n DROP IDENTITY",
    "ALTER TABLE solo ALTER COLUMN id DROP DEFAULT;\nDROP SEQUENCE solo_id_seq",
    "CREATE INDEX ON parts (k)",
    "ALTER TABLE parts ADD COLUMN v int",
    "ALTER TABLE parts ATTACH PARTITION parts2 FOR VALUES FROM (10) TO (20)",
    "ALTER TABLE parts DETACH PARTITION parts1",
    "ALTER TABLE kin ADD COLUMN inherited int",
    "ALTER TABLE heir NO INHERIT kin",
    "SET session_replication_role = replica;\nALTER TABLE posts ADD COLUMN hidden int;\nRESET session_replication_role",
    "CREATE INDEX CONCURRENTLY posts_user_idx ON posts (user_id)",
    "DROP INDEX CONCURRENTLY users_email_idx",
    "CREATE FUNCTION note() RETURNS event_trigger LANGUAGE plpgsql AS 'BEGIN END';\nCREATE EVENT TRIGGER note ON ddl_command_end EXECUTE FUNCTION note();\nALTER TABLE posts ADD COLUMN noted int",
    "CLUSTER users USING users_email_idx",
    "CREATE MATERIALIZED VIEW later AS SELECT 1 AS one WITH NO DATA;\nREFRESH MATERIALIZED VIEW later",
    "GRANT UPDATE ON posts TO upcycle_schema_reader",
    "DROP TABLE users CASCADE",
    "ALTER TABLE posts DROP COLUMN user_id CASCADE",
    "CREATE TEMP TABLE scratch (id int);\nCREATE INDEX ON scratch (id);\nDROP TABLE scratch",
    "CREATE INDEX posts_tmp ON posts (user_id);\nDROP INDEX posts_tmp",
    "DO $$ BEGIN BEGIN ALTER TABLE posts ADD COLUMN never int; RAISE EXCEPTION 'undo'; EXCEPTION WHEN OTHERS THEN NULL; END; END $$",
    "CREATE OR REPLACE FUNCTION f(x integer) RETURNS integer LANGUAGE sql AS 'SELECT x + 1'",
    "ALTER TYPE job_status ADD VALUE 'done'",
    "CREATE POLICY own ON posts USING (user_id = 1);\nCREATE RULE nothing AS ON DELETE TO posts DO INSTEAD NOTHING",
    "ALTER TABLE posts RENAME CONSTRAINT posts_users_fk TO posts_fk",
];

/// What `REACHING` builds on: a foreign key, a comment, a trigger, a grant, an owned sequence,
/// a default that prints a timestamp, a table with a serial and an identity column, partitions
/// and inheritance (a command on a parent reaches its children without naming them).
const REACHING_BASE: &str = "ALTER TABLE users ADD PRIMARY KEY (id);
ALTER TABLE posts ADD CONSTRAINT posts_users_fk FOREIGN KEY (user_id) REFERENCES users (id);
COMMENT ON INDEX users_email_idx IS 'by email';
COMMENT ON COLUMN users.name IS 'full name';
CREATE TRIGGER users_touch BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION touch();
GRANT SELECT ON users TO upcycle_schema_reader;
ALTER SEQUENCE counter OWNED BY users.a;
ALTER TABLE users ADD COLUMN seen timestamptz DEFAULT '2024-01-02 03:04:05+00';
CREATE VIEW uv AS SELECT u.id, p.id AS post FROM users u JOIN posts p ON p.user_id = u.id;
CREATE TABLE solo (id serial, n int GENERATED ALWAYS AS IDENTITY);
CREATE TABLE parts (id int, k int) PARTITION BY RANGE (id);
CREATE TABLE parts1 PARTITION OF parts FOR VALUES FROM (0) TO (10);
CREATE TABLE parts2 (id int, k int);
CREATE TABLE kin (id int);
CREATE TABLE heir (b int) INHERITS (kin);
";

/// (e): after each change, and again after nothing changed, the incremental reader's snapshot
/// equals a full read (`verify` compares them itself and fails on any difference), both when
/// it follows the change log and when it probes the catalog by `xmin`.
#[tokio::test]
async fn incremental_snapshots_equal_full_ones_after_every_change() {
    incremental_equals_full(false).await;
}

#[tokio::test]
async fn probed_snapshots_equal_full_ones_after_every_change() {
    incremental_equals_full(true).await;
}

async fn incremental_equals_full(probing: bool) {
    let changes: Vec<(&str, &str)> = CASES
        .iter()
        .map(|(change, _)| ("", *change))
        .chain(REACHING.iter().map(|change| (REACHING_BASE, *change)))
        .collect();
    let results = bounded(
        changes
            .iter()
            .enumerate()
            .map(|(i, (more, change))| async move {
                let url = fresh_db(&format!("schema_incremental{i}_{probing}")).await;
                let mut conn = connect(&url).await;
                run(&mut conn, &format!("{ROLE}{BASE}{more}")).await;
                let mut catalog = if probing {
                    Catalog::probing(SnapshotOptions::default(), true)
                } else {
                    Catalog::new(SnapshotOptions::default(), true)
                };
                let mut outcome = Vec::new();
                for step in ["base", "change", "unchanged"] {
                    if step == "change" {
                        run(&mut conn, change).await;
                        // As the check does for a script the change log cannot see.
                        if hidden_from_change_log(change) {
                            catalog.distrust();
                        }
                    }
                    match catalog.snapshot(&mut conn).await {
                        Ok(incremental) if incremental == take(&mut conn).await => {}
                        Ok(_) => outcome.push(format!("{step}: differs from a full snapshot")),
                        Err(e) => outcome.push(format!("{step}: {e:#}")),
                    }
                }
                if catalog.follows_log() == probing {
                    outcome.push(format!("follows the change log: {}", catalog.follows_log()));
                }
                let stats = catalog.stats();
                (outcome, stats.full + stats.partial + stats.reused)
            }),
    )
    .await;
    let mut failures = Vec::new();
    for ((_, change), (outcome, snapshots)) in changes.iter().zip(results) {
        assert_eq!(snapshots, 3, "{change}");
        if !outcome.is_empty() {
            failures.push(format!("{change}\n  {}", outcome.join("\n  ")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The reader reuses what did not change: a data-only step reads no relation again, and a
/// change to one table re-reads that table only; the change log itself stays out of the
/// snapshot. Its own server: a role another test creates meanwhile is a change to a shared
/// catalog, which rightly makes the next snapshot a full read.
#[tokio::test]
async fn incremental_snapshots_reread_only_what_changed() {
    let server = own_server().await;
    for probing in [false, true] {
        let url = create_db(&server.url, &format!("schema_incremental_scope_{probing}")).await;
        let mut conn = connect(&url).await;
        run(&mut conn, &format!("{ROLE}{BASE}")).await;
        let mut catalog = if probing {
            Catalog::probing(SnapshotOptions::default(), true)
        } else {
            Catalog::new(SnapshotOptions::default(), true)
        };
        let first = catalog.snapshot(&mut conn).await.expect("first snapshot");
        assert_eq!(catalog.follows_log(), !probing);
        assert!(
            !format!("{first:?}").contains("upcycle_sandbox"),
            "the change log shows in the snapshot"
        );
        run(&mut conn, "INSERT INTO posts VALUES (1, 1)").await;
        catalog
            .snapshot(&mut conn)
            .await
            .expect("after a data change");
        run(&mut conn, "ALTER TABLE posts ADD COLUMN body text").await;
        catalog.snapshot(&mut conn).await.expect("after a column");
        let stats = catalog.stats();
        assert_eq!(
            (stats.full, stats.reused, stats.partial, stats.relations),
            (1, 1, 1, 1),
            "probing {probing}: {stats:?}"
        );
        // A renamed column: the views that print it are read again too, not everything
        // (the catalog verifies each snapshot against a full read).
        run(
            &mut conn,
            "ALTER TABLE users RENAME COLUMN name TO full_name",
        )
        .await;
        catalog.snapshot(&mut conn).await.expect("after a rename");
        let stats = catalog.stats();
        assert_eq!(
            (stats.full, stats.partial, stats.relations),
            (1, 2, 4),
            "probing {probing}: users, v and mv: {stats:?}"
        );
        // A changed function and a renamed type: the change log reads the functions and
        // types again, and what prints them; the probe reads everything.
        run(
            &mut conn,
            "CREATE OR REPLACE FUNCTION f(x integer) RETURNS integer LANGUAGE sql AS 'SELECT x + 1';
             ALTER TABLE posts ADD COLUMN status job_status;
             CREATE TABLE later (s job_status[]);",
        )
        .await;
        catalog.snapshot(&mut conn).await.expect("after a function");
        run(&mut conn, "ALTER TYPE job_status RENAME TO job_state").await;
        let renamed = catalog
            .snapshot(&mut conn)
            .await
            .expect("after a type rename");
        assert_eq!(
            renamed.tables["public.later"].columns["s"].data_type,
            "job_state[]"
        );
        let stats = catalog.stats();
        let full = if probing { 3 } else { 1 };
        assert_eq!(stats.full, full, "probing {probing}: {stats:?}");
    }
}

/// A script that fails outside a transaction can leave a change behind that no event trigger
/// reported (a failed `CREATE INDEX CONCURRENTLY` leaves an invalid index): the check
/// distrusts the log after any failed step, and the next snapshot is read in full.
#[tokio::test]
async fn a_failed_concurrent_index_is_seen_after_distrust() {
    let url = fresh_db("schema_incremental_failed_cic").await;
    let mut conn = connect(&url).await;
    run(
        &mut conn,
        &format!("{ROLE}{BASE}INSERT INTO posts VALUES (1, 1), (2, 1);\n"),
    )
    .await;
    let mut catalog = Catalog::new(SnapshotOptions::default(), true);
    catalog.snapshot(&mut conn).await.expect("first snapshot");
    assert!(catalog.follows_log());
    let failed = conn
        .execute("CREATE UNIQUE INDEX CONCURRENTLY posts_one_user ON posts (user_id)")
        .await;
    assert!(failed.is_err(), "the duplicate should fail the index");
    catalog.distrust();
    let after = catalog
        .snapshot(&mut conn)
        .await
        .expect("after the failure");
    assert!(
        after.tables["public.posts"]
            .indexes
            .contains_key("posts_one_user"),
        "the invalid index is missing"
    );
}

/// A database with the base schema on a server of its own (another test's `CREATE ROLE` would
/// force a full read), and a catalog that follows its change log, has taken the first
/// snapshot, and compares every snapshot with a full read (`verify`).
async fn following_the_log(name: &str) -> (upcycle::sandbox::LocalServer, PgConnection, Catalog) {
    let server = own_server().await;
    let url = create_db(&server.url, name).await;
    let mut conn = connect(&url).await;
    run(&mut conn, &format!("{ROLE}{BASE}")).await;
    let mut catalog = Catalog::new(SnapshotOptions::default(), true);
    catalog.snapshot(&mut conn).await.expect("first snapshot");
    assert!(catalog.follows_log());
    (server, conn, catalog)
}

/// The re-read function returns the children of a changed relation that were not written
/// since the last snapshot in a compact form, and the catalog copies the rest from its last
/// read. What such a child prints can still change: a renamed column (an index and a check
/// print it), a comment removed (no row is written for that). Each snapshot here is also
/// compared with a full read (`verify`).
#[tokio::test]
async fn children_copied_from_the_last_read_follow_renames_and_comments() {
    let (_server, mut conn, mut catalog) = following_the_log("schema_incremental_reused").await;
    run(
        &mut conn,
        "CREATE INDEX users_name_idx ON users (name);
         ALTER TABLE users ADD CONSTRAINT name_set CHECK (name <> '');
         COMMENT ON COLUMN users.email IS 'where to write';",
    )
    .await;
    catalog.snapshot(&mut conn).await.expect("after the index");
    run(
        &mut conn,
        "ALTER TABLE users ADD COLUMN c int; COMMENT ON COLUMN users.email IS NULL;",
    )
    .await;
    let uncommented = catalog.snapshot(&mut conn).await.expect("after a column");
    let users = &uncommented.tables["public.users"];
    assert_eq!(users.columns["email"].comment, None);
    assert_eq!(users.columns["email"].data_type, "character varying(100)");
    assert!(
        users.indexes["users_name_idx"]
            .definition
            .contains("(name)")
    );
    run(&mut conn, "ALTER TABLE users RENAME COLUMN name TO label").await;
    let renamed = catalog.snapshot(&mut conn).await.expect("after a rename");
    let users = &renamed.tables["public.users"];
    assert!(
        users.indexes["users_name_idx"]
            .definition
            .contains("(label)"),
        "{}",
        users.indexes["users_name_idx"].definition
    );
    assert!(
        users.constraints["name_set"].definition.contains("label"),
        "{}",
        users.constraints["name_set"].definition
    );
    let stats = catalog.stats();
    assert_eq!(stats.full, 1, "{stats:?}");
}

/// The log finds most relations when it is read, not when a command runs: objects created and
/// dropped between two snapshots leave only their drop rows to go by, and a temporary table
/// `ON COMMIT DROP` goes without one. None of these needs a full read, and each snapshot
/// equals a full one (`verify`).
#[tokio::test]
async fn objects_gone_before_the_log_is_read_need_no_full_read() {
    let (_server, mut conn, mut catalog) = following_the_log("schema_incremental_gone").await;
    for sql in [
        "BEGIN; CREATE TEMPORARY TABLE scratch ON COMMIT DROP AS SELECT 1 AS one; COMMIT",
        "CREATE INDEX posts_tmp ON posts (user_id); DROP INDEX posts_tmp",
        "CREATE TABLE brief (id int PRIMARY KEY, CHECK (id > 0)); DROP TABLE brief",
        "ALTER TABLE posts ADD CONSTRAINT positive CHECK (id > 0);
         ALTER TABLE posts DROP CONSTRAINT positive",
    ] {
        run(&mut conn, sql).await;
        catalog.snapshot(&mut conn).await.expect(sql);
    }
    let stats = catalog.stats();
    assert_eq!(stats.full, 1, "{stats:?}");
}

/// When only functions changed, the catalog renders again only those whose `pg_proc` row was
/// written since the last snapshot and copies the others from its last read. A comment (a
/// row of its own), a grant kept by a new body, a rename and a drop each show; a function whose SQL body calls
/// a renamed one prints the new name without its own row being written, so that case reads
/// every function again. Each snapshot here is also compared with a full read (`verify`).
#[tokio::test]
async fn functions_copied_from_the_last_read_follow_comments_grants_and_renames() {
    let (_server, mut conn, mut catalog) = following_the_log("schema_incremental_functions").await;
    type Shows = fn(&SchemaSnapshot) -> bool;
    let steps: [(&str, Shows); 7] = [
        (
            "CREATE FUNCTION g(n integer) RETURNS integer LANGUAGE sql AS 'SELECT n * 2';
             COMMENT ON FUNCTION g(integer) IS 'doubles'",
            |s| s.functions["public.g(integer)"].comment.as_deref() == Some("doubles"),
        ),
        ("COMMENT ON FUNCTION g(integer) IS NULL", |s| {
            s.functions["public.g(integer)"].comment.is_none()
        }),
        // A grant is logged without its object: a full read.
        (
            "GRANT EXECUTE ON FUNCTION g(integer) TO upcycle_schema_reader",
            |s| !s.functions["public.g(integer)"].grants.granted.is_empty(),
        ),
        (
            "CREATE OR REPLACE FUNCTION g(n integer) RETURNS integer LANGUAGE sql AS 'SELECT n * 3'",
            |s| {
                let g = &s.functions["public.g(integer)"];
                g.body == "SELECT n * 3" && !g.grants.granted.is_empty()
            },
        ),
        ("ALTER FUNCTION g(integer) RENAME TO h", |s| {
            s.functions.contains_key("public.h(integer)")
                && !s.functions.contains_key("public.g(integer)")
        }),
        (
            "CREATE FUNCTION k() RETURNS integer LANGUAGE sql RETURN h(1);
             ALTER FUNCTION h(integer) RENAME TO h2",
            |s| s.functions["public.k()"].body.contains("h2("),
        ),
        ("DROP FUNCTION k(); DROP FUNCTION h2(integer)", |s| {
            !s.functions.contains_key("public.h2(integer)")
                && s.functions["public.f(integer)"].body == "SELECT x"
        }),
    ];
    for (sql, shows) in steps {
        run(&mut conn, sql).await;
        let snapshot = catalog.snapshot(&mut conn).await.expect(sql);
        assert!(shows(&snapshot), "{sql}: {:#?}", snapshot.functions);
    }
    let stats = catalog.stats();
    assert_eq!((stats.full, stats.partial), (2, 6), "{stats:?}");
}

/// An extension created or dropped is followed by the change log: its row is read again, its
/// members (which a snapshot leaves out) are not, and what the step did to relations with them
/// (a column of its type, an index with its operator class, a function over its type) is read
/// as any other change, also when its drop takes them along. `ALTER EXTENSION … ADD` takes a
/// user's function out of the snapshot without a log row for it: a full read. Each snapshot
/// here is also compared with a full read (`verify`).
#[tokio::test]
async fn extensions_created_and_dropped_are_followed_without_a_full_read() {
    let (_server, mut conn, mut catalog) = following_the_log("schema_incremental_extensions").await;
    type Shows = fn(&SchemaSnapshot) -> bool;
    let steps: [(&str, Shows); 5] = [
        (
            "CREATE EXTENSION citext;
             ALTER TABLE users ADD COLUMN login citext;
             CREATE FUNCTION login_of(citext) RETURNS text LANGUAGE sql AS 'SELECT $1::text'",
            |s| {
                s.extensions.contains_key("citext")
                    && s.tables["public.users"].columns["login"].data_type == "citext"
                    && s.functions.contains_key("public.login_of(citext)")
                    && !s.functions.keys().any(|f| f.contains("citext_eq"))
            },
        ),
        (
            "CREATE EXTENSION pg_trgm;
             CREATE INDEX users_name_trgm ON users USING gin (name gin_trgm_ops)",
            |s| {
                s.tables["public.users"]
                    .indexes
                    .contains_key("users_name_trgm")
            },
        ),
        ("DROP EXTENSION pg_trgm CASCADE", |s| {
            !s.extensions.contains_key("pg_trgm")
                && !s.tables["public.users"]
                    .indexes
                    .contains_key("users_name_trgm")
        }),
        ("DROP EXTENSION citext CASCADE", |s| {
            !s.extensions.contains_key("citext")
                && !s.tables["public.users"].columns.contains_key("login")
                && !s.functions.contains_key("public.login_of(citext)")
        }),
        (
            "CREATE EXTENSION hstore;
             ALTER EXTENSION hstore ADD FUNCTION f(integer)",
            |s| {
                s.extensions.contains_key("hstore")
                    && !s.functions.contains_key("public.f(integer)")
            },
        ),
    ];
    for (sql, shows) in steps {
        run(&mut conn, sql).await;
        let snapshot = catalog.snapshot(&mut conn).await.expect(sql);
        assert!(shows(&snapshot), "{sql}: {snapshot:#?}");
    }
    let stats = catalog.stats();
    assert_eq!((stats.full, stats.partial), (2, 4), "{stats:?}");
}

/// `ALTER COLUMN … TYPE` builds the column's indexes again under new OIDs without a log row
/// for them; a later drop of one in the same step is found by its name in the last snapshot,
/// and only its table is read again (each snapshot is also compared with a full read).
#[tokio::test]
async fn an_index_built_again_by_a_type_change_is_found_by_its_name_when_dropped() {
    let (_server, mut conn, mut catalog) =
        following_the_log("schema_incremental_index_by_name").await;
    run(
        &mut conn,
        "ALTER TABLE users ALTER COLUMN email TYPE text; DROP INDEX users_email_idx",
    )
    .await;
    let snapshot = catalog.snapshot(&mut conn).await.expect("after the drop");
    assert!(
        !snapshot.tables["public.users"]
            .indexes
            .contains_key("users_email_idx")
    );
    let stats = catalog.stats();
    assert_eq!((stats.full, stats.partial), (1, 1), "{stats:?}");
}

/// What depends on a changed function comes with the re-read: a default that calls a renamed
/// function prints the new name, whether its table is otherwise untouched (it is read again as
/// a dependent) or changed in the same step (then none of its children is copied from the last
/// read). No full read; each snapshot is also compared with a full one (`verify`).
#[tokio::test]
async fn a_renamed_function_shows_in_the_defaults_that_call_it() {
    let (_server, mut conn, mut catalog) =
        following_the_log("schema_incremental_renamed_function").await;
    let steps = [
        (
            "CREATE FUNCTION next_code() RETURNS integer LANGUAGE sql AS 'SELECT 1';
             CREATE TABLE codes (id integer DEFAULT next_code(), c integer);
             CREATE INDEX codes_c ON codes (c)",
            "next_code()",
        ),
        (
            "ALTER FUNCTION next_code() RENAME TO code_next",
            "code_next()",
        ),
        (
            "ALTER FUNCTION code_next() RENAME TO first_code;
             ALTER TABLE codes ADD COLUMN d integer",
            "first_code()",
        ),
    ];
    for (sql, default) in steps {
        run(&mut conn, sql).await;
        let snapshot = catalog.snapshot(&mut conn).await.expect(sql);
        let id = &snapshot.tables["public.codes"].columns["id"];
        assert_eq!(id.default.as_deref(), Some(default), "{sql}");
    }
    let stats = catalog.stats();
    assert_eq!(stats.full, 1, "{stats:?}");
}

/// A function whose SQL body reads a table prints the table's name, so renaming the table
/// changes the function without a row of its own being written: the functions are read again
/// (no full read), and the snapshot equals a full one (`verify`).
#[tokio::test]
async fn a_renamed_table_shows_in_the_sql_body_that_reads_it() {
    let (_server, mut conn, mut catalog) =
        following_the_log("schema_incremental_renamed_table").await;
    for sql in [
        "CREATE FUNCTION post_count() RETURNS bigint LANGUAGE sql
           BEGIN ATOMIC SELECT count(*) FROM posts; END",
        "ALTER TABLE posts RENAME TO articles",
    ] {
        run(&mut conn, sql).await;
        catalog.snapshot(&mut conn).await.expect(sql);
    }
    let snapshot = catalog.snapshot(&mut conn).await.expect("again");
    let body = &snapshot.functions["public.post_count()"].body;
    assert!(body.contains("articles"), "{body}");
    let stats = catalog.stats();
    assert_eq!(stats.full, 1, "{stats:?}");
}

/// A step can drop the change log (`DROP SCHEMA upcycle_sandbox CASCADE`, or a down that
/// drops every schema): the next snapshot cannot read it, so the catalog reads everything and
/// probes from then on, and the snapshots stay right.
#[tokio::test]
async fn a_step_that_drops_the_change_log_turns_the_catalog_to_probing() {
    let (_server, mut conn, mut catalog) = following_the_log("schema_incremental_dropped").await;
    run(
        &mut conn,
        "DROP SCHEMA upcycle_sandbox CASCADE; ALTER TABLE posts ADD COLUMN body text;",
    )
    .await;
    let after = catalog
        .snapshot(&mut conn)
        .await
        .expect("after the log is gone");
    assert!(!catalog.follows_log());
    assert!(after.tables["public.posts"].columns.contains_key("body"));
    run(&mut conn, "ALTER TABLE posts ADD COLUMN title text").await;
    let next = catalog.snapshot(&mut conn).await.expect("probing");
    assert!(next.tables["public.posts"].columns.contains_key("title"));
    let stats = catalog.stats();
    assert_eq!((stats.full, stats.partial), (2, 1), "{stats:?}");
}
