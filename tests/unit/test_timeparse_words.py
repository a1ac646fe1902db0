"""Reading people as they write (issue 24): English clock words, negations, open bounds,
European clocks and typing slips — by example, then by law.

The laws: every English rendering of a clock gives the period its digits give under the
same clinic hours, or abstains; a denied period is never the answer, and denying both
leaves none; what a text says after a clause break is not negated by what came before.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.strategies.records import time_slots
from tests.strategies.times import EnglishTime, WrittenTime, english_times, written_times

from slotcap.domain.model import ClinicTimeSlot, Period
from slotcap.domain.timeparse import ABSTAIN_REASONS, READ_REASONS, parse_preferred_time

M, A = Period.MORNING, Period.AFTERNOON


def t(hour: int, minute: int = 0) -> dt.time:
    return dt.time(hour, minute)


# (text, period, clock, reason); period None must abstain.
CASES: list[tuple[str, Period | None, dt.time | None, str]] = [
    # --- English number words, every shape
    ("nine thirty", M, t(9, 30), "bare_hour_clinic_hours"),
    ("Nine-thirty", M, t(9, 30), "bare_hour_clinic_hours"),
    ("two pm", A, t(14), "clock_12h_ampm"),
    ("Ten o'clock", M, t(10), "bare_hour_clinic_hours"),
    ("at two", A, t(14), "bare_hour_clinic_hours"),
    ("half past ten", M, t(10, 30), "bare_hour_clinic_hours"),
    ("quarter past nine", M, t(9, 15), "bare_hour_clinic_hours"),
    ("quarter to eleven", M, t(10, 45), "bare_hour_clinic_hours"),
    ("a quarter to five", A, t(16, 45), "bare_hour_clinic_hours"),
    ("ten to four", A, t(15, 50), "bare_hour_clinic_hours"),
    ("ten past nine", M, t(9, 10), "bare_hour_clinic_hours"),
    ("twenty-five to ten", M, t(9, 35), "bare_hour_clinic_hours"),
    ("three minutes to ten", M, t(9, 57), "bare_hour_clinic_hours"),
    ("around three", A, t(15), "bare_hour_clinic_hours"),
    ("eleven-ish", M, t(11), "bare_hour_clinic_hours"),
    ("elevenish", M, t(11), "bare_hour_clinic_hours"),
    ("three o'clock in the afternoon", A, t(15), "day_word_hour"),
    ("ten in the evening", A, t(22), "day_word_hour"),
    ("nine o'clock", M, t(9), "bare_hour_clinic_hours"),
    ("half past two", A, t(14, 30), "bare_hour_clinic_hours"),
    ("2 thirty", A, t(14, 30), "bare_hour_clinic_hours"),
    ("20 past 9", M, t(9, 20), "bare_hour_clinic_hours"),
    ("half nine", M, t(9, 30), "bare_hour_clinic_hours"),  # British: 9:30
    ("twelve fifteen", A, t(12, 15), "clock_24h"),
    ("quarter to one", A, t(12, 45), "clock_24h"),
    ("quarter to noon", M, t(11, 45), "clock_12h_ampm"),  # noon is explicit
    ("half past noon", A, t(12, 30), "clock_12h_ampm"),
    ("ten to noon pm", None, None, "conflicting"),
    ("ten sharp", M, t(10), "bare_hour_clinic_hours"),
    ("nine thirtyish", M, t(9, 30), "bare_hour_clinic_hours"),
    ("nine or ten", M, None, "options_agree"),
    ("from nine to eleven", M, t(9), "range_start"),
    ("10 to 12", M, t(10), "range_start"),
    ("2-4pm", A, t(14), "range_start"),
    # traps: ranges, counts, dates, lone words with nothing to anchor them
    ("10 to 4 pm", None, None, "ambiguous_range"),  # a range, not 3:50
    ("from ten to four", None, None, "ambiguous_range"),
    ("nine to five", None, None, "ambiguous_range"),
    ("ten or three", None, None, "conflicting"),
    ("2-4", None, None, "unreadable"),  # may be a date
    ("a quarter to", None, None, "unreadable"),
    ("o'clock", None, None, "unreadable"),
    ("2 people", None, None, "unreadable"),
    ("two people", None, None, "unreadable"),
    ("3 days", None, None, "unreadable"),
    ("in two hours", None, None, "unreadable"),
    ("room 10", None, None, "unreadable"),
    ("12/3", None, None, "unreadable"),
    ("2nd", None, None, "unreadable"),
    ("seven thirty", None, None, "ambiguous_bare_hour"),
    ("quarter to twelve pm", None, None, "conflicting"),  # 11:45 or 23:45?
    ("twelve am", None, None, "midnight"),
    ("morning is fine but afternoon better", None, None, "conflicting"),
    # --- open bounds: the hour beside the bound decides
    ("no later than 10", M, None, "before_clock"),
    ("not later than noon", M, None, "before_clock"),
    ("no earlier than 2pm", A, t(14), "after_clock"),
    ("10am at the latest", M, None, "before_clock"),
    ("10시부터 가능", M, t(10), "after_clock"),
    ("10시~", M, t(10), "after_clock"),
    ("오전 9시 이후", M, t(9), "after_clock"),
    ("~5시", A, None, "before_clock"),
    ("11시 반 이후", None, None, "ambiguous_open_range"),  # 11:30-12:30 straddles noon
    # --- negation as a reading
    ("오전은 안돼요", A, None, "negation_remaining"),
    ("오후 불가, 오전만 가능", M, None, "word_morning"),
    ("not in the morning", A, None, "negation_remaining"),
    ("afternoon is not possible", M, None, "negation_remaining"),
    ("any time except mornings", A, None, "negation_remaining"),
    ("anytime but morning", A, None, "negation_remaining"),
    ("오후는 어려워요", M, None, "negation_remaining"),
    ("오전엔 시간이 없어요", A, None, "negation_remaining"),  # no time in the morning
    ("오전엔 시간이 안 나요", A, None, "negation_remaining"),
    ("오전엔 바빠요", A, None, "negation_remaining"),  # busy
    ("안 바쁜 오후", None, None, "negated"),  # "a not-busy afternoon": unscoped
    ("오전 안 되면 오후", None, None, "conflicting"),  # a second choice, not a denial
    ("10시 안되면 11시", M, None, "options_agree"),
    ("오후 늦게 말고", None, None, "negated"),  # late afternoon denied: early one open
    ("not early mornings", None, None, "negated"),
    ("not monday morning", None, None, "negated"),  # other mornings are fine
    ("sometime in the afternoon, not too late", A, None, "word_afternoon"),
    ("오전에 일이 있어요", A, None, "negation_remaining"),  # something on in the morning
    ("오후는 좀..", M, None, "negation_remaining"),  # "the afternoon is a bit ..."
    ("오후 ㄴㄴ", M, None, "negation_remaining"),  # "no no"
    ("mornings are tough", A, None, "negation_remaining"),
    ("I work in the morning", A, None, "negation_remaining"),
    ("오후도 괜찮은데 오전은 안돼요", A, None, "word_afternoon"),  # "-는데" ends a clause
    ("오후는 괜찮고 오전은 안돼요", A, None, "word_afternoon"),
    ("오전도 안돼요", None, None, "negated"),  # the morning *too*: what else?
    ("mornings don't work either", None, None, "negated"),
    ("오전❌", A, None, "negation_remaining"),
    ("can't do 9, but 10 is fine", M, t(10), "bare_hour_clinic_hours"),
    ("10 is fine, not 9", M, t(10), "bare_hour_clinic_hours"),
    ("not 9, 2 people", None, None, "negated"),
    ("not before 2 pm", A, t(14), "negated_bound"),
    ("not after 11am", M, None, "negated_bound"),
    ("not 9, 2pm works", A, t(14), "clock_12h_ampm"),
    ("9시 말고 10시", M, t(10), "bare_hour_clinic_hours"),
    ("not 9am", None, None, "negated"),  # a clock is out; both periods remain
    ("not sure, maybe 3pm", None, None, "negated"),  # denies nothing it can name
    ("오전 안되는 건 아니에요", None, None, "negated"),  # double negation
    ("오전, 오후 안돼요", None, None, "negated"),  # is the morning denied too?
    ("저녁은 안돼요", None, None, "negated"),  # the afternoon before evening remains
    ("not morning, not afternoon", None, None, "conflicting"),
    ("mornings and afternoons are not possible", None, None, "conflicting"),
    ("오전은 안돼요, 오전 10시 가능", None, None, "conflicting"),
    ("No, afternoon", None, None, "negated"),
    # --- European clocks and typing slips
    ("14h30", A, t(14, 30), "clock_24h"),
    ("9h", M, t(9), "clock_24h"),
    ("10h00", M, t(10), "clock_24h"),
    ("2h", None, None, "ambiguous_bare_hour"),  # 02:00 as written, closed; 14h?
    ("9;30", M, t(9, 30), "bare_hour_clinic_hours"),
    ("14 ; 30", A, t(14, 30), "clock_24h"),
    ("오후 2;30", A, t(14, 30), "korean_ampm_hour"),
    # --- daily life
    ("학교 끝나고", A, None, "word_daily_life"),
    ("after school", A, None, "word_daily_life"),
    ("end of the day", A, None, "word_daily_life"),
    ("before work", M, None, "word_daily_life"),
    ("after work", A, None, "word_evening"),
    ("퇴근 후", A, None, "word_evening"),
    ("lunchtime", A, None, "word_lunch"),
]


@pytest.mark.parametrize(("text", "period", "clock", "reason"), CASES)
def test_reads_people_as_they_write(
    text: str, period: Period | None, clock: dt.time | None, reason: str
) -> None:
    result = parse_preferred_time(text)
    assert (result.period, result.clock, result.reason) == (period, clock, reason), result


def test_cases_are_unique_and_their_reasons_known() -> None:
    assert len({text for text, *_ in CASES}) == len(CASES)
    for _, period, _, reason in CASES:
        assert reason in (ABSTAIN_REASONS if period is None else READ_REASONS)


# --- English renderings read as their digits ------------------------------------------


@given(english_times(), st.none() | st.lists(time_slots(), max_size=4))
def test_english_renders_the_digits_period_or_abstains(
    said: EnglishTime, slots: list[ClinicTimeSlot] | None
) -> None:
    words = parse_preferred_time(said.text, hours=slots)
    digits = parse_preferred_time(said.digits, hours=slots)
    if words.period is not None:
        assert words.period == digits.period, (said, words, digits)
        if words.clock is not None and digits.clock is not None:
            assert words.clock == digits.clock, (said, words, digits)


@given(english_times())
def test_english_with_am_pm_or_a_24_hour_clock_reads(said: EnglishTime) -> None:
    # Coverage, not only safety: with am/pm the clock is explicit, and the words read it
    # unless the digits abstain too (12 am is midnight) or the hour is "to twelve".
    if not said.digits.lower().rstrip(".").endswith(("am", "pm", "a.m", "p.m")):
        return
    words = parse_preferred_time(said.text)
    digits = parse_preferred_time(said.digits)
    if digits.period is not None and not re.search(r"to (?:twelve|12)\b", said.text.lower()):
        assert words.period == digits.period, (said, words, digits)


# --- negation ------------------------------------------------------------------------

_PERIOD_WORDS = {
    M: ["오전", "morning", "mornings", "the morning", "AM"],
    A: ["오후", "afternoon", "afternoons", "the afternoon", "PM"],
}
_DENIALS = [
    "{w}은 안돼요", "{w}는 안 돼요", "{w} 불가", "{w} 불가능", "{w} 말고", "{w} 빼고",
    "{w} X", "{w} 제외", "{w}엔 못 가요", "{w}는 어려워요", "not {w}", "not in {w}",
    "no {w}", "{w} is not possible", "{w} not possible", "I can't do {w}",
    "any time except {w}", "anything but {w}", "{w} doesn't work",
]  # fmt: skip


@given(
    st.sampled_from([M, A]),
    st.data(),
    st.sampled_from(_DENIALS),
    st.sampled_from(["", ", ", ". ", " but "]),
    st.text(max_size=20) | written_times().map(lambda w: w.text),
)
def test_a_denied_period_is_never_the_answer(
    period: Period, data: st.DataObject, denial: str, joint: str, rest: str
) -> None:
    word = data.draw(st.sampled_from(_PERIOD_WORDS[period]))
    text = denial.format(w=word) + (joint + rest if joint else "")
    assert parse_preferred_time(text).period is not period, text


@given(st.data(), st.sampled_from(_DENIALS), st.sampled_from(_DENIALS))
def test_denying_both_periods_leaves_none(data: st.DataObject, first: str, second: str) -> None:
    morning = data.draw(st.sampled_from(_PERIOD_WORDS[M]))
    afternoon = data.draw(st.sampled_from(_PERIOD_WORDS[A]))
    for a, b in ((first.format(w=morning), second.format(w=afternoon)),
                 (first.format(w=afternoon), second.format(w=morning))):  # fmt: skip
        for joint in (", ", ". ", " and ", " "):
            text = a + joint + b
            assert parse_preferred_time(text).period is None, text


@given(st.sampled_from([M, A]), st.data(), st.sampled_from(["", " please"]))
def test_a_whole_period_denied_alone_leaves_the_other(
    period: Period, data: st.DataObject, tail: str
) -> None:
    word = data.draw(st.sampled_from(_PERIOD_WORDS[period]))
    denial = data.draw(st.sampled_from([d for d in _DENIALS if "{w}" in d]))
    text = denial.format(w=word) + tail
    other = A if period is M else M
    assert parse_preferred_time(text).period in (other, None), text


@given(written_times(), st.sampled_from(["not 9", "9시는 안돼요", "not at 3", "3시 말고"]))
def test_a_denied_clock_leaves_the_affirmed_one(written: WrittenTime, denial: str) -> None:
    # "not 9, 2pm works": the clause after the comma is affirmed, whatever came before.
    affirmed = parse_preferred_time(written.text)
    text = f"{denial}, {written.text}"
    result = parse_preferred_time(text)
    assert result.period in (affirmed.period, None), text


# --- open bounds, European clocks, typing slips ----------------------------------------


@given(st.integers(min_value=1, max_value=23), st.sampled_from([0, 15, 30, 45]))
def test_open_bounds_take_the_hour_beside_the_bound(hour: int, minute: int) -> None:
    clock = f"{hour:02d}:{minute:02d}"
    start = hour * 60 + minute
    after = parse_preferred_time(f"after {clock}")
    if start <= 11 * 60 or start >= 12 * 60:
        assert after.period == (M if start < 12 * 60 else A), after
    else:
        assert after.period is None and after.reason == "ambiguous_open_range"
    before = parse_preferred_time(f"before {clock}")
    if start <= 12 * 60 or start >= 13 * 60:
        assert before.period == (M if start <= 12 * 60 else A), before
    else:
        assert before.period is None and before.reason == "ambiguous_open_range"


@given(st.integers(min_value=12, max_value=23), st.integers(min_value=0, max_value=59))
def test_european_clocks_read_as_24_hour_clocks(hour: int, minute: int) -> None:
    european = parse_preferred_time(f"{hour}h{minute:02d}")
    assert (european.period, european.clock) == (A, t(hour, minute))
    if minute == 0:
        assert parse_preferred_time(f"{hour}h").clock == t(hour)


@given(written_times(styles=("colon_24h", "ampm")))
def test_a_semicolon_for_a_colon_reads_the_same(written: WrittenTime) -> None:
    if ":" not in written.text:
        return
    slipped = written.text.replace(":", ";", 1)
    assert parse_preferred_time(slipped).period == parse_preferred_time(written.text).period


_FRAGMENTS = [
    *"0123456789:;., h",
    *["nine", "ten", "two", "twelve", "thirty", "fifteen", "oh", "quarter", "half", "past"],
    *["to", "o'clock", "ish", "am", "pm", "not", "no", "n't", "except", "but", "at", "after"],
    *["before", "morning", "afternoon", "오전", "오후", "안돼요", "말고", "x", "불가", "시"],
    *["부터", "이후", "~", "later than", "people", "school", "퇴근 후", "아니에요"],
]


@given(st.lists(st.sampled_from(_FRAGMENTS), max_size=10).map("".join))
def test_word_soup_is_total_and_never_ambiguous_with_a_period(text: str) -> None:
    result = parse_preferred_time(text)
    assert result.reason != "internal_error", text
    if result.period is not None:
        assert result.reason in READ_REASONS and not result.ambiguous
    else:
        assert result.reason in ABSTAIN_REASONS
