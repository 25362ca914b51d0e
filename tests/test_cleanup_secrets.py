"""Secrets are never stored in the clear: after `msp-recon apply` (a real Dagster run in DAGSTER_HOME, then publish) of
a batch that deletes and archives records carrying passwords with OTP secrets, and a `msp-recon restore`, no password
value, OTP secret or API key is in any table or column of the warehouse or the published copy, in any file under
DAGSTER_HOME or in what the commands printed; the snapshot still holds what restore needs, its secret values
encrypted; files holding audit data are 0600."""

import os
import stat
import subprocess
import sys

import duckdb
from cleanup_world import SECRET_VALUES, action_ids, outcomes, plan_batch, store, tenant, writes  # noqa: F401

from pipelines.cleanup import approval, keys
from pipelines.cleanup import store as cleanup_store
from pipelines.read_only import readonly_connect
from pipelines.sandbox.server import CREDENTIALS


def cli(store, tenant, tmp_path, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ITGLUE_", "RECON_", "DAGSTER_"))}
    env |= tenant.env(("itglue",)) | {"RECON_WAREHOUSE": str(store.path), "DAGSTER_HOME": str(tmp_path / "dh")}
    done = subprocess.run([sys.executable, "-m", "pipelines.cli", *args], env=env, capture_output=True, text=True,
                          timeout=240)
    logs = tmp_path / "logs"
    logs.mkdir(exist_ok=True)
    (logs / f"{args[0]}.out").write_text(done.stdout)
    (logs / f"{args[0]}.err").write_text(done.stderr)
    return done


def every_value(path) -> str:
    """Every value of every table and view of a DuckDB file, as text."""
    parts = []
    with readonly_connect(path) as con:
        for schema, name in con.execute("SELECT schema_name, table_name FROM duckdb_tables() UNION ALL "
                                        "SELECT schema_name, view_name FROM duckdb_views() WHERE NOT internal"
                                        ).fetchall():
            parts += [repr(row) for row in con.execute(f'SELECT * FROM "{schema}"."{name}"').fetchall()]
    return "\n".join(parts)


def test_no_secret_is_stored_in_the_clear_and_restore_keeps_what_it_needs(store, tenant, tmp_path):
    batch_id = plan_batch(store, tenant)
    with store.connect() as con:
        approval.approve(con, batch_id, "ana")
    ids = action_ids(store, batch_id)
    applied = cli(store, tenant, tmp_path, "apply", batch_id)
    assert applied.returncode == 0, applied.stderr
    assert ("DELETE", "/itglue/configurations", ("102", "107", "111")) in writes(tenant)
    assert ("PATCH", "/itglue/configurations/104", ()) in writes(tenant)
    deleted = ids[("configuration", "102")]
    assert outcomes(store, batch_id)[deleted] == "done"
    restored = cli(store, tenant, tmp_path, "restore", deleted)
    assert restored.returncode == 0, restored.stderr

    published = store.path.parent / "published.duckdb"
    secrets = [*SECRET_VALUES, CREDENTIALS["ITGLUE_API_KEY"]]
    warehouse_text, published_text = every_value(store.path), every_value(published)
    assert "Local admin" in warehouse_text and "Local admin" in published_text  # the snapshots are there...
    for secret in secrets:  # ... without a secret in them
        assert secret not in warehouse_text, secret
        assert secret not in published_text, secret
    files = [p for p in tmp_path.rglob("*") if p.is_file() and p.parent.name != "keys"]
    assert any(p.is_relative_to(tmp_path / "dh") for p in files)
    for path in files:  # DuckDB compresses strings, so the tables above are the real check; the bytes are a second
        data = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in data, (secret, path)

    assert "secret values (passwords, OTP secrets) are kept encrypted under" in restored.stdout
    with readonly_connect(published) as con:  # the copy does not even hold them encrypted
        columns = {c for (c,) in con.execute("SELECT column_name FROM information_schema.columns "
                                             "WHERE table_schema = 'audit' AND table_name = 'snapshots'").fetchall()}
    assert "record_json" in columns and "secrets_encrypted" not in columns

    with store.connect() as con:  # restore's copy: the record as IT Glue sent it, passwords and all
        saved = cleanup_store.snapshot_document(con, ids[("configuration", "104")])
        stored = cleanup_store.snapshot(con, ids[("configuration", "104")])
        key_folder = keys.key_dir_of(con)
    password = next(i for i in saved.document["included"] if i["type"] == "passwords")["attributes"]
    assert saved.secrets_restored and saved.secrets_count == 2
    assert (password["password"], password["otp-secret"]) == ("Local-admin-pw-104!", "KRSXG5CTMVRXEZLU")
    assert '"password":"[encrypted]"' in stored and '"username":"administrator"' in stored

    private = [store.path, published, key_folder / keys.APPROVAL_KEY, key_folder / keys.SNAPSHOT_KEY]
    private += [p for p in (store.path.parent / f"{store.path.name}.wal",) if p.exists()]
    for path in private:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(key_folder.stat().st_mode) == 0o700


def test_without_the_snapshot_key_restore_says_the_secrets_are_left_out(store, tenant, tmp_path):
    batch_id = plan_batch(store, tenant)
    with store.connect() as con:
        approval.approve(con, batch_id, "ana")
    assert cli(store, tenant, tmp_path, "apply", batch_id).returncode == 0
    deleted = action_ids(store, batch_id)[("configuration", "102")]
    with store.connect() as con:
        (keys.key_dir_of(con) / keys.SNAPSHOT_KEY).unlink()
    restored = cli(store, tenant, tmp_path, "restore", deleted)
    assert restored.returncode == 0, restored.stderr
    assert "cannot decrypt them (missing, or another installation's): they are left out" in restored.stdout
    with duckdb.connect(str(store.path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM audit.action_log WHERE action_id = ? AND step = 'restore'",
                           [deleted]).fetchall()[0][0] == 1


def test_what_counts_as_a_secret_and_what_is_kept_for_a_person():
    from pipelines.cleanup.snapshot_secrets import is_secret_name, merge, split

    for name in ("password", "otp-secret", "otpSecret", "api_key", "apiKey", "access-token", "client_secret",
                 "private-key", "passwd", "totp"):
        assert is_secret_name(name), name
    for name in ("name", "username", "url", "password-updated-at", "password-category-name", "otp-enabled",
                 "resource-url", "notes"):
        assert not is_secret_name(name), name
    document = {"data": {"relationships": {"passwords": {"data": [{"id": "1"}]}}},
                "included": [{"attributes": {"name": "DSRM", "password": "p", "otp-secret": "o", "otp": {"secret": "s"}}}]}
    redacted, values = split(document)
    assert redacted["data"] == document["data"]  # relationships are structure, not secrets
    assert redacted["included"][0]["attributes"] == {"name": "DSRM", "password": "[encrypted]",
                                                     "otp-secret": "[encrypted]", "otp": {"secret": "[encrypted]"}}
    assert merge(redacted, values) == document
