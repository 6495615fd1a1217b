"""manage.py servers [status|stop]: the embedded PostgreSQL and Valkey of this VAR_DIR."""

from django.core.management.base import BaseCommand

from apps.core import servers


class Command(BaseCommand):
    help = ("Show (status) or stop (stop) the embedded PostgreSQL and Valkey of this VAR_DIR; "
            "servers given by DATABASE_URL / REDIS_URL are only named.")

    def add_arguments(self, parser):
        parser.add_argument("action", nargs="?", choices=["status", "stop"], default="status")

    def handle(self, *args, action, **options):
        if action == "stop":
            # The settings have connected to the servers they name; close before stopping.
            from django.db import connections

            connections.close_all()
            stopped = servers.stop_all()
            self.stdout.write(f"stopped: {', '.join(stopped)}" if stopped else "no embedded server was running")
            return
        for kind, state in servers.status().items():
            if "given" in state:
                self.stdout.write(f"{kind}: given by {state['given']}")
            else:
                running = "running" if state["running"] else "stopped"
                self.stdout.write(f"{kind}: {running}, data in {state['data']}"
                                  + (f", {state['url']} (pid {state['pid']})" if state["running"] else ""))
