"""The review page over HTTP (starlette's test client): the token and the page's own origin guard every change;
filters narrow the batch; excluding, dismissing and approving as a named approver work from the page's forms."""

import pytest
from cleanup_world import action_ids, plan_batch, store, tenant  # noqa: F401
from starlette.testclient import TestClient

from pipelines.cleanup import approval
from pipelines.cleanup import store as cleanup_store
from pipelines.review.page import ReviewApp, write_report

ORIGIN = "http://127.0.0.1:5555"


@pytest.fixture
def page(store, tmp_path):
    approvers = tmp_path / "approvers.toml"
    approvers.write_text('[approvers]\nana = "manager"\nbo = "editor"\n')
    review = ReviewApp(store, {"RECON_APPROVERS": str(approvers)})
    review.allow_port(5555)
    return review, TestClient(review.app, base_url=ORIGIN)


def test_the_token_and_the_origin_guard_the_page(page, store, tenant):
    review, client = page
    batch_id = plan_batch(store, tenant)
    assert client.get(f"/batch/{batch_id}").status_code == 403
    opened = client.get(f"/batch/{batch_id}?token={review.token}")
    assert opened.status_code == 200 and "DC01 at Contoso" in opened.text
    assert client.get(f"/batch/{batch_id}").status_code == 200  # the cookie carries the token from now on
    form = {"token": review.token, "by": "ana", "mode": "approve"}
    for headers in ({}, {"Origin": "http://evil.example"}, {"Origin": "null"}):
        refused = client.post(f"/batch/{batch_id}/approve", data=form, headers=headers, follow_redirects=False)
        assert refused.status_code == 403
    client.cookies.clear()
    wrong = client.post(f"/batch/{batch_id}/approve", data=form | {"token": "x"}, headers={"Origin": ORIGIN},
                        follow_redirects=False)
    assert wrong.status_code == 403
    with store.connect() as con:
        assert approval.approvals(con, batch_id) == []


def test_filter_dismiss_and_approve_the_filtered_part_as_a_manager(page, store, tenant):
    review, client = page
    batch_id = plan_batch(store, tenant)
    ids = action_ids(store, batch_id)
    client.get(f"/?token={review.token}")
    shown = client.get(f"/batch/{batch_id}?client=fabrikam")
    assert "6 of 11 actions (client fabrikam)" in shown.text and "Old Client" not in shown.text.split("shown-count")[1]
    assert "match weight" in shown.text or "<table class=\"evidence\">" in shown.text

    post = {"token": review.token, "scope_client": "fabrikam", "by": "ana"}
    dismissed = ids[("configuration", "111")]
    stranger = client.post(f"/action/{dismissed}/dismiss", headers={"Origin": ORIGIN},
                           data=post | {"by": "mallory", f"reason_{dismissed}": "keep this one"})
    assert "mallory is not in the approvers file" in stranger.text and "ana, bo may dismiss it" in stranger.text
    answer = client.post(f"/action/{dismissed}/dismiss", data=post | {f"reason_{dismissed}": "keep this one"},
                         headers={"Origin": ORIGIN})
    assert "Dismissed" in answer.text and answer.url.params["client"] == "fabrikam"
    excluded = ids[("configuration", "108")]
    too_low = client.post(f"/batch/{batch_id}/approve", data=post | {"by": "bo", "mode": "approve",
                                                                     "exclude": excluded}, headers={"Origin": ORIGIN})
    assert "bo is an editor; deleting orphans" in too_low.text and "ana" in too_low.text
    approved = client.post(f"/batch/{batch_id}/approve", data=post | {"mode": "approve", "exclude": excluded},
                           headers={"Origin": ORIGIN})
    assert "Approved 4 of 10 actions" in approved.text and "(manager)" in approved.text
    with store.connect() as con:
        found = approval.valid_approval(con, batch_id)
        approved_ids = {a["action_id"] for a in approval.approved_actions(cleanup_store.actions(con, batch_id),
                                                                         found.excluded_action_ids)}
        assert approved_ids == {ids[("configuration", s)] for s in ("106", "107", "110")} | {ids[("contact", "203")]}
        assert con.execute("SELECT apply_requested FROM cleanup.approval_intents").fetchall() == [(False,)]
    applied = client.post(f"/batch/{batch_id}/apply", data={"token": review.token}, headers={"Origin": ORIGIN})
    assert f"{found.approval_id} will be applied by the approval sensor" in applied.text
    with store.connect() as con:
        assert con.execute("SELECT apply_requested FROM cleanup.approval_intents").fetchall() == [(True,)]
        report = write_report(con, batch_id, store.path.parent / "review" / f"{batch_id}.html")
    text = report.read_text()
    assert "DC01 at Contoso" in text and "<form" not in text and "http" not in text.split("<body>")[0]
