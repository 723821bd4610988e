"""User-agent enrichment: browser family and major, OS family, device type; never the raw UA.

Browser and OS come from ua-parser's regexes (the Rust ``regex`` resolver), compiled on first
use; its device regexes are never compiled (the device type is read from hints below): that
keeps ~14 MB of compiled automata out of the process (``bench/RESULTS.md``, memory3). The
browser and OS matchers hold ~9.5 MB more; an idle server lets them go (:func:`release`) and
compiles them again (70-80 ms) when an agent it has not parsed yet comes (memory7).
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import ua_parser

_TABLET_HINTS = ("ipad", "tablet", "kindle", "silk/", "playbook")
_BOT_HINTS = ("bot", "crawler", "spider", "headless")


class Agent(NamedTuple):
    browser: str
    browser_major: int | None
    os: str
    device: str


UNKNOWN = Agent("unknown", None, "unknown", "unknown")


def _device_type(ua: str, os_family: str) -> str:
    low = ua.lower()
    if any(hint in low for hint in _TABLET_HINTS) or (
        os_family == "Android" and "mobile" not in low
    ):
        return "tablet"
    if "mobi" in low or os_family in ("iOS", "Android"):
        return "mobile"
    if any(hint in low for hint in _BOT_HINTS) and "headlesschrome" not in low:
        return "bot"
    return "desktop"


@lru_cache(maxsize=1)
def _parser() -> ua_parser.Parser:
    """Browser and OS matchers only (~0.2 s to compile, on the first call)."""
    agents, systems, _devices = ua_parser.load_lazy_builtins()
    try:
        from ua_parser.regex import Resolver
    except ImportError:  # pragma: no cover - ua-parser[regex] is a dependency
        return ua_parser.Parser(ua_parser.BasicResolver((agents, systems, [])))
    return ua_parser.Parser(Resolver((agents, systems, [])))


def release() -> bool:
    """Let the compiled matchers go (the server is idle); the agents parsed so far stay
    cached. True when they were there to let go."""
    compiled = _parser.cache_info().currsize > 0
    _parser.cache_clear()
    return compiled


def warm_up() -> None:
    """Compile the regexes now (at start), not in the first request that needs them."""
    parse_agent("Mozilla/5.0 (X11; Linux x86_64) Chrome/124.0 Safari/537.36")


@lru_cache(maxsize=4096)
def parse_agent(ua: str | None) -> Agent:
    """Parse a user agent once per distinct string (real traffic repeats a few hundred)."""
    if not ua:
        return UNKNOWN
    result = _parser()(ua[:512], ua_parser.Domain.USER_AGENT | ua_parser.Domain.OS)
    browser = result.user_agent.family if result.user_agent else "Other"
    major_text = result.user_agent.major if result.user_agent else None
    major = int(major_text) if major_text and major_text.isdigit() else None
    os_family = result.os.family if result.os else "Other"
    return Agent(browser, major, os_family, _device_type(ua, os_family))
