"""The CLI as a person runs it: real processes, exit codes, messages, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import REPO


def run(*args, env_extra=None, cwd=None):
    env = {**os.environ, **(env_extra or {})}
    env.pop("QBANK_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "qbank", *args], capture_output=True, text=True, env=env, cwd=cwd or REPO, timeout=120
    )


@pytest.fixture
def store_env(tmp_path):
    return {"QBANK_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}


def test_full_writer_flow(bank_dir, store_env):
    r = run("validate", str(bank_dir))
    assert r.returncode == 0 and "ok: 1 standard(s), 8 question(s)" in r.stdout
    r = run("release", "TST01", "1.0.0", "--path", str(bank_dir))
    assert r.returncode == 0 and "released TST01 1.0.0: 8 approved" in r.stdout
    r = run("import", str(bank_dir), env_extra=store_env)
    assert r.returncode == 0 and "imported 1 new release(s): TST01 1.0.0 (8 new question version(s))" in r.stdout
    r = run("import", str(bank_dir), env_extra=store_env)
    assert r.returncode == 0 and "nothing new" in r.stdout
    r = run("stats", env_extra=store_env)
    assert r.returncode == 0 and "TST01 Test Standard — release 1.0.0, 8 approved question(s)" in r.stdout
    r = run("show", "TST-002", env_extra=store_env)
    assert r.returncode == 0 and "budget pressures" in r.stdout
    r = run("show", "TST-02", env_extra=store_env)
    assert r.returncode == 1 and "no question TST-02 in the store" in r.stderr and "Traceback" not in r.stderr
    r = run("diff", "TST01", "1.0.0", "9.9.9", env_extra=store_env)
    assert r.returncode == 1 and "has no release 9.9.9" in r.stderr


@pytest.mark.parametrize(
    "args,code,needle",
    [
        (["validate", "--format", "xml"], 2, "invalid choice: 'xml'"),
        (["frobnicate"], 2, "invalid choice: 'frobnicate'"),
        (["list", "--limit", "many"], 2, "invalid int value"),
        (["release", "TST01", "one"], 1, "not a semantic version"),
    ],
)
def test_bad_invocations(args, code, needle, bank_dir):
    if args[0] == "release":
        args = [*args, "--path", str(bank_dir)]
    r = run(*args)
    assert r.returncode == code
    assert needle in r.stderr
    assert "Traceback" not in r.stderr + r.stdout


def test_unreachable_database_is_a_message(bank_dir):
    r = run("stats", env_extra={"QBANK_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"})
    assert r.returncode == 1 and "cannot" in r.stderr and "Traceback" not in r.stderr


def test_bad_database_url_is_a_message():
    r = run("stats", env_extra={"QBANK_DATABASE_URL": "not a url"})
    assert r.returncode == 1 and "QBANK_DATABASE_URL is not a database URL" in r.stderr


def test_garbage_files_never_traceback(tmp_path):
    folder = tmp_path / "X" / "questions"
    folder.mkdir(parents=True)
    (tmp_path / "X" / "standard.toml").write_text("code = 5\n[[method]]\nid = 3\n[outcomes]\nK1 = 7\n")
    (folder / "a.toml").write_bytes(b"\x00\x01[[[")
    (folder / "b.toml").write_text("[[question]]\nid = []\nversion = 'x'\nbands = 3\n")
    r = run("validate", str(tmp_path))
    assert r.returncode == 1
    assert "Traceback" not in r.stdout + r.stderr
    assert "standard.toml:1: standard: 'code' must be a string" in r.stdout


@pytest.fixture
def imported(bank_dir, store_env):
    assert run("release", "TST01", "1.0.0", "--path", str(bank_dir)).returncode == 0
    assert run("import", str(bank_dir), env_extra=store_env).returncode == 0
    return store_env


def test_draw_replay_swap_by_cli(imported):
    import json as _json

    r = run(
        "draw",
        "--standard",
        "TST01",
        "--method",
        "professional-discussion",
        "--apprentice",
        "APP-1",
        "--cohort",
        "ACME",
        "--format",
        "json",
        env_extra=imported,
    )
    assert r.returncode == 0, r.stderr
    d = _json.loads(r.stdout)
    assert {o for q in d["questions"] for o in q["outcomes"]} >= set(d["required"])
    r = run("draw", "--replay", str(d["draw_id"]), env_extra=imported)
    assert r.returncode == 0 and "reproduced exactly" in r.stdout
    r = run(
        "swap",
        str(d["draw_id"]),
        d["questions"][0]["id"],
        "--reason",
        "asked in the presentation already",
        env_extra=imported,
    )
    assert r.returncode in (0, 1) and "Traceback" not in r.stderr
    if r.returncode == 0:
        assert f"swapped {d['questions'][0]['id']} for" in r.stdout
    r = run("draw", "--show", str(d["draw_id"]), env_extra=imported)
    assert r.returncode == 0 and f"draw {d['draw_id']}:" in r.stdout


def test_infeasible_draw_exits_1_with_named_reason(imported):
    last = None
    for i in range(6):  # 8 questions: the apprentice runs out after a couple of draws
        last = run(
            "draw",
            "--standard",
            "TST01",
            "--method",
            "professional-discussion",
            "--apprentice",
            "APP-2",
            "--cohort",  # a different request each time (an identical one within 120 s returns the set)
            f"run {i}",
            env_extra=imported,
        )
        if last.returncode:
            break
    assert last.returncode == 1
    assert "cannot draw a set for APP-2" in last.stderr
    assert "already asked of this apprentice" in last.stderr or "only" in last.stderr
    assert "Traceback" not in last.stderr


@pytest.mark.parametrize(
    "args,needle",
    [
        (["draw", "--standard", "TST01"], "a draw needs --method, --apprentice"),
        (["draw", "--standard", "TST01", "--method", "chat", "--apprentice", "A"], "has no method 'chat'"),
        (["draw", "--replay", "999"], "no draw 999"),
        (
            [
                "draw",
                "--standard",
                "TST01",
                "--method",
                "professional-discussion",
                "--apprentice",
                "A",
                "--attempt",
                "third",
            ],
            "invalid choice: 'third'",
        ),
    ],
)
def test_draw_usage_errors(imported, args, needle):
    r = run(*args, env_extra=imported)
    assert r.returncode in (1, 2) and needle in r.stderr and "Traceback" not in r.stderr


def test_simulate_prints_both_tables(imported):
    r = run(
        "simulate",
        "--standard",
        "TST01",
        "--method",
        "presentation-questioning",
        "--draws",
        "60",
        "--seed",
        "t",
        "--format",
        "json",
        env_extra=imported,
    )
    assert r.returncode == 0, r.stderr
    import json as _json

    d = _json.loads(r.stdout)
    q, b = d["qbank"], d["baseline"]
    assert q["sets"] + q["failures"] == 60 and q["repeats"] == 0 and q["coverage"] == 1.0
    assert b["label"].startswith("uniform random") and b["sets"] == 60
