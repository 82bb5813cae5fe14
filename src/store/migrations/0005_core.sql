-- Core additions to 0001: bulk-mail flag on entries (Precedence bulk/list
-- mail must never get an auto-response either), an index for the "latest
-- tickets" list without a status filter, and one to find merged tickets.
ALTER TABLE entries ADD COLUMN is_bulk INTEGER NOT NULL DEFAULT 0;
CREATE INDEX tickets_updated ON tickets(updated_at);
CREATE INDEX tickets_merged_into ON tickets(merged_into_id) WHERE merged_into_id IS NOT NULL;
