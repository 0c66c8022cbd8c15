"""The role policy (services/policy.py) as tables: pure functions, a fake org, no database."""

from __future__ import annotations

import pytest

from api.auth import TokenError, check_binding
from ledger.idempotency import scope_of
from services.policy import (
    CAPABILITIES,
    CLIENT_TYPES,
    NotVisible,
    OutOfRole,
    User,
    can,
    check_scope,
    may_read_rep,
    may_read_scope,
    quadrant_region,
    readable_reps,
    refusals,
    visible_actor,
)


class Org:
    """East: T-1 (R-1, R-2) and T-5 (created, nobody in it yet); West: T-2 (R-3). Deals D-1
    (R-1), D-3 (R-3); follow-up F-3 (R-3)."""

    teams = {"R-1": "T-1", "R-2": "T-1", "R-3": "T-2"}
    regions = {"R-1": "East", "R-2": "East", "R-3": "West"}
    created_teams = {"T-5": "East"}

    def region_of(self, rep_id):
        return self.regions.get(rep_id)

    def region_of_team(self, team_id):
        if team_id in self.created_teams:
            return self.created_teams[team_id]
        found = {self.regions[r] for r, t in self.teams.items() if t == team_id}
        return found.pop() if len(found) == 1 else None

    def reps_in_region(self, region):
        return frozenset(r for r, g in self.regions.items() if g == region)

    deals = {"D-1": "R-1", "D-3": "R-3"}
    followups = {"F-1": "R-1", "F-3": "R-3"}
    disputes = {"DS-1": "R-1", "DS-3": "R-3"}
    leads = {"L-1": "R-1", "L-3": "R-3"}
    customers = {"C-1": {"R-1"}, "C-3": {"R-3"}, "C-13": {"R-1", "R-3"}}

    def team_of(self, rep_id):
        return self.teams.get(rep_id)

    def knows(self, kind, key):
        named = {"rep": self.teams, "team": set(self.teams.values()), "region": {"East", "West"}}
        return key in named[kind]

    def reps_in_team(self, team_id):
        return frozenset(r for r, t in self.teams.items() if t == team_id)

    def deal_rep(self, deal_id):
        return self.deals.get(deal_id)

    def followup_rep(self, followup_id):
        return self.followups.get(followup_id)

    def dispute_rep(self, dispute_id):
        return self.disputes.get(dispute_id)

    def lead_rep(self, lead_id):
        return self.leads.get(lead_id)

    def customer_reps(self, customer_id):
        return frozenset(self.customers.get(customer_id, ()))


ORG = Org()
ADMIN, FINANCE, AUDITOR = (
    User("admin", token_id="tok_a"),
    User("finance", token_id="tok_f"),
    User("auditor", token_id="tok_x"),
)
MANAGER, REP = User("manager", team_id="T-1", token_id="tok_m"), User("rep", rep_id="R-1", token_id="tok_r")
DIRECTOR = User("director", region="East", token_id="tok_d")
USERS = {"admin": ADMIN, "finance": FINANCE, "auditor": AUDITOR, "manager": MANAGER, "rep": REP, "director": DIRECTOR}

# Data of one event per type, concerning R-1 (in the manager's team) unless the type names no rep.
OWN = {
    "RepOnboarded": {"rep_id": "R-9", "team_id": "T-1"},
    "RepTransferred": {"rep_id": "R-1", "team_id": "T-2"},
    "RepOffboarded": {"rep_id": "R-1"},
    "RegionCreated": {"region": "North"},
    "TeamCreated": {"team_id": "T-9", "region": "East"},
    "RepLevelSet": {"rep_id": "R-1"},
    "TargetSet": {"scope": {"rep": "R-1"}},
    "LeadCreated": {"rep_id": "R-1"},
    "ActivityLogged": {"rep_id": "R-1"},
    "FollowUpScheduled": {"followup_id": "F-9", "rep_id": "R-1"},
    "FollowUpCompleted": {"followup_id": "F-1"},
    "DealOpened": {"deal_id": "D-9", "rep_id": "R-1"},
    "DealWon": {"deal_id": "D-1"},
    "DealLost": {"deal_id": "D-1"},
    "DealCreditSplit": {"deal_id": "D-1", "splits": [{"rep_id": "R-1"}, {"rep_id": "R-2"}]},
    "DealAmountCorrected": {"deal_id": "D-1"},
    "DealRefunded": {"deal_id": "D-1"},
    "EvaluationRecorded": {"rep_id": "R-1"},
    "FeedbackGiven": {"rep_id": "R-1"},
    "ImprovementPlanSet": {"rep_id": "R-1"},
    "ImprovementPlanReviewed": {"rep_id": "R-1"},
    "TrainingAssigned": {"rep_id": "R-1"},
    "TrainingCompleted": {"rep_id": "R-1"},
    "AwardGranted": {"rep_id": "R-1"},
    "RecognitionGranted": {"rep_id": "R-1"},
    "IncentivePlanPublished": {"plan_id": "std"},
    "IncentivePlanAssigned": {"scope": {"rep": "R-1"}},
    "PlanAcknowledged": {"rep_id": "R-1", "plan_id": "std"},
    "DisputeOpened": {"dispute_id": "DS-9", "rep_id": "R-1"},
    "DisputeCommented": {"dispute_id": "DS-1"},
    "DisputeResolved": {"dispute_id": "DS-1"},
}
# The same types, concerning R-3 (another team) or the whole org.
OTHER = {
    "RepOnboarded": {"rep_id": "R-9", "team_id": "T-2"},
    "RepTransferred": {"rep_id": "R-3", "team_id": "T-1"},
    "RepOffboarded": {"rep_id": "R-3"},
    "RegionCreated": {"region": "North"},
    "TeamCreated": {"team_id": "T-9", "region": "West"},
    "RepLevelSet": {"rep_id": "R-3"},
    "TargetSet": {"scope": {"company": True}},
    "LeadCreated": {"rep_id": "R-3"},
    "ActivityLogged": {"rep_id": "R-3"},
    "FollowUpScheduled": {"followup_id": "F-9", "rep_id": "R-3"},
    "FollowUpCompleted": {"followup_id": "F-3"},
    "DealOpened": {"deal_id": "D-9", "rep_id": "R-3"},
    "DealWon": {"deal_id": "D-3"},
    "DealLost": {"deal_id": "D-3"},
    "DealCreditSplit": {"deal_id": "D-3", "splits": [{"rep_id": "R-3"}]},
    "DealAmountCorrected": {"deal_id": "D-3"},
    "DealRefunded": {"deal_id": "D-3"},
    "EvaluationRecorded": {"rep_id": "R-3"},
    "FeedbackGiven": {"rep_id": "R-3"},
    "ImprovementPlanSet": {"rep_id": "R-3"},
    "ImprovementPlanReviewed": {"rep_id": "R-3"},
    "TrainingAssigned": {"rep_id": "R-3"},
    "TrainingCompleted": {"rep_id": "R-3"},
    "AwardGranted": {"rep_id": "R-3"},
    "RecognitionGranted": {"rep_id": "R-3"},
    "IncentivePlanPublished": {"plan_id": "std"},
    "IncentivePlanAssigned": {"scope": {"region": "East"}},
    "PlanAcknowledged": {"rep_id": "R-3", "plan_id": "std"},
    "DisputeOpened": {"dispute_id": "DS-8", "rep_id": "R-3"},
    "DisputeCommented": {"dispute_id": "DS-3"},
    "DisputeResolved": {"dispute_id": "DS-3"},
}

PIPELINE = {
    "LeadCreated",
    "ActivityLogged",
    "FollowUpScheduled",
    "FollowUpCompleted",
    "DealOpened",
    "DealWon",
    "DealLost",
    "DealCreditSplit",
    "DealAmountCorrected",
    "DealRefunded",
}
PEOPLE = {
    "EvaluationRecorded",
    "FeedbackGiven",
    "ImprovementPlanSet",
    "ImprovementPlanReviewed",
    "TrainingAssigned",
    "TrainingCompleted",
}
EXPECTED_OWN = {  # role → the types it may record about R-1 (the rep's own, the manager's team)
    "admin": set(CLIENT_TYPES),
    "finance": {
        "TargetSet",
        "AwardGranted",
        "RecognitionGranted",
        "IncentivePlanPublished",
        "IncentivePlanAssigned",
        "DisputeCommented",
        "DisputeResolved",
    },
    # a manager comments on and resolves their team's disputes; a rep signs and disputes
    # …and recognises them without money (RecognitionGranted)
    "manager": PIPELINE
    | PEOPLE
    | {"TargetSet", "RecognitionGranted", "DisputeOpened", "DisputeCommented", "DisputeResolved"},
    "rep": {
        "ActivityLogged",
        "FollowUpScheduled",
        "FollowUpCompleted",
        "PlanAcknowledged",
        "DisputeOpened",
        "DisputeCommented",
    },
    "auditor": set(),
    # a director: what a manager records, for the whole region; its teams and reps' levels
    "director": PIPELINE
    | PEOPLE
    | {
        "TargetSet",
        "RecognitionGranted",
        "DisputeOpened",
        "DisputeCommented",
        "DisputeResolved",
        "TeamCreated",
        "RepLevelSet",
    },
}
EXPECTED_OTHER = {  # role → the types it may record about R-3 / the whole org
    "admin": set(CLIENT_TYPES),
    "finance": EXPECTED_OWN["finance"],
    "manager": set(),
    "rep": set(),
    "auditor": set(),
    "director": set(),
}


def allowed_types(user: User, data_by_type: dict) -> set[str]:
    return {t for t, data in data_by_type.items() if not refusals(user, [(t, data)], ORG)}


def test_every_client_event_type_is_in_the_policy_tables():
    assert set(OWN) == set(CLIENT_TYPES)


@pytest.mark.parametrize("role", list(USERS))
def test_each_role_records_exactly_its_event_types_for_reps_within_its_reach(role):
    assert allowed_types(USERS[role], OWN) == EXPECTED_OWN[role]


@pytest.mark.parametrize("role", list(USERS))
def test_each_role_records_only_its_unscoped_types_for_others_and_the_whole_org(role):
    assert allowed_types(USERS[role], OTHER) == EXPECTED_OTHER[role]


@pytest.mark.parametrize(
    ("event_type", "data", "allowed"),
    [
        ("TargetSet", {"scope": {"team": "T-1"}}, True),
        ("TargetSet", {"scope": {"team": "T-2"}}, False),
        ("TargetSet", {"scope": {"region": "East"}}, False),
        ("DealWon", {"deal_id": "D-404"}, False),  # unknown deal: refused like another team's, no probing
        ("DealCreditSplit", {"deal_id": "D-1", "splits": [{"rep_id": "R-1"}, {"rep_id": "R-3"}]}, False),
        ("FollowUpCompleted", {"followup_id": "F-3"}, False),
    ],
)
def test_a_manager_records_only_within_their_team(event_type, data, allowed):
    assert (refusals(MANAGER, [(event_type, data)], ORG) == []) is allowed


def test_a_deal_opened_earlier_in_the_same_batch_counts_as_known():
    batch = [
        ("DealOpened", {"deal_id": "D-9", "rep_id": "R-2"}),
        ("DealWon", {"deal_id": "D-9"}),
        ("FollowUpScheduled", {"followup_id": "F-9", "rep_id": "R-1"}),
        ("FollowUpCompleted", {"followup_id": "F-9"}),
    ]
    assert refusals(MANAGER, batch, ORG) == []


def test_every_refused_event_of_a_batch_is_named_with_its_index():
    batch = [
        ("ActivityLogged", {"rep_id": "R-1"}),
        ("ActivityLogged", {"rep_id": "R-2"}),
        ("DealWon", {"deal_id": "D-1"}),
    ]
    problems = refusals(REP, batch, ORG)
    assert [(p.index, p.field) for p in problems] == [(1, "data"), (2, "type")]
    assert "R-2" in problems[0].message


@pytest.mark.parametrize(
    ("role", "rep_id", "visible"),
    [
        ("admin", "R-3", True),
        ("finance", "R-3", True),
        ("auditor", "R-3", True),
        ("manager", "R-2", True),
        ("manager", "R-3", False),
        ("manager", "R-404", False),
        ("rep", "R-1", True),
        ("rep", "R-2", False),
    ],
)
def test_who_may_read_a_reps_data(role, rep_id, visible):
    assert may_read_rep(USERS[role], rep_id, ORG) is visible


@pytest.mark.parametrize(
    ("role", "scope", "visible"),
    [
        ("auditor", "company", True),
        ("finance", "region:East", True),
        ("manager", "team:T-1", True),
        ("manager", "team:T-2", False),
        ("manager", "rep:R-2", True),
        ("manager", "region:East", False),
        ("manager", "company", False),
        ("rep", "rep:R-1", True),
        ("rep", "rep:R-2", False),
        ("rep", "team:T-1", False),
    ],
)
def test_who_may_read_a_kpi_scope(role, scope, visible):
    assert may_read_scope(USERS[role], scope, ORG) is visible


@pytest.mark.parametrize(
    ("role", "requested", "expected"),
    [
        ("admin", None, None),
        ("auditor", None, None),
        ("manager", None, frozenset({"R-1", "R-2"})),
        ("rep", None, frozenset({"R-1"})),
        ("manager", ["R-2"], frozenset({"R-2"})),
        ("admin", ["R-3"], frozenset({"R-3"})),
    ],
)
def test_which_reps_a_log_query_is_limited_to(role, requested, expected):
    assert readable_reps(USERS[role], requested, ORG) == expected


@pytest.mark.parametrize(("role", "requested"), [("rep", ["R-2"]), ("manager", ["R-3"]), ("manager", ["R-1", "R-404"])])
def test_asking_for_a_rep_out_of_reach_is_not_found_rather_than_empty(role, requested):
    with pytest.raises(NotVisible):
        readable_reps(USERS[role], requested, ORG)


@pytest.mark.parametrize(
    ("capability", "roles"),
    [
        ("audit.verify", {"admin", "finance", "auditor"}),
        ("payouts.approve", {"admin", "finance"}),
        ("replays.run", {"admin", "finance", "auditor"}),
        ("events.record", {"admin", "finance", "manager", "director", "rep"}),
        ("kpis.quadrants", {"admin", "finance", "auditor", "director"}),
        ("payouts.approve", {"admin", "finance"}),
    ],
)
def test_capabilities_by_role(capability, roles):
    assert {role for role, user in USERS.items() if can(user, capability)} == roles
    assert CAPABILITIES[capability] == roles


def test_the_actor_names_the_role_what_the_token_is_bound_to_and_the_token():
    assert [u.actor for u in (REP, MANAGER, ADMIN)] == ["rep:R-1:tok_r", "manager:T-1:tok_m", "admin:tok_a"]
    assert [u.person for u in (REP, MANAGER, ADMIN)] == ["rep:R-1", "manager:T-1", "admin"]


def test_only_those_who_read_everything_see_which_token_wrote():
    assert [visible_actor(REP, u.actor) for u in (REP, MANAGER, ADMIN)] == ["rep:R-1", "manager:T-1", "admin"]
    assert [visible_actor(AUDITOR, u.actor) for u in (REP, MANAGER)] == ["rep:R-1:tok_r", "manager:T-1:tok_m"]


def test_a_reps_tokens_share_one_idempotency_scope_and_the_admins_do_not():
    assert scope_of(REP.actor) == scope_of("rep:R-1") == "rep:R-1"
    assert scope_of(ADMIN.actor) == "admin:tok_a"


@pytest.mark.parametrize(
    ("role", "rep_id", "team_id"),
    [
        ("rep", None, None),
        ("manager", None, None),
        ("admin", "R-1", None),
        ("finance", None, "T-1"),
        ("boss", None, None),
    ],
)
def test_a_token_is_bound_to_what_its_role_needs_and_nothing_else(role, rep_id, team_id):
    with pytest.raises(TokenError):
        check_binding(role, rep_id, team_id)


@pytest.mark.parametrize(
    ("event_type", "data", "allowed"),
    [
        ("TargetSet", {"scope": {"region": "East"}}, True),
        ("TargetSet", {"scope": {"region": "West"}}, False),
        ("TargetSet", {"scope": {"company": True}}, False),
        ("TargetSet", {"scope": {"team": "T-1"}}, True),
        ("TargetSet", {"scope": {"team": "T-5"}}, True),  # created in East, nobody in it yet
        ("TargetSet", {"scope": {"team": "T-2"}}, False),
        ("TargetSet", {"scope": {"rep": "R-2"}}, True),
        ("TargetSet", {"scope": {"rep": "R-3"}}, False),
        ("DealWon", {"deal_id": "D-3"}, False),
        ("DealCreditSplit", {"deal_id": "D-1", "splits": [{"rep_id": "R-1"}, {"rep_id": "R-3"}]}, False),
        ("TeamCreated", {"team_id": "T-8", "region": "East"}, True),
        ("TeamCreated", {"team_id": "T-8", "region": "West"}, False),
        ("TeamCreated", {"team_id": "T-2", "region": "East"}, False),  # West's team, claimed for East
        ("TeamCreated", {"team_id": "T-1", "region": "East"}, True),  # East's own team, formalised
        ("RegionCreated", {"region": "East"}, False),
        ("RepOnboarded", {"rep_id": "R-8", "team_id": "T-1"}, False),  # moves people: admin only
    ],
)
def test_a_director_of_east_records_within_east_and_never_in_west(event_type, data, allowed):
    assert (refusals(DIRECTOR, [(event_type, data)], ORG) == []) is allowed


@pytest.mark.parametrize(
    ("scope", "visible"),
    [
        ("region:East", True),
        ("region:West", False),
        ("company", False),
        ("team:T-1", True),
        ("team:T-5", True),
        ("team:T-2", False),
        ("rep:R-2", True),
        ("rep:R-3", False),
    ],
)
def test_a_director_of_east_reads_east_its_teams_and_reps_only(scope, visible):
    assert may_read_scope(DIRECTOR, scope, ORG) is visible


def test_a_director_of_east_asking_for_west_is_answered_as_if_west_did_not_exist_and_company_is_403():
    with pytest.raises(NotVisible):
        check_scope(DIRECTOR, "region:West", ORG)
    with pytest.raises(NotVisible):
        check_scope(DIRECTOR, "region:Nowhere", ORG)
    with pytest.raises(OutOfRole):
        check_scope(DIRECTOR, "company", ORG)


def test_a_director_reads_the_log_of_every_rep_of_the_region_and_no_other():
    assert readable_reps(DIRECTOR, None, ORG) == frozenset({"R-1", "R-2"})
    with pytest.raises(NotVisible):
        readable_reps(DIRECTOR, ["R-3"], ORG)


def test_a_director_compares_the_teams_of_their_own_region_only():
    assert quadrant_region(DIRECTOR, None, ORG) == "East"
    assert quadrant_region(ADMIN, None, ORG) is None
    assert quadrant_region(ADMIN, "West", ORG) == "West"
    with pytest.raises(NotVisible):
        quadrant_region(DIRECTOR, "West", ORG)


def test_a_director_token_is_bound_to_a_region_and_only_a_director_token_is():
    check_binding("director", None, None, "East")
    with pytest.raises(TokenError):
        check_binding("director", None, None, None)
    with pytest.raises(TokenError):
        check_binding("manager", None, "T-1", "East")
    assert (DIRECTOR.actor, DIRECTOR.person) == ("director:East:tok_d", "director:East")
    assert scope_of(DIRECTOR.actor) == "director:East"
