"""The inbox websocket. Thin: it joins the user's groups and relays events."""

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from . import groups as group_names


@database_sync_to_async
def groups_for(user) -> list[str]:
    from apps.accounts import access

    if not access.is_member(user):
        return []
    names = [group_names.user(user.id), group_names.org_members(user.organization_id)]
    if user.is_supervisor_or_admin:
        names.append(group_names.org_supervisors(user.organization_id))
    else:
        names += [group_names.team(team_id) for team_id in access.team_ids(user)]
        names += [group_names.number(number_id) for number_id in access.team_number_ids(user)]
    return names


class InboxConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        user = self.scope.get("user")
        self.groups_joined = await groups_for(user) if user is not None else []
        if not self.groups_joined:
            await self.close(code=4401)
            return
        for name in self.groups_joined:
            await self.channel_layer.group_add(name, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        for name in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(name, self.channel_name)

    async def inbox_event(self, message):
        await self.send_json({"event": message["event"], "data": message["data"]})
