"""Incentive-plan rules: parsing and validation of the `rules` document of IncentivePlanPublished.

The document (docs/design.md, "Incentive plans") arrives already decoded from JSON. Every number in it
is a decimal *string* ("0.03", "5000", "0"): a JSON number is refused, because a float cannot hold
0.03 exactly and a plan decides money.

`parse_rules` reports every problem it finds, not just the first, each with a dotted path relative
to the document (`components[2].tiers[1].rate`; the document itself is `""`), so an author fixes a
plan in one round. Only a document without problems becomes `Rules`.

    commission  {id, kind, base: "revenue", mode: "marginal" | "flat",
                 tiers: [{from_attainment, rate}, ...]}   1-20 tiers, the first from "0",
                                                          from_attainment strictly increasing
    bonus       {id, kind, when, amount}                  amount in cents
    multiplier  {id, kind, applies_to: [id, ...], when, factor}
                                                          applies to commissions and bonuses only
    cap         {id, kind, max}                           max in cents; at most one cap per plan
    penalty     {id, kind, when, amount, floor?}          a fixed deduction (扣除奖金) when the
                                                          condition holds, never taking the plan's
                                                          earnings below floor (default "0")
    when        {"metric": m, <op>: threshold}            exactly one op of gte, gt, lte, lt; m is a
                                                          KPI, or "<m>_attainment" for a metric
                                                          that has targets

Rates, factors, amounts, caps and from_attainment are never negative (thresholds may be: growth
can be). Ids are unique, 1-64 printable characters. At most 50 components and 20 tiers, at most 12
digits before and 10 after a decimal point: the input is bounded. Unknown keys are refused, so a
typo such as "rat" cannot silently drop a rate.

Pure: standard library only, no database or web code.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

KPI_METRICS = (
    "revenue",
    "orders",
    "new_customers",
    "conversion_rate",
    "win_rate",
    "avg_order_value",
    "growth_rate",
    "activities",
    "email_reply_rate",
)
TARGET_METRICS = (
    "revenue",
    "orders",
    "new_customers",
    "conversion_rate",
    "win_rate",
    "avg_order_value",
    "activities",
)
ATTAINMENT_SUFFIX = "_attainment"
CONDITION_METRICS = KPI_METRICS + tuple(m + ATTAINMENT_SUFFIX for m in TARGET_METRICS)
COMMISSION_BASES = ("revenue",)
COMMISSION_MODES = ("marginal", "flat")
COMPONENT_KINDS = ("commission", "bonus", "multiplier", "cap", "penalty", "draw", "guarantee")
FLOOR_KINDS = ("draw", "guarantee")  # at most one per plan: the pay floor of a period
OPERATORS = ("gte", "gt", "lte", "lt")
# A multiplier scales money lines; scaling a cap or another multiplier would have no clear meaning.
SCALABLE_KINDS = ("commission", "bonus")

MAX_COMPONENTS = 50
MAX_TIERS = 20
MAX_ID_LENGTH = 64
MAX_INTEGER_DIGITS = 12
MAX_FRACTION_DIGITS = 10

_FIELDS = {
    "commission": ("id", "kind", "base", "mode", "tiers"),
    "bonus": ("id", "kind", "when", "amount"),
    "multiplier": ("id", "kind", "applies_to", "when", "factor"),
    "cap": ("id", "kind", "max"),
    "penalty": ("id", "kind", "when", "amount", "floor"),
    "draw": ("id", "kind", "floor", "recovery_limit"),
    "guarantee": ("id", "kind", "floor"),
}
# ASCII digits only: `\d` would also accept other scripts' digits, which Decimal then reinterprets.
_DECIMAL_STRING = re.compile(r"-?([0-9]+)(?:\.([0-9]+))?")
_EXAMPLE = '"0.03"'


@dataclass(frozen=True)
class PlanProblem:
    field: str  # dotted path relative to the rules document, "" for the document itself
    message: str


@dataclass(frozen=True)
class Tier:
    from_attainment: Decimal
    rate: Decimal


@dataclass(frozen=True)
class Condition:
    metric: str
    op: str  # one of OPERATORS
    threshold: Decimal


@dataclass(frozen=True)
class Commission:
    id: str
    base: str
    mode: str
    tiers: tuple[Tier, ...]


@dataclass(frozen=True)
class Bonus:
    id: str
    when: Condition
    amount: Decimal


@dataclass(frozen=True)
class Multiplier:
    id: str
    applies_to: tuple[str, ...]
    when: Condition
    factor: Decimal


@dataclass(frozen=True)
class Cap:
    id: str
    max: Decimal


@dataclass(frozen=True)
class Penalty:
    """A fixed deduction when a condition holds (扣除奖金), taken from the plan's earnings after
    the cap but never below `floor` (default 0): a deduction larger than what is left above the
    floor takes only that."""

    id: str
    when: Condition
    amount: Decimal
    floor: Decimal


@dataclass(frozen=True)
class Draw:
    """A pay floor. Recoverable (a draw): the advance that lifts earnings to the floor is carried
    as a balance and recovered from later periods' earnings above the floor, at most
    `recovery_limit` of a period's earnings. Not recoverable (a guarantee): never recovered."""

    id: str
    floor: Decimal
    recoverable: bool
    recovery_limit: Decimal | None


Component = Commission | Bonus | Multiplier | Cap | Penalty | Draw


@dataclass(frozen=True)
class Rules:
    components: tuple[Component, ...]


def attainment_of(metric: str) -> str | None:
    """The metric whose attainment `metric` names ("revenue_attainment" -> "revenue"), else None."""
    if metric.endswith(ATTAINMENT_SUFFIX):
        base = metric.removesuffix(ATTAINMENT_SUFFIX)
        return base if base in TARGET_METRICS else None
    return None


# --- parsing ---------------------------------------------------------------------------------


def parse_rules(rules: object) -> tuple[Rules | None, list[PlanProblem]]:
    """The plan's rules, or None and every problem found in the document."""
    problems: list[PlanProblem] = []
    components = _read_document(rules, problems)
    if problems:
        return None, problems
    return Rules(tuple(components)), []


_MISSING = object()


class _Reader:
    """One JSON object of the document at `path`; a bad field becomes a problem, never an error."""

    def __init__(self, obj: dict, path: str, problems: list[PlanProblem]) -> None:
        self.obj, self.path, self.problems = obj, path, problems

    @classmethod
    def of(cls, value: object, path: str, problems: list[PlanProblem]) -> _Reader | None:
        if isinstance(value, dict):
            return cls(value, path, problems)
        problems.append(PlanProblem(path, f"must be an object, not {_json_type(value)}"))
        return None

    def at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def problem(self, key: str, message: str) -> None:
        self.problems.append(PlanProblem(self.at(key), message))

    def reject_unknown_keys(self, allowed: Sequence[str]) -> None:
        for key in self.obj:
            if key not in allowed:
                hint = _did_you_mean(key, allowed)
                self.problem(str(key), f"unknown key {key!r}{hint}; allowed: {', '.join(allowed)}")

    def _value(self, key: str) -> object:
        if key in self.obj:
            return self.obj[key]
        self.problem(key, "is required")
        return _MISSING

    def decimal(self, key: str, *, non_negative: bool = False, cents: bool = False) -> Decimal | None:
        value = self._value(key)
        if value is _MISSING:
            return None
        number = _parse_decimal(value)
        if isinstance(number, str):
            error = number
        elif non_negative and number < 0:
            error = f"must not be negative, got {value!r}"
        elif cents and not _in_cents(number):
            error = f"is money: at most two decimal places, got {value!r}"
        else:
            return number
        self.problem(key, error)
        return None

    def choice(self, key: str, allowed: Sequence[str], noun: str) -> str | None:
        value = self._value(key)
        if value is _MISSING:
            return None
        if isinstance(value, str) and value in allowed:
            return value
        self.problem(key, _unknown(noun, value, allowed))
        return None

    def identifier(self, key: str) -> str | None:
        value = self._value(key)
        if value is _MISSING:
            return None
        error = _id_problem(value)
        if error is not None:
            self.problem(key, error)
            return None
        assert isinstance(value, str)  # _id_problem refuses everything else
        return value

    def nested(self, key: str) -> _Reader | None:
        value = self._value(key)
        if value is _MISSING:
            return None
        return _Reader.of(value, self.at(key), self.problems)

    def items(self, key: str, limit: int, noun: str) -> list[tuple[int, str, object]]:
        """(index, path, value) of each item of a required, non-empty, bounded list."""
        value = self._value(key)
        if value is _MISSING:
            return []
        if not isinstance(value, list):
            self.problem(key, f"must be a list of {noun}, not {_json_type(value)}")
        elif not value:
            self.problem(key, f"must not be empty: give at least one of the {noun}")
        elif len(value) > limit:
            self.problem(key, f"has {len(value)} {noun}; at most {limit} are allowed")
        else:
            return [(i, f"{self.at(key)}[{i}]", item) for i, item in enumerate(value)]
        return []


def _read_document(rules: object, problems: list[PlanProblem]) -> list[Component]:
    if not isinstance(rules, dict):
        message = f'the rules must be an object with a "components" list, not {_json_type(rules)}'
        problems.append(PlanProblem("", message))
        return []
    document = _Reader(rules, "", problems)
    document.reject_unknown_keys(("components",))
    entries = document.items("components", MAX_COMPONENTS, "components")
    # Multipliers may name components declared after them, so index every id before parsing.
    kinds_by_id = _kinds_by_id(value for _, _, value in entries)
    components: list[Component] = []
    first_use_of_id: dict[str, str] = {}
    first_cap: list[str] = []
    first_floor: list[str] = []
    for _, path, value in entries:
        reader = _Reader.of(value, path, problems)
        if reader is None:
            continue
        component = _read_component(reader, kinds_by_id)
        if component is not None:  # else its problems are recorded and no Rules will be made
            components.append(component)
        _check_id_unused(reader, first_use_of_id)
        _check_single_cap(reader, first_cap)
        _check_single_floor(reader, first_floor)
    return components


def _kinds_by_id(raw_components: Iterable[object]) -> dict[str, object]:
    kinds: dict[str, object] = {}
    for raw in raw_components:
        if isinstance(raw, dict) and isinstance(raw.get("id"), str):
            kinds.setdefault(raw["id"], raw.get("kind"))
    return kinds


def _check_id_unused(reader: _Reader, first_use_of_id: dict[str, str]) -> None:
    component_id = reader.obj.get("id")
    if not isinstance(component_id, str) or _id_problem(component_id):
        return  # a bad id is reported by the component itself
    if component_id in first_use_of_id:
        reader.problem("id", f"duplicate id {component_id!r}: {first_use_of_id[component_id]} already uses it")
    else:
        first_use_of_id[component_id] = reader.path


def _check_single_cap(reader: _Reader, first_cap: list[str]) -> None:
    if reader.obj.get("kind") != "cap":
        return
    if first_cap:
        reader.problem("kind", f"a plan has at most one cap; {first_cap[0]} is a cap already")
    else:
        first_cap.append(reader.path)


def _check_single_floor(reader: _Reader, first_floor: list[str]) -> None:
    if reader.obj.get("kind") not in FLOOR_KINDS:
        return
    if first_floor:
        reader.problem("kind", f"a plan has at most one draw or guarantee; {first_floor[0]} is one already")
    else:
        first_floor.append(reader.path)


def _read_draw(reader: _Reader, component_id: str | None, recoverable: bool) -> Draw | None:
    floor = reader.decimal("floor", non_negative=True, cents=True)
    limit = reader.decimal("recovery_limit", non_negative=True) if recoverable else None
    if limit is not None and not 0 < limit <= 1:
        reader.problem(
            "recovery_limit",
            f"is the share of a period's earnings that may be withheld: above 0 and at most 1, got {_text(limit)!r}",
        )
    if component_id is None or floor is None:
        return None
    return Draw(component_id, floor, recoverable, limit)


def _read_component(reader: _Reader, kinds_by_id: dict[str, object]) -> Component | None:
    """The component, or None when a field of it is missing or bad (each such field is a problem)."""
    component_id = reader.identifier("id")
    kind = reader.choice("kind", COMPONENT_KINDS, "kind")
    if kind is None:
        return None  # without a kind there is no telling which keys belong
    reader.reject_unknown_keys(_FIELDS[kind])
    # Every field is read (and so checked) before any None stops the component.
    if kind == "commission":
        base = reader.choice("base", COMMISSION_BASES, "base")
        mode = reader.choice("mode", COMMISSION_MODES, "mode")
        tiers = _read_tiers(reader)
        if component_id is None or base is None or mode is None:
            return None
        return Commission(component_id, base, mode, tiers)
    if kind == "bonus":
        when = _read_condition(reader)
        amount = reader.decimal("amount", non_negative=True, cents=True)
        if component_id is None or when is None or amount is None:
            return None
        return Bonus(component_id, when, amount)
    if kind == "multiplier":
        applies_to = _read_applies_to(reader, kinds_by_id)
        when = _read_condition(reader)
        factor = reader.decimal("factor", non_negative=True)
        if component_id is None or when is None or factor is None:
            return None
        return Multiplier(component_id, applies_to, when, factor)
    if kind in FLOOR_KINDS:
        return _read_draw(reader, component_id, recoverable=kind == "draw")
    if kind == "penalty":
        when = _read_condition(reader)
        amount = reader.decimal("amount", non_negative=True, cents=True)
        floor = reader.decimal("floor", non_negative=True, cents=True) if "floor" in reader.obj else Decimal(0)
        if component_id is None or when is None or amount is None or floor is None:
            return None
        return Penalty(component_id, when, amount, floor)
    cap = reader.decimal("max", non_negative=True, cents=True)
    if component_id is None or cap is None:
        return None
    return Cap(component_id, cap)


def _read_tiers(reader: _Reader) -> tuple[Tier, ...]:
    starts: list[tuple[int, _Reader, Decimal | None]] = []
    tiers: list[Tier] = []
    for index, path, value in reader.items("tiers", MAX_TIERS, "tiers"):
        tier = _Reader.of(value, path, reader.problems)
        if tier is None:
            continue
        tier.reject_unknown_keys(("from_attainment", "rate"))
        start = tier.decimal("from_attainment", non_negative=True)
        rate = tier.decimal("rate", non_negative=True)
        starts.append((index, tier, start))
        if start is not None and rate is not None:
            tiers.append(Tier(start, rate))
    _check_tier_order(starts)
    return tuple(tiers)


def _check_tier_order(starts: list[tuple[int, _Reader, Decimal | None]]) -> None:
    previous: Decimal | None = None
    for index, reader, start in starts:
        if start is None:
            continue  # already reported as unreadable
        if index == 0 and start != 0:
            reader.problem("from_attainment", f'the first tier must start at "0", got "{start}"')
        elif previous is not None and start <= previous:
            reader.problem(
                "from_attainment", f'must be greater than the previous tier\'s "{previous}": tiers go strictly upwards'
            )
        previous = start


def _read_condition(reader: _Reader) -> Condition | None:
    when = reader.nested("when")
    if when is None:
        return None
    when.reject_unknown_keys(("metric",) + OPERATORS)
    metric = when.choice("metric", CONDITION_METRICS, "metric")
    operators = [op for op in OPERATORS if op in when.obj]
    if len(operators) != 1:
        found = ", ".join(operators) or "none"
        reader.problem("when", f"needs exactly one comparison of {', '.join(OPERATORS)}; found {found}")
        return None
    op = operators[0]
    threshold = when.decimal(op)
    if metric is None or threshold is None:
        return None
    return Condition(metric, op, threshold)


def _read_applies_to(reader: _Reader, kinds_by_id: dict[str, object]) -> tuple[str, ...]:
    names: list[str] = []
    for _, path, value in reader.items("applies_to", MAX_COMPONENTS, "component ids"):
        error = _applies_to_problem(value, kinds_by_id, names)
        if error is not None:
            reader.problems.append(PlanProblem(path, error))
        else:
            assert isinstance(value, str)  # _applies_to_problem refuses everything else
            names.append(value)
    return tuple(names)


def _applies_to_problem(value: object, kinds_by_id: dict[str, object], earlier: list[str]) -> str | None:
    if not isinstance(value, str):
        return f"must be a component id, not {_json_type(value)}"
    if value in earlier:
        return f"names {value!r} twice"
    if value not in kinds_by_id:
        return f"names no component of this plan: {value!r}{_did_you_mean(value, kinds_by_id)}"
    kind = kinds_by_id[value]
    if kind not in SCALABLE_KINDS:
        return (
            f"names {value!r}, which is a {kind!r} component; a multiplier applies only "
            f"to {' and '.join(SCALABLE_KINDS)} components"
        )
    return None


# --- small checks ----------------------------------------------------------------------------


def _parse_decimal(value: object) -> Decimal | str:
    """The number, or the message saying why `value` is not a decimal string."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f'must be a decimal string such as "{value}", not a JSON number'
    if not isinstance(value, str):
        return f"must be a decimal string such as {_EXAMPLE}, not {_json_type(value)}"
    match = _DECIMAL_STRING.fullmatch(value)
    if match is None:
        shown = value if len(value) <= 40 else value[:40] + "…"
        return f"{shown!r} is not a decimal number; write it like {_EXAMPLE}"
    integer, fraction = match.group(1), match.group(2) or ""
    if len(integer) > MAX_INTEGER_DIGITS or len(fraction) > MAX_FRACTION_DIGITS:
        return (
            f"has too many digits: at most {MAX_INTEGER_DIGITS} before and "
            f"{MAX_FRACTION_DIGITS} after the decimal point"
        )
    return Decimal(value)


def _in_cents(number: Decimal) -> bool:
    # Read the digits rather than quantize: exact, and free of any decimal context.
    _, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)  # finite: _parse_decimal reads plain digits only
    extra_places = -exponent - 2
    return extra_places <= 0 or not any(digits[-extra_places:])


def _id_problem(value: object) -> str | None:
    if not isinstance(value, str):
        return f"must be a string, not {_json_type(value)}"
    if not value.strip():
        return "must not be empty"
    if len(value) > MAX_ID_LENGTH:
        return f"must be at most {MAX_ID_LENGTH} characters, got {len(value)}"
    if not value.isprintable():
        return "must contain printable characters only"
    return None


def _unknown(noun: str, value: object, allowed: Sequence[str]) -> str:
    if not isinstance(value, str):
        return f"must be one of {', '.join(allowed)}, not {_json_type(value)}"
    return f"unknown {noun} {value!r}{_did_you_mean(value, allowed)}; expected one of {', '.join(allowed)}"


def _did_you_mean(value: object, choices: Iterable[str]) -> str:
    if not isinstance(value, str):
        return ""
    close = difflib.get_close_matches(value, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


# --- canonical form --------------------------------------------------------------------------


def rules_to_json(rules: Rules) -> dict:
    """The canonical JSON form of `rules`: what parse_rules reads back into equal Rules."""
    return {"components": [_component_to_json(c) for c in rules.components]}


def _component_to_json(component: Component) -> dict:
    match component:
        case Commission():
            tiers = [{"from_attainment": _text(t.from_attainment), "rate": _text(t.rate)} for t in component.tiers]
            return {
                "id": component.id,
                "kind": "commission",
                "base": component.base,
                "mode": component.mode,
                "tiers": tiers,
            }
        case Bonus():
            return {
                "id": component.id,
                "kind": "bonus",
                "when": _condition_to_json(component.when),
                "amount": _text(component.amount),
            }
        case Multiplier():
            return {
                "id": component.id,
                "kind": "multiplier",
                "applies_to": list(component.applies_to),
                "when": _condition_to_json(component.when),
                "factor": _text(component.factor),
            }
        case Cap():
            return {"id": component.id, "kind": "cap", "max": _text(component.max)}
        case Draw(recoverable=True, recovery_limit=Decimal() as limit):  # a draw's limit is required
            return {
                "id": component.id,
                "kind": "draw",
                "floor": _text(component.floor),
                "recovery_limit": _text(limit),
            }
        case Draw():
            return {"id": component.id, "kind": "guarantee", "floor": _text(component.floor)}
    raise TypeError(f"not a plan component: {component!r}")


def _condition_to_json(condition: Condition) -> dict:
    return {"metric": condition.metric, condition.op: _text(condition.threshold)}


def _text(number: Decimal) -> str:
    # Fixed-point, never "1E+3": parse_rules accepts plain digits only.
    return format(number, "f")
