"""One run at a time per warehouse: an exclusive lock on `<warehouse>.lock`, held for a whole run.

DuckDB's own lock only covers the moments a step has the file open; between steps a second run could open it and
swap some sources' raw tables while the first run swaps others. Every run (`msp-recon run`, `msp-recon apply`, runs the
UI or the sensor launch) takes this lock before its first step and keeps it to the end.

fcntl.flock rather than a lock library: the kernel drops the lock when the holder dies, even by kill -9, so a dead run
never leaves it behind, and the lock file itself says who holds it (pid, host, command, since when) for the one-line
refusal. The lock is re-entrant within a process: the runner takes it, and the run's warehouse resource takes it again.
"""

import fcntl
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path


class WarehouseBusy(Exception):
    """Another process runs on this warehouse; the message names it and says what to do."""


_held: dict[Path, list] = {}  # lock path -> [file object, depth]
_guard = threading.Lock()


def lock_path(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name + ".lock")


@contextmanager
def hold_warehouse(warehouse: Path, purpose: str, wait: Callable[[str], bool] | None = None) -> Iterator[None]:
    """Hold the warehouse's run lock for the block. Busy: raise WarehouseBusy, or with `wait`, call wait(message)
    every second until the lock is free (`wait` returns False to give up, which raises WarehouseBusy)."""
    path = lock_path(Path(warehouse).expanduser().resolve())
    with _guard:
        if path in _held:
            _held[path][1] += 1
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield
        finally:
            _release(path)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")  # noqa: SIM115 (kept open while held)
    try:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                message = busy_message(path)
                if wait is None or not wait(message):
                    raise WarehouseBusy(message) from None
                time.sleep(1)
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "purpose": purpose,
                                 "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])[:200],
                                 "since": datetime.now().astimezone().isoformat(timespec="seconds")}))
        handle.flush()
    except BaseException:
        handle.close()
        raise
    with _guard:
        _held[path] = [handle, 1]
    try:
        yield
    finally:
        _release(path)


def _release(path: Path) -> None:
    with _guard:
        entry = _held[path]
        entry[1] -= 1
        if entry[1]:
            return
        del _held[path]
    handle = entry[0]
    handle.seek(0)
    handle.truncate()  # the holder's details go with the lock
    fcntl.flock(handle, fcntl.LOCK_UN)
    handle.close()


def busy_message(path: Path) -> str:
    warehouse = path.with_name(path.name.removesuffix(".lock"))
    try:
        holder = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        holder = {}
    who = (f"process {holder['pid']} on {holder['host']} ({holder.get('purpose', 'a run')}, "
           f"`{holder.get('command', '?')}`, since {holder.get('since', '?')})") if holder.get("pid") else "another process"
    return (f"another run is using the warehouse {warehouse}: {who}; this one changed nothing. "
            "Wait for it to finish (the Dagster UI shows it), or stop it, then run again")
