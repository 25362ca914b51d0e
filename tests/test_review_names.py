"""Names everywhere: every action names its client and says what it is about, with a link; `show` summarises and
filters, and never prints "None" where a link or a name belongs."""

from cleanup_world import action_ids, plan_batch, store, tenant  # noqa: F401

from pipelines.cleanup import store as cleanup_store
from pipelines.cleanup.report import show_lines
from pipelines.review.summary import Filters


def test_every_action_names_its_client_and_says_what_it_is_about(store, tenant):
    batch_id = plan_batch(store, tenant)
    with store.connect() as con:
        actions = {(a["entity_type"], a["source_id"]): a for a in cleanup_store.actions(con, batch_id)}
    dc01 = actions[("configuration", "102")]
    assert (dc01["organization_name"], dc01["organization_itglue_id"]) == ("Contoso", "1")
    assert dc01["subject"] == "DC01 at Contoso"
    assert actions[("contact", "203")]["subject"] == "Bob Smith at Fabrikam"
    assert actions[("organization", "3")]["subject"] == "organization Contoso Inc"
    for a in actions.values():
        assert a["organization_name"] and a["resource_url"], a
        assert "None" not in (a["instructions"] or "") and "None" not in a["reason"], a


def test_show_starts_with_a_summary_and_filters(store, tenant):
    batch_id = plan_batch(store, tenant)
    with store.connect() as con:
        everything = show_lines(con, batch_id)
        fabrikam = show_lines(con, batch_id, Filters(client="fabri"))
        orphan_deletes = show_lines(con, batch_id, Filters(action="delete", cause="psa_orphaned"))
    summary = "\n".join(everything[:6])
    assert "per client:      Fabrikam 6, Contoso 3, Contoso Inc 1, Old Client 1" in summary
    assert "per action:      delete 6, archive 2," in summary and "per entity type: configuration 7, contact 2" in summary
    assert not any("None" in line for line in everything)
    ids = action_ids(store, batch_id)
    listed = [line.split()[0] for line in fabrikam if line.startswith(batch_id + "-")]
    assert sorted(listed) == sorted(ids[k] for k in [("configuration", s) for s in ("106", "107", "108", "110", "111")]
                                    + [("contact", "203")])
    assert all("at Fabrikam" in line for line in fabrikam if line.startswith(batch_id + "-"))
    deletes = [line for line in orphan_deletes if line.startswith(batch_id + "-")]
    assert {line.split()[0] for line in deletes} == {ids[("organization", "4")], ids[("configuration", "107")],
                                                      ids[("contact", "203")]}


def test_show_reads_the_published_copy_while_a_run_holds_the_warehouse(store, tenant, tmp_path):
    import os
    import subprocess
    import sys

    import duckdb

    from pipelines.publish import publish

    batch_id = plan_batch(store, tenant)
    copy = publish(store, tmp_path / "published.duckdb").path
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ITGLUE_", "RECON_", "DAGSTER_"))}
    env |= {"RECON_WAREHOUSE": str(store.path), "RECON_PUBLISHED": str(copy)}
    with duckdb.connect(str(store.path)):  # a run holds the warehouse
        shown = subprocess.run([sys.executable, "-m", "pipelines.cli", "show", batch_id, "--client", "contoso"],
                               env=env, capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    assert "reading the published copy" in shown.stderr and "DC01 at Contoso" in shown.stdout
