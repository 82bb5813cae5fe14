-- The overdue task asks every minute for active tickets past due that are
-- not yet marked overdue. `tickets_due` held every active ticket with a due
-- date, marked or not, so the task walked past every ticket already marked
-- (tens of thousands on a big helpdesk), reading each one's row to test
-- the mark. This index holds only the unmarked ones: marking a ticket takes
-- it out, and the task reads just the tickets it has to mark.
DROP INDEX tickets_due;
CREATE INDEX tickets_due_unmarked ON tickets(due_at)
    WHERE due_at IS NOT NULL AND is_overdue = 0 AND status NOT IN ('resolved', 'closed');
