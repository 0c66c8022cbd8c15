"""Aggregates: the consistency boundaries of the ledger and the invariants they enforce.

Each aggregate's stream id is derived from its business id (uuid5), so the same deal always
lands in the same stream and two writers racing on it meet the store's optimistic concurrency.
Every event is a past-tense fact with explicit fields, `occurred_at` (business time) and a
`class_version`, so a later schema can add an `upcast_v1_v2`. Where a stream's first fact and
its later facts share one public type (a target revised, a plan's next version), the classes
differ but `TYPE` names the public type.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from hashlib import sha1
from typing import Any, ClassVar
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from ledger.errors import RuleViolation
from ledger.messages import Msg

_NAMESPACE = uuid5(NAMESPACE_URL, "https://perfledger.invalid/streams")
_NAMESPACE_BYTES = _NAMESPACE.bytes


@lru_cache(maxsize=65536)
def stream_id(kind: str, key: str) -> UUID:
    """The stream of a business object: deterministic, so ids map to streams without a lookup.

    `uuid5(_NAMESPACE, f"{kind}:{key}")`, written out (as the standard library does) with the
    namespace's bytes computed once rather than on every call.
    """
    digest = sha1(_NAMESPACE_BYTES + f"{kind}:{key}".encode()).digest()
    return UUID(bytes=digest[:16], version=5)


def scope_key(scope: dict[str, Any]) -> str:
    """`{"rep": "R-1"}` → `rep:R-1`; `{"company": true}` → `company`."""
    ((kind, value),) = scope.items()
    return "company" if kind == "company" else f"{kind}:{value}"


class Created(Aggregate.Created):
    class_version: ClassVar[int] = 1
    occurred_at: datetime


class Happened(Aggregate.Event):
    class_version: ClassVar[int] = 1
    occurred_at: datetime


def public_type(event_class: type) -> str:
    return getattr(event_class, "TYPE", event_class.__name__)


class Ledgered(Aggregate):
    """Base of the ledger's aggregates: `record(Event, **fields)` appends one fact."""

    KIND: ClassVar[str]

    def record(self, event_class: type[Happened], **fields: Any) -> None:
        self.trigger_event(event_class, **fields)


# ---------------------------------------------------------------- organisation and people


class PlanState:
    """An improvement plan as its rep's record holds it: when set, its review date, its status."""

    def __init__(self, set_at: datetime, review_by: datetime):
        self.set_at = set_at
        self.review_by = review_by
        self.status = "open"  # open | met | missed
        self.reviewed_at: datetime | None = None


class TrainingState:
    """A training assignment as its rep's record holds it: when assigned, when completed."""

    def __init__(self, assigned_at: datetime):
        self.assigned_at = assigned_at
        self.completed_at: datetime | None = None


# What a date may not precede, as the refusals name it.
_EARLIEST = {
    "plan": Msg("date.plan", "the plan"),
    "review": Msg("date.review", "the review"),
    "assignment": Msg("date.assignment", "the assignment"),
}


def _not_before(moment: datetime, earliest: datetime, field: str, what: str) -> None:
    if moment < earliest:
        raise RuleViolation(
            field,
            Msg(
                "date.before",
                "{moment} is before {what} ({earliest})",
                moment=moment.isoformat(),
                what=_EARLIEST[what],
                earliest=earliest.isoformat(),
            ),
        )


class Rep(Ledgered):
    """A sales rep: their place in the org and their people-process record (all rare facts)."""

    KIND = "rep"

    class RepOnboarded(Created):
        rep_id: str
        name: str
        team_id: str
        region: str
        manager_id: str | None

    def __init__(
        self, rep_id: str, name: str, team_id: str, region: str, manager_id: str | None, occurred_at: datetime
    ):
        self.rep_id = rep_id
        self.team_id = team_id
        self.region = region
        self.onboarded_at = occurred_at
        self.offboarded_at: datetime | None = None
        self.evaluations: set[str] = set()
        self.feedback: set[str] = set()
        self.improvement_plans: dict[str, PlanState] = {}  # by id: when set, its review date, its status
        self.trainings: dict[str, TrainingState] = {}  # assignments by training_id
        self.erased: set[str] = set()  # the kinds of personal data erased (ledger.personal.CATEGORIES)

    @staticmethod
    def create_id(rep_id: str) -> UUID:
        return stream_id("rep", rep_id)

    class RepTransferred(Happened):
        rep_id: str
        team_id: str | None
        region: str | None

        def apply(self, rep: Rep) -> None:
            rep.team_id = self.team_id or rep.team_id
            rep.region = self.region or rep.region

    class RepOffboarded(Happened):
        rep_id: str

        def apply(self, rep: Rep) -> None:
            rep.offboarded_at = self.occurred_at

    class EvaluationRecorded(Happened):
        evaluation_id: str
        rep_id: str
        period: str
        evaluator_id: str
        result_score: int
        process_scores: dict
        swot: dict | None
        summary: str | None

        def apply(self, rep: Rep) -> None:
            rep.evaluations.add(self.evaluation_id)

    class FeedbackGiven(Happened):
        feedback_id: str
        rep_id: str
        author_id: str
        kind: str
        text: str
        evaluation_id: str | None

        def apply(self, rep: Rep) -> None:
            rep.feedback.add(self.feedback_id)

    class ImprovementPlanSet(Happened):
        class_version: ClassVar[int] = 2
        improvement_plan_id: str
        rep_id: str
        goals: list
        trainings: list
        review_by: datetime
        set_by: str | None
        gaps: list

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """Version 1 knew neither who set a plan nor the gaps it addresses."""
            state["set_by"] = None
            state["gaps"] = []

        def apply(self, rep: Rep) -> None:
            rep.improvement_plans[self.improvement_plan_id] = PlanState(self.occurred_at, self.review_by)

    class ImprovementPlanReviewed(Happened):
        improvement_plan_id: str
        rep_id: str
        reviewer_id: str
        outcome: str
        note: str | None
        next_review_by: datetime | None

        def apply(self, rep: Rep) -> None:
            plan = rep.improvement_plans[self.improvement_plan_id]
            if self.outcome == "extended" and self.next_review_by is not None:
                plan.review_by = self.next_review_by
            else:
                plan.status = self.outcome
                plan.reviewed_at = self.occurred_at

    class TrainingAssigned(Happened):
        training_id: str
        rep_id: str
        training: str
        gap: str
        due_by: datetime
        assigned_by: str
        improvement_plan_id: str | None

        def apply(self, rep: Rep) -> None:
            rep.trainings[self.training_id] = TrainingState(self.occurred_at)

    class TrainingCompleted(Happened):
        class_version: ClassVar[int] = 2
        rep_id: str
        training: str | None
        training_id: str | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """Version 1 completions named a training alone, never an assignment."""
            state["training_id"] = None

        def apply(self, rep: Rep) -> None:
            if self.training_id is not None:
                rep.trainings[self.training_id].completed_at = self.occurred_at

    class AwardGranted(Happened):
        rep_id: str
        period: str
        amount: Decimal
        reason: str

    class RecognitionGranted(Happened):
        rep_id: str
        period: str
        title: str
        reason: str | None

    class PersonalDataErased(Happened):
        rep_id: str
        requested_by: str
        ground: str
        categories: list

        def apply(self, rep: Rep) -> None:
            rep.erased.update(self.categories)

    class PlanAcknowledged(Happened):
        rep_id: str
        plan_id: str
        version: int

    class RepLevelSet(Happened):
        rep_id: str
        level: str

    def transfer(self, team_id: str | None, region: str | None, occurred_at: datetime) -> None:
        self._require_active(occurred_at)
        if team_id is None and region is None:
            raise RuleViolation("data", Msg("transfer.empty", "a transfer names a new team_id, a new region, or both"))
        self.record(Rep.RepTransferred, rep_id=self.rep_id, team_id=team_id, region=region, occurred_at=occurred_at)

    def offboard(self, occurred_at: datetime) -> None:
        if self.offboarded_at is not None:
            raise RuleViolation(
                "data.rep_id",
                Msg(
                    "rep.offboarded_twice",
                    "rep {rep_id} was already offboarded on {when}",
                    rep_id=self.rep_id,
                    when=self.offboarded_at.isoformat(),
                ),
            )
        if occurred_at < self.onboarded_at:
            raise RuleViolation(
                "occurred_at",
                Msg(
                    "rep.onboarded_later",
                    "rep {rep_id} was onboarded later ({when})",
                    rep_id=self.rep_id,
                    when=self.onboarded_at.isoformat(),
                ),
            )
        self.record(Rep.RepOffboarded, rep_id=self.rep_id, occurred_at=occurred_at)

    def evaluate(self, **fields: Any) -> None:
        if fields["evaluation_id"] in self.evaluations:
            raise RuleViolation(
                "data.evaluation_id",
                Msg("evaluation.exists", "evaluation {id} is already recorded", id=fields["evaluation_id"]),
            )
        self.record(Rep.EvaluationRecorded, **fields)

    def give_feedback(self, **fields: Any) -> None:
        if fields["feedback_id"] in self.feedback:
            raise RuleViolation(
                "data.feedback_id",
                Msg("feedback.exists", "feedback {id} is already recorded", id=fields["feedback_id"]),
            )
        evaluation_id = fields.get("evaluation_id")
        if evaluation_id is not None and evaluation_id not in self.evaluations:
            raise RuleViolation(
                "data.evaluation_id",
                Msg(
                    "evaluation.unknown",
                    "rep {rep_id} has no evaluation {id}",
                    rep_id=self.rep_id,
                    id=evaluation_id,
                ),
            )
        self.record(Rep.FeedbackGiven, **fields)

    def set_improvement_plan(self, **fields: Any) -> None:
        if fields["improvement_plan_id"] in self.improvement_plans:
            raise RuleViolation(
                "data.improvement_plan_id",
                Msg(
                    "improvement_plan.exists", "improvement plan {id} already exists", id=fields["improvement_plan_id"]
                ),
            )
        _not_before(fields["review_by"], fields["occurred_at"], "data.review_by", "plan")
        self.record(Rep.ImprovementPlanSet, **fields)

    def review_improvement_plan(self, **fields: Any) -> None:
        plan = self._plan(fields["improvement_plan_id"], "data.improvement_plan_id")
        if plan.status != "open":
            raise RuleViolation(
                "data.improvement_plan_id",
                Msg(
                    "improvement_plan.reviewed",
                    "improvement plan {id} was already reviewed as {status} on {when}: a final review stands",
                    id=fields["improvement_plan_id"],
                    status=plan.status,
                    when=plan.reviewed_at.isoformat() if plan.reviewed_at else "",
                ),
            )
        _not_before(fields["occurred_at"], plan.set_at, "occurred_at", "plan")
        next_review = fields.get("next_review_by")
        if fields["outcome"] == "extended":
            if next_review is None:
                raise RuleViolation(
                    "data.next_review_by",
                    Msg("improvement_plan.extend_date", "an extended plan needs its new review date (next_review_by)"),
                )
            _not_before(next_review, fields["occurred_at"], "data.next_review_by", "review")
        elif next_review is not None:
            raise RuleViolation(
                "data.next_review_by",
                Msg(
                    "improvement_plan.final_date",
                    "a plan reviewed as {outcome} is closed: leave next_review_by out",
                    outcome=fields["outcome"],
                ),
            )
        self.record(Rep.ImprovementPlanReviewed, **fields)

    def assign_training(self, **fields: Any) -> None:
        if fields["training_id"] in self.trainings:
            raise RuleViolation(
                "data.training_id",
                Msg("training.exists", "training {id} is already assigned", id=fields["training_id"]),
            )
        if fields.get("improvement_plan_id") is not None:
            self._plan(fields["improvement_plan_id"], "data.improvement_plan_id")
        _not_before(fields["due_by"], fields["occurred_at"], "data.due_by", "assignment")
        self.record(Rep.TrainingAssigned, **fields)

    def complete_training(self, **fields: Any) -> None:
        training_id = fields.get("training_id")
        if training_id is None:
            if fields.get("training") is None:
                raise RuleViolation(
                    "data.training",
                    Msg("training.unnamed", "name the training, or the assignment it completes (training_id)"),
                )
        else:
            assigned = self.trainings.get(training_id)
            if assigned is None:
                raise RuleViolation(
                    "data.training_id",
                    Msg(
                        "training.unknown",
                        "rep {rep_id} has no training {id}: record TrainingAssigned first",
                        rep_id=self.rep_id,
                        id=training_id,
                    ),
                )
            if assigned.completed_at is not None:
                raise RuleViolation(
                    "data.training_id",
                    Msg(
                        "training.completed",
                        "training {id} was already completed on {when}",
                        id=training_id,
                        when=assigned.completed_at.isoformat(),
                    ),
                )
            _not_before(fields["occurred_at"], assigned.assigned_at, "occurred_at", "assignment")
        self.record(Rep.TrainingCompleted, **fields)

    def _plan(self, plan_id: str, field: str) -> PlanState:
        plan = self.improvement_plans.get(plan_id)
        if plan is None:
            raise RuleViolation(
                field,
                Msg(
                    "improvement_plan.unknown",
                    "rep {rep_id} has no improvement plan {id}: record ImprovementPlanSet first",
                    rep_id=self.rep_id,
                    id=plan_id,
                ),
            )
        return plan

    def _require_active(self, occurred_at: datetime) -> None:
        if self.offboarded_at is not None and occurred_at > self.offboarded_at:
            raise RuleViolation(
                "occurred_at",
                Msg(
                    "rep.offboarded",
                    "rep {rep_id} was offboarded on {when}",
                    rep_id=self.rep_id,
                    when=self.offboarded_at.isoformat(),
                ),
            )


# ---------------------------------------------------------------- pipeline


# A deal's states and the actions on it, as the refusals name them.
DEAL_STATES = {
    "open": Msg("deal.state.open", "still open"),
    "won": Msg("deal.state.won", "won"),
    "lost": Msg("deal.state.lost", "lost"),
    "corrected": Msg("deal.state.corrected", "corrected"),
    "refunded": Msg("deal.state.refunded", "refunded"),
}


class Deal(Ledgered):
    """A deal's life: opened once, won or lost once (never both), amounts and refunds bounded."""

    KIND = "deal"

    class DealOpened(Created):
        deal_id: str
        rep_id: str
        customer_id: str
        lead_id: str | None
        expected_amount: Decimal | None

    def __init__(
        self,
        deal_id: str,
        rep_id: str,
        customer_id: str,
        lead_id: str | None,
        expected_amount: Decimal | None,
        occurred_at: datetime,
    ):
        self.deal_id = deal_id
        self.rep_id = rep_id
        self.opened_at = occurred_at
        self.outcome: str | None = None
        self.won_amount = Decimal(0)
        self.refunded = Decimal(0)
        self.credited = {rep_id}  # every rep the deal is or was credited to (its owner, its splits)

    @staticmethod
    def create_id(deal_id: str) -> UUID:
        return stream_id("deal", deal_id)

    class DealWon(Happened):
        deal_id: str
        amount: Decimal

        def apply(self, deal: Deal) -> None:
            deal.outcome = "won"
            deal.won_amount = self.amount

    class DealLost(Happened):
        deal_id: str
        reason: str | None

        def apply(self, deal: Deal) -> None:
            deal.outcome = "lost"

    class DealCreditSplit(Happened):
        deal_id: str
        splits: list

        def apply(self, deal: Deal) -> None:
            deal.credited = {*deal.credited_reps(), *(split["rep_id"] for split in self.splits)}

    def credited_reps(self) -> set[str]:
        """The reps the deal is or was credited to: its owner and every split's reps."""
        return getattr(self, "credited", {self.rep_id})

    class DealAmountCorrected(Happened):
        deal_id: str
        amount: Decimal
        reason: str

        def apply(self, deal: Deal) -> None:
            deal.won_amount = self.amount

    class DealRefunded(Happened):
        deal_id: str
        amount: Decimal
        reason: str | None

        def apply(self, deal: Deal) -> None:
            deal.refunded += self.amount

    def win(self, amount: Decimal, occurred_at: datetime) -> None:
        self._require_open("won")
        if occurred_at < self.opened_at:
            raise RuleViolation(
                "occurred_at",
                Msg(
                    "deal.opened_later",
                    "deal {deal_id} was opened later ({when})",
                    deal_id=self.deal_id,
                    when=self.opened_at.isoformat(),
                ),
            )
        self.record(Deal.DealWon, deal_id=self.deal_id, amount=amount, occurred_at=occurred_at)

    def lose(self, reason: str | None, occurred_at: datetime) -> None:
        self._require_open("lost")
        self.record(Deal.DealLost, deal_id=self.deal_id, reason=reason, occurred_at=occurred_at)

    def split(self, splits: list[dict], occurred_at: datetime) -> None:
        self.record(Deal.DealCreditSplit, deal_id=self.deal_id, splits=splits, occurred_at=occurred_at)

    def correct_amount(self, amount: Decimal, reason: str, occurred_at: datetime) -> None:
        self._require_won("corrected")
        if amount < self.refunded:
            raise RuleViolation(
                "data.amount",
                Msg(
                    "deal.correction_below_refunds",
                    "deal {deal_id} has {refunded} refunded already; the corrected amount cannot be lower",
                    deal_id=self.deal_id,
                    refunded=self.refunded,
                ),
            )
        self.record(
            Deal.DealAmountCorrected, deal_id=self.deal_id, amount=amount, reason=reason, occurred_at=occurred_at
        )

    def refund(self, amount: Decimal, reason: str | None, occurred_at: datetime) -> None:
        self._require_won("refunded")
        left = self.won_amount - self.refunded
        if amount > left:
            raise RuleViolation(
                "data.amount",
                Msg(
                    "refund.too_large",
                    "refund {amount} exceeds what is left to refund on deal {deal_id} ({left} of {won} won)",
                    amount=amount,
                    deal_id=self.deal_id,
                    left=left,
                    won=self.won_amount,
                ),
            )
        self.record(Deal.DealRefunded, deal_id=self.deal_id, amount=amount, reason=reason, occurred_at=occurred_at)

    def _require_open(self, what: str) -> None:
        if self.outcome is not None:
            raise RuleViolation(
                "data.deal_id",
                Msg(
                    "deal.closed",
                    "deal {deal_id} is already {outcome}; it cannot be {what} too",
                    deal_id=self.deal_id,
                    outcome=DEAL_STATES[self.outcome],
                    what=DEAL_STATES[what],
                ),
            )

    def _require_won(self, what: str) -> None:
        if self.outcome != "won":
            raise RuleViolation(
                "data.deal_id",
                Msg(
                    "deal.not_won",
                    "deal {deal_id} is {state}; only a won deal can be {what}",
                    deal_id=self.deal_id,
                    state=DEAL_STATES[self.outcome or "open"],
                    what=DEAL_STATES[what],
                ),
            )


class Lead(Ledgered):
    KIND = "lead"

    class LeadCreated(Created):
        lead_id: str
        rep_id: str
        customer_id: str | None
        source: str | None

    def __init__(self, lead_id: str, rep_id: str, customer_id: str | None, source: str | None, occurred_at: datetime):
        self.lead_id = lead_id
        self.rep_id = rep_id

    @staticmethod
    def create_id(lead_id: str) -> UUID:
        return stream_id("lead", lead_id)


class Activity(Ledgered):
    KIND = "activity"

    class ActivityLogged(Created):
        activity_id: str
        rep_id: str
        kind: str
        customer_id: str | None
        lead_id: str | None
        deal_id: str | None
        replied: bool | None
        notes: str | None

    def __init__(
        self,
        activity_id: str,
        rep_id: str,
        kind: str,
        customer_id: str | None,
        lead_id: str | None,
        deal_id: str | None,
        replied: bool | None,
        notes: str | None,
        occurred_at: datetime,
    ):
        self.activity_id = activity_id

    @staticmethod
    def create_id(activity_id: str) -> UUID:
        return stream_id("activity", activity_id)


class LimitRefusal(Ledgered):
    """A refused burst of self-reported activities, kept for the rep's manager to see."""

    KIND = "refusal"

    class ActivityLimitReached(Created):
        refusal_id: str
        rep_id: str
        attempted: int
        limit: int
        within: str

    def __init__(self, refusal_id: str, rep_id: str, attempted: int, limit: int, within: str, occurred_at: datetime):
        self.refusal_id = refusal_id

    @staticmethod
    def create_id(refusal_id: str) -> UUID:
        return stream_id("refusal", refusal_id)


class FollowUp(Ledgered):
    KIND = "followup"

    class FollowUpScheduled(Created):
        followup_id: str
        rep_id: str
        due_at: datetime
        deal_id: str | None
        lead_id: str | None

    def __init__(
        self,
        followup_id: str,
        rep_id: str,
        due_at: datetime,
        deal_id: str | None,
        lead_id: str | None,
        occurred_at: datetime,
    ):
        self.followup_id = followup_id
        self.rep_id = rep_id
        self.completed = False

    @staticmethod
    def create_id(followup_id: str) -> UUID:
        return stream_id("followup", followup_id)

    class FollowUpCompleted(Happened):
        followup_id: str

        def apply(self, followup: FollowUp) -> None:
            followup.completed = True

    def complete(self, occurred_at: datetime) -> None:
        if self.completed:
            raise RuleViolation(
                "data.followup_id",
                Msg("followup.completed", "follow-up {id} is already completed", id=self.followup_id),
            )
        self.record(FollowUp.FollowUpCompleted, followup_id=self.followup_id, occurred_at=occurred_at)


# ---------------------------------------------------------------- targets and plans


class Region(Ledgered):
    """A region of the company, created once."""

    KIND = "region"

    class RegionCreated(Created):
        region: str
        name: str
        director_id: str | None

    def __init__(self, region: str, name: str, director_id: str | None, occurred_at: datetime):
        self.region = region

    @staticmethod
    def create_id(region: str) -> UUID:
        return stream_id("region", region)


class Team(Ledgered):
    """A team, formed once in a region; its reps are in its region."""

    KIND = "team"

    class TeamCreated(Created):
        team_id: str
        name: str
        region: str
        manager_id: str | None

    def __init__(self, team_id: str, name: str, region: str, manager_id: str | None, occurred_at: datetime):
        self.team_id = team_id
        self.region = region
        self.created_at = occurred_at

    @staticmethod
    def create_id(team_id: str) -> UUID:
        return stream_id("team", team_id)


def _no_allocation(state: dict) -> None:
    """Version 1 of a target had no `allocation_id`: it was set by hand."""
    state["allocation_id"] = None


class Target(Ledgered):
    """One target (scope, metric, period); a later TargetSet revises it and the history stays."""

    KIND = "target"

    class TargetSet(Created):
        class_version: ClassVar[int] = 2
        scope: dict
        metric: str
        period: str
        value: Decimal
        reason: str | None
        allocation_id: str | None

        @staticmethod
        def upcast_v1_v2(state: dict) -> None:
            _no_allocation(state)

    def __init__(
        self,
        scope: dict,
        metric: str,
        period: str,
        value: Decimal,
        reason: str | None,
        occurred_at: datetime,
        allocation_id: str | None = None,
    ):
        self.value = value

    @staticmethod
    def create_id(scope: dict, metric: str, period: str) -> UUID:
        return stream_id("target", f"{scope_key(scope)}|{metric}|{period}")

    class TargetRevised(Happened):
        TYPE: ClassVar[str] = "TargetSet"
        class_version: ClassVar[int] = 2
        scope: dict
        metric: str
        period: str
        value: Decimal
        reason: str | None
        allocation_id: str | None

        @staticmethod
        def upcast_v1_v2(state: dict) -> None:
            _no_allocation(state)

        def apply(self, target: Target) -> None:
            target.value = self.value


class IncentivePlan(Ledgered):
    """A plan's published versions; each version number is higher than the last."""

    KIND = "plan"

    class IncentivePlanPublished(Created):
        plan_id: str
        version: int
        effective_from: str
        rules: dict

    def __init__(self, plan_id: str, version: int, effective_from: str, rules: dict, occurred_at: datetime):
        self.plan_id = plan_id
        self.latest_version = version
        self.versions = {version}

    @staticmethod
    def create_id(plan_id: str) -> UUID:
        return stream_id("plan", plan_id)

    class IncentivePlanRepublished(Happened):
        TYPE: ClassVar[str] = "IncentivePlanPublished"
        plan_id: str
        version: int
        effective_from: str
        rules: dict

        def apply(self, plan: IncentivePlan) -> None:
            plan.latest_version = self.version
            plan.versions.add(self.version)

    def publish(self, version: int, effective_from: str, rules: dict, occurred_at: datetime) -> None:
        if version <= self.latest_version:
            raise RuleViolation(
                "data.version",
                Msg(
                    "plan.version_not_higher",
                    "plan {plan_id} is at version {version}; a new version must be higher",
                    plan_id=self.plan_id,
                    version=self.latest_version,
                ),
            )
        self.record(
            IncentivePlan.IncentivePlanRepublished,
            plan_id=self.plan_id,
            version=version,
            effective_from=effective_from,
            rules=rules,
            occurred_at=occurred_at,
        )


class PlanAssignment(Ledgered):
    """Which plan a scope is on, from which period; reassignments append."""

    KIND = "assignment"

    class IncentivePlanAssigned(Created):
        scope: dict
        plan_id: str
        from_period: str

    def __init__(self, scope: dict, plan_id: str, from_period: str, occurred_at: datetime):
        pass

    @staticmethod
    def create_id(scope: dict) -> UUID:
        return stream_id("assignment", scope_key(scope))

    class IncentivePlanReassigned(Happened):
        TYPE: ClassVar[str] = "IncentivePlanAssigned"
        scope: dict
        plan_id: str
        from_period: str


class PeriodLock(Ledgered):
    """A closed period; it carries the chain head at closing so the log before it is sealed."""

    KIND = "period"

    class PeriodClosed(Created):
        period: str
        head: str | None
        head_position: int | None

    def __init__(self, period: str, head: str | None, head_position: int | None, occurred_at: datetime):
        self.period = period

    @staticmethod
    def create_id(period: str) -> UUID:
        return stream_id("period", period)


class Payout(Ledgered):
    """A rep's payout for a period: approved once, then only adjusted."""

    KIND = "payout"

    class PayoutApproved(Created):
        rep_id: str
        period: str
        amount: Decimal
        plan_id: str
        plan_version: int
        digest: str
        known_at: datetime | None

    def __init__(
        self,
        rep_id: str,
        period: str,
        amount: Decimal,
        plan_id: str,
        plan_version: int,
        digest: str,
        known_at: datetime | None,
        occurred_at: datetime,
    ):
        self.amount = amount
        self.digest = digest

    @staticmethod
    def create_id(rep_id: str, period: str) -> UUID:
        return stream_id("payout", f"{rep_id}|{period}")

    class PayoutAdjusted(Happened):
        rep_id: str
        period: str
        amount: Decimal
        reason: str
        replay_id: str | None

        def apply(self, payout: Payout) -> None:
            payout.amount += self.amount


class AdjustedPayout(Ledgered):
    """The payout stream of a rep whose period closed before any approval: adjustments only."""

    KIND = "payout"

    class PayoutFirstAdjusted(Created):
        TYPE: ClassVar[str] = "PayoutAdjusted"
        rep_id: str
        period: str
        amount: Decimal
        reason: str
        replay_id: str | None

    def __init__(
        self, rep_id: str, period: str, amount: Decimal, reason: str, replay_id: str | None, occurred_at: datetime
    ):
        self.amount = amount
        self.digest = None

    @staticmethod
    def create_id(rep_id: str, period: str) -> UUID:
        return Payout.create_id(rep_id, period)


class Resealing(Ledgered):
    """One run of the one-off reseal of personal fields recorded in clear (`ledger/resealing.py`)."""

    KIND = "reseal"

    class PersonalDataResealed(Created):
        run: str
        count: int
        digest: str

    def __init__(self, run: str, count: int, digest: str, occurred_at: datetime):
        self.run = run

    @staticmethod
    def create_id(run: str) -> UUID:
        return stream_id("reseal", run)


class Dispute(Ledgered):
    """A rep's inquiry on a payout line: opened, commented, resolved once (accepted or rejected)."""

    KIND = "dispute"

    class DisputeOpened(Created):
        dispute_id: str
        rep_id: str
        period: str
        text: str
        component: str | None
        deal_id: str | None
        events: list

    def __init__(
        self,
        dispute_id: str,
        rep_id: str,
        period: str,
        text: str,
        component: str | None,
        deal_id: str | None,
        events: list,
        occurred_at: datetime,
    ):
        self.dispute_id = dispute_id
        self.rep_id = rep_id
        self.outcome: str | None = None

    @staticmethod
    def create_id(dispute_id: str) -> UUID:
        return stream_id("dispute", dispute_id)

    class DisputeCommented(Happened):
        dispute_id: str
        author_id: str
        text: str

    class DisputeResolved(Happened):
        dispute_id: str
        resolver_id: str
        outcome: str
        reason: str
        corrections: list

        def apply(self, dispute: Dispute) -> None:
            dispute.outcome = self.outcome

    def comment(self, **fields: Any) -> None:
        self.record(Dispute.DisputeCommented, **fields)

    def resolve(self, **fields: Any) -> None:
        if self.outcome is not None:
            raise RuleViolation(
                "data.dispute_id",
                Msg(
                    "dispute.resolved",
                    "dispute {id} is already resolved ({outcome})",
                    id=self.dispute_id,
                    outcome=self.outcome,
                ),
            )
        if fields["outcome"] == "rejected" and fields["corrections"]:
            raise RuleViolation(
                "data.corrections",
                Msg("dispute.rejected_with_corrections", "a rejected dispute changes nothing: it names no corrections"),
            )
        self.record(Dispute.DisputeResolved, **fields)


AGGREGATES: tuple[type[Ledgered], ...] = (
    Rep,
    Deal,
    Lead,
    Activity,
    FollowUp,
    Target,
    IncentivePlan,
    PlanAssignment,
    PeriodLock,
    Payout,
    AdjustedPayout,
    Resealing,
    Dispute,
)
