"""ConnectWise Automate over its REST API, serving the devices Datto RMM would serve in the tenant (see rmm_slot).

    POST /cwa/api/v1/apitoken     JSON {"UserName", "Password"} and a `ClientId` header -> {"AccessToken",
                                  "TokenType": "Bearer", "ExpirationDate"} (one hour); wrong user or password
                                  -> 401 {"Message": ...}; a missing or unknown ClientId -> 403
    GET  /cwa/api/v1/clients      bare JSON arrays; `page` (1-based), `pageSize`, `orderBy`, `condition`
    GET  /cwa/api/v1/locations      (`condition` accepts `Id > N` only); every call needs Bearer + ClientId
    GET  /cwa/api/v1/computers

Over `rate_limits["automate"]` (default 600) requests in the rolling window (default 60 s) -> 429 without
Retry-After. Requests are counted as "automate <METHOD> <path>".

Quirks read from `sandbox.quirks`:
    automate.expire_tokens_after   a token answers 401 after this many API requests (default: never)
    automate.rate_window_seconds   length of the rolling window (default 60)
"""

import json
import re
from datetime import UTC, datetime, timedelta
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

SYSTEM = "automate"
MOUNT = "automate"
URL_ENV = "AUTOMATE_URL"
CREDENTIALS = {
    "AUTOMATE_USERNAME": "sandbox-integrator",
    "AUTOMATE_PASSWORD": "sandbox-automate-password",
    "AUTOMATE_CLIENT_ID": "11111111-2222-3333-4444-555555555555",
}
REPLACES = DATTO
TOKEN_LIFETIME = 3600
RATE_LIMIT = 600
API = "/cwa/api/v1"
TYPES = {"Server": "Server", "Desktop": "Workstation", "Laptop": "Laptop"}
_ID_AFTER = re.compile(r"^\s*Id\s*>\s*(\d+)\s*$", re.I)


def adapt(world: "World") -> None:
    clients, devices = take_datto_slot(world, SYSTEM, "automate")
    served_clients = [{"Id": c.id, "Name": c.name, "City": None, "State": None, "PhoneNumber": None,
                       "WebSite": None, "DateAdded": None} for c in clients]
    locations = [{"Id": c.id * 10 + 1, "Name": "Main Office", "Client": {"Id": c.id, "Name": c.name},
                  "PhoneNumber": None} for c in clients]
    name_of = {c.id: c.name for c in clients}
    computers = []
    for d in devices:
        record, audit = d.device, d.audit
        category = (record.get("deviceType") or {}).get("category") or "Desktop"
        nics = audit.get("nics") or []
        # Automate keeps one MAC per computer: the adapter its agent talks through (the physical NIC, not a VPN's)
        primary = nics[-1] if nics else {}
        computers.append({
            "Id": d.id, "ComputerName": record["hostname"], "Client": {"Id": d.client_id, "Name": name_of[d.client_id]},
            "Location": {"Id": d.client_id * 10 + 1, "Name": "Main Office"}, "Type": TYPES.get(category, "Workstation"),
            "DomainName": record.get("domain"), "SerialNumber": (audit.get("bios") or {}).get("serialNumber"),
            "MACAddress": (primary.get("macAddress") or "").replace(":", "-") or None,
            "LocalIPAddress": record.get("intIpAddress"), "OperatingSystemName": record.get("operatingSystem"),
            "IsVirtualMachine": False, "RemoteAgentLastContact": record.get("lastSeen"),
            "DateAdded": record.get("creationDate"), "Status": "Online" if record.get("online") else "Offline",
        })
    world.systems[SYSTEM].update(clients=served_clients, locations=locations, computers=computers)


def expected_counts(world: "World") -> dict[str, int]:
    view = world.systems[SYSTEM]
    return {f"automate_{key}": len(view[key]) for key in ("clients", "locations", "computers")}


def routes(sandbox: "Sandbox") -> list[Route]:
    tokens = Tokens(TOKEN_LIFETIME, lambda: sandbox.quirks.get("automate.expire_tokens_after"))
    window = RollingWindow(lambda: sandbox.rate_limits.get(SYSTEM, RATE_LIMIT),
                           lambda: sandbox.quirks.get("automate.rate_window_seconds", 60))
    client_id = CREDENTIALS["AUTOMATE_CLIENT_ID"]

    async def apitoken(request: Request) -> Response:
        sandbox.count(f"automate POST {API}/apitoken")
        if request.headers.get("clientid") != client_id:
            return JSONResponse({"Message": "A valid ClientId header is required"}, 403)
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            return JSONResponse({"Message": "The request body is not JSON"}, 400)
        if (body.get("UserName"), body.get("Password")) != (CREDENTIALS["AUTOMATE_USERNAME"],
                                                            CREDENTIALS["AUTOMATE_PASSWORD"]):
            return JSONResponse({"Message": "Authorization has been denied for this request."}, 401)
        expires = datetime.now(UTC) + timedelta(seconds=TOKEN_LIFETIME)
        return JSONResponse({"AccessToken": tokens.issue(), "TokenType": "Bearer",
                             "ExpirationDate": expires.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "UserId": 7})

    def listing(key: str):
        async def endpoint(request: Request) -> Response:
            sandbox.count(f"automate GET {API}/{key}")
            if request.headers.get("clientid") != client_id:
                return JSONResponse({"Message": "A valid ClientId header is required"}, 403)
            if tokens.from_header(request.headers.get("authorization")) is None:
                return JSONResponse({"Message": "Authorization has been denied for this request."}, 401)
            if window.admit() is not None:
                return JSONResponse({"Message": "Too many requests"}, 429)
            params = request.query_params
            rows = sorted(sandbox.world.systems[SYSTEM][key], key=lambda r: r["Id"])
            if params.get("condition"):
                after = _ID_AFTER.match(params["condition"])
                if after is None:
                    return JSONResponse({"Message": f"Unsupported condition {params['condition']!r}"}, 400)
                rows = [r for r in rows if r["Id"] > int(after.group(1))]
            try:
                page, size = max(1, int(params.get("page", 1))), min(max(1, int(params.get("pageSize", 25))), 1000)
            except ValueError:
                return JSONResponse({"Message": "page and pageSize must be integers"}, 400)
            return JSONResponse(rows[(page - 1) * size:page * size])
        return endpoint

    return [Route(f"{API}/apitoken", apitoken, methods=["POST"]),
            *(Route(f"{API}/{key}", listing(key), methods=["GET"]) for key in ("clients", "locations", "computers"))]
