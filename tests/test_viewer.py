"""Viewer access control: token sources, HS256 only, exp required, the queues claim, restriction."""

from __future__ import annotations

import base64
import json
import math
import time

import jwt
import pytest

from proxy.auth.viewer import EVERYONE, Viewer, ViewerGate, token_of
from proxy.errors import ConfigError, Unauthorized
from proxy.settings import Secret, load_settings

KEY = "k" * 32
GATE = ViewerGate(Secret(KEY))


def _token(claims: dict[str, object], *, key: str = KEY, alg: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=alg)


def _b64(obj: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def _reason(token: str) -> str:
    with pytest.raises(Unauthorized) as raised:
        GATE.verify(token)
    assert token not in raised.value.reason
    return raised.value.reason


def test_a_valid_token_names_its_queues_and_expiry() -> None:
    exp = int(time.time()) + 60
    viewer = GATE.verify(_token({"queues": ["q-a", "q-b"], "exp": exp}))
    assert viewer == Viewer(frozenset({"q-a", "q-b"}), float(exp))
    assert GATE.verify(_token({"queues": ["*"], "exp": exp})).queues is None


def test_issue_round_trips_and_refuses_what_verify_refuses() -> None:
    token = GATE.issue(["q-a"], ttl_s=3600)
    viewer = GATE.verify(token)
    assert viewer.queues == frozenset({"q-a"}) and 3590 < viewer.seconds_left() <= 3600
    with pytest.raises(Unauthorized):
        GATE.issue([], ttl_s=60)
    with pytest.raises(ValueError, match="ttl"):
        GATE.issue(["q-a"], ttl_s=0)


def test_alg_none_and_every_algorithm_but_hs256_are_refused() -> None:
    exp = int(time.time()) + 60
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64({'queues': ['*'], 'exp': exp})}."
    assert _reason(unsigned) == "access token algorithm must be HS256"
    for alg in ("HS384", "HS512"):
        assert _reason(_token({"queues": ["*"], "exp": exp}, key=KEY * 2, alg=alg)) == (
            "access token algorithm must be HS256")
    # an HS256 header over a body signed with another key
    assert _reason(_token({"queues": ["*"], "exp": exp}, key="x" * 32)) == "access token signature does not verify"


def test_exp_is_required_and_enforced() -> None:
    assert _reason(_token({"queues": ["*"]})) == "access token has no exp claim"
    assert _reason(_token({"queues": ["*"], "exp": int(time.time()) - 1})) == "access token expired"
    assert _reason(_token({"queues": ["*"], "exp": "tomorrow"})) == "access token exp must be a number of seconds"
    later = ViewerGate(Secret(KEY), clock=lambda: time.time() + 120)
    with pytest.raises(Unauthorized, match="expired"):
        later.verify(_token({"queues": ["*"], "exp": int(time.time()) + 60}))


@pytest.mark.parametrize("queues", [None, [], "q-a", ["q-a", 3], ["q-a", ""], ["*", "q-a"]])
def test_a_bad_queues_claim_is_refused(queues: object) -> None:
    claims: dict[str, object] = {"exp": int(time.time()) + 60}
    if queues is not None:
        claims["queues"] = queues
    assert "queues claim" in _reason(_token(claims))


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "x" * 20_000, "e30.e30.", "Bearer"])
def test_garbage_is_refused_with_a_reason(garbage: str) -> None:
    with pytest.raises(Unauthorized):
        GATE.verify(garbage)


def test_the_token_comes_from_bearer_then_query_then_cookie() -> None:
    assert token_of({"authorization": "Bearer  abc "}, {"access_token": ["q"]}) == "abc"
    assert token_of({"Authorization": "bearer abc"}, {}) == "abc"
    assert token_of({"authorization": "Basic dXNlcjpwdw=="}, {"access_token": ["q"]}) == "q"
    assert token_of({"cookie": "a=1; qc_viewer=c; b=2"}, {}) == "c"
    assert token_of({"cookie": "qc_viewerx=c"}, {"other": ["1"]}) is None
    assert token_of({}, {"access_token": [""]}) is None


def test_authorize_needs_a_token_when_on_and_nothing_when_off() -> None:
    with pytest.raises(Unauthorized, match="missing access token"):
        GATE.authorize({}, {})
    token = GATE.issue(["q-a"], ttl_s=60)
    assert GATE.authorize({"cookie": f"qc_viewer={token}"}, {}).queues == frozenset({"q-a"})
    assert ViewerGate(None).authorize({}, {}) is EVERYONE and not ViewerGate(None).enabled


def test_restrict_never_widens() -> None:
    viewer = Viewer(frozenset({"a", "b"}), math.inf)
    assert viewer.restrict(None) == frozenset({"a", "b"})
    assert viewer.restrict(frozenset({"b", "c"})) == frozenset({"b"})
    assert viewer.restrict(frozenset({"c"})) == frozenset()
    assert EVERYONE.restrict(None) is None and EVERYONE.restrict(frozenset({"c"})) == frozenset({"c"})


def test_the_key_must_have_32_bytes_and_is_never_echoed() -> None:
    short = "s3cr3t-but-short"
    with pytest.raises(ConfigError) as raised:
        load_settings({"QC_DEMO": "1", "QC_VIEWER_JWT_SECRET": short})
    assert raised.value.variable == "QC_VIEWER_JWT_SECRET" and short not in str(raised.value)
    settings = load_settings({"QC_DEMO": "1", "QC_VIEWER_JWT_SECRET": KEY})
    assert settings.viewer_jwt_secret == Secret(KEY) and KEY not in repr(settings)
    with pytest.raises(ValueError):
        ViewerGate(Secret(short))


def test_previous_callback_secret_needs_the_current_one() -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings({"QC_CALLBACK_API_KEY": "k", "QC_CALLBACK_SECRET_PREVIOUS": "old"})
    assert raised.value.variable == "QC_CALLBACK_SECRET_PREVIOUS"


def test_the_keepalive_ticker_closes_a_subscriber_whose_access_expired() -> None:
    from proxy.errors import SubscriberClosed
    from proxy.hub.subscriber import Subscriber

    now = [100.0]
    subscriber = Subscriber(capacity=4, stall_s=30, clock=lambda: now[0])
    subscriber.expires_at = 105.0
    subscriber.offer_keepalive(104.9, idle_s=15)
    assert subscriber.closed_reason is None
    subscriber.offer_keepalive(105.0, idle_s=15)
    assert subscriber.closed_reason == "expired"
    with pytest.raises(SubscriberClosed, match="expired"):
        subscriber.drain()


def test_log_records_have_tokens_masked() -> None:
    import logging

    from proxy.redact import RedactTokens, redact

    token = GATE.issue(["q-a"], ttl_s=60)
    assert token not in redact(f"GET /dashboard-stream?queues=a&access_token={token}&x=1 200")
    assert "access_token=<redacted>&x=1" in redact(f"?access_token={token}&x=1")
    assert redact("Authorization: Bearer abc.def-ghi") == "Authorization: Bearer <redacted>"
    assert redact(f"token was {token}!") == "token was <jwt>!"
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "asked with %s", (f"?access_token={token}",), None)
    try:
        raise ValueError(f"bad {token}")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    assert RedactTokens().filter(record)
    assert token not in record.getMessage() and token not in (record.exc_text or "")
    assert "<jwt>" in (record.exc_text or "")


def test_a_remembered_token_still_expires_and_the_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    import proxy.auth.viewer as viewer_module

    now = [time.time()]
    gate = ViewerGate(Secret(KEY), clock=lambda: now[0])
    token = _token({"queues": ["q-a"], "exp": int(now[0]) + 30})
    assert gate.verify(token).queues == frozenset({"q-a"})
    assert gate.verify(token).queues == frozenset({"q-a"})  # remembered
    now[0] += 31
    with pytest.raises(Unauthorized, match="expired"):
        gate.verify(token)
    monkeypatch.setattr(viewer_module, "VERIFIED_CACHE", 3)
    now[0] = time.time()
    tokens = [_token({"queues": [f"q-{i}"], "exp": int(now[0]) + 60}) for i in range(5)]
    for t in tokens:
        gate.verify(t)
    assert len(gate._verified) == 3 and tokens[0] not in gate._verified
