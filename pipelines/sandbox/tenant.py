"""The real things behind the sandbox tenant, and what happened to each of them.

First the MSP's clients, their devices and their people as they are in the world; then the story: which client was
documented by hand before the first PSA sync, which device sits in the PSA twice, which laptop was reimaged, which
former client's records were deleted. The per-system views (`psa_view`, `rmm_view`, `itglue_view`) only render
this story; they make no decisions of their own beyond cosmetic variation.
"""

import random
import re
from dataclasses import dataclass, field

from pipelines.sandbox import hardware as hw
from pipelines.sandbox import names
from pipelines.sandbox.variation import JUNK_SERIALS, Variation, typo, variation_for

# The tenant's timeline (epoch seconds, UTC). Fixed, so a seed always yields the same world.
DAY = 86400
T_2016 = 1451606400            # oldest client
RMM_DIRECT_START = 1519862400  # 2018-03-01: Datto RMM -> IT Glue direct sync turned on
PSA_SYNC_START = 1568592000    # 2019-09-16: first PSA -> IT Glue sync
RMM_SWITCH = 1622505600        # 2021-06-01: devices now flow RMM -> PSA -> IT Glue (the sync method change)
NOW = 1746057600               # 2025-05-01: "today" in the sandbox
LAST_PSA_SYNC = NOW - 3 * 3600

# Duplicate causes and orphan reasons (contract names).
CAUSES = ("pre_sync_existing", "csv_double_import", "sync_method_change", "source_duplicate")
ORPHAN_REASONS = ("psa_orphaned", "psa_record_deleted", "rmm_device_deleted")

# What share of clients / devices / people each story touches. Every one appears at least once per world, so small
# worlds are dense with hard cases and large ones have realistic rates.
CLIENT_RATES = {
    "pre_sync_existing": 0.02, "sync_method_change": 0.01, "source_duplicate": 0.012, "csv_double_import": 0.006,
    "psa_orphaned": 0.012, "psa_record_deleted": 0.008, "franchise": 0.02,
}
DEVICE_RATES = {
    "pre_sync_existing": 0.022, "csv_double_import": 0.012, "sync_method_change": 0.018, "source_duplicate": 0.014,
    "psa_orphaned": 0.012, "psa_record_deleted": 0.008, "rmm_device_deleted": 0.01,
    "not_in_psa": 0.05, "reimaged": 0.03, "fqdn_in_itglue": 0.15, "placeholder_serial": 0.015, "vpn_mac": 0.02,
}
PERSON_RATES = {
    "pre_sync_existing": 0.015, "csv_double_import": 0.008, "source_duplicate": 0.01,
    "psa_orphaned": 0.01, "psa_record_deleted": 0.008, "not_in_psa": 0.04, "namesake_pairs": 0.004,
}
RMM_SHARES = {"datto": 0.55, "both": 0.10, "ninja": 0.20}  # the rest: no RMM
FORMER = ("psa_orphaned", "psa_record_deleted")


@dataclass(slots=True, eq=False)
class Client:
    idx: int
    name: str                  # as the PSA holds it (IT Glue's synced org carries it exactly)
    base: str                  # without legal suffix
    code: str                  # hostname prefix, e.g. CONTOSO
    domain: str
    ad_domain: str
    phone: str
    city: str
    state: str
    zip: str
    address: str
    onboarded: int
    subnet: str
    branch_of: str | None = None
    rmm: str | None = None     # "datto", "ninja", "both" or None
    role: str | None = None    # an org-level cause or orphan reason
    psa_active: bool = True
    prefixed_infra: bool = False
    devices: list["Device"] = field(default_factory=list)
    people: list["Person"] = field(default_factory=list)
    psa_name: str | None = None      # the name as the PSA holds it, where it has a typo
    former_name: str | None = None   # a renamed client's old name (the RMM and hand-made copies still use it)
    former_base: str | None = None
    rmm_site_name: str | None = None  # what Datto RMM calls it (set by rmm_view)
    ninja_name: str | None = None     # what NinjaOne calls it

    @property
    def old_name(self) -> str:
        return self.former_name or self.name

    @property
    def old_base(self) -> str:
        return self.former_base or self.base

    @property
    def entity_id(self) -> str:
        return f"org-{self.idx}"

    @property
    def in_datto(self) -> bool:
        return self.rmm in ("datto", "both")

    @property
    def in_ninja(self) -> bool:
        return self.rmm in ("ninja", "both")


@dataclass(slots=True, eq=False)
class Device:
    n: int
    client: Client
    kind: str
    hostname: str              # what the PSA and IT Glue know it as
    serial: str | None
    mac: str                   # primary MAC as tools report it (12 hex; a shared VPN MAC where `vpn_mac`)
    nic_mac: str               # the physical adapter's own MAC
    ip: str
    manufacturer: str
    model: str
    os: str | None
    first_seen: int
    rmm_hostname: str = ""     # what the RMM agent reports (differs after a reimage)
    role: str | None = None
    in_dup_org: bool = False   # its duplicate copy lives under the client's duplicate organization
    in_psa: bool = True
    in_datto: bool = False
    in_ninja: bool = False
    datto_deleted: bool = False  # sits in Datto's "Deleted Devices" site
    psa_active: bool = True
    reimaged: bool = False
    fqdn_in_itglue: bool = False
    placeholder: bool = False
    vm_pool: int | None = None
    vpn_mac: bool = False
    datto_id: int | None = None  # filled by rmm_view.assign_rmm_ids, read by the PSA's RMM links
    datto_uid: str | None = None
    ninja_id: int | None = None
    rmm_serial: str | None = None  # junk the agent reads from the BIOS, where the RMM reports one

    @property
    def entity_id(self) -> str:
        return f"dev-{self.n}"

    @property
    def computer(self) -> bool:
        return self.kind in ("server", "workstation", "laptop")

    @property
    def fqdn(self) -> str:
        return f"{self.hostname.lower()}.{self.client.ad_domain}"


@dataclass(slots=True, eq=False)
class Person:
    n: int
    client: Client
    first: str
    last: str
    title: str | None
    email: str
    phone: str
    created: int
    role: str | None = None
    in_dup_org: bool = False
    in_psa: bool = True
    psa_active: bool = True

    @property
    def entity_id(self) -> str:
        return f"person-{self.n}"


@dataclass(slots=True)
class Tenant:
    """The real clients (index 0 is the MSP itself), their devices and people, and the hard cases planted among them."""

    clients: list[Client]
    devices: list[Device]
    people: list[Person]
    franchise_groups: list[list[Client]]
    vm_pools: list[list[Device]]
    namesakes: list[tuple[Person, Person]]
    variation: Variation = field(default_factory=lambda: variation_for(0, "standard"))


@dataclass(frozen=True, slots=True)
class Timeline:
    """When the MSP turned each integration on. A tidy tenant has the dates above; each hard tenant its own, so a
    cause is told by the signatures the article describes (which copy came first, which syncs), not by a date."""

    rmm_direct_start: int = RMM_DIRECT_START
    psa_sync_start: int = PSA_SYNC_START
    rmm_switch: int = RMM_SWITCH


def timeline_for(v: Variation) -> Timeline:
    if not v.on:
        return Timeline()
    rng = v.rng
    direct = T_2016 + rng.randint(200, 900) * DAY
    sync = direct + rng.randint(200, 700) * DAY
    return Timeline(direct, sync, min(sync + rng.randint(300, 900) * DAY, NOW - 500 * DAY))


class TenantRandom(random.Random):
    """random.Random with a cheaper randint (the stdlib's is a third of the generator's time at scale)."""

    def randint(self, a: int, b: int) -> int:
        return a + int(self.random() * (b - a + 1))


def quota(rate: float, total: int) -> int:
    return max(1, round(rate * total))


def _pick(rng: random.Random, pool: list, k: int) -> list:
    return rng.sample(pool, min(k, len(pool)))


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", text.lower())


# ---------------------------------------------------------------------------------------------------------- clients

def _client_names(rng: random.Random, count: int, v: Variation) -> list[tuple[str, str, str | None]]:
    """(full name, base name, franchise parent) for `count` clients; branch groups share a base and domain."""
    used: set[str] = set()
    out: list[tuple[str, str, str | None]] = []
    famous = list(names.FAMOUS_CLIENTS)
    rng.shuffle(famous)
    n_groups = quota(v.rate("client.franchise", CLIENT_RATES["franchise"]), count) if count >= 6 else 0
    # "Acme Dental" is the classic franchise: it always heads the first branch group.
    group_bases: list[str] = ["Acme Dental"] if n_groups else []
    while len(out) < count:
        if famous:
            base = famous.pop()
            if base == "Acme Dental" and n_groups:
                continue
        else:
            style = rng.random()
            if v.chance("rich_name"):
                base = _rich_name(v.rng)
            elif style < 0.45:
                base = f"{rng.choice(names.PLACE_WORDS)} {rng.choice(names.INDUSTRY_WORDS)}"
            elif style < 0.8:
                base = f"{rng.choice(names.SURNAME_WORDS + names.LAST_NAMES)} {rng.choice(names.INDUSTRY_WORDS)}"
            elif style < 0.92:
                base = f"{rng.choice(names.LAST_NAMES)} & {rng.choice(names.LAST_NAMES)} {rng.choice(names.INDUSTRY_WORDS)}"
            else:
                base = f"{rng.choice(names.PLACE_WORDS)} {rng.choice(names.SURNAME_WORDS)} {rng.choice(names.INDUSTRY_WORDS)}"
        if base in used:
            continue
        used.add(base)
        if len(group_bases) < n_groups and base != "Acme Dental" and rng.random() < 0.5:
            group_bases.append(base)
            continue
        if base in group_bases:
            continue
        suffix = rng.choice(names.LEGAL_SUFFIXES) if rng.random() < 0.45 else None
        if suffix and v.on and v.rng.random() < 0.3:
            suffix = v.rng.choice(names.MORE_LEGAL_SUFFIXES)
        out.append((f"{base}, {suffix}" if suffix and rng.random() < 0.4 else
                    f"{base} {suffix}" if suffix else base, base, None))
    # Branches replace the tail of the list, so the count stays exact.
    branches: list[tuple[str, str, str | None]] = []
    for base in group_bases:
        for b in rng.sample(names.BRANCHES, rng.randint(2, 3)):
            branches.append((f"{base} - {b}", base, base))
    branches = branches[: max(0, count - 2)]
    return out[: count - len(branches)] + branches


def _rich_name(rng: random.Random) -> str:
    """A name with the words people shorten or drop: 'The Harbor Group', 'Atlas Freight International'."""
    place, industry = rng.choice(names.PLACE_WORDS), rng.choice(names.INDUSTRY_WORDS)
    surname = rng.choice(names.SURNAME_WORDS + names.LAST_NAMES)
    return rng.choice([f"The {place} {industry}", f"{place} {industry} Group", f"{place} {industry} International",
                       f"{surname} & Sons {industry}", f"{surname} and {rng.choice(names.LAST_NAMES)} Associates",
                       f"{place} {rng.choice(names.SERVICE_WORDS)} Services", f"{surname} Brothers {industry}",
                       f"{place} {surname} Partners", f"The {surname} Company", f"{place} Management Group"])


def _rename(rng: random.Random, c: "Client", taken: set[str]) -> None:
    """The client took a new name; the PSA has it, the rest keeps the old one until someone notices."""
    words = c.base.split()
    for _ in range(20):
        r = rng.random()
        if r < 0.4:
            new = f"{words[0]} {rng.choice(names.INDUSTRY_WORDS)}"
        elif r < 0.7:
            new = _rich_name(rng)
        else:
            new = f"{rng.choice(names.PLACE_WORDS)} {rng.choice(names.INDUSTRY_WORDS)}"
        if new not in taken and new != c.base:
            break
    else:
        return
    taken.add(new)
    c.former_name, c.former_base = c.name, c.base
    suffix = c.name[len(c.base):]
    c.base, c.name = new, new + (suffix if rng.random() < 0.6 else "")


def _client_code(base: str) -> str:
    words = re.findall(r"[A-Za-z]+", base)
    code = words[0].upper() if len(words[0]) >= 4 else "".join(w[0] for w in words).upper()
    return code[:8]


def build_clients(rng: random.Random, scale: int, v: Variation) -> list[Client]:
    domains: dict[str, str] = {}
    taken_domains: set[str] = set()
    clients = [Client(0, names.MSP_NAME, names.MSP_NAME, "KRAKEN", names.MSP_DOMAIN, "kraken.local",
                      "5185550100", "Albany", "NY", "12207", "26 Tech Valley Dr", T_2016, "10.99.0")]
    for idx, (full, base, parent) in enumerate(_client_names(rng, scale, v), start=1):
        if base not in domains:
            slug = _slug(base.replace("&", "and"))
            domain = slug[:20] + rng.choice(names.TLDS)
            while domain in taken_domains:
                domain = slug[:16] + str(rng.randint(10, 99)) + rng.choice(names.TLDS)
            domains[base] = domain
            taken_domains.add(domain)
        city, state, area = rng.choice(names.CITIES)
        code = _client_code(base)
        subnet = rng.choice(["192.168.1", "192.168.0", "10.0.0", "10.10.1", "172.16.0",
                             f"10.{rng.randint(1, 250)}.{rng.randint(0, 250)}"])
        clients.append(Client(
            idx=idx, name=full, base=base, code=code, domain=domains[base],
            ad_domain=rng.choice([f"{code.lower()}.local", f"corp.{domains[base]}", f"{code.lower()}.lan"]),
            phone=f"{area}555{rng.randint(100, 9999):04d}", city=city, state=state,
            zip=f"{rng.randint(10000, 99999)}", address=f"{rng.randint(1, 9999)} {rng.choice(names.STREETS)}",
            onboarded=rng.randint(T_2016, NOW - 120 * DAY), subnet=subnet, branch_of=parent,
            prefixed_infra=rng.random() < 0.4, psa_active=rng.random() > 0.03))
    for c in clients[1:]:
        r = rng.random()
        c.rmm = "datto" if r < RMM_SHARES["datto"] else "both" if r < RMM_SHARES["datto"] + RMM_SHARES["both"] \
            else "ninja" if r < RMM_SHARES["datto"] + RMM_SHARES["both"] + RMM_SHARES["ninja"] else None
        # An MSP that runs one RMM has every managed client in it.
        if c.rmm and v.rmm == "datto_rmm":
            c.rmm = "datto"
        elif c.rmm and v.rmm == "ninjaone":
            c.rmm = "ninja"
    if v.on:
        taken = {c.base for c in clients}
        for c in clients[1:]:
            if c.branch_of is None and v.chance("renamed"):
                _rename(v.rng, c, taken)
            if v.chance("psa_name_typo"):
                c.psa_name = typo(v.rng, c.name)
    return clients


def _ensure_rmm_mix(rng: random.Random, clients: list[Client], rmm: str) -> None:
    """Even a tiny tenant has a Datto-only, a NinjaOne-only and a migrating (both) client (of the RMMs it runs)."""
    plain = [c for c in clients[1:] if c.role is None and c.branch_of is None]
    kinds = {"both": ("datto", "ninja", "both"), "datto_rmm": ("datto",), "ninjaone": ("ninja",)}[rmm]
    for kind in kinds:
        if plain and not any(c.rmm == kind for c in clients[1:]):
            rng.choice(plain).rmm = kind


def plan_client_roles(rng: random.Random, clients: list[Client], v: Variation) -> None:
    """Which clients carry a duplicate organization, and which are former clients whose PSA company is gone."""
    pool = [c for c in clients[1:] if c.branch_of is None]
    rng.shuffle(pool)
    total = len(clients) - 1
    for role in ("pre_sync_existing", "sync_method_change", "source_duplicate", "csv_double_import",
                 "psa_orphaned", "psa_record_deleted"):
        for _ in range(quota(v.rate(f"client.{role}", CLIENT_RATES[role]), total)):
            if not pool:
                return
            c = pool.pop()
            c.role = role
            if role == "pre_sync_existing":
                c.onboarded = rng.randint(T_2016, v.timeline.psa_sync_start - 90 * DAY)
            elif role == "sync_method_change":
                c.onboarded = rng.randint(T_2016, v.timeline.rmm_switch - 200 * DAY)
                c.rmm = "ninja" if v.rmm == "ninjaone" else "datto"
            elif role in ("psa_orphaned", "psa_record_deleted"):
                c.rmm = None  # a former client: agents removed
                c.psa_active = True


# ---------------------------------------------------------------------------------------------------------- devices

def _device_names(rng: random.Random, client: Client, n: int) -> list[tuple[str, str]]:
    """(kind, hostname) for a client's n devices, following one naming convention per client."""
    pre = f"{client.code}-" if client.prefixed_infra else ""
    kinds: list[tuple[str, str]] = [("network", f"{pre}FW01")]
    if n >= 10:
        kinds.append(("network", f"{pre}SW01"))
    kinds.append(("printer", f"{pre}PRINTER"))
    if rng.random() < 0.8:
        kinds.append(("server", f"{pre}DC01"))
    if rng.random() < 0.3:
        kinds.append(("server", f"{pre}FS01"))
    if n >= 20 and rng.random() < 0.4:
        kinds.append(("printer", f"{pre}PRINTER2"))
    style = rng.randrange(4)
    ws = lt = 0
    while len(kinds) < n:
        if rng.random() < 0.6:
            ws += 1
            if style == 3:
                host = "DESKTOP-" + "".join(rng.choices(hw.ALNUM, k=7))
            else:
                host = (f"WS-{ws:03d}", f"{client.code}-WS{ws:03d}", f"{client.code}-PC-{ws:02d}")[style]
            kinds.append(("workstation", host))
        else:
            lt += 1
            host = (f"LT-{lt:03d}", f"{client.code}-LT-{lt:03d}", f"{client.code}-NB{lt:02d}",
                    "LAPTOP-" + "".join(rng.choices(hw.ALNUM, k=7)))[style]
            kinds.append(("laptop", host))
    return kinds


def build_devices(rng: random.Random, clients: list[Client], v: Variation
                  ) -> tuple[list[Device], list[list[Device]]]:
    devices: list[Device] = []
    pools: list[list[Device]] = []
    serials: set[str] = set()
    big_pool_clients = {c.idx for c in _pick(rng, [c for c in clients[1:] if c.role is None],
                                             quota(v.rate("device.big_vm_pool", 0.005), len(clients) - 1))}
    for c in clients[1:]:
        former = c.role in ("psa_orphaned", "psa_record_deleted")
        n = rng.randint(3, 8) if former else rng.randint(8, 30)
        specs = _device_names(rng, c, n)
        if not former and (c.idx in big_pool_clients or rng.random() < v.rate("device.vm_pool", 0.08)):
            # A VDI pool or a batch of servers cloned from one template: one BIOS serial for all.
            size = rng.randint(20, 40) if c.idx in big_pool_clients else rng.randint(2, 8)
            specs += [("server", f"{'VDI' if size > 10 else 'VM'}-{i:02d}" if not c.prefixed_infra
                       else f"{c.code}-VM{i:02d}") for i in range(1, size + 1)]
            pool_serial = hw.vmware_serial(rng)
            pool: list[Device] = []
        else:
            pool_serial = None
        host_octet = 10
        for kind, host in specs:
            in_pool = pool_serial is not None and (host.startswith(("VM-", "VDI-")) or
                                                   host.startswith(f"{c.code}-VM"))
            if in_pool:
                make, model, style, oui = "VMware, Inc.", "VMware Virtual Platform", "vmware", "00:50:56"
            else:
                make, model, style, oui = rng.choice(hw.MODELS[kind])
            if in_pool:
                serial = pool_serial
            else:
                serial = hw.serial_for(rng, style)
                while serial in serials:
                    serial = hw.serial_for(rng, style)
                serials.add(serial)
            mac = hw.mac_for(rng, oui)
            os_name = hw.MAC_OS if make == "Apple Inc." else rng.choice(hw.OPERATING_SYSTEMS[kind])
            host_octet += rng.randint(1, 3) if host_octet < 240 else 0
            d = Device(n=len(devices) + 1, client=c, kind=kind, hostname=host, serial=serial, mac=mac, nic_mac=mac,
                       ip=f"{c.subnet}.{host_octet if host_octet < 250 else rng.randint(2, 250)}",
                       manufacturer=make, model=model, os=os_name,
                       first_seen=rng.randint(c.onboarded, max(c.onboarded + DAY, NOW - 30 * DAY)))
            d.rmm_hostname = host
            if make == "System manufacturer" and rng.random() < 0.4:
                d.serial, d.placeholder = rng.choice(hw.PLACEHOLDER_SERIALS), True
            if in_pool:
                d.vm_pool = len(pools)
                pool.append(d)
            devices.append(d)
            c.devices.append(d)
        if pool_serial is not None:
            pools.append(pool)
    return devices, pools


def plan_device_story(rng: random.Random, clients: list[Client], devices: list[Device], v: Variation
                      ) -> list[Client]:
    """RMM membership, duplicate causes, orphan reasons and the hard cases, device by device.

    Returns the clients whose CSV sheet was imported twice (their contacts were on it too)."""
    for d in devices:
        c = d.client
        if d.computer:
            # A few agents were never installed; in a migration, part of the fleet has left Datto already.
            d.in_datto = c.in_datto and rng.random() < (0.5 if c.rmm == "both" else 0.97)
            d.in_ninja = c.in_ninja and rng.random() < 0.97
            if c.rmm == "both" and not d.in_datto and rng.random() < 0.3:
                d.in_datto = d.datto_deleted = True  # uninstalled during the migration: in "Deleted Devices"
    # Organization-level stories put some of the client's things under its duplicate organization.
    for c in clients[1:]:
        if c.role in ("psa_orphaned", "psa_record_deleted"):
            for d in c.devices:
                d.role, d.in_psa = c.role, False
        elif c.role == "pre_sync_existing":
            for d in _pick(rng, c.devices, rng.randint(1, 3)):
                d.role, d.in_dup_org = "pre_sync_existing", True
                d.first_seen = rng.randint(c.onboarded, v.timeline.psa_sync_start - 30 * DAY)
        elif c.role == "sync_method_change":
            # The RMM-created organization holds the RMM-direct copy of every device the agent saw back then.
            for d in c.devices:
                if (d.in_datto and not d.datto_deleted) or (v.rmm == "ninjaone" and d.in_ninja):
                    d.role, d.in_dup_org = "sync_method_change", True
                    d.first_seen = rng.randint(c.onboarded, v.timeline.rmm_switch - 60 * DAY)
        elif c.role == "source_duplicate":
            d = rng.choice([d for d in c.devices if d.vm_pool is None])
            d.role, d.in_dup_org = "source_duplicate", True
        elif c.role == "csv_double_import":
            docs_only = [d for d in c.devices if not d.computer] or c.devices
            for d in _pick(rng, docs_only, rng.randint(1, 3)):
                d.role, d.in_dup_org, d.in_psa = "csv_double_import", True, False
                d.in_datto = d.in_ninja = d.datto_deleted = False
    active = [d for d in devices if d.client.role not in ("psa_orphaned", "psa_record_deleted")]
    total = len(active)

    def rate(key: str) -> float:
        return v.rate(f"device.{key}", DEVICE_RATES[key])

    # Clients with an organization-level story keep to it in a tidy tenant; in a hard one a client may have several
    # causes (its organization duplicated for one reason, some devices for others).
    def free(pred) -> list[Device]:
        return [d for d in active if d.role is None and (d.client.role is None or v.on) and pred(d)]

    def direct_rmm(d: Device) -> bool:
        return (d.in_datto and not d.datto_deleted) or (v.rmm == "ninjaone" and d.in_ninja)

    # Rarer, more constrained stories first, so their pools are not used up.
    for d in _pick(rng, free(lambda d: direct_rmm(d) and d.first_seen < v.timeline.rmm_switch - 10 * DAY),
                   quota(rate("sync_method_change"), total)):
        d.role = "sync_method_change"
    for d in _pick(rng, free(lambda d: d.computer and (d.client.in_datto or v.rmm == "ninjaone" and d.client.in_ninja)),
                   quota(rate("rmm_device_deleted"), total)):
        d.role, d.in_psa, d.in_ninja = "rmm_device_deleted", False, False
        # Else the device is gone from Datto entirely (NinjaOne keeps no deleted devices).
        d.in_datto = d.datto_deleted = rng.random() < 0.6 and d.client.in_datto
    # An import is one client's sheet: importing it twice duplicates several of that client's rows at once.
    csv_clients: list[Client] = []
    by_client: dict[int, list[Device]] = {}
    for d in free(lambda d: not d.in_datto and not d.in_ninja):
        by_client.setdefault(d.client.idx, []).append(d)
    sheets = list(by_client.values())
    rng.shuffle(sheets)
    sheets.sort(key=lambda rows: len(rows) < 2)  # stable: sheets with several rows first, in shuffled order
    target, done = quota(rate("csv_double_import"), total), 0
    for rows in sheets:
        if done >= target:
            break
        for d in _pick(rng, rows, rng.randint(2, 5)):
            d.role, d.in_psa = "csv_double_import", False
            done += 1
        csv_clients.append(rows[0].client)
    # Documented by hand before the first sync: only clients the MSP had by then (and whose organization was too).
    for d in _pick(rng, free(lambda d: d.client.onboarded < v.timeline.psa_sync_start - 60 * DAY
                             and d.client.role != "pre_sync_existing"),
                   quota(rate("pre_sync_existing"), total)):
        d.role = "pre_sync_existing"
        d.first_seen = rng.randint(d.client.onboarded, v.timeline.psa_sync_start - 30 * DAY)
    for d in _pick(rng, free(lambda d: True), quota(rate("source_duplicate"), total)):
        d.role = "source_duplicate"
    for reason in ("psa_orphaned", "psa_record_deleted"):
        for d in _pick(rng, free(lambda d: True), quota(rate(reason), total)):
            # A retired device: its CI was deleted and its agent removed.
            d.role, d.in_psa, d.in_datto, d.in_ninja, d.datto_deleted = reason, False, False, False, False
    for d in active:
        if d.role is None and rng.random() < rate("not_in_psa"):
            d.in_psa = False
    for d in devices:
        d.psa_active = rng.random() > 0.05
        d.fqdn_in_itglue = d.computer and rng.random() < DEVICE_RATES["fqdn_in_itglue"]
    # Hard cases on top of the stories.
    # The PSA (and so IT Glue's synced copy) keeps the old name; the agent reports the new one.
    laptops = [d for d in active if d.kind == "laptop" and (d.in_datto or d.in_ninja) and not d.datto_deleted
               and d.in_psa and d.role in (None, "pre_sync_existing")]
    for d in _pick(rng, laptops, quota(rate("reimaged") * 0.3, total)):
        d.reimaged = True
        d.rmm_hostname = f"{d.client.code}-LT-{rng.randint(100, 999)}" if rng.random() < 0.5 else \
            "LAPTOP-" + "".join(rng.choices(hw.ALNUM, k=7))
    desktops = [d for d in active if d.kind in ("workstation", "laptop") and not d.placeholder]
    for d in _pick(rng, desktops, quota(rate("placeholder_serial"), total)):
        d.serial, d.placeholder = rng.choice(hw.PLACEHOLDER_SERIALS), True
    for d in _pick(rng, [d for d in desktops if not d.placeholder], quota(rate("vpn_mac"), total)):
        # The RMM and the tools that read it report the VPN adapter first; the real NIC comes second.
        d.mac, d.vpn_mac = hw.SHARED_VIRTUAL_MACS[d.n % len(hw.SHARED_VIRTUAL_MACS)].replace(":", ""), True
    if v.on:
        for d in devices:
            if d.computer and (d.in_datto or d.in_ninja) and not d.placeholder and d.vm_pool is None \
                    and v.chance("rmm_serial_junk"):
                d.rmm_serial = v.rng.choice(JUNK_SERIALS)
    return csv_clients


# ---------------------------------------------------------------------------------------------------------- people

def build_people(rng: random.Random, clients: list[Client]) -> list[Person]:
    people: list[Person] = []
    for c in clients[1:]:
        former = c.role in ("psa_orphaned", "psa_record_deleted")
        taken: set[tuple[str, str]] = set()
        pattern = rng.randrange(4)
        for _ in range(rng.randint(2, 5) if former else rng.randint(4, 12)):
            first, last = rng.choice(names.FIRST_NAMES), rng.choice(names.LAST_NAMES)
            while (first, last) in taken:
                first, last = rng.choice(names.FIRST_NAMES), rng.choice(names.LAST_NAMES)
            taken.add((first, last))
            p = Person(n=len(people) + 1, client=c, first=first, last=last, title=rng.choice(names.TITLES),
                       email="", phone=f"{c.phone[:3]}555{rng.randint(100, 9999):04d}",
                       created=rng.randint(c.onboarded, max(c.onboarded + DAY, NOW - 10 * DAY)))
            p.email = _email(p, pattern, c.domain)
            people.append(p)
            c.people.append(p)
    return people


def _email(p: Person, pattern: int, domain: str) -> str:
    first, last = _slug(p.first), _slug(p.last)
    local = (f"{first}.{last}", f"{first[0]}{last}", f"{first}{last[0]}", first)[pattern]
    return f"{local}@{domain}"


def plant_namesakes(rng: random.Random, clients: list[Client], v: Variation) -> list[tuple[Person, Person]]:
    """Two different people with one common full name at two different clients."""
    pairs: list[tuple[Person, Person]] = []
    eligible = [c for c in clients[1:] if c.role is None and len(c.people) >= 2]
    for _ in range(max(2, round(v.rate("person.namesake_pairs", PERSON_RATES["namesake_pairs"]) * (len(clients) - 1)))):
        if len(eligible) < 2:
            break
        a, b = rng.sample(eligible, 2)
        first, last = rng.choice(names.COMMON_FULL_NAMES)
        pa = next((p for p in a.people if p.role is None and (p.first, p.last) != (first, last)), None)
        pb = next((p for p in b.people if p.role is None and (p.first, p.last) != (first, last)), None)
        if pa is None or pb is None or any((p.first, p.last) == (first, last) for p in a.people + b.people):
            continue
        for p, c in ((pa, a), (pb, b)):
            p.first, p.last = first, last
            p.email = _email(p, rng.randrange(4), c.domain)
        pb.title = rng.choice([t for t in names.TITLES if t != pa.title])
        pairs.append((pa, pb))
    return pairs


def plan_person_story(rng: random.Random, clients: list[Client], people: list[Person],
                      protected: set[int], csv_clients: list[Client], v: Variation) -> None:
    for c in clients[1:]:
        if c.role in ("psa_orphaned", "psa_record_deleted"):
            for p in c.people:
                p.role, p.in_psa = c.role, False
        elif c.role in ("pre_sync_existing", "source_duplicate", "csv_double_import"):
            for p in _pick(rng, [p for p in c.people if p.n not in protected], rng.randint(1, 2)):
                p.role, p.in_dup_org = c.role, True
                if c.role == "csv_double_import":
                    p.in_psa = False
                if c.role == "pre_sync_existing":
                    p.created = rng.randint(c.onboarded, v.timeline.psa_sync_start - 30 * DAY)
    active = [p for p in people if p.client.role not in ("psa_orphaned", "psa_record_deleted")]
    total = len(active)

    def free(role: str) -> list[Person]:
        any_client = role != "pre_sync_existing"
        return [p for p in active if p.role is None and p.n not in protected and (p.client.role is None or v.on)
                and (any_client or (p.client.onboarded < v.timeline.psa_sync_start - 60 * DAY
                                    and p.client.role != "pre_sync_existing"))]

    sheet_rows = [p for c in csv_clients for p in c.people if p.role is None and p.n not in protected]
    for role in ("pre_sync_existing", "csv_double_import", "source_duplicate", "psa_orphaned", "psa_record_deleted"):
        # Contacts imported twice come from the sheets whose devices were imported twice.
        pool = sheet_rows if role == "csv_double_import" and sheet_rows else free(role)
        for p in _pick(rng, pool, quota(v.rate(f"person.{role}", PERSON_RATES[role]), total)):
            p.role = role
            if role not in ("source_duplicate", "pre_sync_existing"):
                p.in_psa = False
            if role == "pre_sync_existing":
                p.created = rng.randint(p.client.onboarded, v.timeline.psa_sync_start - 30 * DAY)
    for p in active:
        if p.role is None and p.n not in protected and rng.random() < v.rate("person.not_in_psa",
                                                                              PERSON_RATES["not_in_psa"]):
            p.in_psa = False
    for p in people:
        p.psa_active = rng.random() > 0.04


def build_tenant(rng: random.Random, scale: int, v: Variation | None = None) -> Tenant:
    """The real clients, devices and people of an MSP with `scale` clients, and their story."""
    v = v or variation_for(0, "standard")
    v.timeline = timeline_for(v)
    clients = build_clients(rng, scale, v)
    plan_client_roles(rng, clients, v)
    _ensure_rmm_mix(rng, clients, v.rmm)
    devices, pools = build_devices(rng, clients, v)
    csv_clients = plan_device_story(rng, clients, devices, v)
    people = build_people(rng, clients)
    namesakes = plant_namesakes(rng, clients, v)
    plan_person_story(rng, clients, people, {p.n for pair in namesakes for p in pair}, csv_clients, v)
    groups: dict[str, list[Client]] = {}
    for c in clients[1:]:
        if c.branch_of:
            groups.setdefault(c.branch_of, []).append(c)
    return Tenant(clients, devices, people, [g for g in groups.values() if len(g) >= 2], pools, namesakes, v)
