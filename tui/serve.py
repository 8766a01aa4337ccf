"""`qbank serve`: the live app in a web browser, through textual-serve.

Each browser connection starts its own `python -m qbank tui` under Textual's web driver, with the
server's environment (so the same store: `QBANK_DATABASE_URL` or the default SQLite file).

Everything the page loads comes from this server. textual-serve's own page template pulls the
"Roboto Mono" font from fonts.googleapis.com; ours (`PAGE` below) declares the same font with
`@font-face` over the copy textual-serve ships in its static folder, and uses only relative URLs
(static files and the websocket), so the page also works behind a reverse proxy or on a path.

There is no authentication here: anyone who can reach the port can run assessments.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import ipaddress
import logging
import shlex
import signal
import sys
from collections.abc import Callable

from aiohttp import web
from textual_serve.app_service import AppService
from textual_serve.server import Server, to_int

log = logging.getLogger("qbank.serve")

TITLE = "qbank — live assessment"
STOP_TIMEOUT = 10.0  # seconds an app process gets to quit after its browser goes, before it is killed

# The page: textual-serve's template without the CDN font, the remote background image or absolute
# URLs. textual.js (xterm.js and its addons, bundled) reads the websocket URL from the terminal
# element's data attribute when the page has loaded; the inline script sets it first.
PAGE = """<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>{title}</title>
    <link rel="stylesheet" href="static/css/xterm.css" />
    <style>
      @font-face {{
        font-family: "Roboto Mono";
        src: url("static/fonts/RobotoMono-VariableFont_wght.ttf") format("truetype");
        font-weight: 100 700;
        font-style: normal;
      }}
      @font-face {{
        font-family: "Roboto Mono";
        src: url("static/fonts/RobotoMono-Italic-VariableFont_wght.ttf") format("truetype");
        font-weight: 100 700;
        font-style: italic;
      }}
      html, body {{ margin: 0; height: 100%; background: #0c181f; }}
      .textual-terminal {{ width: 100vw; height: 100vh; }}
      .dialog {{
        position: absolute; inset: 0; z-index: 10;
        display: flex; align-items: center; justify-content: center; flex-direction: column;
        font: 16px "Roboto Mono", menlo, monospace; color: rgba(255, 255, 255, 0.95);
      }}
      .dialog button {{
        padding: 16px 32px; margin: 16px; border: none; cursor: pointer;
        background: #5e0ba7; color: rgba(255, 255, 255, 0.95); font: inherit;
      }}
      body .textual-terminal {{ opacity: 0; }}
      body.-first-byte .textual-terminal {{ opacity: 1; }}
      body.-first-byte .intro {{ display: none; }}
      .closed {{ display: none; background: #0c181f; }}
      body.-closed .closed {{ display: flex; }}
    </style>
    <script src="static/js/textual.js"></script>
  </head>
  <body>
    <div class="dialog intro"><div>{title}</div><div>connecting…</div></div>
    <div class="dialog closed">
      <div>Session ended.</div>
      <button type="button" onclick="window.location.reload()">Start again</button>
    </div>
    <div id="terminal" class="textual-terminal" data-font-size="{font_size}"></div>
    <script>
      (function () {{
        var url = new URL("ws", window.location.href);
        url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
        url.search = "";
        url.hash = "";
        document.getElementById("terminal").dataset.sessionWebsocketUrl = url.href;
      }})();
    </script>
  </body>
</html>
"""


def app_command() -> str:
    """The command each browser connection runs: this Python's `qbank tui`."""
    return f"{shlex.quote(sys.executable)} -m qbank tui"


class QBankServer(Server):
    """textual-serve's Server with a local-only page, a bind-then-announce start and a clean stop."""

    def __init__(
        self, host: str, port: int, *, command: str | None = None, announce: Callable[[str], None] | None = None
    ):
        super().__init__(command or app_command(), host=host, port=port, title=TITLE)
        self._announce = announce or (lambda msg: print(msg, file=sys.stderr, flush=True))
        self._sockets: set[web.WebSocketResponse] = set()

    # ---------------------------------------------------------------- pages

    async def handle_index(self, request: web.Request) -> web.Response:
        font_size = min(max(to_int(request.query.get("fontsize", "16"), 16), 6), 64)
        body = PAGE.format(title=html.escape(self.title), font_size=font_size)
        return web.Response(text=body, content_type="text/html", headers={"Cache-Control": "no-store"})

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """As textual-serve's, plus: the socket is closed when the server stops, and an app that
        does not quit in time is killed, so no app process outlives the server."""
        websocket = web.WebSocketResponse(heartbeat=15)
        width = to_int(request.query.get("width", "80"), 80)
        height = to_int(request.query.get("height", "24"), 24)
        app_service: AppService | None = None
        self._sockets.add(websocket)
        try:
            await websocket.prepare(request)
            app_service = AppService(
                self.command,
                write_bytes=websocket.send_bytes,
                write_str=websocket.send_str,
                close=websocket.close,  # type: ignore[arg-type]  # as textual-serve's own server: its hint wants None, aiohttp returns an unused bool
                download_manager=self.download_manager,
                debug=self.debug,
            )
            await app_service.start(width, height)
            watcher = asyncio.create_task(self._close_when_app_ends(app_service, websocket))
            try:
                await self._process_messages(websocket, app_service)
            finally:
                watcher.cancel()
        except asyncio.CancelledError:
            pass
        except Exception:
            log.exception("browser session failed")
        finally:
            self._sockets.discard(websocket)
            if app_service is not None:
                await self._stop_app(app_service)
            with contextlib.suppress(Exception):
                await websocket.close()
        return websocket

    @staticmethod
    async def _close_when_app_ends(app_service: AppService, websocket: web.WebSocketResponse) -> None:
        """An app that ends without saying so (it failed to start, or crashed) closes its page's
        session, so the browser says "Session ended" instead of waiting forever."""
        task = getattr(app_service, "_task", None)
        if task is not None:
            await asyncio.shield(task)
            await websocket.close()

    async def _stop_app(self, app_service: AppService) -> None:
        try:
            await asyncio.wait_for(asyncio.shield(app_service.stop()), STOP_TIMEOUT)
        except (TimeoutError, asyncio.CancelledError, Exception):  # noqa: BLE001  (whatever stopped it, the process must go)
            process = getattr(app_service, "_process", None)
            if process is not None and process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                with contextlib.suppress(Exception):
                    await process.wait()

    # ---------------------------------------------------------------- life cycle

    def initialize_logging(self) -> None:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("qbank serve: %(message)s"))
        for name in ("textual-serve", "qbank.serve"):
            logger = logging.getLogger(name)
            logger.handlers[:] = [handler]
            logger.setLevel(logging.DEBUG if self.debug else logging.WARNING)
            logger.propagate = False

    async def on_startup(self, app: web.Application) -> None:
        pass  # announced once the port is bound, in _run

    async def on_shutdown(self, app: web.Application) -> None:
        for websocket in list(self._sockets):
            with contextlib.suppress(Exception):
                await websocket.close(code=1001, message=b"server stopped")

    def serve(self, debug: bool = False) -> None:
        """Serve until Ctrl+C (SIGINT) or SIGTERM. Raises OSError when the address cannot be bound."""
        self.debug = debug
        self.initialize_logging()
        asyncio.run(self._run())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        runner = web.AppRunner(
            await self._make_app(), handle_signals=False, access_log=None, shutdown_timeout=STOP_TIMEOUT
        )
        await runner.setup()
        signals = []
        try:
            await web.TCPSite(runner, self.host, self.port).start()
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, ValueError):
                    loop.add_signal_handler(sig, stop.set)
                    signals.append(sig)
            self._announce(f"qbank serve: serving the live app on {self.public_url} (Ctrl+C to stop)")
            if not is_loopback(self.host):
                self._announce(
                    f"qbank serve: warning: listening beyond this machine ({self.host}) with no "
                    "authentication; anyone who can reach the port can use the app and read the "
                    "store: put something that authenticates in front of it"
                )
            await stop.wait()
            for sig in signals:  # a second Ctrl+C interrupts the shutdown itself
                loop.remove_signal_handler(sig)
            signals.clear()
            self._announce("qbank serve: stopping; closing browser sessions")
        finally:
            for sig in signals:
                loop.remove_signal_handler(sig)
            await runner.cleanup()


def url_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def is_loopback(host: str) -> bool:
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serve(host: str = "127.0.0.1", port: int = 8000, *, command: str | None = None) -> None:
    server = QBankServer(host, port, command=command)
    server.public_url = f"http://{url_host(host)}:{port}"
    server.serve()
