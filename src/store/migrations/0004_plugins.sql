-- Plugins: how far each plugin has read the event log, how its last runs
-- went (shown on the admin page), and the durable queue of work plugins
-- asked for (webhook deliveries…), which doubles as their delivery log.

CREATE TABLE plugin_state (
    plugin          TEXT PRIMARY KEY,
    -- The last event handed to the plugin. A plugin enabled for the first
    -- time starts at the end of the log, not at the beginning.
    cursor_event_id INTEGER NOT NULL DEFAULT 0,
    last_run_at     INTEGER,
    last_ok_at      INTEGER,
    last_error      TEXT,
    last_error_at   INTEGER,
    created_at      INTEGER NOT NULL
);

CREATE TABLE plugin_jobs (
    id              INTEGER PRIMARY KEY,
    plugin          TEXT NOT NULL,
    event_id        INTEGER,       -- no foreign key: the log outlives tickets
    event_kind      TEXT NOT NULL,
    target          TEXT NOT NULL, -- where it goes (a URL…), for the log
    body            TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'done', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    -- When the job may run next. A dispatcher that takes a job pushes this
    -- forward (a lease) so another one does not take it too; a dispatcher
    -- that dies mid-job lets the lease run out and the job runs again.
    next_attempt_at INTEGER NOT NULL,
    last_status     INTEGER,       -- e.g. the HTTP status of the last try
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX plugin_jobs_due ON plugin_jobs(next_attempt_at) WHERE state = 'pending';
CREATE INDEX plugin_jobs_plugin ON plugin_jobs(plugin, id);
CREATE INDEX plugin_jobs_updated ON plugin_jobs(state, updated_at);
