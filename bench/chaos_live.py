"""The fault suite's agent page (bench/chaos.py): one websocket on daphne's
/ws/inbox/ with a supervisor's session, kept open for the whole run. As the
inbox's live.js does, it reconnects after any drop and asks to catch up from the
last event id it saw; a `catch_up.reset` answer means the page reloads (it is then
not behind: everything stored before the reset is on the reloaded page)."""

from __future__ import annotations

import asyncio
import json
import threading
import time

# bench/inbox_scale.py sets its own environment on import: chaos.py sets its own after.
from inbox_scale import session_cookies


def session_cookie(username: str) -> str:
    """A logged-in session for `username` (as bench/inbox_scale.py makes them)."""
    return session_cookies([username])[username]


class LivePage:
    def __init__(self, port: int, cookie: str):
        self.port, self.cookie = port, cookie
        self.created: dict[str, float] = {}  # wamid of each message.created frame -> when it arrived
        self.resets: list[float] = []  # when the server told the page to reload
        self.connects = 0
        self.last_id: str | None = None
        self.ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="live-page", daemon=True)

    def start(self, timeout: float = 60) -> None:
        self._thread.start()
        if not self.ready.wait(timeout):
            raise RuntimeError("the live page did not connect to /ws/inbox/")

    def stop(self) -> None:
        self._stop = True
        self._thread.join(timeout=5)

    def _run(self) -> None:
        self._loop.run_until_complete(self._page())

    async def _page(self) -> None:
        from websockets.asyncio.client import connect

        while not self._stop:
            try:
                async with connect(f"ws://127.0.0.1:{self.port}/ws/inbox/", origin=f"http://127.0.0.1:{self.port}",
                                   additional_headers={"Cookie": self.cookie}, max_queue=None,
                                   open_timeout=20) as ws:
                    self.connects += 1
                    await ws.send(json.dumps({"action": "catch_up", "since": self.last_id}))
                    while not self._stop:
                        try:
                            raw = await asyncio.wait_for(ws.recv(), timeout=0.5)
                        except TimeoutError:
                            continue
                        self._frame(json.loads(raw))
            except Exception:  # noqa: BLE001 - any drop: reconnect, as the page does
                await asyncio.sleep(1)

    def _frame(self, frame: dict) -> None:
        event = frame.get("event")
        if event == "catch_up.done":
            self.ready.set()
        elif event == "catch_up.reset":
            self.resets.append(time.time())
        elif event == "message.created":
            wamid = (frame.get("data") or {}).get("wamid")
            if wamid:
                self.created.setdefault(wamid, time.time())
        if frame.get("id"):
            self.last_id = frame["id"]

    def missed(self, stored: dict[str, float], grace: float = 15.0) -> list[str]:
        """Messages stored ({wamid: when stored}) that the page neither received nor
        reloaded after: the agent does not see them until a reload of their own. Frames
        still on their way get `grace` seconds to arrive (late is not missed)."""
        deadline = time.time() + grace
        while True:
            missed = [wamid for wamid, when in stored.items()
                      if wamid not in self.created and not any(reset >= when for reset in self.resets)]
            if not missed or time.time() > deadline:
                return missed
            time.sleep(0.5)
