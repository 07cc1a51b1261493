//! Throwaway PostgreSQL for `upcycle check`: a server from one of the providers in
//! [`PROVIDERS`], and a fresh database on it per use ([`Sandbox::database`]).
//!
//! - `docker`: a container from an image already present locally (never pulled), one per run,
//!   labelled so that leftovers of killed runs are swept at the next start ([`docker`]).
//! - `local`: initdb + postgres from the server binaries in a temp folder ([`local`]).
//! - `url`: an existing server the caller names; only throwaway databases are created there.
//! - `auto`: docker when a daemon answers and the image is present, else local.
//!
//! Cleanup is by guards on every path: a [`ThrowawayDb`] drops its database when it goes out of
//! scope, and the [`Sandbox`] removes its container or server folder on Drop.

pub mod docker;
pub mod local;
pub mod url;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use sqlx::{AssertSqlSafe, Executor};

use crate::postgres::ConnectSettings;
use crate::postgres::url::{mask, scrub};

pub use docker::{DockerOptions, DockerServer};
pub use local::{LocalOptions, LocalServer};

/// Where the throwaway server comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Docker,
    Local,
    Url,
    Auto,
}

/// One provider as users see it: its `--sandbox` value and what it does.
#[derive(Debug, Clone, Copy)]
pub struct ProviderInfo {
    pub provider: Provider,
    pub id: &'static str,
    pub description: &'static str,
}

/// The providers: the one source of the `--sandbox` values and of docs/sandbox.md.
pub const PROVIDERS: &[ProviderInfo] = &[
    ProviderInfo {
        provider: Provider::Auto,
        id: "auto",
        description: "docker when a Docker daemon answers and the image is present locally, else local when the server binaries are found, else an error that says how to get either",
    },
    ProviderInfo {
        provider: Provider::Docker,
        id: "docker",
        description: "one container of `--sandbox-image` (never pulled: it must be present locally) with fsync off, a database per check inside it; removed at exit, and containers left by killed runs are removed after 30 minutes. Inside a container with the Docker socket mounted (a container action), the sandbox joins upcycle's own network",
    },
    ProviderInfo {
        provider: Provider::Local,
        id: "local",
        description: "a private server from the PostgreSQL server binaries (`--pg-bin`, `PATH`, or /usr/lib/postgresql/*/bin) in a temp folder on a free loopback port, reached through its Unix socket in that folder (cheaper per round trip than TCP, and a check makes thousands; TCP when the folder's path is too long for a socket); the check uses the server's own `postgres` database (as empty as a new one, and nothing else uses the server), and a new database when it must start again after a failure; the folder is removed at exit, by a reaper process if upcycle is killed",
    },
    ProviderInfo {
        provider: Provider::Url,
        id: "url",
        description: "an existing server (`--sandbox-url`, a role with CREATEDB): upcycle creates a database named `upcycle_check_<pid>_<n>_<random>` per check and drops it afterwards (`WITH (FORCE)` on PostgreSQL 13+). A superuser lets the check follow a change log of event triggers in that database; any other role is checked by probing the catalogs, which reads more per snapshot",
    },
];

impl Provider {
    pub fn info(self) -> &'static ProviderInfo {
        PROVIDERS
            .iter()
            .find(|p| p.provider == self)
            .unwrap_or(&PROVIDERS[0])
    }

    pub fn id(self) -> &'static str {
        self.info().id
    }

    pub fn from_id(id: &str) -> Option<Provider> {
        PROVIDERS.iter().find(|p| p.id == id).map(|p| p.provider)
    }
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

/// The image `docker` uses unless told otherwise.
pub const DEFAULT_IMAGE: &str = "postgres:17";

/// Everything a provider needs, validated by an entry edge (no environment is read below it).
#[derive(Debug, Clone)]
pub struct SandboxSettings {
    pub provider: Provider,
    /// Image for `docker` (`name:tag`), present locally.
    pub image: String,
    /// Folder of the server binaries for `local`.
    pub pg_bin: Option<PathBuf>,
    /// The server for `url`.
    pub url: Option<String>,
    /// Host to reach the container at (`UPCYCLE_DOCKER_HOST`), instead of the detected one.
    pub docker_host_override: Option<String>,
    /// `PATH`, for `local` to search the server binaries in.
    pub path_var: Option<String>,
    /// upcycle's cache folder, where `local` keeps an initdb result to copy from.
    pub cache_dir: Option<PathBuf>,
}

impl Default for SandboxSettings {
    fn default() -> Self {
        SandboxSettings {
            provider: Provider::Auto,
            image: DEFAULT_IMAGE.into(),
            pg_bin: None,
            url: None,
            docker_host_override: None,
            path_var: None,
            cache_dir: None,
        }
    }
}

impl SandboxSettings {
    fn local_options(&self) -> LocalOptions {
        LocalOptions {
            bin: self.pg_bin.clone(),
            path_var: self.path_var.clone(),
            template_cache: self.cache_dir.as_ref().map(|c| c.join("initdb")),
            ..LocalOptions::default()
        }
    }

    fn docker_options(&self) -> DockerOptions {
        DockerOptions {
            image: self.image.clone(),
            host_override: self.docker_host_override.clone(),
            ..DockerOptions::default()
        }
    }
}

/// How long `auto` waits for the Docker daemon to answer a ping.
const DOCKER_PING_TIMEOUT: Duration = Duration::from_secs(3);

/// The provider `auto` stands for here, or why none works. Other providers map to themselves.
pub async fn resolve(settings: &SandboxSettings) -> anyhow::Result<Provider> {
    if settings.provider != Provider::Auto {
        return Ok(settings.provider);
    }
    let docker_problem =
        match docker::available(&settings.docker_options(), DOCKER_PING_TIMEOUT).await {
            Ok(()) => return Ok(Provider::Docker),
            Err(e) => e,
        };
    let Err(local_problem) = local::find_bin(&settings.local_options()) else {
        return Ok(Provider::Local);
    };
    bail!(
        "--sandbox auto: no throwaway PostgreSQL available.\n  docker: {docker_problem:#}\n  local: {local_problem:#}\nFix either: start Docker and make the image present (`docker pull {image}`, or pass --sandbox-image), or install the PostgreSQL server binaries (Debian: apt-get install postgresql-17) or point --pg-bin at them. An existing server works too: --sandbox url --sandbox-url URL.",
        image = settings.image
    )
}

/// The server behind a sandbox.
enum Server {
    Docker(Box<DockerServer>),
    Local(LocalServer),
    /// An existing server: nothing to stop.
    Url,
}

/// A throwaway PostgreSQL server. Drop removes it (container, or server and folder); for `url`
/// there is nothing to remove beyond the databases, which their own guards drop.
pub struct Sandbox {
    server: Server,
    provider: Provider,
    /// A superuser (or CREATEDB) connection URL to the server's maintenance database.
    admin_url: String,
    /// `server_version_num`, e.g. 150004.
    version_num: u32,
    counter: AtomicU32,
    started: Duration,
    /// A database being created ahead for the next `database` call (`make_spare`).
    spare: std::sync::Mutex<Option<tokio::task::JoinHandle<anyhow::Result<String>>>>,
}

impl Sandbox {
    /// Starts (or, for `url`, checks) the server of `settings.provider`, resolving `auto`, and
    /// waits until it accepts a connection.
    pub async fn start(settings: &SandboxSettings) -> anyhow::Result<Sandbox> {
        let t0 = std::time::Instant::now();
        let provider = resolve(settings).await?;
        let (server, admin_url) = match provider {
            Provider::Docker => {
                let server = DockerServer::start(&settings.docker_options()).await?;
                let url = server.url.clone();
                (Server::Docker(Box::new(server)), url)
            }
            Provider::Local => {
                let server = LocalServer::start(&settings.local_options()).await?;
                let url = server.url.clone();
                (Server::Local(server), url)
            }
            Provider::Url => {
                let url = settings
                    .url
                    .clone()
                    .context("--sandbox url needs --sandbox-url URL (an existing server where upcycle may create databases)")?;
                url::check(&url).await?;
                (Server::Url, url)
            }
            Provider::Auto => unreachable!("resolve() never returns Auto"),
        };
        let mut sandbox = Sandbox {
            server,
            provider,
            admin_url,
            version_num: 0,
            counter: AtomicU32::new(0),
            spare: std::sync::Mutex::new(None),
            started: Duration::ZERO,
        };
        sandbox.version_num = sandbox.query_version().await?;
        sandbox.started = t0.elapsed();
        Ok(sandbox)
    }

    async fn query_version(&self) -> anyhow::Result<u32> {
        let mut conn = admin_connect(&self.admin_url).await?;
        let version: String = sqlx::query_scalar("SELECT current_setting('server_version_num')")
            .fetch_one(&mut conn)
            .await
            .map_err(|e| anyhow::anyhow!("{}", scrub(&e.to_string(), &self.admin_url)))
            .with_context(|| format!("reading the version of {}", mask(&self.admin_url)))?;
        crate::postgres::connect::close(conn).await;
        version
            .parse()
            .with_context(|| format!("server_version_num {version:?} is not a number"))
    }

    /// The provider that runs (never `Auto`).
    pub fn provider(&self) -> Provider {
        self.provider
    }

    /// The server's maintenance database URL (it holds a password for `docker`: show it with
    /// [`mask`] only).
    pub fn server_url(&self) -> &str {
        &self.admin_url
    }

    /// `server_version_num` (e.g. 150004).
    pub fn version_num(&self) -> u32 {
        self.version_num
    }

    /// From the start call to the first successful connection.
    pub fn startup_time(&self) -> Duration {
        self.started
    }

    /// The Docker container, for the `docker` provider.
    pub fn docker(&self) -> Option<&DockerServer> {
        match &self.server {
            Server::Docker(d) => Some(d),
            _ => None,
        }
    }

    /// The local server, for the `local` provider.
    pub fn local(&self) -> Option<&LocalServer> {
        match &self.server {
            Server::Local(l) => Some(l),
            _ => None,
        }
    }

    /// One line for people: provider, where, version; no password.
    pub fn describe(&self) -> String {
        let major = self.version_num / 10000;
        match &self.server {
            Server::Docker(d) => format!(
                "docker container {} ({}, PostgreSQL {major}) at {} via {}",
                d.short_id(),
                d.image,
                mask(&self.admin_url),
                d.reach
            ),
            Server::Local(l) => format!("local server (PostgreSQL {major}) at {}", mask(&l.url)),
            Server::Url => format!(
                "existing server (PostgreSQL {major}) at {}",
                mask(&self.admin_url)
            ),
        }
    }

    /// A new empty database for one use; its guard drops it. The first one of a local server
    /// is its own `postgres` database: initdb made it as a copy of `template1`, as empty as a
    /// new one, and nothing else uses the private server, so creating another (some 300 files)
    /// would only cost time. It is left to go with the server.
    pub async fn database(&self) -> anyhow::Result<ThrowawayDb<'_>> {
        let n = self.counter.fetch_add(1, Ordering::SeqCst);
        if n == 0
            && let Server::Local(local) = &self.server
        {
            return Ok(ThrowawayDb {
                url: local.url.clone(),
                name: "postgres".into(),
                admin_url: self.admin_url.clone(),
                force: self.version_num >= 130000,
                // Nothing to drop: it goes with the server.
                dropped: true,
                _sandbox: std::marker::PhantomData,
            });
        }
        let spare = self.spare.lock().ok().and_then(|mut s| s.take());
        if let Some(spare) = spare {
            match spare.await {
                Ok(Ok(name)) => return Ok(self.throwaway(name)),
                Ok(Err(e)) => log::debug!("the spare database failed ({e:#}); creating one now"),
                Err(e) => log::debug!("the spare database's task failed ({e}); creating one now"),
            }
        }
        let name = database_name(n);
        create_database(&self.admin_url, &name).await?;
        Ok(self.throwaway(name))
    }

    /// Starts creating the next database in the background, so that the next `database` call
    /// (a check's rebuild after a failure) need not wait for `CREATE DATABASE`, which copies
    /// some 300 files. Only on a disposable server (local, docker): a spare never used goes
    /// with it, where on a `url` server it would have to be dropped. At most one at a time.
    pub fn make_spare(&self) {
        if !self.disposable() {
            return;
        }
        let Ok(mut spare) = self.spare.lock() else {
            return;
        };
        if spare.is_some() {
            return;
        }
        let name = database_name(self.counter.fetch_add(1, Ordering::SeqCst));
        let admin_url = self.admin_url.clone();
        *spare = Some(tokio::spawn(async move {
            create_database(&admin_url, &name).await.map(|()| name)
        }));
    }

    /// The guard of a database this sandbox created.
    fn throwaway(&self, name: String) -> ThrowawayDb<'_> {
        ThrowawayDb {
            url: with_database(&self.admin_url, &name),
            name,
            admin_url: self.admin_url.clone(),
            force: self.version_num >= 130000,
            dropped: false,
            _sandbox: std::marker::PhantomData,
        }
    }

    /// Removes the server now and reports a failure (Drop does the same, silently).
    pub async fn close(mut self) -> anyhow::Result<()> {
        match &mut self.server {
            Server::Docker(d) => d.remove().await,
            Server::Local(l) => {
                l.stop();
                Ok(())
            }
            Server::Url => Ok(()),
        }
    }

    /// Like `close`, for a command that is about to end: the local server stops at once and
    /// its folder is removed by a background process, so the command does not wait for it.
    pub async fn dismiss(mut self) -> anyhow::Result<()> {
        match &mut self.server {
            Server::Local(l) => {
                l.stop_detached();
                Ok(())
            }
            _ => self.close().await,
        }
    }

    /// Whether the server goes away with the sandbox (docker, local), so that its databases
    /// need no dropping when the work is done.
    pub fn disposable(&self) -> bool {
        !matches!(self.server, Server::Url)
    }

    /// Done with `db`: on a disposable server it is left to go with the server (dropping it
    /// first would only delete its files twice); on an existing one it is dropped now.
    pub async fn release(&self, db: ThrowawayDb<'_>) -> anyhow::Result<()> {
        if self.disposable() {
            db.abandon();
            Ok(())
        } else {
            db.drop_now().await
        }
    }
}

/// A database that exists while this guard lives: Drop drops it (`WITH (FORCE)` on 13+).
/// It borrows its [`Sandbox`], so it cannot outlive the server.
pub struct ThrowawayDb<'a> {
    url: String,
    name: String,
    admin_url: String,
    force: bool,
    /// Nothing is left to drop: dropped already, or the server's own database (a local
    /// server's `postgres`), which goes with the server.
    dropped: bool,
    _sandbox: std::marker::PhantomData<&'a Sandbox>,
}

impl ThrowawayDb<'_> {
    /// The database's URL (it may hold a password: show it with [`mask`] only).
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Drops the database now and reports a failure (the server's own is left to go with it).
    pub async fn drop_now(mut self) -> anyhow::Result<()> {
        if std::mem::replace(&mut self.dropped, true) {
            return Ok(());
        }
        drop_database(&self.admin_url, &self.name, self.force).await
    }

    /// Leaves the database in place: its server is about to go away with everything in it
    /// ([`Sandbox::disposable`]), and dropping it first would only unlink its files twice.
    pub fn abandon(mut self) {
        self.dropped = true;
    }
}

impl Drop for ThrowawayDb<'_> {
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        let (admin_url, name, force) = (self.admin_url.clone(), self.name.clone(), self.force);
        // Its own thread and runtime: works inside any runtime flavour, and outside one.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            if let Err(e) = rt.block_on(drop_database(&admin_url, &name, force)) {
                log::warn!("could not drop the throwaway database {name}: {e:#}");
            }
        })
        .join();
    }
}

/// A unique name for the `n`th database of this process.
fn database_name(n: u32) -> String {
    format!(
        "upcycle_check_{}_{n}_{}",
        std::process::id(),
        &random_hex()[..8]
    )
}

async fn create_database(admin_url: &str, name: &str) -> anyhow::Result<()> {
    let mut conn = admin_connect(admin_url).await?;
    let created = conn
        .execute(AssertSqlSafe(format!(
            "CREATE DATABASE {}",
            quote_ident(name)
        )))
        .await;
    crate::postgres::connect::close(conn).await;
    created
        .map_err(|e| anyhow::anyhow!("{}", scrub(&e.to_string(), admin_url)))
        .with_context(|| {
            format!(
                "creating the throwaway database {name} on {}",
                mask(admin_url)
            )
        })?;
    Ok(())
}

async fn drop_database(admin_url: &str, name: &str, force: bool) -> anyhow::Result<()> {
    let mut conn = admin_connect(admin_url).await?;
    let result = if force {
        conn.execute(AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            quote_ident(name)
        )))
        .await
        .map(drop)
    } else {
        let terminated = sqlx::query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
        )
        .bind(name)
        .execute(&mut conn)
        .await;
        match terminated {
            Ok(_) => conn
                .execute(AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {}",
                    quote_ident(name)
                )))
                .await
                .map(drop),
            Err(e) => Err(e),
        }
    };
    crate::postgres::connect::close(conn).await;
    result
        .map_err(|e| anyhow::anyhow!("{}", scrub(&e.to_string(), admin_url)))
        .with_context(|| format!("dropping the throwaway database {name}"))
}

/// One connection attempt with the server's admin URL (the server is known to be up).
async fn admin_connect(url: &str) -> anyhow::Result<sqlx::PgConnection> {
    let mut settings = ConnectSettings::new(url);
    settings.attempts = 2;
    settings.application_name = "upcycle-sandbox".into();
    settings.connect().await
}

/// `"name"`, with embedded quotes doubled.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `url` with its database (path) replaced by `name`, keeping the query string.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.find('?') {
        Some(q) => (&url[..q], &url[q..]),
        None => (url, ""),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let root = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    format!("{root}/{name}{query}")
}

/// 32 random hex digits from the standard library's randomly keyed hasher (passwords, names).
pub(crate) fn random_hex() -> String {
    use std::hash::{BuildHasher, Hasher};
    static SALT: AtomicU32 = AtomicU32::new(0);
    let mut out = String::new();
    for _ in 0..2 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(SALT.fetch_add(1, Ordering::Relaxed));
        h.write_u32(std::process::id());
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos(),
        );
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_the_table() {
        for p in PROVIDERS {
            assert_eq!(Provider::from_id(p.id), Some(p.provider));
            assert_eq!(p.provider.id(), p.id);
        }
        assert_eq!(Provider::from_id("podman"), None);
    }

    #[test]
    fn database_is_replaced_and_the_query_kept() {
        assert_eq!(
            with_database("postgres://u:p@h:5432/app?sslmode=require", "x"),
            "postgres://u:p@h:5432/x?sslmode=require"
        );
        assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
        assert_eq!(with_database("postgres://h/", "x"), "postgres://h/x");
        assert_eq!(
            with_database("postgresql://h?user=a&password=b", "x"),
            "postgresql://h/x?user=a&password=b"
        );
    }

    #[test]
    fn random_hex_differs_each_call() {
        let (a, b) = (random_hex(), random_hex());
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }
}
