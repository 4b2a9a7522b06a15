"""Alerting: rules on change events, throttling and digests, durable delivery.

Data flow: the ingest worker calls ``AlertEngine.on_events`` right after the store write;
matching alerts and one outbox row per (alert, notifier) are written in one SQLite
transaction; the ``Dispatcher`` delivers outbox rows with retries until a notifier
acknowledges (2xx / SMTP 250), so a notifier that is down loses nothing.
"""
