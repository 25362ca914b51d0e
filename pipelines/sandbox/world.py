"""The sandbox tenant: `build_world` is the entry point; `World` and `Truth` (in `model.py`) are what it returns.

The world is generated once per (seed, scale, difficulty) by `generator.generate`. Every source's records are kept in
that vendor's own wire shape, so the protocol servers in `api/` only page and filter them; the ground truth says
which records are one real thing, which were planted as duplicates and why, and which are orphans.
"""

from pipelines.sandbox.generator import generate
from pipelines.sandbox.model import Record, Truth, World
from pipelines.sandbox.variation import DIFFICULTIES

__all__ = ["DIFFICULTIES", "PRESETS", "Record", "Truth", "World", "build_world"]

# Named tenants: `build_world(**PRESETS[name], psa=..., rmm=...)`.
PRESETS = {
    # Small but hard: every cause, orphan reason and variation, linked over HTTP in about a minute (a CI floor test).
    # Seed 101 is a tuning seed (benchmarks/README.md): CI guards against regressions, the reported seeds measure.
    "ci-hard": {"seed": 101, "scale": 32, "difficulty": "hard"},
}


def build_world(seed: int = 7, scale: int = 60, psa: str = "autotask", difficulty: str | float = "standard",
                rmm: str = "both", weeks_ago: int = 0) -> World:
    """A seeded tenant of `scale` client organizations (tens to tens of thousands).

    `difficulty`: "standard" (the tenant as it always was), "hard" (names, serials and stories vary as in real
    tenants, at rates drawn per tenant), or a number from 0 to 1 between them. `rmm`: which RMMs the MSP runs
    ("both", "datto_rmm" or "ninjaone"). `weeks_ago`: the PSA as a weekly run that many weeks ago saw it (records
    deleted since still there; everything else, the truth included, today's), to give a run its history."""
    return generate(seed=seed, scale=scale, psa=psa, difficulty=difficulty, rmm=rmm, weeks_ago=weeks_ago)
