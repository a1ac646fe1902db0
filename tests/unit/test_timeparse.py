"""The time-string parser: a table of real-shaped inputs, then properties.

The table is the specification by example; every row is (text, period, clock). A row
with period ``None`` must abstain. The properties check what no table can: every
clock written every supported way, arbitrary text, options and ranges.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.strategies.records import time_slots
from tests.strategies.times import WrittenTime, clocks, fullwidth, written_times

from slotcap.domain.defaults import DEFAULT_TIME_SLOTS
from slotcap.domain.model import ClinicTimeSlot, Period
from slotcap.domain.timeparse import (
    ABSTAIN_REASONS,
    READ_REASONS,
    REASONS,
    ParsedTime,
    _clear_caches,
    _decide,
    _general,
    parse_preferred_time,
    period_of_clock,
)
from slotcap.domain.timeparse._hours import DEFAULT_HOURS, clinic_hours
from slotcap.domain.timeparse._normalise import normalise

M, A = Period.MORNING, Period.AFTERNOON


def t(hour: int, minute: int = 0) -> dt.time:
    return dt.time(hour, minute)


# (text, expected period, expected clock). Grouped by the corpus families, then the
# edge cases the issue lists.
CASES: list[tuple[str, Period | None, dt.time | None]] = [
    # --- h12_ampm: am/pm in every spelling, prefix or suffix, glued or spaced
    ("9:00 AM", M, t(9)),
    ("9:15 am", M, t(9, 15)),
    ("9:00AM", M, t(9)),
    ("09:00 AM", M, t(9)),
    ("9:00 a.m.", M, t(9)),
    ("9:00 A.M.", M, t(9)),
    ("9 a. m.", M, t(9)),
    ("9am", M, t(9)),
    ("9 AM", M, t(9)),
    ("AM 9:30", M, t(9, 30)),
    ("am9:30", M, t(9, 30)),
    ("9:30p.m.", A, t(21, 30)),
    ("10a", M, t(10)),
    ("10:30a", M, t(10, 30)),
    ("3p", A, t(15)),
    ("3:15p", A, t(15, 15)),
    ("11:50 AM", M, t(11, 50)),
    ("12:00 PM", A, t(12)),
    ("12pm", A, t(12)),
    ("12:30 PM", A, t(12, 30)),
    ("1:10 PM", A, t(13, 10)),
    ("5:45 PM", A, t(17, 45)),
    ("PM 3:30", A, t(15, 30)),
    ("pm 3", A, t(15)),
    ("09:00 PM", A, t(21)),
    ("10.30am", M, t(10, 30)),
    ("930am", M, t(9, 30)),
    ("1230pm", A, t(12, 30)),
    ("ＡＭ ９：３０", M, t(9, 30)),
    ("㏘ 3:00", A, t(15)),
    ("I'd like 10am please", M, t(10)),
    ("10am please", M, t(10)),
    ("approx 2pm", A, t(14)),
    ("tonight 8pm", A, t(20)),
    # --- hhmm24 and HHMM / H.MM
    ("09:10", M, t(9, 10)),
    ("10:15", M, t(10, 15)),
    ("11:20", M, t(11, 20)),
    ("12:10", A, t(12, 10)),
    ("13:15", A, t(13, 15)),
    ("17:50", A, t(17, 50)),
    ("14 : 00", A, t(14)),
    ("14: 00", A, t(14)),
    ("10:30:00", M, t(10, 30)),
    ("０９：００", M, t(9)),
    ("１４：３０", A, t(14, 30)),
    ("0930", M, t(9, 30)),
    ("1430", A, t(14, 30)),
    ("9.30", M, t(9, 30)),
    ("14.30", A, t(14, 30)),
    ("09.30", M, t(9, 30)),
    ("2024-03-05 14:00", A, t(14)),
    ("2024.03.05 10:00", M, t(10)),
    ("3월 5일 오후 2시", A, t(14)),
    ("3/5 10시", M, t(10)),
    # zero-padded hours are 24-hour notation, even outside clinic hours
    ("02:00", M, t(2)),
    ("07:30", M, t(7, 30)),
    ("09시", M, t(9)),
    # --- ko_hour24: bare Korean hours (clinic hours decide 1-11)
    ("9시", M, t(9)),
    ("10시", M, t(10)),
    ("11시", M, t(11)),
    ("12시", A, t(12)),
    ("13시", A, t(13)),
    ("14시", A, t(14)),
    ("17시", A, t(17)),
    ("20시", A, t(20)),
    ("2시", A, t(14)),
    ("3시 반", A, t(15, 30)),
    ("3시반", A, t(15, 30)),
    ("10시 30분", M, t(10, 30)),
    ("10시30분", M, t(10, 30)),
    ("11시 59분", M, t(11, 59)),
    ("9 시", M, t(9)),
    ("14시 30분", A, t(14, 30)),
    # --- ko_kw_hour / ko_kw_hm / ko_kw_half: 오전/오후 always win
    ("오전 9시", M, t(9)),
    ("오전 11시", M, t(11)),
    ("오후 1시", A, t(13)),
    ("오후 5시", A, t(17)),
    ("오전 9시 40분", M, t(9, 40)),
    ("오후 2시 10분", A, t(14, 10)),
    ("오후2시10분", A, t(14, 10)),
    ("오후 2시10분", A, t(14, 10)),
    ("오후 2 시 10 분", A, t(14, 10)),
    ("오후 02시 10분", A, t(14, 10)),
    ("오후 12시 10분", A, t(12, 10)),
    ("오전 9시 반", M, t(9, 30)),
    ("오전9시반", M, t(9, 30)),
    ("오후 5시 반", A, t(17, 30)),
    ("오후 3시 반쯤", A, t(15, 30)),
    ("오후 2:30", A, t(14, 30)),
    ("오후 02:00", A, t(14)),
    ("오후 14시", A, t(14)),
    ("9:30 오후", A, t(21, 30)),
    ("1:30 오후", A, t(13, 30)),
    ("3시 pm", A, t(15)),
    ("오후 3시에 가능해요", A, t(15)),
    ("월요일 오후 3시", A, t(15)),
    ("평일 오후 3시", A, t(15)),
    ("오후 2", A, t(14)),
    ("午後 3時", A, t(15)),
    # Sino-Korean and native numerals
    ("오후 세시", A, t(15)),
    ("오후 세시 삼십분", A, t(15, 30)),
    ("오후 네시 십오분", A, t(16, 15)),
    ("오전 열한시 반", M, t(11, 30)),
    ("오전 열시", M, t(10)),
    ("오후 열두시", A, t(12)),
    ("오후 한시", A, t(13)),
    ("오후 다섯시", A, t(17)),
    ("오전 아홉시 사십오분", M, t(9, 45)),
    ("오후 삼시", A, t(15)),
    ("오후 오시", A, t(17)),
    ("오전 구시 반", M, t(9, 30)),
    ("오후 일시", A, t(13)),
    ("오후 이시 반", A, t(14, 30)),
    ("오전 십일시", M, t(11)),
    ("오후 십이시", A, t(12)),
    ("두시 반", A, t(14, 30)),
    ("두 시 반에 가능", A, t(14, 30)),
    ("열시", M, t(10)),
    ("열한시", M, t(11)),
    ("세시쯤", A, t(15)),
    ("오시", A, t(17)),
    # --- day words with a clock
    ("저녁 7시", A, t(19)),
    ("밤 9시", A, t(21)),
    ("아침 8시", M, t(8)),
    ("새벽 5시", M, t(5)),
    ("점심 12시 반", A, t(12, 30)),
    ("점심 1시", A, t(13)),
    ("낮 12시", A, t(12)),
    ("낮 2시", A, t(14)),
    ("아침 3시", M, t(3)),
    ("저녁에 7시", A, t(19)),
    ("오후에 3시", A, t(15)),
    ("3 in the afternoon", A, t(15)),
    ("8 at night", A, t(20)),
    ("evening 7", A, t(19)),
    ("afternoon, around 3", A, t(15)),
    ("10 in the morning", M, t(10)),
    # --- bare12_colon: clinic hours decide (Mon-Fri 9-12 & 14-18, Sat 9-13)
    ("1:00", A, t(13)),
    ("1:59", A, t(13, 59)),
    ("2:00", A, t(14)),
    ("2:30", A, t(14, 30)),
    ("3:00", A, t(15)),
    ("4:30", A, t(16, 30)),
    ("5:00", A, t(17)),
    ("5:59", A, t(17, 59)),
    ("9:00", M, t(9)),
    ("9:5 0", None, None),
    ("10:45", M, t(10, 45)),
    ("11:30", M, t(11, 30)),
    ("12:15", A, t(12, 15)),
    ("1시", A, t(13)),
    ("한시", A, t(13)),
    # both readings outside the clinic day, or both inside: abstain
    ("6:00", None, None),
    ("7:00", None, None),
    ("8:00", None, None),
    ("8:30", None, None),
    ("6시", None, None),
    ("8시", None, None),
    # --- approximations and filler
    ("10ish", M, t(10)),
    ("10-ish", M, t(10)),
    ("10 ~ish", M, t(10)),
    ("around 10", M, t(10)),
    ("about 3", A, t(15)),
    ("at 3", A, t(15)),
    ("3시쯤", A, t(15)),
    ("3시경", A, t(15)),
    ("3시 즈음", A, t(15)),
    ("3시 정도", A, t(15)),
    ("약 3시", A, t(15)),
    ("10 o'clock", M, t(10)),
    ("10시 정각", M, t(10)),
    ("오전 10시 30분경", M, t(10, 30)),
    ("오후 3시 (15:00)", A, t(15)),
    ("3pm (15:00)", A, t(15)),
    # --- "N분 전": minutes before the hour
    ("3시 10분 전", A, t(14, 50)),
    ("3시 10분전에", A, t(14, 50)),
    ("오후 3시 15분 전", A, t(14, 45)),
    ("9시 10분 전", M, t(8, 50)),
    ("12시 10분 전", M, t(11, 50)),
    ("1시 10분 전", A, t(12, 50)),
    ("오전 1시 10분 전", None, None),
    # --- range_24 and other ranges: the start counts if the range stays in one period
    ("09:00-10:00", M, t(9)),
    ("10:00~11:00", M, t(10)),
    ("10:00 ~ 11:00", M, t(10)),
    ("9:00 - 10:00", M, t(9)),
    ("14:00-15:00", A, t(14)),
    ("13:00-14:00", A, t(13)),
    ("12:00-13:00", A, t(12)),
    ("9:00-12:00", M, t(9)),
    ("11:30-12:00", M, t(11, 30)),
    ("11:00-13:00", None, None),
    ("11:59-12:01", None, None),
    ("10:00-09:00", None, None),
    ("22:00-24:00", A, t(22)),
    ("0930-1030", M, t(9, 30)),
    ("9~10시", M, t(9)),
    ("9시 ~ 10시", M, t(9)),
    ("10시~11시", M, t(10)),
    ("10시-11시 사이", M, t(10)),
    ("10시에서 11시 사이", M, t(10)),
    ("9시부터 11시까지", M, t(9)),
    ("2~3시", A, t(14)),
    ("오후 2시~4시", A, t(14)),
    ("오후 2-3시", A, t(14)),
    ("오전 10-11시", M, t(10)),
    ("오전 10시~12시", M, t(10)),
    ("오전 11시~12시", M, t(11)),
    ("오전 10시~오후 2시", None, None),
    ("오전 11시~1시", None, None),
    ("10am to 12pm", M, t(10)),
    ("10:30AM~11:30AM", M, t(10, 30)),
    ("3:30pm-4:30pm", A, t(15, 30)),
    ("2-4pm", A, t(14)),
    ("9-11am", M, t(9)),
    ("10-12pm", M, t(10)),
    ("8-10 pm", A, t(20)),
    ("11-1pm", None, None),
    ("1-3pm", A, t(13)),
    ("12-2pm", A, t(12)),
    ("10:00-22:01", None, None),
    ("2:00-16:00", A, t(14)),
    ("9:00-13:00", None, None),
    ("오전 5시~8시", M, t(5)),
    ("오후 (2시~6시)", A, t(14)),
    ("오전 (9시~12시)", M, t(9)),
    ("Morning (9-12)", M, None),
    ("noon-1pm", A, t(12)),
    ("7-9시", M, t(7)),
    ("1-3", None, None),
    # --- open ranges: only a side lying wholly in one period decides
    ("3시 이후", A, t(15)),
    ("오후 2시 이후", A, t(14)),
    ("2시 반 이후", A, t(14, 30)),
    ("after 3pm", A, t(15)),
    ("after 3", A, t(15)),
    ("after noon", A, t(12)),
    ("오후 3시~", A, t(15)),
    ("오후 3시 이후 아무때나", A, t(15)),
    ("10시 전", M, None),
    ("12시 전", M, None),
    ("9시까지", M, None),
    ("before 10am", M, None),
    ("before noon", M, None),
    ("until 11", M, None),
    # the hour on the bound's open side decides (issue 24): "10시부터" is the morning
    ("10시 이후", M, t(10)),
    ("3시 전", A, None),
    ("from 10am", M, t(10)),
    ("10시~", M, t(10)),
    ("~3시", A, None),
    ("after 11:30", None, None),
    ("before 12:30", None, None),
    # --- words
    ("Morning", M, None),
    ("morning please", M, None),
    ("early morning", M, None),
    ("MORNINGS", M, None),
    ("afternoon", A, None),
    ("Afternoon", A, None),
    ("late afternoon", A, None),
    ("evening", A, None),
    ("EVENING", A, None),
    ("night", A, None),
    ("noon", A, t(12)),
    ("midday", A, t(12)),
    ("12 noon", A, t(12)),
    ("정오", A, t(12)),
    ("정오쯤", A, t(12)),
    ("lunch", A, None),
    ("lunchtime", A, None),
    ("after lunch", A, None),
    ("before lunch", M, None),
    ("AM", M, None),
    ("PM", A, None),
    ("a.m.", M, None),
    ("am only", M, None),
    ("오전", M, None),
    ("오후", A, None),
    ("오전타임", M, None),
    ("오후타임", A, None),
    ("오전 일찍", M, None),
    ("오전중", M, None),
    ("오전 시간대", M, None),
    ("오후 시간대", A, None),
    ("오후 늦게", A, None),
    ("평일 오후", A, None),
    ("가능하면 오전에", M, None),
    ("오후에 오시면 좋아요", A, None),
    ("아침", M, None),
    ("아침 일찍", M, None),
    ("새벽", M, None),
    ("점심", A, None),
    ("점심시간", A, None),
    ("점심 이후", A, None),
    ("점심 전", M, None),
    ("저녁", A, None),
    ("밤", A, None),
    ("퇴근 후", A, None),
    ("출근 전", M, None),
    ("I am available in the morning", M, None),
    ("3.15 오후", A, t(15, 15)),
    ("오전 2명", M, None),
    # --- outside_hours: explicit readings stand even when the clinic is closed
    ("19:00", A, t(19)),
    ("21:30", A, t(21, 30)),
    ("18:00", A, t(18)),
    ("오전 3시", M, t(3)),
    ("오전 7시", M, t(7)),
    ("오후 6시", A, t(18)),
    ("7 PM", A, t(19)),
    ("6 AM", M, t(6)),
    ("새벽 2시", M, t(2)),
    ("13pm", A, t(13)),
    # --- options: agree → period without clock; disagree → abstain
    ("9시나 10시", M, None),
    ("9 or 10am", M, None),
    ("2 or 3pm", A, None),
    ("오전 10시, 11시", M, None),
    ("오후 2시, 3시", A, None),
    ("14시3시", A, None),
    ("10시나 3시", None, None),
    ("10:00 or 15:00", None, None),
    ("11 or 1pm", None, None),
    ("오전 11시, 12시", None, None),
    ("오전 또는 오후", None, None),
    ("morning or afternoon", None, None),
    ("오전/오후", None, None),
    ("오전 오후 상관없음", None, None),
    ("10am, afternoon", None, None),
    ("9시, 오후도 가능", None, None),
    ("9시 오후도 가능", None, None),
    ("10시 오전 또는 오후", None, None),
    ("오전 14시", None, None),
    ("밤 1시", None, None),
    ("점심 9시", None, None),
    # --- abstain: empty, meaningless, impossible, midnight, negated
    ("", None, None),
    ("   ", None, None),
    ("-", None, None),
    ("?", None, None),
    ("...", None, None),
    ("0", None, None),
    ("asap", None, None),
    ("ASAP", None, None),
    ("any", None, None),
    ("anytime", None, None),
    ("no preference", None, None),
    ("아무때나", None, None),
    ("아무 때나", None, None),
    ("상관없음", None, None),
    ("언제든지", None, None),
    ("무관", None, None),
    ("9:75", None, None),
    ("25:00", None, None),
    ("24:30", None, None),
    ("9:00:75", None, None),
    ("13am", None, None),
    ("9:5", None, None),
    ("24:00", None, None),
    ("00:00", None, None),
    ("0:00", None, None),
    ("00:30", None, None),
    ("12:00 AM", None, None),
    ("12 am", None, None),
    ("오전 12시", None, None),
    ("자정", None, None),
    ("midnight", None, None),
    # negations exclude what they deny (issue 24); a denied clock excludes no period
    ("오전 안 돼요", A, None),
    ("오전 불가", A, None),
    ("not morning", A, None),
    ("no mornings", A, None),
    ("오전 X", A, None),
    ("오후 말고 오전", M, None),
    ("I can't do 10am", None, None),
    ("이시간", None, None),
    ("2시간", None, None),
    ("두 시간 정도", None, None),
    ("한시라도 빨리", None, None),
    ("일시: 미정", None, None),
    ("010-1234-5678", None, None),
    ("9-11", None, None),
    ("9h30", M, t(9, 30)),
    ("10 to 3", None, None),
    ("quarter past", None, None),
]


@pytest.mark.parametrize(("text", "period", "clock"), CASES)
def test_reads_the_table(text: str, period: Period | None, clock: dt.time | None) -> None:
    result = parse_preferred_time(text)
    assert (result.period, result.clock) == (period, clock), result
    assert result.reason in REASONS


def test_table_has_no_duplicates() -> None:
    texts = [text for text, _, _ in CASES]
    assert len(texts) == len(set(texts))


REASON_CASES = [
    ("14:00", "clock_24h"),
    ("1430", "clock_hhmm"),
    ("9am", "clock_12h_ampm"),
    ("오후 3시", "korean_ampm_hour"),
    ("저녁 7시", "day_word_hour"),
    ("2:00", "bare_hour_clinic_hours"),
    ("1:00", "bare_hour_clinic_day"),
    ("noon", "word_noon"),
    ("09:00-10:00", "range_start"),
    ("3시 이후", "after_clock"),
    ("10시 전", "before_clock"),
    ("9시나 10시", "options_agree"),
    ("오전", "word_morning"),
    ("오후", "word_afternoon"),
    ("점심", "word_lunch"),
    ("저녁", "word_evening"),
    ("", "empty"),
    ("-", "empty"),
    ("hello", "unreadable"),
    ("0", "unreadable"),
    ("asap", "no_preference"),
    ("9" * 2001, "too_long"),
    ("9:75", "impossible_time"),
    ("12 AM", "midnight"),
    ("10시나 3시", "conflicting"),
    ("6:00", "ambiguous_bare_hour"),
    ("11:00-13:00", "ambiguous_range"),
    ("after 11:30", "ambiguous_open_range"),
    ("10:00-09:00", "bad_range"),
    ("9시는 안돼요", "negated"),
    ("오전 안 돼요", "negation_remaining"),
    ("not before 2 pm", "negated_bound"),
    ("학교 끝나고", "word_daily_life"),
]


@pytest.mark.parametrize(("text", "reason"), REASON_CASES)
def test_reason_codes(text: str, reason: str) -> None:
    assert parse_preferred_time(text).reason == reason


def test_every_reason_code_is_exercised_or_special() -> None:
    exercised = {reason for _, reason in REASON_CASES}
    special = {"not_a_string", "internal_error"}
    assert exercised | special == set(REASONS)
    assert not set(READ_REASONS) & set(ABSTAIN_REASONS)


def test_every_reason_code_is_documented() -> None:
    # docs/parser.md ships with the code: a missing page is a gap to fail on, not skip.
    text = (Path(__file__).parents[2] / "docs" / "parser.md").read_text(encoding="utf-8")
    assert [code for code in REASONS if f"`{code}`" not in text] == []


@pytest.mark.parametrize("text", ["6:00", "11:00-13:00", "10시나 3시", "오전/오후"])
def test_ambiguous_results_abstain(text: str) -> None:
    result = parse_preferred_time(text)
    assert result.period is None
    assert result.ambiguous


def test_non_string_abstains() -> None:
    for value in (None, 930, 9.5, b"9:00", ["9:00"]):
        result = parse_preferred_time(value)  # type: ignore[arg-type]
        assert result == ParsedTime(None, None, False, "not_a_string")


def test_period_of_clock_boundaries() -> None:
    assert period_of_clock(t(0)) is M
    assert period_of_clock(dt.time(11, 59, 59)) is M
    assert period_of_clock(t(12)) is A
    assert period_of_clock(dt.time(23, 59, 59)) is A


# --- custom clinic hours ----------------------------------------------------------


def _weekday_slots(*spans: tuple[str, str]) -> list[ClinicTimeSlot]:
    slots = []
    for day in range(1, 6):
        for i, (start, end) in enumerate(spans):
            begin = dt.time.fromisoformat(start)
            slots.append(
                ClinicTimeSlot(
                    id=f"slot_{day}_{i}",
                    day_of_week=day,
                    period=period_of_clock(begin),
                    start_time=begin,
                    end_time=dt.time.fromisoformat(end),
                )
            )
    return slots


AFTERNOONS_ONLY = _weekday_slots(("14:00", "18:00"))
EIGHT_TO_EIGHT = _weekday_slots(("08:00", "20:00"))
EIGHT_TO_TEN = _weekday_slots(("08:00", "22:00"))


@pytest.mark.parametrize(
    ("hours", "text", "period", "clock"),
    [
        (AFTERNOONS_ONLY, "2:00", A, t(14)),
        (AFTERNOONS_ONLY, "5:30", A, t(17, 30)),
        (AFTERNOONS_ONLY, "9:00", None, None),  # 09:00 and 21:00 both closed
        (AFTERNOONS_ONLY, "1:00", None, None),  # 13:00 is before the clinic day
        (AFTERNOONS_ONLY, "09:00", M, t(9)),  # 24-hour notation needs no hours
        (AFTERNOONS_ONLY, "오전 9시", M, t(9)),  # nor does 오전
        (EIGHT_TO_EIGHT, "5:00", A, t(17)),
        (EIGHT_TO_EIGHT, "9:00", M, t(9)),  # 21:00 is closed
        (EIGHT_TO_EIGHT, "8:00", M, t(8)),  # 20:00 is the end, and ends are exclusive
        (EIGHT_TO_EIGHT, "7:00", A, t(19)),  # 07:00 is before opening
        (EIGHT_TO_TEN, "9:00", None, None),  # 09:00 and 21:00 both open
        (EIGHT_TO_TEN, "1:00", A, t(13)),
        ([], "2:00", None, None),  # no hours: no bare hour can be read
        ([], "14:00", A, t(14)),
    ],
)
def test_custom_hours(
    hours: list[ClinicTimeSlot], text: str, period: Period | None, clock: dt.time | None
) -> None:
    result = parse_preferred_time(text, hours=hours)
    assert (result.period, result.clock) == (period, clock), result


def test_inactive_slots_do_not_count() -> None:
    closed = [attrs.evolve(s, is_active=False) for s in AFTERNOONS_ONLY]
    assert parse_preferred_time("2:00", hours=closed).period is None


def test_hours_may_be_any_iterable() -> None:
    assert parse_preferred_time("2:00", hours=iter(AFTERNOONS_ONLY)).clock == t(14)
    assert parse_preferred_time("2:00", hours=tuple(AFTERNOONS_ONLY)).clock == t(14)
    assert parse_preferred_time("2:00", hours=DEFAULT_TIME_SLOTS).clock == t(14)


def test_saturday_slot_counts_for_bare_hours() -> None:
    saturday = [s for s in DEFAULT_TIME_SLOTS if s.day_of_week == 6]  # 09:00-13:00
    assert parse_preferred_time("10:00", hours=saturday).clock == t(10)
    assert parse_preferred_time("2:00", hours=saturday).period is None


# --- properties ---------------------------------------------------------------------


@given(written_times())
def test_every_written_clock_reads_back(written: WrittenTime) -> None:
    result = parse_preferred_time(written.text)
    assert result.clock == written.clock, (written, result)
    assert result.period is period_of_clock(written.clock)
    assert not result.ambiguous


@given(written_times(decorate=False))
def test_spelling_does_not_matter(written: WrittenTime) -> None:
    plain = parse_preferred_time(written.text)
    assert parse_preferred_time(fullwidth(written.text)) == plain
    assert parse_preferred_time(written.text.upper()) == plain
    assert parse_preferred_time(f"  {written.text}  ") == plain


@given(written_times(decorate=False))
def test_quick_path_agrees_with_the_general_path(written: WrittenTime) -> None:
    text = normalise(written.text)
    assert _decide(text, DEFAULT_HOURS) == _general(text, DEFAULT_HOURS)


# What people write around a time, including near misses of the quick path's own
# decorations ("이후", "전", "부터" and "~" change the meaning; "at", "by" too).
_WRAPPERS_BEFORE = ["", "희망 시간: ", "희망: ", "preferred: ", "time: ", "가능하면 ", "around ",
                    "about ", "약 ", "대략 ", "at ", "after ", "before ", "by ", "~", "오후 ",
                    "오전 ", "저녁 ", "i am ", "not ", "약", "가능하면", "희망시간:", "시간: ",
                    "예약 시간: ", "preferred time: ", "되도록 ", "시간 ", "2시간 "]  # fmt: skip
_WRAPPERS_AFTER = ["", "쯤", " 쯤", "경", " 정도", "즈음", "무렵", "에 가능해요", "에 가능합니다",
                   "요", " please", " 희망합니다", " 희망해요", "!", ".", "쯤요", " 정도!", " 이후",
                   "이후", " 전", "전", "부터", "까지", "~", " 오후", " am", "m", "a", "p", " pm",
                   "분", "0", ":00", "쯤 이후", " 정도 전", "에요", "이요",
                   " or later", "에 가능", "에 예약", "에 예약 희망", "에 방문",
                   "으로 부탁드립니다", "로 부탁드립니다", " 부탁드립니다", " 부탁해요", " 희망",
                   " 선호", "에 방문 불가", "로 부탁", "에서", " 이후로 부탁드립니다",
                   "까지 방문"]  # fmt: skip


@given(
    written_times(decorate=False),
    st.sampled_from(_WRAPPERS_BEFORE),
    st.sampled_from(_WRAPPERS_AFTER),
    st.lists(time_slots(), max_size=3),
)
def test_quick_path_agrees_with_the_general_path_around_sentence_text(
    written: WrittenTime, before: str, after: str, slots: list[ClinicTimeSlot]
) -> None:
    text = normalise(before + written.text + after)
    hours = clinic_hours(slots)
    for reduced in (DEFAULT_HOURS, hours):
        assert _decide(text, reduced) == _general(text, reduced), text


@given(
    written_times(),
    st.sampled_from(_WRAPPERS_BEFORE),
    st.sampled_from(_WRAPPERS_AFTER),
    st.sampled_from(["", " ", "  ", "\t", "\u3000", "\n"]),
    st.lists(time_slots(), max_size=3),
)
def test_reading_the_text_as_received_agrees_with_reading_it_normalised(
    written: WrittenTime, before: str, after: str, space: str, slots: list[ClinicTimeSlot]
) -> None:
    for text in (before + written.text + after, space + written.text.upper() + space):
        for reduced in (DEFAULT_HOURS, clinic_hours(slots)):
            assert _decide(text, reduced, raw=True) == _decide(normalise(text), reduced), text


@given(written_times(), st.lists(time_slots(), max_size=4))
def test_explicit_times_ignore_clinic_hours(
    written: WrittenTime, slots: list[ClinicTimeSlot]
) -> None:
    assert parse_preferred_time(written.text, hours=slots) == parse_preferred_time(written.text)


# Pieces of real inputs, so that random text often looks almost like a time.
_FRAGMENTS = [
    *"0123456789:.~-/, ",
    *["시", "분", "반", "전", "후", "쯤", "경", "에", "나", "도", "까지", "부터", "이후", "시간"],
    *["오전", "오후", "아침", "점심", "저녁", "밤", "새벽", "정오", "자정", "낮"],
    *["일", "이", "삼", "오", "구", "십", "한", "두", "세", "열", "열두"],
    *["am", "pm", "a.m.", "p", "a", "noon", "to", "or", "ish", "at", "before", "after", "x"],
    *["안 돼요", "아무때나", "０", "９", "：", "～", "\u3000", "i am"],
]
almost_times = st.lists(st.sampled_from(_FRAGMENTS), max_size=8).map("".join)


def _check_result(text: str, result: ParsedTime) -> None:
    assert result.reason in REASONS
    assert result.reason != "internal_error", text
    if result.period is None:
        assert result.reason in ABSTAIN_REASONS
    else:
        assert result.reason in READ_REASONS
        assert not result.ambiguous
    if result.period is not None and result.clock is not None:
        # Day words never override the clock: "밤 1시" (01:00) abstains instead.
        assert result.period is period_of_clock(result.clock)


@given(st.text() | almost_times)
def test_any_text_is_total_and_deterministic(text: str) -> None:
    first = parse_preferred_time(text)
    _clear_caches()
    second = parse_preferred_time(text)
    assert first == second
    _check_result(text, first)
    # The same without the safety net that turns a bug into "internal_error".
    assert _decide(normalise(text), DEFAULT_HOURS) == first or len(text) > 2000


@given(
    written_times(decorate=False),
    written_times(decorate=False),
    st.sampled_from([" 또는 ", " or ", ", ", " / ", "나 ", " 혹은 "]),
)
def test_options_never_invent_a_period(a: WrittenTime, b: WrittenTime, sep: str) -> None:
    result = parse_preferred_time(a.text + sep + b.text)
    pa, pb = period_of_clock(a.clock), period_of_clock(b.clock)
    if pa is pb:
        assert result.period in (pa, None), (a, b, result)
    else:
        assert result.period is None, (a, b, result)
        assert result.ambiguous


def _minus_one_minute(clock: dt.time) -> dt.time:
    total = clock.hour * 60 + clock.minute - 1
    return dt.time(total // 60, total % 60)


@given(clocks, clocks, st.sampled_from(["-", "~", " - ", " ~ ", " to "]))
def test_a_range_reads_only_when_it_stays_in_one_period(
    start: dt.time, end: dt.time, sep: str
) -> None:
    if end <= start:
        start, end = end, start
    result = parse_preferred_time(f"{start:%H:%M}{sep}{end:%H:%M}")
    if start == end:
        assert result.period is None
        return
    first, last = period_of_clock(start), period_of_clock(_minus_one_minute(end))
    if first is last:
        assert (result.period, result.clock) == (first, start)
    else:
        assert result.period is None
        assert result.ambiguous


def _twelve_hour(clock: dt.time, style: str) -> str:
    h12 = clock.hour % 12 or 12
    if style == "korean":
        return f"{'오후' if clock.hour >= 12 else '오전'} {h12}시 {clock.minute}분"
    return f"{h12}:{clock.minute:02d}{'pm' if clock.hour >= 12 else 'am'}"


@given(clocks, clocks, st.sampled_from(["english", "korean"]))
def test_ranges_read_the_same_in_12_hour_notation(start: dt.time, end: dt.time, style: str) -> None:
    if end <= start:
        start, end = end, start
    as_24h = parse_preferred_time(f"{start:%H:%M}-{end:%H:%M}")
    as_12h = parse_preferred_time(f"{_twelve_hour(start, style)}~{_twelve_hour(end, style)}")
    if {start.hour, end.hour} & {10, 11}:
        # "10:00" alone is a bare hour; the 12-hour text is explicit. Compare with truth.
        if as_12h.period is not None:
            assert as_12h.clock == start
        return
    assert (as_12h.period, as_12h.clock) == (as_24h.period, as_24h.clock)


def _opening_spans(slots: list[ClinicTimeSlot]) -> tuple[list[tuple[dt.time, dt.time]], ...]:
    active = [s for s in slots if s.is_active]
    days: dict[int, tuple[dt.time, dt.time]] = {}
    for s in active:
        first, last = days.get(s.day_of_week, (s.start_time, s.end_time))
        days[s.day_of_week] = (min(first, s.start_time), max(last, s.end_time))
    return [(s.start_time, s.end_time) for s in active], list(days.values())


@given(
    st.lists(time_slots(), max_size=6),
    st.integers(min_value=1, max_value=11),
    st.integers(min_value=0, max_value=59),
)
def test_bare_hour_rule(slots: list[ClinicTimeSlot], hour: int, minute: int) -> None:
    result = parse_preferred_time(f"{hour}:{minute:02d}", hours=slots)
    readings = [t(hour, minute), t(hour + 12, minute)]
    opening, days = _opening_spans(slots)
    in_slot = [c for c in readings if any(a <= c < b for a, b in opening)]
    in_day = [c for c in readings if any(a <= c < b for a, b in days)]
    if len(in_slot) == 1:
        expected = in_slot[0]
    elif not in_slot and len(in_day) == 1:
        expected = in_day[0]
    else:
        assert result.period is None
        assert result.ambiguous
        return
    assert result.clock == expected
    assert result.period is period_of_clock(expected)


@given(
    st.integers(min_value=9 * 60, max_value=18 * 60 - 1).filter(lambda m: not 720 <= m < 780),
    st.sampled_from(["{h}:{m:02d}", "{h}시 {m}분", "{h}시{m}분", "{h} : {m:02d}"]),
)
def test_bare_clinic_times_read_back(minutes: int, pattern: str) -> None:
    # Every clock the default clinic is open at (or at lunch, 13:xx) read from 12-hour
    # digits without am/pm. Noon (12:xx) is written as is and read as noon.
    clock = dt.time(minutes // 60, minutes % 60)
    text = pattern.format(h=clock.hour % 12 or 12, m=clock.minute)
    assert parse_preferred_time(text).clock == clock, text


@given(clocks)
def test_24h_period_is_monotonic(clock: dt.time) -> None:
    # Later never reads earlier: once AFTERNOON, every later clock is AFTERNOON.
    result = parse_preferred_time(f"{clock:%H:%M}")
    later = parse_preferred_time(f"{min(clock.hour + 1, 23):02d}:{clock.minute:02d}")
    if result.period is Period.AFTERNOON:
        assert later.period is Period.AFTERNOON
