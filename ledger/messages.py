"""Texts meant for people, marked for translation: a stable machine code, an English template
(the message catalogs' msgid) and the values to fill it with.

A `Msg` *is* its English text (a `str`), so every layer that logs, joins or compares messages
keeps working; the faces (api/i18n.py) translate it into the reader's language from the
template and the values. The write side has no idea of locales: it only marks its texts.

    Msg("rep.unknown", "unknown rep {rep_id}", rep_id="R-9")  ==  "unknown rep R-9"

`pybabel extract -k Msg:2` (bin/i18n) collects the templates into the catalogs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

GENERIC_CODE = "invalid"  # the code of a text nobody marked (a library's own message)


class Msg(str):
    """An English text that remembers its code, template and values."""

    code: str
    template: str
    params: Mapping[str, Any]

    def __new__(cls, code: str, template: str, /, **params: Any) -> Msg:
        text = super().__new__(cls, template.format(**params) if params else template)
        text.code, text.template, text.params = code, template, params
        return text

    @classmethod
    def worded(cls, code: str, template: str, english: str, params: Mapping[str, Any]) -> Msg:
        """A text already worded in English elsewhere (a library's), translated by `template`."""
        text = str.__new__(cls, english)
        text.code, text.template, text.params = code, template, dict(params)
        return text

    def __reduce__(self) -> tuple[Any, ...]:  # pickled across the rebuild worker's process boundary
        return (_rebuild, (self.code, self.template, dict(self.params)))


def _rebuild(code: str, template: str, params: dict[str, Any]) -> Msg:
    return Msg(code, template, **params)


def code_of(text: object) -> str:
    """A text's machine code: its own if marked, else the generic one."""
    return text.code if isinstance(text, Msg) else GENERIC_CODE


def message_of(error: BaseException) -> str:
    """An exception's text, its Msg kept when it was raised with one (so it can still be translated)."""
    if error.args and isinstance(error.args[0], Msg) and len(error.args) == 1:
        return error.args[0]
    return str(error)
