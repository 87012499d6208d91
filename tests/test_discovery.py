"""Queue discovery (``UpstreamContext.discover`` / ``rediscover``) against a routing API faked with
``httpx.MockTransport``: names and divisions, and what a re-listing counts as changed."""

from __future__ import annotations

from typing import Any

import httpx
import trio

from proxy.settings import Secret
from proxy.upstream.context import QueueChanges, UpstreamConfig, UpstreamContext
from proxy.upstream.platform import Platform, QueueDirectory
from tests.conftest import proxy_settings


def _entity(qid: str, name: str, division: str | None) -> dict[str, Any]:
    entity: dict[str, Any] = {"id": qid, "name": name, "selfUri": f"/api/v2/routing/queues/{qid}"}
    if division is not None:
        entity["division"] = {"id": f"d-{division}", "name": division,
                              "selfUri": f"/api/v2/authorization/divisions/d-{division}"}
    return entity


def _context(http: httpx.AsyncClient) -> UpstreamContext:
    """A context whose only real part is the platform: discovery reports to no sink and needs no token
    (the fake routing API asks for none)."""
    settings = proxy_settings(api_base="http://platform", login_base="http://platform", client_id="c",
                              client_secret=Secret("s"))
    return UpstreamContext(sinks=None,  # type: ignore[arg-type]  # discovery reports nothing
                           config=UpstreamConfig(mode="notifications", settings=settings),
                           platform=Platform(http), tokens=None,  # type: ignore[arg-type]  # no token asked
                           cancel_scope=trio.CancelScope())


async def test_discovery_reads_each_queues_division_and_a_move_is_a_change() -> None:
    listing = [_entity("q1", "Billing Line", "Home"), _entity("q2", "Sales Desk", "EMEA"),
               _entity("q3", "Legacy", None)]

    def routing(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"entities": listing, "pageCount": 1})

    async with httpx.AsyncClient(transport=httpx.MockTransport(routing), base_url="http://platform") as http:
        ctx = _context(http)
        ids, directory = await ctx.discover()
        assert ids == ["q1", "q2", "q3"]
        assert directory.names == {"q1": "Billing Line", "q2": "Sales Desk", "q3": "Legacy"}
        assert directory.divisions == {"q1": "Home", "q2": "EMEA"}  # a queue listed without one has none

        listing[1] = _entity("q2", "Sales Desk", "Home")  # moved to another division, same name
        shared = directory
        ids, changes = await ctx.rediscover(ids, directory)
        assert changes == QueueChanges(added=[], removed=[], renamed=["q2"])  # backfilled, so the board learns
        assert shared.divisions["q2"] == "Home"  # updated in place: the lanes hold this object


def test_an_unchanged_division_is_no_change() -> None:
    same = QueueChanges.between(["q1"], QueueDirectory({"q1": "A"}, {"q1": "Home"}),
                                ["q1"], QueueDirectory({"q1": "A"}, {"q1": "Home"}))
    assert not same
