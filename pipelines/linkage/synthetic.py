"""Staging-shaped synthetic tenants with ground truth, generated column-wise (a million configurations in seconds).

For the speed benchmark and for tests that need more than a handful of records; the quality script scores on the
sandbox World instead. Sources: IT Glue, Autotask, Datto RMM. Every planted case is one of domain.md's: the four
duplicate causes, the three orphan reasons, DC01 at every client, VM-clone and placeholder serials, reimaged laptops
(new hostname, same serial), FQDN names, franchises (`Acme Dental - North` / `- South`), namesakes at two clients.
The truth frames have the columns of `pipelines.sandbox.world.Truth` (entities, duplicates, orphans).
"""

import random
from dataclasses import dataclass
from datetime import UTC, datetime

import polars as pl

WORDS = ("acme contoso fabrikam northwind tailspin wingtip adventure litware proseware woodgrove fourth coffee alpine "
         "blue yonder bellows margie lucerne trey humongous wide world graphic design datum relecloud southridge "
         "vanarsdel consolidated messenger boxer fincher abbey litigation greene pine oak cedar maple harbor summit "
         "river valley lake prairie meadow canyon granite silver golden liberty pioneer heritage frontier").split()
KINDS = ("dental", "law", "clinic", "logistics", "accounting", "realty", "bakery", "motors", "builders", "veterinary",
         "insurance", "pharmacy", "labs", "partners", "group", "studio", "foods", "school", "church", "hotel")
SUFFIXES = ("", ", Inc.", " LLC", " Ltd", " Co.", " Corp")
FIRST = ("james mary robert patricia john jennifer michael linda david elizabeth william barbara richard susan joseph "
         "jessica thomas sarah charles karen chris nancy daniel lisa matthew betty anthony sandra mark ashley").split()
LAST = ("smith johnson williams brown jones garcia miller davis rodriguez martinez hernandez lopez gonzalez wilson "
        "anderson thomas taylor moore jackson martin lee perez thompson white harris sanchez clark ramirez lewis").split()
NICK = {"robert": "rob", "william": "bill", "richard": "rick", "michael": "mike", "joseph": "joe", "thomas": "tom",
        "elizabeth": "liz", "jennifer": "jen", "patricia": "pat", "daniel": "dan", "matthew": "matt", "anthony": "tony",
        "christopher": "chris", "james": "jim", "david": "dave", "charles": "chuck", "susan": "sue"}
SYNC_AT = datetime(2023, 1, 9, 8, 0, tzinfo=UTC)


@dataclass
class SyntheticTenant:
    staging: dict[str, pl.DataFrame]
    entities: pl.DataFrame
    duplicates: pl.DataFrame
    orphans: pl.DataFrame


def _u(col: str, salt: int, seed: int) -> pl.Expr:
    """A uniform [0, 1) draw per row, reproducible from (seed, salt): column-wise randomness without numpy."""
    return (pl.col(col).hash(seed * 1000 + salt) % 1_000_003).cast(pl.Float64) / 1_000_003


def synthetic_tenant(n_clients: int = 40, devices_per_client: int = 30, contacts_per_client: int = 4,
                     seed: int = 1) -> SyntheticTenant:
    rnd = random.Random(seed)
    C = n_clients
    # ---- organizations (a few thousand at most: plain Python) -----------------------------------------------------
    base = [f"{rnd.choice(WORDS)} {rnd.choice(WORDS)} {rnd.choice(KINDS)}" for _ in range(C)]
    branch = [""] * C
    for i in range(C - 1):
        if branch[i] == "" and rnd.random() < 0.06:  # the next client is the same brand's other branch
            base[i + 1] = base[i]
            branch[i], branch[i + 1] = " - North", " - South"
    title = [b.title() for b in base]
    canonical = [f"{t}{br}" if br else f"{t}{rnd.choice(SUFFIXES)}" for t, br in zip(title, branch, strict=True)]
    norm = [(b + br).replace(" - ", " ").lower() for b, br in zip(base, branch, strict=True)]
    domain = [f"{n.replace(' ', '')}{i}.com" for i, n in enumerate(norm)]
    phone = [f"555{rnd.randint(1000000, 9999999)}" for _ in range(C)]
    at_ids = [f"{29680000 + i}" for i in range(C)]
    org_of = {"autotask": at_ids, "itglue": [f"{5000 + i}" for i in range(C)],
              "datto_rmm": [f"site-{i}" for i in range(C)]}
    org_rows, ent_rows, dup_rows = [], [], []

    def org(source, sid, name, nnorm, dom, ph, entity, psa=None, psa_company=None, created=SYNC_AT):
        org_rows.append((source, sid, name, nnorm, dom, ph, psa, psa_company, created))
        ent_rows.append(("organization", source, sid, f"org-{entity}"))

    for i in range(C):
        org("autotask", at_ids[i], canonical[i], norm[i], domain[i], phone[i], i)
        org("itglue", org_of["itglue"][i], canonical[i], norm[i], None, phone[i], i, psa="enabled")
        main = rnd.random() < 0.5
        org("datto_rmm", org_of["datto_rmm"][i], f"{title[i]}{branch[i]}" + (" - Main Office" if main else ""),
            norm[i] + (" main office" if main else ""), None, None, i,
            psa_company=at_ids[i] if rnd.random() < 0.7 else None)
        if rnd.random() < 0.05:  # documented by hand before the first sync
            # hand-made copies get ids after every synced one (5000 + C + i): fixed offsets collided above 4000 clients
            org("itglue", f"{5000 + C + i}", canonical[i].upper().replace(",", ""), norm[i], None, None, i,
                created=datetime(2021, 5, 1, tzinfo=UTC))
            dup_rows += [("organization", "itglue", org_of["itglue"][i], f"org-{i}", "pre_sync_existing"),
                         ("organization", "itglue", f"{5000 + C + i}", f"org-{i}", "pre_sync_existing")]
    orgs = pl.DataFrame(org_rows, orient="row", schema=["source", "source_id", "name", "name_norm", "domain",
                                                        "phone_digits", "psa_integration", "psa_company_id",
                                                        "created_at"]).with_columns(pl.lit(True).alias("is_active"))
    org_map = pl.DataFrame([(s, c, o) for s, ids in org_of.items() for c, o in enumerate(ids)], orient="row",
                           schema=["source", "client", "organization_source_id"])

    # ---- devices (column-wise, a million in seconds) --------------------------------------------------------------
    N, D = C * devices_per_client, devices_per_client
    types = {"ws": "workstation", "lt": "laptop", "srv": "server", "prn": "printer", "fw": "network"}
    dev = pl.DataFrame({"device": pl.int_range(N, eager=True)}).with_columns(
        (pl.col("device") // D).alias("client"), (pl.col("device") % D).alias("j"),
        *[_u("device", k, seed).alias(f"u{k}") for k in range(10)])
    dev = dev.with_columns(
        pl.when(pl.col("j") == 0).then(pl.lit("srv"))
        .when(pl.col("u0") < 0.5).then(pl.lit("ws")).when(pl.col("u0") < 0.8).then(pl.lit("lt"))
        .when(pl.col("u0") < 0.9).then(pl.lit("srv")).when(pl.col("u0") < 0.96).then(pl.lit("prn"))
        .otherwise(pl.lit("fw")).alias("prefix"))
    clone_clients = (pl.col("client").hash(seed + 77) % 100) < 5
    dev = dev.with_columns(
        # DC01 at every client: never one device across clients
        pl.when(pl.col("j") == 0).then(pl.lit("dc01"))
        .otherwise(pl.col("prefix") + "-" + pl.col("j").cast(pl.String).str.zfill(3)).alias("host"),
        pl.col("prefix").replace_strict(types).alias("ctype"),
        # VM clones share one BIOS serial across a client's servers; placeholder serials are NULL after norm_serial
        pl.when(clone_clients & (pl.col("prefix") == "srv") & (pl.col("j") > 0))
        .then(pl.lit("VMWARE-42 1A ") + (pl.col("client") % 3).cast(pl.String))
        .when(pl.col("u1") < 0.04).then(None)
        .otherwise(pl.lit("SN") + (pl.col("device") * 7919 + 104729 + seed).cast(pl.String).str.zfill(9))
        .alias("serial"),
        pl.when(pl.col("u2") < 0.03).then(None)
        # one MAC per device at any size: six digits after the OUI wrapped at a million devices, and at 10M
        # configurations (3.4M devices) unrelated machines with one hostname (ws-017) shared a MAC, a certain link
        .otherwise(pl.lit("00") + (pl.col("device") + seed * 1_000_000_000).cast(pl.String).str.zfill(10).str.slice(-10))
        .alias("mac"),
        (pl.lit("10.") + (pl.col("client") % 250).cast(pl.String) + ".0." + (pl.col("j") % 250).cast(pl.String))
        .alias("ip"),
        (pl.col("u3") >= 0.05).alias("in_psa"),            # 5% are in IT Glue only (imported by CSV)
        (pl.col("u4") < 0.9).alias("in_rmm"),
    ).with_columns((pl.col("in_rmm") & (pl.col("u5") < 0.03)).alias("reimaged"))
    r, o = pl.col("u6"), pl.col("u7")
    dev = dev.with_columns(
        pl.when(pl.col("in_psa") & (r < 0.04)).then(pl.lit("pre_sync_existing"))
        .when(pl.col("in_psa") & pl.col("in_rmm") & (r >= 0.04) & (r < 0.08)).then(pl.lit("sync_method_change"))
        .when(pl.col("in_psa") & (r >= 0.08) & (r < 0.09)).then(pl.lit("source_duplicate"))
        .when(~pl.col("in_psa") & (r < 0.4)).then(pl.lit("csv_double_import"))
        .alias("cause"))
    free = pl.col("cause").is_null() & pl.col("in_psa")
    dev = dev.with_columns(
        pl.when(free & (o < 0.01)).then(pl.lit("psa_orphaned"))
        .when(free & (o >= 0.01) & (o < 0.02)).then(pl.lit("psa_record_deleted"))
        .when(free & pl.col("in_rmm") & (o >= 0.02) & (o < 0.03)).then(pl.lit("rmm_device_deleted"))
        .alias("orphan"),
        ("dev-" + pl.col("device").cast(pl.String)).alias("uid"),
    ).with_columns(
        # a reimaged laptop: new hostname in the RMM, same serial
        pl.when(pl.col("reimaged")).then("wsr-" + pl.col("j").cast(pl.String) + "x").otherwise("host")
        .alias("rmm_host"),
        pl.col("orphan").is_in(["psa_orphaned", "psa_record_deleted", "rmm_device_deleted"]).fill_null(False)
        .alias("psa_gone"),
    )
    orph = pl.col("orphan")

    def rows(mask: pl.Expr, source: str, prefix: str, created: float, **cols: pl.Expr) -> pl.DataFrame:
        defaults = {"name": pl.col("host"), "serial": pl.col("serial"), "mac": pl.col("mac"), "ip": pl.col("ip"),
                    "rmm": pl.lit(None, pl.String), "psa": pl.lit(None, pl.String), "has_rmm": pl.lit(False),
                    "deleted": pl.lit(False)}
        defaults.update(cols)
        return dev.filter(mask).select(
            pl.lit(source).alias("source"), (pl.lit(prefix) + pl.col("device").cast(pl.String)).alias("source_id"),
            "device", "client", "ctype", pl.lit(created).alias("kind"),
            *[e.alias(k) for k, e in defaults.items()])

    cause = pl.col("cause")
    frames = [
        rows(pl.col("in_psa") & ~pl.col("psa_gone"), "autotask", "ci", 0.0,
             rmm=pl.when(pl.col("in_rmm")).then("uid")),
        rows(pl.col("in_rmm"), "datto_rmm", "dev-", 0.0, name=pl.col("rmm_host"), rmm=pl.col("uid"),
             deleted=(orph == "rmm_device_deleted").fill_null(False)),
        # the PSA-synced IT Glue copy; FQDN names for some ("ws-014.corp.local" is WS-014)
        rows(pl.col("in_psa") & (orph.fill_null("") != "rmm_device_deleted"), "itglue", "1", 1.0,
             name=pl.when(pl.col("u8") < 0.2).then(pl.col("host") + ".corp.local").otherwise("host"),
             psa=pl.when(orph == "psa_orphaned").then(pl.lit("orphaned")).otherwise(pl.lit("enabled"))),
        rows(orph == "rmm_device_deleted", "itglue", "1", -3.0, name=pl.col("rmm_host"), rmm=pl.col("uid"),
             has_rmm=pl.lit(True)),
        rows(cause == "pre_sync_existing", "itglue", "2", -2.0,
             name=pl.col("host").str.replace("-", "").str.to_uppercase(),
             mac=pl.when(pl.col("u9") < 0.5).then("mac"), ip=pl.lit(None, pl.String)),
        rows(cause == "sync_method_change", "itglue", "3", -1.0, name=pl.col("rmm_host"), rmm=pl.col("uid"),
             has_rmm=pl.lit(True)),
        rows(cause == "source_duplicate", "autotask", "cix", 0.5, name=pl.col("host").str.to_uppercase(),
             mac=pl.lit(None, pl.String), ip=pl.lit(None, pl.String)),
        rows(cause == "source_duplicate", "itglue", "4", 1.5, name=pl.col("host").str.to_uppercase(),
             mac=pl.lit(None, pl.String), ip=pl.lit(None, pl.String), psa=pl.lit("enabled")),
        rows(~pl.col("in_psa"), "itglue", "5", -10.0),
        rows(cause == "csv_double_import", "itglue", "6", -5.0),
    ]
    cfg = pl.concat(frames, how="vertical_relaxed")
    cfg = cfg.with_columns(_u("source_id", 11, seed).alias("t"))
    day = 86400.0
    # creation times: the first sync at SYNC_AT, the two CSV imports as bursts, manual/RMM copies spread over 2021-22
    offset = (pl.when(pl.col("kind") == 1.0).then(pl.col("t") * 3600)
              .when(pl.col("kind") == 1.5).then(30 * day + pl.col("t") * 600)
              .when(pl.col("kind") == -10.0).then(-400 * day + pl.col("t") * 150)
              .when(pl.col("kind") == -5.0).then(-200 * day + pl.col("t") * 150)
              .when(pl.col("kind") < 0).then(-day - pl.col("t") * 400 * day)
              .otherwise(0.0))
    name_norm = pl.col("name").str.split(".").list.first().str.to_lowercase()
    cfg = cfg.join(org_map, on=["source", "client"], how="left")
    configurations = cfg.select(
        "source", "source_id", "organization_source_id", "name",
        name_norm.alias("name_norm"), name_norm.alias("hostname_norm"),
        pl.col("serial").alias("serial_norm"), pl.col("mac").alias("mac_norm"),
        pl.when(pl.col("mac").is_not_null()).then(pl.concat_list("mac")).alias("macs"),
        "ip", pl.col("ctype").alias("config_type"), pl.col("psa").alias("psa_integration"),
        pl.col("has_rmm").alias("has_rmm_record"), pl.col("rmm").alias("rmm_device_id"),
        pl.col("deleted").alias("is_deleted"),
        (pl.lit(SYNC_AT) + pl.duration(milliseconds=(offset * 1000).cast(pl.Int64))).alias("created_at"),
    )
    dev_id = pl.lit("dev-") + pl.col("device").cast(pl.String)
    cfg_ent = cfg.select(pl.lit("configuration").alias("entity_type"), "source", "source_id",
                         dev_id.alias("entity_id"))
    cfg_dups = (cfg.join(dev.select("device", "cause"), on="device").filter(pl.col("cause").is_not_null())
                .filter(pl.len().over("device", "source") >= 2)
                .select(pl.lit("configuration").alias("entity_type"), "source", "source_id",
                        dev_id.alias("entity_id"), "cause"))
    cfg_orph = (cfg.filter((pl.col("source") == "itglue") & pl.col("source_id").str.starts_with("1"))
                .join(dev.select("device", "orphan"), on="device").filter(pl.col("orphan").is_not_null())
                .select(pl.lit("configuration").alias("entity_type"), "source_id", pl.col("orphan").alias("reason")))

    # ---- contacts ---------------------------------------------------------------------------------------------------
    crow = []
    for k in range(C * contacts_per_client):
        c = k // contacts_per_client
        fn, ln = rnd.choice(FIRST), rnd.choice(LAST)
        email, ph = f"{fn}.{ln}@{domain[c]}", f"{phone[c][:-3]}{rnd.randint(100, 999)}"
        rc = rnd.random()
        cause_k = "pre_sync_existing" if rc < 0.05 else "source_duplicate" if rc < 0.065 else None
        orphaned = cause_k is None and rnd.random() < 0.015
        if not orphaned:
            crow.append(("autotask", f"ct{k}", at_ids[c], fn, ln, email, ph, None, 0.0, k, cause_k))
        crow.append(("itglue", f"7{k}", org_of["itglue"][c], fn, ln, email, ph,
                     "orphaned" if orphaned else "enabled", 1.0, k, cause_k))
        if cause_k == "pre_sync_existing":
            crow.append(("itglue", f"8{k}", org_of["itglue"][c], NICK.get(fn, fn), ln,
                         email if rnd.random() < 0.5 else None, None, None, -2.0, k, cause_k))
        elif cause_k == "source_duplicate":
            crow.append(("autotask", f"ctx{k}", at_ids[c], fn, ln, email, None, None, 0.5, k, cause_k))
            crow.append(("itglue", f"9{k}", org_of["itglue"][c], fn, ln, email, None, "enabled", 1.5, k, cause_k))
    ct = pl.DataFrame(crow, orient="row", schema=["source", "source_id", "organization_source_id", "first_name_norm",
                                                  "last_name_norm", "email_norm", "phone_digits", "psa_integration",
                                                  "kind", "person", "cause"])
    ct = ct.with_columns(_u("source_id", 12, seed).alias("t"))
    offset = (pl.when(pl.col("kind") == 1.0).then(pl.col("t") * 3600)
              .when(pl.col("kind") == 1.5).then(30 * day + pl.col("t") * 600)
              .when(pl.col("kind") < 0).then(-day - pl.col("t") * 400 * day).otherwise(0.0))
    contacts = ct.with_columns(
        (pl.lit(SYNC_AT) + pl.duration(milliseconds=(offset * 1000).cast(pl.Int64))).alias("created_at"),
        pl.col("first_name_norm").alias("first_name"), pl.col("last_name_norm").alias("last_name"),
    ).drop("kind", "person", "cause", "t")
    person = pl.lit("person-") + pl.col("person").cast(pl.String)
    ct_ent = ct.select(pl.lit("contact").alias("entity_type"), "source", "source_id", person.alias("entity_id"))
    ct_dups = (ct.filter(pl.col("cause").is_not_null()).filter(pl.len().over("person", "source") >= 2)
               .select(pl.lit("contact").alias("entity_type"), "source", "source_id", person.alias("entity_id"),
                       "cause"))
    ct_orph = ct.filter(pl.col("psa_integration") == "orphaned").select(
        pl.lit("contact").alias("entity_type"), "source_id", pl.lit("psa_orphaned").alias("reason"))

    org_ent = pl.DataFrame(ent_rows, orient="row", schema=["entity_type", "source", "source_id", "entity_id"])
    org_dups = pl.DataFrame(dup_rows, orient="row",
                            schema=["entity_type", "source", "source_id", "entity_id", "cause"])
    return SyntheticTenant(
        staging={"organizations": orgs, "configurations": configurations, "contacts": contacts},
        entities=pl.concat([org_ent, cfg_ent, ct_ent], how="vertical_relaxed"),
        duplicates=pl.concat([org_dups, cfg_dups, ct_dups], how="vertical_relaxed"),
        orphans=pl.concat([cfg_orph, ct_orph], how="vertical_relaxed"),
    )
