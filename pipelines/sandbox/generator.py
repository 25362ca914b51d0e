"""A seeded, deterministic MSP tenant with ground truth: the sandbox's world.

The real things come first (`tenant`: clients, devices, people, and what happened to each), then each system's view
of them: the PSA (`psa_view`, rendered as ConnectWise and Autotask), the RMMs (`rmm_view`: Datto RMM, NinjaOne) and
IT Glue (`itglue_view`), and finally the ground truth (`ground_truth`). One `random.Random(seed)` drives it all, so
a (seed, scale) pair always yields the same world; `psa` only says which PSA IT Glue syncs with.
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
from pipelines.sandbox.rmm_view import assign_rmm_ids, build_datto, build_ninja
from pipelines.sandbox.tenant import (
    CAUSES,
    CLIENT_RATES,
    DEVICE_RATES,
    LAST_PSA_SYNC,
    NOW,
    ORPHAN_REASONS,
    PERSON_RATES,
    TenantRandom,
    build_tenant,
)
from pipelines.sandbox.world import World

PSAS = ("autotask", "connectwise")


def generate(seed: int, scale: int, psa: str = "autotask") -> World:
    """A tenant of `scale` client organizations (tens to tens of thousands), its systems' records and ground truth.

    About 20 devices and 8 people per client; scale 2500 gives about 54,000 IT Glue configurations.
    """
    if psa not in PSAS:
        raise ValueError(f"psa must be one of {', '.join(PSAS)}, not {psa!r}")
    if scale < 1:
        raise ValueError(f"scale must be at least 1 client organization, not {scale}")
    # Hundreds of thousands of small dicts and no cycles among them: the cyclic GC would only rescan them.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _generate(seed, scale, psa)
    finally:
        if was_enabled:
            gc.enable()


def _generate(seed: int, scale: int, psa: str) -> World:
    rng = TenantRandom(seed)
    tenant = build_tenant(rng, scale)
    assign_rmm_ids(rng, tenant)
    records = psa_view.build_psa(rng, tenant)
    connectwise, autotask = psa_view.render(records)
    datto, site_of = build_datto(rng, tenant, records)
    ninja, ninja_org_of = build_ninja(rng, tenant)
    glue = build_itglue(rng, tenant, records)
    itglue = {
        "organizations": [render_org(o) for o in glue.orgs],
        "configurations": [render_config(g) for g in glue.configs],
        "contacts": [render_contact(k) for k in glue.contacts],
    }
    rmm_records = render_rmm_records(rng, glue)
    truth = build_truth(tenant, records, datto, site_of, ninja, ninja_org_of, glue)
    extra = {
        "now": psa_view.iso_ms(NOW),
        "last_psa_sync": psa_view.iso_ms(LAST_PSA_SYNC),
        "causes": CAUSES,
        "orphan_reasons": ORPHAN_REASONS,
        "rates": {"client": CLIENT_RATES, "device": DEVICE_RATES, "person": PERSON_RATES},
        "msp_itglue_org_id": str(glue.main_org[0].id),
    }
    return World(seed=seed, scale=scale, psa=psa, itglue=itglue, itglue_rmm_records=rmm_records,
                 connectwise=connectwise, autotask=autotask, datto_rmm=datto, ninjaone=ninja, truth=truth,
                 extra=extra)


def expected_counts(world: World) -> dict[str, int]:
    """Rows a full extraction of each raw table yields (`raw.<source>_<resource>`)."""
    return {
        "itglue_organizations": len(world.itglue["organizations"]),
        "itglue_configurations": len(world.itglue["configurations"]),
        "itglue_contacts": len(world.itglue["contacts"]),
        "connectwise_companies": sum(1 for c in world.connectwise["companies"] if not c["deletedFlag"]),
        "connectwise_configurations": len(world.connectwise["configurations"]),
        "connectwise_contacts": len(world.connectwise["contacts"]),
        "autotask_companies": len(world.autotask["companies"]),
        "autotask_configuration_items": len(world.autotask["configuration_items"]),
        "autotask_contacts": len(world.autotask["contacts"]),
        "datto_rmm_sites": len(world.datto_rmm["sites"]),
        "datto_rmm_devices": len(world.datto_rmm["devices"]),
        "datto_rmm_device_audits": len(world.datto_rmm["audits"]),
        "ninjaone_organizations": len(world.ninjaone["organizations"]),
        "ninjaone_devices": len(world.ninjaone["devices"]),
        "ninjaone_computer_systems": len(world.ninjaone["computer_systems"]),
    }
