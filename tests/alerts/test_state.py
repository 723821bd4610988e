"""The state machine with an injected clock: for, keep_firing_for, cooldown, repeat, resolve,
silences, flapping and restore."""

from __future__ import annotations

from tests.alerts.conftest import NOW, never
from wasmwatch.alerts.evaluate import Sample
from wasmwatch.alerts.rules import DEFAULT_RULES, Rule, parse_rule
from wasmwatch.alerts.silences import Matcher, Silence, Silences
from wasmwatch.alerts.state import StateMachine


def rule(**table: object) -> Rule:
    return parse_rule({"name": "slow", "kind": "threshold", "metric": "operation",
                       "threshold": 100, "min_samples": 1, **table}, {})


def sample(r: Rule, breach: bool, value: float = 500.0) -> Sample:
    return Sample(r, (), value, 1, breach)


def test_for_holds_pending_until_it_has_lasted() -> None:
    """pending first; firing and announced once the breach lasted `for`."""
    r, sm = rule(**{"for": "10s"}), StateMachine("default")
    (c,) = sm.step(r, [sample(r, True)], NOW, never)
    assert (c.previous, c.alert.state, c.notify) == (None, "pending", None)
    assert sm.step(r, [sample(r, True)], NOW + 5000, never) == []
    (c,) = sm.step(r, [sample(r, True)], NOW + 10_000, never)
    assert (c.previous, c.alert.state, c.notify) == ("pending", "firing", "firing")
    assert c.alert.labels == {"alertname": "slow", "severity": "info"}


def test_a_pending_alert_that_clears_is_never_announced() -> None:
    """pending -> resolved without any notification."""
    r, sm = rule(**{"for": "10s"}), StateMachine("default")
    sm.step(r, [sample(r, True)], NOW, never)
    (c,) = sm.step(r, [], NOW + 1000, never)
    assert (c.alert.state, c.notify) == ("resolved", None)
    assert sm.active == {}


def test_keep_firing_for_then_resolve_notification() -> None:
    """A clear must last keep_firing_for; then the resolve is announced."""
    r, sm = rule(keep_firing_for="30s"), StateMachine("default")
    (c,) = sm.step(r, [sample(r, True)], NOW, never)
    assert c.notify == "firing"
    assert sm.step(r, [sample(r, False, 10.0)], NOW + 10_000, never) == []
    (c,) = sm.step(r, [], NOW + 30_000, never)
    assert (c.alert.state, c.notify, c.alert.resolved_at) == ("resolved", "resolved", NOW + 30_000)


def test_cooldown_suppresses_the_repeat_then_announces() -> None:
    """Refiring within the cooldown is recorded but not announced until the cooldown ends."""
    r, sm = rule(), StateMachine("default", cooldown_ms=300_000)
    assert sm.step(r, [sample(r, True)], NOW, never)[0].notify == "firing"
    assert sm.step(r, [], NOW + 1000, never)[0].notify == "resolved"
    (again,) = sm.step(r, [sample(r, True)], NOW + 2000, never)
    assert (again.alert.state, again.notify) == ("firing", None)
    assert sm.step(r, [sample(r, True)], NOW + 100_000, never) == []
    (late,) = sm.step(r, [sample(r, True)], NOW + 300_000, never)
    assert late.notify == "firing"


def test_resolve_of_an_unannounced_alert_is_silent() -> None:
    """Nobody was told it fired, so nobody is told it resolved."""
    r, sm = rule(), StateMachine("default", cooldown_ms=300_000)
    sm.step(r, [sample(r, True)], NOW, never)
    sm.step(r, [], NOW + 1000, never)
    sm.step(r, [sample(r, True)], NOW + 2000, never)  # within cooldown: not announced
    (c,) = sm.step(r, [], NOW + 3000, never)
    assert (c.alert.state, c.notify) == ("resolved", None)


def test_repeat_interval() -> None:
    """A firing alert is announced again every repeat interval."""
    r, sm = rule(), StateMachine("default", repeat_ms=60_000)
    sm.step(r, [sample(r, True)], NOW, never)
    assert sm.step(r, [sample(r, True)], NOW + 59_000, never) == []
    (c,) = sm.step(r, [sample(r, True)], NOW + 60_000, never)
    assert c.notify == "repeat" and c.previous == "firing"


def test_silence_matches_labels_until_it_ends() -> None:
    """A matching silence holds the announcement; after its end the alert is announced."""
    r, sm, silences = rule(), StateMachine("default"), Silences()
    silences.add(Silence("s1", (Matcher("alertname", "slow"),), NOW - 1, NOW + 60_000))
    (c,) = sm.step(r, [sample(r, True)], NOW, silences.silenced)
    assert (c.alert.state, c.notify, c.alert.silenced) == ("firing", None, True)
    (c,) = sm.step(r, [sample(r, True)], NOW + 60_000, silences.silenced)
    assert c.notify == "firing" and not c.alert.silenced


def test_flapping_is_damped() -> None:
    """The third start within ten minutes is not announced and holds firing instead of resolving."""
    r, sm = rule(), StateMachine("default", cooldown_ms=0, flap_count=3, flap_window_ms=600_000)
    t = NOW
    for _ in range(2):
        assert sm.step(r, [sample(r, True)], t, never)[0].notify == "firing"
        assert sm.step(r, [], t + 1000, never)[0].notify == "resolved"
        t += 10_000
    (third,) = sm.step(r, [sample(r, True)], t, never)
    assert (third.alert.state, third.notify, third.alert.flapping) == ("firing", None, True)
    assert sm.step(r, [], t + 1000, never) == []  # held: no resolve, no notice
    assert next(iter(sm.active.values())).state == "firing"
    (c,) = sm.step(r, [], t + 600_000, never)
    assert c.alert.state == "resolved"


def test_restore_sends_no_duplicate() -> None:
    """State handed to a new machine: a still-breaching announced alert is not announced again."""
    r, sm = rule(), StateMachine("default")
    (c,) = sm.step(r, [sample(r, True)], NOW, never)
    fresh = StateMachine("default")
    fresh.restore([c.alert], {c.alert.fingerprint: NOW})
    assert fresh.step(r, [sample(r, True)], NOW + 5000, never) == []
    (done,) = fresh.step(r, [], NOW + 6000, never)
    assert done.notify == "resolved" and done.alert.id == c.alert.id


def test_labels_make_separate_alerts() -> None:
    """Each label set is its own alert with its own fingerprint."""
    r, sm = rule(group_by=["release"]), StateMachine("default")
    changes = sm.step(r, [Sample(r, (("release", "1"),), 500.0, 1, True),
                          Sample(r, (("release", "2"),), 500.0, 1, True)], NOW, never)
    assert len({c.alert.fingerprint for c in changes}) == 2
    assert all(c.notify == "firing" for c in changes)




def test_a_default_rule_at_its_edge_stays_one_firing_alert() -> None:
    """The default rules hold a clear for a minute: an error rate that dips under 5 % for a
    few seconds between breaches neither resolves nor fires again."""
    r = next(rule for rule in DEFAULT_RULES if rule.name == "high_error_rate")
    sm = StateMachine("default")
    assert [c.notify for c in sm.step(r, [sample(r, True, 0.06)], NOW, never)] == ["firing"]
    for second in range(2, 50, 2):  # the rate crosses the threshold every other tick
        breach = second % 4 == 0
        changes = sm.step(r, [sample(r, breach, 0.06 if breach else 0.04)], NOW + second * 1000, never)
        assert changes == []
    (c,) = sm.step(r, [sample(r, False, 0.01)], NOW + 48_000 + 60_000, never)
    assert (c.alert.state, c.notify) == ("resolved", "resolved")
