"""The sandbox tenant over real HTTP: every vendor protocol under its own path prefix on one 127.0.0.1 port.

    http://127.0.0.1:PORT/<mount>       one system's wire protocol, e.g. /itglue (ITGLUE_API_URL), /datto (DATTO_RMM_URL)
    http://127.0.0.1:PORT/_sandbox/...  the sandbox's own control endpoints (write log, faults)

Each module of `pipelines.sandbox.api` that defines `routes(sandbox) -> list[BaseRoute]` serves one system and
declares it beside its routes: `SYSTEM` (the registry's source name), `MOUNT` (its path prefix), `URL_ENV` (the
variable pointing msp-recon at it) and `CREDENTIALS` (the built-in tenant's). This module finds them, mounts them and
adds what they share: the injected faults and the write log. Adding a system's server is its module, nothing here.
"""

import asyncio
import importlib
import pkgutil
import threading
import time
from dataclasses import asdict, dataclass, field
from functools import cache
from types import ModuleType
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from pipelines.sandbox import api
from pipelines.sandbox.world import World, build_world


@cache
def protocols() -> dict[str, ModuleType]:
    """source name -> the api module serving it, found by scanning `pipelines.sandbox.api`."""
    found = {}
    for info in pkgutil.iter_modules(api.__path__):
        module = importlib.import_module(f"{api.__name__}.{info.name}")
        if hasattr(module, "routes") and hasattr(module, "SYSTEM"):
            found[module.SYSTEM] = module
    return found


# The built-in tenant's credentials, every system's: what `env_for` hands to msp-recon (tests read them too).
CREDENTIALS: dict[str, str] = {k: v for m in protocols().values() for k, v in m.CREDENTIALS.items()}


def served(world: World | None) -> tuple[str, ...]:
    """The systems a world is served as: those the generator renders, plus the views rendered into it
    (`world.systems`, see `pipelines.sandbox.systems`)."""
    views = world.systems if world is not None else {}
    replaced = {view.get("replaces") for view in views.values() if isinstance(view, dict)}
    return tuple(name for name, m in protocols().items()
                 if (not hasattr(m, "adapt") or name in views) and name not in replaced)


def env_for(base_url: str, sources: tuple[str, ...] | None = None, world: World | None = None) -> dict[str, str]:
    """Environment variables that point msp-recon's sources at a sandbox served at base_url (None: every source
    the world is served as)."""
    chosen = sources if sources is not None else served(world)
    env: dict[str, str] = {}
    for source in chosen:
        module = protocols()[source]
        env[module.URL_ENV] = f"{base_url.rstrip('/')}/{module.MOUNT}"
        env.update(module.CREDENTIALS)
    return env


@dataclass
class Faults:
    """Misbehaviour injected in front of every protocol, for tests and demos of the retry paths.

    Counters are per path prefix matched by `only` (empty: every request except /_sandbox).
    """

    only: str = ""
    only_containing: str = ""  # and whose path contains this (an entity behind a zone: "ConfigurationItemCategories")
    throttle_first: int = 0  # the first N matching requests get 429
    throttle_every: int = 0  # then every Nth matching request gets 429
    retry_after: str | None = "1"  # Retry-After on injected 429s; None sends none
    fail_first: int = 0  # the first N matching requests get `fail_status`
    fail_every: int = 0
    fail_after: int = 0  # every matching request after the first N fails: an outage that starts midway
    fail_status: int = 503  # 503, 500, or 403 (an API user without the permission)
    delay_seconds: float = 0.0  # added to every matching response
    hang_first: int = 0  # the first N matching requests sleep `hang_seconds` (client timeouts)
    hang_seconds: float = 0.0
    seen: int = field(default=0, repr=False)

    def reset(self) -> None:
        for name, value in asdict(Faults()).items():
            setattr(self, name, value)


@dataclass
class WriteRecord:
    source: str
    method: str
    path: str
    body: Any
    status: int
    at: float


@dataclass
class Sandbox:
    """The state behind the sandbox server: the world it serves, injected faults, and every write it accepted."""

    world: World
    faults: Faults = field(default_factory=Faults)
    writes: list[WriteRecord] = field(default_factory=list)
    requests: dict[str, int] = field(default_factory=dict)  # count per "<prefix> <METHOD> <path template>"
    # Vendor rate limits are emulated by the protocol modules; tests lower them through this knob (None: vendor's).
    rate_limits: dict[str, int] = field(default_factory=dict)
    # Protocol-specific misbehaviour (a malformed page, a lying total, a page size that times out), keyed
    # "<source>.<what>"; each protocol module documents the keys it reads.
    quirks: dict[str, Any] = field(default_factory=dict)
    # What the protocol modules observed (peak concurrency per entity, ...), for tests to assert on.
    observed: dict[str, Any] = field(default_factory=dict)

    def record_write(self, source: str, request: Request, body: Any, status: int) -> None:
        self.writes.append(WriteRecord(source, request.method, request.url.path, body, status, time.time()))

    def count(self, key: str) -> None:
        self.requests[key] = self.requests.get(key, 0) + 1

    def app(self) -> Starlette:
        mounts = [Mount(f"/{module.MOUNT}", routes=module.routes(self)) for module in protocols().values()]
        control = Mount("/_sandbox", routes=[
            Route("/writes", self._writes_endpoint, methods=["GET"]),
            Route("/requests", self._requests_endpoint, methods=["GET"]),
            Route("/faults", self._faults_endpoint, methods=["GET", "PUT"]),
        ])
        return Starlette(routes=[control, *mounts], middleware=[])

    def asgi(self) -> ASGIApp:
        return FaultInjector(self.app(), self.faults)

    async def _writes_endpoint(self, request: Request) -> Response:
        return JSONResponse([asdict(w) for w in self.writes])

    async def _requests_endpoint(self, request: Request) -> Response:
        return JSONResponse(self.requests)

    async def _faults_endpoint(self, request: Request) -> Response:
        if request.method == "PUT":
            self.faults.reset()
            for key, value in (await request.json()).items():
                if key in asdict(Faults()) and key != "seen":
                    setattr(self.faults, key, value)
        return JSONResponse(asdict(self.faults))


class FaultInjector:
    """ASGI middleware: answers some requests with 429/503 or delays them, as `Faults` says."""

    def __init__(self, app: ASGIApp, faults: Faults):
        self.app = app
        self.faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        f = self.faults
        path = scope.get("path", "")
        if scope["type"] != "http" or path.startswith("/_sandbox") or (f.only and not path.startswith(f.only)) or (
                f.only_containing and f.only_containing not in path):
            await self.app(scope, receive, send)
            return
        f.seen += 1
        n = f.seen
        if f.hang_first and n <= f.hang_first:
            await asyncio.sleep(f.hang_seconds)
        if f.delay_seconds:
            await asyncio.sleep(f.delay_seconds)
        throttled = (f.throttle_first and n <= f.throttle_first) or (
            f.throttle_every and n > f.throttle_first and (n - f.throttle_first) % f.throttle_every == 0)
        if throttled:
            headers = {"Retry-After": f.retry_after} if f.retry_after is not None else {}
            await JSONResponse({"errors": [{"status": 429, "title": "Too Many Requests"}]}, 429, headers)(
                scope, receive, send)
            return
        failing = (f.fail_first and n <= f.fail_first) or (
            f.fail_every and n > f.fail_first and (n - f.fail_first) % f.fail_every == 0) or (
            f.fail_after and n > f.fail_after)
        if failing:
            title = {403: "Forbidden", 500: "Internal Server Error"}.get(f.fail_status, "Service Unavailable")
            await JSONResponse({"errors": [{"status": f.fail_status, "title": title}]}, f.fail_status)(
                scope, receive, send)
            return
        await self.app(scope, receive, send)


class RunningSandbox:
    """A sandbox served by uvicorn in a background thread; `url` is its base, `stop()` ends it."""

    def __init__(self, sandbox: Sandbox, host: str = "127.0.0.1", port: int = 0):
        self.sandbox = sandbox
        config = uvicorn.Config(sandbox.asgi(), host=host, port=port, log_level="warning", access_log=False,
                                lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="sandbox-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the sandbox server did not start on {host}:{port}")
            time.sleep(0.02)
        bound = self._server.servers[0].sockets[0].getsockname()
        self.url = f"http://{host}:{bound[1]}"

    def env(self, sources: tuple[str, ...] | None = None) -> dict[str, str]:
        return env_for(self.url, sources, self.sandbox.world)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> "RunningSandbox":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def serve_in_thread(seed: int = 7, scale: int = 60, host: str = "127.0.0.1", port: int = 0,
                    world: World | None = None) -> RunningSandbox:
    return RunningSandbox(Sandbox(world or build_world(seed=seed, scale=scale)), host, port)


def serve_forever(seed: int, scale: int, host: str, port: int, difficulty: str | float = "standard",
                  world: World | None = None) -> None:
    """`msp-recon sandbox serve`: blocks until interrupted."""
    sandbox = Sandbox(world or build_world(seed=seed, scale=scale, difficulty=difficulty))
    uvicorn.run(sandbox.asgi(), host=host, port=port, log_level="info", access_log=False, lifespan="off")
