"""User-agent enrichment: browser family and major, OS family, device type; never the raw UA."""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

from ua_parser import parse

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


@lru_cache(maxsize=4096)
def parse_agent(ua: str | None) -> Agent:
    """Parse a user agent once per distinct string (real traffic repeats a few hundred)."""
    if not ua:
        return UNKNOWN
    result = parse(ua[:512])
    browser = result.user_agent.family if result.user_agent else "Other"
    major_text = result.user_agent.major if result.user_agent else None
    major = int(major_text) if major_text and major_text.isdigit() else None
    os_family = result.os.family if result.os else "Other"
    return Agent(browser, major, os_family, _device_type(ua, os_family))
