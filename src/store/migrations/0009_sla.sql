-- SLA plans and business hours: schedules (weekly hours in a time zone,
-- holidays), the plan a ticket runs under and when its SLA clock started,
-- when it was resolved; auto-assignment per department.

-- A schedule: when the helpdesk counts time for SLA purposes. `always_open`
-- schedules (the built-in 24/7) ignore hours and holidays.
CREATE TABLE schedules (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    timezone    TEXT NOT NULL DEFAULT 'UTC',   -- IANA name
    always_open INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

-- Opening hours, in the schedule's local time: weekday 0 = Monday … 6 =
-- Sunday, minutes from local midnight, end exclusive (1440 = midnight).
-- A day may have several intervals (09:00–12:30, 13:30–18:00).
CREATE TABLE schedule_hours (
    id          INTEGER PRIMARY KEY,
    schedule_id INTEGER NOT NULL REFERENCES schedules(id) ON DELETE CASCADE,
    weekday     INTEGER NOT NULL CHECK (weekday BETWEEN 0 AND 6),
    start_min   INTEGER NOT NULL CHECK (start_min BETWEEN 0 AND 1439),
    end_min     INTEGER NOT NULL CHECK (end_min BETWEEN 1 AND 1440),
    CHECK (start_min < end_min)
);
CREATE INDEX schedule_hours_schedule ON schedule_hours(schedule_id, weekday, start_min);

-- Days the schedule is closed, as local dates (YYYY-MM-DD).
CREATE TABLE schedule_holidays (
    id          INTEGER PRIMARY KEY,
    schedule_id INTEGER NOT NULL REFERENCES schedules(id) ON DELETE CASCADE,
    day         TEXT NOT NULL,
    name        TEXT NOT NULL DEFAULT '',
    UNIQUE (schedule_id, day)
);

-- An SLA plan: a ticket waiting for staff must be answered within
-- `grace_minutes` of business time on `schedule_id`. Past due, the overdue
-- task marks it, alerts (when `overdue_alerts`) and escalates: priority up
-- one rank (`escalate_priority`) and/or reassignment (`escalate_to_staff_id`).
CREATE TABLE sla_plans (
    id                   INTEGER PRIMARY KEY,
    name                 TEXT NOT NULL UNIQUE,
    grace_minutes        INTEGER NOT NULL CHECK (grace_minutes > 0),
    schedule_id          INTEGER NOT NULL REFERENCES schedules(id),
    active               INTEGER NOT NULL DEFAULT 1,
    escalate_priority    INTEGER NOT NULL DEFAULT 0,
    escalate_to_staff_id INTEGER REFERENCES staff(id) ON DELETE SET NULL,
    overdue_alerts       INTEGER NOT NULL DEFAULT 1,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
);

-- The plan a ticket runs under; `sla_plan_explicit` when it was named (by a
-- rule, an agent) rather than inherited from the help topic, department or
-- default, so a transfer or topic change re-derives only inherited plans.
-- `sla_started_at`: when the current wait for staff began (opening, or the
-- customer writing again after an answer); due_at counts from it.
-- `resolved_at`: when staff or a rule last resolved/closed the ticket
-- (closed_at also covers spam and merges).
ALTER TABLE tickets ADD COLUMN sla_plan_id INTEGER REFERENCES sla_plans(id) ON DELETE SET NULL;
ALTER TABLE tickets ADD COLUMN sla_plan_explicit INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tickets ADD COLUMN sla_started_at INTEGER;
ALTER TABLE tickets ADD COLUMN resolved_at INTEGER;

ALTER TABLE help_topics ADD COLUMN sla_plan_id INTEGER REFERENCES sla_plans(id) ON DELETE SET NULL;
ALTER TABLE departments ADD COLUMN sla_plan_id INTEGER REFERENCES sla_plans(id) ON DELETE SET NULL;

-- Auto-assignment of new tickets nobody was named for. Round robin goes to
-- the next available member after `assign_cursor` (a staff id).
ALTER TABLE departments ADD COLUMN assign_strategy TEXT NOT NULL DEFAULT 'none'
    CHECK (assign_strategy IN ('none', 'round_robin', 'least_open'));
ALTER TABLE departments ADD COLUMN assign_cursor INTEGER;

-- Built in: a 24/7 schedule (id 1, cannot be removed), a weekday office
-- schedule to start from, and osTicket's "Default SLA" of 18 hours,
-- the default for new tickets.
INSERT INTO schedules (id, name, timezone, always_open, created_at, updated_at) VALUES
    (1, '24/7', 'UTC', 1, CAST(strftime('%s', 'now') AS INTEGER), CAST(strftime('%s', 'now') AS INTEGER)),
    (2, 'Weekdays 09:00–17:00', 'UTC', 0, CAST(strftime('%s', 'now') AS INTEGER), CAST(strftime('%s', 'now') AS INTEGER));
INSERT INTO schedule_hours (schedule_id, weekday, start_min, end_min) VALUES
    (2, 0, 540, 1020), (2, 1, 540, 1020), (2, 2, 540, 1020), (2, 3, 540, 1020), (2, 4, 540, 1020);
INSERT INTO sla_plans (id, name, grace_minutes, schedule_id, created_at, updated_at) VALUES
    (1, 'Default SLA', 1080, 1, CAST(strftime('%s', 'now') AS INTEGER), CAST(strftime('%s', 'now') AS INTEGER));
INSERT INTO settings (key, value, updated_at) VALUES
    ('tickets.default_sla_plan_id', '1', CAST(strftime('%s', 'now') AS INTEGER)),
    ('helpdesk.timezone', 'UTC', CAST(strftime('%s', 'now') AS INTEGER))
    ON CONFLICT(key) DO NOTHING;
