"""A nudge sent from another thread (a request's, say) wakes the dispatcher with both of its events
set: were they set one at a time, the dispatcher could wake on the first and take the nudge for a
refill, which it gathers with others for a moment before its pass (`comfy_router.wakeups`)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from comfy_router.wakeups import LocalDispatcher


@pytest.mark.asyncio
async def test_a_plain_nudge_from_another_thread_is_urgent_when_the_dispatcher_wakes() -> None:
    dispatcher = LocalDispatcher()
    wakeup, urgent = dispatcher.listen()
    for _ in range(200):
        wakeup.clear()
        urgent.clear()
        thread = threading.Thread(target=dispatcher.nudge)
        thread.start()
        await wakeup.wait()
        assert urgent.is_set()
        thread.join()
    dispatcher.stop_listening()


@pytest.mark.asyncio
async def test_a_refill_nudge_from_another_thread_wakes_the_dispatcher_without_urgency() -> None:
    dispatcher = LocalDispatcher()
    wakeup, urgent = dispatcher.listen()
    thread = threading.Thread(target=dispatcher.nudge, kwargs={"refill": True})
    thread.start()
    await wakeup.wait()
    thread.join()
    await asyncio.sleep(0.05)  # anything else it scheduled has run
    assert not urgent.is_set()
    dispatcher.stop_listening()
