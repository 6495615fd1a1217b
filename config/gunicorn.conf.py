"""gunicorn settings for the HTTP process (web in the Procfile and docker-compose).

Threads let one worker keep several keep-alive connections (Meta reuses them)
and overlap database round trips; override with GUNICORN_WORKERS/THREADS.
A webhook acknowledgement waits on one INSERT's commit (the WAL flush), so the
acknowledgement rate is bounded by threads / commit latency long before the CPU
is busy: bench/webhook_ingest.py measured 2 workers x 4 threads well below
2 x 16 and 1 x 32 (docs/benchmarks.md).
"""

import multiprocessing
import os

workers = int(os.environ.get("GUNICORN_WORKERS", max(2, multiprocessing.cpu_count())))
threads = int(os.environ.get("GUNICORN_THREADS", "16"))
worker_class = "gthread"
keepalive = 75
timeout = 30
graceful_timeout = 20
# No line per request (the demo's console and production's logs alike): a page polls and
# the inbox fetches a partial per live event. A proxy in front keeps the access log.
accesslog = None
max_requests = 20000
max_requests_jitter = 2000
