"""A loopback HTTP server for the PATS download tests: serves in-memory files with Range support,
records every request, and can fail or stall chosen paths. Bound to 127.0.0.1; stops itself."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LIFETIME_S = 300.0  # the server shuts down after this long whatever the test does
STALL_TIMEOUT_S = 60.0  # a stalled response gives up after this long


@dataclass
class Served:
    """What the server serves and what it saw."""

    files: dict[str, bytes] = field(default_factory=dict)  # "/name.mp4" -> content
    fail: dict[str, list[int]] = field(default_factory=dict)  # path -> statuses answered first, one per request
    stall: set[str] = field(default_factory=set)  # paths whose next download stops half way until released
    requests: list[tuple[str, str | None]] = field(default_factory=list)  # (path, Range header)
    stalled: threading.Event = field(default_factory=threading.Event)  # set once a stalled response is half sent
    release: threading.Event = field(default_factory=threading.Event)

    def hits(self, path: str) -> list[str | None]:
        """Range headers of the requests for ``path`` so far."""
        return [r for p, r in self.requests if p == path]


def _handler(served: Served) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server API)
            path = self.path.split("?")[0]
            served.requests.append((path, self.headers.get("Range")))
            if served.fail.get(path):
                self.send_error(served.fail[path].pop(0))
                return
            if path not in served.files:
                self.send_error(404)
                return
            data = served.files[path]
            ranged = re.match(r"bytes=(\d+)-", self.headers.get("Range") or "")
            start = int(ranged.group(1)) if ranged else 0
            self.send_response(206 if ranged else 200)
            self.send_header("Content-Type", "video/mp4")
            self.send_header("Accept-Ranges", "bytes")
            if ranged:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.send_header("Content-Length", str(len(data) - start))
            self.end_headers()
            body = data[start:]
            try:
                # the extractor's first look reads a few bytes only: stall the download itself
                if path in served.stall and len(served.hits(path)) > 1:
                    served.stall.discard(path)
                    self.wfile.write(body[:len(body) // 2])
                    self.wfile.flush()
                    served.stalled.set()
                    served.release.wait(STALL_TIMEOUT_S)
                    return
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *args):  # quiet
            pass

    return Handler


class LoopbackServer:
    """``with LoopbackServer(served) as url:`` -> ``http://127.0.0.1:<port>``."""

    def __init__(self, served: Served):
        self.served = served
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(served))
        self.httpd.daemon_threads = True
        self.timer = threading.Timer(LIFETIME_S, self.httpd.shutdown)

    def __enter__(self) -> str:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.timer.daemon = True
        self.timer.start()
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __exit__(self, *exc) -> None:
        self.timer.cancel()
        self.served.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
