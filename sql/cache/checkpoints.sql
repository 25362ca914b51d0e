-- What a failed extraction had fetched, kept outside the atomic swap for the next attempt (pipelines/extraction.py).
-- checkpoints: one row per source with pages kept: when its first kept page was fetched (the window is measured from
-- there) and a salted slow hash of the source's settings (URL, account, key), so that pages of another tenant or
-- URL are never reused and the warehouse holds nothing a password could be guessed back from.
-- pages: each kept answer (a list page, a device's assets) by request (method, full URL, body digest); for a page of
-- an offset-paged list, also the list (the request without its page number) and the page's number.
CREATE SCHEMA IF NOT EXISTS cache;
CREATE TABLE IF NOT EXISTS cache.checkpoints (
    source VARCHAR PRIMARY KEY,
    settings_hash VARCHAR NOT NULL,
    salt VARCHAR NOT NULL,
    started_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS cache.pages (
    source VARCHAR NOT NULL,
    request VARCHAR NOT NULL,
    list VARCHAR,
    page INTEGER,
    status INTEGER NOT NULL,
    content_type VARCHAR,
    link VARCHAR,
    body BLOB NOT NULL,
    fetched_at TIMESTAMPTZ NOT NULL
);
