"""The lexer's word alternatives: time-of-day and daily-life words, "any time", negations.

Each alternative starts in one script only (a Korean spelling and an English one are two
alternatives, "NOON" and "NOON_EN"; ``_SYM`` ones start with a symbol), so that the
master pattern (``_scan``) can try the English ones only where a Latin word starts and
the Korean ones only on the syllables they start with. Their order is the order in
which the master pattern tries them at one position.
"""

from __future__ import annotations

from typing import Final

from slotcap.domain.timeparse import _english as en

__all__ = ["PHRASE_PATTERNS"]

PHRASE_PATTERNS: Final[tuple[tuple[str, str], ...]] = (
    # Words. Each alternative starts in one script only (a Korean spelling and an English
    # one are two alternatives, "NOON" and "NOON_EN"): the master pattern tries the
    # English ones only where a Latin word starts and the Korean ones only on Hangul.
    ("NOON", r"정오"),
    ("NOON_EN", r"(?<![a-z])(?:noon|midday|mid-day)(?![a-z])"),
    ("MIDNIGHT", r"자정"),
    ("MIDNIGHT_EN", r"(?<![a-z])midnight(?![a-z])"),
    *en.WORD_FIRST_PATTERNS,
    # "no later than 10" is a bound ("by 10"), not a negation: the grouping reads it.
    # "not too late" narrows a choice without denying any time, "no problem" denies
    # nothing: nothing to read.
    (
        "SKIP_BOUND_EN",
        r"(?<![a-z])(?:(?:no|not)\s(?:later|earlier|sooner)\sthan|not\stoo\s(?:late|early)"
        r"|no\s(?:problem|worries|rush)|not\sa\sproblem)"
        r"(?![a-z])",
    ),
    (
        "W_DAILY_PM",
        r"(?:학교|수업|일|업무|회사|근무)\s?(?:끝나고|끝난\s?(?:후|뒤)|마치고|마친\s?(?:후|뒤))"
        r"|방과\s?후|하교\s?(?:후|하고|길)",
    ),
    (
        "W_DAILY_PM_EN",
        r"(?<![a-z])(?:after\s(?:school|class(?:es)?)|end\sof\s(?:the\s)?(?:work\s?)?day"
        r"|close\sof\sbusiness|(?:late|later)\sin\sthe\sday)(?![a-z])",
    ),
    ("W_DAILY_AM", r"출근\s?(?:이전|전|길)(?![후화])|등교\s?(?:이전|전)(?![후화])"),
    (
        "W_DAILY_AM_EN",
        r"(?<![a-z])(?:before\s(?:work|school|class(?:es)?)|first\sthing)(?![a-z])",
    ),
    ("W_NEUTRAL", r"점심\s?(?:시간\s?)?전후"),
    ("W_BEFORE_LUNCH", r"점심\s?(?:시간\s?)?(?:이전|전)(?![후화])"),
    ("W_BEFORE_LUNCH_EN", r"(?<![a-z])before\slunch(?:time)?"),
    (
        "W_AFTER_LUNCH",
        r"점심\s?(?:시간\s?)?(?:이후|후|지나서|끝나고|뒤)|점심\s?(?:먹고|식사\s?(?:후|하고))",
    ),
    ("W_AFTER_LUNCH_EN", r"(?<![a-z])after\slunch(?:time)?"),
    ("W_EVENING", r"저녁|퇴근\s?(?:이후|후|하고|길)|일과\s?후"),
    ("W_EVENING_EN", r"(?<![a-z])(?:evenings?|after\s(?:work|office|my\sshift))(?![a-z])"),
    ("W_KO_AM", r"오전"),
    ("W_KO_PM", r"오후"),
    ("W_MORNING_EN", r"(?<![a-z])mornings?(?![a-z])"),
    ("W_EARLY", r"아침"),
    ("W_DAWN", r"새벽"),
    ("W_DAWN_EN", r"(?<![a-z])dawn(?![a-z])"),
    ("W_LUNCH", r"점심|런치"),
    ("W_LUNCH_EN", r"(?<![a-z])lunch(?:\s?time)?(?![a-z])"),
    ("W_AFTERNOON_EN", r"(?<![a-z])afternoons?(?![a-z])"),
    ("W_NIGHT_EN", r"(?<![a-z])(?:tonight|nights?)(?![a-z])"),
    ("W_NIGHT", r"야간|밤"),
    ("W_DAYTIME", r"낮(?![은게아])"),
    # "any time but mornings", "anything but the afternoon": an exception, not a clause break.
    ("NEG_ANY_BUT_EN", r"(?<![a-z])(?:any\s?time|anything|whenever)\sbut(?![a-z])"),
    (
        "NOPREF_EN",
        r"(?<![a-z])(?:asap|a\.s\.a\.p\.?|any\s?time|any|whenever|flexible|either"
        r"|no\s?pref(?:erence)?)(?![a-z])",
    ),
    ("NOPREF", r"아무\s?(?:때|시간)|상관\s?(?:없|x)|무관|언제든|언제나"),
    # "오전 안 되면 오후" (if not the morning, the afternoon), "10am, if not 2pm": a second
    # choice, not a denial. Skipped, the two sides are options that must agree.
    ("SKIP_IF_NOT", r"(?:안\s?(?:되|돼)|불가하|어려우|힘들|곤란하)면"),
    ("SKIP_IF_NOT_EN", r"(?<![a-z])if\s(?:not|that\sdoesn't\swork)(?![a-z])"),
    # Negations, by what they deny (see _negation): Korean ones follow what they deny,
    # "except" precedes it, "not"/"no"/"n't" deny their whole clause.
    (
        "NEG_BACKWARD",
        r"안\s?(?:돼|되|됨|됩|될)|불가|불편|말고|빼고|제외|어렵|어려|힘들|힘드|곤란|싫|피해|피하"
        r"|이외|외에|외엔|(?<![가-힣])못(?=\s|[가-힣])|(?<![가-힣])아니(?!면)"
        # "시간이 안 나요", "시간이 없어요" (no time), "바빠요" (busy): denials too.
        r"|(?<![가-힣])안\s(?=[가-힣])|안\s?나요|시간\s?(?:이|은)?\s?없|바빠|바쁘|바쁩"
        # "오전에 일이 있어요" (I have something on in the morning), "오후는 좀..": taken.
        r"|(?:일|약속|일정|수업|회의|스케줄|선약|볼일)\s?(?:이|가)?\s?있|좀\s?(?:\.\.|…)|노노",
    ),
    # "오전 X": a cross, a common "not possible" mark
    ("NEG_BACKWARD_EN", r"(?<![a-z\d])x(?![a-z])"),
    # crosses and "no" signs; ㄴㄴ ("no no")
    ("NEG_BACKWARD_SYM", r"(?<![a-z\d])[×✕✗✘❌✖🚫🙅](?![a-z])|\u1102\u1102"),
    (
        "NEG_FORWARD_EN",
        r"(?<![a-z])(?:except(?:\sfor)?|other\sthan|apart\sfrom|excluding|but\snot)(?![a-z])",
    ),
    (
        "NEG_CLAUSE_EN",
        r"(?<![a-z])(?:not|cannot|never|no|nope|nah|unavailable|impossible|busy|cant|dont|wont"
        r"|doesnt|isnt|unable|avoid|difficult|tough|hard|inconvenient|tricky|bad"
        # "I work in the morning", "I have class in the mornings": taken.
        r"|i\s(?:work|have\s(?:work|class(?:es)?|school|a\smeeting|meetings))|working)(?![a-z])",
    ),
    ("NEG_CLAUSE_SYM", r"n't"),  # inside a word: "can't", "don't"
)
