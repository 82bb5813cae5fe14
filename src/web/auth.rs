//! Staff authentication: password hashing (argon2id), session cookies and
//! the request guards that decide access once per request.

use std::net::IpAddr;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::RngCore;
use rocket::http::{Cookie, CookieJar, SameSite, Status};
use rocket::request::{FromRequest, Outcome};
use rocket::{Request, State};
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::model::StaffId;
use crate::store::queues::Scope;
use crate::store::{self, sessions, Store};

pub const SESSION_COOKIE: &str = "oxd_session";
/// A random token for signed-out forms (sign-in), so they carry a CSRF
/// token too.
pub const PRE_COOKIE: &str = "oxd_pre";
/// Sliding lifetime of a staff session.
pub const SESSION_LIFETIME: i64 = 7 * 24 * 3600;
/// How often a session's last-seen time is written (saves a write per
/// request).
const TOUCH_EVERY: i64 = 300;

/// Hash a password with argon2id (the argon2 crate's default algorithm and
/// parameters).
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash the password: {e}"))
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Spend as long as a real verification when the account does not exist,
/// so response times do not reveal which addresses have accounts.
pub fn verify_dummy(password: &str) {
    use std::sync::OnceLock;
    static DUMMY: OnceLock<String> = OnceLock::new();
    let hash = DUMMY.get_or_init(|| hash_password("not a real password").unwrap_or_default());
    let _ = verify_password(password, hash);
}

/// A random 256-bit token, hex encoded.
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

/// A readable random password for first-run and resets.
pub fn random_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789";
    let mut b = [0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b.iter()
        .map(|x| ALPHABET[*x as usize % ALPHABET.len()] as char)
        .collect()
}

pub fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// The CSRF token belonging to a cookie token: derived, so nothing extra is
/// stored, and domain-separated from the stored session hash.
pub fn csrf_for(cookie_token: &str) -> String {
    sha256_hex(&format!("oxidesk csrf\n{cookie_token}"))
}

/// Where the request came from, honouring X-Forwarded-* only from
/// configured proxies.
#[derive(Debug, Clone)]
pub struct Client {
    pub ip: String,
    pub https: bool,
    pub user_agent: String,
}

pub fn client_of(req: &Request<'_>) -> Client {
    let remote: Option<IpAddr> = req.remote().map(|a| a.ip());
    let trusted = match (remote, req.rocket().state::<Config>()) {
        (Some(ip), Some(cfg)) => cfg
            .server
            .trusted_proxies
            .iter()
            .any(|p| p.trim().parse::<IpAddr>().ok() == Some(ip)),
        _ => false,
    };
    let mut ip = remote.map(|i| i.to_string()).unwrap_or_default();
    let mut https = false;
    if trusted {
        if let Some(fwd) = req.headers().get_one("X-Forwarded-For") {
            if let Some(last) = fwd.rsplit(',').next() {
                if let Ok(parsed) = last.trim().parse::<IpAddr>() {
                    ip = parsed.to_string();
                }
            }
        } else if let Some(real) = req.headers().get_one("X-Real-IP") {
            if let Ok(parsed) = real.trim().parse::<IpAddr>() {
                ip = parsed.to_string();
            }
        }
        https = req
            .headers()
            .get_one("X-Forwarded-Proto")
            .is_some_and(|p| p.eq_ignore_ascii_case("https"));
    }
    let user_agent: String = req
        .headers()
        .get_one("User-Agent")
        .unwrap_or("")
        .chars()
        .take(200)
        .collect();
    Client {
        ip,
        https,
        user_agent,
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Client {
    type Error = ();
    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        Outcome::Success(client_of(req))
    }
}

pub fn session_cookie(token: String, https: bool) -> Cookie<'static> {
    Cookie::build((SESSION_COOKIE, token))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(https)
        .max_age(rocket::time::Duration::seconds(SESSION_LIFETIME))
        .build()
}

/// Make sure a signed-out browser has a pre-session token; returns the CSRF
/// token for its forms.
pub fn pre_session_csrf(jar: &CookieJar<'_>, https: bool) -> String {
    if let Some(c) = jar.get(PRE_COOKIE) {
        return csrf_for(c.value());
    }
    let token = random_token();
    let csrf = csrf_for(&token);
    jar.add(
        Cookie::build((PRE_COOKIE, token))
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(https)
            .build(),
    );
    csrf
}

/// Why the staff guard refused, read by the 401 catcher to redirect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthFailure {
    #[default]
    None,
    NoSession,
    MustChangePassword,
}

/// A signed-in staff member. Missing or expired → the 401 catcher sends the
/// browser to /login.
#[derive(Debug, Clone)]
pub struct StaffSession {
    pub session_id: i64,
    pub staff_id: StaffId,
    pub name: String,
    pub email: String,
    pub is_admin: bool,
    pub must_change_password: bool,
    pub csrf: String,
    pub lang: String,
}

impl StaffSession {
    pub fn scope(&self) -> Scope {
        Scope {
            staff: self.staff_id,
            admin: self.is_admin,
        }
    }

    pub fn actor(&self) -> crate::tickets::events::Actor {
        crate::tickets::events::Actor::Staff {
            id: self.staff_id,
            name: self.name.clone(),
        }
    }
}

async fn load_session(req: &Request<'_>) -> Option<StaffSession> {
    let token = req.cookies().get(SESSION_COOKIE)?.value().to_string();
    let store = req.rocket().state::<Store>()?.clone();
    let hash = sha256_hex(&token);
    let found = crate::web::read(&store, move |c| sessions::find(c, &hash)).await;
    let s = match found {
        Ok(Some(s)) => s,
        Ok(None) => return None,
        Err(e) => {
            tracing::error!(error = %e, "loading a session failed");
            return None;
        }
    };
    if store::now() - s.last_seen_at > TOUCH_EVERY {
        // A write, so never on the async worker: it may wait for the lock.
        let id = s.session_id;
        if let Err(e) =
            crate::web::db(&store, move |c| sessions::touch(c, id, SESSION_LIFETIME)).await
        {
            tracing::error!(error = %e, "renewing a session failed");
        }
    }
    Some(StaffSession {
        session_id: s.session_id,
        staff_id: s.staff_id,
        name: s.name,
        email: s.email,
        is_admin: s.is_admin,
        must_change_password: s.must_change_password,
        csrf: csrf_for(&token),
        lang: crate::web::i18n::resolve(s.locale.as_deref()).to_string(),
    })
}

/// Pages a staff member who must change the password may still reach.
fn allowed_before_password_change(path: &str) -> bool {
    matches!(path, "/account/password" | "/logout")
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for StaffSession {
    type Error = ();
    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        let cached = req
            .local_cache_async(async { load_session(req).await })
            .await;
        match cached {
            None => {
                req.local_cache(|| AuthFailure::NoSession);
                Outcome::Error((Status::Unauthorized, ()))
            }
            Some(s)
                if s.must_change_password
                    && !allowed_before_password_change(req.uri().path().as_str()) =>
            {
                req.local_cache(|| AuthFailure::MustChangePassword);
                Outcome::Error((Status::Unauthorized, ()))
            }
            Some(s) => Outcome::Success(s.clone()),
        }
    }
}

/// A signed-in administrator; other staff get 403.
#[derive(Debug, Clone)]
pub struct AdminSession(pub StaffSession);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for AdminSession {
    type Error = ();
    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        match StaffSession::from_request(req).await {
            Outcome::Success(s) if s.is_admin => Outcome::Success(AdminSession(s)),
            Outcome::Success(_) => Outcome::Error((Status::Forbidden, ())),
            Outcome::Error(e) => Outcome::Error(e),
            Outcome::Forward(f) => Outcome::Forward(f),
        }
    }
}

/// `&State<Store>` shorthand for handlers.
pub type Db<'r> = &'r State<Store>;
