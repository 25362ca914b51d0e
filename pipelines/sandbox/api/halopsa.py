"""HaloPSA over its REST API, served from the world's PSA records rendered in Halo's shape (`adapt`).

    POST /auth/token?tenant=T   form grant_type=client_credentials, client_id, client_secret, scope=all -> bearer
                                token, expires_in 3600; a wrong client or tenant -> 401 {"error": "invalid_client"}
    GET  /api/Client            {"page_no", "page_size", "record_count", "clients": [...]}; `pageinate=true`,
    GET  /api/Site                `page_size`, `page_no` (1-based), `includeinactive`; without `pageinate` every
    GET  /api/Asset               record in one answer. Also `client_id` (sites, assets, users).
    GET  /api/Users

Over `rate_limits["halopsa"]` (default 300) requests in the rolling window (default 300 s) -> 429 with Halo's text
"Rate Limit Reached - 300 Requests per rolling 5 minute window" and no Retry-After. Requests are counted as
"halopsa <METHOD> <path>".

Quirks read from `sandbox.quirks`:
    halopsa.expire_tokens_after   a token answers 401 after this many API requests (default: never)
    halopsa.rate_window_seconds   length of the rolling window (default 300)
    halopsa.record_count_offset   added to record_count (a list that changed while paging; default 0)

The world (see `adapt`): Halo holds the PSA's companies, items and contacts under their ids (one "Main" site per
client). IT Glue has no Halo integration type, so every IT Glue copy has psa-integration null; Halo's own
integration keeps the link as `itglue_id` on the client, asset or user, pointing at the IT Glue copy that was synced.
"""

from typing import TYPE_CHECKING

import polars as pl
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from pipelines.sandbox.api.bearer import Tokens
from pipelines.sandbox.api.rolling_window import RollingWindow, read_form

if TYPE_CHECKING:
    from pipelines.sandbox.server import Sandbox
    from pipelines.sandbox.world import World

SYSTEM = "halopsa"
MOUNT = "halopsa"
URL_ENV = "HALOPSA_URL"
CREDENTIALS = {
    "HALOPSA_CLIENT_ID": "sandbox-halo-client",
    "HALOPSA_CLIENT_SECRET": "sandbox-halo-secret",
    "HALOPSA_TENANT": "sandboxmsp",
}

TOKEN_LIFETIME = 3600
RATE_LIMIT = 300
# Halo's asset type names for the device kinds (the tenant's own list; these are Halo's defaults).
ASSET_TYPES = {3: "Server", 4: "Workstation", 5: "Laptop", 6: "Network Device", 7: "Printer"}
# The Halo field naming a device of each RMM (what Halo's RMM integrations fill in).
RMM_FIELDS = {"datto_rmm": "datto_id", "ninjaone": "ninjarmm_id", "ncentral": "ncentral_details_id",
              "automate": "automate_id"}
LISTS = {"Client": "clients", "Site": "sites", "Asset": "assets", "Users": "users"}


# ------------------------------------------------------------------------------------------------------ the view

def _synced_itglue_ids(world: "World") -> dict[tuple[str, str], list[str]]:
    """(entity_type, entity_id) -> the IT Glue records the PSA sync keeps for it, oldest (lowest id) first."""
    enabled = {etype: {str(r["id"]) for r in world.itglue[table]
                       if (r.get("attributes") or {}).get("psa-integration") == "enabled"}
               for etype, table in (("organization", "organizations"), ("configuration", "configurations"),
                                    ("contact", "contacts"))}
    rows = world.truth.entities.filter(pl.col("source") == "itglue").iter_rows(named=True)
    out: dict[tuple[str, str], list[str]] = {}
    for r in rows:
        if r["source_id"] in enabled[r["entity_type"]]:
            out.setdefault((r["entity_type"], r["entity_id"]), []).append(r["source_id"])
    return {key: sorted(ids, key=int) for key, ids in out.items()}


def _links(world: "World", etype: str, ids: list[int], synced: dict) -> dict[int, str]:
    """Halo record id -> the itglue_id Halo holds for it. The PSA's records of one thing and the IT Glue copies the
    sync made of them pair up in creation order (ids grow with it): a duplicate entered in the PSA got its own
    synced copy, and a record with no synced copy left carries no link."""
    entity_of = {r["source_id"]: r["entity_id"] for r in world.truth.entities.filter(
        (pl.col("source") == "autotask") & (pl.col("entity_type") == etype)).iter_rows(named=True)}
    out: dict[int, str] = {}
    used: dict[str, int] = {}
    for i in sorted(ids):
        entity = entity_of.get(str(i))
        copies = synced.get((etype, entity), [])
        n = used.get(entity, 0)
        if n < len(copies):
            out[i] = copies[n]
            used[entity] = n + 1
    return out


def _link_deleted_since(world: "World", companies, items, contacts, links) -> None:
    """A tenant as an earlier week saw it (`weeks_ago`) still holds PSA records deleted since, which the truth (of
    today) does not name. Their synced IT Glue copies are the truth's `psa_record_deleted` orphans: Halo linked
    each to the copy its sync made, the one with its name."""
    if not world.extra.get("weeks_ago"):
        return
    orphans = world.truth.orphans.filter(pl.col("reason") == "psa_record_deleted")
    known = set(world.truth.entities.filter(pl.col("source") == "autotask")["source_id"])
    for (etype, table, records, name_of), found in zip((
            ("organization", "organizations", companies, lambda r: r["companyName"]),
            ("configuration", "configurations", items, lambda r: r["referenceTitle"]),
            ("contact", "contacts", contacts, lambda r: f"{r['firstName']} {r['lastName']}")), links, strict=True):
        wanted = set(orphans.filter(pl.col("entity_type") == etype)["source_id"])
        copies: dict[str, list[str]] = {}
        for r in world.itglue[table]:
            if r["id"] in wanted:
                a = r["attributes"]
                name = a.get("name") or f"{a.get('first-name')} {a.get('last-name')}"
                copies.setdefault(name.strip().lower(), []).append(r["id"])
        for r in records:
            if str(r["id"]) not in known and r["id"] not in found:
                same = copies.get(name_of(r).strip().lower())
                if same:
                    found[r["id"]] = same.pop(0)


def adapt(world: "World") -> None:
    """Render the PSA records as Halo's, make IT Glue's copies unsynced (Halo keeps the links), extend the truth."""
    synced = _synced_itglue_ids(world)
    for table in ("organizations", "configurations", "contacts"):
        for r in world.itglue[table]:
            r["attributes"]["psa-integration"] = None
    companies, items, contacts = (world.autotask[k] for k in ("companies", "configuration_items", "contacts"))
    cw_items = {c["id"]: c for c in world.connectwise["configurations"]}
    client_links = _links(world, "organization", [c["id"] for c in companies], synced)
    asset_links = _links(world, "configuration", [i["id"] for i in items], synced)
    user_links = _links(world, "contact", [k["id"] for k in contacts], synced)
    _link_deleted_since(world, companies, items, contacts, (client_links, asset_links, user_links))
    # The RMM serving Datto's devices may be another one (N-central, Automate): Halo links its assets to that one.
    slot = next((name for name, view in world.systems.items() if view.get("replaces") == "datto_rmm"), "datto_rmm")
    twin_of_uid = world.systems[slot]["device_id_of_uid"] if slot != "datto_rmm" else None
    psa_links = world.systems[slot]["psa_links"] if slot != "datto_rmm" else {}
    name_of = {c["id"]: c["companyName"] for c in companies}

    clients = [{
        "id": c["id"], "name": c["companyName"], "toplevel_id": 1, "toplevel_name": "Customers",
        "inactive": not c["isActive"], "colour": "#2bd3c6", "use": "client", "ref": c["companyNumber"],
        "accountsid": "", "is_vip": False,
        "datecreated": c["createDate"][:19], "itglue_id": client_links.get(c["id"], ""), "datto_id": "",
        "ninjarmmid": 0, "ncentral_details_id": 0, "syncroid": 0,
    } for c in companies]
    sites = [{
        "id": c["id"] * 10 + 1, "name": "Main", "client_id": c["id"], "client_name": c["companyName"],
        "inactive": not c["isActive"], "phonenumber": c["phone"],
        "emaildomain": (c["webAddress"] or "").removeprefix("www."), "itglue_id": "", "client_itglue_id":
        client_links.get(c["id"], ""), "datto_id": "", "ninjarmmid": 0, "slastupdate": c["lastActivityDate"][:19],
    } for c in companies]
    assets = []
    for i in items:
        cw = cw_items.get(i["id"], {})
        uid = i.get("rmmDeviceUID") or psa_links.get(i["id"])
        rmm = {field: (0 if field != "datto_id" else "") for field in RMM_FIELDS.values()}
        if uid and twin_of_uid is None:
            rmm["datto_id"] = uid
        elif uid and uid in twin_of_uid:
            rmm[RMM_FIELDS[slot]] = twin_of_uid[uid]
        fields = []
        if i.get("serialNumber"):
            fields.append({"id": 11, "name": "Serial Number", "value": i["serialNumber"],
                           "display": i["serialNumber"]})
        if cw.get("macAddress"):
            fields.append({"id": 12, "name": "MAC Address", "value": cw["macAddress"], "display": cw["macAddress"]})
        if cw.get("ipAddress"):
            fields.append({"id": 13, "name": "IP Address", "value": cw["ipAddress"], "display": cw["ipAddress"]})
        assets.append({
            "id": i["id"], "inventory_number": f"ASSET-{i['id']:05d}", "key_field": i["referenceTitle"],
            "key_field2": i.get("serialNumber") or "", "key_field3": "", "client_id": i["companyID"],
            "client_name": name_of.get(i["companyID"], ""), "site_id": i["companyID"] * 10 + 1, "site_name": "Main",
            "assettype_id": i["configurationItemCategoryID"],
            "assettype_name": ASSET_TYPES.get(i["configurationItemCategoryID"], "Other"), "status_id": 1,
            "colour": "#2bd3c6", "datto_url": "",
            "inactive": not i["isActive"], "itglue_id": asset_links.get(i["id"], ""),
            "itglue_url": "", **rmm, "connectwisermm_id": "", "dlastupdate": i["lastModifiedTime"][:19],
            "fields": fields,
        })
    users = [{
        "id": k["id"], "name": f"{k['firstName']} {k['lastName']}", "firstname": k["firstName"],
        "surname": k["lastName"], "emailaddress": k["emailAddress"] or "", "phonenumber": k["phone"] or "",
        "client_id": k["companyID"], "client_name": name_of.get(k["companyID"], ""),
        "site_id": k["companyID"] * 10 + 1, "jobtitle": k.get("title") or "", "inactive": not k["isActive"],
        "itglue_id": user_links.get(k["id"], ""),
    } for k in contacts]
    # Datto's sites name Autotask companies only when the MSP runs Autotask; Halo's clients name the Datto site.
    site_of = {r["source_id"]: r["entity_id"] for r in world.truth.entities.filter(
        (pl.col("source") == "datto_rmm") & (pl.col("entity_type") == "organization")).iter_rows(named=True)}
    entity_of = {r["source_id"]: r["entity_id"] for r in world.truth.entities.filter(
        (pl.col("source") == "autotask") & (pl.col("entity_type") == "organization")).iter_rows(named=True)}
    site_uid_of = {entity: uid for uid, entity in site_of.items()}
    for site in world.datto_rmm["sites"]:
        if site.get("autotaskCompanyId"):
            client = next((c for c in clients if str(c["id"]) == site["autotaskCompanyId"]), None)
            if client is not None and slot == "datto_rmm":
                client["datto_id"] = site_uid_of.get(entity_of.get(str(client["id"])), "")
        site["autotaskCompanyId"] = site["autotaskCompanyName"] = None
    world.systems[SYSTEM] = {"clients": clients, "sites": sites, "assets": assets, "users": users}
    _extend_truth(world)


def _extend_truth(world: "World") -> None:
    """Halo's records are the PSA's, under the same ids: Autotask's truth rows, as Halo's."""
    truth = world.truth
    autotask = pl.lit("autotask")
    truth.entities = pl.concat([truth.entities, truth.entities.filter(pl.col("source") == autotask)
                                .with_columns(source=pl.lit(SYSTEM))])
    truth.duplicates = pl.concat([truth.duplicates, truth.duplicates.filter(pl.col("source") == autotask)
                                  .with_columns(source=pl.lit(SYSTEM))])
    for name in ("hard_negatives", "hard_positives"):
        frame = getattr(truth, name)
        both = frame.filter((pl.col("source_a") == autotask) | (pl.col("source_b") == autotask))
        renamed = both.with_columns(
            source_a=pl.when(pl.col("source_a") == autotask).then(pl.lit(SYSTEM)).otherwise(pl.col("source_a")),
            source_b=pl.when(pl.col("source_b") == autotask).then(pl.lit(SYSTEM)).otherwise(pl.col("source_b")))
        setattr(truth, name, pl.concat([frame, renamed]))


def expected_counts(world: "World") -> dict[str, int]:
    return {f"{SYSTEM}_{key}": len(rows) for key, rows in world.systems[SYSTEM].items()}


# ---------------------------------------------------------------------------------------------------- the server

def routes(sandbox: "Sandbox") -> list[Route]:
    tokens = Tokens(TOKEN_LIFETIME, lambda: sandbox.quirks.get("halopsa.expire_tokens_after"))
    window = RollingWindow(lambda: sandbox.rate_limits.get(SYSTEM, RATE_LIMIT),
                           lambda: sandbox.quirks.get("halopsa.rate_window_seconds", 300))

    async def token(request: Request) -> Response:
        sandbox.count("halopsa POST /auth/token")
        form = await read_form(request)
        if form.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, 400)
        if (form.get("client_id"), form.get("client_secret"), request.query_params.get("tenant")) != (
                CREDENTIALS["HALOPSA_CLIENT_ID"], CREDENTIALS["HALOPSA_CLIENT_SECRET"],
                CREDENTIALS["HALOPSA_TENANT"]):
            return JSONResponse({"error": "invalid_client"}, 401)
        if form.get("scope") != "all":
            return JSONResponse({"error": "invalid_scope"}, 400)
        return JSONResponse({"access_token": tokens.issue(), "token_type": "Bearer", "expires_in": TOKEN_LIFETIME,
                             "scope": "all"})

    def listing(name: str):
        key = LISTS[name]

        async def endpoint(request: Request) -> Response:
            sandbox.count(f"halopsa GET /api/{name}")
            if tokens.from_header(request.headers.get("authorization")) is None:
                return JSONResponse({"error": "invalid_token"}, 401)
            if window.admit() is not None:
                return PlainTextResponse(f"Rate Limit Reached - {sandbox.rate_limits.get(SYSTEM, RATE_LIMIT)} "
                                         "Requests per rolling 5 minute window", 429)
            params = request.query_params
            rows = sorted(sandbox.world.systems[SYSTEM][key], key=lambda r: r["id"])
            if params.get("includeinactive", "").lower() != "true":
                rows = [r for r in rows if not r.get("inactive")]
            if params.get("client_id"):
                rows = [r for r in rows if str(r.get("client_id", r["id"])) == params["client_id"]]
            total = len(rows) + int(sandbox.quirks.get("halopsa.record_count_offset", 0))
            if params.get("pageinate", "").lower() != "true":
                return JSONResponse({"record_count": total, key: rows})
            try:
                size, number = max(1, int(params.get("page_size", 50))), max(1, int(params.get("page_no", 1)))
            except ValueError:
                return JSONResponse({"error": "page_size and page_no must be integers"}, 400)
            return JSONResponse({"page_no": number, "page_size": size, "record_count": total,
                                 key: rows[(number - 1) * size:number * size]})
        return endpoint

    return [Route("/auth/token", token, methods=["POST"]),
            *(Route(f"/api/{name}", listing(name), methods=["GET"]) for name in LISTS)]
