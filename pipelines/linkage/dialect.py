"""Custom comparison levels written once, in DuckDB's SQL, and rewritten for Spark when the model runs there.

sqlglot translates most of it (string_split, starts_with, regexp_replace's flags); what it leaves in DuckDB's words
is rewritten here into what Spark has: `list_has_all(a, b)` as `size(array_except(b, a)) = 0`, `list_has_any` as
`arrays_overlap`, and `jaro_winkler_similarity` as the `jaro_winkler` function Splink's similarity jar registers.
"""

import copy
from typing import Any

import sqlglot
from splink.internals.comparison_level_library import CustomLevel
from splink.internals.dialects import SplinkDialect
from sqlglot import exp

BASE = "duckdb"


def _to_spark(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Anonymous) and node.name.lower() == "list_has_all":
        container, wanted = node.expressions
        return exp.EQ(this=exp.func("size", exp.func("array_except", wanted, container)), expression=exp.Literal.number(0))
    if isinstance(node, exp.ArrayOverlaps):
        return exp.func("arrays_overlap", node.this, node.expression)
    if isinstance(node, exp.JarowinklerSimilarity):
        return exp.func("jaro_winkler", node.this, node.expression)
    return node


def translate(sql: str, dialect: str) -> str:
    """A DuckDB condition in `dialect` (Splink's name: "duckdb" or "spark")."""
    if dialect == BASE:
        return sql
    tree = sqlglot.parse_one(sql, read=BASE)
    if dialect == "spark":
        tree = tree.transform(_to_spark)
    return tree.sql(dialect=SplinkDialect.from_string(dialect).sqlglot_dialect)


class PortableLevel(CustomLevel):
    """A CustomLevel whose condition is DuckDB SQL and runs on every backend linkage supports."""

    def create_sql(self, sql_dialect: SplinkDialect) -> str:
        return translate(self.sql_condition, sql_dialect.sql_dialect_str)


def settings_in(settings: Any, dialect: str) -> Any:
    """Splink settings for `dialect`: a saved or trained model (a dict in DuckDB's SQL) with every level's condition
    and every blocking rule translated; settings made of PortableLevels already are."""
    if dialect == BASE or not isinstance(settings, dict):
        return settings
    doc = copy.deepcopy(settings)
    for comparison in doc.get("comparisons") or []:
        for level in comparison.get("comparison_levels") or []:
            if level.get("sql_condition") and level["sql_condition"] != "ELSE":
                level["sql_condition"] = translate(level["sql_condition"], dialect)
    for rule in doc.get("blocking_rules_to_generate_predictions") or []:
        if isinstance(rule, dict) and rule.get("blocking_rule"):
            rule["blocking_rule"] = translate(rule["blocking_rule"], dialect)
            rule["sql_dialect"] = dialect
    doc["sql_dialect"] = dialect
    return doc
