-- Ticket filters (rules): evaluated in `position` order on every new
-- ticket. Conditions and actions are rows rather than a JSON column: the
-- database checks their kinds and operators, the admin can ask which
-- filters name a department or a staff member with plain SQL, and deleting
-- a filter removes its rows by cascade.

CREATE TABLE filters (
    id              INTEGER PRIMARY KEY,
    name            TEXT NOT NULL COLLATE NOCASE UNIQUE,
    position        INTEGER NOT NULL,          -- evaluation order, ascending
    active          INTEGER NOT NULL DEFAULT 1,
    match_all       INTEGER NOT NULL DEFAULT 1, -- 1: all conditions, 0: any
    stop_processing INTEGER NOT NULL DEFAULT 0, -- no later filter runs after a match
    -- Sources the filter applies to, comma separated ('email,web'); empty
    -- means every source.
    sources         TEXT NOT NULL DEFAULT '',
    notes           TEXT NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX filters_position ON filters(position, id);

CREATE TABLE filter_conditions (
    id        INTEGER PRIMARY KEY,
    filter_id INTEGER NOT NULL REFERENCES filters(id) ON DELETE CASCADE,
    position  INTEGER NOT NULL,
    field     TEXT NOT NULL CHECK (field IN ('sender_address', 'sender_domain', 'recipient',
                  'subject', 'body', 'header', 'help_topic', 'source')),
    header    TEXT NOT NULL DEFAULT '',        -- the header's name, for field 'header'
    op        TEXT NOT NULL CHECK (op IN ('equals', 'not_equals', 'contains',
                  'not_contains', 'starts_with', 'ends_with', 'regex')),
    value     TEXT NOT NULL
);
CREATE INDEX filter_conditions_filter ON filter_conditions(filter_id, position);

CREATE TABLE filter_actions (
    id        INTEGER PRIMARY KEY,
    filter_id INTEGER NOT NULL REFERENCES filters(id) ON DELETE CASCADE,
    position  INTEGER NOT NULL,
    kind      TEXT NOT NULL CHECK (kind IN ('set_department', 'set_help_topic', 'set_priority',
                  'set_sla_plan', 'assign_staff', 'assign_team', 'set_status', 'add_note',
                  'reject', 'ban_sender', 'skip_auto_response', 'stop_processing')),
    -- The target id (department, staff…), the status name or the note text;
    -- empty for actions without a value.
    value     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX filter_actions_filter ON filter_actions(filter_id, position);

-- The ban list holds addresses ("user@example.com") and whole domains
-- ("@example.com"); why an entry is there (an admin's note, the filter
-- that banned it) is kept beside it.
ALTER TABLE banned_senders ADD COLUMN note TEXT NOT NULL DEFAULT '';
