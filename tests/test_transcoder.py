"""orjson transcoding is exact for Decimal (scale kept), aware datetimes, dates and UUIDs."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from uuid import UUID

from hypothesis import given
from hypothesis import strategies as st

from ledger.transcoder import OrjsonTranscoder

transcoder = OrjsonTranscoder()

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**53), 2**53),
    st.text(max_size=20),
    st.decimals(allow_nan=False, allow_infinity=False, places=4),
    # fold only disambiguates a wall time in a zone with transitions; fixed offsets ignore it
    st.datetimes(
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5, minutes=-30))])
    ).map(lambda moment: moment.replace(fold=0)),
    st.dates(),
    st.uuids(),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@given(values)
def test_any_value_round_trips_exactly(value):
    decoded = transcoder.decode(transcoder.encode(value))
    assert decoded == value
    assert repr(decoded) == repr(value)  # same types, same Decimal scale, same offsets


def test_decimal_scale_and_zone_offset_survive():
    value = {
        "amount": Decimal("18000.50"),
        "at": datetime(2026, 3, 5, 10, tzinfo=timezone(timedelta(hours=8))),
        "day": date(2026, 3, 5),
        "id": UUID(int=7),
    }
    decoded = transcoder.decode(transcoder.encode(value))
    assert str(decoded["amount"]) == "18000.50"
    assert decoded["at"].utcoffset() == timedelta(hours=8)
    assert decoded == value


def test_the_stored_form_is_the_librarys_own_tagged_json():
    from eventsourcing.persistence import JSONTranscoder

    encoded = transcoder.encode({"amount": Decimal("1.50")})
    assert encoded == b'{"amount":{"_type_":"decimal_str","_data_":"1.50"}}'
    assert isinstance(JSONTranscoder(), JSONTranscoder)
