"""OAuth bearer tokens for the sources that use them (Datto RMM, NinjaOne, HaloPSA, N-central, Automate): fetched once, reused until they expire,
renewed on a 401 exactly once however many concurrent requests saw it."""

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import TypeVar

import httpx

from pipelines.sources.http import ApiClient, AuthError, RateBudget, RetryPolicy, SourceError

T = TypeVar("T")

# Renew this long before the server's expiry, so that a request sent just before it does not fail in flight.
EXPIRY_MARGIN_SECONDS = 60.0
# The token endpoint gets its own client: a renewal must not queue behind the thousands of requests waiting for it.
TOKEN_BUDGET = RateBudget(requests=5, per_seconds=1.0, concurrency=1)


class BearerToken(httpx.Auth):
    """The `auth=` of every request of one ApiClient, and its `refresh_auth` (`renew_after_401`).

    The header is written when the request is sent, so the request ApiClient repeats after a renewal carries the new
    token. Each token has a generation; a 401 marks the generation it was sent with, and a renewal happens only when
    that generation is still the current one: ten requests in flight that all meet an expired token cost one
    token request, not ten. Once a token is known to be rejected, requests about to go out wait for its successor
    instead of collecting 401s of their own.

    `fetch()` returns (access_token, lifetime_seconds) or raises an AuthError naming the source's env vars. It must not
    queue behind the requests that wait for it: send it through its own ApiClient, not the one this token guards.
    Async clients only (the header is set in `async_auth_flow`).
    """

    def __init__(self, fetch: Callable[[], Awaitable[tuple[str, float]]]):
        self._fetch = fetch
        self._value: str | None = None
        self._expires_at = 0.0
        self._generation = 0
        self._rejected_generation = -1
        self._lock = asyncio.Lock()
        self.issued = 0  # tokens fetched in this run, for the run's stats

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        await self.ensure()
        generation = self._generation
        request.headers["Authorization"] = f"Bearer {self._value}"
        response = yield request
        if response.status_code == 401:
            self._rejected_generation = max(self._rejected_generation, generation)

    def _stale(self) -> bool:
        return (self._value is None or time.monotonic() >= self._expires_at
                or self._rejected_generation >= self._generation)

    async def ensure(self) -> None:
        """Fetch a token if there is none, it is about to expire, or the server rejected it."""
        if self._stale():
            async with self._lock:
                if self._stale():
                    await self._renew()

    async def send(self, request: Callable[[], Awaitable[T]]) -> T:
        """Run `request` (one ApiClient request with `auth=self`) with a current token.

        ApiClient renews once per request. A request that waited behind thousands of queued ones may meet the next
        expiry as well; when a token was issued while it waited, the credentials are good, so it is sent again
        (twice at most) instead of failing the run as if they had been rejected.
        """
        for attempt in range(3):
            issued = self.issued
            try:
                return await request()
            except AuthError:
                if attempt == 2 or self.issued == issued:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def renew_after_401(self) -> None:
        """ApiClient's `refresh_auth`: renew unless another request already replaced the rejected token."""
        await self.ensure()

    async def _renew(self) -> None:
        value, lifetime = await self._fetch()
        margin = min(EXPIRY_MARGIN_SECONDS, lifetime * 0.1)
        self._value = value
        self._expires_at = time.monotonic() + max(0.0, lifetime - margin)
        self._generation += 1
        self.issued += 1


async def request_token(auth_api: ApiClient, path: str, *, data: dict[str, str], default_lifetime: float,
                        no_endpoint: str, rejected_hint: str, auth: httpx.Auth | None = None) -> tuple[str, float]:
    """POST a token request; (access_token, lifetime seconds), or one-line errors a user can act on.

    `no_endpoint` is the whole message for a 404 (the URL is not the vendor's API host); `rejected_hint` ends the
    message for 400/401/403, after the credential names and the host.
    """
    response = await auth_api.request("POST", path, auth=auth, data=data, ok_statuses=TOKEN_REFUSALS)
    body = token_body(auth_api, response, no_endpoint=no_endpoint, rejected_hint=rejected_hint)
    lifetime = body.get("expires_in")
    return body["access_token"], float(default_lifetime if lifetime is None else lifetime)


# Token endpoints answer a refusal with one of these; ApiClient hands them back instead of raising.
TOKEN_REFUSALS = (400, 401, 403, 404)


def token_body(auth_api: ApiClient, response: httpx.Response, *, no_endpoint: str, rejected_hint: str):
    """A token response's JSON, or the one-line error a user can act on: `no_endpoint` for a 404 (the URL is not
    the vendor's API host), else the credential names, the host and `rejected_hint` for 400/401/403."""
    if response.status_code == 404:
        raise SourceError(no_endpoint)
    if response.status_code not in (200, 201):
        raise AuthError(f"{auth_api.credential_hint} is rejected by {auth_api.host} ({response.status_code} "
                        f"{_error_code(response)}): {rejected_hint}")
    return auth_api.decode_json(response)


class TokenApiClient(ABC):
    """An API host behind a bearer token: `api` for reads (renewing the token on a 401), `auth_api` for token
    requests on their own budget, and request counts per endpoint. Subclasses define `_fetch_token()`."""

    def __init__(self, *, source: str, url: str, credential_hint: str, budget: RateBudget,
                 retry: RetryPolicy | None):
        self.url = url.rstrip("/")
        self.token = BearerToken(self._fetch_token)
        self.api = ApiClient(source=source, base_url=self.url, credential_hint=credential_hint, budget=budget,
                             retry=retry, refresh_auth=self.token.renew_after_401)
        self.auth_api = ApiClient(source=source, base_url=self.url, credential_hint=credential_hint,
                                  budget=TOKEN_BUDGET, retry=retry)
        self.by_endpoint: dict[str, int] = {}

    @abstractmethod
    async def _fetch_token(self) -> tuple[str, float]:
        """(access_token, lifetime seconds) by the vendor's own grant, usually through `request_token`."""

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc) -> None:
        await self.api.aclose()
        await self.auth_api.aclose()

    def request_stats(self) -> dict[str, float | int]:
        """The run's request counts (reads and token requests together) for Extraction.stats."""
        reads, tokens = self.api.stats.as_metadata(), self.auth_api.stats.as_metadata()
        return {key: reads[key] + tokens[key] for key in reads}

    def run_stats(self) -> dict[str, object]:
        """`request_stats()` with the requests per endpoint and the tokens issued: a connector's Extraction.stats."""
        return {**self.request_stats(), "requests_by_endpoint": dict(sorted(self.by_endpoint.items())),
                "tokens_issued": self.token.issued}

    def _count(self, endpoint: str) -> None:
        self.by_endpoint[endpoint] = self.by_endpoint.get(endpoint, 0) + 1


def _error_code(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("error") or "") if isinstance(body, dict) else ""
