"""Topic allowlist: exact topics and ``{id}`` templates (one dotted segment each)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from proxy.settings import validate_topic


class TopicFilter:
    """Answers "is this topic on the allowlist?" in O(1) for exact topics, one regex for templates."""

    def __init__(self, topics: Iterable[str]) -> None:
        self._exact: set[str] = set()
        patterns: list[str] = []
        for topic in topics:
            validate_topic(topic)
            if "{id}" in topic:
                patterns.append(r"\.".join("[^.]+" if s == "{id}" else re.escape(s) for s in topic.split(".")))
            else:
                self._exact.add(topic)
        self._pattern = re.compile("|".join(f"(?:{p})" for p in patterns)) if patterns else None

    def allows(self, topic: str) -> bool:
        if topic in self._exact:
            return True
        return self._pattern is not None and self._pattern.fullmatch(topic) is not None
