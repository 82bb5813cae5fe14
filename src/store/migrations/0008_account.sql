-- Customer accounts for the portal: a password on a customer, sessions of
-- signed-in customers (separate from staff sessions), one-time tokens for
-- email verification and password resets, and the attempt log behind the
-- portal's rate limits and sign-in throttling.

-- A customer who registered. Signing in is by any of the customer's
-- identities (email addresses). Until `verified_at` is set the account
-- cannot sign in, so registering with someone else's address shows nothing.
CREATE TABLE customer_accounts (
    customer_id   INTEGER PRIMARY KEY REFERENCES customers(id) ON DELETE CASCADE,
    password_hash TEXT NOT NULL,
    verified_at   INTEGER,
    created_at    INTEGER NOT NULL,
    last_login_at INTEGER
);

-- A signed-in customer's browser. Only the SHA-256 of the cookie's random
-- token is stored.
CREATE TABLE customer_sessions (
    id           INTEGER PRIMARY KEY,
    token_hash   TEXT NOT NULL UNIQUE,
    customer_id  INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    ip           TEXT NOT NULL DEFAULT '',
    user_agent   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX customer_sessions_customer ON customer_sessions(customer_id);

-- One-time tokens mailed to a customer: 'verify' (confirm the address) and
-- 'reset' (choose a new password). Hashed like sessions; used once.
CREATE TABLE customer_tokens (
    id          INTEGER PRIMARY KEY,
    token_hash  TEXT NOT NULL UNIQUE,
    customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    purpose     TEXT NOT NULL CHECK (purpose IN ('verify', 'reset')),
    email       TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
);
CREATE INDEX customer_tokens_customer ON customer_tokens(customer_id, purpose);

-- Portal requests counted for rate limits: kind is what was tried
-- ('status', 'login_failed', 'reset', 'register'), key the address or
-- account it was tried from or on.
CREATE TABLE portal_attempts (
    id   INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    key  TEXT NOT NULL COLLATE NOCASE,
    at   INTEGER NOT NULL
);
CREATE INDEX portal_attempts_kind_key ON portal_attempts(kind, key, at);

INSERT OR IGNORE INTO settings (key, value, updated_at) VALUES
    ('portal.accounts', 'optional', CAST(strftime('%s', 'now') AS INTEGER));
