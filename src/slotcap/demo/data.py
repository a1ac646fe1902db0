"""Realistic, deterministic legacy reservations for the demo, tests and benchmarks.

The same seed and the same ``today`` always give the same rows. The values look like
what the clinic's form has collected for years: Korean names, 010 phones, a mostly
female clientele, every status with sensible weights (past dates are mostly COMPLETED,
future ones PENDING/CONFIRMED), services weighted by popularity, and ``preferredTime``
free text in every family found in production (``shared/data/preferred_times_sample.tsv``):
24-hour, 12-hour AM/PM, Korean 오전/오후 N시 (반 / M분), bare "2:00", ranges, words,
hours outside the clinic's opening, and a few nobody can read ("asap", "10시나 3시").

Rows are written with the legacy columns only, exactly as the legacy app writes them.
"""

from __future__ import annotations

import datetime as dt
import random
import string
from collections.abc import Iterator, Sequence
from typing import Any

from slotcap.domain.defaults import DEFAULT_DAILY_LIMITS
from slotcap.sql import SqlConnection

__all__ = [
    "LEGACY_ROW_COLUMNS",
    "generate_reservations",
    "insert_limits",
    "insert_reservations",
    "legacy_row",
]

#: Insert order of :func:`generate_reservations`' tuples.
LEGACY_ROW_COLUMNS: tuple[str, ...] = (
    "id", "patientName", "phone", "email", "birthDate", "gender", "treatmentType",
    "preferredDate", "preferredTime", "status", "notes", "adminNotes", "createdAt",
    "updatedAt", "service", "statusChangedAt", "statusChangedBy",
)

_SURNAMES = (("김", 21), ("이", 15), ("박", 8), ("최", 5), ("정", 4), ("강", 2), ("조", 2),
             ("윤", 2), ("장", 2), ("임", 2), ("한", 1), ("오", 1), ("서", 1), ("신", 1),
             ("권", 1), ("황", 1), ("안", 1), ("송", 1), ("류", 1), ("전", 1))
_FEMALE = ("서연", "지우", "하은", "서윤", "지민", "수빈", "예은", "지현", "영희", "미숙",
           "정희", "순자", "경숙", "은정", "혜진", "수정", "민지", "유진", "소영", "지영",
           "현주", "미영", "선영", "은지", "다은", "채원", "윤서", "보람", "주희", "나연")
_MALE = ("민준", "도윤", "현우", "성민", "영수", "정훈", "지훈", "준호", "동현", "상우",
         "재원", "승민", "태양", "우진", "건우", "철수", "병철", "진호", "시우", "예준")
_MAIL_DOMAINS = ("naver.com", "gmail.com", "daum.net", "kakao.com", "hanmail.net")
_SERVICES = (("WRINKLE_BOTOX", 30), ("SKIN_CARE", 25), ("VOLUME_LIFTING", 15),
             ("REMOVAL_PROCEDURE", 12), ("OTHER_CONSULTATION", 10), ("BODY_CARE", 8))
_PAST_STATUS = (("COMPLETED", 75), ("CANCELLED", 12), ("NO_SHOW", 8), ("CONFIRMED", 3),
                ("PENDING", 2))
_FUTURE_STATUS = (("CONFIRMED", 55), ("PENDING", 35), ("CANCELLED", 10))
_NOTES = ("첫 방문입니다", "주차 가능한가요?", "지난번 시술 후 상담 희망", "오후 늦게 가능",
          "친구 소개로 예약합니다", "통화 가능 시간: 저녁", "알레르기 있음 (리도카인)",
          "가격 문의", "재방문 - 2주 후 체크", "시간 변경 가능하면 연락 주세요")

#: Families of the sample file, with how often each appears in the demo.
_FAMILIES = (("hhmm24", 28), ("h12_ampm", 22), ("ko_kw_hm", 12), ("ko_kw_hour", 6),
             ("ko_kw_half", 3), ("ko_hour24", 5), ("bare12_colon", 5), ("range_24", 3),
             ("words", 8), ("abstain", 3), ("outside_hours", 2))
_WORDS = {"MORNING": ("Morning", "오전 일찍", "오전타임", "10a", "11시 59분", "morning"),
          "AFTERNOON": ("noon", "평일 오후", "14 : 00", "Afternoon", "오후")}
_UNREADABLE = ("asap", "10시나 3시", "9:75", "0", "상관없음", "아무때나")
_OUTSIDE = ("19:00", "오전 3시", "7 PM", "8:00 PM", "07:30")

#: Clinic opening used to place clocks: Mon–Fri 09–12 / 14–18, Saturday 09–13.
_OPEN = {"MORNING": (9 * 60, 12 * 60), "AFTERNOON": (14 * 60, 18 * 60)}
_SATURDAY_MORNING = (9 * 60, 13 * 60)


def _pick(rng: random.Random, weighted: Sequence[tuple[str, int]]) -> str:
    return rng.choices([v for v, _ in weighted], weights=[w for _, w in weighted])[0]


def _cuid(rng: random.Random) -> str:
    # Prisma's default ids look like this (25 chars, 'c' + base36); order is random.
    return "c" + "".join(rng.choices(string.ascii_lowercase + string.digits, k=24))


def _stamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _clock_text(rng: random.Random, family: str, period: str, minute_of_day: int) -> str:
    hour, minute = divmod(minute_of_day, 60)
    h12 = hour % 12 or 12
    ampm_ko = "오전" if hour < 12 else "오후"  # from the clock: 12:30 on a Saturday is 오후
    if family == "hhmm24":
        return f"{hour:02d}:{minute:02d}"
    if family == "h12_ampm":
        return f"{h12}:{minute:02d} {'AM' if hour < 12 else 'PM'}"
    if family == "ko_kw_hm":
        return f"{ampm_ko} {h12}시 {minute}분" if minute else f"{ampm_ko} {h12}시"
    if family == "ko_kw_hour":
        return f"{ampm_ko} {h12}시"
    if family == "ko_kw_half":
        return f"{ampm_ko} {h12}시 반"
    if family == "ko_hour24":
        return f"{hour}시"
    if family == "bare12_colon":
        return f"{h12}:{minute:02d}"
    if family == "range_24":
        return f"{hour:02d}:00-{hour + 1:02d}:00"
    if family == "words":
        return rng.choice(_WORDS[period])
    if family == "abstain":
        return rng.choice(_UNREADABLE)
    return rng.choice(_OUTSIDE)


def _preferred_time(rng: random.Random, day: dt.date) -> str:
    saturday = day.isoweekday() == 6
    period = "MORNING" if saturday else rng.choice(("MORNING", "AFTERNOON"))
    start, end = _SATURDAY_MORNING if saturday else _OPEN[period]
    family = _pick(rng, _FAMILIES)
    if family in ("ko_kw_hour", "ko_hour24", "range_24"):
        minute_of_day = rng.randrange(start, end - 59, 60)
    elif family == "ko_kw_half":
        minute_of_day = rng.randrange(start, end - 59, 60) + 30
    else:
        minute_of_day = rng.randrange(start, end, 10)
    return _clock_text(rng, family, period, minute_of_day)


def _preferred_date(rng: random.Random, today: dt.date) -> dt.date:
    while True:
        if rng.random() < 0.1:
            # Bookings are made up to eight weeks ahead.
            day = today + dt.timedelta(days=rng.randrange(0, 56))
        else:
            day = today - dt.timedelta(days=rng.randrange(1, 300))
        # Sunday is closed; the odd Sunday booking (1 in 100) is a real-world anomaly.
        if day.isoweekday() != 7 or rng.random() < 0.01:
            return day


def legacy_row(
    rid: str,
    *,
    preferred_time: str = "10:00",
    service: str = "WRINKLE_BOTOX",
    preferred_date: str = "2025-12-01",
    status: str = "PENDING",
) -> tuple[Any, ...]:
    """One minimal legacy row in :data:`LEGACY_ROW_COLUMNS` order (for tests)."""
    now = "2025-11-01T09:00:00.000Z"
    return (rid, "테스트 환자", "010-1234-5678", None, "1990-01-01T00:00:00.000Z", "FEMALE",
            "FIRST_VISIT", preferred_date, preferred_time, status, None, None, now, now,
            service, now, None)


def generate_reservations(
    count: int, *, seed: int = 42, today: dt.date | None = None
) -> Iterator[tuple[Any, ...]]:
    """``count`` legacy rows in :data:`LEGACY_ROW_COLUMNS` order; deterministic per seed."""
    today = today or dt.date.today()
    rng = random.Random(seed)  # noqa: S311 (demo data, not secrets)
    now = dt.datetime.combine(today, dt.time(9, 0))
    for _ in range(count):
        female = rng.random() < 0.78
        name = _pick(rng, _SURNAMES) + rng.choice(_FEMALE if female else _MALE)
        phone = f"010-{rng.randrange(2000, 10000):04d}-{rng.randrange(0, 10000):04d}"
        email = None
        if rng.random() < 0.4:
            user = "".join(rng.choices(string.ascii_lowercase, k=rng.randrange(5, 10)))
            email = f"{user}{rng.randrange(1, 100)}@{rng.choice(_MAIL_DOMAINS)}"
        age_days = int(rng.triangular(20, 70, 35) * 365.25)
        birth = dt.datetime.combine(today - dt.timedelta(days=age_days), dt.time())
        day = _preferred_date(rng, today)
        future = day >= today
        status = _pick(rng, _FUTURE_STATUS if future else _PAST_STATUS)
        created = dt.datetime.combine(day, dt.time(10)) - dt.timedelta(
            days=rng.randrange(0, 30), minutes=rng.randrange(0, 600)
        )
        created = min(created, now - dt.timedelta(minutes=rng.randrange(1, 600)))
        changed = created
        if status != "PENDING":
            changed += dt.timedelta(hours=rng.randrange(1, 48))
        changed = min(changed, now)
        yield (
            _cuid(rng), name, phone, email, _stamp(birth), "FEMALE" if female else "MALE",
            "FIRST_VISIT" if rng.random() < 0.45 else "FOLLOW_UP",
            day.isoformat(), _preferred_time(rng, day), status,
            rng.choice(_NOTES) if rng.random() < 0.15 else None,
            "전화 확인 완료" if status == "CONFIRMED" and rng.random() < 0.2 else None,
            _stamp(created), _stamp(changed), _pick(rng, _SERVICES), _stamp(changed),
            None if status == "PENDING" else "admin",
        )


def insert_reservations(conn: SqlConnection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Insert legacy rows (old columns only, as the legacy app does) in one transaction."""
    columns = ", ".join(f'"{c}"' for c in LEGACY_ROW_COLUMNS)
    marks = ", ".join(["%s"] * len(LEGACY_ROW_COLUMNS))
    with conn.transaction():
        conn.execute_many(f'INSERT INTO "reservations" ({columns}) VALUES ({marks})', rows)  # noqa: S608


def insert_limits(conn: SqlConnection) -> None:
    """The six legacy daily count limits."""
    now = "2024-01-01T00:00:00.000Z"
    with conn.transaction():
        conn.execute_many(
            'INSERT INTO "service_reservation_limits" '
            '("id", "serviceType", "dailyLimit", "isActive", "updatedAt") '
            "VALUES (%s, %s, %s, %s, %s)",
            [(lim.id, lim.service_code, lim.daily_limit, lim.is_active, now)
             for lim in DEFAULT_DAILY_LIMITS],
        )
