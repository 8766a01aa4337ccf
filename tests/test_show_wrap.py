"""`qbank show` re-flows a question's text to the terminal (issue 15 item 9): the line breaks a
writer leaves inside a paragraph of a TOML multi-line string are not kept, so no word is left
alone on a line; paragraphs and list items are."""

from __future__ import annotations

from qbank.cli import _wrap

TEXT = (
    "To start us off, tell me about the teams you lead and how you have shaped the way they\n"
    "work\n"
    "together over the course of your apprenticeship, and what you would do differently."
)


def test_a_hard_wrapped_paragraph_is_reflowed_without_orphan_words():
    out = _wrap(TEXT, width=60, indent="  ")
    lines = out.splitlines()
    assert " ".join(line.strip() for line in lines) == " ".join(TEXT.split())
    assert all(len(line) <= 60 for line in lines)
    assert all(len(line.split()) > 2 for line in lines[:-1])  # only the last line may be short


def test_paragraphs_and_list_items_are_kept_and_probes_hang_under_their_marker():
    out = _wrap("Look for:\n- one point that runs on for a good while longer than the width\n- two\n\nThen this.", 40)
    assert out.splitlines() == [
        "    Look for:",
        "    - one point that runs on for a good",
        "      while longer than the width",
        "    - two",
        "",
        "    Then this.",
    ]
    probe = _wrap("- What did you notice about the team's dynamics when you started?", 40, hang="  ")
    assert probe.splitlines()[1].startswith("      ") and "- " not in probe.splitlines()[1]


def test_hyphenated_words_are_not_split_and_a_narrow_terminal_still_gives_words_room():
    out = _wrap("a high-performing, collaborative culture built over many years of work", width=10, indent="    ")
    assert "high-performing," in out.split()
    assert all(len(line.strip()) >= 1 for line in out.splitlines())
