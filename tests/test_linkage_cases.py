"""Linkage on small hand-built staging tables: the hard cases of domain.md, causes and the keep rule, bad input."""

import json
from datetime import UTC, datetime

import polars as pl
import pytest

from pipelines.linkage.models import ModelMismatch, ModelStore
from pipelines.linkage.pipeline import LinkageOptions, link_staging

T0 = datetime(2023, 1, 9, 8, 0, tzinfo=UTC)
EARLY = datetime(2021, 6, 1, 12, 0, tzinfo=UTC)
PRIORS = LinkageOptions(train="priors", charts=False)


def orgs(*rows) -> pl.DataFrame:
    cols = ["source", "source_id", "name", "name_norm", "psa_integration", "psa_company_id", "created_at"]
    return pl.DataFrame([dict(zip(cols, r, strict=True)) for r in rows])


def cfg(source, sid, org, host, serial=None, mac=None, **extra) -> dict:
    return {"source": source, "source_id": sid, "organization_source_id": org, "name": host, "name_norm": host,
            "hostname_norm": host, "serial_norm": serial, "mac_norm": mac, "macs": [mac] if mac else None,
            "config_type": extra.pop("config_type", "server"), "created_at": extra.pop("created_at", T0),
            "psa_integration": extra.pop("psa", None), "has_rmm_record": extra.pop("has_rmm", False),
            "rmm_device_id": extra.pop("rmm", None), "is_deleted": extra.pop("deleted", False), **extra}


def two_clients() -> pl.DataFrame:
    return orgs(
        ("autotask", "1", "Contoso, Inc.", "contoso", None, None, T0),
        ("itglue", "11", "Contoso, Inc.", "contoso", "enabled", None, T0),
        ("datto_rmm", "s1", "Contoso - Main Office", "contoso main office", None, "1", T0),
        ("autotask", "2", "Fabrikam", "fabrikam", None, None, T0),
        ("itglue", "12", "Fabrikam", "fabrikam", "enabled", None, T0),
        ("datto_rmm", "s2", "Fabrikam", "fabrikam", None, "2", T0),
    )


def link(staging: dict, tmp_path, options: LinkageOptions = PRIORS):
    result = link_staging(staging, ModelStore(tmp_path / "models"), options=options)
    return {name: pl.from_arrow(t) for name, t in result.tables.items()}, result


def same_cluster(clusters: pl.DataFrame, entity: str, a: tuple, b: tuple) -> bool:
    c = clusters.filter(pl.col("entity_type") == entity)
    ida = c.filter((pl.col("source") == a[0]) & (pl.col("source_id") == a[1]))["cluster_id"].item()
    idb = c.filter((pl.col("source") == b[0]) & (pl.col("source_id") == b[1]))["cluster_id"].item()
    return ida == idb


def devices() -> pl.DataFrame:
    rows = []
    for client, (at, it, site) in {"contoso": ("1", "11", "s1"), "fabrikam": ("2", "12", "s2")}.items():
        n = 1 if client == "contoso" else 2
        # DC01 at both clients: same hostname, different serials and MACs
        rows += [cfg("autotask", f"dc-{client}", at, "dc01", f"DC{n}SERIAL", f"00155D00000{n}", rmm=f"dev-dc-{n}"),
                 cfg("itglue", f"dc-{client}", it, "dc01", f"DC{n}SERIAL", f"00155D00000{n}", psa="enabled"),
                 cfg("datto_rmm", f"dev-dc-{n}", site, "dc01", f"DC{n}SERIAL", f"00155D00000{n}", rmm=f"dev-dc-{n}")]
    # three VM clones at Contoso share one BIOS serial; their hostnames and MACs differ
    for k in range(3):
        rows += [cfg("autotask", f"vm{k}", "1", f"contoso-vm0{k}", "VMWARE-42 1A 2B", f"0050560000A{k}"),
                 cfg("itglue", f"vm{k}", "11", f"contoso-vm0{k}", "VMWARE-42 1A 2B", f"0050560000A{k}",
                     psa="enabled")]
    # placeholder serials are NULL after staging: two different printers with no serial must stay two
    rows += [cfg("itglue", "p1", "11", "printer-lobby", None, None, psa="enabled", config_type="printer"),
             cfg("itglue", "p2", "11", "printer-hr", None, None, psa="enabled", config_type="printer")]
    # a reimaged laptop: the RMM knows it by its new hostname; serial and MAC are the same
    rows += [cfg("autotask", "lt1", "1", "ws-014", "5CG1234XYZ", "3C52820A1B2C", config_type="laptop"),
             cfg("datto_rmm", "dev-lt1", "s1", "lt-jsmith-02", "5CG1234XYZ", "3C52820A1B2C", config_type="laptop",
                 rmm="dev-lt1")]
    # FQDN vs short name: staged as the same short hostname, serial in one record only
    rows += [cfg("itglue", "fq1", "12", "ws-020", None, "AABBCCDDEE20", psa="enabled", config_type="workstation"),
             cfg("autotask", "fq1", "2", "ws-020", "CZC9999", "AABBCCDDEE20", config_type="workstation")]
    return pl.DataFrame(rows)


def test_hard_configuration_cases(tmp_path):
    tables, _ = link({"organizations": two_clients(), "configurations": devices()}, tmp_path)
    clusters = tables["marts.entity_clusters"]
    # the three systems' records of one client are one organization, even "Contoso - Main Office"
    assert same_cluster(clusters, "organization", ("autotask", "1"), ("datto_rmm", "s1"))
    assert same_cluster(clusters, "organization", ("autotask", "1"), ("itglue", "11"))
    assert not same_cluster(clusters, "organization", ("autotask", "1"), ("autotask", "2"))
    assert same_cluster(clusters, "configuration", ("itglue", "dc-contoso"), ("autotask", "dc-contoso"))
    assert not same_cluster(clusters, "configuration", ("itglue", "dc-contoso"), ("itglue", "dc-fabrikam"))
    assert not same_cluster(clusters, "configuration", ("autotask", "vm0"), ("autotask", "vm1"))
    assert same_cluster(clusters, "configuration", ("autotask", "vm0"), ("itglue", "vm0"))
    assert not same_cluster(clusters, "configuration", ("itglue", "p1"), ("itglue", "p2"))
    assert same_cluster(clusters, "configuration", ("autotask", "lt1"), ("datto_rmm", "dev-lt1"))
    assert same_cluster(clusters, "configuration", ("itglue", "fq1"), ("autotask", "fq1"))
    assert tables["marts.duplicates"].height == 0


def test_franchises_and_namesakes_stay_apart(tmp_path):
    organizations = orgs(
        ("autotask", "1", "Acme Dental - North", "acme dental north", None, None, T0),
        ("itglue", "11", "Acme Dental - North", "acme dental north", "enabled", None, T0),
        ("autotask", "2", "Acme Dental - South", "acme dental south", None, None, T0),
        ("itglue", "12", "Acme Dental - South", "acme dental south", "enabled", None, T0),
    )
    people = []
    for at, it, dom in (("1", "11", "north.example"), ("2", "12", "south.example")):
        for k, (first, last) in enumerate((("john", "smith"), ("mary", "jones"), ("ann", "lee"))):
            email = f"{first}.{last}@{dom}"
            for source, org in (("autotask", at), ("itglue", it)):
                people.append({"source": source, "source_id": f"{org}-{k}", "organization_source_id": org,
                               "first_name_norm": first, "last_name_norm": last, "email_norm": email,
                               "psa_integration": "enabled" if source == "itglue" else None, "created_at": T0})
    tables, _ = link({"organizations": organizations, "contacts": pl.DataFrame(people)}, tmp_path)
    clusters = tables["marts.entity_clusters"]
    assert not same_cluster(clusters, "organization", ("autotask", "1"), ("autotask", "2"))
    assert same_cluster(clusters, "organization", ("autotask", "1"), ("itglue", "11"))
    # John Smith at North and John Smith at South are two people
    assert not same_cluster(clusters, "contact", ("autotask", "1-0"), ("autotask", "2-0"))
    assert same_cluster(clusters, "contact", ("autotask", "1-0"), ("itglue", "11-0"))


def test_branches_sharing_a_domain_and_a_mailbox_stay_apart(tmp_path):
    # Franchise branches on one domain, where maria@ reaches a different Maria at each branch: a shared address is a
    # mailbox, not a shared person, so it is no evidence that the branches are one client.
    organizations = orgs(
        ("autotask", "1", "Acme Dental - South", "acme dental south", None, None, T0),
        ("itglue", "11", "Acme Dental - South", "acme dental south", "enabled", None, T0),
        ("autotask", "2", "Acme Dental - Uptown", "acme dental uptown", None, None, T0),
        ("itglue", "12", "Acme Dental - Uptown", "acme dental uptown", "enabled", None, T0),
    )
    people = []
    for at, it, branch_people in (("1", "11", (("maria", "kowalski"), ("tom", "baker"), ("lisa", "ng"))),
                                  ("2", "12", (("maria", "garcia"), ("raj", "patel"), ("eve", "stone")))):
        for k, (first, last) in enumerate(branch_people):
            email = "maria@acmedental.com" if first == "maria" else f"{first}.{last}@acmedental.com"
            for source, org in (("autotask", at), ("itglue", it)):
                people.append({"source": source, "source_id": f"{org}-{k}", "organization_source_id": org,
                               "first_name_norm": first, "last_name_norm": last, "email_norm": email,
                               "psa_integration": "enabled" if source == "itglue" else None, "created_at": T0})
    tables, _ = link({"organizations": organizations, "contacts": pl.DataFrame(people)}, tmp_path)
    clusters = tables["marts.entity_clusters"]
    assert not same_cluster(clusters, "organization", ("autotask", "1"), ("autotask", "2"))
    assert not same_cluster(clusters, "organization", ("itglue", "11"), ("itglue", "12"))
    assert same_cluster(clusters, "organization", ("autotask", "2"), ("itglue", "12"))
    assert not same_cluster(clusters, "contact", ("autotask", "1-0"), ("autotask", "2-0"))


def test_causes_and_keep_rule(tmp_path):
    rows = [
        # pre-sync: documented by hand in 2021, later synced from the PSA under another spelling
        cfg("autotask", "a1", "1", "srv-app", "SN-A1", "0000000000A1"),
        cfg("itglue", "i1", "11", "srv-app", "SN-A1", "0000000000A1", psa="enabled"),
        cfg("itglue", "m1", "11", "SRVAPP", "SN-A1", None, created_at=EARLY),
        # sync method change: one IT Glue copy straight from the RMM, one through the PSA
        cfg("autotask", "a2", "1", "ws-002", "SN-A2", "0000000000A2", rmm="dev-2"),
        cfg("datto_rmm", "dev-2", "s1", "ws-002", "SN-A2", "0000000000A2", rmm="dev-2"),
        cfg("itglue", "i2", "11", "ws-002", "SN-A2", "0000000000A2", psa="enabled"),
        cfg("itglue", "r2", "11", "ws-002", "SN-A2", "0000000000A2", has_rmm=True, rmm="dev-2", created_at=EARLY),
        # the PSA holds it twice, each synced to its own IT Glue copy
        cfg("autotask", "a3", "1", "ws-003", "SN-A3", "0000000000A3"),
        cfg("autotask", "a3b", "1", "WS-003", "SN-A3", None),
        cfg("itglue", "i3", "11", "ws-003", "SN-A3", "0000000000A3", psa="enabled"),
        cfg("itglue", "i3b", "11", "WS-003", "SN-A3", None, psa="enabled"),
    ]
    # a CSV imported twice: two bursts of manual records
    for k in range(5):
        for burst, at in (("x", datetime(2022, 3, 1, 10, 0, k, tzinfo=UTC)),
                          ("y", datetime(2022, 9, 1, 14, 0, k, tzinfo=UTC))):
            rows.append(cfg("itglue", f"csv{burst}{k}", "11", f"switch-{k}", f"SW-{k}", f"00000000CC0{k}",
                            config_type="network", created_at=at))
    tables, _ = link({"organizations": two_clients(), "configurations": pl.DataFrame(rows)}, tmp_path)
    dups = tables["marts.duplicates"]

    def group(source_id):
        cluster = dups.filter((pl.col("source") == "itglue") & (pl.col("source_id") == source_id))
        return dups.filter(pl.col("cluster_id") == cluster["cluster_id"].item())

    pre = group("m1").filter(pl.col("source") == "itglue")
    assert set(pre["cause"]) == {"pre_sync_existing"}
    assert pre.filter(pl.col("role") == "keep")["source_id"].to_list() == ["i1"]  # the syncing copy wins
    smc = group("r2")
    assert set(smc["cause"]) == {"sync_method_change"}
    assert smc.filter(pl.col("role") == "keep")["source_id"].to_list() == ["i2"]
    src = group("i3")
    assert set(src["cause"]) == {"source_duplicate"} and set(src["source"]) == {"itglue", "autotask"}
    csv = group("csvx0")
    assert set(csv["cause"]) == {"csv_double_import"} and csv.height == 2
    assert csv.filter(pl.col("role") == "keep")["source_id"].to_list() == ["csvx0"]  # the older import
    assert dups["match_probability"].min() > 0.5


def test_orphans_and_history(tmp_path):
    rows = [
        cfg("itglue", "o1", "11", "ws-100", "SN-100", None, psa="orphaned"),
        # synced, and no PSA record found: nothing proves it is gone (never linked, or a missed link)
        cfg("itglue", "o2", "11", "ws-101", "SN-101", None, psa="enabled"),
        cfg("autotask", "a3", "1", "ws-102", "SN-102", None),
        cfg("itglue", "o3", "11", "ws-102", "SN-102", None, psa="enabled"),
        cfg("itglue", "o4", "11", "ws-103", "SN-103", None, has_rmm=True, rmm="dev-103"),
        cfg("datto_rmm", "dev-103", "s1", "ws-103", "SN-103", None, rmm="dev-103", deleted=True),
        cfg("autotask", "a9", "2", "ws-900", "SN-900", None),  # keeps the PSA on when a3 is deleted
        cfg("itglue", "i9", "12", "ws-900", "SN-900", None, psa="enabled"),
    ]
    first, _ = link({"organizations": two_clients(), "configurations": pl.DataFrame(rows)}, tmp_path)
    reasons = dict(first["marts.orphans"].select("source_id", "reason").iter_rows())
    assert reasons == {"o1": "psa_orphaned", "o2": "unlinked", "o4": "rmm_device_deleted"}
    proof = dict(first["marts.orphans"].select("source_id", "proof").iter_rows())
    assert "deleted devices" in proof["o4"] and "nothing shows it is gone" in proof["o2"]
    # next week the PSA record of o3 is deleted: the orphan says its partner was seen until the last run
    history = {"record_history": first["linkage.record_history"], "link_history": first["linkage.link_history"]}
    later = pl.DataFrame([r for r in rows if r["source_id"] != "a3"])
    result = link_staging({"organizations": two_clients(), "configurations": later}, ModelStore(tmp_path / "m2"),
                          history=history, options=PRIORS)
    orphans = pl.from_arrow(result.tables["marts.orphans"])
    o3 = orphans.filter(pl.col("source_id") == "o3")
    assert o3["reason"].item() == "psa_record_deleted"
    assert o3["gone_partner"].item() == "autotask:a3" and o3["history"].item().startswith("partner seen until")
    o2 = orphans.filter(pl.col("source_id") == "o2")
    assert o2["reason"].item() == "unlinked" and o2["history"].item() == "no partner seen by earlier runs"
    hist = pl.from_arrow(result.tables["linkage.record_history"])
    a3 = hist.filter((pl.col("entity_type") == "configuration") & (pl.col("source_id") == "a3"))
    assert a3["last_seen"].item() < a3["first_seen"].item() or a3["last_seen"].item() == a3["first_seen"].item()


def test_bad_input_empty_no_serials_one_org(tmp_path):
    tables, _ = link({}, tmp_path)
    assert tables["marts.entity_clusters"].height == 0 and tables["marts.duplicates"].height == 0
    one = orgs(("itglue", "11", "Contoso", "contoso", None, None, T0))
    no_serials = pl.DataFrame([cfg("itglue", f"c{k}", "11", f"ws-{k:03d}") for k in range(4)])
    tables, result = link({"organizations": one, "configurations": no_serials}, tmp_path,
                          LinkageOptions(charts=False))  # trains: says why it cannot, never crashes
    assert tables["marts.entity_clusters"].height == 5
    assert tables["marts.duplicates"].height == 0
    assert result.models["organization"]["source"] == "not needed"


def test_model_file_that_does_not_fit(tmp_path):
    staging = {"organizations": two_clients(), "configurations": devices()}
    store = ModelStore(tmp_path / "models")
    link_staging(staging, store, options=LinkageOptions(charts=False))
    path = store.path("configuration")
    doc = json.loads(path.read_text())
    doc["input_columns"] = ["serial_number", "hostname"]  # a model from before a staging change
    path.write_text(json.dumps(doc))
    with pytest.raises(ModelMismatch, match="was trained on columns"):
        link_staging(staging, store, options=LinkageOptions(charts=False, on_model_mismatch="fail"))
    result = link_staging(staging, store, options=LinkageOptions(charts=False))
    assert "mismatch" in result.models["configuration"] and result.models["configuration"]["source"] == "trained"
    assert json.loads(path.read_text())["input_columns"][0] == "org_cluster"
    assert link_staging(staging, store, options=LinkageOptions(charts=False)).models["configuration"]["source"] \
        == "loaded"


def test_two_people_answering_one_mailbox_with_surnames_alike_stay_two(tmp_path):
    # Emma Willis and Emma Williams at one client both read emma@: one address, two people (their phones differ).
    # Surnames that alike are no typo of each other (a slip of the keyboard changes the length by one letter at
    # most), so the address is a mailbox, not the proof of one person; the PSA holds two people, not one twice.
    people = []
    for source, org in (("autotask", "1"), ("itglue", "11")):
        for k, (last, phone) in enumerate((("willis", "5185558413"), ("williams", "5185557539"))):
            people.append({"source": source, "source_id": f"{org}-{k}", "organization_source_id": org,
                           "first_name_norm": "emma", "last_name_norm": last, "email_norm": "emma@contoso.com",
                           "phone_digits": phone, "psa_integration": "enabled" if source == "itglue" else None,
                           "created_at": T0})
    # a hand-made copy of Emma Willis with a typo in her surname is still her
    people.append({"source": "itglue", "source_id": "11-typo", "organization_source_id": "11",
                   "first_name_norm": "emma", "last_name_norm": "wilis", "email_norm": "emma@contoso.com",
                   "phone_digits": "5185558413", "psa_integration": None, "created_at": EARLY})
    tables, _ = link({"organizations": two_clients(), "contacts": pl.DataFrame(people)}, tmp_path)
    clusters = tables["marts.entity_clusters"]
    assert not same_cluster(clusters, "contact", ("autotask", "1-0"), ("autotask", "1-1"))
    assert same_cluster(clusters, "contact", ("autotask", "1-0"), ("itglue", "11-0"))
    assert same_cluster(clusters, "contact", ("autotask", "1-1"), ("itglue", "11-1"))
    assert same_cluster(clusters, "contact", ("autotask", "1-0"), ("itglue", "11-typo"))
    dups = tables["marts.duplicates"]
    assert dups.filter(pl.col("source") == "autotask").height == 0


def test_the_organization_prior_counts_links_every_pair_of_systems_can_make(tmp_path):
    # ConnectWise holds each client's domain, IT Glue's synced copy and the NinjaOne organization do not, and NinjaOne
    # names no PSA company. The prior that two random organizations match must come from pairs all three systems
    # can meet (about one record per client per system), not from the PSA's own duplicates alone: a prior 200 times
    # too small left renamed and suffixed NinjaOne organizations and hand-made copies unlinked.
    clients = [f"client {chr(97 + k // 26)}{chr(97 + k % 26)} {w}" for k, w in
               enumerate(["dental", "roofing", "law", "brewing", "logistics"] * 16)]
    rows = []
    for k, name in enumerate(clients):
        rows += [{"source": "connectwise", "source_id": f"{k}", "name": name, "name_norm": name,
                  "domain": f"c{k}.example", "created_at": T0},
                 {"source": "itglue", "source_id": f"g{k}", "name": name, "name_norm": name,
                  "psa_integration": "enabled", "created_at": T0},
                 {"source": "ninjaone", "source_id": f"n{k}", "name": name, "name_norm": name, "created_at": T0}]
    # the PSA holds one client twice: the only pair name and domain together would find
    rows.append({"source": "connectwise", "source_id": "0b", "name": clients[0], "name_norm": clients[0],
                 "domain": "c0.example", "created_at": T0})
    store = ModelStore(tmp_path / "models")
    link_staging({"organizations": pl.DataFrame(rows)}, store, options=LinkageOptions(charts=False))
    prior = json.loads(store.path("organization").read_text())["settings"]["probability_two_random_records_match"]
    n = len(rows)
    true_rate = (3 * len(clients) + 3) / (n * (n - 1) / 2)  # each client's three records pairwise, and the twin
    assert true_rate / 4 < prior < true_rate * 4, (prior, true_rate)


@pytest.mark.parametrize("first, second", [
    ("Reyes & Bradley Chiropractic - Uptown", "Reyes & Bradley Chiropractic - North"),
    ("Morris Freight - Eastside", "Morris Freight - Westside"),  # alike, but no slip of a key makes one the other
    ("Kingston Academy - East", "Kingston Academy - Eastside"),
    ("Wallace Landscaping - Eastside", "Wallace Landscapping - East"),  # a typo in the brand
])
def test_branches_sharing_the_psa_domain_phone_and_city_stay_apart(tmp_path, first, second):
    # Two branches of one franchise, each a company in the PSA with the brand's domain, phone and city, and each
    # synced to IT Glue; the RMM names one site by the client's city. One brand and two branch words are two
    # clients, however much else the two share; the city suffix of a site is no branch of its own.
    rows = []
    for sid, name in (("1", first), ("2", second)):
        norm = name.lower().replace(" & ", " and ").replace(" - ", " ")
        rows += [{"source": "autotask", "source_id": sid, "name": name, "name_norm": norm,
                  "domain": "reyesandbradleychiro.net", "phone_digits": "8165550100", "city": "Kansas City",
                  "created_at": T0},
                 {"source": "itglue", "source_id": f"1{sid}", "name": name, "name_norm": norm,
                  "psa_integration": "enabled", "created_at": T0}]
    rows.append({"source": "autotask", "source_id": "3", "name": "Contoso", "name_norm": "contoso",
                 "domain": "contoso.com", "city": "Denver", "created_at": T0})
    rows.append({"source": "itglue", "source_id": "13", "name": "Contoso", "name_norm": "contoso",
                 "psa_integration": "enabled", "created_at": T0})
    rows.append({"source": "datto_rmm", "source_id": "s3", "name": "Contoso - Denver", "name_norm": "contoso denver",
                 "psa_company_id": "3", "created_at": T0})
    tables, _ = link({"organizations": pl.DataFrame(rows)}, tmp_path)
    clusters = tables["marts.entity_clusters"]
    assert not same_cluster(clusters, "organization", ("autotask", "1"), ("autotask", "2"))
    assert not same_cluster(clusters, "organization", ("itglue", "11"), ("itglue", "12"))
    assert same_cluster(clusters, "organization", ("autotask", "1"), ("itglue", "11"))
    assert same_cluster(clusters, "organization", ("autotask", "2"), ("itglue", "12"))
    assert same_cluster(clusters, "organization", ("autotask", "3"), ("datto_rmm", "s3"))
    assert tables["marts.duplicates"].filter(pl.col("entity_type") == "organization").height == 0


def test_a_hand_made_copy_is_linked_by_the_domain_its_people_write_from(tmp_path):
    # IT Glue organizations hold no domain. A copy made by a CSV import ("Pinecrest Prinitng Ltd") holds network
    # gear the PSA does not track and two people the PSA does not know, all at the client's domain: the domain its
    # people write from is its domain. A mail provider's domain (many clients' people write from gmail.com) is
    # no client's.
    rows = [{"source": "connectwise", "source_id": "1", "name": "Pinecrest Printing", "name_norm": "pinecrest printing",
             "domain": "pinecrestprinting.co", "city": "Austin", "created_at": T0},
            {"source": "itglue", "source_id": "11", "name": "Pinecrest Printing", "name_norm": "pinecrest printing",
             "psa_integration": "enabled", "created_at": T0},
            {"source": "itglue", "source_id": "19", "name": "Pinecrest Prinitng Ltd", "name_norm": "pinecrest prinitng",
             "created_at": EARLY}]
    people, devices = [], []
    for k, first in enumerate(("gregory", "margaret", "aisha", "angela")):
        for source, org in (("connectwise", "1"), ("itglue", "11")):
            people.append({"source": source, "source_id": f"{org}-{k}", "organization_source_id": org,
                           "first_name_norm": first, "last_name_norm": f"surname{k}",
                           "email_norm": f"{first}@pinecrestprinting.co", "created_at": T0})
        devices += [cfg("connectwise", f"c{k}", "1", f"pinecres-pc-0{k}", f"SN-P{k}", f"AABBCCDD11{k:02d}"),
                    cfg("itglue", f"g{k}", "11", f"pinecres-pc-0{k}", f"SN-P{k}", f"AABBCCDD11{k:02d}", psa="enabled")]
    for k, first in enumerate(("amber", "nancy")):
        people.append({"source": "itglue", "source_id": f"19-{k}", "organization_source_id": "19",
                       "first_name_norm": first, "last_name_norm": f"other{k}",
                       "email_norm": f"{first}@pinecrestprinting.co", "created_at": EARLY})
    devices += [cfg("itglue", f"x{k}", "19", host, f"SN-X{k}", None, created_at=EARLY)
                for k, host in enumerate(("pinecres-fw01", "pinecres-printer", "pinecres-ap01"))]
    # two other clients whose people write from gmail.com, named alike
    for n, name in ((2, "Pinecrest Plumbing"), (3, "Pinecrest Paving")):
        rows.append({"source": "connectwise", "source_id": f"{n}", "name": name, "name_norm": name.lower(),
                     "created_at": T0})
        rows.append({"source": "itglue", "source_id": f"1{n}", "name": name, "name_norm": name.lower(),
                     "created_at": T0})
        for k in range(3):
            for source, org in (("connectwise", f"{n}"), ("itglue", f"1{n}")):
                people.append({"source": source, "source_id": f"{org}-{k}", "organization_source_id": org,
                               "first_name_norm": f"p{n}{k}", "last_name_norm": "doe",
                               "email_norm": f"p{n}{k}@gmail.com", "created_at": T0})
    staging = {"organizations": pl.DataFrame(rows), "contacts": pl.DataFrame(people),
               "configurations": pl.DataFrame(devices)}
    tables, _ = link(staging, tmp_path)
    clusters = tables["marts.entity_clusters"]
    assert same_cluster(clusters, "organization", ("connectwise", "1"), ("itglue", "19"))
    assert same_cluster(clusters, "organization", ("connectwise", "1"), ("itglue", "11"))
    assert not same_cluster(clusters, "organization", ("connectwise", "2"), ("connectwise", "3"))
    assert not same_cluster(clusters, "organization", ("itglue", "12"), ("itglue", "13"))


def _copy_case(copy_people: int, copy_devices: int, domain_of_people: str):
    """A client in the PSA and IT Glue (synced, four devices, four people) and a hand-made IT Glue copy of it
    ("Garza & Price Chiropractic Corp.") that documents other gear and other people, none of them in the PSA."""
    rows = [{"source": "connectwise", "source_id": "1", "name": "Garza & Price Chiropractic",
             "name_norm": "garza and price chiropractic", "domain": "garzaprice.org", "created_at": T0},
            {"source": "itglue", "source_id": "11", "name": "Garza & Price Chiropractic",
             "name_norm": "garza and price chiropractic", "psa_integration": "enabled", "created_at": T0},
            {"source": "itglue", "source_id": "19", "name": "Garza & Price Chiropractic Corp.",
             "name_norm": "garza and price chiropractic corp", "created_at": EARLY}]
    people, devices = [], []
    for k, first in enumerate(("gregory", "margaret", "aisha", "angela")):
        for source, org in (("connectwise", "1"), ("itglue", "11")):
            people.append({"source": source, "source_id": f"{org}-{k}", "organization_source_id": org,
                           "first_name_norm": first, "last_name_norm": f"surname{k}",
                           "email_norm": f"{first}@garzaprice.org", "created_at": T0})
        devices += [cfg("connectwise", f"c{k}", "1", f"gp-pc-0{k}", f"SN-P{k}", f"AABBCCDD11{k:02d}"),
                    cfg("itglue", f"g{k}", "11", f"gp-pc-0{k}", f"SN-P{k}", f"AABBCCDD11{k:02d}", psa="enabled")]
    for k in range(copy_people):
        people.append({"source": "itglue", "source_id": f"19-{k}", "organization_source_id": "19",
                       "first_name_norm": f"other{k}", "last_name_norm": f"other{k}",
                       "email_norm": f"other{k}@{domain_of_people}", "created_at": EARLY})
    devices += [cfg("itglue", f"x{k}", "19", host, f"SN-X{k}", f"AABBCCEE00{k:02d}", created_at=EARLY)
                for k, host in enumerate(("gp-fw01", "gp-printer", "gp-sw01", "gp-ap01")[:copy_devices])]
    return {"organizations": pl.DataFrame(rows), "contacts": pl.DataFrame(people),
            "configurations": pl.DataFrame(devices)}


@pytest.mark.parametrize("copy_people", [1, 2])
def test_a_hand_made_copy_holding_other_gear_at_the_clients_domain_is_the_client(tmp_path, copy_people):
    # The copy holds three identifiable devices and shares none with the client: alone, "both hold 3+ and share
    # nothing" would say two clients. Its people (one is enough) write from the client's domain, which says it is
    # the client's copy.
    tables, _ = link(_copy_case(copy_people, 3, "garzaprice.org"), tmp_path)
    clusters = tables["marts.entity_clusters"]
    assert same_cluster(clusters, "organization", ("itglue", "11"), ("itglue", "19"))
    assert same_cluster(clusters, "organization", ("connectwise", "1"), ("itglue", "19"))


def test_an_organization_alike_in_name_holding_other_gear_at_another_domain_stays_apart(tmp_path):
    tables, _ = link(_copy_case(2, 3, "garzapricedental.com"), tmp_path)
    clusters = tables["marts.entity_clusters"]
    assert not same_cluster(clusters, "organization", ("itglue", "11"), ("itglue", "19"))


def test_a_mac_on_many_machines_is_not_a_block_but_copies_carrying_it_still_link(tmp_path):
    # Cisco AnyConnect's virtual adapter reports one MAC on every laptop that runs it: at 10,000 clients three such
    # MACs made 14 million candidate pairs and ran the linkage out of memory. Twelve clients' laptops carry it
    # here; every pair scored is kept (pair_floor 0), so the pair table is every pair the blocks made.
    vpn_mac = "00059A3C7A00"
    org_rows, devices = [], []
    for n in range(12):
        org_rows += [("autotask", f"{n}", f"Client {n} Dental", f"client {n} dental", None, None, T0),
                     ("itglue", f"1{n}", f"Client {n} Dental", f"client {n} dental", "enabled", None, T0)]
        devices += [cfg("autotask", f"lt{n}", f"{n}", f"lt-client{n}", f"SN-LT{n}", vpn_mac, config_type="laptop"),
                    cfg("itglue", f"lt{n}", f"1{n}", f"lt-client{n}", None, vpn_mac, psa="enabled",
                        config_type="laptop")]
    # a reimaged desktop at client 0: new hostname, its own MAC, which still blocks
    devices += [cfg("autotask", "pc0", "0", "ws-old-name", None, "3C52820A1B2C", config_type="workstation"),
                cfg("itglue", "pc0", "10", "ws-new-name", None, "3C52820A1B2C", psa="enabled",
                    config_type="workstation")]
    options = LinkageOptions(train="priors", charts=False, pair_floor=0.0)
    tables, _ = link({"organizations": orgs(*org_rows), "configurations": pl.DataFrame(devices)}, tmp_path, options)
    pairs = tables["marts.match_pairs_configurations"]
    laptops = pairs.filter(pl.col("source_id_l").str.starts_with("lt") & pl.col("source_id_r").str.starts_with("lt"))
    # only each laptop's own copy: 12 pairs, not the 276 the shared MAC would block
    assert laptops.height == 12
    assert (laptops["source_id_l"] == laptops["source_id_r"]).all()
    clusters = tables["marts.entity_clusters"]
    for n in range(12):
        assert same_cluster(clusters, "configuration", ("autotask", f"lt{n}"), ("itglue", f"lt{n}"))
    assert not same_cluster(clusters, "configuration", ("autotask", "lt0"), ("autotask", "lt1"))
    assert same_cluster(clusters, "configuration", ("autotask", "pc0"), ("itglue", "pc0"))
