"""Who may do what: the whole role policy, as pure functions of a user and a view of the org.

Nothing here touches a database or the web: a route asks, a function answers (or names every
refusal), and tests/test_auth_policy.py checks the table below case by case.

| role     | reads                                   | records (POST /events)                               | other        |
|----------|-----------------------------------------|------------------------------------------------------|--------------|
| admin    | everything                              | every client event type                              | everything   |
| finance  | everything                              | TargetSet, AwardGranted, RecognitionGranted,         | payouts,     |
|          |                                         | IncentivePlanPublished,                              |              |
|          |                                         | IncentivePlanAssigned (any scope); DisputeCommented, | approvals,   |
|          |                                         | DisputeResolved                                      | replays      |
| auditor  | everything                              | nothing                                              | verify,      |
|          |                                         |                                                      | replays      |
| manager  | reps now in their team, and the team    | pipeline and people events of reps now in their team | –            |
|          | scope itself                            | (leads, activities, follow-ups, deals, evaluations,  |              |
|          |                                         | feedback, improvement plans, trainings), TargetSet   |              |
|          |                                         | for such a rep or for their own team; DisputeOpened, |              |
|          |                                         | DisputeCommented, DisputeResolved for such a rep     |              |
| director | reps now in their region, its teams     | what a manager records, for every rep and team of    | quadrants of |
| (region) | (created there, or whose reps are all   | their region; TargetSet for the region itself;       | its teams    |
|          | there now) and the region scope itself  | TeamCreated in it; RepLevelSet for its reps          |              |
| rep      | their own data                          | ActivityLogged, FollowUpScheduled, FollowUpCompleted | –            |
|          |                                         | (their call log), PlanAcknowledged, DisputeOpened,   |              |
|          |                                         | DisputeCommented: for themselves                     |              |

A comment on or resolution of a dispute concerns the dispute's rep: known when the dispute was
opened earlier in the same batch, or from the org view's `dispute_rep` (a view without it leaves
only admin and finance to comment on earlier disputes).

Reads beyond the log, each answered 403 for a role that never reads that kind of thing and 404
for an object out of reach:

| endpoint                                    | admin | finance | auditor | manager             | director               | rep        |
|---------------------------------------------|-------|---------|---------|---------------------|------------------------|------------|
| GET /kpis, /targets ?scope=rep:ID, team:ID  | all   | all     | all     | own team, its reps  | its region's teams,reps| rep:own    |
| (and /kpis/forecast, /kpis/off-track)       |       |         |         |                     |                        |            |
| GET /kpis, /targets ?scope=region:NAME      | all   | all     | all     | 403                 | own region (else 404)  | 403        |
| GET /kpis, /targets ?scope=company          | all   | all     | all     | 403                 | 403                    | 403        |
| GET /kpis/quadrants (?region=NAME: teams)   | yes   | yes     | yes     | 403                 | own region's teams     | 403        |
| GET /reps/{id}/history, /payouts/{id}/…,    | all   | all     | all     | reps now in team    | reps now in region     | themselves |
| GET /reps/{id}/coaching                     |       |         |         |                     |                        |            |
| GET /teams/{id}/coaching                    | all   | all     | all     | own team            | its region's teams     | 404        |
| GET /payouts (filtered to those readable)   | all   | all     | all     | reps now in team    | reps now in region     | themselves |
| POST /targets/allocations                   | yes   | yes     | 403     | own team → its reps | own region and below   | 403        |
| POST /payouts/…/approve, /payouts/approve,  | yes   | yes     | 403     | 403                 | 403                    | 403        |
| /periods/…/close, POST /replays/adjustments |       |         |         |                     |                        |            |
| POST /disputes/{id}/resolve                 | yes   | yes     | 403     | own team's disputes | own region's disputes  | 403        |
| POST /replays (writes nothing)              | yes   | yes     | yes     | 403                 | 403                    | 403        |
| GET /audit/verify                           | yes   | yes     | yes     | 403                 | 403                    | 403        |
| GET /audit/rebuild                          | yes   | 403     | yes     | 403                 | 403                    | 403        |

A director's region is the token's (`token create --role director --region East`). Another
region is answered 404, as if it did not exist (like another team to a manager); the company
is 403: its figures are every region's, a kind of data a director never reads (a filtered
"company" that is really their region would be a second name for `region:NAME`, and a
misleading one).

Beyond its reach (another team's rep or team, another rep): 404, as if it did not exist.

Org changes (RepOnboarded/Transferred/Offboarded) are admin only: they move data between
managers. RegionCreated is admin only; TeamCreated admin or the region's director. An event that
concerns no rep (a plan, a company target) is admin or finance only; a region target also its
director's. A manager's "team" is the team each rep is in *now* (`OrgView.team_of`); a rep
transferred away takes their history with them. Someone else's rep is answered as if it did not
exist (NotVisible → 404), so ids cannot be probed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ledger.idempotency import principal_of
from ledger.messages import Msg
from ledger.schemas import DATA_MODELS, SYSTEM_TYPES, Problem

ROLES = ("admin", "manager", "director", "rep", "finance", "auditor")
READS_EVERYTHING = frozenset({"admin", "finance", "auditor"})
BOUND_ROLES = ("rep", "manager", "director")  # tokens bound to a rep, a team, a region


@dataclass(frozen=True)
class User:
    """Who is calling: the role of their token and what it is bound to."""

    role: str
    rep_id: str | None = None
    team_id: str | None = None
    token_id: str = ""
    region: str | None = None  # a director's region

    @property
    def person(self) -> str:
        """Who this caller is inside an event (`author_id`, …): a rep, a team or a region by its
        id; an admin, finance or auditor token by its role alone (the entry's actor names the token)."""
        if self.role in BOUND_ROLES:
            return f"{self.role}:{self.rep_id or self.team_id or self.region}"
        return self.role

    @property
    def actor(self) -> str:
        """How the ledger records this caller, naming the token that wrote: `rep:R-1:tok_ab12…`,
        `manager:T-1:tok_cd34…`, `director:East:tok_…`, `admin:tok_ef56…`
        (ledger.idempotency.principal_of drops it)."""
        bound = self.rep_id or self.team_id or self.region
        if bound is None:
            return f"{self.role}:{self.token_id}"
        return f"{self.role}:{bound}:{self.token_id}" if self.token_id else f"{self.role}:{bound}"


class OrgView(Protocol):
    """What the policy needs to know about the org, as of now."""

    def team_of(self, rep_id: str) -> str | None: ...
    def knows(self, kind: str, key: str) -> bool: ...  # a rep ever onboarded, a team or region ever joined
    def reps_in_team(self, team_id: str) -> frozenset[str]: ...
    def region_of(self, rep_id: str) -> str | None: ...  # the rep's region now
    def region_of_team(self, team_id: str) -> str | None: ...  # created in, else its reps' one region
    def reps_in_region(self, region: str) -> frozenset[str]: ...
    def deal_rep(self, deal_id: str) -> str | None: ...
    def followup_rep(self, followup_id: str) -> str | None: ...
    def lead_rep(self, lead_id: str) -> str | None: ...
    def customer_reps(self, customer_id: str) -> frozenset[str]: ...


class NotVisible(LookupError):
    """The caller may not see this object; answered as 'not found' so that ids cannot be probed."""

    def __init__(self, what: str):
        self.what = what
        super().__init__(f"{what} not found")


class OutOfRole(PermissionError):
    """A kind of data this role never reads (a region's figures for a rep): answered 403."""


# ---------------------------------------------------------------- capabilities beyond events

# One line per action a route guards with `deps.allowed(...)`; reads of rep data are scoped
# separately (may_read_rep, may_read_scope, readable_reps).
CAPABILITIES: dict[str, frozenset[str]] = {
    "events.read": frozenset(ROLES),
    "events.record": frozenset({"admin", "finance", "manager", "director", "rep"}),
    "kpis.read": frozenset(ROLES),
    "payouts.read": frozenset(ROLES),
    "payouts.approve": frozenset({"admin", "finance"}),
    "payouts.adjust": frozenset({"admin", "finance"}),
    "periods.close": frozenset({"admin", "finance"}),
    "replays.run": frozenset({"admin", "finance", "auditor"}),  # a replay writes nothing
    "audit.verify": frozenset({"admin", "finance", "auditor"}),
    "audit.rebuild": frozenset({"admin", "auditor"}),  # a scratch rebuild compared with the live one
    "kpis.quadrants": READS_EVERYTHING | {"director"},  # a director: the teams of their region
    "targets.allocate": frozenset({"admin", "finance", "manager", "director"}),  # within their reach
    "projections.rebuild": frozenset({"admin"}),
    "plans.signoff_report": frozenset({"admin", "finance", "auditor"}),  # who has not acknowledged
    "people.erase": frozenset({"admin"}),  # irreversible: a rep's key destroyed (PIPL, GDPR)
    # a dispute resolved through its command (its rep within reach, as for DisputeResolved)
    "disputes.resolve": frozenset({"admin", "finance", "manager", "director"}),
    "people.export": frozenset({"admin"}),  # everything held about a person (PIPL art. 45)
}


def can(user: User, capability: str) -> bool:
    return user.role in CAPABILITIES[capability]


# ---------------------------------------------------------------- reading


def may_read_rep(user: User, rep_id: str, org: OrgView) -> bool:
    if user.role in READS_EVERYTHING:
        return True
    if user.role == "manager":
        return user.team_id is not None and org.team_of(rep_id) == user.team_id
    if user.role == "director":
        return user.region is not None and org.region_of(rep_id) == user.region
    return user.role == "rep" and rep_id == user.rep_id


def in_region(user: User, team_id: str, org: OrgView) -> bool:
    """A team of the director's region (the one it was created in, else its reps' one region)."""
    return user.role == "director" and user.region is not None and org.region_of_team(team_id) == user.region


def may_read_scope(user: User, scope: str, org: OrgView) -> bool:
    """A KPI/target scope: `rep:ID`, `team:ID`, `region:NAME` or `company`."""
    if user.role in READS_EVERYTHING:
        return True
    kind, _, key = scope.partition(":")
    if kind == "rep":
        return may_read_rep(user, key, org)
    if user.role == "director":
        return (kind == "region" and key == user.region) or (kind == "team" and in_region(user, key, org))
    return user.role == "manager" and kind == "team" and key == user.team_id


def quadrant_region(user: User, region: str | None, org: OrgView) -> str | None:
    """The region whose teams GET /kpis/quadrants compares (None: the regions of the company).
    A director compares the teams of their own region (another region: NotVisible, as if
    absent); a region nobody is in is NotVisible too."""
    if user.role == "director":
        if region is not None and region != user.region:
            raise NotVisible(f"region {region}")
        region = user.region
    if region is not None and not org.knows("region", region):
        raise NotVisible(f"region {region}")
    return region


def check_rep(user: User, rep_id: str, org: OrgView) -> None:
    """A rep's own objects (history, payouts, explanations): NotVisible unless within reach."""
    if not may_read_rep(user, rep_id, org):
        raise NotVisible(f"rep {rep_id}")


def check_scope(user: User, scope: str, org: OrgView) -> None:
    """A KPI or target scope: a rep or team out of reach is NotVisible (404: ids cannot be
    probed); a region or the company, for a manager or a rep, is OutOfRole (403). A scope nobody
    is in is NotVisible too, never zeros; to a token that may not read it, it is answered as a
    known one is (404 or 403), so the answer says nothing the refusal would not."""
    if may_read_scope(user, scope, org):
        kind, _, key = scope.partition(":")
        if scope != "company" and not org.knows(kind, key):
            raise NotVisible(f"scope {scope}")
        return
    kind = scope.partition(":")[0]
    if kind in ("rep", "team") or (kind == "region" and user.role == "director"):
        raise NotVisible(f"scope {scope}")
    reach = {
        "manager": "their own team and its reps",
        "director": "their own region, its teams and reps",
    }.get(user.role, "their own figures")
    raise OutOfRole(f"a {user.role} token reads {reach}; {kind} figures need a finance, auditor or admin token")


def readable_reps(user: User, requested: Sequence[str] | None, org: OrgView) -> frozenset[str] | None:
    """The reps whose events a query may return: None means no restriction.

    Asking for a rep one may not see raises NotVisible (404), never an empty answer that would
    confirm the rep exists.
    """
    for rep_id in requested or ():
        if not may_read_rep(user, rep_id, org):
            raise NotVisible(f"rep {rep_id}")
    if requested:
        return frozenset(requested)
    if user.role in READS_EVERYTHING:
        return None
    if user.role == "manager":
        return org.reps_in_team(user.team_id) if user.team_id else frozenset()
    if user.role == "director":
        return org.reps_in_region(user.region) if user.region else frozenset()
    return frozenset({user.rep_id}) if user.rep_id else frozenset()


# ---------------------------------------------------------------- recording

CLIENT_TYPES = frozenset(DATA_MODELS) - SYSTEM_TYPES
ORG_TYPES = frozenset({"RepOnboarded", "RepTransferred", "RepOffboarded"})
# The hierarchy: a region is the company's (admin); a team and a rep's level, a region's (its director).
HIERARCHY_TYPES = frozenset({"RegionCreated", "TeamCreated", "RepLevelSet"})
PLAN_TYPES = frozenset({"IncentivePlanPublished", "IncentivePlanAssigned"})
REP_ACTIVITY_TYPES = frozenset({"ActivityLogged", "FollowUpScheduled", "FollowUpCompleted"})
# A rep signs off their plan and raises disputes on their payout; their manager or finance resolves them.
REP_VOICE_TYPES = frozenset({"PlanAcknowledged", "DisputeOpened", "DisputeCommented"})
DISPUTE_KEYED = frozenset({"DisputeCommented", "DisputeResolved"})

RECORDABLE: dict[str, frozenset[str]] = {
    "admin": CLIENT_TYPES,
    "finance": PLAN_TYPES | {"TargetSet", "AwardGranted", "RecognitionGranted", "DisputeCommented", "DisputeResolved"},
    # Not a rep's sign-off; a dispute of their team's they may resolve, with its corrections.
    "manager": CLIENT_TYPES - ORG_TYPES - HIERARCHY_TYPES - PLAN_TYPES - {"AwardGranted", "PlanAcknowledged"},
    # Everything a manager records, for any team of the region; and its teams and reps' levels.
    "director": (CLIENT_TYPES - ORG_TYPES - PLAN_TYPES - {"AwardGranted", "PlanAcknowledged", "RegionCreated"}),
    "rep": REP_ACTIVITY_TYPES | REP_VOICE_TYPES,
    "auditor": frozenset(),
}
# These roles record their types for any rep or scope; the others only within their reach.
UNSCOPED_WRITERS = frozenset({"admin", "finance"})

DEAL_KEYED = frozenset({"DealWon", "DealLost", "DealCreditSplit", "DealAmountCorrected", "DealRefunded"})
# Events that point at someone's lead, deal or customer (a dispute may point at any deal: it
# questions a figure and changes none).
LEAD_REFERRING = frozenset({"DealOpened", "ActivityLogged", "FollowUpScheduled"})
DEAL_REFERRING = frozenset({"ActivityLogged", "FollowUpScheduled"})
CUSTOMER_REFERRING = frozenset({"LeadCreated", "DealOpened", "ActivityLogged"})
CUSTOMER_HOLDING = frozenset({"LeadCreated", "DealOpened"})  # a rep holds the customers of their leads and deals
SCOPED = frozenset({"TargetSet", "IncentivePlanAssigned"})


@dataclass
class Subject:
    """Whom an event concerns: reps, teams, or the whole org (a plan, a region, the company).

    Each rep is kept with the name the request gave it by (`deal D-1`, `lead L-2`): a refusal
    names only what the caller sent, never whose it turned out to be."""

    reps: list[tuple[str | None, str]] = field(default_factory=list)  # None: a deal, lead… nobody owns
    teams: set[str] = field(default_factory=set)
    regions: set[str] = field(default_factory=set)
    org_wide: bool = False
    # A customer already held by reps (their leads and deals): one of them must be within reach.
    customers: list[tuple[frozenset[str], str]] = field(default_factory=list)

    def add(self, rep_id: str | None, named: str) -> None:
        self.reps.append((rep_id, named))


@dataclass
class BatchMemory:
    """Owners introduced earlier in the same batch (a deal opened, then won, in one request)."""

    deal_rep: dict[str, str] = field(default_factory=dict)
    followup_rep: dict[str, str] = field(default_factory=dict)
    dispute_rep: dict[str, str] = field(default_factory=dict)
    lead_rep: dict[str, str] = field(default_factory=dict)
    customer_reps: dict[str, set[str]] = field(default_factory=dict)

    def remember(self, event_type: str, data: Mapping[str, Any]) -> None:
        if event_type == "DealOpened":
            self.deal_rep[data["deal_id"]] = data["rep_id"]
        elif event_type == "FollowUpScheduled":
            self.followup_rep[data["followup_id"]] = data["rep_id"]
        elif event_type == "DisputeOpened":
            self.dispute_rep[data["dispute_id"]] = data["rep_id"]
        elif event_type == "LeadCreated" and data.get("lead_id"):
            self.lead_rep[data["lead_id"]] = data["rep_id"]
        if event_type in CUSTOMER_HOLDING and data.get("customer_id"):
            self.customer_reps.setdefault(data["customer_id"], set()).add(data["rep_id"])


def subject_of(event_type: str, data: Mapping[str, Any], org: OrgView, memory: BatchMemory) -> Subject:
    """Whom a validated event concerns, for authorisation (not for crediting): the reps it is
    recorded for, and the owners of every lead, deal and customer it names."""
    if event_type in SCOPED:
        return _scope_subject(data["scope"])
    if event_type in ("IncentivePlanPublished", "RegionCreated"):
        return Subject(org_wide=True)
    if event_type == "TeamCreated":
        # A team reps are already in is theirs to formalise only for whoever reaches it now: a
        # director cannot claim another region's team by creating it in their own.
        known = {data["team_id"]} if org.knows("team", data["team_id"]) else set()
        return Subject(regions={data["region"]}, teams=known)
    subject = Subject()
    if event_type in DEAL_KEYED:
        deal_id = data["deal_id"]
        subject.add(memory.deal_rep.get(deal_id) or org.deal_rep(deal_id), f"deal {deal_id}")
        for split in data.get("splits") or ():
            subject.add(split["rep_id"], f"rep {split['rep_id']}")
    elif event_type == "FollowUpCompleted":
        followup_id = data["followup_id"]
        owner = memory.followup_rep.get(followup_id) or org.followup_rep(followup_id)
        subject.add(owner, f"follow-up {followup_id}")
    elif event_type in DISPUTE_KEYED:
        dispute_id = data["dispute_id"]
        subject.add(memory.dispute_rep.get(dispute_id) or _dispute_rep(org, dispute_id), f"dispute {dispute_id}")
    else:
        subject.add(data["rep_id"], f"rep {data['rep_id']}")
        if event_type == "RepOnboarded":
            subject.teams.add(data["team_id"])
    _add_references(event_type, data, org, memory, subject)
    return subject


def _add_references(
    event_type: str, data: Mapping[str, Any], org: OrgView, memory: BatchMemory, subject: Subject
) -> None:
    """A lead, deal or customer an event points at changes its owner's figures (a lead converts,
    a customer is no longer new), so it must be within the writer's reach too."""
    if event_type in LEAD_REFERRING and data.get("lead_id"):
        lead_id = data["lead_id"]
        subject.add(memory.lead_rep.get(lead_id) or org.lead_rep(lead_id), f"lead {lead_id}")
    if event_type in DEAL_REFERRING and data.get("deal_id"):
        deal_id = data["deal_id"]
        subject.add(memory.deal_rep.get(deal_id) or org.deal_rep(deal_id), f"deal {deal_id}")
    if event_type in CUSTOMER_REFERRING and data.get("customer_id"):
        customer_id = data["customer_id"]
        holders = frozenset(memory.customer_reps.get(customer_id, ())) | org.customer_reps(customer_id)
        if holders:  # a customer new to the ledger is anyone's to bring in
            subject.customers.append((holders, f"customer {customer_id}"))


def _dispute_rep(org: OrgView, dispute_id: str) -> str | None:
    """Whose dispute this is, when the org view knows disputes (`dispute_rep`); else unknown, so
    that only admin and finance (who record for anyone) may comment on or resolve it."""
    lookup = getattr(org, "dispute_rep", None)
    return lookup(dispute_id) if lookup is not None else None


def _scope_subject(scope: Mapping[str, Any]) -> Subject:
    if "rep" in scope:
        return Subject(reps=[(scope["rep"], f"rep {scope['rep']}")])
    if "team" in scope:
        return Subject(teams={scope["team"]})
    if "region" in scope:
        return Subject(regions={scope["region"]})
    return Subject(org_wide=True)


def refusal(user: User, index: int, event_type: str, subject: Subject, org: OrgView) -> Problem | None:
    """Why this user may not record this event, or None if they may."""
    if event_type not in RECORDABLE.get(user.role, frozenset()):
        return Problem(
            index,
            "type",
            Msg("record.role", "a {role} token may not record {event_type}", role=user.role, event_type=event_type),
        )
    if user.role in UNSCOPED_WRITERS:
        return None
    if subject.org_wide or (subject.regions and user.role != "director"):
        return Problem(
            index,
            "data",
            Msg(
                "record.org_wide",
                "{event_type} for a region or the company is recorded by admin or finance",
                event_type=event_type,
            ),
        )
    for region in sorted(subject.regions):
        if region != user.region:
            return Problem(index, "data", _beyond_reach(f"region {region}"))
    for team_id in sorted(subject.teams):
        if not ((user.role == "manager" and team_id == user.team_id) or in_region(user, team_id, org)):
            return Problem(index, "data", _beyond_reach(f"team {team_id}"))
    for rep_id, named in subject.reps:
        if not _within_reach(user, rep_id, org):
            # The same words whether the object is someone else's or unknown: no probing.
            return Problem(index, "data", _beyond_reach(named))
    for holders, named in subject.customers:
        if not any(_within_reach(user, rep_id, org) for rep_id in holders):
            return Problem(index, "data", _beyond_reach(named))
    return None


def _within_reach(user: User, rep_id: str | None, org: OrgView) -> bool:
    if rep_id is None:
        return False
    if user.role in ("manager", "director"):
        return may_read_rep(user, rep_id, org)
    return user.role == "rep" and rep_id == user.rep_id


def _beyond_reach(named: str) -> Msg:
    """A refusal that says no more than 'not found' would: only what the request itself named."""
    return Msg("record.beyond_reach", "{named} is not known within this token's reach", named=named)


# ---------------------------------------------------------------- people named in events

# Who did it, inside an event: taken from the writer's token, never from the body (else a rep
# could comment on his own dispute as "finance-controller").
PEOPLE_FIELDS: dict[str, str] = {
    "EvaluationRecorded": "evaluator_id",
    "FeedbackGiven": "author_id",
    "ImprovementPlanSet": "set_by",
    "ImprovementPlanReviewed": "reviewer_id",
    "TrainingAssigned": "assigned_by",
    "DisputeCommented": "author_id",
    "DisputeResolved": "resolver_id",
}
# The director may record what others did (backfilling evaluations from before the ledger); the
# entry's actor still says the director's token wrote it.
NAMES_OTHERS = frozenset({"admin"})


def with_people_from_token(user: User, envelopes: Sequence[object]) -> tuple[list[object], list[Problem]]:
    """The batch with each people field set to the writer (`rep:R-1`, `manager:T-1`, …), and a
    refusal for every body that names someone else."""
    stamped: list[object] = []
    problems: list[Problem] = []
    for index, envelope in enumerate(envelopes):
        if not isinstance(envelope, dict):
            stamped.append(envelope)
            continue
        event_type, data = envelope.get("type"), envelope.get("data")
        people_field = PEOPLE_FIELDS.get(event_type) if isinstance(event_type, str) else None
        if people_field is None or not isinstance(data, dict):
            stamped.append(envelope)
            continue
        named = data.get(people_field)
        if user.role in NAMES_OTHERS and named is not None:
            stamped.append(envelope)
            continue
        if named is not None and named != user.person:
            problems.append(
                Problem(
                    index,
                    f"data.{people_field}",
                    Msg(
                        "record.person_from_token",
                        "{field} is who wrote this, taken from your token ({actor}): leave it out",
                        field=people_field,
                        actor=user.person,
                    ),
                )
            )
        stamped.append({**envelope, "data": {**data, people_field: user.person}})
    return stamped, problems


def visible_actor(user: User, actor: str) -> str:
    """An entry's actor as this reader may see it: an admin or finance token's handle only to
    those who read everything (a rep sees `admin` and `manager:T-1`, not which token)."""
    role, _, who = actor.partition(":")
    if user.role in READS_EVERYTHING:
        return actor
    if role in BOUND_ROLES:
        return principal_of(actor)
    return role if who.startswith("tok_") else actor


def refusals(user: User, events: Sequence[tuple[str, Mapping[str, Any]]], org: OrgView) -> list[Problem]:
    """Every event of a validated batch this user may not record, with its index."""
    memory = BatchMemory()
    problems = []
    unscoped = user.role in UNSCOPED_WRITERS  # whom an event concerns is not asked: they record for anyone
    prefetch = getattr(org, "prefetch", None)  # a view that reads the database asks for the batch's keys at once
    if prefetch is not None and not unscoped:
        prefetch(events)
    for index, (event_type, data) in enumerate(events):
        subject = Subject() if unscoped else subject_of(event_type, data, org, memory)
        problem = refusal(user, index, event_type, subject, org)
        if problem is not None:
            problems.append(problem)
        memory.remember(event_type, data)
    return problems
