-- Customer portal: custom fields per help topic, their values on tickets,
-- and the per-address counter behind the new-ticket form's rate limit.

CREATE TABLE form_fields (
    id            INTEGER PRIMARY KEY,
    help_topic_id INTEGER NOT NULL REFERENCES help_topics(id) ON DELETE CASCADE,
    label         TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN
                      ('text', 'long_text', 'number', 'choice', 'multi_choice', 'checkbox', 'date')),
    required      INTEGER NOT NULL DEFAULT 0,
    help          TEXT NOT NULL DEFAULT '',
    options       TEXT NOT NULL DEFAULT '[]',  -- JSON array of choices
    sort          INTEGER NOT NULL DEFAULT 0,
    active        INTEGER NOT NULL DEFAULT 1,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX form_fields_topic ON form_fields(help_topic_id, sort, id);

-- What the customer entered. Label and kind are copied so that renaming a
-- field, or deleting its help topic (which deletes the topic's fields),
-- never changes or loses what a ticket said.
CREATE TABLE ticket_field_values (
    id         INTEGER PRIMARY KEY,
    ticket_id  INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    field_id   INTEGER REFERENCES form_fields(id) ON DELETE SET NULL,
    label      TEXT NOT NULL,
    kind       TEXT NOT NULL,
    value      TEXT NOT NULL   -- multi_choice: JSON array; checkbox: '1' or '0'
);
CREATE UNIQUE INDEX ticket_field_values_field ON ticket_field_values(ticket_id, field_id);

-- One row per ticket opened on the portal, kept a day: counts for the
-- per-address hourly limit, and the form's time token (hashed) so sending
-- the same form twice (double click, reload) shows the first ticket again.
CREATE TABLE portal_submissions (
    id         INTEGER PRIMARY KEY,
    ip         TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    ticket_id  INTEGER REFERENCES tickets(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL
);
CREATE INDEX portal_submissions_token ON portal_submissions(token_hash);
CREATE INDEX portal_submissions_ip ON portal_submissions(ip, created_at);
