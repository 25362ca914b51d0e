"""The sandbox tenant's data model: what each vendor API serves, and the ground truth behind it.

`World` and `Truth` are plain data: they import nothing of the generator (`generator.py` builds them, `world.py` is
the entry point), so the sandbox has no import circle.
"""

from collections.abc import Iterable
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

    def duplicate_pairs(self, sources: Iterable[str] | None = None) -> pl.DataFrame:
        """entity_type, source, source_id_a, source_id_b, cause: every pair of records of one source that are one
        real thing (what a cleanup may act on), a < b; `sources` keeps only those sources."""
        d = self.duplicates if sources is None else self.duplicates.filter(pl.col("source").is_in(list(sources)))
        pairs = d.join(d, on=["entity_type", "source", "entity_id"], suffix="_b").filter(
            pl.col("source_id") < pl.col("source_id_b"))
        return pairs.select("entity_type", "source", pl.col("source_id").alias("source_id_a"), "source_id_b",
                            "cause").sort("entity_type", "source", "source_id_a", "source_id_b")

    def live_records(self, sources: Iterable[str] | None = None) -> pl.DataFrame:
        """entity_type, source, source_id, entity_id: records that are neither a planted duplicate nor an orphan.
        A destructive action (delete, archive) proposed on one of them is always wrong."""
        e = self.entities if sources is None else self.entities.filter(pl.col("source").is_in(list(sources)))
        e = e.join(self.duplicates, on=["entity_type", "source", "source_id"], how="anti")
        orphans = self.orphans.with_columns(pl.lit("itglue").alias("source"))
        return e.join(orphans, on=["entity_type", "source", "source_id"], how="anti")


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
        return {
            "itglue_organizations": len(self.itglue["organizations"]),
            "itglue_configurations": len(self.itglue["configurations"]),
            "itglue_contacts": len(self.itglue["contacts"]),
            "connectwise_companies": sum(1 for c in self.connectwise["companies"] if not c["deletedFlag"]),
            "connectwise_configurations": len(self.connectwise["configurations"]),
            "connectwise_contacts": len(self.connectwise["contacts"]),
            "autotask_companies": len(self.autotask["companies"]),
            "autotask_configuration_items": len(self.autotask["configuration_items"]),
            "autotask_contacts": len(self.autotask["contacts"]),
            "datto_rmm_sites": len(self.datto_rmm["sites"]),
            "datto_rmm_devices": len(self.datto_rmm["devices"]),
            "datto_rmm_device_audits": len(self.datto_rmm["audits"]),
            "ninjaone_organizations": len(self.ninjaone["organizations"]),
            "ninjaone_devices": len(self.ninjaone["devices"]),
            "ninjaone_computer_systems": len(self.ninjaone["computer_systems"]),
        }
