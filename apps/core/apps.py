import os
import sys

from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"

    def ready(self):
        # The development server on embedded defaults runs periodic tasks itself
        # (the child process of the autoreloader, or the only one with --noreload).
        serving = len(sys.argv) > 1 and sys.argv[1] == "runserver"
        if serving and (os.environ.get("RUN_MAIN") == "true" or "--noreload" in sys.argv):
            from . import scheduler

            scheduler.start()
