"""The systems msp-recon reads: the registry.

Each module of this package that defines `SOURCE` is one system, and its `Source` declares everything about it
(see `base.Source`). Adding a system is its module here, its staging SELECTs in sql/staging/<name>/ and its
sandbox server in pipelines/sandbox/api/: nothing lists systems by hand. The order is documentation, PSAs, RMMs,
each by name.
"""

import importlib
import pkgutil
from functools import cache

from pipelines.sources.base import KINDS, Source

# The package's shared layers, not systems.
_SHARED = {"base", "http", "oauth"}


@cache
def _registry() -> dict[str, Source]:
    found: list[Source] = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_") or info.name in _SHARED:
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        source = getattr(module, "SOURCE", None)
        if isinstance(source, Source):
            found.append(source)
    found.sort(key=lambda s: (KINDS.index(s.kind), s.name))
    names = [s.name for s in found]
    if len(set(names)) != len(names):
        raise RuntimeError(f"two source modules declare one name: {sorted(names)}")
    return {s.name: s for s in found}


def get_source(name: str) -> Source:
    try:
        return _registry()[name]
    except KeyError:
        raise KeyError(f"no source named {name!r}; known: {', '.join(_registry())}") from None


def all_sources() -> list[Source]:
    return list(_registry().values())


def source_names(kind: str | None = None) -> list[str]:
    """Names of every source, or of those of one kind ("psa", "rmm", "documentation")."""
    return [s.name for s in all_sources() if kind is None or s.kind == kind]


def source_roles() -> dict[str, tuple[str, str | None]]:
    """source -> (role, psa_link_target), the linkage's view of the registry."""
    return {s.name: (s.kind, s.psa_link_target) for s in all_sources()}


def write_systems(con) -> None:
    """`about.systems` on a DuckDB connection (the warehouse or the published copy): the registry as a table."""
    from pipelines.warehouse import run_script

    run_script(con, "about/systems.sql")
    con.executemany("INSERT INTO about.systems VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [
        (s.name, s.kind, s.title or s.name, s.itglue_integration_type, s.psa_link_target, list(s.staged),
         list(s.env), s.rate_limit.env if s.rate_limit else None) for s in all_sources()])
