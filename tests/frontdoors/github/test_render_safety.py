"""Text from the scanned files renders inert in everything the bot writes.

Every body is parsed with a real CommonMark parser (markdown-it-py, tables on), and
what it would render is checked: no image, no HTML of the file's, no @mention or
#123 reference in rendered text, no link but ours, tables that keep their columns.
"""

from __future__ import annotations

import re

import pytest
from gh_helpers import BASE, HEAD
from ghdouble import PrFile
from hypothesis import assume, example, given
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from markdown_it.token import Token

from allocpolicy.frontdoors.github import mdsafe, render
from allocpolicy.model import Edit, Finding, Fix, Location, Safety, Severity

pytestmark = pytest.mark.github

HOSTILE = [
    "FROM base:1`@someone`![x](https://host/p.png)`",
    "@someone please look",
    "cc @octo-org/team and @x_y",
    "```\n# not a heading\n```",
    "`````",
    "\\`@escaped\\`",
    "<img src=x onerror=alert(1)>",
    "<details><summary>open</summary>",
    "<!-- allocpolicy:v1 kind=summary -->",
    "[click](javascript:alert(1)) and <https://evil.example/>",
    "![x](https://host/p.png) ![y][ref]\n\n[ref]: https://host/q.png",
    "first line\nsecond\n\n# heading\n- item\n> quote\n1. one",
    "| a | b |\n|---|---|\n| c | d |",
    "fixes #123 and octo/other#4 and GH-5",
    "$x^2$ and **bold** _em_ ~~del~~ <b>b</b>",
    "&#64;someone &lt;img&gt; &amp;",
    "    indented code",
    "` `@me` `",
    "x" * 10_000,
    "`" * 50 + "@deep" + "`" * 49,
]

MD = MarkdownIt("commonmark").enable("table").enable("strikethrough")
OURS = ("https://github.invalid/octo/app/", "https://github.com/allocpolicy/allocpolicy/blob/")
ALLOWED_INLINE_HTML = {"<sub>", "</sub>"}
ALLOWED_BLOCK_HTML = re.compile(
    r"<!-- allocpolicy:v1 [^>]*-->|</?details>|</?summary>|<sub>|</sub>", re.IGNORECASE
)
MENTION = re.compile(r"(?<![\w`])@[A-Za-z0-9]")
REFERENCE = re.compile(r"(?<![\w&])#\d|GH-\d", re.IGNORECASE)


def _walk(tokens: list[Token]) -> list[Token]:
    out: list[Token] = []
    for t in tokens:
        out.append(t)
        if t.children:
            out.extend(_walk(t.children))
    return out


def assert_inert(body: str) -> None:
    """What GitHub would render of body holds nothing active that came from the files."""
    assert len(body) <= 65_536
    tokens = _walk(MD.parse(body))
    for t in tokens:
        assert t.type != "image", body
        if t.type == "html_inline":
            assert t.content in ALLOWED_INLINE_HTML, (t.content, body)
        if t.type == "html_block":
            rest = ALLOWED_BLOCK_HTML.sub("", t.content)
            assert "<" not in rest, (t.content, body)
        if t.type == "link_open":
            href = str(t.attrGet("href"))
            assert href.startswith(OURS), (href, body)
        if t.type == "text":
            assert not MENTION.search(t.content), (t.content, body)
            assert not REFERENCE.search(t.content), (t.content, body)
    _tables_keep_their_columns(tokens, body)


def _tables_keep_their_columns(tokens: list[Token], body: str) -> None:
    width = 0
    cells = 0
    for t in tokens:
        if t.type == "tr_open":
            cells = 0
        elif t.type in ("th_open", "td_open"):
            cells += 1
        elif t.type == "tr_close":
            if t.level == 2:  # a row of the head
                width = cells
            assert cells == width, body


def _findings(h: str) -> list[Finding]:
    message = f"{h} ships `{h}` built for x86_64-unknown-linux-musl"
    fix = Fix(
        f"Add {h}",
        Safety.SAFE,
        (Edit("Cargo.toml", 2, 1, 2, 1, 'mimalloc = "0.1"\n'),),
    )
    return [
        # inline: on an added line of the Containerfile
        Finding("AP001", h, Severity.ERROR, Location("Containerfile", 1, 1), message, fix, h),
        # file-level: a changed file, a line outside its hunk (filter-mode nofilter)
        Finding("AP003", h, Severity.WARNING, Location("Cargo.toml", 40, 1), message, fix, h),
        # summary: a file this pull request does not touch (nofilter lists it there),
        # with a path of its own
        Finding(
            "AP004",
            h,
            Severity.WARNING,
            Location(f"svc/{h[:80]}/Cargo.toml", 3, 1),
            message,
            Fix(f"Fix {h}", Safety.UNSAFE, (Edit(f"svc/{h[:80]}/Cargo.toml", 3, 1, 3, 1, "x\n"),)),
            h,
        ),
        # a rule the catalogue does not know: its own (untrusted) id and name are shown
        Finding(h[:40], h, Severity.INFO, Location("Containerfile", 2, 1), message, None, h),
    ]


def _files(h: str) -> list[PrFile]:
    line = h.replace("\n", " ")[:200]
    return [
        PrFile("Containerfile", f"@@ -0,0 +1,2 @@\n+FROM base:1 {line}\n+RUN {line}", "added"),
        PrFile("Cargo.toml", f'@@ -1,2 +1,3 @@\n [package]\n+name = "{line}"\n [dependencies]'),
    ]


@pytest.mark.parametrize("h", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_text_renders_inert_in_every_body(double, bot, tmp_path, h):
    (tmp_path / "Cargo.toml").write_text(f'[package]\nname = "{h}"\n[dependencies]\n')
    double.add_pull(7, HEAD, BASE, _files(h))
    r = bot(_findings(h), filter_mode="nofilter", inventory=[{"file": h, "base": h, "binary": h}])

    inline = [c["body"] for c in double.review_comments if c.get("line")]
    files = [c["body"] for c in double.review_comments if not c.get("line")]
    reviews = [c["body"]["body"] for c in double.calls("pulls/create-review")]
    summaries = [c["body"] for c in double.issue_comments]
    assert inline and files and summaries, (inline, files, summaries)
    for body in inline + files + reviews + summaries + [r.summary]:
        assert_inert(body)

    annotations = [ln for ln in r.stdout.splitlines() if ln.startswith("::")]
    assert annotations and len(annotations) == len(r.stdout.strip().splitlines())
    for a in annotations:
        assert "\r" not in a and len(a) < 3_000


@pytest.mark.parametrize("h", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_text_renders_inert_in_the_job_summary_without_a_review(bot, h):
    r = bot(_findings(h), token="", inventory=[{"file": h, "stage": h, "libc": h}])
    assert "### Findings" in r.summary and "### Image inventory" in r.summary
    assert_inert(r.summary)


def test_a_dockerfile_line_with_a_mention_and_an_image_is_shown_as_code(double, bot):
    h = "FROM base:1`@someone`![x](https://host/p.png)`"
    double.add_pull(7, HEAD, BASE, _files(h))
    bot([_findings(h)[0]], filter_mode="nofilter")
    [c] = double.review_comments
    # the message: the mention inside a code span (GitHub links none there), the image
    # escaped; the same line in the fix's diff is inside a fence
    assert "FROM base:1`@someone`\\!\\[x\\](https:" in c["body"]
    assert_inert(c["body"])


def _shown(out: str) -> tuple[set[str], str]:
    tokens = _walk(MD.parse(out))
    shown = "".join(t.content for t in tokens if t.type in ("text", "code_inline"))
    return {t.type for t in tokens}, shown


def _plain(s: str) -> str:
    return re.sub(r"[`\u200b ]", "", s)


@given(st.text(max_size=300))
@example("a `b` c")
@example("ships `x` and ``y`` `` `z` `` ` lone")
def test_message_renders_as_its_characters(s):
    """Escaped prose and code spans only, and every character shown: only backticks
    (a code span's fences) and spaces may differ, and the zero-width spaces added."""
    out = mdsafe.message(s, 1000)
    kinds, shown = _shown(out)
    assert kinds <= {"paragraph_open", "paragraph_close", "inline", "text", "code_inline"}, out
    assert _plain(shown) == _plain(mdsafe.one_line(s, 1000)), out


@given(st.text(alphabet="ab `", max_size=60))
@example("a `b` c")
def test_message_code_spans_are_the_templates(s):
    """Where the message is only words and backticks, it shows what CommonMark shows."""
    _, shown = _shown(mdsafe.message(s, 1000))
    kinds, expect = _shown(mdsafe.one_line(s, 1000))
    assume(kinds <= {"paragraph_open", "paragraph_close", "inline", "text", "code_inline"})
    assert shown.replace(" ", "") == expect.replace(" ", "")


@given(st.text(max_size=200))
def test_a_code_span_shows_the_value_literally(s):
    out = mdsafe.code(s, 1000)
    [para] = [t for t in MD.parse(out) if t.type == "inline"]
    kinds = [t.type for t in para.children or []]
    expect = mdsafe.one_line(s, 1000)
    if expect:
        assert kinds == ["code_inline"], out
        assert para.children and para.children[0].content == expect


def test_values_are_one_line_and_capped():
    long = "a\nb\r\n" + "x" * 5_000
    assert "\n" not in mdsafe.text(long, 100) and len(mdsafe.text(long, 100)) <= 100
    assert len(mdsafe.code(long, 100)) <= 104
    assert "\n" not in render.cell(long)


def test_html_text_has_no_tags_and_no_mentions():
    out = mdsafe.html("<b>@someone</b> fixes #12 & more")
    assert "<" not in out and "@someone" not in out and "#12" not in out
    assert "&amp;" in out
