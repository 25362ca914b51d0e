"""N-able N-central over its REST API, serving the devices Datto RMM would serve in the tenant (see rmm_slot).

    POST /api/auth/authenticate       Authorization: Bearer <User-API JWT> -> {"tokens": {"access": {"token",
                                      "type", "expirySeconds": 3600}, "refresh": {"token", "expirySeconds"}}};
                                      a wrong JWT -> 401
    POST /api/auth/refresh            body: the refresh token (raw or as a JSON string) -> new tokens
    GET  /api/customers               {"data", "pageNumber", "pageSize", "itemCount", "totalItems", "totalPages",
    GET  /api/sites                    "_links"}; `pageNumber` (1-based), `pageSize`
    GET  /api/devices
    GET  /api/devices/{id}/assets     {"data": {"computersystem", "networkadapter", "os", ...}, "_links"};
                                      404 for a device never audited

Over `rate_limits["ncentral"]` (default 600) requests in the rolling window (default 60 s) -> 429 without
Retry-After. Requests are counted as "ncentral <METHOD> <path template>".

Quirks read from `sandbox.quirks`:
    ncentral.expire_tokens_after   an access token answers 401 after this many API requests (default: never)
    ncentral.rate_window_seconds   length of the rolling window (default 60)
    ncentral.unaudited             device ids whose assets answer 404
"""

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pipelines.sandbox.api.bearer import Tokens
from pipelines.sandbox.api.rmm_slot import DATTO, take_datto_slot
from pipelines.sandbox.api.rolling_window import RollingWindow

if TYPE_CHECKING:
    from pipelines.sandbox.model import World
    from pipelines.sandbox.server import Sandbox

SYSTEM = "ncentral"
MOUNT = "ncentral"
URL_ENV = "NCENTRAL_URL"
CREDENTIALS = {"NCENTRAL_API_TOKEN": "eyJhbGciOiJIUzI1NiJ9.c2FuZGJveC1uY2VudHJhbC11c2Vy.sandbox-signature"}
REPLACES = DATTO
TOKEN_LIFETIME = 3600
REFRESH_LIFETIME = 90000
RATE_LIMIT = 600
SO_ID = 50  # the service organization every customer sits under
CLASSES = {"Server": "Servers - Windows", "Desktop": "Workstations - Windows", "Laptop": "Laptop - Windows"}


def adapt(world: "World") -> None:
    clients, devices = take_datto_slot(world, SYSTEM, "msp-n-central")
    customers = [{"customerId": c.id, "customerName": c.name, "parentId": SO_ID, "city": None, "phone": None,
                  "externalId": None, "isSystem": False, "isServiceOrg": False} for c in clients]
    sites = [{"siteId": c.id * 10 + 1, "siteName": "Main Office", "parentId": c.id, "city": None, "phone": None}
             for c in clients]
    served, assets = [], {}
    for d in devices:
        record, audit = d.device, d.audit
        category = (record.get("deviceType") or {}).get("category") or "Desktop"
        served.append({
            "deviceId": d.id, "uri": f"/api/devices/{d.id}", "longName": record["hostname"],
            "discoveredName": record["hostname"], "deviceClass": CLASSES.get(category, "Other"),
            "description": record.get("description") or "", "isProbe": False,
            "supportedOs": record.get("operatingSystem"), "lastLoggedInUser": record.get("lastLoggedInUser"),
            "orgUnitId": d.client_id * 10 + 1, "soId": SO_ID, "customerId": d.client_id,
            "customerName": record.get("siteName"), "siteId": d.client_id * 10 + 1, "siteName": "Main Office",
            "lastApplianceCheckinTime": record.get("lastSeen"),
        })
        if audit:
            system = audit.get("systemInfo") or {}
            assets[str(d.id)] = {
                "computersystem": {"serialnumber": (audit.get("bios") or {}).get("serialNumber"),
                                   "manufacturer": system.get("manufacturer"), "model": system.get("model"),
                                   "netbiosname": record["hostname"][:15]},
                "networkadapter": [{"macaddress": n.get("macAddress"), "ipaddress": n.get("ipv4"),
                                    "description": n.get("instance")} for n in audit.get("nics") or []],
                "os": {"reportedos": record.get("operatingSystem")},
                "device": {"deviceid": d.id, "longname": record["hostname"]},
            }
    world.systems[SYSTEM].update(customers=customers, sites=sites, devices=served, assets=assets)


def expected_counts(world: "World") -> dict[str, int]:
    view = world.systems[SYSTEM]
    return {"ncentral_customers": len(view["customers"]), "ncentral_sites": len(view["sites"]),
            "ncentral_devices": len(view["devices"]), "ncentral_device_assets": len(view["assets"])}


def routes(sandbox: "Sandbox") -> list[Route]:
    access = Tokens(TOKEN_LIFETIME, lambda: sandbox.quirks.get("ncentral.expire_tokens_after"))
    refresh = Tokens(REFRESH_LIFETIME)
    window = RollingWindow(lambda: sandbox.rate_limits.get(SYSTEM, RATE_LIMIT),
                           lambda: sandbox.quirks.get("ncentral.rate_window_seconds", 60))

    def issue() -> Response:
        return JSONResponse({"tokens": {
            "access": {"token": access.issue(), "type": "Bearer", "expirySeconds": TOKEN_LIFETIME},
            "refresh": {"token": refresh.issue(), "type": "Bearer", "expirySeconds": REFRESH_LIFETIME}}})

    async def authenticate(request: Request) -> Response:
        sandbox.count("ncentral POST /api/auth/authenticate")
        if request.headers.get("authorization", "") != f"Bearer {CREDENTIALS['NCENTRAL_API_TOKEN']}":
            return JSONResponse({"status": 401, "message": "Invalid JWT token"}, 401)
        return issue()

    async def renew(request: Request) -> Response:
        sandbox.count("ncentral POST /api/auth/refresh")
        value = (await request.body()).decode().strip().strip('"')
        if refresh.claims(value) is None:
            return JSONResponse({"status": 401, "message": "Invalid refresh token"}, 401)
        refresh.revoke(value)
        return issue()

    def guarded(template: str, handler):
        async def endpoint(request: Request) -> Response:
            sandbox.count(f"ncentral GET {template}")
            if access.from_header(request.headers.get("authorization")) is None:
                return JSONResponse({"status": 401, "message": "Access token expired or invalid"}, 401)
            if window.admit() is not None:
                return JSONResponse({"status": 429, "message": "Too many requests"}, 429)
            return handler(request)
        return endpoint

    def listing(key: str, path: str):
        def handler(request: Request) -> Response:
            rows = sandbox.world.systems[SYSTEM][key]
            try:
                number = max(1, int(request.query_params.get("pageNumber", 1)))
                size = min(max(1, int(request.query_params.get("pageSize", 50))), 1000)
            except ValueError:
                return JSONResponse({"status": 400, "message": "pageNumber and pageSize must be integers"}, 400)
            page = rows[(number - 1) * size:number * size]
            pages = max(1, -(-len(rows) // size))
            links = {"self": f"{path}?pageNumber={number}&pageSize={size}"}
            if number < pages:
                links["nextPage"] = f"{path}?pageNumber={number + 1}&pageSize={size}"
            return JSONResponse({"data": page, "pageNumber": number, "pageSize": size, "itemCount": len(page),
                                 "totalItems": len(rows), "totalPages": pages, "_links": links})
        return handler

    def device_assets(request: Request) -> Response:
        device_id = request.path_params["device_id"]
        found = sandbox.world.systems[SYSTEM]["assets"].get(device_id)
        if found is None or device_id in {str(i) for i in sandbox.quirks.get("ncentral.unaudited", ())}:
            return JSONResponse({"status": 404, "message": f"No assets for device {device_id}"}, 404)
        return JSONResponse({"data": found, "_links": {}})

    return [
        Route("/api/auth/authenticate", authenticate, methods=["POST"]),
        Route("/api/auth/refresh", renew, methods=["POST"]),
        Route("/api/customers", guarded("/api/customers", listing("customers", "/api/customers"))),
        Route("/api/sites", guarded("/api/sites", listing("sites", "/api/sites"))),
        Route("/api/devices", guarded("/api/devices", listing("devices", "/api/devices"))),
        Route("/api/devices/{device_id}/assets", guarded("/api/devices/{id}/assets", device_assets)),
    ]
