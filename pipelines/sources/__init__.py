"""The systems msp-recon reads, one module each. Adding a source: write its module, add one line here,
and put its staging SELECTs in sql/staging/<source>/."""

import importlib
from functools import cache

from pipelines.sources.base import Source

# contract `source` value -> module defining `SOURCE`
SOURCE_MODULES = {
    "itglue": "pipelines.sources.itglue",
    "connectwise": "pipelines.sources.connectwise",
    "autotask": "pipelines.sources.autotask",
    "datto_rmm": "pipelines.sources.datto_rmm",
    "ninjaone": "pipelines.sources.ninjaone",
}


@cache
def get_source(name: str) -> Source:
    return importlib.import_module(SOURCE_MODULES[name]).SOURCE


def all_sources() -> list[Source]:
    return [get_source(name) for name in SOURCE_MODULES]
