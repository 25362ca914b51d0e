"""Guard rails: a batch that would touch a large share of an entity's records, or too many records, needs a second look.

A mass re-creation (an integration that "added all devices again") or a linkage gone wrong shows up as a batch far
larger than a normal week's; such a batch cannot be approved without an explicit flag.
"""

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pipelines.settings import cleanup_max_actions, cleanup_max_share

DEFAULT_MAX_SHARE = 0.10
DEFAULT_MAX_ACTIONS = 200


@dataclass(frozen=True)
class GuardRails:
    max_share: float = DEFAULT_MAX_SHARE  # of an entity type's IT Glue records, per batch
    max_actions: int = DEFAULT_MAX_ACTIONS  # per batch, all entity types together

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "GuardRails":
        """RECON_CLEANUP_MAX_SHARE (0.10 = 10%) and RECON_CLEANUP_MAX_ACTIONS, else the defaults."""
        return cls(cleanup_max_share(env, DEFAULT_MAX_SHARE), cleanup_max_actions(env, DEFAULT_MAX_ACTIONS))

    def check(self, entity_types: Iterable[str], record_counts: Mapping[str, int]) -> list[str]:
        """Why a batch of actions on these entity types needs a second look; empty when it does not."""
        per_entity = Counter(entity_types)
        reasons = []
        total = sum(per_entity.values())
        if total > self.max_actions:
            reasons.append(f"{total} actions, more than the {self.max_actions} allowed per batch "
                           "(RECON_CLEANUP_MAX_ACTIONS)")
        for entity, n in sorted(per_entity.items()):
            records = record_counts.get(entity, 0)
            if records and n / records > self.max_share:
                reasons.append(f"{n} of {records} {entity} records ({n / records:.0%}), more than "
                               f"{self.max_share:.0%} (RECON_CLEANUP_MAX_SHARE)")
        return reasons


DEFAULT_MAX_JUMP = 0.5  # a rise of more than half against the last run
MIN_JUMP_RECORDS = 10  # ... and of at least this many records: 2 -> 4 duplicates is not a mass re-creation


def count_jumps(previous: Mapping[str, int], current: Mapping[str, int], max_jump: float = DEFAULT_MAX_JUMP
                ) -> list[str]:
    """Which counts (e.g. "configuration duplicates") rose too much since the previous run."""
    jumps = []
    for name, now in sorted(current.items()):
        before = previous.get(name)
        if before is None:
            continue
        if now - before >= MIN_JUMP_RECORDS and now > before * (1 + max_jump):
            jumps.append(f"{name}: {before} -> {now}")
    return jumps
