"""The front: one port, dispatch on the request line, the callback's keep-alive h11 loop, and the
handover of a connection to Hypercorn at a request boundary (real sockets, a real proxy)."""

import json

import trio

from tests.helpers import envelope, signed


def request(method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: x", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def read_response(stream: trio.SocketStream, buf: bytearray) -> tuple[int, dict[str, str], bytes]:
    """One response with Content-Length from ``stream`` (``buf`` keeps what was read past it)."""
    with trio.fail_after(5):
        while b"\r\n\r\n" not in buf:
            data = await stream.receive_some(65536)
            assert data, "closed before a response"
            buf += data
        end = buf.index(b"\r\n\r\n")
        status_line, *lines = buf[:end].decode("latin-1").split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
        length = int(headers.get("content-length", "0"))
        del buf[: end + 4]
        while len(buf) < length:
            buf += await stream.receive_some(65536)
        body = bytes(buf[:length])
        del buf[:length]
    return int(status_line.split()[1]), headers, body


async def connect(url: str) -> trio.SocketStream:
    host, port = url.removeprefix("http://").split(":")
    return await trio.open_tcp_stream(host, int(port))


def callback_request(queue: str, waiting: int, **headers: str) -> bytes:
    raw, signed_headers = signed([envelope(queue, oWaiting=waiting)])
    return request("POST", "/api/v1/event-stream/callback", raw, {**signed_headers, **headers})


async def test_callbacks_on_one_kept_alive_connection_then_a_handover_to_hypercorn(proxy):
    stream = await connect(proxy.url)
    buf = bytearray()
    async with stream:
        for n in range(1, 4):
            await stream.send_all(callback_request("q1", n))
            status, _, body = await read_response(stream, buf)
            assert status == 200 and json.loads(body)["received"] == 1
        # pipelined: a callback and then another route on the same connection, in one write
        await stream.send_all(callback_request("q1", 9) + request("GET", "/api/v1/queues"))
        status, _, _ = await read_response(stream, buf)
        assert status == 200
        status, _, body = await read_response(stream, buf)  # answered by Hypercorn + Quart
        assert status == 200 and json.loads(body)["queues"]["q1"]["waiting"] == 9
        await stream.send_all(request("GET", "/healthz"))  # the connection stays Hypercorn's
        status, _, _ = await read_response(stream, buf)
        assert status == 200


async def test_the_callback_loop_keeps_the_callback_rules(start_proxy):
    p = await start_proxy(max_body_bytes=2048)
    stream = await connect(p.url)
    buf = bytearray()
    async with stream:
        raw, headers = signed([envelope("q1", oWaiting=1)])
        await stream.send_all(request("POST", "/api/v1/event-stream/callback", raw,
                                      {**headers, "X-Hub-Signature-256": "sha256=00"}))
        status, _, body = await read_response(stream, buf)
        assert status == 401 and json.loads(body)["error"] == "unauthorized"
        await stream.send_all(request("POST", "/api/v1/event-stream/callback", b"[{}]", headers))
        status, _, _ = await read_response(stream, buf)
        assert status == 401  # the signature is over other bytes
        await stream.send_all(request("POST", "/api/v1/event-stream/callback", b"x" * 4096, headers))
        status, _, _ = await read_response(stream, buf)
        assert status == 413
    assert p.runtime.broker.seq == 0  # nothing applied


async def test_expect_100_continue_is_answered(proxy):
    stream = await connect(proxy.url)
    raw, headers = signed([envelope("q1", oWaiting=5)])
    async with stream:
        head = request("POST", "/api/v1/event-stream/callback", b"", {**headers, "Expect": "100-continue"})
        head = head.replace(b"Content-Length: 0", b"Content-Length: %d" % len(raw))
        await stream.send_all(head)
        with trio.fail_after(5):
            interim = await stream.receive_some(65536)
        assert interim.startswith(b"HTTP/1.1 100 ")
        await stream.send_all(raw)
        status, _, _ = await read_response(stream, bytearray(interim.partition(b"\r\n\r\n")[2]))
        assert status == 200


async def test_a_slow_callback_body_is_cut(start_proxy):
    p = await start_proxy(body_timeout_s=0.5)
    stream = await connect(p.url)
    async with stream:
        await stream.send_all(b"POST /api/v1/event-stream/callback HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n[")
        out = b""
        with trio.fail_after(3):
            while data := await stream.receive_some(1024):
                out += data  # then closed by the server: the body did not come in time
    assert out.startswith(b"HTTP/1.1 408 ")


async def test_a_failing_callback_endpoint_answers_500_and_the_loop_survives():
    """A bug in the endpoint: 500 as Hypercorn would give, the connection closed, nothing raised into the
    server's nursery (which would stop the whole server)."""
    from proxy.stream.callback_path import IdleConnections, serve_callbacks

    async def broken(scope, receive, send):
        await receive()
        raise RuntimeError("bug")

    ours, theirs = trio.socket.socketpair()
    raw, headers = signed([envelope("q1", oWaiting=1)])
    head = request("POST", "/api/v1/event-stream/callback", raw, headers)
    async with trio.SocketStream(theirs) as client:
        with trio.fail_after(5):
            rest = await serve_callbacks(trio.SocketStream(ours), head, endpoint=broken, max_body_bytes=4096,
                                         head_timeout_s=1, idle_timeout_s=1, idle=IdleConnections())
        assert rest is None
        status, _, body = await read_response(client, bytearray())
    assert status == 500 and json.loads(body) == {"error": "internal"}
