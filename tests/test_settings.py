import pytest

from proxy.errors import ConfigError
from proxy.settings import DEFAULT_TOPICS, Secret, load_settings

BASE = {"QC_CALLBACK_SECRET": "s3cret-value"}


def test_defaults_are_documented_values():
    s = load_settings(BASE)
    assert (s.host, s.port, s.aggregate_ms, s.max_body_bytes) == ("127.0.0.1", 8080, 500, 1024 * 1024)
    assert s.topics == DEFAULT_TOPICS
    assert s.keepalive_s == 15.0 and s.dedupe_max_ids == 100_000 and s.dedupe_horizon_s == 900.0


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"QC_PORT": "http"}, "QC_PORT"),
        ({"QC_PORT": "70000"}, "QC_PORT"),
        ({"QC_AGGREGATE_MS": "-1"}, "QC_AGGREGATE_MS"),
        ({"QC_DEMO": "maybe"}, "QC_DEMO"),
        ({"QC_TOPICS": "v2.analytics.queues.*.observations"}, "QC_TOPICS"),
        ({"QC_TOPICS": "v2.routing.#"}, "QC_TOPICS"),
        ({"QC_TOPICS": "v2..observations"}, "QC_TOPICS"),
        ({"QC_CORS_ORIGINS": "*"}, "QC_CORS_ORIGINS"),
        ({"QC_CORS_ORIGINS": "wall.example.com"}, "QC_CORS_ORIGINS"),
        ({"QC_UPSTREAM": "poll"}, "QC_UPSTREAM"),
        ({"QC_REGION": "mars_1"}, "QC_REGION"),
        ({"QC_UPSTREAM": "notifications"}, "QC_REGION"),
        ({"QC_UPSTREAM": "notifications", "QC_REGION": "eu_west_1"}, "QC_CLIENT_ID"),
        ({"QC_CLIENT_SECRET_FILE": "/nonexistent/secret"}, "QC_CLIENT_SECRET_FILE"),
    ],
)
def test_bad_value_stops_start_up_naming_the_variable(env, variable):
    with pytest.raises(ConfigError) as info:
        load_settings({**BASE, **env})
    assert info.value.variable == variable
    assert str(info.value).startswith(variable)


def test_callback_secret_is_required_unless_demo():
    with pytest.raises(ConfigError) as info:
        load_settings({})
    assert info.value.variable == "QC_CALLBACK_SECRET"
    assert load_settings({"QC_DEMO": "1"}).demo
    assert load_settings({"QC_CALLBACK_API_KEY": "k"}).callback_api_key == Secret("k")


def test_star_cors_only_in_demo_mode():
    assert load_settings({"QC_DEMO": "1", "QC_CORS_ORIGINS": "*"}).cors_origins == ("*",)


def test_topic_templates_and_exact_topics_are_accepted():
    topics = "v2.analytics.queues.{id}.observations, com.genesyscloud.telephony.queue.update"
    s = load_settings({**BASE, "QC_TOPICS": topics})
    assert s.topics == ("v2.analytics.queues.{id}.observations", "com.genesyscloud.telephony.queue.update")


def test_region_maps_to_real_hosts():
    s = load_settings({**BASE, "QC_REGION": "eu_central_1"})
    assert (s.api_base, s.login_base) == ("https://api.mypurecloud.de", "https://login.mypurecloud.de")


def test_secrets_never_show_in_repr_or_errors(tmp_path):
    secret_file = tmp_path / "secret"
    secret_file.write_text("file-secret-xyz\n")
    s = load_settings({**BASE, "QC_CLIENT_SECRET_FILE": str(secret_file)})
    assert s.client_secret is not None and s.client_secret.reveal() == "file-secret-xyz"
    text = repr(s) + str(s)
    assert "s3cret-value" not in text and "file-secret-xyz" not in text
    with pytest.raises(ConfigError) as info:
        load_settings({"QC_CALLBACK_SECRET": "s3cret-value", "QC_PORT": "s3cret-value"})
    assert "QC_PORT" in str(info.value)
