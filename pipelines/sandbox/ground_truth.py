"""The ground truth behind a generated tenant: which records are one real thing, which were planted as duplicates
and why, which are orphans, and the hard pairs a matcher must keep apart or bring together."""

from collections import defaultdict
from collections.abc import Iterable

import polars as pl

from pipelines.sandbox import hardware as hw
from pipelines.sandbox.itglue_view import ItGlue
from pipelines.sandbox.model import Truth
from pipelines.sandbox.psa_view import Psa
from pipelines.sandbox.tenant import Tenant
from pipelines.sandbox.variation import JUNK_SERIALS

PSA_SOURCES = ("connectwise", "autotask")
# Chained pairs per group (DC01 at 1,500 clients would otherwise give a million pairs).
MAX_PAIRS_PER_GROUP = 200
MAX_PAIRS_PER_CASE = 2000
DATTO_DELETED_SITE_ENTITY = "datto-deleted-devices"
REUSED_HOSTNAMES = {"DC01", "FS01", "FW01", "SW01", "PRINTER", "PRINTER2"}


class _Columns:
    """Column-wise rows: far smaller and faster than a list of dicts at 200k rows."""

    def __init__(self, *names: str):
        self.names = names
        self.cols: list[list[str]] = [[] for _ in names]

    def add(self, *values: str) -> None:
        for col, value in zip(self.cols, values):  # noqa: B905 (arity is fixed by the callers)
            col.append(value)

    def frame(self) -> pl.DataFrame:
        return pl.DataFrame({n: pl.Series(n, c, dtype=pl.String) for n, c in zip(self.names, self.cols, strict=True)})


def _chain(records: list, limit: int = MAX_PAIRS_PER_GROUP) -> list[tuple]:
    """Neighbouring pairs of a group: n-1 pairs say "these n are all distinct" without n^2 rows."""
    return list(zip(records[:limit], records[1:limit + 1], strict=False))


def build_truth(tenant: Tenant, psa: Psa, datto: dict, site_of: dict[int, dict], ninja: dict,
                ninja_org_of: dict[int, int], glue: ItGlue) -> Truth:
    entities = _Columns("entity_type", "source", "source_id", "entity_id")
    duplicates = _Columns("entity_type", "source", "source_id", "entity_id", "cause")
    orphans = _Columns("entity_type", "source_id", "reason")
    negatives = _Columns("entity_type", "case", "source_a", "source_id_a", "source_b", "source_id_b")
    positives = _Columns("entity_type", "case", "source_a", "source_id_a", "source_b", "source_id_b")

    for etype, records, owner in (("organization", glue.orgs, lambda r: r.client.entity_id),
                                  ("configuration", glue.configs, lambda r: r.device.entity_id),
                                  ("contact", glue.contacts, lambda r: r.person.entity_id)):
        for r in records:
            sid, eid = str(r.id), owner(r)
            entities.add(etype, "itglue", sid, eid)
            if r.cause:
                duplicates.add(etype, "itglue", sid, eid, r.cause)
            if r.orphan:
                orphans.add(etype, sid, r.orphan)

    # PSA records are served in both shapes with one id: each is a record of both sources. Deleted ones are not
    # extracted (ConnectWise lists deleted companies, but the connector asks for deletedFlag=false).
    psa_sets = (("organization", psa.companies, lambda r: r.client.entity_id,
                 {c.client.idx for c in psa.companies if c.duplicate}, lambda r: r.client.idx),
                ("configuration", psa.items, lambda r: r.device.entity_id,
                 {n for n, items in psa.items_of.items() if len(items) > 1}, lambda r: r.device.n),
                ("contact", psa.contacts, lambda r: r.person.entity_id,
                 {n for n, ks in psa.contacts_of.items() if len(ks) > 1}, lambda r: r.person.n))
    for etype, records, owner, twins, key in psa_sets:
        for r in records:
            if r.deleted_at is not None:
                continue
            sid, eid = str(r.id), owner(r)
            for source in PSA_SOURCES:
                entities.add(etype, source, sid, eid)
                if key(r) in twins:
                    duplicates.add(etype, source, sid, eid, "source_duplicate")

    clients = {c.idx: c for c in tenant.clients}
    for idx, site in site_of.items():
        entities.add("organization", "datto_rmm", site["uid"], clients[idx].entity_id)
    entities.add("organization", "datto_rmm", datto["sites"][-1]["uid"], DATTO_DELETED_SITE_ENTITY)
    for idx, org_id in ninja_org_of.items():
        entities.add("organization", "ninjaone", str(org_id), clients[idx].entity_id)
    for d in tenant.devices:
        if d.in_datto:
            entities.add("configuration", "datto_rmm", d.datto_uid, d.entity_id)
        if d.in_ninja:
            entities.add("configuration", "ninjaone", str(d.ninja_id), d.entity_id)

    _hard_cases(tenant, psa, site_of, ninja, ninja_org_of, glue, negatives, positives)
    return Truth(entities.frame(), duplicates.frame(), orphans.frame(), negatives.frame(), positives.frame())


def _hard_cases(tenant: Tenant, psa: Psa, site_of: dict[int, dict], ninja: dict, ninja_org_of: dict[int, int],
                glue: ItGlue, negatives: _Columns, positives: _Columns) -> None:
    config_of = {g.device.n: g for g in glue.configs if g.primary}
    contact_of = {k.person.n: k for k in glue.contacts if k.primary}

    # Look-alikes that are two things.
    for group in tenant.franchise_groups:
        for a, b in _chain(group):
            oa, ob = glue.main_org[a.idx], glue.main_org[b.idx]
            negatives.add("organization", "franchise_branch", "itglue", str(oa.id), "itglue", str(ob.id))
            ca, cb = psa.company_of[a.idx], psa.company_of[b.idx]
            for source in PSA_SOURCES:
                negatives.add("organization", "franchise_branch", source, str(ca.id), source, str(cb.id))

    def config_pairs(case: str, groups: Iterable[list]) -> None:
        count = 0
        for group in groups:
            recs = [config_of[d.n] for d in group if d.n in config_of]
            for a, b in _chain(recs):
                if count >= MAX_PAIRS_PER_CASE:
                    return
                negatives.add("configuration", case, "itglue", str(a.id), "itglue", str(b.id))
                count += 1

    by_host: dict[str, list] = defaultdict(list)
    by_placeholder: dict[str, list] = defaultdict(list)
    by_vpn: dict[str, list] = defaultdict(list)
    for d in tenant.devices:
        if d.hostname in REUSED_HOSTNAMES:
            by_host[d.hostname].append(d)
        if d.placeholder:
            by_placeholder[d.serial].append(d)
        if d.vpn_mac:
            by_vpn[d.mac].append(d)
    config_pairs("reused_hostname", by_host.values())
    config_pairs("vm_clone_serial", tenant.vm_pools)
    config_pairs("placeholder_serial", by_placeholder.values())
    config_pairs("shared_vpn_mac", by_vpn.values())
    if tenant.variation.on:
        # The PSA's own look-alikes: VM clones sharing one BIOS serial, and machines a person named alike at one
        # client ("PC - Billing", "Lab Server"). Deleting one as the other's duplicate deletes a live device.
        live_items = [i for i in psa.items if i.deleted_at is None and not i.duplicate]
        by_pool: dict[int, list] = defaultdict(list)
        by_name: dict[tuple[int, str], list] = defaultdict(list)
        for i in live_items:
            if i.device.vm_pool is not None:
                by_pool[i.device.vm_pool].append(i)
            by_name[(i.company.id, i.name)].append(i)
        for case, groups in (("vm_clone_serial", by_pool.values()), ("named_alike", by_name.values())):
            count = 0
            for group in groups:
                for a, b in _chain(group):
                    if count < MAX_PAIRS_PER_CASE and a.device is not b.device:
                        for source in PSA_SOURCES:
                            negatives.add("configuration", case, source, str(a.id), source, str(b.id))
                        count += 1
        # One junk serial ("Not Available", "OEM") on many machines, as hand-made copies and imports write it.
        by_junk: dict[str, list] = defaultdict(list)
        for g in glue.configs:
            if g.serial in JUNK_SERIALS:
                by_junk[g.serial].append(g)
        count = 0
        for group in by_junk.values():
            firsts = list({g.device.n: g for g in group}.values())
            for a, b in _chain(firsts):
                if count < MAX_PAIRS_PER_CASE:
                    negatives.add("configuration", "junk_serial", "itglue", str(a.id), "itglue", str(b.id))
                    count += 1
    # The same VM-clone serial seen by the RMM on two machines.
    for pool in tenant.vm_pools:
        in_datto = [d for d in pool if d.in_datto]
        for a, b in _chain(in_datto, 20):
            negatives.add("configuration", "vm_clone_serial", "datto_rmm", a.datto_uid, "datto_rmm", b.datto_uid)
    for pa, pb in tenant.namesakes:
        if pa.n in contact_of and pb.n in contact_of:
            negatives.add("contact", "namesake", "itglue", str(contact_of[pa.n].id), "itglue",
                          str(contact_of[pb.n].id))

    # Records that look different but are one thing.
    counts: dict[str, int] = defaultdict(int)

    def positive(etype: str, case: str, sa: str, ida: str, sb: str, idb: str) -> None:
        if counts[case] < MAX_PAIRS_PER_CASE:
            counts[case] += 1
            positives.add(etype, case, sa, ida, sb, idb)

    for d in tenant.devices:
        g = config_of.get(d.n)
        if g is None:
            continue
        rmm = [("datto_rmm", d.datto_uid)] if d.in_datto and not d.datto_deleted else []
        rmm += [("ninjaone", str(d.ninja_id))] if d.in_ninja else []
        for source, sid in rmm:
            if d.reimaged:
                positive("configuration", "reimaged_laptop", "itglue", str(g.id), source, sid)
            elif g.hostname and "." in g.hostname:
                positive("configuration", "fqdn_vs_short", "itglue", str(g.id), source, sid)
        items = [i for i in psa.items_of.get(d.n, []) if i.deleted_at is None and not i.duplicate]
        if items and g.mac and g.mac != hw.mac_colon(d.mac) and g.integration == "enabled":
            for source in PSA_SOURCES:
                positive("configuration", "mac_format", "itglue", str(g.id), source, str(items[0].id))
    for c in tenant.clients[1:]:
        org = glue.main_org[c.idx]
        site = site_of.get(c.idx)
        if site is not None and site["name"] != org.name:
            positive("organization", "site_name_variant", "itglue", str(org.id), "datto_rmm", site["uid"])
    for c in tenant.clients[1:]:
        # Renamed (the RMM keeps the old name) or misspelt in the PSA: the names disagree more than spelling does.
        case = "renamed_client" if c.former_name else "psa_name_typo" if c.psa_name else None
        if case is None:
            continue
        org = glue.main_org[c.idx]
        if c.idx in site_of:
            positive("organization", case, "itglue", str(org.id), "datto_rmm", site_of[c.idx]["uid"])
        if c.idx in ninja_org_of:
            positive("organization", case, "itglue", str(org.id), "ninjaone", str(ninja_org_of[c.idx]))
        for dup in glue.dup_orgs.get(c.idx, []):
            positive("organization", case, "itglue", str(org.id), "itglue", str(dup.id))
    ninja_names = {o["id"]: o["name"] for o in ninja["organizations"]}
    for idx, org_id in ninja_org_of.items():
        org = glue.main_org[idx]
        if ninja_names[org_id] != org.name:
            positive("organization", "site_name_variant", "itglue", str(org.id), "ninjaone", str(org_id))
    synced = {k.person.n: k for k in glue.contacts if k.integration == "enabled" and not k.nickname}
    for k in glue.contacts:
        if k.nickname and k.person.n in synced:
            positive("contact", "nickname", "itglue", str(k.id), "itglue", str(synced[k.person.n].id))
