"""moto's S3 service alone, as a WSGI application for gunicorn: the S3
emulator behind the embedded default, the tests and the benchmarks.

``python -m moto.server`` serves every AWS service through one dispatcher
that, on every request and under a process-wide lock, lists moto's package
directory and tries hundreds of URL patterns, and its werkzeug server closes
every connection. Served alone by gunicorn (one worker, because the buckets
live in its memory; threads for concurrency) the same S3 application keeps
connections alive as R2 does and costs about a third of the CPU, which on a
small machine the client under test would otherwise lose.
"""

from moto.moto_server.werkzeug_app import create_backend_app

app = create_backend_app("s3")
