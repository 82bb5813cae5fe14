-- Tags: short labels on tickets, set by inbound-mail filters (plugins) and
-- by staff. One row per distinct tag; names are kept as typed for display
-- and matched case-insensitively (`name_key` is the lower-cased name).
CREATE TABLE tags (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    name_key    TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
);

CREATE TABLE ticket_tags (
    ticket_id   INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    tag_id      INTEGER NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (ticket_id, tag_id)
) WITHOUT ROWID;
-- The queue filter `?tag=` walks from the tag to its tickets.
CREATE INDEX ticket_tags_tag ON ticket_tags(tag_id, ticket_id);

-- The admin's list of tickets held as spam (to release false positives):
-- only spam rows are indexed.
CREATE INDEX tickets_spam_updated ON tickets(updated_at) WHERE is_spam = 1;
