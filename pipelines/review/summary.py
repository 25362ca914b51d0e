"""Counts per client, action, cause and entity type, and the filters a reviewer narrows a batch with."""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any

FACETS = {"client": "organization_name", "action": "action", "cause": "cause", "entity": "entity_type"}
NO_CLIENT = "(no client)"


@dataclass(frozen=True)
class Filters:
    """A reviewer's view of a batch. `client` matches part of the organization's name, case-insensitive; `action`,
    `cause`, `entity` match exactly; `q` searches the subject, name, reason, ids and client."""

    client: str | None = None
    action: str | None = None
    cause: str | None = None
    entity: str | None = None
    q: str | None = None

    @classmethod
    def of(cls, values: dict[str, Any]) -> "Filters":
        return cls(**{f.name: (str(values[f.name]).strip() or None) if values.get(f.name) else None
                      for f in fields(cls)})

    def active(self) -> dict[str, str]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}

    def keeps(self, action: dict[str, Any]) -> bool:
        if self.client and self.client.lower() not in client_of(action).lower():
            return False
        for facet in ("action", "cause", "entity"):
            wanted = getattr(self, facet)
            if wanted and (action.get(FACETS[facet]) or "") != wanted:
                return False
        if self.q:
            text = " ".join(str(action.get(k) or "") for k in (
                "action_id", "subject", "name", "reason", "source_id", "survivor_source_id", "organization_name",
                "cause", "action", "entity_type"))
            return self.q.lower() in text.lower()
        return True

    def apply(self, actions: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        return [a for a in actions if self.keeps(a)]


def client_of(action: dict[str, Any]) -> str:
    return action.get("organization_name") or NO_CLIENT


def summarise(actions: Iterable[dict[str, Any]]) -> dict[str, list[tuple[str, int]]]:
    """facet -> [(value, count)], most frequent first."""
    counters = {facet: Counter() for facet in FACETS}
    for a in actions:
        counters["client"][client_of(a)] += 1
        for facet in ("action", "cause", "entity"):
            counters[facet][a.get(FACETS[facet]) or "-"] += 1
    return {facet: sorted(c.items(), key=lambda kv: (-kv[1], kv[0])) for facet, c in counters.items()}


def summary_lines(actions: list[dict[str, Any]], top_clients: int = 15) -> list[str]:
    """The summary `msp-recon show` starts with."""
    summary = summarise(actions)
    lines = []
    for facet, label in (("action", "per action"), ("cause", "per cause"), ("entity", "per entity type")):
        lines.append(f"  {label + ':':<17}" + ", ".join(f"{v} {n}" for v, n in summary[facet]))
    clients = summary["client"]
    shown = ", ".join(f"{v} {n}" for v, n in clients[:top_clients])
    more = f", … {len(clients) - top_clients} more (--client NAME)" if len(clients) > top_clients else ""
    lines.append(f"  {'per client:':<17}{shown}{more}")
    return lines
