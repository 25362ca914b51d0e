"""IT Glue: organizations, configurations (with their RMM records) and contacts over the JSON:API REST API.

Wire facts (shared/docs/api-facts.md): `x-api-key` auth, 403 on a wrong key; `page[number]`/`page[size]` up to 1000,
`meta.total-count` and `meta.next-page`; 3000 requests per 5 minutes; a large page may time out with
"The request took too long to process" and must be asked for again in smaller pieces.
"""

import asyncio
import re
from collections.abc import Mapping
from typing import Any

import httpx
import polars as pl

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
from pipelines.sources.http import ApiClient, MalformedResponse, RateBudget, RetryPolicy

DEFAULT_URL = "https://api.itglue.com"
MAX_PAGE_SIZE = 1000
MIN_PAGE_SIZE = 25
# 3000 requests per 5 minutes is IT Glue's published limit; 8 in flight keeps a large tenant well inside it
# without making the API queue our requests.
DEFAULT_BUDGET = RateBudget.within(3000, 300, concurrency=8)
TOO_LONG = "took too long"


def _flatten_organization(r: Record) -> Record:
    a = r.get("attributes") or {}
    return {
        "id": r["id"], "name": a.get("name"), "short_name": a.get("short-name"),
        "organization_type_name": a.get("organization-type-name"),
        "organization_status_name": a.get("organization-status-name"),
        "psa_integration": a.get("psa-integration"), "primary": a.get("primary"),
        "parent_id": _text(a.get("parent-id")), "quick_notes": a.get("quick-notes"),
        "created_at": parse_timestamp(a.get("created-at")), "updated_at": parse_timestamp(a.get("updated-at")),
    }


def _rmm_attrs(r: Record) -> dict[str, Any]:
    records = r.get("rmm_records") or []
    return records[0].get("attributes", {}) if records else {}


# Where an RMM record names its device: the sandbox's (and, unconfirmed, IT Glue's) `device-id` attribute, else an id
# attribute under another name, else the last path segment of the link to the device in the RMM's own UI.
RMM_DEVICE_ID_ATTRIBUTES = ("device-id", "rmm-id", "external-id", "device-uid")
RMM_DEVICE_URL_ATTRIBUTES = ("external-url", "device-url", "url")
_DEVICE_ID_IN_URL = re.compile(r"/(?:devices?|device-details)/([0-9A-Za-z-]{1,64})/?(?:[?#].*)?$")


def rmm_device_id(attributes: Mapping[str, Any]) -> str | None:
    """The RMM's own id of the device an IT Glue rmm-record describes, or None when it does not say."""
    for key in RMM_DEVICE_ID_ATTRIBUTES:
        if attributes.get(key) not in (None, ""):
            return _text(attributes[key])
    for key in RMM_DEVICE_URL_ATTRIBUTES:
        found = _DEVICE_ID_IN_URL.search(str(attributes.get(key) or ""))
        if found:
            return found.group(1)
    return None


def _flatten_configuration(r: Record) -> Record:
    a = r.get("attributes") or {}
    rmm = _rmm_attrs(r)
    macs = rmm.get("mac-addresses")
    return {
        "id": r["id"], "organization_id": _text(a.get("organization-id")),
        "organization_name": a.get("organization-name"), "name": a.get("name"),
        "hostname": a.get("hostname"), "primary_ip": a.get("primary-ip"),
        "mac_address": a.get("mac-address"), "serial_number": a.get("serial-number"),
        "asset_tag": a.get("asset-tag"),
        "configuration_type_name": a.get("configuration-type-name"),
        "configuration_type_kind": a.get("configuration-type-kind"),
        "configuration_status_name": a.get("configuration-status-name"),
        "manufacturer_name": a.get("manufacturer-name"), "model_name": a.get("model-name"),
        "operating_system_name": a.get("operating-system-name"),
        "location_id": _text(a.get("location-id")), "contact_id": _text(a.get("contact-id")),
        "archived": a.get("archived"), "psa_integration": a.get("psa-integration"),
        "resource_url": a.get("resource-url"),
        "rmm_record_count": len(r.get("rmm_records") or []),
        "rmm_integration_type": rmm.get("rmm-integration-type"),
        "rmm_device_id": rmm_device_id(rmm),
        "rmm_hostname": rmm.get("hostname"), "rmm_serial_number": rmm.get("serial-number"),
        "rmm_mac_addresses": ", ".join(macs) if isinstance(macs, list) else _text(macs),
        "created_at": parse_timestamp(a.get("created-at")), "updated_at": parse_timestamp(a.get("updated-at")),
    }


def _primary(items: list[dict] | None) -> str | None:
    items = items or []
    chosen = next((i for i in items if i.get("primary")), items[0] if items else None)
    return chosen.get("value") if chosen else None


def _flatten_contact(r: Record) -> Record:
    a = r.get("attributes") or {}
    return {
        "id": r["id"], "organization_id": _text(a.get("organization-id")),
        "first_name": a.get("first-name"), "last_name": a.get("last-name"), "title": a.get("title"),
        "primary_email": _primary(a.get("contact-emails")), "primary_phone": _primary(a.get("contact-phones")),
        "psa_integration": a.get("psa-integration"), "resource_url": a.get("resource-url"),
        "created_at": parse_timestamp(a.get("created-at")), "updated_at": parse_timestamp(a.get("updated-at")),
    }


S, B, INT, T = pl.String, pl.Boolean, pl.Int64, pl.Datetime("us", "UTC")
ORGANIZATIONS = Resource("itglue", "organizations", {
    "id": S, "name": S, "short_name": S, "organization_type_name": S, "organization_status_name": S,
    "psa_integration": S, "primary": B, "parent_id": S, "quick_notes": S, "created_at": T, "updated_at": T,
}, _flatten_organization)
CONFIGURATIONS = Resource("itglue", "configurations", {
    "id": S, "organization_id": S, "organization_name": S, "name": S, "hostname": S, "primary_ip": S,
    "mac_address": S, "serial_number": S, "asset_tag": S, "configuration_type_name": S,
    "configuration_type_kind": S, "configuration_status_name": S, "manufacturer_name": S, "model_name": S,
    "operating_system_name": S, "location_id": S, "contact_id": S, "archived": B, "psa_integration": S,
    "resource_url": S, "rmm_record_count": INT, "rmm_integration_type": S, "rmm_device_id": S, "rmm_hostname": S,
    "rmm_serial_number": S, "rmm_mac_addresses": S, "created_at": T, "updated_at": T,
}, _flatten_configuration)
CONTACTS = Resource("itglue", "contacts", {
    "id": S, "organization_id": S, "first_name": S, "last_name": S, "title": S, "primary_email": S,
    "primary_phone": S, "psa_integration": S, "resource_url": S, "created_at": T, "updated_at": T,
}, _flatten_contact)

# resource -> (path, extra query params)
ENDPOINTS = {
    ORGANIZATIONS: ("/organizations", {}),
    CONFIGURATIONS: ("/configurations", {"include": "rmm_records"}),
    CONTACTS: ("/contacts", {}),
}


def client(url: str, api_key: str, budget: RateBudget = DEFAULT_BUDGET, retry: RetryPolicy | None = None,
           timeout: float = 120.0) -> ApiClient:
    return ApiClient(
        source="itglue", base_url=url, credential_hint="ITGLUE_API_KEY", budget=budget, retry=retry,
        headers={"x-api-key": api_key, "Accept": "application/vnd.api+json"}, timeout=timeout,
    )


class Pager:
    """Fetches every record of one resource: the first page tells the total, the rest are fetched concurrently.

    A page that "took too long" is fetched again as two pages of half the size, which cover the same records,
    down to MIN_PAGE_SIZE; the record count is checked against `meta.total-count` at the end.
    """

    def __init__(self, api: ApiClient, path: str, params: dict[str, str], page_size: int):
        self.api, self.path, self.params, self.page_size = api, path, params, page_size

    async def fetch_all(self) -> list[Record]:
        first = await self._page(1, self.page_size)
        while first is None:  # even the first page timed out: every page will, so shrink them all
            if self.page_size // 2 < MIN_PAGE_SIZE:
                return await self._fail_slow(1)
            self.page_size //= 2
            first = await self._page(1, self.page_size)
        body, records = first
        meta = body["meta"]
        total_count, total_pages = int(meta["total-count"]), int(meta.get("total-pages") or 1)
        rest = await asyncio.gather(*(self._records(n, self.page_size) for n in range(2, total_pages + 1)))
        for chunk in rest:
            records.extend(chunk)
        self._check_complete(records, total_count)
        return records

    async def _records(self, number: int, size: int) -> list[Record]:
        result = await self._page(number, size)
        if result is not None:
            return result[1]
        if size // 2 < MIN_PAGE_SIZE:
            return await self._fail_slow(number)
        half = size // 2
        # Page n of size s holds records (n-1)*s .. n*s-1: pages 2n-1 and 2n of size s/2 hold the same ones.
        left, right = await asyncio.gather(self._records(2 * number - 1, half), self._records(2 * number, half))
        return left + right

    async def _page(self, number: int, size: int) -> tuple[dict, list[Record]] | None:
        params = {**self.params, "page[number]": str(number), "page[size]": str(size)}
        # Pages after the first may be kept for the next attempt if the run fails (pipelines/extraction.py).
        response = await self.api.request("GET", self.path, params=params, passthrough=_took_too_long,
                                         resumable=number > 1, page_param="page[number]")
        if _took_too_long(response):
            return None
        body = self.api.decode_json(response)
        if not isinstance(body, dict) or not isinstance(body.get("data"), list) or \
                not isinstance(body.get("meta"), dict) or "total-count" not in body["meta"]:
            raise MalformedResponse(
                f"itglue: {self.api.host}{self.path} page {number} is not a JSON:API page "
                "(no data list or no meta.total-count); the previous tables are kept"
            )
        return body, _attach_included(body)

    def _check_complete(self, records: list[Record], total_count: int) -> None:
        ids = {r.get("id") for r in records}
        if len(records) != total_count or len(ids) != len(records):
            raise MalformedResponse(
                f"itglue: {self.path} returned {len(records)} records ({len(ids)} distinct) but meta.total-count "
                f"says {total_count}; records changed while paging or a page was cut short. "
                "The previous tables are kept; run again"
            )

    async def _fail_slow(self, number: int) -> list[Record]:
        raise MalformedResponse(
            f"itglue: {self.api.host}{self.path} page {number} times out even at {MIN_PAGE_SIZE} records per page"
        )


def _took_too_long(response: httpx.Response) -> bool:
    return response.status_code >= 400 and TOO_LONG in response.text


def _attach_included(body: dict) -> list[Record]:
    """Put each configuration's included rmm-records beside it, so its raw JSON is self-contained."""
    included = {(i.get("type"), i.get("id")): i for i in body.get("included") or []}
    records = body["data"]
    if not included:
        return records
    for record in records:
        refs = ((record.get("relationships") or {}).get("rmm-records") or {}).get("data") or []
        record["rmm_records"] = [included[(ref.get("type"), ref.get("id"))] for ref in refs
                                 if (ref.get("type"), ref.get("id")) in included]
    return records


async def extract_itglue(url: str, api_key: str, *, budget: RateBudget = DEFAULT_BUDGET,
                         retry: RetryPolicy | None = None, page_size: int = MAX_PAGE_SIZE,
                         timeout: float = 120.0) -> Extraction:
    """Every organization, configuration and contact; resources are paged concurrently within one shared budget."""
    started = utc_now()
    async with client(url, api_key, budget, retry, timeout) as api:
        pagers = {res: Pager(api, path, params, min(page_size, MAX_PAGE_SIZE))
                  for res, (path, params) in ENDPOINTS.items()}
        fetched = await asyncio.gather(*(p.fetch_all() for p in pagers.values()))
        frames = {res.table: res.to_frame(records, started) for res, records in zip(pagers, fetched, strict=True)}
        return Extraction("itglue", frames, api.stats.as_metadata())


async def _extract_from_env(config: Mapping[str, str], previous: PreviousTables) -> Extraction:
    return await extract_itglue(config["ITGLUE_API_URL"], config["ITGLUE_API_KEY"], budget=SOURCE.budget(config))


SOURCE = Source(
    name="itglue",
    kind="documentation",
    required_env=("ITGLUE_API_KEY",),
    optional_env={"ITGLUE_API_URL": DEFAULT_URL},
    resources=(ORGANIZATIONS, CONFIGURATIONS, CONTACTS),
    extract=_extract_from_env,
    description="IT Glue documentation platform (JSON:API)",
    title="IT Glue",
    secrets=("ITGLUE_API_KEY",),
    rate_limit=RateLimit("ITGLUE_RATE_LIMIT", 300, "5 minutes"),
    default_budget=DEFAULT_BUDGET,
    staged=("organizations", "configurations", "contacts"),
)
