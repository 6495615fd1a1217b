from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from apps.accounts.models import User
from apps.accounts.tokens import token_issue


class Command(BaseCommand):
    help = (
        "Issue a REST API token for a user and print its key, this once (only a hash is kept). "
        "DRF's drf_create_token makes clear-text tokens, which no longer authenticate."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", required=True, help="What uses the token (shown in admin).")

    def handle(self, *args, username, name, **options):
        user = User.objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"No active user {username!r}.")
        try:
            token, key = token_issue(user=user, name=name)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        self.stderr.write(f"Token {token.name!r} ({token.prefix}…) of {user.username}; its key, shown this once:")
        self.stdout.write(key)
