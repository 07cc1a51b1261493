//! TLS to the database, up to `sslmode=verify-full` with a CA file (`--ca-file`), against a real
//! PostgreSQL started with `ssl=on` and certificates made here with openssl.

use std::path::Path;
use std::process::Command;

use upcycle::sandbox::{LocalOptions, LocalServer};

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, and a server certificate for 127.0.0.1/localhost signed by it; plus an unrelated CA.
fn certificates(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=upcycle test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=other CA",
            "-keyout",
            "other.key",
            "-out",
            "other.pem",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ],
    );
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "san.ext",
            "-out",
            "server.pem",
        ],
    );
}

/// The server runs as `postgres` when the tests run as root: it must own its key (mode 0600).
fn hand_to_server_user(dir: &Path) {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    for f in ["server.key", "server.pem"] {
        std::fs::set_permissions(dir.join(f), std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    if std::fs::metadata("/proc/self").unwrap().uid() == 0 {
        let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
        let (uid, gid) = passwd
            .lines()
            .find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f[0] == "postgres")
                    .then(|| (f[2].parse::<u32>().unwrap(), f[3].parse::<u32>().unwrap()))
            })
            .unwrap_or((65534, 65534));
        for f in ["server.key", "server.pem"] {
            std::os::unix::fs::chown(dir.join(f), Some(uid), Some(gid)).unwrap();
        }
    }
}

fn status(url: &str, ca: Option<&Path>) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_upcycle"));
    cmd.args(["status", "--connect-retries", "1", "--database-url", url])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("DATABASE_URL");
    if let Some(ca) = ca {
        cmd.arg("--ca-file").arg(ca);
    }
    cmd.output().expect("run upcycle")
}

#[tokio::test]
async fn verify_full_with_a_ca_file_connects_and_a_wrong_ca_is_refused() {
    if Command::new("openssl").arg("version").output().is_err() {
        println!("skipping: openssl is not installed");
        return;
    }
    let certs = tempfile::tempdir().unwrap();
    certificates(certs.path());
    hand_to_server_user(certs.path());
    let settings = [
        ("ssl", "on".to_string()),
        (
            "ssl_cert_file",
            certs.path().join("server.pem").display().to_string(),
        ),
        (
            "ssl_key_file",
            certs.path().join("server.key").display().to_string(),
        ),
    ];
    let server = LocalServer::start(&LocalOptions {
        path_var: std::env::var("PATH").ok(),
        settings: settings
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
        ..Default::default()
    })
    .await
    .expect("a server with ssl=on");
    let port = server.port();

    let verify = format!("postgres://postgres@127.0.0.1:{port}/postgres?sslmode=verify-full");
    let ok = status(&verify, Some(&certs.path().join("ca.pem")));
    assert!(
        ok.status.success(),
        "verify-full with the right CA: {}",
        String::from_utf8_lossy(&ok.stderr)
    );

    let wrong = status(&verify, Some(&certs.path().join("other.pem")));
    assert_eq!(
        wrong.status.code(),
        Some(2),
        "verify-full with another CA must fail"
    );
    let err = String::from_utf8_lossy(&wrong.stderr);
    assert!(
        err.contains("connecting to") && err.to_lowercase().contains("cert"),
        "{err}"
    );

    let require = format!("postgres://postgres@127.0.0.1:{port}/postgres?sslmode=require");
    assert!(
        status(&require, None).status.success(),
        "require encrypts without verifying"
    );
}

#[tokio::test]
async fn verify_full_against_a_server_without_tls_is_refused() {
    let server = LocalServer::start(&LocalOptions {
        path_var: std::env::var("PATH").ok(),
        ..Default::default()
    })
    .await
    .expect("server");
    let url = format!(
        "postgres://postgres@127.0.0.1:{}/postgres?sslmode=verify-full",
        server.port()
    );
    let out = status(&url, None);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("connecting to"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
