-- Outbound mail: the outbox (every message is written here in the same
-- transaction as the change that causes it, then delivered by a worker) and
-- admins' overrides of the embedded mail templates.

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL,           -- template name: auto_response, response, alert_new_ticket…
    ticket_id       INTEGER REFERENCES tickets(id) ON DELETE SET NULL,
    entry_id        INTEGER REFERENCES entries(id) ON DELETE SET NULL,
    message_id      TEXT NOT NULL UNIQUE,    -- without angle brackets, fixed at queue time
    envelope_from   TEXT NOT NULL,
    recipients      TEXT NOT NULL,           -- envelope recipients, one per line, lower case
    subject         TEXT NOT NULL,           -- decoded, for listings
    raw             BLOB NOT NULL,           -- the complete RFC 5322 message
    state           TEXT NOT NULL DEFAULT 'queued'
                    CHECK (state IN ('queued', 'sending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    queued_at       INTEGER NOT NULL,        -- queued, or queued again by an admin: the give-up clock
    claim           TEXT,                    -- token of the worker holding the lease
    lease_until     INTEGER,                 -- a 'sending' row past this is reclaimed
    last_answer     TEXT,                    -- the server's last answer, or the local error
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER
);
CREATE INDEX outbox_due ON outbox(state, next_attempt_at);
CREATE INDEX outbox_kind_recipients ON outbox(kind, recipients, created_at);
CREATE INDEX outbox_ticket ON outbox(ticket_id);

-- An admin's version of a mail template; `lang` '' is the version for every
-- language without its own.
CREATE TABLE mail_templates (
    name       TEXT NOT NULL,
    lang       TEXT NOT NULL DEFAULT '',
    subject    TEXT NOT NULL,
    body_text  TEXT NOT NULL,
    body_html  TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (name, lang)
) WITHOUT ROWID;

INSERT INTO settings (key, value, updated_at) VALUES
    ('mail.auto_response', 'true', CAST(strftime('%s', 'now') AS INTEGER)),
    ('mail.auto_response_per_hour', '5', CAST(strftime('%s', 'now') AS INTEGER)),
    ('mail.send_responses', 'true', CAST(strftime('%s', 'now') AS INTEGER)),
    ('mail.alert_new_ticket', 'true', CAST(strftime('%s', 'now') AS INTEGER)),
    ('mail.alert_new_message', 'true', CAST(strftime('%s', 'now') AS INTEGER)),
    ('mail.alert_assigned', 'true', CAST(strftime('%s', 'now') AS INTEGER)),
    ('mail.alert_overdue', 'true', CAST(strftime('%s', 'now') AS INTEGER)),
    ('mail.keep_sent_days', '30', CAST(strftime('%s', 'now') AS INTEGER)),
    ('portal.link_ttl_days', '30', CAST(strftime('%s', 'now') AS INTEGER))
ON CONFLICT(key) DO NOTHING;
