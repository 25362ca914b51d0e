"""A seeded, deterministic MSP tenant with ground truth: the sandbox's world.

The real things come first (`tenant`: clients, devices, people, and what happened to each), then each system's view
of them: the PSA (`psa_view`, rendered as ConnectWise and Autotask), the RMMs (`rmm_view`: Datto RMM, NinjaOne) and
IT Glue (`itglue_view`), and finally the ground truth (`ground_truth`). One `random.Random(seed)` drives it all, so
a (seed, scale) pair always yields the same world; `psa` only says which PSA IT Glue syncs with. `difficulty` turns on
the variation of real tenants (`variation`), which has its own random stream; `rmm` says which RMMs the MSP runs.
"""

import gc

from pipelines.sandbox import psa_view
from pipelines.sandbox.ground_truth import build_truth
from pipelines.sandbox.itglue_view import (
    build_itglue,
    render_config,
    render_contact,
    render_org,
    render_rmm_records,
)
from pipelines.sandbox.model import World
from pipelines.sandbox.rmm_view import assign_rmm_ids, build_datto, build_ninja
from pipelines.sandbox.tenant import (
    CAUSES,
    CLIENT_RATES,
    DAY,
    DEVICE_RATES,
    LAST_PSA_SYNC,
    NOW,
    ORPHAN_REASONS,
    PERSON_RATES,
    TenantRandom,
    build_tenant,
)
from pipelines.sandbox.variation import variation_for

PSAS = ("autotask", "connectwise")


def generate(seed: int, scale: int, psa: str = "autotask", difficulty: str | float = "standard",
             rmm: str = "both", weeks_ago: int = 0) -> World:
    """A tenant of `scale` client organizations (tens to tens of thousands), its systems' records and ground truth.

    About 20 devices and 8 people per client; scale 2500 gives about 54,000 IT Glue configurations. `weeks_ago`: the
    PSA as an earlier weekly run saw it (records deleted since were still there), for runs that need a history; the
    other systems and the truth are today's.
    """
    if psa not in PSAS:
        raise ValueError(f"psa must be one of {', '.join(PSAS)}, not {psa!r}")
    if scale < 1:
        raise ValueError(f"scale must be at least 1 client organization, not {scale}")
    variation = variation_for(seed, difficulty, rmm)
    if weeks_ago < 0:
        raise ValueError(f"weeks_ago must be 0 or more, not {weeks_ago}")
    # Hundreds of thousands of small dicts and no cycles among them: the cyclic GC would only rescan them.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _generate(seed, scale, psa, variation, weeks_ago)
    finally:
        if was_enabled:
            gc.enable()


def _generate(seed: int, scale: int, psa: str, variation, weeks_ago: int = 0) -> World:
    rng = TenantRandom(seed)
    tenant = build_tenant(rng, scale, variation)
    assign_rmm_ids(rng, tenant)
    records = psa_view.build_psa(rng, tenant)
    connectwise, autotask = psa_view.render(records, as_of=NOW - weeks_ago * 7 * DAY)
    datto, site_of = build_datto(rng, tenant, records)
    ninja, ninja_org_of = build_ninja(rng, tenant)
    glue = build_itglue(rng, tenant, records)
    itglue = {
        "organizations": [render_org(o) for o in glue.orgs],
        "configurations": [render_config(g) for g in glue.configs],
        "contacts": [render_contact(k) for k in glue.contacts],
    }
    rmm_records = render_rmm_records(rng, glue, tenant.variation.timeline.rmm_direct_start)
    truth = build_truth(tenant, records, datto, site_of, ninja, ninja_org_of, glue)
    extra = {
        "now": psa_view.iso_ms(NOW),
        "last_psa_sync": psa_view.iso_ms(LAST_PSA_SYNC),
        "causes": CAUSES,
        "orphan_reasons": ORPHAN_REASONS,
        "rates": {"client": CLIENT_RATES, "device": DEVICE_RATES, "person": PERSON_RATES},
        "msp_itglue_org_id": str(glue.main_org[0].id),
        "difficulty": variation.level,
        "timeline": {k: psa_view.iso_ms(getattr(variation.timeline, k)) for k in
                     ("rmm_direct_start", "psa_sync_start", "rmm_switch")},
        "rmm": variation.rmm,
        "weeks_ago": weeks_ago,
    }
    if variation.on:
        extra["rates"]["this_tenant"] = dict(sorted(variation.used.items()))
    return World(seed=seed, scale=scale, psa=psa, itglue=itglue, itglue_rmm_records=rmm_records,
                 connectwise=connectwise, autotask=autotask, datto_rmm=datto, ninjaone=ninja, truth=truth,
                 extra=extra)


def expected_counts(world: World) -> dict[str, int]:
    """Rows a full extraction of each raw table yields (`raw.<source>_<resource>`)."""
    return world.expected_counts()
