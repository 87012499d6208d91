"""The stream path's plain-head parser: it either returns exactly what h11 parses or leaves the head to h11."""

from __future__ import annotations

import h11
import pytest

from proxy.stream.connection import MAX_HEAD, parse_plain_head

HEADS = [
    b"GET /dashboard-stream HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nAccept: text/event-stream\r\n\r\n",
    b"GET /dashboard-stream?queues=a,b&lastEventId=e:3 HTTP/1.1\r\nhost: x\r\nOrigin:  http://a.example  \r\n"
    b"Last-Event-ID: e:7\r\nX-Empty:\r\nX-Inner: a \t b\r\n\r\n",
    b"GET /dashboard-stream HTTP/1.0\r\n\r\n",
    b"OPTIONS /dashboard-stream HTTP/1.1\r\nHost: a\r\nAccess-Control-Request-Method: GET\r\n\r\n",
    b"GET /dashboard-stream HTTP/1.1\r\nHost: a\r\n\r\nGET /junk HTTP/1.1\r\n\r\n",  # pipelined after the head
]
LEFT_TO_H11 = [
    b"GET /dashboard-stream HTTP/1.1\r\n\r\n",  # no Host: h11 says 400
    b"GET /dashboard-stream HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    b"GET /dashboard-stream HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",
    b"GET /dashboard-stream HTTP/1.1\r\nHost: a\r\nX: \x01\r\n\r\n",
    b"GET /dashboard-stream HTTP/1.1\r\nHost: a\r\nX: caf\xc3\xa9\r\n\r\n",
    b"GET /dashboard-stream HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
    b"GET /dashboard-stream HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"GET /dashboard-stream HTTP/1.1\nHost: a\n\n",  # bare LF
    b"GET /dashboard-stream HTTP/2.0\r\nHost: a\r\n\r\n",
    b"G(T /dashboard-stream HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET /dashboard-stream HTTP/1.1\r\nHost: a\r\n",  # incomplete
    b"GET /dashboard-stream HTTP/1.1\r\nHost: a\r\nX-Big: " + b"x" * MAX_HEAD + b"\r\n\r\n",
]


@pytest.mark.parametrize("head", HEADS)
def test_a_plain_head_parses_as_h11_parses_it(head: bytes) -> None:
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(head)
    expected = conn.next_event()
    assert isinstance(expected, h11.Request)
    got = parse_plain_head(head)
    assert got is not None
    assert (got.method, got.target, got.http_version) == (expected.method, expected.target, expected.http_version)
    assert got.headers == list(expected.headers)


@pytest.mark.parametrize("head", LEFT_TO_H11)
def test_anything_else_is_left_to_h11(head: bytes) -> None:
    assert parse_plain_head(head) is None
