import pytest

from proxy.errors import InvalidTopic
from proxy.ingest.topics import TopicFilter
from proxy.settings import DEFAULT_TOPICS


def test_default_allowlist():
    f = TopicFilter(DEFAULT_TOPICS)
    assert f.allows("com.genesyscloud.telephony.queue.update")
    assert f.allows("v2.analytics.queues.5e6f.observations")
    assert not f.allows("v2.analytics.queues.a.b.observations")  # {id} is one segment
    assert not f.allows("v2.analytics.queues.5e6f.activity")
    assert not f.allows("v2.routing.queues.5e6f.conversations")
    assert not f.allows("com.genesyscloud.telephony.queue.update.extra")


@pytest.mark.parametrize("bad", ["*", "v2.*", "v2.#.x", "v2..x", "", "v2.queues.{id"])
def test_wildcards_and_empty_segments_are_refused(bad):
    with pytest.raises(InvalidTopic):
        TopicFilter([bad])
