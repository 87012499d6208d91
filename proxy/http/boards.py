"""Saved boards: named wallboard configurations from one TOML file (``QC_BOARDS_FILE``), served at ``/b/<name>``.

The file is read once, at start-up, with the standard library's :mod:`tomllib`; anything wrong in it
stops start-up with a :class:`~proxy.errors.ConfigError` naming the file, the line and the problem.
A board is what its URL parameters would say (``docs/wallboard.md``) plus per-queue thresholds,
which no URL carries::

    [boards.sales]
    title = "Sales floor"
    queues = ["q-1", "q-2", "q-3"]          # default: every queue
    columns = ["waiting", "longest", "sl", "abandon", "agents"]
    layout = "tiles"                        # rows | tiles
    sort = "waiting"
    dir = "desc"
    page = "auto"                           # auto | fit | off
    page_seconds = 10
    min_type = 18
    wait = [60, 180]                        # seconds, amber and red
    waiting = [5, 10]
    sl = [0.8, 0.7]                         # fractions, amber and red below them

    [boards.sales.groups]                   # or: groups = "prefix" / "division"
    Inbound = ["q-1", "q-2"]
    Outbound = ["q-3"]

    [boards.sales.thresholds."q-1"]         # this queue's own thresholds
    wait = [30, 90]

The page receives the board inside the HTML it is served (``<script id="saved-board">``), so a TV's
URL stays ``/b/sales`` and a parameter added to it still wins over the file.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from proxy.contract import json_encode
from proxy.errors import ConfigError

__all__ = ["Board", "Boards", "load_boards", "parse_boards"]

VARIABLE = "QC_BOARDS_FILE"

#: The column keys of the wallboard (``proxy/static/board-columns.js``) and its aliases.
_STATUSES = ("IDLE", "INTERACTING", "COMMUNICATING", "NOT_RESPONDING", "OFF_QUEUE")
COLUMNS = frozenset({"waiting", "longest", "interacting", "alerting", "sl", "abandon", "asa", "aht", "offered",
                     "answered", "trend", *(f"agents-{s}" for s in _STATUSES)})
_ALIASES = frozenset({"agents", "available", "idle"})
_SORTABLE = (COLUMNS - {"trend"}) | {"name"}
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SEPARATORS = re.compile(r"[;:,]")


class _Invalid(Exception):
    """A problem at ``path`` (the TOML key path), turned into a ConfigError with its line."""

    def __init__(self, path: tuple[str, ...], problem: str) -> None:
        super().__init__(problem)
        self.path = path
        self.problem = problem


@dataclass(frozen=True, slots=True)
class Board:
    """One saved board: ``params`` are wallboard URL parameters; ``thresholds`` per queue id."""

    name: str
    title: str | None = None
    params: Mapping[str, str] = field(default_factory=dict)
    thresholds: Mapping[str, Mapping[str, tuple[float, float]]] = field(default_factory=dict)

    def page_json(self) -> str:
        """The board as the page reads it, safe inside a ``<script>`` element (no ``<``, ``>``, ``&``)."""
        body = {"name": self.name, "title": self.title, "params": dict(self.params),
                "thresholds": {q: {k: list(v) for k, v in t.items()} for q, t in self.thresholds.items()}}
        text = json_encode(body).decode()
        return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


@dataclass(frozen=True, slots=True)
class Boards:
    """Every saved board, by name."""

    boards: Mapping[str, Board] = field(default_factory=dict)

    def get(self, name: str) -> Board | None:
        return self.boards.get(name)


def load_boards(path: Path | None) -> Boards:
    """Read and check the boards file; no file (``None``) means no saved boards.

    Raises :class:`~proxy.errors.ConfigError` (``QC_BOARDS_FILE``) naming the file, the line and the problem.
    """
    if path is None:
        return Boards()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(VARIABLE, f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    return parse_boards(text, source=str(path))


def parse_boards(text: str, *, source: str = "<boards>") -> Boards:
    """Parse and check the TOML ``text`` of a boards file. Raises :class:`~proxy.errors.ConfigError`."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib says "... (at line 7, column 3)" or "(at end of document)": the line goes in front,
        # as for every other problem
        message = str(exc)
        found = re.search(r"\(at (?:line (\d+), column \d+|end of document)\)$", message)
        line = (found.group(1) or str(max(1, len(text.splitlines())))) if found else "?"
        problem = message[: found.start()].strip() if found else message
        raise ConfigError(VARIABLE, f"{source} line {line}: {problem}") from None
    try:
        return _boards(data)
    except _Invalid as exc:
        where = ".".join(exc.path)
        raise ConfigError(VARIABLE, f"{source} line {_line_of(text, exc.path)}: {where}: {exc.problem}") from None


# ------------------------------------------------------------------ checking


def _boards(data: dict[str, Any]) -> Boards:
    for key in data:
        if key != "boards":
            raise _Invalid((key,), "unknown key; the file holds [boards.<name>] tables")
    tables = data.get("boards", {})
    if not isinstance(tables, dict):
        raise _Invalid(("boards",), "must be a table of boards")
    boards = {}
    for name, body in tables.items():
        path = ("boards", name)
        if not _NAME.match(name):
            raise _Invalid(path, "a board name is 1 to 64 letters, digits, '-' or '_' (it is part of the URL)")
        if not isinstance(body, dict):
            raise _Invalid(path, "must be a table")
        boards[name] = _board(name, body, path)
    return Boards(boards)


def _board(name: str, body: dict[str, Any], path: tuple[str, ...]) -> Board:
    params: dict[str, str] = {}
    title: str | None = None
    thresholds: dict[str, dict[str, tuple[float, float]]] = {}
    for key, value in body.items():
        at = (*path, key)
        if key == "title":
            title = _string(at, value)
        elif key == "thresholds":
            thresholds = _queue_thresholds(at, value)
        elif key in _PARAMS:
            param, convert = _PARAMS[key]
            params[param] = convert(at, value)
        else:
            raise _Invalid(at, f"unknown key; one of {', '.join(sorted([*_PARAMS, 'title', 'thresholds']))}")
    return Board(name, title, params, thresholds)


def _string(at: tuple[str, ...], value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Invalid(at, "must be a non-empty string")
    return value


def _strings(at: tuple[str, ...], value: Any) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        raise _Invalid(at, "must be a non-empty list of non-empty strings")
    for v in value:
        if _SEPARATORS.search(v):
            raise _Invalid(at, f"{v!r}: ';', ':' and ',' cannot be part of a name here")
    return [v.strip() for v in value]


def _one_of(*allowed: str) -> Callable[[tuple[str, ...], Any], str]:
    def convert(at: tuple[str, ...], value: Any) -> str:
        if value not in allowed:
            raise _Invalid(at, f"{value!r} is not one of {', '.join(allowed)}")
        return str(value)

    return convert


def _number(lo: float) -> Callable[[tuple[str, ...], Any], str]:
    def convert(at: tuple[str, ...], value: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, int | float) or not value >= lo:
            raise _Invalid(at, f"must be a number of at least {lo:g}")
        return f"{value:g}"

    return convert


def _queues(at: tuple[str, ...], value: Any) -> str:
    return ",".join(_strings(at, value))


def _columns(at: tuple[str, ...], value: Any) -> str:
    columns = _strings(at, value)
    for c in columns:
        if c not in COLUMNS | _ALIASES:
            raise _Invalid(at, f"unknown column {c!r}; one of {', '.join(sorted(COLUMNS | _ALIASES))}")
    return ",".join(columns)


def _sort(at: tuple[str, ...], value: Any) -> str:
    if value not in _SORTABLE:
        raise _Invalid(at, f"cannot sort by {value!r}; one of {', '.join(sorted(_SORTABLE))}")
    return str(value)


def _groups(at: tuple[str, ...], value: Any) -> str:
    if value in ("prefix", "division"):
        return str(value)
    if not isinstance(value, dict) or not value:
        raise _Invalid(at, "must be \"prefix\", \"division\" or a table of group name = [queue ids or names]")
    parts = []
    for group, members in value.items():
        if _SEPARATORS.search(group) or not group.strip():
            raise _Invalid((*at, group), "a group name cannot be empty or hold ';', ':' or ','")
        parts.append(f"{group}:{','.join(_strings((*at, group), members))}")
    return ";".join(parts)


def _pair(kind: str) -> Callable[[tuple[str, ...], Any], tuple[float, float]]:
    """``[amber, red]``: rising for waits and counts, falling (fractions) for service level."""

    def convert(at: tuple[str, ...], value: Any) -> tuple[float, float]:
        ok = (isinstance(value, list) and len(value) == 2
              and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value))
        if not ok:
            raise _Invalid(at, "must be [amber, red], two numbers")
        amber, red = float(value[0]), float(value[1])
        if kind == "sl":
            if not (0 <= red <= amber <= 1):
                raise _Invalid(at, "service level thresholds are fractions with amber ≥ red, e.g. [0.8, 0.7]")
        elif not (0 <= amber <= red):
            raise _Invalid(at, "must be [amber, red] with 0 ≤ amber ≤ red")
        return amber, red

    return convert


_PAIRS = {"wait": _pair("wait"), "waiting": _pair("waiting"), "sl": _pair("sl")}


def _pair_param(kind: str) -> Callable[[tuple[str, ...], Any], str]:
    def convert(at: tuple[str, ...], value: Any) -> str:
        amber, red = _PAIRS[kind](at, value)
        return f"{amber:g},{red:g}"

    return convert


def _queue_thresholds(at: tuple[str, ...], value: Any) -> dict[str, dict[str, tuple[float, float]]]:
    if not isinstance(value, dict):
        raise _Invalid(at, 'must be a table of queue id = {wait = [..], waiting = [..], sl = [..]}')
    out: dict[str, dict[str, tuple[float, float]]] = {}
    for queue, own in value.items():
        q_at = (*at, queue)
        if not isinstance(own, dict) or not own:
            raise _Invalid(q_at, "must be a table with wait, waiting or sl")
        out[queue] = {}
        for kind, pair in own.items():
            if kind not in _PAIRS:
                raise _Invalid((*q_at, kind), "unknown threshold; one of sl, wait, waiting")
            out[queue][kind] = _PAIRS[kind]((*q_at, kind), pair)
    return out


#: TOML key → (URL parameter, conversion).
_PARAMS: dict[str, tuple[str, Callable[[tuple[str, ...], Any], str]]] = {
    "queues": ("queues", _queues),
    "columns": ("columns", _columns),
    "layout": ("layout", _one_of("rows", "tiles")),
    "groups": ("groups", _groups),
    "sort": ("sort", _sort),
    "dir": ("dir", _one_of("asc", "desc")),
    "page": ("page", _one_of("auto", "fit", "off")),
    "page_seconds": ("pageSeconds", _number(2)),
    "min_type": ("minType", _number(6)),
    "display": ("display", _one_of("large", "normal")),
    "stale_after": ("staleAfter", _number(1)),
    "wait": ("wait", _pair_param("wait")),
    "waiting": ("waiting", _pair_param("waiting")),
    "sl": ("sl", _pair_param("sl")),
}


# ------------------------------------------------------------------ where a key is written

_KEY_PART = re.compile(r'"((?:[^"\\]|\\.)*)"|\'([^\']*)\'|([A-Za-z0-9_-]+)')


def _keys(text: str) -> tuple[str, ...]:
    return tuple(next(g for g in m.groups() if g is not None) for m in _KEY_PART.finditer(text))


def _line_of(text: str, path: tuple[str, ...]) -> int:
    """The line where ``path`` is written: its own key or table header, else the deepest enclosing one."""
    table: tuple[str, ...] = ()
    best, depth = 1, 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            table = _keys(line.split("]")[0])
            written = table
        elif "=" in line:
            written = table + _keys(line.split("=", 1)[0])
        else:
            continue
        if written == path:
            return number
        if path[: len(written)] == written and len(written) > depth:
            best, depth = number, len(written)
    return best
