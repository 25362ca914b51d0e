"""Pairs a person dismissed ("not a duplicate", audit.kept_apart) stay apart: their edges are dropped before
clustering. Read from the warehouse with the run's history; an empty table when nobody dismissed anything."""

import pyarrow as pa

from pipelines.warehouse import table_exists

SHAPE = "entity_type VARCHAR, unique_id_l VARCHAR, unique_id_r VARCHAR"


def read(con) -> pa.Table | None:
    """audit.kept_apart from the warehouse, if it has one: only pairs of signed dismissals (decisions.py)."""
    if not table_exists(con, "audit", "kept_apart"):
        return None
    from pipelines.cleanup.decisions import kept_apart_pairs

    names = ["entity_type", "unique_id_l", "unique_id_r"]
    return pa.Table.from_pylist([dict(zip(names, p, strict=True)) for p in kept_apart_pairs(con)],
                                schema=pa.schema([(n, pa.string()) for n in names]))


def load(con, frame) -> None:
    """The temp table kept_apart in the linkage engine's connection."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE kept_apart ({SHAPE})")
    if frame is not None and len(frame):
        con.register("_kept_apart", frame)
        con.execute("INSERT INTO kept_apart SELECT entity_type, unique_id_l, unique_id_r FROM _kept_apart")
        con.unregister("_kept_apart")


def drop_edges(con, entity_type: str) -> None:
    """Remove from edges_<entity_type> the dismissed record's edges to its partner and to the partner's direct
    neighbours (a PSA or RMM record the partner syncs with would otherwise join them again). The partner keeps its
    own links. A path of more hops could still join them; planning drops the dismissed action itself either way."""
    con.execute(f"""DELETE FROM edges_{entity_type} e USING (
            WITH k AS (SELECT unique_id_l AS a, unique_id_r AS b FROM kept_apart WHERE entity_type = '{entity_type}')
            SELECT k.a, CASE WHEN n.unique_id_l = k.b THEN n.unique_id_r ELSE n.unique_id_l END AS x
            FROM k JOIN edges_{entity_type} n ON k.b IN (n.unique_id_l, n.unique_id_r)
            UNION SELECT a, b FROM k
        ) apart
        WHERE apart.x <> apart.a
          AND ((e.unique_id_l = apart.a AND e.unique_id_r = apart.x)
            OR (e.unique_id_r = apart.a AND e.unique_id_l = apart.x))""")
