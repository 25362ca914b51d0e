"""Names everywhere: which client an action belongs to, what it is about in words ("DESKTOP-7JKQ53N at Vertex Stone
Partners"), and a link to it in IT Glue, organizations included (IT Glue's API gives organizations no resource-url).
"""

from collections.abc import Iterable, Mapping, MutableMapping

import duckdb

from pipelines.cleanup import store
from pipelines.cleanup.itglue_api import Fetched


def itglue_site(con: duckdb.DuckDBPyConnection) -> str | None:
    """The tenant's IT Glue web address (`https://yourmsp.itglue.com`), read off a record that has a resource-url."""
    for table in ("configurations", "contacts"):
        if not store.has_table(con, f"staging.{table}"):
            continue
        found = con.execute(f"SELECT regexp_extract(resource_url, '^(https?://[^/]+)') FROM staging.{table} "
                            "WHERE source = 'itglue' AND resource_url LIKE 'http%' LIMIT 1").fetchall()
        if found and found[0][0]:
            return found[0][0]
    return None


def organization_url(site: str | None, organization_id: str | None) -> str | None:
    return f"{site}/{organization_id}" if site and organization_id else None


def fill_organization_links(fetched: MutableMapping[tuple[str, str], Fetched], site: str | None) -> None:
    """Give fetched organizations the link IT Glue's API leaves out, so every action and instruction names one."""
    for (entity, source_id), record in fetched.items():
        attributes = record.attributes
        if entity == "organization" and not record.gone and not attributes.get("resource-url") and site \
                and record.document and record.document.get("data"):
            attributes["resource-url"] = organization_url(site, source_id)


def mart_organizations(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str, str], tuple[str | None, str | None]]:
    """(entity_type, source, source_id) -> (organization_name, organization_itglue_id), from the marts."""
    found: dict[tuple[str, str, str], tuple[str | None, str | None]] = {}
    for table in ("marts.duplicates", "marts.orphans"):
        if not store.has_table(con, table):
            continue
        columns = {r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()}
        if not {"organization_name", "organization_itglue_id"} <= columns:
            continue
        source = "source" if "source" in columns else "'itglue'"
        for entity, src, sid, name, org_id in con.execute(
                f"SELECT entity_type, {source}, source_id, organization_name, organization_itglue_id FROM {table}"
        ).fetchall():
            found[(entity, src, sid)] = (name, org_id)
    return found


def staged_organization_names(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """IT Glue organization id -> name, from staging (a fallback where the marts carry no names)."""
    if not store.has_table(con, "staging.organizations"):
        return {}
    return dict(con.execute("SELECT source_id, name FROM staging.organizations WHERE source = 'itglue'").fetchall())


def subject(entity_type: str, name: str | None, source_id: str, organization_name: str | None) -> str:
    """What an action is about, in words."""
    what = name or f"{entity_type} {source_id}"
    if entity_type == "organization":
        return f"organization {what}"
    return f"{what} at {organization_name}" if organization_name else what


def attach(con: duckdb.DuckDBPyConnection, proposals: Iterable, fetched: Mapping[tuple[str, str], Fetched]) -> None:
    """Set organization_name, organization_itglue_id and subject on every proposal: from the marts first, then from
    the IT Glue record as fetched (configurations and contacts carry organization-name), then from staging."""
    marts = mart_organizations(con)
    staged = staged_organization_names(con)
    for p in proposals:
        name, org_id = marts.get((p.entity_type, p.source, p.source_id), (None, None))
        record = fetched.get((p.entity_type, p.source_id)) if p.source == "itglue" else None
        attributes = record.attributes if record is not None else {}
        if p.entity_type == "organization" and p.source == "itglue":
            org_id = org_id or p.source_id
            name = name or p.name or attributes.get("name")
        elif attributes:
            org_id = org_id or (str(attributes["organization-id"]) if attributes.get("organization-id") else None)
            name = name or attributes.get("organization-name")
        name = name or (staged.get(org_id) if org_id else None)
        p.organization_name, p.organization_itglue_id = name, org_id
        p.subject = subject(p.entity_type, p.name, p.source_id, name)
        if p.instructions and not p.resource_url:  # no link known (no record of the tenant carried one): say what
            p.instructions = (p.instructions.replace("Item: None", f"Item: {p.subject} in IT Glue")
                              .replace("Open None", f"Open {p.subject} in IT Glue"))
