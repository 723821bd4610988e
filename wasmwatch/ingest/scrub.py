"""PII scrubbing: personal data and secrets out of every client string, before it is stored.

:class:`Scrubber` replaces what it finds with a marker naming the kind, and counts each
replacement by kind (exported as ``wasmwatch_scrubbed_values_total{kind}``):

============  =======================================================  ====================
kind          what                                                     becomes
============  =======================================================  ====================
``pem``       ``-----BEGIN ...----- ... -----END ...-----`` blocks     ``[pem]``
              (an unterminated block is cut to the end of the text)
``password``  URL userinfo ``scheme://user:pass@``, ``password=...``,  ``scheme://[redacted]@``,
              ``secret: ...``, ``pwd=...``                             ``password=[redacted]``
``email``     e-mail addresses                                         ``[email]``
``token``     ``Bearer x`` / ``Basic x``, JWTs (``eyJ...``),           ``Bearer [redacted]``,
              ``token=``, ``api_key=``, ``access_token:``,             ``[token]``,
              ``authorization=``, ``sig=`` ... values (6+ chars)       ``api_key=[redacted]``
``secret``    secret-looking runs: 40+ hex chars (with a digit and a   ``[secret]``
              letter; a 32-hex UUID is kept), 40+ base64 chars (upper,
              lower and digit), and
              URL path segments after ``/reset/``, ``/token/``,
              ``/invite/``, ``/verify/`` ... or of 16+ random-looking
              characters (``/reset/9f8a...``, ``/s/AbC9...``)
``card``      card numbers, 13-19 digits with optional spaces or       ``[card]``
              dashes, first digit 2-6, Luhn-checked (the whole run
              or a run of its groups: ``4111 1111 1111 1111 0``)
``ip``        IPv4 and IPv6 addresses (IPv6 checked with ``ipaddress``)  ``[ip]``
              except loopback and unspecified (``127.x``, ``::1``, ``0.0.0.0``)
``custom``    each extra pattern from the ``scrub_patterns`` setting   ``[redacted]``
============  =======================================================  ====================

Speed, since ingest targets a few microseconds of server CPU per item: each group of rules
runs only when a cheap test passes (``"@" in text`` for e-mail and URL credentials,
``"-----BEGIN"`` for PEM, a digit for cards, IPv4 and long secrets, a key word and a separator
for ``token=`` and the like), and the IPv6, card, IPv4 and long-secret rules only when a test
that passes on every text they could match in does (``bytes.translate`` marks and a substring
search: a wasm stack's ``app::module::f`` and hex offsets no longer run them); one regex per
rule (an alternation of them all measured several times slower in Python's engine); and
results are kept in a bounded cache (16,384 entries and 4 M characters at most, cleared when
full), since names, kinds, units, releases and the messages and stacks of a recurring error
repeat. Context fields are scrubbed once per batch. Figures are in
``bench/RESULTS.md`` (``bench/scrub_bench.py``).

Strings are clipped to their field limits before they are scrubbed, so a secret cut at a
limit may be left partly (a card number cut to 12 digits no longer looks like one).

The API: :meth:`Scrubber.scrub` for one string, :meth:`Scrubber.scrub_column` for a list of
them (a columnar batch), :meth:`Scrubber.scrub_id` for item ids (an id that holds a secret
becomes a keyed hash of itself, so ingest stays idempotent), and :meth:`Scrubber.row` as a
pipeline processor over every client string of a storage row.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple

import msgspec
from prometheus_client.metrics_core import CounterMetricFamily, Metric

from wasmwatch.errors import ConfigError
from wasmwatch.ingest.fingerprint import fingerprint
from wasmwatch.store.schema import Row

__all__ = ["KINDS", "ScrubbedCollector", "Scrubber", "compile_patterns"]

KINDS = ("pem", "password", "email", "token", "secret", "card", "ip", "custom")
CACHE_MAX_ENTRIES = 16_384
#: strings up to this long are cached (a whole stack, at its limit); the cache is cleared when
#: it holds more entries or characters than allowed
CACHE_MAX_LENGTH = 16_384
CACHE_MAX_CHARS = 4_000_000

_TOKEN_NAMES = (
    r"(?:[a-z0-9]+[_-])*(?:token|api[_-]?key|apikey|key|auth|authorization|session[_-]?id|sid"
    r"|sig|signature|credentials?)"
)
_PATH_WORDS = r"reset|token|invite|verify|confirm|activate|magic|auth|password|unsubscribe|login"
_SECRET_PATH = r"[A-Za-z0-9_-]{16,}"


def _luhn(text: str) -> bool:
    digits = [int(c) for c in text if c.isdigit()]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _card(text: str) -> bool:
    """A card number: the whole run, or a run of its space- or dash-separated groups (a card
    followed by another number, ``4111 1111 1111 1111 0``), Luhn-checked."""
    if _luhn(text):
        return True
    groups = re.split(r"[ -]", text)
    return any(_luhn("".join(groups[i:j])) for i in range(len(groups))
               for j in range(i + 1, len(groups) + 1) if (i, j) != (0, len(groups)))


def _ipv4(text: str) -> bool:
    """An IPv4 address other than loopback and 0.0.0.0 (which identify no one)."""
    parts = text.split(".")
    return all(int(part) <= 255 for part in parts) and parts[0] not in ("127", "0")


def _ipv6(text: str) -> bool:
    """An IPv6 address other than loopback ``::1`` and ``::``."""
    try:
        address = ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return not (address.is_loopback or address.is_unspecified)


def _mixed(text: str) -> bool:
    """Random-looking: upper, lower and digit (base64), or hex with a digit and a letter."""
    has_digit = any(c.isdigit() for c in text)
    if not has_digit:
        return False
    if all(c in "0123456789abcdefABCDEF" for c in text):
        return any(c.isalpha() for c in text)
    return any(c.isupper() for c in text) and any(c.islower() for c in text)


def _tokenish(text: str) -> bool:
    """A token rather than a word: a digit, both cases, or one of ``._~+/=-``."""
    return (any(c.isdigit() for c in text) or (not text.islower() and not text.isupper())
            or any(c in "._~+/=-" for c in text))


def _long_secret(text: str) -> bool:
    """40+ hex or base64 characters, random-looking (a 32-hex UUID is left alone)."""
    return len(text.rstrip("=")) >= 40 and _mixed(text)


Check = Callable[[str], bool]
Gate = Callable[[str], object]


class _Rule(NamedTuple):
    kind: str
    #: may hold a group ``keep``, kept in front of the marker
    pattern: str
    marker: str
    check: Check | None = None
    #: a cheap test that passes on every text the pattern could match in (false: skip it)
    hint: Gate | None = None


def _table(mark: Callable[[str], bytes]) -> bytes:
    """A ``bytes.translate`` table: each byte marked by what it is as an ASCII character (a
    byte of a multi-byte UTF-8 character is marked as ``mark`` says for a space)."""
    return b"".join(mark(chr(i) if i < 128 else " ") for i in range(256))


def _v6_mark(c: str) -> bytes:
    if c == ":":
        return b":"
    if c in "0123456789abcdefABCDEF":
        return b"h"
    return b"w" if c.isalnum() or c in "_." else b" "


_V6_MARKS = _table(_v6_mark)
_DIGIT_MARKS = _table(lambda c: b"d" if c.isdigit() else b"x")
_RUN_MARKS = _table(lambda c: b"a" if c.isalnum() or c in "+_-" else b" ")
#: on the IPv6 marks (``h`` a hex digit, ``w`` another word character or ``.``, `` `` the rest)
_SEVEN_GROUPS = re.compile(rb":(?:h{1,4}:){6}").search
_DOUBLE_COLON_RUN = re.compile(rb" [h:]*::").search
_DOUBLE_COLON_START = re.compile(rb"[h:]*::").match
_IPV4_HINT = re.compile(r"\.\d{1,3}\.\d{1,3}\.\d").search


def _marks(text: str, table: bytes, delete: bytes = b"") -> bytes:
    return text.encode("utf-8", "surrogatepass").translate(table, delete)


def _ipv6_hint(text: str) -> bool:
    """Seven ``h:`` groups in a row, or a run of hex digits and colons holding ``::`` that
    starts the text or follows something other than a word character, ``:`` or ``.`` (what
    the IPv6 rule's look-behind and look-ahead ask); a stack's ``app::module::f`` is not."""
    if ":" not in text:
        return False
    marks = _marks(text, _V6_MARKS)
    return bool(_SEVEN_GROUPS(marks) or _DOUBLE_COLON_RUN(marks) or _DOUBLE_COLON_START(marks))


def _card_hint(text: str) -> bool:
    """13 digits in a row once spaces and dashes are taken out (``\\d`` is any Unicode digit:
    a text that is not ASCII always passes)."""
    return not text.isascii() or b"d" * 13 in _marks(text, _DIGIT_MARKS, b" -")


def _run_hint(text: str) -> bool:
    """A run of 40 ``[A-Za-z0-9+_-]`` characters."""
    return b"a" * 40 in _marks(text, _RUN_MARKS)


_KEYWORDS = ("token", "key", "auth", "sid", "sig", "sess", "cred", "pass", "pwd", "secret", "bearer",
             "basic")
_has_digit = re.compile(r"\d").search


def _keyword_gate(text: str) -> bool:
    if "=" not in text and ":" not in text and " " not in text:
        return False
    low = text.lower()  # a substring search each: an alternation regex took 18 µs on a stack
    return any(word in low for word in _KEYWORDS)


# Groups of rules, each run only when its cheap gate passes, in this order.
_GROUPS: tuple[tuple[Gate, tuple[_Rule, ...]], ...] = (
    (lambda t: "-----BEGIN" in t, (
        _Rule("pem", r"-----BEGIN[A-Z0-9 ]*-----(?s:.*?)(?:-----END[A-Z0-9 ]*-----|\Z)", "[pem]"),)),
    (lambda t: "@" in t, (
        _Rule("password", r"(?P<keep>\b[A-Za-z][A-Za-z0-9+.-]{0,15}://)[^\s/?#@:]*:[^\s/?#@]*@",
              "[redacted]@"),
        _Rule("email", r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
              r"\.[A-Za-z]{2,}\b", "[email]"))),
    (lambda t: "eyJ" in t, (
        _Rule("token", r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*", "[token]"),)),
    (_keyword_gate, (
        _Rule("token", r"(?P<keep>(?i:\b(?:bearer|basic))\s+)[A-Za-z0-9._~+/=-]{8,}", "[redacted]",
              _tokenish),
        _Rule("password", r"(?P<keep>(?i:password|passwd|pwd|pass|secret|passphrase)"
              r"[\"']?\s*[=:]\s*[\"']?)[^\s&\"',;]+", "[redacted]"),
        _Rule("token", r"(?P<keep>(?i:token|api[_-]?key|apikey|key|auth|authorization|session[_-]?id"
              r"|sid|sig|signature|credentials?)[\"']?\s*[=:]\s*[\"']?)(?:(?i:bearer)\s+)?"
              r"[^\s&\"',;]{6,}", "[redacted]", _tokenish))),
    (lambda t: "/" in t, (
        _Rule("secret", rf"(?P<keep>(?i:/(?:{_PATH_WORDS})[\w-]*/))[^/\s?#\"']{{6,}}", "[secret]"),
        _Rule("secret", rf"(?P<keep>/){_SECRET_PATH}(?![A-Za-z0-9_-])", "[secret]", _mixed))),
    (lambda t: "::" in t or t.count(":") >= 7, (
        _Rule("ip", r"(?<![\w:.])(?=[0-9A-Fa-f:]*::|(?:[0-9A-Fa-f]{1,4}:){7})"
              r"(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])", "[ip]", _ipv6, _ipv6_hint),)),
    (_has_digit, (
        # each starts with a plain character class (the look-behind comes after it), which
        # lets the regex engine skip ahead fast; measured 2-3x faster on stacks
        # a card stands alone: not inside a hex string or a longer word
        _Rule("card", r"[2-6](?<![\w.\-][2-6])(?:[ -]?\d){12,18}(?!\w)", "[card]", _card,
              _card_hint),
        _Rule("ip", r"\d(?<![\w.]\d)\d{0,2}(?:\.\d{1,3}){3}(?!\w|\.\d)", "[ip]", _ipv4,
              _IPV4_HINT),
        _Rule("secret", r"[A-Za-z0-9+_-]{40,}+={0,2}", "[secret]", _long_secret, _run_hint))),
)


class _Group:
    """Rules run one after another over a text when ``gate`` passes; one regex per rule (an
    alternation of them all is several times slower in Python's engine)."""

    def __init__(self, gate: Gate, rules: Sequence[_Rule]) -> None:
        self.gate = gate
        self.rules = tuple((rule, re.compile(rule.pattern)) for rule in rules)

    def sub(self, text: str, kinds: list[str]) -> str:
        for rule, regex in self.rules:
            if rule.hint is None or rule.hint(text):
                text = regex.sub(_replacer(rule, "keep" in regex.groupindex, kinds), text)
        return text


def _replacer(rule: _Rule, has_keep: bool, kinds: list[str]) -> Callable[[re.Match[str]], str]:
    def replace(match: re.Match[str]) -> str:
        found = match.group(0)
        keep = (match.group("keep") or "") if has_keep else ""
        if rule.check is not None and not rule.check(found[len(keep):]):
            return found
        kinds.append(rule.kind)
        return keep + rule.marker

    return replace


def compile_patterns(patterns: Iterable[str]) -> list[re.Pattern[str]]:
    """The extra patterns of the ``scrub_patterns`` setting; a bad one is a ConfigError."""
    out = []
    for pattern in patterns:
        try:
            out.append(re.compile(pattern))
        except re.error as exc:
            raise ConfigError(f"scrub_patterns: {pattern!r} is not a valid regex: {exc}") from exc
        if out[-1].search(""):
            raise ConfigError(f"scrub_patterns: {pattern!r} matches the empty string")
    return out


class Scrubber:
    """Replaces PII and secrets in client strings; counts replacements by kind in ``counts``."""

    def __init__(self, extra_patterns: Sequence[str] = (), *, id_key: bytes | None = None) -> None:
        extra = compile_patterns(extra_patterns)
        self._groups = [_Group(gate, rules) for gate, rules in _GROUPS]
        if extra:
            self._groups.append(_Group(lambda t: True, [_Rule("custom", p.pattern, "[redacted]")
                                                        for p in extra]))
        self._cache: dict[str, tuple[str, tuple[str, ...]]] = {}
        self._cached_chars = 0
        #: replacements made so far, by kind (every kind present from the start)
        self.counts: dict[str, int] = dict.fromkeys(KINDS, 0)
        #: key of the hash that replaces an id holding a secret (set from the store's secret)
        self.id_key = id_key or os.urandom(16)

    # -- strings ---------------------------------------------------------------------------

    def scrub(self, text: str) -> str:
        """``text`` with every PII match replaced by its marker."""
        hit = self._cache.get(text) or self._lookup(text)
        if hit[1]:
            self._count(hit[1])
        return hit[0]

    def _lookup(self, text: str) -> tuple[str, tuple[str, ...]]:
        hit = self._cache.get(text)
        if hit is None:
            hit = self._scan(text)
            size = len(text)
            if size <= CACHE_MAX_LENGTH:
                if len(self._cache) >= CACHE_MAX_ENTRIES or self._cached_chars > CACHE_MAX_CHARS:
                    self._cache.clear()
                    self._cached_chars = 0
                self._cache[text] = hit
                self._cached_chars += size
        return hit

    def _count(self, kinds: tuple[str, ...]) -> None:
        counts = self.counts
        for kind in kinds:
            counts[kind] += 1

    def redact(self, text: str) -> str:
        """``text`` scrubbed without counting it (for log lines, which are not stored data)."""
        return self._lookup(text)[0]

    def scrub_optional(self, text: str | None) -> str | None:
        return None if text is None else self.scrub(text)

    def scrub_column(self, values: Sequence[str | None]) -> list[str | None]:
        """The columnar call: each value scrubbed (None stays None), in order; each distinct
        value is scrubbed once and its replacements counted once per occurrence. Returns
        ``values`` itself (as a list) when nothing changed."""
        changed: dict[str, str] = {}
        for value, times in Counter(values).items():
            if value is None:
                continue
            clean, kinds = self._lookup(value)
            for _ in range(times if kinds else 0):
                self._count(kinds)
            if clean != value:
                changed[value] = clean
        if not changed:
            return values if isinstance(values, list) else list(values)
        return [None if v is None else changed.get(v, v) for v in values]

    def scrub_id(self, item_id: str) -> str:
        """An id as is, or, when it holds PII, ``h-`` and a keyed hash of it (still unique)."""
        # ids are [A-Za-z0-9_.:-]{1,64}: PII fits only as an address (dots or colons), a card
        # (13+ digits) or a long token; the SDK's ids (12 characters, one dot) skip all checks
        if len(item_id) < 13 and item_id.count(".") < 2 and item_id.count(":") < 2:
            return item_id
        if _RANDOM_ID.fullmatch(item_id):  # a UUID or random hex: what ids are made of
            return item_id
        if not (len(item_id) >= 40 or item_id.count(".") >= 2 or item_id.count(":") >= 2
                or _LONG_DIGITS.search(item_id)):
            return item_id
        if self.scrub(item_id) == item_id:
            return item_id
        return "h-" + hashlib.blake2b(item_id.encode(), key=self.id_key, digest_size=16).hexdigest()

    def _scan(self, text: str) -> tuple[str, tuple[str, ...]]:
        kinds: list[str] = []
        for group in self._groups:
            if group.gate(text):
                text = group.sub(text, kinds)
        return text, tuple(kinds)

    # -- rows ------------------------------------------------------------------------------

    def row(self, row: Row) -> Row | None:
        """Pipeline processor: every client string of an item's row scrubbed (context is
        scrubbed once per batch by the pipeline); an error's fingerprint is recomputed."""
        changes: dict[str, str | None] = {}
        scrub = self.scrub
        for field in _ROW_FIELDS[row.type]:
            value = getattr(row, field)
            if value is not None:
                clean = scrub(value)
                if clean is not value and clean != value:
                    changes[field] = clean
        if row.tags is not None:
            tags = self._tags(row.tags)
            if tags is not None:
                changes["tags"] = tags
        new_id = self.scrub_id(row.id)
        if new_id != row.id:
            changes["id"] = new_id
        if not changes:
            return row
        if row.type == "error" and changes.keys() & {"kind", "message", "frame"}:
            changes["fingerprint"] = fingerprint(
                changes.get("kind", row.kind) or "Error", changes.get("message", row.message) or "",
                changes.get("frame", row.frame))
        return msgspec.structs.replace(row, **changes)

    def _tags(self, tags: str) -> str | None:
        """Tags JSON scrubbed as text (so ``"api_key": "..."`` is caught as a pair), or key by
        key and value by value when that text no longer decodes; None when nothing changed."""
        text, kinds = self._lookup(tags)
        if not kinds:
            return None
        try:
            if isinstance(msgspec.json.decode(text), dict):
                self._count(kinds)
                return text
        except msgspec.DecodeError:
            pass
        decoded = msgspec.json.decode(tags)
        clean = {self.scrub(k): self.scrub(v) if isinstance(v, str) else v for k, v in decoded.items()}
        return _encoder.encode(clean).decode()


_LONG_DIGITS = re.compile(r"(?:\d-?){13}")
_RANDOM_ID = re.compile(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}")
_encoder = msgspec.json.Encoder()
_ROW_FIELDS: dict[str, tuple[str, ...]] = {
    "bundle_load": ("name",),
    "runtime_init": (),
    "operation": ("name",),
    "error": ("kind", "message", "stack", "frame", "name"),
    "memory": (),
    "engagement": ("name",),
    "feature": ("name",),
    "offline_sync": (),
    "measurement": ("name", "unit"),
    "server_request": ("name", "service", "session"),
    "server_span": ("name", "service", "statement"),
    "server_process": ("service",),
}


class ScrubbedCollector:
    """``wasmwatch_scrubbed_values_total{kind}`` from a scrubber's counts (a prometheus_client
    collector: one ``collect()``)."""

    def __init__(self, scrubber: Scrubber) -> None:
        self.scrubber = scrubber

    def collect(self) -> list[Metric]:
        family = CounterMetricFamily("wasmwatch_scrubbed_values", "Client values redacted before "
                                     "storage, by kind of personal data or secret", labels=["kind"])
        for kind, count in dict(self.scrubber.counts).items():
            family.add_metric([kind], count)
        return [family]
