"""Alerting: rules over sliding windows, a state machine, history, silences and channels.

    rules.py      the rules (defaults from the seed, ``[[rules]]`` tables checked at start)
    window.py     one series' sliding window, kept incrementally in time buckets
    evaluate.py   rows into windows (per commit), windows into samples (per tick)
    source.py     every read of stored items the engine makes (start-up backfill)
    state.py      pending / firing / resolved, cooldown, repeat, flapping
    silences.py   label matchers with an end time
    delivery.py   per-channel bounded queues, retries, backoff, timeouts, attempts recorded
    channels/     webhook (Alertmanager v4), Slack, e-mail, log, and an in-memory double
    history.py    the alert tables in the DuckDB file
    service.py    all of it wired together for the runtime
"""
