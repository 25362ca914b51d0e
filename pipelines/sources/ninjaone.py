"""NinjaOne: organizations, devices and their computer-system rows (serials) over the public API 2.0.

Wire facts (shared/docs/api-facts.md): a client-credentials token (`scope=monitoring`) lasts 3600 s; lists are bare
JSON arrays paged by `pageSize` and `after` (the last id received) and end on a short page; query reports such as
`/v2/queries/computer-systems` page by `cursor`; timestamps are epoch seconds; rate limits are unpublished, so 429 is
waited out.

Raw tables: `ninjaone_organizations`, `ninjaone_devices` (devices-detailed records), `ninjaone_computer_systems`.
"""

import asyncio
from collections.abc import Mapping
from typing import Any

import polars as pl

from pipelines.sources.base import (
    UTC_DATETIME,
    Extraction,
    PreviousTables,
    RateLimit,
    Record,
    Resource,
    Source,
    optional_lookup,
    parse_timestamp,
    utc_now,
    with_warnings,
)
from pipelines.sources.http import RateBudget, RetryPolicy
from pipelines.sources.oauth import TokenApiClient, request_token

SOURCE_NAME = "ninjaone"
DEFAULT_URL = "https://app.ninjarmm.com"
ENV_HINT = "NINJAONE_CLIENT_ID/NINJAONE_CLIENT_SECRET"
PAGE_SIZE = 1000
# NinjaOne publishes no numbers; a full run is a few dozen requests, so a modest pace costs nothing and keeps us
# clear of whatever the instance enforces.
DEFAULT_BUDGET = RateBudget(requests=10, per_seconds=1.0, concurrency=4)


def _strings(values: Any) -> list[str]:
    return [str(v) for v in (values or []) if v not in (None, "")]


def _flatten_organization(r: Record) -> Record:
    return {
        "id": r.get("id"), "name": r.get("name"), "description": r.get("description"),
        "node_approval_mode": r.get("nodeApprovalMode"), "tags": _strings(r.get("tags")),
    }


def _flatten_device(r: Record) -> Record:
    os = r.get("os") if isinstance(r.get("os"), dict) else {}
    return {
        "id": r.get("id"), "uid": r.get("uid"), "organization_id": r.get("organizationId"),
        "location_id": r.get("locationId"), "parent_device_id": r.get("parentDeviceId"),
        "node_class": r.get("nodeClass"), "node_role_id": r.get("nodeRoleId"),
        "approval_status": r.get("approvalStatus"), "offline": r.get("offline"),
        "display_name": r.get("displayName"), "system_name": r.get("systemName"), "dns_name": r.get("dnsName"),
        "netbios_name": r.get("netbiosName"), "created": parse_timestamp(r.get("created")),
        "last_contact": parse_timestamp(r.get("lastContact")), "last_update": parse_timestamp(r.get("lastUpdate")),
        "ip_addresses": _strings(r.get("ipAddresses")), "mac_addresses": _strings(r.get("macAddresses")),
        "public_ip": r.get("publicIP"), "device_type": r.get("deviceType"), "os_name": os.get("name"),
    }


def _flatten_computer_system(r: Record) -> Record:
    return {
        "device_id": r.get("deviceId"), "timestamp": parse_timestamp(r.get("timestamp")), "name": r.get("name"),
        "manufacturer": r.get("manufacturer"), "model": r.get("model"), "serial_number": r.get("serialNumber"),
        "bios_serial_number": r.get("biosSerialNumber"), "domain": r.get("domain"),
        "domain_role": r.get("domainRole"), "virtual_machine": r.get("virtualMachine"),
        "chassis_type": r.get("chassisType"),
    }


ORGANIZATIONS = Resource(SOURCE_NAME, "organizations", {
    "id": pl.Int64, "name": pl.String, "description": pl.String, "node_approval_mode": pl.String,
    "tags": pl.List(pl.String),
}, _flatten_organization)

DEVICES = Resource(SOURCE_NAME, "devices", {
    "id": pl.Int64, "uid": pl.String, "organization_id": pl.Int64, "location_id": pl.Int64,
    "parent_device_id": pl.Int64, "node_class": pl.String, "node_role_id": pl.Int64,
    "approval_status": pl.String, "offline": pl.Boolean, "display_name": pl.String, "system_name": pl.String,
    "dns_name": pl.String, "netbios_name": pl.String, "created": UTC_DATETIME, "last_contact": UTC_DATETIME,
    "last_update": UTC_DATETIME, "ip_addresses": pl.List(pl.String), "mac_addresses": pl.List(pl.String),
    "public_ip": pl.String, "device_type": pl.String, "os_name": pl.String,
}, _flatten_device)

COMPUTER_SYSTEMS = Resource(SOURCE_NAME, "computer_systems", {
    "device_id": pl.Int64, "timestamp": UTC_DATETIME, "name": pl.String, "manufacturer": pl.String,
    "model": pl.String, "serial_number": pl.String, "bios_serial_number": pl.String, "domain": pl.String,
    "domain_role": pl.String, "virtual_machine": pl.Boolean, "chassis_type": pl.String,
}, _flatten_computer_system)


class NinjaClient(TokenApiClient):
    """One NinjaOne instance: the client-credentials token, `after` paging and cursor paging."""

    def __init__(self, url: str, client_id: str, client_secret: str, *, budget: RateBudget = DEFAULT_BUDGET,
                 retry: RetryPolicy | None = None, page_size: int = PAGE_SIZE):
        self._client_id, self._client_secret = client_id, client_secret
        super().__init__(source=SOURCE_NAME, url=url, credential_hint=ENV_HINT, budget=budget, retry=retry)
        self.page_size = max(1, page_size)

    async def _fetch_token(self) -> tuple[str, float]:
        self._count("POST /ws/oauth/token")
        return await request_token(
            self.auth_api, "/ws/oauth/token",
            data={"grant_type": "client_credentials", "client_id": self._client_id,
                  "client_secret": self._client_secret, "scope": "monitoring"},
            default_lifetime=3600,
            no_endpoint=f"NINJAONE_URL {self.url} has no NinjaOne token endpoint (404): set it to your "
                        "instance host, e.g. https://app.ninjarmm.com or https://eu.ninjarmm.com",
            rejected_hint="check the API client's id and secret, that it has the monitoring scope and the "
                          "client-credentials grant, and that NINJAONE_URL is its instance")

    async def get(self, path: str, params: Mapping[str, Any], page: int | None = None) -> Any:
        """One GET; `page` numbers a page of an `after`-paged list, which may be kept for the next attempt."""
        self._count(f"GET {path}")
        response = await self.token.send(lambda: self.api.request(
            "GET", path, params=params, auth=self.token, resumable=page is not None,
            page=(path, page) if page is not None else None))
        return self.api.decode_json(response)

    async def after_pages(self, path: str, params: Mapping[str, Any] | None = None) -> list[Record]:
        """A bare-array list paged by `after` = the last id received; a page shorter than asked is the last."""
        records: list[Record] = []
        after = None
        number = 0
        while True:
            query = {**(params or {}), "pageSize": self.page_size}
            if after is not None:
                query["after"] = after
            number += 1
            # resumable: `after` is a record id, so a kept page is asked for the same way by the next attempt
            page = await self.get(path, query, page=number)
            records.extend(page)
            if len(page) < self.page_size:
                return records
            after = page[-1]["id"]

    async def cursor_pages(self, path: str, params: Mapping[str, Any] | None = None) -> list[Record]:
        """A query report paged by `cursor.name`; a page shorter than asked (or without a cursor) is the last.
        Not resumable: a cursor expires, so a kept page's cursor may be refused by the next attempt."""
        results: list[Record] = []
        query = {**(params or {}), "pageSize": self.page_size}
        while True:
            body = await self.get(path, query)
            page = body.get("results") or []
            results.extend(page)
            cursor = (body.get("cursor") or {}).get("name")
            if len(page) < self.page_size or not cursor:
                return results
            query = {"cursor": cursor, "pageSize": self.page_size}


async def extract_ninjaone(url: str, client_id: str, client_secret: str, *, budget: RateBudget = DEFAULT_BUDGET,
                           retry: RetryPolicy | None = None, page_size: int = PAGE_SIZE) -> Extraction:
    """Every organization, device and computer-system row; the three lists are paged concurrently.

    Raises AuthError (naming the env vars and host) or SourceError.
    """
    extracted_at = utc_now()
    async with NinjaClient(url, client_id, client_secret, budget=budget, retry=retry,
                           page_size=page_size) as ninja:
        await ninja.token.ensure()
        warnings: list[str] = []
        organizations, devices, systems = await asyncio.gather(
            ninja.after_pages("/v2/organizations"),
            ninja.after_pages("/v2/devices-detailed"),
            # serials enrich the devices; a device list without them still links by name, MAC and IP
            optional_lookup(ninja.cursor_pages("/v2/queries/computer-systems"),
                            "/v2/queries/computer-systems (serial numbers)", warnings),
        )
        stats = with_warnings(ninja.run_stats(), warnings)
    return Extraction(
        source=SOURCE_NAME,
        frames={
            ORGANIZATIONS.table: ORGANIZATIONS.to_frame(organizations, extracted_at),
            DEVICES.table: DEVICES.to_frame(devices, extracted_at),
            COMPUTER_SYSTEMS.table: COMPUTER_SYSTEMS.to_frame(systems, extracted_at),
        },
        stats=stats,
    )


async def extract(config: Mapping[str, str], previous: PreviousTables) -> Extraction:
    return await extract_ninjaone(config["NINJAONE_URL"], config["NINJAONE_CLIENT_ID"],
                                  config["NINJAONE_CLIENT_SECRET"], budget=SOURCE.budget(config))


SOURCE = Source(
    name=SOURCE_NAME,
    kind="rmm",
    required_env=("NINJAONE_CLIENT_ID", "NINJAONE_CLIENT_SECRET"),
    optional_env={"NINJAONE_URL": DEFAULT_URL},
    resources=(ORGANIZATIONS, DEVICES, COMPUTER_SYSTEMS),
    extract=extract,
    description="NinjaOne organizations, devices and computer systems (serials)",
    title="NinjaOne",
    secrets=("NINJAONE_CLIENT_SECRET",),
    rate_limit=RateLimit("NINJAONE_RATE_LIMIT", 60, "minute"),
    default_budget=DEFAULT_BUDGET,
    staged=("organizations", "configurations"),
    itglue_integration_type="ninja-rmm",
)
