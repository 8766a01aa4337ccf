"""QTI 3.0 (1EdTech Question and Test Interoperability) items and content packages, both ways.

Writing (`write_qti`, for `qbank export --format qti`): a content package, a .zip holding
`imsmanifest.xml` (IMS Content Packaging as profiled by QTI 3.0), one `qti-assessment-item` per
question version under `items/`, and one `qti-assessment-test` (`assessment-test.xml`).

Each item is what an assessor works from:
- the question text is the `qti-prompt` of one `qti-extended-text-interaction` (the apprentice's
  spoken answer, recorded as text; no response processing: a person grades it);
- probes and guidance are `qti-rubric-block`s with `view="scorer"` (assessor-facing; `use`
  "probes" and "guidance"), one `p` per probe and per paragraph of guidance;
- the rest of the question (id, version, outcomes, methods, minutes, topic, author) is a
  `qti-rubric-block view="author" use="qbank-record"` holding a `dl`, so that a single item file
  read on its own gives the question back whole. The item says `tool-name="qbank"`.
The manifest repeats, in each item resource's LOM metadata (IEEE LOM, the binding QTI 3.0 packages
use): the id (`general/identifier`), the version (`lifeCycle/version`), the minutes
(`educational/typicalLearningTime`, e.g. PT5M) and the outcomes (`classification`, purpose
"competency", one taxon per outcome code), for item banks that read manifests only.

The assessment test has one `qti-assessment-section` per assessment method: `qti-selection
select=` the method's `min_questions`, `qti-ordering shuffle="true"`, `qti-time-limits` the
method's minutes, and one `qti-assessment-item-ref` per question that the method may ask. That is
all QTI can say: "pick N of these at random, in random order". qbank's draw is richer and is NOT
expressed in the package: every outcome the method must cover is covered, theme minimums are met,
the questions asked most often are avoided (exposure), no apprentice is asked a question twice,
and declared or near-duplicate questions never share a set. Each section carries a scorer rubric
block that says so in words. A method whose questioning is optional (`min_questions` 0) selects 0.

Reading (`read_qti`, for `qbank convert`): a single `qti-assessment-item` .xml file, a package
(.zip with `imsmanifest.xml`, at its root or in one top folder), or an unpacked package (a folder,
or its imsmanifest.xml). Items with one extended-text interaction become questions; every other
item is skipped with the reason (its interaction type). For items qbank wrote (tool-name "qbank"
and a qbank-record block) every field comes back exactly. For other items: the prompt, and any
text of the item body around the interaction, reduced from XHTML to plain text, is the text;
every rubric block is guidance; LOM classification taxa and keywords in the manifest and the
test's item-ref `category` values become `tags` (mapped to outcomes by `qbank convert --map`);
LOM typicalLearningTime becomes minutes.

XML is parsed with defusedxml, DTDs refused (so no entity expansion and no external entity);
a package is never unpacked to disk: entries are read in memory, after checking that no entry or
reference leads outside the package and that the declared sizes are within MAX_MEMBER_BYTES and
MAX_PACKAGE_BYTES (and the bytes actually read are counted too). Every failure is an
ExchangeError naming the file (and the entry in the package).
"""

from __future__ import annotations

import posixpath
import re
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote
from xml.etree import ElementTree as ET

from . import __version__
from .exchange import ExchangeError, ExchangeMethod, ExchangeQuestion, ReadResult, Skipped
from .problems import display_path
from .safe_write import write_via

QTI_NS = "http://www.imsglobal.org/xsd/imsqtiasi_v3p0"
CP_NS = "http://www.imsglobal.org/xsd/qti/qtiv3p0/imscp_v1p1"
LOM_NS = "http://ltsc.ieee.org/xsd/LOM"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
XML_NS = "http://www.w3.org/XML/1998/namespace"
ITEM_XSD = "https://purl.imsglobal.org/spec/qti/v3p0/schema/xsd/imsqti_asiv3p0_v1p0.xsd"
CP_XSD = "https://purl.imsglobal.org/spec/qti/v3p0/schema/xsd/imsqtiv3p0_imscpv1p2_v1p0.xsd"
LOM_XSD = "https://purl.imsglobal.org/spec/md/v1p3/schema/xsd/imsmd_loose_v1p3p2.xsd"
ITEM_TYPE = "imsqti_item_xmlv3p0"
TEST_TYPE = "imsqti_test_xmlv3p0"
TOOL = "qbank"
TEST_FILE = "assessment-test.xml"
MANIFEST = "imsmanifest.xml"

MAX_MEMBER_BYTES = 20 * 1024 * 1024  # one file of a package, or a single item file
MAX_PACKAGE_BYTES = 200 * 1024 * 1024  # all the files of a package, uncompressed
MAX_ENTRIES = 100_000  # files in a package (10,000 questions make 10,002)

# characters XML 1.0 cannot hold (a qbank text never has them: limits.CONTROL_RE refuses them)
_NOT_XML_RE = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_NCNAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_DURATION_RE = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$")
RECORD_FIELDS = ("id", "version", "outcomes", "methods", "minutes", "topic", "author")


MethodInfo = ExchangeMethod  # the name the first brief gave it


# --------------------------------------------------------------------------------------- writing


def write_qti(
    standard_code: str,
    standard_title: str,
    release: str,
    questions: Sequence[ExchangeQuestion],
    methods: Sequence[ExchangeMethod],
    path: Path,
) -> None:
    """Write `questions` (one release of a standard) and the test their methods make as a QTI 3.0
    content package (.zip) at `path`: to a temporary file beside it, then renamed onto it."""
    path = Path(path)
    files = package_files(standard_code, standard_title, release, questions, methods)

    def write_zip(tmp: Path) -> None:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name, data in files:
                info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))  # the same bytes every time
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o100644 << 16
                zf.writestr(info, data)

    # a temporary file created exclusively beside `path` (never a planted link), renamed onto it
    write_via(path, write_zip, error=ExchangeError)


def package_files(
    standard_code: str,
    standard_title: str,
    release: str,
    questions: Sequence[ExchangeQuestion],
    methods: Sequence[ExchangeMethod],
) -> list[tuple[str, bytes]]:
    """The files of the package, (name in the zip, content), the manifest first."""
    items: list[tuple[ExchangeQuestion, str, str]] = []  # question, item identifier, file name
    idents: set[str] = set()
    lower_names: set[str] = set()
    for q in questions:
        _check_xml_text(q)
        ident = _ncname(q.id if q.version is None else f"{q.id}-v{q.version}")
        if ident in idents:
            raise ExchangeError(
                f"question {q.id!r}"
                + ("" if q.version is None else f" version {q.version}")
                + " is given twice (or clashes with another id once made a QTI identifier); each"
                " question version is one item"
            )
        idents.add(ident)
        name = f"items/{ident}.xml"
        n = 2
        while name.lower() in lower_names:  # a case-insensitive file system would merge them
            name = f"items/{ident}-{n}.xml"
            n += 1
        lower_names.add(name.lower())
        items.append((q, ident, name))
    out: list[tuple[str, bytes]] = [(MANIFEST, _manifest(standard_code, standard_title, release, items, bool(methods)))]
    out.extend((name, _xml_bytes(item_element(q, ident))) for q, ident, name in items)
    if methods:
        out.append((TEST_FILE, _xml_bytes(_test_element(standard_code, standard_title, release, items, methods))))
    return out


def _check_xml_text(q: ExchangeQuestion) -> None:
    values = {"id": q.id, "text": q.text, "guidance": q.guidance, "topic": q.topic, "author": q.author}
    values.update({f"probe {i}": p for i, p in enumerate(q.probes, 1)})
    values.update({f"outcome {o!r}": o for o in q.outcomes})
    values.update({f"method {m!r}": m for m in q.methods})
    for field, value in values.items():
        m = _NOT_XML_RE.search(value)
        if m:
            raise ExchangeError(
                f"question {q.id!r}: its {field} holds the character U+{ord(m.group()):04X}, which XML "
                "cannot carry; remove it from the bank and release again"
            )


def _ncname(text: str) -> str:
    """`text` as a QTI identifier (an XML NCName): other characters become "_", and one that does
    not start with a letter or "_" is prefixed with "q"."""
    s = re.sub(r"[^A-Za-z0-9_.-]", "_", text)
    return s if _NCNAME_RE.match(s) else "q" + s


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrib: str) -> ET.Element:
    e = ET.SubElement(parent, tag, {k.replace("_", "-"): v for k, v in attrib.items()} if attrib else {})
    if text is not None:
        e.text = text
    return e


def _xml_bytes(root: ET.Element) -> bytes:
    ET.indent(root, space="  ")  # only whitespace between elements: no text element has children
    text = ET.tostring(root, encoding="unicode")
    # a carriage return in a text would be read back as a newline (XML line-end handling)
    text = text.replace("\r", "&#13;")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + text + "\n").encode("utf-8")


def _rubric(parent: ET.Element, view: str, use: str) -> ET.Element:
    block = _sub(parent, "qti-rubric-block", view=view, use=use)
    return _sub(block, "qti-content-body")


def item_element(q: ExchangeQuestion, ident: str) -> ET.Element:
    """The qti-assessment-item of one question version."""
    title = q.id if q.version is None else f"{q.id} (version {q.version})"
    root = ET.Element(
        "qti-assessment-item",
        {
            "xmlns": QTI_NS,
            "xmlns:xsi": XSI_NS,
            "xsi:schemaLocation": f"{QTI_NS} {ITEM_XSD}",
            "identifier": ident,
            "title": title,
            "adaptive": "false",
            "time-dependent": "false",
            "tool-name": TOOL,
            "tool-version": __version__,
        },
    )
    _sub(root, "qti-response-declaration", identifier="RESPONSE", cardinality="single", base_type="string")
    body = _sub(root, "qti-item-body")
    if q.probes:
        content = _rubric(body, "scorer", "probes")
        for probe in q.probes:
            _sub(content, "p", probe)
    if q.guidance:
        content = _rubric(body, "scorer", "guidance")
        for para in q.guidance.split("\n\n"):  # split and join are exact inverses
            _sub(content, "p", para)
    record = _sub(_rubric(body, "author", "qbank-record"), "dl")
    for key in RECORD_FIELDS:
        values: list[str]
        if key in ("outcomes", "methods"):
            values = list(getattr(q, key))
        else:
            value = getattr(q, key)
            if value is None:
                continue
            values = [str(value)]
        _sub(record, "dt", key)
        for v in values or [""]:  # a dt has at least one dd; an empty one is an empty list
            _sub(record, "dd", v)
    interaction = _sub(body, "qti-extended-text-interaction", response_identifier="RESPONSE")
    _sub(interaction, "qti-prompt", q.text)
    return root


def _lom(parent: ET.Element, q: ExchangeQuestion, title: str, standard_code: str) -> None:
    lom = _sub(parent, "imsmd:lom", **{"xmlns:imsmd": LOM_NS})
    general = _sub(lom, "imsmd:general")
    identifier = _sub(general, "imsmd:identifier")
    _sub(identifier, "imsmd:catalog", f"qbank:{standard_code}")
    _sub(identifier, "imsmd:entry", q.id)
    _sub(_sub(general, "imsmd:title"), "imsmd:string", title)
    if q.version is not None:
        _sub(_sub(_sub(lom, "imsmd:lifeCycle"), "imsmd:version"), "imsmd:string", str(q.version))
    if q.minutes is not None:
        educational = _sub(lom, "imsmd:educational")
        _sub(_sub(educational, "imsmd:typicalLearningTime"), "imsmd:duration", f"PT{q.minutes}M")
    if q.outcomes:
        classification = _sub(lom, "imsmd:classification")
        purpose = _sub(classification, "imsmd:purpose")
        _sub(purpose, "imsmd:source", "LOMv1.0")
        _sub(purpose, "imsmd:value", "competency")
        path = _sub(classification, "imsmd:taxonPath")
        _sub(_sub(path, "imsmd:source"), "imsmd:string", f"{standard_code} outcomes")
        for code in q.outcomes:
            _sub(_sub(path, "imsmd:taxon"), "imsmd:id", code)


def _manifest(
    code: str, title: str, release: str, items: list[tuple[ExchangeQuestion, str, str]], with_test: bool
) -> bytes:
    root = ET.Element(
        "manifest",
        {
            "xmlns": CP_NS,
            "xmlns:xsi": XSI_NS,
            "xsi:schemaLocation": f"{CP_NS} {CP_XSD} {LOM_NS} {LOM_XSD}",
            "identifier": _ncname(f"MANIFEST-{code}-{release}"),
        },
    )
    metadata = _sub(root, "metadata")
    _sub(metadata, "schema", "QTI Package")
    _sub(metadata, "schemaversion", "3.0.0")
    _sub(root, "organizations")
    resources = _sub(root, "resources")
    for q, ident, name in items:
        res = _sub(resources, "resource", identifier=f"item-{ident}", type=ITEM_TYPE, href=name)
        _lom(_sub(res, "metadata"), q, q.id if q.version is None else f"{q.id} (version {q.version})", code)
        _sub(res, "file", href=name)
    if with_test:
        res = _sub(resources, "resource", identifier=_ncname(f"test-{code}-{release}"), type=TEST_TYPE, href=TEST_FILE)
        meta = _sub(res, "metadata")
        lom = _sub(meta, "imsmd:lom", **{"xmlns:imsmd": LOM_NS})
        _sub(_sub(_sub(lom, "imsmd:general"), "imsmd:title"), "imsmd:string", f"{code} {title}, release {release}")
        _sub(res, "file", href=TEST_FILE)
        for _q, ident, _name in items:
            _sub(res, "dependency", identifierref=f"item-{ident}")
    return _xml_bytes(root)


def _draw_note(method: ExchangeMethod, available: int) -> str:
    if method.min_questions == 0:
        head = (
            "Questioning is optional for this method: the plan fixes no number, and qbank draws "
            "questions only when the assessor asks for them."
        )
    else:
        head = f"qbank draws {method.min_questions} of these {available} questions for each apprentice."
    return (
        head + " QTI can say only 'select that many at random, in random order'. The real draw says"
        " more: every outcome the method must cover is covered, theme minimums are met, the"
        " questions asked most often are avoided (exposure), no apprentice is asked a question twice,"
        " and near-duplicate questions never share a set. Draw with qbank to keep those guarantees."
    )


def _test_element(
    code: str,
    title: str,
    release: str,
    items: list[tuple[ExchangeQuestion, str, str]],
    methods: Sequence[ExchangeMethod],
) -> ET.Element:
    root = ET.Element(
        "qti-assessment-test",
        {
            "xmlns": QTI_NS,
            "xmlns:xsi": XSI_NS,
            "xsi:schemaLocation": f"{QTI_NS} {ITEM_XSD}",
            "identifier": _ncname(f"{code}-{release}"),
            "title": f"{code} {title}, release {release}",
            "tool-name": TOOL,
            "tool-version": __version__,
        },
    )
    part = _sub(root, "qti-test-part", identifier="methods", navigation_mode="nonlinear", submission_mode="individual")
    ref_ids: set[str] = set()
    for method in methods:
        members = [(ident, name) for q, ident, name in items if method.key in q.methods]
        section = _sub(
            part,
            "qti-assessment-section",
            identifier=_ncname(f"method-{method.key}"),
            title=method.name,
            visible="true",
        )
        if method.minutes:
            _sub(section, "qti-time-limits", max_time=str(method.minutes * 60))
        _sub(section, "qti-selection", select=str(min(method.min_questions, len(members))))
        _sub(section, "qti-ordering", shuffle="true")
        _sub(_rubric(section, "scorer", "draw-plan"), "p", _draw_note(method, len(members)))
        for ident, name in members:
            ref = _ncname(f"{ident}.{method.key}")
            while ref in ref_ids:
                ref += "_"
            ref_ids.add(ref)
            _sub(section, "qti-assessment-item-ref", identifier=ref, href=name)
    return root


# --------------------------------------------------------------------------------------- reading


_LOCAL: dict[object, str] = {}


def _local(tag: object) -> str:
    """An element's name without its namespace ("" for comments and processing instructions)."""
    try:
        return _LOCAL[tag]
    except KeyError:
        local = tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""
        if len(_LOCAL) < 10_000:  # a hostile file's made-up names do not fill memory
            _LOCAL[tag] = local
        return local


def _children(e: ET.Element, name: str) -> Iterator[ET.Element]:
    return (c for c in e if _local(c.tag) == name)


def _child(e: ET.Element | None, name: str) -> ET.Element | None:
    if e is None:
        return None
    return next(_children(e, name), None)


def _parse(data: bytes, where: str) -> ET.Element:
    """Parse with defusedxml, refusing any DTD (and so entities, internal or external)."""
    import defusedxml
    from defusedxml.ElementTree import fromstring

    if not data.strip():
        raise ExchangeError(f"{where} is empty: there is nothing to read")
    try:
        root: ET.Element = fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
        return root
    except defusedxml.DefusedXmlException:
        head = data[:65536]
        if b"<!ENTITY" in head and (b"SYSTEM" in head or b"PUBLIC" in head):
            what = "declares an external entity (it would make the reader open another file or a web address)"
        elif b"<!ENTITY" in head:
            what = "declares entities (expanding them is how an 'XML bomb' exhausts memory)"
        else:
            what = "declares a document type (<!DOCTYPE>)"
        raise ExchangeError(
            f"{where} {what}; qbank refuses DTDs and entities in QTI files, which never need them"
        ) from None
    except ET.ParseError as e:
        raise ExchangeError(f"{where} is not well-formed XML ({e}); is it really a QTI file?") from None
    except (ValueError, RecursionError) as e:
        raise ExchangeError(f"{where} cannot be read as XML: {e}") from None


class _Source(Protocol):
    name: str

    def read(self, member: str) -> bytes: ...
    def exists(self, member: str) -> bool: ...
    def manifest(self) -> str: ...


def _inside(member: str) -> bool:
    """Whether a path inside the package stays inside it (no "..", not absolute, no drive)."""
    if not member or member.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", member):
        return False
    parts = member.replace("\\", "/").split("/")
    return ".." not in parts


class _Zip:
    def __init__(self, path: Path, name: str) -> None:
        self.name = name
        try:
            self.zf = zipfile.ZipFile(path)
            infos = self.zf.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as e:
            raise ExchangeError(f"{name} is not a readable zip package ({e})") from None
        if len(infos) > MAX_ENTRIES:
            raise ExchangeError(
                f"{name} holds {len(infos):,} files; a QTI package qbank reads holds at most {MAX_ENTRIES:,}"
            )
        total = 0
        self.infos: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            if not _inside(info.filename):
                raise ExchangeError(
                    f"{name} holds an entry that points outside the package ({info.filename!r}): refused"
                    " (a 'zip slip'); repack it with paths inside the package"
                )
            if info.file_size > MAX_MEMBER_BYTES:
                raise ExchangeError(
                    f"{name}: the entry {info.filename!r} unpacks to {info.file_size:,} bytes, more than the"
                    f" {MAX_MEMBER_BYTES // 2**20} MB qbank reads for one file (a 'zip bomb'?)"
                )
            total += info.file_size
            self.infos[info.filename] = info
        if total > MAX_PACKAGE_BYTES:
            raise ExchangeError(
                f"{name} unpacks to {total:,} bytes, more than the {MAX_PACKAGE_BYTES // 2**20} MB qbank reads"
                " for one package (a 'zip bomb'?)"
            )
        self.read_so_far = 0

    def exists(self, member: str) -> bool:
        return member in self.infos

    def manifest(self) -> str:
        if MANIFEST in self.infos:
            return MANIFEST
        found = sorted(
            (n for n in self.infos if posixpath.basename(n) == MANIFEST),
            key=lambda n: (n.count("/"), n),
        )
        if found and (len(found) == 1 or found[0].count("/") < found[1].count("/")):
            return found[0]
        raise ExchangeError(
            f"{self.name} has no {MANIFEST}, so it is not a QTI content package"
            + (f" (it has several: {', '.join(found[:3])})" if found else "")
            + "; export the package again, or convert its item .xml files one by one"
        )

    def read(self, member: str) -> bytes:
        info = self.infos.get(member)
        where = f"{self.name}: {member}"
        if info is None:
            raise ExchangeError(f"{self.name}: the manifest lists {member!r}, which is not in the package")
        try:
            with self.zf.open(info) as f:
                data = f.read(MAX_MEMBER_BYTES + 1)
        except (zipfile.BadZipFile, OSError, zlib.error, EOFError, RuntimeError, NotImplementedError, ValueError) as e:
            raise ExchangeError(f"{where} cannot be unpacked ({e})") from None
        if len(data) > MAX_MEMBER_BYTES:
            raise ExchangeError(f"{where} unpacks to more than {MAX_MEMBER_BYTES // 2**20} MB (a 'zip bomb'?)")
        self.read_so_far += len(data)
        if self.read_so_far > MAX_PACKAGE_BYTES:
            raise ExchangeError(f"{self.name} unpacks to more than {MAX_PACKAGE_BYTES // 2**20} MB (a 'zip bomb'?)")
        return data

    def close(self) -> None:
        self.zf.close()


class _Folder:
    """An unpacked package: the folder that holds imsmanifest.xml."""

    def __init__(self, root: Path, name: str) -> None:
        self.root = root.resolve()
        self.name = name
        self.read_so_far = 0

    def exists(self, member: str) -> bool:
        return self._path(member).is_file()

    def manifest(self) -> str:
        if not (self.root / MANIFEST).is_file():
            raise ExchangeError(f"{self.name} has no {MANIFEST}, so it is not a QTI content package")
        return MANIFEST

    def _path(self, member: str) -> Path:
        p = (self.root / member).resolve()
        if not p.is_relative_to(self.root):
            raise ExchangeError(f"{self.name}: {member!r} leads outside the package folder (a link?): refused")
        return p

    def read(self, member: str) -> bytes:
        p = self._path(member)
        where = f"{self.name}: {member}"
        try:
            size = p.stat().st_size
            if size > MAX_MEMBER_BYTES:
                raise ExchangeError(
                    f"{where} is {size:,} bytes, more than the {MAX_MEMBER_BYTES // 2**20} MB qbank reads"
                )
            with open(p, "rb") as f:
                data = f.read(MAX_MEMBER_BYTES + 1)
        except FileNotFoundError:
            raise ExchangeError(f"{self.name}: the manifest lists {member!r}, which is not in the package") from None
        except OSError as e:
            raise ExchangeError(f"{where} cannot be read: {e.strerror or e}") from None
        self.read_so_far += len(data)
        if len(data) > MAX_MEMBER_BYTES or self.read_so_far > MAX_PACKAGE_BYTES:
            raise ExchangeError(f"{where}: the package is larger than the {MAX_PACKAGE_BYTES // 2**20} MB qbank reads")
        return data

    def close(self) -> None:
        pass


def read_qti(path: Path) -> ReadResult:
    """Read a QTI 3.0 item (.xml), package (.zip), or unpacked package (a folder or its
    imsmanifest.xml) into questions and skipped items; ExchangeError naming the file when it
    cannot be read at all."""
    path = Path(path)
    name = display_path(path)
    try:
        if path.is_dir():
            return _read_package(_Folder(path, name))
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as e:
        raise ExchangeError(f"cannot read {name}: {e.strerror or e}") from None
    if size == 0:
        raise ExchangeError(f"{name} is empty: there is nothing to read")
    if head.startswith(b"PK"):
        source = _Zip(path, name)
        try:
            return _read_package(source)
        finally:
            source.close()
    if size > MAX_MEMBER_BYTES:
        raise ExchangeError(
            f"{name} is {size:,} bytes, more than the {MAX_MEMBER_BYTES // 2**20} MB qbank reads for one XML file"
        )
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ExchangeError(f"cannot read {name}: {e.strerror or e}") from None
    root = _parse(data, name)
    kind = _local(root.tag)
    if kind == "manifest":
        return _read_package(_Folder(path.parent, name))
    if kind == "assessmentItem":
        raise ExchangeError(
            f"{name} is a QTI 2.x item (assessmentItem): qbank reads QTI 3.0; upgrade it to QTI 3.0 first"
        )
    if kind != "qti-assessment-item":
        raise ExchangeError(
            f"{name} is not a QTI 3.0 item: its root element is <{kind}>, not <qti-assessment-item>"
            " (a package is a .zip with imsmanifest.xml)"
        )
    result = ReadResult(format="qti")
    _add(result, _item(root, path.name, None))
    return result


def _add(result: ReadResult, got: ExchangeQuestion | Skipped) -> None:
    if isinstance(got, Skipped):
        result.skipped.append(got)
    else:
        result.questions.append(got)


@dataclass
class _Meta:
    """What a manifest's LOM metadata and the tests say about one item (foreign items only)."""

    tags: list[str]
    minutes: int | None = None
    source: ET.Element | None = None  # the resource's metadata, read only for items qbank did not write


def _resolve(base: str, href: str, source: _Source, what: str) -> str:
    member = posixpath.normpath(posixpath.join(base, unquote(href).replace("\\", "/")))
    if re.match(r"^[a-z][a-z0-9+.-]*:", href, re.I) and not re.match(r"^[A-Za-z]:[\\/]", href):
        raise ExchangeError(
            f"{source.name}: {what} points to {href!r}, outside the package: qbank reads only files inside it"
        )
    if not _inside(member) or member in (".", ""):
        raise ExchangeError(
            f"{source.name}: {what} points outside the package ({href!r}): refused (a 'zip slip');"
            " a package's files are below its imsmanifest.xml"
        )
    return member


def _read_package(source: _Source) -> ReadResult:
    manifest_name = source.manifest()
    base = posixpath.dirname(manifest_name)
    root = _parse(source.read(manifest_name), f"{source.name}: {manifest_name}")
    if _local(root.tag) != "manifest":
        raise ExchangeError(
            f"{source.name}: {manifest_name} is not an IMS content package manifest (root <{_local(root.tag)}>)"
        )
    result = ReadResult(format="qti")
    items: list[tuple[str, str, _Meta]] = []  # member, resource identifier, metadata
    tests: list[tuple[str, str]] = []
    for resources in _children(root, "resources"):
        res_base = posixpath.join(base, resources.get(f"{{{XML_NS}}}base", ""))
        for res in _children(resources, "resource"):
            kind = res.get("type", "")
            rid = res.get("identifier", "?")
            href = res.get("href") or next((f.get("href", "") for f in _children(res, "file")), "")
            if not kind.startswith("imsqti_"):
                continue  # web content, images, stylesheets: not questions
            what = f"resource {rid!r}"
            if not href:
                result.skipped.append(Skipped(where=what, why="the manifest gives it no file (href)"))
                continue
            member = _resolve(posixpath.join(res_base, res.get(f"{{{XML_NS}}}base", "")), href, source, what)
            if kind.startswith("imsqti_item_xmlv3p0"):
                items.append((member, rid, _Meta(tags=[], source=_child(res, "metadata"))))
            elif kind.startswith("imsqti_test_xmlv3p0"):
                tests.append((member, rid))
            elif kind.startswith("imsqti_item_xmlv2p") or kind.startswith("imsqti_item_xmlv1p"):
                result.skipped.append(
                    Skipped(
                        where=f"{what} ({member})",
                        why="a QTI 2.x/1.x item: qbank reads QTI 3.0 items; upgrade it first",
                    )
                )
    missing = [m for m, _r, _ in items if not source.exists(m)] + [m for m, _r in tests if not source.exists(m)]
    if missing:
        raise ExchangeError(
            f"{source.name}: the manifest lists {missing[0]!r}"
            + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
            + ", which is not in the package; the package is incomplete"
        )
    categories: dict[str, list[str]] = {}
    for member, _rid in tests:
        test = _parse(source.read(member), f"{source.name}: {member}")
        test_base = posixpath.dirname(member)
        for ref in test.iter():
            if _local(ref.tag) == "qti-assessment-item-ref" and ref.get("href") and ref.get("category"):
                target = _resolve(test_base, ref.get("href", ""), source, f"the test {member!r}")
                cats = categories.setdefault(target, [])
                cats.extend(c for c in ref.get("category", "").split() if c not in cats)
    for member, _rid, meta in items:
        for c in categories.get(member, []):
            if c not in meta.tags:
                meta.tags.append(c)
        where = f"{source.name}: {member}"
        item = _parse(source.read(member), where)
        if _local(item.tag) != "qti-assessment-item":
            result.skipped.append(
                Skipped(where=member, why=f"its root element is <{_local(item.tag)}>, not <qti-assessment-item>")
            )
            continue
        _add(result, _item(item, member, meta))
    return result


def _text_of(e: ET.Element | None) -> str:
    return "" if e is None else "".join(e.itertext()).strip()


def _lom_meta(found: _Meta) -> _Meta:
    """`found` with the tags and minutes its LOM metadata gives, before the test's categories."""
    meta = _Meta(tags=[])
    metadata = found.source
    for e in metadata.iter() if metadata is not None else ():
        local = _local(e.tag)
        if local == "taxon":
            value = _text_of(_child(e, "id")) or _text_of(_child(e, "entry"))
            if value and value not in meta.tags:
                meta.tags.append(value)
        elif local == "keyword":
            value = _text_of(e)
            if value and value not in meta.tags:
                meta.tags.append(value)
        elif local == "typicalLearningTime":
            m = _DURATION_RE.match(_text_of(_child(e, "duration")))
            if m and any(m.groups()):
                d, h, mins, s = (float(g) if g else 0.0 for g in m.groups())
                meta.minutes = max(1, round(d * 1440 + h * 60 + mins + s / 60))
    meta.tags.extend(t for t in dict.fromkeys(found.tags) if t not in meta.tags)
    return meta


# block-level XHTML elements: each starts a new paragraph of the plain text
_BLOCKS = frozenset(
    "p div ul ol li dl dt dd h1 h2 h3 h4 h5 h6 blockquote pre table thead tbody tfoot tr caption "
    "section article aside header footer nav figure figcaption address hr qti-prompt qti-content-body".split()
)
# never part of the question's text: scripts, styles, feedback shown only after answering, templates
_HIDDEN = frozenset(
    "script style qti-stylesheet qti-rubric-block qti-feedback-block qti-feedback-inline qti-modal-feedback "
    "qti-template-block qti-template-inline qti-catalog-info".split()
)


def plain_text(e: ET.Element) -> str:
    """The text of an (X)HTML fragment as plain text: paragraphs separated by a blank line, line
    breaks kept, other runs of white space made one space, list items marked "- ", images by their
    alt text, hidden parts (rubrics, feedback, scripts) left out."""
    paragraphs: list[str] = []
    lines: list[str] = []
    run: list[str] = []

    def end_line() -> None:
        lines.append(" ".join("".join(run).split()))
        run.clear()

    def end_paragraph() -> None:
        end_line()
        text = "\n".join(lines).strip("\n")
        lines.clear()
        if text.strip():
            paragraphs.append(text)

    # iterative, not recursive: a hostile file may nest elements a hundred thousand deep
    stack: list[tuple[str, ET.Element, bool]] = [("enter", e, True)]
    while stack:
        action, node, top = stack.pop()
        local = _local(node.tag)
        interaction = local.endswith("-interaction")
        block = local in _BLOCKS or (interaction and not top)
        if action == "tail":
            if node.tail:
                run.append(node.tail)
            continue
        if action == "exit":
            if block:
                end_paragraph()
            if node.tail and not top:
                run.append(node.tail)
            continue
        if local in _HIDDEN and not top:
            if node.tail:
                run.append(node.tail)
            continue
        if block:
            end_paragraph()
            if local == "li":
                run.append("- ")
        if local == "br":
            end_line()
        elif local == "img" and node.get("alt"):
            run.append(f"[{node.get('alt')}]")
        if node.text and not interaction:
            run.append(node.text)
        stack.append(("exit", node, top))
        for child in reversed(node):
            # of an interaction only the prompt is text; its choices and the like are not
            skip = interaction and _local(child.tag) != "qti-prompt"
            stack.append(("tail" if skip else "enter", child, False))

    end_paragraph()
    return "\n\n".join(paragraphs)


def _interactions(body: ET.Element) -> list[ET.Element]:
    return [e for e in body.iter() if _local(e.tag).startswith("qti-") and _local(e.tag).endswith("interaction")]


def _kind(interaction: ET.Element) -> str:
    local = _local(interaction.tag)
    return local.removeprefix("qti-").removesuffix("-interaction").removesuffix("interaction").strip("-") or local


def _record(block: ET.Element) -> dict[str, list[str]]:
    record: dict[str, list[str]] = {}
    for dl in block.iter():
        if _local(dl.tag) != "dl":
            continue
        key = ""
        for e in dl:
            if _local(e.tag) == "dt":
                key = (e.text or "").strip()
                record.setdefault(key, [])
            elif _local(e.tag) == "dd" and key:
                record[key].append(e.text or "")
        break
    return record


def _item(root: ET.Element, member: str, meta: _Meta | None) -> ExchangeQuestion | Skipped:
    """One item: a question, or why it was skipped. `member` names its file (in the package);
    `meta` is what the manifest and tests say about it."""
    ident = root.get("identifier", "") or posixpath.splitext(posixpath.basename(member))[0]
    where = f"item {ident!r} ({member})"
    body = _child(root, "qti-item-body")
    if body is None:
        return Skipped(where=where, why="it has no item body (qti-item-body): nothing to ask")
    interactions = _interactions(body)
    if not interactions:
        return Skipped(where=where, why="it has no interaction: only extended-text items become qbank questions")
    others = [i for i in interactions if _local(i.tag) != "qti-extended-text-interaction"]
    if others:
        kinds = sorted({_kind(i) for i in others})
        return Skipped(
            where=where, why=f"{', '.join(kinds)} interaction: only extended-text items become qbank questions"
        )
    if len(interactions) > 1:
        return Skipped(
            where=where,
            why=f"{len(interactions)} extended-text interactions: a qbank question asks one thing; split the item",
        )
    interaction = interactions[0]
    rubrics = [e for e in body.iter() if _local(e.tag) == "qti-rubric-block"]
    record_block = next((r for r in rubrics if r.get("use") == "qbank-record"), None)
    if root.get("tool-name") == TOOL and record_block is not None:
        return _qbank_item(root, body, interaction, rubrics, record_block, where)
    meta = _lom_meta(meta or _Meta(tags=[]))
    guidance = [plain_text(r) for r in rubrics]
    text = plain_text(body)
    if not text:
        return Skipped(where=where, why="it has no question text (its prompt and item body are empty)")
    return ExchangeQuestion(
        id=ident,
        text=text,
        guidance="\n\n".join(g for g in guidance if g),
        minutes=meta.minutes,
        tags=list(meta.tags),
        where=where,
    )


def _paragraphs(block: ET.Element) -> list[str]:
    content = _child(block, "qti-content-body")
    return [p.text or "" for p in (content if content is not None else block) if _local(p.tag) == "p"]


def _qbank_item(
    root: ET.Element,
    body: ET.Element,
    interaction: ET.Element,
    rubrics: list[ET.Element],
    record_block: ET.Element,
    where: str,
) -> ExchangeQuestion | Skipped:
    record = _record(record_block)
    prompt = _child(interaction, "qti-prompt")
    if prompt is None:
        text = ""
    elif len(prompt) == 0:
        text = prompt.text or ""  # exactly as written: qbank wrote it as plain text
    else:
        text = plain_text(prompt)  # someone made it XHTML since
    probes: list[str] = []
    guidance: list[str] = []
    for r in rubrics:
        use = r.get("use")
        if use == "probes":
            probes.extend(_paragraphs(r))
        elif use == "guidance":
            guidance.extend(_paragraphs(r))
        elif use != "qbank-record":
            g = plain_text(r)
            if g:
                guidance.append(g)

    def one(key: str) -> str:
        values = record.get(key) or [""]
        return values[0]

    def number(key: str) -> int | None:
        value = one(key).strip()
        if not value:
            return None
        if not value.isdigit():
            raise ValueError(f"its qbank record gives {key} {value!r}, not a whole number")
        return int(value)

    try:
        minutes, version = number("minutes"), number("version")
    except ValueError as e:
        return Skipped(where=where, why=str(e))
    return ExchangeQuestion(
        id=one("id") or root.get("identifier", ""),
        text=text,
        outcomes=[v for v in record.get("outcomes", []) if v],
        methods=[v for v in record.get("methods", []) if v],
        minutes=minutes,
        probes=probes,
        guidance="\n\n".join(guidance),
        topic=one("topic"),
        author=one("author"),
        version=version,
        where=where,
    )
