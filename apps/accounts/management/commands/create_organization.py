import getpass

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from apps.accounts.services import organization_create


class Command(BaseCommand):
    help = "Create an organisation and, optionally, its first admin (staff, role admin)."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--slug", help="Defaults to the slugified name.")
        parser.add_argument("--admin-username")
        parser.add_argument("--admin-email", default="")
        parser.add_argument(
            "--admin-password",
            help="Discouraged on a shared machine (shell history); by default read from "
            "ORG_ADMIN_PASSWORD or asked for.",
        )

    def handle(self, *args, name, slug, admin_username, admin_email, admin_password, **options):
        import os

        if admin_username and not admin_password:
            admin_password = os.environ.get("ORG_ADMIN_PASSWORD") or getpass.getpass("Admin password: ")
        try:
            organization, admin = organization_create(
                name=name, slug=slug, admin_username=admin_username, admin_email=admin_email,
                admin_password=admin_password,
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        self.stdout.write(self.style.SUCCESS(f"Organisation {organization.name} (slug {organization.slug}) created."))
        if admin:
            self.stdout.write(f"Admin user: {admin.username}")
