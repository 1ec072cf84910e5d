"""Headless Chromium for tests of rendered pages, driven over the DevTools protocol.

Chromium (Debian's `chromium` package) starts with `--remote-debugging-pipe`: the protocol's JSON
messages, each ended by a NUL byte, travel over the child's file descriptors 3 (commands to the
browser) and 4 (answers and events). That needs no driver process (chromedriver), no port, no
WebSocket client and no browser download: only the browser and this module. A page records what a
test asks about: console errors, uncaught exceptions, Content-Security-Policy violations and every
network request it made.

    with Browser() as browser:
        page = browser.new_page()
        page.set_viewport(390, 844, mobile=True)
        page.open(Path("report.html").as_uri())
        page.evaluate("document.documentElement.scrollWidth"), page.console_errors, page.requests
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# The machine notes' flags: without the background-networking ones, Chromium keeps calling Google's
# hosts, which this closed network refuses. --no-sandbox because tests run as root.
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-extensions", "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio",
)


class BrowserError(RuntimeError):
    pass


def available(path: str = CHROMIUM) -> bool:
    return os.access(path, os.X_OK)


class Browser:
    """One Chromium process with a fresh profile; `close()` (or the with-block) ends it."""

    def __init__(self, path: str = CHROMIUM, *, timeout: float = 30.0):
        self.timeout = timeout
        self._profile = tempfile.TemporaryDirectory(prefix="chromium-profile-")
        self.log_path = Path(self._profile.name) / "chromium.log"
        to_browser_r, self._to_browser = _pipe()
        self._from_browser, from_browser_w = _pipe()
        self.pid = os.posix_spawn(
            path,
            [path, *FLAGS, f"--user-data-dir={self._profile.name}", "--remote-debugging-pipe", "about:blank"],
            os.environ,
            file_actions=[
                (os.POSIX_SPAWN_DUP2, to_browser_r, 3),
                (os.POSIX_SPAWN_DUP2, from_browser_w, 4),
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_OPEN, 1, str(self.log_path), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600),
                (os.POSIX_SPAWN_OPEN, 2, str(self.log_path), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600),
            ],
            setsid=True,  # its own process group: close() can end the browser and all its helpers
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self._events: list[dict] = []
        try:
            self.version = self.send("Browser.getVersion")["product"]
        except Exception:
            self.close()
            raise

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- the protocol ------------------------------------------------------------------------------

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        """Send one command and wait for its answer; events that arrive meanwhile are kept."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            answer = self._receive(deadline, f"the answer to {method}")
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise BrowserError(f"{method}: {answer['error'].get('message')}")
                return answer.get("result", {})
            if "method" in answer:
                self._events.append(answer)

    def wait_for(self, method: str, session: str | None, timeout: float | None = None) -> dict:
        """The first event `method` of `session` not yet consumed, waiting for it if need be."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            for n, event in enumerate(self._events):
                if event["method"] == method and event.get("sessionId") == session:
                    return self._events.pop(n)
            message = self._receive(deadline, f"the event {method}")
            if "method" in message:
                self._events.append(message)

    def events(self, session: str) -> list[dict]:
        """Take every event received so far for `session` (read what is waiting in the pipe first)."""
        while select.select([self._from_browser], [], [], 0)[0]:
            self._read_some()
            while b"\0" in self._buffer:
                raw, _, self._buffer = self._buffer.partition(b"\0")
                message = json.loads(raw)
                if "method" in message:
                    self._events.append(message)
        mine = [e for e in self._events if e.get("sessionId") == session]
        self._events = [e for e in self._events if e.get("sessionId") != session]
        return mine

    def _receive(self, deadline: float, what: str) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_browser], [], [], left)[0]:
                raise BrowserError(f"Chromium sent no {what} within {self.timeout} s (log: {self.log_path})")
            self._read_some()
        raw, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(raw)

    def _read_some(self) -> None:
        chunk = os.read(self._from_browser, 1 << 20)
        if not chunk:
            raise BrowserError(f"Chromium closed the DevTools pipe (log: {self.log_path})")
        self._buffer += chunk

    # -- pages -------------------------------------------------------------------------------------

    def new_page(self) -> "Page":
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, target, session)
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable", session=session)
        return page

    def close(self) -> None:
        if self.pid is None:
            return
        try:
            self.send("Browser.close")
        except Exception:
            pass
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and os.waitpid(self.pid, os.WNOHANG) == (0, 0):
            time.sleep(0.05)
        try:
            os.killpg(self.pid, signal.SIGKILL)  # helpers left over, or a browser that did not exit
        except ProcessLookupError:
            pass
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass
        self.pid = None
        for fd in (self._to_browser, self._from_browser):
            os.close(fd)
        self._profile.cleanup()


class Page:
    def __init__(self, browser: Browser, target: str, session: str):
        self.browser, self.target, self.session = browser, target, session
        self.console_errors: list[str] = []
        self.requests: list[str] = []

    def _send(self, method: str, params: dict | None = None) -> dict:
        result = self.browser.send(method, params, session=self.session)
        self._collect()
        return result

    def _collect(self) -> None:
        for event in self.browser.events(self.session):
            method, params = event["method"], event.get("params", {})
            if method == "Log.entryAdded" and params["entry"]["level"] == "error":
                self.console_errors.append(f"{params['entry'].get('source')}: {params['entry'].get('text')}")
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                self.console_errors.append("console: " + " ".join(str(a.get("value", a.get("description"))) for a in params.get("args", [])))
            elif method == "Runtime.exceptionThrown":
                self.console_errors.append("exception: " + params["exceptionDetails"].get("text", ""))
            elif method == "Network.requestWillBeSent":
                self.requests.append(params["request"]["url"])

    def set_viewport(self, width: int, height: int, *, mobile: bool = False) -> None:
        self._send("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})

    def emulate_media(self, media: str) -> None:
        """"print" lays the page out with its print styles; "" goes back to the screen."""
        self._send("Emulation.setEmulatedMedia", {"media": media})

    def open(self, url: str) -> None:
        """Navigate and wait for the load event."""
        self.console_errors.clear()
        self.requests.clear()
        answer = self._send("Page.navigate", {"url": url})
        if answer.get("errorText"):
            raise BrowserError(f"navigating to {url}: {answer['errorText']}")
        self.browser.wait_for("Page.loadEventFired", self.session)
        self._collect()

    def evaluate(self, expression: str) -> Any:
        result = self._send("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression[:80]}: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    def screenshot(self, path: Path) -> Path:
        data = self._send("Page.captureScreenshot", {"format": "png"})["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def pdf(self, path: Path, *, paper_width_in: float, paper_height_in: float) -> Path:
        """Print as Chrome's print dialog would, on paper of this size (the page's @page margins)."""
        data = self._send(
            "Page.printToPDF",
            {"paperWidth": paper_width_in, "paperHeight": paper_height_in, "printBackground": True, "preferCSSPageSize": False},
        )["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path


def _pipe() -> tuple[int, int]:
    """A pipe whose ends are numbered 10 or above, so that placing them at 3 and 4 in the child
    cannot overwrite one with the other."""
    read, write = os.pipe()
    moved = fcntl.fcntl(read, fcntl.F_DUPFD_CLOEXEC, 10), fcntl.fcntl(write, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(read)
    os.close(write)
    return moved
