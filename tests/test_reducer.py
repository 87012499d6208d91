from datetime import UTC, datetime, timedelta

from proxy.state.observation import IntervalObservation, QueueObservation
from proxy.state.reducer import Outcome, Reducer

T0 = datetime(2026, 11, 27, 21, 0, tzinfo=UTC)
IV = T0.replace(minute=0)
IV_END = IV + timedelta(minutes=30)


def t(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def obs(media="voice", at=1.0, queue="q1", **kw) -> QueueObservation:
    return QueueObservation(queue_id=queue, media_type=media, observed_at=t(at), **kw)


def test_absent_fields_are_unchanged_and_name_falls_back_to_id():
    r = Reducer()
    r.apply(obs(at=1, waiting=7, interacting=3, alerting=1))
    r.apply(obs(at=2, waiting=4))
    v = r.view("q1").body
    assert (v["waiting"], v["interacting"], v["alerting"]) == (4, 3, 1)
    assert v["name"] == "q1" and v["updatedAt"] == "2026-11-27T21:00:02.000Z"


def test_an_observation_older_than_every_held_value_is_stale():
    r = Reducer()
    assert r.apply(obs(at=5, waiting=9, agents={"IDLE": 2})) is Outcome.APPLIED
    assert r.apply(obs(at=4, waiting=1, agents={"IDLE": 7})) is Outcome.STALE
    assert r.apply(obs(at=5, waiting=1)) is Outcome.STALE
    v = r.view("q1").body
    assert v["waiting"] == 9 and v["agents"]["IDLE"] == 2


def test_staleness_is_per_queue_and_media():
    r = Reducer()
    r.apply(obs(media="voice", at=5, waiting=1))
    assert r.apply(obs(media="chat", at=1, waiting=2)) is Outcome.APPLIED
    assert r.apply(obs(queue="q2", at=1, waiting=3)) is Outcome.APPLIED
    assert r.view("q1").body["waiting"] == 3


def test_totals_sum_over_media_and_longest_wait_is_the_earliest():
    r = Reducer()
    r.apply(obs(media="voice", waiting=7, interacting=23, alerting=1, longest_waiting_since=t(-100)))
    r.apply(obs(media="chat", waiting=2, interacting=2, longest_waiting_since=t(-10)))
    v = r.view("q1").body
    assert (v["waiting"], v["interacting"], v["alerting"]) == (9, 25, 1)
    assert v["longestWaitingSince"] == "2026-11-27T20:58:20.000Z"
    assert v["media"]["chat"] == {"waiting": 2, "interacting": 2, "alerting": 0,
                                  "longestWaitingSince": "2026-11-27T20:59:50.000Z"}
    r.apply(obs(media="voice", at=3, longest_waiting_since=None))
    r.apply(obs(media="chat", at=3, longest_waiting_since=None))
    assert r.view("q1").body["longestWaitingSince"] is None


def test_agent_statuses_newest_observation_wins_and_all_five_are_present():
    r = Reducer()
    r.apply(obs(media="voice", at=2, agents={"IDLE": 4, "INTERACTING": 2}))
    r.apply(obs(media="chat", at=1, agents={"IDLE": 9}))  # applied for chat, but older agent data
    agents = r.view("q1").body["agents"]
    assert agents == {"IDLE": 4, "INTERACTING": 2, "COMMUNICATING": 0, "NOT_RESPONDING": 0, "OFF_QUEUE": 0}
    r.apply(QueueObservation("q1", None, t(3), agents={"OFF_QUEUE": 5}))  # a live message: only what changed
    assert r.view("q1").body["agents"]["IDLE"] == 4 and r.view("q1").body["agents"]["OFF_QUEUE"] == 5
    r.apply(QueueObservation("q1", None, t(4), agents={"OFF_QUEUE": 1}, agents_whole=True))  # REST: whole set
    assert r.view("q1").body["agents"] == {"IDLE": 0, "INTERACTING": 0, "COMMUNICATING": 0, "NOT_RESPONDING": 0,
                                           "OFF_QUEUE": 1}


def iv(start=IV, **kw) -> IntervalObservation:
    return IntervalObservation(start=start, end=start + timedelta(minutes=30), **kw)


def test_interval_ratios_are_computed_over_media_of_the_newest_interval():
    r = Reducer()
    r.apply(obs(media="voice", interval=iv(offered=30, answered=25, answered_sum_ms=500_000, abandoned=3,
                                           sl_numerator=20, sl_denominator=25, sl_target=0.8)))
    r.apply(obs(media="chat", interval=iv(offered=11, answered=10, answered_sum_ms=312_000, abandoned=1,
                                          sl_numerator=10, sl_denominator=10)))
    i = r.view("q1").body["interval"]
    assert (i["offered"], i["answered"], i["abandoned"]) == (41, 35, 4)
    assert i["abandonRate"] == 4 / 41 and i["asaMs"] == 812_000 / 35 and i["serviceLevel"] == 30 / 35
    assert i["serviceLevelTarget"] == 0.8
    assert (i["start"], i["end"]) == ("2026-11-27T21:00:00.000Z", "2026-11-27T21:30:00.000Z")
    # voice moves into the next interval: chat's older interval drops out of the sums
    r.apply(obs(media="voice", at=2, interval=iv(start=IV_END, offered=2, answered=0, abandoned=0)))
    i = r.view("q1").body["interval"]
    assert (i["offered"], i["answered"], i["abandoned"]) == (2, 0, 0)
    assert i["asaMs"] is None and i["serviceLevel"] is None and i["abandonRate"] == 0.0


def test_ratios_are_null_when_the_denominator_is_zero():
    r = Reducer()
    r.apply(obs(interval=iv(offered=0)))
    i = r.view("q1").body["interval"]
    assert i["abandonRate"] is None and i["asaMs"] is None and i["serviceLevel"] is None


def test_within_an_interval_figures_never_go_down():
    r = Reducer()
    r.apply(obs(at=1, interval=iv(offered=5, answered=4, answered_sum_ms=40)))
    r.apply(obs(at=2, interval=iv(offered=6)))  # absent = nothing to count, but a count never shrinks
    r.apply(obs(at=0.5, interval=iv(offered=3, answered=2, answered_sum_ms=20)))  # a late copy
    i = r.view("q1").body["interval"]
    assert (i["offered"], i["answered"], i["asaMs"]) == (6, 4, 10.0)


def test_instant_metrics_are_ordered_per_metric_not_per_message():
    r = Reducer()
    assert r.apply(obs(at=5, waiting=9)) is Outcome.APPLIED
    assert r.apply(obs(at=4, waiting=1, interacting=3)) is Outcome.APPLIED  # interacting was never newer
    v = r.view("q1").body
    assert (v["waiting"], v["interacting"]) == (9, 3)


def test_waiting_to_zero_clears_the_longest_wait_and_interval_only_messages_have_no_time():
    r = Reducer()
    r.apply(obs(at=1, waiting=2, longest_waiting_since=t(-30)))
    r.apply(QueueObservation("q1", "voice", None, interval=iv(offered=1)))
    assert r.view("q1").body["longestWaitingSince"] == "2026-11-27T20:59:30.000Z"
    assert r.view("q1").body["updatedAt"] == "2026-11-27T21:00:01.000Z"  # the interval message has no time
    r.apply(obs(at=2, waiting=0, alerting=0))
    assert r.view("q1").body["longestWaitingSince"] is None


def test_roll_over_zeroes_the_interval_just_ended_and_late_messages_for_it_are_ignored():
    r = Reducer()
    r.apply(obs(at=1, interval=iv(offered=7, sl_target=0.8)))
    r.apply(obs(queue="q-old", at=1, interval=iv(start=IV - timedelta(hours=5), offered=1)))
    assert r.roll_over(IV_END, IV_END + timedelta(minutes=30)) == ["q1"]  # q-old's interval is long gone
    i = r.view("q1").body["interval"]
    assert (i["start"], i["offered"], i["serviceLevelTarget"]) == ("2026-11-27T21:30:00.000Z", 0, 0.8)
    assert r.apply(obs(at=2, interval=iv(offered=8))) is Outcome.STALE  # late, for the old interval
    assert r.view("q1").body["interval"]["offered"] == 0


def test_views_are_cached_until_the_queue_changes():
    r = Reducer()
    r.apply(obs(at=1, waiting=1))
    first = r.view("q1")
    assert r.view("q1") is first
    r.apply(obs(at=2, waiting=2))
    assert r.view("q1") is not first and r.view("q1").body["waiting"] == 2


def test_remove_forgets_the_queue():
    r = Reducer()
    r.apply(obs(waiting=1))
    assert r.remove("q1") and "q1" not in r and not r.remove("q1")
