"""manage.py simulator_serve: the product served from an asyncio loop, for load tests
of sending against the simulator (apps/simulator/server.py)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Serve the product, the simulated Graph API included, from one asyncio event loop per process: "
        "the simulator's latency holds no thread (load tests; the web process serves everything else)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--bind", default="127.0.0.1:8001", help="host:port (default 127.0.0.1:8001)")
        parser.add_argument("--threads", type=int, default=8, help="threads per process that run requests")
        parser.add_argument("--processes", type=int, default=1, help="processes sharing the port")

    def handle(self, *args, bind, threads, processes, **options):
        from django.conf import settings

        if not settings.SIMULATOR_ENABLED:
            raise CommandError("The simulator is off (SIMULATOR_ENABLED).")
        host, _, port = bind.rpartition(":")
        if not host or not port.isdigit():
            raise CommandError(f"--bind must be host:port, not {bind!r}")
        if threads < 1 or processes < 1:
            raise CommandError("--threads and --processes must be at least 1")
        from django.db import connections

        from config.wsgi import application

        from ...server import serve_processes

        connections.close_all()  # nothing opened before a fork is shared
        self.stdout.write(f"simulator_serve on {host}:{port}: {processes} process(es) x {threads} threads")
        self.stdout.flush()
        serve_processes(application, host, int(port), threads=threads, processes=processes)
