"""HaloPSA: clients, sites, assets and users over the Halo REST API.

Wire facts (shared/docs/api-facts.md, shared/reference/fixtures/halopsa.json; README's sources table says which are
confirmed): an OAuth2 client-credentials token from `POST {HALOPSA_URL}/auth/token` (form `grant_type`,
`client_id`, `client_secret`, `scope=all`; `?tenant=` for hosted tenants), 3600 s in the example; lists
`GET /api/Client`, `/api/Site`, `/api/Asset`, `/api/Users` paged by `pageinate=true`, `page_size`, `page_no`
(1-based) and wrapped as `{"record_count": N, "clients": [...]}`; hosted tenants allow 300 requests per rolling
5 minutes, then 429 ("Rate Limit Reached"), Retry-After unconfirmed.

IT Glue has no HaloPSA integration type: Halo's own integration pushes records to IT Glue and keeps the link on Halo's
side, as `itglue_id` on clients, sites, assets and users. Those links are the certain ones: staging marks the IT Glue
record a live Halo record points at as the synced copy (sql/staging/halopsa/links.sql). Halo's RMM integrations keep
their links on Halo's side too: `datto_id` (the Datto site uid on a client or site, the device uid on an asset),
`ninjarmmid` on a client (the NinjaOne organization), `ninjarmm_id`/`ncentral_details_id`/`automate_id` on an asset;
staging turns them into certain links between the Halo client and the RMM's site (`rmm_org_keys`) and between the
asset and the device (`rmm_device_id`).

Raw tables: `halopsa_clients`, `halopsa_sites`, `halopsa_assets`, `halopsa_users`, and `halopsa_itglue_links`: every
link Halo has shown so far, kept across runs (`first_seen`, `last_seen`), so that an IT Glue copy whose Halo record
was deleted is still known as Halo-synced, and a later run can prove its partner gone.
"""

import asyncio
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

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
    parse_timestamp,
    text,
    utc_now,
)
from pipelines.sources.http import MalformedResponse, RateBudget, RetryPolicy
from pipelines.sources.oauth import TokenApiClient, request_token

SOURCE_NAME = "halopsa"
ENV_HINT = "HALOPSA_CLIENT_ID/HALOPSA_CLIENT_SECRET"
PAGE_SIZE = 100
# 300 requests per rolling 5 minutes on hosted tenants (Halo's published limit); 4 in flight.
DEFAULT_BUDGET = RateBudget.within(300, 300, concurrency=4)
# Halo's fields naming a device in each RMM it integrates with: the PSA side of the RMM link.
RMM_ID_FIELDS = ("datto_id", "ninjarmm_id", "ncentral_details_id", "automate_id", "connectwisermm_id")


def _id(value: Any) -> str | None:
    """Halo writes "no link" as "", 0 or null."""
    return None if value in (None, "", 0, "0") else str(value)


def _field(asset: Record, *names: str) -> str | None:
    """A value from the asset's `fields` list (Serial Number, MAC Address), matched by name case-insensitively."""
    wanted = {n.lower() for n in names}
    for f in asset.get("fields") or []:
        if isinstance(f, dict) and str(f.get("name", "")).strip().lower() in wanted:
            return text(f.get("value")) or text(f.get("display"))
    return None


def _rmm_id(asset: Record) -> str | None:
    return next((i for i in (_id(asset.get(f)) for f in RMM_ID_FIELDS) if i), None)


def _flatten_client(r: Record) -> Record:
    return {
        "id": str(r["id"]), "name": r.get("name"), "inactive": r.get("inactive"), "ref": text(r.get("ref")),
        "toplevel_name": r.get("toplevel_name"), "website": text(r.get("website")),
        "phonenumber": text(r.get("phonenumber")), "datecreated": parse_timestamp(r.get("datecreated")),
        "itglue_id": _id(r.get("itglue_id")), "datto_id": _id(r.get("datto_id")),
        "ninjarmmid": _id(r.get("ninjarmmid")),
    }


def _flatten_site(r: Record) -> Record:
    return {
        "id": str(r["id"]), "name": r.get("name"), "client_id": _id(r.get("client_id")),
        "inactive": r.get("inactive"), "phonenumber": text(r.get("phonenumber")),
        "emaildomain": text(r.get("emaildomain")), "itglue_id": _id(r.get("itglue_id")),
        "datto_id": _id(r.get("datto_id")), "slastupdate": parse_timestamp(r.get("slastupdate")),
    }


def _flatten_asset(r: Record) -> Record:
    return {
        "id": str(r["id"]), "inventory_number": text(r.get("inventory_number")),
        "key_field": text(r.get("key_field")), "key_field2": text(r.get("key_field2")),
        "client_id": _id(r.get("client_id")), "site_id": _id(r.get("site_id")),
        "assettype_name": r.get("assettype_name"), "inactive": r.get("inactive"),
        "serial_number": _field(r, "Serial Number", "Serial", "SerialNumber"),
        "mac_address": _field(r, "MAC Address", "MAC", "MacAddress"),
        "ip_address": _field(r, "IP Address", "IP", "IPAddress"),
        "itglue_id": _id(r.get("itglue_id")), "rmm_device_id": _rmm_id(r),
        "dlastupdate": parse_timestamp(r.get("dlastupdate")),
    }


def _flatten_user(r: Record) -> Record:
    return {
        "id": str(r["id"]), "name": r.get("name"), "firstname": text(r.get("firstname")),
        "surname": text(r.get("surname")), "emailaddress": text(r.get("emailaddress")),
        "phonenumber": text(r.get("phonenumber")), "client_id": _id(r.get("client_id")),
        "site_id": _id(r.get("site_id")), "jobtitle": text(r.get("jobtitle")), "inactive": r.get("inactive"),
        "itglue_id": _id(r.get("itglue_id")),
    }


S, B = pl.String, pl.Boolean
CLIENTS = Resource(SOURCE_NAME, "clients", {
    "id": S, "name": S, "inactive": B, "ref": S, "toplevel_name": S, "website": S, "phonenumber": S,
    "datecreated": UTC_DATETIME, "itglue_id": S, "datto_id": S, "ninjarmmid": S,
}, _flatten_client)
SITES = Resource(SOURCE_NAME, "sites", {
    "id": S, "name": S, "client_id": S, "inactive": B, "phonenumber": S, "emaildomain": S, "itglue_id": S,
    "datto_id": S, "slastupdate": UTC_DATETIME,
}, _flatten_site)
ASSETS = Resource(SOURCE_NAME, "assets", {
    "id": S, "inventory_number": S, "key_field": S, "key_field2": S, "client_id": S, "site_id": S,
    "assettype_name": S, "inactive": B, "serial_number": S, "mac_address": S, "ip_address": S, "itglue_id": S,
    "rmm_device_id": S, "dlastupdate": UTC_DATETIME,
}, _flatten_asset)
USERS = Resource(SOURCE_NAME, "users", {
    "id": S, "name": S, "firstname": S, "surname": S, "emailaddress": S, "phonenumber": S, "client_id": S,
    "site_id": S, "jobtitle": S, "inactive": B, "itglue_id": S,
}, _flatten_user)

# Halo's IT Glue links as seen by every run so far (the only record of a link once the Halo record is deleted):
# entity type, the Halo record, the IT Glue id it points at, when the link was first and last seen.
ITGLUE_LINKS = Resource(SOURCE_NAME, "itglue_links", {
    "entity_type": S, "halo_id": S, "itglue_id": S, "first_seen": UTC_DATETIME, "last_seen": UTC_DATETIME,
}, lambda r: r)
LINKED = {CLIENTS: "organization", ASSETS: "configuration", USERS: "contact"}

# resource -> (path, the list's key in the response, extra parameters). Inactive clients and assets are asked for:
# an IT Glue copy of an inactive Halo record is not an orphan.
ENDPOINTS = {
    CLIENTS: ("/api/Client", "clients", {"includeinactive": "true"}),
    SITES: ("/api/Site", "sites", {"includeinactive": "true"}),
    ASSETS: ("/api/Asset", "assets", {"includeinactive": "true"}),
    USERS: ("/api/Users", "users", {"includeinactive": "true"}),
}


class HaloClient(TokenApiClient):
    """One Halo instance: the client-credentials token (per tenant) and `page_no` paging."""

    def __init__(self, url: str, client_id: str, client_secret: str, tenant: str | None = None, *,
                 budget: RateBudget = DEFAULT_BUDGET, retry: RetryPolicy | None = None, page_size: int = PAGE_SIZE):
        self._client_id, self._client_secret, self._tenant = client_id, client_secret, tenant
        super().__init__(source=SOURCE_NAME, url=url, credential_hint=ENV_HINT, budget=budget, retry=retry)
        self.page_size = max(1, page_size)

    async def _fetch_token(self) -> tuple[str, float]:
        self._count("POST /auth/token")
        path = "/auth/token" + (f"?{urlencode({'tenant': self._tenant})}" if self._tenant else "")
        return await request_token(
            self.auth_api, path,
            data={"grant_type": "client_credentials", "client_id": self._client_id,
                  "client_secret": self._client_secret, "scope": "all"},
            default_lifetime=3600,
            no_endpoint=f"HALOPSA_URL {self.url} has no Halo token endpoint (404): set it to your Halo instance, "
                        "e.g. https://yourmsp.halopsa.com",
            rejected_hint="check the API application's client id and secret, that it uses client credentials with "
                          "the `all` scope, and HALOPSA_TENANT for a hosted tenant")

    async def page(self, path: str, key: str, params: Mapping[str, Any], page_no: int) -> tuple[int, list[Record]]:
        self._count(f"GET {path}")
        query = {**params, "pageinate": "true", "page_size": self.page_size, "page_no": page_no}
        response = await self.token.send(lambda: self.api.request("GET", path, params=query, auth=self.token,
                                                                  resumable=page_no > 1, page_param="page_no"))
        body = self.api.decode_json(response)
        records = body.get(key) if isinstance(body, dict) else None
        total = body.get("record_count") if isinstance(body, dict) else None
        if not isinstance(records, list) or not isinstance(total, int):
            raise MalformedResponse(f"halopsa: {self.api.host} page {page_no} of {path} has no `{key}` list or no "
                                    "record_count; the previous tables are kept")
        return total, records

    async def fetch_all(self, path: str, key: str, params: Mapping[str, Any]) -> list[Record]:
        """Page 1 says how many records there are; the other pages are fetched concurrently, then counted."""
        total, records = await numbered_pages(lambda n: self.page(path, key, params, n), self.page_size)
        ids = {r.get("id") for r in records}
        if len(records) != total or len(ids) != total:
            raise MalformedResponse(
                f"halopsa: {self.api.host} {path} returned {len(records)} records ({len(ids)} distinct) but "
                f"record_count says {total} (records added or removed while paging?); the previous tables are "
                "kept, run again")
        return records


async def extract_halopsa(url: str, client_id: str, client_secret: str, tenant: str | None = None, *,
                          budget: RateBudget = DEFAULT_BUDGET, retry: RetryPolicy | None = None,
                          page_size: int = PAGE_SIZE) -> Extraction:
    """Every client, site, asset and user (inactive ones included). Raises AuthError or SourceError."""
    extracted_at = utc_now()
    async with HaloClient(url, client_id, client_secret, tenant, budget=budget, retry=retry,
                          page_size=page_size) as halo:
        await halo.token.ensure()
        fetched = await asyncio.gather(*(halo.fetch_all(*endpoint) for endpoint in ENDPOINTS.values()))
        stats = halo.run_stats()
    frames = {res.table: res.to_frame(records, extracted_at) for res, records in zip(ENDPOINTS, fetched, strict=True)}
    return Extraction(source=SOURCE_NAME, frames=frames, stats=stats)


def link_history(frames: Mapping[str, pl.DataFrame], before: pl.DataFrame | None) -> pl.DataFrame:
    """This run's itglue_id links (last seen now), plus the earlier runs' links no Halo record shows any more
    (their Halo record was deleted or unlinked), as `halopsa_itglue_links`."""
    now = next(iter(frames.values()))["extracted_at"][0] if frames else utc_now()
    current = pl.concat([
        frames[res.table].filter(pl.col("itglue_id").is_not_null())
        .select(pl.lit(entity).alias("entity_type"), pl.col("id").alias("halo_id"), "itglue_id")
        for res, entity in LINKED.items()])
    columns = list(ITGLUE_LINKS.schema)
    if before is None or before.height == 0:
        links = current.with_columns(pl.lit(now).alias("first_seen"), pl.lit(now).alias("last_seen"))
    else:
        before = before.select(columns).cast(dict(ITGLUE_LINKS.schema))  # DuckDB hands back Etc/UTC
        key = ["entity_type", "halo_id", "itglue_id"]
        links = pl.concat([
            current.join(before.select(*key, "first_seen"), on=key, how="left")
            .with_columns(pl.col("first_seen").fill_null(now), pl.lit(now).alias("last_seen")),
            before.join(current, on=key, how="anti"),
        ])
    records = links.select(columns).cast(dict(ITGLUE_LINKS.schema)).to_dicts()
    return ITGLUE_LINKS.to_frame(records, now)


async def extract(config: Mapping[str, str], previous: PreviousTables) -> Extraction:
    extraction = await extract_halopsa(
        config["HALOPSA_URL"], config["HALOPSA_CLIENT_ID"], config["HALOPSA_CLIENT_SECRET"],
        config.get("HALOPSA_TENANT") or None, budget=SOURCE.budget(config))
    extraction.frames[ITGLUE_LINKS.table] = link_history(extraction.frames, previous(ITGLUE_LINKS.table))
    return extraction


SOURCE = Source(
    name=SOURCE_NAME,
    kind="psa",
    required_env=("HALOPSA_URL", "HALOPSA_CLIENT_ID", "HALOPSA_CLIENT_SECRET"),
    optional_env={"HALOPSA_TENANT": ""},
    resources=(CLIENTS, SITES, ASSETS, USERS, ITGLUE_LINKS),
    extract=extract,
    description="HaloPSA clients, sites, assets and users (REST API, OAuth2 client credentials)",
    title="HaloPSA",
    secrets=("HALOPSA_CLIENT_SECRET",),
    rate_limit=RateLimit("HALOPSA_RATE_LIMIT", 300, "5 minutes"),
    default_budget=DEFAULT_BUDGET,
    staged=("organizations", "configurations", "contacts"),
    itglue_integration_type=None,  # Halo's own integration pushes to IT Glue; IT Glue has no Halo type
)
