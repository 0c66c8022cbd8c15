"""The hash chain: each entry's link is sha256 of the previous link and the entry's bytes.

Changing one byte of one stored event, deleting a row or swapping two rows changes every link
from that position on, so `verify` names the first position that no longer matches. A head
digest written down by an auditor (or sealed into `PeriodClosed`) can later be checked: the log
since then must extend it, not rewrite it.
"""

from __future__ import annotations

import hashlib
from uuid import UUID

import orjson

GENESIS = "0" * 64


def link_of(previous: str, entry_head: tuple, topic: str, originator_hex: str, originator_version: int, state: bytes) -> str:
    # A JSON array is unambiguous: no choice of field values can shift bytes between fields.
    # (orjson writes a tuple as the same array; one sha256 over the joined bytes is the same
    # digest as three updates, with two method calls fewer per event.)
    header = _dumps((*entry_head, topic, originator_hex, originator_version))
    return _sha256(b"".join((previous.encode(), header, state))).hexdigest()


_dumps = orjson.dumps
_sha256 = hashlib.sha256


def uuid_hex(originator_id: object) -> str:
    """The 32 lowercase hex digits of a stream id, as the chain hashes them.

    `UUID(str(x)).hex` is the definition; a string that already is that canonical form (as
    SQLite stores it) is returned as it is, without parsing it into a UUID and back.
    """
    if type(originator_id) is str and len(originator_id) == 32:
        try:
            if bytes.fromhex(originator_id).hex() == originator_id:
                return originator_id
        except ValueError:
            pass
    return originator_id.hex if isinstance(originator_id, UUID) else UUID(str(originator_id)).hex
