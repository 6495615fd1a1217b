"""Signals of the accounts app: how a model tells the use-cases above it that
something happened, without importing them."""

from django.dispatch import Signal

# A user's password was set or made unusable (sent by User.set_password and
# User.set_unusable_password, with `user`). Received by
# accounts.services.user_credentials_changed (connected in AccountsConfig.ready).
credentials_changed = Signal()
