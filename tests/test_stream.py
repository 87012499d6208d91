"""The SSE stream over real HTTP: snapshot, deltas, exact resume, filters, keepalive, cleanup, slow clients."""

import json

import httpx
import pytest
import trio
import trio.lowlevel

from tests.helpers import SSEReader, envelope, open_stream, post_callback


async def wait_for(predicate, within: float = 5.0) -> None:
    with trio.fail_after(within):
        while not predicate():  # noqa: ASYNC110  # state owned by the server under test; no event to wait on
            await trio.sleep(0.01)


async def test_new_client_gets_retry_snapshot_and_status_then_deltas(client, proxy):
    await post_callback(client, envelope("q1", oWaiting=1, queueName="Billing"))
    await wait_for(lambda: proxy.runtime.broker.seq == 1)
    async with client.stream("GET", "/dashboard-stream") as r:
        assert r.headers["content-type"] == "text/event-stream"
        assert r.headers["cache-control"] == "no-store" and r.headers["x-accel-buffering"] == "no"
        assert "content-encoding" not in r.headers
        lines = r.aiter_lines()
        with trio.fail_after(5):
            head = [await anext(lines) for _ in range(5)]
        epoch = proxy.runtime.broker.epoch
        assert head[:3] == ["retry: 3000", f"id: {epoch}-1", "event: snapshot"]
        snapshot = json.loads(head[3].removeprefix("data: "))
        assert snapshot["seq"] == 1 and snapshot["queues"]["q1"]["name"] == "Billing"
        assert snapshot["upstream"]["upstream"] == "live"
        with trio.fail_after(5):
            status = [await anext(lines) for _ in range(3)]
        assert status[0] == "event: status" and json.loads(status[1].removeprefix("data: "))["upstream"] == "live"


async def test_callback_reaches_every_connected_client(client):
    async with open_stream(client) as (_, a), open_stream(client) as (_, b):
        for reader in (a, b):
            assert (await reader.next()).event == "snapshot"
        await post_callback(client, envelope("q7", oWaiting=4))
        for reader in (a, b):
            event, data = await reader.next_json()
            assert event.event == "delta" and data["queues"]["q7"]["waiting"] == 4 and data["removed"] == []


@pytest.mark.parametrize("how", ["header", "query"])
async def test_resume_replays_missed_deltas_without_gap_or_duplicate(client, proxy, how):
    async with open_stream(client) as (_, reader):
        assert (await reader.next()).event == "snapshot"
        await post_callback(client, envelope("q1", oWaiting=1))
        last = await reader.next()
    seq_before = proxy.runtime.broker.seq
    for waiting in range(2, 7):
        await post_callback(client, envelope("q1", oWaiting=waiting))
    await wait_for(lambda: proxy.runtime.aggregator._dirty == {})
    missed = proxy.runtime.broker.seq - seq_before
    assert missed >= 1
    kwargs = {"headers": {"Last-Event-ID": last.id}} if how == "header" else {"params": {"lastEventId": last.id}}
    async with open_stream(client, **kwargs) as (_, reader):
        replayed = [await reader.next_json() for _ in range(missed)]
        seqs = [int(e.id.rsplit("-", 1)[1]) for e, _ in replayed]
        assert seqs == list(range(seq_before + 1, seq_before + missed + 1))
        assert all(e.event == "delta" for e, _ in replayed)
        assert replayed[-1][1]["queues"]["q1"]["waiting"] == 6
        await post_callback(client, envelope("q1", oWaiting=7))
        _, data = await reader.next_json()
        assert data["seq"] == seq_before + missed + 1 and data["queues"]["q1"]["waiting"] == 7


async def test_unresumable_ids_get_a_snapshot(start_proxy):
    p = await start_proxy(ring_size=2)
    async with httpx.AsyncClient(base_url=p.url, timeout=httpx.Timeout(5, read=None)) as c:
        for waiting in range(1, 6):
            await post_callback(c, envelope("q1", oWaiting=waiting))
            await wait_for(lambda w=waiting: p.runtime.broker.seq >= w)
        epoch = p.runtime.broker.epoch
        for last_id in ("ffffff-3", f"{epoch}-1", f"{epoch}-999", "garbage", f"{epoch}-"):
            async with open_stream(c, headers={"Last-Event-ID": last_id}) as (_, reader):
                event, data = await reader.next_json()
                assert event.event == "snapshot", last_id
                assert event.id == f"{epoch}-5" and data["queues"]["q1"]["waiting"] == 5
        async with open_stream(c, headers={"Last-Event-ID": f"{epoch}-4"}) as (_, reader):
            event, data = await reader.next_json()
            assert (event.event, event.id) == ("delta", f"{epoch}-5")


async def test_queue_filter_sends_only_frames_touching_chosen_queues(client, proxy):
    async with open_stream(client, params={"queues": "q-a,q-c"}) as (_, reader):
        assert (await reader.next()).event == "snapshot"
        await post_callback(client, envelope("q-b", oWaiting=1))
        await wait_for(lambda: proxy.runtime.broker.seq == 1)
        await post_callback(client, [envelope("q-a", oWaiting=2), envelope("q-b", oWaiting=3)])
        event, data = await reader.next_json()
        assert list(data["queues"]) == ["q-a"]
        assert event.id.endswith(f"-{proxy.runtime.broker.seq}") and proxy.runtime.broker.seq == 2


async def test_keepalive_comment_follows_silence(start_proxy):
    p = await start_proxy(keepalive_s=0.2)
    async with httpx.AsyncClient(base_url=p.url, timeout=httpx.Timeout(5, read=None)) as c:
        async with c.stream("GET", "/dashboard-stream") as r:
            lines = r.aiter_lines()
            with trio.fail_after(3):
                while await anext(lines) != ": keepalive":
                    pass


async def test_disconnected_clients_are_cleaned_up(client, proxy):
    for _ in range(5):
        async with open_stream(client) as (_, reader):
            await reader.next()
            assert proxy.runtime.broker.subscriber_count >= 1
    await wait_for(lambda: proxy.runtime.broker.subscriber_count == 0)
    metrics = (await client.get("/metrics")).text
    assert "queuecast_sse_clients 0.0" in metrics
    assert 'queuecast_sse_disconnects_total{reason="client"} 5.0' in metrics


async def test_clients_over_the_limit_are_shed_with_503_and_retry_after(start_proxy):
    p = await start_proxy(max_clients=1)
    async with httpx.AsyncClient(base_url=p.url, timeout=httpx.Timeout(5, read=None)) as c:
        async with open_stream(c) as (_, reader):
            await reader.next()
            r = await c.get("/dashboard-stream")
            assert r.status_code == 503 and 1 <= int(r.headers["retry-after"]) <= 5


async def test_slow_client_does_not_delay_a_fast_one_and_is_dropped_when_stalled(start_proxy):
    p = await start_proxy(client_buffer=4, client_stall_s=1.0)
    host, port = p.url.removeprefix("http://").split(":")
    slow = await trio.open_tcp_stream(host, int(port))  # connects, then never reads
    await slow.send_all(b"GET /dashboard-stream HTTP/1.1\r\nHost: x\r\n\r\n")
    await wait_for(lambda: p.runtime.broker.subscriber_count == 1)
    big_name = "x" * 20_000  # fills the slow socket's buffers quickly
    async with httpx.AsyncClient(base_url=p.url, timeout=httpx.Timeout(5, read=None)) as c:
        async with open_stream(c) as (_, fast):
            await fast.next()
            with trio.fail_after(20):
                for n in range(1, 301):
                    await post_callback(c, envelope("q1", oWaiting=n, queueName=big_name))
                    _, data = await fast.next_json(within=2)
                    assert data["queues"]["q1"]["waiting"] == n  # every frame, promptly, in order
                    if p.runtime.broker.subscriber_count == 1 and n > 50:
                        break
            stalled = 'queuecast_sse_disconnects_total{reason="stalled"} 1.0'
            await wait_for(lambda: stalled in p.runtime.metrics.render().decode(), within=10)
            assert p.runtime.broker.subscriber_count == 1
    await slow.aclose()


async def test_shutdown_ends_streams_cleanly(start_proxy):
    p = await start_proxy()
    async with httpx.AsyncClient(base_url=p.url, timeout=httpx.Timeout(5, read=None)) as c:
        async with c.stream("GET", "/dashboard-stream") as r:
            p.stop.set()
            with trio.fail_after(5):
                async for _ in r.aiter_lines():
                    pass  # ends: the server closed the stream with a proper end of body


async def test_aggregator_sends_one_frame_per_window_carrying_every_changed_queue(start_proxy):
    """Timing is pinned on a mock clock in test_aggregator.py; here the frames' contents over HTTP."""
    p = await start_proxy(aggregate_ms=2000)
    async with httpx.AsyncClient(base_url=p.url, timeout=httpx.Timeout(5, read=None)) as c:
        async with open_stream(c) as (_, reader):
            await reader.next()
            await post_callback(c, envelope("q0", oWaiting=1))  # isolated: leading edge, alone
            _, first = await reader.next_json()
            assert list(first["queues"]) == ["q0"]
            for i in range(1, 6):
                await post_callback(c, envelope(f"q{i}", oWaiting=i))
            _, second = await reader.next_json()  # trailing edge: the rest together
            assert sorted(second["queues"]) == [f"q{i}" for i in range(1, 6)]
            assert second["seq"] == first["seq"] + 1


async def test_reader_helper_is_strict_about_status_events():
    async def events():
        from httpx_sse import ServerSentEvent

        yield ServerSentEvent(event="status", data="{}")
        yield ServerSentEvent(event="delta", data='{"x": 1}')

    assert (await SSEReader(events()).next()).event == "delta"


async def test_a_stream_closed_while_its_headers_are_sent_ends_cleanly():
    """Shutdown (or a stall) can close a subscriber while ``send(start)`` is awaited: the handler ends
    without raising, and the disconnect is counted under that reason."""
    from proxy.http.cors import CorsPolicy
    from proxy.http.stream import StreamEndpoint
    from proxy.runtime import build_runtime
    from tests.conftest import proxy_settings

    rt = build_runtime(proxy_settings())
    sent: list[dict] = []

    async def send(message):
        sent.append(message)
        if message["type"] == "http.response.start":
            rt.broker.close_all("shutdown")
            await trio.lowlevel.checkpoint()

    async def receive():
        await trio.sleep_forever()

    scope = {"type": "http", "method": "GET", "headers": [], "query_string": b"", "path": "/dashboard-stream"}
    with trio.fail_after(2):
        await StreamEndpoint(rt, CorsPolicy(()))(scope, receive, send)
    assert sent[0]["status"] == 200 and rt.broker.subscriber_count == 0
    assert 'queuecast_sse_disconnects_total{reason="shutdown"} 1.0' in rt.metrics.render().decode()


async def raw_exchange(url: str, request: bytes, *, within: float = 5.0) -> bytes:
    """Send ``request`` on a fresh connection and read until the server closes it."""
    host, port = url.removeprefix("http://").split(":")
    stream = await trio.open_tcp_stream(host, int(port))
    out = b""
    async with stream:
        await stream.send_all(request)
        with trio.fail_after(within):
            while data := await stream.receive_some(65536):
                out += data
    return out


async def test_the_stream_path_refuses_hostile_heads_and_keeps_serving(proxy, client):
    url = proxy.url
    too_big = b"GET /dashboard-stream HTTP/1.1\r\nHost: x\r\nX-Junk: " + b"a" * 20_000 + b"\r\n\r\n"
    assert (await raw_exchange(url, too_big)).startswith(b"HTTP/1.1 431 ")
    bad = b"GET /dashboard-stream HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n"
    assert (await raw_exchange(url, bad)).startswith(b"HTTP/1.1 400 ")
    for method in (b"HEAD", b"POST", b"DELETE"):
        head = method + b" /dashboard-stream HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
        answer = await raw_exchange(url, head)
        assert answer.startswith(b"HTTP/1.1 405 ") and b"Allow: GET, OPTIONS" in answer, method
    junk = await raw_exchange(url, b"\x16\x03\x01 garbage\r\n\r\n")  # not a request line: Hypercorn's 400
    assert junk.startswith(b"HTTP/1.1 400")
    async with open_stream(client) as (_, reader):  # the service goes on for everyone else
        assert (await reader.next()).event == "snapshot"


async def test_a_slow_request_head_is_cut_at_the_head_deadline(start_proxy):
    p = await start_proxy(head_timeout_s=1.0)
    host, port = p.url.removeprefix("http://").split(":")
    for target in (b"/dashboard-stream", b"/healthz"):  # both sides of the front
        stream = await trio.open_tcp_stream(host, int(port))
        async with stream:
            t0 = trio.current_time()
            with trio.fail_after(5):
                for byte in b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n":  # a byte every 0.1 s, never finishing
                    try:
                        await stream.send_all(bytes([byte]))
                    except trio.BrokenResourceError:
                        break
                    await trio.sleep(0.1)
                    if trio.current_time() - t0 > 1.5:
                        break
                with pytest.raises(trio.BrokenResourceError):
                    while await stream.receive_some(1024):
                        pass
                    raise trio.BrokenResourceError  # closed cleanly: cut all the same
            assert trio.current_time() - t0 < 3


async def test_cors_preflight_on_the_stream_route(start_proxy):
    p = await start_proxy(cors_origins=("https://board.example",))
    allowed = await raw_exchange(p.url, b"OPTIONS /dashboard-stream HTTP/1.1\r\nHost: x\r\n"
                                        b"Origin: https://board.example\r\nAccess-Control-Request-Method: GET\r\n\r\n")
    assert allowed.startswith(b"HTTP/1.1 204 ") and b"Access-Control-Allow-Origin: https://board.example" in allowed
    assert b"Last-Event-ID" in allowed
    refused = await raw_exchange(p.url, b"OPTIONS /dashboard-stream HTTP/1.1\r\nHost: x\r\n"
                                        b"Origin: https://evil.example\r\nAccess-Control-Request-Method: GET\r\n\r\n")
    assert refused.startswith(b"HTTP/1.1 403 ") and b"Access-Control-Allow-Origin" not in refused


async def test_shutdown_sends_a_jittered_retry_then_ends_the_chunked_body(start_proxy):
    p = await start_proxy(retry_ms=1000)
    host, port = p.url.removeprefix("http://").split(":")
    stream = await trio.open_tcp_stream(host, int(port))
    async with stream:
        await stream.send_all(b"GET /dashboard-stream HTTP/1.1\r\nHost: x\r\n\r\n")
        out = b""
        with trio.fail_after(5):
            while b"event: status" not in out:
                out += await stream.receive_some(65536)
            p.stop.set()
            while data := await stream.receive_some(65536):
                out += data
    assert out.endswith(b"\r\n0\r\n\r\n")  # a proper end of the chunked body, then close
    last = out[: -len(b"\r\n0\r\n\r\n")].rsplit(b"\r\n", 2)[-1]
    assert last.startswith(b"retry: ") and 1000 <= int(last.split()[1]) <= 4000


async def test_a_stream_asked_for_on_a_hypercorn_keep_alive_connection_is_served_too(client, proxy):
    assert (await client.get("/healthz")).status_code == 200  # this connection now belongs to Hypercorn
    async with open_stream(client) as (_, reader):  # httpx reuses it: the ASGI fallback serves the stream
        assert (await reader.next()).event == "snapshot"
        await post_callback(client, envelope("q9", oWaiting=2))
        _, data = await reader.next_json()
        assert data["queues"]["q9"]["waiting"] == 2


async def test_a_socket_that_stops_draining_is_cut_by_our_own_deadline_not_the_kernels():
    """A Unix socket pair has no TCP_USER_TIMEOUT: the stall cut here can only be the stream path's."""
    from proxy.http.cors import CorsPolicy
    from proxy.runtime import build_runtime
    from proxy.state.view import QueueView
    from proxy.stream.connection import StreamConnections
    from tests.conftest import proxy_settings

    rt = build_runtime(proxy_settings(client_stall_s=0.5, client_buffer=1000))
    ours, theirs = trio.socket.socketpair()
    server = trio.SocketStream(ours)
    head = b"GET /dashboard-stream HTTP/1.1\r\nHost: x\r\n\r\n"
    big = b'{"name":"' + b"x" * 50_000 + b'"}'
    async with trio.open_nursery() as nursery:
        nursery.start_soon(StreamConnections(rt, CorsPolicy(())).serve, server, head, trio.current_time() + 5)
        with trio.fail_after(5):
            while rt.broker.subscriber_count == 0:  # noqa: ASYNC110  # the handler attaches in its own task
                await trio.sleep(0.01)
            t0 = trio.current_time()
            n = 0
            while rt.broker.subscriber_count:  # the peer never reads: the kernel buffer fills, then the cut
                n += 1
                rt.broker.publish({"q": QueueView("q", {"waiting": n}, big)})
                await trio.sleep(0.01)
        assert 0.4 < trio.current_time() - t0 < 3
    assert 'queuecast_sse_disconnects_total{reason="stalled"} 1.0' in rt.metrics.render().decode()
    assert 'queuecast_sse_clients 0.0' in rt.metrics.render().decode()
    theirs.close()
