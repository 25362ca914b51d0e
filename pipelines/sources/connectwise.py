"""ConnectWise Manage (PSA): companies, configurations and contacts over the REST API 3.0.

Wire facts (shared/docs/api-facts.md): the API codebase is discovered from `GET {site}/login/companyinfo/{companyId}`
(no auth) and the API lives at `{site}/{Codebase}apis/3.0`; Basic auth `{companyId}+{publicKey}:{privateKey}` plus a
`clientId` header; bare JSON arrays; forward-only paging (`pagination-type: forward-only`, `pageId`, next page in the
`Link` header); over ~1000 requests a minute the API answers 429 with `Retry-After`.
"""

import asyncio
import base64
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import polars as pl

from pipelines.sources.base import (
    Extraction,
    PreviousTables,
    Record,
    Resource,
    Source,
    parse_timestamp,
    utc_now,
)
from pipelines.sources.http import ApiClient, AuthError, MalformedResponse, RateBudget, RetryPolicy

PAGE_SIZE = 1000  # the API's maximum
# ConnectWise throttles above ~1000 requests a minute per tenant; staying under 900 leaves room for the MSP's own
# integrations. The three resources page one request at a time each, so 3 are in flight at most.
DEFAULT_BUDGET = RateBudget.within(900, 60, concurrency=3)
CREDENTIAL_HINT = ("CONNECTWISE_COMPANY_ID, CONNECTWISE_PUBLIC_KEY, CONNECTWISE_PRIVATE_KEY or "
                   "CONNECTWISE_CLIENT_ID")
# A Link entry: the URL may itself hold an unencoded `>` (ConnectWise leaves `conditions` raw), so the URL ends
# only at the `>` that is followed by `;`.
_LINK = re.compile(r'<(.+?)>\s*;\s*rel="?([^",;]+)"?')


def _name(value: Any) -> str | None:
    return value.get("name") if isinstance(value, dict) else None


def _ref_id(value: Any) -> str | None:
    if isinstance(value, dict) and value.get("id") is not None:
        return str(value["id"])
    return None


def _info_ts(record: Record, key: str):
    info = record.get("_info")
    return parse_timestamp(info.get(key)) if isinstance(info, dict) else None


def _flatten_company(r: Record) -> Record:
    types = r.get("types")
    return {
        "id": str(r["id"]), "identifier": r.get("identifier"), "name": r.get("name"),
        "status_name": _name(r.get("status")),
        "type_names": ", ".join(n for n in map(_name, types) if n) if isinstance(types, list) else None,
        "address_line1": r.get("addressLine1"), "city": r.get("city"), "state": r.get("state"),
        "zip": r.get("zip"), "country_name": _name(r.get("country")), "phone_number": r.get("phoneNumber"),
        "website": r.get("website"), "deleted_flag": r.get("deletedFlag"),
        "date_entered": _info_ts(r, "dateEntered"), "last_updated": _info_ts(r, "lastUpdated"),
    }


def _flatten_configuration(r: Record) -> Record:
    company = r.get("company")
    return {
        "id": str(r["id"]), "name": r.get("name"), "type_name": _name(r.get("type")),
        "status_name": _name(r.get("status")), "company_id": _ref_id(company),
        "company_identifier": company.get("identifier") if isinstance(company, dict) else None,
        "contact_id": _ref_id(r.get("contact")), "serial_number": r.get("serialNumber"),
        "mac_address": r.get("macAddress"), "ip_address": r.get("ipAddress"), "tag_number": r.get("tagNumber"),
        "os_type": r.get("osType"), "manufacturer_name": _name(r.get("manufacturer")),
        "model_number": r.get("modelNumber"), "device_identifier": r.get("deviceIdentifier"),
        "active_flag": r.get("activeFlag"),
        "date_entered": _info_ts(r, "dateEntered"), "last_updated": _info_ts(r, "lastUpdated"),
    }


def _communication(items: Any, kind: str) -> str | None:
    """The default email or phone among a contact's communicationItems (the first of that kind otherwise)."""
    if not isinstance(items, list):
        return None

    def is_kind(item: dict) -> bool:
        declared = item.get("communicationType")
        if declared:
            return str(declared).lower() == kind
        type_name = (_name(item.get("type")) or "").lower()
        return ("email" in type_name) if kind == "email" else ("email" not in type_name and "fax" not in type_name)

    matching = [i for i in items if isinstance(i, dict) and i.get("value") and is_kind(i)]
    chosen = next((i for i in matching if i.get("defaultFlag")), matching[0] if matching else None)
    return chosen.get("value") if chosen else None


def _flatten_contact(r: Record) -> Record:
    items = r.get("communicationItems")
    return {
        "id": str(r["id"]), "first_name": r.get("firstName"), "last_name": r.get("lastName"),
        "title": r.get("title"), "company_id": _ref_id(r.get("company")),
        "email": _communication(items, "email"), "phone": _communication(items, "phone"),
        "inactive_flag": r.get("inactiveFlag"),
        "date_entered": _info_ts(r, "dateEntered"), "last_updated": _info_ts(r, "lastUpdated"),
    }


S, B, T = pl.String, pl.Boolean, pl.Datetime("us", "UTC")
COMPANIES = Resource("connectwise", "companies", {
    "id": S, "identifier": S, "name": S, "status_name": S, "type_names": S, "address_line1": S, "city": S,
    "state": S, "zip": S, "country_name": S, "phone_number": S, "website": S, "deleted_flag": B,
    "date_entered": T, "last_updated": T,
}, _flatten_company)
CONFIGURATIONS = Resource("connectwise", "configurations", {
    "id": S, "name": S, "type_name": S, "status_name": S, "company_id": S, "company_identifier": S,
    "contact_id": S, "serial_number": S, "mac_address": S, "ip_address": S, "tag_number": S, "os_type": S,
    "manufacturer_name": S, "model_number": S, "device_identifier": S, "active_flag": B,
    "date_entered": T, "last_updated": T,
}, _flatten_configuration)
CONTACTS = Resource("connectwise", "contacts", {
    "id": S, "first_name": S, "last_name": S, "title": S, "company_id": S, "email": S, "phone": S,
    "inactive_flag": B, "date_entered": T, "last_updated": T,
}, _flatten_contact)

# resource -> (path under the API base, `conditions`); deleted companies stay in ConnectWise with deletedFlag set.
ENDPOINTS = {
    COMPANIES: ("company/companies", "deletedFlag=false"),
    CONFIGURATIONS: ("company/configurations", None),
    CONTACTS: ("company/contacts", None),
}


def api_site(url: str) -> str:
    """The site whose `/login/companyinfo` and API answer: cloud users often paste the UI host
    (`na.myconnectwise.net`), whose API twin carries the `api-` prefix."""
    parts = urlsplit(url.rstrip("/"))
    host = parts.hostname or ""
    if host.endswith("myconnectwise.net") and not host.startswith("api-") and host.count(".") == 2:
        parts = parts._replace(netloc=parts.netloc.replace(host, f"api-{host}", 1))
    return urlunsplit(parts)


def next_link(header: str | None) -> str | None:
    """The rel="next" URL of a Link header, or None."""
    for url, rel in _LINK.findall(header or ""):
        if rel.strip().lower() == "next":
            return url.strip()
    return None


def client(site: str, company_id: str, public_key: str, private_key: str, client_id: str,
           budget: RateBudget = DEFAULT_BUDGET, retry: RetryPolicy | None = None,
           transport: httpx.AsyncBaseTransport | None = None) -> ApiClient:
    token = base64.b64encode(f"{company_id}+{public_key}:{private_key}".encode()).decode()
    return ApiClient(
        source="connectwise", base_url=site, credential_hint=CREDENTIAL_HINT, budget=budget, retry=retry,
        headers={"Authorization": f"Basic {token}", "clientId": client_id, "Accept": "application/json"},
        transport=transport,
    )


async def discover_codebase(api: ApiClient, company_id: str) -> str:
    """The API codebase (`v2024_1/`) the site serves for this company."""
    response = await api.request("GET", f"/login/companyinfo/{company_id}", ok_statuses=(404,))
    body = api.decode_json(response) if response.status_code != 404 else None
    if not body or response.status_code == 404:
        raise AuthError(
            f"CONNECTWISE_COMPANY_ID {company_id!r} is not known to {api.host} (/login/companyinfo): "
            "check the company id and CONNECTWISE_URL (the site you log in to)"
        )
    codebase = body.get("Codebase") if isinstance(body, dict) else None
    if not isinstance(codebase, str) or not codebase.strip("/"):
        raise MalformedResponse(
            f"connectwise: {api.host}/login/companyinfo/{company_id} has no Codebase; is CONNECTWISE_URL a "
            "ConnectWise site?"
        )
    return codebase.strip("/") + "/"


async def fetch_all(api: ApiClient, path: str, conditions: str | None, page_size: int = PAGE_SIZE) -> list[Record]:
    """Every record of one endpoint by forward-only paging: ids ascend, each next page comes from the Link header.

    Stops at an empty page or when no next link is given (ConnectWise links a next page even from the last one).
    """
    params = {"pageSize": str(page_size), "pageId": "0"}
    if conditions:
        params["conditions"] = conditions
    url: str | None = path
    records: list[Record] = []
    last_id = 0
    page_number = 0
    while url is not None:
        page_number += 1
        response = await api.request("GET", url, params=params if page_number == 1 else None,
                                     headers={"pagination-type": "forward-only"}, resumable=True,
                                     page=(path, page_number))
        page = api.decode_json(response)
        if not isinstance(page, list) or not all(isinstance(r, dict) and isinstance(r.get("id"), int) for r in page):
            raise MalformedResponse(
                f"connectwise: {api.host} page {page_number} of /{path} is not a JSON array of records with "
                "integer ids; the previous tables are kept"
            )
        if not page:
            break
        if page[0]["id"] <= last_id:
            # A server that ignores pageId would loop forever; forward-only pages must move forward.
            raise MalformedResponse(
                f"connectwise: {api.host} page {page_number} of /{path} starts at id {page[0]['id']}, not after "
                f"{last_id}: forward-only paging did not advance"
            )
        last_id = page[-1]["id"]
        records.extend(page)
        url = next_link(response.headers.get("Link"))
    return records


async def extract_connectwise(url: str, company_id: str, public_key: str, private_key: str, client_id: str, *,
                              budget: RateBudget = DEFAULT_BUDGET, retry: RetryPolicy | None = None,
                              page_size: int = PAGE_SIZE) -> Extraction:
    """Every live company, every configuration and contact; the three endpoints are paged concurrently."""
    started = utc_now()
    async with client(api_site(url), company_id, public_key, private_key, client_id, budget, retry) as api:
        codebase = await discover_codebase(api, company_id)
        fetched = await asyncio.gather(*(
            fetch_all(api, f"{codebase}apis/3.0/{path}", conditions, page_size)
            for path, conditions in ENDPOINTS.values()))
        frames = {res.table: res.to_frame(records, started) for res, records in zip(ENDPOINTS, fetched, strict=True)}
        stats = {**api.stats.as_metadata(), "codebase": codebase,
                 **{f"rows_{res.name}": len(records) for res, records in zip(ENDPOINTS, fetched, strict=True)}}
        return Extraction("connectwise", frames, stats)


async def _extract_from_env(config: Mapping[str, str], previous: PreviousTables) -> Extraction:
    return await extract_connectwise(
        config["CONNECTWISE_URL"], config["CONNECTWISE_COMPANY_ID"], config["CONNECTWISE_PUBLIC_KEY"],
        config["CONNECTWISE_PRIVATE_KEY"], config["CONNECTWISE_CLIENT_ID"],
    )


SOURCE = Source(
    name="connectwise",
    kind="psa",
    required_env=("CONNECTWISE_URL", "CONNECTWISE_COMPANY_ID", "CONNECTWISE_PUBLIC_KEY", "CONNECTWISE_PRIVATE_KEY",
                  "CONNECTWISE_CLIENT_ID"),
    optional_env={},
    resources=(COMPANIES, CONFIGURATIONS, CONTACTS),
    extract=_extract_from_env,
    description="ConnectWise Manage PSA (REST API 3.0)",
    title="ConnectWise PSA",
    secrets=("CONNECTWISE_PRIVATE_KEY",),
    default_budget=DEFAULT_BUDGET,
    staged=("organizations", "configurations", "contacts"),
    itglue_integration_type="manage",
)
