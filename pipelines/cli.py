"""msp-recon: the command line (contract: shared/docs/contract.md)."""

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import click

from pipelines.settings import DEFAULT_DAGSTER_HOME, ensure_dagster_home, warehouse_path
from pipelines.sources import source_names

# The demo's RMMs unless --rmm says otherwise: the two the sandbox tenant has always served side by side.
DEMO_RMMS = ("datto_rmm", "ninjaone")


def fail(message: str) -> None:
    click.echo(f"msp-recon: {message}", err=True)
    sys.exit(1)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Reconcile IT Glue with your PSA and RMM: find duplicates and orphans, say why, clean up what you approve."""
    # Dagster's API-stability notices are for the developers of this project, not for its users' terminals.
    import warnings

    import dagster as dg

    for category in (dg.BetaWarning, dg.PreviewWarning, dg.SupersessionWarning):
        warnings.simplefilter("ignore", category)
    # SIGTERM stops a command the way Ctrl-C does (KeyboardInterrupt), so a waiting or running command ends in
    # one line and a non-zero exit instead of dying silently.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)


STOP = threading.Event()


def _interrupt(signum, frame) -> None:
    STOP.set()  # noticed by a wait even if the KeyboardInterrupt below is lost
    raise KeyboardInterrupt


def check_settings(settings: dict[str, str]) -> None:
    """Every bad setting in one line each, then exit 1, before anything runs."""
    from pipelines.settings import SettingsError, validate

    try:
        validate(settings)
    except SettingsError as exc:
        for problem in exc.problems:
            click.echo(f"msp-recon: {problem}", err=True)
        sys.exit(1)


def launch(job_name: str, **options):
    """run_job for a command: bad settings, a warehouse held by another run, or Ctrl-C/SIGTERM before the run
    starts, end in one line each; what the run waits for is said on stderr."""
    from pipelines.settings import OWN_PREFIX, environment

    env = options.get("env") or {}
    # an isolated run (the demo) reads only msp-recon's own settings from this machine, not its sources'
    machine = {k: v for k, v in environment().items() if not options.get("isolated") or k.startswith(OWN_PREFIX)}
    check_settings({**machine, **env})
    from pipelines.runner import run_job
    from pipelines.warehouse_lock import WarehouseBusy

    try:
        with step_progress(job_name) as on_step:
            outcome = run_job(job_name, on_step=on_step, say=lambda line: click.echo(f"msp-recon: {line}", err=True),
                              stop=STOP, **options)
    except WarehouseBusy as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        fail(f"interrupted: {job_name} stopped before it changed anything")
    return outcome


@main.command()
@click.option("--full-relink", is_flag=True,
              help="Score every record again, not only those new or changed since the last run.")
def run(full_relink: bool) -> None:
    """Run the weekly reconciliation job now, as a Dagster run recorded in DAGSTER_HOME."""
    from pipelines.settings import environment
    from pipelines.sources import get_source

    check_settings(environment())
    # IT Glue is what gets reconciled: without it a run would only produce empty tables and a "success".
    if get_source("itglue").config_from(environment()) is None:
        fail("IT Glue is not configured: set ITGLUE_API_KEY (and ITGLUE_API_URL outside the US) in the environment "
             "or in .env, plus the PSA and RMM variables (README: Pointing it at your own accounts); "
             "`msp-recon demo` runs on the built-in sandbox instead")
    for line in psa_warnings(environment()):
        click.echo(f"msp-recon: warning: {line}", err=True)
    config = {"ops": {"linkage_marts": {"config": {"full_relink": True}}}} if full_relink else None
    report(launch("weekly_reconciliation", run_config=config))


def psa_warnings(env) -> list[str]:
    """A line when more than one PSA is configured: every configured source is extracted (pipelines/assets/extract.py)
    and linked as a PSA, while an IT Glue account syncs with one PSA."""
    from pipelines.sources import all_sources

    psas = [s.name for s in all_sources() if s.kind == "psa" and s.config_from(env) is not None]
    if len(psas) < 2:
        return []
    return [f"{len(psas)} PSAs are configured ({', '.join(psas)}): all of them are extracted and linked as PSAs, "
            "though IT Glue syncs with one; unset the other's variables unless you mean to reconcile both"]


def _difficulty(ctx: click.Context, param: click.Parameter, value: str) -> str:
    from pipelines.sandbox.variation import variation_for

    try:
        variation_for(0, value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    return value


DIFFICULTY_HELP = ("How messy the sandbox tenant is: standard, hard (names, serials and stories vary as in real "
                   "tenants), or a number from 0 to 1.")


@main.command()
@click.option("--seed", default=7, show_default=True, help="Seed of the sandbox tenant.")
@click.option("--scale", default=60, show_default=True, help="Client organizations in the sandbox tenant.")
@click.option("--psa", type=click.Choice(source_names("psa")), default="autotask", show_default=True,
              help="The PSA the demo extracts (IT Glue syncs with it in the tenant).")
@click.option("--rmm", type=click.Choice(source_names("rmm")), multiple=True, default=DEMO_RMMS,
              show_default=True, help="The RMMs the demo extracts (repeat the option for several).")
@click.option("--difficulty", default="standard", show_default=True, callback=_difficulty, help=DIFFICULTY_HELP)
def demo(seed: int, scale: int, psa: str, rmm: tuple[str, ...], difficulty: str) -> None:
    """Start the built-in sandbox tenant, run the weekly job against it over HTTP, stop it, and summarize."""
    from pipelines.sandbox.guard import refuse_live_warehouse
    from pipelines.sandbox.server import RunningSandbox, Sandbox
    from pipelines.sandbox.systems import build_world, expected_counts

    try:
        refuse_live_warehouse(warehouse_path())
    except RuntimeError as exc:
        fail(str(exc))
    click.echo(f"Building the sandbox tenant (seed {seed}, {scale} clients, difficulty {difficulty})…")
    rmms = tuple(dict.fromkeys(rmm))
    try:
        world = build_world(seed=seed, scale=scale, psa=psa, rmms=rmms, difficulty=difficulty)
    except ValueError as exc:
        fail(str(exc))
    with RunningSandbox(Sandbox(world)) as sandbox:
        click.echo(f"Sandbox serving IT Glue, {psa} and {', '.join(rmms)} on {sandbox.url}")
        # isolated: accounts configured on this machine (.env) take no part in the demo
        outcome = launch("weekly_reconciliation", env=sandbox.env(("itglue", psa, *rmms)), isolated=True)
    report(outcome, expected=expected_counts(world))


@contextmanager
def step_progress(job_name: str) -> Iterator:
    """An on_step callback for run_job: a live line per step in a terminal (rich), plain timestamped lines on stdout
    when stdout is a file or a pipe (logs, CI). Errors stay on stderr, one line each. A long step's progress
    (pipelines/progress.py) shows in its line; a source that is off ends "skipped"."""
    from pipelines.progress import PREFIX as PROGRESS_PREFIX

    if not sys.stdout.isatty():
        def plain(step: str, status: str) -> None:
            status = status.removeprefix(PROGRESS_PREFIX)  # "12,400 / 40,000 audits, 38 min left at 600/min"
            click.echo(f"{datetime.now():%H:%M:%S} {job_name}: {step} {status}")
        yield plain
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), transient=False) as bar:
        tasks: dict[str, int] = {}
        marks = {"succeeded": "[green]done[/]", "failed": "[red]failed[/]", "skipped": "[yellow]skipped[/]"}

        def live(step: str, status: str) -> None:
            if status.startswith(PROGRESS_PREFIX):  # the step's counts and time left, in its own line
                if step in tasks:
                    bar.update(tasks[step], description=f"{step} {status.removeprefix(PROGRESS_PREFIX)}")
            elif status == "started":
                tasks[step] = bar.add_task(f"{step} …", total=1)
            elif step in tasks:
                bar.update(tasks[step], description=f"{step} {marks.get(status, status)}", completed=1)
            else:
                bar.add_task(f"{step} {marks.get(status, status)}", total=1, completed=1)
        yield live


def report(outcome, expected: dict[str, int] | None = None) -> None:
    from pipelines.warehouse import Warehouse, WarehouseError

    if not outcome.success:
        for step, reason in outcome.failures:
            click.echo(f"msp-recon: step {step} failed: {reason}", err=True)
        fail(f"run {outcome.run_id} failed; see it in the Dagster UI (make ui)")
    store = Warehouse(warehouse_path())
    try:
        tables = {f"{schema}.{t}": n for schema in ("raw", "staging", "marts", "cleanup")
                  for t, n in store.row_counts(schema).items()}
    except WarehouseError as exc:
        fail(str(exc))
    click.echo(f"\nRun {outcome.run_id} succeeded.\n")
    if outcome.warnings:
        click.echo("Check warnings (the run went on; look before approving):")
        for line in outcome.warnings:
            click.echo(f"  {line}")
        click.echo("")
    width = max(map(len, tables), default=10)
    for name, rows in tables.items():
        check = ""
        if expected and name.startswith("raw.") and name[4:] in expected:
            check = "  ok" if expected[name[4:]] == rows else f"  expected {expected[name[4:]]}"
        click.echo(f"  {name:<{width}}  {rows:>9,}{check}")
    from pipelines.publish import published_path
    from pipelines.settings import environment

    copy = published_path(store, environment())
    click.echo(f"\nWarehouse: {store.path}")
    click.echo(f"Published read-only copy (query it any time, even during a run): {copy}")
    click.echo(f"  query it:  duckdb -readonly {copy} < sql/queries/duplicates_per_organization.sql")
    click.echo("  Dagster UI: make ui   (or: dagster dev -w workspace.yaml), then open http://127.0.0.1:3000")
    for line in _review_hint(store, outcome.run_id):
        click.echo(line)
    if expected and any(name.startswith("raw.") and name[4:] in expected and expected[name[4:]] != rows
                        for name, rows in tables.items()):
        fail("row counts differ from the sandbox tenant's")


def _review_hint(store, run_id: str) -> list[str]:
    """The batch this run proposed and the command to review it (and, before the first approval, who may approve)."""
    import duckdb

    from pipelines.cleanup import roles
    from pipelines.settings import environment
    from pipelines.warehouse import WarehouseLocked

    try:
        with store.connect(read_only=True) as con:
            found = con.execute("SELECT batch_id, action_count FROM cleanup.batches WHERE dagster_run_id = ?",
                                [run_id]).fetchall()
    except (WarehouseLocked, duckdb.Error):  # no cleanup tables yet (IT Glue off): nothing to review
        return []
    if not found:
        return ["No cleanup batch proposed this run: nothing to review."]
    batch_id, n = found[0]
    lines = [f"New cleanup batch {batch_id} ({n} actions). Review it: msp-recon review {batch_id}  "
             f"(or msp-recon show {batch_id})"]
    approvers = roles.approvers_path(environment(), store.path)
    if not approvers.exists():
        lines.append(f"  to approve, first name the approvers: {approvers} (README: Approvers by role)")
    return lines


@main.command()
@click.argument("query")
@click.option("--warehouse", "use_warehouse", is_flag=True,
              help="Query the warehouse itself (only while no run holds it) instead of the published copy.")
@click.option("--limit", type=click.IntRange(min=0), default=None,
              help="Rows to print (default 50 for the table, all rows for --csv/--json); the table says "
                   "\"50 of 73 rows\" when it cuts.")
@click.option("--csv", "as_csv", is_flag=True, help="Print the rows as CSV with a header line (every row, or --limit).")
@click.option("--json", "as_json", is_flag=True,
              help="Print the rows as a JSON array of objects (every row, or --limit).")
def sql(query: str, use_warehouse: bool, limit: int | None, as_csv: bool, as_json: bool) -> None:
    """Run QUERY (SQL text, or a .sql file such as sql/queries/why_matched.sql) on the published copy, read-only:
    ATTACH, COPY, file readers, INSTALL/LOAD, SET and writes are refused (pipelines/read_only.py).

    Several statements run in order as DuckDB parses them (a `;` in a string or a comment splits nothing, so
    `SET VARIABLE x = ...; SELECT ...` works); the last one's rows are printed."""
    from pathlib import Path

    import duckdb

    from pipelines import query_output
    from pipelines.publish import published_path
    from pipelines.read_only import readonly_connect, refused, run_statements
    from pipelines.settings import environment
    from pipelines.warehouse import Warehouse

    if as_csv and as_json:
        fail("--csv and --json: choose one")
    path = Path(query)
    # A path that is not there must not run as SQL (DuckDB would answer "syntax error at or near sql").
    looks_like_path = query.strip().lower().endswith(".sql") or ("\n" not in query and " " not in query.strip()
                                                                 and "/" in query)
    if path.is_file():
        text = path.read_text()
    elif looks_like_path:
        fail(f"no such file: {query}")
    else:
        text = query
    store = Warehouse(warehouse_path())
    target = store.path if use_warehouse else published_path(store, environment())
    if not target.exists():
        fail(f"{target} does not exist yet: run the weekly job first (make demo, or msp-recon run)")
    try:
        with readonly_connect(target) as con:
            result = run_statements(con, text)
            if result is None:
                return
            if as_csv or as_json:
                write = query_output.write_csv if as_csv else query_output.write_json
                write(result, sys.stdout, limit)
            else:
                query_output.print_table(result, 50 if limit is None else limit)
    except duckdb.Error as exc:
        fail(f"{target.name}: {refused(exc) or str(exc).splitlines()[0]}")


@main.group()
def sandbox() -> None:
    """The built-in sandbox tenant, served over the vendors' real wire protocols."""


@sandbox.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8765, show_default=True)
@click.option("--seed", default=7, show_default=True)
@click.option("--scale", default=60, show_default=True, help="Client organizations (tens to tens of thousands).")
@click.option("--difficulty", default="standard", show_default=True, callback=_difficulty, help=DIFFICULTY_HELP)
@click.option("--psa", type=click.Choice(source_names("psa")), default="autotask", show_default=True,
              help="The PSA IT Glue syncs with in the tenant (Autotask and ConnectWise are always served).")
@click.option("--rmm", type=click.Choice(source_names("rmm")), multiple=True, default=DEMO_RMMS, show_default=True,
              help="The RMMs the tenant runs (repeat the option for several).")
def serve(host: str, port: int, seed: int, scale: int, difficulty: str, psa: str, rmm: tuple[str, ...]) -> None:
    """Serve the sandbox until interrupted; prints the env vars that point msp-recon at it."""
    from pipelines.sandbox.server import env_for, serve_forever
    from pipelines.sandbox.systems import build_world

    try:
        world = build_world(seed=seed, scale=scale, psa=psa, rmms=tuple(dict.fromkeys(rmm)), difficulty=difficulty)
    except ValueError as exc:
        fail(str(exc))
    click.echo("Point msp-recon at the sandbox with (or put these in .env):")
    for key, value in env_for(f"http://{host}:{port}", world=world).items():
        click.echo(f"  export {key}={value}")
    serve_forever(seed=seed, scale=scale, host=host, port=port, world=world)


# ---- cleanup: review, approve, apply, undo (pipelines/cleanup) -------------------------------------------------


def _with_warehouse(work, read_only: bool = False):
    """Run work(con) on the warehouse (a locked read-only session for readers); refusals and a locked file end in
    one line."""
    from pipelines.cleanup import CleanupError
    from pipelines.warehouse import Warehouse, WarehouseError, WarehouseLocked

    store = Warehouse(warehouse_path())
    if read_only and not store.path.exists():
        fail(f"there is no warehouse at {store.path} yet: run the weekly job first (make demo, or msp-recon run)")
    try:
        try:
            with store.connect(read_only=read_only) as con:
                return work(con)
        except WarehouseLocked:
            from pipelines.publish import published_path
            from pipelines.settings import environment

            copy = published_path(store, environment())
            if not (read_only and copy.exists()):
                raise
            # a run holds the warehouse: readers (batches, show) read the published copy meanwhile
            click.echo(f"msp-recon: a run holds the warehouse; reading the published copy {copy}", err=True)
            with Warehouse(copy).connect(read_only=True) as con:
                return work(con)
    except (CleanupError, WarehouseError) as exc:
        fail(str(exc))


@main.command()
def batches() -> None:
    """List cleanup batches, their status and approval."""
    from pipelines.cleanup.report import batch_lines

    for line in _with_warehouse(batch_lines, read_only=True):
        click.echo(line)


@main.command()
@click.argument("batch_id")
@click.option("--client", help="Only actions of clients whose name contains this (case-insensitive).")
@click.option("--action", help="Only this action (delete, archive, disable_sync_then_delete, ...).")
@click.option("--cause", help="Only this cause or orphan reason (pre_sync_existing, psa_orphaned, ...).")
@click.option("--entity", type=click.Choice(["organization", "configuration", "contact"]),
              help="Only this entity type.")
@click.option("--search", "q", help="Only actions whose name, reason, ids or client contain this.")
def show(batch_id: str, client: str | None, action: str | None, cause: str | None, entity: str | None,
         q: str | None) -> None:
    """A batch's summary (per client, action, cause, entity type), then its actions with why each was proposed."""
    from pipelines.cleanup.report import show_lines
    from pipelines.review.summary import Filters

    filters = Filters(client=client, action=action, cause=cause, entity=entity, q=q)
    for line in _with_warehouse(lambda con: show_lines(con, batch_id, filters), read_only=True):
        click.echo(line)


@main.command()
@click.argument("batch_id")
@click.option("--by", "by", required=True, help="Who approves: a name in the approvers file (RECON_APPROVERS).")
@click.option("--exclude", multiple=True, metavar="ACTION_ID", help="Leave this action out (repeatable).")
@click.option("--apply", "apply_now", is_flag=True,
              help="Approve to be applied: the approval sensor applies it while `make ui` runs.")
@click.option("--accept-large-batch", is_flag=True,
              help="Approve a batch the guard rails flagged as needing a second look.")
@click.option("--client", help="Approve only the actions of clients whose name contains this (the rest excluded).")
@click.option("--action", help="Approve only this action.")
@click.option("--cause", help="Approve only this cause or orphan reason.")
@click.option("--entity", type=click.Choice(["organization", "configuration", "contact"]),
              help="Approve only this entity type.")
def approve(batch_id: str, by: str, exclude: tuple[str, ...], apply_now: bool, accept_large_batch: bool,
            client: str | None, action: str | None, cause: str | None, entity: str | None) -> None:
    """Approve exactly the batch as it stands, less the excluded actions, as a named approver whose role allows it.
    With filters (as `show` takes them), only the actions they keep are approved."""
    from pipelines.cleanup import store
    from pipelines.cleanup.intents import approve_as, load_approvers
    from pipelines.review.summary import Filters
    from pipelines.settings import environment

    filters = Filters(client=client, action=action, cause=cause, entity=entity)

    def work(con):
        approvers = load_approvers(environment(), warehouse_path())
        nonlocal exclude
        if filters.active():
            exclude = (*exclude, *(a["action_id"] for a in store.actions(con, batch_id) if not filters.keeps(a)))
        found, role = approve_as(con, batch_id, by, exclude, approvers=approvers, apply=apply_now,
                                 accept_large_batch=accept_large_batch)
        return found, role, len(store.actions(con, batch_id))

    found, role, total = _with_warehouse(work)
    click.echo(f"Approved {total - len(found.excluded_action_ids)} of {total} actions of batch {batch_id} "
               f"as {found.approval_id} by {found.approved_by} ({role}; fingerprint {found.fingerprint[:12]}).")
    if apply_now:
        click.echo("To be applied: the approval sensor applies it while `make ui` runs; or now: "
                   f"msp-recon apply {batch_id}")
    else:
        click.echo(f"Nothing is applied yet. Check the calls: msp-recon apply {batch_id} --dry-run; then apply: "
                   f"msp-recon apply {batch_id}")


@main.command()
@click.argument("batch_id")
@click.option("--dry-run", is_flag=True, help="Show the calls apply would make, and make none.")
def apply(batch_id: str, dry_run: bool) -> None:
    """Apply an approved batch as a Dagster run (the apply_cleanup job); refuses anything unapproved."""
    from pipelines.cleanup.apply import planned_calls
    from pipelines.review.applied import totals_lines

    if dry_run:
        lines, note = _with_warehouse(lambda con: planned_calls(con, batch_id), read_only=True)
        click.echo(f"Dry run of batch {batch_id} ({note}); no call is made:")
        for line in lines:
            click.echo(f"  {line}")
        return
    from pipelines.assets.cleanup import apply_run_config  # Dagster loads slowly: only when a run is launched

    outcome = launch("apply_cleanup", run_config=apply_run_config(batch_id), tags={"cleanup/batch": batch_id})
    if not outcome.success:
        reasons = "; ".join(reason for _, reason in outcome.failures) or "see the run in the Dagster UI"
        fail(f"{reasons} (run {outcome.run_id})")
    _publish_after(outcome.run_id)
    click.echo(f"Run {outcome.run_id} applied batch {batch_id}:")
    for line in _with_warehouse(lambda con: totals_lines(con, batch_id)):
        click.echo(line)


def _publish_after(run_id: str) -> None:
    """Refresh the published copy, so that SQL on it (sql/queries/last_apply_changes.sql) sees what was just done."""
    from pipelines.publish import PublishError, publish, published_path
    from pipelines.settings import environment
    from pipelines.warehouse import Warehouse, WarehouseError

    store = Warehouse(warehouse_path())
    try:
        publication = publish(store, published_path(store, environment()), run_id=run_id)
    except (PublishError, WarehouseError) as exc:
        fail(str(exc))
    click.echo(f"Published the read-only copy: {publication.path}")


@main.command()
@click.argument("action_id")
def restore(action_id: str) -> None:
    """Undo one applied action: un-archive, or re-create a deleted configuration or contact (it gets a new id)."""
    import asyncio

    from pipelines.cleanup.itglue_api import client_from
    from pipelines.cleanup.restore import restore_action
    from pipelines.settings import environment
    from pipelines.sources import get_source

    config = get_source("itglue").config_from(environment())
    if config is None:
        fail("IT Glue is off: set ITGLUE_API_KEY (and ITGLUE_API_URL) to restore")

    async def work(con):
        async with client_from(config) as api:
            return await restore_action(con, api, action_id)

    def undo_and_remember(con):
        from pipelines.cleanup.decisions import record_restored

        restored = asyncio.run(work(con))
        # never proposed again for the action that was undone (under its new id when it was re-created)
        return restored, record_restored(con, action_id, restored.new_id)

    restored, decision = _with_warehouse(undo_and_remember)
    click.echo(restored.message)
    click.echo(f"Recorded as decision {decision.decision_id}: {decision.entity_type} {decision.source_id} is not "
               f"proposed for {decision.action} again (msp-recon decisions undo {decision.decision_id} withdraws it).")


@main.command()
@click.argument("action_id")
@click.option("--by", "by", required=True,
              help="Who dismisses: a name in the approvers file (RECON_APPROVERS), editor or above.")
@click.option("--reason", required=True, help='Why, e.g. "not a duplicate" or "keep this one".')
def dismiss(action_id: str, by: str, reason: str) -> None:
    """Dismiss one proposed action: it leaves its unapproved batch and is not proposed again until its record changes."""
    from pipelines.cleanup.decisions import dismiss as record_dismissal
    from pipelines.cleanup.intents import load_approvers
    from pipelines.settings import environment

    d = _with_warehouse(lambda con: record_dismissal(
        con, action_id, by, reason, approvers=load_approvers(environment(), warehouse_path())))
    pair = f"; {d.source_id} and {d.partner_source_id} are kept apart when linking" if d.partner_source_id else ""
    click.echo(f"Dismissed {action_id} ({d.action} {d.subject or d.source_id}) as decision {d.decision_id}: it left "
               f"batch {d.batch_id}, and is not proposed again until the record changes{pair}.")


@main.command()
@click.argument("batch_id", required=False)
@click.option("--port", default=0, show_default="a free port", help="Port on 127.0.0.1.")
def review(batch_id: str | None, port: int) -> None:
    """Serve the review page of a batch (the latest by default) on 127.0.0.1, and print its URL with its token."""
    from pipelines.cleanup import CleanupError
    from pipelines.publish import published_path
    from pipelines.review.page import ReviewApp, serve
    from pipelines.settings import environment
    from pipelines.warehouse import Warehouse, WarehouseLocked

    store = Warehouse(warehouse_path())
    env = environment()
    try:
        app = ReviewApp(store, env, batch_id, published=published_path(store, env))
    except (CleanupError, WarehouseLocked) as exc:
        fail(str(exc))
    serve(app, port, say=lambda line: click.echo(line))


@main.group(invoke_without_command=True)
@click.pass_context
def decisions(ctx: click.Context) -> None:
    """List the decisions that outlast a batch: dismissed actions and restored records."""
    if ctx.invoked_subcommand is None:
        from pipelines.cleanup.decisions import decision_lines

        for line in _with_warehouse(decision_lines):
            click.echo(line)


@decisions.command("undo")
@click.argument("decision_id")
@click.option("--by", "by", required=True, help="Who withdraws it.")
def undo_decision(decision_id: str, by: str) -> None:
    """Withdraw a decision: the next run may propose its record again."""
    from pipelines.cleanup.decisions import undo

    d = _with_warehouse(lambda con: undo(con, decision_id, by))
    click.echo(f"Withdrew decision {d.decision_id} ({d.kind} {d.subject or d.source_id}); the next run may propose "
               f"{d.action} for it again.")


__all__ = ["main", "DEFAULT_DAGSTER_HOME", "ensure_dagster_home"]


if __name__ == "__main__":
    main()
