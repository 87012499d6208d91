"""A bare HTTP/1.1 server on raw trio sockets: the bench's yardstick and the recorder's receiver.

``python -m bench.echo --port 0`` prints ``http://127.0.0.1:PORT`` and answers every request with
200 and the request body. The bench measures it with the same client code as the proxy, so the
ratio proxy/echo cancels out the machine's speed and the harness's own cost (that is what the
regression gate compares). :func:`serve_http` is also the callback receiver of ``queuecast record``.
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Awaitable, Callable

import trio

from bench.http1 import MAX_HEAD, ProtocolError

#: ``handler(method, path, headers, body) -> (status, body)``; header names are lower case.
Handler = Callable[[str, str, dict[str, str], bytes], Awaitable[tuple[int, bytes]]]
MAX_BODY = 8 * 1024 * 1024


async def echo_handler(method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
    return 200, body or b"{}"


async def _connection(handler: Handler, stream: trio.SocketStream) -> None:
    buf = bytearray()
    async with stream:
        try:
            while True:
                while (end := buf.find(b"\r\n\r\n")) < 0:
                    if len(buf) > MAX_HEAD:
                        raise ProtocolError("request head too large")
                    data = await stream.receive_some(65536)
                    if not data:
                        return
                    buf += data
                lines = bytes(buf[:end]).decode("latin-1").split("\r\n")
                del buf[: end + 4]
                method, path, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0"))
                if length > MAX_BODY:
                    raise ProtocolError("request body too large")
                while len(buf) < length:
                    data = await stream.receive_some(65536)
                    if not data:
                        return
                    buf += data
                body = bytes(buf[:length])
                del buf[:length]
                status, out = await handler(method, path, headers, body)
                await stream.send_all(
                    f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(out)}\r\n\r\n"
                    .encode() + out)
        except (trio.BrokenResourceError, ProtocolError, ValueError):
            return


async def serve_http(handler: Handler, *, host: str = "127.0.0.1", port: int = 0,
                     task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED) -> None:
    """Serve ``handler`` until cancelled; reports ``http://host:port`` once listening."""
    listeners = await trio.open_tcp_listeners(port, host=host, backlog=4096)
    bound = listeners[0].socket.getsockname()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(functools.partial(trio.serve_listeners, functools.partial(_connection, handler),
                                             listeners, handler_nursery=nursery))
        task_status.started(f"http://{bound[0]}:{bound[1]}")
        await trio.sleep_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.echo", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)

    async def run() -> None:
        async with trio.open_nursery() as nursery:
            url = await nursery.start(functools.partial(serve_http, echo_handler, host=args.host, port=args.port))
            print(f"echo listening on {url}", flush=True)

    try:
        trio.run(run)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
