-- Core schema: tickets and their threads, customers, staff, departments,
-- attachments, raw inbound mail, the event log, API keys and search.
-- Timestamps are Unix seconds (INTEGER).

CREATE TABLE settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE staff (
    id             INTEGER PRIMARY KEY,
    email          TEXT NOT NULL COLLATE NOCASE UNIQUE,
    name           TEXT NOT NULL,
    password_hash  TEXT NOT NULL,
    is_admin       INTEGER NOT NULL DEFAULT 0,
    active         INTEGER NOT NULL DEFAULT 1,
    away           INTEGER NOT NULL DEFAULT 0,
    locale         TEXT,
    signature      TEXT NOT NULL DEFAULT '',
    created_at     INTEGER NOT NULL,
    last_login_at  INTEGER
);

CREATE TABLE departments (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    email         TEXT,
    email_name    TEXT,
    manager_id    INTEGER REFERENCES staff(id) ON DELETE SET NULL,
    public        INTEGER NOT NULL DEFAULT 1,
    auto_response INTEGER NOT NULL DEFAULT 1,
    created_at    INTEGER NOT NULL
);

CREATE TABLE staff_departments (
    staff_id      INTEGER NOT NULL REFERENCES staff(id) ON DELETE CASCADE,
    department_id INTEGER NOT NULL REFERENCES departments(id) ON DELETE CASCADE,
    role          TEXT NOT NULL DEFAULT 'agent',
    PRIMARY KEY (staff_id, department_id)
) WITHOUT ROWID;
CREATE INDEX staff_departments_department ON staff_departments(department_id);

CREATE TABLE priorities (
    id    INTEGER PRIMARY KEY,
    name  TEXT NOT NULL UNIQUE,
    rank  INTEGER NOT NULL,   -- higher is more urgent
    color TEXT NOT NULL
);

CREATE TABLE help_topics (
    id            INTEGER PRIMARY KEY,
    parent_id     INTEGER REFERENCES help_topics(id) ON DELETE SET NULL,
    name          TEXT NOT NULL,
    department_id INTEGER REFERENCES departments(id) ON DELETE SET NULL,
    priority_id   INTEGER REFERENCES priorities(id) ON DELETE SET NULL,
    public        INTEGER NOT NULL DEFAULT 1,
    active        INTEGER NOT NULL DEFAULT 1,
    sort          INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
);

CREATE TABLE customers (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL DEFAULT '',
    locale     TEXT,
    created_at INTEGER NOT NULL
);

-- A customer's email addresses. Lookups are case-insensitive.
CREATE TABLE customer_identities (
    id          INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    email       TEXT NOT NULL COLLATE NOCASE UNIQUE,
    verified    INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL
);
CREATE INDEX customer_identities_customer ON customer_identities(customer_id);

CREATE TABLE tickets (
    id                INTEGER PRIMARY KEY,
    number            TEXT NOT NULL UNIQUE,
    subject           TEXT NOT NULL,
    status            TEXT NOT NULL DEFAULT 'open'
                      CHECK (status IN ('open', 'answered', 'pending', 'resolved', 'closed')),
    priority_id       INTEGER NOT NULL REFERENCES priorities(id),
    department_id     INTEGER NOT NULL REFERENCES departments(id),
    help_topic_id     INTEGER REFERENCES help_topics(id) ON DELETE SET NULL,
    assignee_id       INTEGER REFERENCES staff(id) ON DELETE SET NULL,
    customer_id       INTEGER NOT NULL REFERENCES customers(id),
    source            TEXT NOT NULL CHECK (source IN ('email', 'web', 'phone', 'api')),
    is_spam           INTEGER NOT NULL DEFAULT 0,
    is_overdue        INTEGER NOT NULL DEFAULT 0,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    last_message_at   INTEGER,   -- last customer message
    last_response_at  INTEGER,   -- last staff response
    first_response_at INTEGER,
    due_at            INTEGER,
    closed_at         INTEGER,
    merged_into_id    INTEGER REFERENCES tickets(id) ON DELETE SET NULL
);
CREATE INDEX tickets_customer ON tickets(customer_id, created_at);
CREATE INDEX tickets_status_updated ON tickets(status, updated_at);
CREATE INDEX tickets_department_status ON tickets(department_id, status, updated_at);
CREATE INDEX tickets_assignee_status ON tickets(assignee_id, status, updated_at);
CREATE INDEX tickets_due ON tickets(due_at) WHERE due_at IS NOT NULL AND status NOT IN ('resolved', 'closed');

-- Raw inbound mail, kept byte for byte. `dedupe_key` makes redelivery of the
-- same message (an MTA retry) idempotent; different messages that share a
-- Message-ID get different keys.
CREATE TABLE raw_messages (
    id          INTEGER PRIMARY KEY,
    dedupe_key  TEXT NOT NULL UNIQUE,
    message_id  TEXT,
    size        INTEGER NOT NULL,
    data        BLOB NOT NULL,
    source      TEXT NOT NULL,             -- pipe, api, retry
    status      TEXT NOT NULL
                CHECK (status IN ('stored', 'quarantined', 'rejected')),
    error       TEXT,                      -- why it was quarantined or rejected
    ticket_id   INTEGER REFERENCES tickets(id) ON DELETE SET NULL,
    received_at INTEGER NOT NULL
);
CREATE INDEX raw_messages_status ON raw_messages(status, received_at);

-- A ticket's thread: customer messages, staff responses, internal notes.
CREATE TABLE entries (
    id             INTEGER PRIMARY KEY,
    ticket_id      INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    kind           TEXT NOT NULL CHECK (kind IN ('message', 'response', 'note')),
    staff_id       INTEGER REFERENCES staff(id) ON DELETE SET NULL,
    customer_id    INTEGER REFERENCES customers(id) ON DELETE SET NULL,
    author_name    TEXT NOT NULL DEFAULT '',
    author_email   TEXT,
    body_text      TEXT NOT NULL,
    body_html      TEXT,                  -- sanitised before it is stored
    message_id     TEXT,                  -- without angle brackets
    in_reply_to    TEXT,
    refs           TEXT,                  -- References, space separated
    raw_message_id INTEGER REFERENCES raw_messages(id) ON DELETE SET NULL,
    is_auto_reply  INTEGER NOT NULL DEFAULT 0,
    is_bounce      INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL
);
CREATE INDEX entries_ticket ON entries(ticket_id, id);
CREATE INDEX entries_message_id ON entries(message_id) WHERE message_id IS NOT NULL;

-- File contents, deduplicated by SHA-256.
CREATE TABLE blobs (
    id     INTEGER PRIMARY KEY,
    sha256 TEXT NOT NULL UNIQUE,
    size   INTEGER NOT NULL,
    data   BLOB NOT NULL
);

CREATE TABLE attachments (
    id         INTEGER PRIMARY KEY,
    entry_id   INTEGER NOT NULL REFERENCES entries(id) ON DELETE CASCADE,
    blob_id    INTEGER NOT NULL REFERENCES blobs(id),
    filename   TEXT NOT NULL,
    mime_type  TEXT NOT NULL,
    size       INTEGER NOT NULL,
    inline     INTEGER NOT NULL DEFAULT 0,
    content_id TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX attachments_entry ON attachments(entry_id);
CREATE INDEX attachments_blob ON attachments(blob_id);

-- Who did what, when. Also the feed for plugins' event hooks.
CREATE TABLE events (
    id                INTEGER PRIMARY KEY,
    ticket_id         INTEGER REFERENCES tickets(id) ON DELETE CASCADE,
    staff_id          INTEGER REFERENCES staff(id) ON DELETE SET NULL,
    customer_id       INTEGER REFERENCES customers(id) ON DELETE SET NULL,
    actor             TEXT NOT NULL DEFAULT '',   -- display name or 'system'
    kind              TEXT NOT NULL,
    data              TEXT NOT NULL DEFAULT '{}', -- JSON details
    created_at        INTEGER NOT NULL
);
CREATE INDEX events_ticket ON events(ticket_id, id);

CREATE TABLE api_keys (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL,
    key_hash     TEXT NOT NULL UNIQUE,   -- SHA-256 of the key; the key is shown once
    key_prefix   TEXT NOT NULL,          -- first characters, to recognise it in lists
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
);

-- Full-text search over subjects, thread bodies and customer email, kept in
-- sync by triggers. External-content tables: the text lives once, in the
-- base tables.
CREATE VIRTUAL TABLE tickets_fts USING fts5(
    subject, content='tickets', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
);
CREATE VIRTUAL TABLE entries_fts USING fts5(
    body_text, content='entries', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
);
CREATE VIRTUAL TABLE identities_fts USING fts5(
    email, content='customer_identities', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
);

CREATE TRIGGER tickets_fts_ai AFTER INSERT ON tickets BEGIN
    INSERT INTO tickets_fts(rowid, subject) VALUES (new.id, new.subject);
END;
CREATE TRIGGER tickets_fts_ad AFTER DELETE ON tickets BEGIN
    INSERT INTO tickets_fts(tickets_fts, rowid, subject) VALUES ('delete', old.id, old.subject);
END;
CREATE TRIGGER tickets_fts_au AFTER UPDATE OF subject ON tickets BEGIN
    INSERT INTO tickets_fts(tickets_fts, rowid, subject) VALUES ('delete', old.id, old.subject);
    INSERT INTO tickets_fts(rowid, subject) VALUES (new.id, new.subject);
END;

CREATE TRIGGER entries_fts_ai AFTER INSERT ON entries BEGIN
    INSERT INTO entries_fts(rowid, body_text) VALUES (new.id, new.body_text);
END;
CREATE TRIGGER entries_fts_ad AFTER DELETE ON entries BEGIN
    INSERT INTO entries_fts(entries_fts, rowid, body_text) VALUES ('delete', old.id, old.body_text);
END;
CREATE TRIGGER entries_fts_au AFTER UPDATE OF body_text ON entries BEGIN
    INSERT INTO entries_fts(entries_fts, rowid, body_text) VALUES ('delete', old.id, old.body_text);
    INSERT INTO entries_fts(rowid, body_text) VALUES (new.id, new.body_text);
END;

CREATE TRIGGER identities_fts_ai AFTER INSERT ON customer_identities BEGIN
    INSERT INTO identities_fts(rowid, email) VALUES (new.id, new.email);
END;
CREATE TRIGGER identities_fts_ad AFTER DELETE ON customer_identities BEGIN
    INSERT INTO identities_fts(identities_fts, rowid, email) VALUES ('delete', old.id, old.email);
END;
CREATE TRIGGER identities_fts_au AFTER UPDATE OF email ON customer_identities BEGIN
    INSERT INTO identities_fts(identities_fts, rowid, email) VALUES ('delete', old.id, old.email);
    INSERT INTO identities_fts(rowid, email) VALUES (new.id, new.email);
END;

-- Defaults a fresh helpdesk starts with.
INSERT INTO departments (id, name, public, auto_response, created_at)
    VALUES (1, 'Support', 1, 1, CAST(strftime('%s', 'now') AS INTEGER));
INSERT INTO priorities (id, name, rank, color) VALUES
    (1, 'low', 1, '#6b7280'),
    (2, 'normal', 2, '#2563eb'),
    (3, 'high', 3, '#d97706'),
    (4, 'emergency', 4, '#dc2626');
INSERT INTO settings (key, value, updated_at) VALUES
    ('helpdesk.name', 'Oxidesk', CAST(strftime('%s', 'now') AS INTEGER)),
    ('tickets.default_department_id', '1', CAST(strftime('%s', 'now') AS INTEGER)),
    ('tickets.default_priority_id', '2', CAST(strftime('%s', 'now') AS INTEGER)),
    ('tickets.number_format', '######', CAST(strftime('%s', 'now') AS INTEGER)),
    ('tickets.reopen_on_reply', 'true', CAST(strftime('%s', 'now') AS INTEGER));
