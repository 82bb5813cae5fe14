-- Roles and permissions, teams, and team assignment of tickets.
--
-- A role is a named set of permissions. An agent's permissions on a ticket
-- are those of the role of their membership in the ticket's department
-- (administrators have all). Teams group agents across departments; a
-- ticket assigned to a team is visible to its members.

CREATE TABLE roles (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL COLLATE NOCASE UNIQUE,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- One row per permission a role grants. The names are checked by the
-- application (tickets::permissions), so adding one needs no migration.
CREATE TABLE role_permissions (
    role_id    INTEGER NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    permission TEXT NOT NULL,
    PRIMARY KEY (role_id, permission)
) WITHOUT ROWID;

-- The roles osTicket users know. "Expanded access" is what every agent
-- could do before roles existed (everything but deleting tickets and
-- managing shared canned responses), so it is the default role.
INSERT INTO roles (id, name, created_at, updated_at) VALUES
    (1, 'All access', CAST(strftime('%s', 'now') AS INTEGER), CAST(strftime('%s', 'now') AS INTEGER)),
    (2, 'Expanded access', CAST(strftime('%s', 'now') AS INTEGER), CAST(strftime('%s', 'now') AS INTEGER)),
    (3, 'Limited access', CAST(strftime('%s', 'now') AS INTEGER), CAST(strftime('%s', 'now') AS INTEGER)),
    (4, 'View only', CAST(strftime('%s', 'now') AS INTEGER), CAST(strftime('%s', 'now') AS INTEGER));
INSERT INTO role_permissions (role_id, permission) VALUES
    (1, 'reply'), (1, 'note'), (1, 'assign'), (1, 'transfer'), (1, 'close'), (1, 'delete'),
    (1, 'merge'), (1, 'edit'), (1, 'ban'), (1, 'canned'), (1, 'reports'),
    (2, 'reply'), (2, 'note'), (2, 'assign'), (2, 'transfer'), (2, 'close'),
    (2, 'merge'), (2, 'edit'), (2, 'ban'),
    (3, 'reply'), (3, 'note'), (3, 'assign'), (3, 'transfer');
INSERT INTO settings (key, value, updated_at) VALUES
    ('roles.default_role_id', '2', CAST(strftime('%s', 'now') AS INTEGER));

-- The role of each department membership. The old free-text `role` stays
-- (older code and seeds still write it) and is mapped once here, and by the
-- trigger below for rows inserted without a role id.
ALTER TABLE staff_departments ADD COLUMN role_id INTEGER REFERENCES roles(id) ON DELETE SET NULL;
UPDATE staff_departments SET role_id = COALESCE(
    (SELECT id FROM roles WHERE id = CASE lower(trim(role))
        WHEN 'manager' THEN 1 WHEN 'admin' THEN 1 WHEN 'all' THEN 1
        WHEN 'expanded' THEN 2
        WHEN 'limited' THEN 3
        WHEN 'viewer' THEN 4 WHEN 'view' THEN 4 WHEN 'readonly' THEN 4
        END),
    (SELECT r.id FROM roles r JOIN settings s ON s.key = 'roles.default_role_id'
     WHERE r.id = CAST(s.value AS INTEGER)));

CREATE TRIGGER staff_departments_role_ai AFTER INSERT ON staff_departments
WHEN new.role_id IS NULL
BEGIN
    UPDATE staff_departments SET role_id = COALESCE(
        (SELECT id FROM roles WHERE id = CASE lower(trim(new.role))
            WHEN 'manager' THEN 1 WHEN 'admin' THEN 1 WHEN 'all' THEN 1
            WHEN 'expanded' THEN 2
            WHEN 'limited' THEN 3
            WHEN 'viewer' THEN 4 WHEN 'view' THEN 4 WHEN 'readonly' THEN 4
            END),
        (SELECT r.id FROM roles r JOIN settings s ON s.key = 'roles.default_role_id'
         WHERE r.id = CAST(s.value AS INTEGER)))
    WHERE staff_id = new.staff_id AND department_id = new.department_id;
END;

CREATE TABLE teams (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL COLLATE NOCASE UNIQUE,
    lead_id    INTEGER REFERENCES staff(id) ON DELETE SET NULL,
    active     INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE team_members (
    team_id  INTEGER NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    staff_id INTEGER NOT NULL REFERENCES staff(id) ON DELETE CASCADE,
    PRIMARY KEY (team_id, staff_id)
) WITHOUT ROWID;
CREATE INDEX team_members_staff ON team_members(staff_id);

ALTER TABLE tickets ADD COLUMN team_id INTEGER REFERENCES teams(id) ON DELETE SET NULL;
-- Team queues and the visibility of team tickets read this index.
CREATE INDEX tickets_team_status ON tickets(team_id, status, updated_at);
