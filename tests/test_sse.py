from proxy.sse import encode_comment, encode_event, encode_retry


def test_single_line_event():
    assert encode_event(b'{"a":1}', event="delta", id="e-1") == b'id: e-1\nevent: delta\ndata: {"a":1}\n\n'


def test_multi_line_data_becomes_several_data_lines():
    assert encode_event("one\ntwo\r\nthree\rfour") == b"data: one\ndata: two\ndata: three\ndata: four\n\n"


def test_newlines_are_stripped_from_id_and_event_so_no_field_can_be_injected():
    out = encode_event(b"x", event="delta\ndata: evil", id="1\r\nevent: hijack")
    lines = out.split(b"\n")
    assert lines[0] == b"id: 1event: hijack"
    assert lines[1] == b"event: deltadata: evil"
    assert lines[2] == b"data: x"


def test_retry_and_comment():
    assert encode_retry(3000) == b"retry: 3000\n\n"
    assert encode_comment("keep\nalive") == b": keep alive\n\n"
