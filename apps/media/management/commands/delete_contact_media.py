"""Delete a contact's stored files on their request: delete_contact_media <contact id> --by <admin username>."""

from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError

from apps.accounts.models import User
from apps.conversations.models import Contact
from apps.media.services import contact_media_delete


class Command(BaseCommand):
    help = "Delete every stored media file of a contact (the rows stay, marked deleted; audited)."

    def add_arguments(self, parser):
        parser.add_argument("contact_id", type=int)
        parser.add_argument("--by", required=True, help="Username of the admin acting on the request.")

    def handle(self, *args, contact_id, by, **options):
        contact = Contact.objects.filter(pk=contact_id).first()
        if contact is None:
            raise CommandError(f"No contact with id {contact_id}.")
        user = User.objects.filter(username=by).first()
        if user is None:
            raise CommandError(f"No user named {by}.")
        try:
            count = contact_media_delete(contact=contact, user=user)
        except PermissionDenied as exc:
            raise CommandError(f"{by} may not delete this contact's files (an admin of its organisation may).") from exc
        self.stdout.write(f"Deleted {count} file(s) of contact {contact_id}.")
