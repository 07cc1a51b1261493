//! Benchmark: `upcycle check` of a corpus against its floor, and the start of each sandbox
//! provider against `docker run` plus a first connection. Not a test: it prints medians and
//! ratios (docs/benchmarks.md, "upcycle check").
//!
//! - **check**: `target/release/upcycle check --sandbox local` (its own private server: initdb,
//!   start, a fresh database, every migration's up, down and up again with the schema
//!   snapshots and diffs that prove them, the report).
//! - **floor**: one `psql -X -q` session on a server started the same way (upcycle's local
//!   sandbox: same binaries, same settings), in a fresh database, running the same 3N scripts
//!   in the same order: for each migration its up, its down, its up again, each wrapped in
//!   BEGIN/COMMIT unless it runs outside a transaction. Where a step fails in the real check the
//!   floor does what the check does (its failing script runs and fails there too): after a
//!   failed down it skips the second up, and where the check replaces its database (`-v` says
//!   where: after a failure that changed something, or a second up that gave another schema)
//!   the floor creates a fresh database and applies the ups up to that migration again. Which
//!   steps fail and where the database is replaced are read from one check run before the timed
//!   runs; the number of failed script runs in the floor's session is printed next to the
//!   check's.
//! - **sandbox start**: `upcycle sandbox-probe` (start to first connection, as upcycle reports
//!   it) for `local` and, when Docker has the image, `docker`; against `docker run -d` of the same
//!   image and `psql -c 'select 1'` retried every 50 ms until it answers.
//!
//! Runs alternate between the contenders so load on the machine affects them alike. Before
//! each, the bench waits until the last check's server folder is gone (a check removes it in
//! the background after it exits), flushes the file system and pauses (BENCH_PAUSE seconds,
//! default 6), so neither pays for the file churn of the other's teardown.
//!
//! Run: `cargo build --release && UPCYCLE_CORPORA=../shared/corpora cargo bench --bench check`
//! (optional: BENCH_RUNS=5, BENCH_CHECK=openmeter:golang-migrate,crates-io:diesel,
//! BENCH_IMAGE=upcycle-local/postgres:15, BENCH_SANDBOX=0 to skip the sandbox part,
//! BENCH_UPCYCLE=path to time another upcycle binary, BENCH_JOBS=N for `check --jobs N`; by
//! default the check runs its default jobs: one per CPU, up to 4).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};
use upcycle::migration::{Layout, Migration};
use upcycle::sandbox::{LocalOptions, LocalServer};

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

async fn fresh(base: &str, name: &str) -> String {
    let mut conn = PgConnection::connect(base).await.expect("connect");
    conn.execute(AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
    )))
    .await
    .expect("drop");
    conn.execute(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .await
        .expect("create");
    upcycle::sandbox::with_database(base, name)
}

async fn drop_like(base: &str, prefix: &str) {
    let mut conn = PgConnection::connect(base).await.expect("connect");
    let names: Vec<(String,)> =
        sqlx::query_as("SELECT datname::text FROM pg_database WHERE starts_with(datname, $1)")
            .bind(prefix)
            .fetch_all(&mut conn)
            .await
            .expect("list databases");
    for (name,) in names {
        conn.execute(AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
        )))
        .await
        .expect("drop");
    }
}

/// How one migration's steps ended in the real check.
#[derive(Debug, Clone, Copy)]
struct Steps {
    up: bool,
    down: Option<bool>,
    reup: Option<bool>,
}

fn steps_of(report: &serde_json::Value, m: &Migration) -> Steps {
    let check = report["migrations"]
        .as_array()
        .expect("migrations in the report")
        .iter()
        .find(|c| c["version"].as_str() == Some(&m.version.to_string()))
        .unwrap_or_else(|| panic!("{} not in the report", m.label()));
    let ok = |step: &str| check[step].get("ok").and_then(serde_json::Value::as_bool);
    Steps {
        up: ok("up").unwrap_or(false),
        down: ok("down"),
        reup: ok("reup"),
    }
}

/// The floor script (see the module documentation) and how many of its steps fail.
fn floor_script(
    migrations: &[&Migration],
    report: &serde_json::Value,
    rebuilt: &[String],
    dir: &Path,
) -> (String, usize) {
    let mut files = Vec::new();
    for (k, m) in migrations.iter().enumerate() {
        let up = dir.join(format!("{k:04}.up.sql"));
        std::fs::write(&up, &m.up.text).expect("write up");
        let down = m.down.as_ref().map(|d| {
            let path = dir.join(format!("{k:04}.down.sql"));
            std::fs::write(&path, &d.text).expect("write down");
            (path, d.transaction.is_wrapped())
        });
        files.push(((up, m.up.transaction.is_wrapped()), down));
    }
    let run = |out: &mut String, (path, wrapped): &(PathBuf, bool)| {
        if *wrapped {
            out.push_str(&format!("BEGIN;\n\\i '{}'\nCOMMIT;\n", path.display()));
        } else {
            out.push_str(&format!("\\i '{}'\n", path.display()));
        }
    };
    let mut out = String::from("\\set ON_ERROR_STOP 0\n");
    let mut failing = 0;
    for (k, m) in migrations.iter().enumerate() {
        let steps = steps_of(report, m);
        let (up, down) = &files[k];
        run(&mut out, up);
        if !steps.up {
            failing += 1;
            break; // the check stops at a failed up
        }
        let Some(down) = down else { continue };
        run(&mut out, down);
        if steps.down == Some(false) {
            failing += 1;
        } else {
            run(&mut out, up);
            failing += usize::from(steps.reup == Some(false));
        }
        if rebuilt.contains(&m.version.to_string()) {
            let name = format!("floor_rebuild_{k}");
            out.push_str(&format!(
                "DROP DATABASE IF EXISTS {name};\nCREATE DATABASE {name};\n\\c {name}\n"
            ));
            for (up, _) in &files[..=k] {
                run(&mut out, up);
            }
        }
    }
    (out, failing)
}

/// Waits before a timed run: both contenders create and delete thousands of relation files,
/// and ext4 makes file creation slow for a few seconds after many deletions (it skips recently
/// freed inodes), so a run right after the other contender's teardown would pay for it.
/// Before a timed run: waits until the folders of earlier checks' sandboxes are gone (a check
/// removes its server's folder in the background after it exits: `upcycle-pg-*` in the temp
/// folder, other than `keep`, the floor's server), flushes the file system, and pauses
/// (`BENCH_PAUSE` seconds, default 6) so that neither contender pays for the other's deletions.
fn settle(keep: Option<&Path>) {
    let temp = std::env::temp_dir();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let leftovers = std::fs::read_dir(&temp)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| {
                        p.file_name()
                            .is_some_and(|n| n.to_string_lossy().starts_with("upcycle-pg-"))
                            && Some(p.as_path()) != keep
                    })
                    .count()
            })
            .unwrap_or(0);
        if leftovers == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = Command::new("sync").status();
    let secs = std::env::var("BENCH_PAUSE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(6);
    std::thread::sleep(Duration::from_secs(secs));
}

/// How many script runs failed in a psql session: psql names the script and line of each
/// error (`psql:/tmp/x/0012.down.sql:3: ERROR: …`), and every later statement of a failed
/// transaction fails too, so count the runs, not the lines: consecutive errors from one file.
fn failed_scripts(stderr: &str) -> usize {
    let mut last: Option<&str> = None;
    let mut count = 0;
    for line in stderr.lines() {
        let Some(rest) = line.strip_prefix("psql:") else {
            continue;
        };
        let file = rest.split(':').next().unwrap_or_default();
        if !line.contains("ERROR:") {
            continue;
        }
        if last != Some(file) {
            count += 1;
        }
        last = Some(file);
    }
    count
}

fn upcycle_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("BENCH_UPCYCLE") {
        return PathBuf::from(bin);
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let release = root.join("target/release/upcycle");
    if release.is_file() {
        return release;
    }
    println!("warning: no target/release/upcycle (cargo build --release); timing the debug build");
    root.join("target/debug/upcycle")
}

fn check_args(layout: &str, dir: &Path) -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = Vec::new();
    if layout != "auto" {
        args.extend(["--layout".into(), layout.into()]);
    }
    args.extend(["--dir".into(), dir.as_os_str().to_owned()]);
    args.extend(["check", "--sandbox", "local", "--format", "json"].map(Into::into));
    if let Ok(jobs) = std::env::var("BENCH_JOBS") {
        args.extend(["--jobs".into(), jobs.into()]);
    }
    args
}

/// Exit 0 (clean) or 1 (findings) are both a finished check.
fn finished(out: &Output) -> bool {
    matches!(out.status.code(), Some(0 | 1))
}

fn bench_check(
    rt: &tokio::runtime::Runtime,
    server: &LocalServer,
    psql: &Path,
    upcycle: &Path,
    corpus: &Path,
    layout: &str,
    runs: usize,
) {
    let files = upcycle::source::read_dir(corpus).expect("read corpus");
    let reading = upcycle::migration::read_dirs(&[files], Layout::from_id(layout))
        .expect("reading the corpus");
    let migrations: Vec<&Migration> = reading.set.iter().collect();

    // One check first: which steps fail (the floor emulates them), and where the time goes.
    let out = Command::new(upcycle)
        .arg("-v")
        .args(check_args(layout, corpus))
        .output()
        .expect("upcycle check");
    assert!(
        finished(&out),
        "upcycle check failed: {}",
        text(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    let breakdown = text(&out.stderr)
        .lines()
        .filter(|l| {
            l.starts_with("time") || l.starts_with("sandbox:") || l.contains("jobs in parallel")
        })
        .collect::<Vec<_>>()
        .join("\n  ");

    let scripts = tempfile::tempdir().expect("temp dir");
    // Where the check replaced its database (`-v`: "fresh database with the migrations up to
    // VERSION (why)"), the floor does too.
    let rebuilt: Vec<String> = text(&out.stderr)
        .lines()
        .filter_map(|l| l.strip_prefix("fresh database with the migrations up to "))
        .filter_map(|rest| rest.split_whitespace().next().map(str::to_string))
        .collect();
    let (script, failing) = floor_script(&migrations, &report, &rebuilt, scripts.path());
    let floor_file = scripts.path().join("floor.sql");
    std::fs::write(&floor_file, script).expect("write floor script");

    let name = corpus
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    println!(
        "\n== {name} ({} migrations, layout {layout}), PostgreSQL {}, {runs} runs each",
        migrations.len(),
        server.version
    );
    println!("  one check before the runs:\n  {breakdown}");

    let (mut checks, mut floors) = (Vec::new(), Vec::new());
    let mut floor_errors = 0;
    for i in 0..runs {
        let url = rt.block_on(fresh(&server.url, &format!("bench_floor_{i}")));
        settle(server.dir());
        let start = Instant::now();
        let out = Command::new(psql)
            .args(["-X", "-q", "-d", &url, "-f"])
            .arg(&floor_file)
            .output()
            .expect("psql");
        floors.push(start.elapsed());
        assert!(out.status.success(), "psql floor: {}", text(&out.stderr));
        floor_errors = failed_scripts(&text(&out.stderr));
        rt.block_on(drop_like(&server.url, "floor_rebuild_"));
        rt.block_on(drop_like(&server.url, &format!("bench_floor_{i}")));

        settle(server.dir());
        let start = Instant::now();
        let out = Command::new(upcycle)
            .arg("-q")
            .args(check_args(layout, corpus))
            .output()
            .expect("upcycle check");
        checks.push(start.elapsed());
        assert!(
            finished(&out),
            "upcycle check failed: {}",
            text(&out.stderr)
        );
        println!(
            "  run {}: check {:>8.1} ms, floor {:>8.1} ms",
            i + 1,
            ms(checks[i]),
            ms(floors[i])
        );
    }
    let (check, floor) = (median(checks), median(floors));
    println!("  failing steps: {failing} in the check, {floor_errors} in the floor");
    println!("  upcycle check median {:>8.1} ms", ms(check));
    println!("  psql floor    median {:>8.1} ms", ms(floor));
    println!(
        "  ratio {:.2}x (target: within 1.5x)",
        check.as_secs_f64() / floor.as_secs_f64()
    );
}

/// `ready_ms` of `upcycle sandbox-probe`, and the probe's whole run.
fn probe(upcycle: &Path, args: &[&str]) -> (Duration, Duration) {
    let start = Instant::now();
    let out = Command::new(upcycle)
        .arg("sandbox-probe")
        .args(args)
        .output()
        .expect("upcycle sandbox-probe");
    let total = start.elapsed();
    assert!(out.status.success(), "sandbox-probe: {}", text(&out.stderr));
    let ready = text(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("ready_ms: "))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .expect("ready_ms line");
    (Duration::from_millis(ready), total)
}

/// `docker run -d` of `image`, then `psql select 1` every 50 ms until it answers.
fn docker_cli(psql: &Path, image: &str) -> Duration {
    let start = Instant::now();
    let out = Command::new("docker")
        .args([
            "run",
            "-d",
            "-p",
            "127.0.0.1::5432",
            "-e",
            "POSTGRES_PASSWORD=pw",
            "-e",
            "POSTGRES_DB=upcycle",
            "--label",
            "dev.upcycle.sandbox=bench",
            image,
            "-c",
            "fsync=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "synchronous_commit=off",
        ])
        .output()
        .expect("docker run");
    assert!(out.status.success(), "docker run: {}", text(&out.stderr));
    let id = text(&out.stdout).trim().to_string();
    let port_out = Command::new("docker")
        .args(["port", &id, "5432/tcp"])
        .output()
        .expect("docker port");
    let port = text(&port_out.stdout)
        .lines()
        .next()
        .and_then(|l| l.rsplit(':').next())
        .map(str::to_string)
        .expect("mapped port");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ok = Command::new(psql)
            .args([
                "-qtA",
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "postgres",
                "-d",
                "upcycle",
            ])
            .args(["-c", "select 1"])
            .env("PGPASSWORD", "pw")
            .env("PGCONNECT_TIMEOUT", "2")
            .output()
            .is_ok_and(|o| o.status.success());
        if ok || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let elapsed = start.elapsed();
    let _ = Command::new("docker")
        .args(["rm", "-f", "-v", &id])
        .output();
    elapsed
}

fn bench_sandboxes(upcycle: &Path, psql: &Path, runs: usize) {
    let image = std::env::var("BENCH_IMAGE").unwrap_or_else(|_| "upcycle-local/postgres:15".into());
    let docker = Command::new("docker")
        .args(["image", "inspect", &image])
        .output()
        .is_ok_and(|o| o.status.success());
    println!("\n== sandbox start (start to first connection), {runs} runs each");
    let (mut local, mut local_total) = (Vec::new(), Vec::new());
    let (mut dock, mut dock_total, mut cli) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let (ready, total) = probe(upcycle, &["--sandbox", "local"]);
        local.push(ready);
        local_total.push(total);
        if docker {
            let (ready, total) =
                probe(upcycle, &["--sandbox", "docker", "--sandbox-image", &image]);
            dock.push(ready);
            dock_total.push(total);
            cli.push(docker_cli(psql, &image));
        }
    }
    let local = median(local);
    println!(
        "  local  (upcycle sandbox-probe)   ready {:>7.1} ms (whole probe, removal included: {:.1} ms)",
        ms(local),
        ms(median(local_total))
    );
    if !docker {
        println!("  docker: no daemon or no image {image}; skipped");
        return;
    }
    let (dock, cli) = (median(dock), median(cli));
    println!(
        "  docker (upcycle sandbox-probe)   ready {:>7.1} ms (whole probe, removal included: {:.1} ms)",
        ms(dock),
        ms(median(dock_total))
    );
    println!("  docker run + first psql select 1 {:>7.1} ms", ms(cli));
    println!(
        "  ratios to docker run + psql: docker {:.2}x, local {:.2}x",
        dock.as_secs_f64() / cli.as_secs_f64(),
        local.as_secs_f64() / cli.as_secs_f64()
    );
}

fn main() {
    let Some(corpora) = std::env::var_os("UPCYCLE_CORPORA") else {
        println!("skipping: UPCYCLE_CORPORA is not set");
        return;
    };
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let sets = std::env::var("BENCH_CHECK")
        .unwrap_or_else(|_| "openmeter:golang-migrate,crates-io:diesel".into());
    let upcycle = upcycle_bin();
    let options = LocalOptions {
        bin: None,
        path_var: std::env::var("PATH").ok(),
        ..LocalOptions::default()
    };
    let bin = upcycle::sandbox::local::find_bin(&options).expect("PostgreSQL server binaries");
    let psql = if bin.join("psql").is_file() {
        bin.join("psql")
    } else {
        PathBuf::from("psql")
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let server = rt
        .block_on(LocalServer::start(&options))
        .expect("local server");
    println!("upcycle binary {}", upcycle.display());
    for set in sets.split(',').filter(|s| !s.is_empty()) {
        let (name, layout) = set.split_once(':').unwrap_or((set, "auto"));
        let dir = PathBuf::from(&corpora).join(name);
        if !dir.is_dir() {
            println!("\n== {name}: not in {}; skipped", dir.display());
            continue;
        }
        bench_check(&rt, &server, &psql, &upcycle, &dir, layout, runs);
    }
    drop(server);
    if std::env::var("BENCH_SANDBOX").as_deref() != Ok("0") {
        bench_sandboxes(&upcycle, &psql, runs);
    }
}
