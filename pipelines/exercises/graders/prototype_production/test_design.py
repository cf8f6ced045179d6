"""DESIGN.md: each required section is a heading followed by a real paragraph or two."""

# ruff: noqa: D103  (grader tests, like the project's tests, are named for what they check)

from __future__ import annotations

import re

import pytest

SECTIONS = ("Promotion gate", "Registry", "Monitoring policy", "Rollback", "Risks")
#: Words a section needs (the starter's placeholder lines do not count).
MIN_WORDS = 40
HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


def section(markdown: str, title: str) -> str | None:
    """The text under the first heading that starts with ``title``, or None.

    The section ends at the next heading of its level or above.
    """
    lines = markdown.splitlines()
    for index, line in enumerate(lines):
        found = HEADING.match(line)
        if not found or not found.group(2).lower().startswith(title.lower()):
            continue
        level, body = len(found.group(1)), []
        for following in lines[index + 1 :]:
            other = HEADING.match(following)
            if other and len(other.group(1)) <= level:
                break
            body.append(following)
        return "\n".join(body)
    return None


def words(text: str) -> int:
    """Words of ``text``, leaving out placeholder lines (those holding TODO)."""
    kept = [line for line in text.splitlines() if "TODO" not in line]
    return len(re.findall(r"[A-Za-z0-9][\w'-]*", "\n".join(kept)))


@pytest.mark.parametrize("title", SECTIONS)
def test_the_section_is_written_out(design: str, title: str) -> None:
    body = section(design, title)
    assert body is not None, f"DESIGN.md has no '{title}' heading"
    assert words(body) >= MIN_WORDS, f"'{title}' holds fewer than {MIN_WORDS} words"
