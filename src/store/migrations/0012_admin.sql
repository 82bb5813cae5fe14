-- The admin area: custom status labels, help topic auto-assignment and
-- auto-response override, shared canned responses per department, and an
-- index for the audit log (configuration events have no ticket).

-- Custom statuses: labels an admin names, each mapped to one of the five
-- states the domain works with. A ticket's `status_id` says which label it
-- shows; NULL means the first status (by sort) of its state.
CREATE TABLE statuses (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL COLLATE NOCASE UNIQUE,
    state      TEXT NOT NULL
               CHECK (state IN ('open', 'answered', 'pending', 'resolved', 'closed')),
    sort       INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX statuses_state ON statuses(state, sort, id);

-- One status per state, so labels are what they were before.
INSERT INTO statuses (id, name, state, sort, created_at, updated_at) VALUES
    (1, 'Open', 'open', 1, CAST(strftime('%s', 'now') AS INTEGER), CAST(strftime('%s', 'now') AS INTEGER)),
    (2, 'Answered', 'answered', 2, CAST(strftime('%s', 'now') AS INTEGER), CAST(strftime('%s', 'now') AS INTEGER)),
    (3, 'Pending', 'pending', 3, CAST(strftime('%s', 'now') AS INTEGER), CAST(strftime('%s', 'now') AS INTEGER)),
    (4, 'Resolved', 'resolved', 4, CAST(strftime('%s', 'now') AS INTEGER), CAST(strftime('%s', 'now') AS INTEGER)),
    (5, 'Closed', 'closed', 5, CAST(strftime('%s', 'now') AS INTEGER), CAST(strftime('%s', 'now') AS INTEGER));

ALTER TABLE tickets ADD COLUMN status_id INTEGER REFERENCES statuses(id) ON DELETE SET NULL;

-- A state change that does not name a label (a reply, a customer message
-- reopening the ticket, a rule) drops the old label: a ticket reopened from
-- "Closed – duplicate" must not keep showing it.
CREATE TRIGGER tickets_status_label_reset AFTER UPDATE OF status ON tickets
WHEN old.status IS NOT new.status AND new.status_id IS NOT NULL
     AND new.status_id IS old.status_id
BEGIN
    UPDATE tickets SET status_id = NULL WHERE id = new.id;
END;

-- Help topics: who new tickets are assigned to (a staff member or a team),
-- and whether the customer gets an auto-response (NULL: as the department
-- says; 0 never; 1 always).
ALTER TABLE help_topics ADD COLUMN auto_assign_staff_id INTEGER REFERENCES staff(id) ON DELETE SET NULL;
ALTER TABLE help_topics ADD COLUMN auto_assign_team_id INTEGER REFERENCES teams(id) ON DELETE SET NULL;
ALTER TABLE help_topics ADD COLUMN auto_response INTEGER CHECK (auto_response IN (0, 1));

-- Shared canned responses (staff_id NULL) may be limited to one department.
ALTER TABLE canned_responses ADD COLUMN department_id INTEGER REFERENCES departments(id) ON DELETE CASCADE;

CREATE INDEX events_audit ON events(kind, id) WHERE ticket_id IS NULL;
