"""The one registry of systems: every list of systems derives from it, and a system missing from one fails here."""

import ast
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from pipelines import cli
from pipelines.linkage.settings import SOURCE_ROLES
from pipelines.sandbox.server import env_for, protocols
from pipelines.sources import all_sources, get_source, source_names, write_systems
from pipelines.sources.base import ENTITY_TABLES, RateLimit, Source
from pipelines.sources.http import RateBudget
from pipelines.warehouse import SQL_DIR

ROOT = Path(__file__).resolve().parent.parent
NAMES = [s.name for s in all_sources()]


def test_the_registry_finds_every_source_module_once_in_kind_order():
    modules = {p.stem for p in (ROOT / "pipelines" / "sources").glob("*.py")} - {"__init__", "base", "http", "oauth"}
    assert set(NAMES) == modules
    kinds = [s.kind for s in all_sources()]
    assert kinds == sorted(kinds, key=("documentation", "psa", "rmm").index)
    assert source_names("documentation") == ["itglue"]


def test_linkage_roles_come_from_the_registry():
    assert SOURCE_ROLES == {s.name: (s.kind, s.psa_link_target) for s in all_sources()}
    for s in all_sources():
        assert s.psa_link_target is None or get_source(s.psa_link_target).kind == "psa"


def test_the_demo_offers_every_psa_and_every_rmm():
    options = {p.name: p for p in cli.demo.params}
    assert list(options["psa"].type.choices) == source_names("psa")
    assert list(options["rmm"].type.choices) == source_names("rmm")
    assert set(cli.DEMO_RMMS) <= set(source_names("rmm"))


@pytest.mark.parametrize("name", NAMES)
def test_each_source_declares_its_staging_selects_and_nothing_else_is_there(name):
    source = get_source(name)
    present = {p.stem for p in (SQL_DIR / "staging" / name).glob("*.sql")} - {"links"}
    assert present == set(source.staged), "sql/staging/<source>/ must hold exactly the staged tables' SELECTs"
    assert set(source.staged) <= set(ENTITY_TABLES.values())
    for table in source.staged:  # a SELECT names its own source, or staging would mix two systems' ids
        assert f"'{name}' AS source" in (SQL_DIR / "staging" / name / f"{table}.sql").read_text()


@pytest.mark.parametrize("name", NAMES)
def test_each_source_has_a_sandbox_server_that_turns_it_on(name):
    source = get_source(name)
    assert name in protocols(), f"no module in pipelines/sandbox/api declares SYSTEM = {name!r}"
    env = env_for("http://127.0.0.1:9", (name,))
    assert set(env) <= set(source.env)
    assert set(protocols()[name].CREDENTIALS) >= set(source.secrets)
    assert source.config_from(env) is not None, "the sandbox's variables must switch the source on"


def test_sandbox_mounts_are_distinct():
    mounts = [m.MOUNT for m in protocols().values()]
    assert len(set(mounts)) == len(mounts)


def test_about_systems_is_the_registry():
    con = duckdb.connect()
    write_systems(con)
    rows = con.execute("SELECT source, kind, itglue_integration_type, rate_limit_env FROM about.systems "
                       "ORDER BY source").fetchall()
    assert rows == sorted((s.name, s.kind, s.itglue_integration_type, s.rate_limit.env if s.rate_limit else None)
                          for s in all_sources())


def test_no_sql_file_lists_sources_by_hand():
    for path in SQL_DIR.rglob("*.sql"):
        text = path.read_text()
        lists = re.findall(r"VALUES\s*(\([^;]*?)\)\s*[,)]", text)
        listed = [n for chunk in lists for n in NAMES if f"'{n}'" in chunk]
        assert not listed, f"{path.relative_to(ROOT)} lists {listed}: join about.systems instead"


def test_readme_sources_table_is_the_registry():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Sources and their budgets", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    documented = {re.match(r"\| `([a-z_]+)`", line).group(1): line for line in rows}
    assert sorted(documented) == sorted(NAMES)
    for s in all_sources():
        if s.rate_limit:
            phrase = f"`{s.rate_limit.env}`, requests per {s.rate_limit.unit}"
            assert phrase in documented[s.name], f"the README row of {s.name} says {phrase}"


def test_rate_limit_variables_are_parsed_in_one_place():
    itglue = get_source("itglue")
    assert itglue.budget({}) == itglue.default_budget
    assert itglue.budget({"ITGLUE_RATE_LIMIT": "600"}) == RateBudget.within(600, 300, itglue.default_budget.concurrency)
    with pytest.raises(ValueError, match="ITGLUE_RATE_LIMIT must be a whole number of requests per 5 minutes"):
        itglue.budget({"ITGLUE_RATE_LIMIT": "fast"})
    sources_dir = ROOT / "pipelines"
    parsed = [p for p in sources_dir.rglob("*.py") if re.search(r"int\(config\[\"[A-Z_]+_RATE_LIMIT\"\]\)", p.read_text())]
    assert parsed == []


def test_a_source_declaration_is_checked():
    with pytest.raises(ValueError, match="kind must be one of"):
        Source("x", "crm", (), {}, (), extract=None)
    with pytest.raises(ValueError, match="X_SECRET is not one of its env vars"):
        Source("x", "rmm", ("X_KEY",), {}, (), extract=None, secrets=("X_SECRET",))
    # the rate-limit variable is declared once, by rate_limit, and is then one of the source's variables
    with pytest.raises(ValueError, match="X_LIMIT is declared by rate_limit"):
        Source("x", "rmm", ("X_KEY",), {"X_LIMIT": ""}, (), extract=None, rate_limit=RateLimit("X_LIMIT", 60, "minute"))
    declared = Source("x", "rmm", ("X_KEY",), {}, (), extract=None, rate_limit=RateLimit("X_LIMIT", 60, "minute"))
    assert declared.env == ("X_KEY", "X_LIMIT")
    assert declared.config_from({"X_KEY": "k"}) == {"X_KEY": "k", "X_LIMIT": ""}
    assert declared.config_from({"X_KEY": "k", "X_LIMIT": "30"})["X_LIMIT"] == "30"


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_production_modules_never_import_the_sandbox():
    """The product stands without its sandbox. The CLI is the one door to both: its `demo` and `sandbox serve`
    commands start the sandbox; nothing else outside pipelines/sandbox/ may name it."""
    offenders = {}
    for path in (ROOT / "pipelines").rglob("*.py"):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith("pipelines/sandbox/") or relative == "pipelines/cli.py":
            continue
        hits = {n for n in _imports(path) if n == "pipelines.sandbox" or n.startswith("pipelines.sandbox.")}
        if hits:
            offenders[relative] = hits
    assert offenders == {}


def test_loading_the_product_loads_no_sandbox_module():
    code = ("import sys, pipelines.definitions, pipelines.cli, pipelines.cleanup.plan, pipelines.publish; "
            "print(sorted(m for m in sys.modules if m.startswith('pipelines.sandbox')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_a_tenant_is_served_as_the_systems_it_was_built_for():
    from pipelines.sandbox.server import served
    from pipelines.sandbox.systems import build_world

    plain = set(served(None))
    assert {"itglue", "autotask", "connectwise", "datto_rmm", "ninjaone"} <= plain
    assert not plain & {"halopsa", "ncentral", "automate"}  # views exist only in a world built for them
    world = build_world(seed=3, scale=5, psa="halopsa", rmms=("ncentral",))
    assert {"halopsa", "ncentral"} <= set(served(world)) and "datto_rmm" not in served(world)  # its place taken
    with pytest.raises(ValueError, match="one RMM slot"):
        build_world(seed=3, scale=5, rmms=("ncentral", "datto_rmm"))
    with pytest.raises(ValueError, match="one RMM slot"):
        build_world(seed=3, scale=5, rmms=("ncentral", "automate"))


def test_itglue_names_every_rmm_by_its_integration_type():
    """IT Glue's RMM records say which RMM they came from by IT Glue's own type names; staging maps each to the
    registry's source, so an RMM missing from that mapping would never have its gone devices proven gone."""
    select = (SQL_DIR / "staging" / "itglue" / "configurations.sql").read_text()
    for s in all_sources():
        if s.kind == "rmm":
            assert s.itglue_integration_type, f"{s.name} declares no IT Glue rmm_integration_type"
            assert re.search(rf"WHEN '{re.escape(s.itglue_integration_type)}' THEN '{s.name}'", select), s.name
