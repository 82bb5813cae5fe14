//! Customers' portal access: access links on request ("check ticket
//! status") and optional accounts (register, verify the address, sign in,
//! reset the password). Every path answers the same whether or not the
//! address or ticket exists, so the portal cannot be used to find out who
//! has tickets or accounts; each is rate-limited.
//!
//! Functions here block (argon2, SQLite): call them off the async runtime.

use rusqlite::{Connection, TransactionBehavior};

use crate::mail::send::{self, notify, QueueError};
use crate::model::{CustomerId, TicketId};
use crate::store::customer_accounts::{self as accounts, Purpose};
use crate::store::{self, customer_sessions, customers, portal_tickets, settings};
use crate::store::{Store, StoreError};
use crate::tickets::links;
use crate::web::auth;

/// Shortest password accepted (as for staff).
pub const MIN_PASSWORD: usize = 10;
/// Status requests per IP address per hour.
pub const STATUS_PER_IP_HOUR: i64 = 10;
/// Registrations and reset requests per IP address per hour.
pub const ACCOUNT_MAILS_PER_IP_HOUR: i64 = 10;
/// Mails of one kind to one address per hour (no mail bombing).
pub const MAILS_PER_ADDRESS_HOUR: i64 = 3;
/// Failed sign-ins allowed per account, and per IP address, in the window.
pub const MAX_FAILURES_PER_ACCOUNT: i64 = 5;
pub const MAX_FAILURES_PER_IP: i64 = 20;
pub const FAILURE_WINDOW: i64 = 15 * 60;
/// Lifetimes.
pub const VERIFY_TOKEN_SECS: i64 = 2 * 86400;
pub const RESET_TOKEN_SECS: i64 = 3600;
pub const SESSION_LIFETIME: i64 = 14 * 86400;

/// How the portal treats accounts (`portal.accounts`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountsMode {
    Off,
    Optional,
    Required,
}

pub fn mode(conn: &Connection) -> std::result::Result<AccountsMode, StoreError> {
    Ok(
        match settings::get_or(conn, "portal.accounts", "optional")?
            .trim()
            .to_ascii_lowercase()
            .as_str()
        {
            "off" => AccountsMode::Off,
            "required" => AccountsMode::Required,
            _ => AccountsMode::Optional,
        },
    )
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// A form field is wrong: the field and the catalogue key of the message.
    #[error("{0}: {1}")]
    Invalid(&'static str, &'static str),
    #[error("too many attempts; try again later")]
    Throttled,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A mail that cannot be built (an address lettre refuses) is logged and
/// skipped; database errors roll the change back.
fn soft_mail<T>(what: &str, r: std::result::Result<T, QueueError>) -> Result<()> {
    match r {
        Ok(_) => Ok(()),
        Err(QueueError::Store(s)) => Err(s.into()),
        Err(e) => {
            tracing::warn!(mail = what, error = %e, "portal mail not queued");
            Ok(())
        }
    }
}

type Result<T> = std::result::Result<T, AccountError>;

fn with_tx<T>(store: &Store, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
    let mut conn = store.conn()?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| StoreError::wrap("starting a transaction", e))?;
    let v = f(&tx)?;
    tx.commit()
        .map_err(|e| StoreError::wrap("committing the change", e))?;
    Ok(v)
}

/// A plausible email address, trimmed; the field's error otherwise.
pub fn check_email(email: &str) -> Result<String> {
    let e = email.trim();
    let ok = e.len() <= 254
        && !e.chars().any(|c| c.is_control() || c.is_whitespace())
        && e.rsplit_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.')
        });
    if ok {
        Ok(e.to_string())
    } else {
        Err(AccountError::Invalid("email", "account.error.email"))
    }
}

pub fn check_password(password: &str) -> Result<()> {
    if password.chars().count() < MIN_PASSWORD {
        return Err(AccountError::Invalid(
            "password",
            "account.error.password_short",
        ));
    }
    Ok(())
}

/// Count an attempt and refuse when `limit` were already made in the hour.
fn rate_limit(conn: &Connection, kind: &str, key: &str, limit: i64) -> Result<()> {
    let now = store::now();
    if accounts::attempts_since(conn, kind, key, now - 3600)? >= limit {
        return Err(AccountError::Throttled);
    }
    accounts::record_attempt(conn, kind, key, now)?;
    Ok(())
}

/// Whether another `kind` mail may go to `email` this hour.
fn may_mail(conn: &Connection, kind: &str, email: &str) -> Result<bool> {
    let sent = store::outbox::count_recent(conn, kind, email, store::now() - 3600)?;
    Ok(sent < MAILS_PER_ADDRESS_HOUR)
}

fn base_url(conn: &Connection) -> Result<String> {
    let config = send::config();
    Ok(links::public_base(
        conn,
        &config.server.base_url,
        &config.server.listen,
    )?)
}

/// "Check ticket status": mail a fresh access link for ticket `number` to
/// `email` when, and only when, that address belongs to the ticket's
/// customer. The caller shows the same answer either way.
pub fn request_access(store: &Store, number: &str, email: &str, ip: &str) -> Result<()> {
    let number = number.trim().trim_start_matches('#').to_string();
    let email = check_email(email)?;
    if number.is_empty() {
        return Err(AccountError::Invalid("number", "account.error.number"));
    }
    with_tx(store, |tx| {
        rate_limit(tx, "status", ip, STATUS_PER_IP_HOUR)?;
        if let Some(ticket) = portal_tickets::find_for_status(tx, &number, &email)? {
            if may_mail(tx, "access_link", &email)? {
                notify::queue_access_link(tx, ticket, &email)?;
            } else {
                tracing::warn!(ticket = %ticket, "access link not sent: hourly limit for the address");
            }
        }
        Ok(())
    })
}

/// What an access link or grant proves, checked against the database: the
/// ticket exists, has this number and still belongs to the link's address.
pub fn check_link(
    conn: &Connection,
    number: &str,
    token: &str,
) -> std::result::Result<TicketId, LinkProblem> {
    let secret = links::secret(conn, &send::config().server.secret).map_err(LinkProblem::Store)?;
    let claims = links::verify(&secret, token, store::now()).map_err(|e| match e {
        links::LinkError::Expired => LinkProblem::Expired,
        _ => LinkProblem::Invalid,
    })?;
    let ok = match store::tickets::number_of(conn, claims.ticket).map_err(LinkProblem::Store)? {
        Some(n) => {
            n == number
                && portal_tickets::email_owns(conn, claims.ticket, &claims.identity)
                    .map_err(LinkProblem::Store)?
        }
        None => false,
    };
    if ok {
        Ok(claims.ticket)
    } else {
        Err(LinkProblem::Invalid)
    }
}

#[derive(Debug)]
pub enum LinkProblem {
    Expired,
    /// Forged, damaged, for another ticket or no longer the owner's.
    Invalid,
    Store(StoreError),
}

/// Register: always answers the same. A new or unverified account gets a
/// verification mail; a verified one gets a password reset mail instead
/// ("you already have an account").
pub fn register(
    store: &Store,
    name: &str,
    email: &str,
    password: &str,
    locale: &str,
    ip: &str,
) -> Result<()> {
    let name = name.trim().to_string();
    if name.is_empty() {
        return Err(AccountError::Invalid("name", "account.error.name"));
    }
    let email = check_email(email)?;
    check_password(password)?;
    // Slow on purpose: before the write lock is taken.
    let hash = auth::hash_password(password).map_err(|e| StoreError::Invalid(e.to_string()))?;
    with_tx(store, |tx| {
        rate_limit(tx, "register", ip, ACCOUNT_MAILS_PER_IP_HOUR)?;
        let now = store::now();
        let customer = match customers::find_by_email(tx, &email)? {
            Some(id) => {
                customers::fill_name(tx, id, &name)?;
                id
            }
            None => customers::create(tx, &name, &email, now)?,
        };
        if !locale.is_empty() {
            accounts::fill_locale(tx, customer, locale)?;
        }
        if accounts::register(tx, customer, &hash, now)? {
            send_verify(tx, customer, &name, &email, Some(locale))?;
        } else {
            send_reset(tx, customer, &name, &email, Some(locale))?;
        }
        Ok(())
    })
}

fn new_token(
    tx: &Connection,
    customer: CustomerId,
    purpose: Purpose,
    email: &str,
    secs: i64,
) -> Result<String> {
    let token = auth::random_token();
    accounts::create_token(
        tx,
        &auth::sha256_hex(&token),
        customer,
        purpose,
        email,
        store::now(),
        secs,
    )?;
    Ok(token)
}

fn send_verify(
    tx: &Connection,
    customer: CustomerId,
    name: &str,
    email: &str,
    locale: Option<&str>,
) -> Result<()> {
    if !may_mail(tx, "account_verify", email)? {
        return Ok(());
    }
    let token = new_token(tx, customer, Purpose::Verify, email, VERIFY_TOKEN_SECS)?;
    let link = format!("{}/portal/verify?token={token}", base_url(tx)?);
    soft_mail(
        "account_verify",
        send::account::queue_account_verify(tx, name, email, locale, &link),
    )
}

fn send_reset(
    tx: &Connection,
    customer: CustomerId,
    name: &str,
    email: &str,
    locale: Option<&str>,
) -> Result<()> {
    if !may_mail(tx, "password_reset", email)? {
        return Ok(());
    }
    let token = new_token(tx, customer, Purpose::Reset, email, RESET_TOKEN_SECS)?;
    let link = format!("{}/portal/reset?token={token}", base_url(tx)?);
    soft_mail(
        "password_reset",
        notify::queue_password_reset(tx, name, email, locale, &link),
    )
}

/// Confirm an address with a verification token (once). Returns whether
/// the token was good.
pub fn verify(store: &Store, token: &str) -> Result<bool> {
    let hash = auth::sha256_hex(token.trim());
    with_tx(store, |tx| {
        let now = store::now();
        match accounts::use_token(tx, &hash, Purpose::Verify, now)? {
            Some((customer, email)) => {
                accounts::mark_verified(tx, customer, &email, now)?;
                Ok(true)
            }
            None => Ok(false),
        }
    })
}

#[derive(Debug)]
pub enum Login {
    /// Signed in: the cookie token (only its hash is stored).
    Ok {
        token: String,
    },
    Failed,
    /// Right password, address not confirmed yet: a new verification mail
    /// was sent.
    Unverified,
    Throttled,
}

/// Sign in with an address and password, throttled per account and per IP
/// like staff sign-in.
pub fn login(
    store: &Store,
    email: &str,
    password: &str,
    ip: &str,
    user_agent: &str,
) -> Result<Login> {
    let email = email.trim().to_string();
    let conn = store.conn()?;
    let since = store::now() - FAILURE_WINDOW;
    let by_account = accounts::attempts_since(&conn, "login_failed", &email, since)?;
    let by_ip = accounts::attempts_since(&conn, "login_failed_ip", ip, since)?;
    if by_account >= MAX_FAILURES_PER_ACCOUNT || by_ip >= MAX_FAILURES_PER_IP {
        return Ok(Login::Throttled);
    }
    let account = accounts::find_by_email(&conn, &email)?;
    drop(conn);
    let ok = match &account {
        Some(a) => auth::verify_password(password, &a.password_hash),
        None => {
            auth::verify_dummy(password);
            false
        }
    };
    with_tx(store, |tx| {
        let now = store::now();
        let a = match account {
            Some(a) if ok => a,
            _ => {
                accounts::record_attempt(tx, "login_failed", &email, now)?;
                accounts::record_attempt(tx, "login_failed_ip", ip, now)?;
                return Ok(Login::Failed);
            }
        };
        accounts::clear_attempts(tx, "login_failed", &email, now - 86400)?;
        if !a.verified {
            send_verify(tx, a.customer_id, &a.name, &email, a.locale.as_deref())?;
            return Ok(Login::Unverified);
        }
        let token = auth::random_token();
        customer_sessions::create(
            tx,
            &auth::sha256_hex(&token),
            a.customer_id,
            ip,
            user_agent,
            now,
            SESSION_LIFETIME,
        )?;
        accounts::touch_login(tx, a.customer_id, now)?;
        customer_sessions::delete_expired(tx, now)?;
        Ok(Login::Ok { token })
    })
}

/// "Forgot my password": mail a reset link when the address has an
/// account. Same answer either way.
pub fn request_reset(store: &Store, email: &str, ip: &str) -> Result<()> {
    let email = check_email(email)?;
    with_tx(store, |tx| {
        rate_limit(tx, "reset", ip, ACCOUNT_MAILS_PER_IP_HOUR)?;
        if let Some(a) = accounts::find_by_email(tx, &email)? {
            send_reset(tx, a.customer_id, &a.name, &email, a.locale.as_deref())?;
        }
        Ok(())
    })
}

/// Whether a reset token can still be used (to show the form).
pub fn reset_token_valid(store: &Store, token: &str) -> Result<bool> {
    let conn = store.conn()?;
    Ok(accounts::token_valid(
        &conn,
        &auth::sha256_hex(token.trim()),
        Purpose::Reset,
        store::now(),
    )?)
}

/// Set a new password with a reset token (once). The address is thereby
/// verified; every session of the customer ends. Returns whether the token
/// was good.
pub fn reset(store: &Store, token: &str, password: &str) -> Result<bool> {
    check_password(password)?;
    let hash = auth::hash_password(password).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let token_hash = auth::sha256_hex(token.trim());
    with_tx(store, |tx| {
        let now = store::now();
        match accounts::use_token(tx, &token_hash, Purpose::Reset, now)? {
            Some((customer, email)) => {
                accounts::set_password(tx, customer, &hash)?;
                accounts::mark_verified(tx, customer, &email, now)?;
                customer_sessions::delete_all_for(tx, customer)?;
                Ok(true)
            }
            None => Ok(false),
        }
    })
}

/// The customer signed in with this cookie token, renewing the session
/// now and then.
pub fn session(
    store: &Store,
    token: &str,
) -> std::result::Result<Option<customer_sessions::SessionCustomer>, StoreError> {
    let conn = store.conn()?;
    let now = store::now();
    let found = customer_sessions::find(&conn, &auth::sha256_hex(token), now)?;
    if let Some(s) = &found {
        if now - s.last_seen_at > 300 {
            customer_sessions::touch(&conn, s.session_id, now, SESSION_LIFETIME)?;
        }
    }
    Ok(found)
}

pub fn logout(store: &Store, session_id: i64) -> std::result::Result<(), StoreError> {
    let conn = store.conn()?;
    customer_sessions::delete(&conn, session_id)
}
