"""The sandbox's IT Glue protocol over real HTTP: auth, JSON:API paging, filters, quirks, the rate limit and writes."""

import json
import time

import httpx
import pytest

from pipelines.sandbox.server import CREDENTIALS

KEY = {"x-api-key": CREDENTIALS["ITGLUE_API_KEY"]}
JSONAPI = {"Content-Type": "application/vnd.api+json"}


@pytest.fixture
def api(sandbox):
    with httpx.Client(base_url=sandbox.url + "/itglue", headers=KEY, timeout=10) as client:
        yield client


def world_of(sandbox):
    return sandbox.sandbox.world


def configurations(sandbox, **attributes) -> list[dict]:
    return [r for r in world_of(sandbox).itglue["configurations"]
            if all(r["attributes"].get(k) == v for k, v in attributes.items())]


def walk(api, resource: str, **params) -> tuple[list[dict], list[dict]]:
    """Every record of a resource by following `links.next`; returns (records, pages' bodies)."""
    bodies = []
    url, query = f"/{resource}", {"page[size]": 1000, **params}
    while url:
        response = api.get(url, params=query)
        assert response.status_code == 200, response.text
        bodies.append(response.json())
        url, query = bodies[-1]["links"]["next"], None
    return [r for body in bodies for r in body["data"]], bodies


def bulk(api, method: str, resource: str, ids, headers=JSONAPI) -> httpx.Response:
    body = {"data": [{"type": resource, "attributes": {"id": i}} for i in ids]}
    return api.request(method, f"/{resource}", content=json.dumps(body), headers=headers)


def send(api, method: str, path: str, resource: str, attributes: dict) -> httpx.Response:
    body = {"data": {"type": resource, "attributes": attributes}}
    return api.request(method, path, content=json.dumps(body), headers=JSONAPI)


def test_a_wrong_or_missing_key_is_403_with_a_jsonapi_error(sandbox):
    for headers in ({"x-api-key": "not-the-key"}, {}):
        response = httpx.get(sandbox.url + "/itglue/configurations", headers=headers)
        assert response.status_code == 403
        assert response.json()["errors"][0]["status"] == 403


def test_walking_all_pages_yields_every_configuration_once_with_consistent_meta_and_links(sandbox, api):
    world = world_of(sandbox)
    expected = world.expected_counts()["itglue_configurations"]
    size = max(1, expected // 4 + 1)  # several pages, the last one short
    seen, bodies = walk(api, "configurations", **{"page[size]": size})
    assert len(seen) == expected == len({r["id"] for r in seen})
    pages = len(bodies)
    base = sandbox.url + "/itglue/configurations?"
    for number, body in enumerate(bodies, start=1):
        meta, links = body["meta"], body["links"]
        assert meta == {"current-page": number, "next-page": number + 1 if number < pages else None,
                        "prev-page": number - 1 if number > 1 else None, "total-pages": pages,
                        "total-count": expected, "filters": {}}
        assert links["self"] == f"{base}page%5Bnumber%5D={number}&page%5Bsize%5D={size}"
        assert links["first"] == f"{base}page%5Bnumber%5D=1&page%5Bsize%5D={size}"
        assert links["last"] == f"{base}page%5Bnumber%5D={pages}&page%5Bsize%5D={size}"
        assert (links["prev"] is None) == (number == 1) and (links["next"] is None) == (number == pages)
        assert all(r["type"] == "configurations" and isinstance(r["id"], str) for r in body["data"])
    assert len(bodies[-1]["data"]) == expected - size * (pages - 1)


def test_every_resource_is_served_whole(sandbox, api):
    counts = world_of(sandbox).expected_counts()
    for resource in ("organizations", "configurations", "contacts"):
        assert len(walk(api, resource)[0]) == counts[f"itglue_{resource}"]


def test_page_size_defaults_to_50_and_is_capped_at_1000(sandbox, api):
    body = api.get("/configurations").json()
    assert len(body["data"]) == min(50, len(world_of(sandbox).itglue["configurations"]))
    assert api.get("/configurations", params={"page[size]": 1000}).status_code == 200
    too_big = api.get("/configurations", params={"page[size]": 1001})
    assert too_big.status_code == 400 and too_big.json()["errors"]
    assert api.get("/configurations", params={"page[number]": 0}).status_code == 400


def test_filters_are_exact_and_filter_links_keep_them(sandbox, api):
    world = world_of(sandbox)
    some = world.itglue["configurations"][0]
    org_id = some["attributes"]["organization-id"]
    by_org, bodies = walk(api, "configurations", **{"filter[organization_id]": org_id, "page[size]": 2})
    assert sorted(r["id"] for r in by_org) == sorted(r["id"] for r in configurations(sandbox, **{"organization-id": org_id}))
    assert bodies[0]["meta"]["filters"] == {"organization_id": str(org_id)}
    assert "filter%5Borganization_id%5D=" in bodies[0]["links"]["self"]

    ids = [r["id"] for r in world.itglue["configurations"][:3]]
    assert sorted(r["id"] for r in walk(api, "configurations", **{"filter[id]": ",".join(ids)})[0]) == sorted(ids)

    name = some["attributes"]["name"]
    assert {r["id"] for r in walk(api, "configurations", **{"filter[name]": name})[0]} == {
        r["id"] for r in configurations(sandbox, name=name)}
    prefix = name[:-1]  # exact means exact: no prefix or wildcard matching
    assert {r["id"] for r in walk(api, "configurations", **{"filter[name]": prefix})[0]} == {
        r["id"] for r in configurations(sandbox, name=prefix)}

    archived = walk(api, "configurations", **{"filter[archived]": "true"})[0]
    assert {r["id"] for r in archived} == {r["id"] for r in configurations(sandbox, archived=True)}

    synced = walk(api, "configurations", **{"filter[psa_integration_type]": {"connectwise": "manage"}.get(
        world.psa, world.psa)})[0]
    assert {r["id"] for r in synced} == {r["id"] for r in world.itglue["configurations"]
                                         if r["attributes"]["psa-integration"] is not None}
    assert walk(api, "configurations", **{"filter[psa_integration_type]": "vorex"})[0] == []

    assert api.get("/configurations", params={"filter[color]": "blue"}).status_code == 400


def test_sorting_by_name_and_by_newest_update(api):
    by_name, _ = walk(api, "organizations", sort="name")
    names = [r["attributes"]["name"] for r in by_name]
    assert names == sorted(names)
    newest, _ = walk(api, "configurations", sort="-updated_at")
    stamps = [r["attributes"]["updated-at"] for r in newest]
    assert stamps == sorted(stamps, reverse=True)
    by_id, _ = walk(api, "configurations", sort="id")
    assert [int(r["id"]) for r in by_id] == sorted(int(r["id"]) for r in by_id)


def test_include_rmm_records_adds_relationships_and_included(sandbox, api):
    rmm = world_of(sandbox).itglue_rmm_records
    records, bodies = walk(api, "configurations", include="rmm_records")
    included = {(o["type"], o["id"]) for body in bodies for o in body["included"]}
    assert any(rmm.values()), "the world should have RMM-synced configurations"
    for record in records:
        refs = record["relationships"]["rmm-records"]["data"]
        assert [ref["id"] for ref in refs] == [str(o["id"]) for o in rmm.get(record["id"], [])]
        assert all((ref["type"], ref["id"]) in included for ref in refs)
    plain = api.get("/configurations").json()
    assert "included" not in plain and all("rmm-records" not in r.get("relationships", {}) for r in plain["data"])


def test_single_records_and_their_includes(sandbox, api):
    world = world_of(sandbox)
    config = world.itglue["configurations"][0]
    contact = world.itglue["contacts"][0]
    world.extra["itglue_related"] = {config["id"]: {"passwords": [{"id": "91", "type": "passwords",
                                                                   "attributes": {"name": "admin"}}]}}
    assert api.get(f"/organizations/{world.itglue['organizations'][0]['id']}").json()["data"]["type"] == "organizations"
    assert api.get(f"/contacts/{contact['id']}").json()["data"]["id"] == contact["id"]

    body = api.get(f"/configurations/{config['id']}", params={"include": "passwords,attachments,related_items"}).json()
    assert body["data"]["id"] == config["id"]
    assert body["data"]["relationships"]["passwords"]["data"] == [{"type": "passwords", "id": "91"}]
    assert body["data"]["relationships"]["attachments"]["data"] == []
    assert body["data"]["relationships"]["related-items"]["data"] == []
    assert body["included"] == [{"id": "91", "type": "passwords", "attributes": {"name": "admin"}}]

    missing = api.get("/configurations/999999999")
    assert missing.status_code == 404 and missing.json()["errors"][0]["status"] == 404


def test_quirk_slow_page_size_times_out_large_pages_only(sandbox, api):
    sandbox.sandbox.quirks["itglue.slow_page_size_above"] = 100
    slow = api.get("/configurations", params={"page[size]": 101})
    assert slow.status_code == 500
    assert slow.json() == {"errors": [{"detail": "The request took too long to process and timed out."}]}
    assert api.get("/configurations", params={"page[size]": 100}).status_code == 200


def test_quirk_malformed_page_cuts_the_body(sandbox, api):
    sandbox.sandbox.quirks["itglue.malformed_page"] = ("configurations", 2)
    params = {"page[size]": 5, "page[number]": 2}
    for _ in range(2):  # persistent without a count
        response = api.get("/configurations", params=params)
        assert response.status_code == 200
        with pytest.raises(ValueError):
            json.loads(response.content)
    assert api.get("/configurations", params={"page[size]": 5}).json()["data"]
    assert api.get("/contacts", params=params).json() is not None

    sandbox.sandbox.quirks["itglue.malformed_page"] = ("organizations", 1, 1)  # only the first answer is cut
    with pytest.raises(ValueError):
        api.get("/organizations").json()
    assert api.get("/organizations").json()["data"]


def test_quirk_lying_total_and_dropped_record_break_the_count_check(sandbox, api):
    expected = world_of(sandbox).expected_counts()["itglue_configurations"]
    sandbox.sandbox.quirks["itglue.lying_total"] = ("configurations", 3)
    records, bodies = walk(api, "configurations", **{"page[size]": 10})
    assert len(records) == expected and bodies[0]["meta"]["total-count"] == expected + 3
    assert bodies[0]["meta"]["total-pages"] == -(-expected // 10)  # pages still follow the real count

    sandbox.sandbox.quirks.pop("itglue.lying_total")
    sandbox.sandbox.quirks["itglue.drop_record"] = ("configurations", 1)
    records, bodies = walk(api, "configurations", **{"page[size]": 10})
    assert len(bodies[0]["data"]) == 9
    assert len(records) == expected - 1 and bodies[0]["meta"]["total-count"] == expected


def test_rate_limit_answers_429_without_retry_after_and_refills(sandbox, api):
    sandbox.sandbox.rate_limits["itglue"] = 5
    statuses = [api.get("/organizations").status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]
    throttled = api.get("/organizations")
    assert throttled.status_code == 429 and "retry-after" not in throttled.headers
    assert throttled.json()["errors"][0]["status"] == 429

    sandbox.sandbox.quirks["itglue.rate_window_seconds"] = 0.2
    time.sleep(0.25)
    assert api.get("/organizations").status_code == 200


def test_bulk_delete_applies_to_the_world_and_is_logged(sandbox, api):
    world = world_of(sandbox)
    before = len(world.itglue["configurations"])
    victims = [r["id"] for r in world.itglue["configurations"][:2]]

    refused = bulk(api, "DELETE", "configurations", victims, headers={"Content-Type": "application/json"})
    assert refused.status_code == 415
    assert len(world.itglue["configurations"]) == before

    response = bulk(api, "DELETE", "configurations", [int(victims[0]), victims[1], 999999999])
    assert response.status_code == 200
    assert [r["id"] for r in response.json()["data"]] == victims
    assert len(world.itglue["configurations"]) == before - 2
    for victim in victims:
        assert victim not in world.itglue_rmm_records
        assert api.get(f"/configurations/{victim}").status_code == 404
    assert api.get("/configurations").json()["meta"]["total-count"] == before - 2

    log = [(w.source, w.method, w.path, w.status) for w in sandbox.sandbox.writes]
    assert log == [("itglue", "DELETE", "/itglue/configurations", 415),
                   ("itglue", "DELETE", "/itglue/configurations", 200)]
    assert sandbox.sandbox.writes[-1].body["data"][0]["attributes"]["id"] == int(victims[0])
    assert sandbox.sandbox.requests["itglue DELETE /configurations"] == 2
    assert sandbox.sandbox.requests["itglue GET /configurations/{id}"] == 2


def test_deleting_an_organization_takes_its_items_along(sandbox, api):
    world = world_of(sandbox)
    org = world.itglue["organizations"][0]
    response = bulk(api, "DELETE", "organizations", [org["id"]])
    assert response.status_code == 200 and response.json()["data"][0]["id"] == org["id"]
    assert api.get(f"/organizations/{org['id']}").status_code == 404
    for resource in ("configurations", "contacts"):
        assert not [r for r in world.itglue[resource] if str(r["attributes"]["organization-id"]) == org["id"]]


def test_patch_refuses_edits_of_synced_items_but_archives_them(sandbox, api):
    synced = configurations(sandbox, **{"psa-integration": "enabled"})[0]
    path = f"/configurations/{synced['id']}"
    refused = send(api, "PATCH", path, "configurations", {"name": "renamed"})
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["detail"] == "Cannot update a synced resource"
    assert synced["attributes"]["name"] != "renamed"

    stamp = synced["attributes"]["updated-at"]
    archived = send(api, "PATCH", path, "configurations", {"archived": True})
    assert archived.status_code == 200 and archived.json()["data"]["attributes"]["archived"] is True
    assert api.get(path).json()["data"]["attributes"]["updated-at"] > stamp
    assert synced["id"] in {r["id"] for r in walk(api, "configurations", **{"filter[archived]": "true"})[0]}
    assert [w.status for w in sandbox.sandbox.writes] == [422, 200]

    contact = next(r for r in world_of(sandbox).itglue["contacts"] if r["attributes"]["psa-integration"] == "enabled")
    assert send(api, "PATCH", f"/contacts/{contact['id']}", "contacts", {"title": "CEO"}).status_code == 422
    assert send(api, "PATCH", f"/contacts/{contact['id']}", "contacts", {"archived": True}).status_code == 200


def test_patch_applies_edits_of_unsynced_items(sandbox, api):
    loose = configurations(sandbox, **{"psa-integration": None})[0]
    response = send(api, "PATCH", f"/configurations/{loose['id']}", "configurations", {"serial_number": "NEW-SERIAL"})
    assert response.status_code == 200
    assert api.get(f"/configurations/{loose['id']}").json()["data"]["attributes"]["serial-number"] == "NEW-SERIAL"
    assert send(api, "PATCH", f"/configurations/{loose['id']}", "configurations",
                {"psa-integration": "enabled"}).status_code == 422
    assert send(api, "PATCH", "/configurations/999999999", "configurations", {"archived": True}).status_code == 404


def test_post_restores_a_deleted_item_as_a_new_unsynced_record(sandbox, api):
    world = world_of(sandbox)
    original = configurations(sandbox, **{"psa-integration": "enabled"})[0]
    assert bulk(api, "DELETE", "configurations", [original["id"]]).status_code == 200
    created = send(api, "POST", "/configurations", "configurations", original["attributes"])
    assert created.status_code == 201
    record = created.json()["data"]
    assert record["id"] != original["id"] and record["attributes"]["psa-integration"] is None
    assert record["attributes"]["name"] == original["attributes"]["name"]
    assert api.get(f"/configurations/{record['id']}").status_code == 200
    assert any(r["id"] == record["id"] for r in world.itglue["configurations"])

    orphan = dict(original["attributes"], **{"organization-id": 999999999})
    assert send(api, "POST", "/configurations", "configurations", orphan).status_code == 422
    contact = send(api, "POST", "/contacts", "contacts", {"first_name": "Ada", "last_name": "Lovelace",
                                                          "organization_id": original["attributes"]["organization-id"]})
    assert contact.status_code == 201 and contact.json()["data"]["attributes"]["first-name"] == "Ada"
