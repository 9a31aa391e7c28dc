"""The HTTP side's defaults, in a module of their own: the command line shows them in --help
without loading the HTTP client (requests) or the retry policies (tenacity)."""

from __future__ import annotations

DEFAULT_BASE_URL = "http://localhost:1234/v1"  # LM Studio's default
DEFAULT_TIMEOUT = 300.0  # seconds to wait for one whole answer
CONNECT_TIMEOUT = 5.0
PROBE_TIMEOUT = 8.0  # the pre-flight check answers within 10 s even when the server hangs
DEFAULT_RETRIES = 8  # with the default backoff: about 4 minutes of a dead server before giving up
DEFAULT_BACKOFF = 1.0  # seconds before the first retry; doubles each time
MAX_BACKOFF = 60.0
