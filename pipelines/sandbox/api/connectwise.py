"""ConnectWise Manage (PSA) over its REST wire protocol, served from `world.connectwise`.

    GET /login/companyinfo/{companyId}                       no auth; {"Codebase": "v2024_1/", ...}
    GET /{codebase}apis/3.0/company/companies|configurations|contacts
        Basic base64("{companyId}+{publicKey}:{privateKey}") plus a `clientId` header, else 401
        bare JSON arrays; `page` (1-based) / `pageSize` (default 25, max 1000) with a Link header (rel next/last);
        forward-only paging: header `pagination-type: forward-only`, `pageId` means id > pageId, next always in Link
        `conditions` (`field=value`, `!=`, `>`, `<`, `>=`, `<=`, joined by `and`; dates as `[...]`), `orderBy=id asc`
        over `rate_limits["connectwise"]` requests (default 1000) per window -> 429 with Retry-After

Quirks read from `sandbox.quirks`:
    connectwise.rate_window_seconds   length of the throttle's sliding window (default 60)
    connectwise.malformed_page        resource name ("configurations"): its second page is cut mid-JSON
"""

import base64
import bisect
import itertools
import math
import re
import time
from collections import deque
from datetime import UTC, datetime
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

# Where the sandbox serves this system, and the built-in tenant's credentials for it (any other value is
# rejected like a wrong key): the server mounts and `env_for` hands these out, nothing lists them elsewhere.
SYSTEM = "connectwise"
MOUNT = "connectwise"
URL_ENV = "CONNECTWISE_URL"
CREDENTIALS = {
    "CONNECTWISE_COMPANY_ID": "sandboxmsp",
    "CONNECTWISE_PUBLIC_KEY": "sandbox-public",
    "CONNECTWISE_PRIVATE_KEY": "sandbox-private",
    "CONNECTWISE_CLIENT_ID": "00000000-0000-0000-0000-000000000000",
}

CODEBASE = "v2024_1/"
RESOURCES = ("companies", "configurations", "contacts")
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 25

# Condition field names that live under another path of the record.
_FIELD_ALIASES = {"lastUpdated": "_info/lastUpdated", "dateEntered": "_info/dateEntered"}
_LINK_SAFE = "=[]<>:/!\"'"
_CLAUSE = re.compile(r"^\s*([A-Za-z_][\w/]*)\s*(!=|>=|<=|=|>|<|\s+contains\s+|\s+like\s+)\s*(.+?)\s*$", re.I)


class BadConditions(ValueError):
    pass


def routes(sandbox) -> list[Route]:
    throttle = _Throttle(sandbox)

    async def company_info(request: Request) -> Response:
        sandbox.count("connectwise GET /login/companyinfo/{companyId}")
        if request.path_params["company_id"].lower() != CREDENTIALS["CONNECTWISE_COMPANY_ID"].lower():
            return JSONResponse({"code": "NotFound", "message": "Company not found"}, 404)
        return JSONResponse({
            "CompanyName": "Sandbox MSP",
            "Codebase": CODEBASE,
            "VersionCode": "v2024.1",
            "VersionNumber": "v4.6.12345",
            "CompanyID": CREDENTIALS["CONNECTWISE_COMPANY_ID"],
            "IsCloud": "True",
        })

    async def listing(request: Request) -> Response:
        resource = request.path_params["resource"]
        sandbox.count(f"connectwise GET /company/{resource}")
        if request.path_params["codebase"] + "/" != CODEBASE:
            return JSONResponse({"code": "NotFound", "message": "Unknown codebase"}, 404)
        if resource not in RESOURCES:
            return JSONResponse({"code": "NotFound", "message": f"/company/{resource} not found"}, 404)
        if not _authorized(request):
            return JSONResponse({"code": "Unauthorized", "message": "Authentication failed"}, 401)
        wait = throttle.admit()
        if wait is not None:
            return JSONResponse(
                {"error": "ConnectWiseAPI", "message": f"Too many requests. Please try again in {wait} seconds."},
                429, {"Retry-After": str(wait)})

        params = request.query_params
        try:
            clauses = _clauses(params.get("conditions"))
            size = min(int(params.get("pageSize") or DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE)
            if size < 1:
                raise BadConditions("pageSize must be positive")
            forward_only = request.headers.get("pagination-type", "").lower() == "forward-only"
            if forward_only:
                after = int(params.get("pageId") or 0)
                by_id = throttle.by_id(sandbox.world.connectwise.get(resource, []))
                start = bisect.bisect_right(by_id, after, key=lambda r: r["id"])
                page = list(itertools.islice(
                    (r for r in itertools.islice(by_id, start, None) if _satisfies(r, clauses)), size))
                # Forward-only always links a next page, even from the last one: clients stop on an empty page.
                next_id = page[-1]["id"] if page else after
                links = {"next": _link(request, {"pageId": str(next_id), "pageSize": str(size)}, drop=("page",))}
            else:
                records = _order([r for r in sandbox.world.connectwise.get(resource, []) if _satisfies(r, clauses)],
                                 params.get("orderBy"))
                number = int(params.get("page") or 1)
                if number < 1:
                    raise BadConditions("page must be 1 or more")
                last = max(1, math.ceil(len(records) / size))
                page = records[(number - 1) * size:number * size]
                links = {}
                if number < last:
                    links["next"] = _link(request, {"page": str(number + 1), "pageSize": str(size)})
                links["last"] = _link(request, {"page": str(last), "pageSize": str(size)})
        except (BadConditions, ValueError) as exc:
            return JSONResponse({"code": "InvalidObject", "message": str(exc), "errors": []}, 400)

        headers = {"Link": ", ".join(f'<{url}>; rel="{rel}"' for rel, url in links.items())} if links else {}
        if sandbox.quirks.get("connectwise.malformed_page") == resource and _is_second_page(request, forward_only):
            body = JSONResponse(page).body
            return Response(body[: len(body) // 2], 200, headers, media_type="application/json")
        return JSONResponse(page, 200, headers)

    return [
        Route("/login/companyinfo/{company_id}", company_info, methods=["GET"]),
        Route("/{codebase}/apis/3.0/company/{resource}", listing, methods=["GET"]),
    ]


class _Throttle:
    """ConnectWise's throttle: a sliding window of requests per tenant; over it, 429 with the seconds to wait."""

    def __init__(self, sandbox):
        self.sandbox = sandbox
        self.seen: deque[float] = deque()
        self._sorted: dict[int, tuple[list[dict], int, list[dict]]] = {}

    def by_id(self, records: list[dict]) -> list[dict]:
        """The records sorted by id, kept between requests (forward-only paging walks them in order)."""
        cached = self._sorted.get(id(records))
        if cached is None or cached[0] is not records or cached[1] != len(records):
            cached = (records, len(records), sorted(records, key=lambda r: r["id"]))
            self._sorted[id(records)] = cached
        return cached[2]

    def admit(self) -> int | None:
        limit = self.sandbox.rate_limits.get("connectwise", 1000)
        window = float(self.sandbox.quirks.get("connectwise.rate_window_seconds", 60))
        now = time.monotonic()
        while self.seen and self.seen[0] <= now - window:
            self.seen.popleft()
        if len(self.seen) >= limit:
            return max(1, math.ceil(self.seen[0] + window - now))
        self.seen.append(now)
        return None


def _authorized(request: Request) -> bool:
    expected_user = f"{CREDENTIALS['CONNECTWISE_COMPANY_ID']}+{CREDENTIALS['CONNECTWISE_PUBLIC_KEY']}"
    expected = "Basic " + base64.b64encode(
        f"{expected_user}:{CREDENTIALS['CONNECTWISE_PRIVATE_KEY']}".encode()).decode()
    return (request.headers.get("authorization") == expected
            and request.headers.get("clientid") == CREDENTIALS["CONNECTWISE_CLIENT_ID"])


def _link(request: Request, changes: dict[str, str], drop: tuple[str, ...] = ()) -> str:
    # Real ConnectWise leaves `>`, `[`, `]` and `=` of `conditions` unencoded inside the Link header, so a client
    # must not cut the URL at the first `>`; spaces are encoded.
    params = {k: v for k, v in request.query_params.items() if k not in drop}
    params.update(changes)
    query = "&".join(f"{k}={quote(v, safe=_LINK_SAFE)}" for k, v in params.items())
    return f"{request.url.scheme}://{request.url.netloc}{request.url.path}?{query}"


def _is_second_page(request: Request, forward_only: bool) -> bool:
    params = request.query_params
    if forward_only:
        return int(params.get("pageId") or 0) > 0
    return int(params.get("page") or 1) == 2


def _lookup(record: dict, path: str):
    value = record
    for part in _FIELD_ALIASES.get(path, path).split("/"):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _parse_value(text: str):
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        return _parse_time(text[1:-1])
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if text.lower() == "null":
        return None
    try:
        return int(text)
    except ValueError:
        raise BadConditions(f"cannot read condition value {text!r}: quote strings, bracket dates") from None


def _parse_time(text: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise BadConditions(f"cannot read date {text!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _compare(left, op: str, right) -> bool:
    if isinstance(right, datetime):
        left = _parse_time(left) if isinstance(left, str) and left else None
    op = op.strip().lower()
    if op == "=":
        return left == right or (left is None and right is False)
    if op == "!=":
        return left != right
    if op in ("contains", "like"):
        return isinstance(left, str) and str(right).strip("%").lower() in left.lower()
    if left is None or right is None:
        return False
    return {">": left > right, "<": left < right, ">=": left >= right, "<=": left <= right}[op]


def _clauses(conditions: str | None) -> list[tuple]:
    if not conditions or not conditions.strip():
        return []
    clauses = []
    for text in re.split(r"\s+and\s+", conditions.strip(), flags=re.I):
        match = _CLAUSE.match(text)
        if not match:
            raise BadConditions(f"cannot parse condition {text!r}")
        field_name, op, value = match.groups()
        clauses.append((field_name, op, _parse_value(value)))
    return clauses


def _satisfies(record: dict, clauses: list[tuple]) -> bool:
    return all(_compare(_lookup(record, f), op, v) for f, op, v in clauses)


def _order(records: list[dict], order_by: str | None) -> list[dict]:
    if not order_by:
        return sorted(records, key=lambda r: r["id"])
    parts = order_by.split()
    field_name, direction = parts[0], (parts[1].lower() if len(parts) > 1 else "asc")
    if direction not in ("asc", "desc"):
        raise BadConditions(f"orderBy direction must be asc or desc, not {direction!r}")
    return sorted(records, key=lambda r: (_lookup(r, field_name) is None, _lookup(r, field_name) or 0),
                  reverse=direction == "desc")
