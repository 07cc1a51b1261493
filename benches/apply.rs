//! Benchmark: `upcycle up` of a corpus against the floor, the same up scripts replayed through
//! one `psql` session on the same server (each wrapped in BEGIN/COMMIT, as upcycle runs them).
//! Not a test: it prints medians and the ratio. Run: `UPCYCLE_CORPORA=../shared/corpora cargo
//! bench --bench apply` (optional: BENCH_CORPUS=openmeter BENCH_LAYOUT=golang-migrate BENCH_RUNS=5).

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};
use upcycle::sandbox::{LocalOptions, LocalServer};

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

async fn fresh(base: &str, name: &str) -> String {
    let mut conn = PgConnection::connect(base).await.expect("connect");
    conn.execute(AssertSqlSafe(format!("DROP DATABASE IF EXISTS \"{name}\"")))
        .await
        .expect("drop");
    conn.execute(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .await
        .expect("create");
    upcycle::sandbox::with_database(base, name)
}

fn main() {
    let Some(corpora) = std::env::var_os("UPCYCLE_CORPORA") else {
        println!("skipping: UPCYCLE_CORPORA is not set");
        return;
    };
    let corpus = std::env::var("BENCH_CORPUS").unwrap_or_else(|_| "openmeter".into());
    let layout = std::env::var("BENCH_LAYOUT").unwrap_or_else(|_| "golang-migrate".into());
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let dir = PathBuf::from(corpora).join(&corpus);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let server = rt
        .block_on(LocalServer::start(&LocalOptions {
            bin: None,
            path_var: std::env::var("PATH").ok(),
            ..Default::default()
        }))
        .expect("local server");
    let bin = upcycle::sandbox::local::find_bin(&LocalOptions {
        bin: None,
        path_var: std::env::var("PATH").ok(),
        ..Default::default()
    })
    .expect("bin");
    let psql = if bin.join("psql").is_file() {
        bin.join("psql")
    } else {
        PathBuf::from("psql")
    };

    // The floor script: every up, in upcycle's order, each in its own transaction unless the
    // migration runs outside one.
    let files = upcycle::source::read_dir(&dir).expect("read corpus");
    let reading =
        upcycle::migration::read_dirs(&[files], upcycle::migration::Layout::from_id(&layout))
            .expect("reading");
    let mut floor = String::from("\\set ON_ERROR_STOP 1\n");
    for m in reading.set.iter() {
        let path = std::fs::canonicalize(&m.up.path).expect("path");
        if m.up.transaction.is_wrapped() {
            floor.push_str(&format!("BEGIN;\n\\i '{}'\nCOMMIT;\n", path.display()));
        } else {
            floor.push_str(&format!("\\i '{}'\n", path.display()));
        }
    }
    let floor_file =
        std::env::temp_dir().join(format!("upcycle-bench-floor-{}.sql", std::process::id()));
    std::fs::write(&floor_file, floor).expect("write floor script");

    let upcycle_bin = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/release/upcycle");
    let upcycle_bin = if upcycle_bin.is_file() {
        upcycle_bin
    } else {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/debug/upcycle")
    };
    println!(
        "corpus {corpus} ({} migrations, layout {layout}), PostgreSQL {}, {runs} runs each, upcycle binary {}",
        reading.set.len(),
        server.version,
        upcycle_bin.display()
    );

    // sqlx-cli reads `<v>_<name>.up.sql` folders too; time it when it is installed.
    let sqlx_cli = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("sqlx"))
            .find(|p| p.is_file())
    });
    let mut sqlxs = Vec::new();
    let (mut ours, mut psqls) = (Vec::new(), Vec::new());
    for i in 0..runs {
        let url = rt.block_on(fresh(&server.url, &format!("bench_psql_{i}")));
        let start = Instant::now();
        let out = Command::new(&psql)
            .args(["-X", "-q", "-d", &url, "-f"])
            .arg(&floor_file)
            .output()
            .expect("psql");
        psqls.push(start.elapsed());
        assert!(
            out.status.success(),
            "psql floor failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );

        let url = rt.block_on(fresh(&server.url, &format!("bench_upcycle_{i}")));
        let start = Instant::now();
        let out = Command::new(&upcycle_bin)
            .args(["-q", "--layout", &layout, "--dir"])
            .arg(&dir)
            .args(["up", "--database-url", &url])
            .output()
            .expect("upcycle");
        ours.push(start.elapsed());
        assert!(
            out.status.success(),
            "upcycle up failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );

        if let Some(sqlx) = &sqlx_cli {
            let url = rt.block_on(fresh(&server.url, &format!("bench_sqlx_{i}")));
            let start = Instant::now();
            let out = Command::new(sqlx)
                .args(["migrate", "run", "--source"])
                .arg(&dir)
                .args(["--database-url", &url])
                .output()
                .expect("sqlx");
            sqlxs.push(start.elapsed());
            assert!(
                out.status.success(),
                "sqlx migrate run failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    let (a, b) = (median(ours), median(psqls));
    println!("upcycle up  median {:>8.1} ms", a.as_secs_f64() * 1000.0);
    println!("psql floor  median {:>8.1} ms", b.as_secs_f64() * 1000.0);
    println!(
        "ratio {:.2}x (target: within 1.2x)",
        a.as_secs_f64() / b.as_secs_f64()
    );
    match sqlxs.is_empty() {
        true => println!(
            "sqlx-cli: not installed (cargo install sqlx-cli --no-default-features --features postgres,rustls)"
        ),
        false => println!(
            "sqlx migrate run median {:>8.1} ms",
            median(sqlxs).as_secs_f64() * 1000.0
        ),
    }
    let _ = std::fs::remove_file(&floor_file);
}
