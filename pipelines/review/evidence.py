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


def for_action(con: duckdb.DuckDBPyConnection, action: dict[str, Any]) -> Evidence:
    """The evidence behind one action; never raises for missing marts (an older warehouse shows less)."""
    entity, source, sid = action["entity_type"], action["source"], action["source_id"]
    table = STAGING_TABLES[entity]
    other = action.get("survivor_source_id")
    if other:
        pairs = f"marts.match_pairs_{table}"
        if store.has_table(con, pairs):
            a, b = f"{source}:{sid}", f"{source}:{other}"
            result = con.execute(f"SELECT * FROM {pairs} WHERE (unique_id_l = ? AND unique_id_r = ?) "
                                 "OR (unique_id_l = ? AND unique_id_r = ?) LIMIT 1", [a, b, b, a])
            columns = [d[0] for d in result.description]
            rows = result.fetchall()
            if rows:
                row = dict(zip(columns, rows[0], strict=True))
                return Evidence("survivor", other, _pair_comparisons(columns, row, row["unique_id_l"] != a),
                                row.get("match_weight"), row.get("match_key"))
        return Evidence("survivor", other, staged_side_by_side(con, entity, source, sid, other),
                        note="linked through a third record: the staged match fields side by side")
    orphan = orphan_history(con, entity, sid)
    return Evidence(orphan or "", None, staged_side_by_side(con, entity, source, sid, None))


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
