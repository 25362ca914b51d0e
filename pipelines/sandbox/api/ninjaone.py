"""NinjaOne over its public API 2.0 wire protocol, served from `world.ninjaone`.

    POST /ws/oauth/token              form grant_type=client_credentials, client_id, client_secret, scope (must include
                                      "monitoring") -> bearer token, expires_in 3600; wrong client 401 invalid_client
    GET  /v2/organizations            bare array; `pageSize`, `after` (last id received)
    GET  /v2/devices-detailed         bare array; `pageSize`, `after`, `df` ("org = <id>" only)
    GET  /v2/queries/computer-systems {"cursor": {name, offset, count, expires}, "results": [...]}; `pageSize`, then
                                      `cursor=<cursor.name>` for the next page; `df` as above

Timestamps are epoch seconds, as the world holds them. Rate limits are unpublished: over `rate_limits["ninjaone"]`
(default 1200) requests per rolling window -> 429. Requests are counted as "ninjaone <METHOD> <path>".

Quirks read from `sandbox.quirks`:
    ninjaone.expire_tokens_after     a token answers 401 after this many API requests (default: never)
    ninjaone.rate_window_seconds     length of the rolling rate window (default 60)
    ninjaone.retry_after             send Retry-After on 429 (default False: not documented)
"""

import base64
import json
import re
import secrets
import time

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pipelines.sandbox.api.rolling_window import RollingWindow, read_form

# Where the sandbox serves this system, and the built-in tenant's credentials for it (any other value is
# rejected like a wrong key): the server mounts and `env_for` hands these out, nothing lists them elsewhere.
SYSTEM = "ninjaone"
MOUNT = "ninjaone"
URL_ENV = "NINJAONE_URL"
CREDENTIALS = {
    "NINJAONE_CLIENT_ID": "sandbox-ninja-client",
    "NINJAONE_CLIENT_SECRET": "sandbox-ninja-secret",
}

TOKEN_LIFETIME = 3600
MAX_PAGE_SIZE = 1000
CURSOR_LIFETIME = 900
_ORG_FILTER = re.compile(r"^\s*org\s*=\s*(\d+)\s*$", re.I)


def routes(sandbox) -> list[Route]:
    tokens: dict[str, dict] = {}
    window = RollingWindow(lambda: sandbox.rate_limits.get("ninjaone", 1200),
                           lambda: sandbox.quirks.get("ninjaone.rate_window_seconds", 60))

    async def token(request: Request) -> Response:
        sandbox.count("ninjaone POST /ws/oauth/token")
        form = await read_form(request)
        if form.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, 400)
        if (form.get("client_id"), form.get("client_secret")) != (CREDENTIALS["NINJAONE_CLIENT_ID"],
                                                                   CREDENTIALS["NINJAONE_CLIENT_SECRET"]):
            return JSONResponse({"error": "invalid_client"}, 401)
        if "monitoring" not in (form.get("scope") or "").split():
            return JSONResponse({"error": "invalid_scope"}, 400)
        value = secrets.token_urlsafe(24)
        tokens[value] = {"expires": time.monotonic() + TOKEN_LIFETIME, "uses": 0}
        return JSONResponse({"access_token": value, "token_type": "Bearer", "expires_in": TOKEN_LIFETIME,
                             "scope": form.get("scope")})

    def guarded(path: str, handler):
        async def endpoint(request: Request) -> Response:
            sandbox.count(f"ninjaone GET {path}")
            header = request.headers.get("authorization", "")
            issued = tokens.get(header[7:]) if header.lower().startswith("bearer ") else None
            limit = sandbox.quirks.get("ninjaone.expire_tokens_after")
            if issued is None or time.monotonic() > issued["expires"] or (
                    limit is not None and issued["uses"] >= int(limit)):
                return JSONResponse({"error": "invalid_token"}, 401)
            issued["uses"] += 1
            wait = window.admit()
            if wait is not None:
                headers = {"Retry-After": str(wait)} if sandbox.quirks.get("ninjaone.retry_after") else {}
                return JSONResponse({"error": "Too many requests", "errorCode": "RATE_LIMIT_EXCEEDED"}, 429, headers)
            try:
                return handler(request)
            except ValueError as exc:
                return JSONResponse({"error": str(exc), "errorCode": "BAD_REQUEST"}, 400)
        return endpoint

    def organizations(request: Request) -> Response:
        return JSONResponse(_after_page(sandbox.world.ninjaone["organizations"], request))

    def devices_detailed(request: Request) -> Response:
        devices = _device_filter(sandbox.world.ninjaone["devices"], request.query_params.get("df"),
                                 lambda d: d.get("organizationId"))
        return JSONResponse(_after_page(devices, request))

    def computer_systems(request: Request) -> Response:
        params = request.query_params
        if params.get("cursor"):
            try:
                state = json.loads(base64.urlsafe_b64decode(params["cursor"].encode()))
                offset, size, df = int(state["offset"]), int(state["size"]), state.get("df")
            except (ValueError, KeyError, TypeError):
                raise ValueError("Invalid cursor") from None
        else:
            offset, size, df = 0, _page_size(params), params.get("df")
        org_of = {d["id"]: d.get("organizationId") for d in sandbox.world.ninjaone["devices"]}
        rows = sorted(_device_filter(sandbox.world.ninjaone["computer_systems"], df,
                                     lambda r: org_of.get(r.get("deviceId"))),
                      key=lambda r: r.get("deviceId") or 0)
        results = rows[offset:offset + size]
        following = base64.urlsafe_b64encode(
            json.dumps({"offset": offset + len(results), "size": size, "df": df}).encode()).decode()
        return JSONResponse({
            "cursor": {"name": following, "offset": offset, "count": len(results),
                       "expires": round(time.time() + CURSOR_LIFETIME, 3)},
            "results": results,
        })

    return [
        Route("/ws/oauth/token", token, methods=["POST"]),
        Route("/v2/organizations", guarded("/v2/organizations", organizations)),
        Route("/v2/devices-detailed", guarded("/v2/devices-detailed", devices_detailed)),
        Route("/v2/queries/computer-systems", guarded("/v2/queries/computer-systems", computer_systems)),
    ]


def _page_size(params) -> int:
    raw = params.get("pageSize")
    return MAX_PAGE_SIZE if not raw else min(max(1, int(raw)), MAX_PAGE_SIZE)


def _after_page(records: list[dict], request: Request) -> list[dict]:
    """Records with id > `after`, in id order, at most `pageSize` of them."""
    params = request.query_params
    after = int(params.get("after") or 0)
    ordered = sorted((r for r in records if r["id"] > after), key=lambda r: r["id"])
    return ordered[:_page_size(params)]


def _device_filter(records: list[dict], df: str | None, organization_of) -> list[dict]:
    if not df:
        return records
    match = _ORG_FILTER.match(df)
    if match is None:
        raise ValueError(f"Unsupported device filter: {df}")
    wanted = int(match.group(1))
    return [r for r in records if organization_of(r) == wanted]
