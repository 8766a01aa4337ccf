"""People and permissions on PostgreSQL: the database's own roles and row-level security.

qbank keeps no user table. Each person logs in to PostgreSQL as themselves; the acting person is
the database's `current_user`, which the audit hook (`qbank.audit`) records as every event's actor
and as the `owner` of each assessment, draw, second mark and clearance they create. What a person
may do comes from the group role their login belongs to:

| group role | may |
|---|---|
| qbank_writer | read the bank and the draws; import releases (and solve their plans) |
| qbank_assessor | read the bank and every draw (the usage window and the no-repeat history need them); \
start, record, void and complete their own assessments; draw, swap and void their own draws |
| qbank_reviewer | read everything; add second marks (their own) |
| qbank_iqa | read everything; add second marks and clear releases (their own) |
| qbank_admin | read and change everything, including another person's work and an apprentice's reference (erasure) |

Nobody may change or remove an audit event (not even an admin: `UPDATE`, `DELETE` and `TRUNCATE`
on `audit_event` are granted to no qbank role, and an event's actor must be the one writing it),
and nobody deletes a record row. Only the tables' owner (the database user who first created the
store, who also runs the schema upgrades and `qbank admin init`) can, and `qbank verify` with a
checkpoint kept elsewhere shows that they did. The owner is not subject to row-level security
(no FORCE): it owns the tables and could switch it off anyway, so it is the database
administrator's account, not anyone's day-to-day login.

Three SECURITY DEFINER functions (`FUNCTIONS`) give assessors the few facts about other assessors'
work that qbank's own checks need (an apprentice's open or earlier assessment and its method grades,
the ad-hoc questions they were asked), and nothing more.

`init` applies to the current schema (the search path's first schema): grants and policies are per
table. It is idempotent and may run concurrently with itself in other schemas (group roles are
cluster-wide and created at most once). On SQLite there are no roles: the store is single-user and
the operating-system user is the actor.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from .problems import BankError

ROLES: dict[str, str] = {
    "writer": "qbank_writer",
    "assessor": "qbank_assessor",
    "reviewer": "qbank_reviewer",
    "iqa": "qbank_iqa",
    "admin": "qbank_admin",
}
"""qbank's role names (as `--role` takes them) and their group roles in the database."""

ROLE_HELP: dict[str, str] = {
    "writer": "reads the bank and the draws, imports releases",
    "assessor": "starts and records their own assessments and draws; reads every draw",
    "reviewer": "reads everything; adds their own second marks",
    "iqa": "reads everything; adds their own second marks and release clearances",
    "admin": "reads and changes everything (another person's work, erasure); never the audit log",
}

W, A, R, Q, M = (ROLES[k] for k in ("writer", "assessor", "reviewer", "iqa", "admin"))
EVERYONE = (W, A, R, Q, M)
READ_ALL = (R, Q, M)

BANK = (
    "standard",
    "outcome",
    "method",
    "method_outcome",
    "question",
    "question_version",
    "question_version_outcome",
    "question_version_method",
    "release",
    "release_item",
    "release_near_duplicate",
)
"""Written by imports (writers, admins), read by everyone."""

CACHES = ("release_pool", "release_plan")
"""Derived from a release and never changed: any reader may have to store one (a draw or a review
that finds it missing), so every role may insert them; a pool in an old format is replaced."""

NAME_PATTERN = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

_INIT_LOCK = "qbank.roles.init"

OWN = "owner = current_user::text"


def _own_assessment(column: str = "assessment_id") -> str:
    return f"EXISTS (SELECT 1 FROM assessment a WHERE a.id = {column} AND a.owner = current_user::text)"


def _own_method(column: str = "assessment_method_id") -> str:
    return (
        "EXISTS (SELECT 1 FROM assessment_method m JOIN assessment a ON a.id = m.assessment_id "
        f"WHERE m.id = {column} AND a.owner = current_user::text)"
    )


_OWN_DRAW = "EXISTS (SELECT 1 FROM draw d WHERE d.id = draw_id AND d.owner = current_user::text)"


@dataclass(frozen=True)
class Policy:
    command: str  # SELECT | INSERT | UPDATE
    roles: tuple[str, ...]
    rule: str  # USING (and WITH CHECK for INSERT and UPDATE)


def _record(own: str, *, readers: tuple[str, ...] = READ_ALL) -> list[Policy]:
    """A table of an assessment's record: its assessor reads and writes their own rows, `readers`
    read every row, an admin does anything but delete."""
    return [
        Policy("SELECT", (A,), own),
        Policy("SELECT", readers, "true"),
        Policy("INSERT", (A,), own),
        Policy("UPDATE", (A,), own),
        Policy("INSERT", (M,), "true"),
        Policy("UPDATE", (M,), "true"),
    ]


def _read_all(*, insert: tuple[str, ...] = (), update: tuple[str, ...] = (M,)) -> list[Policy]:
    return (
        [Policy("SELECT", EVERYONE, "true")]
        + ([Policy("INSERT", insert, "true")] if insert else [])
        + [Policy("UPDATE", update, "true")]
    )


POLICIES: dict[str, list[Policy]] = {
    # locks are advisory locks (roles.lock_row), which need no right on any row
    "apprentice": _read_all(insert=(A, M)),
    "release": _read_all(insert=(W, M), update=(W, M)),
    # every draw reads every draw of its method (the usage window) and the apprentice's history
    "draw": [
        Policy("SELECT", EVERYONE, "true"),
        Policy("INSERT", (A,), OWN),
        Policy("UPDATE", (A,), OWN),
        Policy("INSERT", (M,), "true"),
        Policy("UPDATE", (M,), "true"),
    ],
    "draw_item": [
        Policy("SELECT", EVERYONE, "true"),
        Policy("INSERT", (A,), _OWN_DRAW),
        Policy("UPDATE", (A,), _OWN_DRAW),
        Policy("INSERT", (M,), "true"),
        Policy("UPDATE", (M,), "true"),
    ],
    "draw_swap": [
        Policy("SELECT", EVERYONE, "true"),
        Policy("INSERT", (A,), _OWN_DRAW),
        Policy("UPDATE", (A,), _OWN_DRAW),
        Policy("INSERT", (M,), "true"),
        Policy("UPDATE", (M,), "true"),
    ],
    "assessment": _record(OWN),
    "assessment_method": _record(_own_assessment()),
    "ask": _record(_own_method()),
    "evidence": _record(_own_method()),
    "criterion_mark": _record(_own_method()),
    "second_mark": [
        Policy("SELECT", (A,), _own_method()),  # an assessor sees the second marks of their own work
        Policy("SELECT", READ_ALL, "true"),
        Policy("INSERT", (R, Q), OWN),
        Policy("UPDATE", (R, Q), OWN),
        Policy("INSERT", (M,), "true"),
        Policy("UPDATE", (M,), "true"),
    ],
    "release_clearance": [
        Policy("SELECT", EVERYONE, "true"),
        Policy("INSERT", (Q,), OWN),
        Policy("UPDATE", (Q,), OWN),
        Policy("INSERT", (M,), "true"),
        Policy("UPDATE", (M,), "true"),
    ],
    # append-only: everyone reads the chain's tail; an event names the one who writes it
    "audit_event": [
        Policy("SELECT", EVERYONE, "true"),
        Policy("INSERT", EVERYONE, "actor = current_user::text"),
    ],
}
"""Row-level security, per table: who sees and changes which rows. Policies of one command are
OR-ed, so a login holding two roles may do what either may."""


def _grants() -> dict[str, dict[str, tuple[str, ...]]]:
    """table -> privilege -> roles. Row-level security (POLICIES) then narrows the rows."""
    g: dict[str, dict[str, tuple[str, ...]]] = {}
    for t in BANK:
        g[t] = {"SELECT": EVERYONE, "INSERT": (W, M), "UPDATE": (W, M)}
    g["method_outcome"]["DELETE"] = (W, M)  # an import replaces a method's outcomes
    g["release_pool"] = {"SELECT": EVERYONE, "INSERT": EVERYONE, "DELETE": EVERYONE}
    g["release_plan"] = {"SELECT": EVERYONE, "INSERT": EVERYONE, "UPDATE": (W, M)}
    g["apprentice"] = {"SELECT": EVERYONE, "INSERT": (A, M), "UPDATE": (M,)}  # an admin's erasure
    for t in ("draw", "draw_item", "draw_swap"):
        g[t] = {"SELECT": EVERYONE, "INSERT": (A, M), "UPDATE": (A, M)}
    g["assessment"] = {"SELECT": (A, R, Q, M), "INSERT": (A, M), "UPDATE": (A, M)}
    for t in ("assessment_method", "ask", "evidence", "criterion_mark"):
        g[t] = {"SELECT": (A, R, Q, M), "INSERT": (A, M), "UPDATE": (A, M)}
    g["second_mark"] = {"SELECT": (A, R, Q, M), "INSERT": (R, Q, M), "UPDATE": (R, Q, M)}
    g["release_clearance"] = {"SELECT": EVERYONE, "INSERT": (Q, M), "UPDATE": (Q, M)}
    g["audit_event"] = {"SELECT": EVERYONE, "INSERT": EVERYONE}
    g["alembic_version"] = {"SELECT": EVERYONE}
    return g


GRANTS = _grants()


# --------------------------------------------------------------------------- helpers


class RolesError(BankError):
    """Roles cannot be set up or changed here (SQLite, missing rights, a bad name)."""


def quote(name: str) -> str:
    """A PostgreSQL identifier, quoted."""
    return '"' + name.replace('"', '""') + '"'


def check_name(name: str) -> str:
    """A login name qbank will create: lower-case letters, digits and _, starting with a letter or _,
    at most 63 characters, not a reserved or qbank group name."""
    if not NAME_PATTERN.match(name or ""):
        raise RolesError(
            f"{name!r} is not a usable login name: use lower-case letters, digits and _, starting with a "
            "letter, at most 63 characters (e.g. jsmith)"
        )
    if name.startswith("pg_") or name in ROLES.values() or name == "public":
        raise RolesError(f"{name!r} is reserved (a PostgreSQL or qbank role name); choose another login name")
    return name


def require_postgres(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        from .audit import actor

        with engine.connect() as c:
            who = actor(c)
        raise RolesError(
            "roles are PostgreSQL's; on SQLite the store is single-user: the operating-system user "
            f"({who}) is recorded as the actor of every write. Set QBANK_DATABASE_URL to a PostgreSQL "
            "database to give people their own logins"
        )


def _sqlstate(e: BaseException) -> str | None:
    return getattr(getattr(e, "orig", None), "sqlstate", None)


def _current_user(conn: Connection) -> str:
    return str(conn.exec_driver_sql("SELECT current_user").scalar_one())


def advisory_lock(s: Session, namespace: str, key: int) -> None:
    """Hold a lock on (namespace, key) until the transaction ends: PostgreSQL's transaction-scoped
    advisory lock, so it needs no right on any row (a no-op UPDATE as a lock needs UPDATE, which
    row-level security narrows to the rows one may change). A no-op on SQLite, where a write
    transaction already holds the database's write lock (take it with BEGIN IMMEDIATE or a write)."""
    if s.get_bind().dialect.name != "postgresql":
        return
    import hashlib

    digest = hashlib.blake2b(f"qbank.{namespace}/{key}".encode(), digest_size=8).digest()
    s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": int.from_bytes(digest, "big", signed=True)})


def lock_row(s: Session, model: Any, row_id: int) -> None:
    """Serialise changes about one row until the transaction ends, without needing the right to
    change it: PostgreSQL's advisory lock on (table, id); on SQLite a no-op UPDATE of the row,
    which takes the database's write lock before anything is read."""
    table = model.__table__
    if s.get_bind().dialect.name == "postgresql":
        advisory_lock(s, table.name, row_id)
        return
    first = next(c for c in table.columns if not c.primary_key)
    s.execute(
        update(table).where(table.c.id == row_id).values({first.name: table.c[first.name]}),
        execution_options={"synchronize_session": False},
    )


def definer(s: Session) -> bool:
    """Whether the store has qbank's SECURITY DEFINER functions (`FUNCTIONS`: PostgreSQL after
    `qbank admin init`), through which an assessor's checks see other assessors' work."""
    if s.get_bind().dialect.name != "postgresql":
        return False
    info = s.connection().info  # kept with the database connection: asked once per connection
    if "qbank_definer" not in info:
        info["qbank_definer"] = bool(s.execute(text("SELECT to_regproc('qbank_adhoc_texts') IS NOT NULL")).scalar())
    return bool(info["qbank_definer"])


# --------------------------------------------------------------------------- init


@dataclass
class InitReport:
    schema: str
    created_roles: list[str] = field(default_factory=list)
    tables: int = 0
    policies: int = 0

    def as_dict(self) -> dict:
        return {
            "schema": self.schema,
            "created_roles": self.created_roles,
            "tables": self.tables,
            "policies": self.policies,
            "roles": dict(ROLES),
        }


def _missing_roles(conn: Connection, names: Iterable[str]) -> list[str]:
    names = list(names)
    have = set(conn.execute(text("SELECT rolname FROM pg_roles WHERE rolname = ANY(:n)"), {"n": names}).scalars())
    return [n for n in names if n not in have]


def _create_group(conn: Connection, name: str) -> None:
    """Create a NOLOGIN group role unless it exists (another init may be creating it now: the loser
    of that race gets duplicate_object or unique_violation, which is fine)."""
    conn.exec_driver_sql(
        "DO $$ BEGIN "
        f"CREATE ROLE {quote(name)} NOLOGIN; "
        "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
    )


def init(engine: Engine) -> InitReport:
    """Create the group roles (once per cluster), then grant and set row-level security on every
    table of the current schema. Run by a superuser, or by the tables' owner once the roles exist."""
    require_postgres(engine)
    with engine.connect() as conn:
        who = _current_user(conn)
        schema = conn.exec_driver_sql("SELECT current_schema()").scalar()
        if not schema:
            raise RolesError("the search path names no existing schema: create the store first (any qbank command)")
        missing = _missing_roles(conn, ROLES.values())
    report = InitReport(schema=str(schema))
    for name in missing:
        try:
            with engine.begin() as conn:
                _create_group(conn, name)
        except DBAPIError as e:
            if _sqlstate(e) == "42501":
                raise RolesError(
                    f"{who} cannot create the group role {name}: run `qbank admin init` as a superuser (or "
                    "a role with CREATEROLE) the first time; later runs need only the tables' owner"
                ) from None
            raise
        report.created_roles.append(name)
    try:
        with engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"{_INIT_LOCK}/{schema}"})
            report.tables, report.policies = _apply(conn, str(schema))
    except DBAPIError as e:
        if _sqlstate(e) == "42501":
            raise RolesError(
                f"{who} may not set up roles on schema {schema}: {_first_line(e)}. Run `qbank admin init` as a "
                "superuser or the user who owns qbank's tables (who created the store)"
            ) from None
        raise
    return report


def _first_line(e: BaseException) -> str:
    orig = getattr(e, "orig", e)
    return (str(orig).strip().splitlines() or [type(orig).__name__])[0]


def _apply(conn: Connection, schema: str) -> tuple[int, int]:
    have = set(
        conn.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = :s"),
            {"s": schema},
        ).scalars()
    )
    missing = sorted(t for t in GRANTS if t not in have)
    if missing:
        raise RolesError(
            f"schema {schema} has no table {', '.join(missing)}: it is not a qbank store at the current "
            "revision (open it with any qbank command first)"
        )
    groups = ", ".join(quote(r) for r in EVERYONE)
    conn.exec_driver_sql(f"GRANT USAGE ON SCHEMA {quote(schema)} TO {groups}")
    conn.exec_driver_sql(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {quote(schema)} TO {groups}")
    for table, privileges in GRANTS.items():
        q = f"{quote(schema)}.{quote(table)}"
        # from a clean slate each time, so a run after a change of this module takes rights away too
        conn.exec_driver_sql(f"REVOKE ALL ON {q} FROM {groups}")
        for privilege, roles in privileges.items():
            conn.exec_driver_sql(f"GRANT {privilege} ON {q} TO {', '.join(quote(r) for r in roles)}")
    n = 0
    for table, policies in POLICIES.items():
        q = f"{quote(schema)}.{quote(table)}"
        conn.exec_driver_sql(f"ALTER TABLE {q} ENABLE ROW LEVEL SECURITY")
        for (old,) in conn.execute(
            text(
                "SELECT policyname FROM pg_policies "
                "WHERE schemaname = :s AND tablename = :t AND policyname LIKE 'qbank%'"
            ),
            {"s": schema, "t": table},
        ):
            conn.exec_driver_sql(f"DROP POLICY {quote(old)} ON {q}")
        for i, p in enumerate(policies):
            name = f"qbank_{p.command.lower()}_{i}"
            clause = {
                "SELECT": f"USING ({p.rule})",
                "INSERT": f"WITH CHECK ({p.rule})",
                "UPDATE": f"USING ({p.rule}) WITH CHECK ({p.rule})",
            }[p.command]
            to = ", ".join(quote(r) for r in p.roles)
            conn.exec_driver_sql(f"CREATE POLICY {quote(name)} ON {q} FOR {p.command} TO {to} {clause}")
            n += 1
    _functions(conn, schema)
    return len(GRANTS), n


FUNCTIONS: dict[str, tuple[str, str, str]] = {
    # name: (arguments, result, body). Facts about an apprentice that every assessor's checks need
    # across assessors, whose rows row-level security hides from them: nothing more than these.
    "qbank_latest_assessment": (
        "p_apprentice integer, p_standard integer, p_statuses text[]",
        "TABLE (id integer, status varchar, created_at timestamptz, assessor varchar, extra_time_pct integer, "
        "adjustments text)",
        "SELECT a.id, a.status, a.created_at, a.assessor, a.extra_time_pct, a.adjustments FROM assessment a "
        "WHERE a.apprentice_id = p_apprentice AND a.standard_id = p_standard AND a.status = ANY(p_statuses) "
        "ORDER BY a.id DESC LIMIT 1",
    ),
    "qbank_method_grades": (
        "p_assessment integer",
        "TABLE (id integer, method_key varchar, status varchar, grade varchar, confirmed_grade varchar, "
        "carried_from_id integer)",
        "SELECT m.id, x.key, m.status, m.grade, m.confirmed_grade, m.carried_from_id FROM assessment_method m "
        "JOIN method x ON x.id = m.method_id WHERE m.assessment_id = p_assessment ORDER BY m.position",
    ),
    "qbank_adhoc_texts": (
        "p_apprentice integer",
        "SETOF text",
        "SELECT k.adhoc_text FROM ask k JOIN assessment_method m ON m.id = k.assessment_method_id "
        "JOIN assessment a ON a.id = m.assessment_id "
        "WHERE a.apprentice_id = p_apprentice AND k.adhoc_text IS NOT NULL ORDER BY k.id",
    ),
}
"""SECURITY DEFINER functions (run as the tables' owner, so past row-level security) for the checks
that must see other assessors' work: one open assessment per apprentice and standard, the earlier
attempt a resit or retake carries grades from (and its adjustments), and the ad-hoc questions the
apprentice was asked, which a draw avoids. Executable by assessors and admins only."""


def _functions(conn: Connection, schema: str) -> None:
    owner = conn.execute(
        text("SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = CAST(:t AS regclass)"),
        {"t": f"{quote(schema)}.assessment"},
    ).scalar_one()
    for name, (args, result, body) in FUNCTIONS.items():
        f = f"{quote(schema)}.{name}"
        conn.exec_driver_sql(
            f"CREATE OR REPLACE FUNCTION {f}({args}) RETURNS {result} LANGUAGE sql STABLE SECURITY DEFINER "
            f"SET search_path = pg_catalog, {quote(schema)}, pg_temp AS $qb$ {body} $qb$"
        )
        signature = f"{f}({', '.join(a.split()[1] for a in args.split(', '))})"
        conn.exec_driver_sql(f"ALTER FUNCTION {signature} OWNER TO {quote(owner)}")
        conn.exec_driver_sql(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
        conn.exec_driver_sql(f"GRANT EXECUTE ON FUNCTION {signature} TO {quote(A)}, {quote(M)}")


# --------------------------------------------------------------------------- logins


@dataclass(frozen=True)
class Login:
    name: str
    roles: tuple[str, ...]  # qbank role names (writer, assessor, ...)
    can_login: bool
    superuser: bool

    def as_dict(self) -> dict:
        return {"name": self.name, "roles": list(self.roles), "can_login": self.can_login, "superuser": self.superuser}


def add_user(engine: Engine, name: str, role: str, password: str | None = None) -> str:
    """Create the login `name` in the group of `role` (or give an existing login that role too).
    Returns what was done, in a sentence."""
    require_postgres(engine)
    check_name(name)
    if role not in ROLES:
        raise RolesError(f"no role {role!r}: one of {', '.join(ROLES)}")
    group = ROLES[role]
    with engine.connect() as conn:
        who = _current_user(conn)
        if _missing_roles(conn, [group]):
            raise RolesError(f"the group role {group} does not exist yet: run `qbank admin init` first")
        row = conn.execute(text("SELECT rolcanlogin, rolsuper FROM pg_roles WHERE rolname = :n"), {"n": name}).first()
    try:
        with engine.begin() as conn:
            if row is None:
                conn.exec_driver_sql(f"CREATE ROLE {quote(name)} LOGIN")
                done = f"created login {name} with role {role} ({group})"
            else:
                if not row[0]:
                    raise RolesError(f"{name} is a role that cannot log in (a group?); choose another login name")
                done = f"gave the existing login {name} the role {role} ({group})"
            conn.exec_driver_sql(f"GRANT {quote(group)} TO {quote(name)}")
            if password is not None:
                _set_password(conn, name, password)
                done += ", with a password"
    except DBAPIError as e:
        if _sqlstate(e) == "42501":
            raise RolesError(
                f"{who} may not create logins or grant roles ({_first_line(e)}): run `qbank admin add-user` as "
                "a superuser or a role with CREATEROLE"
            ) from None
        raise
    return done


def _set_password(conn: Connection, name: str, password: str) -> None:
    from psycopg import sql

    raw = conn.connection.driver_connection
    stmt = sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(name), sql.Literal(password))
    conn.exec_driver_sql(stmt.as_string(raw).replace("%", "%%"))


def remove_role(engine: Engine, name: str, role: str) -> str:
    """Take `role` from the login `name` (the login and everything it recorded stay)."""
    require_postgres(engine)
    check_name(name)
    if role not in ROLES:
        raise RolesError(f"no role {role!r}: one of {', '.join(ROLES)}")
    held = {u.name: u for u in users(engine)}
    if name not in held or role not in held[name].roles:
        raise RolesError(f"{name} does not have the role {role}")
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"REVOKE {quote(ROLES[role])} FROM {quote(name)}")
    except DBAPIError as e:
        if _sqlstate(e) == "42501":
            raise RolesError(f"you may not take roles away ({_first_line(e)}): run it as a superuser") from None
        raise
    return f"took the role {role} from {name}; what they recorded stays theirs"


def users(engine: Engine) -> list[Login]:
    """Every role that is a member of a qbank group, with its qbank roles."""
    require_postgres(engine)
    by_group = {g: k for k, g in ROLES.items()}
    out: dict[str, list[str]] = {}
    flags: dict[str, tuple[bool, bool]] = {}
    with engine.connect() as conn:
        for member, group, can_login, superuser in conn.execute(
            text(
                "SELECT m.rolname, g.rolname, m.rolcanlogin, m.rolsuper FROM pg_auth_members am "
                "JOIN pg_roles m ON m.oid = am.member JOIN pg_roles g ON g.oid = am.roleid "
                "WHERE g.rolname = ANY(:g) ORDER BY m.rolname"
            ),
            {"g": list(ROLES.values())},
        ):
            out.setdefault(member, []).append(by_group[group])
            flags[member] = (bool(can_login), bool(superuser))
    order = list(ROLES)
    return [Login(name, tuple(sorted(rs, key=order.index)), *flags[name]) for name, rs in sorted(out.items())]


# --------------------------------------------------------------------------- ownership and visibility


def check_owner(s: Session, owner: str, what: str) -> None:
    """Refuse, with a clear message, a change to a row created by someone else, unless the acting
    user is an admin (or the tables' owner, a superuser). Row-level security refuses it anyway, but
    an UPDATE it filters matches no row, which the ORM reports as "expected to update 1 row(s); 0
    were matched": a service calls this first to say why. On SQLite the store is single-user:
    nothing to refuse."""
    if s.get_bind().dialect.name != "postgresql":
        return
    info = s.connection().info  # who the connection is does not change: asked once per connection
    if "qbank_who" not in info:
        info["qbank_who"] = tuple(
            s.execute(
                text(
                    "SELECT current_user::text, r.rolsuper OR CASE WHEN EXISTS "
                    "(SELECT 1 FROM pg_roles WHERE rolname = :admin) "
                    "THEN pg_has_role(current_user, :admin, 'USAGE') ELSE false END "
                    "FROM pg_roles r WHERE r.rolname = current_user"
                ),
                {"admin": ROLES["admin"]},
            ).one()
        )
    who, is_admin = info["qbank_who"]
    if owner == who or is_admin:
        return
    raise RolesError(
        f"{what} belongs to {owner or 'no one (recorded before logins)'}: only they or an admin may change it "
        f"(you are {who})"
    )


def require_admin(s: Session, what: str) -> None:
    """Refuse `what` unless the acting user is an admin (or a superuser / the tables' owner) on
    PostgreSQL; on SQLite the single user may do anything. For a service that changes everyone's
    work at once (erasure), so it fails with a sentence, not on the first row it may not change."""
    if s.get_bind().dialect.name != "postgresql":
        return
    try:
        check_owner(s, "", what)
    except RolesError:
        who = s.execute(text("SELECT current_user::text")).scalar_one()
        raise RolesError(f"{what} is for an admin (qbank_admin); {who} is not one") from None


def sees_everything(engine: Engine) -> tuple[bool, str]:
    """Whether the connected user reads every row of the record (and who they are): on SQLite, yes;
    on PostgreSQL, a superuser, the tables' owner, a role with BYPASSRLS, a store without row-level
    security, or a member of qbank_reviewer, qbank_iqa or qbank_admin. `qbank verify` run by anyone
    else would take the rows hidden from them for deleted ones."""
    with engine.connect() as conn:
        if conn.dialect.name != "postgresql":
            from .audit import actor

            return True, actor(conn)
        groups = list(
            conn.execute(text("SELECT rolname FROM pg_roles WHERE rolname = ANY(:g)"), {"g": list(READ_ALL)}).scalars()
        )
        row = conn.execute(
            text(
                "SELECT current_user::text, r.rolsuper OR r.rolbypassrls OR NOT c.relrowsecurity "
                "OR pg_has_role(current_user, c.relowner, 'USAGE') "
                "OR EXISTS (SELECT 1 FROM unnest(CAST(:g AS text[])) AS g(name) "
                "WHERE pg_has_role(current_user, g.name, 'USAGE')) "
                "FROM pg_roles r, pg_class c WHERE r.rolname = current_user AND c.oid = CAST('assessment' AS regclass)"
            ),
            {"g": groups},
        ).one()
    return bool(row[1]), str(row[0])


# --------------------------------------------------------------------------- denials


_TABLE = re.compile(r'(?:for table|for relation|policy for table) "?([A-Za-z0-9_]+)"?')


def denial_message(e: BaseException, who: str | None = None) -> str | None:
    """A clear sentence for a write or read the database refused to this user (SQLSTATE 42501:
    no privilege on a table, or a row that row-level security does not let them write), else None."""
    if _sqlstate(e) != "42501":
        return None
    first = _first_line(e)
    m = _TABLE.search(first)
    table = m.group(1) if m else "that table"
    you = f"{who}" if who else "your database login"
    if "row-level security" in first:
        return (
            f"not allowed: {you} may change only their own work, and this {table} row belongs to someone "
            "else's (an assessor's own assessments and draws, a second marker's own marks); an admin can "
            "change it"
        )
    return (
        f"not allowed: {you} has no right to this on {table} ({first}). `qbank admin users` lists each "
        "login's roles; an admin gives them with `qbank admin add-user NAME --role ROLE`"
    )
