"""Test support the tests and the benchmarks share: S3 servers on loopback
(``servers``), a latency and fault proxy (``netproxy``), gunicorn sites and
their environments (``endpoints``), backfill helpers (``backfill``) and a
scripted S3 for error paths no real server produces (``scripted_s3``).
Never shipped: the wheel holds ``toolkit``, ``checks`` and ``migrations_r2`` only."""
