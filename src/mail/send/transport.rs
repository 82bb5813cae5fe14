//! Delivery through lettre's blocking transports: SMTP (STARTTLS, implicit
//! TLS with rustls, or plain on loopback; optional auth) or a local
//! sendmail binary. Runs in the worker thread, never in a request.

use std::time::Duration;

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{Address, SendmailTransport, SmtpTransport, Transport as _};

use crate::config::SmtpConfig;

pub enum Transport {
    Smtp(Box<SmtpTransport>),
    Sendmail(SendmailTransport),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("outgoing mail is disabled: set smtp.transport to \"smtp\" or \"sendmail\"")]
    Disabled,
    #[error("smtp.transport must be \"smtp\" or \"sendmail\", not {0:?}")]
    UnknownTransport(String),
    #[error("smtp.security must be \"starttls\", \"tls\" or \"none\", not {0:?}")]
    UnknownSecurity(String),
    #[error("smtp.security = \"none\" sends passwords and mail in clear text and is only allowed for a loopback host (127.0.0.1, ::1, localhost), not {0:?}; use \"starttls\" or \"tls\"")]
    PlainNotLoopback(String),
    #[error("smtp.host is empty")]
    NoHost,
    #[error("the TLS setup for {host} failed: {message}")]
    Tls { host: String, message: String },
}

/// Why a delivery failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// Try again later (connection refused, 4xx, timeout…).
    #[error("{0}")]
    Temporary(String),
    /// The server refused the message for good (5xx): do not retry.
    #[error("{0}")]
    Permanent(String),
}

fn is_loopback(host: &str) -> bool {
    let h = host.trim().trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<std::net::IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

impl Transport {
    pub fn from_config(cfg: &SmtpConfig) -> Result<Transport, ConfigError> {
        match cfg.transport.trim() {
            "" => Err(ConfigError::Disabled),
            "sendmail" => Ok(Transport::Sendmail(SendmailTransport::new_with_command(
                cfg.sendmail_path.trim(),
            ))),
            "smtp" => {
                let host = cfg.host.trim();
                if host.is_empty() {
                    return Err(ConfigError::NoHost);
                }
                let tls = |host: &str| {
                    let failed = |message: String| ConfigError::Tls {
                        host: host.to_string(),
                        message,
                    };
                    let mut b = TlsParameters::builder(host.to_string());
                    let ca = cfg.tls_ca_file.trim();
                    if !ca.is_empty() {
                        let pem = std::fs::read(ca).map_err(|e| {
                            failed(format!("cannot read smtp.tls_ca_file {ca}: {e}"))
                        })?;
                        let cert = Certificate::from_pem(&pem).map_err(|e| {
                            failed(format!(
                                "smtp.tls_ca_file {ca} holds no PEM certificate: {e}"
                            ))
                        })?;
                        b = b.add_root_certificate(cert);
                    }
                    b.build_rustls().map_err(|e| failed(e.to_string()))
                };
                let tls = match cfg.security.trim() {
                    "starttls" => Tls::Required(tls(host)?),
                    "tls" => Tls::Wrapper(tls(host)?),
                    "none" | "" if is_loopback(host) => Tls::None,
                    "none" | "" => return Err(ConfigError::PlainNotLoopback(host.to_string())),
                    other => return Err(ConfigError::UnknownSecurity(other.to_string())),
                };
                let mut b = SmtpTransport::builder_dangerous(host)
                    .port(cfg.port)
                    .tls(tls)
                    .timeout(Some(Duration::from_secs(cfg.timeout_seconds.max(1))));
                if !cfg.username.is_empty() {
                    b = b.credentials(Credentials::new(cfg.username.clone(), cfg.password.clone()));
                }
                Ok(Transport::Smtp(Box::new(b.build())))
            }
            other => Err(ConfigError::UnknownTransport(other.to_string())),
        }
    }

    /// Hand `raw` to the server for `recipients`. On success, the server's
    /// answer (e.g. "250 2.0.0 Ok: queued as 4Xyz").
    pub fn deliver(
        &self,
        envelope_from: &str,
        recipients: &[String],
        raw: &[u8],
    ) -> Result<String, DeliveryError> {
        let from: Address = envelope_from.parse().map_err(|_| {
            DeliveryError::Permanent(format!(
                "the sender {envelope_from:?} is not a valid address"
            ))
        })?;
        let to = recipients
            .iter()
            .map(|r| {
                r.parse::<Address>().map_err(|_| {
                    DeliveryError::Permanent(format!("the recipient {r:?} is not a valid address"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let envelope = Envelope::new(Some(from), to)
            .map_err(|e| DeliveryError::Permanent(format!("invalid envelope: {e}")))?;
        match self {
            Transport::Smtp(t) => match t.send_raw(&envelope, raw) {
                Ok(response) => Ok(format!(
                    "{} {}",
                    response.code(),
                    response.message().collect::<Vec<_>>().join(" ")
                )),
                // A refused login is our configuration, not the message:
                // keep the mail queued until the password is fixed.
                Err(e) if is_auth_refusal(&e) => Err(DeliveryError::Temporary(format!(
                    "the SMTP server refused the login (check smtp.username and smtp.password): {}",
                    error_text(&e)
                ))),
                Err(e) if e.is_permanent() => Err(DeliveryError::Permanent(error_text(&e))),
                Err(e) => Err(DeliveryError::Temporary(error_text(&e))),
            },
            // sendmail queues locally; its failures are local and worth
            // retrying (a full disk, a missing binary being installed).
            Transport::Sendmail(t) => t
                .send_raw(&envelope, raw)
                .map(|()| "accepted by sendmail".to_string())
                .map_err(|e| DeliveryError::Temporary(error_text(&e))),
        }
    }
}

/// 530 (authentication required), 534/538 (mechanism too weak / needs
/// encryption), 535 (bad credentials).
fn is_auth_refusal(e: &lettre::transport::smtp::Error) -> bool {
    e.status()
        .is_some_and(|c| ["530", "534", "535", "538"].contains(&c.to_string().as_str()))
}

/// The error with its causes (lettre puts the server's answer in a source).
fn error_text(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let c_text = c.to_string();
        if !text.contains(&c_text) {
            text = format!("{text}: {c_text}");
        }
        cause = c.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(transport: &str, host: &str, security: &str) -> SmtpConfig {
        SmtpConfig {
            transport: transport.into(),
            host: host.into(),
            security: security.into(),
            ..SmtpConfig::default()
        }
    }

    #[test]
    fn config_is_checked() {
        assert_eq!(
            Transport::from_config(&cfg("", "x", "none")).err(),
            Some(ConfigError::Disabled)
        );
        assert!(matches!(
            Transport::from_config(&cfg("smtp", "mail.example.com", "none")).err(),
            Some(ConfigError::PlainNotLoopback(_))
        ));
        assert!(Transport::from_config(&cfg("smtp", "127.0.0.1", "none")).is_ok());
        assert!(Transport::from_config(&cfg("smtp", "mail.example.com", "starttls")).is_ok());
        assert!(Transport::from_config(&cfg("smtp", "mail.example.com", "tls")).is_ok());
        assert!(Transport::from_config(&cfg("sendmail", "", "")).is_ok());
        assert!(matches!(
            Transport::from_config(&cfg("smtp", "h", "ssl3")).err(),
            Some(ConfigError::UnknownSecurity(_))
        ));
    }
}
