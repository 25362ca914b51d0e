"""msp-recon: the command line (contract: shared/docs/contract.md)."""

import sys

import click

from pipelines.settings import DEFAULT_DAGSTER_HOME, ensure_dagster_home, warehouse_path


def fail(message: str) -> None:
    click.echo(f"msp-recon: {message}", err=True)
    sys.exit(1)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Reconcile IT Glue with your PSA and RMM: find duplicates and orphans, say why, clean up what you approve."""


@main.command()
def run() -> None:
    """Run the weekly reconciliation job now, as a Dagster run recorded in DAGSTER_HOME."""
    from pipelines.runner import run_job

    outcome = run_job("weekly_reconciliation")
    report(outcome)


@main.command()
@click.option("--seed", default=7, show_default=True, help="Seed of the sandbox tenant.")
@click.option("--scale", default=60, show_default=True, help="Client organizations in the sandbox tenant.")
@click.option("--psa", type=click.Choice(["autotask", "connectwise"]), default="autotask", show_default=True,
              help="The PSA the demo extracts (both are served).")
def demo(seed: int, scale: int, psa: str) -> None:
    """Start the built-in sandbox tenant, run the weekly job against it over HTTP, stop it, and summarize."""
    from pipelines.runner import run_job
    from pipelines.sandbox.server import RunningSandbox, Sandbox
    from pipelines.sandbox.world import build_world

    click.echo(f"Building the sandbox tenant (seed {seed}, {scale} clients)…")
    world = build_world(seed=seed, scale=scale, psa=psa)
    with RunningSandbox(Sandbox(world)) as sandbox:
        click.echo(f"Sandbox serving IT Glue, {psa} and the RMMs on {sandbox.url}")
        outcome = run_job("weekly_reconciliation", env=sandbox.env(("itglue", psa, "datto_rmm", "ninjaone")))
    report(outcome, expected=world.expected_counts())


def report(outcome, expected: dict[str, int] | None = None) -> None:
    from pipelines.warehouse import Warehouse, WarehouseLocked

    if not outcome.success:
        for step, reason in outcome.failures:
            click.echo(f"msp-recon: step {step} failed: {reason}", err=True)
        fail(f"run {outcome.run_id} failed; see it in the Dagster UI (make ui)")
    store = Warehouse(warehouse_path())
    try:
        tables = {f"{schema}.{t}": n for schema in ("raw", "staging", "marts", "cleanup")
                  for t, n in store.row_counts(schema).items()}
    except WarehouseLocked as exc:
        fail(str(exc))
    click.echo(f"\nRun {outcome.run_id} succeeded.\n")
    width = max(map(len, tables), default=10)
    for name, rows in tables.items():
        check = ""
        if expected and name.startswith("raw.") and name[4:] in expected:
            check = "  ok" if expected[name[4:]] == rows else f"  expected {expected[name[4:]]}"
        click.echo(f"  {name:<{width}}  {rows:>9,}{check}")
    click.echo(f"\nWarehouse: {store.path}")
    click.echo(f"  query it:  duckdb {store.path} -c \"SELECT * FROM staging.configurations LIMIT 10\"")
    click.echo("  Dagster UI: make ui   (or: dagster dev -w workspace.yaml), then open http://127.0.0.1:3000")
    if expected and any(name.startswith("raw.") and name[4:] in expected and expected[name[4:]] != rows
                        for name, rows in tables.items()):
        fail("row counts differ from the sandbox tenant's")


@main.group()
def sandbox() -> None:
    """The built-in sandbox tenant, served over the vendors' real wire protocols."""


@sandbox.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8765, show_default=True)
@click.option("--seed", default=7, show_default=True)
@click.option("--scale", default=60, show_default=True, help="Client organizations (tens to tens of thousands).")
def serve(host: str, port: int, seed: int, scale: int) -> None:
    """Serve the sandbox until interrupted; prints the env vars that point msp-recon at it."""
    from pipelines.sandbox.server import env_for, serve_forever

    click.echo("Point msp-recon at the sandbox with (or put these in .env):")
    for key, value in env_for(f"http://{host}:{port}").items():
        click.echo(f"  export {key}={value}")
    serve_forever(seed=seed, scale=scale, host=host, port=port)


__all__ = ["main", "DEFAULT_DAGSTER_HOME", "ensure_dagster_home"]
