"""Restore works for every record apply touched, including a DELETE that IT Glue carried out but apply never recorded
because it died between sending the call and logging the answer: the intent is logged first, the resumed run records
the record `done` (deleted by us), and restore re-creates it from its snapshot."""

import asyncio

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

from pipelines.cleanup import approval
from pipelines.cleanup.apply import apply_batch
from pipelines.cleanup.itglue_api import client_from
from pipelines.cleanup.restore import restore_action


class Died(BaseException):
    """The process dying: not an Exception, so nothing in apply catches it or logs after it."""


def apply_until_the_first_delete_is_sent(store, tenant, batch_id):
    async def run(con):
        async with client_from(itglue_config(tenant)) as api:
            send = api.request

            async def request(method, path, **kwargs):
                response = await send(method, path, **kwargs)
                if method == "DELETE":  # IT Glue has deleted the records; the answer never reaches the log
                    raise Died()
                return response

            api.request = request
            await apply_batch(con, api, batch_id)

    with store.connect() as con:
        try:
            asyncio.run(run(con))
        except Died:
            pass


def test_a_delete_sent_before_a_crash_is_logged_done_and_can_be_restored(store, tenant, instance):
    batch_id = plan_batch(store, tenant)
    with store.connect() as con:
        approval.approve(con, batch_id, "ana")
    ids = action_ids(store, batch_id)
    contacts = [ids[("contact", "202")], ids[("contact", "203")]]

    apply_until_the_first_delete_is_sent(store, tenant, batch_id)
    assert ("DELETE", "/itglue/contacts", ("202", "203")) in writes(tenant)
    assert not {"202", "203"} & {r["id"] for r in tenant.sandbox.world.itglue["contacts"]}
    assert not set(contacts) & set(outcomes(store, batch_id))  # sent, never recorded
    with store.connect() as con:  # ... but its intent was, before the call
        intents = con.execute("SELECT action_id, http_method FROM audit.action_log WHERE step = 'attempt' "
                              "AND action_id IN (?, ?)", contacts).fetchall()
    assert sorted(intents) == sorted((a, "DELETE") for a in contacts)

    resumed = launch_apply(store, tenant, instance, batch_id)
    assert resumed.success, resumed.failures
    assert [w for w in writes(tenant) if w[1] == "/itglue/contacts"] == [("DELETE", "/itglue/contacts", ("202", "203"))]
    final = outcomes(store, batch_id)
    assert final[contacts[0]] == final[contacts[1]] == "done"

    async def restore(action_id):
        with store.connect() as con:
            async with client_from(itglue_config(tenant)) as api:
                return await restore_action(con, api, action_id)

    for action_id, last_name in zip(contacts, ("Doe", "Smith"), strict=True):
        restored = asyncio.run(restore(action_id))
        copy = next(r for r in tenant.sandbox.world.itglue["contacts"] if r["id"] == restored.new_id)
        assert copy["attributes"]["last-name"] == last_name
