"""From a validated command to the one fact it appends, through the aggregate that guards it.

A batch is handled in a unit of work: the streams it touches are loaded in one query, each
command is checked against the state left by the commands before it (so a batch may onboard a
rep and log their first call), and every violation is collected with its event index.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from ledger.aggregates import (
    Activity,
    AdjustedPayout,
    Deal,
    Dispute,
    FollowUp,
    IncentivePlan,
    Lead,
    Ledgered,
    LimitRefusal,
    Payout,
    PeriodLock,
    PlanAssignment,
    Region,
    Rep,
    Resealing,
    Target,
    Team,
    scope_key,
    stream_id,
)
from ledger.errors import RuleViolation
from ledger.keys import PersonKey
from ledger.messages import Msg
from ledger.periods import parse_period
from ledger.schemas import Command

Touched = tuple[Ledgered, "str | None"]  # the aggregate that took the fact, and the rep it concerns


class UnitOfWork:
    """The aggregates of one batch, loaded once, with the facts appended in command order."""

    def __init__(self, load: Callable[[list[UUID]], dict[UUID, Aggregate]], known_reps: set[str]):
        self._load = load
        self._known_reps = known_reps
        self.aggregates: dict[UUID, Ledgered | None] = {}
        self.events: list[Any] = []
        self.rep_of_event: list[str | None] = []
        self.event_ids: list[str | None] = []  # of the commands handled so far in this batch, in order
        self.person_keys: dict[tuple[str, str], PersonKey | None] = {}  # (rep, kind) → its key; None: destroyed

    def preload(self, ids: Iterable[UUID]) -> None:
        missing = [i for i in set(ids) if i not in self.aggregates]
        if missing:
            loaded = self._load(missing)
            for i in missing:
                self.aggregates[i] = loaded.get(i)  # type: ignore[assignment]

    def get(self, kind: str, key: str) -> Any:
        return self.by_id(stream_id(kind, key))

    def by_id(self, sid: UUID) -> Any:
        if sid not in self.aggregates:
            self.preload([sid])
        return self.aggregates[sid]

    def rep(self, rep_id: str, field: str = "data.rep_id") -> Rep:
        rep = self.get("rep", rep_id)
        if rep is None:
            raise RuleViolation(
                field, Msg("rep.unknown", "unknown rep {rep_id}: record RepOnboarded for them first", rep_id=rep_id)
            )
        return rep

    def require_known_rep(self, rep_id: str, field: str = "data.rep_id") -> None:
        """Existence only: reps are never deleted, so a rep once seen stays known (cached)."""
        if rep_id not in self._known_reps:
            self.rep(rep_id, field)

    def deal(self, deal_id: str) -> Deal:
        deal = self.get("deal", deal_id)
        if deal is None:
            raise RuleViolation(
                "data.deal_id", Msg("deal.unknown", "unknown deal {deal_id}: record DealOpened first", deal_id=deal_id)
            )
        return deal

    def create(self, aggregate: Ledgered) -> None:
        self.aggregates[aggregate.id] = aggregate

    def absent(self, kind: str, key: str, field: str, what: str) -> None:
        existing = self.get(kind, key)
        if existing is not None:
            raise RuleViolation(field, Msg("exists", "{what} {key} already exists", what=what, key=key))

    def take_event(self, aggregate: Ledgered, rep_id: str | None) -> None:
        """Move the aggregate's one new fact into the batch, in command order."""
        (event,) = aggregate.collect_events()
        self.events.append(event)
        self.rep_of_event.append(rep_id)


def touched_streams(command: Command, known_reps: Collection[str] = ()) -> list[UUID]:
    """The streams a command reads or writes, so a batch can load them all in one query.

    Left out: streams a command names but its handler never reads (`_UNREAD`): the deal an
    activity or a follow-up mentions, and the rep of a command that only asks whether the rep
    exists once `known_reps` (the ledger's cache of reps seen) already says so. A stream left
    out is still loaded on demand if a handler asks for it.
    """
    data = command.data
    unread = _UNREAD.get(command.type, ())
    if "rep" in unread and data.get("rep_id") not in known_reps:
        unread = tuple(kind for kind in unread if kind != "rep")
    ids = [stream_id(kind, data[key]) for key, kind in _KEY_KINDS if data.get(key) is not None and kind not in unread]
    for split in data.get("splits") or ():
        ids.append(stream_id("rep", split["rep_id"]))
    scope = data.get("scope")
    if scope is not None and "rep" in scope:
        ids.append(stream_id("rep", scope["rep"]))
    if command.type in _CREATES:
        kind, key = _CREATES[command.type]
        ids.append(stream_id(kind, data[key]))
    if command.type in ("RepOnboarded", "RepTransferred") and data.get("team_id"):
        ids.append(stream_id("team", data["team_id"]))
    elif command.type == "TeamCreated":
        ids += [stream_id("team", data["team_id"]), stream_id("region", data["region"])]
    elif command.type == "RegionCreated":
        ids.append(stream_id("region", data["region"]))
    if command.type == "TargetSet":
        ids.append(Target.create_id(data["scope"], data["metric"], data["period"]))
    elif command.type == "IncentivePlanAssigned":
        ids.append(PlanAssignment.create_id(data["scope"]))
    elif command.type in ("PayoutApproved", "PayoutAdjusted"):
        ids.append(Payout.create_id(data["rep_id"], data["period"]))
        ids.extend(stream_id("period", str(p)) for p in parse_period(data["period"]).enclosing())
    elif command.type == "PeriodClosed":
        ids.append(stream_id("period", data["period"]))
    return ids


_CREATES = {"LeadCreated": ("lead", "lead_id")}
# Named but not read: these handlers only `require_known_rep` (and do not look at the deal).
_UNREAD = {
    "ActivityLogged": ("rep", "deal"),
    "FollowUpScheduled": ("rep", "deal"),
    "LeadCreated": ("rep",),
    "DealOpened": ("rep",),
}
_KEY_KINDS = (
    ("dispute_id", "dispute"),
    ("rep_id", "rep"),
    ("deal_id", "deal"),
    ("activity_id", "activity"),
    ("followup_id", "followup"),
    ("plan_id", "plan"),
)


# ---------------------------------------------------------------- handlers, one per event type


def _fields(command: Command) -> dict[str, Any]:
    return {**command.data, "occurred_at": command.occurred_at}


def _team_region(uow: UnitOfWork, team_id: str | None, region: str | None, field: str = "data.region") -> str | None:
    """The region a rep in `team_id` is in: the team's, when it was created with one (a region
    named otherwise is refused); else the region given (a team never created: as before)."""
    team = uow.get("team", team_id) if team_id is not None else None
    if team is None:
        return region
    if region is not None and region != team.region:
        raise RuleViolation(
            field,
            Msg(
                "team.other_region",
                "team {team_id} is in region {team_region}, not {region}: leave region out or name {team_region}",
                team_id=team_id,
                team_region=team.region,
                region=region,
            ),
        )
    return str(team.region)


def rep_onboarded(uow: UnitOfWork, c: Command) -> Touched:
    uow.absent("rep", c.data["rep_id"], "data.rep_id", "rep")
    _team_region(uow, c.data["team_id"], c.data["region"])
    rep = Rep(**_fields(c))
    uow.create(rep)
    return rep, c.data["rep_id"]


def rep_transferred(uow: UnitOfWork, c: Command) -> Touched:
    rep = uow.rep(c.data["rep_id"])
    team_id, region = c.data["team_id"], c.data["region"]
    if team_id is not None:
        region = _team_region(uow, team_id, region)
    elif region is not None:
        _team_region(uow, rep.team_id, region)  # a region move out of a created team's region: refused
    rep.transfer(team_id, region, c.occurred_at)
    return rep, c.data["rep_id"]


def region_created(uow: UnitOfWork, c: Command) -> Touched:
    uow.absent("region", c.data["region"], "data.region", "region")
    region = Region(**_fields(c))
    uow.create(region)
    return region, None


def team_created(uow: UnitOfWork, c: Command) -> Touched:
    uow.absent("team", c.data["team_id"], "data.team_id", "team")
    if uow.get("region", c.data["region"]) is None:
        raise RuleViolation(
            "data.region",
            Msg(
                "region.unknown",
                "unknown region {region}: record RegionCreated for it first",
                region=c.data["region"],
            ),
        )
    team = Team(**_fields(c))
    uow.create(team)
    return team, None


def rep_level_set(uow: UnitOfWork, c: Command) -> Touched:
    rep = uow.rep(c.data["rep_id"])
    rep._require_active(c.occurred_at)
    rep.record(Rep.RepLevelSet, **_fields(c))
    return rep, c.data["rep_id"]


def rep_offboarded(uow: UnitOfWork, c: Command) -> Touched:
    rep = uow.rep(c.data["rep_id"])
    rep.offboard(c.occurred_at)
    return rep, c.data["rep_id"]


def rep_fact(method: str) -> Callable[[UnitOfWork, Command], Touched]:
    """Evaluations, feedback, improvement plans and their reviews, trainings: facts on the rep's
    own record, checked against it."""

    def handle(uow: UnitOfWork, c: Command) -> Touched:
        rep = uow.rep(c.data["rep_id"])
        getattr(rep, method)(**_fields(c))
        return rep, c.data["rep_id"]

    return handle


def rep_record(event_name: str) -> Callable[[UnitOfWork, Command], Touched]:
    """Awards: appended to the rep's record with no further rule."""

    def handle(uow: UnitOfWork, c: Command) -> Touched:
        rep = uow.rep(c.data["rep_id"])
        rep.record(getattr(Rep, event_name), **_fields(c))
        return rep, c.data["rep_id"]

    return handle


def personal_data_erased(uow: UnitOfWork, c: Command) -> Touched:
    rep = uow.rep(c.data["rep_id"])
    if set(c.data["categories"]) <= rep.erased:
        raise RuleViolation(
            "data.categories",
            Msg(
                "person.erased_before",
                "the personal data of {rep_id} ({categories}) is already erased",
                rep_id=c.data["rep_id"],
                categories=", ".join(c.data["categories"]),
            ),
        )
    rep.record(Rep.PersonalDataErased, **_fields(c))
    return rep, c.data["rep_id"]


def personal_data_resealed(uow: UnitOfWork, c: Command) -> Touched:
    uow.absent("reseal", c.data["run"], "data.run", "reseal run")
    run = Resealing(**_fields(c))
    uow.create(run)
    return run, None


def target_set(uow: UnitOfWork, c: Command) -> Touched:
    scope = c.data["scope"]
    if "rep" in scope:
        uow.require_known_rep(scope["rep"], "data.scope.rep")
    target = uow.by_id(Target.create_id(scope, c.data["metric"], c.data["period"]))
    if target is None:
        target = Target(**_fields(c))
        uow.create(target)
    else:
        target.record(Target.TargetRevised, **_fields(c))
    return target, scope.get("rep")


def created(
    kind: str, key: str, aggregate_class: type[Ledgered], what: str
) -> Callable[[UnitOfWork, Command], Touched]:
    """A fact that starts its own stream and names a rep who must be known."""

    def handle(uow: UnitOfWork, c: Command) -> Touched:
        uow.require_known_rep(c.data["rep_id"])
        uow.absent(kind, c.data[key], f"data.{key}", what)
        aggregate = aggregate_class(**_fields(c))
        uow.create(aggregate)
        return aggregate, c.data["rep_id"]

    return handle


def followup_completed(uow: UnitOfWork, c: Command) -> Touched:
    followup = uow.get("followup", c.data["followup_id"])
    if followup is None:
        raise RuleViolation(
            "data.followup_id",
            Msg("followup.unknown", "unknown follow-up {id}: schedule it first", id=c.data["followup_id"]),
        )
    followup.complete(c.occurred_at)
    return followup, followup.rep_id


def deal_opened(uow: UnitOfWork, c: Command) -> Touched:
    uow.require_known_rep(c.data["rep_id"])
    existing = uow.get("deal", c.data["deal_id"])
    if existing is not None:
        raise RuleViolation(
            "data.deal_id",
            Msg(
                "deal.opened_twice",
                "deal {deal_id} is already opened; a deal is opened once",
                deal_id=c.data["deal_id"],
            ),
        )
    deal = Deal(**_fields(c))
    uow.create(deal)
    return deal, c.data["rep_id"]


def deal_command(apply: Callable[[Deal, Command], None]) -> Callable[[UnitOfWork, Command], Touched]:
    def handle(uow: UnitOfWork, c: Command) -> Touched:
        deal = uow.deal(c.data["deal_id"])
        apply(deal, c)
        return deal, deal.rep_id

    return handle


def _split(deal: Deal, c: Command) -> None:
    deal.split(c.data["splits"], c.occurred_at)


def deal_credit_split(uow: UnitOfWork, c: Command) -> Touched:
    for i, split in enumerate(c.data["splits"]):
        uow.require_known_rep(split["rep_id"], f"data.splits[{i}].rep_id")
    return deal_command(_split)(uow, c)


def plan_published(uow: UnitOfWork, c: Command) -> Touched:
    plan = uow.get("plan", c.data["plan_id"])
    if plan is None:
        plan = IncentivePlan(**_fields(c))
        uow.create(plan)
    else:
        plan.publish(c.data["version"], c.data["effective_from"], c.data["rules"], c.occurred_at)
    return plan, None


def plan_assigned(uow: UnitOfWork, c: Command) -> Touched:
    scope = c.data["scope"]
    if "rep" in scope:
        uow.require_known_rep(scope["rep"], "data.scope.rep")
    if uow.get("plan", c.data["plan_id"]) is None:
        raise RuleViolation(
            "data.plan_id", Msg("plan.unknown", "unknown plan {plan_id}: publish it first", plan_id=c.data["plan_id"])
        )
    assignment = uow.by_id(PlanAssignment.create_id(scope))
    if assignment is None:
        assignment = PlanAssignment(**_fields(c))
        uow.create(assignment)
    else:
        assignment.record(PlanAssignment.IncentivePlanReassigned, **_fields(c))
    return assignment, scope.get("rep")


def period_closed(uow: UnitOfWork, c: Command) -> Touched:
    uow.absent("period", c.data["period"], "data.period", "closed period")
    lock = PeriodLock(**_fields(c))
    uow.create(lock)
    return lock, None


def _closed_by(uow: UnitOfWork, period: str) -> str | None:
    for enclosing in parse_period(period).enclosing():
        if uow.get("period", str(enclosing)) is not None:
            return str(enclosing)
    return None


def payout_approved(uow: UnitOfWork, c: Command) -> Touched:
    uow.require_known_rep(c.data["rep_id"])
    closed = _closed_by(uow, c.data["period"])
    if closed is not None:
        raise RuleViolation(
            "data.period",
            Msg(
                "period.closed",
                "period {period} is closed and takes no approval: replay it (POST /replays), then record "
                "the difference as a PayoutAdjusted (POST /replays/adjustments with the replay's period, plan "
                "and known_at)",
                period=closed,
            ),
        )
    if uow.get("payout", f"{c.data['rep_id']}|{c.data['period']}") is not None:
        raise RuleViolation(
            "data.period",
            Msg(
                "payout.approved_twice",
                "the payout of {rep_id} for {period} is already approved; a change is an adjustment",
                rep_id=c.data["rep_id"],
                period=c.data["period"],
            ),
        )
    payout = Payout(**_fields(c))
    uow.create(payout)
    return payout, c.data["rep_id"]


def payout_adjusted(uow: UnitOfWork, c: Command) -> Touched:
    uow.require_known_rep(c.data["rep_id"])
    payout = uow.get("payout", f"{c.data['rep_id']}|{c.data['period']}")
    if payout is not None:
        payout.record(Payout.PayoutAdjusted, **_fields(c))
    elif _closed_by(uow, c.data["period"]) is not None:
        payout = AdjustedPayout(**_fields(c))  # closed before any approval: the adjustment is the record
        uow.create(payout)
    else:
        raise RuleViolation(
            "data.period",
            Msg(
                "payout.nothing_to_adjust",
                "nothing approved for {rep_id} in {period} to adjust: approve it first",
                rep_id=c.data["rep_id"],
                period=c.data["period"],
            ),
        )
    return payout, c.data["rep_id"]


def plan_acknowledged(uow: UnitOfWork, c: Command) -> Touched:
    plan = uow.get("plan", c.data["plan_id"])
    if plan is None or c.data["version"] not in plan.versions:
        raise RuleViolation(
            "data.version",
            Msg(
                "plan.version_unknown",
                "plan {plan_id} has no published version {version}",
                plan_id=c.data["plan_id"],
                version=c.data["version"],
            ),
        )
    rep = uow.rep(c.data["rep_id"])
    rep.record(Rep.PlanAcknowledged, **_fields(c))
    return rep, c.data["rep_id"]


def dispute_opened(uow: UnitOfWork, c: Command) -> Touched:
    uow.require_known_rep(c.data["rep_id"])
    uow.absent("dispute", c.data["dispute_id"], "data.dispute_id", "dispute")
    deal_id = c.data.get("deal_id")
    if deal_id is not None and c.data["rep_id"] not in uow.deal(deal_id).credited_reps():
        raise RuleViolation(
            "data.deal_id",
            Msg(
                "dispute.deal_not_theirs",
                "deal {deal_id} is not {rep_id}'s: it was never credited to them",
                deal_id=deal_id,
                rep_id=c.data["rep_id"],
            ),
        )
    dispute = Dispute(**_fields(c))
    uow.create(dispute)
    return dispute, c.data["rep_id"]


def _dispute(uow: UnitOfWork, dispute_id: str) -> Dispute:
    dispute = uow.get("dispute", dispute_id)
    if dispute is None:
        raise RuleViolation("data.dispute_id", Msg("dispute.unknown", "unknown dispute {id}", id=dispute_id))
    return dispute


def dispute_commented(uow: UnitOfWork, c: Command) -> Touched:
    dispute = _dispute(uow, c.data["dispute_id"])
    dispute.comment(**_fields(c))
    return dispute, dispute.rep_id


def dispute_resolved(uow: UnitOfWork, c: Command) -> Touched:
    dispute = _dispute(uow, c.data["dispute_id"])
    corrections = c.data["corrections"]
    # The corrections are the events just before the resolution, so the log shows the fix and
    # its reason side by side and a reader finds them without a search.
    if corrections and uow.event_ids[-len(corrections) :] != corrections:
        raise RuleViolation(
            "data.corrections",
            Msg(
                "dispute.corrections_order",
                "the corrections must be the events recorded just before the "
                "resolution, in this same batch, in this order (give each an event_id)",
            ),
        )
    dispute.resolve(**_fields(c))
    return dispute, dispute.rep_id


HANDLERS: dict[str, Callable[[UnitOfWork, Command], Touched]] = {
    "RepOnboarded": rep_onboarded,
    "RepTransferred": rep_transferred,
    "RepOffboarded": rep_offboarded,
    "RegionCreated": region_created,
    "TeamCreated": team_created,
    "RepLevelSet": rep_level_set,
    "TargetSet": target_set,
    "LeadCreated": created("lead", "lead_id", Lead, "lead"),
    "ActivityLogged": created("activity", "activity_id", Activity, "activity"),
    "FollowUpScheduled": created("followup", "followup_id", FollowUp, "follow-up"),
    "FollowUpCompleted": followup_completed,
    "DealOpened": deal_opened,
    "DealWon": deal_command(lambda d, c: d.win(c.data["amount"], c.occurred_at)),
    "DealLost": deal_command(lambda d, c: d.lose(c.data["reason"], c.occurred_at)),
    "DealCreditSplit": deal_credit_split,
    "DealAmountCorrected": deal_command(
        lambda d, c: d.correct_amount(c.data["amount"], c.data["reason"], c.occurred_at)
    ),
    "DealRefunded": deal_command(lambda d, c: d.refund(c.data["amount"], c.data["reason"], c.occurred_at)),
    "EvaluationRecorded": rep_fact("evaluate"),
    "FeedbackGiven": rep_fact("give_feedback"),
    "ImprovementPlanSet": rep_fact("set_improvement_plan"),
    "ImprovementPlanReviewed": rep_fact("review_improvement_plan"),
    "TrainingAssigned": rep_fact("assign_training"),
    "TrainingCompleted": rep_fact("complete_training"),
    "AwardGranted": rep_record("AwardGranted"),
    "RecognitionGranted": rep_record("RecognitionGranted"),
    "IncentivePlanPublished": plan_published,
    "IncentivePlanAssigned": plan_assigned,
    "PeriodClosed": period_closed,
    "PayoutApproved": payout_approved,
    "PayoutAdjusted": payout_adjusted,
    "ActivityLimitReached": created("refusal", "refusal_id", LimitRefusal, "refusal"),
    "PlanAcknowledged": plan_acknowledged,
    "DisputeOpened": dispute_opened,
    "DisputeCommented": dispute_commented,
    "DisputeResolved": dispute_resolved,
    "PersonalDataErased": personal_data_erased,
    "PersonalDataResealed": personal_data_resealed,
}


__all__ = ["HANDLERS", "Touched", "UnitOfWork", "touched_streams", "scope_key"]
