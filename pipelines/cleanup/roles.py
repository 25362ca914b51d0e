"""Approvers by role, as IT Glue has them: deleting orphans takes a Manager or Administrator (IT Glue lists orphans for
those roles only); other deletes and archives, and the steps for a person, take an Editor or above.

The approvers file is TOML, at RECON_APPROVERS or, by default, `approvers.toml` beside the warehouse:

    [approvers]
    ana = "manager"
    bo = "editor"
"""

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.cleanup import CleanupError

ROLES = ("editor", "manager", "administrator")  # lowest first
ORPHAN_REASONS = ("psa_orphaned", "psa_record_deleted", "rmm_device_deleted")
DELETES = ("delete", "disable_sync_then_delete")
ENV_VAR = "RECON_APPROVERS"
EXAMPLE = '[approvers]\nana = "manager"\nbo = "editor"'


@dataclass(frozen=True)
class Approvers:
    path: Path
    roles: dict[str, str]  # name (lower case) -> role

    def role_of(self, name: str) -> str | None:
        return self.roles.get(name.strip().lower())

    def holding(self, role: str) -> list[str]:
        """Names whose role is `role` or above."""
        return sorted(n for n, r in self.roles.items() if ROLES.index(r) >= ROLES.index(role))


def approvers_path(env: Mapping[str, str], warehouse: Path) -> Path:
    configured = env.get(ENV_VAR)
    return Path(configured).expanduser() if configured else warehouse.parent / "approvers.toml"


def load(path: Path) -> Approvers:
    """The approvers file; CleanupError (one line, saying how to fix it) when it is missing or malformed."""
    if not path.exists():
        raise CleanupError(f"no approvers file at {path}: create it with the people who may approve and their IT Glue "
                           f"role, e.g. printf '{EXAMPLE.replace(chr(10), chr(92) + 'n')}\\n' > {path} "
                           f"(roles: {', '.join(ROLES)}; {ENV_VAR} points elsewhere)")
    try:
        document = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CleanupError(f"{path} is not valid TOML ({exc}); expected e.g. {EXAMPLE!r}") from None
    table = document.get("approvers")
    if not isinstance(table, dict) or not table:
        raise CleanupError(f"{path} has no [approvers] table naming anyone; expected e.g. {EXAMPLE!r}")
    roles = {}
    for name, role in table.items():
        if not isinstance(role, str) or role.strip().lower() not in ROLES:
            raise CleanupError(f"{path}: {name} has role {role!r}; a role is one of {', '.join(ROLES)}")
        roles[name.strip().lower()] = role.strip().lower()
    return Approvers(path, roles)


def required_role(actions: Iterable[Mapping[str, Any]]) -> tuple[str, list[str]]:
    """The lowest role that may approve these actions, and the actions that need it."""
    orphan_deletes = [a["action_id"] for a in actions
                      if a["action"] in DELETES and a.get("cause") in ORPHAN_REASONS and not a.get("cluster_id")]
    return ("manager", orphan_deletes) if orphan_deletes else ("editor", [])


def check(approvers: Approvers, name: str, actions: list[Mapping[str, Any]]) -> str:
    """The approver's role when it may approve `actions`; else CleanupError saying who may."""
    needed, because = required_role(actions)
    role = approvers.role_of(name)
    may = ", ".join(approvers.holding(needed)) or f"nobody yet (add a {needed} to {approvers.path})"
    what = (f"deleting orphans ({_few(because)}) needs a manager or administrator" if needed == "manager"
            else "deletes and archives need an editor, manager or administrator")
    if role is None:
        raise CleanupError(f"{name} is not in the approvers file {approvers.path}; {what}: {may} may approve this")
    if ROLES.index(role) < ROLES.index(needed):
        raise CleanupError(f"{name} is an {role}; {what}: {may} may approve this "
                           "(or leave those actions out with --exclude)")
    return role


def check_dismisser(approvers: Approvers, name: str) -> str:
    """The role of `name` when it may dismiss an action (editor or above, as for approving); else CleanupError saying
    who may."""
    role = approvers.role_of(name)
    if role is None:
        may = ", ".join(approvers.holding("editor")) or f"nobody yet (add an editor to {approvers.path})"
        raise CleanupError(f"{name} is not in the approvers file {approvers.path}; dismissing an action needs an "
                           f"editor, manager or administrator: {may} may dismiss it")
    return role


def _few(ids: list[str], n: int = 3) -> str:
    return ", ".join(ids[:n]) + (f" and {len(ids) - n} more" if len(ids) > n else "")
