"""Client-credentials login and the queue listing, through the SDK's own calls."""

from __future__ import annotations

import json
from collections.abc import Callable

import PureCloudPlatformClientV2 as sdk
import pytest
from PureCloudPlatformClientV2.rest import ApiException

from .conftest import Sim, assert_lossless, deserialize, last_json


def test_client_credentials_login_gives_a_token_the_api_accepts(sim: Sim) -> None:
    client = sim.api_client()
    assert client.access_token
    listing = sdk.RoutingApi(client).get_routing_queues()
    assert listing.total == len(sim.queue_ids())


def test_a_wrong_secret_is_refused_with_invalid_client(sim: Sim) -> None:
    client = sdk.api_client.ApiClient(host=sim.url)
    with pytest.raises(ApiException) as info:
        client.get_client_credentials_token(sim.settings.client_id, "not-the-secret")
    assert info.value.status == 401
    assert json.loads(info.value.body)["error"] == "invalid_client"


def test_a_bad_token_is_an_error_body_the_sdk_reads(sim: Sim) -> None:
    client = sdk.api_client.ApiClient(host=sim.url)
    client.access_token = "not-a-token"
    with pytest.raises(ApiException) as info:
        sdk.RoutingApi(client).get_routing_queues()
    assert info.value.status == 401
    body = json.loads(info.value.body)
    error = deserialize(client, body, "ErrorBody")
    assert_lossless(client, body, error)
    assert (error.status, error.code) == (401, "bad.credentials")


def test_queues_page_through_every_queue(start_sim: Callable[..., Sim]) -> None:
    sim = start_sim(queues=7)
    client = sim.api_client()
    api = sdk.RoutingApi(client)
    seen: list[str] = []
    page = api.get_routing_queues(page_size=3, page_number=1)
    assert_lossless(client, last_json(client), page)
    assert (page.page_size, page.page_count, page.total) == (3, 3, 7)
    for n in range(1, page.page_count + 1):
        page = api.get_routing_queues(page_size=3, page_number=n)
        assert page.page_number == n
        seen.extend(q.id for q in page.entities)
        assert all(q.name and q.self_uri == f"/api/v2/routing/queues/{q.id}" for q in page.entities)
    assert seen == sim.queue_ids()
    assert api.get_routing_queues(page_size=3, page_number=4).entities == []


def test_an_unknown_route_is_an_error_body_the_sdk_reads(sim: Sim) -> None:
    client = sim.api_client()
    with pytest.raises(ApiException) as info:
        client.call_api("/api/v2/no/such/thing", "GET", header_params={"Accept": "application/json"},
                        auth_settings=["PureCloud OAuth"], response_type="Channel")
    assert info.value.status == 404
    body = json.loads(info.value.body)
    assert_lossless(client, body, deserialize(client, body, "ErrorBody"))
