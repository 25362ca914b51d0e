"""Datto RMM: sites, devices and device audits over API v2, audits fetched incrementally.

Wire facts (shared/docs/api-facts.md): a bearer token from `POST /auth/oauth/token` (password grant, Basic
`public-client:public`) lasts 100 h and answers 401 once expired; lists page with zero-based `page` and `max` <= 250
and a `nextPageUrl` that drops the request's filter parameters; 600 reads per rolling minute per account.

Device list records carry no serial and no MAC. Serials come from the device audit (`bios.serialNumber`), MACs from
the audit's `nics` and, for devices without an audit (printers, network devices, never-audited agents), from the
site's network-interface listing. An audit costs one request per device, so audits are kept in
`raw.datto_rmm_device_audits` with the `lastAuditDate` they were fetched for, and a run fetches only devices whose
`lastAuditDate` changed or that are new; devices gone from the account drop out of the table. Audits are also
handed to `previous.keep` as they arrive (the warehouse's `cache.datto_rmm_device_audits`, outside the atomic swap):
a first run that fails midway leaves them for the next attempt, which fetches only the rest.

Raw tables: `datto_rmm_sites`, `datto_rmm_devices` (the device record; `nics` added from the network-interface
listing where it was read), `datto_rmm_device_audits` (`{"deviceUid", "lastAuditDate", "status", "audit"}`).
"""

import asyncio
import math
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import polars as pl

from pipelines import progress
from pipelines.sources.base import (
    Extraction,
    PreviousTables,
    RateLimit,
    Record,
    Resource,
    Source,
    parse_timestamp,
    utc_now,
)
from pipelines.sources.base import text as _text
from pipelines.sources.http import MalformedResponse, RateBudget, RetryPolicy
from pipelines.sources.oauth import TokenApiClient, request_token

SOURCE_NAME = "datto_rmm"
ENV_HINT = "DATTO_RMM_API_KEY/DATTO_RMM_API_SECRET"
MAX_PAGE_SIZE = 250
DELETED_DEVICES_SITE = "deleted devices"
PUBLIC_CLIENT = ("public-client", "public")
AUDIT_FOUND = 200
# Audits answer 400 for devices not of class "device" and 404 for devices gone or never audited: no data, no error.
AUDIT_ABSENT = (400, 404)
UTC_DATETIME = pl.Datetime("us", "UTC")
# Audits per checkpoint write: about 10 s of audits at 600 a minute, a few milliseconds of DuckDB each.
CHECKPOINT_EVERY = 100


# 600 reads per rolling minute per account (vendor); the run keeps to ~588 of them, 10 in flight.
DEFAULT_BUDGET = RateBudget.within(600, 60, concurrency=10)
# A 429 means another integration of the account used the minute up (Datto sends no Retry-After): back off for
# seconds, not milliseconds, and keep trying for longer than the 60 s window takes to drain.
DEFAULT_RETRY = RetryPolicy(max_attempts=12, throttled_floor=5.0)


def _macs(nics: Any) -> list[str]:
    return [n["macAddress"] for n in (nics or []) if isinstance(n, dict) and n.get("macAddress")]


def is_deleted_devices_site(name: str | None) -> bool:
    """Datto moves deleted devices to a site named "Deleted Devices"."""
    return (name or "").strip().lower() == DELETED_DEVICES_SITE


def _flatten_site(r: Record) -> Record:
    status = r.get("devicesStatus") or {}
    return {
        "id": r.get("id"), "uid": r.get("uid"), "account_uid": r.get("accountUid"), "name": r.get("name"),
        "description": r.get("description"), "notes": r.get("notes"), "on_demand": r.get("onDemand"),
        "autotask_company_id": _text(r.get("autotaskCompanyId")),
        "autotask_company_name": r.get("autotaskCompanyName"), "portal_url": r.get("portalUrl"),
        "number_of_devices": status.get("numberOfDevices"),
        "is_deleted_devices_site": is_deleted_devices_site(r.get("name")),
    }


def _flatten_device(r: Record) -> Record:
    device_type = r.get("deviceType") or {}
    return {
        "id": r.get("id"), "uid": r.get("uid"), "site_id": r.get("siteId"), "site_uid": r.get("siteUid"),
        "site_name": r.get("siteName"), "hostname": r.get("hostname"), "device_class": r.get("deviceClass"),
        "device_category": device_type.get("category"), "device_type": device_type.get("type"),
        "int_ip_address": r.get("intIpAddress"), "ext_ip_address": r.get("extIpAddress"),
        "operating_system": r.get("operatingSystem"), "domain": r.get("domain"),
        "description": r.get("description"), "online": r.get("online"), "suspended": r.get("suspended"),
        "deleted": r.get("deleted"),
        "is_deleted": is_deleted_devices_site(r.get("siteName")) or bool(r.get("deleted")),
        "last_seen": parse_timestamp(r.get("lastSeen")), "last_reboot": parse_timestamp(r.get("lastReboot")),
        "last_audit_date": parse_timestamp(r.get("lastAuditDate")),
        "creation_date": parse_timestamp(r.get("creationDate")), "warranty_date": _text(r.get("warrantyDate")),
        "portal_url": r.get("portalUrl"), "nic_macs": _macs(r.get("nics")),
    }


def _flatten_audit(r: Record) -> Record:
    audit = r.get("audit") or {}
    system = audit.get("systemInfo") or {}
    return {
        "device_uid": r["deviceUid"], "last_audit_date": parse_timestamp(r.get("lastAuditDate")),
        "status": r.get("status"), "serial_number": (audit.get("bios") or {}).get("serialNumber"),
        "manufacturer": system.get("manufacturer"), "model": system.get("model"), "macs": _macs(audit.get("nics")),
    }


SITES = Resource(SOURCE_NAME, "sites", {
    "id": pl.Int64, "uid": pl.String, "account_uid": pl.String, "name": pl.String, "description": pl.String,
    "notes": pl.String, "on_demand": pl.Boolean, "autotask_company_id": pl.String,
    "autotask_company_name": pl.String, "portal_url": pl.String, "number_of_devices": pl.Int64,
    "is_deleted_devices_site": pl.Boolean,
}, _flatten_site)

DEVICES = Resource(SOURCE_NAME, "devices", {
    "id": pl.Int64, "uid": pl.String, "site_id": pl.Int64, "site_uid": pl.String, "site_name": pl.String,
    "hostname": pl.String, "device_class": pl.String, "device_category": pl.String, "device_type": pl.String,
    "int_ip_address": pl.String, "ext_ip_address": pl.String, "operating_system": pl.String, "domain": pl.String,
    "description": pl.String, "online": pl.Boolean, "suspended": pl.Boolean, "deleted": pl.Boolean,
    "is_deleted": pl.Boolean, "last_seen": UTC_DATETIME, "last_reboot": UTC_DATETIME,
    "last_audit_date": UTC_DATETIME, "creation_date": UTC_DATETIME, "warranty_date": pl.String,
    "portal_url": pl.String, "nic_macs": pl.List(pl.String),
}, _flatten_device)

DEVICE_AUDITS = Resource(SOURCE_NAME, "device_audits", {
    "device_uid": pl.String, "last_audit_date": UTC_DATETIME, "status": pl.Int64, "serial_number": pl.String,
    "manufacturer": pl.String, "model": pl.String, "macs": pl.List(pl.String),
}, _flatten_audit)


class DattoClient(TokenApiClient):
    """One Datto RMM API host: token handling, paging with filters re-added, and per-endpoint request counts."""

    def __init__(self, url: str, api_key: str, api_secret: str, *, budget: RateBudget = DEFAULT_BUDGET,
                 retry: RetryPolicy | None = None, page_size: int = MAX_PAGE_SIZE):
        self._key, self._secret = api_key, api_secret
        super().__init__(source=SOURCE_NAME, url=url, credential_hint=ENV_HINT, budget=budget,
                         retry=retry or DEFAULT_RETRY)
        self.page_size = min(max(1, page_size), MAX_PAGE_SIZE)
        origin = urlsplit(self.url)
        self._origin = f"{origin.scheme}://{origin.netloc}"

    async def _fetch_token(self) -> tuple[str, float]:
        self._count("POST /auth/oauth/token")
        return await request_token(
            self.auth_api, "/auth/oauth/token", auth=httpx.BasicAuth(*PUBLIC_CLIENT),
            data={"grant_type": "password", "username": self._key, "password": self._secret},
            default_lifetime=360000,
            no_endpoint=f"DATTO_RMM_URL {self.url} has no Datto RMM token endpoint (404): set it to your "
                        "platform's API host, e.g. https://merlot-api.centrastage.net",
            rejected_hint="check the API key and secret, and that DATTO_RMM_URL is the API host of your platform")

    async def get(self, url: str, endpoint: str, params: Mapping[str, Any] | None = None,
                  ok_statuses: tuple[int, ...] = (), resumable: bool = True) -> tuple[int, Any]:
        """(status, JSON body) of one GET; `endpoint` is the path template the request is counted under. List pages
        after the first are `resumable` (kept for the next attempt when the run fails); audits have their own
        checkpoint."""
        self._count(f"GET {endpoint}")
        response = await self.token.send(lambda: self.api.request("GET", url, params=params, auth=self.token,
                                                                  ok_statuses=ok_statuses, resumable=resumable,
                                                                  page_param="page"))
        if response.status_code in ok_statuses and response.status_code >= 400:
            return response.status_code, None
        return response.status_code, self.api.decode_json(response)

    async def pages(self, path: str, key: str, filters: Mapping[str, Any] | None = None,
                    endpoint: str | None = None) -> list[Record]:
        """Every record of a paged list. Page 0 tells the total; the other pages are fetched concurrently from
        `nextPageUrl` with the filters put back (the API drops them), then any link past the announced total is
        followed, so a total that grew while paging loses nothing. Fewer records than page 0 announced means some
        moved past the pages read (a record removed before them while paging): a device would be missed, and
        linkage would read it as deleted, so that is an error."""
        filters = {k: v for k, v in (filters or {}).items() if v is not None}
        endpoint = endpoint or path
        _, first = await self.get(path, endpoint, params={**filters, "page": 0, "max": self.page_size},
                                  resumable=False)
        items = list(first.get(key) or [])
        details = first.get("pageDetails") or {}
        next_url = details.get("nextPageUrl")
        total = details.get("totalCount")
        page_count = math.ceil(total / self.page_size) if isinstance(total, int) else 1
        if next_url and page_count > 1:
            bodies = await _gather(self.get(self._page_url(next_url, filters, n), endpoint)
                                   for n in range(1, page_count))
            for _, body in bodies:
                items.extend(body.get(key) or [])
            next_url = (bodies[-1][1].get("pageDetails") or {}).get("nextPageUrl")
        while next_url:
            _, body = await self.get(self._page_url(next_url, filters), endpoint)
            items.extend(body.get(key) or [])
            next_url = (body.get("pageDetails") or {}).get("nextPageUrl")
        unique = _unique(items)
        if isinstance(total, int) and len(unique) < total:
            raise MalformedResponse(
                f"datto_rmm: {self.api.host} {path} returned {len(unique)} distinct records but totalCount says "
                f"{total} (records removed while paging?); the previous tables are kept, run again")
        return unique

    def _page_url(self, next_url: str, filters: Mapping[str, Any], page: int | None = None) -> str:
        # The link is resolved against our own host: the bearer token goes nowhere but the configured API host.
        parts = urlsplit(next_url)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        for name, value in filters.items():
            query.setdefault(name, str(value))
        if page is not None:
            query["page"] = str(page)
        return f"{self._origin}{parts.path}?{urlencode(query)}"

    async def audit(self, uid: str, last_audit_date: Any) -> Record:
        status, body = await self.get(f"/api/v2/audit/device/{uid}", "/api/v2/audit/device/{deviceUid}",
                                      ok_statuses=AUDIT_ABSENT, resumable=False)
        return {"deviceUid": uid, "lastAuditDate": last_audit_date, "status": status, "audit": body}

    async def network_interfaces(self, site_uid: str) -> list[Record]:
        return await self.pages(f"/api/v2/site/{site_uid}/devices/network-interface", "devices",
                                endpoint="/api/v2/site/{siteUid}/devices/network-interface")


async def _gather(coroutines) -> list:
    """Run coroutines concurrently (the ApiClient bounds how many are in flight); the first failure cancels the rest
    and is raised as itself, so the user reads its one-line message rather than an exception group."""
    tasks: list[asyncio.Task] = []
    try:
        async with asyncio.TaskGroup() as group:
            for coroutine in coroutines:
                tasks.append(group.create_task(coroutine))
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return [t.result() for t in tasks]


def _unique(records: list[Record]) -> list[Record]:
    # A record inserted while paging shifts the pages after it; the same uid may then come back twice.
    seen: set = set()
    unique = []
    for r in records:
        key = r.get("uid", id(r))
        if key not in seen:
            seen.add(key)
            unique.append(r)
    return unique


def _auditable(device: Record) -> bool:
    return (device.get("deviceClass") or "device") == "device" and device.get("lastAuditDate") not in (None, "")


def previous_audits(previous: PreviousTables) -> pl.DataFrame | None:
    """The audits table as the last run left it, in this run's column types; None when absent or unusable
    (a changed schema means every audit is fetched again, which is slow but never wrong)."""
    frame = previous(DEVICE_AUDITS.table)
    if frame is None or frame.is_empty():
        return None
    template = DEVICE_AUDITS.empty_frame()
    if not set(template.columns) <= set(frame.columns):
        return None
    columns = []
    for name, dtype in template.schema.items():
        column = pl.col(name)
        have = frame.schema[name]
        if isinstance(dtype, pl.Datetime) and isinstance(have, pl.Datetime):
            column = (column.dt.convert_time_zone("UTC") if have.time_zone else column.dt.replace_time_zone("UTC"))
        columns.append(column.cast(dtype).alias(name))
    try:
        return frame.select(columns)
    except (pl.exceptions.PolarsError, TypeError, ValueError):
        return None


def plan_audits(devices: list[Record], prior: pl.DataFrame | None) -> tuple[list[Record], pl.DataFrame]:
    """Which audits to fetch (auditable devices that are new or whose lastAuditDate moved) and which previous
    rows still hold (same device, same lastAuditDate). Rows of devices no longer listed are dropped."""
    known: dict[str, datetime | None] = {}
    if prior is not None:
        known = dict(zip(prior["device_uid"].to_list(), prior["last_audit_date"].to_list(), strict=True))
    to_fetch, reused = [], []
    for device in devices:
        if not _auditable(device):
            continue
        uid = device["uid"]
        current = parse_timestamp(device.get("lastAuditDate"))
        if uid in known and known[uid] is not None and known[uid] == current:
            reused.append(uid)
        else:
            to_fetch.append(device)
    if prior is None:
        kept = DEVICE_AUDITS.empty_frame()
    else:
        kept = prior.filter(pl.col("device_uid").is_in(reused)).unique("device_uid", keep="last",
                                                                       maintain_order=True)
    return to_fetch, kept


class AuditCheckpoint:
    """Audits as they arrive, handed in batches to `previous.keep` (the warehouse's cache, outside the atomic swap):
    a run that fails at audit 30,000 of 40,000 leaves 30,000 for the next attempt, whose `previous` returns them with
    the raw table, so that it fetches only the rest. Without `keep` (a plain callable), nothing is kept."""

    def __init__(self, keep: Callable[[str, pl.DataFrame], None] | None, extracted_at: datetime,
                 every: int = CHECKPOINT_EVERY):
        self.keep, self.extracted_at, self.every = keep, extracted_at, every
        self.pending: list[Record] = []

    def add(self, audit: Record) -> None:
        if self.keep is None:
            return
        self.pending.append(audit)
        if len(self.pending) >= self.every:
            self.flush()

    def flush(self) -> None:
        if self.keep is not None and self.pending:
            pending, self.pending = self.pending, []
            self.keep(DEVICE_AUDITS.table, DEVICE_AUDITS.to_frame(pending, self.extracted_at))


async def extract_datto_rmm(url: str, api_key: str, api_secret: str, previous: PreviousTables, *,
                            budget: RateBudget = DEFAULT_BUDGET, retry: RetryPolicy | None = None,
                            page_size: int = MAX_PAGE_SIZE) -> Extraction:
    """Sites, devices and audits; only audits whose device's `lastAuditDate` changed are fetched again.

    `previous(table)` gives a raw table as the warehouse holds it (or None); `budget` and `retry` exist for tests and
    benchmarks. Raises AuthError (naming the env vars and host) or SourceError.
    """
    extracted_at = utc_now()
    async with DattoClient(url, api_key, api_secret, budget=budget, retry=retry, page_size=page_size) as datto:
        await datto.token.ensure()
        sites, devices = await _gather([datto.pages("/api/v2/account/sites", "sites"),
                                        datto.pages("/api/v2/account/devices", "devices")])
        to_fetch, kept = plan_audits(devices, previous_audits(previous))
        covered = set(kept.filter(pl.col("status") == AUDIT_FOUND)["device_uid"].to_list())
        fetched_uids = {d["uid"] for d in to_fetch}
        # Sites whose devices will get no MACs from an audit: read their network-interface listing instead.
        nic_sites = {d.get("siteUid") for d in devices
                     if d["uid"] not in covered and d["uid"] not in fetched_uids and d.get("siteUid")}
        checkpoint = AuditCheckpoint(getattr(previous, "keep", None), extracted_at)

        audits_done = 0

        async def audit(device: Record) -> Record:
            nonlocal audits_done
            fetched = await datto.audit(device["uid"], device.get("lastAuditDate"))
            checkpoint.add(fetched)
            audits_done += 1
            progress.report("audits", audits_done, len(to_fetch))  # the long part: one request per device
            return fetched

        try:
            audit_tasks = _gather(audit(d) for d in to_fetch)
            nic_tasks = _gather(datto.network_interfaces(site) for site in sorted(nic_sites))
            audits, nic_pages = await asyncio.gather(audit_tasks, nic_tasks)
        finally:
            checkpoint.flush()  # the audits a failure would lose: the next attempt reads them back via previous
        # Devices whose audit turned out to be missing (gone, never audited) also take MACs from their site.
        site_of = {d["uid"]: d.get("siteUid") for d in devices}
        late_sites = {site_of.get(a["deviceUid"]) for a in audits if a["status"] != AUDIT_FOUND} - nic_sites - {None}
        nic_pages += await _gather(datto.network_interfaces(site) for site in sorted(late_sites))
        stats = datto.request_stats()
        requests_by_endpoint = dict(sorted(datto.by_endpoint.items()))
        tokens_issued = datto.token.issued

    nics = {r["uid"]: r.get("nics") or [] for page in nic_pages for r in page if r.get("uid")}
    device_records = [{**d, "nics": nics[d["uid"]]} if d["uid"] in nics else d for d in devices]
    audit_frame = pl.concat([kept, DEVICE_AUDITS.to_frame(audits, extracted_at)], how="vertical")
    return Extraction(
        source=SOURCE_NAME,
        frames={
            SITES.table: SITES.to_frame(sites, extracted_at),
            DEVICES.table: DEVICES.to_frame(device_records, extracted_at),
            DEVICE_AUDITS.table: audit_frame,
        },
        stats={
            **stats,
            "requests_by_endpoint": requests_by_endpoint,
            "tokens_issued": tokens_issued,
            "audits_fetched": len(audits),
            "audits_reused": kept.height,
            "sites_with_network_interfaces_read": len(nic_sites | late_sites),
        },
    )


async def extract(config: Mapping[str, str], previous: PreviousTables) -> Extraction:
    # The account's 600 reads per minute are shared with the MSP's other integrations: a lower share may be set.
    return await extract_datto_rmm(config["DATTO_RMM_URL"], config["DATTO_RMM_API_KEY"],
                                   config["DATTO_RMM_API_SECRET"], previous, budget=SOURCE.budget(config))


SOURCE = Source(
    name=SOURCE_NAME,
    kind="rmm",
    required_env=("DATTO_RMM_URL", "DATTO_RMM_API_KEY", "DATTO_RMM_API_SECRET"),
    optional_env={},
    resources=(SITES, DEVICES, DEVICE_AUDITS),
    extract=extract,
    description="Datto RMM sites, devices and device audits (serials, MACs); audits fetched incrementally",
    title="Datto RMM",
    secrets=("DATTO_RMM_API_SECRET",),
    rate_limit=RateLimit("DATTO_RMM_RATE_LIMIT", 60, "minute"),
    default_budget=DEFAULT_BUDGET,
    staged=("organizations", "configurations"),
    itglue_integration_type="aem",
    psa_link_target="autotask",
)
