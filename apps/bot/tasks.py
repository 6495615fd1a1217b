"""Bot tasks: thin, they take ids and call one service. Routed to the `bot` queue."""

from celery import shared_task

from . import services


@shared_task(name="bot.reply", ignore_result=True)
def bot_reply(message_id: int) -> None:
    services.bot_message_handle(message_id=message_id)
