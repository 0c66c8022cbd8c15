"""Typed commands: one per user task ("win a deal", "log an activity"), each recording its event(s)
through `services.recording` — so validation, authority, time and volume bounds and idempotency
stay where they are, and a command answers exactly as `POST /events` would for the same event.

A command is a `CommandSpec` in `REGISTRY`, keyed by its name (`deal.won`). From the spec:
- the HTTP face (api/routers/commands.py) makes one `POST` operation at `spec.path`, its request
  schema derived from the event's model (api/openapi_events.py): the event's fields, minus the
  people fields the token fills in (`policy.PEOPLE_FIELDS`) and the ids the path supplies, plus
  an optional `event_id` (the idempotency key) and `occurred_at` (default: now);
- the command line (api/cli_commands.py) makes `perfledger GROUP ACTION` (`perfledger deal won
  D-1 --amount 18000`), one option per field.

To add a command: append a `CommandSpec` to `SPECS` below (name, event type, path, summary as
a `Msg`, an example body, the path's fields; `key`, the field the answer's `id` is; `generated`,
an id made up when left out). A task whose body is not one event's data brings its own
`body_model` (checked first, each problem named `body.…`) and a `build(spec, data, event_id,
occurred_at) -> envelopes` (a resolution and its corrections, recorded in one batch); a task
that records several events gives `build` alone. Everything else follows: the operation, its
schema and example, the CLI subcommand, the answers and refusals. The service behind it may live
in its own module (`build` is a function of it); the spec is listed here, so that both faces see
it when they are built. A task that writes what no client may record (approving a payout, closing
a period) is not a spec: its own service writes with `system=True`, its route stays its own.

Refusals name the command's own fields: an event's `data.amount` is the body's `body.amount`, a
path id is `path.deal_id` (on the command line, `--amount` and the argument `DEAL_ID`).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from sqlalchemy import Engine

from ledger.config import Settings
from ledger.errors import ConflictError, InvalidBatch
from ledger.idempotency import scope_of
from ledger.messages import Msg, message_of
from ledger.schemas import DATA_MODELS, SYSTEM_TYPES, Problem, pydantic_message
from ledger.store import Ledger, Recorded
from services import recording
from services.policy import PEOPLE_FIELDS, OrgView, User
from services.recording import FactCheck, Refused
from services.target_facts import check_revised

ENVELOPE_FIELDS = ("event_id", "occurred_at")  # every command's own fields, beside its event's


@dataclass(frozen=True)
class Request:
    """A command as asked: its body (the fields) and the ids its path named."""

    body: Mapping[str, Any]
    path: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CommandSpec:
    """One user task: what it is called, the event it records and where it is asked for."""

    name: str
    """`group.action`: the CLI's `perfledger group action`, the answer's `command`."""
    event_type: str
    path: str
    """The HTTP operation's path (`POST`), its `{ids}` taken from `path_fields`."""
    summary: Msg
    example: Mapping[str, Any]
    """A body that works on the README's department (without the path's ids)."""
    path_fields: tuple[str, ...] = ()
    key: str | None = None
    """The field naming what the command is about (the answer's `id`)."""
    generated: str | None = None
    """An id field made up when left out (an activity's id): from the event_id when one is given,
    so that a retry names the same object."""
    prefix: str = ""
    own_rep: bool = False
    """`rep_id` may be left out by a rep's token: it is their own (a rep logging their calls)."""
    required: tuple[str, ...] = ()
    """Fields the event leaves optional that this task needs (a revision's reason)."""
    build: Callable[[CommandSpec, dict[str, Any], str | None, str], list[dict[str, Any]]] | None = None
    """(spec, data, event_id, occurred_at) -> envelopes; default: one envelope of `event_type`."""
    body_model: type[BaseModel] | None = None
    """The body's own model, when it is not the event's data (a resolution with its corrections):
    the body is validated against it first, and `build` turns it into the events."""
    facts: tuple[FactCheck, ...] = ()
    """Rules the events must meet against the projections before recording (a revision needs a
    target to revise: services/target_facts.py), on both faces."""

    @property
    def group(self) -> str:
        return self.name.partition(".")[0]

    @property
    def action(self) -> str:
        return self.name.partition(".")[2]

    @property
    def people_field(self) -> str | None:
        return PEOPLE_FIELDS.get(self.event_type)

    def fields(self) -> dict[str, FieldInfo]:
        """The body's fields from the event: without people (the token) and the path's ids."""
        left_out = {self.people_field, *self.path_fields, "currency"}
        model = self.body_model or DATA_MODELS[self.event_type]
        return {name: info for name, info in model.model_fields.items() if name not in left_out}

    def is_required(self, name: str) -> bool:
        if name == self.generated or (self.own_rep and name == "rep_id"):
            return False
        return name in self.required or self.fields()[name].is_required()


@dataclass(frozen=True)
class CommandProblem(Problem):
    """A problem of a command: its field as the command names it, and the command and event it is of."""

    command: str = ""
    event: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "command": self.command, "event": self.event}


@dataclass(frozen=True)
class RecordedEvent:
    type: str
    event_id: str | None
    position: int
    duplicate: bool


@dataclass(frozen=True)
class Outcome:
    """What a command recorded: the object it is about and each event, with its position."""

    command: str
    id: str | None
    events: list[RecordedEvent]

    def as_dict(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "id": self.id,
            "events": [vars(event) for event in self.events],
        }


# ---------------------------------------------------------------- running a command


def envelopes_of(spec: CommandSpec, request: Request, now: str, scope: str) -> list[dict[str, Any]]:
    """The command's events, or CommandInvalid naming every field of the body that is wrong
    before the event is even validated (an unknown field, a task's required field). `scope`
    (the writer's idempotency scope, whichever of its tokens it uses) keeps a made-up id the same
    for a retry with the same event_id."""
    body = request.body
    if not isinstance(body, Mapping):
        raise InvalidBatch(
            [
                Problem(
                    0,
                    "body",
                    Msg("command.not_object", "send a JSON object with the fields of {command}", command=spec.name),
                )
            ]
        )
    fields = spec.fields()
    problems = [
        Problem(
            0,
            f"body.{key}"[:80],
            Msg(
                "command.unknown_field",
                "unknown field of {command}; it takes: {fields}",
                command=spec.name,
                fields=", ".join([*fields, *ENVELOPE_FIELDS]),
            ),
        )
        for key in sorted(map(str, body))[:20]
        if key not in fields and key not in ENVELOPE_FIELDS
    ]
    problems += [
        Problem(
            0,
            f"body.{name}",
            Msg("command.required", "{command} needs {field}", command=spec.name, field=name),
        )
        for name in spec.required
        if body.get(name) is None
    ]
    if not problems and spec.body_model is not None:
        problems = _body_problems(spec.body_model, {k: v for k, v in body.items() if k in fields})
    if problems:
        raise InvalidBatch(problems)
    event_id = body.get("event_id")
    occurred_at = body.get("occurred_at", now)
    data = {key: value for key, value in body.items() if key in fields}
    data.update(request.path)
    if spec.generated and data.get(spec.generated) is None:
        data[spec.generated] = made_up_id(spec, scope, event_id)
    if spec.build is not None:
        return spec.build(spec, data, event_id, occurred_at)
    envelope = {"type": spec.event_type, "occurred_at": occurred_at, "data": data}
    if event_id is not None:
        envelope["event_id"] = event_id
    return [envelope]


def _body_problems(model: type[BaseModel], body: Mapping[str, Any]) -> list[Problem]:
    try:
        model.model_validate(body)
    except ValidationError as error:
        return [
            Problem(
                0, "body" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e["loc"]), pydantic_message(e)
            )
            for e in error.errors(include_url=False)
        ]
    return []


def made_up_id(spec: CommandSpec, scope: str, event_id: object) -> str:
    if isinstance(event_id, str):
        digest = hashlib.sha256(f"{scope} {spec.name} {event_id}".encode()).hexdigest()[:16]
        return f"{spec.prefix}{digest}"
    return f"{spec.prefix}{uuid.uuid4().hex[:16]}"


def run(
    ledger: Ledger,
    spec: CommandSpec,
    request: Request,
    user: User,
    org: OrgView,
    engine: Engine | None = None,
    settings: Settings | None = None,
) -> Outcome:
    """Record the command for a token's user: the same checks as `POST /events`, in the same order
    (with the projections, `engine` and `settings`, those that read them: a dispute's line)."""
    if spec.own_rep and user.role == "rep" and isinstance(request.body, Mapping) and "rep_id" not in request.body:
        request = Request({**request.body, "rep_id": user.rep_id}, request.path)
    with renamed(spec):
        envelopes = envelopes_of(spec, request, ledger.settings.now().isoformat(), scope_of(user.actor))
    with renamed(spec, envelopes):
        recorded = recording.record_events(ledger, envelopes, user, org, engine, settings, spec.facts)
    return outcome(spec, envelopes, recorded)


def run_as_operator(
    ledger: Ledger,
    spec: CommandSpec,
    request: Request,
    actor: str,
    person: str,
    engine: Engine | None = None,
    settings: Settings | None = None,
) -> Outcome:
    """Record the command from the operator's own tool (the command line): validated by the
    ledger like any batch, with no token to authorise; `person` fills the people field. With the
    projections (`engine`, `settings`), the spec's `facts` are checked first."""
    with renamed(spec):
        envelopes = envelopes_of(spec, request, ledger.settings.now().isoformat(), scope_of(actor))
    if spec.people_field is not None:
        for envelope in envelopes:
            if envelope["type"] == spec.event_type:
                envelope["data"].setdefault(spec.people_field, person)
    with renamed(spec, envelopes):
        recorded = recording.record_batch(ledger, envelopes, actor, engine, settings, spec.facts)
    return outcome(spec, envelopes, recorded)


def outcome(spec: CommandSpec, envelopes: Sequence[dict[str, Any]], recorded: Recorded) -> Outcome:
    events = [
        RecordedEvent(e["type"], e.get("event_id"), position, index in recorded.duplicates)
        for index, (e, position) in enumerate(zip(envelopes, recorded.positions, strict=True))
    ]
    main = next((e for e in envelopes if e["type"] == spec.event_type), envelopes[0])
    return Outcome(spec.name, main["data"].get(spec.key) if spec.key else None, events)


@contextmanager
def renamed(spec: CommandSpec, envelopes: Sequence[dict[str, Any]] = ()) -> Iterator[None]:
    """Re-raise the ledger's refusals with the command's field names (`data.amount` → `body.amount`),
    each naming the command and its event."""
    try:
        yield
    except InvalidBatch as error:
        raise InvalidBatch(_renamed(error.problems, spec, envelopes)) from None
    except Refused as error:
        raise Refused(_renamed(error.problems, spec, envelopes)) from None
    except ConflictError as error:
        raise ConflictError(message_of(error), _renamed(error.problems, spec, envelopes)) from None


def _renamed(problems: list[Problem], spec: CommandSpec, envelopes: Sequence[dict[str, Any]]) -> list[Problem]:
    def event_of(index: int) -> str | None:
        return envelopes[index]["type"] if 0 <= index < len(envelopes) else spec.event_type

    return [
        CommandProblem(p.index, field_name(p.field, spec), p.message, spec.name, event_of(p.index)) for p in problems
    ]


def field_name(event_field: str, spec: CommandSpec) -> str:
    """An event's field as the command names it: `data.deal_id` → `path.deal_id` when the path
    gave it, `data.x` → `body.x`, `occurred_at` → `body.occurred_at`, `type` → `command`."""
    if event_field == "type":
        return "command"
    head, dot, rest = event_field.partition(".")
    if head == "data":
        top = rest.split(".")[0].split("[")[0]
        return f"path.{rest}" if top in spec.path_fields else f"body.{rest}" if dot else "body"
    if head in ENVELOPE_FIELDS:
        return f"body.{event_field}"
    return event_field


# ---------------------------------------------------------------- the registry


SPECS: list[CommandSpec] = [
    # organisation (admin)
    CommandSpec(
        "rep.onboard",
        "RepOnboarded",
        "/reps",
        Msg("command.rep.onboard", "Onboard a rep into a team and a region"),
        {"rep_id": "R-dan", "name": "Dan Wu", "team_id": "T-1", "region": "East"},
        key="rep_id",
    ),
    CommandSpec(
        "rep.transfer",
        "RepTransferred",
        "/reps/{rep_id}/transfer",
        Msg("command.rep.transfer", "Transfer a rep to another team or region"),
        {"team_id": "T-2", "region": "West"},
        path_fields=("rep_id",),
        key="rep_id",
    ),
    CommandSpec(
        "rep.offboard",
        "RepOffboarded",
        "/reps/{rep_id}/offboard",
        Msg("command.rep.offboard", "Offboard a rep who left"),
        {},
        path_fields=("rep_id",),
        key="rep_id",
    ),
    # the hierarchy: regions (admin), teams and levels (admin, the region's director)
    CommandSpec(
        "region.create",
        "RegionCreated",
        "/regions",
        Msg("command.region.create", "Create a region of the company, naming its director for the record"),
        {"region": "North", "name": "North China", "director_id": "D-north"},
        key="region",
    ),
    CommandSpec(
        "team.create",
        "TeamCreated",
        "/teams",
        Msg("command.team.create", "Form a team in a region, naming its manager for the record"),
        {"team_id": "T-9", "name": "Hangzhou", "region": "East", "manager_id": "M-9"},
        key="team_id",
    ),
    CommandSpec(
        "rep.level",
        "RepLevelSet",
        "/reps/{rep_id}/level",
        Msg("command.rep.level", "Set a rep's level (junior, senior, …): targets may be allocated by level"),
        {"level": "senior"},
        path_fields=("rep_id",),
        key="rep_id",
    ),
    # targets
    CommandSpec(
        "target.set",
        "TargetSet",
        "/targets",
        Msg("command.target.set", "Set a target for a rep, a team, a region or the company"),
        {"scope": {"rep": "R-ann"}, "metric": "revenue", "period": "2026-Q2", "value": "120000"},
    ),
    CommandSpec(
        "target.revise",
        "TargetSet",
        "/targets/revisions",
        Msg("command.target.revise", "Revise a target, saying why (its history keeps every value)"),
        {
            "scope": {"rep": "R-ann"},
            "metric": "revenue",
            "period": "2026-Q2",
            "value": "110000",
            "reason": "territory split",
        },
        required=("reason",),
        facts=(check_revised,),
    ),
    # pipeline
    CommandSpec(
        "activity.log",
        "ActivityLogged",
        "/activities",
        Msg("command.activity.log", "Log a call, visit, email, meeting or demo"),
        {"rep_id": "R-ann", "kind": "call", "customer_id": "C-7", "notes": "asked for a quote"},
        key="activity_id",
        generated="activity_id",
        prefix="A-",
        own_rep=True,
    ),
    CommandSpec(
        "followup.schedule",
        "FollowUpScheduled",
        "/followups",
        Msg("command.followup.schedule", "Schedule a follow-up due by a time"),
        {"rep_id": "R-ann", "due_at": "2026-06-10T18:00:00+08:00", "deal_id": "D-1"},
        key="followup_id",
        generated="followup_id",
        prefix="FU-",
        own_rep=True,
    ),
    CommandSpec(
        "followup.complete",
        "FollowUpCompleted",
        "/followups/{followup_id}/complete",
        Msg("command.followup.complete", "Complete a scheduled follow-up"),
        {},
        path_fields=("followup_id",),
        key="followup_id",
    ),
    CommandSpec(
        "lead.record",
        "LeadCreated",
        "/leads",
        Msg("command.lead.record", "Record a lead a rep owns"),
        {"rep_id": "R-ann", "customer_id": "C-7", "source": "trade fair"},
        key="lead_id",
        generated="lead_id",
        prefix="L-",
    ),
    CommandSpec(
        "deal.open",
        "DealOpened",
        "/deals",
        Msg("command.deal.open", "Open a deal with a customer"),
        {"deal_id": "D-88121", "rep_id": "R-ann", "customer_id": "C-7", "expected_amount": "20000.00"},
        key="deal_id",
    ),
    CommandSpec(
        "deal.won",
        "DealWon",
        "/deals/{deal_id}/won",
        Msg("command.deal.won", "Win a deal at the amount signed"),
        {"amount": "18000.00"},
        path_fields=("deal_id",),
        key="deal_id",
    ),
    CommandSpec(
        "deal.lost",
        "DealLost",
        "/deals/{deal_id}/lost",
        Msg("command.deal.lost", "Lose a deal, with the reason"),
        {"reason": "went with a competitor"},
        path_fields=("deal_id",),
        key="deal_id",
    ),
    CommandSpec(
        "deal.correct",
        "DealAmountCorrected",
        "/deals/{deal_id}/correction",
        Msg("command.deal.correct", "Correct a won deal's amount"),
        {"amount": "17500.00", "reason": "discount missed on the order"},
        path_fields=("deal_id",),
        key="deal_id",
    ),
    CommandSpec(
        "deal.refund",
        "DealRefunded",
        "/deals/{deal_id}/refund",
        Msg("command.deal.refund", "Refund money on a won deal"),
        {"amount": "2000.00", "reason": "one unit returned"},
        path_fields=("deal_id",),
        key="deal_id",
    ),
    CommandSpec(
        "deal.split",
        "DealCreditSplit",
        "/deals/{deal_id}/split",
        Msg("command.deal.split", "Split a deal's credit between reps"),
        {"splits": [{"rep_id": "R-ann", "share": "0.6"}, {"rep_id": "R-bob", "share": "0.4"}]},
        path_fields=("deal_id",),
        key="deal_id",
    ),
    # people process
    CommandSpec(
        "evaluation.record",
        "EvaluationRecorded",
        "/evaluations",
        Msg("command.evaluation.record", "Record a rep's evaluation: result and process scores, SWOT"),
        {
            "rep_id": "R-ann",
            "period": "2026-Q2",
            "result_score": 82,
            "process_scores": {"discovery": 75, "follow-up": 88},
            "swot": {"strengths": ["closing"], "weaknesses": ["forecasting"]},
            "summary": "strong quarter",
        },
        key="evaluation_id",
        generated="evaluation_id",
        prefix="E-",
    ),
    CommandSpec(
        "feedback.give",
        "FeedbackGiven",
        "/feedback",
        Msg("command.feedback.give", "Give a rep feedback: recognition, improvement or coaching"),
        {"rep_id": "R-ann", "kind": "recognition", "text": "great demo at C-7"},
        key="feedback_id",
        generated="feedback_id",
        prefix="F-",
    ),
    CommandSpec(
        "improvement.set",
        "ImprovementPlanSet",
        "/improvement-plans",
        Msg("command.improvement.set", "Set an improvement plan: goals, trainings, gaps, review date"),
        {
            "rep_id": "R-bob",
            "goals": ["3 demos a week"],
            "trainings": ["demo skills"],
            "gaps": ["demo"],
            "review_by": "2026-07-31T18:00:00+08:00",
        },
        key="improvement_plan_id",
        generated="improvement_plan_id",
        prefix="IP-",
    ),
    CommandSpec(
        "improvement.review",
        "ImprovementPlanReviewed",
        "/improvement-plans/{improvement_plan_id}/reviews",
        Msg(
            "command.improvement.review",
            "Review an improvement plan: met or missed (final), or extended to a new review date",
        ),
        {"rep_id": "R-bob", "outcome": "extended", "next_review_by": "2026-08-31T18:00:00+08:00", "note": "half way"},
        path_fields=("improvement_plan_id",),
        key="improvement_plan_id",
    ),
    CommandSpec(
        "training.assign",
        "TrainingAssigned",
        "/trainings/assignments",
        Msg("command.training.assign", "Assign a rep a training against a named gap, due by a date"),
        {"rep_id": "R-bob", "training": "demo skills", "gap": "demo", "due_by": "2026-07-15T18:00:00+08:00"},
        key="training_id",
        generated="training_id",
        prefix="TR-",
    ),
    CommandSpec(
        "training.complete",
        "TrainingCompleted",
        "/trainings",
        Msg("command.training.complete", "Record a training a rep completed: an assigned one (training_id) or any"),
        {"rep_id": "R-bob", "training": "demo skills"},
        key="rep_id",
    ),
    # incentives
    CommandSpec(
        "plan.publish",
        "IncentivePlanPublished",
        "/plans",
        Msg("command.plan.publish", "Publish a version of an incentive plan"),
        {
            "plan_id": "std",
            "version": 3,
            "effective_from": "2026-07",
            "rules": {
                "components": [
                    {
                        "id": "base",
                        "kind": "commission",
                        "base": "revenue",
                        "mode": "flat",
                        "tiers": [{"from_attainment": "0", "rate": "0.04"}],
                    }
                ]
            },
        },
        key="plan_id",
    ),
    CommandSpec(
        "plan.assign",
        "IncentivePlanAssigned",
        "/plans/{plan_id}/assign",
        Msg("command.plan.assign", "Assign a plan to a rep, a team, a region or the company"),
        {"scope": {"team": "T-1"}, "from_period": "2026-07"},
        path_fields=("plan_id",),
        key="plan_id",
    ),
    CommandSpec(
        "plan.acknowledge",
        "PlanAcknowledged",
        "/plans/{plan_id}/acknowledge",
        Msg("command.plan.acknowledge", "Sign off a published version of a plan"),
        {"rep_id": "R-ann", "version": 1},
        path_fields=("plan_id",),
        key="plan_id",
        own_rep=True,
    ),
    CommandSpec(
        "award.grant",
        "AwardGranted",
        "/awards",
        Msg("command.award.grant", "Grant a rep a one-off award"),
        {"rep_id": "R-ann", "period": "2026-Q2", "amount": "3000.00", "reason": "top seller of the quarter"},
        key="rep_id",
    ),
    CommandSpec(
        "recognition.grant",
        "RecognitionGranted",
        "/recognitions",
        Msg("command.recognition.grant", "Recognise a rep without money (荣誉证书, 优秀销售)"),
        {"rep_id": "R-ann", "period": "2026-Q2", "title": "优秀销售", "reason": "top seller of the quarter"},
        key="rep_id",
    ),
    # disputes
    CommandSpec(
        "dispute.open",
        "DisputeOpened",
        "/disputes",
        Msg("command.dispute.open", "Open a dispute on a payout"),
        {
            "rep_id": "R-ann",
            "period": "2026-Q1",
            "component": "commission",
            "text": "deal D-1 is missing its bonus",
            "deal_id": "D-1",
        },
        key="dispute_id",
        generated="dispute_id",
        prefix="DS-",
        own_rep=True,
    ),
    CommandSpec(
        "dispute.comment",
        "DisputeCommented",
        "/disputes/{dispute_id}/comments",
        Msg("command.dispute.comment", "Comment on a dispute"),
        {"text": "the order form is attached to D-1"},
        path_fields=("dispute_id",),
        key="dispute_id",
    ),
]
REGISTRY: dict[str, CommandSpec] = {spec.name: spec for spec in SPECS}
assert len(REGISTRY) == len(SPECS) and not {s.event_type for s in SPECS} & SYSTEM_TYPES
