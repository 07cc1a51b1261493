//! The `local` sandbox: a private PostgreSQL from the server binaries (`--pg-bin`, `PATH`, or
//! `/usr/lib/postgresql/*/bin`), in a temp folder, on a free loopback port, with the socket in
//! that folder. As root (a container action), the server runs as the `postgres` user (or
//! `nobody`), since initdb and postgres refuse root. Drop stops it and removes the folder; a
//! reaper process does the same if upcycle dies without running Drop (SIGKILL included).
//! `stop_detached`, for a command that is ending, stops it with an immediate shutdown (nothing
//! in it is kept, so no checkpoint) and leaves the removal of its thousands of files to a
//! background process.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// Where to find the server binaries and how to tune the throwaway server.
#[derive(Debug, Clone, Default)]
pub struct LocalOptions {
    /// Folder holding `initdb` and `postgres`; searched for when absent.
    pub bin: Option<PathBuf>,
    /// `PATH` to search, as given by the environment edge.
    pub path_var: Option<String>,
    /// Extra server settings (`-c name=value`), e.g. `ssl=on` for the TLS tests.
    pub settings: Vec<(String, String)>,
    /// Where to keep an initdb result (without `template0`) to copy from (`None`: run initdb
    /// every time).
    pub template_cache: Option<PathBuf>,
}

/// A running throwaway server.
pub struct LocalServer {
    child: Child,
    dir: Option<tempfile::TempDir>,
    port: u16,
    /// `postgres://postgres@localhost:<port>/postgres?host=<folder>` through the socket in the
    /// server's folder, or `postgres://postgres@127.0.0.1:<port>/postgres` when that path is too
    /// long for a socket (trust authentication either way).
    pub url: String,
    pub version: String,
    /// Whether the data directory was copied from the cached template (else initdb ran).
    pub from_template: bool,
}

/// The URL of the server on `port` whose socket is in `dir`: through the socket (cheaper per
/// round trip than loopback TCP, and a check makes thousands) when its path fits the kernel's
/// limit (107 bytes), else through loopback TCP.
fn server_url(dir: &Path, port: u16) -> String {
    let path = dir.to_string_lossy();
    if path.len() + format!("/.s.PGSQL.{port}").len() > 107 {
        return format!("postgres://postgres@127.0.0.1:{port}/postgres");
    }
    let host = crate::report::escape::url_part(&path);
    format!("postgres://postgres@localhost:{port}/postgres?host={host}")
}

/// The folder with `initdb`, `pg_ctl` and `postgres`.
pub fn find_bin(options: &LocalOptions) -> anyhow::Result<PathBuf> {
    if let Some(bin) = &options.bin {
        if bin.join("initdb").is_file() {
            return Ok(bin.clone());
        }
        bail!(
            "--pg-bin {}: no initdb there; point it at the folder with initdb and postgres (e.g. /usr/lib/postgresql/17/bin)",
            bin.display()
        );
    }
    let on_path = options
        .path_var
        .iter()
        .flat_map(|p| std::env::split_paths(p).collect::<Vec<_>>())
        .find(|d| d.join("initdb").is_file() && d.join("postgres").is_file());
    if let Some(dir) = on_path {
        return Ok(std::fs::canonicalize(dir.join("postgres"))
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .unwrap_or(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, p): &(u32, PathBuf)| p.join("initdb").is_file())
        .collect();
    versions.sort();
    versions.pop().map(|(_, p)| p).context("no PostgreSQL server binaries found (initdb, postgres): install postgresql (Debian: apt-get install postgresql-17), or pass --pg-bin")
}

/// `(uid, gid)` to run the server as, when we are root.
fn unprivileged() -> Option<(u32, u32)> {
    use std::os::unix::fs::MetadataExt;
    if std::fs::metadata("/proc/self").ok()?.uid() != 0 {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let find = |name: &str| {
        passwd.lines().find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() > 3 && f[0] == name)
                .then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?)))
                .flatten()
        })
    };
    Some(
        find("postgres")
            .or_else(|| find("nobody"))
            .unwrap_or((65534, 65534)),
    )
}

fn command(program: PathBuf, user: Option<(u32, u32)>) -> Command {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(program);
    if let Some((uid, gid)) = user {
        cmd.uid(uid).gid(gid);
    }
    cmd
}

fn free_port() -> anyhow::Result<u16> {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port on 127.0.0.1")?;
    Ok(listener.local_addr()?.port())
}

/// The flags every data directory is made with (and the template's key depends on).
const INITDB_ARGS: [&str; 8] = [
    "-A",
    "trust",
    "-U",
    "postgres",
    "-E",
    "UTF8",
    "--locale=C",
    "--no-sync",
];

fn initdb(bin: &Path, user: Option<(u32, u32)>, data: &Path) -> anyhow::Result<()> {
    let out = command(bin.join("initdb"), user)
        .args(INITDB_ARGS)
        .arg("-D")
        .arg(data)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {}", bin.join("initdb").display()))?;
    if !out.status.success() {
        bail!(
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Makes the data directory `data`: a copy (`cp -a`, owner and modes kept) of the cached
/// template when there is one, several times faster than initdb; else initdb. Returns the
/// template it copied, or the one to make from this data directory once the server runs on it
/// (`LocalServer::keep_as_template`: made by whoever runs upcycle, so a root user's cache, which
/// the server's own user cannot enter, works too). Any trouble with the cache falls back to
/// initdb.
fn init_data(
    bin: &Path,
    user: Option<(u32, u32)>,
    data: &Path,
    cache: Option<&Path>,
) -> anyhow::Result<Template> {
    let template = cache.and_then(|c| template_path(bin, user, c).ok());
    if let Some(template) = template.as_ref().filter(|t| t.join("PG_VERSION").is_file()) {
        if copy_dir(template, data) && data.join("PG_VERSION").is_file() {
            return Ok(Template::Copied(template.clone()));
        }
        let _ = std::fs::remove_dir_all(data);
    }
    initdb(bin, user, data)?;
    Ok(template.map_or(Template::None, Template::ToMake))
}

/// Where a data directory came from, as far as the template cache goes.
enum Template {
    /// Copied from this template.
    Copied(PathBuf),
    /// Made by initdb; this template is to be made from it.
    ToMake(PathBuf),
    /// Made by initdb, with no cache.
    None,
}

/// `cp -a from to`: whether it worked.
fn copy_dir(from: &Path, to: &Path) -> bool {
    Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Where the template for these binaries and this user lives in `cache`.
fn template_path(bin: &Path, user: Option<(u32, u32)>, cache: &Path) -> anyhow::Result<PathBuf> {
    use sha2::Digest;
    let initdb_meta = std::fs::metadata(bin.join("initdb"))?;
    let mut key = sha2::Sha256::new();
    key.update(bin.as_os_str().as_encoded_bytes());
    key.update(initdb_meta.len().to_le_bytes());
    let modified = initdb_meta
        .modified()?
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    key.update(modified.as_nanos().to_le_bytes());
    // Templates without template0 (`keep_as_template`); older ones are left unused.
    key.update(format!("{user:?} {INITDB_ARGS:?} without template0").as_bytes());
    let key: String = key.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(cache.join(format!("initdb-{key}")))
}

/// Copies a data directory whose server stopped cleanly to `template`: into a scratch folder
/// beside it, then a rename, so a template that exists is complete and two runs racing end
/// with one. Best effort: the check goes on without a cache.
fn keep_template(data: &Path, template: &Path) {
    let Some(cache) = template.parent() else {
        return;
    };
    if std::fs::create_dir_all(cache).is_err() {
        return;
    }
    let Ok(scratch) = tempfile::Builder::new()
        .prefix(".initdb-")
        .tempdir_in(cache)
    else {
        return;
    };
    let copy = scratch.path().join("data");
    if copy_dir(data, &copy) {
        let _ = std::fs::rename(&copy, template);
    }
}

impl LocalServer {
    /// Starts a server and waits until a connection succeeds.
    pub async fn start(options: &LocalOptions) -> anyhow::Result<LocalServer> {
        let bin = find_bin(options)?;
        let user = unprivileged();
        let mut dir = tempfile::Builder::new()
            .prefix("upcycle-pg-")
            .tempdir()
            .context("creating a temp folder for the local server")?;
        if let Some((uid, gid)) = user {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))
                .with_context(|| format!("handing {} to uid {uid}", dir.path().display()))?;
        }
        let data = dir.path().join("data");
        let mut template = init_data(&bin, user, &data, options.template_cache.as_deref())?;
        let mut version = std::fs::read_to_string(data.join("PG_VERSION"))
            .unwrap_or_default()
            .trim()
            .to_string();
        let mut last_error = None;
        // Three attempts, and one more start when the template is made on the first.
        for _ in 0..4 {
            let port = free_port()?;
            let log = std::fs::File::create(dir.path().join("server.log"))
                .context("creating the server log")?;
            let child = command(bin.join("postgres"), user)
                .arg("-D")
                .arg(&data)
                .args([
                    "-p",
                    &port.to_string(),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                    "-c",
                    "max_connections=200",
                ])
                .args(
                    options
                        .settings
                        .iter()
                        .flat_map(|(k, v)| ["-c".to_string(), format!("{k}={v}")]),
                )
                .arg("-k")
                .arg(dir.path())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .with_context(|| format!("starting {}", bin.join("postgres").display()))?;
            reap_when_gone(child.id(), dir.path());
            let url = server_url(dir.path(), port);
            let mut server = LocalServer {
                child,
                dir: Some(dir),
                port,
                url,
                version,
                from_template: matches!(template, Template::Copied(_)),
            };
            match server.wait_ready(Duration::from_secs(30)).await {
                Ok(()) => {
                    let Template::ToMake(path) = std::mem::replace(&mut template, Template::None)
                    else {
                        return Ok(server);
                    };
                    // The first start on an initdb result: trim it, stop, keep it as the
                    // template, and start again (on another free port).
                    server.keep_as_template(&path).await;
                    dir = server.dir.take().context("server folder already removed")?;
                    version = std::mem::take(&mut server.version);
                }
                Err(e) => {
                    last_error = Some(e);
                    server.kill_child("-QUIT");
                    dir = server.dir.take().context("server folder already removed")?;
                    version = std::mem::take(&mut server.version);
                    // A server that would not start on a copied template: the template is
                    // suspect, so drop it (the next run makes a new one) and run initdb.
                    if let Template::Copied(bad) = std::mem::replace(&mut template, Template::None)
                    {
                        let _ = std::fs::remove_dir_all(&bad);
                        std::fs::remove_dir_all(&data).with_context(|| {
                            format!("removing {} to run initdb again", data.display())
                        })?;
                        initdb(&bin, user, &data)?;
                    }
                }
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow::anyhow!("the local server did not start")))
    }

    async fn wait_ready(&mut self, limit: Duration) -> anyhow::Result<()> {
        use sqlx::Connection;
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                let log = self
                    .dir
                    .as_ref()
                    .map(|d| {
                        std::fs::read_to_string(d.path().join("server.log")).unwrap_or_default()
                    })
                    .unwrap_or_default();
                bail!(
                    "the local server exited ({status}) before accepting connections: {}",
                    log.lines().rev().take(5).collect::<Vec<_>>().join(" | ")
                );
            }
            match sqlx::PgConnection::connect(&self.url).await {
                Ok(conn) => {
                    let _ = conn.close().await;
                    return Ok(());
                }
                Err(e) if start.elapsed() > limit => bail!(
                    "the local server did not accept connections within {}s: {e}",
                    limit.as_secs()
                ),
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's temp folder (data directory, socket, log), while it runs.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_ref().map(|d| d.path())
    }

    /// Stops the server (fast shutdown: clients are told "terminating connection due to
    /// administrator command"; then kill) and removes its folder.
    pub fn stop(&mut self) {
        self.kill_child("-INT");
        if let Some(dir) = self.dir.take() {
            let _ = dir.close();
        }
    }

    /// Stops the server at once (immediate shutdown: the data is thrown away, so a fast
    /// shutdown's checkpoint would only write files that are deleted next), and hands its
    /// folder to a detached `rm -rf`: the caller returns at once instead of waiting for
    /// thousands of relation files to be unlinked. Where the removal cannot be started, the
    /// folder is removed here. For a caller that is done with every connection.
    pub fn stop_detached(&mut self) {
        use std::os::unix::process::CommandExt;
        self.kill_child("-QUIT");
        let Some(dir) = self.dir.take() else { return };
        let path = dir.keep();
        let spawned = Command::new("rm")
            .arg("-rf")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn();
        if spawned.is_err() {
            let _ = std::fs::remove_dir_all(&path);
        }
    }

    /// Makes the template from this server's data directory, fresh from initdb: drops
    /// `template0` (a check never copies it, and a third of the files a start copies are its),
    /// stops the server cleanly (fast shutdown), and copies the folder into the cache. Best
    /// effort: a failure leaves no template, and the next start runs initdb again.
    async fn keep_as_template(&mut self, template: &Path) {
        use sqlx::{Connection, Executor};
        if let Ok(mut conn) = sqlx::PgConnection::connect(&self.url).await {
            // Two statements: DROP DATABASE refuses to run in a multi-statement string.
            if conn
                .execute("ALTER DATABASE template0 IS_TEMPLATE false")
                .await
                .is_ok()
            {
                let _ = conn.execute("DROP DATABASE template0").await;
            }
            let _ = conn.close().await;
        }
        self.kill_child("-INT");
        let clean = self
            .child
            .try_wait()
            .ok()
            .flatten()
            .is_some_and(|s| s.success());
        if let Some(dir) = self.dir.as_ref().filter(|_| clean) {
            keep_template(&dir.path().join("data"), template);
        }
    }

    /// Signals the server (`-INT` fast shutdown, `-QUIT` immediate), then kills it after 5 s.
    fn kill_child(&mut self, signal: &str) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = Command::new("kill")
                .args([signal, &self.child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline && self.child.try_wait().ok().flatten().is_none() {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A detached shell that waits for this process to end, then stops the server and removes its
/// folder: the guard for the paths where Drop never runs (SIGKILL, `process::exit`, statics).
fn reap_when_gone(server_pid: u32, dir: &Path) {
    use std::os::unix::process::CommandExt;
    let script = format!(
        "while kill -0 {me} 2>/dev/null; do sleep 1; done; kill -QUIT {server_pid} 2>/dev/null; sleep 2; kill -9 {server_pid} 2>/dev/null; rm -rf '{dir}'",
        me = std::process::id(),
        dir = dir.display()
    );
    let _ = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_goes_through_the_socket_when_its_path_fits() {
        assert_eq!(
            server_url(Path::new("/tmp/upcycle-pg-ab12"), 5433),
            "postgres://postgres@localhost:5433/postgres?host=/tmp/upcycle-pg-ab12"
        );
        // Characters a URL reserves are escaped.
        assert_eq!(
            server_url(Path::new("/tmp/a b&c"), 5433),
            "postgres://postgres@localhost:5433/postgres?host=/tmp/a%20b%26c"
        );
        // A socket path longer than the kernel's limit: loopback TCP.
        let long = format!("/tmp/{}", "d".repeat(100));
        assert_eq!(
            server_url(Path::new(&long), 5433),
            "postgres://postgres@127.0.0.1:5433/postgres"
        );
    }
}
