"""What the RMM protocol servers share: a rolling request window, as the vendors count their rate limits (N requests
in any W seconds), and reading an OAuth token request's form body."""

import math
import time
from collections import deque
from urllib.parse import parse_qsl

from starlette.requests import Request


class RollingWindow:
    """Admits a request when fewer than `limit()` were admitted in the last `window()` seconds.

    `limit` and `window` are callables so that a test can change the sandbox's knobs while the server runs.
    Rejected requests are not counted: a client that waits is served as soon as the window has room.
    """

    def __init__(self, limit, window):
        self.limit = limit
        self.window = window
        self.admitted: deque[float] = deque()
        self.peak = 0  # most requests admitted within one window so far: how close a client ran to the limit

    def admit(self) -> int | None:
        """None when admitted, else whole seconds until the window has room (at least 1)."""
        now = time.monotonic()
        window = float(self.window())
        while self.admitted and self.admitted[0] <= now - window:
            self.admitted.popleft()
        if len(self.admitted) >= int(self.limit()):
            return max(1, math.ceil(self.admitted[0] + window - now))
        self.admitted.append(now)
        self.peak = max(self.peak, len(self.admitted))
        return None


async def read_form(request: Request) -> dict[str, str]:
    """An application/x-www-form-urlencoded body as a dict (starlette's own parser needs python-multipart)."""
    return dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))
