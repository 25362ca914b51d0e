-- Cleanup batches, their approvals, and the audit trail of what was done. Idempotent: run before every use.
-- Contract columns (shared/docs/contract.md): cleanup.batches(batch_id, created_at, status),
-- cleanup.actions(action_id, batch_id, entity_type, source, source_id, action, reason); the rest is evidence.

CREATE TABLE IF NOT EXISTS cleanup.batches (
    batch_id            VARCHAR PRIMARY KEY,
    created_at          TIMESTAMPTZ NOT NULL,
    status              VARCHAR NOT NULL,      -- proposed, superseded, applying, applied
    needs_second_look   BOOLEAN NOT NULL,      -- a guard rail tripped: approval needs an explicit flag
    guard_reasons       VARCHAR[],
    action_count        INTEGER NOT NULL,
    dagster_run_id      VARCHAR,               -- the run that proposed it
    applied_at          TIMESTAMPTZ
);

CREATE TABLE IF NOT EXISTS cleanup.actions (
    action_id             VARCHAR PRIMARY KEY,  -- <batch_id>-<n>
    batch_id              VARCHAR NOT NULL,
    entity_type           VARCHAR NOT NULL,     -- organization, configuration, contact
    source                VARCHAR NOT NULL,     -- itglue, or the PSA for fix_in_psa on a PSA record
    source_id             VARCHAR NOT NULL,
    action                VARCHAR NOT NULL,     -- delete, archive, disable_sync_then_delete, fix_in_psa, merge_organizations
    reason                VARCHAR NOT NULL,
    name                  VARCHAR,              -- what a person calls the record
    cause                 VARCHAR,              -- the duplicate's cause, or the orphan's reason
    cluster_id            VARCHAR,
    match_probability     DOUBLE,
    fields_agreed         VARCHAR[],
    fields_disagreed      VARCHAR[],
    survivor_source_id    VARCHAR,
    survivor_resource_url VARCHAR,
    resource_url          VARCHAR,
    psa_integration       VARCHAR,              -- as fetched when planning
    carries               VARCHAR[],            -- documentation hanging on the record that the survivor lacks
    planned_updated_at    VARCHAR,              -- `updated-at` as fetched when planning; apply skips the record if it moved
    instructions          VARCHAR               -- for the steps a person does by hand
);

CREATE TABLE IF NOT EXISTS cleanup.approvals (
    approval_id          VARCHAR PRIMARY KEY,   -- <batch_id>-approval-<n>; the sensor's run_key
    batch_id             VARCHAR NOT NULL,
    approved_by          VARCHAR NOT NULL,
    approved_at          TIMESTAMPTZ NOT NULL,
    excluded_action_ids  VARCHAR[] NOT NULL,
    fingerprint          VARCHAR NOT NULL,      -- sha256 of exactly the approved actions
    second_look_accepted BOOLEAN NOT NULL,
    signature            VARCHAR                -- HMAC-SHA256 of the row under the approval key (outside the warehouse)
);
-- Warehouses made before approvals were signed: their approvals have none, and count for nothing (approve again).
ALTER TABLE cleanup.approvals ADD COLUMN IF NOT EXISTS signature VARCHAR;

-- Duplicate and orphan counts per planning run, for the asset check that flags jumps.
CREATE TABLE IF NOT EXISTS cleanup.mart_counts (
    recorded_at  TIMESTAMPTZ NOT NULL,
    batch_id     VARCHAR,
    entity_type  VARCHAR NOT NULL,
    duplicates   INTEGER NOT NULL,
    orphans      INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS audit.snapshots (
    action_id    VARCHAR NOT NULL,
    batch_id     VARCHAR NOT NULL,
    entity_type  VARCHAR NOT NULL,
    source_id    VARCHAR NOT NULL,
    taken_at     TIMESTAMPTZ NOT NULL,
    record_json  VARCHAR NOT NULL,          -- the whole JSON:API document as fetched just before the change, its
                                            -- secret values (passwords, OTP secrets, tokens) replaced by "[encrypted]"
    secrets_encrypted VARCHAR,              -- those values: a Fernet token under the snapshot key; never published
    secrets_count     INTEGER               -- how many values were taken out
);
ALTER TABLE audit.snapshots ADD COLUMN IF NOT EXISTS secrets_encrypted VARCHAR;
ALTER TABLE audit.snapshots ADD COLUMN IF NOT EXISTS secrets_count INTEGER;

CREATE TABLE IF NOT EXISTS audit.action_log (
    logged_at    TIMESTAMPTZ NOT NULL,
    batch_id     VARCHAR NOT NULL,
    action_id    VARCHAR NOT NULL,
    approval_id  VARCHAR,
    run_id       VARCHAR,
    step         VARCHAR NOT NULL,          -- attempt (the intent, committed before the call is sent), outcome, restore
    outcome      VARCHAR,                   -- done, already_gone, skipped_changed, rejected, manual_step, restored
    http_method  VARCHAR,
    http_path    VARCHAR,
    http_status  INTEGER,
    message      VARCHAR
);

-- One row per action with where it stands: the last outcome recorded for it, if any.
CREATE OR REPLACE VIEW cleanup.action_status AS
SELECT a.*,
       l.outcome AS last_outcome,
       l.message AS last_message,
       l.logged_at AS last_logged_at
FROM cleanup.actions a
LEFT JOIN (
    SELECT action_id, outcome, message, logged_at
    FROM audit.action_log
    WHERE step = 'outcome'
    QUALIFY row_number() OVER (PARTITION BY action_id ORDER BY logged_at DESC) = 1
) l USING (action_id);
