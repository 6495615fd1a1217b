from django.core.management.base import BaseCommand

from apps.whatsapp.models import WhatsAppNumber


class Command(BaseCommand):
    help = "List the numbers bound to organisations. Secrets are never printed, only whether they are set."

    def add_arguments(self, parser):
        parser.add_argument("--org", help="Only this organisation (slug).")

    def handle(self, *args, org=None, **options):
        numbers = WhatsAppNumber.objects.select_related("organization").order_by("organization__slug", "phone_number_id")
        if org:
            numbers = numbers.filter(organization__slug=org)
        header = f"{'organisation':<20} {'phone number id':<18} {'display':<18} {'provider':<10} {'rate/s':>6} " \
                 f"{'active':<6} {'token':<7} {'secret':<7} verify"
        self.stdout.write(header)
        for number in numbers:
            self.stdout.write(
                f"{number.organization.slug:<20} {number.phone_number_id:<18} {number.display_phone_number:<18} "
                f"{number.provider:<10} {number.rate_limit_per_second:>6} {'yes' if number.is_active else 'no':<6} "
                f"{'set' if number.access_token else '-':<7} {'set' if number.app_secret else '-':<7} "
                f"{'set' if number.verify_token else '-'}"
            )
