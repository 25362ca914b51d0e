"""An RMM that takes Datto RMM's place in the sandbox tenant (N-central, Automate, ...): the same clients and
devices, under the new RMM's own ids, with what the other systems say about them rewritten to match.

`take_datto_slot(world, system, itglue_type)` returns the clients and live devices (each with its audit: serial,
NICs) for the RMM's api module to render in its own wire shape, and makes the rest of the world consistent:
- IT Glue's RMM records become the new RMM's (`rmm-integration-type`, `device-id` = the RMM's device id);
- the PSA's Datto links go (Autotask `rmmDevice*`, ConnectWise `deviceIdentifier`, Datto's `autotaskCompanyId`):
  in the sandbox those PSAs integrate with Datto RMM only; HaloPSA takes the new ids (`world.systems[...]`);
- the ground truth's Datto rows become the RMM's, deleted devices dropped (the new RMM lists none);
- Datto RMM itself serves nothing.
Device ids are Datto's integer ids and client ids Datto's site ids, so a tenant is the same whichever RMM serves it.
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

if TYPE_CHECKING:
    from pipelines.sandbox.model import World

DATTO = "datto_rmm"


@dataclass
class SlotClient:
    id: int
    name: str
    site: dict  # the Datto site it was


@dataclass
class SlotDevice:
    id: int
    client_id: int
    device: dict  # the Datto device record it was
    audit: dict   # its Datto audit (bios serial, nics, system info)


def take_datto_slot(world: "World", system: str, itglue_type: str) -> tuple[list[SlotClient], list[SlotDevice]]:
    datto = world.datto_rmm
    live_sites = [s for s in datto["sites"] if s["name"].strip().lower() != "deleted devices"]
    clients = [SlotClient(s["id"], s["name"], s) for s in live_sites]
    client_of_site = {s["id"]: s["id"] for s in live_sites}
    devices = [SlotDevice(d["id"], client_of_site[d["siteId"]], d, datto["audits"].get(d["uid"], {}))
               for d in datto["devices"] if not d.get("deleted") and d["siteId"] in client_of_site]
    id_of_uid = {d["uid"]: str(d["id"]) for d in datto["devices"]}
    client_of_uid = {s["uid"]: str(s["id"]) for s in live_sites}

    for records in world.itglue_rmm_records.values():
        for r in records:
            a = r["attributes"]
            if a.get("rmm-integration-type") == "aem":
                a["rmm-integration-type"] = itglue_type
                a["device-id"] = id_of_uid.get(a.get("device-id"), a.get("device-id"))
    # what the PSA linked before the links go: HaloPSA's view links its assets to the new RMM's ids
    psa_links = {i["id"]: i["rmmDeviceUID"] for i in world.autotask["configuration_items"] if i.get("rmmDeviceUID")}
    for item in world.autotask["configuration_items"]:
        for key in [k for k in item if k.startswith("rmmDevice")]:
            item[key] = None
    for item in world.connectwise["configurations"]:
        item["deviceIdentifier"] = None
    world.datto_rmm = {"sites": [], "devices": [], "audits": {}, "network_interfaces": {}}
    world.systems[system] = {"replaces": DATTO, "device_id_of_uid": id_of_uid, "psa_links": psa_links}
    _truth_to(world, system, {**id_of_uid, **client_of_uid})
    return clients, devices


def _truth_to(world: "World", system: str, new_id: dict[str, str]) -> None:
    """Datto's truth rows as the new RMM's: ids mapped, rows of records it does not list (deleted devices, the
    Deleted Devices site) dropped."""
    truth = world.truth
    mapping = pl.DataFrame({"old": list(new_id), "new": list(new_id.values())}, schema={"old": pl.String,
                                                                                          "new": pl.String})

    def remap(frame: pl.DataFrame, source: str, source_id: str) -> pl.DataFrame:
        theirs = frame.filter(pl.col(source) == DATTO).join(mapping, left_on=source_id, right_on="old", how="inner")
        theirs = theirs.with_columns(pl.lit(system).alias(source), pl.col("new").alias(source_id)).drop("new")
        return pl.concat([frame.filter(pl.col(source) != DATTO), theirs.select(frame.columns)])

    truth.entities = remap(truth.entities, "source", "source_id")
    truth.duplicates = remap(truth.duplicates, "source", "source_id")
    for name in ("hard_negatives", "hard_positives"):
        frame = getattr(truth, name)
        frame = remap(frame, "source_a", "source_id_a")
        setattr(truth, name, remap(frame, "source_b", "source_id_b"))
