"""What every RMM connector must do over real HTTP against its sandbox server, as one set of checks that a new
RMM's test module runs with its own extractor (tests/test_ncentral.py, tests/test_automate.py): every record with
one token, small pages, 429 waited out, an expired token renewed, bad credentials in one line naming the variables
and the host, and its staging rows carrying the ids IT Glue's RMM records name."""

import asyncio
import copy
from collections.abc import Callable
from dataclasses import dataclass

import duckdb
import polars as pl

from pipelines.sandbox.server import RunningSandbox, Sandbox
from pipelines.sandbox.systems import build_world, expected_counts
from pipelines.sources import get_source, itglue
from pipelines.sources.http import AuthError, RetryPolicy
from pipelines.staging import build_staging
from pipelines.warehouse import replace_tables

FAST_RETRY = RetryPolicy(max_attempts=40, max_elapsed=60, initial_wait=0.05, max_wait=0.5, throttled_floor=0.3)


@dataclass
class RmmContract:
    name: str
    # extract(env, secret_override, **kwargs) -> Extraction, on a lifted budget and FAST_RETRY unless overridden
    extract: Callable
    secret_env: str
    hint: str  # the variables the auth error names

    def world(self, seed: int = 11, scale: int = 15):
        return build_world(seed=seed, scale=scale, rmms=(self.name,))

    def serve(self, world):
        return RunningSandbox(Sandbox(copy.deepcopy(world)))

    def env(self, running) -> dict[str, str]:
        return running.env((self.name,))

    def run(self, running, **kwargs):
        return asyncio.run(self.extract(self.env(running), **{"retry": FAST_RETRY, **kwargs}))

    # ---- the checks
    def every_record_from_the_registry_entry(self, running) -> None:
        source = get_source(self.name)
        extraction = asyncio.run(source.extract(source.config_from(self.env(running)), lambda table: None))
        expected = expected_counts(running.sandbox.world)
        assert {t: f.height for t, f in extraction.frames.items()} == {t: expected[t] for t in source.tables}
        assert extraction.stats["tokens_issued"] == 1

    def small_pages(self, running, page_size: int) -> None:
        extraction = self.run(running, page_size=page_size)
        expected = expected_counts(running.sandbox.world)
        assert {t: f.height for t, f in extraction.frames.items()} == {t: expected[t] for t in extraction.frames}
        assert extraction.stats["requests"] > len(extraction.frames) + 1  # several pages per list

    def throttled(self, running, limit: int = 4) -> None:
        running.sandbox.rate_limits[self.name] = limit
        running.sandbox.quirks[f"{self.name}.rate_window_seconds"] = 1
        extraction = self.run(running, page_size=25)
        assert extraction.stats["throttled_429"] > 0 and "warnings" not in extraction.stats
        expected = expected_counts(running.sandbox.world)
        assert all(f.height == expected[t] for t, f in extraction.frames.items())

    def token_renewed(self, running, uses: int = 3) -> None:
        running.sandbox.quirks[f"{self.name}.expire_tokens_after"] = uses
        extraction = self.run(running, page_size=25)
        assert extraction.stats["tokens_issued"] > 1 and "warnings" not in extraction.stats
        expected = expected_counts(running.sandbox.world)
        assert all(f.height == expected[t] for t, f in extraction.frames.items())

    def bad_credentials(self, running) -> None:
        env = {**self.env(running), self.secret_env: "wrong"}
        try:
            asyncio.run(self.extract(env, retry=FAST_RETRY))
        except AuthError as exc:
            message = str(exc)
        else:
            raise AssertionError("wrong credentials were accepted")
        assert message.startswith(f"{self.hint} is rejected by http://127.0.0.1:") and "\n" not in message

    def staged_ids_are_itglue_rmm_ids(self, running) -> None:
        """Its staging rows carry the device ids IT Glue's RMM records name (the certain link), and every device
        has a serial or a MAC."""
        extraction = self.run(running)
        env = running.env(("itglue",))
        glue = asyncio.run(itglue.extract_itglue(env["ITGLUE_API_URL"], env["ITGLUE_API_KEY"])).frames
        con = duckdb.connect()
        con.execute("CREATE SCHEMA raw; CREATE SCHEMA staging")
        replace_tables(con, "raw", {**extraction.frames, **glue})
        build_staging(con, ["itglue", self.name])
        rows = con.execute("SELECT source_id, rmm_device_id, serial_norm, mac_norm FROM staging.configurations "
                           "WHERE source = ?", [self.name]).fetchall()
        staged = pl.DataFrame(rows, schema=["source_id", "rmm_device_id", "serial_norm", "mac_norm"], orient="row")
        assert staged.height == expected_counts(running.sandbox.world)[f"{self.name}_{'devices' if self.name == 'ncentral' else 'computers'}"]
        assert (staged["rmm_device_id"] == staged["source_id"]).all()
        assert staged.filter(pl.col("serial_norm").is_null() & pl.col("mac_norm").is_null()).height == 0
        named = {r[0] for r in con.execute("SELECT rmm_device_id FROM staging.configurations WHERE source = 'itglue' "
                                           "AND rmm_device_id IS NOT NULL").fetchall()}
        live = set(staged["source_id"])
        assert named & live, "IT Glue's RMM records name the RMM's own device ids"
        types = {r[0] for r in con.execute("SELECT DISTINCT rmm_integration_type FROM raw.itglue_configurations "
                                           "WHERE rmm_integration_type IS NOT NULL").fetchall()}
        assert get_source(self.name).itglue_integration_type in types and "aem" not in types
