"""Incentive-plan evaluation: a pure function from KPI figures and plan rules to payout lines.

`evaluate(rules, figures, targets, evidence, awards)` gives one `Line` per payout line, each with
its amount, the inputs it used and the event positions behind them, plus the total and any
problems worth showing next to the statement. No database, no web, no clock: the same arguments
always give the same evaluation, which is what lets an auditor reproduce an approved payout.

Inputs
- `figures[m]`: the KPI value of metric m for the rep and period (int, Decimal or None). Revenue
  is net of the refunds occurring in the period, so it can be negative.
- `targets[m]`: the rep's target for m. A target of zero or below counts as no target.
- `<m>_attainment` = figures[m] / targets[m]; unknown (None) without a target or a figure. A
  boundary is decided exactly: "attainment >= t" is tested as figure >= t x target, so no
  rounding of the division can move a rep across a tier or a threshold.
- `evidence[m]`: the event positions behind figure m. The positions behind `<m>_attainment` are
  those of m plus any listed under `<m>_attainment` itself (the caller may put the TargetSet there).
- `awards`: AwardGranted events of the rep and period.

Lines, in this order: commission and bonus components in plan order, then multipliers in plan
order, then the cap, then penalties in plan order, then the draw or guarantee, then awards.
- commission: tiers by attainment of the base metric against its target.
  marginal: the slice of the base between from_attainment_i x target and
  from_attainment_(i+1) x target earns tier i's rate. flat: the rate of the highest tier reached
  applies to the whole base. Attainment exactly at a tier's start reaches that tier.
  A negative base (refunds above the wins of the period) earns base x the first tier's rate: a
  negative line, the clawback. Without a target the first tier's rate applies to the whole base
  and a problem says so. Without a base figure there is no line, and a problem says so.
  inputs: base, target, attainment, mode; marginal adds slices [{from, to, amount, rate,
  commission}] (from/to in units of the base), flat adds the tier_from and rate it applied.
  events: those of `<base>_attainment` (the base's own, plus the target's if given).
- bonus: its amount when its condition holds; no line at all when it does not. A condition on an
  unknown figure does not hold, and a problem says which figure was missing.
  inputs: metric, value, op, threshold, amount. events: those of the condition's metric.
- multiplier: when its condition holds, the lines of the components in applies_to are multiplied
  by factor. It is shown as a line of its own carrying the difference (negative for a penalty),
  so the commission line keeps its plain figure and the total is visibly explained. Multipliers
  on the same component compound in plan order; a scaled bonus that did not fire counts 0.
  inputs: factor, applies_to, base_amount (what the factor was applied to), and the condition.
  events: the condition's plus those of the lines it scaled.
- cap: when the sum of the plan lines (commission, bonus, multiplier; never awards) exceeds max,
  a line of max - sum (negative). It never raises a payout: no line when the sum is within max.
  inputs: max, plan_sum. events: those of the plan lines it capped.
- penalty: a fixed deduction (扣除奖金) when its condition holds; no line when it does not.
  It comes after the cap, in plan order: −min(amount, earnings − floor), earnings being the plan
  lines so far (the cap's and earlier penalties' included), so it never takes them below its
  floor (default 0); at or below the floor the line is 0.00 with `limited_by_floor`.
  inputs: the condition, amount, floor, earnings_before, limited_by_floor. events: the condition's.
- draw / guarantee (at most one): a pay floor applied to the plan lines after the cap and the
  penalties (`earnings`). Below the floor, a line of floor - earnings; a draw carries it as a balance owed,
  a guarantee never does. At or above the floor, a draw with a balance recovers
  min(balance, earnings - floor, earnings x recovery_limit) as a negative line, so pay never drops
  below the floor while the draw is recovered. The balance after the period is
  `Evaluation.draw_balance`; the caller carries it into the next period.
- award: one line per AwardGranted, component and kind "award", inputs {reason}, events (its
  position,). Awards are outside the plan: not multiplied, not capped.

Money: each line amount is rounded half-up to cents at the line (never -0.00); the total is the
sum of the rounded lines. Arithmetic before that is unrounded (50 significant digits).
Input values in `inputs` are Decimals; the caller turns them into strings.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import (
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
    localcontext,
)
from typing import Any, overload

from ledger.plan_schema import (
    Bonus,
    Cap,
    Commission,
    Condition,
    Draw,
    Multiplier,
    Penalty,
    Rules,
    Tier,
    attainment_of,
)

CENT = Decimal("0.01")
_NO_MONEY = Decimal("0.00")
# Plenty of digits so intermediate figures stay exact; traps so a bad figure fails loudly.
_ARITHMETIC = Context(prec=50, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow])
_COMPARE = {"gte": operator.ge, "gt": operator.gt, "lte": operator.le, "lt": operator.lt}
_SYMBOL = {"gte": ">=", "gt": ">", "lte": "<=", "lt": "<"}


@dataclass(frozen=True)
class Award:
    """An AwardGranted event of the rep and period."""

    amount: Decimal
    reason: str
    position: int


@dataclass(frozen=True)
class Line:
    component: str
    kind: str
    amount: Decimal
    inputs: dict
    events: tuple[int, ...]


@dataclass(frozen=True)
class Evaluation:
    lines: tuple[Line, ...]
    total: Decimal
    problems: tuple[str, ...]
    draw_balance: Decimal = Decimal("0.00")  # the recoverable draw still owed after this period


def evaluate(
    rules: Rules,
    figures: Mapping[str, Decimal | int | None],
    targets: Mapping[str, Decimal],
    evidence: Mapping[str, Sequence[int]],
    awards: Sequence[Award],
    draw_balance: Decimal = _NO_MONEY,
) -> Evaluation:
    """The payout lines of `rules` for these figures (see the module docstring for the rules).

    `draw_balance` is the recoverable draw carried in from the previous period."""
    with localcontext(_ARITHMETIC):
        facts = _Facts(figures, targets, evidence)
        problems: list[str] = []
        lines = _component_lines(rules, facts, problems)
        lines += _multiplier_lines(rules, facts, lines, problems)
        lines += _cap_lines(rules, lines)
        lines += _penalty_lines(rules, facts, lines, problems)
        floor_lines, balance = _floor_lines(rules, lines, draw_balance)
        lines += floor_lines
        lines += [_award_line(award) for award in awards]
        total = sum((line.amount for line in lines), _NO_MONEY)
    return Evaluation(tuple(lines), total, tuple(problems), balance)


class _Facts:
    """The figures, targets and evidence of one rep and period, read the way the plan reads them."""

    def __init__(
        self,
        figures: Mapping[str, Decimal | int | None],
        targets: Mapping[str, Decimal],
        evidence: Mapping[str, Sequence[int]],
    ) -> None:
        self._figures = {name: _as_decimal(name, value) for name, value in figures.items()}
        self._targets = {name: _as_decimal(name, value) for name, value in targets.items()}
        self._evidence = evidence

    def figure(self, metric: str) -> Decimal | None:
        return self._figures.get(metric)

    def target(self, metric: str) -> Decimal | None:
        target = self._targets.get(metric)
        return target if target is not None and target > 0 else None

    def value(self, metric: str) -> Decimal | None:
        """The figure, or for `<m>_attainment` the attainment; None when it cannot be known."""
        base = attainment_of(metric)
        if base is None:
            return self.figure(metric)
        figure, target = self.figure(base), self.target(base)
        return None if figure is None or target is None else figure / target

    def holds(self, condition: Condition) -> bool | None:
        """Whether the condition holds; None when its figure is unknown."""
        base = attainment_of(condition.metric)
        bound: Decimal | None
        if base is None:
            figure, bound = self.figure(condition.metric), condition.threshold
        else:
            figure, target = self.figure(base), self.target(base)
            # Compare figure with threshold x target instead of dividing: exact at the boundary.
            bound = None if target is None else condition.threshold * target
        if figure is None or bound is None:
            return None
        return _COMPARE[condition.op](figure, bound)

    def events(self, metric: str) -> set[int]:
        positions = set(self._evidence.get(metric, ()))
        base = attainment_of(metric)
        if base is not None:
            positions |= set(self._evidence.get(base, ()))
        return positions


@overload
def _as_decimal(name: str, value: Decimal | int) -> Decimal: ...
@overload
def _as_decimal(name: str, value: None) -> None: ...
def _as_decimal(name: str, value: Decimal | int | None) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise TypeError(f"{name}: expected Decimal, int or None, got {type(value).__name__}")
    number = Decimal(value)
    if not number.is_finite():
        raise ValueError(f"{name}: expected a finite number, got {value}")
    return number


def _cents(amount: Decimal) -> Decimal:
    rounded = amount.quantize(CENT, rounding=ROUND_HALF_UP)
    return rounded if rounded else _NO_MONEY  # a clawback of 0.001 is 0.00, not -0.00


def _sorted(positions: Iterable[int]) -> tuple[int, ...]:
    return tuple(sorted(set(positions)))


# --- commission and bonus ------------------------------------------------------------------


def _component_lines(rules: Rules, facts: _Facts, problems: list[str]) -> list[Line]:
    lines: list[Line] = []
    for component in rules.components:
        if isinstance(component, Commission):
            line = _commission_line(component, facts, problems)
        elif isinstance(component, Bonus):
            line = _bonus_line(component, facts, problems)
        else:
            continue  # multipliers and the cap act on these lines afterwards
        if line is not None:
            lines.append(line)
    return lines


def _commission_line(commission: Commission, facts: _Facts, problems: list[str]) -> Line | None:
    base, target = facts.figure(commission.base), facts.target(commission.base)
    if base is None:
        problems.append(f"{commission.id}: there is no {commission.base} figure, so no commission was computed")
        return None
    if target is None:
        problems.append(
            f"{commission.id}: no {commission.base} target was set, so the base tier "
            f"rate {commission.tiers[0].rate} was applied to the whole "
            f"{commission.base}"
        )
    inputs: dict[str, Any] = {
        "base": base,
        "target": target,
        "attainment": facts.value(commission.base + "_attainment"),
        "mode": commission.mode,
    }
    if commission.mode == "marginal":
        slices = _marginal_slices(base, target, commission.tiers)
        amount = sum((s["commission"] for s in slices), Decimal(0))
        inputs["slices"] = slices
    else:
        tier = _flat_tier(base, target, commission.tiers)
        amount = base * tier.rate
        inputs.update(tier_from=tier.from_attainment, rate=tier.rate)
    events = facts.events(commission.base + "_attainment")
    return Line(commission.id, "commission", _cents(amount), inputs, _sorted(events))


def _marginal_slices(base: Decimal, target: Decimal | None, tiers: Sequence[Tier]) -> list[dict]:
    if target is None or base < 0:
        # No boundaries to cut at (no target), or nothing above zero to cut (net refunds).
        return [_slice(Decimal(0), base, tiers[0].rate)]
    slices = []
    next_starts = [tier.from_attainment for tier in tiers[1:]] + [None]
    for tier, next_start in zip(tiers, next_starts, strict=True):
        lower = tier.from_attainment * target
        if base <= lower:
            break
        upper = base if next_start is None else min(base, next_start * target)
        slices.append(_slice(lower, upper, tier.rate))
    return slices


def _slice(lower: Decimal, upper: Decimal, rate: Decimal) -> dict:
    amount = upper - lower
    return {"from": lower, "to": upper, "amount": amount, "rate": rate, "commission": amount * rate}


def _flat_tier(base: Decimal, target: Decimal | None, tiers: Sequence[Tier]) -> Tier:
    if target is None or base < 0:
        return tiers[0]
    # The first tier starts at 0, so a base >= 0 always reaches it.
    return [tier for tier in tiers if base >= tier.from_attainment * target][-1]


def _bonus_line(bonus: Bonus, facts: _Facts, problems: list[str]) -> Line | None:
    if not _condition_met(bonus.id, bonus.when, facts, problems):
        return None
    inputs = {**_condition_inputs(bonus.when, facts), "amount": bonus.amount}
    return Line(bonus.id, "bonus", _cents(bonus.amount), inputs, _sorted(facts.events(bonus.when.metric)))


def _condition_met(owner: str, condition: Condition, facts: _Facts, problems: list[str]) -> bool:
    holds = facts.holds(condition)
    if holds is None:
        base = attainment_of(condition.metric)
        why = f"no {base} target or figure" if base else "no figure"
        problems.append(
            f"{owner}: {condition.metric} is unknown ({why}), so its condition "
            f"{condition.metric} {_SYMBOL[condition.op]} {condition.threshold} "
            "does not hold"
        )
    return bool(holds)


def _condition_inputs(condition: Condition, facts: _Facts) -> dict:
    return {
        "metric": condition.metric,
        "value": facts.value(condition.metric),
        "op": condition.op,
        "threshold": condition.threshold,
    }


# --- multipliers, cap, awards ---------------------------------------------------------------


def _multiplier_lines(rules: Rules, facts: _Facts, component_lines: Sequence[Line], problems: list[str]) -> list[Line]:
    # Unrounded running amounts per component, so stacked multipliers compound exactly.
    running = {line.component: line.amount for line in component_lines}
    events_of = {line.component: line.events for line in component_lines}
    lines = []
    for multiplier in rules.components:
        if not isinstance(multiplier, Multiplier):
            continue
        if not _condition_met(multiplier.id, multiplier.when, facts, problems):
            continue
        scaled = [c for c in multiplier.applies_to if c in running]  # a bonus not fired is 0
        before = sum((running[c] for c in scaled), Decimal(0))
        for component in scaled:
            running[component] *= multiplier.factor
        after = sum((running[c] for c in scaled), Decimal(0))
        inputs = {
            "factor": multiplier.factor,
            "applies_to": list(multiplier.applies_to),
            "base_amount": before,
            **_condition_inputs(multiplier.when, facts),
        }
        events = facts.events(multiplier.when.metric).union(*(events_of[c] for c in scaled))
        lines.append(Line(multiplier.id, "multiplier", _cents(after - before), inputs, _sorted(events)))
    return lines


def _cap_lines(rules: Rules, plan_lines: Sequence[Line]) -> list[Line]:
    cap = next((c for c in rules.components if isinstance(c, Cap)), None)
    plan_sum = sum((line.amount for line in plan_lines), _NO_MONEY)
    if cap is None or plan_sum <= cap.max:
        return []  # a cap only ever lowers a payout
    events = set().union(*(line.events for line in plan_lines))
    return [Line(cap.id, "cap", _cents(cap.max - plan_sum), {"max": cap.max, "plan_sum": plan_sum}, _sorted(events))]


def _penalty_lines(rules: Rules, facts: _Facts, plan_lines: Sequence[Line], problems: list[str]) -> list[Line]:
    """Each penalty whose condition holds, in plan order: −min(amount, earnings − floor), where
    earnings are the plan lines so far (after the cap and the penalties before it); nothing is
    deducted from earnings at or below the floor (a 0.00 line says the floor held it)."""
    lines: list[Line] = []
    earnings = sum((line.amount for line in plan_lines), _NO_MONEY)
    for penalty in rules.components:
        if not isinstance(penalty, Penalty) or not _condition_met(penalty.id, penalty.when, facts, problems):
            continue
        deduction = max(_NO_MONEY, min(penalty.amount, earnings - penalty.floor))
        inputs = {
            **_condition_inputs(penalty.when, facts),
            "amount": penalty.amount,
            "floor": penalty.floor,
            "earnings_before": earnings,
            "limited_by_floor": deduction < penalty.amount,
        }
        lines.append(
            Line(penalty.id, "penalty", _cents(-deduction), inputs, _sorted(facts.events(penalty.when.metric)))
        )
        earnings -= _cents(deduction)
    return lines


def _floor_lines(rules: Rules, plan_lines: Sequence[Line], balance: Decimal) -> tuple[list[Line], Decimal]:
    """A draw or guarantee: an advance up to the floor, or (a draw) the recovery of what is owed.

    earnings = the plan lines after any cap. Below the floor, a line of floor − earnings; a draw
    adds it to the balance, a guarantee does not. At or above the floor, a draw with a balance
    recovers min(balance, earnings − floor, earnings × recovery_limit): pay never drops below
    the floor while the draw is recovered."""
    floor = next((c for c in rules.components if isinstance(c, Draw)), None)
    if floor is None:
        return [], balance
    earnings = sum((line.amount for line in plan_lines), _NO_MONEY)
    events = _sorted(set().union(*(line.events for line in plan_lines)))
    inputs = {"floor": floor.floor, "earnings": earnings, "recoverable": floor.recoverable, "balance_before": balance}
    if earnings < floor.floor:
        advance = _cents(floor.floor - earnings)
        after = balance + advance if floor.recoverable else balance
        return [
            Line(
                floor.id,
                "draw" if floor.recoverable else "guarantee",
                advance,
                {**inputs, "balance_after": after},
                events,
            )
        ], after
    if not floor.recoverable or balance <= 0:
        return [], balance
    assert floor.recovery_limit is not None  # a draw (recoverable) always has one
    recovery = _cents(min(balance, earnings - floor.floor, earnings * floor.recovery_limit))
    if recovery <= 0:
        return [], balance
    after = balance - recovery
    return [
        Line(
            f"{floor.id}-recovery",
            "draw_recovery",
            -recovery,
            {**inputs, "recovery_limit": floor.recovery_limit, "balance_after": after},
            events,
        )
    ], after


def _award_line(award: Award) -> Line:
    return Line(
        "award", "award", _cents(_as_decimal("award", award.amount)), {"reason": award.reason}, (award.position,)
    )
