-- A piped message is kept byte for byte, and its attachments are kept
-- decoded in `blobs`. Most of a large message is one base64 attachment,
-- so both copies held the same file. Now the raw copy may leave out a
-- stretch that is exactly an attachment's base64 text (as the walker found
-- it, re-encoding checked) and list it here instead: put back at
-- `position` of the stored data, the blob encoded with this layout gives
-- the original bytes. Rows stored before, and anything irregular, keep
-- their bytes as they came. raw_messages.size stays the original size.
CREATE TABLE raw_message_parts (
    raw_message_id INTEGER NOT NULL REFERENCES raw_messages(id) ON DELETE CASCADE,
    position       INTEGER NOT NULL,   -- byte offset in raw_messages.data
    blob_id        INTEGER NOT NULL REFERENCES blobs(id),
    line_length    INTEGER NOT NULL,   -- base64 characters per line; 0: one line
    crlf           INTEGER NOT NULL,   -- 1: CRLF line breaks, 0: LF
    final_break    INTEGER NOT NULL,   -- 1: a line break after the last line
    PRIMARY KEY (raw_message_id, position)
) WITHOUT ROWID;
CREATE INDEX raw_message_parts_blob ON raw_message_parts(blob_id);
