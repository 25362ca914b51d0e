"""Undo: un-archive an archived record, or re-create a deleted configuration or contact from its snapshot.

IT Glue has no undelete: a re-created record gets a new id, is not synced with anything, and has none of the passwords,
attachments or related items the old one had (those are in the snapshot, to copy back by hand; secret values such as
passwords and OTP secrets are kept there encrypted under the snapshot key, and restore says whether it could read them).
"""

from dataclasses import dataclass

import duckdb

from pipelines.cleanup import CleanupError, store
from pipelines.cleanup.itglue_api import RESOURCES, create, set_archived
from pipelines.sources.http import ApiClient


@dataclass
class Restored:
    action_id: str
    message: str
    new_id: str | None = None


def secrets_note(saved: store.Snapshot) -> str:
    """What restore says about the snapshot's secret values: kept encrypted (and readable with the key), or not."""
    if not saved.secrets_count:
        return "the snapshot held no secret values"
    if saved.secrets_restored:
        return (f"the snapshot's {saved.secrets_count} secret values (passwords, OTP secrets) are kept encrypted "
                f"under {saved.key_path}, not in the clear, and that key decrypts them to copy back by hand")
    return (f"the snapshot's {saved.secrets_count} secret values are kept encrypted and {saved.key_path} cannot "
            "decrypt them (missing, or another installation's): they are left out of the restore")


async def restore_action(con: duckdb.DuckDBPyConnection, api: ApiClient, action_id: str,
                         run_id: str | None = None) -> Restored:
    """Undo one applied action; CleanupError (nothing changed) when there is nothing to undo or it cannot be."""
    store.ensure_schema(con)
    act = store.action(con, action_id)
    history = store.rows(con, "SELECT step, outcome, message FROM audit.action_log WHERE action_id = ? "
                              "AND step IN ('outcome', 'restore') ORDER BY logged_at", [action_id])
    restored = [h for h in history if h["step"] == "restore" and h["outcome"] == "restored"]
    if restored:
        raise CleanupError(f"action {action_id} was already undone ({restored[-1]['message']}); nothing changed")
    done = [h for h in history if h["step"] == "outcome" and h["outcome"] == "done"]
    if act["action"] not in ("archive", "delete") or not done:
        state = history[-1]["outcome"] if history else "not applied"
        raise CleanupError(f"action {action_id} ({act['action']}) changed nothing in IT Glue ({state}); "
                           "there is nothing to restore")
    entity, sid = act["entity_type"], act["source_id"]
    path = f"/{RESOURCES[entity]}"
    if act["action"] == "archive":
        answer = await set_archived(api, entity, sid, False)
        if answer.status >= 300:
            raise CleanupError(f"IT Glue refused to un-archive {entity} {sid} ({answer.status}: {answer.message})")
        message = f"un-archived {entity} {sid}"
        store.log(con, act, "restore", outcome="restored", run_id=run_id, method="PATCH", path=f"{path}/{sid}",
                  status=answer.status, message=message)
        return Restored(action_id, message, sid)
    if entity == "organization":
        raise CleanupError("IT Glue's API cannot create organizations; re-create it in IT Glue from the snapshot "
                           f"in audit.snapshots (action {action_id})")
    saved = store.snapshot_document(con, action_id)
    if saved is None:
        raise CleanupError(f"action {action_id} has no snapshot; nothing can be re-created")
    attributes = (saved.document.get("data") or {}).get("attributes") or {}
    answer = await create(api, entity, attributes)
    if answer.status >= 300:
        raise CleanupError(f"IT Glue refused to re-create {entity} {sid} ({answer.status}: {answer.message}); "
                           "nothing changed")
    new_id = str(((answer.body or {}).get("data") or {}).get("id"))
    message = (f"re-created {entity} {sid} as a new record with id {new_id} (IT Glue has no undelete: the old id is "
               "gone, the new record is not synced, and its passwords, attachments and related items are in the "
               f"snapshot to copy back by hand); {secrets_note(saved)}")
    store.log(con, act, "restore", outcome="restored", run_id=run_id, method="POST", path=path, status=answer.status,
              message=message)
    return Restored(action_id, message, new_id)
