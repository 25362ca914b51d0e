"""The HTTP layer every source shares: rate budget, bounded concurrency, retries, and errors a user can read.

A source module builds one `ApiClient` per API host and only adds what is its own (auth, paging shape, flattening).
"""

import asyncio
import email.utils
import hashlib
import random
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

import httpx
import orjson
from aiolimiter import AsyncLimiter
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_before_delay

from pipelines.settings import retry_budget_seconds


class SourceError(Exception):
    """An error a user can act on; its message is one line and names the source, the host and what to check."""


class AuthError(SourceError):
    """The credentials were rejected (401/403) or are missing."""


class MalformedResponse(SourceError):
    """The API answered, but not in the shape its documentation promises (truncated page, wrong count, bad JSON)."""


class TransientError(Exception):
    """A failure worth retrying: 429, 5xx, a timeout or a dropped connection."""

    def __init__(self, message: str, retry_after: float | None = None, throttled: bool = False):
        super().__init__(message)
        self.retry_after = retry_after
        # The server is busy, not broken: a 429, or a 5xx that says when to come back. Ridden out within the time
        # budget; other failures (a host that is down, timeouts) stop after max_attempts.
        self.throttled = throttled or retry_after is not None


@dataclass(frozen=True)
class RateBudget:
    """How much of an API one run may use.

    `requests` per `per_seconds` is the vendor's published limit (or the share of it we allow ourselves);
    `concurrency` caps requests in flight, which is what keeps a server's own thread limits happy.
    """

    requests: int
    per_seconds: float
    concurrency: int = 8

    @classmethod
    def within(cls, limit: int, window_seconds: float, concurrency: int = 8) -> "RateBudget":
        """A budget that never sends more than `limit` requests in any rolling `window_seconds`.

        The limiter is a leaky bucket: in any window it admits its burst plus a window's worth of its steady rate
        (a bucket of `limit` would admit twice the limit in the first window). So the burst is kept small (1/12 of
        the limit) and the two together stay 2% under the vendor's limit, which leaves room for a token request and
        for clocks that disagree.
        """
        burst = max(1, limit // 12)
        rate_per_second = max(0.01, (limit * 0.98 - burst) / window_seconds)
        return cls(requests=burst, per_seconds=burst / rate_per_second, concurrency=concurrency)

    def lifted(self) -> "RateBudget":
        """The same concurrency with the rate limit effectively off (benchmarks against the sandbox)."""
        return RateBudget(requests=10**9, per_seconds=1.0, concurrency=self.concurrency)


@dataclass(frozen=True)
class RetryPolicy:
    """Retries with exponential backoff and full jitter; `Retry-After` wins when the server sends it.

    Throttling (429, or a 5xx with Retry-After) is retried for as long as `max_elapsed` allows: the budget is shared
    with the MSP's other integrations and a storm can last minutes. Other transient failures stop after
    `max_attempts` tries, so that a host that is down fails in seconds, not minutes.
    """

    max_attempts: int = 8
    # RECON_RETRY_BUDGET_SECONDS, 900 (15 minutes) by default; read when the policy is made (a run's clients).
    max_elapsed: float = field(default_factory=retry_budget_seconds)
    initial_wait: float = 0.5
    max_wait: float = 60.0
    # When a 429 carries no Retry-After, wait at least this long: hammering a throttled API prolongs the throttle.
    throttled_floor: float = 2.0


@dataclass
class RequestStats:
    requests: int = 0
    retries: int = 0
    throttled: int = 0
    server_errors: int = 0
    timeouts: int = 0
    waited_for_budget: float = 0.0
    bytes_received: int = 0
    by_endpoint: dict[str, int] = field(default_factory=dict)

    def as_metadata(self) -> dict[str, float | int]:
        return {
            "requests": self.requests,
            "retries": self.retries,
            "throttled_429": self.throttled,
            "server_errors_5xx": self.server_errors,
            "timeouts": self.timeouts,
            "seconds_waiting_for_rate_budget": round(self.waited_for_budget, 2),
            "bytes_received": self.bytes_received,
        }


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date. None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class PagesShifted(SourceError):
    """A list page kept by an earlier attempt no longer reads the same: records were added or removed before it since,
    so the offset-paged pages after it moved, and kept and fresh pages would miss or repeat records."""


@dataclass(frozen=True)
class PageRef:
    """Which page of which list a request is: `list` is the request without its page number, `number` the number."""

    list: str
    number: int


class PageStore(Protocol):
    """Where an extraction keeps the answers it fetched, outside the atomic swap (pipelines/extraction.py): a run
    that fails at page k of n leaves pages 1..k for the next attempt, which fetches only the rest."""

    async def page(self, key: str, ref: PageRef | None) -> httpx.Response | None:
        """The response kept for this request, or None (fetch it)."""

    async def keep(self, key: str, response: httpx.Response, ref: PageRef | None) -> None:
        """Keep a successful response as it arrives (raises PagesShifted when a kept page now reads otherwise)."""


# The page store of the extraction running in this task, set by the extraction layer; None outside a run (tests and
# benchmarks calling a connector directly fetch everything).
PAGES: ContextVar[PageStore | None] = ContextVar("msp_recon_pages", default=None)


def host_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else url


class ApiClient:
    """One API host: an httpx.AsyncClient plus the budget, retries and error messages that go with it.

    `credential_hint` names the env vars a user fixes when auth fails, e.g. "ITGLUE_API_KEY".
    `refresh_auth` is called once on a 401 (expired token, moved zone) before the request is tried again.
    """

    def __init__(
        self,
        *,
        source: str,
        base_url: str,
        credential_hint: str,
        budget: RateBudget,
        retry: RetryPolicy | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 60.0,
        refresh_auth: Callable[[], Awaitable[None]] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ):
        self.source = source
        self.base_url = base_url.rstrip("/")
        self.credential_hint = credential_hint
        self.budget = budget
        self.retry = retry or RetryPolicy()
        self.refresh_auth = refresh_auth
        self.stats = RequestStats()
        self._limiter = AsyncLimiter(budget.requests, budget.per_seconds)
        self._in_flight = asyncio.Semaphore(budget.concurrency)
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers=headers or {},
            timeout=httpx.Timeout(timeout, connect=min(timeout, 15.0)),
            limits=httpx.Limits(max_connections=budget.concurrency, max_keepalive_connections=budget.concurrency),
            transport=transport,
            follow_redirects=True,
        )

    @property
    def host(self) -> str:
        return host_of(self.base_url)

    def set_header(self, name: str, value: str) -> None:
        self._http.headers[name] = value

    def set_base_url(self, url: str) -> None:
        """Send later relative requests to another base (Autotask moves a tenant to another zone)."""
        self.base_url = url.rstrip("/")
        self._http.base_url = self.base_url

    async def __aenter__(self) -> "ApiClient":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def request(
        self,
        method: str,
        url: str,
        *,
        params=None,
        json=None,
        data=None,
        headers: dict[str, str] | None = None,
        auth=None,
        ok_statuses: tuple[int, ...] = (),
        passthrough: Callable[[httpx.Response], bool] | None = None,
        resumable: bool = False,
        page_param: str | None = None,
        page: tuple[str, int] | None = None,
    ) -> httpx.Response:
        """Send one request within the budget, retrying transient failures. Raises SourceError subclasses.

        `ok_statuses` are returned instead of raising; `passthrough(response)` marks error responses the caller
        handles itself, before any retry (IT Glue's "took too long" answer wants a smaller page, not a retry).
        `resumable` marks a read whose answer may be kept for the next attempt when the run fails (a list page, a
        per-device detail): within a run's page store (`PAGES`), a request already answered is not sent again, and
        a successful answer is stored. Not for what must be read live (budgets, tokens, zone lookups).
        `page_param` names the query parameter that numbers the pages of an offset-paged list (`page[number]`), and
        `page` = (list, number) says which page of a keyset-paged list this is (ConnectWise's `pageId`, NinjaOne's
        `after`): a list's kept pages are checked against fresh ones where they meet, its last kept page included
        (see pipelines/extraction.py). The first page of an offset-paged list is never resumable: its total must be
        today's, for the count the connector checks.
        """
        store = PAGES.get() if resumable else None
        key, ref = "", None
        if store is not None:
            key, ref = self.request_key(method, url, params=params, json=json, data=data, page_param=page_param)
            if page is not None:
                ref = PageRef(f"{self.base_url} {page[0]}", page[1])
            if (kept := await store.page(key, ref)) is not None:
                return kept
        response = await self._request(method, url, params=params, json=json, data=data, headers=headers,
                                       auth=auth, ok_statuses=ok_statuses, passthrough=passthrough)
        if store is not None and 200 <= response.status_code < 300:
            await store.keep(key, response, ref)
        return response

    def request_key(self, method: str, url: str, *, params=None, json=None, data=None,
                    page_param: str | None = None) -> tuple[str, PageRef | None]:
        """What identifies a request across runs: method, full URL with its query, and body (never headers, which
        carry the credentials); and, for an offset-paged list, which page of which list it is."""
        request = self._http.build_request(method, url, params=params, json=json, data=data)
        digest = hashlib.sha256(request.content).hexdigest()
        ref = None
        if page_param is not None and page_param in request.url.params:
            number = int(request.url.params[page_param])
            ref = PageRef(f"{method} {request.url.copy_remove_param(page_param)} {digest}", number)
        return f"{method} {request.url} {digest}", ref

    async def _request(self, method, url, *, params, json, data, headers, auth, ok_statuses, passthrough
                       ) -> httpx.Response:
        refreshed = False
        while True:
            try:
                response = await self._send_with_retries(
                    method, url, params=params, json=json, data=data, headers=headers, auth=auth,
                    passthrough=passthrough,
                )
            except TransientError as exc:
                raise SourceError(self._gave_up(exc)) from None
            status = response.status_code
            if status in ok_statuses or status < 400 or (passthrough is not None and passthrough(response)):
                return response
            if status == 401 and self.refresh_auth is not None and not refreshed:
                refreshed = True
                await self.refresh_auth()
                continue
            if status in (401, 403):
                raise AuthError(
                    f"{self.credential_hint} is rejected by {self.host} ({status}): "
                    "check the credentials and that they belong to this host or region"
                )
            raise SourceError(
                f"{self.source}: {method} {_path_of(response.request.url)} on {self.host} failed with "
                f"{status}: {_excerpt(response.text)}"
            )

    async def get_json(self, url: str, *, params=None, headers=None):
        response = await self.request("GET", url, params=params, headers=headers)
        return self.decode_json(response)

    def decode_json(self, response: httpx.Response):
        # orjson: parsing is most of a large page's cost on the client (about 4x faster than the stdlib here).
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError:
            raise MalformedResponse(
                f"{self.source}: {self.host} returned a body that is not JSON for {_path_of(response.request.url)} "
                f"(truncated or malformed page, {len(response.content)} bytes): {_excerpt(response.text)}"
            ) from None

    def _gave_up(self, exc: "TransientError") -> str:
        tried = f"for {_duration(exc.elapsed)} ({exc.attempts} tries)"
        if exc.throttled:
            return (f"{self.source}: {self.host} kept throttling ({exc}) {tried}, past the retry budget of "
                    f"{_duration(self.retry.max_elapsed)}; the account's API budget is used up, by msp-recon or the "
                    "MSP's other integrations: try again later, or allow longer storms with RECON_RETRY_BUDGET_SECONDS")
        return (f"{self.source}: {self.host} kept failing ({exc}) {tried}; "
                "the API may be down or unreachable, try again later")

    async def _send_with_retries(self, method, url, **kwargs) -> httpx.Response:
        policy = self.retry
        failures = 0  # failures that are not throttling

        def stop(state: RetryCallState) -> bool:
            nonlocal failures
            if not getattr(state.outcome.exception(), "throttled", False):
                failures += 1
            # before_delay: give up when the next wait would end past the budget, not after overrunning it
            return failures >= policy.max_attempts or stop_before_delay(policy.max_elapsed)(state)

        retrying = AsyncRetrying(
            retry=retry_if_exception(lambda e: isinstance(e, TransientError)),
            stop=stop,
            wait=self._wait,
            before_sleep=self._count_retry,
            reraise=True,
        )
        started = time.monotonic()
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._send_once(method, url, **kwargs)
        except TransientError as exc:
            exc.elapsed, exc.attempts = time.monotonic() - started, retrying.statistics.get("attempt_number", 1)
            raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send_once(self, method, url, *, params, json, data, headers, auth, passthrough) -> httpx.Response:
        async with self._in_flight:
            started = time.monotonic()
            await self._limiter.acquire()
            self.stats.waited_for_budget += time.monotonic() - started
            self.stats.requests += 1
            endpoint = _path_of(httpx.URL(url)) if "://" in url else url.split("?")[0]
            self.stats.by_endpoint[endpoint] = self.stats.by_endpoint.get(endpoint, 0) + 1
            kwargs = {"params": params, "json": json, "data": data, "headers": headers}
            if auth is not None:
                kwargs["auth"] = auth
            try:
                response = await self._http.request(method, url, **kwargs)
            except httpx.TimeoutException:
                self.stats.timeouts += 1
                raise TransientError("timed out") from None
            except httpx.TransportError as exc:
                raise TransientError(f"connection failed: {exc.__class__.__name__}") from None
        self.stats.bytes_received += len(response.content)
        if response.status_code >= 400 and passthrough is not None and passthrough(response):
            return response
        if response.status_code == 429:
            self.stats.throttled += 1
            raise TransientError("429 Too Many Requests", parse_retry_after(response.headers.get("Retry-After")),
                                 throttled=True)
        if response.status_code >= 500:
            self.stats.server_errors += 1
            raise TransientError(f"{response.status_code} {_excerpt(response.text, 80)}",
                                 parse_retry_after(response.headers.get("Retry-After")))
        return response

    def _wait(self, state: RetryCallState) -> float:
        policy = self.retry
        exc = state.outcome.exception() if state.outcome else None
        backoff = random.uniform(0, min(policy.max_wait, policy.initial_wait * 2 ** (state.attempt_number - 1)))
        if isinstance(exc, TransientError):
            if exc.retry_after is not None:
                return min(exc.retry_after, policy.max_elapsed)
            if str(exc).startswith("429"):
                return max(policy.throttled_floor, backoff)
        return backoff

    def _count_retry(self, state: RetryCallState) -> None:
        self.stats.retries += 1


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _path_of(url: httpx.URL) -> str:
    return url.path


def _excerpt(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"
