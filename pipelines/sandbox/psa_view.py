"""The PSA's view of the tenant: one set of companies, configuration items and contacts, rendered in both
ConnectWise's and Autotask's wire shapes with the same integer ids, so either PSA can be switched on.

Deleted records keep their id (real PSAs never reuse one) but are not served, except ConnectWise companies, which
stay listed with `deletedFlag: true` (the connector filters them out with `conditions=deletedFlag=false`).
"""

import random
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pipelines.sandbox import hardware as hw
from pipelines.sandbox.names import NICKNAMES
from pipelines.sandbox.tenant import (
    DAY,
    LAST_PSA_SYNC,
    NOW,
    T_2016,
    Client,
    Device,
    Person,
    Tenant,
)
from pipelines.sandbox.variation import JUNK_SERIALS, spelled_otherwise, typo

_CW_BASE = "https://api-na.myconnectwise.net/v2024_1/apis/3.0"


_DATES: dict[int, str] = {}


def _date(day: int) -> str:
    text = _DATES.get(day)
    if text is None:
        text = _DATES[day] = datetime.fromtimestamp(day * 86400, UTC).strftime("%Y-%m-%d")
    return text


def iso_ms(t: int) -> str:
    """'2024-04-02T08:15:00.000Z' (IT Glue, Autotask). strftime per record was the generator's hot spot."""
    t = int(t)
    s = t % 86400
    return f"{_date(t // 86400)}T{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}.000Z"


def iso_s(t: int) -> str:
    """'2024-04-02T08:15:00Z' (ConnectWise, Datto RMM)."""
    t = int(t)
    s = t % 86400
    return f"{_date(t // 86400)}T{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}Z"


@dataclass(slots=True, eq=False)
class Company:
    client: Client
    name: str
    created: int
    updated: int
    active: bool
    duplicate: bool = False        # the second company of a source_duplicate client
    deleted_at: int | None = None
    id: int = 0
    identifier: str = ""


@dataclass(slots=True, eq=False)
class Item:
    company: Company
    device: Device
    name: str
    serial: str | None
    created: int
    updated: int
    active: bool
    rmm_linked: bool               # carries the Datto device uid (Autotask's RMM integration created or matched it)
    duplicate: bool = False
    deleted_at: int | None = None
    id: int = 0
    mac_known: bool = True         # the PSA holds a MAC for it (a hard tenant has CIs without one)


@dataclass(slots=True, eq=False)
class Contact:
    company: Company
    person: Person
    first: str
    last: str
    email: str | None
    created: int
    updated: int
    active: bool
    duplicate: bool = False
    deleted_at: int | None = None
    id: int = 0


@dataclass
class Psa:
    """The PSA's records, with lookups from the real things to them (deleted records included)."""

    companies: list[Company] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)
    contacts: list[Contact] = field(default_factory=list)
    company_of: dict[int, Company] = field(default_factory=dict)        # client idx -> its (first) company
    duplicate_company_of: dict[int, Company] = field(default_factory=dict)
    items_of: dict[int, list[Item]] = field(default_factory=dict)        # device n -> its CIs
    contacts_of: dict[int, list[Contact]] = field(default_factory=dict)  # person n -> its contacts


def _named_by_person(rng: random.Random, d: Device) -> str:
    """A configuration item named as the office knows it: for its user or its room, not its hostname."""
    what = {"server": "Server", "workstation": "PC", "laptop": "Laptop", "network": "Firewall",
            "printer": "Printer"}[d.kind]
    who = d.client.people[d.n % len(d.client.people)].first if d.client.people else "Front Desk"
    return rng.choice([f"{who}'s {what}", f"{d.hostname} ({who})", f"{rng.choice(ROOMS)} {what}",
                       f"{what} - {rng.choice(ROOMS)}"])


ROOMS = ["Reception", "Front Desk", "Conference Room", "Back Office", "Lab", "Warehouse", "Exam Room 2", "Billing"]


def company_name_variant(rng: random.Random, name: str, base: str) -> str:
    """The same client's name as someone else typed it: 'Contoso, Inc.' -> 'Contoso Inc', 'CONTOSO INC', ..."""
    options = [name.replace(",", "").rstrip("."), name.upper(), f"{base} Inc", f"{base}, Inc.", f"{base} LLC",
               base, name.replace("&", "and"), f"{name} "]
    options = [o for o in options if o != name]
    return rng.choice(options)


def _identifier(name: str, used: set[str]) -> str:
    ident = re.sub(r"[^A-Za-z0-9]", "", name.title())[:25] or "Company"
    candidate, n = ident, 1
    while candidate in used:
        n += 1
        candidate = f"{ident[:23]}{n}"
    used.add(candidate)
    return candidate


def assign_ids(records: list, start: int, gap: Callable[[], int]) -> None:
    """Ids in creation order, each `gap()` after the last, as a system hands them out."""
    records.sort(key=lambda r: r.created)
    next_id = start
    for r in records:
        r.id = next_id
        next_id += gap()


def _psa_gap(rng: random.Random) -> Callable[[], int]:
    """A PSA's ids: mostly consecutive, sometimes a few apart (records deleted before anyone saw them)."""
    return lambda: 1 if rng.random() < 0.7 else rng.randint(2, 4)


def _deleted_at(rng: random.Random, reason: str | None) -> int | None:
    if reason == "psa_orphaned":       # deleted long enough ago that IT Glue's sync has seen it
        return rng.randint(LAST_PSA_SYNC - 400 * DAY, LAST_PSA_SYNC - DAY)
    if reason == "psa_record_deleted":  # deleted after IT Glue's last sync
        return rng.randint(LAST_PSA_SYNC + 60, NOW - 60)
    return None


def build_psa(rng: random.Random, tenant: Tenant) -> Psa:
    psa = Psa()
    v = tenant.variation
    for c in tenant.clients:
        created = c.onboarded if c.idx else T_2016 - 400 * DAY
        updated = rng.randint(created, NOW - 3600)
        company = Company(c, c.psa_name or c.name, created, updated, c.psa_active, deleted_at=_deleted_at(rng, c.role))
        psa.companies.append(company)
        psa.company_of[c.idx] = company
        if c.role == "source_duplicate":
            t = rng.randint(c.onboarded + DAY, NOW - 60 * DAY)
            name = spelled_otherwise(v.rng, c.name, c.base, v.chance("manual_typo")) if v.on else \
                company_name_variant(rng, c.name, c.base)
            dup = Company(c, name, t, rng.randint(t, NOW - 3600), True, duplicate=True)
            psa.companies.append(dup)
            psa.duplicate_company_of[c.idx] = dup

    for d in tenant.devices:
        in_psa = d.in_psa or d.role in ("psa_orphaned", "psa_record_deleted")
        if not in_psa:
            continue
        company = psa.company_of[d.client.idx]
        # Since the sync method change the RMM creates the CIs; before it, people did.
        created = max(d.first_seen, v.timeline.rmm_switch) + rng.randint(600, 3 * DAY) if d.in_datto and \
            d.role == "sync_method_change" else d.first_seen + rng.randint(600, 5 * DAY)
        created = min(created, NOW - 7200)
        serial = d.serial if rng.random() > 0.06 else None
        if v.chance("psa_serial_missing"):
            serial = None
        elif v.chance("psa_serial_junk"):
            serial = v.rng.choice(JUNK_SERIALS)
        updated = rng.randint(created, NOW - 3600)
        linked = d.in_datto and not d.datto_deleted and rng.random() < 0.9 and not v.chance("ci_unlinked")
        name = _named_by_person(v.rng, d) if v.chance("ci_named_by_person") else d.hostname
        item = Item(company, d, name, serial, created, updated, d.psa_active, rmm_linked=linked, deleted_at=_deleted_at(rng, d.role),
                    mac_known=linked or not v.chance("ci_without_mac"))
        psa.items.append(item)
        psa.items_of[d.n] = [item]
        if d.role == "source_duplicate":
            # Entered again by hand: a name typed differently, often without the serial.
            t = rng.randint(created + DAY, max(created + 2 * DAY, NOW - 30 * DAY))
            owner = psa.duplicate_company_of.get(d.client.idx, company) if d.in_dup_org else company
            name = rng.choice([d.hostname.lower(), f"{d.hostname} ", f"{d.client.code} {d.hostname}",
                               d.hostname.replace("-", "")])
            twin = Item(owner, d, name, d.serial if rng.random() < 0.5 else None, t, rng.randint(t, NOW - 3600),
                        True, rmm_linked=False, duplicate=True)
            psa.items.append(twin)
            psa.items_of[d.n].append(twin)

    for p in tenant.people:
        in_psa = p.in_psa or p.role in ("psa_orphaned", "psa_record_deleted")
        if not in_psa:
            continue
        company = psa.company_of[p.client.idx]
        created = max(p.created, company.created) + rng.randint(600, 2 * DAY)
        created = min(created, NOW - 7200)
        contact = Contact(company, p, p.first, p.last, p.email, created, rng.randint(created, NOW - 3600),
                          p.psa_active, deleted_at=_deleted_at(rng, p.role))
        psa.contacts.append(contact)
        psa.contacts_of[p.n] = [contact]
        if p.role == "source_duplicate":
            t = rng.randint(created + DAY, max(created + 2 * DAY, NOW - 30 * DAY))
            owner = psa.duplicate_company_of.get(p.client.idx, company) if p.in_dup_org else company
            first = NICKNAMES.get(p.first, p.first)
            email = p.email.upper() if first == p.first and rng.random() < 0.5 else (p.email if rng.random() < 0.6
                                                                                      else None)
            last = typo(v.rng, p.last) if v.chance("manual_typo") else p.last
            twin = Contact(owner, p, first, last, email, t, rng.randint(t, NOW - 3600), True, duplicate=True)
            psa.contacts.append(twin)
            psa.contacts_of[p.n].append(twin)

    # A deleted record was made, last changed and synced before it was deleted.
    for r in (*psa.companies, *psa.items, *psa.contacts):
        if r.deleted_at is not None:
            r.created = min(r.created, LAST_PSA_SYNC - 2 * DAY)
            if r.deleted_at <= r.created:
                r.deleted_at = r.created + (LAST_PSA_SYNC - r.created) // 2
            r.updated = min(max(r.updated, r.created), r.deleted_at)
    msp = psa.companies[0]
    rest = psa.companies[1:]
    assign_ids(rest, 174, _psa_gap(rng))
    msp.id = 1
    psa.companies = [msp, *rest]
    used: set[str] = set()
    for company in psa.companies:
        company.identifier = _identifier(company.name, used)
    assign_ids(psa.items, 100001, _psa_gap(rng))
    assign_ids(psa.contacts, 500001, _psa_gap(rng))
    return psa


# ---------------------------------------------------------------------------------------------------- ConnectWise

def _cw_ref(company: Company) -> dict:
    return {"id": company.id, "identifier": company.identifier, "name": company.name,
            "_info": {"company_href": f"{_CW_BASE}/company/companies/{company.id}"}}


def connectwise_company(c: Company, as_of: int = NOW) -> dict:
    client = c.client
    deleted = c.deleted_at if c.deleted_at is not None and c.deleted_at <= as_of else None
    return {
        "id": c.id, "identifier": c.identifier, "name": c.name,
        "status": {"id": 1 if c.active else 2, "name": "Active" if c.active else "Inactive"},
        "types": [{"id": 5, "name": "Owner"}] if client.idx == 0 else [{"id": 1, "name": "Client"}],
        "addressLine1": client.address, "addressLine2": None, "city": client.city, "state": client.state,
        "zip": client.zip, "country": {"id": 1, "name": "United States"}, "phoneNumber": client.phone,
        "faxNumber": "", "website": f"www.{client.domain}", "accountNumber": "",
        "dateAcquired": iso_s(c.created), "leadFlag": False, "unsubscribeFlag": False,
        "site": {"id": c.id * 10 + 1, "name": "Main"},
        "deletedFlag": deleted is not None,
        "dateDeleted": iso_s(deleted) if deleted is not None else None,
        "deletedBy": "jdoe" if deleted is not None else None,
        "_info": {"lastUpdated": iso_s(max(c.updated, deleted or 0)), "updatedBy": "ApiMember",
                  "dateEntered": iso_s(c.created), "enteredBy": "User1"},
    }


def _cw_macs(d: Device) -> str | None:
    if d.vpn_mac:  # ConnectWise keeps every adapter the agent reported, VPN first
        return f"{hw.mac_colon(d.mac)}, {hw.mac_colon(d.nic_mac)}"
    return hw.mac_colon(d.mac) if d.kind != "printer" or d.n % 3 else None


def connectwise_configuration(i: Item) -> dict:
    d = i.device
    type_id, type_name = hw.CONNECTWISE_TYPES[d.kind]
    return {
        "id": i.id, "name": i.name, "type": {"id": type_id, "name": type_name},
        "status": {"id": 2 if i.active else 3, "name": "Active" if i.active else "Inactive"},
        "company": _cw_ref(i.company), "contact": None, "site": {"id": i.company.id * 10 + 1, "name": "Main"},
        "deviceIdentifier": d.datto_uid if i.rmm_linked else None,
        "serialNumber": i.serial, "modelNumber": d.model, "tagNumber": None,
        "manufacturer": {"id": stable_id(d.manufacturer), "name": d.manufacturer},
        "ipAddress": d.ip, "defaultGateway": d.ip.rsplit(".", 1)[0] + ".1",
        "macAddress": None if i.duplicate or not i.mac_known else _cw_macs(d), "osType": d.os,
        "activeFlag": i.active, "billFlag": False, "notes": None, "parentConfigurationId": None,
        "questions": [], "customFields": [],
        "_info": {"lastUpdated": iso_s(i.updated), "updatedBy": "ApiMember", "dateEntered": iso_s(i.created),
                  "enteredBy": "ApiMember" if i.rmm_linked else "User1"},
    }


def connectwise_contact(k: Contact) -> dict:
    p = k.person
    items = []
    if k.email:
        items.append({"id": k.id * 2, "type": {"id": 1, "name": "Email"}, "value": k.email, "extension": None,
                      "defaultFlag": True, "communicationType": "Email"})
    items.append({"id": k.id * 2 + 1, "type": {"id": 2, "name": "Direct"}, "value": p.phone, "extension": None,
                  "defaultFlag": True, "communicationType": "Phone"})
    return {
        "id": k.id, "firstName": k.first, "lastName": k.last, "company": _cw_ref(k.company),
        "site": {"id": k.company.id * 10 + 1, "name": "Main"}, "title": p.title,
        "inactiveFlag": not k.active, "defaultFlag": False, "communicationItems": items,
        "_info": {"lastUpdated": iso_s(k.updated), "updatedBy": "User1", "dateEntered": iso_s(k.created),
                  "enteredBy": "User1"},
    }


# ------------------------------------------------------------------------------------------------------- Autotask

def autotask_company(c: Company) -> dict:
    client = c.client
    return {
        "id": c.id, "companyName": c.name, "companyNumber": str(c.id * 7 + 100000),
        "companyType": 8 if client.idx == 0 else 1, "classification": None, "isActive": c.active,
        "phone": client.phone, "fax": "", "webAddress": f"www.{client.domain}", "address1": client.address,
        "address2": "", "city": client.city, "state": client.state, "postalCode": client.zip, "countryID": 237,
        "ownerResourceID": 29682885, "parentCompanyID": None, "createDate": iso_ms(c.created),
        "lastActivityDate": iso_ms(c.updated), "lastTrackedModifiedDateTime": iso_ms(c.updated),
        "userDefinedFields": [],
    }


def autotask_configuration_item(i: Item) -> dict:
    d = i.device
    linked = i.rmm_linked
    return {
        "id": i.id, "companyID": i.company.id, "companyLocationID": None, "contactID": None,
        "productID": 29683000 + stable_id(d.model), "configurationItemType": 1,
        "configurationItemCategoryID": hw.AUTOTASK_CATEGORIES[d.kind], "referenceTitle": i.name,
        "referenceNumber": None, "serialNumber": i.serial, "isActive": i.active,
        "installDate": iso_ms(d.first_seen), "warrantyExpirationDate": None, "location": None, "notes": "",
        "parentConfigurationItemID": None,
        "rmmDeviceID": d.datto_id if linked else None,
        "rmmDeviceUID": d.datto_uid if linked else None,
        "rmmDeviceAuditHostname": d.rmm_hostname if linked else None,
        "rmmDeviceAuditIPAddress": d.ip if linked else None,
        "rmmDeviceAuditMacAddress": hw.mac_colon(d.mac) if linked else None,
        "rmmDeviceAuditOperatingSystem": f"Microsoft {d.os}" if linked and d.os and d.os.startswith("Windows")
        else (d.os if linked else None),
        "rmmDeviceAuditManufacturerID": stable_id(d.manufacturer) if linked else None,
        "rmmDeviceAuditModelID": stable_id(d.model) if linked else None,
        "createDate": iso_ms(i.created), "createdByPersonID": 29682885, "lastModifiedTime": iso_ms(i.updated),
        "userDefinedFields": [],
    }


def autotask_contact(k: Contact) -> dict:
    p = k.person
    return {
        "id": k.id, "companyID": k.company.id, "firstName": k.first, "lastName": k.last, "title": p.title,
        "emailAddress": k.email, "emailAddress2": None, "emailAddress3": None,
        "phone": f"{p.phone[:3]}-{p.phone[3:6]}-{p.phone[6:]}", "mobilePhone": None,
        # Autotask's contact isActive is an integer (1/0), unlike companies and CIs.
        "isActive": 1 if k.active else 0, "primaryContact": False,
        "createDate": iso_ms(k.created), "lastActivityDate": iso_ms(k.updated), "lastModifiedDate": iso_ms(k.updated),
        "userDefinedFields": [],
    }


def stable_id(name: str) -> int:
    """A small stable integer per manufacturer/model name (lookup-table ids), the same in every run."""
    return zlib.crc32(name.encode()) % 9000 + 1


def render(psa: Psa, as_of: int = NOW) -> tuple[dict[str, list[dict]], dict[str, list[dict]]]:
    """(connectwise, autotask) resources as they stood at `as_of` (today, or last week's run: records deleted since
    were still there). Deleted CIs and contacts are absent from both."""

    def live(r) -> bool:
        return r.deleted_at is None or r.deleted_at > as_of

    live_items = [i for i in psa.items if live(i)]
    live_contacts = [k for k in psa.contacts if live(k)]
    connectwise = {
        "companies": [connectwise_company(c, as_of) for c in psa.companies],
        "configurations": [connectwise_configuration(i) for i in live_items],
        "contacts": [connectwise_contact(k) for k in live_contacts],
    }
    autotask = {
        "companies": [autotask_company(c) for c in psa.companies if live(c)],
        "configuration_items": [autotask_configuration_item(i) for i in live_items],
        "contacts": [autotask_contact(k) for k in live_contacts],
    }
    return connectwise, autotask
