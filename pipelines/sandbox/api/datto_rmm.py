"""Datto RMM over its API v2 wire protocol, served from `world.datto_rmm`.

    POST /auth/oauth/token                                Basic public-client:public, form grant_type=password&
                                                          username=KEY&password=SECRET -> bearer token, expires_in;
                                                          wrong client 401, wrong key/secret 400 invalid_grant
    GET  /api/v2/account/sites                            `siteName` filter (partial match)
    GET  /api/v2/account/devices                          `hostname`, `deviceType`, `operatingSystem`, `siteName` filters
    GET  /api/v2/site/{siteUid}/devices
    GET  /api/v2/site/{siteUid}/devices/network-interface shortened device records with `nics`
    GET  /api/v2/audit/device/{deviceUid}                 audit body; 400 for a device not of class "device", 404 unknown

Paging is zero-based `page` and `max` (at most 250); every list answers `{"pageDetails": {count, totalCount,
prevPageUrl, nextPageUrl}, "<items>": [...]}`. As the real API does, `nextPageUrl` keeps only `max` and `page`: the
filter parameters of the request are dropped, and a client that follows it blindly gets unfiltered pages.
Reads are limited to `rate_limits["datto_rmm"]` (default 600) per rolling window -> 429 with the vendor's error body.

Requests are counted in `sandbox.requests` as "datto <METHOD> <path template>", audits under their own key
("datto GET /api/v2/audit/device/{deviceUid}") so a test can count audits alone. `sandbox.observed` holds
"datto_rmm.peak_requests_per_window" (how close a client ran to the limit) and "datto_rmm.peak_in_flight".

Quirks read from `sandbox.quirks`:
    datto.expire_tokens_after     a token answers 401 (expired) after this many API requests (default: never)
    datto.token_lifetime_seconds  `expires_in` of new tokens and their wall-clock life (default 360000 = 100 h)
    datto.rate_window_seconds     length of the rolling rate window (default 60)
    datto.retry_after             send Retry-After on 429 (default False: the vendor's documentation shows none)
"""

import asyncio
import base64
import secrets
import time
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pipelines.sandbox.api.rolling_window import RollingWindow, read_form

# Where the sandbox serves this system, and the built-in tenant's credentials for it (any other value is
# rejected like a wrong key): the server mounts and `env_for` hands these out, nothing lists them elsewhere.
SYSTEM = "datto_rmm"
MOUNT = "datto"
URL_ENV = "DATTO_RMM_URL"
CREDENTIALS = {
    "DATTO_RMM_API_KEY": "sandbox-datto-key",
    "DATTO_RMM_API_SECRET": "sandbox-datto-secret",
}

MAX_PAGE_SIZE = 250
PUBLIC_CLIENT = "Basic " + base64.b64encode(b"public-client:public").decode()
DEFAULT_TOKEN_LIFETIME = 360000
DEVICE_FILTERS = {
    "hostname": lambda d: d.get("hostname"),
    "operatingSystem": lambda d: d.get("operatingSystem"),
    "siteName": lambda d: d.get("siteName"),
    "deviceType": lambda d: " ".join(filter(None, [(d.get("deviceType") or {}).get("category"),
                                                 (d.get("deviceType") or {}).get("type")])),
}
SITE_FILTERS = {"siteName": lambda s: s.get("name")}
# Fields of a device record the network-interface endpoint repeats beside the nics.
NIC_RECORD_FIELDS = ("id", "uid", "siteId", "siteUid", "siteName", "deviceType", "hostname", "intIpAddress",
                     "extIpAddress")


def routes(sandbox) -> list[Route]:
    state = _State(sandbox)

    async def token(request: Request) -> Response:
        sandbox.count("datto POST /auth/oauth/token")
        if request.headers.get("authorization") != PUBLIC_CLIENT:
            return JSONResponse({"error": "unauthorized", "error_description": "Full authentication is required"},
                                401)
        form = await read_form(request)
        if form.get("grant_type") != "password":
            return JSONResponse({"error": "unsupported_grant_type",
                                 "error_description": f"Unsupported grant type: {form.get('grant_type')}"}, 400)
        if (form.get("username"), form.get("password")) != (CREDENTIALS["DATTO_RMM_API_KEY"],
                                                             CREDENTIALS["DATTO_RMM_API_SECRET"]):
            return JSONResponse({"error": "invalid_grant", "error_description": "Bad credentials"}, 400)
        lifetime = int(sandbox.quirks.get("datto.token_lifetime_seconds", DEFAULT_TOKEN_LIFETIME))
        value = secrets.token_urlsafe(24)
        state.tokens[value] = {"expires": time.monotonic() + lifetime, "uses": 0}
        return JSONResponse({"access_token": value, "token_type": "bearer", "expires_in": lifetime - 1,
                             "scope": "default", "jti": secrets.token_hex(8)})

    def guarded(key: str, handler):
        async def endpoint(request: Request) -> Response:
            sandbox.count(f"datto GET {key}")
            denied = state.authorize(request)
            if denied is not None:
                return denied
            wait = state.window.admit()
            if wait is not None:
                headers = {"Retry-After": str(wait)} if sandbox.quirks.get("datto.retry_after") else {}
                return JSONResponse(_error(429, "Too Many Requests", request), 429, headers)
            sandbox.observed["datto_rmm.peak_requests_per_window"] = state.window.peak
            state.in_flight += 1
            sandbox.observed["datto_rmm.peak_in_flight"] = max(
                sandbox.observed.get("datto_rmm.peak_in_flight", 0), state.in_flight)
            try:
                # Yield once, as a real server's I/O would, so that concurrent requests overlap and can be counted.
                await asyncio.sleep(0)
                return handler(request)
            finally:
                state.in_flight -= 1
        return endpoint

    def account_sites(request: Request) -> Response:
        sites = _filtered(sandbox.world.datto_rmm["sites"], request, SITE_FILTERS)
        return _page(request, sites, "sites")

    def account_devices(request: Request) -> Response:
        devices = _filtered(sandbox.world.datto_rmm["devices"], request, DEVICE_FILTERS)
        return _page(request, devices, "devices")

    def site_devices(request: Request) -> Response:
        site_uid = request.path_params["site_uid"]
        if not state.site_exists(site_uid):
            return JSONResponse(_error(404, "Not Found", request), 404)
        return _page(request, state.devices_of_site(site_uid), "devices")

    def site_network_interfaces(request: Request) -> Response:
        site_uid = request.path_params["site_uid"]
        if not state.site_exists(site_uid):
            return JSONResponse(_error(404, "Not Found", request), 404)
        nics = sandbox.world.datto_rmm.get("network_interfaces", {})
        records = [{**{k: d.get(k) for k in NIC_RECORD_FIELDS}, "nics": nics.get(d["uid"], [])}
                   for d in state.devices_of_site(site_uid)]
        return _page(request, records, "devices")

    def device_audit(request: Request) -> Response:
        uid = request.path_params["device_uid"]
        device = state.device(uid)
        if device is None:
            return JSONResponse(_error(404, "Not Found", request), 404)
        if (device.get("deviceClass") or "device") != "device":
            return JSONResponse(_error(400, "Bad Request", request), 400)
        audit = sandbox.world.datto_rmm.get("audits", {}).get(uid)
        if audit is None:
            return JSONResponse(_error(404, "Not Found", request), 404)
        return JSONResponse(audit)

    return [
        Route("/auth/oauth/token", token, methods=["POST"]),
        Route("/api/v2/account/sites", guarded("/api/v2/account/sites", account_sites)),
        Route("/api/v2/account/devices", guarded("/api/v2/account/devices", account_devices)),
        Route("/api/v2/site/{site_uid}/devices", guarded("/api/v2/site/{siteUid}/devices", site_devices)),
        Route("/api/v2/site/{site_uid}/devices/network-interface",
              guarded("/api/v2/site/{siteUid}/devices/network-interface", site_network_interfaces)),
        Route("/api/v2/audit/device/{device_uid}", guarded("/api/v2/audit/device/{deviceUid}", device_audit)),
    ]


class _State:
    """Tokens issued, the rate window, and indexes over the world's devices (rebuilt when the list changes)."""

    def __init__(self, sandbox):
        self.sandbox = sandbox
        self.tokens: dict[str, dict] = {}
        self.in_flight = 0
        self.window = RollingWindow(lambda: sandbox.rate_limits.get("datto_rmm", 600),
                                    lambda: sandbox.quirks.get("datto.rate_window_seconds", 60))
        self._index_key = None
        self._by_uid: dict[str, dict] = {}
        self._by_site: dict[str, list[dict]] = {}

    def authorize(self, request: Request) -> Response | None:
        header = request.headers.get("authorization", "")
        token = self.tokens.get(header[7:]) if header.lower().startswith("bearer ") else None
        if token is None:
            return JSONResponse({"error": "invalid_token", "error_description": "Invalid access token"}, 401)
        limit = self.sandbox.quirks.get("datto.expire_tokens_after")
        if time.monotonic() > token["expires"] or (limit is not None and token["uses"] >= int(limit)):
            return JSONResponse({"error": "invalid_token", "error_description": "Access token expired"}, 401)
        token["uses"] += 1
        return None

    def _index(self) -> None:
        devices = self.sandbox.world.datto_rmm["devices"]
        key = (id(devices), len(devices))
        if key == self._index_key:
            return
        self._by_uid = {d["uid"]: d for d in devices}
        self._by_site = {}
        for d in devices:
            self._by_site.setdefault(d.get("siteUid"), []).append(d)
        self._index_key = key

    def device(self, uid: str) -> dict | None:
        self._index()
        return self._by_uid.get(uid)

    def devices_of_site(self, site_uid: str) -> list[dict]:
        self._index()
        return self._by_site.get(site_uid, [])

    def site_exists(self, site_uid: str) -> bool:
        return any(s.get("uid") == site_uid for s in self.sandbox.world.datto_rmm["sites"])


def _filtered(records: list[dict], request: Request, filters) -> list[dict]:
    for name, field in filters.items():
        wanted = request.query_params.get(name)
        if wanted:
            # The API filters with SQL LIKE: a partial, case-insensitive match.
            records = [r for r in records if wanted.lower() in (field(r) or "").lower()]
    return records


def _page(request: Request, records: list[dict], key: str) -> Response:
    params = request.query_params
    try:
        page = max(0, int(params.get("page") or 0))
        size = min(max(1, int(params.get("max") or MAX_PAGE_SIZE)), MAX_PAGE_SIZE)
    except ValueError:
        return JSONResponse(_error(400, "Bad Request", request), 400)
    items = records[page * size:(page + 1) * size]
    last = max(0, (len(records) - 1) // size)

    def url(number: int) -> str:
        # Only max and page survive: the vendor's own links drop every filter parameter.
        return str(request.url.replace(query=f"max={size}&page={number}"))

    return JSONResponse({
        "pageDetails": {
            "count": len(items),
            "totalCount": len(records),
            "prevPageUrl": url(page - 1) if 0 < page <= last + 1 else None,
            "nextPageUrl": url(page + 1) if page < last else None,
        },
        key: items,
    })


def _error(status: int, error: str, request: Request) -> dict:
    return {"timestamp": int(datetime.now(UTC).timestamp() * 1000), "status": status, "error": error,
            "path": request.url.path}
