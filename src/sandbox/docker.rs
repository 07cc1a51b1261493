//! The `docker` sandbox: one PostgreSQL container per run (testcontainers), databases inside it
//! per use.
//!
//! - **Never pulls**: an image that is not present locally is an error naming `docker pull`.
//! - **Ready** means a connection succeeded: the ready line on stderr first, then a connect loop
//!   (docker-proxy accepts TCP before PostgreSQL listens, and the official image prints the line
//!   once for its temporary init server too).
//! - **Labels** `dev.upcycle.sandbox=<run id>` and `dev.upcycle.started=<unix secs>`; every start
//!   first removes labelled containers older than 30 minutes (leftovers of killed runs). Drop
//!   removes the container; the `watchdog` feature removes it on SIGTERM/SIGINT/SIGQUIT.
//! - **Reach**: from the host, `get_host()` and the mapped port. As a sibling (upcycle in a
//!   container with the host's socket, `/.dockerenv` present), the sandbox joins our own
//!   user-defined network and is reached at its IP there on 5432, or at its default-bridge IP.
//!   `UPCYCLE_DOCKER_HOST` (given through [`DockerOptions::host_override`]) forces the host.
//!
//! The Docker endpoint is `DOCKER_HOST` or `/var/run/docker.sock`, read by bollard and
//! testcontainers themselves.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use testcontainers::bollard::Docker;
use testcontainers::bollard::errors::Error as DockerError;
use testcontainers::bollard::query_parameters::{ListContainersOptions, RemoveContainerOptions};
use testcontainers::core::{IntoContainerPort, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt};

use crate::postgres::ConnectSettings;
use crate::postgres::url::scrub;

/// Label with the run id, on every sandbox container.
pub const LABEL_RUN: &str = "dev.upcycle.sandbox";
/// Label with the start time in unix seconds.
pub const LABEL_STARTED: &str = "dev.upcycle.started";
/// What PostgreSQL prints on stderr once it listens.
pub const READY_LINE: &str = "database system is ready to accept connections";
/// The database the container creates at first start (the maintenance database we connect to).
const ADMIN_DB: &str = "upcycle";
const SERVER_ARGS: [&str; 6] = [
    "-c",
    "fsync=off",
    "-c",
    "full_page_writes=off",
    "-c",
    "synchronous_commit=off",
];

/// How to start the container.
#[derive(Debug, Clone)]
pub struct DockerOptions {
    /// `name[:tag]`, present locally.
    pub image: String,
    /// Host to connect to (with the mapped port) instead of the detected address.
    pub host_override: Option<String>,
    /// From create to the ready line (a vfs `docker create` alone can take 13 s).
    pub startup_timeout: Duration,
    /// From the ready line to a successful connection.
    pub connect_timeout: Duration,
    /// Labelled containers older than this are removed at start.
    pub sweep_after: Duration,
}

impl Default for DockerOptions {
    fn default() -> Self {
        DockerOptions {
            image: super::DEFAULT_IMAGE.into(),
            host_override: None,
            startup_timeout: Duration::from_secs(120),
            connect_timeout: Duration::from_secs(30),
            sweep_after: Duration::from_secs(30 * 60),
        }
    }
}

/// How upcycle reaches the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// The detected Docker host and the mapped port.
    MappedPort,
    /// `UPCYCLE_DOCKER_HOST` and the mapped port.
    Override,
    /// We run in a container on this user-defined network, and the sandbox joined it.
    Network(String),
    /// We run in a container on the default bridge: the sandbox's bridge IP.
    Bridge,
}

impl std::fmt::Display for Reach {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reach::MappedPort => f.write_str("the mapped port"),
            Reach::Override => f.write_str("UPCYCLE_DOCKER_HOST and the mapped port"),
            Reach::Network(n) => write!(f, "network {n} (sibling container)"),
            Reach::Bridge => f.write_str("the default bridge (sibling container)"),
        }
    }
}

/// A running sandbox container. Drop removes it (and its anonymous volumes).
pub struct DockerServer {
    container: Option<ContainerAsync<GenericImage>>,
    id: String,
    /// The value of the `dev.upcycle.sandbox` label.
    pub run_id: String,
    pub image: String,
    /// `postgres://postgres:<password>@<host>:<port>/upcycle`.
    pub url: String,
    pub reach: Reach,
}

/// A client for the daemon of `DOCKER_HOST` (or the default socket) that answered a ping.
async fn client(timeout: Duration) -> anyhow::Result<Docker> {
    let docker = Docker::connect_with_defaults()
        .context("connecting to the Docker daemon (DOCKER_HOST or /var/run/docker.sock)")?;
    match tokio::time::timeout(timeout, docker.ping()).await {
        Ok(Ok(_)) => Ok(docker),
        Ok(Err(e)) => Err(anyhow::anyhow!(
            "the Docker daemon (DOCKER_HOST or /var/run/docker.sock) does not answer: {e}"
        )),
        Err(_) => bail!(
            "the Docker daemon (DOCKER_HOST or /var/run/docker.sock) did not answer within {}s",
            timeout.as_secs()
        ),
    }
}

/// Whether `image` is present locally; an error only when the daemon fails.
async fn image_present(docker: &Docker, image: &str) -> anyhow::Result<bool> {
    match docker.inspect_image(image).await {
        Ok(_) => Ok(true),
        Err(DockerError::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(false),
        Err(e) => Err(anyhow::anyhow!("inspecting the image {image}: {e}")),
    }
}

/// The error for an image that is not present: upcycle never pulls.
fn missing_image(image: &str) -> anyhow::Error {
    let hint = if image.starts_with("upcycle-local/") {
        " (this image is built on the machine by scripts/build-pg-image.sh)"
    } else {
        ""
    };
    anyhow::anyhow!(
        "the Docker image {image} is not present locally, and upcycle never pulls: run `docker pull {image}`{hint}, or pass another image with --sandbox-image"
    )
}

async fn ensure_image(docker: &Docker, image: &str) -> anyhow::Result<()> {
    if image_present(docker, image).await? {
        Ok(())
    } else {
        Err(missing_image(image))
    }
}

/// Whether the `docker` provider can work here: the daemon answers within `timeout` and the
/// image is present. The error says which is missing.
pub async fn available(options: &DockerOptions, timeout: Duration) -> anyhow::Result<()> {
    let docker = client(timeout).await?;
    match tokio::time::timeout(timeout, ensure_image(&docker, &options.image)).await {
        Ok(result) => result,
        Err(_) => bail!(
            "the Docker daemon did not answer within {}s",
            timeout.as_secs()
        ),
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Removes containers labelled `dev.upcycle.sandbox` whose `dev.upcycle.started` is older than
/// `older_than` (leftovers of runs that were killed); returns their ids.
pub async fn sweep(older_than: Duration) -> anyhow::Result<Vec<String>> {
    let docker = client(Duration::from_secs(10)).await?;
    sweep_with(&docker, older_than).await
}

async fn sweep_with(docker: &Docker, older_than: Duration) -> anyhow::Result<Vec<String>> {
    let filters = HashMap::from([("label".to_string(), vec![LABEL_RUN.to_string()])]);
    let containers = docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters: Some(filters),
            ..Default::default()
        }))
        .await
        .context("listing leftover sandbox containers")?;
    let now = unix_now();
    let mut removed = Vec::new();
    for c in containers {
        let Some(id) = c.id else { continue };
        let started = c
            .labels
            .as_ref()
            .and_then(|l| l.get(LABEL_STARTED))
            .and_then(|s| s.parse::<u64>().ok());
        let Some(started) = started else { continue };
        if now.saturating_sub(started) < older_than.as_secs() {
            continue;
        }
        let options = RemoveContainerOptions {
            force: true,
            v: true,
            ..Default::default()
        };
        match docker.remove_container(&id, Some(options)).await {
            Ok(()) => removed.push(id),
            // Someone else (a parallel run) removed it first.
            Err(DockerError::DockerResponseServerError {
                status_code: 404 | 409,
                ..
            }) => {}
            Err(e) => return Err(e).context(format!("removing the leftover container {id}")),
        }
    }
    Ok(removed)
}

/// The networks of the container we run in, when we run in one whose daemon we talk to.
async fn own_networks(docker: &Docker) -> Option<Vec<String>> {
    if !Path::new("/.dockerenv").exists() {
        return None;
    }
    let hostname = std::fs::read_to_string("/etc/hostname").ok()?;
    let info = docker
        .inspect_container(hostname.trim(), None)
        .await
        .map_err(|e| {
            log::debug!(
                "/.dockerenv exists, but container {hostname} is not known to the daemon: {e}"
            )
        })
        .ok()?;
    let mut names: Vec<String> = info.network_settings?.networks?.into_keys().collect();
    names.sort();
    Some(names)
}

/// How to reach the sandbox, from the override and where we run.
fn choose_reach(host_override: Option<&str>, own_networks: Option<&[String]>) -> Reach {
    if host_override.is_some() {
        return Reach::Override;
    }
    let Some(networks) = own_networks else {
        return Reach::MappedPort;
    };
    if let Some(user) = networks
        .iter()
        .find(|n| !["bridge", "host", "none"].contains(&n.as_str()))
    {
        return Reach::Network(user.clone());
    }
    if networks.iter().any(|n| n == "host") {
        // Host networking: localhost is the host.
        return Reach::MappedPort;
    }
    Reach::Bridge
}

/// `name` and `tag` of an image reference (`tag` defaults to `latest`; a registry port is not a tag).
fn split_image(image: &str) -> anyhow::Result<(&str, &str)> {
    if image.is_empty() || image.contains('@') || image.contains(char::is_whitespace) {
        bail!(
            "--sandbox-image {image:?}: give a local image as name[:tag] (digests are not supported)"
        );
    }
    let last_slash = image.rfind('/').map_or(0, |i| i + 1);
    Ok(match image[last_slash..].rfind(':') {
        Some(colon) => (
            &image[..last_slash + colon],
            &image[last_slash + colon + 1..],
        ),
        None => (image, "latest"),
    })
}

/// `host` as it goes into a URL (IPv6 in brackets).
fn url_host(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else if host == "localhost" {
        // The mapped port we read is the IPv4 one.
        "127.0.0.1".into()
    } else {
        host.to_string()
    }
}

impl DockerServer {
    /// Sweeps leftovers, starts the container and waits until a connection succeeds. On any
    /// error after the container was created, it is removed again.
    pub async fn start(options: &DockerOptions) -> anyhow::Result<DockerServer> {
        let docker = client(Duration::from_secs(10)).await?;
        let (name, tag) = split_image(&options.image)?;
        ensure_image(&docker, &options.image).await?;
        match sweep_with(&docker, options.sweep_after).await {
            Ok(removed) if !removed.is_empty() => log::info!(
                "removed {} leftover sandbox container(s) older than {} min",
                removed.len(),
                options.sweep_after.as_secs() / 60
            ),
            Ok(_) => {}
            Err(e) => log::warn!("could not sweep leftover sandbox containers: {e:#}"),
        }
        let networks = own_networks(&docker).await;
        let reach = choose_reach(options.host_override.as_deref(), networks.as_deref());
        let run_id = format!("{}-{}", std::process::id(), &super::random_hex()[..12]);
        let password = super::random_hex();
        let mut request = GenericImage::new(name, tag)
            .with_exposed_port(5432.tcp())
            .with_wait_for(WaitFor::message_on_stderr(READY_LINE))
            .with_env_var("POSTGRES_PASSWORD", &password)
            .with_env_var("POSTGRES_USER", "postgres")
            .with_env_var("POSTGRES_DB", ADMIN_DB)
            .with_cmd(SERVER_ARGS)
            .with_label(LABEL_RUN, &run_id)
            .with_label(LABEL_STARTED, unix_now().to_string())
            .with_container_name(format!("upcycle-sandbox-{run_id}"))
            .with_startup_timeout(options.startup_timeout);
        if let Reach::Network(network) = &reach {
            request = request.with_network(network);
        }
        let container = request.start().await.map_err(|e| {
            anyhow::anyhow!(
                "starting a sandbox container from {}: {}",
                options.image,
                e.to_string().replace(&password, "***")
            )
        })?;
        let id = container.id().to_string();
        let mut server = DockerServer {
            container: Some(container),
            id,
            run_id,
            image: options.image.clone(),
            url: String::new(),
            reach,
        };
        let (host, port) = server
            .address(&docker, options.host_override.as_deref())
            .await
            .with_context(|| format!("finding the address of container {}", server.short_id()))?;
        server.url = format!(
            "postgres://postgres:{password}@{}:{port}/{ADMIN_DB}",
            url_host(&host)
        );
        wait_connect(&server.url, options.connect_timeout)
            .await
            .with_context(|| {
                format!(
                    "container {} ({}) printed its ready line, but {}:{port} via {} does not accept connections",
                    server.short_id(),
                    options.image,
                    host,
                    server.reach
                )
            })?;
        Ok(server)
    }

    async fn address(
        &self,
        docker: &Docker,
        host_override: Option<&str>,
    ) -> anyhow::Result<(String, u16)> {
        let container = self.container.as_ref().context("container removed")?;
        let network = match &self.reach {
            Reach::Override => {
                let host = host_override.context("no override host")?.to_string();
                return Ok((host, container.get_host_port_ipv4(5432).await?));
            }
            Reach::MappedPort => {
                let host = container.get_host().await?.to_string();
                return Ok((host, container.get_host_port_ipv4(5432).await?));
            }
            Reach::Network(n) => n.as_str(),
            Reach::Bridge => "bridge",
        };
        let info = docker.inspect_container(&self.id, None).await?;
        let ip = info
            .network_settings
            .and_then(|s| s.networks)
            .and_then(|mut n| n.remove(network))
            .and_then(|e| e.ip_address)
            .filter(|ip| !ip.is_empty())
            .with_context(|| format!("the container has no IP address on network {network}"))?;
        Ok((ip, 5432))
    }

    /// The container id (64 hex digits).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The first 12 digits of the id, as `docker ps` shows it.
    pub fn short_id(&self) -> &str {
        &self.id[..self.id.len().min(12)]
    }

    /// Removes the container now, reporting a failure.
    pub async fn remove(&mut self) -> anyhow::Result<()> {
        if let Some(container) = self.container.take() {
            container
                .rm()
                .await
                .with_context(|| format!("removing the sandbox container {}", self.short_id()))?;
        }
        Ok(())
    }
}

impl Drop for DockerServer {
    fn drop(&mut self) {
        let Some(container) = self.container.take() else {
            return;
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            // testcontainers' Drop removes it (block_in_place, or its drop thread on a
            // current-thread runtime).
            drop(container);
            return;
        }
        // No runtime here (a static, or after the runtime ended): use one of our own.
        let _ = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                rt.block_on(async move {
                    if let Err(e) = container.rm().await {
                        log::warn!("could not remove the sandbox container: {e}");
                    }
                });
            }
        })
        .join();
    }
}

/// Connects until it works or `limit` passes: the ready line is not readiness over TCP.
async fn wait_connect(url: &str, limit: Duration) -> anyhow::Result<()> {
    let mut settings = ConnectSettings::new(url);
    settings.attempts = 1;
    settings.application_name = "upcycle-sandbox".into();
    let start = Instant::now();
    loop {
        match settings.connect().await {
            Ok(conn) => {
                crate::postgres::connect::close(conn).await;
                return Ok(());
            }
            Err(e) if start.elapsed() >= limit => {
                return Err(anyhow::anyhow!("{}", scrub(&format!("{e:#}"), url)))
                    .context(format!("no connection within {}s", limit.as_secs()));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references_split_into_name_and_tag() {
        assert_eq!(split_image("postgres:17").unwrap(), ("postgres", "17"));
        assert_eq!(split_image("postgres").unwrap(), ("postgres", "latest"));
        assert_eq!(
            split_image("upcycle-local/postgres:15").unwrap(),
            ("upcycle-local/postgres", "15")
        );
        assert_eq!(
            split_image("localhost:5000/pg").unwrap(),
            ("localhost:5000/pg", "latest")
        );
        assert_eq!(
            split_image("localhost:5000/pg:16").unwrap(),
            ("localhost:5000/pg", "16")
        );
        assert!(split_image("postgres@sha256:abc").is_err());
        assert!(split_image("").is_err());
    }

    #[test]
    fn reach_follows_override_then_own_network() {
        let nets = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            choose_reach(Some("10.0.0.1"), Some(&nets(&["gh_net"]))),
            Reach::Override
        );
        assert_eq!(choose_reach(None, None), Reach::MappedPort);
        assert_eq!(
            choose_reach(None, Some(&nets(&["bridge", "gh_net"]))),
            Reach::Network("gh_net".into())
        );
        assert_eq!(choose_reach(None, Some(&nets(&["bridge"]))), Reach::Bridge);
        assert_eq!(
            choose_reach(None, Some(&nets(&["host"]))),
            Reach::MappedPort
        );
    }

    #[test]
    fn hosts_fit_in_urls() {
        assert_eq!(url_host("::1"), "[::1]");
        assert_eq!(url_host("localhost"), "127.0.0.1");
        assert_eq!(url_host("172.18.0.2"), "172.18.0.2");
    }

    #[test]
    fn missing_image_names_the_fix() {
        let e = missing_image("postgres:17").to_string();
        assert!(e.contains("docker pull postgres:17"), "{e}");
        assert!(
            missing_image("upcycle-local/postgres:15")
                .to_string()
                .contains("scripts/build-pg-image.sh")
        );
    }
}
