"""Running a stand-in server from the command line, the same way for Meta's and Shopify's."""

from __future__ import annotations

import signal
from collections.abc import Callable
from socketserver import BaseServer


def _interrupt(*_args) -> None:
    raise KeyboardInterrupt


def serve_until_stopped(server: BaseServer, label: str, on_stop: Callable[[], None] | None = None) -> int:
    """Announce the address (make run and the tests read it), serve until SIGINT or SIGTERM,
    then stop cleanly so the parent's process-id checks find nothing left."""
    signal.signal(signal.SIGTERM, _interrupt)
    host, port = server.server_address[:2]
    print(f"{label} listening on http://{host}:{port}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        if on_stop is not None:
            on_stop()
        server.server_close()
    return 0
