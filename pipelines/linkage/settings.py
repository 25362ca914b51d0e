"""Splink settings per entity type: comparisons, blocking rules, training blocks and deterministic rules.

Every comparison level carries a prior m/u from what the domain says (a placeholder serial is no serial; a VM-clone
serial is shared by dozens of machines; DC01 exists at every client), so that a model that could not be trained
(one organization, a source without serials) still scores pairs sensibly. Training replaces the priors where the
data has enough pairs to estimate them.
"""

from dataclasses import dataclass, field

import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import block_on
from splink.internals.blocking_rule_creator import BlockingRuleCreator
from splink.internals.comparison_creator import ComparisonCreator

from pipelines.linkage.dialect import PortableLevel
from pipelines.sources import source_roles

# Roles of each source, from the registry (each source's `kind` and `psa_link_target`: the PSA whose company ids an
# RMM site carries, Datto RMM's autotaskCompanyId).
SOURCE_ROLES: dict[str, tuple[str, str | None]] = source_roles()

ENTITY_TYPES = ("organization", "configuration", "contact")


def _level(sql: str, label: str, m: float, u: float, *, tf: str | None = None, fixed: bool = False
           ) -> cll.CustomLevel:
    level = PortableLevel(sql, label_for_charts=label)  # DuckDB's SQL, rewritten for Spark there
    if fixed:
        # structural evidence EM cannot see on a small tenant (a few dozen organizations): keep the domain value
        level.configure(m_probability=m, u_probability=u, fix_m_probability=True, fix_u_probability=True)
    elif tf:
        # TF on an exact level: a value shared by many records (a VM-clone serial, a VPN MAC, "John") weighs little
        level.configure(m_probability=m, u_probability=u, tf_adjustment_column=tf, tf_adjustment_weight=1.0)
    else:
        level.configure(m_probability=m, u_probability=u)
    return level


def _null(cols: list[str]) -> cll.CustomLevel:
    cond = " OR ".join(f'"{c}_l" IS NULL OR "{c}_r" IS NULL' for c in cols)
    return PortableLevel(cond, label_for_charts="missing").configure(is_null_level=True)


def _comparison(name: str, levels: list) -> ComparisonCreator:
    return cl.CustomComparison(output_column_name=name, comparison_levels=levels)


def _exact(col: str, m: float, u: float, *, tf: bool = False, else_m: float | None = None) -> ComparisonCreator:
    return _comparison(col, [
        _null([col]),
        _level(f'"{col}_l" = "{col}_r"', "exact", m, u, tf=col if tf else None),
        cll.ElseLevel().configure(m_probability=1 - m if else_m is None else else_m, u_probability=1 - u),
    ])


def _certain(name: str, sql: str, label: str) -> ComparisonCreator:
    """A certain link as a comparison too: its pairs then score high, so the pair floor never drops one before it is
    recognised as certain, and no trained weight can make it weak. Disagreeing says nothing (neutral)."""
    return _comparison(name, [
        _level(sql, label, 0.99, 0.000001, fixed=True),
        cll.ElseLevel().configure(m_probability=0.5, u_probability=0.5, fix_m_probability=True,
                                  fix_u_probability=True),
    ])


def organization_comparisons() -> list[ComparisonCreator]:
    jw = "jaro_winkler_similarity(name_norm_l, name_norm_r)"
    both_hold = ("least(n_anchored_devices_l, n_anchored_devices_r) >= 3 "
                 "OR least(n_anchored_people_l, n_anchored_people_r) >= 3")
    jw_core = "jaro_winkler_similarity(name_core_l, name_core_r)"
    tokens_l, tokens_r = "string_split(name_core_l, ' ')", "string_split(name_core_r, ' ')"
    return [
        _comparison("name_norm", [
            _null(["name_norm"]),
            _level("name_norm_l = name_norm_r", "exact", 0.7, 0.0005, tf="name_norm"),
            # "Vertex Stone Partners - Main Office" = "Vertex Stone Partners PLLC"; "Acme Intl" = "Acme International"
            _level("name_core_l = name_core_r", "same once site words and abbreviations are set aside", 0.08,
                   0.0005),
            _level(f"{jw} >= 0.95 OR {jw_core} >= 0.95", "jaro-winkler >= 0.95 (a typo)", 0.08, 0.0005),
            # "contoso main office" holds every word of "contoso": an RMM site named after its client
            _level(f"list_has_all({tokens_l}, {tokens_r}) OR list_has_all({tokens_r}, {tokens_l})",
                   "one name's words within the other", 0.06, 0.0005),
            _level(f"{jw} >= 0.85 OR {jw_core} >= 0.88", "jaro-winkler >= 0.85", 0.05, 0.01),
            cll.ElseLevel().configure(m_probability=0.03, u_probability=0.988),
        ]),
        _exact("domain", 0.7, 0.001),
        _exact("phone_digits", 0.6, 0.001),
        _exact("city", 0.8, 0.05),
        _exact("psa_company_key", 0.99, 0.0001, else_m=0.01),
        # "Acme Dental - North" and "Acme Dental - South": one brand, two branches, two clients (domain.md), however
        # much else they share (a franchise's branches share its domain, phone and city). Fixed: random pairs almost
        # never share a brand, so a trained u would make it look like evidence for a match. The branch words must
        # differ by more than a typo (one slip keeps the first letter and the length within one: "Uptwon" is
        # "Uptown", "East" and "Eastside", "Eastside" and "Westside" are two branches each); the brand may carry one
        # ("Wallace Landscapping - East"). A certain link (devices that are the same) still joins whatever this says.
        _comparison("name_branch", [
            _level("(name_brand_l = name_brand_r OR jaro_winkler_similarity(name_brand_l, name_brand_r) >= 0.95) "
                   "AND name_branch_l <> name_branch_r AND NOT ("
                   "levenshtein(name_branch_l, name_branch_r) <= 2 AND "
                   "substr(name_branch_l, 1, 1) = substr(name_branch_r, 1, 1) AND "
                   "abs(length(name_branch_l) - length(name_branch_r)) <= 1)",
                   "one brand, two branches", 0.00003, 0.99, fixed=True),
            cll.ElseLevel().configure(m_probability=0.5, u_probability=0.5, fix_m_probability=True,
                                      fix_u_probability=True),
        ]),
        _certain("one_client", "list_has_any(one_client_keys_l, one_client_keys_r)",
                 "most identified devices and people the same"),
        _comparison("shared_children", [
            PortableLevel("shared_children_l IS NULL OR shared_children_r IS NULL",
                            label_for_charts="either holds no identifiable device or person").configure(
                is_null_level=True),
            _level("coalesce(shared_children_l[unique_id_r], 0) >= 3", "3+ shared devices/contacts", 0.7, 0.00002,
                   fixed=True),
            _level("coalesce(shared_children_l[unique_id_r], 0) >= 1", "1-2 shared devices/contacts", 0.2, 0.0005,
                   fixed=True),
            # both hold several identifiable devices, or several identifiable people, and share none: two clients,
            # however alike the names. Counted by kind: an RMM site holds no people, so the people of an IT Glue
            # copy say nothing against it (a renamed client's hand-made copy with two devices and two people, and
            # its RMM site under the old name, share none because they could not)
            # ... unless one of them is the PSA's company and the other's people write from the domain the PSA
            # declares for it: then it is a hand-made copy documenting other gear or people of the same client (the
            # firewall and printer someone filed under "Garza & Price Chiropractic Corp."), and says little. Only a
            # declared domain: two clients whose people both write from a mail provider the tenant is too small to
            # recognise as one stay apart. Franchise branches share a declared domain; the branch comparison keeps
            # them apart.
            _level(f"({both_hold}) AND coalesce(domain_l = domain_r AND "
                   "(declared_domain_l = domain_r OR declared_domain_r = domain_l), FALSE)",
                   "share nothing, both hold 3+ of a kind, one mail domain", 0.3, 0.9, fixed=True),
            _level(both_hold, "share nothing, both hold 3+ of a kind", 0.02, 0.95, fixed=True),
            cll.ElseLevel().configure(m_probability=0.08, u_probability=0.05, fix_m_probability=True,
                                      fix_u_probability=True),
        ]),
    ]


def configuration_comparisons() -> list[ComparisonCreator]:
    jw = "jaro_winkler_similarity(hostname_norm_l, hostname_norm_r)"
    return [
        _exact("org_cluster", 0.97, 0.01, else_m=0.03),
        _comparison("serial_norm", [
            _null(["serial_norm"]),
            # one machine per system carries it: two live machines with one serial are a clone pair, not a device
            # (a reimaged laptop is one record in the RMM and the PSA, its old IT Glue copy another)
            _level("serial_norm_l = serial_norm_r AND serial_copies_l <= 1 AND serial_copies_r <= 1",
                   "serial exact", 0.85, 0.00001, tf="serial_norm"),
            # a serial several records of one system carry (VM clones share the BIOS serial): weak evidence
            # fixed: EM on a tenant with many clone pools learned this level as near-proof and linked VM clones
            _level("serial_norm_l = serial_norm_r", "serial exact, shared by clones", 0.02, 0.002, fixed=True),
            cll.ElseLevel().configure(m_probability=0.1, u_probability=0.999),
        ]),
        _comparison("mac", [
            _null(["macs"]),
            _level("mac_norm_l = mac_norm_r", "primary MAC exact", 0.8, 0.00001, tf="mac_norm"),
            _level("list_has_any(macs_l, macs_r)", "a MAC in common", 0.1, 0.00002),
            cll.ElseLevel().configure(m_probability=0.1, u_probability=0.99997),
        ]),
        _comparison("hostname", [
            _null(["hostname_norm"]),
            # hostnames are unique inside one client's network: a PSA item with no serial, MAC or IP (PSAs often
            # hold none) is still its device when the name agrees within the linked organization. The
            # frequency is of the name within the organization, so WS-001 at every client costs nothing here
            _level("org_hostname_l = org_hostname_r", "hostname exact, same organization", 0.76, 0.00002,
                   tf="org_hostname"),
            # typed again by hand in the PSA: "releclouws004" for RELECLOU-WS004, "NORTHWIN DESKTOP-XKATPRG",
            # "DESKTOP-QFK8D71 (Nancy)": the hostname's letters and digits as one word of the other, same client
            _level("list_has_any(org_host_words_l, org_host_words_r)",
                   "same organization, the hostname as a word of the other's", 0.035, 0.0002),
            # the same name at another client (DC01, WS-001): the organization comparison speaks against it
            _level("hostname_norm_l = hostname_norm_r", "hostname exact, other organization", 0.05, 0.001,
                   tf="hostname_norm"),
            # IT Glue's synced copy carries the PSA item's name ("Lab PC"): evidence when the name is the only one of
            # its kind in the client, in each system
            _level("(name_norm_l = name_norm_r OR hostname_norm_l = name_norm_r OR name_norm_l = hostname_norm_r) "
                   "AND org_name_copies_l = 1 AND org_name_copies_r = 1",
                   "name equals the other's name or hostname, one of its name in the client", 0.04, 0.001),
            # ... but display names repeat inside one client ("Exam Room 2 PC" for two machines): then weak, and
            # fixed, since random pairs across clients make its u look far rarer than it is within one
            _level("name_norm_l = name_norm_r OR hostname_norm_l = name_norm_r OR name_norm_l = hostname_norm_r",
                   "name equals the other's name or hostname, a name several records share", 0.005, 0.002,
                   fixed=True),
            # "litware-vm03" vs "litware-vm02" is 0.97 similar and two machines: the digits must agree
            _level(f"{jw} >= 0.93 AND regexp_replace(hostname_norm_l, '[^0-9]', '', 'g') = "
                   "regexp_replace(hostname_norm_r, '[^0-9]', '', 'g')", "jaro-winkler >= 0.93, same digits",
                   0.04, 0.005),
            cll.ElseLevel().configure(m_probability=0.07, u_probability=0.977),
        ]),
        _exact("config_type", 0.9, 0.3),
        _exact("ip", 0.6, 0.001),
        _exact("rmm_device_id", 0.99, 0.000001, else_m=0.01),
        # the RMM record an IT Glue copy names, against that RMM's own record: proof (also a certain link); two
        # different keys say nothing (one device is in Datto and in NinjaOne under two)
        _certain("rmm_record_key", "coalesce(rmm_record_key_l = rmm_record_key_r, FALSE)", "the RMM record itself"),
        _certain("one_device", "coalesce(mac_host_key_l = mac_host_key_r, FALSE) OR "
                 "coalesce(serial_host_key_l = serial_host_key_r, FALSE)", "MAC or unshared serial, and hostname"),
    ]


def contact_comparisons() -> list[ComparisonCreator]:
    def name(col: str, m_exact: float, typo_only: bool = False) -> ComparisonCreator:
        jw = f"jaro_winkler_similarity({col}_l, {col}_r)"
        # a surname is mistyped, not varied: one slip of the keyboard changes its length by one letter at most
        # ("wilis" for "willis"), while "willis" and "williams", as alike, are two families
        typo = f" AND abs(length({col}_l) - length({col}_r)) <= 1" if typo_only else ""
        return _comparison(col, [
            _null([col]),
            _level(f"{col}_l = {col}_r", "exact", m_exact, 0.005, tf=col),
            _level(f"{jw} >= 0.9{typo}", "jaro-winkler >= 0.9" + (", a typo" if typo_only else ""), 0.08, 0.01),
            _level(f"starts_with({col}_l, {col}_r) OR starts_with({col}_r, {col}_l)",
                   "one a prefix of the other (Rob/Robert)", 0.05, 0.005),
            cll.ElseLevel().configure(m_probability=1 - m_exact - 0.13, u_probability=0.98),
        ])

    return [
        _exact("org_cluster", 0.97, 0.01, else_m=0.03),
        name("first_name_norm", 0.8),
        name("last_name_norm", 0.85, typo_only=True),
        _comparison("email_norm", [
            _null(["email_norm"]),
            # the same surname, or one slip of the keyboard from it: a typo changes the length by one letter at
            # most ("wilis" for "willis"); "willis" and "williams" are two people answering emma@
            _level("email_norm_l = email_norm_r AND jaro_winkler_similarity(last_name_norm_l, last_name_norm_r) >= 0.9"
                   " AND abs(length(last_name_norm_l) - length(last_name_norm_r)) <= 1",
                   "exact, same surname", 0.8, 0.00001, tf="email_norm"),
            # One address, two surnames: a mailbox several people answer (maria@ at every franchise branch) or a
            # changed name. Weak evidence on its own: inside one client it still links a renamed person, across two
            # clients it does not make two people one.
            _level("email_norm_l = email_norm_r", "exact, different surname", 0.05, 0.002, fixed=True),
            cll.ElseLevel().configure(m_probability=0.15, u_probability=0.99999),
        ]),
        # one person's number, where both systems hold one, is mostly the same: two numbers speak against one person
        _exact("phone_digits", 0.8, 0.001, tf=True),
    ]


@dataclass(frozen=True)
class EntitySpec:
    """Everything that differs between the three models."""

    entity_type: str
    input_sql: str                       # sql/marts/linkage/<file>: builds `input_table`
    input_table: str
    columns: tuple[str, ...]             # model input columns besides unique_id/source/source_id
    comparisons: object                  # () -> list of comparisons
    blocking: tuple                      # rules that generate predictions
    training_blocks: tuple               # EM blocks: each leaves out what it blocks on
    deterministic_rules: tuple           # near-certain matches: prior estimate
    certain_columns: tuple[str, ...]     # equal and non-null: a certain link (clustered at probability 1)
    certain_lists: tuple[str, ...] = ()  # list columns: sharing an element is a certain link
    retained: tuple[str, ...] = ()       # input columns no comparison reads that the certain links need
    threshold: float = 0.9               # clustering threshold on match_probability
    extra: dict = field(default_factory=dict)

    def blocking_rules(self) -> list[BlockingRuleCreator]:
        return [r() for r in self.blocking]


ORGANIZATION = EntitySpec(
    entity_type="organization",
    input_sql="linkage/input_organizations.sql",
    input_table="org_input",
    columns=("name_norm", "name_core", "name_first_token", "name_brand", "name_branch", "domain", "phone_digits",
             "city", "psa_company_key", "declared_domain",
             "shared_children", "shared_pair_keys", "n_anchored_devices", "n_anchored_people", "one_client_keys"),
    comparisons=organization_comparisons,
    blocking=(
        lambda: block_on("name_norm"),
        lambda: block_on("name_core"),
        lambda: block_on("name_first_token"),
        lambda: block_on("domain"),
        lambda: block_on("phone_digits"),
        lambda: block_on("psa_company_key"),
        lambda: block_on("shared_pair_keys", arrays_to_explode=["shared_pair_keys"]),
        lambda: block_on("one_client_keys", arrays_to_explode=["one_client_keys"]),
    ),
    training_blocks=(
        lambda: block_on("name_norm"),
        lambda: block_on("psa_company_key"),
        lambda: block_on("name_first_token"),
    ),
    # the prior counts pairs every pair of systems can meet: an exact name does (an IT Glue copy synced from the PSA
    # carries the PSA's name; a NinjaOne organization, which names no PSA company, often the same), while a
    # domain is only the PSA's, so name and domain together found only the PSA's own duplicates and made the
    # prior hundreds of times too small for an RMM that names no PSA company (NinjaOne)
    deterministic_rules=(lambda: block_on("psa_company_key"), lambda: block_on("name_norm")),
    certain_columns=("psa_company_key",),
    # organizations whose devices and people are, for the most part, the same devices and people
    certain_lists=("one_client_keys",),
    threshold=0.9,
)

CONFIGURATION = EntitySpec(
    entity_type="configuration",
    input_sql="linkage/input_configurations.sql",
    input_table="configuration_input",
    columns=("org_cluster", "name_norm", "hostname_norm", "org_hostname", "serial_norm", "serial_copies", "mac_norm", "macs", "ip",
             "config_type", "rmm_device_id", "mac_host_key", "serial_host_key", "org_host_words", "org_name_copies", "rmm_record_key",
             "serial_block", "mac_block"),
    comparisons=configuration_comparisons,
    blocking=(
        # serial_block / mac_block: the serial / MAC unless many machines carry it (input_configurations.sql)
        lambda: block_on("serial_block"),
        lambda: block_on("mac_block"),
        lambda: block_on("rmm_device_id"),
        lambda: block_on("rmm_record_key"),
        lambda: block_on("org_cluster", "hostname_norm"),
        lambda: block_on("org_cluster", "name_norm"),
        lambda: block_on("org_host_words", arrays_to_explode=["org_host_words"]),
    ),
    training_blocks=(
        lambda: block_on("serial_block"),
        lambda: block_on("org_cluster", "hostname_norm"),
        lambda: block_on("mac_block"),
    ),
    deterministic_rules=(lambda: block_on("rmm_device_id"), lambda: block_on("serial_norm", "mac_norm")),
    # an RMM uid both name; MAC and hostname, or a serial no clone shares and hostname: one device, whichever
    # organizations the two were filed under (hostname alone never: DC01 is at every client)
    certain_columns=("rmm_device_id", "mac_host_key", "serial_host_key", "rmm_record_key"),
    retained=(),
    threshold=0.9,
)

CONTACT = EntitySpec(
    entity_type="contact",
    input_sql="linkage/input_contacts.sql",
    input_table="contact_input",
    columns=("org_cluster", "first_name_norm", "last_name_norm", "email_norm", "phone_digits", "person_key"),
    comparisons=contact_comparisons,
    blocking=(
        lambda: block_on("email_norm"),
        lambda: block_on("org_cluster", "last_name_norm"),
        lambda: block_on("org_cluster", "first_name_norm"),
        lambda: block_on("org_cluster", "phone_digits"),
    ),
    training_blocks=(
        lambda: block_on("email_norm"),
        lambda: block_on("org_cluster", "last_name_norm"),
        lambda: block_on("org_cluster", "first_name_norm"),
    ),
    deterministic_rules=(lambda: block_on("email_norm", "last_name_norm"),),
    # one address with one first and last name is one person, in whichever client each copy was filed
    certain_columns=("person_key",),
    retained=("person_key",),
    threshold=0.9,
)

SPECS: dict[str, EntitySpec] = {s.entity_type: s for s in (ORGANIZATION, CONFIGURATION, CONTACT)}
