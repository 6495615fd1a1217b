import getpass
import os

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from apps.accounts.models import Organization
from apps.whatsapp.services import number_bind


class Command(BaseCommand):
    help = (
        "Bind a WhatsApp number to an organisation (or update its binding). The access token "
        "and app secret are read from the environment variables named by --access-token-env and "
        "--app-secret-env, or asked for; they are never taken on the command line."
    )

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="The organisation's slug.")
        parser.add_argument("--phone-number-id", required=True)
        parser.add_argument("--waba-id", default="")
        parser.add_argument("--display-number", default="")
        parser.add_argument("--name", default="")
        parser.add_argument("--provider", default="meta")
        parser.add_argument("--access-token-env", default="WHATSAPP_ACCESS_TOKEN",
                            help="Environment variable holding the access token (default WHATSAPP_ACCESS_TOKEN).")
        parser.add_argument("--app-secret-env", default="WHATSAPP_APP_SECRET",
                            help="Environment variable holding the app secret (default WHATSAPP_APP_SECRET).")
        parser.add_argument("--access-token", action="store_true",
                            help="Ask for the access token when its environment variable is empty.")
        parser.add_argument("--app-secret", action="store_true",
                            help="Ask for the app secret when its environment variable is empty.")
        parser.add_argument("--verify-token", default=None)
        parser.add_argument("--rate-limit", type=int, default=None, help="Messages per second (1 to 1000).")

    def _secret(self, env_name, prompt, ask):
        value = os.environ.get(env_name)
        if value:
            return value
        if ask:
            return getpass.getpass(f"{prompt}: ") or None
        return None

    def handle(self, *args, **opts):
        try:
            organization = Organization.objects.get(slug=opts["org"])
        except Organization.DoesNotExist:
            raise CommandError(f"No organisation with the slug {opts['org']!r}.") from None
        try:
            number, created = number_bind(
                organization=organization,
                phone_number_id=opts["phone_number_id"],
                provider=opts["provider"],
                waba_id=opts["waba_id"],
                display_phone_number=opts["display_number"],
                name=opts["name"],
                access_token=self._secret(opts["access_token_env"], "Access token", opts["access_token"]),
                app_secret=self._secret(opts["app_secret_env"], "App secret", opts["app_secret"]),
                verify_token=opts["verify_token"],
                rate_limit_per_second=opts["rate_limit"],
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        verb = "bound to" if created else "updated for"
        self.stdout.write(self.style.SUCCESS(
            f"Number {number.phone_number_id} ({number.get_provider_display()}) {verb} {organization.slug}."
        ))
        self.stdout.write(f"access token: {'set' if number.access_token else 'not set'}; "
                          f"app secret: {'set' if number.app_secret else 'not set'}")
