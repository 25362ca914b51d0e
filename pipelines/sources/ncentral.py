"""N-able N-central: customers, sites, devices and each device's assets (serials, MACs) over the REST API.

Wire facts (api-facts.md; the README's sources table says which are confirmed): the User-API token (a JWT made in
N-central's UI) is exchanged by `POST /api/auth/authenticate` with it as Bearer for an access and a refresh token
(`{"tokens": {"access": {"token", "expirySeconds"}, "refresh": {...}}}`, 3600 s in the documentation's example);
`POST /api/auth/refresh` with the refresh token as the body renews both. Lists page by `pageNumber` (1-based) and
`pageSize` and answer `{data, pageNumber, pageSize, totalItems, totalPages, _links}`. A device's serial and MACs are
in `GET /api/devices/{id}/assets` (one request per device). Rate limits are unpublished: 429 is waited out.

Raw tables: `ncentral_customers`, `ncentral_sites`, `ncentral_devices`, `ncentral_device_assets`.
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
    numbered_pages,
    optional_lookup,
    parse_timestamp,
    text,
    utc_now,
    with_warnings,
)
from pipelines.sources.http import MalformedResponse, RateBudget, RetryPolicy
from pipelines.sources.oauth import TOKEN_REFUSALS, TokenApiClient, token_body

SOURCE_NAME = "ncentral"
ENV_HINT = "NCENTRAL_API_TOKEN"
PAGE_SIZE = 500
# N-central publishes no request limits; its API server serialises heavy calls, so few in flight and a steady pace.
DEFAULT_BUDGET = RateBudget.within(600, 60, concurrency=5)
ASSET_ABSENT = (404,)  # a device never audited has no assets: no data, no error


def _list(value: Any) -> list[Record]:
    if isinstance(value, list):
        return [v for v in value if isinstance(v, dict)]
    return [value] if isinstance(value, dict) else []


def _flatten_customer(r: Record) -> Record:
    return {"customer_id": str(r["customerId"]), "customer_name": r.get("customerName"),
            "parent_id": text(r.get("parentId")), "city": text(r.get("city")), "phone": text(r.get("phone")),
            "external_id": text(r.get("externalId"))}


def _flatten_site(r: Record) -> Record:
    return {"site_id": str(r["siteId"]), "site_name": r.get("siteName"), "parent_id": text(r.get("parentId")),
            "city": text(r.get("city")), "phone": text(r.get("phone"))}


def _flatten_device(r: Record) -> Record:
    return {
        "device_id": str(r["deviceId"]), "long_name": r.get("longName"), "discovered_name": r.get("discoveredName"),
        "device_class": r.get("deviceClass"), "description": r.get("description"),
        "customer_id": text(r.get("customerId")), "site_id": text(r.get("siteId")),
        "org_unit_id": text(r.get("orgUnitId")), "supported_os": r.get("supportedOs"),
        "last_logged_in_user": r.get("lastLoggedInUser"),
        "last_appliance_checkin_time": parse_timestamp(r.get("lastApplianceCheckinTime")),
    }


def _flatten_assets(r: Record) -> Record:
    data = r.get("data") if isinstance(r.get("data"), dict) else {}
    system = data.get("computersystem") if isinstance(data.get("computersystem"), dict) else {}
    adapters = _list(data.get("networkadapter"))
    os = data.get("os") if isinstance(data.get("os"), dict) else {}
    return {
        "device_id": str(r["deviceId"]), "serial_number": text(system.get("serialnumber")),
        "manufacturer": text(system.get("manufacturer")), "model": text(system.get("model")),
        "netbios_name": text(system.get("netbiosname")),
        "macs": [a["macaddress"] for a in adapters if a.get("macaddress")],
        "ip_addresses": [a["ipaddress"] for a in adapters if a.get("ipaddress")],
        "os_name": text(os.get("reportedos")),
    }


S = pl.String
CUSTOMERS = Resource(SOURCE_NAME, "customers", {
    "customer_id": S, "customer_name": S, "parent_id": S, "city": S, "phone": S, "external_id": S,
}, _flatten_customer)
SITES = Resource(SOURCE_NAME, "sites", {
    "site_id": S, "site_name": S, "parent_id": S, "city": S, "phone": S,
}, _flatten_site)
DEVICES = Resource(SOURCE_NAME, "devices", {
    "device_id": S, "long_name": S, "discovered_name": S, "device_class": S, "description": S, "customer_id": S,
    "site_id": S, "org_unit_id": S, "supported_os": S, "last_logged_in_user": S,
    "last_appliance_checkin_time": UTC_DATETIME,
}, _flatten_device)
DEVICE_ASSETS = Resource(SOURCE_NAME, "device_assets", {
    "device_id": S, "serial_number": S, "manufacturer": S, "model": S, "netbios_name": S, "macs": pl.List(S),
    "ip_addresses": pl.List(S), "os_name": S,
}, _flatten_assets)


class NcentralClient(TokenApiClient):
    """One N-central server: the JWT exchanged for access/refresh tokens, and `pageNumber` paging."""

    def __init__(self, url: str, api_token: str, *, budget: RateBudget = DEFAULT_BUDGET,
                 retry: RetryPolicy | None = None, page_size: int = PAGE_SIZE):
        self._jwt = api_token
        self._refresh: str | None = None
        super().__init__(source=SOURCE_NAME, url=url, credential_hint=ENV_HINT, budget=budget, retry=retry)
        self.page_size = max(1, page_size)

    async def _fetch_token(self) -> tuple[str, float]:
        """A refresh when there is a refresh token (it may have expired too: then the JWT again)."""
        if self._refresh is not None:
            self._count("POST /api/auth/refresh")
            # The body is the refresh token itself (sent as a JSON string; if the server refuses the refresh in any
            # way, the JWT is exchanged again below, so a renewal never depends on the refresh's exact format).
            response = await self.auth_api.request("POST", "/api/auth/refresh", json=self._refresh,
                                                   ok_statuses=TOKEN_REFUSALS)
            if response.status_code in (200, 201):
                return self._tokens(response)
            self._refresh = None
        self._count("POST /api/auth/authenticate")
        response = await self.auth_api.request("POST", "/api/auth/authenticate",
                                               headers={"Authorization": f"Bearer {self._jwt}"},
                                               ok_statuses=TOKEN_REFUSALS)
        return self._tokens(response)

    def _tokens(self, response) -> tuple[str, float]:
        body = token_body(
            self.auth_api, response,
            no_endpoint=f"NCENTRAL_URL {self.url} has no N-central API (404 on /api/auth/authenticate): set it to "
                        "your N-central server, e.g. https://ncentral.example.com",
            rejected_hint="check that NCENTRAL_API_TOKEN is the API-access JWT of an N-central user with API "
                          "access, that it was not regenerated, and that NCENTRAL_URL is its server")
        tokens = body.get("tokens") if isinstance(body, dict) else None
        try:
            access, refresh = tokens["access"], tokens.get("refresh") or {}
            self._refresh = refresh.get("token") or None
            return access["token"], float(access.get("expirySeconds") or 3600)
        except (KeyError, TypeError):
            raise MalformedResponse(f"ncentral: {self.api.host} answered the token request without "
                                    "tokens.access.token") from None

    async def get(self, path: str, params: Mapping[str, Any] | None = None, ok_statuses: tuple[int, ...] = (),
                  resumable: bool = True):
        """List pages after the first and each device's assets (one request per device) are kept for the next
        attempt if the run fails (pipelines/extraction.py)."""
        self._count(f"GET {path if '/assets' not in path else '/api/devices/{id}/assets'}")
        return await self.token.send(lambda: self.api.request("GET", path, params=params, auth=self.token,
                                                              ok_statuses=ok_statuses, resumable=resumable,
                                                              page_param="pageNumber"))

    async def fetch_all(self, path: str) -> list[Record]:
        """Page 1 gives totalItems; the other pages are fetched concurrently, and the count is checked."""
        async def page(number: int) -> tuple[int, list[Record]]:
            body = self.api.decode_json(await self.get(path, {"pageNumber": number, "pageSize": self.page_size},
                                                       resumable=number > 1))
            data = body.get("data") if isinstance(body, dict) else None
            total = body.get("totalItems") if isinstance(body, dict) else None
            if not isinstance(data, list) or not isinstance(total, int):
                raise MalformedResponse(f"ncentral: {self.api.host} page {number} of {path} has no data list or no "
                                        "totalItems; the previous tables are kept")
            return total, data

        total, records = await numbered_pages(page, self.page_size)
        if len(records) != total:
            raise MalformedResponse(f"ncentral: {self.api.host} {path} returned {len(records)} records but "
                                    f"totalItems says {total}; the previous tables are kept, run again")
        return records

    async def assets(self, device_ids: list[str]) -> list[Record]:
        async def one(device_id: str) -> Record | None:
            response = await self.get(f"/api/devices/{device_id}/assets", ok_statuses=ASSET_ABSENT)
            if response.status_code in ASSET_ABSENT:
                return None
            return {"deviceId": device_id, **self.api.decode_json(response)}

        return [a for a in await asyncio.gather(*(one(d) for d in device_ids)) if a is not None]


async def extract_ncentral(url: str, api_token: str, *, budget: RateBudget = DEFAULT_BUDGET,
                           retry: RetryPolicy | None = None, page_size: int = PAGE_SIZE) -> Extraction:
    """Every customer, site and device, and the assets of every device. Raises AuthError or SourceError; assets
    that cannot be read at all leave serials and MACs empty with a warning."""
    extracted_at = utc_now()
    async with NcentralClient(url, api_token, budget=budget, retry=retry, page_size=page_size) as nc:
        await nc.token.ensure()
        customers, sites, devices = await asyncio.gather(
            nc.fetch_all("/api/customers"), nc.fetch_all("/api/sites"), nc.fetch_all("/api/devices"))
        warnings: list[str] = []
        assets = await optional_lookup(nc.assets([str(d["deviceId"]) for d in devices]),
                                       "/api/devices/{id}/assets (serials and MACs)", warnings)
        stats = with_warnings(nc.run_stats(), warnings)
    return Extraction(SOURCE_NAME, {
        CUSTOMERS.table: CUSTOMERS.to_frame(customers, extracted_at),
        SITES.table: SITES.to_frame(sites, extracted_at),
        DEVICES.table: DEVICES.to_frame(devices, extracted_at),
        DEVICE_ASSETS.table: DEVICE_ASSETS.to_frame(assets, extracted_at),
    }, stats)


async def extract(config: Mapping[str, str], previous: PreviousTables) -> Extraction:
    return await extract_ncentral(config["NCENTRAL_URL"], config["NCENTRAL_API_TOKEN"], budget=SOURCE.budget(config))


SOURCE = Source(
    name=SOURCE_NAME,
    kind="rmm",
    required_env=("NCENTRAL_URL", "NCENTRAL_API_TOKEN"),
    optional_env={},
    resources=(CUSTOMERS, SITES, DEVICES, DEVICE_ASSETS),
    extract=extract,
    description="N-able N-central customers, sites, devices and device assets (serials, MACs)",
    title="N-able N-central",
    secrets=("NCENTRAL_API_TOKEN",),
    rate_limit=RateLimit("NCENTRAL_RATE_LIMIT", 60, "minute"),
    default_budget=DEFAULT_BUDGET,
    staged=("organizations", "configurations"),
    itglue_integration_type="msp-n-central",
)
