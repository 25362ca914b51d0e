"""Planning: from marts.duplicates and marts.orphans to one proposed batch, by the article's cleanup rules.

Rules (shared/docs/domain.md, "The cleanup rules"):
- of two IT Glue copies, keep the one syncing with the PSA and `delete` the other; if the copy that must go syncs too,
  `disable_sync_then_delete` (the API cannot disable sync: a step for a person, with the item's link);
- when the PSA itself holds the duplicate (cause `source_duplicate`), `fix_in_psa`: delete it there, its IT Glue copy
  becomes an orphan, and a later batch deletes that;
- duplicate organizations: `merge_organizations` (disconnect from the PSA, merge in IT Glue: a step for a person);
- orphans: `delete`, only on proof that the partner is gone (marts.orphans reasons `psa_orphaned`,
  `psa_record_deleted`, `rmm_device_deleted`); an `unlinked` record (no partner found, nothing shows it is gone) is
  listed in marts.orphans for a person and gets no action here;
- a duplicate gets an action (delete, archive, or a step for a person) only when linkage scored it against the
  survivor itself at or above the entity's threshold: membership of a cluster through other records is not proof
  that two records are one thing.
Every record concerned is fetched with what hangs on it, a page of ids per request (IT Glue's list endpoint with
`filter[id]`, so planning 10,000 candidates costs about 50 of the 3,000 requests per 5 minutes, not 10,000); one that
carries documentation the survivor lacks is proposed for `archive` (reversible) instead, naming what it carries.
Related items are the one kind a list cannot include: a delete is approved as "delete, or archive if it carries related
items when applied", which apply decides from the record it fetches anyway.
"""

import asyncio
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import duckdb
import pyarrow as pa

from pipelines.cleanup import decisions, names, store
from pipelines.cleanup.guard import GuardRails
from pipelines.cleanup.itglue_api import Fetched, fetch_many
from pipelines.linkage.settings import SPECS
from pipelines.sources import all_sources
from pipelines.sources.base import ENTITY_TABLES
from pipelines.sources.http import ApiClient

STAGING_TABLES = ENTITY_TABLES
# The staged fields two copies are compared on, for the evidence a reviewer reads.
MATCH_FIELDS = {
    "organization": ("name_norm", "domain", "phone_digits", "city"),
    "configuration": ("name_norm", "hostname_norm", "serial_norm", "mac_norm", "ip", "config_type", "manufacturer",
                      "model", "organization_source_id"),
    "contact": ("first_name_norm", "last_name_norm", "email_norm", "phone_digits", "title", "organization_source_id"),
}
PSA_SOURCES = {s.name for s in all_sources() if s.kind == "psa"}
# marts.orphans reasons that rest on proof the partner is gone; any other (`unlinked`) is for a person to look at
PROVEN_ORPHAN_REASONS = ("psa_orphaned", "psa_record_deleted", "rmm_device_deleted")
# What the approval of a configuration or contact delete also covers (see the module docstring).
RELATED_ITEMS_CLAUSE = "; archived instead if IT Glue shows related items on it when applied"


@dataclass
class Proposal:
    """One proposed action with its evidence (the columns of cleanup.actions, less the ids the batch gives it)."""

    entity_type: str
    source: str
    source_id: str
    action: str
    reason: str
    name: str | None = None
    cause: str | None = None
    cluster_id: str | None = None
    match_probability: float | None = None
    fields_agreed: list[str] = field(default_factory=list)
    fields_disagreed: list[str] = field(default_factory=list)
    survivor_source_id: str | None = None
    survivor_resource_url: str | None = None
    resource_url: str | None = None
    psa_integration: str | None = None
    carries: list[str] = field(default_factory=list)
    planned_updated_at: str | None = None
    instructions: str | None = None
    organization_name: str | None = None  # the client, and its IT Glue id (pipelines/cleanup/names.py)
    organization_itglue_id: str | None = None
    subject: str | None = None  # what the action is about in words: "DC01 at Contoso"


@dataclass
class MartRows:
    """What planning reads from the warehouse."""

    duplicates: list[dict[str, Any]]
    orphans: list[dict[str, Any]]
    staged: dict[tuple[str, str, str], dict[str, Any]]  # (entity_type, source, source_id) -> staging row
    record_counts: dict[str, int]  # IT Glue records per entity type, for the guard rails
    marts_present: bool
    # frozenset({"source:id", "source:id"}) -> {comparison: agreement level} from linkage's marts.match_pairs_*
    pair_levels: dict[frozenset, dict[str, int]] = field(default_factory=dict)
    # (entity_type, frozenset({"source:id", "source:id"})) -> the pair's match probability (1.0 for a certain link)
    pair_probability: dict[tuple[str, frozenset], float] = field(default_factory=dict)

    def direct_probability(self, entity: str, source: str, row: Mapping[str, Any], survivor: Mapping[str, Any]
                           ) -> float | None:
        """How sure linkage is that `row` and `survivor` themselves are one thing (None: the pair was never scored)."""
        if "keep_pair_probability" not in row:
            # marts from before keep_pair_probability: match_probability was the copy's own best same-source edge
            return row.get("match_probability")
        if survivor.get("role") == "keep" and row.get("keep_pair_probability") is not None:
            return row["keep_pair_probability"]
        return self.pair_probability.get(
            (entity, frozenset({f"{source}:{row['source_id']}", f"{source}:{survivor['source_id']}"})))

    def evidence(self, entity: str, source: str, a: str, b: str | None) -> tuple[list[str], list[str]]:
        """(fields that agreed, fields that disagreed) for two records: Splink's own comparison levels when linkage
        scored the pair, else a comparison of the staged match fields."""
        levels = self.pair_levels.get(frozenset({f"{source}:{a}", f"{source}:{b}"})) if b else None
        if levels:
            return ([c for c, g in levels.items() if g is not None and g > 0],
                    [c for c, g in levels.items() if g == 0])
        return compare_fields(entity, self.staged.get((entity, source, a)),
                              self.staged.get((entity, source, b)) if b else None)

    def itglue_keys(self) -> list[tuple[str, str]]:
        """(entity_type, source_id) of every IT Glue record planning must look at, once each."""
        keys = [(r["entity_type"], r["source_id"]) for r in self.duplicates if r["source"] == "itglue"]
        keys += [(r["entity_type"], r["source_id"]) for r in self.orphans if r["reason"] in PROVEN_ORPHAN_REASONS]
        return list(dict.fromkeys(keys))


def read_marts(con: duckdb.DuckDBPyConnection) -> MartRows:
    have_dups, have_orphans = store.has_table(con, "marts.duplicates"), store.has_table(con, "marts.orphans")
    dup_extra = ", keep_pair_probability" if have_dups and _has_column(con, "marts.duplicates",
                                                                         "keep_pair_probability") else ""
    duplicates = store.rows(con, "SELECT entity_type, cast(cluster_id AS VARCHAR) AS cluster_id, source, source_id, "
                                 f"role, cause, match_probability{dup_extra} FROM marts.duplicates "
                                 "ORDER BY entity_type, cluster_id, source, source_id") if have_dups else []
    orphan_extra = ", proof" if have_orphans and _has_column(con, "marts.orphans", "proof") else ""
    orphans = store.rows(con, f"SELECT entity_type, source_id, reason{orphan_extra} FROM marts.orphans "
                              "ORDER BY entity_type, source_id") if have_orphans else []
    wanted = defaultdict(set)
    for r in duplicates:
        wanted[r["entity_type"]].add(f"{r['source']}:{r['source_id']}")
    for r in orphans:
        wanted[r["entity_type"]].add(f"itglue:{r['source_id']}")
    staged, counts = {}, {}
    for entity, table in STAGING_TABLES.items():
        if not store.has_table(con, f"staging.{table}"):
            continue
        counts[entity] = con.execute(f"SELECT count(*) FROM staging.{table} WHERE source = 'itglue'").fetchall()[0][0]
        if wanted[entity]:
            for row in store.rows(con, f"SELECT * FROM staging.{table} WHERE source || ':' || source_id "
                                       "IN (SELECT unnest(?))", [sorted(wanted[entity])]):
                staged[(entity, row["source"], row["source_id"])] = row
    pair_levels, pair_probability = {}, {}
    for entity, table in STAGING_TABLES.items():
        if not wanted[entity] or not store.has_table(con, f"marts.match_pairs_{table}"):
            continue
        columns = [r[0] for r in con.execute(f"DESCRIBE marts.match_pairs_{table}").fetchall()]
        gammas = [c for c in columns if c.startswith("gamma_")]
        if not gammas or not {"unique_id_l", "unique_id_r"} <= set(columns):
            continue
        picked = ", ".join(f'"{c}"' for c in gammas)
        probability = ("CASE WHEN coalesce(is_certain, FALSE) THEN 1.0 ELSE match_probability END"
                       if "is_certain" in columns else "match_probability") if "match_probability" in columns \
            else "NULL::DOUBLE"
        for row in con.execute(f"SELECT unique_id_l, unique_id_r, {probability}, {picked} "
                               f"FROM marts.match_pairs_{table} "
                               "WHERE unique_id_l IN (SELECT unnest(?)) AND unique_id_r IN (SELECT unnest(?))",
                               [sorted(wanted[entity])] * 2).fetchall():
            pair_levels[frozenset(row[:2])] = {c[len("gamma_"):]: g for c, g in zip(gammas, row[3:], strict=True)}
            if row[2] is not None:
                pair_probability[(entity, frozenset(row[:2]))] = row[2]
    return MartRows(duplicates, orphans, staged, counts, have_dups or have_orphans, pair_levels, pair_probability)


def _has_column(con: duckdb.DuckDBPyConnection, qualified: str, column: str) -> bool:
    return column in {r[0] for r in con.execute(f"DESCRIBE {qualified}").fetchall()}


async def fetch_all(api: ApiClient, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Fetched]:
    """Every record, a page of ids per request, concurrently within the client's budget."""
    by_entity: dict[str, list[str]] = defaultdict(list)
    for entity, sid in keys:
        by_entity[entity].append(sid)
    entities = list(by_entity)
    answers = await asyncio.gather(*(fetch_many(api, e, by_entity[e]) for e in entities))
    return {(e, sid): record for e, answer in zip(entities, answers, strict=True) for sid, record in answer.items()}


def compare_fields(entity_type: str, a: Mapping[str, Any] | None, b: Mapping[str, Any] | None
                   ) -> tuple[list[str], list[str]]:
    """(fields both records have and agree on, fields both have and disagree on); missing ones are neither."""
    agreed, disagreed = [], []
    if not a or not b:
        return agreed, disagreed
    for name in MATCH_FIELDS[entity_type]:
        x, y = a.get(name), b.get(name)
        if x is None or y is None or x == "" or y == "":
            continue
        (agreed if x == y else disagreed).append(name)
    return agreed, disagreed


def plan(marts: MartRows, fetched: Mapping[tuple[str, str], Fetched]) -> tuple[list[Proposal], list[str]]:
    """Proposals for every duplicate cluster and orphan, and notes on what was left out and why."""
    proposals: list[Proposal] = []
    notes: list[str] = []
    clusters: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in marts.duplicates:
        clusters[(row["entity_type"], row["cluster_id"])].append(row)
    for (entity, cluster_id), rows in clusters.items():
        made, why = plan_cluster(entity, cluster_id, rows, fetched, marts)
        proposals += made
        notes += why
    for row in marts.orphans:
        made, why = plan_orphan(row, fetched.get((row["entity_type"], row["source_id"])))
        proposals += made
        notes += why
    seen, unique = set(), []
    for p in proposals:  # a record in a cluster and among the orphans gets its cluster's action only
        key = (p.entity_type, p.source, p.source_id)
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique, notes


def plan_cluster(entity: str, cluster_id: str, rows: list[dict], fetched: Mapping[tuple[str, str], Fetched],
                 marts: MartRows) -> tuple[list[Proposal], list[str]]:
    causes = Counter(r["cause"] for r in rows if r.get("cause") and r["role"] == "duplicate")
    cause = causes.most_common(1)[0][0] if causes else "unknown"
    if cause == "source_duplicate":
        return _plan_source_duplicate(entity, cluster_id, rows, fetched, marts)
    copies = [r for r in rows if r["source"] == "itglue"]
    if len(copies) < 2:
        return [], []
    present = [r for r in copies if not fetched[(entity, r["source_id"])].gone]
    if len(present) < 2:
        return [], [f"{entity} cluster {cluster_id}: only one IT Glue copy is left; nothing to do"]
    survivor, note = choose_survivor(entity, present, fetched)
    kept = fetched[(entity, survivor["source_id"])]
    proposals, notes = [], []
    for row in present:
        if row is survivor:
            continue
        record = fetched[(entity, row["source_id"])]
        agreed, disagreed = marts.evidence(entity, "itglue", row["source_id"], survivor["source_id"])
        weak = _weak_pair(marts, entity, "itglue", cluster_id, row, survivor)
        if weak:
            notes.append(weak)
            continue
        p = Proposal(
            entity_type=entity, source="itglue", source_id=row["source_id"], action="delete", reason="",
            name=record.name, cause=row.get("cause") or cause, cluster_id=cluster_id,
            match_probability=row.get("match_probability"), fields_agreed=agreed, fields_disagreed=disagreed,
            survivor_source_id=survivor["source_id"], survivor_resource_url=kept.attributes.get("resource-url"),
            resource_url=record.attributes.get("resource-url"), psa_integration=record.psa_integration,
            planned_updated_at=record.updated_at,
        )
        lacking = [d for d in record.documentation if d not in set(kept.documentation)]
        kept_label = f"{kept.name or 'the survivor'} (id {survivor['source_id']}{_sync_label(kept)})"
        if entity == "organization":
            p.action = "merge_organizations"
            p.reason = f"duplicate organization of {kept_label}{note}"
            p.instructions = (f"Disconnect this organization from the PSA (Manage Data), then merge it into "
                              f"{kept_label} in IT Glue ({p.survivor_resource_url or 'organization page'}): the merge "
                              f"copies everything to the target and deletes this one. Item: {p.resource_url}")
            p.carries = lacking
        elif record.psa_integration == "enabled":
            p.action = "disable_sync_then_delete"
            p.reason = f"duplicate of {kept_label}; this copy syncs with the PSA too{note}"
            p.instructions = (f"Open {p.resource_url}; under the PSA's logo at the bottom click Disable sync, then "
                              f"Delete. Keep {p.survivor_resource_url}."
                              + (f" Move first what only this copy carries: {', '.join(lacking)}." if lacking else ""))
            p.carries = lacking
        elif lacking:
            p.action = "archive"
            p.reason = (f"duplicate of {kept_label}, but it carries documentation the survivor lacks "
                        f"({', '.join(lacking)}): archived, not deleted{note}")
            p.carries = lacking
        else:
            p.reason = f"duplicate of {kept_label}; this copy does not sync with the PSA{note}{RELATED_ITEMS_CLAUSE}"
        proposals.append(p)
    return proposals, notes


def _weak_pair(marts: MartRows, entity: str, source: str, cluster_id: str, row: Mapping[str, Any],
               survivor: Mapping[str, Any] | None) -> str | None:
    """Why `row` is not proposed (None: it may be). Every proposal against a duplicate, a delete or a step for a person
    alike, rests on linkage having scored that copy against the survivor itself at or above the entity's threshold;
    a copy in the cluster only through other records is left in marts.duplicates for a person."""
    threshold = SPECS[entity].threshold
    direct = marts.direct_probability(entity, source, row, survivor) if survivor else None
    if direct is not None and direct >= threshold:
        return None
    return (f"{entity} {source}:{row['source_id']} (cluster {cluster_id}): not proposed; its own link to the survivor "
            f"{survivor['source_id'] if survivor else '(none)'} is "
            + ("unscored" if direct is None else f"{direct:.3f}") + f", below {threshold}")


def choose_survivor(entity: str, present: list[dict], fetched: Mapping[tuple[str, str], Fetched]
                    ) -> tuple[dict, str]:
    """The copy to keep: linkage's `keep`, unless it does not sync and another copy does (rule 1: keep the syncing one)."""
    keep = next((r for r in present if r["role"] == "keep"), present[0])
    if fetched[(entity, keep["source_id"])].psa_integration == "enabled":
        return keep, ""
    syncing = [r for r in present if fetched[(entity, r["source_id"])].psa_integration == "enabled"]
    if syncing:
        return syncing[0], f" (kept the syncing copy {syncing[0]['source_id']} rather than {keep['source_id']})"
    return keep, ""


# A person's own identifiers: a PSA contact that disagrees with its survivor on one of them is not proposed as the
# PSA's duplicate of it (fix_in_psa), however well the rest agrees.
PERSON_KEYS = ("phone_digits", "email_norm")


def _plan_source_duplicate(entity: str, cluster_id: str, rows: list[dict], fetched: Mapping[tuple[str, str], Fetched],
                           marts: MartRows) -> tuple[list[Proposal], list[str]]:
    """The PSA holds the thing twice: the fix is there. Prefer acting on the PSA's own duplicate record; when the marts
    hold only the IT Glue copies, name the IT Glue copy whose PSA record is to go."""
    psa_rows = [r for r in rows if r["source"] in PSA_SOURCES]
    targets = [r for r in psa_rows if r["role"] == "duplicate"] or \
              [r for r in rows if r["source"] == "itglue" and r["role"] == "duplicate"]
    proposals, notes = [], []
    for row in targets:
        source = row["source"]
        survivor = next((r for r in rows if r["source"] == source and r["role"] == "keep"), None)
        weak = _weak_pair(marts, entity, source, cluster_id, row, survivor)
        if weak:
            notes.append(weak)
            continue
        mine = marts.staged.get((entity, source, row["source_id"])) or {}
        theirs = marts.staged.get((entity, source, survivor["source_id"])) if survivor else None
        agreed, disagreed = marts.evidence(entity, source, row["source_id"], survivor["source_id"] if survivor else None)
        against = sorted(set(disagreed) & set(PERSON_KEYS)) if entity == "contact" else []
        if against:
            # Two people answering one mailbox (kellyg@ for Kelly Gonzales and Kelly Gonzalez) each have a phone of
            # their own; the PSA holding one person twice does not disagree with itself on it. Listed for a person.
            notes.append(f"{entity} {source}:{row['source_id']} (cluster {cluster_id}): not proposed; it disagrees "
                         f"with the survivor {survivor['source_id'] if survivor else '(none)'} on "
                         f"{', '.join(against)}, so it may be another person")
            continue
        record = fetched.get((entity, row["source_id"])) if source == "itglue" else None
        if record is not None and record.gone:
            continue
        name = (record.name if record else None) or mine.get("name") or \
            " ".join(p for p in (mine.get("first_name"), mine.get("last_name")) if p) or None
        where = "the PSA" if source == "itglue" else source
        what = ("the PSA record this IT Glue copy syncs with" if source == "itglue"
                else f"{source} record {row['source_id']}")
        survivor_id = survivor["source_id"] if survivor else None
        proposals.append(Proposal(
            entity_type=entity, source=source, source_id=row["source_id"], action="fix_in_psa",
            reason=f"the PSA itself holds this {entity} twice; keep {survivor_id}, delete the duplicate in {where}",
            name=name, cause="source_duplicate", cluster_id=cluster_id, match_probability=row.get("match_probability"),
            fields_agreed=agreed, fields_disagreed=disagreed, survivor_source_id=survivor_id,
            survivor_resource_url=(theirs or {}).get("resource_url"),
            resource_url=(record.attributes.get("resource-url") if record else mine.get("resource_url")),
            psa_integration=record.psa_integration if record else None,
            planned_updated_at=record.updated_at if record else None,
            instructions=(f"In {where}, delete {what} ({name or row['source_id']}). At the next sync its IT Glue copy "
                          "becomes an orphan, and the next batch proposes deleting it."),
        ))
    return proposals, notes


def plan_orphan(row: dict, record: Fetched | None) -> tuple[list[Proposal], list[str]]:
    entity, sid, reason = row["entity_type"], row["source_id"], row["reason"]
    if reason not in PROVEN_ORPHAN_REASONS:
        # no partner found is not proof the partner is gone (a missed link looks the same): nothing to execute
        return [], [f"{entity} {sid}: {reason} ({row.get('proof') or 'no proof its partner is gone'}); listed in "
                    "marts.orphans for review, no action proposed"]
    if record is None or record.gone:
        return [], []
    p = Proposal(entity_type=entity, source="itglue", source_id=sid, action="delete", reason="", name=record.name,
                 cause=reason, resource_url=record.attributes.get("resource-url"),
                 psa_integration=record.psa_integration, planned_updated_at=record.updated_at,
                 carries=record.documentation)
    what = {"psa_orphaned": "IT Glue marks it orphaned: its PSA record is gone",
            "psa_record_deleted": "its PSA record is gone",
            "rmm_device_deleted": "its RMM device is gone"}[reason]
    if row.get("proof"):
        what += f" ({row['proof']})"
    if record.psa_integration == "enabled":
        # Between syncs IT Glue still reads "enabled": a syncing item cannot be deleted until a person disables sync.
        p.action = "disable_sync_then_delete"
        p.reason = f"orphan: {what}, but IT Glue still has it syncing"
        p.instructions = (f"Open {p.resource_url}; under the PSA's logo click Disable sync, then Delete "
                          "(or wait for the next sync to mark it orphaned, and the next batch proposes the delete).")
    elif record.attributes.get("archived") and record.documentation:
        return [], []  # already archived and kept for its documentation: nothing left to propose
    elif record.documentation:
        p.action = "archive"
        p.reason = (f"orphan: {what}; it carries documentation ({', '.join(record.documentation)}): "
                    "archived, not deleted")
    else:
        p.reason = f"orphan: {what}"
    if entity != "organization" and p.action == "delete":
        p.reason += RELATED_ITEMS_CLAUSE
    if entity == "organization" and p.action == "delete":
        # Deleting an organization in IT Glue deletes everything filed under it, unsnapshotted: apply checks it is
        # empty right before the call, and refuses otherwise.
        p.reason += "; deleted only if it holds no configurations or contacts when applied"
    return [p], []


def _sync_label(record: Fetched) -> str:
    return ", syncing" if record.psa_integration == "enabled" else ""


_LIST_COLUMNS = ("fields_agreed", "fields_disagreed", "carries")


def _actions_table(proposals: list[Proposal], batch_id: str) -> pa.Table:
    """The proposals as cleanup.actions rows, numbered in order (`<batch_id>-0001`, ...)."""
    columns: dict[str, list] = {f.name: [getattr(p, f.name) for p in proposals] for f in fields(Proposal)}
    columns["action_id"] = [f"{batch_id}-{k:04d}" for k in range(1, len(proposals) + 1)]
    columns["batch_id"] = [batch_id] * len(proposals)
    types = {c: pa.list_(pa.string()) if c in _LIST_COLUMNS else pa.float64() if c == "match_probability"
             else pa.string() for c in store.ACTION_COLUMNS}
    return pa.table({c: pa.array(columns[c], type=types[c]) for c in store.ACTION_COLUMNS})


def write_batch(con: duckdb.DuckDBPyConnection, proposals: list[Proposal], marts: MartRows, guard: GuardRails,
                run_id: str | None = None) -> str | None:
    """Store the proposals as a new batch (None when there is nothing to propose); older unapproved batches are
    superseded, so only the newest proposal can be approved. Records the mart counts for the jump check."""
    store.ensure_schema(con)
    con.execute("BEGIN TRANSACTION")
    try:
        batch_id = None
        if proposals:
            n = con.execute("SELECT count(*) FROM cleanup.batches").fetchall()[0][0] + 1
            batch_id = f"B{n:04d}"
            while con.execute("SELECT count(*) FROM cleanup.batches WHERE batch_id = ?", [batch_id]).fetchall()[0][0]:
                n += 1
                batch_id = f"B{n:04d}"
            reasons = guard.check([p.entity_type for p in proposals if p.source == "itglue"], marts.record_counts)
            con.execute("UPDATE cleanup.batches SET status = 'superseded' WHERE status = 'proposed' AND batch_id NOT IN "
                        "(SELECT batch_id FROM cleanup.approvals)")
            con.execute("INSERT INTO cleanup.batches VALUES (?, ?, 'proposed', ?, ?, ?, ?, NULL)",
                        [batch_id, store.now(), bool(reasons), reasons, len(proposals), run_id])
            # one INSERT for the batch: a statement per action took 17 s for 5,000 actions (benchmarks/README.md)
            con.register("_new_actions", _actions_table(proposals, batch_id))
            columns = ", ".join(store.ACTION_COLUMNS)
            con.execute(f"INSERT INTO cleanup.actions ({columns}) SELECT {columns} FROM _new_actions")
            con.unregister("_new_actions")
        recorded = store.now()
        for entity in STAGING_TABLES:
            dups = len({r["source_id"] for r in marts.duplicates if r["entity_type"] == entity and r["role"] == "duplicate"})
            # proven orphans only: `unlinked` rows claim nothing is gone
            orphans = sum(1 for r in marts.orphans
                          if r["entity_type"] == entity and r["reason"] in PROVEN_ORPHAN_REASONS)
            con.execute("INSERT INTO cleanup.mart_counts VALUES (?, ?, ?, ?, ?)",
                        [recorded, batch_id, entity, dups, orphans])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return batch_id


async def propose(con: duckdb.DuckDBPyConnection, api: ApiClient, guard: GuardRails, run_id: str | None = None
                  ) -> tuple[str | None, list[Proposal], list[str]]:
    """Read the marts, fetch every record concerned from IT Glue, plan, and store the batch."""
    store.ensure_schema(con)
    marts = read_marts(con)
    fetched = await fetch_all(api, marts.itglue_keys())
    names.fill_organization_links(fetched, names.itglue_site(con))
    proposals, notes = plan(marts, fetched)
    names.attach(con, proposals, fetched)
    proposals, dropped = decisions.drop_decided(con, proposals, fetched)  # dismissed and restored records
    notes += dropped
    batch_id = write_batch(con, proposals, marts, guard, run_id)
    return batch_id, proposals, notes
