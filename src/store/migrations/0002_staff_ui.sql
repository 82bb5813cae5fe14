-- Staff UI: sessions, login throttling, canned responses, reply locks, the
-- per-group ticket counts behind the queue navigation, and queue indexes.

ALTER TABLE staff ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0;

-- A signed-in browser. The cookie holds a random 256-bit token; only its
-- SHA-256 is stored, so a copy of the database cannot sign anyone in.
CREATE TABLE staff_sessions (
    id           INTEGER PRIMARY KEY,
    token_hash   TEXT NOT NULL UNIQUE,
    staff_id     INTEGER NOT NULL REFERENCES staff(id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    ip           TEXT NOT NULL DEFAULT '',
    user_agent   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX staff_sessions_staff ON staff_sessions(staff_id);

-- Failed sign-ins, counted per account and per address over a window.
CREATE TABLE login_failures (
    id    INTEGER PRIMARY KEY,
    email TEXT NOT NULL COLLATE NOCASE,
    ip    TEXT NOT NULL,
    at    INTEGER NOT NULL
);
CREATE INDEX login_failures_email ON login_failures(email, at);
CREATE INDEX login_failures_ip ON login_failures(ip, at);

-- Canned responses: shared when staff_id is NULL, personal otherwise.
CREATE TABLE canned_responses (
    id         INTEGER PRIMARY KEY,
    staff_id   INTEGER REFERENCES staff(id) ON DELETE CASCADE,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX canned_responses_staff ON canned_responses(staff_id);

-- "X is replying": one lock per ticket, renewed while the agent types.
CREATE TABLE ticket_locks (
    ticket_id  INTEGER PRIMARY KEY REFERENCES tickets(id) ON DELETE CASCADE,
    staff_id   INTEGER NOT NULL REFERENCES staff(id) ON DELETE CASCADE,
    expires_at INTEGER NOT NULL
);

-- Ticket counts per group, kept by triggers, so the queue navigation sums a
-- few hundred rows instead of counting a million tickets.
-- assignee_id 0 stands for "unassigned".
CREATE TABLE ticket_counts (
    department_id INTEGER NOT NULL,
    assignee_id   INTEGER NOT NULL,
    status        TEXT NOT NULL,
    is_overdue    INTEGER NOT NULL,
    is_spam       INTEGER NOT NULL,
    n             INTEGER NOT NULL,
    PRIMARY KEY (department_id, assignee_id, status, is_overdue, is_spam)
) WITHOUT ROWID;

INSERT INTO ticket_counts (department_id, assignee_id, status, is_overdue, is_spam, n)
    SELECT department_id, COALESCE(assignee_id, 0), status, is_overdue, is_spam, COUNT(*)
    FROM tickets GROUP BY 1, 2, 3, 4, 5;

CREATE TRIGGER ticket_counts_ai AFTER INSERT ON tickets BEGIN
    INSERT INTO ticket_counts (department_id, assignee_id, status, is_overdue, is_spam, n)
        VALUES (new.department_id, COALESCE(new.assignee_id, 0), new.status, new.is_overdue, new.is_spam, 1)
        ON CONFLICT DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER ticket_counts_ad AFTER DELETE ON tickets BEGIN
    UPDATE ticket_counts SET n = n - 1
        WHERE department_id = old.department_id AND assignee_id = COALESCE(old.assignee_id, 0)
          AND status = old.status AND is_overdue = old.is_overdue AND is_spam = old.is_spam;
END;

CREATE TRIGGER ticket_counts_au AFTER UPDATE OF department_id, assignee_id, status, is_overdue, is_spam ON tickets
WHEN old.department_id IS NOT new.department_id OR old.assignee_id IS NOT new.assignee_id
  OR old.status IS NOT new.status OR old.is_overdue IS NOT new.is_overdue OR old.is_spam IS NOT new.is_spam
BEGIN
    UPDATE ticket_counts SET n = n - 1
        WHERE department_id = old.department_id AND assignee_id = COALESCE(old.assignee_id, 0)
          AND status = old.status AND is_overdue = old.is_overdue AND is_spam = old.is_spam;
    INSERT INTO ticket_counts (department_id, assignee_id, status, is_overdue, is_spam, n)
        VALUES (new.department_id, COALESCE(new.assignee_id, 0), new.status, new.is_overdue, new.is_spam, 1)
        ON CONFLICT DO UPDATE SET n = n + 1;
END;

-- Queue indexes: every queue reads newest-updated first and stops after one
-- page. The partial indexes match the queue predicates word for word.
CREATE INDEX tickets_active_updated ON tickets(updated_at)
    WHERE status IN ('open', 'answered', 'pending') AND is_spam = 0;
CREATE INDEX tickets_done_updated ON tickets(updated_at)
    WHERE status IN ('resolved', 'closed') AND is_spam = 0;
CREATE INDEX tickets_overdue_updated ON tickets(updated_at)
    WHERE is_overdue = 1 AND status IN ('open', 'answered', 'pending') AND is_spam = 0;
CREATE INDEX tickets_unassigned_updated ON tickets(updated_at)
    WHERE assignee_id IS NULL AND status = 'open' AND is_spam = 0;

-- Senders staff banned with "mark spam / ban sender"; mail intake refuses
-- them.
CREATE TABLE banned_senders (
    email      TEXT PRIMARY KEY COLLATE NOCASE,
    staff_id   INTEGER REFERENCES staff(id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;

-- Per-department and per-assignee active queues, newest first.
CREATE INDEX tickets_department_active_updated ON tickets(department_id, updated_at)
    WHERE status IN ('open', 'answered', 'pending') AND is_spam = 0;
CREATE INDEX tickets_assignee_active_updated ON tickets(assignee_id, updated_at)
    WHERE status IN ('open', 'answered', 'pending') AND is_spam = 0;
