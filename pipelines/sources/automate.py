"""ConnectWise Automate: clients, locations and computers (serial and MAC on each computer) over its REST API.

Wire facts (api-facts.md, pyconnectwise's automate client; the README's sources table says which are confirmed):
`POST {AUTOMATE_URL}/cwa/api/v1/apitoken` with `{"UserName", "Password"}` and a `ClientId` header answers
`{"AccessToken", "ExpirationDate", ...}`; every call then sends `Authorization: Bearer` and `ClientId`. Lists
`/cwa/api/v1/clients`, `/locations`, `/computers` are bare JSON arrays paged by `page` (1-based) and `pageSize`, with
no Link header and no total: a page shorter than asked is the last. Rate limits are unpublished: 429 is waited out.

Raw tables: `automate_clients`, `automate_locations`, `automate_computers`.
"""

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime
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
    parse_timestamp,
    text,
    utc_now,
)
from pipelines.sources.http import MalformedResponse, RateBudget, RetryPolicy
from pipelines.sources.oauth import TOKEN_REFUSALS, TokenApiClient, token_body

SOURCE_NAME = "automate"
ENV_HINT = "AUTOMATE_USERNAME/AUTOMATE_PASSWORD (with AUTOMATE_CLIENT_ID)"
API = "/cwa/api/v1"
PAGE_SIZE = 1000
DEFAULT_BUDGET = RateBudget.within(600, 60, concurrency=4)


def _ref(value: Any) -> str | None:
    """`{"Id": 3, "Name": ...}` references, or a bare id."""
    return text(value.get("Id")) if isinstance(value, dict) else text(value)


def _flatten_client(r: Record) -> Record:
    return {"id": str(r["Id"]), "name": r.get("Name"), "city": text(r.get("City")), "state": text(r.get("State")),
            "phone": text(r.get("PhoneNumber") or r.get("Phone")), "website": text(r.get("WebSite")),
            "date_added": parse_timestamp(r.get("DateAdded"))}


def _flatten_location(r: Record) -> Record:
    return {"id": str(r["Id"]), "name": r.get("Name"), "client_id": _ref(r.get("Client") or r.get("ClientId")),
            "phone": text(r.get("PhoneNumber"))}


def _flatten_computer(r: Record) -> Record:
    return {
        "id": str(r["Id"]), "computer_name": r.get("ComputerName"), "client_id": _ref(r.get("Client")),
        "location_id": _ref(r.get("Location")), "type": text(r.get("Type")), "domain_name": text(r.get("DomainName")),
        "serial_number": text(r.get("SerialNumber")), "mac_address": text(r.get("MACAddress")),
        "local_ip_address": text(r.get("LocalIPAddress")), "operating_system_name": text(r.get("OperatingSystemName")),
        "is_virtual_machine": r.get("IsVirtualMachine"), "last_contact": parse_timestamp(r.get("RemoteAgentLastContact")
                                                                                        or r.get("LastContact")),
        "date_added": parse_timestamp(r.get("DateAdded")),
    }


S = pl.String
CLIENTS = Resource(SOURCE_NAME, "clients", {
    "id": S, "name": S, "city": S, "state": S, "phone": S, "website": S, "date_added": UTC_DATETIME,
}, _flatten_client)
LOCATIONS = Resource(SOURCE_NAME, "locations", {"id": S, "name": S, "client_id": S, "phone": S}, _flatten_location)
COMPUTERS = Resource(SOURCE_NAME, "computers", {
    "id": S, "computer_name": S, "client_id": S, "location_id": S, "type": S, "domain_name": S, "serial_number": S,
    "mac_address": S, "local_ip_address": S, "operating_system_name": S, "is_virtual_machine": pl.Boolean,
    "last_contact": UTC_DATETIME, "date_added": UTC_DATETIME,
}, _flatten_computer)
ENDPOINTS = {CLIENTS: f"{API}/clients", LOCATIONS: f"{API}/locations", COMPUTERS: f"{API}/computers"}


class AutomateClient(TokenApiClient):
    """One Automate server: the integrator token (user, password, client id) and `page` paging."""

    def __init__(self, url: str, username: str, password: str, client_id: str, *,
                 budget: RateBudget = DEFAULT_BUDGET, retry: RetryPolicy | None = None, page_size: int = PAGE_SIZE):
        self._username, self._password, self._client_id = username, password, client_id
        super().__init__(source=SOURCE_NAME, url=url, credential_hint=ENV_HINT, budget=budget, retry=retry)
        for api in (self.api, self.auth_api):
            api.set_header("ClientId", client_id)  # on every call, the token request included
        self.page_size = max(1, page_size)

    async def _fetch_token(self) -> tuple[str, float]:
        self._count(f"POST {API}/apitoken")
        response = await self.auth_api.request("POST", f"{API}/apitoken", ok_statuses=TOKEN_REFUSALS,
                                               json={"UserName": self._username, "Password": self._password})
        body = token_body(
            self.auth_api, response,
            no_endpoint=f"AUTOMATE_URL {self.url} has no Automate API (404 on {API}/apitoken): set it to your "
                        "Automate server, e.g. https://automate.example.com",
            rejected_hint="check the integrator user name and password, that AUTOMATE_CLIENT_ID is the client id "
                          "ConnectWise issued for this integration, and that the user may use the REST API")
        token = body.get("AccessToken") if isinstance(body, dict) else None
        if not token:
            raise MalformedResponse(f"automate: {self.api.host} answered the token request without AccessToken")
        expires = parse_timestamp(body.get("ExpirationDate"))
        lifetime = (expires - datetime.now(UTC)).total_seconds() if expires else 3600.0
        return token, max(60.0, lifetime)

    async def fetch_all(self, path: str) -> list[Record]:
        """Pages in order until one comes back shorter than asked (Automate gives no total)."""
        records: list[Record] = []
        page = 1
        while True:
            self._count(f"GET {path}")
            params = {"page": page, "pageSize": self.page_size, "orderBy": "Id asc"}
            # Not resumable: offset pages without a total, so kept pages could not be checked against fresh ones.
            response = await self.token.send(lambda p=params: self.api.request("GET", path, params=p,
                                                                               auth=self.token))
            rows = self.api.decode_json(response)
            if not isinstance(rows, list):
                raise MalformedResponse(f"automate: {self.api.host} page {page} of {path} is not a list; the "
                                        "previous tables are kept")
            records.extend(rows)
            if len(rows) < self.page_size:
                break
            page += 1
        if len({r.get("Id") for r in records}) != len(records):
            raise MalformedResponse(f"automate: {self.api.host} {path} repeated records across pages (records added "
                                    "while paging?); the previous tables are kept, run again")
        return records


async def extract_automate(url: str, username: str, password: str, client_id: str, *,
                           budget: RateBudget = DEFAULT_BUDGET, retry: RetryPolicy | None = None,
                           page_size: int = PAGE_SIZE) -> Extraction:
    """Every client, location and computer. Raises AuthError or SourceError."""
    extracted_at = utc_now()
    async with AutomateClient(url, username, password, client_id, budget=budget, retry=retry,
                              page_size=page_size) as cwa:
        await cwa.token.ensure()
        fetched = await asyncio.gather(*(cwa.fetch_all(path) for path in ENDPOINTS.values()))
        stats = cwa.run_stats()
    return Extraction(SOURCE_NAME, {res.table: res.to_frame(rows, extracted_at)
                                    for res, rows in zip(ENDPOINTS, fetched, strict=True)}, stats)


async def extract(config: Mapping[str, str], previous: PreviousTables) -> Extraction:
    return await extract_automate(config["AUTOMATE_URL"], config["AUTOMATE_USERNAME"], config["AUTOMATE_PASSWORD"],
                                  config["AUTOMATE_CLIENT_ID"], budget=SOURCE.budget(config))


SOURCE = Source(
    name=SOURCE_NAME,
    kind="rmm",
    required_env=("AUTOMATE_URL", "AUTOMATE_USERNAME", "AUTOMATE_PASSWORD", "AUTOMATE_CLIENT_ID"),
    optional_env={},
    resources=(CLIENTS, LOCATIONS, COMPUTERS),
    extract=extract,
    description="ConnectWise Automate clients, locations and computers (serials, MACs)",
    title="ConnectWise Automate",
    secrets=("AUTOMATE_PASSWORD",),
    rate_limit=RateLimit("AUTOMATE_RATE_LIMIT", 60, "minute"),
    default_budget=DEFAULT_BUDGET,
    staged=("organizations", "configurations"),
    itglue_integration_type="automate",
)
