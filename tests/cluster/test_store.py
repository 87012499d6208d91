"""The store's edges: what a log line may show of a Redis URL."""

from __future__ import annotations

import pytest

from proxy.cluster.store import redact
from proxy.errors import ConfigError
from proxy.settings import load_settings


@pytest.mark.parametrize(("url", "shown"), [
    ("redis://:p@ss@redis:6379/0", "redis://***@redis:6379/0"),
    ("rediss://user:secret@redis.example.com:6380/2", "rediss://***@redis.example.com:6380/2"),
    ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
    ("unix:///run/redis.sock", "unix:///run/redis.sock"),
])
def test_a_logged_url_never_shows_its_credentials(url: str, shown: str) -> None:
    assert redact(url) == shown


def test_a_bad_redis_url_is_named_without_echoing_it() -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings({"QC_DEMO": "1", "QC_REDIS_URL": "http://:hunter2@redis:6379"})
    assert raised.value.variable == "QC_REDIS_URL" and "hunter2" not in str(raised.value)
    settings = load_settings({"QC_DEMO": "1", "QC_REDIS_URL": "rediss://:hunter2@redis:6380/1"})
    assert "hunter2" not in repr(settings)
