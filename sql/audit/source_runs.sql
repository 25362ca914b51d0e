-- Which sources were on when a cleanup batch was proposed: one row per source per proposing run. A source on in the
-- latest recorded run and off now stops the next proposal (pipelines/cleanup/source_runs.py).
CREATE SCHEMA IF NOT EXISTS audit;
CREATE TABLE IF NOT EXISTS audit.source_runs (
    run_id VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    is_on BOOLEAN NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (run_id, source)
);
