//! Configuration: defaults, then a TOML file (`--config`, `OXIDESK_CONFIG`),
//! then environment variables. Every key `section.key` can be overridden by
//! `OXIDESK_SECTION_KEY` (e.g. `OXIDESK_SMTP_HOST`); `OXIDESK_DB` and
//! `OXIDESK_LISTEN` are short forms for the two most used keys.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::store::StoreOptions;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the configuration file {path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("the environment variable {var} is not valid for {key}: {message}")]
    Env {
        var: String,
        key: String,
        message: String,
    },
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub database: DatabaseConfig,
    pub server: ServerConfig,
    pub mail: MailConfig,
    pub smtp: SmtpConfig,
    pub log: LogConfig,
    /// Per-plugin sections, `[plugins.NAME]`, read by the plugin registry.
    pub plugins: BTreeMap<String, toml::Table>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// The SQLite file holding everything.
    pub path: PathBuf,
    /// How long to wait for a busy database before giving up (ms).
    pub busy_timeout_ms: u64,
    pub max_connections: u32,
    /// SQLite page cache per connection, in KiB.
    pub cache_kib: u32,
    /// Copy the database beside itself before applying migrations.
    pub backup_before_migrations: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address and port `serve` listens on.
    pub listen: String,
    /// Public URL of the helpdesk, used in links in mail.
    pub base_url: String,
    /// Proxies whose X-Forwarded-* headers are trusted.
    pub trusted_proxies: Vec<String>,
    /// Token that grants access to /metrics from other hosts than loopback.
    pub metrics_token: String,
    /// Secret for signing links and form tokens; generated on first start
    /// and kept in the database when empty here.
    pub secret: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailConfig {
    /// Largest inbound message accepted, in bytes.
    pub max_message_bytes: u64,
    /// Whether `serve` listens on the local intake socket beside the
    /// database, to which `pipe` hands its messages (src/intake_socket).
    pub intake_socket: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmtpConfig {
    /// `smtp` or `sendmail`; empty disables delivery (mail stays queued).
    pub transport: String,
    pub host: String,
    pub port: u16,
    /// `starttls`, `tls` (implicit) or `none` (loopback only).
    pub security: String,
    pub username: String,
    pub password: String,
    pub sendmail_path: String,
    /// Default From address and name for outgoing mail.
    pub from_address: String,
    pub from_name: String,
    /// A PEM file of extra CA certificates to trust for the SMTP server
    /// (a relay with a private CA); empty trusts the public roots only.
    pub tls_ca_file: String,
    /// How long to wait for the server at each step of a delivery (s).
    pub timeout_seconds: u64,
    /// First retry delay after a temporary failure; it doubles each time (s).
    pub retry_base_seconds: u64,
    /// Longest delay between two attempts (s).
    pub retry_max_seconds: u64,
    /// A message still undelivered this long after it was queued fails (h).
    pub give_up_hours: u64,
    /// How often the worker in `serve` looks for mail queued by other
    /// processes, such as the mail pipe (s).
    pub poll_seconds: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `human` or `json`.
    pub format: String,
    /// A tracing filter, e.g. `info` or `oxidesk=debug`.
    pub level: String,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            path: PathBuf::from("oxidesk.db"),
            busy_timeout_ms: 5000,
            max_connections: 4,
            cache_kib: 4096,
            backup_before_migrations: true,
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:8080".into(),
            base_url: String::new(),
            trusted_proxies: Vec::new(),
            metrics_token: String::new(),
            secret: String::new(),
        }
    }
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig {
            max_message_bytes: 25 * 1024 * 1024,
            intake_socket: true,
        }
    }
}

impl Default for SmtpConfig {
    fn default() -> Self {
        SmtpConfig {
            transport: String::new(),
            host: "127.0.0.1".into(),
            port: 25,
            security: "none".into(),
            username: String::new(),
            password: String::new(),
            sendmail_path: "/usr/sbin/sendmail".into(),
            from_address: String::new(),
            from_name: String::new(),
            tls_ca_file: String::new(),
            timeout_seconds: 30,
            retry_base_seconds: 60,
            retry_max_seconds: 6 * 3600,
            give_up_hours: 72,
            poll_seconds: 5,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: "human".into(),
            level: "info".into(),
        }
    }
}

impl Config {
    /// Defaults, then the file (if any), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        Config::load_with_env(file, std::env::vars())
    }

    pub fn load_with_env(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut value = toml::Value::try_from(Config::default()).expect("defaults serialise");
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_path_buf(),
                source,
            })?;
            let from_file: toml::Table = toml::from_str(&text).map_err(|e| ConfigError::Parse {
                path: path.to_path_buf(),
                message: e.message().to_string(),
            })?;
            merge(&mut value, toml::Value::Table(from_file));
        }
        for (var, raw) in env {
            apply_env(&mut value, &var, &raw)?;
        }
        value
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Parse {
                path: file.map(Path::to_path_buf).unwrap_or_default(),
                message: e.message().to_string(),
            })
    }

    pub fn store_options(&self) -> StoreOptions {
        let mut opts = StoreOptions::new(self.database.path.clone());
        opts.busy_timeout = Duration::from_millis(self.database.busy_timeout_ms);
        opts.max_connections = self.database.max_connections;
        opts.cache_kib = self.database.cache_kib;
        opts.backup_before_migrations = self.database.backup_before_migrations;
        opts
    }

    /// Every key with its environment variable and value, for docs and `check`.
    pub fn keys(&self) -> Vec<(String, String, String)> {
        let value = toml::Value::try_from(self).expect("config serialises");
        let mut out = Vec::new();
        if let toml::Value::Table(sections) = value {
            for (section, inner) in sections {
                if let toml::Value::Table(keys) = inner {
                    for (key, v) in keys {
                        if section == "plugins" {
                            continue;
                        }
                        out.push((
                            format!("{section}.{key}"),
                            format!("OXIDESK_{}_{}", section, key).to_uppercase(),
                            v.to_string(),
                        ));
                    }
                }
            }
        }
        out
    }
}

fn merge(base: &mut toml::Value, over: toml::Value) {
    match (base, over) {
        (toml::Value::Table(b), toml::Value::Table(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) if slot.is_table() && v.is_table() => merge(slot, v),
                    _ => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

/// Map `OXIDESK_SECTION_KEY` onto `section.key` when that key exists.
fn apply_env(value: &mut toml::Value, var: &str, raw: &str) -> Result<(), ConfigError> {
    let Some(rest) = var.strip_prefix("OXIDESK_") else {
        return Ok(());
    };
    let rest = rest.to_ascii_lowercase();
    let (section, key) = match rest.as_str() {
        "db" => ("database".to_string(), "path".to_string()),
        "listen" => ("server".to_string(), "listen".to_string()),
        "config" => return Ok(()),
        _ => {
            let Some(table) = value.as_table() else {
                return Ok(());
            };
            let found = table.iter().find_map(|(section, inner)| {
                let key = rest.strip_prefix(&format!("{section}_"))?;
                inner
                    .as_table()?
                    .contains_key(key)
                    .then(|| (section.clone(), key.to_string()))
            });
            match found {
                Some(pair) => pair,
                None => return Ok(()),
            }
        }
    };
    let table = value
        .get_mut(&section)
        .and_then(|s| s.as_table_mut())
        .expect("section exists");
    let current = table
        .get(&key)
        .cloned()
        .unwrap_or(toml::Value::String(String::new()));
    let bad = |message: String| ConfigError::Env {
        var: var.to_string(),
        key: format!("{section}.{key}"),
        message,
    };
    let new = match current {
        toml::Value::Integer(_) => toml::Value::Integer(
            raw.trim()
                .parse()
                .map_err(|_| bad(format!("expected a whole number, got {raw:?}")))?,
        ),
        toml::Value::Boolean(_) => toml::Value::Boolean(match raw.trim() {
            "1" | "true" | "yes" | "on" => true,
            "0" | "false" | "no" | "off" => false,
            _ => return Err(bad(format!("expected true or false, got {raw:?}"))),
        }),
        toml::Value::Array(_) => toml::Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| toml::Value::String(s.to_string()))
                .collect(),
        ),
        _ => toml::Value::String(raw.to_string()),
    };
    table.insert(key, new);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn defaults_without_file_or_env() {
        let c = Config::load_with_env(None, env(&[])).unwrap();
        assert_eq!(c.database.path, PathBuf::from("oxidesk.db"));
        assert_eq!(c.server.listen, "127.0.0.1:8080");
        assert_eq!(c.mail.max_message_bytes, 25 * 1024 * 1024);
    }

    #[test]
    fn env_overrides_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.toml");
        std::fs::write(
            &path,
            "[database]\npath = \"/x/file.db\"\n[smtp]\nport = 2525\n",
        )
        .unwrap();
        let c = Config::load_with_env(
            Some(&path),
            env(&[
                ("OXIDESK_DB", "/y/other.db"),
                ("OXIDESK_SMTP_HOST", "mail.example.com"),
                ("OXIDESK_MAIL_MAX_MESSAGE_BYTES", "1000"),
                ("OXIDESK_SERVER_TRUSTED_PROXIES", "127.0.0.1, ::1"),
                ("UNRELATED", "x"),
            ]),
        )
        .unwrap();
        assert_eq!(c.database.path, PathBuf::from("/y/other.db"));
        assert_eq!(c.smtp.port, 2525);
        assert_eq!(c.smtp.host, "mail.example.com");
        assert_eq!(c.mail.max_message_bytes, 1000);
        assert_eq!(c.server.trusted_proxies, vec!["127.0.0.1", "::1"]);
    }

    #[test]
    fn bad_env_value_is_a_sentence() {
        let err = Config::load_with_env(None, env(&[("OXIDESK_SMTP_PORT", "twenty")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("OXIDESK_SMTP_PORT"), "{err}");
        assert!(err.contains("whole number"), "{err}");
    }

    #[test]
    fn unknown_file_key_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.toml");
        std::fs::write(&path, "[database]\npaht = \"typo\"\n").unwrap();
        let err = Config::load_with_env(Some(&path), env(&[])).unwrap_err();
        assert!(err.to_string().contains("paht"), "{err}");
    }
}
