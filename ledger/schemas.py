"""The public write contract: one validated schema per event type.

Every envelope is checked here before anything touches the store, and every problem of a batch
is reported at once as (event index, field, message). Money is a decimal *string* with at most
two places (a float is refused: it has already lost cents), times carry a zone, ids are bounded.

The event reference of docs/design.md is rendered from these classes (`python -m docs.events`):
a class's docstring says what the event records, a field's docstring what the field means, and a
validator's docstring the rule it checks, so the reference and the checks cannot part ways.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)

from ledger.messages import Msg, code_of
from ledger.periods import parse_period
from ledger.personal import CATEGORIES
from ledger.plan_schema import COMPONENT_KINDS, MAX_COMPONENTS, parse_rules, rules_to_json

MAX_ID_LENGTH = 64
MAX_TEXT_LENGTH = 4000
MAX_LIST_ITEMS = 50
MAX_MONEY = Decimal("1000000000000")  # 10^12 in the ledger's currency: beyond any real deal
CENT = Decimal("0.01")
_ID_PATTERN = re.compile(r"^[^\s\x00-\x1f]+$")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one event of a batch."""

    index: int
    field: str
    message: str  # a Msg where the ledger marked it: its code and template travel with it

    @property
    def code(self) -> str:
        return code_of(self.message)

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "field": self.field, "code": self.code, "message": self.message}


# ---------------------------------------------------------------- field types


def _money(value: object) -> Decimal:
    """A decimal string such as "1234.50": not negative, at most two decimal places (cents),
    below 1,000,000,000,000."""
    amount = _decimal(value, money=True)
    if amount < 0:
        raise ValueError(Msg("number.negative", "must not be negative"))
    if amount.as_tuple().exponent < -2:  # type: ignore[operator]
        raise ValueError(Msg("money.cents", "has more than two decimal places (cents)"))
    if amount >= MAX_MONEY:
        raise ValueError(Msg("number.too_large", "is larger than {limit}", limit=MAX_MONEY))
    return amount.quantize(CENT)


def _non_negative_decimal(value: object) -> Decimal:
    """A decimal string such as "0.25" or "120000": not negative, below 1,000,000,000,000."""
    number = _decimal(value, money=False)
    if number < 0:
        raise ValueError(Msg("number.negative", "must not be negative"))
    if number >= MAX_MONEY:
        raise ValueError(Msg("number.too_large", "is larger than {limit}", limit=MAX_MONEY))
    return number


def _signed_decimal(value: object) -> Decimal:
    """A decimal string such as "-0.05" or "120000"."""
    return _decimal(value, money=False)


def _signed_money(value: object) -> Decimal:
    """A decimal string such as "-120.50", rounded to cents; it may be negative."""
    return _decimal(value, money=True).quantize(CENT)


def _decimal(value: object, *, money: bool) -> Decimal:
    if not isinstance(value, str):
        if money:
            raise ValueError(
                Msg(
                    "money.not_string",
                    'must be an amount of money written as a string such as "1234.50", not {kind}',
                    kind=type(value).__name__,
                )
            )
        raise ValueError(
            Msg(
                "number.not_string",
                'must be a decimal number written as a string such as "1234.50", not {kind}',
                kind=type(value).__name__,
            )
        )
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        if money:
            raise ValueError(Msg("money.invalid", "{value!r} is not an amount of money", value=value)) from None
        raise ValueError(Msg("number.invalid", "{value!r} is not a decimal number", value=value)) from None
    if not number.is_finite():
        raise ValueError(Msg("number.not_finite", "{value!r} is not a finite number", value=value))
    return number


def _aware_time(value: object) -> datetime:
    """ISO 8601 with a zone, such as 2026-03-05T10:00:00+08:00 or ...Z; years 1970-2999."""
    if not isinstance(value, str):
        raise ValueError(
            Msg("time.not_string", "must be an ISO 8601 time string with a zone, e.g. 2026-03-05T10:00:00+08:00")
        )
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(Msg("time.invalid", "{value!r} is not an ISO 8601 time", value=value)) from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(
            Msg("time.no_zone", "{value!r} has no time zone: add an offset such as +08:00 or Z", value=value)
        )
    if not 1970 <= moment.year <= 2999:
        raise ValueError(Msg("time.out_of_range", "{value!r} is out of range (years 1970..2999)", value=value))
    return moment


def _period(value: object) -> str:
    """A period's name (see "Periods"), kept in its canonical spelling."""
    if not isinstance(value, str):
        raise ValueError(Msg("period.not_string", "must be a period string: YYYY-MM, YYYY-Qn, YYYY-Www or YYYY"))
    return str(parse_period(value))


def _scope(value: object) -> dict[str, Any]:
    """One of {"rep": id}, {"team": id}, {"region": name} or {"company": true}."""
    if not isinstance(value, dict) or len(value) != 1:
        raise ValueError(
            Msg(
                "scope.invalid", 'must be one of {{"rep": id}}, {{"team": id}}, {{"region": name}}, {{"company": true}}'
            )
        )
    ((key, item),) = value.items()
    if key == "company":
        if item is not True:
            raise ValueError(Msg("scope.company", 'company scope is written {{"company": true}}'))
        return {"company": True}
    if key not in ("rep", "team", "region"):
        raise ValueError(Msg("scope.unknown", "unknown scope {key!r}: use rep, team, region or company", key=key))
    if not isinstance(item, str) or not item.strip() or len(item) > MAX_ID_LENGTH:
        raise ValueError(
            Msg(
                "scope.id",
                "{key} must be a non-empty string of at most {limit} characters",
                key=key,
                limit=MAX_ID_LENGTH,
            )
        )
    return {key: item}


def _id(value: str) -> str:
    """No spaces or control characters; and readable back in a URL's path (`/reps/{id}/…`): no
    `/`, and not `.` or `..`, which a client's URL handling would resolve away."""
    if not _ID_PATTERN.match(value):
        raise ValueError(Msg("id.spaces", "must not contain spaces or control characters"))
    if "/" in value or value in (".", ".."):
        raise ValueError(Msg("id.path", "must not contain / or be . or ..: an id is read back in a URL's path"))
    return value


# What the JSON schemas of these types say (the OpenAPI document, /docs): the validators above
# decide; these only describe what to send, so that no field reads as "any number" or "any object".
_MONEY_SCHEMA = {"type": "string", "pattern": r"^[0-9]{1,12}(\.[0-9]{1,2})?$", "examples": ["18000.00"]}
_SIGNED_MONEY_SCHEMA = {"type": "string", "pattern": r"^-?[0-9]{1,12}(\.[0-9]{1,2})?$", "examples": ["-120.50"]}
_DECIMAL_SCHEMA = {"type": "string", "pattern": r"^[0-9]{1,12}(\.[0-9]{1,10})?$", "examples": ["0.25", "120000"]}
# A target's value: a growth rate may be negative.
_SIGNED_DECIMAL_SCHEMA = {
    **_DECIMAL_SCHEMA,
    "pattern": r"^-?[0-9]{1,12}(\.[0-9]{1,10})?$",
    "examples": ["0.25", "-0.05"],
}
_TIME_SCHEMA = {"type": "string", "format": "date-time", "examples": ["2026-03-05T10:00:00+08:00"]}
_PERIOD_SCHEMA = {
    "type": "string",
    "pattern": r"^(19[7-9][0-9]|2[0-9]{3})(-(0[1-9]|1[0-2])|-Q[1-4]|-W(0[1-9]|[1-4][0-9]|5[0-3]))?$",
    "examples": ["2026-Q1", "2026-03"],
}
_SCOPE_KEY = {"type": "string", "minLength": 1, "maxLength": MAX_ID_LENGTH}
_SCOPE_SCHEMA = {
    "description": 'One of {"rep": id}, {"team": id}, {"region": name} or {"company": true}.',
    "oneOf": [
        {"type": "object", "required": [key], "properties": {key: _SCOPE_KEY}, "additionalProperties": False}
        for key in ("rep", "team", "region")
    ]
    + [
        {
            "type": "object",
            "required": ["company"],
            "properties": {"company": {"const": True}},
            "additionalProperties": False,
        }
    ],
}

_RULES_SCHEMA = {
    "type": "object",
    "description": 'A plan rules document: {"components": [...]}, each component an object with an id and a '
    'kind, and the fields of its kind (see docs/design.md, "Incentive plans"); every number a decimal string.',
    "required": ["components"],
    "additionalProperties": False,
    "properties": {
        "components": {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_COMPONENTS,
            "items": {
                "type": "object",
                "required": ["id", "kind"],
                "properties": {
                    "id": {"type": "string", "minLength": 1, "maxLength": 64},
                    "kind": {"enum": list(COMPONENT_KINDS)},
                },
            },
        }
    },
}

Money = Annotated[Decimal, BeforeValidator(_money), WithJsonSchema(_MONEY_SCHEMA)]
SignedMoney = Annotated[Decimal, BeforeValidator(_signed_money), WithJsonSchema(_SIGNED_MONEY_SCHEMA)]
Amount = Annotated[Decimal, BeforeValidator(_non_negative_decimal), WithJsonSchema(_DECIMAL_SCHEMA)]
AwareTime = Annotated[datetime, BeforeValidator(_aware_time), WithJsonSchema(_TIME_SCHEMA)]
PeriodText = Annotated[str, BeforeValidator(_period), WithJsonSchema(_PERIOD_SCHEMA)]
Scope = Annotated[dict, BeforeValidator(_scope), WithJsonSchema(_SCOPE_SCHEMA)]
Id = Annotated[str, Field(min_length=1, max_length=MAX_ID_LENGTH, strict=True), AfterValidator(_id)]
Name = Annotated[str, Field(min_length=1, max_length=200, strict=True)]
Text = Annotated[str, Field(min_length=1, max_length=MAX_TEXT_LENGTH, strict=True)]
Texts = Annotated[list[Text], Field(max_length=MAX_LIST_ITEMS)]
Score = Annotated[int, Field(ge=0, le=100, strict=True)]

ACTIVITY_KINDS = ("call", "visit", "email", "meeting", "demo", "other")
TARGET_METRICS = (
    "revenue",
    "orders",
    "new_customers",
    "conversion_rate",
    "win_rate",
    "avg_order_value",
    "activities",
    "growth_rate",
    "leads",
    *(f"activities.{kind}" for kind in ACTIVITY_KINDS),
)
# Rate targets are fractions: 0.4 is 40 %. A win or conversion rate lies in 0..1; a growth rate
# may be negative (a planned decline) or above 1 (doubling), bounded at -1 (all revenue lost)
# and 10 (elevenfold): beyond that a value is a typo ("40" for 40 %), not a plan.
RATE_BOUNDS = {
    "conversion_rate": (Decimal(0), Decimal(1)),
    "win_rate": (Decimal(0), Decimal(1)),
    "growth_rate": (Decimal(-1), Decimal(10)),
}
COUNT_METRICS = frozenset(
    {"orders", "new_customers", "leads", "activities", *(f"activities.{kind}" for kind in ACTIVITY_KINDS)}
)
MONEY_METRICS = frozenset({"revenue", "avg_order_value"})
LEVEL_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")


class Data(BaseModel):
    """Base of every event's data: unknown fields are refused, types are strict."""

    # A field's docstring is its description: the event reference shows it (docs/events.py).
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, use_attribute_docstrings=True)


class MoneyData(Data):
    """Data that carries money: an optional currency, which must be the ledger's own."""

    currency: str | None = None
    """The currency of the amounts, if stated."""

    @field_validator("currency")
    @classmethod
    def _ledger_currency(cls, value: str | None, info: ValidationInfo) -> str | None:
        """The ledger's own currency (PERFLEDGER_CURRENCY): amounts are never converted."""
        expected = (info.context or {}).get("currency", "CNY")
        if value is not None and value != expected:
            raise ValueError(
                Msg(
                    "currency.other",
                    "this ledger keeps {expected}; convert {currency} amounts before recording",
                    expected=expected,
                    currency=value,
                )
            )
        return value


# ---------------------------------------------------------------- organisation


class RepOnboarded(Data):
    """A rep joined the department, in a team and a region."""

    rep_id: Id
    name: Name
    team_id: Id
    region: Name
    """The rep's region: for a team created in a region (TeamCreated), that region."""
    manager_id: Id | None = None
    """Who manages the rep, for the record (a manager's token is bound to a team, not to this)."""


class RepTransferred(Data):
    """A rep moved to another team, another region, or both: from its business time on, their
    facts count for the new team and region."""

    rep_id: Id
    team_id: Id | None = None
    """The new team; left out, the team stays (a transfer names a team, a region, or both)."""
    region: Name | None = None
    """The new region; left out, the region stays, or becomes the new team's when that team was
    created (TeamCreated) in a region, which then must not be contradicted."""


class RegionCreated(Data):
    """A region of the company was set up: reps, teams and targets name it by `region`."""

    region: Name
    """The region as reps, teams and scopes name it (`region:East`)."""
    name: Name
    """Its display name."""
    director_id: Id | None = None
    """Who directs the region, for the record (a director's token is bound to the region, not to this)."""


class TeamCreated(Data):
    """A team was formed in a region: from then on a rep onboarded into or transferred to it is
    in the team's region (a rep naming another region is refused)."""

    team_id: Id
    name: Name
    """Its display name."""
    region: Name
    """The region the team belongs to."""
    manager_id: Id | None = None
    """Who manages the team, for the record (a manager's token is bound to the team, not to this)."""


class RepLevelSet(Data):
    """A rep's level (grade) from this business time on: junior, senior, …; a later one (a
    promotion) replaces it. Targets may be allocated by level (`rep_level`)."""

    rep_id: Id
    level: Annotated[str, Field(min_length=1, max_length=32, strict=True, pattern=LEVEL_PATTERN.pattern)]
    """Letters, digits, `_`, `-` or `.`: the key a level weight is given by."""


class RepOffboarded(Data):
    """A rep left (once, not before they joined): no payout is computed for them in a period
    that starts after it, and they cannot be transferred after it."""

    rep_id: Id


class TargetSet(Data):
    """The target of a scope for a metric and a period. A later TargetSet of the same scope,
    metric and period revises it; every revision stays in its history."""

    scope: Scope
    metric: Literal[TARGET_METRICS]  # type: ignore[valid-type]
    period: PeriodText
    value: Annotated[Decimal, BeforeValidator(_signed_decimal), WithJsonSchema(_SIGNED_DECIMAL_SCHEMA)]
    """Money for revenue and avg_order_value; a whole count for orders, new_customers, leads,
    activities and activities.KIND (one kind: activities.call, activities.visit, …); a fraction
    for conversion_rate and win_rate (0..1: 0.25 is 25 %) and growth_rate (-1..10, against the
    previous period's revenue)."""
    reason: Text | None = None
    allocation_id: Id | None = None
    """The allocation this target was set by (`allocate`), on the parent's and each child's target."""

    @field_validator("value")
    @classmethod
    def _in_range(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        """Not negative (but a growth rate, from -1); below 1,000,000,000,000; a rate within its
        bounds (conversion and win rate 0..1, growth rate -1..10); a count whole."""
        metric = str(info.data.get("metric"))
        low, high = RATE_BOUNDS.get(metric, (Decimal(0), MAX_MONEY))
        if metric in RATE_BOUNDS and not low <= value <= high:
            raise ValueError(
                Msg(
                    "target.rate_range",
                    "{metric} is a fraction between {low} and {high} (0.4 is 40 %), not {value}",
                    metric=metric,
                    low=low,
                    high=high,
                    value=value,
                )
            )
        if value < low:
            raise ValueError(Msg("number.negative", "must not be negative"))
        if value >= MAX_MONEY:
            raise ValueError(Msg("number.too_large", "is larger than {limit}", limit=MAX_MONEY))
        if metric in COUNT_METRICS and value != value.to_integral_value():
            raise ValueError(Msg("target.whole_count", "{metric} is a count: a whole number", metric=metric))
        return value


# ---------------------------------------------------------------- pipeline


class LeadCreated(Data):
    """A lead came in, owned by a rep. It converts when a deal opened with its lead_id is won."""

    lead_id: Id
    rep_id: Id
    customer_id: Id | None = None
    source: Name | None = None


class ActivityLogged(Data):
    """A rep's call, visit, email, meeting, demo or other activity."""

    activity_id: Id
    rep_id: Id
    kind: Literal[ACTIVITY_KINDS]  # type: ignore[valid-type]
    customer_id: Id | None = None
    lead_id: Id | None = None
    deal_id: Id | None = None
    replied: bool | None = None
    """For an email: whether the customer replied (the email reply rate counts these)."""
    notes: Text | None = None


class FollowUpScheduled(Data):
    """A follow-up a rep is to do by a due time."""

    followup_id: Id
    rep_id: Id
    due_at: AwareTime
    """When it is due: a follow-up belongs to the period of its due time."""
    deal_id: Id | None = None
    lead_id: Id | None = None


class FollowUpCompleted(Data):
    """A scheduled follow-up was done (once)."""

    followup_id: Id


class DealOpened(MoneyData):
    """A deal was opened with a customer, owned by a rep (once per deal_id)."""

    deal_id: Id
    rep_id: Id
    customer_id: Id
    lead_id: Id | None = None
    """The lead it came from: winning the deal converts the lead."""
    expected_amount: Money | None = None
    """The amount hoped for, for the record: no figure counts it."""


class DealWon(MoneyData):
    """A deal was won (once: never after it was lost, never before it was opened)."""

    deal_id: Id
    amount: Money


class DealLost(Data):
    """A deal was lost (once: never after it was won)."""

    deal_id: Id
    reason: Text | None = None


class Split(Data):
    """One rep's share of a deal's credit."""

    rep_id: Id
    share: Amount
    """A fraction of the deal, such as "0.5"."""


class DealCreditSplit(Data):
    """A deal's credit divided between reps, replacing the credit it had before: every figure of
    the deal (its win, corrections, refunds, loss, first-win customer) moves to the new shares,
    for reads that know the split."""

    deal_id: Id
    splits: Annotated[list[Split], Field(min_length=1, max_length=20)]

    @field_validator("splits")
    @classmethod
    def _shares_sum_to_one(cls, splits: list[Split]) -> list[Split]:
        """The shares sum to exactly 1, none is 0, and no rep appears twice."""
        total = sum((s.share for s in splits), Decimal(0))
        if total != 1:
            raise ValueError(Msg("splits.sum", "shares must sum to 1, they sum to {total}", total=total))
        if any(s.share == 0 for s in splits):
            raise ValueError(Msg("splits.zero", "a share of 0 credits nobody: leave that rep out"))
        if len({s.rep_id for s in splits}) != len(splits):
            raise ValueError(Msg("splits.twice", "a rep appears twice in the splits"))
        return splits


class DealAmountCorrected(MoneyData):
    """A won deal's amount was wrong. The correction restates the win in the win's own period,
    for reads that know it; it is not a sale of its own."""

    deal_id: Id
    amount: Money
    """The right won amount (never below what was already refunded)."""
    reason: Text


class DealRefunded(MoneyData):
    """Money returned on a won deal: it counts against revenue in the refund's own period, and
    refunds never exceed the won amount."""

    deal_id: Id
    amount: Money
    reason: Text | None = None

    @field_validator("amount")
    @classmethod
    def _positive(cls, amount: Decimal) -> Decimal:
        """More than 0."""
        if amount == 0:
            raise ValueError(Msg("refund.zero", "a refund of 0 is not a refund"))
        return amount


# ---------------------------------------------------------------- people process


class Swot(Data):
    """Strengths, weaknesses, opportunities and threats, each a list of short texts."""

    strengths: Texts = []
    weaknesses: Texts = []
    opportunities: Texts = []
    threats: Texts = []


class EvaluationRecorded(Data):
    """A rep's evaluation for a period: how it went, how each part of the process went, and an
    optional SWOT."""

    evaluation_id: Id
    rep_id: Id
    period: PeriodText
    evaluator_id: Id
    """Who: set from the writer's token (`rep:R-1`, `manager:T-1`, …) when recorded over HTTP; a body
    naming someone else is refused (an admin token and the command line may name the person)."""
    result_score: Score
    process_scores: Annotated[dict[Name, Score], Field(max_length=MAX_LIST_ITEMS)]
    """A score for each part of the process, by name."""
    swot: Swot | None = None
    summary: Text | None = None


class FeedbackGiven(Data):
    """Feedback to a rep: recognition, a point to improve, or coaching."""

    feedback_id: Id
    rep_id: Id
    author_id: Id
    """Who: set from the writer's token (`rep:R-1`, `manager:T-1`, …) when recorded over HTTP; a body
    naming someone else is refused (an admin token and the command line may name the person)."""
    kind: Literal["recognition", "improvement", "coaching"]
    text: Text
    evaluation_id: Id | None = None
    """The rep's evaluation it follows up, which must be recorded already."""


class ImprovementPlanSet(Data):
    """An improvement plan for a rep: goals, trainings, the gaps it addresses, and when to review
    it. It stays open until reviewed as met or missed (`ImprovementPlanReviewed`). Class version
    2 added `set_by` and `gaps` (an older plan reads with `set_by` null and no gaps)."""

    improvement_plan_id: Id
    rep_id: Id
    goals: Annotated[list[Text], Field(min_length=1, max_length=MAX_LIST_ITEMS)]
    trainings: Texts
    review_by: AwareTime
    """When the plan is to be reviewed: not before the plan itself (its occurred_at)."""
    set_by: Id | None = None
    """Who: set from the writer's token (`manager:T-1`, …) when recorded over HTTP; a body naming
    someone else is refused (an admin token and the command line may name the person)."""
    gaps: Annotated[list[Name], Field(max_length=MAX_LIST_ITEMS)] = []
    """The gaps it addresses: score names of the rep's evaluation (`discovery`) or short texts."""


class ImprovementPlanReviewed(Data):
    """An improvement plan reviewed: met or missed (final), or extended to a new review date
    (still open)."""

    improvement_plan_id: Id
    """The rep's plan, which must be set already and still open."""
    rep_id: Id
    reviewer_id: Id
    """Who: set from the writer's token (`manager:T-1`, …) when recorded over HTTP; a body naming
    someone else is refused (an admin token and the command line may name the person)."""
    outcome: Literal["met", "missed", "extended"]
    note: Text | None = None
    next_review_by: AwareTime | None = None
    """For `extended` (and only then): the new review date, not before the review itself."""


class TrainingAssigned(Data):
    """A training assigned to a rep against a named gap, due by a date."""

    training_id: Id
    """The assignment's id, unique for the rep; its completion names it."""
    rep_id: Id
    training: Text
    """What the training is (a course, a workshop)."""
    gap: Name
    """The gap it addresses: a score name of the rep's evaluation (`discovery`) or a short text."""
    due_by: AwareTime
    """When it is due: not before the assignment itself (its occurred_at)."""
    assigned_by: Id
    """Who: set from the writer's token (`manager:T-1`, …) when recorded over HTTP; a body naming
    someone else is refused (an admin token and the command line may name the person)."""
    improvement_plan_id: Id | None = None
    """The rep's improvement plan it serves, which must be set already."""


class TrainingCompleted(Data):
    """A rep completed a training: an assigned one (`training_id`), or one named alone (`training`).
    Class version 2 added `training_id` (an older completion reads with it null)."""

    rep_id: Id
    training: Text | None = None
    """What the training was; may be left out when `training_id` names the assignment."""
    training_id: Id | None = None
    """The assignment it completes (`TrainingAssigned`), which must exist and not be completed yet."""


# ---------------------------------------------------------------- incentives


class IncentivePlanPublished(Data):
    """A version of an incentive plan: its rules and the first period it applies to."""

    plan_id: Id
    version: Annotated[int, Field(ge=1, le=1_000_000, strict=True)]
    """Higher than every earlier version of the plan."""
    effective_from: PeriodText
    """The first period this version applies to."""
    rules: Annotated[dict, WithJsonSchema(_RULES_SCHEMA)]

    @field_validator("rules")
    @classmethod
    def _valid_rules(cls, rules: dict) -> dict:
        """A plan rules document (see "Incentive plans"), stored in its canonical form; every
        problem is reported with its path."""
        parsed, problems = parse_rules(rules)
        if problems:
            raise ValueError("; ".join(f"rules.{p.field}: {p.message}" for p in problems))
        assert parsed is not None
        return rules_to_json(parsed)


class IncentivePlanAssigned(Data):
    """A scope is paid under a plan from a period on. A later assignment of the same scope
    applies from its own from_period."""

    scope: Scope
    plan_id: Id
    """A published plan."""
    from_period: PeriodText


class AwardGranted(MoneyData):
    """A one-off award to a rep, paid with a period's payout as a line of its own (outside the
    plan: never multiplied or capped)."""

    rep_id: Id
    period: PeriodText
    amount: Money
    reason: Text


class RecognitionGranted(Data):
    """A non-cash recognition of a rep for a period (荣誉证书, 优秀销售): listed on the rep's
    statement and in their history, never a payout line (an award with money is AwardGranted)."""

    rep_id: Id
    period: PeriodText
    title: Text
    """What the rep is recognised as, e.g. "优秀销售" or "荣誉证书"."""
    reason: Text | None = None


class PeriodClosed(Data):
    """A period was closed, by the close command: it takes no new approval, only adjustments, and
    the close seals the log's head."""

    period: PeriodText
    head: Annotated[str, Field(min_length=64, max_length=64, strict=True)] | None = None
    """The hash chain's link at closing: verification checks the log still passes through it."""
    head_position: Annotated[int, Field(ge=0, strict=True)] | None = None
    """The position of that link."""


class ActivityLimitReached(Data):
    """A rep's self-reported activities refused for their volume, recorded by the ledger (the
    batch itself is not) so that their manager sees the attempt."""

    refusal_id: Id
    rep_id: Id
    attempted: Annotated[int, Field(ge=1, strict=True)]
    """How many activities the refused request held."""
    limit: Annotated[int, Field(ge=1, strict=True)]
    within: Literal["batch", "day"]
    """The limit reached: activities per request, or per 24 hours of recording."""


class PayoutApproved(MoneyData):
    """A rep's payout for a period, approved by the approve command as computed, with the digest
    of the computation."""

    rep_id: Id
    period: PeriodText
    amount: SignedMoney
    """The payout's total."""
    plan_id: Id
    plan_version: Annotated[int, Field(ge=1, strict=True)]
    digest: Annotated[str, Field(min_length=64, max_length=64, strict=True)]
    """sha256 of the computation: its inputs, the plan and the lines."""
    known_at: AwareTime | None = None
    """The knowledge time it was computed at: recomputing there reproduces the digest."""


class PayoutAdjusted(MoneyData):
    """A difference added to a rep's payout for a period after its approval (or, in a period
    closed before any approval, in its place), by a re-approval or by recording a replay's
    differences."""

    rep_id: Id
    period: PeriodText
    amount: SignedMoney
    """The difference: positive pays more, negative takes money back."""
    reason: Text
    replay_id: Id | None = None
    """The replay whose difference this records, if any."""


# ---------------------------------------------------------------- personal data

ERASURE_GROUNDS = ("request", "retention", "purpose_served", "consent_withdrawn")


class PersonalDataErased(Data):
    """A rep's personal data was erased, by the erase command: their keys for those kinds of data
    were destroyed, so their name or the texts about them read as "[erased]" from then on; their
    figures stay."""

    rep_id: Id
    requested_by: Id
    """Who asked for the erasure (the rep, HR, a retention run)."""
    ground: Literal[ERASURE_GROUNDS]  # type: ignore[valid-type]
    """Why: the person's request, the retention policy, the purpose served, or consent withdrawn."""
    categories: Annotated[list[Literal[CATEGORIES]], Field(min_length=1, max_length=len(CATEGORIES))] = list(  # type: ignore[valid-type]
        CATEGORIES
    )
    """The kinds of personal data erased: identity (the name), evaluations (evaluations, feedback,
    improvement plans), disputes (their texts); all of them unless said."""


class PersonalDataResealed(Data):
    """The clear personal fields of events recorded before sealing were sealed in place, by the
    one-off reseal command: the digest attests which events' bytes it replaced (verify checks
    them against it, and chains on their links as they were)."""

    run: Id
    count: Annotated[int, Field(ge=1, strict=True)]
    """How many events were resealed."""
    digest: Annotated[str, Field(min_length=64, max_length=64, strict=True)]
    """sha256 of the run's rows: position, sha256 of the bytes before, sha256 of the bytes after."""


# ---------------------------------------------------------------- rep-facing trust


class PlanAcknowledged(Data):
    """A rep signed off a published version of a plan."""

    rep_id: Id
    plan_id: Id
    version: Annotated[int, Field(ge=1, le=1_000_000, strict=True)]


class DisputeOpened(Data):
    """A rep questions their payout for a period: a line, a deal, or some events."""

    dispute_id: Id
    rep_id: Id
    period: PeriodText
    text: Text
    component: Id | None = None
    """The payout line disputed (its component id)."""
    deal_id: Id | None = None
    """The deal believed wrong or missing."""
    events: Annotated[list[Annotated[int, Field(ge=1, strict=True)]], Field(max_length=MAX_LIST_ITEMS)] = []
    """Positions of the events the rep points at."""


class DisputeCommented(Data):
    """A comment on a dispute."""

    dispute_id: Id
    author_id: Id
    """Who: set from the writer's token (`rep:R-1`, `manager:T-1`, …) when recorded over HTTP; a body
    naming someone else is refused (an admin token and the command line may name the person)."""
    text: Text


class DisputeResolved(Data):
    """A dispute resolved, once: accepted, with the events that correct it recorded just before
    it in the same batch, or rejected with a reason."""

    dispute_id: Id
    resolver_id: Id
    """Who: set from the writer's token (`rep:R-1`, `manager:T-1`, …) when recorded over HTTP; a body
    naming someone else is refused (an admin token and the command line may name the person)."""
    outcome: Literal["accepted", "rejected"]
    reason: Text
    corrections: Annotated[list[Id], Field(max_length=20)] = []
    """The event_ids of the correcting events: the events just before this one, in this batch,
    in this order (none for a rejection)."""

    @field_validator("corrections")
    @classmethod
    def _unique(cls, corrections: list[str]) -> list[str]:
        """No event_id twice."""
        if len(set(corrections)) != len(corrections):
            raise ValueError(Msg("dispute.correction_twice", "a correction is named twice"))
        return corrections


DATA_MODELS: dict[str, type[Data]] = {
    model.__name__: model
    for model in (
        RepOnboarded,
        RepTransferred,
        RepOffboarded,
        RegionCreated,
        TeamCreated,
        RepLevelSet,
        TargetSet,
        LeadCreated,
        ActivityLogged,
        FollowUpScheduled,
        FollowUpCompleted,
        DealOpened,
        DealWon,
        DealLost,
        DealCreditSplit,
        DealAmountCorrected,
        DealRefunded,
        EvaluationRecorded,
        FeedbackGiven,
        ImprovementPlanSet,
        ImprovementPlanReviewed,
        TrainingAssigned,
        TrainingCompleted,
        IncentivePlanPublished,
        IncentivePlanAssigned,
        AwardGranted,
        RecognitionGranted,
        PeriodClosed,
        PayoutApproved,
        PayoutAdjusted,
        ActivityLimitReached,
        PlanAcknowledged,
        DisputeOpened,
        DisputeCommented,
        DisputeResolved,
        PersonalDataErased,
        PersonalDataResealed,
    )
}
# Written by the ledger itself (approve, close, adjust, erase, reseal, a refusal of volume), never
# accepted from a client.
SYSTEM_TYPES = frozenset(
    {
        "PeriodClosed",
        "PayoutApproved",
        "PayoutAdjusted",
        "PersonalDataErased",
        "PersonalDataResealed",
        "ActivityLimitReached",
    }
)
ENVELOPE_KEYS = frozenset({"type", "event_id", "occurred_at", "data"})


@dataclass(frozen=True)
class Command:
    """A validated envelope: what a client asked the ledger to record."""

    index: int
    type: str
    event_id: str | None
    occurred_at: datetime
    data: dict[str, Any]


def parse_envelope(index: int, raw: object, *, currency: str, system: bool = False) -> Command | list[Problem]:
    """Validate one envelope; a Command, or every problem found in it."""
    if not isinstance(raw, dict):
        return [
            Problem(
                index, "", Msg("event.not_object", "an event must be a JSON object with type, occurred_at and data")
            )
        ]
    problems: list[Problem] = []
    unknown_keys = set(raw) - ENVELOPE_KEYS
    for key in sorted(unknown_keys)[:MAX_NAMED_KEYS] if len(unknown_keys) <= MAX_DATA_KEYS else ():
        problems.append(
            Problem(
                index,
                key[:MAX_EXCERPT],
                Msg("envelope.unknown_field", "unknown field: an envelope has type, event_id, occurred_at and data"),
            )
        )
    if len(unknown_keys) > MAX_DATA_KEYS:
        problems.append(_too_many_keys(index, "", len(raw)))
    event_type = raw.get("type")
    model = DATA_MODELS.get(event_type) if isinstance(event_type, str) else None
    if model is None:
        known = ", ".join(sorted(set(DATA_MODELS) - SYSTEM_TYPES))
        problems.append(
            Problem(
                index,
                "type",
                Msg(
                    "type.unknown",
                    "unknown event type {type}; known types: {known}",
                    type=excerpt(event_type),
                    known=known,
                ),
            )
        )
    elif event_type in SYSTEM_TYPES and not system:
        problems.append(
            Problem(
                index,
                "type",
                Msg(
                    "type.system",
                    "{type} is written by the ledger itself: "
                    "use the payout approval, adjustment, period close or person erase commands",
                    type=event_type,
                ),
            )
        )
    event_id = raw.get("event_id")
    if event_id is not None and not (
        isinstance(event_id, str) and 0 < len(event_id) <= 128 and _ID_PATTERN.match(event_id)
    ):
        problems.append(
            Problem(index, "event_id", Msg("event_id.invalid", "must be a string of 1..128 characters without spaces"))
        )
    occurred_at = None
    if "occurred_at" not in raw:
        problems.append(Problem(index, "occurred_at", Msg("missing", "field required")))
    else:
        try:
            occurred_at = _aware_time(raw["occurred_at"])
        except ValueError as error:
            problems.append(Problem(index, "occurred_at", error.args[0]))
    data = raw.get("data")
    if model is not None:
        if not isinstance(data, dict):
            problems.append(Problem(index, "data", Msg("data.not_object", "must be an object with the event's fields")))
        elif len(data) > MAX_DATA_KEYS:  # refused before validating: pydantic would name every one
            problems.append(_too_many_keys(index, "data", len(data)))
        elif (size := _encoded_size(data)) > max_data_bytes(model.__name__):
            problems.append(
                Problem(
                    index,
                    "data",
                    Msg(
                        "data.too_large",
                        "{size} bytes: a {type}'s data is at most {limit} bytes",
                        size=size,
                        type=event_type,
                        limit=max_data_bytes(model.__name__),
                    ),
                )
            )
        else:
            try:
                validated = model.model_validate(data, context={"currency": currency})
            except ValidationError as error:
                problems.extend(_problems_from(index, error))
            else:
                if not problems:
                    assert occurred_at is not None and isinstance(event_type, str)  # else a problem
                    return Command(index, event_type, event_id, occurred_at, _plain(validated))
    return problems


MAX_DATA_KEYS = 64  # far more than any event's fields: past it, a body is refused without a field-by-field list
MAX_NAMED_KEYS = 20  # unknown envelope keys named one by one
MAX_DATA_BYTES = 32 * 1024  # an event's data, encoded: an evaluation with its SWOT is a few KiB
MAX_PLAN_BYTES = 256 * 1024  # a plan's rules, its tiers and components
MAX_PROBLEMS = 100  # reported per batch; the rest are counted
MAX_EXCERPT = 64


def max_data_bytes(event_type: str) -> int:
    return MAX_PLAN_BYTES if event_type == "IncentivePlanPublished" else MAX_DATA_BYTES


def excerpt(value: object) -> str:
    """A short, safe rendering of a value the client sent, for a message: a string's start, or
    the kind of JSON value (never its repr, which a deeply nested list cannot give)."""
    if isinstance(value, str):
        return repr(value[:MAX_EXCERPT] + ("…" if len(value) > MAX_EXCERPT else ""))
    kinds = {list: "a list", dict: "an object", bool: "a boolean", int: "a number", float: "a number"}
    return "null" if value is None else kinds.get(type(value), "a value")


def _encoded_size(data: dict[str, Any]) -> int:
    try:
        return len(orjson.dumps(data))
    except (TypeError, orjson.JSONEncodeError):  # too deep or not JSON: pydantic says what is wrong
        return 0


def _too_many_keys(index: int, field: str, count: int) -> Problem:
    return Problem(
        index,
        field,
        Msg("keys.too_many", "{count} keys: an event has at most {limit}", count=count, limit=MAX_DATA_KEYS),
    )


def capped(problems: list[Problem]) -> list[Problem]:
    """The first MAX_PROBLEMS problems, and one more that counts the rest."""
    if len(problems) <= MAX_PROBLEMS:
        return problems
    rest = len(problems) - MAX_PROBLEMS
    more = Problem(
        problems[MAX_PROBLEMS].index,
        "events",
        Msg("problems.more", "{count} more problems not listed: fix these and send again", count=rest),
    )
    return [*problems[:MAX_PROBLEMS], more]


def _plain(model: Data) -> dict[str, Any]:
    """The validated data as plain values (Decimal, datetime, str, …), currency left out."""
    values = model.model_dump()
    values.pop("currency", None)
    return values


def _problems_from(index: int, error: ValidationError) -> list[Problem]:
    problems = []
    for item in error.errors(include_url=False):
        field = "data" + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in item["loc"])
        unknown = item["type"] == "extra_forbidden"
        problems.append(
            Problem(index, field, Msg("field.unknown", "unknown field") if unknown else pydantic_message(item))
        )
    return problems


def pydantic_message(item: Any) -> str:
    """One of pydantic's errors as a marked text: ours (a validator's Msg), or pydantic's own English
    (as it words it) marked by its type so that the faces can translate it."""
    context = item.get("ctx") or {}
    cause = context.get("error")
    if isinstance(cause, ValueError) and cause.args and isinstance(cause.args[0], Msg):
        return cause.args[0]
    english = str(item["msg"]).removeprefix("Value error, ")
    template = PYDANTIC_TEXTS.get(item["type"], "{detail}")
    values = {"detail": english, **{key: value for key, value in context.items() if key != "error"}}
    if item["type"] == "literal_error":  # "'call', 'visit' or 'other'": the "or" is a word to translate
        *first, last = re.findall(r"'[^']*'", str(values["expected"])) or [str(values["expected"])]
        if first:
            values["expected"] = Msg("list.or", "{items} or {last}", items=", ".join(first), last=last)
    return Msg.worded(f"pydantic.{item['type']}", template, english, values)


# What pydantic's refusals of these schemas' fields say, by error type, for the catalogs (pydantic
# words the English itself; an error type not listed passes its English through as {detail}).
PYDANTIC_TEXTS = {
    "missing": Msg("pydantic.missing", "Field required").template,
    "extra_forbidden": Msg("pydantic.extra_forbidden", "Extra inputs are not permitted").template,
    "string_type": Msg("pydantic.string_type", "Input should be a valid string").template,
    "string_too_short": Msg(
        "pydantic.string_too_short", "String should have at least {min_length} characters"
    ).template,
    "string_too_long": Msg("pydantic.string_too_long", "String should have at most {max_length} characters").template,
    "string_pattern_mismatch": Msg("pydantic.string_pattern", "String should match pattern '{pattern}'").template,
    "int_type": Msg("pydantic.int_type", "Input should be a valid integer").template,
    "int_parsing": Msg(
        "pydantic.int_parsing", "Input should be a valid integer, unable to parse string as an integer"
    ).template,
    "int_from_float": Msg(
        "pydantic.int_from_float", "Input should be a valid integer, got a number with a fractional part"
    ).template,
    "bool_type": Msg("pydantic.bool_type", "Input should be a valid boolean").template,
    "bool_parsing": Msg("pydantic.bool_parsing", "Input should be a valid boolean, unable to interpret input").template,
    "list_type": Msg("pydantic.list_type", "Input should be a valid list").template,
    "dict_type": Msg("pydantic.dict_type", "Input should be a valid dictionary").template,
    "model_type": Msg("pydantic.model_type", "Input should be a valid dictionary or instance of {class_name}").template,
    "too_short": Msg("pydantic.too_short", "{field_type} should have at least {min_length} items").template,
    "too_long": Msg("pydantic.too_long", "{field_type} should have at most {max_length} items").template,
    "greater_than": Msg("pydantic.greater_than", "Input should be greater than {gt}").template,
    "greater_than_equal": Msg("pydantic.greater_than_equal", "Input should be greater than or equal to {ge}").template,
    "less_than": Msg("pydantic.less_than", "Input should be less than {lt}").template,
    "less_than_equal": Msg("pydantic.less_than_equal", "Input should be less than or equal to {le}").template,
    "literal_error": Msg("pydantic.literal_error", "Input should be {expected}").template,
}


def parse_batch(raws: list[object], *, currency: str, system: bool = False) -> tuple[list[Command], list[Problem]]:
    commands: list[Command] = []
    problems: list[Problem] = []
    for index, raw in enumerate(raws):
        parsed = parse_envelope(index, raw, currency=currency, system=system)
        if isinstance(parsed, Command):
            commands.append(parsed)
        else:
            problems.extend(parsed)
    return commands, capped(problems)
