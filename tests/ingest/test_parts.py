"""Pure ingest parts: user agents, fingerprints, rate limits."""

from __future__ import annotations

from wasmwatch.ingest import useragent
from wasmwatch.ingest.fingerprint import fingerprint, normalize_message, top_wasm_frame
from wasmwatch.ingest.ratelimit import RateLimiter
from wasmwatch.ingest.useragent import parse_agent

IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1")
IPAD = ("Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.0 Mobile/15E148 Safari/604.1")


def test_user_agent_families_and_devices() -> None:
    """Browser family and major, OS family and device type come from the UA."""
    phone = parse_agent(IPHONE)
    assert (phone.browser, phone.browser_major, phone.os, phone.device) == ("Mobile Safari", 17, "iOS", "mobile")
    assert parse_agent(IPAD).device == "tablet"
    assert parse_agent(None).browser == "unknown"


def test_wasm_frames_from_chromium_and_firefox() -> None:
    """The top wasm frame is found in Chromium and Firefox stacks."""
    chrome = "RuntimeError: unreachable\n    at app.js:1\n    at $trap (wasm://wasm/9f:wasm-function[7]:0x1a2)"
    firefox = "trap@http://h/app.wasm:wasm-function[7]:0x1a2\n@http://h/app.js:3:1"
    assert top_wasm_frame(chrome) == "$trap wasm-function[7]:0x1a2"
    assert top_wasm_frame(firefox) == "trap wasm-function[7]:0x1a2"
    assert top_wasm_frame("Error: x\n    at f (app.js:1:1)") is None


def test_top_wasm_frame_of_a_webkit_stack() -> None:
    """WebKit prints no byte offset, and the function index where a module has no names."""
    webkit = "fail_deeper@<?>:wasm-function[5]\ncrash@<?>:wasm-function[4]\n@\nPromise@[native code]"
    assert top_wasm_frame(webkit) == "fail_deeper wasm-function[5]"
    assert top_wasm_frame("0@<?>:wasm-function[0]\nmain@http://h/app.js:1:2") == "wasm-function[0]"
    a = fingerprint("divide_by_zero", "Division by zero", "divide wasm-function[3]")
    assert a != fingerprint("divide_by_zero", "Division by zero", "divide wasm-function[4]")


def test_fingerprint_groups_variants() -> None:
    """Numbers, hex and quoted strings don't split groups; kind and function do."""
    assert normalize_message("index 12 at 0xff 'abc'") == "index <n> at <hex> <str>"
    a = fingerprint("RuntimeError", "oob at 12", "f wasm-function[3]:0x10")
    assert a == fingerprint("RuntimeError", "oob at 99", "f wasm-function[3]:0x22")
    assert a != fingerprint("RuntimeError", "oob at 12", "g wasm-function[4]:0x10")
    assert a != fingerprint("TypeError", "oob at 12", "f wasm-function[3]:0x10")


def test_rate_limit_refills_with_time() -> None:
    """A bucket spends its burst, says how long to wait, and refills with time."""
    limiter = RateLimiter(rate=10, burst_factor=2)
    assert limiter.take("p", 20, now_s=0) == 0
    wait = limiter.take("p", 5, now_s=0)
    assert wait == 0.5
    assert limiter.take("p", 5, now_s=0.5) == 0


def test_released_agent_matchers_compile_again_with_the_same_answers() -> None:
    """``release`` drops the compiled matchers; the next new agent compiles them again and is
    parsed as before; an agent parsed before stays cached without them."""
    firefox = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:126.0) Gecko/20100101 Firefox/126.0"
    edge = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/125.0.0.0 Safari/537.36 Edg/125.0.2535.67")
    before = useragent.parse_agent(firefox)
    useragent.release()
    assert useragent.release() is False  # nothing left to let go
    assert useragent.parse_agent(firefox) == before == ("Firefox", 126, "Windows", "desktop")
    assert useragent._parser.cache_info().currsize == 0  # a cached agent needs no matchers
    assert useragent.parse_agent(edge) == ("Edge", 125, "Windows", "desktop")
    assert useragent.release() is True
