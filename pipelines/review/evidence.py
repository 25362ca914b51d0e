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
    """action_id -> the evidence behind it; one query per pair table, however many actions (a batch of thousands
    renders in one pass). Missing marts (an older warehouse) show less, never fail."""
    pairs: dict[str, dict[frozenset, tuple[list[str], dict[str, Any]]]] = {}
    for entity, table in STAGING_TABLES.items():
        wanted = {f"{a['source']}:{x}" for a in actions if a["entity_type"] == entity and a.get("survivor_source_id")
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
    found = {}
    for a in actions:
        entity, source, sid, other = a["entity_type"], a["source"], a["source_id"], a.get("survivor_source_id")
        if other:
            hit = pairs.get(entity, {}).get(frozenset((f"{source}:{sid}", f"{source}:{other}")))
            if hit:
                columns, row = hit
                found[a["action_id"]] = Evidence(
                    "survivor", other, _pair_comparisons(columns, row, row["unique_id_l"] != f"{source}:{sid}"),
                    row.get("match_weight"), row.get("match_key"))
            else:
                found[a["action_id"]] = Evidence("survivor", other, staged_side_by_side(con, entity, source, sid, other),
                                                 note="linked through a third record: the staged match fields side "
                                                      "by side")
        else:
            found[a["action_id"]] = Evidence(orphan_history(con, entity, sid) or "", None,
                                             staged_side_by_side(con, entity, source, sid, None))
    return found


def for_action(con: duckdb.DuckDBPyConnection, action: dict[str, Any]) -> Evidence:
    return for_actions(con, [action])[action["action_id"]]


def staged_side_by_side(con: duckdb.DuckDBPyConnection, entity: str, source: str, sid: str,
                        other: str | None) -> list[Comparison]:
    table = f"staging.{STAGING_TABLES[entity]}"
    if not store.has_table(con, table):
        return []
    wanted = [s for s in (sid, other) if s]
    rows = {r["source_id"]: r for r in store.rows(
        con, f"SELECT * FROM {table} WHERE source = ? AND list_contains(?, source_id)", [source, wanted])}
    mine, theirs = rows.get(sid, {}), rows.get(other, {}) if other else {}
    found = []
    for name in _fields(entity, mine):
        x, y = mine.get(name), theirs.get(name)
        agreement = "missing" if x in (None, "") or y in (None, "") else ("agree" if x == y else "differ")
        found.append(Comparison(name, _text(x), _text(y), agreement if other else "missing"))
    return found


def _fields(entity: str, row: dict[str, Any]) -> Iterable[str]:
    shown = ("name",) if entity != "contact" else ("first_name", "last_name")
    return [f for f in (*shown, *MATCH_FIELDS[entity]) if f in row or not row]


def orphan_history(con: duckdb.DuckDBPyConnection, entity: str, sid: str) -> str | None:
    """What earlier runs saw of an orphan's partner ("partner seen until 2026-03-02", or "no partner seen ...")."""
    if not store.has_table(con, "marts.orphans"):
        return None
    columns = {r[0] for r in con.execute("DESCRIBE marts.orphans").fetchall()}
    if "history" not in columns:
        return None
    partner = ", gone_partner" if "gone_partner" in columns else ", NULL"
    found = con.execute(f"SELECT history{partner} FROM marts.orphans WHERE entity_type = ? AND source_id = ?",
                        [entity, sid]).fetchall()
    if not found:
        return None
    history, gone = found[0]
    return f"{history} ({gone})" if gone else history
