"""Random valid sales stories for the read-side property tests.

Hypothesis draws a list of small actions; `envelopes_of` plays them against a model of the
write side's rules (a deal is opened once and closed once, won after it was opened, refunds
never above what is left, corrections never below what was refunded, follow-ups completed
once) and turns the playable ones into envelopes, skipping the rest. Business times are
spread over February to April 2026, near midnights on purpose (+08:00 and UTC offsets), in no
particular order, so wins, transfers and first wins are often "backdated".
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import strategies as st

REPS = ("R-1", "R-2", "R-3")
TEAMS = (("T-A", "East"), ("T-B", "West"), ("T-C", "West"))
SHARES = (
    (("R-1", "1"),),
    (("R-1", "0.5"), ("R-2", "0.5")),
    (("R-2", "0.3"), ("R-3", "0.7")),
    (("R-1", "0.333"), ("R-2", "0.333"), ("R-3", "0.334")),
)
KINDS = ("call", "email", "visit", "email")
METRICS = (("revenue", "15000.00"), ("orders", "3"), ("win_rate", "0.5"), ("activities", "4"))

moments = st.tuples(st.integers(0, 88), st.sampled_from((0, 1, 15, 23)), st.sampled_from(("+08:00", "+00:00")))
amounts = st.integers(100, 900_000)  # cents
pick = st.integers(0, 50)

# A deal is opened and, most of the time, closed at once (won or lost some days later); its
# corrections, refunds and splits come as actions of their own, later in the log.
deal = st.tuples(
    st.just("deal"),
    pick,
    pick,
    pick,
    moments,
    st.sampled_from(("won", "won", "won", "lost", None)),
    st.integers(0, 20),
    amounts,
)
deal_actions = st.one_of(
    deal,
    deal,
    deal,
    st.tuples(st.just("win"), pick, amounts, st.integers(0, 20)),
    st.tuples(st.just("correct"), pick, amounts, moments),
    st.tuples(st.just("refund"), pick, st.integers(1, 100), moments),
    st.tuples(st.just("split"), pick, pick, moments),
)
other_actions = st.one_of(
    st.tuples(st.just("lead"), pick, moments),
    st.tuples(st.just("transfer"), pick, pick, moments),
    st.tuples(st.just("activity"), pick, pick, st.booleans(), moments),
    st.tuples(st.just("followup"), pick, moments, moments),
    st.tuples(st.just("complete"), pick, moments),
    st.tuples(st.just("target"), pick, pick, st.sampled_from(("2026-02", "2026-03", "2026-Q1")), amounts),
)
actions = st.one_of(deal_actions, deal_actions, other_actions)
stories = st.lists(actions, min_size=20, max_size=60)
batchings = st.lists(st.integers(1, 8), min_size=1, max_size=40)


def moment(value: tuple[int, int, str]) -> str:
    day, hour, offset = value
    month, day_of = (2, day + 1) if day < 28 else (3, day - 27) if day < 59 else (4, day - 58)
    return f"2026-{month:02d}-{day_of:02d}T{hour:02d}:30:00{offset}"


def later(opened: tuple[int, int, str], days: int) -> tuple[int, int, str]:
    return (min(opened[0] + days, 88), opened[1], opened[2])


@dataclass
class Deal:
    deal_id: str
    opened: tuple[int, int, str]
    outcome: str | None = None
    won_cents: int = 0
    refunded_cents: int = 0


@dataclass
class Model:
    envelopes: list[dict] = field(default_factory=list)
    deals: list[Deal] = field(default_factory=list)
    leads: int = 0
    followups: list[list] = field(default_factory=list)  # [id, completed]

    def add(self, type_: str, when: str, **data) -> None:
        self.envelopes.append(
            {"type": type_, "event_id": f"e-{len(self.envelopes)}", "occurred_at": when, "data": data}
        )


def envelopes_of(story: list[tuple]) -> list[dict]:
    model = Model()
    for rep_id, (team_id, region) in zip(REPS, (TEAMS[0], TEAMS[0], TEAMS[1]), strict=True):
        model.add(
            "RepOnboarded", "2026-01-01T09:00:00+08:00", rep_id=rep_id, name=rep_id, team_id=team_id, region=region
        )
    for action in story:
        PLAY[action[0]](model, *action[1:])
    return model.envelopes


def _lead(model: Model, rep: int, when) -> None:
    model.leads += 1
    model.add("LeadCreated", moment(when), lead_id=f"L-{model.leads}", rep_id=REPS[rep % 3])


def _deal_opened(model: Model, rep: int, customer: int, lead: int, when, outcome, days: int, cents: int) -> None:
    deal = Deal(f"D-{len(model.deals) + 1}", when)
    model.deals.append(deal)
    extra = {"lead_id": f"L-{lead % (model.leads + 2)}"} if lead % 3 else {}
    model.add(
        "DealOpened", moment(when), deal_id=deal.deal_id, rep_id=REPS[rep % 3], customer_id=f"C-{customer % 3}", **extra
    )
    if outcome == "won":
        _win(model, len(model.deals) - 1, cents, days)
    elif outcome == "lost":
        _lose(model, len(model.deals) - 1, days)


def _deal(model: Model, choice: int) -> Deal | None:
    return model.deals[choice % len(model.deals)] if model.deals else None


def _win(model: Model, choice: int, cents: int, days: int) -> None:
    deal = _deal(model, choice)
    if deal is not None and deal.outcome is None:
        deal.outcome, deal.won_cents = "won", cents
        model.add("DealWon", moment(later(deal.opened, days)), deal_id=deal.deal_id, amount=_money(cents))


def _lose(model: Model, choice: int, days: int) -> None:
    deal = _deal(model, choice)
    if deal is not None and deal.outcome is None:
        deal.outcome = "lost"
        model.add("DealLost", moment(later(deal.opened, days)), deal_id=deal.deal_id)


def _correct(model: Model, choice: int, cents: int, when) -> None:
    deal = _deal(model, choice)
    if deal is not None and deal.outcome == "won" and cents >= deal.refunded_cents:
        deal.won_cents = cents
        model.add("DealAmountCorrected", moment(when), deal_id=deal.deal_id, amount=_money(cents), reason="fix")


def _refund(model: Model, choice: int, percent: int, when) -> None:
    deal = _deal(model, choice)
    if deal is None or deal.outcome != "won":
        return
    cents = (deal.won_cents - deal.refunded_cents) * percent // 100
    if cents > 0:
        deal.refunded_cents += cents
        model.add("DealRefunded", moment(when), deal_id=deal.deal_id, amount=_money(cents))


def _split(model: Model, choice: int, pattern: int, when) -> None:
    deal = _deal(model, choice)
    if deal is not None:
        splits = [{"rep_id": rep_id, "share": share} for rep_id, share in SHARES[pattern % len(SHARES)]]
        model.add("DealCreditSplit", moment(when), deal_id=deal.deal_id, splits=splits)


def _transfer(model: Model, rep: int, team: int, when) -> None:
    team_id, region = TEAMS[team % 3]
    model.add("RepTransferred", moment(when), rep_id=REPS[rep % 3], team_id=team_id, region=region)


def _activity(model: Model, rep: int, kind: int, replied: bool, when) -> None:
    kind_name = KINDS[kind % len(KINDS)]
    extra = {"replied": replied} if kind_name == "email" and kind % 3 else {}
    model.add(
        "ActivityLogged",
        moment(when),
        activity_id=f"A-{len(model.envelopes)}",
        rep_id=REPS[rep % 3],
        kind=kind_name,
        **extra,
    )


def _followup(model: Model, rep: int, when, due) -> None:
    followup_id = f"F-{len(model.followups) + 1}"
    model.followups.append([followup_id, False])
    model.add("FollowUpScheduled", moment(when), followup_id=followup_id, rep_id=REPS[rep % 3], due_at=moment(due))


def _complete(model: Model, choice: int, when) -> None:
    if model.followups:
        followup = model.followups[choice % len(model.followups)]
        if not followup[1]:
            followup[1] = True
            model.add("FollowUpCompleted", moment(when), followup_id=followup[0])


def _target(model: Model, scope: int, metric: int, period: str, cents: int) -> None:
    scopes = ({"rep": "R-1"}, {"rep": "R-2"}, {"team": "T-A"}, {"region": "West"}, {"company": True})
    name, _ = METRICS[metric % len(METRICS)]
    value = _money(cents) if name == "revenue" else str(cents % 7 + 1) if name != "win_rate" else "0.5"
    model.add(
        "TargetSet",
        "2026-01-20T10:00:00+08:00",
        scope=scopes[scope % len(scopes)],
        metric=name,
        period=period,
        value=value,
    )


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


PLAY = {
    "lead": _lead,
    "deal": _deal_opened,
    "win": _win,
    "correct": _correct,
    "refund": _refund,
    "split": _split,
    "transfer": _transfer,
    "activity": _activity,
    "followup": _followup,
    "complete": _complete,
    "target": _target,
}


def batches_of(envelopes: list[dict], sizes: list[int]) -> list[list[dict]]:
    """Cut the story into record batches (each batch = one knowledge time), cycling the sizes."""
    result, start, i = [], 0, 0
    while start < len(envelopes):
        size = sizes[i % len(sizes)]
        result.append(envelopes[start : start + size])
        start, i = start + size, i + 1
    return result
