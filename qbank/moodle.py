"""Moodle XML in and out: `read_moodle` (for `qbank convert`) and `write_moodle` (for
`qbank export --format moodle`).

Reading. The file is parsed with defusedxml, streamed: each <question> is handled when it ends
and then dropped, so memory stays bounded by the largest question. A DTD, an entity declaration
or an external reference is refused (a safety rule: Moodle never writes them), never expanded.
- essay and description questions become questions; every other type is skipped with its reason;
- id: <idnumber> when it is a valid qbank id, else the <idnumber> or the <name> made into one
  (letters, digits, "-" and "_"); a second question with the same id gets "-2", a third "-3", ...
  (Moodle allows one idnumber in several categories, and any name);
- text: <questiontext> reduced to plain text (paragraphs -> blank lines, <br> -> new line, list
  items -> "- " or "1. " lines, entities decoded, tags dropped, scripts and styles dropped with
  their content, an image -> "[image: its alt text]");
- topic: the category path below the context and "top", its names joined by "/":
  "$course$/top/Leadership/Change" -> "Leadership/Change" (a "/" inside a name is written "//" by
  Moodle and comes back as "/"); <question type="category"> sets the category of the questions
  after it, so nested categories work;
- tags: every <tag> in `tags` (convert maps them to outcomes through the map file);
- guidance: <graderinfo> as plain text, or <generalfeedback> when there is no grader information
  (a description question has none);
- minutes: Moodle has none, so None unless qbank wrote the question (below);
- a question text or grader information of more than 1,000,000 characters is skipped with its
  reason (a hundred times what qbank holds), so no file takes long to read.

Writing: one <quiz> of essay questions, importable by Moodle (the elements of Moodle's own
essay export), and qbank's fields encoded so that reading the file back gives them exactly:
- a category "$course$/top/<standard>/<topic>" before each run of questions of one topic
  ("$course$/top/<standard>" for questions without one);
- <name> "<id>: <the start of the text>", <idnumber> the id;
- <questiontext>: the text as HTML in <div class="qbank-text">: paragraphs (split at blank lines)
  as <p>, a line break before a list item ("- ", "1. ") as <br>, any other line break kept as it
  is (a browser re-flows it, as `qbank show` does), every character escaped, nothing else added;
- <graderinfo>: the guidance in <div class="qbank-guidance">, then "Probes" and the probes as
  <ol class="qbank-probes"><li class="qbank-probe">, then a line naming the standard
  (<span class="qbank-standard">), the version (<span class="qbank-version">) and the author
  (<span class="qbank-author">);
- <tags>: each outcome code as it is, each method as "qbank-method:<id>", the minutes as
  "qbank-minutes:<n>".
A question is recognised as qbank's by its qbank-standard line: its texts are then decoded
exactly (whitespace kept), its outcomes are its tags other than qbank's own, and the standard's
category is dropped from its topic. Moodle keeps all of this through an import and an export,
within its own limits: a tag of more than 50 characters, or a category name of more than 255, is
cut short by Moodle.
"""

from __future__ import annotations

import html
import re
import unicodedata
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import defusedxml
from defusedxml.ElementTree import DefusedXMLParser

from .bank_types import ID_RE
from .exchange import ExchangeError, ExchangeQuestion, ReadResult, Skipped
from .limits import MAX_ID, MAX_TEXT
from .problems import BankError
from .safe_write import write_output

FORMAT = "moodle"
KINDS = ("essay", "description")  # the Moodle question types that become qbank questions
METHOD_TAG = "qbank-method:"
MINUTES_TAG = "qbank-minutes:"
_CHUNK = 1 << 20  # bytes fed to the XML parser at a time
# the deepest element below <quiz> that is built: <question> 1, <tags> 2, <tag> 3, <text> 4 (deeper
# ones are never Moodle's: their text goes to the element around them)
_BUILT_DEPTH = 4
# the most characters of HTML (or plain text) one text element may hold: a hundred times what a
# question's text or guidance may hold (markup included), so no pasted image or runaway file
# takes long to read
_MAX_HTML = 100 * MAX_TEXT
_NO_ELEMENTS = 3  # expat's error "no element found": no start tag at all (an empty or blank file)
_NUMBER_RE = re.compile(r"[0-9]{1,9}")  # a whole number in qbank's tags and spans (ASCII digits only)
_NAME_EXCERPT = 60  # characters of the text shown after the id in a question's <name>

# =========================================================================== reading


def read_moodle(path: Path) -> ReadResult:
    """The essay and description questions of the Moodle XML file `path`, and what was skipped.

    ExchangeError naming the file when it cannot be read: unreadable, empty, not well-formed XML
    (with the line and column), not Moodle XML, using XML entities or a DTD, or an essay or
    description question without a name."""
    shown = str(path)
    try:
        f = open(path, "rb")  # noqa: SIM115 (closed below, after the parse)
    except OSError as e:
        raise ExchangeError(f"cannot read {shown}: {e.strerror or e}") from None
    reader = _QuizReader(shown)
    parser = DefusedXMLParser(target=reader, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    reader.expat = parser.parser
    try:
        with f:
            while chunk := f.read(_CHUNK):
                parser.feed(chunk)
            parser.close()
    except defusedxml.DefusedXmlException:
        raise ExchangeError(
            f"{shown} uses XML entities, which qbank refuses (a safety rule); "
            "export it again without a DTD (Moodle's own export has none)"
        ) from None
    except ParseError as e:
        if not reader.started and getattr(e, "code", None) == _NO_ELEMENTS:
            raise ExchangeError(
                f"{shown} is empty (it holds no XML element): there is nothing to convert; export the questions again"
            ) from None
        line, column = getattr(e, "position", (0, 0))
        reason = str(e).split(":", 1)[0]
        raise ExchangeError(
            f"{shown} is not well-formed XML: {reason} at line {line}, column {column + 1}; "
            "export it from Moodle again (Moodle writes well-formed XML), or fix it there"
        ) from None
    except LookupError as e:  # an encoding the XML declaration names that Python does not know
        raise ExchangeError(
            f"{shown} declares an encoding qbank cannot read ({e}); export it from Moodle again (UTF-8)"
        ) from None
    except OSError as e:
        raise ExchangeError(f"cannot read {shown}: {e.strerror or e}") from None
    return reader.result


class _QuizReader:
    """The parser's target: builds each top-level element of <quiz> as a small tree, hands it to
    `_question` when it ends and drops it."""

    def __init__(self, shown: str):
        self.shown = shown
        self.expat: Any = None
        self.result = ReadResult(format=FORMAT)
        self.started = False
        self.stack: list[Element] = []
        self.depth = 0  # of the element being read, below <quiz>
        self.unbuilt = 0  # depth inside an element that is not built
        self.texts: list[list[str]] = []
        self.line = 0  # the line of the element being built at depth 1
        self.category: list[str] = []  # the current category's names, below the context and "top"
        self.number = 0  # questions seen (category elements apart), for messages and made-up ids
        self.ids: set[str] = set()

    # the parser's calls ------------------------------------------------------------------

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        if not self.started:
            self.started = True
            if tag != "quiz":
                raise ExchangeError(
                    f"{self.shown} is not Moodle XML: it starts with <{tag}>, and a Moodle XML export starts "
                    "with <quiz>; in Moodle, export the questions in the format 'Moodle XML'"
                )
            self.stack.append(Element(tag))
            self.texts.append([])
            return
        self.depth += 1
        if self.unbuilt or self.depth > _BUILT_DEPTH or self.stack[-1].tag == "text":
            # inside a <text> (HTML left unescaped) or deeper than anything Moodle writes: the
            # element is not built, and its text goes to the element around it
            self.unbuilt += 1
            return
        elem = Element(tag, attrib)
        if len(self.stack) == 1:
            self.line = self.expat.CurrentLineNumber if self.expat is not None else 0
        else:
            self.stack[-1].append(elem)
        self.stack.append(elem)
        self.texts.append([])

    def data(self, text: str) -> None:
        if len(self.stack) > 1:  # text directly inside <quiz> is layout
            self.texts[-1].append(text)

    def end(self, tag: str) -> None:
        self.depth -= 1
        if self.unbuilt:
            self.unbuilt -= 1
            return
        elem = self.stack.pop()
        parts = self.texts.pop()
        elem.text = "".join(parts) if parts else None
        if len(self.stack) == 1 and elem.tag == "question":
            self._question(elem)

    def close(self) -> None:
        return None

    # one question ------------------------------------------------------------------------

    def _question(self, q: Element) -> None:
        kind = q.get("type", "")
        if kind == "category":
            self.category = _category_names(_text_of(q.find("category")))
            return
        self.number += 1
        name = " ".join(_text_of(q.find("name")).split())
        idnumber = (q.findtext("idnumber") or "").strip()
        where = f"question '{name}'" if name else f"question at line {self.line}"
        if kind not in KINDS:
            why = f"type {kind or '(none given)'}: only essay and description questions become qbank questions"
            self.result.skipped.append(Skipped(where=where, why=why))
            return
        if not name:
            if not idnumber:
                raise ExchangeError(
                    f"{self.shown}: the {kind} question at line {self.line} has no <name>; Moodle refuses such a "
                    "file too: give the question a name and export again"
                )
            name, where = idnumber, f"question '{idnumber}'"
        for field, label in (("questiontext", "question text"), ("graderinfo", "grader information")):
            size = len(_text_of(q.find(field)))
            if size > _MAX_HTML:
                why = (
                    f"type {kind}: its {label} is {size:,} characters long, far more than a qbank question holds "
                    f"({MAX_TEXT:,} characters); shorten it in Moodle and export again"
                )
                self.result.skipped.append(Skipped(where=where, why=why))
                return
        question = _essay(q, kind, name, where, self.category)
        if not question.text:
            self.result.skipped.append(Skipped(where=where, why=f"type {kind}: its question text is empty"))
            return
        question.id = self._id(idnumber, name)
        self.result.questions.append(question)

    def _id(self, idnumber: str, name: str) -> str:
        """The question's id: its <idnumber> when that is a valid qbank id, else one made from it
        or from the name; "-2", "-3", ... added to an id an earlier question of the file has
        (Moodle allows one idnumber, and any name, in several categories)."""
        if idnumber and len(idnumber) <= MAX_ID and ID_RE.match(idnumber):
            base = idnumber
        else:
            base = slug(idnumber or name) or f"question-{self.number}"
        made, n = base, 1
        while made in self.ids:
            n += 1
            suffix = f"-{n}"
            made = base[: MAX_ID - len(suffix)].rstrip("-_") + suffix
        self.ids.add(made)
        return made


def slug(text: str) -> str:
    """`text` made into a qbank id: letters and digits (accents dropped), runs of anything else
    as one "-", starting with a letter or digit, at most MAX_ID characters; "" when nothing is
    left."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    s = re.sub(r"[^A-Za-z0-9_-]+", "-", ascii_text)
    s = re.sub(r"-{2,}", "-", s).strip("-_")
    return s[:MAX_ID].rstrip("-_")


def _text_of(elem: Element | None) -> str:
    """The <text> of a Moodle element (`<name><text>...</text></name>`), stripped."""
    if elem is None:
        return ""
    t = elem.find("text")
    return ((t.text if t is not None else elem.text) or "").strip()


def _category_names(path: str) -> list[str]:
    """A category path's names below its context ("$course$", "$system$", ...) and "top", split
    as Moodle splits them: at each single "/", "//" being a "/" inside a name."""
    if not path:
        return []
    names = [n.strip().replace("//", "/") for n in re.split(r"(?<!/)/(?!/)", path)]
    if names and re.fullmatch(r"\$[a-z]+\$", names[0]):
        names = names[1:]
    if names and names[0] == "top":
        names = names[1:]
    return [n for n in names if n]


def _essay(q: Element, kind: str, name: str, where: str, category: list[str]) -> ExchangeQuestion:
    """An essay or description question as an ExchangeQuestion (its id set by the caller)."""
    text_html = _Html.of(q.find("questiontext"))
    grader = _Html.of(q.find("graderinfo"))
    methods: list[str] = []
    minutes: int | None = None
    tags: list[str] = []
    for t in q.iterfind("tags/tag"):
        value = " ".join(_text_of(t).split())
        if value.startswith(METHOD_TAG) and value[len(METHOD_TAG) :]:
            methods.append(value[len(METHOD_TAG) :])
        elif value.startswith(MINUTES_TAG) and _NUMBER_RE.fullmatch(value[len(MINUTES_TAG) :]) and minutes is None:
            minutes = int(value[len(MINUTES_TAG) :])
        elif value and value not in tags:
            tags.append(value)
    ours = "qbank-standard" in grader.exact
    standard = "".join(grader.exact.get("qbank-standard", []))
    text = text_html.exact["qbank-text"][0] if "qbank-text" in text_html.exact else text_html.plain()
    if ours:
        guidance = "".join(grader.exact.get("qbank-guidance", []))
        probes = grader.exact.get("qbank-probe", [])
        author = "".join(grader.exact.get("qbank-author", []))
        versions = "".join(grader.exact.get("qbank-version", []))
        version = int(versions) if _NUMBER_RE.fullmatch(versions) else None
        names = category[1:] if category[:1] == [standard] else category
    else:
        guidance = grader.plain() or _Html.of(q.find("generalfeedback")).plain()
        probes, author, version, names = [], "", None, category
    return ExchangeQuestion(
        id="",
        text=text,
        outcomes=list(tags) if ours else [],
        methods=methods,
        minutes=minutes,
        probes=probes,
        guidance=guidance,
        topic="/".join(names),
        author=author,
        version=version,
        tags=tags,
        where=where,
    )


# --------------------------------------------------------------------------- HTML to text

_PARAGRAPH_TAGS = frozenset(
    ("p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "table", "dl", "figure", "address", "hr")
)
_LINE_TAGS = frozenset(
    ("div", "tr", "dt", "dd", "section", "article", "header", "footer", "caption", "figcaption", "main", "nav")
    + ("aside", "form", "fieldset", "legend", "details", "summary")
)
_DROPPED_TAGS = frozenset(("script", "style", "head", "title", "template", "noscript", "iframe", "object", "svg"))
_VOID_TAGS = frozenset(
    ("area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr")
)
# the elements whose content qbank's own HTML carries exactly (see the module's docstring)
_EXACT_CLASSES = frozenset(
    ("qbank-text", "qbank-guidance", "qbank-probe", "qbank-standard", "qbank-version", "qbank-author")
)
_MAX_INDENT = 8  # list levels shown indented (deeper ones are shown at this level)
_SPACES_RE = re.compile(r"[ \t\n\r\f\v\xa0]+")


# the tokenizer: one pattern, each of whose branches stops at the next "<" or ">" or scans once to
# the end, so reading takes time in proportion to the text's length whatever it holds (the
# standard library's html.parser takes minutes on 100 kB of "<a " repeated); a "<" that opens no
# tag is text, and runs of such text are read in one match
_TAG_BODY = r"""(?:[^<>"']|"[^"<>]*"|'[^'<>]*')*"""
_TOKEN_RE = re.compile(
    rf"""(?P<comment><!--.*?(?:-->|\Z))
        |(?P<decl><[!?][^>]*>?)
        |<(?P<close>/?)(?P<tag>[A-Za-z][^\s/<>]*)(?P<rest>{_TAG_BODY})>
        |(?P<text>[^<]+(?:<(?![!?]|/?[A-Za-z][^\s/<>]*{_TAG_BODY}>)[^<]*)*
                 |(?:<(?![!?]|/?[A-Za-z][^\s/<>]*{_TAG_BODY}>)[^<]*)+)""",
    re.DOTALL | re.VERBOSE,
)
_ATTR_RE = re.compile(r"""([^\s"'=<>/]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))""")
_RAW_END_RE = {t: re.compile(rf"</{t}\s*>", re.IGNORECASE) for t in ("script", "style")}


def _unescape(s: str) -> str:
    return html.unescape(s) if "&" in s else s


class _Html:
    """HTML reduced to plain text (`plain()`), and the exact content of qbank's own elements
    (`exact`: class -> the contents of each element of that class, in order). A forgiving reader
    of what editors write, not a validator: what is not a tag is text."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.pending = 0  # line breaks owed before the next text (at most 2: a blank line)
        self.line_start = True
        self.prefix = ""  # a list item's marker, written before its first text
        self.lists: list[list[Any]] = []  # [tag, next number] of each open list
        self.dropped = 0  # depth inside <script>, <style>, ...
        self.pre = 0  # depth inside <pre>
        self.exact: dict[str, list[str]] = {}
        self.open: list[list[Any]] = []  # [class, depth, parts, paragraphs seen] of each open exact element

    @classmethod
    def of(cls, elem: Element | None) -> _Html:
        """The parsed <text> of a Moodle text element (`questiontext`, `graderinfo`, ...),
        read as its `format` says: HTML, Moodle's auto format (line breaks kept), or plain."""
        h = cls()
        if elem is None:
            return h
        t = elem.find("text")
        raw = (t.text if t is not None else elem.text) or ""
        fmt = elem.get("format", "html")
        if fmt in ("plain_text", "markdown"):
            raw = html.escape(raw, quote=False).replace("\n", "<br>")
        elif fmt == "moodle_auto_format":
            raw = raw.replace("\n", "<br>")
        if raw:
            h.feed(raw)
        return h

    def feed(self, raw: str) -> None:
        """Read `raw` whole: text, tags, comments; <script> and <style> up to their end tag."""
        pos, n = 0, len(raw)
        while pos < n:
            m = _TOKEN_RE.match(raw, pos)
            if m is None:  # cannot happen (every "<" is a token or text); read the rest as text
                self.handle_data(_unescape(raw[pos:]))
                return
            pos = m.end()
            text, tag = m.group("text"), m.group("tag")
            if text is not None:
                self.handle_data(_unescape(text))
            elif tag is None:  # a comment, a doctype, a CDATA section, a processing instruction
                continue
            elif m.group("close"):
                self.handle_endtag(tag.lower())
            else:
                tag, rest = tag.lower(), m.group("rest")
                attrs = {a.lower(): _unescape(b or c or d) for a, b, c, d in _ATTR_RE.findall(rest)}
                self.handle_starttag(tag, attrs)
                if rest.endswith("/") and tag not in _VOID_TAGS:
                    self.handle_endtag(tag)
                elif tag in _RAW_END_RE:  # its content is not HTML: skip to its end tag
                    e = _RAW_END_RE[tag].search(raw, pos)
                    pos = n if e is None else e.start()

    # plain text ---------------------------------------------------------------------------

    def plain(self) -> str:
        text = "".join(self.parts)
        return "\n".join(line.rstrip() for line in text.split("\n")).strip()

    def _break(self, n: int) -> None:
        self.pending = max(self.pending, n)
        self.line_start = True

    def _write(self, s: str) -> None:
        if self.line_start:
            if self.pre == 0:
                s = s.lstrip(" ")
            if not s:
                return
            if self.parts and self.pending:
                self.parts.append("\n" * self.pending)
            self.parts.append(self.prefix)
            self.pending, self.prefix, self.line_start = 0, "", False
        elif self.pre == 0 and s.startswith(" ") and self.parts and self.parts[-1].endswith(" "):
            s = s[1:]
        if s:
            self.parts.append(s)

    # the parser's calls -------------------------------------------------------------------

    def handle_starttag(self, tag: str, attrs: dict[str, str]) -> None:
        if self.open and tag not in _VOID_TAGS:
            self.open[-1][1] += 1
        cls = next((c for c in attrs.get("class", "").split() if c in _EXACT_CLASSES), None)
        if cls is not None and tag not in _VOID_TAGS:
            self.open.append([cls, 1, [], 0])
        elif self.open:
            self._exact_tag(tag)
        if tag in _DROPPED_TAGS:
            self.dropped += 1
            return
        if self.dropped:
            return
        if tag == "br":
            if self.line_start and self.pending:
                self.pending = min(self.pending + 1, 2)
            self._break(1)
        elif tag in ("ul", "ol"):
            self._break(1 if self.lists else 2)
            self.lists.append([tag, 1])
        elif tag == "li":
            self._break(1)
            marker = "- "
            if self.lists and self.lists[-1][0] == "ol":
                marker = f"{self.lists[-1][1]}. "
                self.lists[-1][1] += 1
            self.prefix = "  " * min(max(len(self.lists) - 1, 0), _MAX_INDENT) + marker
        elif tag in _PARAGRAPH_TAGS:
            self._break(2)
            if tag == "pre":
                self.pre += 1
        elif tag in _LINE_TAGS:
            self._break(1)
        elif tag in ("td", "th"):
            if not self.line_start:
                self._write(" | ")
        elif tag == "img":
            alt = " ".join(attrs.get("alt", "").split())
            self._write(f"[image: {alt}]" if alt else "[image]")

    def handle_endtag(self, tag: str) -> None:
        if self.open and tag not in _VOID_TAGS:
            top = self.open[-1]
            top[1] -= 1
            if top[1] == 0:
                self.open.pop()
                self.exact.setdefault(top[0], []).append("".join(top[2]))
                if self.open:  # its start tag counted in the element around it: so does its end
                    self.open[-1][1] -= 1
        if tag in _DROPPED_TAGS:
            self.dropped = max(self.dropped - 1, 0)
            return
        if self.dropped:
            return
        if tag in ("ul", "ol"):
            if self.lists:
                self.lists.pop()
            self._break(1 if self.lists else 2)
        elif tag == "li":
            self._break(1)
        elif tag in _PARAGRAPH_TAGS:
            self._break(2)
            if tag == "pre":
                self.pre = max(self.pre - 1, 0)
        elif tag in _LINE_TAGS:
            self._break(1)

    def handle_data(self, data: str) -> None:
        if self.open and not data.isspace():
            self.open[-1][2].append(data)
        if self.dropped:
            return
        self._write(data if self.pre else _SPACES_RE.sub(" ", data))

    def _exact_tag(self, tag: str) -> None:
        """A tag inside one of qbank's exact elements: <br> a line break, each <p> after the
        first a blank line; other tags add nothing."""
        top = self.open[-1]
        if tag == "br":
            top[2].append("\n")
        elif tag == "p":
            if top[3]:
                top[2].append("\n\n")
            top[3] += 1


# =========================================================================== writing

# characters XML 1.0 cannot hold, even escaped
_NOT_XML_RE = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def write_moodle(standard_code: str, questions: list[ExchangeQuestion], path: Path) -> None:
    """Write `questions` of the standard `standard_code` to `path` as Moodle XML (see the
    module's docstring for what goes where). ExchangeError naming the question and field for a
    character XML cannot hold, or naming the file when it cannot be written."""
    for q in questions:
        _check_xml_chars(q)
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n<quiz>\n']
    topic: str | None = None
    for q in questions:
        if q.topic != topic:
            topic = q.topic
            out.append(_category(standard_code, topic))
        out.append(_essay_xml(standard_code, q))
    out.append("</quiz>\n")
    try:
        write_output(path, "".join(out))
    except ExchangeError:
        raise
    except BankError as e:
        raise ExchangeError(str(e)) from None


def _check_xml_chars(q: ExchangeQuestion) -> None:
    fields: list[tuple[str, str]] = [("id", q.id), ("text", q.text), ("guidance", q.guidance), ("topic", q.topic)]
    fields += [("author", q.author)] + [("probes", p) for p in q.probes]
    fields += [("outcomes", o) for o in q.outcomes] + [("methods", m) for m in q.methods]
    for name, value in fields:
        m = _NOT_XML_RE.search(value)
        if m:
            raise ExchangeError(
                f"question {q.id!r}: its {name} holds the character U+{ord(m.group()):04X}, which XML cannot "
                "hold; remove it from the bank and release again"
            )


def _x(s: str) -> str:
    """`s` escaped for XML character data (a carriage return kept as a reference, which XML's
    line-end normalisation would otherwise turn into a line feed)."""
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")


def _cdata(s: str) -> str:
    return "<![CDATA[" + s.replace("]]>", "]]]]><![CDATA[>") + "]]>"


# a line break before a list item ("- ", "* ", "1. "): kept as a line break when shown (as `qbank
# show` keeps it); any other line break inside a paragraph is a writer's wrapping, which a browser
# re-flows as `qbank show` does
_ITEM_BREAK_RE = re.compile(r"\n(?=[^\S\n]*(?:[-*\u2022]|\d+[.)])\s)")


def _h(s: str) -> str:
    """`s` escaped for HTML text: a line break before a list item as <br>, any other kept as it is
    (`_Html` reads both back exactly); a carriage return as a reference."""
    return _ITEM_BREAK_RE.sub("<br>", html.escape(s, quote=False).replace("\r", "&#13;"))


def _paragraphs(s: str) -> str:
    """`s` as HTML paragraphs, split at blank lines (read back exactly by `_Html`)."""
    return "".join(f"<p>{_h(p)}</p>" for p in s.split("\n\n"))


def _category_path(standard_code: str, topic: str) -> str:
    names = [standard_code] + ([topic] if topic else [])
    escaped = []
    for name in names:  # as Moodle's assemble_category_path
        e = name.replace("/", "//")
        if e.startswith("/"):
            e = " " + e
        if e.endswith("/"):
            e = e + " "
        escaped.append(e)
    return "$course$/top/" + "/".join(escaped)


def _category(standard_code: str, topic: str) -> str:
    info = f"qbank standard {standard_code}" + (f", topic {topic}" if topic else "")
    return (
        '  <question type="category">\n'
        f"    <category>\n      <text>{_x(_category_path(standard_code, topic))}</text>\n    </category>\n"
        f'    <info format="html">\n      <text>{_cdata("<p>" + _h(info) + "</p>")}</text>\n    </info>\n'
        "  </question>\n"
    )


def _name(q: ExchangeQuestion) -> str:
    first = " ".join(q.text.split())
    if len(first) > _NAME_EXCERPT:
        first = first[:_NAME_EXCERPT].rsplit(" ", 1)[0] + "…"
    return f"{q.id}: {first}" if first else q.id


def _graderinfo(standard_code: str, q: ExchangeQuestion) -> str:
    parts = [f'<div class="qbank-guidance">{_paragraphs(q.guidance) if q.guidance else ""}</div>']
    if q.probes:
        items = "".join(
            f'<li class="qbank-probe">{_paragraphs(p) if chr(10) * 2 in p else _h(p)}</li>' for p in q.probes
        )
        parts.append(f'<p><strong>Probes</strong></p><ol class="qbank-probes">{items}</ol>')
    meta = f'qbank standard <span class="qbank-standard">{_h(standard_code)}</span>'
    if q.version is not None:
        meta += f', version <span class="qbank-version">{q.version}</span>'
    if q.author:
        meta += f', written by <span class="qbank-author">{_h(q.author)}</span>'
    parts.append(f'<p class="qbank-meta"><small>{meta}</small></p>')
    return "".join(parts)


def _essay_xml(standard_code: str, q: ExchangeQuestion) -> str:
    tags = list(q.outcomes) + [METHOD_TAG + m for m in q.methods]
    if q.minutes is not None:
        tags.append(f"{MINUTES_TAG}{q.minutes}")
    tag_xml = "".join(f"      <tag><text>{_x(t)}</text></tag>\n" for t in tags)
    text_html = f'<div class="qbank-text">{_paragraphs(q.text)}</div>'
    return (
        '  <question type="essay">\n'
        f"    <name>\n      <text>{_x(_name(q))}</text>\n    </name>\n"
        f'    <questiontext format="html">\n      <text>{_cdata(text_html)}</text>\n    </questiontext>\n'
        '    <generalfeedback format="html">\n      <text></text>\n    </generalfeedback>\n'
        "    <defaultgrade>1</defaultgrade>\n"
        "    <penalty>0</penalty>\n"
        "    <hidden>0</hidden>\n"
        f"    <idnumber>{_x(q.id)}</idnumber>\n"
        "    <responseformat>editor</responseformat>\n"
        "    <responserequired>1</responserequired>\n"
        "    <responsefieldlines>15</responsefieldlines>\n"
        "    <attachments>0</attachments>\n"
        "    <attachmentsrequired>0</attachmentsrequired>\n"
        f'    <graderinfo format="html">\n      <text>{_cdata(_graderinfo(standard_code, q))}</text>\n'
        "    </graderinfo>\n"
        '    <responsetemplate format="html">\n      <text></text>\n    </responsetemplate>\n'
        + (f"    <tags>\n{tag_xml}    </tags>\n" if tags else "")
        + "  </question>\n"
    )
