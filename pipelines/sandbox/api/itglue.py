"""IT Glue's JSON:API over real HTTP, served from `world.itglue` (mounted under /itglue by the sandbox server).

What a client sees, per shared/docs/api-facts.md and the fixtures in shared/reference/fixtures/itglue_*.json:

- Auth: `x-api-key` must be the sandbox key, else 403 with a JSON:API `errors` body.
- `GET /organizations|/configurations|/contacts`: `page[number]` (1-based), `page[size]` (default 50, max 1000; more
  or less than that is a 400), `sort` (`id`, `name`, `-updated_at`, or any attribute, `-` for descending; ties by id),
  exact filters `filter[id]` (comma list), `filter[name]`, `filter[archived]`, `filter[organization_id]`,
  `filter[psa_integration_type]` and the other documented equality filters; `filter[updated_at]=start,end` on
  organizations. `include=rmm_records` on configurations adds `relationships["rmm-records"]` and `included`;
  `include=passwords,attachments` on configurations and contacts adds those relationships and objects (as IT Glue's
  index endpoints do; `related_items` is a 400 there: IT Glue includes it only on the single-record endpoint).
  The body is `{data, meta, links}` as in the fixtures; links are absolute, built from the request's own URL.
  `meta.filters` echoes the filters applied (`{}` without any). An empty result has `total-pages` 0.
- `GET /<resource>/{id}`: one record, 404 when gone. Configurations and contacts accept
  `include=rmm_records` (configurations), `passwords`, `attachments`, `related_items`, served from
  `world.extra["itglue_related"][id]` (`{"passwords": [...], "attachments": [...], "related_items": [...]}`), empty
  lists when absent.
- Writes (all need `Content-Type: application/vnd.api+json`, else 415), applied to the world and recorded with
  `sandbox.record_write` (every write that got past auth and the rate limit, with the status it was answered):
  `DELETE /configurations|/contacts` with `{"data":[{"type":...,"attributes":{"id":N}}]}` deletes what exists and
  answers 200 with the deleted objects (unknown ids are skipped); `DELETE /organizations` does the same for
  organizations and, as IT Glue does, takes everything filed under them (configurations, contacts) along.
  `PATCH /configurations/{id}|/contacts/{id}`: `archived` may change on any item; any other attribute on an item whose
  `psa-integration` is "enabled" is a 422 (the fixture's body), and `psa-integration` itself can never be set (IT Glue has
  no API to disable sync). Accepted changes bump `updated-at`. `POST /configurations|/contacts` creates an unsynced
  item with a new id (201), for restoring deleted items from a snapshot; `organization-id` must exist (422), and
  configurations need `configuration-type-id` (422).
- Rate limit: a sliding window of `sandbox.rate_limits.get("itglue", 3000)` requests per 300 s, then 429 WITHOUT
  `Retry-After` (IT Glue's header is unconfirmed, so clients must cope without it).
- Every request is counted as `sandbox.count("itglue <METHOD> /<resource>")` or `".../<resource>/{id}"`.

Quirks, read from `sandbox.quirks` on every request (so tests can switch them mid-run):

    itglue.slow_page_size_above   int: a list page larger than this answers 500 with IT Glue's
                                  "The request took too long to process and timed out." body.
    itglue.malformed_page         (resource, page_number) or (resource, page_number, times): that page answers 200
                                  with its body cut in the middle (invalid JSON); with `times`, only the first `times`
                                  requests of it are cut, so a client's retry can succeed.
    itglue.lying_total            (resource, delta): `meta.total-count` is off by delta; pages and links stay right.
    itglue.drop_record            (resource, page_number): that page holds one record fewer than it should (its last),
                                  so only comparing the records received with `total-count` catches it.
    itglue.rate_window_seconds    float: the rate-limit window (300 s) for tests that want to see it refill.

Pages are assembled from per-record JSON text cached on first use, and filtered/sorted views are cached until the
next write, so a 50,000-configuration tenant pages at 1000 per request at network speed. Writes through this API keep
the caches right; a test that edits `world.itglue` in place after records were served must do so before serving
starts (replacing or resizing a resource list is noticed).
"""

import json
import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from pipelines.sandbox.api.rolling_window import RollingWindow

if TYPE_CHECKING:
    from pipelines.sandbox.server import Sandbox

# Where the sandbox serves this system, and the built-in tenant's credentials for it (any other value is
# rejected like a wrong key): the server mounts and `env_for` hands these out, nothing lists them elsewhere.
SYSTEM = "itglue"
MOUNT = "itglue"
URL_ENV = "ITGLUE_API_URL"
CREDENTIALS = {
    "ITGLUE_API_KEY": "sandbox-itglue-key",
}

JSONAPI = "application/vnd.api+json"
RESOURCES = ("organizations", "configurations", "contacts")
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
DEFAULT_RATE_LIMIT = 3000
DEFAULT_RATE_WINDOW = 300.0

# The sandbox world names the PSA by product; IT Glue names the integration types by its own strings.
PSA_INTEGRATION_TYPES = {"autotask": "autotask", "connectwise": "manage"}
KNOWN_PSA_TYPES = {"manage", "autotask", "tigerpaw", "kaseya-bms", "pulseway-psa", "vorex"}

# Equality filters per resource: filter name -> attribute. `id`, `psa_integration_type` and date ranges are special.
EQUALITY_FILTERS = {
    "organizations": {"name": "name", "organization_type_id": "organization-type-id",
                      "organization_status_id": "organization-status-id", "archived": "archived"},
    "configurations": {"name": "name", "organization_id": "organization-id", "archived": "archived",
                       "configuration_type_id": "configuration-type-id",
                       "configuration_status_id": "configuration-status-id", "contact_id": "contact-id",
                       "serial_number": "serial-number", "mac_address": "mac-address", "asset_tag": "asset-tag"},
    "contacts": {"name": "name", "organization_id": "organization-id", "archived": "archived",
                 "first_name": "first-name", "last_name": "last-name", "title": "title",
                 "contact_type_id": "contact-type-id"},
}
RANGE_FILTERS = {"organizations": {"updated_at": "updated-at", "created_at": "created-at"}}
# Real IT Glue filters the sandbox cannot answer: PSA/RMM ids are not kept on the world's IT Glue records.
UNEMULATED_FILTERS = {"psa_id", "rmm_id", "rmm_integration_type"}

# Attributes IT Glue computes itself: a write that sends them is not refused, they are just not taken.
COMPUTED_ATTRIBUTES = {"id", "created-at", "updated-at", "resource-url", "organization-name",
                       "organization-short-name", "configuration-type-name", "configuration-type-kind",
                       "configuration-status-name", "my-glue"}
RELATED_KINDS = {"passwords": "passwords", "attachments": "attachments", "related_items": "related-items"}
# IT Glue's list endpoints include passwords and attachments; related items only on the single-record endpoint.
LIST_RELATED_KINDS = {"passwords", "attachments"}

SYNCED_422 = {"errors": [{"status": 422, "title": "Unprocessable Entity", "detail": "Cannot update a synced resource",
                          "source": {"pointer": "/data/attributes/contact-emails.base"}}]}
MISSING_ORG_422 = {"errors": [{"status": 422, "title": "Valid organization_id is required",
                               "source": {"pointer": "data/attributes/organization_id"}}]}
BAD_TYPE_422 = {"errors": [{"source": {"pointer": "/data/attributes/configuration-type"}, "detail": "must exist",
                            "title": "Unprocessable Entity", "status": 422}]}
TIMEOUT_BODY = {"errors": [{"detail": "The request took too long to process and timed out."}]}


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _jsonapi(body: Any, status: int = 200) -> Response:
    return Response(_dumps(body).encode(), status, media_type=JSONAPI)


def _error(status: int, title: str, detail: str | None = None, pointer: str | None = None) -> Response:
    error: dict[str, Any] = {"status": status, "title": title}
    if detail:
        error["detail"] = detail
    if pointer:
        error["source"] = {"pointer": pointer}
    return _jsonapi({"errors": [error]}, status)


def _wire(value: Any) -> str | None:
    """An attribute value as it appears in a query string, for exact-match filters."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _timestamp() -> str:
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def _id_order(record: dict) -> tuple[int, str]:
    rid = str(record["id"])
    return (int(rid), "") if rid.isdigit() else (math.inf, rid)  # type: ignore[return-value]


def _kebab(name: str) -> str:
    return name.replace("_", "-")


def _quirk_specs(value: Any) -> list[tuple]:
    """A quirk given as one (resource, ...) tuple or as a list of them."""
    if not value:
        return []
    if isinstance(value[0], str):
        return [tuple(value)]
    return [tuple(spec) for spec in value]


class ResourceTable:
    """One IT Glue resource list of the world, with the indexes and cached JSON text that keep paging fast.

    The world's list stays the single truth (other code reads it); this only remembers derived things and forgets
    them when a write goes through `changed`, or when the list was replaced or resized behind its back.
    """

    def __init__(self, world, resource: str):
        self.world = world
        self.resource = resource
        self._seen: tuple[int, int] | None = None
        self.sync()

    def rows(self) -> list[dict]:
        return self.world.itglue.setdefault(self.resource, [])

    def sync(self) -> None:
        rows = self.rows()
        if self._seen == (id(rows), len(rows)):
            return
        self._seen = (id(rows), len(rows))
        self.by_id = {str(r["id"]): r for r in rows}
        self._ordered: list[dict] | None = None
        self._indexes: dict[str, dict[str | None, list[dict]]] = {}
        self._views: dict[tuple, list[dict]] = {}
        self._text: dict[tuple[str, bool], str] = {}
        self._head: dict[str, str] = {}  # a record's JSON without relationships and without its closing brace

    def changed(self, ids: list[str]) -> None:
        """After a write: forget derived state; cached JSON only of the records written."""
        rows = self.rows()
        self._seen = (id(rows), len(rows))
        if len(self.by_id) != len(rows):  # a PATCH keeps the membership: no need to re-index 50,000 ids
            self.by_id = {str(r["id"]): r for r in rows}
        self._ordered = None
        self._indexes = {}
        self._views = {}
        for rid in ids:
            self._head.pop(rid, None)
            self._text.pop((rid, False), None)
            self._text.pop((rid, True), None)

    def ordered(self) -> list[dict]:
        if self._ordered is None:
            self._ordered = sorted(self.rows(), key=_id_order)
        return self._ordered

    def index(self, attribute: str) -> dict[str | None, list[dict]]:
        """Records by the wire form of one attribute, in id order: makes per-organization walks cheap."""
        if attribute not in self._indexes:
            built: dict[str | None, list[dict]] = {}
            for r in self.ordered():
                value = r["attributes"].get(attribute)
                if attribute == "archived":
                    value = bool(value)  # a missing archived flag reads as not archived
                built.setdefault(_wire(value), []).append(r)
            self._indexes[attribute] = built
        return self._indexes[attribute]

    def cached_view(self, key: tuple) -> list[dict] | None:
        """The filtered, sorted records for (filters, sort) as computed since the last write, if any."""
        return self._views.get(key)

    def remember_view(self, key: tuple, rows: list[dict]) -> None:
        if len(self._views) > 512:  # a client walking thousands of filters should not grow this forever
            self._views.clear()
        self._views[key] = rows

    def text(self, record: dict, rmm: "RmmRecords | None") -> str:
        """The record's JSON text; with `rmm`, carrying its `rmm-records` relationship."""
        key = (str(record["id"]), rmm is not None)
        cached = self._text.get(key)
        if cached is None:
            # The attributes are nearly all of the cost: encode them once for both variants, relationships apart.
            head = self._head.get(key[0])
            if head is None:
                head = self._head[key[0]] = _dumps({k: v for k, v in record.items() if k != "relationships"})[:-1]
            relationships = record.get("relationships")
            if rmm is not None:
                relationships = {**(relationships or {}), "rmm-records": {"data": rmm.refs(key[0])}}
            tail = "}" if relationships is None else ',"relationships":' + _dumps(relationships) + "}"
            cached = self._text[key] = head + tail
        return cached


class RmmRecords:
    """The rmm-records objects per configuration id, as `included` text."""

    def __init__(self, world):
        self.world = world
        self._text: dict[str, str] = {}

    def objects(self, config_id: str) -> list[dict]:
        return self.world.itglue_rmm_records.get(config_id) or []

    def refs(self, config_id: str) -> list[dict]:
        return [{"type": o.get("type", "rmm-records"), "id": str(o["id"])} for o in self.objects(config_id)]

    def included_text(self, config_ids: list[str]) -> list[str]:
        parts = []
        for cid in config_ids:
            if cid not in self._text:
                self._text[cid] = ",".join(_dumps(o) for o in self.objects(cid))
            if self._text[cid]:
                parts.append(self._text[cid])
        return parts

    def forget(self, config_id: str) -> None:
        self.world.itglue_rmm_records.pop(config_id, None)
        self._text.pop(config_id, None)


class ItGlueApi:
    """The endpoints of one served sandbox: its tables, the rate window, and the state of the quirks."""

    def __init__(self, sandbox: "Sandbox"):
        self.sandbox = sandbox
        self.world = sandbox.world
        self.tables = {name: ResourceTable(self.world, name) for name in RESOURCES}
        self.rmm = RmmRecords(self.world)
        self.window = RollingWindow(lambda: sandbox.rate_limits.get("itglue") or DEFAULT_RATE_LIMIT,
                                    lambda: sandbox.quirks.get("itglue.rate_window_seconds", DEFAULT_RATE_WINDOW))
        self._malformed_served: dict[tuple, int] = {}
        ids = [_id_order(r)[0] for t in self.tables.values() for r in t.rows()]
        ids += [int(o["id"]) for objs in self.world.itglue_rmm_records.values() for o in objs
                 if str(o.get("id", "")).isdigit()]
        # One id space for everything created here, so a restored item never reuses any id the tenant has seen.
        self._next_id = max([i for i in ids if i != math.inf] + [0]) + 1

    # ---- the gate every request passes ----------------------------------------------------------------

    def guarded(self, template: str, handlers: dict):
        async def endpoint(request: Request) -> Response:
            self.sandbox.count(f"itglue {request.method} {template}")
            if request.headers.get("x-api-key") != CREDENTIALS["ITGLUE_API_KEY"]:
                return _error(403, "Forbidden", "The API key is missing or not valid for this account.")
            if self.window.admit() is not None:
                # No Retry-After on purpose: IT Glue's header is unconfirmed, so clients must pace themselves.
                return _error(429, "Too Many Requests", "Rate limit exceeded.")
            return await handlers["GET" if request.method == "HEAD" else request.method](request)

        return endpoint

    # ---- reads --------------------------------------------------------------------------------------

    def _matcher(self, resource: str, filters: dict[str, str]):
        """The records the filters select, in id order, or an error Response for a filter IT Glue would refuse."""
        table = self.tables[resource]
        checks = []
        candidates: list[dict] | None = None
        for name, value in filters.items():
            if name == "id":
                wanted = {v.strip() for v in value.split(",") if v.strip()}
                found = [table.by_id[i] for i in sorted(wanted, key=lambda i: _id_order({"id": i})) if i in table.by_id]
                candidates = found if candidates is None else [r for r in candidates if str(r["id"]) in wanted]
            elif name == "psa_integration_type":
                if value not in KNOWN_PSA_TYPES:
                    return _error(400, "Bad Request", f"Unknown psa_integration_type: {value}",
                                  "filter[psa_integration_type]")
                synced_with = PSA_INTEGRATION_TYPES.get(self.world.psa)
                checks.append(lambda r, ok=(value == synced_with): ok and r["attributes"].get("psa-integration")
                              is not None)
            elif name in RANGE_FILTERS.get(resource, {}):
                attribute = RANGE_FILTERS[resource][name]
                start, _, end = value.partition(",")
                if len(end.strip()) == 10:  # a bare end date includes that whole day
                    end = end.strip() + "T23:59:59.999Z"
                checks.append(lambda r, a=attribute, s=start.strip(), e=end.strip():
                              r["attributes"].get(a) is not None and (not s or r["attributes"][a] >= s)
                              and (not e or r["attributes"][a] <= e))
            elif name in EQUALITY_FILTERS[resource]:
                attribute = EQUALITY_FILTERS[resource][name]
                # ids may be asked for several at once; names and serials keep their commas.
                values = [v.strip() for v in value.split(",")] if name.endswith("_id") else [value]
                if attribute == "archived":
                    values = ["true" if v.lower() in ("true", "1") else "false" for v in values]
                index = table.index(attribute)
                hits = [r for v in values for r in index.get(v, [])]
                if len(values) > 1:
                    hits.sort(key=_id_order)
                if candidates is None:
                    candidates = hits
                else:
                    keep = {id(r) for r in hits}
                    candidates = [r for r in candidates if id(r) in keep]
            elif name in UNEMULATED_FILTERS:
                return _error(400, "Bad Request", f"filter[{name}] is not emulated by the sandbox", f"filter[{name}]")
            else:
                return _error(400, "Bad Request", f"Unsupported filter for {resource}: {name}", f"filter[{name}]")
        rows = table.ordered() if candidates is None else candidates
        return [r for r in rows if all(check(r) for check in checks)] if checks else list(rows)

    def _sorted(self, resource: str, rows: list[dict], sort: str | None):
        if not sort or sort == "id":
            return rows
        descending = sort.startswith("-")
        field = sort.lstrip("-")
        if field == "id":
            return list(reversed(rows))
        attribute = _kebab(field)
        if rows and not any(attribute in r["attributes"] for r in rows[:50]):
            return _error(400, "Bad Request", f"Cannot sort {resource} by {field}", "sort")
        # None sorts last ascending and first descending, like Postgres; ties keep id order (sorts are stable).
        return sorted(rows, key=lambda r: (r["attributes"].get(attribute) is None,
                                           r["attributes"].get(attribute) or ""), reverse=descending)

    def _links(self, request: Request, number: int, size: int, last: int, extra_params: list[tuple[str, str]]):
        base = f"{request.url.scheme}://{request.url.netloc}{request.url.path}"

        def link(page: int | None) -> str | None:
            if page is None:
                return None
            return base + "?" + urlencode([("page[number]", str(page)), ("page[size]", str(size)), *extra_params])

        return {"self": link(number), "first": link(1), "prev": link(number - 1 if number > 1 else None),
                "next": link(number + 1 if number < last else None), "last": link(max(last, 1))}

    def list_endpoint(self, resource: str):
        async def handle(request: Request) -> Response:
            params = request.query_params
            try:
                number = int(params.get("page[number]", "1"))
                size = int(params.get("page[size]", str(DEFAULT_PAGE_SIZE)))
            except ValueError:
                return _error(400, "Bad Request", "page[number] and page[size] must be integers", "page")
            if number < 1:
                return _error(400, "Bad Request", "page[number] must be 1 or more", "page[number]")
            if not 1 <= size <= MAX_PAGE_SIZE:
                return _error(400, "Bad Request", f"page[size] must be between 1 and {MAX_PAGE_SIZE}", "page[size]")
            includes = {i.strip() for i in params.get("include", "").split(",") if i.strip()}
            allowed = {"rmm_records"} if resource == "configurations" else set()
            if resource != "organizations":
                allowed |= LIST_RELATED_KINDS
            if includes - allowed:
                return _error(400, "Bad Request", f"Cannot include {', '.join(sorted(includes - allowed))} "
                                                  f"on {resource}", "include")
            slow_above = self.sandbox.quirks.get("itglue.slow_page_size_above")
            if slow_above is not None and size > int(slow_above):
                return _jsonapi(TIMEOUT_BODY, 500)

            filters = {k[len("filter["):-1]: v for k, v in params.multi_items()
                       if k.startswith("filter[") and k.endswith("]")}
            sort = params.get("sort") or None
            table = self.tables[resource]
            table.sync()
            key = (tuple(sorted(filters.items())), sort)
            rows = table.cached_view(key)
            if rows is None:
                matched = self._matcher(resource, filters)
                if isinstance(matched, Response):
                    return matched
                rows = self._sorted(resource, matched, sort)
                if isinstance(rows, Response):
                    return rows
                table.remember_view(key, rows)

            total = len(rows)
            pages = math.ceil(total / size)
            page_rows = rows[(number - 1) * size: number * size]
            if any(spec[0] == resource and int(spec[1]) == number
                   for spec in _quirk_specs(self.sandbox.quirks.get("itglue.drop_record"))) and page_rows:
                page_rows = page_rows[:-1]
            reported_total = total
            for spec in _quirk_specs(self.sandbox.quirks.get("itglue.lying_total")):
                if spec[0] == resource:
                    reported_total += int(spec[1])

            with_rmm = "rmm_records" in includes
            documentation = sorted(includes & LIST_RELATED_KINDS)
            if documentation:  # rarely asked for, and only for a few hundred ids: no cached text
                data, included = self._with_documentation(page_rows, documentation, with_rmm)
            else:
                data = [table.text(r, self.rmm if with_rmm else None) for r in page_rows]
                included = self.rmm.included_text([str(r["id"]) for r in page_rows]) if with_rmm else None
            meta = {"current-page": number, "next-page": number + 1 if number < pages else None,
                    "prev-page": number - 1 if number > 1 else None, "total-pages": pages,
                    "total-count": reported_total, "filters": filters}
            extra_params = [(k, v) for k, v in params.multi_items() if k not in ("page[number]", "page[size]")]
            links = self._links(request, number, size, pages, extra_params)
            body = '{"data":[' + ",".join(data) + "]"
            if included is not None:
                body += ',"included":[' + ",".join(included) + "]"
            body += ',"meta":' + _dumps(meta) + ',"links":' + _dumps(links) + "}"
            raw = body.encode()
            if self._cut_this_page(resource, number):
                raw = raw[: len(raw) // 2]
            return Response(raw, 200, media_type=JSONAPI)

        return handle

    def _with_documentation(self, rows: list[dict], kinds: list[str], with_rmm: bool) -> tuple[list[str], list[str]]:
        """Records with relationships to their passwords/attachments, and those objects (once each) as `included`."""
        data, included, seen = [], [], set()
        for r in rows:
            rid = str(r["id"])
            relationships = dict(r.get("relationships") or {})
            objects = list(self.rmm.objects(rid)) if with_rmm else []
            if with_rmm:
                relationships["rmm-records"] = {"data": self.rmm.refs(rid)}
            related = self._related(rid)
            for kind in kinds:
                wire_type = RELATED_KINDS[kind]
                found = related.get(kind) or []
                relationships[wire_type] = {"data": [{"type": o.get("type", wire_type), "id": str(o.get("id"))}
                                                     for o in found]}
                objects += found
            data.append(_dumps({**r, "relationships": relationships}))
            for o in objects:
                key = (o.get("type"), str(o.get("id")))
                if key not in seen:
                    seen.add(key)
                    included.append(_dumps(o))
        return data, included

    def _cut_this_page(self, resource: str, number: int) -> bool:
        for spec in _quirk_specs(self.sandbox.quirks.get("itglue.malformed_page")):
            if spec[0] != resource or int(spec[1]) != number:
                continue
            if len(spec) < 3:
                return True
            served = self._malformed_served.get(spec, 0)
            if served < int(spec[2]):
                self._malformed_served[spec] = served + 1
                return True
        return False

    def _related(self, rid: str) -> dict[str, list]:
        related = self.world.extra.get("itglue_related") or {}
        entry = related.get(rid)
        if entry is None and rid.isdigit():
            entry = related.get(int(rid))
        return entry or {}

    def single_endpoint(self, resource: str):
        async def handle(request: Request) -> Response:
            table = self.tables[resource]
            table.sync()
            rid = request.path_params["id"]
            record = table.by_id.get(rid)
            if record is None:
                return _error(404, "Record not found", f"No {resource} with id {rid}")
            includes = [i.strip() for i in request.query_params.get("include", "").split(",") if i.strip()]
            allowed = set()
            if resource != "organizations":
                allowed |= set(RELATED_KINDS)
            if resource == "configurations":
                allowed.add("rmm_records")
            if set(includes) - allowed:
                return _error(400, "Bad Request", f"Cannot include {', '.join(sorted(set(includes) - allowed))} "
                                                  f"on {resource}", "include")
            if not includes:
                return Response(('{"data":' + table.text(record, None) + "}").encode(), 200, media_type=JSONAPI)
            relationships = dict(record.get("relationships") or {})
            included: list[dict] = []
            if "rmm_records" in includes:
                relationships["rmm-records"] = {"data": self.rmm.refs(rid)}
                included += self.rmm.objects(rid)
            related = self._related(rid)
            for kind in includes:
                if kind in RELATED_KINDS:
                    objects = related.get(kind) or []
                    wire_type = RELATED_KINDS[kind]
                    relationships[wire_type] = {"data": [{"type": o.get("type", wire_type), "id": str(o.get("id"))}
                                                         for o in objects]}
                    included += objects
            return _jsonapi({"data": {**record, "relationships": relationships}, "included": included})

        return handle

    # ---- writes -------------------------------------------------------------------------------------

    async def _body(self, request: Request) -> Any:
        """The parsed JSON:API body, or an error Response (415 without the JSON:API content type)."""
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != JSONAPI:
            return _error(415, "Unsupported Media Type", f"Content-Type must be {JSONAPI}")
        try:
            return json.loads(await request.body())
        except ValueError:
            return _error(400, "Bad Request", "The request body is not valid JSON")

    def _answer_write(self, request: Request, body: Any, response: Response) -> Response:
        self.sandbox.record_write("itglue", request, body, response.status_code)
        return response

    def _remove(self, resource: str, ids: set[str]) -> list[dict]:
        """Takes records out of the world; returns them in the order they were held."""
        table = self.tables[resource]
        rows = table.rows()
        removed = [r for r in rows if str(r["id"]) in ids]
        if removed:
            rows[:] = [r for r in rows if str(r["id"]) not in ids]
            related = self.world.extra.get("itglue_related") or {}
            for r in removed:
                rid = str(r["id"])
                related.pop(rid, None)
                if resource == "configurations":
                    self.rmm.forget(rid)
            table.changed([str(r["id"]) for r in removed])
        return removed

    def bulk_delete_endpoint(self, resource: str):
        async def handle(request: Request) -> Response:
            body = await self._body(request)
            if isinstance(body, Response):
                return self._answer_write(request, None, body)
            items = body.get("data") if isinstance(body, dict) else None
            ids: list[str] = []
            if not isinstance(items, list):
                return self._answer_write(request, body, _error(400, "Bad Request", "data must be a list", "/data"))
            for n, item in enumerate(items):
                attributes = item.get("attributes") if isinstance(item, dict) else None
                if not isinstance(attributes, dict) or attributes.get("id") is None:
                    return self._answer_write(request, body, _error(
                        400, "Bad Request", "each item needs attributes.id", f"/data/{n}/attributes/id"))
                if item.get("type") != resource:
                    return self._answer_write(request, body, _error(
                        400, "Bad Request", f"type must be {resource}", f"/data/{n}/type"))
                ids.append(str(attributes["id"]))
            wanted = set(ids)
            removed = self._remove(resource, wanted)
            if resource == "organizations" and removed:
                # Deleting an organization deletes everything documented under it.
                gone = {str(r["id"]) for r in removed}
                for child in ("configurations", "contacts"):
                    self._remove(child, {str(r["id"]) for r in self.tables[child].rows()
                                         if str(r["attributes"].get("organization-id")) in gone})
            by_id = {str(r["id"]): r for r in removed}
            deleted = [by_id[i] for i in dict.fromkeys(ids) if i in by_id]
            return self._answer_write(request, body, _jsonapi({"data": deleted}))

        return handle

    def _attributes_of(self, body: Any, resource: str) -> dict | Response:
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict) or not isinstance(data.get("attributes"), dict):
            return _error(400, "Bad Request", "data.attributes must be an object", "/data/attributes")
        if data.get("type") != resource:
            return _error(400, "Bad Request", f"type must be {resource}", "/data/type")
        # IT Glue takes request attributes in snake_case or kebab-case; records carry kebab-case.
        return {_kebab(k): v for k, v in data["attributes"].items()}

    def patch_endpoint(self, resource: str):
        async def handle(request: Request) -> Response:
            body = await self._body(request)
            if isinstance(body, Response):
                return self._answer_write(request, None, body)
            table = self.tables[resource]
            table.sync()
            rid = request.path_params["id"]
            record = table.by_id.get(rid)
            if record is None:
                return self._answer_write(request, body, _error(404, "Record not found", f"No {resource} with id {rid}"))
            changes = self._attributes_of(body, resource)
            if isinstance(changes, Response):
                return self._answer_write(request, body, changes)
            attributes = record["attributes"]
            if "psa-integration" in changes and changes["psa-integration"] != attributes.get("psa-integration"):
                return self._answer_write(request, body, _error(
                    422, "Unprocessable Entity", "psa-integration cannot be changed through the API: "
                    "disable sync in IT Glue's UI", "/data/attributes/psa-integration"))
            editable = {k: v for k, v in changes.items() if k not in COMPUTED_ATTRIBUTES and k != "psa-integration"}
            if attributes.get("psa-integration") == "enabled" and set(editable) - {"archived"}:
                return self._answer_write(request, body, _jsonapi(SYNCED_422, 422))
            # Not every resource carries `archived` on every record; archiving is always allowed.
            unknown = sorted(set(editable) - set(attributes) - {"archived"})
            if unknown:
                return self._answer_write(request, body, _error(
                    422, "Unprocessable Entity", "unknown attribute", f"/data/attributes/{unknown[0]}"))
            if "organization-id" in editable:
                org = self.tables["organizations"].by_id.get(str(editable["organization-id"]))
                if org is None:
                    return self._answer_write(request, body, _jsonapi(MISSING_ORG_422, 422))
                attributes["organization-name"] = org["attributes"].get("name")
                if "organization-short-name" in attributes:
                    attributes["organization-short-name"] = org["attributes"].get("short-name")
            attributes.update(editable)
            attributes["updated-at"] = _timestamp()
            table.changed([rid])
            return self._answer_write(request, body, _jsonapi({"data": record}))

        return handle

    def create_endpoint(self, resource: str):
        async def handle(request: Request) -> Response:
            body = await self._body(request)
            if isinstance(body, Response):
                return self._answer_write(request, None, body)
            given = self._attributes_of(body, resource)
            if isinstance(given, Response):
                return self._answer_write(request, body, given)
            table = self.tables[resource]
            table.sync()
            org = self.tables["organizations"].by_id.get(str(given.get("organization-id")))
            if org is None:
                return self._answer_write(request, body, _jsonapi(MISSING_ORG_422, 422))
            if resource == "configurations" and given.get("configuration-type-id") is None:
                return self._answer_write(request, body, _jsonapi(BAD_TYPE_422, 422))
            template = table.rows()[0] if table.rows() else {"attributes": {}, "relationships": {}}
            rid = str(self._next_id)
            self._next_id += 1
            now = _timestamp()
            # Every attribute the resource has is present (null when empty), as IT Glue returns them.
            attributes = {k: None for k in template["attributes"]}
            attributes.update({k: v for k, v in given.items() if k not in COMPUTED_ATTRIBUTES})
            org_id = int(org["id"]) if str(org["id"]).isdigit() else org["id"]
            site = "https://sandbox.itglue.com"
            if isinstance(template["attributes"].get("resource-url"), str) and "://" in template["attributes"]["resource-url"]:
                scheme, _, rest = template["attributes"]["resource-url"].partition("://")
                site = f"{scheme}://{rest.split('/')[0]}"
            attributes.update({
                "organization-id": org_id, "organization-name": org["attributes"].get("name"),
                # Created through the API, an item is not synced with anything, whatever the snapshot said.
                "psa-integration": None, "archived": bool(given.get("archived", False)),
                "created-at": now, "updated-at": now, "resource-url": f"{site}/{org_id}/{resource}/{rid}",
            })
            if "organization-short-name" in template["attributes"]:
                attributes["organization-short-name"] = org["attributes"].get("short-name")
            relationships = {name: {"data": []} for name in (template.get("relationships") or {})
                             if name != "rmm-records"}
            record = {"id": rid, "type": resource, "attributes": attributes, "relationships": relationships}
            table.rows().append(record)
            table.changed([rid])
            return self._answer_write(request, body, _jsonapi({"data": record}, 201))

        return handle


def routes(sandbox: "Sandbox") -> list[BaseRoute]:
    api = ItGlueApi(sandbox)
    result: list[BaseRoute] = []
    for resource in RESOURCES:
        collection = {"GET": api.list_endpoint(resource), "DELETE": api.bulk_delete_endpoint(resource)}
        member = {"GET": api.single_endpoint(resource)}
        if resource != "organizations":
            collection["POST"] = api.create_endpoint(resource)
            member["PATCH"] = api.patch_endpoint(resource)
        result.append(Route(f"/{resource}", api.guarded(f"/{resource}", collection), methods=list(collection)))
        result.append(Route(f"/{resource}/{{id}}", api.guarded(f"/{resource}/{{id}}", member), methods=list(member)))
    return result
