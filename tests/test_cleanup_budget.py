"""Planning within IT Glue's request budget, counted server-side by the sandbox over HTTP: candidates are fetched a page
of ids per request through the list endpoints, not one request each; related items, which only IT Glue's
single-record endpoint includes, are caught by apply, which archives such a record instead of deleting it."""

import asyncio

import dagster as dg
from cleanup_world import (  # noqa: F401
    action_ids,
    instance,
    itglue_config,
    launch_apply,
    outcomes,
    plan_batch,
    store,
    tenant,
    writes,
)

from pipelines.assets.cleanup import cleanup_batch
from pipelines.cleanup import approval
from pipelines.cleanup import store as cleanup_store
from pipelines.cleanup.itglue_api import client_from, fetch_many
from pipelines.resources import SourcesResource, WarehouseResource


def reads(tenant) -> dict[str, int]:
    return {k: n for k, n in tenant.sandbox.requests.items() if k.startswith("itglue GET")}


def test_planning_fetches_every_candidate_in_one_list_request_per_entity_type(store, tenant):
    batch_id = plan_batch(store, tenant)
    # 19 records concerned (survivors included): before, 19 single-record GETs; now one list request per type.
    assert reads(tenant) == {"itglue GET /organizations": 1, "itglue GET /configurations": 1,
                             "itglue GET /contacts": 1}
    with store.connect() as con:
        actions = {(a["entity_type"], a["source_id"]): a for a in cleanup_store.actions(con, batch_id)}
    # passwords and attachments still come with the list page: the copies carrying them are archived, named
    assert actions[("configuration", "104")]["action"] == "archive"
    assert actions[("configuration", "104")]["carries"] == ["password: Local admin"]
    assert actions[("configuration", "108")]["carries"] == ["attachment: nas-config.pdf"]
    assert "related items" in actions[("contact", "202")]["reason"]  # what the approval of a delete also covers


def test_many_ids_are_split_over_requests_and_missing_ones_read_as_gone(tenant):
    async def run():
        async with client_from(itglue_config(tenant)) as api:
            return await fetch_many(api, "configuration", ["101", "102", "103", "104", "105", "999"], per_request=4)

    fetched = asyncio.run(run())
    assert reads(tenant) == {"itglue GET /configurations": 2}
    assert [sid for sid, f in fetched.items() if f.gone] == ["999"]
    assert fetched["101"].documentation == ["password: DSRM"] and fetched["103"].documentation == []
    assert fetched["104"].updated_at and fetched["102"].attributes["name"] == "DC01"


def test_a_delete_that_carries_related_items_is_archived_when_applied(store, tenant, instance):
    related = tenant.sandbox.world.extra["itglue_related"]
    related["202"] = {"related_items": [{"id": "9100", "type": "related-items",
                                         "attributes": {"destination-name": "Onboarding checklist"}}]}
    batch_id = plan_batch(store, tenant)
    ids = action_ids(store, batch_id)
    with store.connect() as con:
        approval.approve(con, batch_id, "ana")
    assert launch_apply(store, tenant, instance, batch_id).success
    done = writes(tenant)
    assert ("PATCH", "/itglue/contacts/202", ()) in done
    assert ("DELETE", "/itglue/contacts", ("203",)) in done  # the other contact delete went ahead
    assert outcomes(store, batch_id)[ids[("contact", "202")]] == "done"
    assert next(r for r in tenant.sandbox.world.itglue["contacts"] if r["id"] == "202")["attributes"]["archived"]
    with store.connect() as con:
        message = con.execute("SELECT message FROM audit.action_log WHERE action_id = ? AND step = 'outcome'",
                              [ids[("contact", "202")]]).fetchall()[0][0]
    assert "Onboarding checklist" in message


def test_the_asset_records_the_requests_it_spent(store, tenant, instance):
    resources = {"warehouse": WarehouseResource(path=str(store.path)),
                 "sources": SourcesResource(env=tenant.env(("itglue",)) | {"RECON_CLEANUP_MAX_SHARE": "1"})}
    result = dg.materialize([cleanup_batch], resources=resources, instance=instance)
    metadata = result.asset_materializations_for_node("cleanup_batch")[0].metadata
    assert metadata["itglue/requests"].value == sum(reads(tenant).values()) == 3
    assert metadata["itglue/share_of_5_minute_budget"].value == 0.001
