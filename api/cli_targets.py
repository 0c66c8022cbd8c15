"""`perfledger target allocate`: a company, region or team target allocated to the level below
(services/allocating.py), written as the operator (`cli:USER`). The typed `target set` and
`target revise` join this group (api/cli_commands.py)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated

import orjson
import typer

from api.cli_common import actor, catch_up_with_progress, err, fail, load_settings, open_store, out, speaker
from api.responses import dumps
from ledger.errors import ConflictError, InvalidBatch
from projections.allocation import METHODS, AllocationError
from projections.queries.org import LEVELS
from services.allocating import AllocationRequest, allocate_as_operator

target_app = typer.Typer(no_args_is_help=True, help="Targets: set, revise, allocate.")


def _pairs(option: str, given: list[str] | None) -> dict[str, Decimal]:
    """`--weight East=3 --weight West=2` → {"East": 3, "West": 2}."""
    pairs: dict[str, Decimal] = {}
    for item in given or ():
        key, _, number = item.rpartition("=")
        try:
            weight = Decimal(number)
        except InvalidOperation:
            weight = Decimal("NaN")
        if not key or not weight.is_finite():
            fail(
                f"{option} {item!r}: write NAME=NUMBER, e.g. {option} East=3", "see `perfledger target allocate --help`"
            )
        pairs[key] = weight
    return pairs


@target_app.command("allocate")
def allocate(
    scope: Annotated[str, typer.Option(help="company, region:NAME or team:ID: the target allocated.")],
    metric: Annotated[str, typer.Option(help="revenue, orders, new_customers, leads, activities.call, …")],
    period: Annotated[str, typer.Option(help="2026-Q2, 2026-05, …")],
    value: Annotated[str, typer.Option(help="The parent's target, e.g. 1000000.00.")],
    method: Annotated[str, typer.Option(help=f"One of: {', '.join(METHODS)}.")] = "equal",
    to: Annotated[str | None, typer.Option(help=f"One of: {', '.join(LEVELS)} (default: the level below).")] = None,
    weight: Annotated[list[str] | None, typer.Option(help="CHILD=WEIGHT for --method weights (repeat).")] = None,
    level_weight: Annotated[
        list[str] | None, typer.Option(help="LEVEL=WEIGHT for --method rep_level (repeat).")
    ] = None,
    reason: Annotated[str | None, typer.Option(help="Why (default: the method).")] = None,
    allocation_id: Annotated[
        str | None, typer.Option(help="An id of your own: running it again records nothing.")
    ] = None,
    no_parent: Annotated[bool, typer.Option("--no-parent", help="Do not set the parent's own target.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="The answer POST /targets/allocations gives.")] = False,
) -> None:
    """Set a company, region or team target and allocate it to the level below, in one batch of
    TargetSet events citing one allocation id (money to the cent, counts to one)."""
    try:
        amount = Decimal(value)
    except InvalidOperation:
        fail(f"--value {value!r} is not a decimal number", "e.g. --value 1000000.00")
    asked = AllocationRequest(
        scope=scope,
        metric=metric,
        period=period,
        value=amount,
        method=method,
        to=to,
        weights=_pairs("--weight", weight),
        level_weights=_pairs("--level-weight", level_weight),
        reason=reason,
        allocation_id=allocation_id,
        set_parent=not no_parent,
    )
    settings = load_settings()
    say = speaker(settings)
    with open_store(settings) as (ledger, engine):
        catch_up_with_progress(ledger, engine)
        try:
            answer = allocate_as_operator(ledger, engine, settings, actor("cli"), asked)
        except AllocationError as error:
            option = "--" + error.field.split(".")[0].replace("_", "-")
            fail(
                f"{option}: {say.text(error.args[0])}", "nothing was recorded; see `perfledger target allocate --help`"
            )
        except (InvalidBatch, ConflictError) as refused:
            for problem in getattr(refused, "problems", []):
                err.print(f"  {problem.field}: {say.text(problem.message)}", highlight=False)
            fail("target allocate: nothing was recorded", "fix what is listed above and run the command again")
    if as_json:
        out.print_json(orjson.dumps(orjson.loads(dumps(answer))).decode())
        return
    out.print(
        f"Allocation {answer['allocation_id']}: {scope} {metric} {period} = {amount} by {method}", highlight=False
    )
    for child in answer["children"]:
        out.print(f"  {child['scope']}: {child['value']} (weight {child['weight']})", highlight=False)
    fresh = len(answer["positions"]) - len(answer["duplicates"])
    out.print(f"  {fresh} TargetSet recorded, {len(answer['duplicates'])} already there", highlight=False)


@target_app.command("show")
def show(
    period: Annotated[str, typer.Option(help="2026-Q2, 2026-05, …")],
    scope: Annotated[str, typer.Option(help="rep:ID, team:ID, region:NAME or company.")] = "company",
    as_json: Annotated[bool, typer.Option("--json", help="The targets and each level's consistency as JSON.")] = False,
) -> None:
    """The targets in force for a scope and period, and whether each matches the sum of its
    children's (the company's regions, a region's teams, a team's reps)."""
    from api.cli_reports import _read_args, known_or_fail, print_json
    from projections.queries.targets import level_consistency, targets

    scope, period, settings, _ = _read_args(scope, period, None, None)
    with open_store(settings) as (ledger, engine):
        catch_up_with_progress(ledger, engine)
        known_or_fail(engine, scope)
        found = targets(engine, settings, scope, period)
        levels = level_consistency(engine, settings, scope, period) or []
    if as_json:
        in_force = {metric: {"value": t["value"], "revisions": len(t["revisions"])} for metric, t in found.items()}
        print_json({"scope": scope, "period": period, "targets": in_force, "levels": levels})
        return
    out.print(f"Targets of {scope} for {period}", highlight=False)
    for metric, target in sorted(found.items()):
        out.print(f"  {metric}: {target['value']} ({len(target['revisions'])} revision(s))", highlight=False)
    for row in levels:
        state = "consistent" if row["consistent"] else f"differs by {row['difference']}"
        missing = f"; without a target: {', '.join(row['missing'])}" if row["missing"] else ""
        line = f"  {row['metric']}: {row['target']} vs its {row['level']}' {row['children_sum']} ({state}{missing})"
        out.print(line, highlight=False)
