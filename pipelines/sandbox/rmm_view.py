"""The RMMs' view of the tenant: Datto RMM sites, devices, audits and NICs; NinjaOne organizations, devices and
computer-system rows. Each agent reports the device as it is now (a reimaged laptop under its new hostname)."""

import random

from pipelines.sandbox import hardware as hw
from pipelines.sandbox.psa_view import Psa, company_name_variant, iso_s
from pipelines.sandbox.tenant import DAY, NOW, Client, Device, Tenant
from pipelines.sandbox.variation import Variation, site_name_for

_DATTO_PORTAL = "https://merlot.centrastage.net/csm"
_ACCOUNT_UID = "a1b2c3d4"
_VPN_ADAPTERS = {"00090FFE0001": "Fortinet SSL VPN Virtual Ethernet Adapter",
                 "00059A3C7A00": "Cisco AnyConnect Secure Mobility Client Virtual Miniport Adapter",
                 "02004C4F4F50": "Microsoft KM-TEST Loopback Adapter"}


def assign_rmm_ids(rng: random.Random, tenant: Tenant) -> None:
    """Datto device ids/uids and NinjaOne device ids, needed by the PSA's RMM links before anything is rendered."""
    datto_id, ninja_id = 1234560, 100
    for d in tenant.devices:
        if d.in_datto or d.role == "rmm_device_deleted":
            datto_id += rng.randint(1, 9)
            d.datto_id, d.datto_uid = datto_id, hw.uuid_from(rng)
        # A device deleted from a NinjaOne-only MSP still has its id in IT Glue's RMM record.
        if d.in_ninja or (d.role == "rmm_device_deleted" and not d.client.in_datto):
            ninja_id += rng.randint(1, 3)
            d.ninja_id = ninja_id


def site_name(rng: random.Random, c: Client, v: Variation) -> str:
    """How the RMM names a client: the PSA name most of the time, else an office or a shortened name. In a hard
    tenant mostly otherwise (an office, a city, a shortening, a typo), and a renamed client's site its old name."""
    if v.on:
        if not v.chance("site_name_varies"):
            return c.old_name
        return site_name_for(v.rng, c.old_name, c.old_base, c.city, v.chance("site_name_typo"))
    r = rng.random()
    if r < 0.5:
        return c.name
    if r < 0.75:
        return f"{c.base} - {rng.choice(['Main Office', 'HQ', 'Office', 'Main'])}"
    return c.base if c.base != c.name else company_name_variant(rng, c.name, c.base)


def _last_seen(rng: random.Random, d: Device) -> int:
    if d.datto_deleted:
        return NOW - rng.randint(20 * DAY, 400 * DAY)
    return NOW - rng.randint(60, 2 * DAY) if rng.random() < 0.8 else NOW - rng.randint(2 * DAY, 60 * DAY)


def _nics(d: Device) -> list[dict]:
    nics = []
    if d.vpn_mac:
        nics.append({"instance": _VPN_ADAPTERS[d.mac], "ipv4": "10.212.134.200", "ipv6": "",
                     "macAddress": hw.mac_colon(d.mac), "type": "Ethernet"})
    adapter = "Intel(R) Wi-Fi 6 AX201 160MHz" if d.kind == "laptop" else "Intel(R) Ethernet Connection (7) I219-LM"
    nics.append({"instance": adapter, "ipv4": d.ip, "ipv6": "", "macAddress": hw.mac_colon(d.nic_mac),
                 "type": "Wireless" if d.kind == "laptop" else "Ethernet"})
    return nics


def _os_string(d: Device) -> str | None:
    if d.os and d.os.startswith("Windows"):
        return f"Microsoft {d.os} {19045 if '10' in d.os else 22631}"
    return d.os


def build_datto(rng: random.Random, tenant: Tenant, psa: Psa) -> tuple[dict, dict[int, dict]]:
    """Datto RMM's resources, and each client's site (by client idx) for the ground truth."""
    sites: list[dict] = []
    site_of: dict[int, dict] = {}
    site_id = 100
    for c in tenant.clients[1:]:
        if not c.in_datto:
            continue
        site_id += 1
        company = psa.company_of[c.idx]
        linked = rng.random() < 0.88 and company.deleted_at is None and not tenant.variation.chance("site_unlinked")
        uid = hw.uuid_from(rng)
        c.rmm_site_name = site_name(rng, c, tenant.variation)
        site = {"id": site_id, "uid": uid, "accountUid": _ACCOUNT_UID, "name": c.rmm_site_name, "description": "",
                "notes": "", "onDemand": False, "splashtopAutoInstall": False, "proxySettings": None,
                "devicesStatus": {"numberOfDevices": 0, "numberOfOnlineDevices": 0, "numberOfOfflineDevices": 0},
                "autotaskCompanyName": company.name if linked else None,
                "autotaskCompanyId": str(company.id) if linked else None,
                "portalUrl": f"{_DATTO_PORTAL}/profile/summary/{uid}"}
        sites.append(site)
        site_of[c.idx] = site
    if len(sites) >= 3 and all(site["autotaskCompanyId"] for site in sites):
        # Some site is always left unlinked from the PSA, as in every real account.
        sites[-1]["autotaskCompanyName"] = sites[-1]["autotaskCompanyId"] = None
    deleted_uid = hw.uuid_from(rng)
    deleted_site = {"id": site_id + 1, "uid": deleted_uid, "accountUid": _ACCOUNT_UID, "name": "Deleted Devices",
                    "description": "", "notes": "", "onDemand": False, "splashtopAutoInstall": False,
                    "proxySettings": None,
                    "devicesStatus": {"numberOfDevices": 0, "numberOfOnlineDevices": 0, "numberOfOfflineDevices": 0},
                    "autotaskCompanyName": None, "autotaskCompanyId": None,
                    "portalUrl": f"{_DATTO_PORTAL}/profile/summary/{deleted_uid}"}
    sites.append(deleted_site)

    devices: list[dict] = []
    audits: dict[str, dict] = {}
    interfaces: dict[str, list[dict]] = {}
    for d in tenant.devices:
        if not d.in_datto:
            continue
        site = deleted_site if d.datto_deleted else site_of[d.client.idx]
        seen = _last_seen(rng, d)
        online = not d.datto_deleted and seen > NOW - 900
        status = site["devicesStatus"]
        status["numberOfDevices"] += 1
        status["numberOfOnlineDevices" if online else "numberOfOfflineDevices"] += 1
        category, dtype = hw.DATTO_TYPES[d.kind]
        uid = d.datto_uid
        user = f"{d.client.code}\\{d.client.people[0].first.lower()}" if d.client.people else None
        devices.append({
            "id": d.datto_id, "uid": uid, "siteId": site["id"], "siteUid": site["uid"], "siteName": site["name"],
            "deviceType": {"category": category, "type": dtype}, "deviceClass": "device",
            "hostname": d.rmm_hostname, "intIpAddress": d.ip, "extIpAddress": f"203.0.113.{d.client.idx % 250 + 1}",
            "domain": d.client.ad_domain, "operatingSystem": _os_string(d), "lastLoggedInUser": user,
            "description": "", "cagVersion": "4.4.11965.11965", "displayVersion": "4.4.11965.11965",
            "a64Bit": True, "rebootRequired": rng.random() < 0.1, "online": online, "suspended": False,
            "deleted": d.datto_deleted, "snmpEnabled": False, "networkProbe": False,
            "onboardedViaNetworkMonitor": False, "lastSeen": iso_s(seen), "lastReboot": iso_s(seen - rng.randint(0, 9 * DAY)),
            "lastAuditDate": iso_s(seen - rng.randint(0, DAY)), "creationDate": iso_s(d.first_seen),
            "warrantyDate": None, "softwareStatus": "Compliant",
            "antivirus": {"antivirusProduct": "Windows Defender", "antivirusStatus": "RunningAndUpToDate"},
            "patchManagement": {"patchStatus": "FullyPatched", "patchesApprovedPending": 0,
                                "patchesNotApproved": 0, "patchesInstalled": rng.randint(40, 200)},
            "udf": {"udf1": None, "udf2": None},
            "portalUrl": f"{_DATTO_PORTAL}/search?qs=uid%3A{uid}",
            "webRemoteUrl": f"{_DATTO_PORTAL}/remote/rto/{uid}",
        })
        nics = _nics(d)
        interfaces[uid] = nics
        audits[uid] = {
            "portalUrl": f"{_DATTO_PORTAL}/search?qs=uid%3A{uid}",
            "webRemoteUrl": f"{_DATTO_PORTAL}/remote/rto/{uid}",
            "systemInfo": {"manufacturer": d.manufacturer, "model": d.model,
                           "totalPhysicalMemory": 17179869184 if d.kind != "server" else 68719476736,
                           "username": user, "dotNetVersion": "4.8", "totalCpuCores": 16 if d.kind == "server" else 8},
            "nics": nics,
            "bios": {"instance": "", "releaseDate": iso_s(d.first_seen - 200 * DAY),
                     "serialNumber": d.rmm_serial or d.serial, "smBiosVersion": "3.3"},
            "baseBoard": {"manufacturer": d.manufacturer, "product": d.model, "serialNumber": d.rmm_serial or d.serial},
        }
    return {"sites": sites, "devices": devices, "audits": audits, "network_interfaces": interfaces}, site_of


def build_ninja(rng: random.Random, tenant: Tenant) -> tuple[dict, dict[int, int]]:
    """NinjaOne's resources, and each client's organization id (by client idx) for the ground truth."""
    organizations: list[dict] = []
    org_of: dict[int, int] = {}
    org_id = 1
    for c in tenant.clients[1:]:
        if not c.in_ninja:
            continue
        org_id += 1
        org_of[c.idx] = org_id
        c.ninja_name = site_name(rng, c, tenant.variation)
        organizations.append({"id": org_id, "name": c.ninja_name, "description": "",
                              "nodeApprovalMode": "AUTOMATIC", "userData": {}, "tags": [], "fields": {}})
    devices: list[dict] = []
    systems: list[dict] = []
    for d in tenant.devices:
        if not d.in_ninja:
            continue
        seen = float(NOW - rng.randint(60, 3 * DAY) if rng.random() < 0.85 else NOW - rng.randint(3 * DAY, 90 * DAY))
        node_class = "MAC" if d.os and d.os.startswith("macOS") else hw.NINJA_CLASSES[d.kind]
        macs = [hw.mac_colon(d.mac)] + ([hw.mac_colon(d.nic_mac)] if d.vpn_mac else [])
        devices.append({
            "id": d.ninja_id, "uid": hw.uuid_from(rng), "organizationId": org_of[d.client.idx],
            "locationId": org_of[d.client.idx] * 10, "parentDeviceId": None, "assignedOwnerUid": None,
            "nodeClass": node_class, "nodeRoleId": 1 if d.kind == "server" else 2, "rolePolicyId": 10,
            "policyId": None, "approvalStatus": "APPROVED", "offline": seen < NOW - 900,
            "displayName": d.rmm_hostname, "systemName": d.rmm_hostname,
            "dnsName": f"{d.rmm_hostname}.{d.client.ad_domain}", "netbiosName": d.rmm_hostname[:15],
            "created": float(d.first_seen) + 0.5, "lastContact": seen, "lastUpdate": seen - 10.0,
            "ipAddresses": [d.ip], "macAddresses": macs, "publicIP": f"203.0.113.{d.client.idx % 250 + 1}",
            "deviceType": "AGENT", "userData": {}, "tags": [], "fields": {}, "notes": [], "maintenance": None,
            "references": None,
        })
        systems.append({
            "deviceId": d.ninja_id, "timestamp": seen - 10.0, "name": d.rmm_hostname,
            "manufacturer": d.manufacturer, "model": d.model, "biosSerialNumber": d.rmm_serial or d.serial,
            "serialNumber": d.rmm_serial or d.serial,
            "domain": d.client.ad_domain,
            "domainRole": "PrimaryDomainController" if "DC0" in d.hostname else
            ("MemberServer" if d.kind == "server" else "MemberWorkstation"),
            "numberOfProcessors": 2 if d.kind == "server" else 1,
            "totalPhysicalMemory": 68719476736 if d.kind == "server" else 17179869184,
            "virtualMachine": d.manufacturer in ("VMware, Inc.", "Microsoft Corporation") and d.kind == "server",
            "chassisType": hw.CHASSIS[d.kind],
        })
    return {"organizations": organizations, "devices": devices, "computer_systems": systems}, org_of

