"""The hash chain: each entry's link is sha256 of the previous link and the entry's bytes.

Changing one byte of one stored event, deleting a row or swapping two rows changes every link
from that position on, so `verify` names the first position that no longer matches. A head
digest written down by an auditor (or sealed into `PeriodClosed`) can later be checked: the log
since then must extend it, not rewrite it.
"""

from __future__ import annotations

import hashlib

import orjson

GENESIS = "0" * 64


def link_of(previous: str, entry_head: tuple, topic: str, originator_hex: str, originator_version: int, state: bytes) -> str:
    # A JSON array is unambiguous: no choice of field values can shift bytes between fields.
    header = orjson.dumps([*entry_head, topic, originator_hex, originator_version])
    digest = hashlib.sha256(previous.encode())
    digest.update(header)
    digest.update(state)
    return digest.hexdigest()
