"""Moodle XML in and out (issue 16): `qbank.moodle.read_moodle` and `write_moodle`.

The round trip over every shipped question; a Moodle export written by hand (nested categories,
question types qbank skips, HTML); hostile files, each refused with an ExchangeError naming the
file (never a traceback, never an entity expanded)."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from tests_support import shipped_bank

from qbank.bank_types import ID_RE, Question
from qbank.exchange import ExchangeError, ExchangeQuestion, from_question
from qbank.limits import MAX_ID
from qbank.moodle import read_moodle, slug, write_moodle

ROUND_TRIP_FIELDS = ("id", "text", "outcomes", "methods", "minutes", "probes", "guidance", "topic", "author", "version")


def exchange(q: Question) -> ExchangeQuestion:
    return from_question(q)


def fields(q: ExchangeQuestion) -> dict:
    return {f: getattr(q, f) for f in ROUND_TRIP_FIELDS}


def write(tmp_path: Path, text: str | bytes, name: str = "export.xml") -> Path:
    p = tmp_path / name
    if isinstance(text, str):
        p.write_text(text, encoding="utf-8")
    else:
        p.write_bytes(text)
    return p


# --------------------------------------------------------------------------- the round trip

STANDARDS = ("ST0480", "ST0556", "ILM-SI3", "UOB-HCSL")


@pytest.mark.parametrize("code", STANDARDS)
def test_every_shipped_question_comes_back_exactly(tmp_path, code):
    questions = [exchange(q) for q in shipped_bank().questions_of(code)]
    assert questions, f"no shipped questions for {code}"
    out = tmp_path / f"{code}.xml"
    write_moodle(code, questions, out)
    result = read_moodle(out)
    assert result.format == "moodle"
    assert result.skipped == [] and result.problems == []
    assert [fields(q) for q in result.questions] == [fields(q) for q in questions]
    # a question qbank wrote is recognised: its tags are its outcomes, and nothing of qbank's own
    # encoding (the method and minutes tags) is left among them
    for got, sent in zip(result.questions, questions, strict=True):
        assert got.tags == sent.outcomes
        assert got.where.startswith(f"question '{sent.id}: ")


HARD = [
    ExchangeQuestion(
        id="Q-1.a_b",
        text='Compare <b>A</b> & "B" ]]> it\'s 5 < 6 > 4 — café, 日本語, emoji 🎓\n'
        "wrapped line\n- a list item\n  2. an indented numbered one\n\nsecond paragraph\n\n\nafter two blank lines\n"
        "\tline with a tab and  two  spaces   inside",
        outcomes=["K1", "S2.3", "B/7"],
        methods=["professional-discussion", "project-report"],
        minutes=120,
        probes=["What <i>exactly</i> & why?", "two\n\nparagraphs & a ]]> end", "line one\nline two"],
        guidance="Look for:\n- <evidence> & judgement\n- ]]>\n\n&amp; is not decoded twice: &lt;",
        topic='Leading & managing/people: <the> "core"',
        author="Zoë O'Brien <zoe@example.org>",
        version=3,
    ),
    ExchangeQuestion(id="Q2", text="No topic, no probes, no guidance, no minutes.", outcomes=[], methods=[]),
    ExchangeQuestion(
        id="Q3",
        text="Windows line ends\r\nkept as they are.",
        topic="/leading and trailing slashes/",
        minutes=0,
        guidance="One line.",
        probes=[""],
    ),
    ExchangeQuestion(id="Q4", text="Same topic as Q1, after another topic", topic="Leading & managing"),
    ExchangeQuestion(id="Q5", text="Back to the first topic", topic='Leading & managing/people: <the> "core"'),
]


def test_hard_texts_survive_the_round_trip(tmp_path):
    out = tmp_path / "hard.xml"
    write_moodle("ST-9", HARD, out)
    ET.parse(out)  # well-formed: a CDATA end inside a text did not break the file
    result = read_moodle(out)
    assert result.skipped == []
    assert [fields(q) for q in result.questions] == [fields(q) for q in HARD]


def test_the_written_file_has_moodle_essay_structure(tmp_path):
    out = tmp_path / "moodle.xml"
    write_moodle("ST0480", HARD, out)
    root = ET.parse(out).getroot()
    assert root.tag == "quiz"
    kinds = [q.get("type") for q in root]
    # a category before each run of one topic: Q1 | Q2 (none) | Q3 | Q4 | Q5 (Q1's topic again)
    assert kinds == ["category", "essay"] * 5
    categories = [q.findtext("category/text") for q in root if q.get("type") == "category"]
    assert categories == [
        '$course$/top/ST0480/Leading & managing//people: <the> "core"',
        "$course$/top/ST0480",
        "$course$/top/ST0480/ //leading and trailing slashes// ",
        "$course$/top/ST0480/Leading & managing",
        '$course$/top/ST0480/Leading & managing//people: <the> "core"',
    ]
    essay = root[1]
    # the elements of Moodle's own essay export, in its order
    assert [e.tag for e in essay] == [
        "name",
        "questiontext",
        "generalfeedback",
        "defaultgrade",
        "penalty",
        "hidden",
        "idnumber",
        "responseformat",
        "responserequired",
        "responsefieldlines",
        "attachments",
        "attachmentsrequired",
        "graderinfo",
        "responsetemplate",
        "tags",
    ]
    assert essay.findtext("idnumber") == "Q-1.a_b"
    assert essay.findtext("name/text").startswith("Q-1.a_b: Compare <b>A</b>")
    assert essay.find("questiontext").get("format") == "html"
    assert essay.findtext("responseformat") == "editor"
    assert [t.findtext("text") for t in essay.iterfind("tags/tag")] == [
        "K1",
        "S2.3",
        "B/7",
        "qbank-method:professional-discussion",
        "qbank-method:project-report",
        "qbank-minutes:120",
    ]
    # HTML in the question text is escaped, so Moodle shows it as text
    html = essay.findtext("questiontext/text")
    assert "&lt;b&gt;A&lt;/b&gt; &amp; " in html and "<b>" not in html
    raw = out.read_text(encoding="utf-8")
    assert "<![CDATA[" in raw
    assert root[3].find("tags") is None  # Q2: nothing to tag


def test_a_character_xml_cannot_hold_is_refused_with_the_question_named(tmp_path):
    q = ExchangeQuestion(id="BAD-1", text="a bell \x07 rings")
    with pytest.raises(ExchangeError, match=r"question 'BAD-1': its text holds the character U\+0007"):
        write_moodle("ST0480", [q], tmp_path / "x.xml")
    assert not (tmp_path / "x.xml").exists()


def test_writing_into_a_missing_folder_names_it(tmp_path):
    with pytest.raises(ExchangeError, match="no folder"):
        write_moodle("ST0480", HARD[:1], tmp_path / "missing" / "x.xml")


# --------------------------------------------------------------------------- a Moodle export


MOODLE_EXPORT = """<?xml version="1.0" encoding="UTF-8"?>
<quiz>
<!-- question: 0  -->
  <question type="category">
    <category>
      <text>$course$/top/Leadership</text>
    </category>
    <info format="moodle_auto_format">
      <text>Questions on leadership</text>
    </info>
    <idnumber></idnumber>
  </question>
<!-- question: 11  -->
  <question type="essay">
    <name>
      <text>Leading change</text>
    </name>
    <questiontext format="html">
      <text><![CDATA[<p dir="ltr">Tell me about a change you <strong>led</strong>.&nbsp; Include:</p>
<ul>
  <li>what you did &amp; why</li>
  <li>who was affected<ul><li>staff</li><li>customers</li></ul></li>
</ul>
<ol><li>first</li><li>second</li></ol>
<script>alert("x")</script><style>p { color: red }</style>
<p>Line one<br>line two<br/>café &eacute; &#233; &#x1F393; &lt;not a tag&gt;</p>
<p><img src="@@PLUGINFILE@@/chart.png" alt="A chart"></p>]]></text>
    </questiontext>
    <generalfeedback format="html">
      <text><![CDATA[<p>Shown to the learner afterwards.</p>]]></text>
    </generalfeedback>
    <defaultgrade>1.0000000</defaultgrade>
    <penalty>0.0000000</penalty>
    <hidden>0</hidden>
    <idnumber>LC-01</idnumber>
    <responseformat>editor</responseformat>
    <graderinfo format="html">
      <text><![CDATA[<p>Look for <em>empathy</em>.</p><p>And a clear narrative.</p>]]></text>
    </graderinfo>
    <tags>
      <tag><text>K1</text></tag>
      <tag><text>change management</text></tag>
    </tags>
  </question>
  <question type="category">
    <category>
      <text>$course$/top/Leadership/Change//Transition/Phase 2</text>
    </category>
  </question>
  <question type="multichoice">
    <name>
      <text>Pick one</text>
    </name>
    <questiontext format="html"><text>Which?</text></questiontext>
  </question>
  <question type="truefalse">
    <name>
      <text>True or false</text>
    </name>
  </question>
  <question type="description">
    <name>
      <text>Case study: the merger</text>
    </name>
    <questiontext format="moodle_auto_format">
      <text>Read the case.
Then answer.</text>
    </questiontext>
    <generalfeedback format="html">
      <text><![CDATA[<p>Background for markers.</p>]]></text>
    </generalfeedback>
  </question>
  <question type="essay">
    <name><text>Case study: the merger</text></name>
    <questiontext format="plain_text"><text>Same name, another question: 5 &lt; 6 &amp;amp; so on</text></questiontext>
    <idnumber>not a valid id!</idnumber>
  </question>
  <question type="shortanswer">
    <name><text>Short</text></name>
  </question>
  <question type="essay">
    <name><text>Empty</text></name>
    <questiontext format="html"><text><![CDATA[<p>&nbsp;</p>]]></text></questiontext>
  </question>
</quiz>
"""


def test_reading_a_moodle_export(tmp_path):
    result = read_moodle(write(tmp_path, MOODLE_EXPORT))
    assert result.format == "moodle" and result.problems == []
    q1, q2, q3 = result.questions
    assert q1.id == "LC-01"  # from <idnumber>
    assert q1.where == "question 'Leading change'"
    assert q1.text == (
        "Tell me about a change you led. Include:\n\n"
        "- what you did & why\n"
        "- who was affected\n"
        "  - staff\n"
        "  - customers\n\n"
        "1. first\n"
        "2. second\n\n"
        "Line one\nline two\ncafé é é 🎓 <not a tag>\n\n"
        "[image: A chart]"
    )
    assert "alert" not in q1.text and "color" not in q1.text
    assert q1.topic == "Leadership"
    assert q1.tags == ["K1", "change management"]
    assert q1.outcomes == []  # convert maps tags to outcomes, through the writer's map
    assert q1.guidance == "Look for empathy.\n\nAnd a clear narrative."  # graderinfo, not generalfeedback
    assert (q1.methods, q1.minutes, q1.probes, q1.author) == ([], None, [], "")

    # a description: no grader information, so the general feedback is the guidance
    assert q2.id == "Case-study-the-merger"  # from the name
    assert q2.text == "Read the case.\nThen answer."
    assert q2.guidance == "Background for markers."
    # nested categories; "//" is a "/" inside a name
    assert q2.topic == "Leadership/Change/Transition/Phase 2"

    # the same name again: a different id; an idnumber that is not a valid id is made into one
    assert q3.id == "not-a-valid-id"
    assert q3.text == "Same name, another question: 5 < 6 &amp; so on"  # plain text: nothing decoded twice
    assert q3.topic == q2.topic

    assert [(s.where, s.why) for s in result.skipped] == [
        ("question 'Pick one'", "type multichoice: only essay and description questions become qbank questions"),
        ("question 'True or false'", "type truefalse: only essay and description questions become qbank questions"),
        ("question 'Short'", "type shortanswer: only essay and description questions become qbank questions"),
        ("question 'Empty'", "type essay: its question text is empty"),
    ]


def test_same_names_get_distinct_ids(tmp_path):
    one = '<question type="essay"><name><text>Q 1</text></name><questiontext><text>T{}</text></questiontext></question>'
    result = read_moodle(write(tmp_path, "<quiz>" + "".join(one.format(i) for i in range(3)) + "</quiz>"))
    assert [q.id for q in result.questions] == ["Q-1", "Q-1-2", "Q-1-3"]


def test_qbank_tags_that_are_not_numbers_are_kept_as_tags(tmp_path):
    xml = (
        "<quiz><question type='essay'><name><text>N</text></name><questiontext><text>T</text></questiontext>"
        "<tags><tag><text>qbank-minutes:\u00b2</text></tag><tag><text>qbank-minutes:99999999999</text></tag>"
        "<tag><text>qbank-minutes:12</text></tag><tag><text>qbank-method:interview</text></tag></tags>"
        "</question></quiz>"
    )
    (q,) = read_moodle(write(tmp_path, xml)).questions
    assert (q.minutes, q.methods) == (12, ["interview"])
    assert q.tags == ["qbank-minutes:\u00b2", "qbank-minutes:99999999999"]


def test_slug_makes_valid_ids():
    assert slug("Leading change: part 2 (v3)") == "Leading-change-part-2-v3"
    assert slug("Économie — révisée") == "Economie-revisee"
    assert slug("日本語") == ""
    long = slug("x" * 200)
    assert len(long) == MAX_ID and ID_RE.match(long)
    assert ID_RE.match(slug("--_a_--"))


def test_a_name_nothing_can_be_made_of_gets_a_numbered_id(tmp_path):
    xml = (
        '<quiz><question type="essay"><name><text>日本語</text></name>'
        "<questiontext><text>Text</text></questiontext></question></quiz>"
    )
    (q,) = read_moodle(write(tmp_path, xml)).questions
    assert q.id == "question-1" and q.where == "question '日本語'"


# --------------------------------------------------------------------------- hostile files

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<quiz><question type="essay"><name><text>&lol9;</text></name></question></quiz>
"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE quiz [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<quiz><question type="essay"><name><text>x</text></name>
<questiontext><text>&xxe;</text></questiontext></question></quiz>
"""

DTD_ONLY = """<?xml version="1.0"?>
<!DOCTYPE quiz SYSTEM "http://example.org/quiz.dtd">
<quiz></quiz>
"""


@pytest.mark.parametrize("text", [BILLION_LAUGHS, EXTERNAL_ENTITY, DTD_ONLY], ids=["bomb", "external", "dtd"])
def test_entities_and_dtds_are_refused_never_expanded(tmp_path, text):
    p = write(tmp_path, text, "bomb.xml")
    t0 = time.perf_counter()
    with pytest.raises(ExchangeError) as e:
        read_moodle(p)
    assert time.perf_counter() - t0 < 1
    msg = str(e.value)
    assert str(p) in msg
    assert "uses XML entities, which qbank refuses (a safety rule); export it again without a DTD" in msg
    assert "root:" not in msg  # /etc/passwd was never read into anything


def test_malformed_xml_names_the_line_and_column(tmp_path):
    p = write(tmp_path, "<quiz>\n  <question type='essay'>\n    <name><text>x</name>\n</quiz>\n", "broken.xml")
    with pytest.raises(ExchangeError, match=r"broken\.xml is not well-formed XML: mismatched tag at line 3, column 20"):
        read_moodle(p)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "is empty"),
        (b"  \n\n ", "is empty"),
        (b"id,text\nQ1,Hello\n", r"is not well-formed XML: syntax error at line 1, column 1"),
        (bytes(range(256)) * 4, "is not well-formed XML"),
        ("<quiz>caf\u00e9</quiz>".encode("latin-1"), r"not well-formed XML: not well-formed \(invalid token\)"),
        (b"<html><body>Not Moodle</body></html>", "is not Moodle XML: it starts with <html>"),
        (b'<?xml version="1.0" encoding="bogus"?><quiz/>', "declares an encoding qbank cannot read"),
        (b"<quiz>&nbsp;</quiz>", "not well-formed XML: undefined entity at line 1, column 7"),
        (b"<!-- only a comment -->", "is empty"),
    ],
    ids=["empty", "blank", "csv", "binary", "latin1-undeclared", "html", "unknown-encoding", "html-entity", "comment"],
)
def test_files_that_are_not_moodle_xml_are_named(tmp_path, content, expected):
    p = write(tmp_path, content, "input.xml")
    with pytest.raises(ExchangeError, match=expected) as e:
        read_moodle(p)
    assert str(p) in str(e.value)


def test_a_declared_encoding_is_honoured(tmp_path):
    xml = (
        '<?xml version="1.0" encoding="ISO-8859-1"?><quiz><question type="essay"><name><text>Caf\u00e9</text>'
        "</name><questiontext><text>Th\u00e9</text></questiontext></question></quiz>"
    )
    (q,) = read_moodle(write(tmp_path, xml.encode("latin-1"))).questions
    assert (q.id, q.text) == ("Cafe", "Th\u00e9")


def test_a_file_that_cannot_be_read_is_named(tmp_path):
    with pytest.raises(ExchangeError, match=r"cannot read .*missing\.xml"):
        read_moodle(tmp_path / "missing.xml")
    with pytest.raises(ExchangeError, match=r"cannot read"):
        read_moodle(tmp_path)


def test_an_essay_without_a_name_is_refused_with_its_line(tmp_path):
    xml = "<quiz>\n<question type='essay'>\n<questiontext><text>T</text></questiontext>\n</question>\n</quiz>"
    with pytest.raises(ExchangeError, match=r"noname\.xml: the essay question at line 2 has no <name>"):
        read_moodle(write(tmp_path, xml, "noname.xml"))
    # with an idnumber, that is its name; a skipped type without a name is only skipped
    xml = (
        "<quiz><question type='essay'><idnumber>E-1</idnumber><questiontext><text>T</text></questiontext></question>"
        "\n<question type='multichoice'></question></quiz>"
    )
    result = read_moodle(write(tmp_path, xml))
    assert [(q.id, q.where) for q in result.questions] == [("E-1", "question 'E-1'")]
    assert [s.where for s in result.skipped] == ["question at line 2"]


def test_a_20_mb_question_text_is_skipped_in_bounded_time(tmp_path):
    body = "<a " * 7_000_000  # what makes the standard library's html.parser take minutes on 100 kB
    xml = (
        '<quiz><question type="essay"><name><text>Huge</text></name><questiontext format="html">'
        f"<text><![CDATA[{body}]]></text></questiontext></question>"
        '<question type="essay"><name><text>Small</text></name><questiontext><text>Fine</text></questiontext>'
        "</question></quiz>"
    )
    p = write(tmp_path, xml, "huge.xml")
    assert p.stat().st_size > 20_000_000
    t0 = time.perf_counter()
    result = read_moodle(p)
    assert time.perf_counter() - t0 < 15
    assert [q.text for q in result.questions] == ["Fine"]
    assert [(s.where, s.why) for s in result.skipped] == [
        (
            "question 'Huge'",
            "type essay: its question text is 20,999,999 characters long, far more than a qbank question holds "
            "(10,000 characters); shorten it in Moodle and export again",
        )
    ]


@pytest.mark.parametrize(
    "unit",
    ["<", "<a ", "<!--", "</", "<a b='", "<ul><li>", "<p>x</p>", "&amp;<br>", "<script>"],
    ids=[
        "lt",
        "unclosed-tag",
        "unclosed-comment",
        "end-tag",
        "unclosed-quote",
        "nested-lists",
        "paragraphs",
        "br",
        "script",
    ],
)
def test_the_largest_html_qbank_reads_takes_at_most_seconds_whatever_it_holds(tmp_path, unit):
    """Just under the limit (1,000,000 characters): linear time for every pattern that makes a
    naive HTML reader quadratic."""
    body = (unit * (990_000 // len(unit))).replace("]]>", "")
    xml = (
        '<quiz><question type="essay"><name><text>Big</text></name><questiontext format="html">'
        f"<text><![CDATA[{body}]]></text></questiontext></question></quiz>"
    )
    t0 = time.perf_counter()
    result = read_moodle(write(tmp_path, xml))
    assert time.perf_counter() - t0 < 10
    assert len(result.questions) + len(result.skipped) == 1


def test_deep_nesting_is_read_without_recursion(tmp_path):
    depth = 200_000
    xml = (
        "<quiz><question type='essay'><name><text>Deep</text></name><questiontext><text>"
        + "<x>" * depth
        + "words"
        + "</x>" * depth
        + "</text></questiontext></question></quiz>"
    )
    (q,) = read_moodle(write(tmp_path, xml)).questions
    assert q.text == "words"  # text inside elements Moodle never writes is kept, not lost


# --------------------------------------------------------------------------- speed


@pytest.mark.slow
def test_ten_thousand_questions_are_written_and_read_well_under_ten_seconds(tmp_path):
    shipped = shipped_bank().questions
    questions = []
    for i in range(10_000):
        q = exchange(shipped[i % len(shipped)])
        q.id = f"{q.id}-{i}"
        questions.append(q)
    out = tmp_path / "big.xml"
    t0 = time.perf_counter()
    write_moodle("BIG", questions, out)
    t1 = time.perf_counter()
    result = read_moodle(out)
    t2 = time.perf_counter()
    assert [fields(q) for q in result.questions] == [fields(q) for q in questions]
    assert t1 - t0 < 5 and t2 - t1 < 8, f"write {t1 - t0:.1f} s, read {t2 - t1:.1f} s"
