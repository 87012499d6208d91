"""Per-client mailboxes and the in-memory broker, without I/O."""

from proxy.errors import SubscriberClosed
from proxy.hub.frames import Frame, merge_frames
from proxy.hub.memory_broker import MemoryBroker
from proxy.hub.subscriber import Subscriber
from proxy.state.view import QueueView


def view(queue_id: str, waiting: int) -> QueueView:
    return QueueView(queue_id, {"waiting": waiting}, b'{"waiting":%d}' % waiting)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_publisher_never_waits_and_a_slow_subscriber_is_coalesced():
    clock = Clock()
    broker = MemoryBroker(ring_size=100, epoch="e")
    slow = Subscriber(capacity=3, stall_s=10, clock=clock)
    broker.attach(slow, None)
    for n in range(1, 11):
        broker.publish({f"q{n % 4}": view(f"q{n % 4}", n)})
    assert slow.pending <= 3 and slow.coalesced > 0
    chunks = b"".join(slow.drain())
    assert b"id: e-10" in chunks  # the newest id: resuming from here is exact
    for queue, newest in (("q0", 8), ("q1", 9), ("q2", 10), ("q3", 7)):
        assert f'"{queue}":{{"waiting":{newest}}}'.encode() in chunks


def test_a_subscriber_stalled_past_its_timeout_is_closed():
    clock = Clock()
    broker = MemoryBroker(ring_size=100, epoch="e")
    sub = Subscriber(capacity=1, stall_s=5, clock=clock)
    broker.attach(sub, None)
    broker.publish({"q": view("q", 1)})
    broker.publish({"q": view("q", 2)})
    clock.now = 6.0
    broker.publish({"q": view("q", 3)})
    assert sub.closed_reason == "stalled" and broker.subscriber_count == 0
    try:
        sub.drain()
    except SubscriberClosed as closed:
        assert closed.reason == "stalled"
    else:
        raise AssertionError("a closed subscriber must not drain")


def test_draining_resets_the_stall_timer():
    clock = Clock()
    sub = Subscriber(capacity=1, stall_s=5, clock=clock)
    for step in range(10):
        clock.now = step * 3.0
        sub.offer(Frame("delta", "e", step * 2 + 1, "t", {"q": view("q", step)}))
        sub.offer(Frame("delta", "e", step * 2 + 2, "t", {"q": view("q", step)}))
        sub.drain()
    assert sub.closed_reason is None


def test_merge_keeps_a_leading_snapshot_and_applies_removals():
    snap = Frame("snapshot", "e", 1, "t", {"a": view("a", 1), "b": view("b", 1)}, upstream={"upstream": "live"})
    merged = merge_frames([snap, Frame("delta", "e", 2, "t", {"a": view("a", 2)}, ("b",))])
    assert merged.kind == "snapshot" and merged.seq == 2 and set(merged.views) == {"a"}
    delta = merge_frames([Frame("delta", "e", 3, "t", {}, ("x",)), Frame("delta", "e", 4, "t", {"x": view("x", 1)})])
    assert delta.removed == () and set(delta.views) == {"x"}


async def test_filtered_subscriber_skips_frames_for_other_queues_but_always_gets_its_snapshot():
    broker = MemoryBroker(ring_size=10, epoch="e")
    sub = Subscriber(capacity=10, stall_s=10, only=frozenset({"a"}))
    broker.attach(sub, None)
    broker.publish({"b": view("b", 1)})
    broker.publish({"a": view("a", 1), "b": view("b", 2)})
    out = sub.drain()
    assert out[0].startswith(b"id: e-0\nevent: snapshot")
    assert len(out) == 2 and b'"b"' not in out[1] and b"id: e-2" in out[1]


def test_frame_encoding_is_shared_per_filter():
    frame = Frame("delta", "e", 1, "t", {"a": view("a", 1)})
    assert frame.data() is frame.data()
    assert frame.data(frozenset({"a"})) is frame.data(frozenset({"a"}))


def test_keepalive_only_after_silence_and_never_instead_of_data():
    clock = Clock()
    broker = MemoryBroker(ring_size=10, epoch="e")
    sub = Subscriber(capacity=10, stall_s=10, clock=clock)
    broker.attach(sub, None)
    sub.drain()  # the snapshot, at t=0
    clock.now = 10.0
    broker.keepalive(clock.now, 15.0)
    assert not sub.keepalive
    clock.now = 15.0
    broker.keepalive(clock.now, 15.0)
    assert sub.drain() == [b": keepalive\n\n"]
    clock.now = 31.0
    broker.keepalive(clock.now, 15.0)
    broker.publish({"q": view("q", 1)})
    out = sub.drain()
    assert len(out) == 1 and b"event: delta" in out[0]  # data went out; no keepalive needed with it


def test_the_snapshot_is_built_once_per_state_and_shared():
    broker = MemoryBroker(ring_size=10, epoch="e")
    broker.publish({"a": view("a", 1), "b": view("b", 1)})
    first = broker.snapshot()
    assert broker.snapshot() is first and first.data() is broker.snapshot().data()
    assert b'"b"' not in first.data(frozenset({"a"}))
    broker.publish({"a": view("a", 2)})
    assert broker.snapshot() is not first and broker.snapshot().seq == 2
    broker.set_status({"upstream": "degraded"})
    assert b'"degraded"' in broker.snapshot().data()


def test_the_ring_is_bounded_by_the_views_it_holds_and_older_ids_get_a_snapshot():
    broker = MemoryBroker(ring_size=1000, ring_max_views=10, epoch="e")
    for n in range(1, 6):  # 5 frames of 4 views: only the newest 2 fit in 10 views
        broker.publish({f"q{i}": view(f"q{i}", n) for i in range(4)})
    assert [f.seq for f in broker._missed("e-3")] == [4, 5]
    assert broker._missed("e-2") is None  # evicted: a snapshot, not a gap


def test_older_frames_forget_their_per_filter_encodings():
    broker = MemoryBroker(ring_size=10, epoch="e")
    first = broker.publish({"a": view("a", 1), "b": view("b", 1)})
    first.data(), first.data(frozenset({"a"})), first.data(frozenset({"b"}))
    broker.publish({"a": view("a", 2)})
    assert list(first._cache) == [(None, "data")]  # the shared unfiltered encoding stays for replays
    assert b'"b"' not in first.data(frozenset({"a"}))  # re-encoded on demand, still correct


def test_a_frame_is_pre_framed_once_per_filter_as_an_sse_block_and_an_http_chunk():
    frame = Frame("delta", "e", 7, "t", {"a": view("a", 1)})
    event = frame.event()
    assert event == b'id: e-7\nevent: delta\ndata: {"epoch":"e","seq":7,"asOf":"t","queues":{"a":{"waiting":1}},' \
                    b'"removed":[]}\n\n'
    assert frame.chunk() == b"%x\r\n" % len(event) + event + b"\r\n"
    one, two = (Subscriber(capacity=4, stall_s=10, chunked=True, clock=Clock()) for _ in range(2))
    for sub in (one, two):
        sub.offer(frame)
    assert one.drain()[0] is two.drain()[0] is frame.chunk()  # the same bytes object, written as-is to each


def test_a_client_that_is_behind_gets_its_pending_frames_in_one_drain():
    sub = Subscriber(capacity=10, stall_s=10, chunked=True, clock=Clock())
    frames = [Frame("delta", "e", n, "t", {"a": view("a", n)}) for n in (1, 2, 3)]
    for frame in frames:
        sub.offer(frame)
    sub.offer_status(b"event: status\ndata: {}\n\n")
    out = sub.drain()
    assert out[:3] == [f.chunk() for f in frames] and out[3] == b"18\r\nevent: status\ndata: {}\n\n\r\n"


async def test_an_idle_socket_subscriber_whose_access_expired_is_closed_not_kept_alive():
    """The socket path's keepalive shortcut must not skip the viewer expiry the base class checks."""
    import trio

    from proxy.stream.socket_subscriber import SocketSubscriber

    ours, theirs = trio.socket.socketpair()
    with ours, theirs:
        sub = SocketSubscriber(fd=ours.fileno(), capacity=4, stall_s=10, clock=Clock())
        sub.park(trio.CancelScope())
        sub.expires_at = 5.0
        sub.offer_keepalive(20.0, 15.0)
        assert sub.closed_reason == "expired"
