//! The sandbox providers against real Docker and real server binaries (no mocks).
//!
//! Docker tests use the image in `UPCYCLE_TEST_IMAGE` (default `upcycle-local/postgres:15`, built
//! by scripts/build-pg-image.sh) and skip, saying so, only when the `docker` CLI is not installed
//! at all. Every container start copies the image on this machine's vfs driver (5–13 s), so the
//! database tests share ONE container (a OnceLock); only the tests about a container's own
//! life (auto + drop, sweep, sibling mode) create their own.

use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};
use upcycle::sandbox::{Provider, Sandbox, SandboxSettings, docker};

fn image() -> String {
    std::env::var("UPCYCLE_TEST_IMAGE").unwrap_or_else(|_| "upcycle-local/postgres:15".into())
}

/// Whether the docker CLI exists; prints why a test is skipped when it does not.
fn docker_installed(test: &str) -> bool {
    match Command::new("docker").arg("--version").output() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            println!("{test}: skipped, docker is not installed");
            false
        }
        _ => true,
    }
}

fn docker_cli(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("run docker");
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Ids of the containers (running or not) carrying `label` (`key` or `key=value`).
fn containers_with_label(label: &str) -> Vec<String> {
    docker_cli(&[
        "ps",
        "-aq",
        "--no-trunc",
        "--filter",
        &format!("label={label}"),
    ])
    .lines()
    .map(str::to_string)
    .collect()
}

fn docker_settings(image: &str) -> SandboxSettings {
    SandboxSettings {
        provider: Provider::Docker,
        image: image.into(),
        ..SandboxSettings::default()
    }
}

fn local_settings() -> SandboxSettings {
    SandboxSettings {
        provider: Provider::Local,
        path_var: std::env::var("PATH").ok(),
        ..SandboxSettings::default()
    }
}

/// The one docker sandbox the database tests share. A static is never dropped, so a detached
/// shell removes the container once this test process is gone.
fn shared_docker() -> &'static Sandbox {
    static SANDBOX: OnceLock<Sandbox> = OnceLock::new();
    SANDBOX.get_or_init(|| {
        let sandbox = std::thread::spawn(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(Sandbox::start(&docker_settings(&image())))
                .expect("start the shared docker sandbox")
        })
        .join()
        .expect("sandbox thread");
        let id = sandbox.docker().expect("docker").id().to_string();
        remove_when_gone(&id);
        eprintln!(
            "shared sandbox: {} (ready in {} ms)",
            sandbox.describe(),
            sandbox.startup_time().as_millis()
        );
        sandbox
    })
}

fn remove_when_gone(container: &str) {
    use std::os::unix::process::CommandExt;
    let script = format!(
        "while kill -0 {me} 2>/dev/null; do sleep 1; done; docker rm -f -v {container} >/dev/null 2>&1",
        me = std::process::id()
    );
    let _ = Command::new("sh")
        .args(["-c", &script])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn();
}

async fn scalar(url: &str, sql: &str) -> Option<String> {
    let mut conn = PgConnection::connect(url).await.expect("connect");
    let value: Option<Option<String>> = sqlx::query_scalar(AssertSqlSafe(sql.to_string()))
        .fetch_optional(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    conn.close().await.ok();
    value.flatten()
}

async fn database_exists(server_url: &str, name: &str) -> bool {
    scalar(
        server_url,
        &format!("SELECT datname::text FROM pg_database WHERE datname = '{name}'"),
    )
    .await
    .is_some()
}

#[tokio::test]
async fn docker_gives_isolated_fresh_databases_in_one_container() {
    if !docker_installed("docker_gives_isolated_fresh_databases_in_one_container") {
        return;
    }
    let sandbox = shared_docker();
    assert_eq!(sandbox.provider(), Provider::Docker);
    let first = sandbox.database().await.expect("first database");
    let second = sandbox.database().await.expect("second database");
    assert_ne!(first.name(), second.name());
    assert!(
        first.name().starts_with("upcycle_check_"),
        "{}",
        first.name()
    );

    let mut conn = PgConnection::connect(first.url()).await.expect("connect 1");
    conn.execute("CREATE TABLE t (id int); INSERT INTO t VALUES (1), (2)")
        .await
        .expect("sql in the first database");
    conn.close().await.ok();
    let mut conn = PgConnection::connect(second.url())
        .await
        .expect("connect 2");
    conn.execute("CREATE TABLE u (id int)")
        .await
        .expect("sql in the second database");
    conn.close().await.ok();

    assert_eq!(
        scalar(first.url(), "SELECT count(*)::text FROM t").await,
        Some("2".into())
    );
    assert_eq!(
        scalar(second.url(), "SELECT to_regclass('t')::text").await,
        None,
        "the second database must not see the first one's table"
    );

    // Guards: Drop and drop_now both remove the database; the container stays for the next use.
    let (first_name, second_name) = (first.name().to_string(), second.name().to_string());
    drop(first);
    assert!(!database_exists(sandbox.server_url(), &first_name).await);
    second.drop_now().await.expect("drop_now");
    assert!(!database_exists(sandbox.server_url(), &second_name).await);
    let again = sandbox
        .database()
        .await
        .expect("a database after others were dropped");
    assert_eq!(scalar(again.url(), "SELECT 'ok'").await, Some("ok".into()));
}

#[tokio::test]
async fn docker_databases_can_be_made_in_parallel() {
    if !docker_installed("docker_databases_can_be_made_in_parallel") {
        return;
    }
    let sandbox = shared_docker();
    let dbs = futures_util::future::join_all((0..4).map(|_| sandbox.database())).await;
    let names: std::collections::BTreeSet<String> = dbs
        .into_iter()
        .map(|db| db.expect("parallel create").name().to_string())
        .collect();
    assert_eq!(names.len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_picks_docker_and_drop_removes_the_container() {
    if !docker_installed("auto_picks_docker_and_drop_removes_the_container") {
        return;
    }
    let settings = SandboxSettings {
        provider: Provider::Auto,
        ..docker_settings(&image())
    };
    assert_eq!(
        upcycle::sandbox::resolve(&settings).await.expect("resolve"),
        Provider::Docker
    );
    let sandbox = Sandbox::start(&settings).await.expect("start");
    assert_eq!(sandbox.provider(), Provider::Docker);
    let server = sandbox.docker().expect("docker server");
    let label = format!("{}={}", docker::LABEL_RUN, server.run_id);
    assert_eq!(containers_with_label(&label), vec![server.id().to_string()]);
    let labels = docker_cli(&[
        "inspect",
        "-f",
        "{{index .Config.Labels \"dev.upcycle.started\"}}",
        server.id(),
    ]);
    assert!(labels.parse::<u64>().is_ok(), "started label: {labels}");
    {
        let db = sandbox.database().await.expect("database");
        assert_eq!(scalar(db.url(), "SELECT 'x'").await, Some("x".into()));
    }
    eprintln!("auto: ready in {} ms", sandbox.startup_time().as_millis());
    drop(sandbox);
    assert_eq!(
        containers_with_label(&label),
        Vec::<String>::new(),
        "Drop must remove the container"
    );
}

#[tokio::test]
async fn sweep_removes_old_labelled_containers_only() {
    if !docker_installed("sweep_removes_old_labelled_containers_only") {
        return;
    }
    let young = shared_docker().docker().expect("docker").id().to_string();
    let image = image();
    // Created, never started: a sandbox start in a parallel test sweeps too, and may remove
    // the container between `docker run`'s create and start.
    let old = docker_cli(&[
        "create",
        "--label",
        &format!("{}=x", docker::LABEL_RUN),
        "--label",
        &format!("{}=1", docker::LABEL_STARTED),
        &image,
        "sleep",
        "600",
    ]);
    remove_when_gone(&old);
    docker::sweep(Duration::from_secs(30 * 60))
        .await
        .expect("sweep");
    // Removed here, or by a sandbox start in a parallel test (then its removal may still be in
    // progress: vfs deletes a full copy of the image).
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !docker_cli(&["ps", "-aq", "--filter", &format!("id={old}")]).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the old labelled container {old} must be gone"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(
        docker_cli(&[
            "ps",
            "-aq",
            "--no-trunc",
            "--filter",
            &format!("id={young}")
        ]),
        young,
        "a container of a live run must stay"
    );
}

#[tokio::test]
async fn a_missing_image_says_docker_pull_and_is_never_pulled() {
    if !docker_installed("a_missing_image_says_docker_pull_and_is_never_pulled") {
        return;
    }
    let missing = "upcycle-local/postgres:no-such-tag";
    let err = match Sandbox::start(&docker_settings(missing)).await {
        Ok(_) => panic!("{missing} must not start"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        err.contains(&format!("run `docker pull {missing}`")) && err.contains("never pulls"),
        "{err}"
    );
    assert_eq!(
        docker_cli(&["images", "-q", missing]),
        "",
        "nothing may have been pulled"
    );
    // auto falls back to local when the image is absent.
    let settings = SandboxSettings {
        provider: Provider::Auto,
        path_var: std::env::var("PATH").ok(),
        ..docker_settings(missing)
    };
    assert_eq!(
        upcycle::sandbox::resolve(&settings).await.expect("resolve"),
        Provider::Local
    );
}

#[tokio::test]
async fn auto_without_docker_or_binaries_says_both_fixes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let settings = SandboxSettings {
        provider: Provider::Auto,
        image: "upcycle-local/postgres:no-such-tag".into(),
        pg_bin: Some(dir.path().to_path_buf()),
        ..SandboxSettings::default()
    };
    let err = format!(
        "{:#}",
        upcycle::sandbox::resolve(&settings)
            .await
            .expect_err("nothing available")
    );
    assert!(err.contains("docker pull"), "{err}");
    assert!(err.contains("--pg-bin"), "{err}");
}

#[tokio::test]
async fn local_provider_gives_a_fresh_database_and_removes_its_folder() {
    let sandbox = Sandbox::start(&local_settings()).await.expect("local");
    assert_eq!(sandbox.provider(), Provider::Local);
    let dir = sandbox
        .local()
        .and_then(|l| l.dir())
        .expect("server folder")
        .to_path_buf();
    assert!(dir.join("data/PG_VERSION").is_file());
    {
        // The first is the private server's own `postgres` database (as empty as a new one:
        // no database to create); the next ones are new, and their guards drop them.
        let first = sandbox.database().await.expect("database");
        assert_eq!(first.name(), "postgres");
        let mut conn = PgConnection::connect(first.url()).await.expect("connect");
        conn.execute("CREATE TABLE t (id int)").await.expect("sql");
        conn.close().await.ok();
        let second = sandbox.database().await.expect("second database");
        assert!(
            second.name().starts_with("upcycle_check_"),
            "{}",
            second.name()
        );
        assert_eq!(
            scalar(second.url(), "SELECT to_regclass('t')::text").await,
            None,
            "the second database must not see the first one's table"
        );
        let second_name = second.name().to_string();
        drop(second);
        drop(first);
        assert!(!database_exists(sandbox.server_url(), &second_name).await);
        assert!(database_exists(sandbox.server_url(), "postgres").await);
    }
    eprintln!("local: ready in {} ms", sandbox.startup_time().as_millis());
    sandbox.close().await.expect("close");
    assert!(!dir.exists(), "{} must be removed", dir.display());
}

/// `make_spare` creates the next database in the background (a check asks for one so that a
/// rebuild after a failure need not wait for `CREATE DATABASE`): it exists before anyone asks,
/// the next `database` hands it out, empty, and a later one is created as usual. On a `url`
/// server it makes nothing (see `url_provider_creates_then_drops_a_database_and_masks_the_password`).
#[tokio::test]
async fn local_spare_database_is_made_ahead_and_handed_out_next() {
    let sandbox = Sandbox::start(&local_settings()).await.expect("local");
    let first = sandbox.database().await.expect("database");
    let mut conn = PgConnection::connect(first.url()).await.expect("connect");
    conn.execute("CREATE TABLE t (id int)").await.expect("sql");
    conn.close().await.ok();
    sandbox.make_spare();
    sandbox.make_spare(); // at most one at a time
    let list = "SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database \
                WHERE datname LIKE 'upcycle\\_check\\_%'";
    let mut made = None;
    for _ in 0..200 {
        made = scalar(sandbox.server_url(), list).await;
        if made.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let made = made.expect("the spare database is created before anyone asks");
    assert!(!made.contains(','), "one spare only: {made}");
    let spare = sandbox.database().await.expect("the spare");
    assert_eq!(spare.name(), made);
    assert_eq!(
        scalar(spare.url(), "SELECT to_regclass('t')::text").await,
        None,
        "the spare is a new, empty database"
    );
    let next = sandbox.database().await.expect("one made on demand");
    assert_ne!(next.name(), spare.name());
    assert_eq!(scalar(next.url(), "SELECT 'ok'").await, Some("ok".into()));
    drop((first, spare, next));
    sandbox.close().await.expect("close");
}

#[tokio::test]
async fn local_dismiss_stops_the_server_at_once_and_removes_its_folder_behind() {
    let sandbox = Sandbox::start(&local_settings()).await.expect("local");
    let dir = sandbox
        .local()
        .and_then(|l| l.dir())
        .expect("server folder")
        .to_path_buf();
    let url = sandbox.server_url().to_string();
    let db = sandbox.database().await.expect("database");
    let mut conn = PgConnection::connect(db.url()).await.expect("connect");
    conn.execute("CREATE TABLE t (id int)").await.expect("sql");
    conn.close().await.ok();
    // The command is ending: its database is not dropped first, the server goes with it.
    assert!(sandbox.disposable());
    db.abandon();
    sandbox.dismiss().await.expect("dismiss");
    // The server is gone when dismiss returns (immediate shutdown, waited for).
    assert!(
        PgConnection::connect(&url).await.is_err(),
        "the server must not answer after dismiss"
    );
    // Its folder is removed by a background process.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while dir.exists() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!dir.exists(), "{} must be removed", dir.display());
}

#[tokio::test]
async fn local_copies_a_cached_initdb_template_after_the_first_start() {
    let cache = tempfile::tempdir().expect("cache dir");
    let settings = SandboxSettings {
        cache_dir: Some(cache.path().to_path_buf()),
        ..local_settings()
    };
    let first = Sandbox::start(&settings).await.expect("first start");
    assert!(
        !first.local().expect("local").from_template,
        "the first start runs initdb and keeps a copy of its result as the template"
    );
    let templates: Vec<_> = std::fs::read_dir(cache.path().join("initdb"))
        .expect("template folder")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(templates.len(), 1, "{templates:?}");
    assert!(templates[0].starts_with("initdb-"), "{templates:?}");
    // Without template0 (a third of the files each start copies), in the template and in the
    // server that made it.
    let databases = |url: String| async move {
        scalar(
            &url,
            "SELECT string_agg(datname::text, ',' ORDER BY datname) FROM pg_database",
        )
        .await
    };
    assert_eq!(
        databases(first.server_url().to_string()).await.as_deref(),
        Some("postgres,template1")
    );
    let template_dbs =
        std::fs::read_dir(cache.path().join("initdb").join(&templates[0]).join("base"))
            .expect("template base")
            .count();
    assert_eq!(template_dbs, 2);
    first.close().await.expect("close");

    let second = Sandbox::start(&settings).await.expect("second start");
    assert!(second.local().expect("local").from_template);
    assert_eq!(
        databases(second.server_url().to_string()).await.as_deref(),
        Some("postgres,template1")
    );
    let db = second.database().await.expect("database");
    let fresh = second
        .database()
        .await
        .expect("a new database, from template1");
    let mut conn = PgConnection::connect(fresh.url()).await.expect("connect");
    conn.execute("CREATE TABLE t (id int)").await.expect("sql");
    conn.close().await.ok();
    drop(fresh);
    drop(db);
    second.close().await.expect("close");
    // The template is left as it was: no server runs on it.
    let template = cache.path().join("initdb").join(&templates[0]);
    assert!(!template.join("postmaster.pid").exists());
    assert!(template.join("PG_VERSION").is_file());

    // A broken template (here: emptied) is not used: initdb runs instead.
    for entry in std::fs::read_dir(&template).expect("template").flatten() {
        let path = entry.path();
        if path.is_dir() {
            std::fs::remove_dir_all(&path).expect("empty");
        } else {
            std::fs::remove_file(&path).expect("empty");
        }
    }
    std::fs::write(template.join("PG_VERSION"), "15\n").expect("marker");
    let third = Sandbox::start(&settings)
        .await
        .expect("a broken template falls back to initdb");
    assert!(!third.local().expect("local").from_template);
    assert!(
        !template.exists(),
        "the broken template is removed, to be made again"
    );
    third.close().await.expect("close");
}

#[tokio::test]
async fn url_provider_creates_then_drops_a_database_and_masks_the_password() {
    // The "existing server" is a local one; trust auth ignores the password in the URL.
    let server = upcycle::sandbox::LocalServer::start(&upcycle::sandbox::LocalOptions {
        bin: None,
        path_var: std::env::var("PATH").ok(),
        ..Default::default()
    })
    .await
    .expect("a server to play the existing one");
    let url = server.url.replace("postgres@", "postgres:s3cr3t-pw@");
    let sandbox = Sandbox::start(&SandboxSettings {
        provider: Provider::Url,
        url: Some(url.clone()),
        ..SandboxSettings::default()
    })
    .await
    .expect("url sandbox");
    assert!(
        !sandbox.describe().contains("s3cr3t-pw"),
        "{}",
        sandbox.describe()
    );
    // An existing server stays: its databases must be dropped, never abandoned, and no spare
    // is made ahead (it would be left behind).
    assert!(!sandbox.disposable());
    sandbox.make_spare();
    let db = sandbox.database().await.expect("database");
    let name = db.name().to_string();
    let parts: Vec<&str> = name.split('_').collect();
    assert_eq!(&parts[..2], ["upcycle", "check"], "{name}");
    assert_eq!(parts[2], std::process::id().to_string());
    assert!(database_exists(&server.url, &name).await);
    // An open connection does not stop the drop (WITH (FORCE)).
    let mut open = PgConnection::connect(db.url()).await.expect("connect");
    open.execute("SELECT 1").await.expect("sql");
    drop(db);
    assert!(
        !database_exists(&server.url, &name).await,
        "{name} must be dropped"
    );
    drop(open);
    assert_eq!(
        scalar(
            &server.url,
            "SELECT string_agg(datname, ',') FROM pg_database WHERE datname LIKE 'upcycle\\_check\\_%'"
        )
        .await,
        None,
        "no database left on the existing server"
    );

    // A role without CREATEDB is refused with the reason.
    let mut admin = PgConnection::connect(&server.url).await.expect("admin");
    admin
        .execute("CREATE ROLE upcycle_nocreate LOGIN")
        .await
        .expect("create role");
    admin.close().await.ok();
    let weak = server
        .url
        .replace("postgres@", "upcycle_nocreate:other-pw@");
    let err = match Sandbox::start(&SandboxSettings {
        provider: Provider::Url,
        url: Some(weak),
        ..SandboxSettings::default()
    })
    .await
    {
        Ok(_) => panic!("a role without CREATEDB must be refused"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("may not create databases"), "{err}");
    assert!(!err.contains("other-pw"), "{err}");

    // An unreachable server: the error names it with the password masked.
    let gone = "postgres://postgres:s3cr3t-pw@127.0.0.1:1/postgres".to_string();
    let err = match Sandbox::start(&SandboxSettings {
        provider: Provider::Url,
        url: Some(gone),
        ..SandboxSettings::default()
    })
    .await
    {
        Ok(_) => panic!("port 1 must not answer"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("postgres://postgres:***@127.0.0.1:1"), "{err}");
    assert!(!err.contains("s3cr3t-pw"), "{err}");
}

/// Removes a container and a network by name when the test ends, whatever happens.
struct DockerCleanup {
    container: String,
    network: String,
}

impl Drop for DockerCleanup {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rm", "-f", "-v", &self.container])
            .output();
        let _ = Command::new("docker")
            .args(["network", "rm", &self.network])
            .output();
    }
}

/// upcycle inside a container on a user-defined network, with the host's Docker socket (a
/// container action's situation): the sandbox must join that network and answer there.
#[test]
fn sibling_mode_from_inside_a_container_on_a_user_network() {
    if !docker_installed("sibling_mode_from_inside_a_container_on_a_user_network") {
        return;
    }
    let image = image();
    let tag = format!("upcycle-test-{}", std::process::id());
    let cleanup = DockerCleanup {
        container: tag.clone(),
        network: tag.clone(),
    };
    docker_cli(&["network", "create", &cleanup.network]);
    let out = Command::new("docker")
        .args([
            "run",
            "--name",
            &cleanup.container,
            "--network",
            &cleanup.network,
        ])
        .args(["-v", "/var/run/docker.sock:/var/run/docker.sock"])
        .args([
            "-v",
            &format!(
                "{}:/usr/local/bin/upcycle:ro",
                env!("CARGO_BIN_EXE_upcycle")
            ),
        ])
        .args(["--entrypoint", "/usr/local/bin/upcycle"])
        .args(["--label", &format!("{}=outer-{tag}", docker::LABEL_RUN)])
        .args([
            "--label",
            &format!(
                "{}={}",
                docker::LABEL_STARTED,
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .expect("clock")
                    .as_secs()
            ),
        ])
        .arg(&image)
        .args([
            "sandbox-probe",
            "--sandbox",
            "docker",
            "--sandbox-image",
            &image,
        ])
        .output()
        .expect("docker run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stdout}{stderr}");
    assert!(out.status.success(), "the probe failed in the container");
    assert!(
        stdout.contains(&format!(
            "via network {} (sibling container)",
            cleanup.network
        )),
        "{stdout}"
    );
    assert!(stdout.contains("select 1: 1 in upcycle_check_"), "{stdout}");
    let run_id = stdout
        .lines()
        .find_map(|l| l.strip_prefix("run id: "))
        .expect("the probe prints its run id");
    assert_eq!(
        containers_with_label(&format!("{}={run_id}", docker::LABEL_RUN)),
        Vec::<String>::new(),
        "the sibling sandbox must be removed when the probe ends"
    );
    drop(cleanup);
}

#[test]
fn sandbox_options_become_settings_with_the_environment_injected() {
    use clap::Parser;
    use upcycle::cli::{Cli, Command as Sub};
    use upcycle::env::MapEnv;
    let parse = |args: &[&str]| {
        let cli =
            Cli::try_parse_from([&["upcycle", "sandbox-probe"], args].concat()).expect("parse");
        let Sub::SandboxProbe(sandbox) = cli.command else {
            panic!("sandbox-probe");
        };
        sandbox.settings(
            &MapEnv::default()
                .with("UPCYCLE_DOCKER_HOST", "10.1.2.3")
                .with("PATH", "/x"),
        )
    };
    let auto = parse(&[]).expect("defaults");
    assert_eq!(auto.provider, Provider::Auto);
    assert_eq!(auto.image, "postgres:17");
    assert_eq!(auto.docker_host_override.as_deref(), Some("10.1.2.3"));
    assert_eq!(auto.path_var.as_deref(), Some("/x"));
    // No cache variable and no HOME: no template cache.
    assert_eq!(auto.cache_dir, None);
    let cache = |vars: &[(&str, &str)]| {
        let cli = Cli::try_parse_from(["upcycle", "sandbox-probe"]).expect("parse");
        let Sub::SandboxProbe(sandbox) = cli.command else {
            panic!("sandbox-probe");
        };
        let env = vars
            .iter()
            .fold(MapEnv::default(), |env, (k, v)| env.with(k, v));
        sandbox.settings(&env).expect("settings").cache_dir
    };
    assert_eq!(
        cache(&[("HOME", "/home/u")]),
        Some("/home/u/.cache/upcycle".into())
    );
    assert_eq!(
        cache(&[("HOME", "/home/u"), ("XDG_CACHE_HOME", "/c")]),
        Some("/c/upcycle".into())
    );
    assert_eq!(
        cache(&[("HOME", "/home/u"), ("UPCYCLE_CACHE_DIR", "/x/y")]),
        Some("/x/y".into())
    );
    assert_eq!(
        cache(&[("HOME", "/home/u"), ("UPCYCLE_CACHE_DIR", "")]),
        None
    );
    let url = parse(&["--sandbox-url", "postgres://h/db"]).expect("url");
    assert_eq!(url.provider, Provider::Url);
    let err = parse(&["--sandbox", "docker", "--sandbox-url", "postgres://h/db"])
        .expect_err("url with docker");
    assert!(
        err.to_string()
            .contains("--sandbox-url is for --sandbox url"),
        "{err}"
    );
    assert!(
        Cli::try_parse_from(["upcycle", "sandbox-probe", "--sandbox", "podman"]).is_err(),
        "only the table's providers are accepted"
    );
}

/// `upcycle sandbox-probe --sandbox local`: its database is the server's own `postgres`, which
/// goes with the server (dropping it would fail: the probe is connected to it).
#[tokio::test]
async fn local_probe_runs_end_to_end() {
    let out = crate::support::upcycle(&["sandbox-probe", "--sandbox", "local"]);
    let stdout = crate::support::text(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        crate::support::text(&out.stderr)
    );
    assert!(stdout.contains("select 1: 1 in postgres"), "{stdout}");
    assert!(stdout.contains("removed_ms: "), "{stdout}");
}
