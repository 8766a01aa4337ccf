"""People and roles on PostgreSQL (issue 14, item 1): `qbank admin init` / `add-user`, and every
denial, on the real PostgreSQL with real logins (pg_hba trusts 127.0.0.1, so a new login connects
without a password): a writer, two assessors, a reviewer, an IQA and an admin, each with an engine
of their own, using the qbank services as a person would.

Group roles (qbank_writer, ...) are cluster-wide and shared by every test; the logins are named
with a random suffix and dropped afterwards; each world lives in a schema of its own."""

from __future__ import annotations

import os
import re
import threading
import uuid
from pathlib import Path

import pytest
from conftest import write_bank
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, ProgrammingError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from test_iqa import import_fixture

from qbank import iqa, roles
from qbank import sessions as S
from qbank.cli import main
from qbank.draws import load_draw, swap
from qbank.importer import import_bank
from qbank.models import AssessmentRow, ReleaseClearanceRow, SecondMarkRow
from qbank.problems import BankError
from qbank.releases import make_release
from qbank.store import make_engine
from qbank.validation import load_bank

PG_ENV = "QBANK_TEST_POSTGRES_URL"
BASE = os.environ.get(PG_ENV, "")

NO_PG = f"role tests need PostgreSQL: set {PG_ENV}=postgresql+psycopg://postgres@127.0.0.1:5432/test"

PEOPLE = {"writer": "writer", "ann": "assessor", "bob": "assessor", "rev": "reviewer", "iqa": "iqa", "adm": "admin"}
SHEET = {"define": 8, "apply": 36, "report": 16}


def _schema_url(schema: str, user: str | None = None) -> str:
    url = make_url(BASE).update_query_dict({"options": f"-csearch_path={schema}"})
    if user:
        url = url.set(username=user, password=None)
    return url.render_as_string(hide_password=False)


class World:
    def __init__(self, schema: str, owner, logins: dict[str, str]):
        self.schema, self.owner, self.logins = schema, owner, logins
        self.engines = {k: make_engine(_schema_url(schema, v)) for k, v in logins.items()}
        self.urls = {k: _schema_url(schema, v) for k, v in logins.items()}

    def __getitem__(self, who: str):
        return self.engines[who]

    def sql(self, who: str, stmt: str, **params):
        """One statement as `who`, committed; returns the rowcount (or the rows of a SELECT)."""
        with self.engines[who].begin() as c:
            r = c.execute(text(stmt), params)
            return r.all() if r.returns_rows else r.rowcount


def _drop_logins(owner, names) -> None:
    with owner.begin() as c:
        for n in names:
            c.exec_driver_sql(f"DROP ROLE IF EXISTS {roles.quote(n)}")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A store set up by its owner (postgres): `admin init`, six logins, the IQA fixture bank imported
    by the writer, and one assessment of Ann's, completed (a mark sheet), with its draw."""
    if not BASE:
        pytest.skip(NO_PG)
    schema = f"qbank_roles_{uuid.uuid4().hex[:10]}"
    suffix = uuid.uuid4().hex[:8]
    logins = {k: f"qbt_{k}_{suffix}" for k in PEOPLE}
    root = make_engine(BASE, create=False)
    with root.begin() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    owner = make_engine(_schema_url(schema))
    try:
        roles.init(owner)
        for k, role in PEOPLE.items():
            roles.add_user(owner, logins[k], role)
        w = World(schema, owner, logins)
        import_fixture(w["writer"], tmp_path_factory.mktemp("roles") / "banks")
        w.ann_done = _sheet(w["ann"], "APP-ANN-1", "Ann Assessor")
        yield w
        for e in w.engines.values():
            e.dispose()
    finally:
        owner.dispose()
        with root.begin() as c:
            c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        _drop_logins(root, logins.values())
        root.dispose()


def _sheet(engine, apprentice: str, assessor: str, *, complete: bool = True) -> int:
    aid = S.start_assessment(
        engine, S.StartRequest(standard="IQA01", apprentice=apprentice, assessor=assessor, methods=("mark-sheet",))
    )
    (m,) = S.load(engine, aid).methods
    for section, mark in SHEET.items():
        S.set_mark(engine, m.id, section, mark=mark)
    if complete:
        S.end_method(engine, m.id, reason="marked from the written report")
        S.confirm_grade(engine, m.id)
        S.complete(engine, aid)
    return aid


def _open_with_evidence(w: World, who: str, apprentice: str) -> tuple[int, int, int, int]:
    """An open assessment of `who` on the descriptor methods: (assessment, method record, ask,
    evidence) ids, one question asked and one evidence entry logged."""
    e = w[who]
    aid = S.start_assessment(
        e, S.StartRequest(standard="IQA01", apprentice=apprentice, assessor=who, methods=("presentation",))
    )
    (m,) = S.load(e, aid).methods
    question = m.questions[0].code
    assert question is not None
    ask_id = S.ask(e, m.id, question)
    S.log_evidence(e, m.id, "pass", criterion="P1")
    ev_id = S.load(e, aid).methods[0].evidence[0].id
    return aid, m.id, ask_id, ev_id


def _denied(exc: BaseException) -> bool:
    return isinstance(exc, DBAPIError) and getattr(exc.orig, "sqlstate", None) == "42501"


def _events(w: World, table: str, key) -> list[tuple[str, str]]:
    return [
        (r[0], r[1])
        for r in w.sql(
            "adm",
            "SELECT actor, kind FROM audit_event WHERE table_name = :t AND row_key = :k ORDER BY seq",
            t=table,
            k=str(key),
        )
    ]


# --------------------------------------------------------------------------- init and logins


def test_init_twice_changes_nothing_and_sets_row_level_security(world):
    before = world.sql("adm", "SELECT 1")  # the admin login works
    assert before == [(1,)]
    second = roles.init(world.owner)
    assert second.created_roles == [] and second.schema == world.schema
    with world.owner.connect() as c:
        rls = dict(
            c.execute(
                text("SELECT relname, relrowsecurity FROM pg_class WHERE relnamespace = CAST(:s AS regnamespace)"),
                {"s": world.schema},
            ).all()
        )
        n = c.execute(text("SELECT count(*) FROM pg_policies WHERE schemaname = :s"), {"s": world.schema}).scalar()
    assert all(rls[t] for t in roles.POLICIES), {t: rls[t] for t in roles.POLICIES}
    assert not rls["question_version"]  # the bank: grants only
    assert n == sum(len(p) for p in roles.POLICIES.values()) == second.policies


def test_init_runs_concurrently_in_two_schemas():
    """Tests (and organisations with several stores) run init at the same time in other schemas."""
    if not BASE:
        pytest.skip(NO_PG)
    root = make_engine(BASE, create=False)
    schemas = [f"qbank_roles_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    with root.begin() as c:
        for s in schemas:
            c.execute(text(f'CREATE SCHEMA "{s}"'))
    try:
        engines = [make_engine(_schema_url(s)) for s in schemas]
        errors: list[BaseException] = []

        def run(e):
            try:
                roles.init(e)
            except BaseException as ex:  # noqa: BLE001  (reported below)
                errors.append(ex)

        threads = [threading.Thread(target=run, args=(e,)) for e in engines]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        for e in engines:
            e.dispose()
    finally:
        with root.begin() as c:
            for s in schemas:
                c.execute(text(f'DROP SCHEMA "{s}" CASCADE'))
        root.dispose()


def test_users_lists_each_login_with_its_roles(world, capsys, monkeypatch):
    listed = {u.name: u.roles for u in roles.users(world.owner)}
    for k, role in PEOPLE.items():
        assert listed[world.logins[k]] == (role,)
    monkeypatch.setenv("QBANK_DATABASE_URL", _schema_url(world.schema))
    assert main(["admin", "users"]) == 0
    out = capsys.readouterr().out
    assert re.search(rf"^{world.logins['ann']} +assessor$", out, re.M), out


@pytest.mark.parametrize(
    "name",
    ['bob"; DROP ROLE postgres; --', "Bob", "1bob", "pg_bob", "qbank_admin", "", "a" * 64, "bob smith"],
)
def test_add_user_refuses_unsafe_names(world, name, capsys, monkeypatch):
    with pytest.raises(roles.RolesError, match="login name|reserved"):
        roles.add_user(world.owner, name, "assessor")
    monkeypatch.setenv("QBANK_DATABASE_URL", _schema_url(world.schema))
    assert main(["admin", "add-user", name, "--role", "assessor"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and ("login name" in err or "reserved" in err)


def test_add_user_with_a_password_and_a_second_role(world, monkeypatch, capsys):
    name = f"qbt_pw_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("QBANK_DATABASE_URL", _schema_url(world.schema))
    import io

    try:
        monkeypatch.setattr("sys.stdin", io.StringIO("it's 100% s3cret\n"))
        assert main(["admin", "add-user", name, "--role", "reviewer", "--password-stdin"]) == 0
        assert "with a password" in capsys.readouterr().out
        assert main(["admin", "add-user", name, "--role", "iqa"]) == 0
        assert {u.name: u.roles for u in roles.users(world.owner)}[name] == ("reviewer", "iqa")
        with world.owner.connect() as c:
            stored = c.execute(text("SELECT rolpassword FROM pg_authid WHERE rolname = :n"), {"n": name}).scalar()
        assert stored and stored.startswith("SCRAM-SHA-256$")
        assert main(["admin", "remove-role", name, "--role", "iqa"]) == 0
        assert {u.name: u.roles for u in roles.users(world.owner)}[name] == ("reviewer",)
    finally:
        _drop_logins(world.owner, [name])


def test_a_login_cannot_add_users_or_init(world, monkeypatch, capsys):
    with pytest.raises(roles.RolesError, match="may not create logins"):
        roles.add_user(world["adm"], f"qbt_x_{uuid.uuid4().hex[:8]}", "admin")
    with pytest.raises(roles.RolesError, match="may not set up roles"):
        roles.init(world["adm"])
    monkeypatch.setenv("QBANK_DATABASE_URL", world.urls["ann"])
    assert main(["admin", "init"]) == 1
    err = capsys.readouterr().err
    assert "may not set up roles" in err and "superuser" in err and "Traceback" not in err


def test_sqlite_is_single_user(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("QBANK_DATABASE_URL", f"sqlite:///{tmp_path / 's.db'}")
    for argv in (["admin", "init"], ["admin", "users"], ["admin", "add-user", "ann", "--role", "assessor"]):
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert "roles are PostgreSQL's; on SQLite the store is single-user" in err, err


# --------------------------------------------------------------------------- who is recorded


def test_every_write_records_the_login_as_owner_and_actor(world):
    ann = world.logins["ann"]
    aid = world.ann_done
    with Session(world["adm"]) as s:
        a = s.get_one(AssessmentRow, aid)
        draw_owner = s.execute(
            text("SELECT d.owner FROM draw d JOIN assessment_method m ON m.draw_id = d.id WHERE m.assessment_id = :a"),
            {"a": aid},
        ).scalar()
    assert a.owner == ann and draw_owner == ann
    assert _events(world, "assessment", aid) and {actor for actor, _ in _events(world, "assessment", aid)} == {ann}
    marks = world.sql(
        "adm",
        "SELECT c.id FROM criterion_mark c JOIN assessment_method m ON m.id = c.assessment_method_id "
        "WHERE m.assessment_id = :a",
        a=aid,
    )
    assert marks and all({actor for actor, _ in _events(world, "criterion_mark", r[0])} == {ann} for r in marks)
    imports = world.sql("adm", "SELECT DISTINCT actor FROM audit_event WHERE table_name = 'release'")
    assert imports == [(world.logins["writer"],)]


def test_nobody_forges_an_owner_or_an_actor(world):
    """Bob cannot create an assessment in Ann's name, nor an event naming someone else."""
    with Session(world["adm"]) as s:
        src = s.get_one(AssessmentRow, world.ann_done)
        fields = {k: getattr(src, k) for k in ("standard_id", "release_id", "apprentice_id", "attempt")}
    with pytest.raises(ProgrammingError) as e, Session(world["bob"]) as s, s.begin():
        s.add(AssessmentRow(**fields, assessor="Bob", owner=world.logins["ann"], status="void"))
    assert _denied(e.value) and "row-level security" in str(e.value.orig)
    for who in PEOPLE:
        with pytest.raises(ProgrammingError) as e:
            world.sql(
                who,
                "INSERT INTO audit_event (seq, at, actor, kind, table_name, row_key, row_hash, detail, prev_hash, "
                "hash) "
                "VALUES (999999, now(), 'someone else', 'insert', 'ask', '1', 'x', '', 'x', :h)",
                h=uuid.uuid4().hex,
            )
        assert _denied(e.value), who


@pytest.mark.parametrize("who", list(PEOPLE))
def test_nobody_changes_or_removes_audit_events_not_even_an_admin(world, who):
    for stmt in ("UPDATE audit_event SET actor = 'x'", "DELETE FROM audit_event", "TRUNCATE audit_event"):
        with pytest.raises(ProgrammingError) as e:
            world.sql(who, stmt)
        assert _denied(e.value) and "permission denied for table audit_event" in str(e.value.orig), (who, stmt)
    assert world.sql(who, "SELECT count(*) FROM audit_event")[0][0] > 0  # everyone reads the chain


# --------------------------------------------------------------------------- assessors


def test_an_assessor_sees_only_their_own_assessments(world):
    aid = world.ann_done
    with pytest.raises(S.SessionError, match=f"no assessment {aid}"):
        S.load(world["bob"], aid)
    for who in ("ann", "bob"):  # each with a question asked and evidence logged of their own
        _open_with_evidence(world, who, f"APP-{uuid.uuid4().hex[:6]}")
    # what each assessor sees of a table is exactly the rows of their own assessments, as the admin counts them
    owner_of = {
        "assessment": "SELECT t.owner FROM assessment t",
        "assessment_method": "SELECT a.owner FROM assessment_method t JOIN assessment a ON a.id = t.assessment_id",
    }
    for table in ("ask", "evidence", "criterion_mark", "second_mark"):
        owner_of[table] = (
            f"SELECT a.owner FROM {table} t JOIN assessment_method m ON m.id = t.assessment_method_id "
            "JOIN assessment a ON a.id = m.assessment_id"
        )
    for table, query in owner_of.items():
        owners = [r[0] for r in world.sql("adm", query)]
        for who in ("ann", "bob"):
            seen = world.sql(who, f"SELECT count(*) FROM {table}")[0][0]
            assert seen == owners.count(world.logins[who]), (who, table)
        if table not in ("second_mark", "criterion_mark"):
            assert set(owners) >= {world.logins["ann"], world.logins["bob"]}, table
    ann_ids = {r[0] for r in world.sql("ann", "SELECT id FROM assessment")}
    assert aid in ann_ids and aid not in {r[0] for r in world.sql("bob", "SELECT id FROM assessment")}
    assert world.sql("bob", "UPDATE assessment SET assessor = 'Bob' WHERE id = :a", a=aid) == 0
    assert S.load(world["ann"], aid).assessor == "Ann Assessor"


def test_an_assessor_cannot_record_in_another_assessors_assessment(world):
    aid, am_id, ask_id, ev_id = _open_with_evidence(world, "ann", f"APP-{uuid.uuid4().hex[:6]}")
    bob = world["bob"]
    with pytest.raises(S.SessionError, match=f"no method record {am_id}"):
        S.log_evidence(bob, am_id, "distinction", criterion="P2")
    with pytest.raises(S.SessionError, match=f"no method record {am_id}"):
        S.set_mark(bob, am_id, "P1", strengths="overwritten")
    with pytest.raises(S.SessionError, match=f"no method record {am_id}"):
        S.end_method(bob, am_id, reason="ended by someone else")
    with pytest.raises(S.SessionError):
        S.set_notes(bob, ask_id, "Bob's notes")
    with pytest.raises(S.SessionError):
        S.retract_evidence(bob, ev_id, "not mine to retract")
    with pytest.raises(S.SessionError, match=f"no assessment {aid}"):
        S.void_assessment(bob, aid, "Bob", "not mine")
    # and with SQL, as a tamperer would: nothing matches
    assert world.sql("bob", "UPDATE ask SET notes = 'x' WHERE id = :i", i=ask_id) == 0
    assert world.sql("bob", "UPDATE evidence SET level = 'distinction' WHERE id = :i", i=ev_id) == 0
    view = S.load(world["ann"], aid)
    (m,) = view.methods
    assert [(e.criterion, e.level, e.retracted) for e in m.evidence] == [("P1", "pass", False)]
    assert m.status == "running"


def test_an_assessor_reads_every_draw_but_cannot_swap_or_void_anothers(world):
    aid, am_id, *_ = _open_with_evidence(world, "ann", f"APP-{uuid.uuid4().hex[:6]}")
    with Session(world["adm"]) as s:
        draw_id = s.execute(text("SELECT draw_id FROM assessment_method WHERE id = :i"), {"i": am_id}).scalar_one()
    seen = load_draw(world["bob"], draw_id)  # the usage window and the history read every draw
    assert seen.questions
    unasked = seen.questions[-1].id
    # the swap says whose draw it is before any write (row-level security would refuse it anyway)
    with pytest.raises(roles.RolesError, match=f"draw {draw_id} belongs to {world.logins['ann']}"):
        swap(world["bob"], draw_id, unasked, "Bob swaps Ann's question")
    with (
        Session(world["bob"]) as s,
        pytest.raises(roles.RolesError, match=f"belongs to {world.logins['ann']}: only they or an admin"),
    ):
        roles.check_owner(s, world.logins["ann"], f"draw {draw_id}")
    with Session(world["adm"]) as s:
        roles.check_owner(s, world.logins["ann"], f"draw {draw_id}")
    for stmt in (
        "UPDATE draw SET voided_at = now() WHERE id = :d",
        "UPDATE draw_item SET active = false, void_key = id WHERE draw_id = :d",
    ):
        assert world.sql("bob", stmt, d=draw_id) == 0
    assert [q.id for q in load_draw(world["ann"], draw_id).questions] == [q.id for q in seen.questions]
    # Ann's own swap works
    result = swap(world["ann"], draw_id, unasked, "the apprentice covered this in the report")
    assert result


def test_an_admin_changes_anothers_work(world):
    """Only an admin: voiding Ann's unused start, and correcting her assessment by SQL."""
    e = world["ann"]
    aid = S.start_assessment(
        e,
        S.StartRequest(
            standard="IQA01", apprentice=f"APP-{uuid.uuid4().hex[:6]}", assessor="Ann", methods=("discussion",)
        ),
    )
    for who in ("bob", "rev", "iqa", "writer"):
        # Bob and the writer cannot see it; the reviewer and IQA see it, and are told it is Ann's
        with pytest.raises((S.SessionError, ProgrammingError, StaleDataError, roles.RolesError)):
            S.void_assessment(world[who], aid, who, "not theirs")
        assert S.load(e, aid).status == "open"
    S.void_assessment(world["adm"], aid, "Admin", "started by mistake")
    assert S.load(e, aid).status == "void"
    assert world.sql("adm", "UPDATE assessment SET cohort = 'corrected' WHERE id = :a", a=aid) == 1
    actors = [actor for actor, _ in _events(world, "assessment", aid)]
    assert actors[0] == world.logins["ann"] and actors[-1] == world.logins["adm"]


# --------------------------------------------------------------------------- reviewers and IQA


def test_reviewers_and_iqa_read_everything_but_change_no_assessment(world):
    aid, am_id, ask_id, ev_id = _open_with_evidence(world, "bob", f"APP-{uuid.uuid4().hex[:6]}")
    for who in ("rev", "iqa"):
        view = S.load(world[who], aid)
        assert view.methods[0].evidence and view.assessor == "bob"
        assert S.load(world[who], world.ann_done).status == "complete"
        # they read the record, and the service says whose it is before the database would refuse the write
        login = world.logins["bob"]
        with pytest.raises(roles.RolesError, match=f"assessment {aid} belongs to {login}: only they or an admin"):
            S.log_evidence(world[who], am_id, "distinction", criterion="P2")
        with pytest.raises(roles.RolesError, match=f"assessment {aid} belongs to {login}"):
            S.set_notes(world[who], ask_id, "the reviewer's notes")
        with pytest.raises(ProgrammingError) as e1:  # and the database refuses it all the same
            world.sql(
                who,
                "INSERT INTO evidence (assessment_method_id, criterion, outcomes_json, level, note, "
                "created_at) VALUES (:m, 'P2', '[]', 'distinction', '', now())",
                m=am_id,
            )
        assert _denied(e1.value) and "permission denied for table evidence" in str(e1.value.orig)
        with pytest.raises(ProgrammingError) as e4:
            world.sql(who, "UPDATE ask SET notes = 'x' WHERE id = :a", a=ask_id)
        assert _denied(e4.value) and "permission denied for table ask" in str(e4.value.orig)
        with pytest.raises(ProgrammingError) as e5:
            world.sql(who, "UPDATE assessment SET assessor = 'x' WHERE id = :a", a=aid)
        assert _denied(e5.value)
        with pytest.raises(ProgrammingError) as e3:
            world.sql(who, "UPDATE evidence SET level = 'x' WHERE id = :e", e=ev_id)
        assert _denied(e3.value) and "permission denied for table evidence" in str(e3.value.orig)
        with pytest.raises(ProgrammingError) as e2:
            S.start_assessment(world[who], S.StartRequest(standard="IQA01", apprentice="APP-NEW", assessor=who))
        assert _denied(e2.value)
    (m,) = S.load(world["bob"], aid).methods
    assert [(x.criterion, x.level) for x in m.evidence] == [("P1", "pass")]
    assert all(not q.notes for q in m.questions)


def test_iqa_adds_own_second_marks_and_cannot_change_anothers(world):
    aid = _sheet(world["ann"], f"APP-{uuid.uuid4().hex[:6]}", "Ann Assessor")
    iqa.record_second_mark(world["rev"], aid, "mark-sheet", "Rev Reviewer", marks=SHEET)
    iqa.record_second_mark(world["iqa"], aid, "mark-sheet", "Ivy IQA", marks={**SHEET, "apply": 30})
    with Session(world["adm"]) as s:
        rows = s.execute(
            text(
                "SELECT sm.id, sm.owner, sm.marker FROM second_mark sm JOIN assessment_method m "
                "ON m.id = sm.assessment_method_id WHERE m.assessment_id = :a ORDER BY sm.id"
            ),
            {"a": aid},
        ).all()
    (rev_id, rev_owner, _), (iqa_id, iqa_owner, _) = rows
    assert (rev_owner, iqa_owner) == (world.logins["rev"], world.logins["iqa"])
    assert {a for a, _ in _events(world, "second_mark", iqa_id)} == {world.logins["iqa"]}
    assert world.sql("iqa", "UPDATE second_mark SET note = 'changed' WHERE id = :i", i=rev_id) == 0
    assert world.sql("iqa", "UPDATE second_mark SET note = 'mine' WHERE id = :i", i=iqa_id) == 1
    assert world.sql("rev", "UPDATE second_mark SET note = 'changed' WHERE id = :i", i=iqa_id) == 0
    with pytest.raises(ProgrammingError) as e, Session(world["iqa"]) as s, s.begin():
        src = s.get_one(SecondMarkRow, rev_id)
        s.add(
            SecondMarkRow(
                assessment_method_id=src.assessment_method_id, marker="Rev Reviewer", owner=world.logins["rev"]
            )
        )
    assert _denied(e.value)
    # the assessor sees the second marks of their own work, and cannot add one
    assert len(world.sql("ann", "SELECT id FROM second_mark WHERE id IN (:a, :b)", a=rev_id, b=iqa_id)) == 2
    assert world.sql("bob", "SELECT id FROM second_mark WHERE id IN (:a, :b)", a=rev_id, b=iqa_id) == []
    with pytest.raises(S.SessionError, match=f"no assessment {aid}"):
        iqa.record_second_mark(world["bob"], aid, "mark-sheet", "Bob", marks=SHEET)


# --------------------------------------------------------------------------- writers


def test_writers_import_but_do_not_assess(world, tmp_path):
    with pytest.raises(ProgrammingError) as e:
        S.start_assessment(world["writer"], S.StartRequest(standard="IQA01", apprentice="APP-W", assessor="Wendy"))
    assert _denied(e.value)
    with pytest.raises(ProgrammingError) as e2:
        S.load(world["writer"], world.ann_done)
    assert _denied(e2.value) and "assessment" in str(e2.value.orig)
    # an assessor, reviewer or IQA does not import; the writer does
    root = write_bank(tmp_path / "banks")
    make_release(load_bank(root), "TST01", "1.0.0")
    bank = load_bank(root)
    for who in ("ann", "rev", "iqa"):
        with pytest.raises((ProgrammingError, BankError)) as e3:
            import_bank(world[who], bank)
        assert "permission denied" in str(e3.value), who
    import_bank(world["writer"], bank)
    assert world.sql(
        "ann", "SELECT count(*) FROM release r JOIN standard s ON s.id = r.standard_id WHERE s.code = 'TST01'"
    ) == [(1,)]


def test_the_command_line_names_a_denial(world, monkeypatch, capsys):
    """No traceback: today the catch-all says `database error: ...` (roles.denial_message is the
    proposed wording)."""
    monkeypatch.setenv("QBANK_DATABASE_URL", world.urls["writer"])
    assert main(["record", str(world.ann_done), "--format", "md"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "permission denied for table" in err
    assert main(["admin", "users"]) == 0  # reading pg_roles needs no right


def test_denial_message_words():
    class Orig(Exception):
        sqlstate = "42501"

    class Wrapped(Exception):
        def __init__(self, text):
            super().__init__(text)
            self.orig = Orig(text)

    m = roles.denial_message(Wrapped('new row violates row-level security policy for table "ask"'), "bob")
    assert m and "bob may change only their own work" in m and "ask row" in m
    m = roles.denial_message(Wrapped("permission denied for table apprentice"), "wendy")
    assert m and "wendy has no right to this on apprentice" in m and "qbank admin users" in m
    assert roles.denial_message(ValueError("x")) is None


def test_advisory_lock_is_a_noop_on_sqlite(tmp_path: Path):
    e = make_engine(f"sqlite:///{tmp_path / 's.db'}")
    with Session(e) as s:
        roles.advisory_lock(s, "apprentice", 1)
    e.dispose()


def test_who_sees_everything(world):
    """`qbank verify` must be run by someone who sees every row (roles.sees_everything)."""
    seen = {who: roles.sees_everything(world[who])[0] for who in PEOPLE}
    assert seen == {"writer": False, "ann": False, "bob": False, "rev": True, "iqa": True, "adm": True}
    assert roles.sees_everything(world.owner)[0]
    assert roles.sees_everything(world["ann"])[1] == world.logins["ann"]


def test_the_cross_assessor_facts_are_readable_through_functions_only(world):
    """Ann's open assessment is hidden from Bob, but the one-open-assessment check, a resit's carried
    grades and the ad-hoc avoidance need to know of it: qbank_latest_assessment, qbank_method_grades
    and qbank_adhoc_texts give exactly that to assessors (and admins)."""
    apprentice = f"APP-{uuid.uuid4().hex[:6]}"
    aid, am_id, *_ = _open_with_evidence(world, "ann", apprentice)
    S.add_adhoc(world["ann"], am_id, "How would you explain the change to a sceptical colleague?", ["K1"])
    with Session(world["adm"]) as s:
        appr, std = s.execute(text("SELECT apprentice_id, standard_id FROM assessment WHERE id = :a"), {"a": aid}).one()
    assert world.sql("bob", "SELECT id FROM assessment WHERE id = :a", a=aid) == []
    row = world.sql("bob", "SELECT id, assessor FROM qbank_latest_assessment(:p, :s, ARRAY['open'])", p=appr, s=std)
    assert row == [(aid, "ann")]
    grades = world.sql("bob", "SELECT method_key, status FROM qbank_method_grades(:a)", a=aid)
    assert grades == [("presentation", "running")]
    texts = world.sql("bob", "SELECT * FROM qbank_adhoc_texts(:p)", p=appr)
    assert texts == [("How would you explain the change to a sceptical colleague?",)]
    for who in ("writer", "rev"):
        with pytest.raises(ProgrammingError) as e:
            world.sql(who, "SELECT * FROM qbank_adhoc_texts(:p)", p=appr)
        assert _denied(e.value)


def test_one_open_assessment_per_apprentice_across_assessors(world):
    apprentice = f"APP-{uuid.uuid4().hex[:6]}"
    _open_with_evidence(world, "ann", apprentice)
    with pytest.raises(S.OpenAssessmentExists):
        S.start_assessment(
            world["bob"],
            S.StartRequest(standard="IQA01", apprentice=apprentice, assessor="bob", methods=("discussion",)),
        )


def test_a_resit_by_another_assessor(world):
    apprentice = f"APP-{uuid.uuid4().hex[:6]}"
    aid = S.start_assessment(
        world["ann"], S.StartRequest(standard="IQA01", apprentice=apprentice, assessor="Ann", methods=("mark-sheet",))
    )
    (m,) = S.load(world["ann"], aid).methods
    for section, mark in {"define": 2, "apply": 36, "report": 16}.items():  # under the minimum: REFERRAL
        S.set_mark(world["ann"], m.id, section, mark=mark)
    S.end_method(world["ann"], m.id, reason="marked from the written report")
    S.confirm_grade(world["ann"], m.id)
    S.complete(world["ann"], aid)
    resit = S.start_assessment(
        world["bob"], S.StartRequest(standard="IQA01", apprentice=apprentice, assessor="Bob", attempt="resit")
    )
    assert S.load(world["bob"], resit).attempt == "resit"
    # the resit pre-fills what Ann recorded, and Bob still cannot read Ann's assessment itself
    with pytest.raises(S.SessionError, match=f"no assessment {aid}"):
        S.void_assessment(world["bob"], aid, "Bob", "not his")


def test_only_an_admin_erases_an_apprentice(world):
    from qbank.erase import erase

    apprentice = f"APP-{uuid.uuid4().hex[:6]}"
    aid = _sheet(world["ann"], apprentice, "Ann Assessor")
    before = world.sql("adm", "SELECT count(*) FROM audit_event")[0][0]
    for who in ("ann", "rev", "iqa", "writer"):
        with pytest.raises((ProgrammingError, StaleDataError, BankError, S.SessionError)):
            erase(world[who], apprentice, "request 42")
        with Session(world["adm"]) as s:
            assert s.execute(text("SELECT count(*) FROM apprentice WHERE ref = :r"), {"r": apprentice}).scalar() == 1
    assert world.sql("adm", "SELECT count(*) FROM audit_event")[0][0] == before  # nothing was written
    with Session(world["ann"]) as s, pytest.raises(roles.RolesError, match="is for an admin"):
        roles.require_admin(s, "erasing an apprentice")
    with Session(world["adm"]) as s:
        roles.require_admin(s, "erasing an apprentice")
    done = erase(world["adm"], apprentice, "request 42")
    assert done.pseudonym and aid in done.assessments
    assert world.sql("adm", "SELECT actor FROM audit_event WHERE kind = 'erase' ORDER BY seq DESC LIMIT 1") == [
        (world.logins["adm"],)
    ]


def test_iqa_clears_releases_and_an_assessor_does_not(world):
    from qbank.clearance import ClearanceError, clear

    # IQA01 declares no clearance, so IQA gets as far as the rule (no right is missing)
    with pytest.raises(ClearanceError, match="cannot be cleared"):
        clear(world["iqa"], "IQA01", "1.0.0", "Ivy IQA")
    for who in ("ann", "rev"):  # they too reach the rule (the lock needs no right); the row is refused below
        with pytest.raises(ClearanceError, match="cannot be cleared"):
            clear(world[who], "IQA01", "1.0.0", "Someone")
    for who in ("ann", "rev", "writer"):  # and the row itself, past the rule
        with pytest.raises(ProgrammingError) as e, Session(world[who]) as s, s.begin():
            rel = s.execute(text("SELECT id FROM release LIMIT 1")).scalar_one()
            s.add(ReleaseClearanceRow(release_id=rel, cleared_by="Someone"))
        assert _denied(e.value) and "release_clearance" in str(e.value.orig), who
    for who in ("ann", "iqa", "rev"):
        with pytest.raises(ProgrammingError) as e2:
            world.sql(who, "UPDATE release SET semver = '9.9.9'")
        assert _denied(e2.value), who


def test_every_table_has_its_grants():
    """A table a later migration adds must be given its rights here (or no qbank role may touch it)."""
    from sqlmodel import SQLModel

    assert set(roles.GRANTS) == set(SQLModel.metadata.tables) | {"alembic_version"}
    assert set(roles.POLICIES) <= set(roles.GRANTS)
    for table, privileges in roles.GRANTS.items():
        assert "DELETE" not in privileges or table in ("method_outcome", "release_pool"), table
    assert set(roles.GRANTS["audit_event"]) == {"SELECT", "INSERT"}
