"""Autotask PSA: companies, configuration items and contacts over the REST API v1.0.

Wire facts (shared/docs/api-facts.md): the tenant's zone is discovered from
`GET {AUTOTASK_URL}/atservicesrest/v1.0/zoneInformation?user=...` (no auth; an unknown user gets 500); every request
carries `ApiIntegrationCode`, `UserName` and `Secret`; `POST {zone}V1.0/{Entity}/query` returns 500 items a page and
a `nextPageUrl` that must be POSTed again with the same body; at most 3 concurrent requests per entity; 10,000
requests per rolling hour per database, shared with every other integration of the MSP.
"""

import asyncio
import time
from collections.abc import Mapping
from typing import Any

import httpx
import polars as pl

from pipelines.sources.base import (
    Extraction,
    PreviousTables,
    Record,
    Resource,
    Source,
    optional_lookup,
    parse_timestamp,
    utc_now,
    with_warnings,
)
from pipelines.sources.base import text as _text
from pipelines.sources.http import (
    ApiClient,
    AuthError,
    MalformedResponse,
    RateBudget,
    RetryPolicy,
    SourceError,
)

DEFAULT_URL = "https://webservices2.autotask.net"
PAGE_SIZE = 500  # the API's maximum
# Autotask allows 3 threads per integration per entity. Entities are paged one request at a time each, so 3 in
# flight in all also holds per entity, and the ThresholdInformation reads never add a 4th.
THREADS = 3
DEFAULT_BUDGET = RateBudget.within(10000, 3600, concurrency=THREADS)
REQUEST_TIMEOUT = 60.0
REDISCOVERY_QUIET_SECONDS = REQUEST_TIMEOUT
# Part of the hourly budget left to the MSP's other integrations: a run that would start inside it is refused.
RESERVED_SHARE = 0.05
CREDENTIAL_HINT = "AUTOTASK_USERNAME, AUTOTASK_SECRET or AUTOTASK_INTEGRATION_CODE"


def _get(record: Record, name: str) -> Any:
    """A field by name, case-insensitively: Autotask's own clients disagree on casing (`rmmDeviceUID`/`rmmDeviceUid`)."""
    if name in record:
        return record[name]
    lowered = name.lower()
    return next((v for k, v in record.items() if k.lower() == lowered), None)


def _flag(value: Any) -> bool | None:
    """Autotask's active flags are booleans on companies and items but 0/1 on contacts."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1")
    return bool(value)


def _flatten_company(r: Record) -> Record:
    return {
        "id": str(r["id"]), "company_name": _get(r, "companyName"), "company_number": _text(_get(r, "companyNumber")),
        "company_type": _text(_get(r, "companyType")), "is_active": _flag(_get(r, "isActive")),
        "phone": _get(r, "phone"), "web_address": _get(r, "webAddress"), "address1": _get(r, "address1"),
        "city": _get(r, "city"), "state": _get(r, "state"), "postal_code": _get(r, "postalCode"),
        "parent_company_id": _text(_get(r, "parentCompanyID")),
        "create_date": parse_timestamp(_get(r, "createDate")),
        "last_activity_date": parse_timestamp(_get(r, "lastActivityDate")),
        "last_tracked_modified_date_time": parse_timestamp(_get(r, "lastTrackedModifiedDateTime")),
    }


def _flatten_configuration_item(r: Record) -> Record:
    return {
        "id": str(r["id"]), "company_id": _text(_get(r, "companyID")),
        "reference_title": _get(r, "referenceTitle"), "reference_number": _text(_get(r, "referenceNumber")),
        "serial_number": _text(_get(r, "serialNumber")), "is_active": _flag(_get(r, "isActive")),
        "configuration_item_type": _text(_get(r, "configurationItemType")),
        "configuration_item_category_id": _text(_get(r, "configurationItemCategoryID")),
        # Filled from the ConfigurationItemCategories entity after flattening (see `name_categories`).
        "configuration_item_category_name": None,
        "product_id": _text(_get(r, "productID")), "contact_id": _text(_get(r, "contactID")),
        "rmm_device_id": _text(_get(r, "rmmDeviceID")), "rmm_device_uid": _text(_get(r, "rmmDeviceUID")),
        "rmm_device_audit_hostname": _get(r, "rmmDeviceAuditHostname"),
        "rmm_device_audit_ip_address": _get(r, "rmmDeviceAuditIPAddress"),
        "rmm_device_audit_mac_address": _get(r, "rmmDeviceAuditMacAddress"),
        "rmm_device_audit_operating_system": _get(r, "rmmDeviceAuditOperatingSystem"),
        "create_date": parse_timestamp(_get(r, "createDate")),
        "last_modified_time": parse_timestamp(_get(r, "lastModifiedTime")),
    }


def _flatten_contact(r: Record) -> Record:
    return {
        "id": str(r["id"]), "company_id": _text(_get(r, "companyID")), "first_name": _get(r, "firstName"),
        "last_name": _get(r, "lastName"), "title": _get(r, "title"), "email_address": _get(r, "emailAddress"),
        "phone": _get(r, "phone"), "mobile_phone": _get(r, "mobilePhone"), "is_active": _flag(_get(r, "isActive")),
        "create_date": parse_timestamp(_get(r, "createDate")),
        "last_activity_date": parse_timestamp(_get(r, "lastActivityDate")),
        "last_modified_date": parse_timestamp(_get(r, "lastModifiedDate")),
    }


S, B, T = pl.String, pl.Boolean, pl.Datetime("us", "UTC")
COMPANIES = Resource("autotask", "companies", {
    "id": S, "company_name": S, "company_number": S, "company_type": S, "is_active": B, "phone": S,
    "web_address": S, "address1": S, "city": S, "state": S, "postal_code": S, "parent_company_id": S,
    "create_date": T, "last_activity_date": T, "last_tracked_modified_date_time": T,
}, _flatten_company)
CONFIGURATION_ITEMS = Resource("autotask", "configuration_items", {
    "id": S, "company_id": S, "reference_title": S, "reference_number": S, "serial_number": S, "is_active": B,
    "configuration_item_type": S, "configuration_item_category_id": S, "configuration_item_category_name": S,
    "product_id": S, "contact_id": S, "rmm_device_id": S, "rmm_device_uid": S, "rmm_device_audit_hostname": S,
    "rmm_device_audit_ip_address": S, "rmm_device_audit_mac_address": S, "rmm_device_audit_operating_system": S,
    "create_date": T, "last_modified_time": T,
}, _flatten_configuration_item)
CONTACTS = Resource("autotask", "contacts", {
    "id": S, "company_id": S, "first_name": S, "last_name": S, "title": S, "email_address": S, "phone": S,
    "mobile_phone": S, "is_active": B, "create_date": T, "last_activity_date": T, "last_modified_date": T,
}, _flatten_contact)

# resource -> entity path. Every record: `id gt -1` is the documented way to ask for all (a query needs a filter).
ENTITIES = {COMPANIES: "Companies", CONFIGURATION_ITEMS: "ConfigurationItems", CONTACTS: "Contacts"}
# Item categories are the tenant's own picklist ("Server", "Laptop", ...): one small query names them.
CATEGORIES = "ConfigurationItemCategories"
ALL_RECORDS = [{"op": "gt", "field": "id", "value": -1}]


class Zone:
    """The tenant's zone, looked up once per run and again when the zone answers 401 (the tenant was moved)."""

    def __init__(self, discovery: ApiClient, username: str):
        self.discovery = discovery
        self.username = username
        self.url: str | None = None
        self.lookups = 0
        self._rediscovered_at = float("-inf")
        self._lock = asyncio.Lock()

    async def discover(self) -> str:
        response = await self.discovery.request(
            "GET", "/atservicesrest/v1.0/zoneInformation", params={"user": self.username},
            # Autotask answers an unknown user with 500: an answer to act on, not a failure to retry.
            passthrough=lambda r: r.status_code == 500)
        self.lookups += 1
        if response.status_code == 500:
            raise AuthError(
                f"AUTOTASK_USERNAME {self.username!r} is not known to {self.discovery.host} (zone discovery "
                "answered 500): check the API user's name and AUTOTASK_URL"
            )
        body = self.discovery.decode_json(response)
        url = body.get("url") if isinstance(body, dict) else None
        if not isinstance(url, str) or "://" not in url:
            raise MalformedResponse(
                f"autotask: {self.discovery.host} zone discovery returned no zone url: {str(body)[:200]}")
        self.url = url if url.endswith("/") else url + "/"
        return self.url

    async def rediscover(self, api: ApiClient) -> None:
        """`refresh_auth` of the zone's ApiClient: look the zone up again and point the client at it."""
        async with self._lock:
            # Requests in flight when the zone moved all meet a 401; one lookup serves them all, and their
            # retries go to the new zone. A request is never in flight longer than the client's timeout.
            if time.monotonic() - self._rediscovered_at < REDISCOVERY_QUIET_SECONDS:
                return
            api.set_base_url(await self.discover())
            self._rediscovered_at = time.monotonic()

    def relative(self, url: str) -> str:
        """A nextPageUrl relative to the zone, so that it still works after the zone moved."""
        if self.url and url.lower().startswith(self.url.lower()):
            return url[len(self.url):]
        return url


def client(base_url: str, username: str, secret: str, integration_code: str, budget: RateBudget,
           retry: RetryPolicy | None, transport: httpx.AsyncBaseTransport | None = None) -> ApiClient:
    return ApiClient(
        source="autotask", base_url=base_url, credential_hint=CREDENTIAL_HINT, budget=budget, retry=retry,
        headers={"ApiIntegrationCode": integration_code, "UserName": username, "Secret": secret,
                 "Content-Type": "application/json", "Accept": "application/json"},
        timeout=REQUEST_TIMEOUT, transport=transport,
    )


async def fetch_all(api: ApiClient, zone: Zone, entity: str, page_size: int = PAGE_SIZE) -> list[Record]:
    """Every record of one entity: POST the query, then POST each nextPageUrl with the same body until it is null."""
    body = {"MaxRecords": page_size, "filter": ALL_RECORDS}
    url: str | None = f"V1.0/{entity}/query"
    records: list[Record] = []
    page_number = 0
    while url is not None:
        page_number += 1
        response = await api.request("POST", url, json=body, resumable=True, page=(entity, page_number))
        page = api.decode_json(response)
        items = page.get("items") if isinstance(page, dict) else None
        details = page.get("pageDetails") if isinstance(page, dict) else None
        if not isinstance(items, list) or not isinstance(details, dict):
            raise MalformedResponse(
                f"autotask: {api.host} page {page_number} of {entity} has no items list or no pageDetails; "
                "the previous tables are kept")
        if details.get("count") != len(items) or not all(isinstance(i, dict) and "id" in i for i in items):
            raise MalformedResponse(
                f"autotask: {api.host} page {page_number} of {entity} holds {len(items)} items but pageDetails "
                f"says {details.get('count')} (a page cut short, or items without ids); the previous tables are kept")
        records.extend(items)
        next_url = details.get("nextPageUrl")
        url = zone.relative(next_url) if next_url else None
    return records


def name_categories(items: pl.DataFrame, categories: list[Record]) -> pl.DataFrame:
    """Items with `configuration_item_category_name` from the tenant's ConfigurationItemCategories."""
    names = {str(c["id"]): _get(c, "name") for c in categories}
    return items.with_columns(
        pl.col("configuration_item_category_id").replace_strict(names, default=None, return_dtype=pl.String)
        .alias("configuration_item_category_name"))


async def read_threshold(api: ApiClient) -> dict[str, int]:
    """The database's hourly budget and what every integration together used of it in the current hour."""
    body = await api.get_json("V1.0/ThresholdInformation")
    try:
        return {"threshold": int(body["externalRequestThreshold"]),
                "used": int(body["currentTimeframeRequestCount"])}
    except (KeyError, TypeError, ValueError):
        raise MalformedResponse(
            f"autotask: {api.host} ThresholdInformation lacks externalRequestThreshold or "
            f"currentTimeframeRequestCount: {str(body)[:200]}") from None


async def extract_autotask(url: str, username: str, secret: str, integration_code: str, *,
                           budget: RateBudget = DEFAULT_BUDGET, retry: RetryPolicy | None = None,
                           page_size: int = PAGE_SIZE) -> Extraction:
    """Every company, configuration item and contact; the three entities are paged concurrently.

    Stats include the hourly budget: `budget_threshold`, `budget_used_before` (by every integration this hour, at
    the start), `budget_used_after`, `budget_remaining`, and `budget_used_by_run` (this run's own requests).
    """
    started = utc_now()
    async with client(url, username, secret, integration_code, budget, retry) as discovery:
        zone = Zone(discovery, username)
        zone_url = await zone.discover()
        api = client(zone_url, username, secret, integration_code, budget, retry)
        api.refresh_auth = lambda: zone.rediscover(api)
        async with api:
            before = await read_threshold(api)
            reserve = int(before["threshold"] * RESERVED_SHARE)
            if before["threshold"] - before["used"] <= reserve:
                raise SourceError(
                    f"autotask: {before['used']} of the hourly {before['threshold']} API requests on {api.host} are "
                    f"already used by the MSP's integrations; msp-recon leaves the last {reserve} to them. "
                    "Run again later in the hour")
            warnings: list[str] = []
            *fetched, categories = await asyncio.gather(
                *(fetch_all(api, zone, entity, page_size) for entity in ENTITIES.values()),
                optional_lookup(fetch_all(api, zone, CATEGORIES, page_size),
                                f"{CATEGORIES} (configuration item category names)", warnings))
            after = await read_threshold(api)
            own = api.stats.requests + discovery.stats.requests
        frames = {res.table: res.to_frame(records, started) for res, records in zip(ENTITIES, fetched, strict=True)}
        frames[CONFIGURATION_ITEMS.table] = name_categories(frames[CONFIGURATION_ITEMS.table], categories)
        stats = {
            **api.stats.as_metadata(), "requests": own, "zone_lookups": zone.lookups, "zone_url": zone.url,
            "budget_threshold": after["threshold"], "budget_used_before": before["used"],
            "budget_used_after": after["used"], "budget_remaining": max(0, after["threshold"] - after["used"]),
            "budget_used_by_run": api.stats.requests,
            **{f"rows_{res.name}": len(records) for res, records in zip(ENTITIES, fetched, strict=True)},
        }
        return Extraction("autotask", frames, with_warnings(stats, warnings))


async def _extract_from_env(config: Mapping[str, str], previous: PreviousTables) -> Extraction:
    return await extract_autotask(
        config.get("AUTOTASK_URL") or DEFAULT_URL, config["AUTOTASK_USERNAME"], config["AUTOTASK_SECRET"],
        config["AUTOTASK_INTEGRATION_CODE"], budget=SOURCE.budget(config),
    )


SOURCE = Source(
    name="autotask",
    kind="psa",
    required_env=("AUTOTASK_USERNAME", "AUTOTASK_SECRET", "AUTOTASK_INTEGRATION_CODE"),
    optional_env={"AUTOTASK_URL": DEFAULT_URL},
    resources=(COMPANIES, CONFIGURATION_ITEMS, CONTACTS),
    extract=_extract_from_env,
    description="Autotask PSA (REST API v1.0)",
    title="Autotask",
    secrets=("AUTOTASK_SECRET", "AUTOTASK_INTEGRATION_CODE"),
    default_budget=DEFAULT_BUDGET,
    staged=("organizations", "configurations", "contacts"),
    itglue_integration_type="autotask",
)
