"""Keys typed while the dashboard starts: held until its first screen is ready, then replayed in
order, each once the one before has been handled, since a key that moves the focus (`o`) decides
where the next ones go. An App mixin: `class LfmApp(HoldKeysUntilReady, App)`."""
from __future__ import annotations

import asyncio
import time

from textual import events

SETTLE_LIMIT_S = 2.0  # the most a replayed key waits for the one before it to be handled


class HoldKeysUntilReady:
    _held_keys: list[events.Key] | None = None  # None: keys pass as they come

    def hold_keys(self) -> None:
        """From now on (the app's start), keys wait for `release_keys`."""
        self._held_keys = []

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key) and not event.is_forwarded and self._held_keys is not None:
            self._held_keys.append(event)
            return
        await super().on_event(event)  # type: ignore[misc]

    def release_keys(self) -> None:
        """The first screen is ready: replay the keys held so far, then let keys pass. The replay
        starts once the app has taken the keys already in its queue (typed before it could read
        them), so that they are held and replayed in order too."""
        if self._held_keys is not None:
            self.call_later(self.run_worker, self._replay(), name="held-keys",  # type: ignore[attr-defined]
                            exit_on_error=False)

    async def _replay(self) -> None:
        while self._held_keys:
            key = self._held_keys.pop(0)
            await super().on_event(key)  # type: ignore[misc]
            await self._settled()
        self._held_keys = None  # no await since the list was seen empty: no key can slip between

    async def _settled(self) -> None:
        """Until the app, its screen and the focused widget and its ancestors have no message
        waiting, twice in a row (bubbling moves a key from one to the next), or the limit."""
        deadline = time.monotonic() + SETTLE_LIMIT_S
        quiet = 0
        while quiet < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
            focused = self.focused or self.screen  # type: ignore[attr-defined]
            pumps = [self, self.screen, *focused.ancestors_with_self]  # type: ignore[attr-defined]
            busy = any(not p._message_queue.empty() for p in pumps)
            quiet = 0 if busy else quiet + 1
