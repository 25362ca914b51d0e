"""Files that hold audit data (the warehouse and its WAL, the published copy, the keys) are their owner's alone: 0600.

DuckDB creates its files (the database, `.wal`, a temporary copy) with the process's umask, 0644 on most machines,
so the code that opens them for writing does so under `owner_only()`, and fixes up files made before with
`make_private`.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

FILE_MODE = 0o600


@contextmanager
def owner_only() -> Iterator[None]:
    """Files created meanwhile get 0600, folders 0700 (umask 077); the previous umask comes back after."""
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


def make_private(*paths: Path) -> None:
    """chmod 600 each of `paths` that exists (and is ours to change)."""
    for path in paths:
        try:
            if path.exists() and path.stat().st_mode & 0o777 != FILE_MODE:
                os.chmod(path, FILE_MODE)
        except PermissionError:
            pass  # someone else's file: the warehouse's owner has to fix it
