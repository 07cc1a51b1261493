//! `upcycle.toml`: optional project configuration. An absent file means defaults; a file that
//! is present but invalid is an error naming the file and line, never a silent default.
//!
//! ```toml
//! [migrations]
//! dirs = ["migrations"]
//! layout = "sqlx"
//!
//! [environments.production]
//! database_url_env = "PROD_DATABASE_URL"   # the env var that holds the URL
//! protected = true                          # needs --confirm; refuses divergences; backs up first
//! history = "upcycle"
//! schema = "public"
//! lock_timeout = "5s"
//! statement_timeout = "15min"
//! backup_dir = "backups/production"
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;

/// The whole file.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub migrations: MigrationsConfig,
    #[serde(default)]
    pub environments: BTreeMap<String, Environment>,
}

/// Where the migrations are.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MigrationsConfig {
    #[serde(default)]
    pub dirs: Vec<String>,
    pub layout: Option<String>,
    /// Versions declared irreversible: their downs are expected to refuse.
    #[serde(default)]
    pub irreversible: Vec<String>,
}

/// One deployment target.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    /// The name of the environment variable that holds this environment's database URL.
    pub database_url_env: Option<String>,
    #[serde(default)]
    pub protected: bool,
    pub history: Option<String>,
    pub schema: Option<String>,
    pub lock_timeout: Option<String>,
    pub statement_timeout: Option<String>,
    pub lock_wait: Option<u64>,
    pub backup_dir: Option<String>,
}

/// A config file that could not be used.
#[derive(Debug, thiserror::Error)]
#[error("{path}{}: {message}; fix the file (an absent upcycle.toml means defaults)", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct ConfigError {
    pub path: String,
    pub line: Option<usize>,
    pub message: String,
}

impl Config {
    /// Parses the text of `path`.
    pub fn parse(text: &str, path: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError {
            path: path.to_string(),
            line: e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1),
            message: e.message().to_string(),
        })?;
        for (name, env) in &config.environments {
            if let Some(history) = &env.history
                && crate::postgres::tracking::HistoryMode::from_id(history).is_none()
            {
                return Err(ConfigError {
                    path: path.into(),
                    line: None,
                    message: format!(
                        "environments.{name}.history = \"{history}\" is not a history mode"
                    ),
                });
            }
        }
        if let Some(layout) = &config.migrations.layout
            && crate::migration::Layout::from_id(layout).is_none()
        {
            return Err(ConfigError {
                path: path.into(),
                line: None,
                message: format!("migrations.layout = \"{layout}\" is not a layout"),
            });
        }
        Ok(config)
    }

    /// The environment called `name`, or an error listing the ones there are.
    pub fn environment(&self, name: &str, path: &str) -> anyhow::Result<&Environment> {
        self.environments.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.environments.keys().map(String::as_str).collect();
            if known.is_empty() {
                anyhow::anyhow!(
                    "--env {name}: {path} defines no environments; add [environments.{name}]"
                )
            } else {
                anyhow::anyhow!(
                    "--env {name}: not in {path}; it defines {}",
                    known.join(", ")
                )
            }
        })
    }
}

/// Reads `path`: absent means defaults (unless the user named it explicitly), present means it
/// must be valid.
pub fn load(path: &std::path::Path, named: bool) -> anyhow::Result<Config> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Config::parse(&text, &path.display().to_string())?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !named => Ok(Config::default()),
        Err(e) => Err(anyhow::anyhow!("{}: {e}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environments_parse() {
        let c = Config::parse(
            "[environments.production]\ndatabase_url_env = \"PROD\"\nprotected = true\n",
            "upcycle.toml",
        )
        .unwrap();
        assert!(c.environments["production"].protected);
        assert_eq!(
            c.environments["production"].database_url_env.as_deref(),
            Some("PROD")
        );
    }

    #[test]
    fn invalid_files_are_errors_with_lines() {
        let e = Config::parse(
            "[environments.dev]\nprotected = true\nprotectd = false\n",
            "upcycle.toml",
        )
        .unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
        assert!(e.to_string().starts_with("upcycle.toml:3: "), "{e}");
        let e = Config::parse("[environments.dev]\nhistory = \"nope\"\n", "u.toml").unwrap_err();
        assert!(e.to_string().contains("not a history mode"), "{e}");
        assert!(Config::parse("[migrations]\nlayout = \"x\"\n", "u.toml").is_err());
    }
}
