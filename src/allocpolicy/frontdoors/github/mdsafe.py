"""Text from the scanned files, made inert for GitHub Markdown.

A finding's message, a path, an image or binary name all come from files a pull
request author controls. Rendered as they are they could @mention (the bot would
notify that user), cross-reference issues, show external images, open raw HTML or
break out of the comment's layout. Every such string goes through one of:

- :func:`code`: a code span whose fence is longer than any backtick run inside
  (GitHub links no mentions and renders no HTML in code);
- :func:`text`: prose with Markdown's active characters backslash-escaped, ``<``,
  ``>``, ``&`` as entities, and a zero-width space after ``@`` and before the number
  of ``#12`` or ``GH-12`` (what Renovate does: GitHub then sees no mention and no issue
  reference); a URL stays a plain link, never an image;
- :func:`message`: a message template's own code spans kept as code spans, the
  text between them as :func:`text`;
- :func:`html`: for places inside HTML (``<summary>``), where Markdown escapes do
  not apply.

All of them put the value on one line and cap its length.
"""

from __future__ import annotations

import html as _html
import re

ZWSP = "&#8203;"
_LINE_BREAKS = re.compile(r"[\r\n\t\v\f\x85\u2028\u2029]+")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
_BACKTICKS = re.compile(r"`+")
# characters that start Markdown or GFM syntax anywhere in a line ($ is math)
_ACTIVE = set("\\`*_[]|~$!")
_ENTITY = {"<": "&lt;", ">": "&gt;", "&": "&amp;"}
# characters that only matter at the start of a line (lists, headings, quotes)
_LINE_START = re.compile(r"^(\d+)([.)])|^([-+=#>:])")


def one_line(value: object, limit: int) -> str:
    """The value on one line (line breaks become spaces), clipped to ``limit`` characters."""
    s = _CONTROL.sub("", _LINE_BREAKS.sub(" ", str(value))).strip()
    return s if len(s) <= limit else s[: max(0, limit - 1)] + "…"


def _escape(s: str) -> str:
    out: list[str] = []
    for i, ch in enumerate(s):
        nxt = s[i + 1] if i + 1 < len(s) else ""
        if ch in _ENTITY:
            out.append(_ENTITY[ch])
        elif ch == "_" and i > 0 and s[i - 1].isalnum() and nxt.isalnum():
            out.append(ch)  # x86_64: an intraword _ never emphasises
        elif ch in _ACTIVE:
            out.append("\\" + ch)
        elif ch == "@" and (nxt.isalnum() or nxt in "-_"):
            out.append("@" + ZWSP)
        elif ch == "#" and nxt.isdigit():  # #12, owner/repo#12: an issue reference
            out.append("#" + ZWSP)
        elif ch == "-" and nxt.isdigit() and s[max(0, i - 2) : i].upper() == "GH":  # GH-12
            out.append("-" + ZWSP)
        else:
            out.append(ch)
    return "".join(out)


def text(value: object, limit: int = 500) -> str:
    """Prose that renders exactly as the characters it holds, and nothing else."""
    return _escape_start(one_line(value, limit))


def _escape_start(s: str) -> str:
    m = _LINE_START.match(s)
    if m:  # "1. x", "- x", "# x" would become a list or a heading at a line's start
        cut = m.end()
        return _escape(s[: cut - 1]) + "\\" + s[cut - 1] + _escape(s[cut:])
    return _escape(s)


def _span(s: str) -> str:
    if not s.strip():
        return "` `" if not s else "`" + s + "`"
    fence = "`" * (max((len(m) for m in _BACKTICKS.findall(s)), default=0) + 1)
    pad = " " if s[0] in "` " or s[-1] in "` " else ""
    return f"{fence}{pad}{s}{pad}{fence}"


def code(value: object, limit: int = 300, table: bool = False) -> str:
    """A code span showing the value literally.

    In a table cell a ``|`` would end the cell even inside a code span; such a value
    is written as escaped prose instead.
    """
    s = one_line(value, limit)
    if table and "|" in s:
        return text(s, limit)
    return _span(s)


def message(value: object, limit: int = 2000, table: bool = False) -> str:
    """A finding's message: the template's code spans stay code, the rest is :func:`text`.

    Backtick runs are paired the way CommonMark pairs them (a run closes at the next run
    of the same length); an unpaired run is literal text. Every part is rendered anew,
    so a value holding backticks can shift which parts are code but never makes
    anything else than text and code. In a table cell (``table``) a code span holding
    ``|`` is written as escaped text.
    """
    s = one_line(value, limit)
    runs = list(_BACKTICKS.finditer(s))
    out: list[str] = []
    pos = i = 0
    while i < len(runs):
        start = runs[i]
        close = next(
            (j for j in range(i + 1, len(runs)) if len(runs[j].group()) == len(start.group())), None
        )
        if close is None:
            i += 1
            continue
        out.append(_text_part(s[pos : start.start()], not out))
        inner = s[start.end() : runs[close].start()]  # kept whole: _span pads it
        out.append(
            _escape(s[start.start() : runs[close].end()])
            if table and "|" in inner
            else _span(inner)
        )
        pos = runs[close].end()
        i = close + 1
    out.append(_text_part(s[pos:], not out))
    return "".join(out)


def _text_part(s: str, first: bool) -> str:
    if not s:
        return ""
    return _escape_start(s) if first else _escape(s)


def html(value: object, limit: int = 300) -> str:
    """Text for inside an HTML element (``<summary>``): entities, no mentions."""
    s = one_line(value, limit)
    s = re.sub(r"#(?=\d)", "#\u200b", re.sub(r"@(?=[\w-])", "@\u200b", s))
    s = re.sub(r"(?i)(?<=GH-)(?=\d)", "\u200b", s)
    return _html.escape(s, quote=True)


def url_path(path: str) -> str:
    """A repository path for a URL (every character outside the safe set %-encoded)."""
    from urllib.parse import quote

    return quote(path, safe="/-_.~")
