-- What review adds to the cleanup tables (pipelines/cleanup/names.py, roles.py, decisions.py). Idempotent: run after
-- schema.sql on every use; the ALTERs bring an older warehouse's cleanup.actions up to date.

-- Every action says what it is about in words and which client it belongs to.
ALTER TABLE cleanup.actions ADD COLUMN IF NOT EXISTS organization_name VARCHAR;
ALTER TABLE cleanup.actions ADD COLUMN IF NOT EXISTS organization_itglue_id VARCHAR;
ALTER TABLE cleanup.actions ADD COLUMN IF NOT EXISTS subject VARCHAR;     -- "DESKTOP-7JKQ53N at Vertex Stone Partners"

-- Who approved in which role, and whether the approval was made to be applied: the approval sensor launches
-- apply_cleanup only for approvals with apply_requested (approve --apply, or the page's "approve and apply").
CREATE TABLE IF NOT EXISTS cleanup.approval_intents (
    approval_id       VARCHAR PRIMARY KEY,
    batch_id          VARCHAR NOT NULL,
    approved_by       VARCHAR NOT NULL,
    role              VARCHAR NOT NULL,          -- editor, manager, administrator (from the approvers file)
    approvers_file    VARCHAR,
    apply_requested   BOOLEAN NOT NULL,
    apply_requested_at TIMESTAMPTZ
);
-- HMAC under the approval key (pipelines/cleanup/intents.py): the sensor ignores an intent inserted or edited by SQL.
ALTER TABLE cleanup.approval_intents ADD COLUMN IF NOT EXISTS signature VARCHAR;

-- A person's decisions that outlast a batch. kind `dismissed`: "not a duplicate / keep it": the record (and its
-- partner, for a pair) is not proposed again for the same action until one of them changes after decided_at, and
-- the pair is kept apart in clustering. kind `restored`: the record an undo brought back (its new id when it was
-- re-created) is never proposed again for the action that was undone. Undoing a decision sets undone_at.
CREATE TABLE IF NOT EXISTS audit.decisions (
    decision_id        VARCHAR PRIMARY KEY,      -- D0001
    kind               VARCHAR NOT NULL,         -- dismissed, restored
    action_id          VARCHAR NOT NULL,         -- the action it was about
    batch_id           VARCHAR NOT NULL,
    entity_type        VARCHAR NOT NULL,
    source             VARCHAR NOT NULL,
    source_id          VARCHAR NOT NULL,         -- the record (for restored: the id it has now)
    action             VARCHAR NOT NULL,         -- the action not to propose again
    partner_source_id  VARCHAR,                  -- the survivor of a dismissed pair (same source), if any
    subject            VARCHAR,
    organization_name  VARCHAR,
    decided_by         VARCHAR NOT NULL,
    reason             VARCHAR NOT NULL,
    decided_at         TIMESTAMPTZ NOT NULL,
    undone_by          VARCHAR,
    undone_at          TIMESTAMPTZ
);
-- HMAC under the approval key (pipelines/cleanup/decisions.py): planning ignores a decision inserted or edited by SQL.
ALTER TABLE audit.decisions ADD COLUMN IF NOT EXISTS signature VARCHAR;

-- The dismissed action as it stood in its batch (it leaves cleanup.actions).
CREATE TABLE IF NOT EXISTS audit.dismissed_actions (
    decision_id  VARCHAR NOT NULL,
    action_id    VARCHAR NOT NULL,
    action_json  VARCHAR NOT NULL
);

-- Pairs a person said are not one thing, as the linkage reads them (unique ids `source:source_id`): their edge is
-- dropped before clustering.
CREATE OR REPLACE VIEW audit.kept_apart AS
SELECT entity_type, source || ':' || source_id AS unique_id_l, source || ':' || partner_source_id AS unique_id_r
FROM audit.decisions
WHERE kind = 'dismissed' AND partner_source_id IS NOT NULL AND undone_at IS NULL;

-- Findings (duplicates to remove and orphans) per planning run, for marts.weekly_changes.
CREATE TABLE IF NOT EXISTS audit.findings (
    recorded_at        TIMESTAMPTZ NOT NULL,
    run_id             VARCHAR,
    entity_type        VARCHAR NOT NULL,
    source             VARCHAR NOT NULL,
    source_id          VARCHAR NOT NULL,
    kind               VARCHAR NOT NULL,         -- duplicate, orphan
    cause              VARCHAR,                  -- the duplicate's cause or the orphan's reason
    organization_name  VARCHAR
);
