"""The IT Glue calls cleanup makes, over the shared ApiClient (budget, retries, errors): fetch many records a page at a
time (planning) or one with everything that hangs on it (apply), bulk DELETE, PATCH archived, POST to re-create. 404 and
422 come back as answers, not exceptions: the caller records them (already gone; refused with IT Glue's message) and
goes on.
"""

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pipelines.sources import itglue
from pipelines.sources.base import ENTITY_TABLES
from pipelines.sources.http import ApiClient, MalformedResponse, RetryPolicy

JSONAPI = "application/vnd.api+json"
WRITE_HEADERS = {"Content-Type": JSONAPI}
# IT Glue names its resources as the staging tables are named
RESOURCES = ENTITY_TABLES
# What a delete would lose. Organizations take no include= in IT Glue's single-record endpoint.
DOCUMENTATION_INCLUDES = {"configuration": "passwords,attachments,related_items",
                          "contact": "passwords,attachments,related_items"}
# IT Glue's list endpoints include passwords and attachments, but related items only on the single-record endpoint
# (its developer docs list `related_items` as show-only for configurations and contacts): planning sees the first two
# for a whole page of records per request, and apply, which fetches each record anyway, sees the related items.
LIST_DOCUMENTATION_INCLUDES = {"configuration": "passwords,attachments", "contact": "passwords,attachments"}
# Ids per list request: `filter[id]` takes a comma list; 200 keeps the URL near 1.5 kB (well under the 8 kB proxies
# allow) and the page within one page[size] of 1000, so one request answers 200 candidates.
IDS_PER_REQUEST = 200
DOCUMENTATION_TYPES = {"passwords": "password", "attachments": "attachment", "related-items": "related item",
                       "related_items": "related item"}
# Attributes IT Glue sets itself, or that cannot be written (sync state): left out when re-creating from a snapshot.
READ_ONLY_ATTRIBUTES = {"id", "created-at", "updated-at", "resource-url", "organization-name", "organization-short-name",
                        "configuration-type-name", "configuration-type-kind", "configuration-status-name",
                        "psa-integration", "psa-provider-type", "my-glue", "rmm-records"}


def client_from(config: Mapping[str, str], retry: RetryPolicy | None = None) -> ApiClient:
    """An IT Glue ApiClient from the source settings (ITGLUE_API_URL, ITGLUE_API_KEY, ITGLUE_RATE_LIMIT)."""
    return itglue.client(config.get("ITGLUE_API_URL") or itglue.DEFAULT_URL, config["ITGLUE_API_KEY"],
                         itglue.SOURCE.budget(config),
                         retry=retry)


@dataclass
class Fetched:
    """One record as IT Glue has it now; `document` is the whole JSON:API body (None when it is gone)."""

    entity_type: str
    source_id: str
    status: int
    document: dict | None = None
    documentation: list[str] = field(default_factory=list)  # "password: Domain admin", "attachment: rack.pdf", ...

    @property
    def gone(self) -> bool:
        return self.status == 404

    @property
    def attributes(self) -> dict[str, Any]:
        return ((self.document or {}).get("data") or {}).get("attributes") or {}

    @property
    def updated_at(self) -> str | None:
        return self.attributes.get("updated-at")

    @property
    def psa_integration(self) -> str | None:
        return self.attributes.get("psa-integration")

    @property
    def name(self) -> str | None:
        a = self.attributes
        if a.get("first-name") or a.get("last-name"):
            return " ".join(p for p in (a.get("first-name"), a.get("last-name")) if p)
        return a.get("name")


async def fetch(api: ApiClient, entity_type: str, source_id: str) -> Fetched:
    """GET the record with its passwords, attachments and related items; 404 means someone already deleted it."""
    params = {}
    if entity_type in DOCUMENTATION_INCLUDES:
        params["include"] = DOCUMENTATION_INCLUDES[entity_type]
    response = await api.request("GET", f"/{RESOURCES[entity_type]}/{source_id}", params=params, ok_statuses=(404,))
    if response.status_code == 404:
        return Fetched(entity_type, source_id, 404)
    document = api.decode_json(response)
    return Fetched(entity_type, source_id, response.status_code, document, documentation_of(document))


async def fetch_many(api: ApiClient, entity_type: str, source_ids: Iterable[str],
                     per_request: int = IDS_PER_REQUEST) -> dict[str, Fetched]:
    """Many records of one type through the list endpoint, `filter[id]=1,2,3` with passwords and attachments
    included: one request per `per_request` ids instead of one per record. An id IT Glue does not return is gone (404).
    What the list endpoint cannot include (related items) is not in `documentation`: apply looks for it."""
    ids = list(dict.fromkeys(source_ids))
    chunks = [ids[i:i + per_request] for i in range(0, len(ids), per_request)]
    found: dict[str, Fetched] = {}
    for answer in await asyncio.gather(*(_fetch_chunk(api, entity_type, chunk) for chunk in chunks)):
        found.update(answer)
    return {sid: found.get(sid) or Fetched(entity_type, sid, 404) for sid in ids}


async def _fetch_chunk(api: ApiClient, entity_type: str, ids: list[str]) -> dict[str, Fetched]:
    params = {"filter[id]": ",".join(ids), "page[size]": str(itglue.MAX_PAGE_SIZE)}
    if entity_type in LIST_DOCUMENTATION_INCLUDES:
        params["include"] = LIST_DOCUMENTATION_INCLUDES[entity_type]
    found, number = {}, 1
    while True:  # one page holds every id asked for; the loop only guards against a server with smaller pages
        body = await api.get_json(f"/{RESOURCES[entity_type]}", params={**params, "page[number]": str(number)})
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise MalformedResponse(f"itglue: {api.host}/{RESOURCES[entity_type]}?filter[id]=... is not a "
                                           "JSON:API list (no data list); nothing was proposed")
        included = {(i.get("type"), str(i.get("id"))): i for i in body.get("included") or []}
        for record in body["data"]:
            document = {"data": record, "included": _referenced(record, included)}
            sid = str(record.get("id"))
            found[sid] = Fetched(entity_type, sid, 200, document, documentation_of(document))
        if not (body.get("meta") or {}).get("next-page"):
            return found
        number += 1


def _referenced(record: dict, included: dict[tuple, dict]) -> list[dict]:
    """The included objects one record's relationships point at (a list page shares one `included` for all)."""
    picked = []
    for relation in (record.get("relationships") or {}).values():
        refs = (relation or {}).get("data") if isinstance(relation, dict) else None
        for ref in refs if isinstance(refs, list) else []:
            item = included.get((ref.get("type"), str(ref.get("id"))))
            if item is not None:
                picked.append(item)
    return picked


def documentation_of(document: dict) -> list[str]:
    """What hangs on a record, as labels a person recognises and that compare across two copies."""
    labels = []
    for item in document.get("included") or []:
        kind = DOCUMENTATION_TYPES.get(item.get("type", ""))
        if kind is None:
            continue
        a = item.get("attributes") or {}
        label = (a.get("name") or a.get("attachment-file-name") or a.get("destination-name")
                 or a.get("title") or f"#{item.get('id')}")
        labels.append(f"{kind}: {label}")
    return sorted(set(labels))


@dataclass
class WriteAnswer:
    method: str
    path: str
    status: int
    body: Any
    message: str = ""  # IT Glue's error detail on 4xx


async def bulk_delete(api: ApiClient, entity_type: str, ids: list[str]) -> tuple[WriteAnswer, set[str]]:
    """DELETE /<resource> with a JSON:API body naming ids; returns the answer and the ids IT Glue says it deleted."""
    resource = RESOURCES[entity_type]
    body = {"data": [{"type": resource, "attributes": {"id": _wire_id(i)}} for i in ids]}
    answer = await _write(api, "DELETE", f"/{resource}", body)
    deleted = set()
    if answer.status < 300 and isinstance(answer.body, dict):
        deleted = {str(d.get("id")) for d in answer.body.get("data") or [] if isinstance(d, dict)}
    return answer, deleted


async def set_archived(api: ApiClient, entity_type: str, source_id: str, archived: bool) -> WriteAnswer:
    resource = RESOURCES[entity_type]
    body = {"data": {"type": resource, "attributes": {"archived": archived}}}
    return await _write(api, "PATCH", f"/{resource}/{source_id}", body)


async def create(api: ApiClient, entity_type: str, attributes: dict[str, Any]) -> WriteAnswer:
    resource = RESOURCES[entity_type]
    writable = {k: v for k, v in attributes.items() if k not in READ_ONLY_ATTRIBUTES}
    return await _write(api, "POST", f"/{resource}", {"data": {"type": resource, "attributes": writable}})


async def count_children(api: ApiClient, organization_id: str) -> int:
    """Configurations and contacts filed under an organization (deleting it in IT Glue deletes them too)."""
    total = 0
    for resource in ("configurations", "contacts"):
        body = await api.get_json(f"/{resource}", params={"filter[organization_id]": organization_id,
                                                          "page[size]": "1"})
        total += int((body.get("meta") or {}).get("total-count") or 0)
    return total


async def _write(api: ApiClient, method: str, path: str, body: dict) -> WriteAnswer:
    response = await api.request(method, path, json=body, headers=WRITE_HEADERS, ok_statuses=(404, 422))
    try:
        parsed = response.json()
    except ValueError:
        parsed = None
    return WriteAnswer(method, path, response.status_code, parsed, error_detail(parsed) if response.status_code >= 400
                       else "")


def error_detail(body: Any) -> str:
    """IT Glue's JSON:API errors as one line: title, detail and the attribute they point at."""
    errors = body.get("errors") if isinstance(body, dict) else None
    if not errors:
        return ""
    parts = []
    for e in errors:
        text = "; ".join(str(e[k]) for k in ("title", "detail") if e.get(k))
        pointer = (e.get("source") or {}).get("pointer")
        parts.append(f"{text} ({pointer})" if pointer else text)
    return " | ".join(parts)


def _wire_id(source_id: str) -> int | str:
    # IT Glue's examples send integer ids in bulk bodies.
    return int(source_id) if source_id.isdigit() else source_id
