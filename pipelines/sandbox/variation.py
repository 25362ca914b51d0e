"""How far the sandbox tenant strays from a tidy one: the difficulty knob, rates drawn per tenant, and the spelling
variation real tenants carry (typos, abbreviations, legal suffixes, RMM site names with an office or a city).

Difficulty 0 ("standard") is the tenant as it always was: nothing here draws from the world's random stream, and
every variation is off, so a (seed, scale) pair yields the same world byte for byte. Above 0 the variation has its
own random stream (seeded from the tenant's seed), and each rate is scaled by the difficulty and by a factor drawn
once per tenant, so two hard tenants differ in how messy they are, not only in which records are messy.
"""

import math
import random
import re
from dataclasses import dataclass, field
from typing import Any

DIFFICULTIES = {"standard": 0.0, "hard": 1.0}
RMMS = ("both", "datto_rmm", "ninjaone")

# Variation rates at difficulty 1, before the tenant's own factor (0.5x to 2x).
HARD_RATES = {
    # Organizations.
    "psa_name_typo": 0.03,       # the PSA (so IT Glue's synced copy) holds the client's name with a typo
    "site_name_varies": 0.6,     # the RMM names the client otherwise than the PSA (office, city, abbreviation, ...)
    "site_name_typo": 0.12,      # ... and of those, with a typo
    "renamed": 0.03,             # renamed client: the PSA has the new name, the RMM and hand-made copies the old
    "rich_name": 0.35,           # names with words people abbreviate or drop ("The", "International", "Group")
    "manual_typo": 0.3,          # a hand-made IT Glue copy (organization, contact) has a typo
    # Configurations.
    "ci_without_mac": 0.4,       # a PSA configuration item without MAC (Autotask CIs not linked to the RMM, ...)
    "ci_unlinked": 0.25,         # an Autotask CI that the RMM integration did not link (no rmmDeviceUID)
    "ci_named_by_person": 0.08,  # a PSA item named for its user or its room, not its hostname ("Reception PC")
    "site_unlinked": 0.35,       # a Datto site not mapped to its PSA company (no autotaskCompanyId)
    "synced_mac_dropped": 0.8,   # IT Glue's synced copy of such an item has no MAC either
    "psa_serial_missing": 0.12,
    "psa_serial_junk": 0.03,
    "itglue_serial_missing": 0.1,  # copies made by hand or by an import
    "itglue_serial_junk": 0.04,
    "rmm_serial_junk": 0.02,     # the agent reads a BIOS that holds junk
}
# Story rates (tenant.CLIENT_RATES, ...) are multiplied by these at difficulty 1, then by the tenant's factor.
STORY_BOOSTS = {
    "client.sync_method_change": 3.0,  # IT Glue organizations created by the RMM, named after its site
    "client.pre_sync_existing": 1.5, "client.csv_double_import": 1.5,
    "person.namesake_pairs": 2.5, "device.vm_pool": 1.5, "device.placeholder_serial": 1.5,
}

# Serial values that mean "no serial" and are written in every source's own way; staging knows some of them.
JUNK_SERIALS = ["To Be Filled By O.E.M.", "Default string", "Not Available", "TBD", "OEM", "0123456789", "N/A",
                "Unknown", "System Serial Number", "None", "XXXXXXXXXX", "0"]

# Legal suffixes and how else each one is written.
SUFFIX_SPELLINGS = {
    "Inc.": ["Inc", ", Inc.", "Incorporated", "INC"], "LLC": ["L.L.C.", ", LLC", "Llc"],
    "PLLC": ["P.L.L.C.", ", PLLC", "LLC"], "Ltd": ["Ltd.", "Limited", "LTD"], "Ltd.": ["Ltd", "Limited"],
    "Corp.": ["Corp", "Corporation", ", Corp."], "Co.": ["Co", "Company", "& Co."], "LLP": ["L.L.P.", ", LLP"],
    "PC": ["P.C.", ", PC"], "P.C.": ["PC"], "Group Inc.": ["Group", "Group, Inc."],
}
ABBREVIATIONS = [("International", "Intl"), ("International", "Int'l"), ("Associates", "Assoc."),
                 ("Manufacturing", "Mfg"), ("Brothers", "Bros."), ("Services", "Svcs"), ("Company", "Co."),
                 ("Corporation", "Corp."), ("Mountain", "Mtn"), ("Saint", "St."), ("Family", "Fam."),
                 ("Management", "Mgmt"), ("Construction", "Constr."), ("Engineering", "Eng."), ("North", "N."),
                 ("Accounting", "Acctg"), ("Properties", "Props")]
DROPPABLE_WORDS = ("The", "Group", "Services", "Company", "Partners")
SITE_SUFFIXES = ["- Main Office", "HQ", "- HQ", "- Main", "(Main)", "Main Office", "- Office", "- Headquarters"]


@dataclass
class Variation:
    """The tenant's variation: its difficulty, its own random stream and the rates drawn for it."""

    level: float
    rng: random.Random
    rmm: str = "both"
    factors: dict[str, float] = field(default_factory=dict)  # per-tenant factor of each rate, drawn on first use
    used: dict[str, float] = field(default_factory=dict)     # every rate the tenant was built with
    timeline: Any = None  # tenant.Timeline: when this MSP turned its integrations on (set by build_tenant)

    @property
    def on(self) -> bool:
        return self.level > 0

    def _factor(self, key: str) -> float:
        if key not in self.factors:
            self.factors[key] = math.exp(self.level * self.rng.uniform(math.log(0.5), math.log(2.0)))
        return self.factors[key]

    def rate(self, key: str, base: float) -> float:
        """A story rate for this tenant: `base` at difficulty 0, else boosted and scaled by the tenant's factor."""
        if not self.on:
            return base
        value = min(0.9, base * STORY_BOOSTS.get(key, 1.0) ** self.level * self._factor(key))
        self.used[key] = round(value, 5)
        return value

    def chance(self, key: str) -> bool:
        """One draw of a variation (HARD_RATES) for this tenant; always False at difficulty 0 (and draws nothing)."""
        if not self.on:
            return False
        value = min(0.95, HARD_RATES[key] * self.level * self._factor(key))
        self.used[key] = round(value, 5)
        return self.rng.random() < value


def variation_for(seed: int, difficulty: str | float, rmm: str = "both") -> Variation:
    if isinstance(difficulty, str):
        if difficulty not in DIFFICULTIES:
            try:
                difficulty = float(difficulty)
            except ValueError:
                raise ValueError(f"difficulty must be one of {', '.join(DIFFICULTIES)} or a number from 0 to 1, "
                                 f"not {difficulty!r}") from None
        else:
            difficulty = DIFFICULTIES[difficulty]
    if not 0.0 <= float(difficulty) <= 1.0:
        raise ValueError(f"difficulty must be from 0 (standard) to 1 (hard), not {difficulty}")
    if rmm not in RMMS:
        raise ValueError(f"rmm must be one of {', '.join(RMMS)}, not {rmm!r}")
    # Its own stream: drawing from it never moves the world's own random sequence.
    return Variation(float(difficulty), random.Random(f"variation-{seed}"), rmm)


# ------------------------------------------------------------------------------------------------------ spelling

def typo(rng: random.Random, text: str) -> str:
    """One slip of the keyboard in one word of four letters or more: two letters swapped, one dropped or doubled
    ('First Leaf Trucking' -> 'First Leaf Trcuking'). The first letter stays, as it does in most typos."""
    words = [m for m in re.finditer(r"[A-Za-z]{4,}", text)]
    if not words:
        return text
    m = rng.choice(words)
    w = m.group()
    i = rng.randint(1, len(w) - 2)
    kind = rng.randrange(3)
    if kind == 0 and w[i] != w[i + 1]:
        new = w[:i] + w[i + 1] + w[i] + w[i + 2:]
    elif kind == 1:
        new = w[:i] + w[i + 1:]
    else:
        new = w[:i] + w[i] + w[i:]
    return text[:m.start()] + new + text[m.end():]


def abbreviated(rng: random.Random, name: str) -> str | None:
    """The name as people shorten it: an abbreviation, '&' for 'and' (or back), or a dropped word. None if no
    shortening applies."""
    options: list[str] = []
    for long, short in ABBREVIATIONS:
        if re.search(rf"\b{long}\b", name):
            options.append(re.sub(rf"\b{long}\b", short, name))
    if " & " in name:
        options.append(name.replace(" & ", " and "))
    if " and " in name:
        options.append(name.replace(" and ", " & "))
    for word in DROPPABLE_WORDS:
        dropped = re.sub(rf"(^|\s){word}(?=\s|,|$)", "", name).strip(" ,")
        if dropped != name and len(dropped) >= 4:
            options.append(re.sub(r"\s+", " ", dropped))
    return rng.choice(options) if options else None


def suffix_variant(rng: random.Random, name: str, base: str) -> str:
    """The same name with its legal suffix written otherwise, dropped, or one added that the PSA does not have."""
    suffix = name[len(base):].strip(" ,") if name.startswith(base) else ""
    if suffix in SUFFIX_SPELLINGS and rng.random() < 0.7:
        other = rng.choice(SUFFIX_SPELLINGS[suffix])
        return f"{base}{other}" if other.startswith(",") else f"{base} {other}"
    if suffix:
        return base
    return f"{base} {rng.choice(['LLC', 'Inc.', 'Inc', 'PLLC', 'Ltd', 'Corp.'])}"


def spelled_otherwise(rng: random.Random, name: str, base: str, with_typo: bool = False) -> str:
    """How another person or system writes a client's name: the suffix otherwise, a shortening, another case, and
    now and then a typo. Never the name itself."""
    for _ in range(8):
        r = rng.random()
        if r < 0.35:
            out = suffix_variant(rng, name, base)
        elif r < 0.7:
            out = abbreviated(rng, name) or suffix_variant(rng, name, base)
        elif r < 0.8:
            out = name.upper()
        else:
            out = suffix_variant(rng, abbreviated(rng, name) or name, base)
        if with_typo:
            out = typo(rng, out)
        if out != name:
            return out
    return f"{name} "


def site_name_for(rng: random.Random, name: str, base: str, city: str, with_typo: bool) -> str:
    """An RMM site (or NinjaOne organization) as a technician named it: the client's name with an office, a city,
    a shortening or another suffix ('Vertex Stone Partners - Main Office', 'Vertex Stone HQ', '... - Denver')."""
    r = rng.random()
    core = base if rng.random() < 0.7 else name
    if r < 0.35:
        out = f"{core} {rng.choice(SITE_SUFFIXES)}"
    elif r < 0.55:
        out = f"{core} - {city}" if rng.random() < 0.7 else f"{core} ({city})"
    elif r < 0.8:
        out = spelled_otherwise(rng, name, base)
    else:
        out = core if core != name else (abbreviated(rng, name) or base)
    return typo(rng, out) if with_typo else out
