"""The sandbox tenant's data model: what each vendor API serves, and the ground truth behind it.

The world is generated once per (seed, scale) by `build_world` (see `generator.py`). Every source's records are kept in
that vendor's own wire shape, so the protocol servers in `api/` only page and filter them; the ground truth says
which records are one real thing, which were planted as duplicates and why, and which are orphans.
"""

from dataclasses import dataclass, field
from typing import Any

import polars as pl

Record = dict[str, Any]


@dataclass
class Truth:
    """Ground truth, for tests and the quality script; never served over HTTP.

    entities:       entity_type, source, source_id, entity_id. Every record of every source; records with one
                    entity_id are one real thing (an organization, a device, a person).
    duplicates:     entity_type, source, source_id, entity_id, cause. Records in planted duplicate clusters: two or
                    more records of one source with one entity_id. cause is one of the contract's four causes.
    orphans:        entity_type, source_id, reason. IT Glue records whose PSA or RMM source is gone (contract reasons).
    hard_negatives: entity_type, case, source_a, source_id_a, source_b, source_id_b. Pairs that look alike but are two
                    things (DC01 at two clients, franchises, VM-clone serials, namesakes at two clients, ...).
    hard_positives: same columns. Pairs that look different but are one thing (reimaged laptop, FQDN vs short name).
    """

    entities: pl.DataFrame
    duplicates: pl.DataFrame
    orphans: pl.DataFrame
    hard_negatives: pl.DataFrame
    hard_positives: pl.DataFrame


@dataclass
class World:
    """One MSP tenant as its systems hold it.

    itglue:            "organizations", "configurations", "contacts": JSON:API resource objects as IT Glue returns them
                       ({"id": "<str>", "type", "attributes": {kebab-case, nulls present}, "relationships"}).
    itglue_rmm_records: configuration id -> JSON:API objects of type "rmm-records", returned under `included` for
                       `include=rmm_records` (how an RMM-synced copy is recognised).
    connectwise:       "companies", "configurations", "contacts" in ConnectWise's JSON shape.
    autotask:          "companies", "configuration_items", "contacts" in Autotask's JSON shape.
    datto_rmm:         "sites", "devices" (list records: no serial, no MAC), "audits" (device uid -> audit body),
                       "network_interfaces" (device uid -> nics list).
    ninjaone:          "organizations", "devices" (devices-detailed shape), "computer_systems" (query rows).
    psa:               which PSA IT Glue syncs with ("autotask" or "connectwise"); both are served from one set of PSA
                       records, so either can be switched on.
    """

    seed: int
    scale: int
    psa: str
    itglue: dict[str, list[Record]]
    itglue_rmm_records: dict[str, list[Record]]
    connectwise: dict[str, list[Record]]
    autotask: dict[str, list[Record]]
    datto_rmm: dict[str, Any]
    ninjaone: dict[str, list[Record]]
    truth: Truth
    extra: dict[str, Any] = field(default_factory=dict)
    # Systems rendered as views of this world by their sandbox api module (see `pipelines.sandbox.systems`):
    # source name -> that module's records.
    systems: dict[str, Any] = field(default_factory=dict)

    def expected_counts(self) -> dict[str, int]:
        """Rows a full extraction of each raw table yields (`raw.<source>_<resource>`), for tests and the demo."""
        from pipelines.sandbox.generator import expected_counts

        return expected_counts(self)


def build_world(seed: int = 7, scale: int = 60, psa: str = "autotask") -> World:
    """A seeded tenant of `scale` client organizations (tens to tens of thousands)."""
    from pipelines.sandbox.generator import generate

    return generate(seed=seed, scale=scale, psa=psa)
