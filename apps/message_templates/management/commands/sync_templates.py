from django.core.management.base import BaseCommand, CommandError

from apps.accounts.models import Organization
from apps.message_templates.services import SyncResult, template_sync


class Command(BaseCommand):
    help = "Fetch message templates from Meta for every organisation (or the one named by --organization slug)."

    def add_arguments(self, parser):
        parser.add_argument("--organization", help="slug of one organisation")

    def handle(self, *args, **options):
        organizations = Organization.objects.order_by("pk")
        if options.get("organization"):
            organizations = organizations.filter(slug=options["organization"])
            if not organizations.exists():
                raise CommandError(f"No organisation with slug {options['organization']!r}.")
        total = SyncResult()
        for organization in organizations:
            result = template_sync(organization=organization)
            total.add(result)
            self.stdout.write(
                f"{organization.slug}: {result.created} created, {result.updated} updated, "
                f"{result.unchanged} unchanged, {result.deleted} deleted"
            )
            for error in result.errors:
                self.stderr.write(f"{organization.slug}: {error}")
        if total.errors:
            raise CommandError(f"{len(total.errors)} WhatsApp Business Account(s) could not be synced.")
