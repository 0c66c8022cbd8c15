"""docs/screenshots/ holds a picture of every view the browser tests open (tests/e2e/views.py),
at both widths, in English and (for the views where the words matter) Chinese, its index lists
them all, and the folder stays small. `python -m docs.screenshots` remakes them."""

from __future__ import annotations

from docs import screenshots


def test_every_view_has_its_pictures_and_the_index_lists_them():
    assert screenshots.check() == 0, "run: .venv/bin/python -m docs.screenshots"


def test_the_pictures_stay_small():
    pictures = list(screenshots.OUT.glob("*.png"))
    views = screenshots._views()
    assert len(pictures) == len(screenshots.shots(views))
    assert sum(p.stat().st_size for p in pictures) < 3_000_000
    assert max(p.stat().st_size for p in pictures) < 300_000
