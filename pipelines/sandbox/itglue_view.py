"""IT Glue's view of the tenant: organizations, configurations and contacts as JSON:API resource objects, and the
RMM records attached to configurations.

Every record is first planned as a copy of a real thing (which organization it sits in, whether it is synced, when it
was created and how its fields drifted), then ids are handed out in creation order, as IT Glue does, and the copies
are rendered. The copies carry their ground truth (entity, duplicate cause, orphan reason) for `ground_truth`.
"""

import random
from dataclasses import dataclass, field

from pipelines.sandbox import hardware as hw
from pipelines.sandbox.names import NICKNAMES
from pipelines.sandbox.psa_view import Company, Psa, assign_ids, company_name_variant, iso_ms, stable_id
from pipelines.sandbox.tenant import (
    DAY,
    LAST_PSA_SYNC,
    NOW,
    RMM_DIRECT_START,
    T_2016,
    Client,
    Device,
    Person,
    Tenant,
)
from pipelines.sandbox.variation import JUNK_SERIALS, spelled_otherwise, typo

BASE_URL = "https://sandbox.itglue.com"
# The configuration type an RMM-direct sync creates: not the PSA's, one reason the later PSA sync did not match.
RMM_TYPES = {"server": (70, "Server", "server"), "workstation": (71, "Workstation", "workstation"),
             "laptop": (71, "Workstation", "workstation")}
# How IT Glue ends up holding a MAC: mostly as the PSA sent it, else as someone typed or an import wrote it.
MAC_STYLE_WEIGHTS = [40, 25, 15, 10, 10]


@dataclass(slots=True, eq=False)
class GlueOrg:
    client: Client
    name: str
    integration: str | None
    created: int
    updated: int
    type_name: str = "Customer"
    cause: str | None = None
    orphan: str | None = None
    id: int = 0


@dataclass(slots=True, eq=False)
class GlueConfig:
    org: GlueOrg
    device: Device
    integration: str | None
    created: int
    updated: int
    name: str
    hostname: str | None
    serial: str | None
    mac: str | None
    rmm: str | None = None            # "aem" or "ninja-rmm": RMM data attached
    rmm_direct_type: bool = False
    primary: bool = False             # the copy that stands for the device in hard-case pairs
    cause: str | None = None
    orphan: str | None = None
    active: bool = True
    id: int = 0


@dataclass(slots=True, eq=False)
class GlueContact:
    org: GlueOrg
    person: Person
    integration: str | None
    created: int
    updated: int
    first: str
    last: str
    title: str | None
    email: str | None
    phone: str | None
    primary: bool = False
    nickname: bool = False
    cause: str | None = None
    orphan: str | None = None
    id: int = 0


@dataclass
class ItGlue:
    orgs: list[GlueOrg] = field(default_factory=list)
    configs: list[GlueConfig] = field(default_factory=list)
    contacts: list[GlueContact] = field(default_factory=list)
    main_org: dict[int, GlueOrg] = field(default_factory=dict)     # client idx -> its PSA-synced organization
    dup_orgs: dict[int, list[GlueOrg]] = field(default_factory=dict)


class _Planner:
    def __init__(self, rng: random.Random, tenant: Tenant, psa: Psa):
        self.rng, self.tenant, self.psa = rng, tenant, psa
        self.v = tenant.variation
        self.glue = ItGlue()
        self.bursts: dict[int, tuple[int, int]] = {}   # client idx -> (first, second) CSV import time
        self.burst_seq: dict[tuple[int, int], int] = {}

    # --------------------------------------------------------------------------------------------- timing helpers
    def synced_at(self, psa_created: int, matched_before_sync: bool = True) -> int:
        """When the PSA sync brought a record into IT Glue. Records older than the first sync were created by it
        (a burst), unless a hand-made record matched exactly and kept its own older date."""
        rng = self.rng
        if psa_created < self.v.timeline.psa_sync_start:
            if matched_before_sync and rng.random() < 0.6:
                return psa_created + rng.randint(600, 3 * DAY)
            return self.v.timeline.psa_sync_start + rng.randint(0, 7200)
        return min(psa_created + rng.randint(300, 3600), LAST_PSA_SYNC)

    def burst(self, c: Client, which: int) -> int:
        """A moment inside one of the client's two CSV import bursts: records seconds apart."""
        if c.idx not in self.bursts:
            start = max(self.glue.main_org[c.idx].created + DAY, c.onboarded + 7 * DAY)
            first = self.rng.randint(min(start, NOW - 90 * DAY), NOW - 60 * DAY)
            self.bursts[c.idx] = (first, first + self.rng.randint(2, 25) * DAY + self.rng.randint(0, 8 * 3600))
        key = (c.idx, which)
        seq = self.burst_seq.get(key, 0) + 1
        self.burst_seq[key] = seq
        return self.bursts[c.idx][which] + seq * self.rng.randint(1, 4)

    def synced_update(self, created: int, psa_updated: int) -> int:
        """A synced copy was last touched by the first sync after its PSA record last changed."""
        return min(LAST_PSA_SYNC, max(created, psa_updated) + self.rng.randint(60, 3600))

    def updated(self, created: int) -> int:
        return min(NOW - 60, created + int(self.rng.random() ** 3 * (NOW - created)))

    # ------------------------------------------------------------------------------------------- organizations
    def hand_named(self, c: Client) -> str:
        """An organization someone made by hand or an import made: the client's name (the old one, if it was
        renamed since) as they wrote it."""
        if self.v.on:
            return spelled_otherwise(self.v.rng, c.old_name, c.old_base, self.v.chance("manual_typo"))
        return company_name_variant(self.rng, c.name, c.base)

    def plan_orgs(self) -> None:
        rng, glue = self.rng, self.glue
        msp = self.tenant.clients[0]
        owner = GlueOrg(msp, msp.name, None, T_2016 - 300 * DAY, NOW - 40 * DAY, type_name="Owner")
        glue.orgs.append(owner)
        glue.main_org[0] = owner
        for c in self.tenant.clients[1:]:
            company = self.psa.company_of[c.idx]
            if c.role == "pre_sync_existing":
                created = self.v.timeline.psa_sync_start + rng.randint(0, 7200)  # the sync found no exact match: a new org
            elif company.created < self.v.timeline.psa_sync_start:
                created = company.created + rng.randint(3600, 20 * DAY)  # documented by hand, matched at first sync
            else:
                created = self.synced_at(company.created)
            org = GlueOrg(c, company.name, "enabled", created, self.synced_update(created, company.updated))
            if c.role == "psa_orphaned":
                org.integration, org.orphan = "orphaned", c.role
                org.updated = min(NOW - 60, company.deleted_at + rng.randint(60, 3600))
            elif c.role == "psa_record_deleted":
                org.orphan = c.role
                org.updated = min(org.updated, LAST_PSA_SYNC)
            glue.orgs.append(org)
            glue.main_org[c.idx] = org
            dups: list[GlueOrg] = []
            if c.role == "pre_sync_existing":
                t = c.onboarded + rng.randint(0, 20 * DAY)
                dups.append(GlueOrg(c, self.hand_named(c), None, t, self.updated(t)))
            elif c.role == "sync_method_change":
                # Created by the Datto RMM site mapping, named as the site was then.
                t = max(c.onboarded, self.v.timeline.rmm_direct_start) + rng.randint(DAY, 30 * DAY)
                if self.v.on:  # the RMM's integration made it, named after the site (or the NinjaOne organization)
                    name = c.rmm_site_name or c.ninja_name or self.hand_named(c)
                else:
                    name = f"{c.base} - Main Office" if rng.random() < 0.6 else \
                        company_name_variant(rng, c.name, c.base)
                dups.append(GlueOrg(c, name, None, t, self.updated(t)))
            elif c.role == "source_duplicate":
                twin: Company = self.psa.duplicate_company_of[c.idx]
                t = self.synced_at(twin.created)
                dups.append(GlueOrg(c, twin.name, "enabled", t, self.synced_update(t, twin.updated)))
            elif c.role == "csv_double_import":
                # Two exports of the client's sheet named the organization differently: each import made one.
                names = {company.name}
                for which in (0, 1):
                    name = self.hand_named(c)
                    while name in names:
                        name = self.hand_named(c) + ("." if rng.random() < 0.3 else "")
                    names.add(name)
                    t = self.burst(c, which)
                    dups.append(GlueOrg(c, name, None, t, t + rng.randint(0, 60)))
            if dups:
                org.cause = c.role
                for d in dups:
                    d.cause = c.role
                glue.orgs.extend(dups)
                glue.dup_orgs[c.idx] = dups

    def dup_org(self, c: Client, which: int = 0) -> GlueOrg:
        dups = self.glue.dup_orgs.get(c.idx)
        return dups[min(which, len(dups) - 1)] if dups else self.glue.main_org[c.idx]

    # ------------------------------------------------------------------------------------------- configurations
    def mac_text(self, d: Device, style: int | None = None) -> str | None:
        rng = self.rng
        if d.kind in ("printer", "network") and rng.random() < 0.25:
            return None
        style = rng.choices(range(5), MAC_STYLE_WEIGHTS)[0] if style is None else style
        if d.vpn_mac:
            # The source sent every adapter; IT Glue keeps the first 17 characters.
            both = f"{hw.mac_render(d.mac, style)}, {hw.mac_render(d.nic_mac, style)}"
            return both[:17]
        return hw.mac_render(d.mac, style)

    def itglue_hostname(self, d: Device) -> str | None:
        if not d.computer:
            return None if self.rng.random() < 0.5 else d.hostname
        return d.fqdn if d.fqdn_in_itglue else d.hostname

    def add_config(self, org: GlueOrg, d: Device, integration: str | None, created: int, **kw) -> GlueConfig:
        created = max(created, org.created + 60)
        cfg = GlueConfig(org, d, integration, created, kw.pop("updated", None) or self.updated(created),
                         name=kw.pop("name", d.hostname), hostname=kw.pop("hostname", self.itglue_hostname(d)),
                         serial=kw.pop("serial", d.serial), mac=kw.pop("mac", self.mac_text(d)), **kw)
        self.glue.configs.append(cfg)
        return cfg

    def hand_serial(self, d: Device) -> str | None:
        """The serial on a copy made by hand or by an import: in a hard tenant sometimes blank or junk."""
        if self.v.chance("itglue_serial_missing"):
            return None
        if self.v.chance("itglue_serial_junk"):
            return self.v.rng.choice(JUNK_SERIALS)
        return d.serial

    def synced_config(self, d: Device, item_index: int = 0, **kw) -> GlueConfig:
        item = self.psa.items_of[d.n][item_index]
        if not item.mac_known and "mac" not in kw and self.v.chance("synced_mac_dropped"):
            kw["mac"] = None  # the PSA sent none
        org = self.glue.main_org[d.client.idx]
        if item.company.duplicate:
            org = self.dup_org(d.client)
        created = kw.pop("created", None) or self.synced_at(item.created)
        return self.add_config(org, d, "enabled", created, name=item.name, serial=item.serial,
                               active=item.active, updated=self.synced_update(created, item.updated), **kw)

    def rmm_kind(self, d: Device) -> str | None:
        if d.in_datto and not d.datto_deleted:
            return "aem"
        return "ninja-rmm" if d.in_ninja else None

    def rmm_direct_config(self, org: GlueOrg, d: Device, created: int, rmm: str = "aem", **kw) -> GlueConfig:
        return self.add_config(org, d, None, created, name=kw.pop("name", d.rmm_hostname),
                               hostname=kw.pop("hostname", d.rmm_hostname if self.rng.random() < 0.7 else
                                               f"{d.rmm_hostname.lower()}.{d.client.ad_domain}"),
                               mac=self.mac_text(d, style=0), rmm=rmm, rmm_direct_type=True,
                               **({"serial": d.rmm_serial or d.serial} if self.v.on else {}), **kw)

    def orphan(self, copy, role: str, psa_deleted_at: int) -> None:
        """A synced copy whose PSA record was deleted: "orphaned" after the next sync, still "enabled" before it."""
        copy.orphan = role
        if role == "psa_orphaned":
            copy.integration = "orphaned"
            copy.updated = min(NOW - 60, max(copy.created, psa_deleted_at) + self.rng.randint(60, 3600))
        else:
            copy.updated = min(copy.updated, LAST_PSA_SYNC)

    def plan_configs(self) -> None:
        rng = self.rng
        for d in self.tenant.devices:
            c, role = d.client, d.role
            main = self.glue.main_org[c.idx]
            if role is None:
                if d.in_psa:
                    rmm = self.rmm_kind(d) if rng.random() < 0.5 else None
                    self.synced_config(d, rmm=rmm, primary=True)
                elif self.rmm_kind(d):
                    t = max(d.first_seen, self.v.timeline.rmm_direct_start) + rng.randint(600, 2 * DAY)
                    self.rmm_direct_config(main, d, t, rmm=self.rmm_kind(d), primary=True)
                else:
                    t = self.burst(c, 0) if rng.random() < 0.5 else d.first_seen + rng.randint(DAY, 60 * DAY)
                    self.add_config(main, d, None, min(t, NOW - DAY), primary=True,
                                    **({"serial": self.hand_serial(d)} if self.v.on else {}))
            elif role == "pre_sync_existing":
                org = self.dup_org(c) if d.in_dup_org else main
                lo = max(d.first_seen, org.created + 3600)
                t = rng.randint(lo, max(lo, self.v.timeline.psa_sync_start - DAY))
                # Typed by hand: another spelling of the name, often no serial or MAC, so the sync could not match.
                name = rng.choice([d.hostname.lower(), d.fqdn, f"{d.hostname} ({d.model})", d.hostname.title()])
                manual = self.add_config(org, d, None, t, name=name,
                                         hostname=d.fqdn if rng.random() < 0.5 else d.hostname.lower(),
                                         serial=None if rng.random() < 0.6 else d.serial,
                                         mac=None if rng.random() < 0.4 else self.mac_text(d))
                synced = self.synced_config(d, created=self.v.timeline.psa_sync_start + rng.randint(0, 7200),
                                            rmm=self.rmm_kind(d) if rng.random() < 0.3 else None, primary=True)
                manual.cause = synced.cause = role
            elif role == "csv_double_import":
                first = self.add_config(self.dup_org(c, 0) if d.in_dup_org else main, d, None, self.burst(c, 0),
                                        primary=True, **({"serial": self.hand_serial(d)} if self.v.on else {}))
                # The same row imported again: same fields, only what the import normalised differs.
                second = self.add_config(self.dup_org(c, 1) if d.in_dup_org else main, d, None, self.burst(c, 1),
                                         name=first.name, hostname=first.hostname, serial=first.serial,
                                         mac=first.mac if rng.random() < 0.5 else self.mac_text(d))
                first.updated, second.updated = first.created + rng.randint(0, 60), second.created + rng.randint(0, 60)
                first.cause = second.cause = role
            elif role == "sync_method_change":
                org = self.dup_org(c) if d.in_dup_org else main
                lo = max(d.first_seen, self.v.timeline.rmm_direct_start, org.created + 3600)
                t = rng.randint(lo, max(lo, self.v.timeline.rmm_switch - DAY))
                direct = self.rmm_direct_config(org, d, t, rmm=self.rmm_kind(d) or "aem")
                synced = self.synced_config(d, primary=True)
                direct.cause = synced.cause = role
            elif role == "source_duplicate":
                a = self.synced_config(d, 0, primary=True, rmm=self.rmm_kind(d) if rng.random() < 0.3 else None)
                b = self.synced_config(d, 1, mac=None if rng.random() < 0.6 else self.mac_text(d))
                a.cause = b.cause = role
            elif role in ("psa_orphaned", "psa_record_deleted"):
                item = self.psa.items_of[d.n][0]
                self.orphan(self.synced_config(d, primary=True), role, item.deleted_at)
            elif role == "rmm_device_deleted":
                t = max(d.first_seen, self.v.timeline.rmm_direct_start) + rng.randint(600, 2 * DAY)
                rmm = "aem" if d.client.in_datto else "ninja-rmm"
                cfg = self.rmm_direct_config(main, d, min(t, NOW - 30 * DAY), rmm=rmm, primary=True)
                cfg.orphan = role

    # ------------------------------------------------------------------------------------------------- contacts
    def add_contact(self, org: GlueOrg, p: Person, integration: str | None, created: int, **kw) -> GlueContact:
        created = max(created, org.created + 60)
        k = GlueContact(org, p, integration, created, kw.pop("updated", None) or self.updated(created),
                        first=kw.pop("first", p.first), last=kw.pop("last", p.last), title=kw.pop("title", p.title),
                        email=kw.pop("email", p.email), phone=kw.pop("phone", _phone(p.phone)), **kw)
        self.glue.contacts.append(k)
        return k

    def synced_contact(self, p: Person, index: int = 0, **kw) -> GlueContact:
        contact = self.psa.contacts_of[p.n][index]
        org = self.dup_org(p.client) if contact.company.duplicate else self.glue.main_org[p.client.idx]
        created = kw.pop("created", None) or self.synced_at(contact.created)
        return self.add_contact(org, p, "enabled", created, first=contact.first, last=contact.last,
                                email=contact.email, updated=self.synced_update(created, contact.updated), **kw)

    def plan_contacts(self) -> None:
        rng = self.rng
        for p in self.tenant.people:
            c, role = p.client, p.role
            main = self.glue.main_org[c.idx]
            if role is None:
                if p.in_psa:
                    self.synced_contact(p, primary=True)
                else:
                    self.add_contact(main, p, None, min(p.created + rng.randint(DAY, 30 * DAY), NOW - DAY),
                                     primary=True)
            elif role == "pre_sync_existing":
                org = self.dup_org(c) if p.in_dup_org else main
                lo = max(p.created, org.created + 3600)
                t = rng.randint(lo, max(lo, self.v.timeline.psa_sync_start - DAY))
                nick = NICKNAMES.get(p.first)
                extra = {}
                if self.v.chance("manual_typo"):  # typed by hand: a slip in the surname or the first name
                    extra = {"last": typo(self.v.rng, p.last)} if self.v.rng.random() < 0.6 else \
                        {"first": typo(self.v.rng, nick or p.first)}
                manual = self.add_contact(org, p, None, t, first=extra.pop("first", nick or p.first),
                                          nickname=nick is not None, **extra,
                                          email=p.email if rng.random() < 0.5 else (None if nick else p.email.upper()),
                                          title=None if rng.random() < 0.5 else p.title)
                synced = self.synced_contact(p, created=self.v.timeline.psa_sync_start + rng.randint(0, 7200), primary=True)
                manual.cause = synced.cause = role
            elif role == "csv_double_import":
                a = self.add_contact(self.dup_org(c, 0) if p.in_dup_org else main, p, None, self.burst(c, 0),
                                     primary=True)
                b = self.add_contact(self.dup_org(c, 1) if p.in_dup_org else main, p, None, self.burst(c, 1),
                                     **({"last": typo(self.v.rng, p.last)}
                                        if self.v.on and self.v.rng.random() < 0.3 and self.v.chance("manual_typo")
                                        else {}))
                a.updated, b.updated = a.created + rng.randint(0, 60), b.created + rng.randint(0, 60)
                a.cause = b.cause = role
            elif role == "source_duplicate":
                a = self.synced_contact(p, 0, primary=True)
                b = self.synced_contact(p, 1)
                b.nickname = b.first != p.first
                a.cause = b.cause = role
            elif role in ("psa_orphaned", "psa_record_deleted"):
                contact = self.psa.contacts_of[p.n][0]
                self.orphan(self.synced_contact(p, primary=True), role, contact.deleted_at)


def _phone(digits: str) -> str:
    return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"


def build_itglue(rng: random.Random, tenant: Tenant, psa: Psa) -> ItGlue:
    """Plan every IT Glue copy of every real thing, then hand out ids in creation order."""
    planner = _Planner(rng, tenant, psa)
    planner.plan_orgs()
    planner.plan_configs()
    planner.plan_contacts()
    glue = planner.glue
    assign_ids(glue.orgs, 2563000, lambda: rng.randint(1, 6))
    assign_ids(glue.configs, 14870000, lambda: rng.randint(1, 6))
    assign_ids(glue.contacts, 8120000, lambda: rng.randint(1, 6))
    return glue


# ---------------------------------------------------------------------------------------------------- rendering

def _short_name(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())[:12]


def render_org(o: GlueOrg) -> dict:
    owner = o.type_name == "Owner"
    return {"id": str(o.id), "type": "organizations", "attributes": {
        "name": o.name, "alert": None, "description": None,
        "organization-type-id": 15 if owner else 86, "organization-type-name": o.type_name,
        "organization-status-id": 68, "organization-status-name": "Active",
        "psa-integration": o.integration, "my-glue-account-id": None, "my-glue-account-status": None,
        "primary": owner, "logo": "", "quick-notes": None, "short-name": _short_name(o.name),
        "created-at": iso_ms(o.created), "updated-at": iso_ms(max(o.updated, o.created)),
        "parent-id": None, "ancestor-ids": "[]",
    }}


def render_config(g: GlueConfig) -> dict:
    d, org = g.device, g.org
    type_id, type_name, kind = RMM_TYPES[d.kind] if g.rmm_direct_type else hw.ITGLUE_TYPES[d.kind]
    return {"id": str(g.id), "type": "configurations", "attributes": {
        "organization-id": org.id, "organization-name": org.name,
        "resource-url": f"{BASE_URL}/{org.id}/configurations/{g.id}",
        "restricted": False, "psa-integration": g.integration, "my-glue": False,
        "name": g.name, "hostname": g.hostname, "primary-ip": d.ip, "mac-address": g.mac,
        "default-gateway": d.ip.rsplit(".", 1)[0] + ".1", "serial-number": g.serial, "asset-tag": None,
        "position": None, "installed-by": None, "purchased-by": None, "notes": None, "operating-system-notes": None,
        "warranty-expires-at": None, "mitp-device-expiration-date": None, "mitp-end-of-life-date": None,
        "installed-at": None, "purchased-at": None,
        "created-at": iso_ms(g.created), "updated-at": iso_ms(max(g.updated, g.created)),
        "organization-short-name": _short_name(org.name),
        "configuration-type-id": type_id, "configuration-type-name": type_name, "configuration-type-kind": kind,
        "configuration-status-id": 29 if g.active else 30,
        "configuration-status-name": "Active" if g.active else "Inactive",
        "manufacturer-id": stable_id(d.manufacturer), "manufacturer-name": d.manufacturer,
        "model-id": stable_id(d.model), "model-name": d.model,
        "operating-system-id": stable_id(d.os) if d.os else None, "operating-system-name": d.os,
        "location-id": None, "location-name": None, "contact-id": None, "contact-name": None, "archived": False,
    }, "relationships": {"adapters-resources": {"data": []}}}


def render_contact(k: GlueContact) -> dict:
    org = k.org
    emails = [{"value": k.email, "primary": True, "label-name": "Work"}] if k.email else []
    phones = [{"value": k.phone, "extension": None, "primary": True, "label-name": "Work"}] if k.phone else []
    return {"id": str(k.id), "type": "contacts", "attributes": {
        "organization-id": org.id, "organization-name": org.name, "name": f"{k.first} {k.last}",
        "first-name": k.first, "last-name": k.last, "title": k.title,
        "contact-type-id": None, "contact-type-name": None, "location-id": None, "location-name": None,
        "important": False, "notes": None, "restricted": False, "my-glue": False,
        "psa-integration": k.integration,
        "resource-url": f"{BASE_URL}/{org.id}/contacts/{k.id}",
        "created-at": iso_ms(k.created), "updated-at": iso_ms(max(k.updated, k.created)),
        "contact-emails": emails, "contact-phones": phones,
    }}


def render_rmm_records(rng: random.Random, glue: ItGlue, rmm_direct_start: int = RMM_DIRECT_START
                       ) -> dict[str, list[dict]]:
    """configuration id -> its RMM records (what `include=rmm_records` returns)."""
    out: dict[str, list[dict]] = {}
    next_id = 610000
    for g in glue.configs:
        if not g.rmm:
            continue
        d = g.device
        next_id += rng.randint(1, 4)
        datto = g.rmm == "aem"
        seen = NOW - rng.randint(300, 3 * DAY) if not d.datto_deleted and g.orphan is None else \
            NOW - rng.randint(30 * DAY, 400 * DAY)
        macs = [hw.mac_colon(d.mac)] + ([hw.mac_colon(d.nic_mac)] if d.vpn_mac else [])
        # Attached when the RMM integration first saw the device, which may be after the copy was made.
        attached = max(g.created, d.first_seen, rmm_direct_start) + rng.randint(60, 3600)
        out[str(g.id)] = [{"id": str(next_id), "type": "rmm-records", "attributes": {
            "configuration-id": g.id, "name": d.rmm_hostname, "hostname": d.rmm_hostname,
            "serial-number": d.rmm_serial or d.serial, "mac-addresses": macs, "ip-address": d.ip,
            "device-type": hw.DATTO_TYPES[d.kind][0] if datto else hw.NINJA_CLASSES[d.kind],
            "manufacturer": d.manufacturer, "model": d.model, "operating-system": d.os,
            "last-seen-online": iso_ms(seen), "rmm-integration-type": g.rmm,
            # The RMM record's own id in its system (Datto device uid, NinjaOne device id): its source_id.
            "device-id": d.datto_uid if datto else str(d.ninja_id),
            "created-at": iso_ms(attached), "updated-at": iso_ms(max(attached, seen)),
        }}]
    return out
