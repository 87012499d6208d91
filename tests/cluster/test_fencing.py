"""Fencing against a real Redis: a writer whose lease is gone cannot add a frame."""

from __future__ import annotations

import pytest
import trio
from prometheus_client import CollectorRegistry

from proxy.cluster.lease import Deposed, Lease
from proxy.cluster.metrics import ClusterMetrics
from proxy.cluster.store import Keys, open_store
from proxy.cluster.writer import FrameWriter
from proxy.settings import Secret
from proxy.state.view import QueueView
from tests.cluster.conftest import RedisServer


def _view(queue_id: str, waiting: int) -> QueueView:
    return QueueView(queue_id, {"queueId": queue_id, "waiting": waiting}, b'{"waiting":%d}' % waiting)


async def test_a_deposed_writer_cannot_write_and_the_new_leader_continues_the_numbering(redis_server: RedisServer):
    keys = Keys("fence-test")
    metrics = ClusterMetrics(CollectorRegistry())
    async with open_store(Secret(redis_server.url)) as redis:
        a = Lease(redis, keys, ttl_s=10, metrics=metrics, owner="a")
        b = Lease(redis, keys, ttl_s=10, metrics=metrics, owner="b")
        assert await a.acquire() and not await b.acquire()
        writer_a = FrameWriter(lambda: redis, keys, maxlen=100, metrics=metrics, now=lambda: "t")
        with pytest.raises(BaseExceptionGroup) as raised:  # the writer runs until its lease is gone
            async with trio.open_nursery() as nursery:
                await nursery.start(writer_a.run, "a")
                writer_a.queue_frame({"q1": _view("q1", 1)}, ())
                await trio.sleep(0.1)
                assert await redis.xlen(keys.frames) == 2  # the epoch's empty snapshot, then the frame
                await redis.delete([keys.lease])  # a's lease expired while it was cut off...
                assert await b.acquire()  # ...and b took it
                writer_a.queue_frame({"q1": _view("q1", 99)}, ())
                await trio.sleep(1)
        assert raised.value.subgroup(Deposed) is not None
        assert await redis.xlen(keys.frames) == 2 and b.token == a.token + 1  # type: ignore[operator]
        writer_b = FrameWriter(lambda: redis, keys, maxlen=100, metrics=metrics, now=lambda: "t")
        async with trio.open_nursery() as nursery:
            await nursery.start(writer_b.run, "b")
            frame = writer_b.queue_frame({"q1": _view("q1", 2)}, ())
            await trio.sleep(0.1)
            nursery.cancel_scope.cancel()
        assert frame is not None and frame.seq == 2  # the seq goes on from the last frame written
        views = await redis.hgetall(keys.views)
        assert views == {b"q1": b'{"waiting":2}'}  # the deposed writer's 99 never landed
