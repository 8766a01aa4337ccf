"""`qbank serve`: the live app in a real headless Chromium, driven over the DevTools protocol.

One browser session against a real `qbank serve` process on 127.0.0.1 with its own SQLite store:
the home screen renders, a key press reaches the app, and the page fetches nothing from anywhere
but our server (Chromium also runs with every host name except 127.0.0.1 unresolvable). Then
Ctrl+C stops the server and every app process it started. Plus the CLI's refusals.

Every wait polls for a state with a generous bound (the CI machine is small and busy).
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import REPO

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SERVER_UP = 60.0  # seconds for `qbank serve` to answer on its port
BROWSER_UP = 60.0  # seconds for Chromium's DevTools endpoint
SCREEN = 120.0  # seconds for a screen's text to reach the page
STOP = 60.0  # seconds for the server (and its app processes) to stop after Ctrl+C


def _env(**extra) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("QBANK_DEBUG", "TEXTUAL_DRIVER")}
    env.update(extra)
    return env


def _run(*args, env=None, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "qbank", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env or _env(),
        timeout=timeout,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _poll(what: str, check, timeout: float, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


# ------------------------------------------------------------------------ terminal output and pixels

_ESCAPES = re.compile(
    r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|P[^\x1b]*\x1b\\|[()][0-9A-Za-z]|[=>78DEHMc])"
)


def _terminal_text(frames: list[bytes]) -> str:
    """What the app wrote to the page's terminal, escape sequences removed (each run of text that
    Textual draws in one style arrives in one piece)."""
    return _ESCAPES.sub("", b"".join(frames).decode("utf-8", "replace"))


def _png_colours(png: bytes) -> tuple[int, float]:
    """(distinct colours, share of pixels not in the commonest colour) of an 8-bit RGB/RGBA PNG."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    while pos < len(png):
        size, kind = struct.unpack(">I4s", png[pos : pos + 8])
        body = png[pos + 8 : pos + 8 + size]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and colour in (2, 6), (depth, colour)
            bpp = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + size
    raw, stride = zlib.decompress(idat), width * bpp
    prev = bytearray(stride)
    counts: dict[bytes, int] = {}
    for y in range(height):
        ftype, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if ftype == 1:
                line[i] = (line[i] + a) & 255
            elif ftype == 2:
                line[i] = (line[i] + b) & 255
            elif ftype == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        for x in range(0, stride, bpp * 4):  # every fourth pixel is plenty
            key = bytes(line[x : x + 3])
            counts[key] = counts.get(key, 0) + 1
        prev = line
    total = sum(counts.values())
    return len(counts), 1 - max(counts.values()) / total


# ------------------------------------------------------------------------ a small DevTools client


class DevTools:
    """Chrome DevTools protocol over aiohttp's websocket client: commands, and every event kept."""

    def __init__(self, ws):
        self.ws, self.ids, self.pending, self.events = ws, itertools.count(1), {}, []
        self.reader = asyncio.create_task(self._read())

    async def _read(self):
        async for msg in self.ws:
            data = json.loads(msg.data)
            if "id" in data and data["id"] in self.pending:
                self.pending.pop(data["id"]).set_result(data)
            elif "method" in data:
                self.events.append(data)

    async def send(self, method: str, timeout: float = 60.0, **params):
        i = next(self.ids)
        fut = asyncio.get_running_loop().create_future()
        self.pending[i] = fut
        await self.ws.send_json({"id": i, "method": method, "params": params})
        reply = await asyncio.wait_for(fut, timeout)
        assert "error" not in reply, f"{method}: {reply['error']}"
        return reply.get("result", {})

    def of(self, method: str) -> list[dict]:
        return [e["params"] for e in self.events if e["method"] == method]

    async def js(self, expression: str):
        """The value of a JavaScript expression in the page (promises awaited)."""
        result = await self.send("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        assert "exceptionDetails" not in result, result
        return result["result"].get("value")

    async def until(self, what: str, check, timeout: float, interval: float = 0.1):
        """Poll `check` (a function, or an async one) until it returns something true."""
        deadline = time.monotonic() + timeout
        while True:
            result = check()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
            await asyncio.sleep(interval)


# ------------------------------------------------------------------------ fixtures


@pytest.fixture
def chromium():
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
            pytest.fail(
                f"CI: Chromium is required for the browser test and {CHROMIUM} is absent "
                "(`.ci/run` installs the Debian package `chromium`)"
            )
        pytest.skip(f"the browser test needs Chromium at {CHROMIUM} (Debian: apt-get install chromium)")
    return CHROMIUM


@pytest.fixture
def served(tmp_path, bank_dir):
    """A running `qbank serve` on a free 127.0.0.1 port, over a fresh SQLite store holding the test bank."""
    env = _env(QBANK_DATABASE_URL=f"sqlite:///{tmp_path / 'store.db'}")
    r = _run("release", "TST01", "1.0.0", "--path", str(bank_dir), env=env)
    assert r.returncode == 0, r.stderr
    r = _run("import", str(bank_dir), env=env)
    assert r.returncode == 0, r.stderr
    port = _free_port()
    with open(tmp_path / "serve.log", "w+") as log:
        # its own process group, so the test can press "Ctrl+C" as a terminal does: SIGINT to the group
        proc = subprocess.Popen(
            [sys.executable, "-m", "qbank", "serve", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

        def answers():
            assert proc.poll() is None, f"qbank serve exited with {proc.returncode}:\n{Path(log.name).read_text()}"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=2).close()
                return True
            except OSError:
                return False

        _poll(f"qbank serve to answer on 127.0.0.1:{port}", answers, SERVER_UP)
        yield proc, port, Path(log.name)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture
def browser(chromium, tmp_path):
    """Headless Chromium with DevTools on a free port and no name resolution beyond 127.0.0.1."""
    profile = tmp_path / "chromium-profile"
    args = [
        chromium,
        "--headless=new",
        "--remote-debugging-port=0",
        f"--user-data-dir={profile}",
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--disable-sync",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-default-apps",
        "--disable-dev-shm-usage",
        "--window-size=1280,800",
        "about:blank",
    ]
    if os.geteuid() == 0:
        args.insert(1, "--no-sandbox")
    with open(tmp_path / "chromium.log", "w") as errors:
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=errors, start_new_session=True)
        active = profile / "DevToolsActivePort"

        def port():
            assert proc.poll() is None, (
                f"Chromium exited with {proc.returncode}:\n{(tmp_path / 'chromium.log').read_text()}"
            )
            text = active.read_text() if active.exists() else ""
            return int(text.split()[0]) if len(text.split()) >= 2 else None

        yield _poll("Chromium's DevTools port", port, BROWSER_UP)
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# ------------------------------------------------------------------------ the browser test


@pytest.mark.slow
async def test_live_app_in_headless_chromium(served, browser, tmp_path):
    import aiohttp

    proc, port, log = served
    origin = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{browser}/json/list") as r:
            page = next(t for t in await r.json() if t["type"] == "page")
        async with http.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as ws:
            cdp = DevTools(ws)
            for domain in ("Network", "Page", "Runtime"):
                await cdp.send(f"{domain}.enable")
            await cdp.send("Page.navigate", url=f"{origin}/")

            def screen_text(after: int = 0) -> str:
                """The terminal output the page has received (binary websocket frames) since event `after`."""
                received = cdp.of("Network.webSocketFrameReceived")[after:]
                return _terminal_text(
                    [base64.b64decode(f["response"]["payloadData"]) for f in received if f["response"]["opcode"] == 2]
                )

            async def screenshot(name: str) -> tuple[int, float]:
                shot = base64.b64decode((await cdp.send("Page.captureScreenshot", format="png"))["data"])
                (tmp_path / name).write_bytes(shot)  # kept for a failure's post-mortem
                return _png_colours(shot)

            def home_screen():
                assert "Application failed to start" not in log.read_text(), "the app did not start"
                assert not cdp.of("Network.webSocketClosed"), "the session ended before the home screen showed"
                return "Unfinished assessments" in screen_text()

            # (1) the home screen: its text reaches the page, the terminal shows it, the pixels are drawn
            try:
                await cdp.until("the home screen's text in the page", home_screen, SCREEN)
            except AssertionError as e:
                raise AssertionError(
                    f"{e}\nqbank serve's output:\n{log.read_text()}\nthe page's terminal:\n{screen_text()[-3000:]}"
                ) from None
            await cdp.until(
                "the page to show the terminal (body.-first-byte, an xterm canvas)",
                lambda: cdp.js(
                    "document.body.classList.contains('-first-byte') && "
                    "!!document.querySelector('.xterm-screen canvas')"
                ),
                SCREEN,
            )
            assert await cdp.js("document.fonts.load('16px \"Roboto Mono\"').then(f => f.length)") >= 1, (
                "the terminal's font did not load"
            )

            async def drawn():
                colours, share = await screenshot("home.png")
                return colours >= 8 and share >= 0.02

            await cdp.until("a screenshot that is not blank", drawn, SCREEN, interval=0.5)

            # (2) a key press reaches the app: n opens the start screen, listing the standard from our store
            seen = len(cdp.of("Network.webSocketFrameReceived"))
            await cdp.js("document.querySelector('.xterm-helper-textarea').focus()")
            await cdp.send(
                "Input.dispatchKeyEvent",
                type="keyDown",
                key="n",
                code="KeyN",
                text="n",
                windowsVirtualKeyCode=78,
                nativeVirtualKeyCode=78,
            )
            await cdp.send(
                "Input.dispatchKeyEvent",
                type="keyUp",
                key="n",
                code="KeyN",
                windowsVirtualKeyCode=78,
                nativeVirtualKeyCode=78,
            )
            await cdp.until(
                "the start screen after pressing n", lambda: "Apprentice reference" in screen_text(seen), SCREEN
            )
            assert '["stdin","n"]' in [f["response"]["payloadData"] for f in cdp.of("Network.webSocketFrameSent")]
            await cdp.until(
                "the test bank's standard on the start screen", lambda: "TST01" in screen_text(seen), SCREEN
            )
            await screenshot("start.png")

            # (3) everything the page asked for came from our server, fonts and scripts included
            urls = [e["request"]["url"] for e in cdp.of("Network.requestWillBeSent")] + [
                e["url"] for e in cdp.of("Network.webSocketCreated")
            ]
            assert any(u.endswith("/static/js/textual.js") for u in urls), urls
            assert any("/static/fonts/RobotoMono" in u for u in urls), urls
            local = {("http", "127.0.0.1", port), ("ws", "127.0.0.1", port)}
            outside = [u for u in urls if (urlsplit(u).scheme, urlsplit(u).hostname, urlsplit(u).port) not in local]
            assert not outside, f"the page fetched from outside our server: {outside}"
            failed = cdp.of("Network.loadingFailed")
            assert not failed, f"requests that failed: {failed}"

            # Ctrl+C with the browser still connected: the server closes the session, its app process
            # quits, the server exits 0 without a traceback and the page says the session ended
            apps = _descendants(proc.pid)
            assert apps, "no app process was running for the browser session"
            os.killpg(proc.pid, signal.SIGINT)  # what a terminal sends on Ctrl+C: the whole process group
            await cdp.until("qbank serve to stop after Ctrl+C", lambda: proc.poll() is not None, STOP)
            out = log.read_text()
            assert proc.returncode == 0, out
            assert f"serving the live app on {origin}" in out and "qbank serve: stopped" in out, out
            assert "Traceback" not in out, out
            await cdp.until("the app processes to end", lambda: not [p for p in apps if _alive(p)], STOP)
            await cdp.until(
                "the page to say the session ended", lambda: cdp.js("document.body.classList.contains('-closed')"), STOP
            )
            cdp.reader.cancel()


# ------------------------------------------------------------------------ the command line


def test_serve_refuses_bad_ports_and_hosts(tmp_path):
    env = _env(QBANK_DATABASE_URL=f"sqlite:///{tmp_path / 'store.db'}")
    for port in ("0", "65536", "-1"):
        r = _run("serve", "--port", port, env=env)
        assert r.returncode == 2 and "--port must be between 1 and 65535" in r.stderr, r.stderr
    r = _run("serve", "--port", "http", env=env)
    assert r.returncode == 2 and "invalid int value" in r.stderr
    r = _run("serve", "--host", " ", env=env)
    assert r.returncode == 2 and "--host" in r.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = _run("serve", "--port", str(port), env=env)
    assert r.returncode == 1, r.stderr
    assert f"cannot listen on 127.0.0.1:{port}: the port is already in use" in r.stderr, r.stderr
    r = _run("serve", "--host", "192.0.2.1", "--port", str(_free_port()), env=env)  # TEST-NET: not ours
    assert r.returncode == 1 and "cannot listen on 192.0.2.1:" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and "serving" not in r.stderr


def test_tui_still_refuses_without_a_terminal(tmp_path):
    env = _env(QBANK_DATABASE_URL=f"sqlite:///{tmp_path / 'store.db'}", QBANK_TUI_FORCE="1")
    r = _run("tui", env=env)  # stdout is a pipe here; the old hidden override no longer exists
    assert r.returncode == 2 and "the live app needs a terminal" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
