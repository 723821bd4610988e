"""Silences: label matchers with an end time; a silenced alert is recorded but not announced."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from wasmwatch.alerts.rules import parse_duration_ms

__all__ = ["Matcher", "Silence", "SilenceError", "Silences", "parse_silence"]


class SilenceError(ValueError):
    """A silence request that cannot be used; the message names the field."""


@dataclass(frozen=True)
class Matcher:
    name: str
    value: str
    regex: bool = False

    def matches(self, labels: Mapping[str, str]) -> bool:
        got = labels.get(self.name, "")
        return re.fullmatch(self.value, got) is not None if self.regex else got == self.value

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "regex": self.regex}


@dataclass(frozen=True)
class Silence:
    id: str
    matchers: tuple[Matcher, ...]
    starts_at: int
    ends_at: int
    comment: str = ""
    created_by: str = ""
    project: str = "default"

    def active(self, now_ms: int) -> bool:
        return self.starts_at <= now_ms < self.ends_at

    def matches(self, labels: Mapping[str, str], now_ms: int) -> bool:
        return self.active(now_ms) and all(m.matches(labels) for m in self.matchers)

    def as_dict(self, now_ms: int) -> dict[str, Any]:
        return {"id": self.id, "project": self.project,
                "matchers": [m.as_dict() for m in self.matchers], "starts_at": self.starts_at,
                "ends_at": self.ends_at, "comment": self.comment, "created_by": self.created_by,
                "state": "active" if self.active(now_ms) else
                ("pending" if now_ms < self.starts_at else "expired")}


def _matchers(raw: object) -> tuple[Matcher, ...]:
    if isinstance(raw, dict):
        raw = [{"name": k, "value": v} for k, v in raw.items()]
    if not isinstance(raw, list) or not raw:
        raise SilenceError("matchers: expected a non-empty table of label: value, "
                           "or a list of {name, value, regex}")
    out = []
    for m in raw:
        if not isinstance(m, dict) or not isinstance(m.get("name"), str) \
                or not isinstance(m.get("value"), str) or not m["name"]:
            raise SilenceError(f"matchers: expected {{name, value}} strings, got {m!r}")
        regex = bool(m.get("regex", False))
        if regex:
            try:
                re.compile(m["value"])
            except re.error as exc:
                raise SilenceError(f"matchers: {m['name']}: bad regex: {exc}") from exc
        out.append(Matcher(m["name"], m["value"], regex))
    return tuple(out)


def _time(body: Mapping[str, Any], now_ms: int) -> tuple[int, int]:
    starts = body.get("starts_at", now_ms)
    if isinstance(starts, bool) or not isinstance(starts, int):
        raise SilenceError("starts_at: expected milliseconds since the epoch")
    if "ends_at" in body:
        ends = body["ends_at"]
        if isinstance(ends, bool) or not isinstance(ends, int):
            raise SilenceError("ends_at: expected milliseconds since the epoch")
    elif "duration" in body:
        try:
            ends = starts + parse_duration_ms(body["duration"])
        except ValueError as exc:
            raise SilenceError(f"duration: {exc}") from exc
    else:
        raise SilenceError("ends_at or duration: one is required (a silence must end)")
    if ends <= starts or ends <= now_ms:
        raise SilenceError("ends_at: must be after starts_at and in the future")
    return starts, ends


def parse_silence(body: object, now_ms: int, project: str) -> Silence:
    """A silence from an API body: ``matchers``, ``ends_at`` or ``duration``, ``comment``."""
    if not isinstance(body, dict):
        raise SilenceError("body: expected a JSON object")
    starts, ends = _time(body, now_ms)
    comment, by = body.get("comment", ""), body.get("created_by", "")
    if not isinstance(comment, str) or not isinstance(by, str):
        raise SilenceError("comment, created_by: expected strings")
    return Silence(secrets.token_hex(8), _matchers(body.get("matchers")), starts, ends,
                   comment[:1000], by[:200], project)


class Silences:
    """The silences in force, by id."""

    def __init__(self) -> None:
        self.by_id: dict[str, Silence] = {}

    def add(self, silence: Silence) -> None:
        self.by_id[silence.id] = silence

    def expire(self, silence_id: str, now_ms: int) -> Silence | None:
        old = self.by_id.get(silence_id)
        if old is None:
            return None
        new = Silence(old.id, old.matchers, min(old.starts_at, now_ms), now_ms, old.comment,
                      old.created_by, old.project)
        self.by_id[silence_id] = new
        return new

    def silenced(self, labels: Mapping[str, str], now_ms: int) -> bool:
        return any(s.matches(labels, now_ms) for s in self.by_id.values())
