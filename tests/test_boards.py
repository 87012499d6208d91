"""Saved boards (``QC_BOARDS_FILE``): what a good file gives the page, and how a bad one stops start-up."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from proxy.errors import ConfigError
from proxy.http.app import create_app
from proxy.http.boards import load_boards, parse_boards
from proxy.settings import load_settings
from tests.conftest import proxy_settings

GOOD = """\
# the wall by the sales floor
[boards.sales]
title = "Sales floor"
queues = ["q-1", "q-2", "q-3"]
columns = ["waiting", "longest", "sl", "agents"]
layout = "tiles"
sort = "waiting"
dir = "desc"
page_seconds = 15
wait = [45, 120]
sl = [0.85, 0.75]

[boards.sales.groups]
Inbound = ["q-1", "q-2"]
Outbound = ["q-3"]

[boards.sales.thresholds."q-2"]
wait = [30, 90]

[boards.all]
groups = "prefix"

[boards.divisions]
groups = "division"
"""


def test_a_board_becomes_url_parameters_and_per_queue_thresholds() -> None:
    boards = parse_boards(GOOD)
    sales = boards.get("sales")
    assert sales is not None and boards.get("nope") is None
    assert sales.title == "Sales floor"
    assert dict(sales.params) == {
        "queues": "q-1,q-2,q-3", "columns": "waiting,longest,sl,agents", "layout": "tiles", "sort": "waiting",
        "dir": "desc", "pageSeconds": "15", "wait": "45,120", "sl": "0.85,0.75",
        "groups": "Inbound:q-1,q-2;Outbound:q-3",
    }
    assert sales.thresholds == {"q-2": {"wait": (30.0, 90.0)}}
    assert dict(boards.get("all").params) == {"groups": "prefix"}  # type: ignore[union-attr]
    assert dict(boards.get("divisions").params) == {"groups": "division"}  # type: ignore[union-attr]


def test_page_json_cannot_end_its_script_element() -> None:
    board = parse_boards('[boards.x]\ntitle = "</script><b>&"\n').get("x")
    assert board is not None
    text = board.page_json()
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text)["title"] == "</script><b>&"


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ('[boards.a]\nlayout = "grid"\n', 2, "boards.a.layout: 'grid' is not one of rows, tiles"),
        ('[boards.a]\ntitle = "A"\ncolumns = ["waiting", "colour"]\n', 3, "unknown column 'colour'"),
        ('[boards.a]\ntitle = "A"\n\n[boards.a.thresholds."q-1"]\nwait = [90, 30]\n', 5, "0 ≤ amber ≤ red"),
        ('[boards.a]\nsl = [0.7, 0.8]\n', 2, "amber ≥ red"),
        ('[boards.a]\ncolour = "red"\n', 2, "boards.a.colour: unknown key"),
        ('[boards."a b"]\ntitle = "A"\n', 1, "a board name is"),
        ('[boards.a]\ntitle = "A"\n[boards.a.groups]\n"North:East" = ["q-1"]\n', 4, "a group name cannot"),
        ('[boards.a]\ntitle = "A"\nqueues = [\n  "q-1",\n]\nsort = "colour"\n', 6, "cannot sort by 'colour'"),
        ('[boards.a]\ntitle = "A"\nqueues = ["q-1"\n', 3, "Unclosed array"),  # TOML syntax, at the end
        ('[boards.a]\ntitle = "A"\ntitle = "B"\n', 3, "Cannot overwrite a value"),
        ('title = "A"\n', 1, "unknown key"),
    ],
)
def test_a_broken_file_names_its_line_and_the_problem(text: str, line: int, words: str, tmp_path: Path) -> None:
    path = tmp_path / "boards.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_boards(path)
    assert info.value.variable == "QC_BOARDS_FILE"
    assert f"{path} line {line}: " in str(info.value), str(info.value)
    assert words in str(info.value), str(info.value)


def test_a_missing_file_stops_start_up(tmp_path: Path) -> None:
    settings = load_settings({"QC_CALLBACK_SECRET": "s", "QC_BOARDS_FILE": str(tmp_path / "none.toml")})
    assert settings.boards_file == tmp_path / "none.toml"
    with pytest.raises(ConfigError, match="QC_BOARDS_FILE: cannot read"):
        create_app(settings)


async def test_a_saved_board_is_served_at_its_short_url(tmp_path: Path) -> None:
    path = tmp_path / "boards.toml"
    path.write_text(GOOD)
    app = create_app(proxy_settings(boards_file=path))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://wall") as client:
        page = await client.get("/b/sales")
        missing = await client.get("/b/nope")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    script = page.text.split('<script type="application/json" id="saved-board">')[1].split("</script>")[0]
    assert json.loads(script)["params"]["layout"] == "tiles"
    assert '<script type="module" src="/static/app.js">' in page.text
    assert missing.status_code == 404
