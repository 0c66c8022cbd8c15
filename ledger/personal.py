"""Personal data in the log: which fields are personal, sealing them on write, opening them on read.

`PERSONAL_FIELDS` is the one place that says which fields of which event are personal data,
and what each reads as once erased; `CATEGORY` says which kind of personal data each event's
fields are (a key per person and kind, so a retention policy can erase one kind before another).
Figures, money, ids and times are not in it:
every KPI, payout, explanation, replay and audit reads them in clear, before and after an erasure.

A personal field is stored as an envelope, `{"enc": "v1", "kid": …, "n": nonce, "ct": …}`
(base64), sealed with AES-256-GCM under the key of the rep the event is about for that kind of
data (`ledger/keys.py`).
The envelope is what the event store holds, so the hash chain runs over the ciphertext and
never changes when a key is destroyed. Reading opens every envelope whose key still exists;
one whose key is gone reads as `ERASED`.

Idempotency compares a resent event with the stored one by a content hash written into the
chain; for a personal event that hash covers each personal field only as an HMAC under the
person's key (`blinded`), so once the key is destroyed the hash no longer reveals the text.
"""

from __future__ import annotations

import base64
import hmac
import os
from collections.abc import Iterable
from dataclasses import replace
from typing import Any, TypeGuard

import orjson
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ledger.keys import KeyStore, PersonKey

ERASED = "[erased]"

_TEXTS = [ERASED]

# Which fields are personal, by event type, and what each reads as once its person is erased.
PERSONAL_FIELDS: dict[str, dict[str, Any]] = {
    "RepOnboarded": {"name": ERASED},
    "EvaluationRecorded": {
        "summary": ERASED,
        "swot": {"strengths": _TEXTS, "weaknesses": _TEXTS, "opportunities": _TEXTS, "threats": _TEXTS},
    },
    "FeedbackGiven": {"text": ERASED},
    "ImprovementPlanSet": {"goals": _TEXTS, "trainings": _TEXTS},
    "ImprovementPlanReviewed": {"note": ERASED},
    "DisputeOpened": {"text": ERASED},
    "DisputeCommented": {"text": ERASED},
    "DisputeResolved": {"reason": ERASED},
}

# The kinds of personal data, each under a key of its own per person.
CATEGORIES = ("identity", "evaluations", "disputes")
CATEGORY: dict[str, str] = {
    "RepOnboarded": "identity",
    "EvaluationRecorded": "evaluations",
    "FeedbackGiven": "evaluations",
    "ImprovementPlanSet": "evaluations",
    "ImprovementPlanReviewed": "evaluations",
    "DisputeOpened": "disputes",
    "DisputeCommented": "disputes",
    "DisputeResolved": "disputes",
}
assert set(CATEGORY) == set(PERSONAL_FIELDS) and set(CATEGORY.values()) == set(CATEGORIES)

VERSION = "v1"


def is_sealed(value: Any) -> TypeGuard[dict[str, str]]:
    return type(value) is dict and value.get("enc") == VERSION


def _aad(event_type: str, field: str, kid: str) -> bytes:
    # Bound to its place: a ciphertext moved to another field or event does not open.
    return f"{event_type}.{field}|{kid}".encode()


def seal_value(key: PersonKey, event_type: str, field: str, value: Any) -> dict[str, str]:
    nonce = os.urandom(12)
    ct = AESGCM(key.key).encrypt(nonce, orjson.dumps(value), _aad(event_type, field, key.kid))
    return {"enc": VERSION, "kid": key.kid, "n": _b64(nonce), "ct": _b64(ct)}


def open_value(envelope: dict[str, str], key: AESGCM | None, event_type: str, field: str) -> Any:
    if key is None:
        return erased_value(event_type, field)
    plain = key.decrypt(_unb64(envelope["n"]), _unb64(envelope["ct"]), _aad(event_type, field, envelope["kid"]))
    return orjson.loads(plain)


def erased_value(event_type: str, field: str) -> Any:
    shape = PERSONAL_FIELDS[event_type][field]
    return orjson.loads(orjson.dumps(shape))  # a fresh copy: a reader may keep or change it


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text)


# ---------------------------------------------------------------- writing


def seal_event(event: Any, event_type: str, key: PersonKey) -> Any:
    """A copy of a domain event with its personal fields sealed (present ones; None stays None)."""
    fields = PERSONAL_FIELDS.get(event_type)
    if not fields:
        return event
    sealed = {
        name: seal_value(key, event_type, name, getattr(event, name))
        for name in fields
        if getattr(event, name, None) is not None and not is_sealed(getattr(event, name))
    }
    return replace(event, **sealed) if sealed else event


def blinded(data: dict[str, Any], event_type: str, key: PersonKey) -> dict[str, Any]:
    """`data` with each personal value replaced by its HMAC under the person's key (for hashing)."""
    fields = PERSONAL_FIELDS.get(event_type, {})
    out = dict(data)
    for name in fields:
        if out.get(name) is not None:
            digest = hmac.new(key.key, b"content|" + orjson.dumps(out[name], option=orjson.OPT_SORT_KEYS), "sha256")
            out[name] = "hmac:" + digest.hexdigest()
    return out


# ---------------------------------------------------------------- reading


def kids_in(records: Iterable[tuple[str, dict[str, Any]]]) -> set[str]:
    """The key ids named by the sealed fields of (type, data) pairs."""
    kids = set()
    for event_type, data in records:
        for name in PERSONAL_FIELDS.get(event_type, ()):
            value = data.get(name)
            if is_sealed(value):
                kids.add(value["kid"])
    return kids


def open_data(event_type: str, data: dict[str, Any], keys: dict[str, AESGCM]) -> None:
    """Open the sealed fields of one event's data in place: a missing key reads as erased."""
    for name in PERSONAL_FIELDS[event_type]:
        value = data.get(name)
        if is_sealed(value):
            data[name] = open_value(value, keys.get(value["kid"]), event_type, name)


def open_records(records: list[Any], store: KeyStore) -> list[Any]:
    """Open every sealed field of `records` (objects with `type`, `rep_id` and `data`), one key
    query; and upcast a personal value stored in clear (an event recorded before personal fields
    were sealed) to erased when its rep's key for that kind is destroyed."""
    personal = [r for r in records if r.type in PERSONAL_FIELDS]
    if not personal:
        return records
    clear = [r for r in personal if r.rep_id is not None and _has_clear(r.type, r.data)]
    kids = kids_in((r.type, r.data) for r in personal)
    if kids:
        # One cipher per key for the page (made from the key's bytes once), dropped with it: a
        # destroyed key is not kept alive in the process beyond the read that fetched it.
        keys = {kid: AESGCM(key) for kid, key in store.keys(kids).items()}
        for r in personal:
            open_data(r.type, r.data, keys)
    if clear:
        _erase_clear(clear, store)
    return records


def _erase_clear(clear: list[Any], store: KeyStore) -> None:
    """Personal values stored in clear read as erased once their slot's key is destroyed (the rep
    comes from the entry: a reader without it, a projection's fold, is overwritten by its
    PersonalDataErased fold instead)."""
    gone = store.erased({(r.rep_id, CATEGORY[r.type]) for r in clear})
    for r in clear:
        if (r.rep_id, CATEGORY[r.type]) in gone:
            for name in PERSONAL_FIELDS[r.type]:
                if r.data.get(name) is not None and not is_sealed(r.data[name]):
                    r.data[name] = erased_value(r.type, name)


def _has_clear(event_type: str, data: dict[str, Any]) -> bool:
    return any(data.get(name) is not None and not is_sealed(data[name]) for name in PERSONAL_FIELDS[event_type])
