from django.core.management.base import BaseCommand

from apps.simulator import demo


class Command(BaseCommand):
    help = ("Run the whole product on embedded defaults: the Procfile's processes (web, ws, "
            "workers, beat) after migrating and seeding the demo organisation. Ctrl-C stops all.")

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000, help="the web page (gunicorn)")
        parser.add_argument("--ws-port", type=int, help="the live socket (daphne); default port + 1")

    def handle(self, *args, host, port, ws_port, **options):
        code = demo.run(host=host, port=port, ws_port=ws_port or port + 1, stdout=self.stdout)
        if code:
            raise SystemExit(code)
