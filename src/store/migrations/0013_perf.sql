-- Staff alerts are rendered when the outbox worker sends them, not inside
-- the transaction that causes them (the pipe's, above all): the row is
-- queued with its recipient, ticket, entry and a fixed Message-ID, and
-- `render` says what to build; the worker writes the complete message into
-- `raw` (and the real subject) before its first delivery attempt and sets
-- `render` back to NULL, so every retry sends the same bytes.
ALTER TABLE outbox ADD COLUMN render TEXT;
