"""Text normalisation: one canonical spelling before any pattern sees the text."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["normalise"]

# NFKC already folds full-width digits, "：", "～" and the ㏂/㏘ squares. These are the
# look-alikes it leaves alone: dashes, wave dashes, CJK clock characters, invisible spaces.
_TRANSLATE = str.maketrans(
    {
        "〜": "~",
        "∼": "~",
        "〰": "~",
        "–": "-",
        "—": "-",
        "‐": "-",
        "‑": "-",
        "‒": "-",
        "−": "-",
        "―": "-",
        "ー": "-",
        "時": "시",
        "分": "분",
        "’": "'",
        "‘": "'",
        "\u200b": "",
        "\u200c": "",
        "\u200d": "",
        "\u2060": "",
        "\ufeff": "",
    }
)
# Most texts have none of them, and finding one is much cheaper than translating.
_LOOKALIKE = re.compile("[" + re.escape("".join(map(chr, _TRANSLATE))) + "]")
_CJK_WORDS = (("午前", "오전"), ("午後", "오후"), ("正午", "정오"))
# A typing slip a person reads at once: "9;30" is 9:30 (";" is beside ":" on the keys).
_SEMICOLON_CLOCK = re.compile(r"(?<=\d) ?; ?(?=\d\d(?!\d))")


def normalise(text: str) -> str:
    """NFKC, look-alike folding, lower case, single spaces, stripped."""
    if text.isascii():
        # ASCII is NFKC-stable and has no look-alikes to fold: skip the costly part.
        folded = text.lower()
    else:
        folded = unicodedata.normalize("NFKC", text)
        if _LOOKALIKE.search(folded) is not None:
            folded = folded.translate(_TRANSLATE)
        folded = folded.lower()
        if "午" in folded or "正" in folded:
            for old, new in _CJK_WORDS:
                folded = folded.replace(old, new)
    if ";" in folded:
        folded = _SEMICOLON_CLOCK.sub(":", folded)
    # Most texts are already single-spaced: a printable text (no tab, newline or other
    # Unicode space; plain " " is printable) without a double or an outer space keeps its
    # spacing, and the split/join below would only copy it.
    if folded.isprintable() and "  " not in folded and folded[:1] != " " and folded[-1:] != " ":
        return folded
    # str.split() splits on every Unicode space and drops the ends.
    return " ".join(folded.split())
