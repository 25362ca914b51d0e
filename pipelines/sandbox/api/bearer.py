"""Bearer tokens as the sandbox's OAuth-style servers hand them out (HaloPSA, N-central, Automate): issued with a
lifetime, rejected after it or after a quirk's number of uses, so clients' renewal paths run for real."""

import secrets
import time


class Tokens:
    """Issued tokens of one protocol server. `max_uses()` (a callable reading the sandbox's quirks; None: no limit)
    makes a token answer 401 after that many requests, as an expiry mid-run would."""

    def __init__(self, lifetime: float, max_uses=lambda: None):
        self.lifetime = lifetime
        self.max_uses = max_uses
        self._issued: dict[str, dict] = {}
        self.issued = 0

    def issue(self, lifetime: float | None = None, **claims) -> str:
        value = secrets.token_urlsafe(24)
        self._issued[value] = {"expires": time.monotonic() + (lifetime or self.lifetime), "uses": 0, **claims}
        self.issued += 1
        return value

    def claims(self, value: str) -> dict | None:
        """The token's claims when it is live (one use is counted), else None."""
        token = self._issued.get(value)
        limit = self.max_uses()
        if token is None or time.monotonic() > token["expires"] or (limit is not None and token["uses"] >= int(limit)):
            return None
        token["uses"] += 1
        return token

    def from_header(self, authorization: str | None) -> dict | None:
        header = authorization or ""
        return self.claims(header[7:].strip()) if header.lower().startswith("bearer ") else None

    def revoke(self, value: str) -> None:
        self._issued.pop(value, None)
