"""A sandbox tenant for a chosen PSA and RMMs: the generated world, then each chosen system's own view of it.

The generator renders the PSA records as Autotask and ConnectWise and the devices as Datto RMM and NinjaOne. Other
systems are views of that same world, rendered by their sandbox api module (`pipelines/sandbox/api/<system>.py`)
through its `adapt(world)`: a PSA renders the PSA records in its shape, an RMM takes the place of one the generator
renders (`REPLACES`, its devices and sites under its own ids). `adapt` also rewrites what the other systems say about
it (IT Glue's RMM records, the PSA's RMM links) and the ground truth, so the World stays one consistent tenant.
"""

from pipelines.sandbox.server import protocols
from pipelines.sandbox.world import World
from pipelines.sandbox.world import build_world as generate_world

NATIVE_PSAS = ("autotask", "connectwise")
NATIVE_RMMS = ("datto_rmm", "ninjaone")


def build_world(seed: int = 7, scale: int = 60, psa: str = "autotask",
                rmms: tuple[str, ...] = NATIVE_RMMS, difficulty: str | float = "standard", **options) -> World:
    """The tenant served with `psa` as the PSA IT Glue syncs with and `rmms` as its RMMs (`options`, such as
    `weeks_ago`, go to `world.build_world`)."""
    adapters = [protocols()[name] for name in (*rmms, psa) if name not in (*NATIVE_PSAS, *NATIVE_RMMS)]
    replaced = [a.REPLACES for a in adapters if getattr(a, "REPLACES", None)]
    clash = sorted(set(replaced) & set(rmms)) or sorted({r for r in replaced if replaced.count(r) > 1})
    if clash:
        takers = [a.SYSTEM for a in adapters if getattr(a, "REPLACES", None) in clash]
        raise ValueError(f"{', '.join(takers)} and {', '.join(clash)} are one RMM slot of the sandbox tenant: "
                         "choose one of them")
    # The generator renders the native RMMs the chosen ones are or stand in for.
    native = {r for r in rmms if r in NATIVE_RMMS} | set(replaced)
    rmm = native.pop() if len(native) == 1 else "both"
    world = generate_world(seed=seed, scale=scale, psa=psa if psa in NATIVE_PSAS else "autotask",
                           difficulty=difficulty, rmm=rmm, **options)
    # RMMs first: a PSA view takes its RMM links from whichever RMM serves the devices.
    for adapter in adapters:
        adapter.adapt(world)
    world.psa = psa
    return world


def expected_counts(world: World) -> dict[str, int]:
    """Rows a full extraction of each raw table yields, the adapted systems' tables included."""
    counts = world.expected_counts()
    for name in world.systems:
        counts.update(protocols()[name].expected_counts(world))
    return counts
