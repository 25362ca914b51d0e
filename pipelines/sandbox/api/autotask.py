"""Autotask PSA over its REST wire protocol, served from `world.autotask`.

    GET  /atservicesrest/v1.0/zoneInformation?user=...     no auth; unknown user -> 500; the zone url is under this
                                                            server: {base}/autotask/{zone}/ATServicesRest/
    POST {zone}V1.0/{Companies|ConfigurationItems|Contacts}/query        {"MaxRecords": <=500, "filter": [...]}
         -> {"items": [...], "pageDetails": {count, requestCount, prevPageUrl, nextPageUrl}}
    POST {zone}V1.0/{entity}/query/next?paging=...&search=...             the nextPageUrl, POSTed with the same body
                                                                          (GET -> 405, another body -> 400)
    POST {zone}V1.0/{entity}/query/count                                  {"queryCount": n}
    GET  {zone}V1.0/ThresholdInformation
    Headers ApiIntegrationCode, UserName, Secret on every zone request (wrong, or the wrong zone -> 401).
    A 4th concurrent request on one entity -> 429 "Thread Threshold Exceeded"; over `rate_limits["autotask"]`
    (default 10,000) requests in the rolling hour -> 429.

Filters: ops eq, noteq, gt, gte, lt, lte, exist, notExist, beginsWith, endsWith, contains, in, and nested
`{"op": "and"|"or", "items": [...]}`; field names are case-insensitive, as in Autotask.

Quirks read from `sandbox.quirks`:
    autotask.zone                the zone the user lives in (default "zone15")
    autotask.move_zone_after     after this many zone requests the user's zone moves to "zone7" (401s on the old one)
    autotask.delay_seconds       time each query spends in the server (lets concurrency show)
    autotask.requests_by_others  requests the MSP's other integrations spent this hour (counted in the budget)
    autotask.malformed_page      entity path ("ConfigurationItems"): its second page claims more items than it holds

Observed, for tests (`sandbox.observed`): "autotask.peak_concurrency" entity -> most requests in flight at once.
"""

import asyncio
import bisect
import itertools
import json
import time
from collections import deque
from datetime import UTC, datetime
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

# Where the sandbox serves this system, and the built-in tenant's credentials for it (any other value is
# rejected like a wrong key): the server mounts and `env_for` hands these out, nothing lists them elsewhere.
SYSTEM = "autotask"
MOUNT = "autotask"
URL_ENV = "AUTOTASK_URL"
CREDENTIALS = {
    "AUTOTASK_USERNAME": "api.user@sandbox.example",
    "AUTOTASK_SECRET": "sandbox-secret",
    "AUTOTASK_INTEGRATION_CODE": "SANDBOXTRACKINGID",
}

ENTITIES = {"companies": "companies", "configurationitems": "configuration_items", "contacts": "contacts",
            "configurationitemcategories": "configuration_item_categories"}
MAX_RECORDS = 500
THREAD_LIMIT = 3
THREAD_ERROR = ("Thread Threshold Exceeded \u2014 The Autotask API thread threshold of 3 threads has been exceeded.")


def routes(sandbox) -> list[Route]:
    state = _State(sandbox)

    async def zone_information(request: Request) -> Response:
        sandbox.count("autotask GET /atservicesrest/v1.0/zoneInformation")
        user = request.query_params.get("user", "")
        if user.lower() != CREDENTIALS["AUTOTASK_USERNAME"].lower():
            return JSONResponse({"errors": ["Zone information could not be determined"]}, 500)
        base = f"{request.url.scheme}://{request.url.netloc}{request.scope.get('root_path', '')}"
        zone = state.zone
        return JSONResponse({
            "zoneName": f"Sandbox {zone}",
            "url": f"{base}/{zone}/ATServicesRest/",
            "webUrl": f"{base}/{zone}/web/",
            "ci": 1234567,
        })

    async def threshold_information(request: Request) -> Response:
        sandbox.count("autotask GET /V1.0/ThresholdInformation")
        refused = state.admit(request)
        if refused:
            return refused
        return JSONResponse({
            "externalRequestThreshold": state.limit,
            "requestThresholdTimeframe": 60,
            "currentTimeframeRequestCount": state.used_this_hour(),
        })

    async def query(request: Request) -> Response:
        entity_path = request.path_params["entity"]
        action = request.path_params.get("action", "")
        sandbox.count(f"autotask {request.method} /V1.0/{{entity}}/query{'/' + action if action else ''}")
        entity = ENTITIES.get(entity_path.lower())
        if entity is None:
            return JSONResponse({"errors": [f"Entity {entity_path} not found"]}, 404)
        if request.method != "POST":
            # Autotask answers a GET on a POSTed query's nextPageUrl with 405: the page must be POSTed again.
            return JSONResponse({"errors": ["The requested resource does not support http method 'GET'."]}, 405,
                                {"Allow": "POST"})
        refused = state.admit(request)
        if refused:
            return refused
        with state.thread(entity_path) as granted:
            if not granted:
                return JSONResponse({"errors": [THREAD_ERROR]}, 429)
            if delay := float(sandbox.quirks.get("autotask.delay_seconds", 0)):
                await asyncio.sleep(delay)
            try:
                body = json.loads(await request.body() or b"{}")
                if not isinstance(body, dict):
                    raise ValueError("the query body must be a JSON object")
                condition = {"op": "and", "items": body.get("filter") or []}
                records = state.by_id(_records(sandbox.world, entity))
                if action == "count":
                    return JSONResponse({"queryCount": sum(1 for r in records if _matches(r, condition))})
                return _page(request, sandbox, entity_path, body, records, condition, action == "next")
            except ValueError as exc:
                return JSONResponse({"errors": [f"Invalid query: {exc}"]}, 400)

    return [
        Route("/atservicesrest/v1.0/zoneInformation", zone_information, methods=["GET"]),
        Route("/{zone}/ATServicesRest/V1.0/ThresholdInformation", threshold_information, methods=["GET"]),
        Route("/{zone}/ATServicesRest/V1.0/{entity}/query", query, methods=["GET", "POST"]),
        Route("/{zone}/ATServicesRest/V1.0/{entity}/query/{action:str}", query, methods=["GET", "POST"]),
    ]


def _page(request: Request, sandbox, entity_path: str, body: dict, records: list[dict], condition: dict,
          is_next: bool) -> Response:
    """One page of the records (sorted by id) that match `condition`, after the paging cursor."""
    try:
        size = int(body.get("MaxRecords") or MAX_RECORDS)
    except (TypeError, ValueError):
        return JSONResponse({"errors": ["MaxRecords must be a number"]}, 400)
    if not 1 <= size <= MAX_RECORDS:
        return JSONResponse({"errors": [f"MaxRecords must be between 1 and {MAX_RECORDS}"]}, 400)
    after = -1
    if is_next:
        try:
            paging = json.loads(request.query_params["paging"])
            search = json.loads(request.query_params["search"])
            after = int(paging["nextIds"][0])
        except (KeyError, ValueError, IndexError, TypeError):
            return JSONResponse({"errors": ["Invalid paging parameters"]}, 400)
        if search.get("filter") != body.get("filter"):
            return JSONResponse({"errors": ["The query body does not match the paging search"]}, 400)
    # Matching stops one record past the page: enough to know whether a next page exists.
    start = bisect.bisect_right(records, after, key=lambda r: r["id"])
    matching = itertools.islice((r for r in itertools.islice(records, start, None) if _matches(r, condition)),
                                size + 1)
    page = list(matching)
    page, rest = page[:size], page[size:]
    include = {f.lower() for f in body.get("IncludeFields") or []}
    if include:
        include.add("id")
        page = [{k: v for k, v in r.items() if k.lower() in include} for r in page]
    next_url = None
    if rest:
        paging = {"pageSize": size, "previousIds": [after], "nextIds": [page[-1]["id"]]}
        search = {"filter": body.get("filter") or []}
        base = str(request.url).split("/V1.0/")[0]
        next_url = (f"{base}/V1.0/{entity_path}/query/next?paging={quote(json.dumps(paging, separators=(',', ':')))}"
                    f"&search={quote(json.dumps(search, separators=(',', ':')))}")
    count = len(page)
    if sandbox.quirks.get("autotask.malformed_page", "").lower() == entity_path.lower() and is_next:
        count += 7  # a page cut short by a proxy: the envelope says more than it holds
    return JSONResponse({"items": page, "pageDetails": {
        "count": count, "requestCount": MAX_RECORDS, "prevPageUrl": None, "nextPageUrl": next_url}})


class _State:
    """Zone, auth, the rolling hourly budget and the per-entity thread limit."""

    def __init__(self, sandbox):
        self.sandbox = sandbox
        self.hour: deque[float] = deque()
        self.in_flight: dict[str, int] = {}
        self.zone_requests = 0
        self._sorted: dict[int, tuple[list[dict], int, list[dict]]] = {}

    def by_id(self, records: list[dict]) -> list[dict]:
        """The records sorted by id, kept between requests (a large tenant is paged 100 times)."""
        key = id(records)
        cached = self._sorted.get(key)
        if cached is None or cached[0] is not records or cached[1] != len(records):
            cached = (records, len(records), sorted(records, key=lambda r: r["id"]))
            self._sorted[key] = cached
        return cached[2]

    @property
    def zone(self) -> str:
        return self.sandbox.quirks.get("autotask.zone", "zone15")

    @property
    def limit(self) -> int:
        return int(self.sandbox.rate_limits.get("autotask", 10000))

    def used_this_hour(self) -> int:
        now = time.monotonic()
        while self.hour and self.hour[0] <= now - 3600:
            self.hour.popleft()
        return len(self.hour) + int(self.sandbox.quirks.get("autotask.requests_by_others", 0))

    def admit(self, request: Request) -> Response | None:
        """None when the request may proceed; else the 401/429 Autotask would answer."""
        headers = request.headers
        if (headers.get("apiintegrationcode") != CREDENTIALS["AUTOTASK_INTEGRATION_CODE"]
                or (headers.get("username") or "").lower() != CREDENTIALS["AUTOTASK_USERNAME"].lower()
                or headers.get("secret") != CREDENTIALS["AUTOTASK_SECRET"]
                or request.path_params["zone"] != self.zone):
            return JSONResponse({"errors": ["Unauthorized"]}, 401)
        if self.used_this_hour() >= self.limit:
            return JSONResponse({"errors": [
                f"Request threshold of {self.limit} requests per hour has been exceeded for this database."]}, 429)
        self.hour.append(time.monotonic())
        self.zone_requests += 1
        move_after = self.sandbox.quirks.get("autotask.move_zone_after")
        if move_after is not None and self.zone_requests >= int(move_after):
            # The tenant was moved to another data centre: the old zone answers 401 from now on.
            del self.sandbox.quirks["autotask.move_zone_after"]
            self.sandbox.quirks["autotask.zone"] = "zone7"
        return None

    def thread(self, entity: str) -> "_Thread":
        return _Thread(self, entity.lower())


class _Thread:
    def __init__(self, state: _State, entity: str):
        self.state = state
        self.entity = entity

    def __enter__(self) -> bool:
        flights = self.state.in_flight
        if flights.get(self.entity, 0) >= THREAD_LIMIT:
            self.granted = False
            return False
        self.granted = True
        flights[self.entity] = flights.get(self.entity, 0) + 1
        peaks = self.state.sandbox.observed.setdefault("autotask.peak_concurrency", {})
        peaks[self.entity] = max(peaks.get(self.entity, 0), flights[self.entity])
        return True

    def __exit__(self, *exc) -> None:
        if self.granted:
            self.state.in_flight[self.entity] -= 1


def _records(world, entity: str) -> list[dict]:
    if entity == "configuration_item_categories" and entity not in world.autotask:
        # The tenant's category picklist, named as an MSP would; ids as the generator assigns them to items.
        from pipelines.sandbox.hardware import AUTOTASK_CATEGORIES

        names = {"server": "Server", "workstation": "Workstation", "laptop": "Laptop",
                 "network": "Network Device", "printer": "Printer"}
        return [{"id": cid, "name": names.get(kind, kind.title()), "isActive": True, "isGlobalDefault": False}
                for kind, cid in AUTOTASK_CATEGORIES.items()]
    return world.autotask.get(entity, [])


def _field(record: dict, name: str):
    if name in record:
        return record[name]
    lowered = name.lower()
    for key, value in record.items():
        if key.lower() == lowered:
            return value
    return None


def _coerce(left, right):
    """Compare dates as dates and numbers as numbers, as Autotask does for its typed fields."""
    if isinstance(left, str) and isinstance(right, str) and len(right) >= 10 and right[4:5] == "-":
        try:
            return _as_time(left), _as_time(right)
        except ValueError:
            pass
    if isinstance(left, bool) or isinstance(right, bool):
        return bool(left) if left is not None else None, _as_bool(right)
    if isinstance(left, int | float) and isinstance(right, str):
        return left, float(right)
    return left, right


def _as_time(text: str) -> datetime:
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _as_bool(value) -> bool:
    return value.lower() in ("true", "1") if isinstance(value, str) else bool(value)


def _matches(record: dict, condition: dict) -> bool:
    op = str(condition.get("op", "")).lower()
    if op in ("and", "or"):
        items = condition.get("items") or []
        results = (_matches(record, item) for item in items)
        return all(results) if op == "and" else any(results)
    if "field" not in condition:
        raise ValueError(f"filter item without a field: {condition}")
    left = _field(record, condition["field"])
    right = condition.get("value")
    if op == "exist":
        return left is not None and left != ""
    if op == "notexist":
        return left is None or left == ""
    if op == "in":
        return left in (right or [])
    if left is None:
        return op == "noteq" and right is not None
    left, right = _coerce(left, right)
    if op == "eq":
        return left == right
    if op == "noteq":
        return left != right
    if op in ("gt", "gte", "lt", "lte"):
        return {"gt": left > right, "gte": left >= right, "lt": left < right, "lte": left <= right}[op]
    if op in ("beginswith", "endswith", "contains"):
        text, part = str(left).lower(), str(right).lower()
        return {"beginswith": text.startswith(part), "endswith": text.endswith(part), "contains": part in text}[op]
    raise ValueError(f"unknown filter op {condition.get('op')!r}")
