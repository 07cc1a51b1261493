//! The schema snapshot against a real PostgreSQL: the same schema built in another order
//! snapshots equal, each kind of change gives exactly its diff line, every bundled migration's
//! down restores the exact schema, and no OID leaks into a snapshot.

mod support;

use futures_util::future::join_all;
use sqlx::{AssertSqlSafe, Executor, PgConnection};
use support::{connect, fresh_db, text, upcycle};
use upcycle::check::schema::{SchemaSnapshot, SnapshotOptions, diff};
use upcycle::postgres::catalog::snapshot;

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

/// (b): each kind of change, in its own database, gives exactly its lines.
#[tokio::test]
async fn each_kind_of_change_gives_its_diff_line() {
    let results = join_all(CASES.iter().enumerate().map(|(i, (change, _))| async move {
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
    for oid in oids {
        assert!(
            !json_a.contains(&oid),
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
