"""Approvers by role: orphans take a manager or administrator to delete, everything else an editor or above; an
unknown name, a too-low role or a missing file is refused in one line saying who may approve."""

import pytest

from pipelines.cleanup import CleanupError
from pipelines.cleanup.roles import approvers_path, check, load

ORPHAN_DELETE = {"action_id": "B1-0001", "action": "delete", "cause": "psa_orphaned", "cluster_id": None}
ORPHAN_ARCHIVE = {"action_id": "B1-0002", "action": "archive", "cause": "psa_orphaned", "cluster_id": None}
DUPLICATE_DELETE = {"action_id": "B1-0003", "action": "delete", "cause": "pre_sync_existing", "cluster_id": "c1"}


@pytest.fixture
def approvers(tmp_path):
    path = tmp_path / "approvers.toml"
    path.write_text('[approvers]\nAna = "Manager"\nbo = "editor"\ncy = "administrator"\n')
    return load(path)


def test_roles_decide_who_may_approve_what(approvers):
    assert check(approvers, "bo", [DUPLICATE_DELETE, ORPHAN_ARCHIVE]) == "editor"
    assert check(approvers, "ana", [DUPLICATE_DELETE, ORPHAN_DELETE]) == "manager"  # names are case-insensitive
    assert check(approvers, "cy", [ORPHAN_DELETE]) == "administrator"
    with pytest.raises(CleanupError, match=r"^bo is an editor; deleting orphans \(B1-0001\) needs a manager or "
                                           r"administrator: ana, cy may approve this"):
        check(approvers, "bo", [DUPLICATE_DELETE, ORPHAN_DELETE])
    with pytest.raises(CleanupError, match=r"^dee is not in the approvers file .*: ana, bo, cy may approve this$"):
        check(approvers, "dee", [DUPLICATE_DELETE])


def test_a_missing_or_malformed_approvers_file_says_how_to_write_one(tmp_path):
    assert approvers_path({}, tmp_path / "warehouse.duckdb") == tmp_path / "approvers.toml"
    assert approvers_path({"RECON_APPROVERS": "/x/a.toml"}, tmp_path / "w.duckdb") == tmp_path.__class__("/x/a.toml")
    with pytest.raises(CleanupError, match=r"no approvers file at .*approvers.toml: create it .*\[approvers\]"):
        load(tmp_path / "approvers.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text('[approvers]\nana = "owner"\n')
    with pytest.raises(CleanupError, match="ana has role 'owner'; a role is one of editor, manager, administrator"):
        load(bad)
    bad.write_text("ana = manager")
    with pytest.raises(CleanupError, match="is not valid TOML"):
        load(bad)
