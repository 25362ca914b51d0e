"""Applying an approved batch through IT Glue's API, exactly as approved, with every record saved first.

Per action: fetch the record again and skip it if `updated-at` moved since planning; save its whole JSON to
audit.snapshots; then bulk DELETE (in chunks) or PATCH archived; every attempt and outcome goes to audit.action_log,
committed as it happens, the attempt (the intent: action, record, call) before the call is sent. A run that dies
mid-batch is resumed by running again: finished actions are not touched, and a delete that was sent but not recorded
finds the record gone (404) and, its intent being logged, is recorded `done` (so restore can undo it), never sent twice.
Steps for a person (disable sync, fix in the PSA, merge organizations) are never attempted: they are listed.
"""

import asyncio
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import duckdb

from pipelines.cleanup import CleanupError, approval, store
from pipelines.cleanup.itglue_api import (
    DOCUMENTATION_INCLUDES,
    RESOURCES,
    Fetched,
    WriteAnswer,
    bulk_delete,
    count_children,
    fetch,
    set_archived,
)
from pipelines.sources.http import ApiClient

DEFAULT_CHUNK_SIZE = 50


@dataclass
class ApplyReport:
    batch_id: str
    approval_id: str
    outcomes: dict[str, str] = field(default_factory=dict)  # action_id -> final outcome, this run's and earlier
    resumed: int = 0  # actions an earlier run had finished
    manual: list[dict[str, Any]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return dict(Counter(self.outcomes.values()))


def check_approved(con: duckdb.DuckDBPyConnection, batch_id: str, approval_id: str | None = None
                   ) -> tuple[approval.Approval, list[dict[str, Any]]]:
    """The approval that counts and the actions it covers; CleanupError when the batch may not be applied."""
    store.ensure_schema(con)
    b = store.batch(con, batch_id)
    found = approval.valid_approval(con, batch_id, approval_id)
    if found is None:
        recorded = approval.approvals(con, batch_id)
        if approval_id and approval_id not in {a.approval_id for a in recorded}:
            why = f"it has no approval {approval_id}"
        elif recorded:
            latest = [a for a in recorded if not approval_id or a.approval_id == approval_id][-1]
            why = approval.why_not_valid(con, latest) or "no approval of it counts"
        else:
            why = "it is not approved (`msp-recon approve`)"
        raise CleanupError(f"refusing to apply batch {batch_id}: {why}; nothing was changed")
    if b["status"] == "superseded":
        raise CleanupError(f"refusing to apply batch {batch_id}: it was superseded; nothing was changed")
    return found, approval.approved_actions(store.actions(con, batch_id), found.excluded_action_ids)


class _Applier:
    def __init__(self, con, api: ApiClient, report: ApplyReport, run_id: str | None, say: Callable[[str], None]):
        self.con, self.api, self.report, self.run_id, self.say = con, api, report, run_id, say

    def log(self, act: dict, step: str, **kwargs) -> None:
        store.log(self.con, act, step, approval_id=self.report.approval_id, run_id=self.run_id, **kwargs)
        if step == "outcome":
            self.report.outcomes[act["action_id"]] = kwargs["outcome"]

    def finish(self, act: dict, outcome: str, answer: WriteAnswer | None = None, message: str = "") -> None:
        self.log(act, "outcome", outcome=outcome, method=answer.method if answer else None,
                 path=answer.path if answer else None, status=answer.status if answer else None,
                 message=message or (answer.message if answer else None) or None)
        self.say(f"{act['action_id']} {act['action']} {act['entity_type']} {act['source_id']}: {outcome}"
                 + (f" ({message or answer.message})" if (message or (answer and answer.message)) else ""))

    async def still_as_planned(self, act: dict) -> Fetched | None:
        """The record as it is now, if it may be changed; else records why not and returns None."""
        record = await fetch(self.api, act["entity_type"], act["source_id"])
        path = f"/{RESOURCES[act['entity_type']]}/{act['source_id']}"
        if record.gone:
            if act["action"] == "delete" and store.has_attempt(self.con, act["action_id"]):
                # Our DELETE was sent (its intent is logged) and the run died before logging IT Glue's answer:
                # msp-recon deleted it, holds its snapshot, and restore must be able to undo it.
                self.finish(act, "done", WriteAnswer("GET", path, 404, None),
                            "deleted by an earlier run that stopped before recording it (its DELETE was sent; "
                            "IT Glue now answers 404)")
                return None
            self.finish(act, "already_gone", WriteAnswer("GET", path, 404, None), "already deleted in IT Glue")
            return None
        if record.updated_at != act["planned_updated_at"]:
            if act["action"] in ("archive", "delete") and record.attributes.get("archived") and \
                    store.has_attempt(self.con, act["action_id"]):
                self.finish(act, "done", message="archived by an earlier run that stopped before recording it")
                return None
            self.finish(act, "skipped_changed", message=f"updated-at moved from {act['planned_updated_at']} to "
                                                        f"{record.updated_at} since planning; the next batch re-plans it")
            return None
        if act["entity_type"] == "organization" and act["action"] == "delete":
            children = await count_children(self.api, act["source_id"])
            if children:
                self.finish(act, "skipped_not_empty", message=f"it holds {children} configurations or contacts, which "
                                                              "deleting it would delete too")
                return None
        return record

    def save(self, act: dict, record: Fetched) -> None:
        store.save_snapshot(self.con, act, record.document)

    async def archive(self, act: dict) -> None:
        record = await self.still_as_planned(act)
        if record is None:
            return
        self.save(act, record)
        path = f"/{RESOURCES[act['entity_type']]}/{act['source_id']}"
        self.log(act, "attempt", method="PATCH", path=path,
                 message=f"sending PATCH archived of {act['entity_type']} {act['source_id']}")
        answer = await set_archived(self.api, act["entity_type"], act["source_id"], True)
        self.finish(act, _outcome_of(answer.status), answer)

    async def archive_instead(self, act: dict, record: Fetched) -> None:
        """A delete whose record carries related items: planning, which reads IT Glue's list endpoint, could not see
        them; the approved action is "delete, or archive if it carries related items", so it is archived."""
        self.save(act, record)
        path = f"/{RESOURCES[act['entity_type']]}/{act['source_id']}"
        self.log(act, "attempt", method="PATCH", path=path)
        answer = await set_archived(self.api, act["entity_type"], act["source_id"], True)
        self.finish(act, _outcome_of(answer.status), answer,
                    f"archived, not deleted: it carries {', '.join(related_items(record))}")

    async def delete_chunk(self, entity: str, chunk: list[dict]) -> None:
        records = await asyncio.gather(*(self.still_as_planned(a) for a in chunk))
        going = [(a, r) for a, r in zip(chunk, records, strict=True) if r is not None]
        for act, record in [(a, r) for a, r in going if related_items(r)]:
            await self.archive_instead(act, record)
        going = [(a, r) for a, r in going if not related_items(r)]
        if not going:
            return
        for act, record in going:  # snapshot and intent are committed before the call is sent
            self.save(act, record)
            self.log(act, "attempt", method="DELETE", path=f"/{RESOURCES[entity]}",
                     message=f"sending DELETE of {entity} {act['source_id']}")
        answer, deleted = await bulk_delete(self.api, entity, [a["source_id"] for a, _ in going])
        for act, _ in going:
            if answer.status < 300:
                if act["source_id"] in deleted:
                    self.finish(act, "done", answer)
                else:
                    self.finish(act, "already_gone", answer, "not found when deleting")
            else:
                self.finish(act, _outcome_of(answer.status), answer)


def related_items(record: Fetched) -> list[str]:
    return [d for d in record.documentation if d.startswith("related item:")]


def _outcome_of(status: int) -> str:
    return {404: "already_gone", 422: "rejected"}.get(status, "done")


async def apply_batch(con: duckdb.DuckDBPyConnection, api: ApiClient, batch_id: str, approval_id: str | None = None,
                      run_id: str | None = None, chunk_size: int = DEFAULT_CHUNK_SIZE,
                      say: Callable[[str], None] = lambda _: None) -> ApplyReport:
    """Apply the approved actions of a batch that are not finished yet. Raises CleanupError (nothing changed) for an
    unapproved or changed batch; a SourceError mid-batch leaves what was done recorded, for a rerun to resume."""
    found, chosen = check_approved(con, batch_id, approval_id)
    report = ApplyReport(batch_id, found.approval_id)
    finished = store.final_outcomes(con, batch_id)
    report.outcomes.update({a["action_id"]: finished[a["action_id"]] for a in chosen if a["action_id"] in finished})
    report.resumed = len(report.outcomes)
    todo = [a for a in chosen if a["action_id"] not in finished]
    report.manual = [a for a in chosen if a["action"] in store.MANUAL]
    if not todo:
        say(f"batch {batch_id}: every approved action is already finished")
        store.set_status(con, batch_id, "applied")
        return report
    store.set_status(con, batch_id, "applying")
    applier = _Applier(con, api, report, run_id, say)
    for act in todo:
        if act["action"] in store.MANUAL:
            applier.finish(act, "manual_step", message=act["instructions"])
    for act in todo:
        if act["action"] == "archive":
            await applier.archive(act)
    for entity in ("contact", "configuration", "organization"):  # organizations last: they must be empty by then
        deletes = [a for a in todo if a["action"] == "delete" and a["entity_type"] == entity]
        for start in range(0, len(deletes), chunk_size):
            await applier.delete_chunk(entity, deletes[start:start + chunk_size])
    store.set_status(con, batch_id, "applied")
    return report


def planned_calls(con: duckdb.DuckDBPyConnection, batch_id: str, chunk_size: int = DEFAULT_CHUNK_SIZE
                  ) -> tuple[list[str], str]:
    """The calls apply would make, for --dry-run: (lines, a note on the approval). Makes none."""
    store.ensure_schema(con)
    b = store.batch(con, batch_id)
    found = approval.valid_approval(con, batch_id)
    actions = store.actions(con, batch_id)
    if found is not None:
        note = f"approved by {found.approved_by} ({found.approval_id})"
        actions = approval.approved_actions(actions, found.excluded_action_ids)
    else:
        note = "NOT approved as it stands: apply would refuse it; these are the calls for the whole batch"
    finished = store.final_outcomes(con, batch_id)
    todo = [a for a in actions if a["action_id"] not in finished]
    if finished:
        note += f"; {len(finished)} actions already finished are left out"
    if b["status"] == "applied":
        note += "; the batch is applied"
    lines = []
    for a in todo:
        if a["action"] in ("archive", "delete"):
            include = DOCUMENTATION_INCLUDES.get(a["entity_type"])
            lines.append(f"GET /{RESOURCES[a['entity_type']]}/{a['source_id']}"
                         + (f"?include={include}" if include else "")
                         + f"   (skip if updated-at is no longer {a['planned_updated_at']}; snapshot)")
    for a in todo:
        if a["action"] == "archive":
            lines.append(f"PATCH /{RESOURCES[a['entity_type']]}/{a['source_id']}  "
                         f'{{"data":{{"type":"{RESOURCES[a["entity_type"]]}","attributes":{{"archived":true}}}}}}'
                         f"   [{a['action_id']}]")
    for entity in ("contact", "configuration", "organization"):
        deletes = [a for a in todo if a["action"] == "delete" and a["entity_type"] == entity]
        for start in range(0, len(deletes), chunk_size):
            chunk = deletes[start:start + chunk_size]
            ids = ", ".join(a["source_id"] for a in chunk)
            lines.append(f"DELETE /{RESOURCES[entity]}  ids [{ids}]   "
                         f"[{', '.join(a['action_id'] for a in chunk)}]")
    for a in todo:
        if a["action"] in store.MANUAL:
            lines.append(f"(by hand, no call) {a['action_id']} {a['action']}: {a['instructions']}")
    return lines, note
