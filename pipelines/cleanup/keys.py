"""The keys cleanup keeps outside the warehouse: one signs approvals, one encrypts the secret values of snapshots.

Whoever can write the warehouse (an SQL session, a notebook) can compute any plain hash in SQL, so an approval is only
a person's if it carries an HMAC under a key the warehouse does not hold; and a snapshot's passwords, OTP secrets and
tokens are only safe in the warehouse (and its published copy) if they are not there in the clear.

Where: `RECON_KEY_DIR`, else `keys/` beside the warehouse file (`<warehouse folder>/keys/`, never inside the database).
Both keys are created on first use: the folder mode 0700, each file mode 0600; a key file others can read is refused.
Losing `approval.key` voids every approval not yet applied (approve again); losing `snapshot.key` loses the secret
values of past snapshots, nothing else. Back them up as you back up the warehouse, but apart from it.
"""

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path
from typing import Any

import duckdb
from cryptography.fernet import Fernet

from pipelines.cleanup import CleanupError
from pipelines.settings import environment

KEY_DIR_VARIABLE = "RECON_KEY_DIR"
APPROVAL_KEY = "approval.key"   # 32 random bytes, hex: HMAC-SHA256 over each approval
SNAPSHOT_KEY = "snapshot.key"   # a Fernet key: secret values in audit.snapshots


def key_dir(warehouse: Path | None, settings: dict[str, str] | None = None) -> Path:
    configured = (settings if settings is not None else environment()).get(KEY_DIR_VARIABLE)
    if configured:
        return Path(configured).expanduser().resolve()
    if warehouse is None:
        raise CleanupError(f"an in-memory warehouse has no folder for its keys: set {KEY_DIR_VARIABLE}")
    return Path(warehouse).expanduser().resolve().parent / "keys"


def key_dir_of(con: duckdb.DuckDBPyConnection) -> Path:
    """The key folder of the warehouse this connection has open; for a published copy (which may live elsewhere,
    RECON_PUBLISHED), of the warehouse it was published from (about.publication), so its approvals read the same."""
    path = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchall()
    warehouse = Path(path[0][0]) if path and path[0][0] else None
    published_from = con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
                                 "AND schema_name = 'about' AND table_name = 'publication'").fetchall()[0][0]
    if published_from:
        found = con.execute("SELECT warehouse FROM about.publication LIMIT 1").fetchall()
        warehouse = Path(found[0][0]) if found and found[0][0] else warehouse
    return key_dir(warehouse)


def read_key(directory: Path, name: str, create: bool) -> bytes | None:
    """The key `name` in `directory`; made (0600, in a 0700 folder) when missing and `create`, else None."""
    path = directory / name
    if not path.exists():
        if not create:
            return None
        fresh = Fernet.generate_key() if name == SNAPSHOT_KEY else secrets.token_hex(32).encode()
        try:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(directory, 0o700)
            # O_EXCL: two processes creating it at once keep one key, the first one's
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return read_key(directory, name, create=False)
        except OSError as exc:
            raise CleanupError(f"cannot create the key {path} ({exc.strerror}): set {KEY_DIR_VARIABLE} to a folder "
                               "msp-recon may write") from None
        with os.fdopen(fd, "wb") as out:
            out.write(fresh)
        return fresh
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise CleanupError(f"the key {path} is readable by other users (mode {mode:o}): chmod 600 {path}")
    key = path.read_bytes().strip()
    if not key:
        raise CleanupError(f"the key {path} is empty: restore it from a backup (or delete it to make a new one, which "
                           "voids what the old one signed or encrypted)")
    return key


def approval_key(con: duckdb.DuckDBPyConnection, create: bool = False) -> bytes | None:
    return read_key(key_dir_of(con), APPROVAL_KEY, create)


def snapshot_cipher(con: duckdb.DuckDBPyConnection, create: bool = False) -> Fernet | None:
    directory = key_dir_of(con)
    key = read_key(directory, SNAPSHOT_KEY, create)
    try:
        return Fernet(key) if key else None
    except ValueError:
        raise CleanupError(f"the key {directory / SNAPSHOT_KEY} is not a snapshot key (Fernet): restore it from a "
                           "backup") from None


def sign(key: bytes, payload: dict[str, Any]) -> str:
    """HMAC-SHA256 (hex) under `key` of `payload` as canonical JSON (sorted keys, no spaces): what an approval, an apply
    intent and a decision are sealed with."""
    message = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def verifies(con: duckdb.DuckDBPyConnection, payload: dict[str, Any], signature: str | None) -> bool:
    """Was `payload` signed with this installation's approval key? False without a key or a signature."""
    key = approval_key(con)
    return key is not None and bool(signature) and hmac.compare_digest(sign(key, payload), signature)


def sign_with_approval_key(con: duckdb.DuckDBPyConnection, payload: dict[str, Any]) -> str:
    """Sign `payload` with the approval key (made on first use)."""
    return sign(approval_key(con, create=True), payload)
