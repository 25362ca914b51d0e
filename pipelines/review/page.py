"""The review page: `msp-recon review [BATCH_ID]` serves one batch on 127.0.0.1 (starlette, Jinja2 templates).

Like Jupyter, the URL it prints carries a random token; the page keeps it in a same-site cookie. Every request must
carry the token, and every state-changing request (a POST) must also come from the page's own origin (the Origin
header), so another site open in the same browser cannot approve anything. The warehouse is opened per request and
closed before the answer goes out, so a weekly run is never blocked for long; while a run holds it, the page reads
the published copy and says so.
"""

import secrets
import socket
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import duckdb
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from pipelines.cleanup import CleanupError, store
from pipelines.cleanup.decisions import dismiss
from pipelines.cleanup.intents import approve_as, load_approvers, request_apply
from pipelines.read_only import readonly_connect
from pipelines.review.summary import Filters
from pipelines.review.view import batch_view, latest_batch
from pipelines.warehouse import Warehouse, WarehouseLocked

TEMPLATES = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                        autoescape=select_autoescape(["html"]))
COOKIE = "msp_recon_review"


def render(view: dict, *, interactive: bool, token: str = "", base: str = "", message: str | None = None,
           error: str | None = None, source_note: str | None = None) -> str:
    """The batch page; `interactive=False` is the static report (no forms, links to the filtered views dropped)."""
    batch_id = view["batch"]["batch_id"]

    def link(extra: Mapping[str, str]) -> str:
        if not interactive:
            return f"#{next(iter(extra.values()), '')}"
        return f"{base}/batch/{batch_id}?{urlencode({**view['filters'].active(), **extra})}"

    return TEMPLATES.get_template("batch.html").render(
        **view, interactive=interactive, token=token, link=link, message=message, error=error,
        source_note=source_note, generated=f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC")


def write_report(con: duckdb.DuckDBPyConnection, batch_id: str, path: Path) -> Path:
    """A static HTML report of the whole batch (what the Dagster asset links to), written beside the warehouse."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(render(batch_view(con, batch_id, page_size=None), interactive=False))
    tmp.replace(path)
    return path


def report_path(warehouse: Warehouse, batch_id: str) -> Path:
    return warehouse.path.parent / "review" / f"{batch_id}.html"


class ReviewApp:
    """The page's routes over one warehouse. `origins` are the page's own origins (set once the port is known)."""

    def __init__(self, warehouse: Warehouse, env: Mapping[str, str], batch_id: str | None = None,
                 token: str | None = None, published: Path | None = None):
        self.warehouse, self.env, self.batch_id = warehouse, env, batch_id
        self.token = token or secrets.token_urlsafe(24)
        self.published = published
        self.origins: set[str] = set()
        with warehouse.connect() as con:
            store.ensure_schema(con)
        self.app = Starlette(routes=[
            Route("/", self.home),
            Route("/batch/{batch_id}", self.page),
            Route("/batch/{batch_id}/approve", self.approve, methods=["POST"]),
            Route("/batch/{batch_id}/apply", self.apply, methods=["POST"]),
            Route("/action/{action_id}/dismiss", self.dismiss, methods=["POST"]),
        ])

    def allow_port(self, port: int) -> None:
        self.origins = {f"http://127.0.0.1:{port}", f"http://localhost:{port}"}

    # ---- access ---------------------------------------------------------------------------------------------------

    def _has_token(self, request: Request, form: Mapping | None = None) -> bool:
        offered = (form or {}).get("token") or request.query_params.get("token") or request.cookies.get(COOKIE) or ""
        return secrets.compare_digest(str(offered), self.token)

    async def _checked_form(self, request: Request) -> Mapping | Response:
        form = await request.form()
        if not self._has_token(request, form):
            return PlainTextResponse("missing or wrong token: open the URL msp-recon review printed", 403)
        if request.headers.get("origin") not in self.origins:
            return PlainTextResponse("refused: the request does not come from the review page's own origin", 403)
        return form

    def _with_cookie(self, response: Response) -> Response:
        response.set_cookie(COOKIE, self.token, httponly=True, samesite="strict")
        return response

    # ---- reading --------------------------------------------------------------------------------------------------

    def _read(self, work: Callable[[duckdb.DuckDBPyConnection], object]) -> tuple[object, str | None]:
        """work(con) on the warehouse in a short connection; on the published copy while a run holds it."""
        try:
            with self.warehouse.connect() as con:
                return work(con), None
        except WarehouseLocked:
            if self.published is None or not self.published.exists():
                raise
            with readonly_connect(self.published) as con:  # the locked read-only session (read_only.py)
                return work(con), (f"A run holds the warehouse: showing the published copy ({self.published.name}); "
                                   "approving and dismissing wait until the run is done.")

    async def home(self, request: Request) -> Response:
        if not self._has_token(request):
            return PlainTextResponse("missing or wrong token: open the URL msp-recon review printed", 403)
        batch_id = self.batch_id or self._read(latest_batch)[0]
        if not batch_id:
            return PlainTextResponse("No cleanup batches yet: the weekly job proposes one (msp-recon run).")
        return self._with_cookie(RedirectResponse(f"/batch/{batch_id}", 303))

    async def page(self, request: Request) -> Response:
        if not self._has_token(request):
            return PlainTextResponse("missing or wrong token: open the URL msp-recon review printed", 403)
        batch_id = request.path_params["batch_id"]
        filters = Filters.of(dict(request.query_params))
        page = int(request.query_params["page"]) if request.query_params.get("page", "").isdigit() else 1
        try:
            view, note = self._read(lambda con: batch_view(con, batch_id, filters, page))
        except (CleanupError, WarehouseLocked) as exc:
            return PlainTextResponse(str(exc), 404 if isinstance(exc, CleanupError) else 503)
        html = render(view, interactive=True, token=self.token, message=request.query_params.get("message"),
                      error=request.query_params.get("error"), source_note=note)
        return self._with_cookie(HTMLResponse(html))

    # ---- changing -------------------------------------------------------------------------------------------------

    def _back(self, batch_id: str, form: Mapping, **outcome: str) -> Response:
        scope = {k[len("scope_"):]: v for k, v in form.items() if k.startswith("scope_") and v}
        return RedirectResponse(f"/batch/{batch_id}?{urlencode({**scope, **outcome})}", 303)

    def _write(self, work: Callable[[duckdb.DuckDBPyConnection], str]) -> dict[str, str]:
        try:
            with self.warehouse.connect() as con:
                return {"message": work(con)}
        except (CleanupError, WarehouseLocked) as exc:
            return {"error": str(exc)}

    async def approve(self, request: Request) -> Response:
        form = await self._checked_form(request)
        if isinstance(form, Response):
            return form
        batch_id = request.path_params["batch_id"]
        scope = Filters.of({k[len("scope_"):]: v for k, v in form.items() if k.startswith("scope_")})
        checked = set(form.getlist("exclude"))
        to_apply = form.get("mode") == "apply"

        def work(con):
            actions = store.actions(con, batch_id)
            exclude = [a["action_id"] for a in actions if a["action_id"] in checked or not scope.keeps(a)]
            approvers = load_approvers(self.env, self.warehouse.path)
            found, role = approve_as(con, batch_id, str(form.get("by") or ""), exclude, approvers=approvers,
                                     apply=to_apply)
            then = ("the approval sensor applies it" if to_apply
                    else f"nothing is applied until msp-recon apply {batch_id} (try --dry-run first)")
            return (f"Approved {len(actions) - len(exclude)} of {len(actions)} actions as {found.approval_id} by "
                    f"{found.approved_by} ({role}); {then}.")

        return self._back(batch_id, form, **self._write(work))

    async def apply(self, request: Request) -> Response:
        form = await self._checked_form(request)
        if isinstance(form, Response):
            return form
        batch_id = request.path_params["batch_id"]
        outcome = self._write(lambda con: f"{request_apply(con, batch_id).approval_id} will be applied by the "
                                          "approval sensor (while `make ui` runs).")
        return self._back(batch_id, form, **outcome)

    async def dismiss(self, request: Request) -> Response:
        form = await self._checked_form(request)
        if isinstance(form, Response):
            return form
        action_id = request.path_params["action_id"]
        batch_id = action_id.rsplit("-", 1)[0]

        def work(con):
            d = dismiss(con, action_id, str(form.get("by") or ""), str(form.get(f"reason_{action_id}") or ""),
                        approvers=load_approvers(self.env, self.warehouse.path))
            return (f"Dismissed {action_id} ({d.subject or d.source_id}) as {d.decision_id}: it left the batch and is "
                    "not proposed again until the record changes.")

        return self._back(batch_id, form, **self._write(work))


def serve(review: ReviewApp, port: int = 0, say: Callable[[str], None] = print) -> None:
    """Serve on 127.0.0.1 (a free port when 0) until interrupted; says the URL with its token first."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)  # accepting (queued) from the moment the URL is printed
    bound = sock.getsockname()[1]
    review.allow_port(bound)
    path = f"/batch/{review.batch_id}" if review.batch_id else "/"
    say(f"Review page: http://127.0.0.1:{bound}{path}?token={review.token}")
    say("(Ctrl-C stops it; the URL's token is what lets a browser in.)")
    server = uvicorn.Server(uvicorn.Config(review.app, log_level="warning"))
    server.run(sockets=[sock])
