"""The PII scrubber: each kind found and replaced, clean text untouched, rows and ids covered."""

from __future__ import annotations

import msgspec
import pytest

from wasmwatch.config import load
from wasmwatch.errors import ConfigError
from wasmwatch.ingest import scrub
from wasmwatch.ingest.fingerprint import fingerprint
from wasmwatch.ingest.scrub import Scrubber
from wasmwatch.store.schema import Row

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
PEM = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----"

#: (text, secret that must be gone, kind counted)
CASES = [
    ("mail alice.smith+x@example.co.uk now", "alice.smith", "email"),
    ("Authorization: Bearer abc123DEF456ghi789", "abc123DEF456ghi789", "token"),
    ("bearer zZ9yY8xX7wW6vV5u", "zZ9yY8xX7wW6vV5u", "token"),
    ("GET /x?token=sk_live_1234567890 failed", "sk_live_1234567890", "token"),
    ("api_key=AKIA1234567890ABCD", "AKIA1234567890ABCD", "token"),
    ('{"access_token": "ya29.a0AfH6SMBx"}', "ya29.a0AfH6SMBx", "token"),
    (f"jwt {JWT} end", JWT[:20], "token"),
    ("https://bob:hunter2@example.com/path", "hunter2", "password"),
    ("password=hunter2&user=x", "hunter2", "password"),
    ("secret: s3cr3t", "s3cr3t", "password"),
    ("https://example.com/reset/9f8a7b6c5d4e3f2a1b0c", "9f8a7b6c5d4e3f2a1b0c", "secret"),
    ("https://example.com/invite/joe-smith-please", "joe-smith-please", "secret"),
    ("https://example.com/s/AbC9dEf8GhI7jKl6MnO5", "AbC9dEf8GhI7jKl6MnO5", "secret"),
    ("key " + "9f8a7b6c5d4e3f2a1b0c" * 2, "9f8a7b6c5d4e3f2a1b0c", "secret"),
    ("x AbCdEf0123456789AbCdEf0123456789AbCdEf0123== y", "AbCdEf0123456789", "secret"),
    ("card 4111 1111 1111 1111 paid", "4111 1111", "card"),
    ("card 4111-1111-1111-1111 paid", "4111-1111", "card"),
    ("card 5500000000000004 paid", "5500000000000004", "card"),
    ("0 4111 1111 1111 1111 0", "4111 1111", "card"),  # a card run with a number after it
    ("from 192.168.10.20 today", "192.168.10.20", "ip"),
    ("from 2001:db8::8a2e:370:7334 today", "2001:db8", "ip"),
    ("short fe80::1 here", "fe80::1", "ip"),
    (f"key {PEM} done", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC", "pem"),
    ("cut -----BEGIN RSA PRIVATE KEY-----\nMIIEvQIBADANBgk", "MIIEvQIBADANBgk", "pem"),
]

CLEAN = [
    "render", "parse_file", "fps", "1.2.3", "/app/home", "4g", "desktop", "0.1.0", "ms",
    "Unexpected token '<'", "Missing key: username", "basic information here",
    "core::panicking::panic", "timestamp 1764000000000 ok", "12:34:56", "999.1.1.1",
    "card-like 4111111111111112 fails Luhn",
    "at render (https://cdn.example.com/app.js:12:34)\n at wasm://wasm/6d7c9f1e:wasm-function[3]:0x5c",
    "render@http://localhost:8080/app.js:1:2", "https://example.com/blog/my-post-title-2024",
    "http://127.0.0.1:8787/demo.wasm", "id 9b136309a428490d9b181055b3897d32 (a UUID)",
    "90eb858755e5469299783037da6afb37", "http://[::1]:8787/demo.wasm", "listen 0.0.0.0:80",
]


@pytest.mark.parametrize(("text", "secret", "kind"), CASES)
def test_each_kind_is_replaced_and_counted(text: str, secret: str, kind: str) -> None:
    """Each kind of PII is replaced by a marker and counted under its kind."""
    scrubber = Scrubber()
    out = scrubber.scrub(text)
    assert secret not in out
    assert "[" in out
    assert scrubber.counts[kind] >= 1


@pytest.mark.parametrize("text", CLEAN)
def test_clean_text_is_untouched(text: str) -> None:
    """Names, versions, stacks and ordinary words pass through as they are, counting nothing."""
    scrubber = Scrubber()
    assert scrubber.scrub(text) == text
    assert sum(scrubber.counts.values()) == 0


def test_cached_value_counts_each_time() -> None:
    """A repeated dirty value comes from the cache and is still counted every time."""
    scrubber = Scrubber()
    for _ in range(3):
        assert scrubber.scrub("to bob@example.com") == "to [email]"
    assert scrubber.counts["email"] == 3


def test_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """The cache never holds more than its bounds, and over-long strings are not cached."""
    monkeypatch.setattr(scrub, "CACHE_MAX_ENTRIES", 10)
    monkeypatch.setattr(scrub, "CACHE_MAX_CHARS", 3000)
    scrubber = Scrubber()
    for i in range(100):
        scrubber.scrub(f"name-{i}")
    assert len(scrubber._cache) <= 10
    for i in range(10):
        scrubber.scrub(str(i) * 1000)
    assert sum(map(len, scrubber._cache)) <= 3000 + 1000
    scrubber.scrub("x" * 20_000)
    assert "x" * 20_000 not in scrubber._cache


def test_column_call_matches_per_string_call() -> None:
    """scrub_column scrubs each value in order and keeps None."""
    scrubber = Scrubber()
    values = ["ok", None, "mail a@b.io", "10.0.0.1"]
    assert scrubber.scrub_column(values) == ["ok", None, "mail [email]", "[ip]"]


def test_extra_patterns_are_scrubbed_as_custom() -> None:
    """Patterns from the scrub_patterns setting are replaced and counted as custom."""
    scrubber = Scrubber([r"CUST-\d{6}"])
    assert scrubber.scrub("order CUST-123456 failed") == "order [redacted] failed"
    assert scrubber.counts["custom"] == 1


def test_bad_extra_pattern_is_a_config_error() -> None:
    """A bad regex in scrub_patterns stops the start with one line naming it."""
    with pytest.raises(ConfigError, match=r"scrub_patterns: '\(oops' is not a valid regex"):
        load(environ={"WASMWATCH_SCRUB_PATTERNS": "(oops"})
    with pytest.raises(ConfigError, match="matches the empty string"):
        load(environ={"WASMWATCH_SCRUB_PATTERNS": "x*"})


def test_extra_patterns_from_environment_as_json() -> None:
    """WASMWATCH_SCRUB_PATTERNS takes a JSON array, so regexes may hold commas."""
    settings = load(environ={"WASMWATCH_SCRUB_PATTERNS": r'["A\\d{2,4}", "B"]'})
    assert settings.scrub_patterns == [r"A\d{2,4}", "B"]


def test_id_with_a_secret_becomes_a_stable_keyed_hash() -> None:
    """An id holding PII is replaced by a keyed hash: the same for the same id, else unique."""
    scrubber = Scrubber(id_key=b"k" * 16)
    assert scrubber.scrub_id("a1b2c3.7") == "a1b2c3.7"
    hashed = scrubber.scrub_id("4111111111111111")
    assert hashed.startswith("h-") and "4111" not in hashed
    assert scrubber.scrub_id("4111111111111111") == hashed
    assert scrubber.scrub_id("10.1.2.3") not in (hashed, "10.1.2.3")
    assert Scrubber(id_key=b"j" * 16).scrub_id("4111111111111111") != hashed


def _row(**fields: object) -> Row:
    base: dict[str, object] = dict(id="i1", project="p", type="error", ts=1, client_ts=1, received=1)
    return Row(**{**base, **fields})  # type: ignore[arg-type]


def test_row_processor_scrubs_every_item_string_and_refingerprints() -> None:
    """An error row's kind, message, stack, frame and operation are scrubbed; its fingerprint
    is that of the scrubbed text."""
    scrubber = Scrubber()
    row = _row(kind="Err a@b.io", message="for a@b.io", stack="at x (http://u:p@h/x.js:1:2)",
               frame="f 10.0.0.1", name="op 4111 1111 1111 1111", fingerprint="old")
    out = scrubber.row(row)
    assert out is not None
    assert (out.kind, out.message, out.name) == ("Err [email]", "for [email]", "op [card]")
    assert out.stack is not None and "u:p@" not in out.stack
    assert out.fingerprint == fingerprint("Err [email]", "for [email]", "f [ip]")


def test_row_processor_scrubs_tag_keys_and_values() -> None:
    """Measurement tags lose PII in keys, values, and secret-named pairs."""
    scrubber = Scrubber()
    tags = msgspec.json.encode({"user": "a@b.io", "10.0.0.1": 1, "api_key": "abc123xyz"}).decode()
    out = scrubber.row(_row(type="measurement", name="m", unit="ms", tags=tags))
    assert out is not None and out.tags is not None
    assert msgspec.json.decode(out.tags) == {"user": "[email]", "[ip]": 1, "api_key": "[redacted]"}


def test_clean_row_is_returned_as_is() -> None:
    """A row with nothing to scrub is the same object (no copy on the hot path)."""
    scrubber = Scrubber()
    row = _row(type="operation", name="render")
    assert scrubber.row(row) is row


def _random_texts(count: int, seed: int) -> list[str]:
    """Short texts dense in what the hinted rules look at (hex, colons, dots, digits and their
    separators, long runs, Unicode digits and letters), with real addresses and cards in some."""
    import random

    rng = random.Random(seed)
    alphabet = "0123456789abcdefABCDEFxyzXYZ_:.:-+= \n/()[]@é٣K"
    pieces = ["2001:db8::1", "fe80::1ff:fe23:4567:890a", "::ffff:10.0.0.1", "1:2:3:4:5:6:7:8",
              "app::module_0::func_1", "10.1.2.3", "4111 1111 1111 1111", "4111-1111-1111-1111",
              "٤١١١١١١١١١١١١١١١", "A" * 20 + "b1" * 12, "0xd9016", ":wasm-function[592]:"]
    texts = []
    for _ in range(count):
        parts = [rng.choice(pieces) if rng.random() < 0.2 else
                 "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24)))
                 for _ in range(rng.randint(1, 5))]
        texts.append("".join(parts))
    return texts


def test_rule_hints_pass_wherever_their_pattern_matches() -> None:
    """A rule's cheap hint is false only on texts its regex finds nothing in (so skipping the
    regex then changes nothing)."""
    import re

    hinted = [rule for _gate, rules in scrub._GROUPS for rule in rules if rule.hint is not None]
    assert {rule.kind for rule in hinted} == {"ip", "card", "secret"} and len(hinted) == 4
    texts = _random_texts(6000, 8)
    for rule in hinted:
        regex = re.compile(rule.pattern)
        matched = [t for t in texts if regex.search(t)]
        assert len(matched) > 50, rule.pattern  # the texts exercise the rule
        missed = [t for t in matched if not rule.hint(t)]
        assert missed == [], (rule.pattern, missed[:3])


def test_a_wasm_stack_skips_the_hinted_rules_and_keeps_an_address() -> None:
    """A wasm stack of hex offsets and ``::`` paths passes none of the hints; an address in it
    is still found."""
    stack = ("Error\n    at app::module_0::func_592 (wasm://wasm/6d7c9f1e:wasm-function[592]:"
             "0xd9016)\n    at app::module_1::func_8 (wasm://wasm/6d7c9f1e:wasm-function[8]:0x3f)")
    hints = [rule.hint for _gate, rules in scrub._GROUPS for rule in rules if rule.hint]
    assert not any(hint(stack) for hint in hints)
    assert Scrubber().scrub(stack) == stack
    leaked = stack + "\n    from 2001:db8::7 and 4111 1111 1111 1111"
    assert Scrubber().scrub(leaked).endswith("from [ip] and [card]")
