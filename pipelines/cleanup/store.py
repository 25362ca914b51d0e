"""The cleanup and audit tables (sql/cleanup/schema.sql): creating them, and the reads and writes the steps share."""

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from pipelines.cleanup import CleanupError, keys, snapshot_secrets
from pipelines.read_only import is_read_only
from pipelines.warehouse import run_script, table_exists

ACTION_COLUMNS = ("action_id", "batch_id", "entity_type", "source", "source_id", "action", "reason", "name", "cause",
                  "cluster_id", "match_probability", "fields_agreed", "fields_disagreed", "survivor_source_id",
                  "survivor_resource_url", "resource_url", "psa_integration", "carries", "planned_updated_at",
                  "instructions", "organization_name", "organization_itglue_id", "subject")
EXECUTABLE = ("delete", "archive")
MANUAL = ("disable_sync_then_delete", "fix_in_psa", "merge_organizations")
# Outcomes after which an action is never attempted again (a rerun resumes after them).
FINAL_OUTCOMES = ("done", "already_gone", "skipped_changed", "skipped_not_empty", "rejected", "manual_step")


def now() -> datetime:
    return datetime.now(UTC)


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create (and bring up to date) the cleanup and audit tables; a read-only session reads what is there."""
    if is_read_only(con):
        return
    run_script(con, "cleanup/schema.sql")
    run_script(con, "cleanup/review.sql")  # names, approver roles, decisions (pipelines/cleanup/roles.py, decisions.py)


def rows(con: duckdb.DuckDBPyConnection, query: str, params: list | None = None) -> list[dict[str, Any]]:
    result = con.execute(query, params or [])
    names = [d[0] for d in result.description]
    return [dict(zip(names, r, strict=True)) for r in result.fetchall()]


def batch(con: duckdb.DuckDBPyConnection, batch_id: str) -> dict[str, Any]:
    """The batch row, or CleanupError naming the batches that do exist."""
    if not has_table(con, "cleanup.batches"):
        raise CleanupError(f"there is no batch {batch_id} (there are no batches yet: run the weekly job)")
    found = rows(con, "SELECT * FROM cleanup.batches WHERE batch_id = ?", [batch_id])
    if not found:
        recent = [r[0] for r in con.execute(
            "SELECT batch_id FROM cleanup.batches ORDER BY created_at DESC LIMIT 5").fetchall()]
        hint = f" (recent batches: {', '.join(recent)})" if recent else " (there are no batches yet: run the weekly job)"
        raise CleanupError(f"there is no batch {batch_id}{hint}")
    return found[0]


def actions(con: duckdb.DuckDBPyConnection, batch_id: str) -> list[dict[str, Any]]:
    return rows(con, "SELECT * FROM cleanup.actions WHERE batch_id = ? ORDER BY action_id", [batch_id])


def action(con: duckdb.DuckDBPyConnection, action_id: str) -> dict[str, Any]:
    found = rows(con, "SELECT * FROM cleanup.actions WHERE action_id = ?", [action_id])
    if not found:
        raise CleanupError(f"there is no action {action_id}; `msp-recon show BATCH_ID` lists a batch's actions")
    return found[0]


def set_status(con: duckdb.DuckDBPyConnection, batch_id: str, status: str) -> None:
    applied_at = now() if status == "applied" else None
    con.execute("UPDATE cleanup.batches SET status = ?, applied_at = coalesce(?, applied_at) WHERE batch_id = ?",
                [status, applied_at, batch_id])


def final_outcomes(con: duckdb.DuckDBPyConnection, batch_id: str) -> dict[str, str]:
    """action_id -> its final outcome, for the actions of a batch that are finished."""
    return dict(con.execute(
        "SELECT action_id, arg_max(outcome, logged_at) FROM audit.action_log "
        "WHERE batch_id = ? AND step = 'outcome' AND list_contains(?, outcome) GROUP BY action_id",
        [batch_id, list(FINAL_OUTCOMES)]).fetchall())


def log(con: duckdb.DuckDBPyConnection, act: dict[str, Any], step: str, *, outcome: str | None = None,
        approval_id: str | None = None, run_id: str | None = None, method: str | None = None,
        path: str | None = None, status: int | None = None, message: str | None = None) -> None:
    """One line of audit.action_log; written before and after every call, so a crash leaves a trace of where."""
    con.execute("INSERT INTO audit.action_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [now(), act["batch_id"], act["action_id"], approval_id, run_id, step, outcome, method, path, status,
                 message])


def has_attempt(con: duckdb.DuckDBPyConnection, action_id: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM audit.action_log WHERE action_id = ? AND step = 'attempt'",
                            [action_id]).fetchall()[0][0])


def save_snapshot(con: duckdb.DuckDBPyConnection, act: dict[str, Any], document: dict) -> None:
    """The record's full JSON before it is changed, its secret values encrypted apart (snapshot_secrets); a resumed run
    keeps the first one (the record had not moved)."""
    exists = con.execute("SELECT count(*) FROM audit.snapshots WHERE action_id = ?", [act["action_id"]]).fetchall()
    if exists[0][0]:
        return
    redacted, values = snapshot_secrets.split(document)
    token = snapshot_secrets.encrypt(keys.snapshot_cipher(con, create=True), values) if values else None
    con.execute("INSERT INTO audit.snapshots (action_id, batch_id, entity_type, source_id, taken_at, record_json, "
                "secrets_encrypted, secrets_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [act["action_id"], act["batch_id"], act["entity_type"], act["source_id"], now(),
                 json.dumps(redacted, separators=(",", ":")), token, len(values)])


def snapshot(con: duckdb.DuckDBPyConnection, action_id: str) -> str | None:
    """The stored snapshot JSON: secret values in it read "[encrypted]"."""
    found = con.execute("SELECT record_json FROM audit.snapshots WHERE action_id = ? ORDER BY taken_at DESC LIMIT 1",
                        [action_id]).fetchall()
    return found[0][0] if found else None


@dataclass
class Snapshot:
    document: dict
    secrets_count: int       # secret values taken out when it was saved
    secrets_restored: bool   # whether they are back in `document` (False: the key is missing or not theirs)
    key_path: Path


def snapshot_document(con: duckdb.DuckDBPyConnection, action_id: str) -> Snapshot | None:
    """The snapshot as IT Glue sent it: its secret values decrypted back in, when the snapshot key can."""
    found = con.execute("SELECT record_json, secrets_encrypted, coalesce(secrets_count, 0) FROM audit.snapshots "
                        "WHERE action_id = ? ORDER BY taken_at DESC LIMIT 1", [action_id]).fetchall()
    if not found:
        return None
    record_json, token, count = found[0]
    document = json.loads(record_json)
    key_path = keys.key_dir_of(con) / keys.SNAPSHOT_KEY
    if not token:
        return Snapshot(document, count, count == 0, key_path)
    cipher = keys.snapshot_cipher(con)
    values = snapshot_secrets.decrypt(cipher, token) if cipher else None
    if values is None:
        return Snapshot(document, count, False, key_path)
    return Snapshot(snapshot_secrets.merge(document, values), count, True, key_path)


def has_table(con: duckdb.DuckDBPyConnection, qualified: str) -> bool:
    schema, name = qualified.split(".")
    return table_exists(con, schema, name)
