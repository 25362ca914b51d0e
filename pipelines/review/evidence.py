"""Why an action was proposed, field by field: the record beside its survivor (or its lost partner), with each
comparison's values, agreement and match weight from linkage's marts.match_pairs_* tables, or the staged match
fields side by side where linkage did not score the pair directly."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import duckdb

from pipelines.cleanup import store
from pipelines.cleanup.plan import MATCH_FIELDS, STAGING_TABLES


@dataclass
class Comparison:
    name: str
    this: str
    other: str
    agreement: str  # agree, differ, missing
    weight: float | None = None  # Splink's match weight (bits) of this comparison for the pair


@dataclass
class Evidence:
    other_label: str  # "survivor", "partner seen until ...", or "" when there is nothing to compare with
    other_id: str | None
    comparisons: list[Comparison] = field(default_factory=list)
    match_weight: float | None = None
    match_key: str | None = None
    note: str | None = None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)


def _pair_comparisons(columns: list[str], row: dict[str, Any], flipped: bool) -> list[Comparison]:
    """Splink lays the values a comparison reads (x_l, x_r) just before its gamma_/mw_ columns: walk them in order."""
    found, values = [], []
    for c in columns:
        if c.endswith("_l") and f"{c[:-2]}_r" in row:
            values.append(c[:-2])
        elif c.startswith("gamma_"):
            name = c[len("gamma_"):]
            exact = [v for v in (name, f"{name}_norm") if v in values]
            shown = exact[:1] or [v for v in values if v.startswith(name) or name.startswith(v)][:1] or values[:1]
            this = "; ".join(_text(row[f"{v}_{'r' if flipped else 'l'}"]) for v in shown)
            other = "; ".join(_text(row[f"{v}_{'l' if flipped else 'r'}"]) for v in shown)
            gamma = row[c]
            agreement = "missing" if gamma is None or gamma < 0 else ("agree" if gamma > 0 else "differ")
            weight = row.get(f"mw_{name}")
            found.append(Comparison(name, this, other, agreement, float(weight) if weight is not None else None))
            values = []
    return found


def for_actions(con: duckdb.DuckDBPyConnection, actions: list[dict[str, Any]]) -> dict[str, Evidence]:
    """action_id -> the evidence behind it, read in one query per table however many actions there are (a batch
    of thousands renders in one pass). Missing marts (an older warehouse) show less, never fail."""
    pairs: dict[str, dict[frozenset, tuple[list[str], dict[str, Any]]]] = {}
    staged: dict[tuple[str, str, str], dict[str, Any]] = {}
    for entity, table in STAGING_TABLES.items():
        mine = [a for a in actions if a["entity_type"] == entity]
        records = {f"{a['source']}:{x}" for a in mine for x in (a["source_id"], a.get("survivor_source_id")) if x}
        if records and store.has_table(con, f"staging.{table}"):
            for row in store.rows(con, f"SELECT * FROM staging.{table} WHERE source || ':' || source_id "
                                       "IN (SELECT unnest(?))", [sorted(records)]):
                staged[(entity, row["source"], row["source_id"])] = row
        wanted = {f"{a['source']}:{x}" for a in mine if a.get("survivor_source_id")
                  for x in (a["source_id"], a["survivor_source_id"])}
        name = f"marts.match_pairs_{table}"
        if not wanted or not store.has_table(con, name):
            continue
        result = con.execute(f"SELECT * FROM {name} WHERE unique_id_l IN (SELECT unnest(?)) "
                             "AND unique_id_r IN (SELECT unnest(?))", [sorted(wanted)] * 2)
        columns = [d[0] for d in result.description]
        pairs[entity] = {}
        for values in result.fetchall():
            row = dict(zip(columns, values, strict=True))
            pairs[entity][frozenset((row["unique_id_l"], row["unique_id_r"]))] = (columns, row)
    histories = orphan_histories(con, [(a["entity_type"], a["source_id"]) for a in actions
                                       if not a.get("survivor_source_id")])
    found = {}
    for a in actions:
        entity, source, sid, other = a["entity_type"], a["source"], a["source_id"], a.get("survivor_source_id")
        side_by_side = side_by_side_of(entity, staged.get((entity, source, sid), {}),
                                       staged.get((entity, source, other), {}) if other else None)
        if other:
            hit = pairs.get(entity, {}).get(frozenset((f"{source}:{sid}", f"{source}:{other}")))
            if hit:
                columns, row = hit
                found[a["action_id"]] = Evidence(
                    "survivor", other, _pair_comparisons(columns, row, row["unique_id_l"] != f"{source}:{sid}"),
                    row.get("match_weight"), row.get("match_key"))
            else:
                found[a["action_id"]] = Evidence("survivor", other, side_by_side,
                                                 note="linked through a third record: the staged match fields side "
                                                      "by side")
        else:
            found[a["action_id"]] = Evidence(histories.get((entity, sid), ""), None, side_by_side)
    return found


def for_action(con: duckdb.DuckDBPyConnection, action: dict[str, Any]) -> Evidence:
    return for_actions(con, [action])[action["action_id"]]


def side_by_side_of(entity: str, mine: dict[str, Any], theirs: dict[str, Any] | None) -> list[Comparison]:
    """The staged match fields of a record, beside its partner's when it has one."""
    found = []
    for name in _fields(entity, mine):
        x, y = mine.get(name), (theirs or {}).get(name)
        agreement = "missing" if x in (None, "") or y in (None, "") else ("agree" if x == y else "differ")
        found.append(Comparison(name, _text(x), _text(y), agreement if theirs is not None else "missing"))
    return found


def _fields(entity: str, row: dict[str, Any]) -> Iterable[str]:
    shown = ("name",) if entity != "contact" else ("first_name", "last_name")
    return [f for f in (*shown, *MATCH_FIELDS[entity]) if f in row or not row]


def orphan_histories(con: duckdb.DuckDBPyConnection, keys: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """What earlier runs saw of each orphan's partner ("partner seen until 2026-03-02 (autotask:17)", or "no partner
    seen by earlier runs"), for (entity_type, source_id) keys."""
    if not keys or not store.has_table(con, "marts.orphans"):
        return {}
    columns = {r[0] for r in con.execute("DESCRIBE marts.orphans").fetchall()}
    if "history" not in columns:
        return {}
    partner = "gone_partner" if "gone_partner" in columns else "NULL"
    found = con.execute(f"SELECT entity_type, source_id, history, {partner} FROM marts.orphans "
                        "WHERE entity_type || ':' || source_id IN (SELECT unnest(?))",
                        [sorted({f"{e}:{s}" for e, s in keys})]).fetchall()
    return {(e, s): f"{h} ({g})" if g else (h or "") for e, s, h, g in found}
