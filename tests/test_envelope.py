import json

import pytest

from proxy.errors import InvalidInput
from proxy.ingest.envelope import parse_callback
from proxy.ingest.topics import TopicFilter
from proxy.settings import DEFAULT_TOPICS
from tests.helpers import envelope

TOPICS = TopicFilter(DEFAULT_TOPICS)


def parse(body):
    return parse_callback(json.dumps(body).encode(), TOPICS)


def test_single_envelope_and_batch():
    one = parse(envelope("q1", oWaiting=2))
    assert len(one) == 1 and one[0].observation is not None and one[0].observation.waiting == 2
    batch = parse([envelope("q1"), envelope("q2")])
    assert [e.observation.queue_id for e in batch if e.observation] == ["q1", "q2"]


@pytest.mark.parametrize(("mutate", "field"), [
    (lambda e: e.pop("eventId"), "$[1].eventId"),
    (lambda e: e.pop("topic"), "$[1].topic"),
    (lambda e: e.update(timestamp="yesterday"), "$[1].timestamp"),
    (lambda e: e["payload"]["queueState"].pop("queueId"), "$[1].payload.queueState.queueId"),
    (lambda e: e["payload"]["queueState"].pop("mediaType"), "$[1].payload.queueState.mediaType"),
    (lambda e: e["payload"]["queueState"].pop("observedAt"), "$[1].payload.queueState.observedAt"),
    (lambda e: e["payload"]["queueState"].update(oWaiting=-1), "$[1].payload.queueState.oWaiting"),
    (lambda e: e["payload"]["queueState"].update(oWaiting="7"), "$[1].payload.queueState.oWaiting"),
    (lambda e: e["payload"]["queueState"].update(observedAt="2026-11-27T21:00:00"),
     "$[1].payload.queueState.observedAt"),
    (lambda e: e["payload"].update(queueState=None), "$[1].payload.queueState"),
])
def test_one_bad_envelope_rejects_the_batch_naming_index_and_field(mutate, field):
    bad = envelope("q2")
    mutate(bad)
    with pytest.raises(InvalidInput) as info:
        parse([envelope("q1"), bad])
    assert info.value.field == field


def test_ignored_topics_are_validated_at_the_envelope_level_only():
    [event] = parse({"eventId": "x", "topic": "v2.users.u1.presence", "timestamp": "2026-11-27T21:00:00Z",
                     "payload": "anything"})
    assert not event.allowed and event.observation is None
    with pytest.raises(InvalidInput) as info:
        parse({"topic": "v2.users.u1.presence", "timestamp": "2026-11-27T21:00:00Z"})
    assert info.value.field == "$.eventId"


def test_unknown_fields_are_ignored():
    e = envelope("q1", oWaiting=1, somethingNew={"x": 1})
    e["newTopLevel"] = True
    assert parse(e)[0].observation is not None


def test_eventbridge_envelope_carries_an_observations_body():
    body = {
        "version": "0", "id": "eb-1", "detail-type": "v2.analytics.queues.q9.observations",
        "source": "aws.partner/genesys.com/cloud/org/suffix", "time": "2026-11-27T21:00:00Z",
        "detail": {"topicName": "v2.analytics.queues.q9.observations", "version": "2",
                   "metadata": {"CorrelationId": "c"},
                   "eventBody": {"group": {"queueId": "q9", "mediaType": "voice"}, "data": [
                       {"interval": "2026-11-27T21:00:01.000Z/2026-11-27T21:00:01.000Z",
                        "metrics": [{"metric": "oWaiting", "stats": {"count": 4}}]}]}},
    }
    [event] = parse(body)
    assert event.event_id == "eb-1" and event.observation is not None and event.observation.waiting == 4
    body["detail"]["eventBody"]["group"] = {}
    with pytest.raises(InvalidInput) as info:
        parse(body)
    assert info.value.field == "$.detail.eventBody.group.queueId"


@pytest.mark.parametrize(("raw", "field"), [(b"{", "$"), (b"[]", "$"), (b"[1]", "$[0]"), (b'"x"', "$")])
def test_malformed_json_and_non_envelopes(raw, field):
    with pytest.raises(InvalidInput) as info:
        parse_callback(raw, TOPICS)
    assert info.value.field == field
