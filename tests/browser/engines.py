"""One thin driver per browser engine, so a test body runs unchanged in all three:

- Chromium: Debian's /usr/bin/chromium through Playwright.
- Firefox: Debian's /usr/bin/firefox-esr over WebDriver BiDi (the protocol Firefox speaks
  natively), with a small client of our own on `websocket-client`.
- WebKit: Debian's WebKitGTK MiniBrowser (`--automation`) under Xvfb, through WebKitWebDriver
  and Selenium's `webdriver.WebKitGTK`.

An `Engine` opens tabs; a `Tab` has `goto(url)`, `evaluate(js, arg)` (a JS function called with `arg`, or an
expression; promises are awaited; the value comes back through JSON) and `close()`. Each tab
gets fresh storage: a Playwright context, a BiDi user context, or a new WebKit session.

Every engine is kept off the network but for loopback: Chromium by its args, Firefox and WebKit
by a proxy setting that points everything else at a closed loopback port.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any, Protocol

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-quic", "--no-first-run", "--disable-gpu"]
FIREFOX = "/usr/bin/firefox-esr"
MINIBROWSER = "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser"
WEBKIT_DRIVER = "/usr/bin/WebKitWebDriver"
XVFB = "/usr/bin/Xvfb"
ENGINES = ("chromium", "firefox", "webkit")
NEEDS = {"chromium": (CHROMIUM,), "firefox": (FIREFOX,), "webkit": (MINIBROWSER, WEBKIT_DRIVER, XVFB)}
DEAD_PROXY = "127.0.0.1:9"  # nothing listens there: any non-loopback request fails at once

# Runs in the page: `src` is a function (called with the JSON-decoded arg) or an expression.
_EVAL = """async (src, json) => {
  const v = (0, eval)(src), arg = JSON.parse(json)
  const r = typeof v == 'function' ? await v(arg) : await v
  return JSON.stringify(r === undefined ? null : r)
}"""


class EngineError(RuntimeError):
    """The engine failed a command (an exception in the page, a protocol error)."""


class Tab(Protocol):
    def goto(self, url: str) -> None: ...
    def evaluate(self, js: str, arg: Any = None) -> Any: ...
    def close(self) -> None: ...


class Engine(Protocol):
    name: str
    version: str

    def open(self, url: str) -> Tab: ...
    def quit(self) -> None: ...


def missing(name: str) -> list[str]:
    """The programs an engine needs that are not installed."""
    return [p for p in NEEDS[name] if not Path(p).exists()]


def launch(name: str) -> Engine:
    """Firefox or WebKit, started here (Chromium tabs come from the Playwright `browser`)."""
    if name == "firefox":
        return Firefox()
    return WebKit()


# -- Chromium ------------------------------------------------------------------------------------

class _PlaywrightTab:
    def __init__(self, context: Any, url: str) -> None:
        self.context = context
        self.page = context.new_page()
        self.goto(url)

    def goto(self, url: str) -> None:
        self.page.goto(url)

    def evaluate(self, js: str, arg: Any = None) -> Any:
        out = self.page.evaluate(f"([s, j]) => ({_EVAL})(s, j)", [js, json.dumps(arg)])
        return json.loads(out)

    def close(self) -> None:
        if not self.page.is_closed():
            self.page.close(run_before_unload=False)
            self.context.close()


class Chromium:
    """Tabs in a Playwright browser the caller launched and closes (one Playwright per thread)."""

    name = "chromium"

    def __init__(self, browser: Any) -> None:
        self._browser = browser
        self.version = f"Chromium {browser.version}"

    def open(self, url: str) -> Tab:
        return _PlaywrightTab(self._browser.new_context(), url)

    def quit(self) -> None:
        pass


# -- Firefox (WebDriver BiDi) --------------------------------------------------------------------

# Prefs on top of the ones Firefox's remote agent sets for automation: no updates, no studies,
# no remote settings, and a dead proxy for everything but loopback.
_FIREFOX_PREFS = {
    "network.proxy.type": 1, "network.proxy.http": "127.0.0.1", "network.proxy.http_port": 9,
    "network.proxy.ssl": "127.0.0.1", "network.proxy.ssl_port": 9, "network.proxy.socks": "127.0.0.1",
    "network.proxy.socks_port": 9, "network.proxy.no_proxies_on": "", "network.trr.mode": 5,
    "network.captive-portal-service.enabled": False, "network.connectivity-service.enabled": False,
    "app.update.disabledForTesting": True, "app.normandy.enabled": False,
    "services.settings.server": "http://127.0.0.1:9/v1", "browser.safebrowsing.update.enabled": False,
    "datareporting.policy.dataSubmissionEnabled": False, "toolkit.telemetry.enabled": False,
    "browser.shell.checkDefaultBrowser": False, "browser.startup.homepage_override.mstone": "ignore",
    "extensions.update.enabled": False, "extensions.getAddons.cache.enabled": False,
    "browser.region.network.url": "", "browser.aboutwelcome.enabled": False,
}


class _BiDi:
    """Commands over the WebDriver BiDi websocket; events are not subscribed to."""

    def __init__(self, url: str) -> None:
        import websocket

        self._ws = websocket.create_connection(url, timeout=120, suppress_origin=True)
        self._id = 0
        self._lock = threading.Lock()

    def __call__(self, method: str, **params: Any) -> dict[str, Any]:
        with self._lock:
            self._id += 1
            self._ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
            while True:
                msg = json.loads(self._ws.recv())
                if msg.get("id") == self._id:
                    break
        if msg.get("type") == "error":
            raise EngineError(f"{method}: {msg.get('error')}: {msg.get('message')}")
        return dict(msg["result"])

    def close(self) -> None:
        self._ws.close()


class _BiDiTab:
    def __init__(self, bidi: _BiDi, url: str) -> None:
        self._bidi = bidi
        self._user = bidi("browser.createUserContext")["userContext"]
        self._context = bidi("browsingContext.create", type="tab", userContext=self._user)["context"]
        self.goto(url)

    def goto(self, url: str) -> None:
        self._bidi("browsingContext.navigate", context=self._context, url=url, wait="complete")

    def evaluate(self, js: str, arg: Any = None) -> Any:
        r = self._bidi("script.callFunction", functionDeclaration=_EVAL, awaitPromise=True,
                       target={"context": self._context}, resultOwnership="none",
                       arguments=[{"type": "string", "value": js},
                                  {"type": "string", "value": json.dumps(arg)}])
        if r["type"] == "exception":
            raise EngineError(r["exceptionDetails"].get("text", "exception in the page"))
        return json.loads(r["result"]["value"])

    def close(self) -> None:
        if self._user:
            self._bidi("browsingContext.close", context=self._context)
            self._bidi("browser.removeUserContext", userContext=self._user)
            self._user = ""


class Firefox:
    name = "firefox"

    def __init__(self) -> None:
        self._profile = tempfile.mkdtemp(prefix="wasmwatch-firefox-")
        with open(os.path.join(self._profile, "user.js"), "w") as f:
            for k, v in _FIREFOX_PREFS.items():
                f.write(f"user_pref({json.dumps(k)}, {json.dumps(v)});\n")
        self._proc = subprocess.Popen(
            [FIREFOX, "--headless", "--no-remote", "--profile", self._profile,
             "--remote-debugging-port", "0", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "MOZ_CRASHREPORTER_DISABLE": "1"})
        url = self._listening()
        self._bidi = _BiDi(url + "/session")
        caps = self._bidi("session.new", capabilities={})["capabilities"]
        self.version = f"{caps['browserName']} {caps['browserVersion']}"

    def _listening(self) -> str:
        assert self._proc.stderr is not None
        for line in self._proc.stderr:
            m = re.search(r"WebDriver BiDi listening on (ws://\S+)", line)
            if m:
                # Keep draining stderr so Firefox never blocks on a full pipe.
                threading.Thread(target=self._proc.stderr.read, daemon=True).start()
                return m.group(1)
        raise EngineError(f"firefox exited ({self._proc.wait()}) before WebDriver BiDi listened")

    def open(self, url: str) -> Tab:
        return _BiDiTab(self._bidi, url)

    def quit(self) -> None:
        try:
            self._bidi("session.end")
            self._bidi.close()
        finally:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            shutil.rmtree(self._profile, ignore_errors=True)


# -- WebKit (WebKitGTK MiniBrowser via WebKitWebDriver) -----------------------------------------

class _SeleniumTab:
    def __init__(self, display: str, url: str) -> None:
        from selenium import webdriver
        from selenium.webdriver.webkitgtk.service import Service

        opts = webdriver.WebKitGTKOptions()
        opts.binary_location = MINIBROWSER
        for a in ("--automation", f"--proxy=http://{DEAD_PROXY}", "--ignore-host=127.0.0.1", "--ignore-host=localhost"):
            opts.add_argument(a)
        service = Service(executable_path=WEBKIT_DRIVER, env={**os.environ, "DISPLAY": display})
        self.driver = webdriver.WebKitGTK(options=opts, service=service)
        self.driver.set_script_timeout(60)
        self.goto(url)

    def goto(self, url: str) -> None:
        self.driver.get(url)

    def evaluate(self, js: str, arg: Any = None) -> Any:
        out = self.driver.execute_async_script(
            f"const done = arguments[2]; ({_EVAL})(arguments[0], arguments[1])"
            ".then(done, e => done(JSON.stringify({__error: String(e) + ' ' + (e && e.stack)})))",
            js, json.dumps(arg))
        value = json.loads(out)
        if isinstance(value, dict) and "__error" in value:
            raise EngineError(value["__error"])
        return value

    def close(self) -> None:
        if self.driver.session_id:
            self.driver.quit()
            self.driver.session_id = None


class WebKit:
    """A new WebKitWebDriver session per tab: MiniBrowser has no separate storage per tab."""

    name = "webkit"

    def __init__(self) -> None:
        read, write = os.pipe()
        self._xvfb = subprocess.Popen([XVFB, "-displayfd", str(write), "-nolisten", "tcp", "-screen", "0",
                                       "1280x800x24"], pass_fds=(write,), stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)
        os.close(write)
        with os.fdopen(read) as f:
            self.display = ":" + f.readline().strip()
        out = subprocess.run([MINIBROWSER, "--version"], capture_output=True, text=True,
                             env={**os.environ, "DISPLAY": self.display}, timeout=30)
        self.version = "WebKitGTK " + (out.stdout.strip().split()[-1] if out.stdout.strip() else "?")

    def open(self, url: str) -> Tab:
        return _SeleniumTab(self.display, url)

    def quit(self) -> None:
        self._xvfb.terminate()
        self._xvfb.wait(10)
