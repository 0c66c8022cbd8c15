"""Deterministic, streaming generator of a realistic sales department's event log.

Used by the demo, the tests and the 1,000,000-event benchmark. Standard library only.

    generate(n_events, *, seed=7, tz="UTC", now=None, reps=None) -> Iterator[dict]

yields envelopes exactly as in docs/design.md ("Events"): ``{"type", "event_id", "occurred_at",
"data"}`` with plain JSON-able values (money as strings with two decimals, shares and rates as
decimal strings, times as ISO 8601 strings with the offset of ``tz``).

How it works
------------
* The log is anchored to the clock: it covers the sales year of four quarters that ends with the
  quarter in progress at ``now`` (default: the system's clock), and stops the day before ``now``
  (in ``tz``), so nothing in it comes from the future and the current quarter is in progress:
  deals still open, follow-ups still due. On 3 December 2026 that is 1 January to 2 December
  2026; on 10 February 2027, 1 April 2026 to 9 February 2027. Below, "the year" is that span and
  its quarters are Q1..Q4 of it (labelled with their calendar names: 2026-Q2 … 2027-Q1).
* The org (regions → teams → reps, each rep with a hidden level and skill) is sized from
  ``n_events`` (``org_size``: about 2,000 events per rep a year, at least 8 reps), or has
  ``reps`` reps when given (then each rep's year thins out to fit ``n_events``), and is emitted on
  the year's second day together with the incentive plan and the first quarter's targets.
  Business starts on its third day and ends two days before it does, so that every
  ``occurred_at`` lies inside the year both in ``tz`` and in UTC (whatever the ledger's
  ``PERFLEDGER_TZ``).
* The generator walks the year day by day, up to the day before ``now``. Each day it runs the items due that day (deal
  closes, follow-up completions, credit splits, corrections, refunds, targets, evaluations, org
  changes), then draws new follow-ups, feedback, trainings, deals and leads from per-rep rates
  (level, skill, region, seasonality, weekday), then fills the day with activities so that the
  running total tracks a seasonal trajectory ending at exactly ``n_events``. The day's events are
  sorted by time and yielded; the stream stops at ``n_events`` (any prefix of the log is valid).
* About 1% of events are backdated: recorded on a later day (later in the log) than the day they
  occurred, never before what they depend on.
* Memory is bounded by the org (per-rep pools of open deals, leads and customers, each capped)
  and one day of events; nothing proportional to the length of the log is kept.

Invariants guaranteed (and checked by tests/test_generator.py): reps onboarded before they are
named, no event naming an offboarded rep (or touching their deals) after the offboarding, each
deal opened once and won or lost at most once with ``won_at >= opened_at``, deal events after the
opening, split shares summing to exactly 1, corrections only for won deals, cumulative refunds
never above the smallest amount the deal was ever booked at, unique ``event_id`` values, ids
without spaces and at most 64 characters, no ``occurred_at`` after ``now``. ``PeriodClosed``,
``PayoutApproved`` and ``PayoutAdjusted`` are never emitted (the ledger writes those). The last
quarter's evaluations are not emitted: they would fall after it.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import math
import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from operator import itemgetter
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["DEFAULT_PLAN_RULES", "EVENTS_PER_REP", "MIN_REPS", "generate", "org_size"]

# The example plan of docs/design.md ("Incentive plans"), numbers as strings.
DEFAULT_PLAN_RULES: dict = {
    "components": [
        {
            "id": "commission",
            "kind": "commission",
            "base": "revenue",
            "mode": "marginal",
            "tiers": [
                {"from_attainment": "0", "rate": "0.03"},
                {"from_attainment": "1.0", "rate": "0.05"},
                {"from_attainment": "1.2", "rate": "0.08"},
            ],
        },
        {
            "id": "target-bonus",
            "kind": "bonus",
            "when": {"metric": "revenue_attainment", "gte": "1.0"},
            "amount": "5000",
        },
        {
            "id": "hunter",
            "kind": "bonus",
            "when": {"metric": "new_customers", "gte": "10"},
            "amount": "2000",
        },
        {
            "id": "underperformance",
            "kind": "multiplier",
            "applies_to": ["commission"],
            "when": {"metric": "revenue_attainment", "lt": "0.6"},
            "factor": "0.8",
        },
        {"id": "cap", "kind": "cap", "max": "60000"},
    ]
}

EVENTS_PER_REP = 2000  # events a rep produces in a year at full intensity
MIN_REPS = 8

# --- the model's knobs ---------------------------------------------------------------------
_REGIONS = ["East", "West", "North", "South", "Central", "Overseas"]
_LEVELS = (("junior", 0.35), ("mid", 0.40), ("senior", 0.25))
# level: (deal/lead propensity, base win probability, median deal size CNY, activity propensity)
_LEVEL_PARAMS = {
    "junior": (0.9, 0.30, 13000.0, 1.1),
    "mid": (1.0, 0.40, 26000.0, 1.0),
    "senior": (1.1, 0.50, 48000.0, 0.9),
}
_AMOUNT_SIGMA = 0.75
_AMOUNT_MIN, _AMOUNT_MAX = 3000.0, 200000.0

# Per rep and year at full intensity (f = 1).
_LEADS_PER_YEAR = 160.0
_DEALS_PER_YEAR = 120.0
_FOLLOWUPS_PER_YEAR = 140.0
_FEEDBACK_PER_YEAR = 5.0
_TRAININGS_PER_YEAR = 1.5
_NONACT_PER_REP = 650.0  # leads + deals + closes + follow-ups + the rest, at f = 1
_FIXED_PER_REP = 30.0  # onboarding, targets, evaluations, eval feedback: independent of f

_FROM_LEAD = 0.8  # share of deals opened from a lead (when the rep has leads)
_REPEAT = 0.55  # of deals not from a lead: share with an existing customer
_FOLLOWUP_DONE = 0.85
_EMAIL_REPLY = 0.30
_SPLIT, _CORRECT, _REFUND = 0.03, 0.01, 0.01
_BACKDATE_ACT, _BACKDATE_LEAD, _BACKDATE_CLOSE, _BACKDATE_FU = 0.01, 0.02, 0.03, 0.02

_MONTH_W = (0.80, 0.70, 1.05, 0.90, 0.95, 1.10, 0.90, 0.85, 1.10, 0.95, 1.20, 1.35)
_FLUSH = (1.0,) * 10 + (0.75, 0.6)  # year-end budget flush: shorter cycles in Nov and Dec
_WEEKDAY_W = (1.0, 1.0, 1.0, 1.0, 0.95, 0.12, 0.06)

_BUS_START, _BUS_SPAN = 8 * 3600, 12 * 3600  # 08:00-20:00 local
_ADMIN_START = 7 * 3600  # org, plan and target events from 07:00, one second apart
_DAY = 86400

_ACT_KINDS = ("call", "email", "meeting", "visit", "demo", "other")
_ACT_SHARE = (35, 30, 12, 10, 6, 7)  # percent, in the order of _ACT_KINDS
_ACT_TABLE = tuple(k for k, p in zip(_ACT_KINDS, _ACT_SHARE, strict=True) for _ in range(p))
_LEAD_SOURCES = ("website", "referral", "trade_show", "cold_call", "partner", "inbound_call", "webinar")
_LOST_REASONS = ("price", "competitor", "no budget", "no decision", "timing", "lost contact", "requirements mismatch")
_REFUND_REASONS = (
    "partial return",
    "service credit",
    "cancelled order",
    "billing dispute",
    "delivery delay compensation",
)
_CORRECTION_REASONS = (
    "typo in amount",
    "discount not applied",
    "missing line item",
    "duplicate line removed",
    "price list updated",
)
_REVISION_REASONS = (
    "key account reassigned",
    "market slowdown in territory",
    "new product line added",
    "territory rebalanced",
    "large tender postponed",
)
_TRAININGS = (
    "Consultative selling",
    "Negotiation fundamentals",
    "Pipeline management",
    "Product deep dive",
    "Objection handling",
    "Time management",
    "CRM hygiene",
    "Discovery questioning",
    "Value-based pricing",
    "Account planning",
)
_STRENGTHS = (
    "strong discovery calls",
    "reliable follow-up",
    "deep product knowledge",
    "good rapport with key accounts",
    "disciplined pipeline hygiene",
    "effective demos",
    "strong negotiation",
    "high activity level",
)
_WEAKNESSES = (
    "thin top of funnel",
    "slow follow-up",
    "discounts too early",
    "weak qualification",
    "forecast accuracy",
    "few new logos",
    "long sales cycles",
    "low email reply rate",
)
_OPPORTUNITIES = (
    "upsell into installed base",
    "partner referrals in region",
    "new product line launch",
    "public-sector tenders",
    "cross-sell services",
    "expansion in tier-2 cities",
)
_THREATS = (
    "aggressive competitor pricing",
    "budget freezes",
    "long procurement cycles",
    "key account churn risk",
    "new market entrant",
    "supply constraints",
)
_COACHING = (
    "Qualify budget and decision maker before the demo.",
    "Book the next step before ending every call.",
    "Use the account plan template for the top five accounts.",
    "Shorten the gap between proposal and follow-up.",
    "Prepare a mutual action plan for late-stage deals.",
    "Lead with customer outcomes, not features.",
)
_RECOGNITION = (
    "Great work closing a large account.",
    "Excellent customer feedback this month.",
    "Thanks for helping the team close a tough deal.",
    "Strong pipeline discipline, forecasts were spot on.",
)
_IMPROVEMENT = (
    "Follow-ups are often overdue; clear them weekly.",
    "Too many deals stall after the first meeting.",
    "Discounting is above the team norm.",
    "Pipeline coverage is below three times the target.",
)
_SURNAMES = (
    "Wang",
    "Li",
    "Zhang",
    "Liu",
    "Chen",
    "Yang",
    "Huang",
    "Zhao",
    "Wu",
    "Zhou",
    "Xu",
    "Sun",
    "Ma",
    "Zhu",
    "Hu",
    "Guo",
    "He",
    "Lin",
    "Gao",
    "Luo",
    "Zheng",
    "Liang",
    "Xie",
    "Song",
    "Tang",
    "Han",
    "Feng",
    "Deng",
    "Cao",
    "Peng",
)
_GIVEN = (
    "Wei",
    "Fang",
    "Na",
    "Min",
    "Jing",
    "Lei",
    "Yan",
    "Jun",
    "Jie",
    "Tao",
    "Ming",
    "Chao",
    "Xiu",
    "Hui",
    "Ping",
    "Gang",
    "Yun",
    "Hao",
    "Lan",
    "Qiang",
    "Ting",
    "Bo",
    "Rui",
    "Xin",
    "Yu",
    "Kai",
    "Lu",
    "Dan",
    "Hong",
    "Long",
)
_PLAN_V2_RATES = ("0.03", "0.055", "0.085")

_KEY = itemgetter(0)


def org_size(n_events: int) -> int:
    """Number of reps (including the mid-year hires) the generator uses for ``n_events``."""
    n = max(0, int(n_events))
    return max(MIN_REPS, (n + EVENTS_PER_REP // 2) // EVENTS_PER_REP)


def generate(
    n_events: int, *, seed: int = 7, tz: str = "UTC", now: datetime | None = None, reps: int | None = None
) -> Iterator[dict]:
    """Yield ``n_events`` envelopes (exactly, unless ``n_events`` is 0) of the sales year up to
    ``now`` (an aware time; default: the system's clock), by ``reps`` reps (including the mid-year
    hires; default ``org_size(n_events)``).

    Deterministic for a given (n_events, seed, tz, now); lazy: nothing is computed until the
    first envelope is asked for, and memory does not grow with the length of the log.
    """
    if isinstance(n_events, bool) or not isinstance(n_events, int) or n_events < 0:
        raise ValueError(f"n_events must be a non-negative int, got {n_events!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an int, got {seed!r}")
    if reps is not None and (isinstance(reps, bool) or not isinstance(reps, int) or reps < MIN_REPS):
        raise ValueError(f"reps must be an int of at least {MIN_REPS}, got {reps!r}")
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise ValueError(f"unknown time zone {tz!r}") from exc
    if now is None:
        now = datetime.now(UTC)
    if not isinstance(now, datetime) or now.utcoffset() is None:
        raise ValueError(f"now must be a timezone-aware datetime, got {now!r}")
    today = now.astimezone(zone).date()
    if not 1971 <= today.year <= 9998:
        raise ValueError(f"now must fall in the years 1971 to 9998, got {now!r}")
    if n_events == 0:
        return iter(())
    return _Generator(n_events, seed, year_start(today), today, zone, reps or org_size(n_events)).run()


def year_start(today: date) -> date:
    """The first day of the sales year that ends with the quarter of ``today``: three quarters
    before it."""
    months = today.year * 12 + (today.month - 1) // 3 * 3 - 9
    return date(months // 12, months % 12 + 1, 1)


def _months_after(start: date, months: int) -> date:
    index = start.year * 12 + start.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


# --- helpers -------------------------------------------------------------------------------
def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _offset(td: timedelta | None) -> str:
    assert td is not None  # the offset of an aware time
    secs = int(td.total_seconds())
    sign = "+" if secs >= 0 else "-"
    secs = abs(secs)
    return f"{sign}{secs // 3600:02d}:{secs % 3600 // 60:02d}"


class _Rep:
    __slots__ = (
        "id",
        "name",
        "team",
        "level",
        "skill",
        "deal_w",
        "win_p",
        "amount",
        "act_w",
        "state",
        "first_t",
        "open_deals",
        "leads",
        "customers",
        "rev",
        "won",
        "fu_s",
        "fu_d",
        "targets",
        "transferred",
    )

    def __init__(self, rid: str, name: str, level: str, skill: float) -> None:
        deal_w, win_p, amount, act_w = _LEVEL_PARAMS[level]
        self.id = rid
        self.name = name
        self.team: _Team | None = None  # None until hired
        self.level = level
        self.skill = skill
        self.deal_w = deal_w * skill**0.3
        self.win_p = win_p * skill**0.7
        self.amount = amount * skill**0.5
        self.act_w = act_w * skill**0.2
        self.state = "new"  # new -> active -> gone
        self.first_t = 0  # earliest local second an event of this rep may occur at
        self.open_deals: list[tuple] = []  # (deal_id, customer_id, opened_t)
        self.leads: list[tuple] = []  # (lead_id, customer_id | None, created_t)
        self.customers: list[str] = []  # customers with a won deal (repeat business)
        self.rev = [0, 0, 0, 0]  # won cents by quarter of occurrence
        self.won = [0, 0, 0, 0]
        self.fu_s = [0, 0, 0, 0]
        self.fu_d = [0, 0, 0, 0]
        self.targets: dict[int, int] = {}  # quarter -> revenue target cents (current)
        self.transferred = False

    @property
    def joined(self) -> _Team:
        """The rep's team: asked only of a rep who has one (every rep but a hire not yet hired)."""
        assert self.team is not None
        return self.team


class _Team:
    __slots__ = ("id", "region", "manager", "members", "targets")

    def __init__(self, tid: str, region: str) -> None:
        self.id = tid
        self.region = region
        self.manager = "M-" + tid
        self.members: list[_Rep] = []
        self.targets: dict[tuple, int] = {}  # (quarter, metric) -> value (cents for revenue)


class _Generator:
    def __init__(self, n: int, seed: int, start: date, today: date, zone: ZoneInfo, reps: int) -> None:
        self.n = n
        self.total_reps = reps
        self.seed = seed
        self.start = start
        self.today = today
        self.zone = zone
        self.rng = random.Random(f"perfledger-generator/{seed}")
        s = str(seed)
        if len(s) > 24:  # keep event ids well under 64 characters
            s = "h" + hashlib.sha1(s.encode()).hexdigest()[:16]
        self.prefix = f"gen-{s}-"
        self.counters: dict[str, int] = {}
        self.pending: dict[int, list] = {}
        self._calendar()
        self._org()

    # -- calendar ---------------------------------------------------------------------------
    def _calendar(self) -> None:
        start, zone = self.start, self.zone
        ndays = (_months_after(start, 12) - start).days
        self.ndays = ndays
        # the third day .. the last but one: in-year in any zone; the walk stops before today
        self.first_day, self.year_end = 2, ndays - 2
        self.last_day = min(self.year_end, (self.today - start).days - 1)
        self.dayp: list[str] = []
        self.off: list[list[str]] = []
        self.wd: list[int] = []
        self.qof: list[int] = []
        self.dates: list[date] = []
        for d in range(ndays):
            day = start + timedelta(days=d)
            self.dates.append(day)
            self.dayp.append(day.isoformat() + "T")
            self.off.append(
                [_offset(datetime(day.year, day.month, day.day, h, 30, tzinfo=zone).utcoffset()) for h in range(24)]
            )
            self.wd.append(day.weekday())
            self.qof.append(((day.year - start.year) * 12 + day.month - start.month) // 3)
        self.hm = [f"{h:02d}:{m:02d}" for h in range(24) for m in range(60)]
        self.ss = [f":{s:02d}" for s in range(60)]
        # each day's share of the whole year's business (the rates, the quarters' targets) ...
        w = [0.0] * ndays
        for d in range(self.first_day, self.year_end + 1):
            w[d] = _MONTH_W[self.dates[d].month - 1] * _WEEKDAY_W[self.wd[d]]
        total = sum(w)
        self.w = [x / total for x in w]
        # ... and of the days walked, which the running total follows to n
        self.walked = sum(self.w[: self.last_day + 1])
        self.cumw, acc = [], 0.0
        for x in self.w[: self.last_day + 1]:
            acc += x / self.walked
            self.cumw.append(acc)
        self.cumw[self.last_day] = 1.0
        self.qw = [0.0, 0.0, 0.0, 0.0]
        for d in range(ndays):
            self.qw[self.qof[d]] += self.w[d]
        # first business day (Mon-Fri, >= day 2) of each quarter
        self.q_first = []
        for q in range(4):
            d = self._day_of(_months_after(start, 3 * q))
            d = max(d, self.first_day)
            while self.wd[d] >= 5:
                d += 1
            self.q_first.append(d)

    def _day_of(self, day: date, months: int = 0, days: int = 0) -> int:
        """The index of a day in the year: `day`, `months` and `days` later."""
        return (_months_after(day, months) + timedelta(days=days) - self.start).days

    def _bday(self, d: int, forward: bool = True) -> int:
        """The nearest weekday to day d (forward or backward), clamped to the business year."""
        step = 1 if forward else -1
        while self.first_day <= d <= self.year_end and self.wd[d] >= 5:
            d += step
        return min(max(d, self.first_day), self.year_end)

    def ts(self, t: int) -> str:
        d, s = divmod(t, _DAY)
        m = s // 60
        return self.dayp[d] + self.hm[m] + self.ss[s % 60] + self.off[d][m // 60]

    def _next(self, kind: str) -> int:
        k = self.counters.get(kind, 0) + 1
        self.counters[kind] = k
        return k

    def _admin_t(self) -> int:
        t = self.admin_clock
        self.admin_clock += 1
        return t

    def _at(self, d: int, item: tuple) -> None:
        if d <= self.last_day:
            self.pending.setdefault(d, []).append(item)

    def _rand_t(self, d: int) -> int:
        return d * _DAY + _BUS_START + int(self.rng.random() * _BUS_SPAN)

    # -- org --------------------------------------------------------------------------------
    def _org(self) -> None:
        rng, n = self.rng, self.n
        total = self.total_reps
        hires = max(1, total // 50)
        initial = total - hires
        self.n_teams = n_teams = max(2, round(total / 8))
        n_regions = max(2, min(len(_REGIONS), round(n_teams / 3)))
        self.regions = _REGIONS[:n_regions]
        # region market strength and trend through the year (drives the quadrants)
        self.region_f = {r: rng.uniform(0.88, 1.12) for r in self.regions}
        self.region_trend = {r: rng.uniform(-0.08, 0.12) for r in self.regions}
        self.teams: list[_Team] = []
        per_region: dict[str, int] = {}
        for i in range(n_teams):
            region = self.regions[i % n_regions]
            per_region[region] = per_region.get(region, 0) + 1
            self.teams.append(_Team(f"T-{region}-{per_region[region]}", region))
        sizes = [initial // n_teams] * n_teams
        for i in range(initial % n_teams):
            sizes[i] += 1
        lo = min(6, max(3, initial // n_teams - 1))
        for _ in range(2 * n_teams):
            a, b = rng.randrange(n_teams), rng.randrange(n_teams)
            if a != b and sizes[a] > lo and sizes[b] < 10:
                sizes[a] -= 1
                sizes[b] += 1
        self.reps: list[_Rep] = []
        k = 0
        for team, size in zip(self.teams, sizes, strict=True):
            for _ in range(size):
                k += 1
                rep = self._new_rep(k, self._level())
                rep.team = team
                team.members.append(rep)
        self.hires = [self._new_rep(initial + j + 1, "junior") for j in range(hires)]
        self.inconsistent_team = rng.choice(self.teams)
        # intensity: below ~2,000 events per rep the year thins out instead of being cut short
        budget = n / total
        self.f = min(1.0, max(0.01, (budget - _FIXED_PER_REP) / (EVENTS_PER_REP - _FIXED_PER_REP)))
        est_nonact = total * (_FIXED_PER_REP + self.f * _NONACT_PER_REP)
        # the activities of a whole year at this pace, so that the days walked hold n events
        self.act_total = max(0.0, n - est_nonact * self.walked) / self.walked
        self.active: list[_Rep] = []
        self.dirty = True
        self.best_deal: list[tuple[int, _Rep, str] | None] = [None, None, None, None]  # per quarter: (cents, rep, deal)
        self._schedule_year()

    def _level(self) -> str:
        u, acc = self.rng.random(), 0.0
        for level, p in _LEVELS:
            acc += p
            if u < acc:
                return level
        return "mid"

    def _new_rep(self, k: int, level: str) -> _Rep:
        rng = self.rng
        name = f"{rng.choice(_SURNAMES)} {rng.choice(_GIVEN)}"
        skill = min(1.8, max(0.55, rng.lognormvariate(0.0, 0.22)))
        rep = _Rep(f"R-{k:04d}", name, level, skill)
        self.reps.append(rep)
        return rep

    def _schedule_year(self) -> None:
        rng = self.rng
        # priorities: 0 org changes, 1 plan, 2 targets, 3 revisions, 5 everything else
        self._at(1, (0, "org"))
        for q in range(1, 4):
            self._at(self.q_first[q], (2, "targets", q))
            self._at(self.q_first[q], (4, "evals", q - 1))
        start = self.start
        # plan v2 in the middle of the sixth month, effective from the seventh
        self._at(self._bday(self._day_of(start, 5, 14)), (1, "plan2"))
        # mid-year hires (from the third month to the ninth)
        lo = self._day_of(start, 2)
        hi = self._day_of(start, 9, -1)
        for rep in self.hires:
            self._at(self._bday(rng.randint(lo, hi)), (0, "hire", rep))
        # a couple of transfers at the start of Q3, before the Q3 targets
        self._at(self.q_first[2], (0, "transfers"))
        # target revisions mid Q2 and mid Q3
        for q, (months, days) in ((1, (4, 13)), (2, (7, 19))):
            self._at(self._bday(self._day_of(start, months, days)), (3, "revise", q))
        # one rep leaves in the second half of the eleventh month
        lo = self._day_of(start, 10, 11)
        self._at(self._bday(rng.randint(lo, lo + 12)), (0, "offboard"))
        # Q4 "deal of the quarter" award shortly before the year ends
        self._at(self._bday(self.year_end - 1, forward=False), (4, "award_q4"))

    def _rebuild(self) -> None:
        self.active = [r for r in self.reps if r.state == "active"]
        cw, acc, aw, acc2 = [], 0.0, [], 0.0
        for r in self.active:
            acc += r.deal_w
            cw.append(acc)
            acc2 += r.act_w
            aw.append(acc2)
        self.deal_cw, self.deal_sum = cw, acc
        # a lookup table for the hot path: each rep gets slots in proportion to act_w
        slots = max(16384, 32 * len(self.active))
        table: list[_Rep] = []
        for r, upper in zip(self.active, aw, strict=True):
            table.extend([r] * (int(upper / acc2 * slots + 0.5) - len(table)))
        self.act_table = table or self.active
        self.dirty = False

    # -- the walk ---------------------------------------------------------------------------
    def run(self) -> Iterator[dict]:
        n, prefix, ts = self.n, self.prefix, self.ts
        dayp, hm, ss, off, day = self.dayp, self.hm, self.ss, self.off, _DAY
        i = 0
        self.generated = 0
        self.g1 = 0
        for d in range(1, self.last_day + 1):
            buf = self._day(d)
            self.generated += len(buf)
            if d == 1:
                self.g1 = self.generated
            buf.sort(key=_KEY)
            lo, dp, od = d * day, dayp[d], off[d]
            for _t, typ, data, occ in buf:
                i += 1
                s = occ - lo
                if s >= 0:  # occurred today (recorded events never run past midnight)
                    m = s // 60
                    at = dp + hm[m] + ss[s % 60] + od[m // 60]
                else:  # backdated: occurred on an earlier day
                    at = ts(occ)
                yield {"type": typ, "event_id": f"{prefix}{i:07d}", "occurred_at": at, "data": data}
                if i >= n:
                    return

    def _poisson(self, lam: float) -> int:
        if lam <= 0.0:
            return 0
        rnd = self.rng.random
        if lam > 30.0:
            return max(0, int(self.rng.gauss(lam, math.sqrt(lam)) + 0.5))
        limit, k, p = math.exp(-lam), 0, rnd()
        while p > limit:
            k += 1
            p *= rnd()
        return k

    def _day(self, d: int) -> list:
        buf: list = []
        self.admin_clock = d * _DAY + _ADMIN_START
        while True:  # handlers may schedule more items for today: run those too
            items = self.pending.pop(d, None)
            if not items:
                break
            items.sort(key=_KEY)
            for item in items:
                getattr(self, "_h_" + item[1])(d, buf, *item[2:])
        if d < self.first_day:
            return buf
        if self.dirty:
            self._rebuild()
        if not self.active:
            return buf
        wd = self.w[d]
        f = self.f
        scale = self.deal_sum * f * wd
        self._followups(d, buf, self._poisson(_FOLLOWUPS_PER_YEAR * scale))
        self._feedback(d, buf, self._poisson(_FEEDBACK_PER_YEAR * f * len(self.active) * wd))
        self._trainings(d, buf, self._poisson(_TRAININGS_PER_YEAR * f * len(self.active) * wd))
        n_deals = self._poisson(_DEALS_PER_YEAR * scale)
        n_leads = self._poisson(_LEADS_PER_YEAR * scale)
        # activities fill the day so that the running total tracks the trajectory to n; they
        # are drawn before today's deals and leads, so they only name older ones
        if d == self.last_day:
            a = self.n - self.generated - len(buf) - n_deals - n_leads
        else:
            behind = self.g1 + (self.n - self.g1) * self.cumw[d - 1] - self.generated
            a = int(self.act_total * wd * self.rng.uniform(0.9, 1.1) + 0.25 * behind + 0.5)
        if a > 0:
            self._activities(d, buf, a)
        self._deals(d, buf, n_deals)
        self._leads(d, buf, n_leads)
        return buf

    # -- daily draws ------------------------------------------------------------------------
    def _activities(self, d: int, buf: list, count: int) -> None:
        # the hot path (two thirds of all events): table look-ups, few random draws
        rng = self.rng
        rnd = rng.random
        table, nt = self.act_table, len(self.act_table)
        kinds, nk = _ACT_TABLE, len(_ACT_TABLE)
        base, span = d * _DAY + _BUS_START, _BUS_SPAN
        earliest = self.first_day * _DAY
        aid = self.counters.get("A", 0)
        append = buf.append
        for _ in range(count):
            x = rnd() * nt
            j = int(x)
            r = table[j]
            kind = kinds[int((x - j) * nk)]  # the fraction left is uniform too
            t = base + int(rnd() * span)
            aid += 1
            data: dict[str, Any] = {"activity_id": f"A-{aid:07d}", "rep_id": r.id, "kind": kind}
            dep = 0
            u = rnd()
            if u < 0.35:  # about a deal
                od = r.open_deals
                if od:
                    deal_id, cust, dep = od[int(u / 0.35 * len(od))]
                    data["customer_id"] = cust
                    data["deal_id"] = deal_id
            elif u < 0.5:  # about a lead
                ld = r.leads
                if ld:
                    lead_id, cust, dep = ld[int((u - 0.35) / 0.15 * len(ld))]
                    if cust is not None:
                        data["customer_id"] = cust
                    data["lead_id"] = lead_id
            elif u < 0.8:  # with a customer
                cs = r.customers
                if cs:
                    data["customer_id"] = cs[int((u - 0.5) / 0.3 * len(cs))]
            if kind == "email":
                data["replied"] = rnd() < _EMAIL_REPLY
            if rnd() < _BACKDATE_ACT:
                b = t - rng.randint(1, 7) * _DAY
                if b >= max(dep, r.first_t) + 3600 and b >= earliest:
                    append((t, "ActivityLogged", data, b))
                    continue
            append((t, "ActivityLogged", data, t))
        self.counters["A"] = aid

    def _followups(self, d: int, buf: list, count: int) -> None:
        if not count:
            return
        rng = self.rng
        rnd = rng.random
        for r in rng.choices(self.active, cum_weights=self.deal_cw, k=count):
            t = self._rand_t(d)
            fid = f"F-{self._next('F'):06d}"
            due = min(d + rng.randint(1, 14), self.ndays - 1)
            h = rng.randint(9, 17)
            data = {
                "followup_id": fid,
                "rep_id": r.id,
                "due_at": self.dayp[due] + self.hm[h * 60] + ":00" + self.off[due][h],
            }
            u = rnd()
            if u < 0.6 and r.open_deals:
                data["deal_id"] = r.open_deals[int(rnd() * len(r.open_deals))][0]
            elif u < 0.8 and r.leads:
                data["lead_id"] = r.leads[int(rnd() * len(r.leads))][0]
            buf.append((t, "FollowUpScheduled", data, t))
            q = self.qof[d]
            r.fu_s[q] += 1
            if rnd() < _FOLLOWUP_DONE * (0.8 + 0.2 * min(r.skill, 1.25)):
                done = due if rnd() < 0.7 else due + rng.randint(1, 6)
                if rnd() < 0.15 and due - 1 > d:
                    done = due - 1
                self._at(self._bday(done) if done <= self.last_day else done, (5, "fu_done", r, fid, t))

    def _feedback(self, d: int, buf: list, count: int) -> None:
        rng = self.rng
        for _ in range(count):
            r = rng.choice(self.active)
            u = rng.random()
            kind, pool = (
                ("coaching", _COACHING)
                if u < 0.55
                else ("recognition", _RECOGNITION)
                if u < 0.8
                else ("improvement", _IMPROVEMENT)
            )
            self._emit_feedback(buf, self._rand_t(d), r, kind, rng.choice(pool))

    def _emit_feedback(
        self, buf: list, t: int, r: _Rep, kind: str, text: str, evaluation_id: str | None = None
    ) -> None:
        data = {
            "feedback_id": f"FB-{self._next('FB'):06d}",
            "rep_id": r.id,
            "author_id": r.joined.manager,
            "kind": kind,
            "text": text,
        }
        if evaluation_id:
            data["evaluation_id"] = evaluation_id
        buf.append((t, "FeedbackGiven", data, t))

    def _trainings(self, d: int, buf: list, count: int) -> None:
        rng = self.rng
        for _ in range(count):
            r = rng.choice(self.active)
            t = self._rand_t(d)
            data = {"rep_id": r.id, "training": rng.choice(_TRAININGS)}
            buf.append((t, "TrainingCompleted", data, t))

    def _deals(self, d: int, buf: list, count: int) -> None:
        if not count:
            return
        rng = self.rng
        rnd = rng.random
        q = self.qof[d]
        for r in rng.choices(self.active, cum_weights=self.deal_cw, k=count):
            t = self._rand_t(d)
            deal_id = f"D-{self._next('D'):06d}"
            data = {"deal_id": deal_id, "rep_id": r.id}
            repeat = False
            if r.leads and rnd() < _FROM_LEAD:
                ld = r.leads
                j = int(rnd() * len(ld))
                lead_id, cust, _lt = ld[j]
                ld[j] = ld[-1]
                ld.pop()
                if cust is None:
                    cust = f"C-{self._next('C'):06d}"
                data["customer_id"] = cust
                data["lead_id"] = lead_id
            elif r.customers and rnd() < _REPEAT:
                cust = r.customers[int(rnd() * len(r.customers))]
                data["customer_id"] = cust
                repeat = True
            else:
                cust = f"C-{self._next('C'):06d}"
                data["customer_id"] = cust
            region = r.joined.region
            rf = self.region_f[region] * (1.0 + self.region_trend[region] * (q - 1.5))
            mu = math.log(r.amount * rf * (0.7 if repeat else 1.0) * (1.1 if q == 3 else 1.0))
            amount = min(_AMOUNT_MAX, max(_AMOUNT_MIN, math.exp(rng.gauss(mu, _AMOUNT_SIGMA))))
            cents = int(amount / 100 + 0.5) * 10000 if rnd() < 0.7 else int(amount * 100)
            data["expected_amount"] = _money(cents)
            deal = (deal_id, cust, t)
            r.open_deals.append(deal)
            buf.append((t, "DealOpened", data, t))
            # outcome, decided now, emitted when the deal closes
            p = r.win_p * rf + (0.15 if repeat else 0.0) + (0.04 if q == 3 else 0.0)
            won = rnd() < min(0.85, max(0.05, p))
            if won:
                median = 14.0 * (amount / 25000.0) ** 0.35 * (0.6 if repeat else 1.0)
                cycle = rng.lognormvariate(math.log(median), 0.6)
            else:
                cycle = rng.lognormvariate(math.log(20.0), 0.7)
            cycle *= _FLUSH[self.dates[d].month - 1]
            close = d + min(180, max(2, int(cycle + 0.5)))
            if close > self.last_day:
                continue  # still open at year end
            if won:
                cq = self.qof[close]
                # quarter-end push: some wins due early next quarter are pulled in
                if cq > 0 and close - self.q_first[cq] < 7 and rnd() < 0.35:
                    pulled = self._bday(self.q_first[cq] - 1, forward=False)
                    if pulled > d:
                        close = pulled
                if rnd() < 0.5:
                    won_cents = cents
                else:
                    won_cents = int(cents * rng.uniform(0.85, 1.08))
                    won_cents = won_cents // 10000 * 10000 if rnd() < 0.6 else won_cents
                    won_cents = min(max(won_cents, 300000), 20000000)
                self._at(self._bday(close), (5, "close", r, deal, won_cents, None))
            else:
                self._at(close, (5, "close", r, deal, None, rng.choice(_LOST_REASONS)))

    def _leads(self, d: int, buf: list, count: int) -> None:
        if not count:
            return
        rng = self.rng
        rnd = rng.random
        for r in rng.choices(self.active, cum_weights=self.deal_cw, k=count):
            t = self._rand_t(d)
            lead_id = f"L-{self._next('L'):06d}"
            data = {"lead_id": lead_id, "rep_id": r.id}
            cust = None
            if rnd() < 0.85:
                cust = f"C-{self._next('C'):06d}"
                data["customer_id"] = cust
            data["source"] = _LEAD_SOURCES[int(rnd() * len(_LEAD_SOURCES))]
            occ = t
            if rnd() < _BACKDATE_LEAD:
                b = t - rng.randint(1, 5) * _DAY
                if b >= r.first_t + 3600 and b >= self.first_day * _DAY:
                    occ = b
            buf.append((t, "LeadCreated", data, occ))
            r.leads.append((lead_id, cust, occ))
            if len(r.leads) > 60:
                r.leads.pop(0)  # stale leads drop out of the working pool

    # -- scheduled items (handlers) ---------------------------------------------------------
    def _h_close(self, d: int, buf: list, r: _Rep, deal: tuple, won_cents, reason) -> None:
        if r.state != "active":
            return
        rng = self.rng
        deal_id, cust, opened_t = deal
        with contextlib.suppress(ValueError):
            r.open_deals.remove(deal)
        t = self._rand_t(d)
        occ = t
        if rng.random() < _BACKDATE_CLOSE:
            b = t - rng.randint(1, 12) * _DAY
            if b >= opened_t + 3600:
                occ = b
        if won_cents is None:
            buf.append((t, "DealLost", {"deal_id": deal_id, "reason": reason}, occ))
            return
        buf.append((t, "DealWon", {"deal_id": deal_id, "amount": _money(won_cents)}, occ))
        q = self.qof[occ // _DAY]
        r.rev[q] += won_cents
        r.won[q] += 1
        best = self.best_deal[q]
        if best is None or won_cents > best[0]:
            self.best_deal[q] = (won_cents, r, deal_id)
        r.customers.append(cust)
        if len(r.customers) > 150:
            r.customers.pop(0)
        reps: tuple[_Rep, ...] = (r,)
        if rng.random() < _SPLIT:
            mates = [m for m in r.joined.members if m is not r and m.state == "active"]
            if not mates:
                mates = [m for m in self.active if m is not r]
            if mates:
                if len(mates) >= 2 and rng.random() < 0.15:
                    partners = rng.sample(mates, 2)
                    shares: tuple[str, ...] = ("0.4", "0.3", "0.3")
                else:
                    partners = [rng.choice(mates)]
                    shares = rng.choice((("0.5", "0.5"), ("0.6", "0.4"), ("0.7", "0.3")))
                reps = (r, *partners)
                self._at(d + rng.randint(1, 7), (5, "split", deal_id, reps, shares))
        low = won_cents
        if rng.random() < _CORRECT:
            new = int(won_cents * rng.uniform(0.85, 1.12))
            new = new // 100 * 100 if rng.random() < 0.5 else new
            new = min(max(new, 300000), 20000000)
            low = min(low, new)
            self._at(d + rng.randint(1, 20), (5, "correct", deal_id, reps, new, rng.choice(_CORRECTION_REASONS)))
        if rng.random() < _REFUND:
            first = low if rng.random() < 0.2 else int(low * rng.uniform(0.1, 0.6))
            first = max(1, first)
            day = d + rng.randint(3, 100)
            self._at(day, (5, "refund", deal_id, reps, first, rng.choice(_REFUND_REASONS)))
            rest = low - first
            if rest > 0 and rng.random() < 0.3:
                second = max(1, int(rest * rng.uniform(0.2, 1.0)))
                self._at(day + rng.randint(5, 40), (5, "refund", deal_id, reps, second, rng.choice(_REFUND_REASONS)))
        if won_cents >= 15000000 and rng.random() < 0.5:
            self._at(self._bday(d + 1), (5, "fb", r, "recognition", f"Congratulations on closing {deal_id}."))

    def _h_fu_done(self, d: int, buf: list, r: _Rep, fid: str, sched_t: int) -> None:
        if r.state != "active":
            return
        rng = self.rng
        t = self._rand_t(d)
        occ = t
        if rng.random() < _BACKDATE_FU:
            b = t - rng.randint(1, 4) * _DAY
            if b >= sched_t + 3600:
                occ = b
        r.fu_d[self.qof[d]] += 1
        buf.append((t, "FollowUpCompleted", {"followup_id": fid}, occ))

    def _h_split(self, d: int, buf: list, deal_id: str, reps: tuple, shares: tuple) -> None:
        if any(x.state != "active" for x in reps):
            return
        t = self._rand_t(d)
        splits = [{"rep_id": x.id, "share": s} for x, s in zip(reps, shares, strict=True)]
        buf.append((t, "DealCreditSplit", {"deal_id": deal_id, "splits": splits}, t))

    def _h_correct(self, d: int, buf: list, deal_id: str, reps: tuple, cents: int, reason: str) -> None:
        if any(x.state != "active" for x in reps):
            return
        t = self._rand_t(d)
        data = {"deal_id": deal_id, "amount": _money(cents), "reason": reason}
        buf.append((t, "DealAmountCorrected", data, t))

    def _h_refund(self, d: int, buf: list, deal_id: str, reps: tuple, cents: int, reason: str) -> None:
        if any(x.state != "active" for x in reps):
            return
        t = self._rand_t(d)
        data = {"deal_id": deal_id, "amount": _money(cents), "reason": reason}
        buf.append((t, "DealRefunded", data, t))

    def _h_fb(self, d: int, buf: list, r: _Rep, kind: str, text: str) -> None:
        if r.state == "active":
            self._emit_feedback(buf, self._rand_t(d), r, kind, text)

    def _h_training(self, d: int, buf: list, r: _Rep, training: str) -> None:
        if r.state == "active":
            t = self._rand_t(d)
            buf.append((t, "TrainingCompleted", {"rep_id": r.id, "training": training}, t))

    def _onboard(self, buf: list, rep: _Rep) -> None:
        t = self._admin_t()
        rep.state = "active"
        rep.first_t = t + 3600
        team = rep.joined
        data = {
            "rep_id": rep.id,
            "name": rep.name,
            "team_id": team.id,
            "region": team.region,
            "manager_id": team.manager,
        }
        buf.append((t, "RepOnboarded", data, t))
        self.dirty = True

    def _h_org(self, d: int, buf: list) -> None:
        for rep in self.reps:
            if rep.team is not None:
                self._onboard(buf, rep)
        first_month = f"{self.start:%Y-%m}"
        t = self._admin_t()
        buf.append(
            (
                t,
                "IncentivePlanPublished",
                {
                    "plan_id": "std",
                    "version": 1,
                    "effective_from": first_month,
                    "rules": copy.deepcopy(DEFAULT_PLAN_RULES),
                },
                t,
            )
        )
        t = self._admin_t()
        buf.append(
            (t, "IncentivePlanAssigned", {"scope": {"company": True}, "plan_id": "std", "from_period": first_month}, t)
        )
        self._h_targets(d, buf, 0)

    def _h_plan2(self, d: int, buf: list) -> None:
        rules = copy.deepcopy(DEFAULT_PLAN_RULES)
        for tier, rate in zip(rules["components"][0]["tiers"], _PLAN_V2_RATES, strict=True):
            tier["rate"] = rate
        t = self._admin_t()
        buf.append(
            (
                t,
                "IncentivePlanPublished",
                {
                    "plan_id": "std",
                    "version": 2,
                    "effective_from": f"{_months_after(self.start, 6):%Y-%m}",  # the seventh month
                    "rules": rules,
                },
                t,
            )
        )

    def _h_hire(self, d: int, buf: list, rep: _Rep) -> None:
        teams = sorted(self.teams, key=lambda tm: sum(1 for m in tm.members if m.state == "active"))
        rep.team = teams[0]
        rep.team.members.append(rep)
        self._onboard(buf, rep)

    def _h_transfers(self, d: int, buf: list) -> None:
        rng = self.rng
        candidates = [r for r in self.reps if r.state == "active"]
        rng.shuffle(candidates)
        moved, used_teams = 0, set()
        for r in candidates:
            if moved == 2:
                break
            src = r.joined
            if src.id in used_teams or sum(1 for m in src.members if m.state == "active") < 4:
                continue
            targets = [tm for tm in self.teams if tm.region != src.region] or [tm for tm in self.teams if tm is not src]
            dst = rng.choice(targets)
            src.members.remove(r)
            dst.members.append(r)
            r.team = dst
            r.transferred = True
            used_teams.add(src.id)
            t = self._admin_t()
            buf.append((t, "RepTransferred", {"rep_id": r.id, "team_id": dst.id, "region": dst.region}, t))
            moved += 1

    def _h_offboard(self, d: int, buf: list) -> None:
        candidates = [r for r in self.reps if r.state == "active" and not r.transferred and r not in self.hires]
        if not candidates:
            return
        r = min(candidates, key=lambda x: (x.skill, x.id))
        r.state = "gone"
        r.joined.members.remove(r)
        r.open_deals, r.leads, r.customers = [], [], []
        self.dirty = True
        t = self._admin_t()
        buf.append((t, "RepOffboarded", {"rep_id": r.id}, t))

    # -- targets ----------------------------------------------------------------------------
    def _period(self, q: int) -> str:
        first = _months_after(self.start, 3 * q)
        return f"{first.year}-Q{(first.month - 1) // 3 + 1}"

    def _target(self, buf: list, scope: dict, metric: str, period: str, value: str, reason: str | None = None) -> None:
        t = self._admin_t()
        data = {"scope": scope, "metric": metric, "period": period, "value": value}
        if reason:
            data["reason"] = reason
        buf.append((t, "TargetSet", data, t))

    def _h_targets(self, d: int, buf: list, q: int) -> None:
        rng, period, f = self.rng, self._period(q), self.f
        lag = 0.75 if q == 0 else 1.0
        comp = {"revenue": 0, "orders": 0, "new_customers": 0}
        region_rev: dict[str, int] = {}
        for team in self.teams:
            tsum = {"revenue": 0, "orders": 0, "new_customers": 0}
            for r in team.members:
                if r.state != "active":
                    continue
                rf = self.region_f[team.region]
                orders = _DEALS_PER_YEAR * f * r.deal_w * self.qw[q] * min(0.85, r.win_p * rf) * lag
                mean_amt = r.amount * rf * math.exp(_AMOUNT_SIGMA**2 / 2) * 0.93
                stretch = rng.uniform(0.95, 1.2)
                rev = max(1000, int(orders * mean_amt * stretch / 1000 + 0.5) * 1000)
                n_orders = max(1, int(orders * stretch + 0.5))
                n_new = max(1, int(orders * 0.75 * stretch + 0.5))
                r.targets[q] = rev * 100
                for metric, v in (("revenue", rev), ("orders", n_orders), ("new_customers", n_new)):
                    self._target(buf, {"rep": r.id}, metric, period, _money(v * 100) if metric == "revenue" else str(v))
                    tsum[metric] += v
            if not any(m.state == "active" for m in team.members):
                continue
            if team is self.inconsistent_team:  # deliberately not the sum of its reps'
                tsum["revenue"] = int(tsum["revenue"] * 1.2 / 1000 + 0.5) * 1000
                tsum["orders"] += 3
            team.targets = {}
            for metric, v in tsum.items():
                team.targets[(q, metric)] = v
                self._target(buf, {"team": team.id}, metric, period, _money(v * 100) if metric == "revenue" else str(v))
                comp[metric] += v
            region_rev[team.region] = region_rev.get(team.region, 0) + tsum["revenue"]
        for region in self.regions:
            if region in region_rev:
                self._target(buf, {"region": region}, "revenue", period, _money(region_rev[region] * 100))
        company = {"company": True}
        self._target(buf, company, "revenue", period, _money(comp["revenue"] * 100))
        self._target(buf, company, "orders", period, str(comp["orders"]))
        self._target(buf, company, "new_customers", period, str(comp["new_customers"]))
        aov = comp["revenue"] * 100 // max(1, comp["orders"])
        self._target(buf, company, "avg_order_value", period, _money(aov))
        self._target(buf, company, "win_rate", period, "0.42")
        self._target(buf, company, "conversion_rate", period, "0.25")
        acts = int(self.act_total * self.qw[q] + 0.5)
        self._target(buf, company, "activities", period, str(max(1, acts)))

    def _h_revise(self, d: int, buf: list, q: int) -> None:
        rng, period = self.rng, self._period(q)
        pool = [r for r in self.reps if r.state == "active" and q in r.targets]
        for r in rng.sample(pool, min(3, len(pool))):
            old = r.targets[q] // 100
            new = max(1000, int(old * rng.choice((0.85, 0.9, 1.1, 1.15)) / 1000 + 0.5) * 1000)
            reason = rng.choice(_REVISION_REASONS)
            r.targets[q] = new * 100
            self._target(buf, {"rep": r.id}, "revenue", period, _money(new * 100), reason)
            team = r.joined
            key = (q, "revenue")
            if key in team.targets:  # keep the team target equal to the sum of its reps'
                team.targets[key] += new - old
                self._target(buf, {"team": team.id}, "revenue", period, _money(team.targets[key] * 100), reason)
        if q == 2:
            total = sum(tm.targets.get((q, "revenue"), 0) for tm in self.teams)
            self._target(
                buf,
                {"company": True},
                "revenue",
                period,
                _money(int(total * 1.05 / 1000 + 0.5) * 100000),
                "board raised guidance",
            )

    # -- evaluations and awards -------------------------------------------------------------
    def _h_evals(self, d: int, buf: list, q: int) -> None:
        rng = self.rng
        days = [x for x in range(d, min(d + 10, self.last_day + 1)) if self.wd[x] < 5]
        for r in self.reps:
            if r.state == "active" and r.first_t < self.q_first[q + 1] * _DAY:
                self._at(rng.choice(days), (5, "eval", r, q))
        self._at(self._bday(d + 11), (5, "awards", q))

    def _h_eval(self, d: int, buf: list, r: _Rep, q: int) -> None:
        if r.state != "active":
            return
        rng = self.rng
        period = self._period(q)
        target = r.targets.get(q)
        att = r.rev[q] / target if target else 0.6 + 0.3 * r.skill
        fu_rate = r.fu_d[q] / r.fu_s[q] if r.fu_s[q] else 0.85
        score = int(min(100, max(0, 30 + 45 * min(att, 1.5) + rng.gauss(0, 6))))

        def around(x: float, sd: float = 8.0) -> int:
            return int(min(100, max(0, x + rng.gauss(0, sd))))

        process = {
            "prospecting": around(score + 10 * (r.deal_w - 1.0) * 5),
            "discovery": around(score),
            "negotiation": around(score + 8 * (r.skill - 1.0) * 5),
            "follow_up": around(40 + 55 * fu_rate),
        }
        k = 1 if score < 60 else 2
        swot = {
            "strengths": rng.sample(_STRENGTHS, 3 - k),
            "weaknesses": rng.sample(_WEAKNESSES, k + 1),
            "opportunities": rng.sample(_OPPORTUNITIES, rng.randint(1, 2)),
            "threats": rng.sample(_THREATS, rng.randint(1, 2)),
        }
        eval_id = f"EV-{r.id}-{period}"
        t = self._rand_t(d)
        summary = (
            f"{period}: {att:.0%} of revenue target, {r.won[q]} deals won; "
            f"strength: {swot['strengths'][0]}; focus: {swot['weaknesses'][0]}."
        )
        data = {
            "evaluation_id": eval_id,
            "rep_id": r.id,
            "period": period,
            "evaluator_id": r.joined.manager,
            "result_score": score,
            "process_scores": process,
            "swot": swot,
            "summary": summary,
        }
        buf.append((t, "EvaluationRecorded", data, t))
        if score >= 75:
            kind, text = "recognition", f"Strong {period}: {att:.0%} of target."
        elif score < 55:
            kind, text = "improvement", f"{period} below expectations: {swot['weaknesses'][0]}."
        else:
            kind, text = "coaching", rng.choice(_COACHING)
        self._emit_feedback(buf, t + rng.randint(600, 3600), r, kind, text, eval_id)
        if rng.random() < 0.4:
            self._emit_feedback(buf, t + rng.randint(3601, 7200), r, "coaching", rng.choice(_COACHING), eval_id)
        if score < 55:
            trainings = rng.sample(_TRAININGS, 2)
            start = datetime(self.start.year, self.start.month, 1, 10, tzinfo=self.zone)
            review = start + timedelta(days=min(d + 60, self.ndays - 1))
            data = {
                "improvement_plan_id": f"IP-{self._next('IP'):05d}",
                "rep_id": r.id,
                "goals": [
                    f"Reach 80% of the {self._period(min(q + 1, 3))} revenue target",
                    f"Address: {swot['weaknesses'][0]}",
                ],
                "trainings": trainings,
                "review_by": review.isoformat(),
            }
            buf.append((t + 7300, "ImprovementPlanSet", data, t + 7300))
            for name in trainings:
                if rng.random() < 0.8:
                    self._at(self._bday(d + rng.randint(10, 50)), (5, "training", r, name))

    def _h_awards(self, d: int, buf: list, q: int) -> None:
        period = self._period(q)
        best: dict[str, tuple] = {}
        for r in self.reps:
            if r.state != "active" or not r.targets.get(q) or not r.rev[q]:
                continue
            att = r.rev[q] / r.targets[q]
            region = r.joined.region
            if region not in best or att > best[region][0]:
                best[region] = (att, r)
        for region in self.regions:
            if region in best:
                att, r = best[region]
                t = self._admin_t()
                data = {
                    "rep_id": r.id,
                    "period": period,
                    "amount": "3000.00" if att >= 1.2 else "2000.00",
                    "reason": f"Top performer in {region} for {period}",
                }
                buf.append((t, "AwardGranted", data, t))

    def _h_award_q4(self, d: int, buf: list) -> None:
        best = self.best_deal[3]
        if best is None or best[1].state != "active":
            return
        t = self._admin_t()
        data = {
            "rep_id": best[1].id,
            "period": self._period(3),
            "amount": "2000.00",
            "reason": f"Deal of the quarter: {best[2]}",
        }
        buf.append((t, "AwardGranted", data, t))


# -- reviews of the improvement plans ---------------------------------------------------------------
class PlanReviews:
    """The reviews of the generated improvement plans whose review date has passed: recorded after
    the generated log, so that nothing of it changes (the same envelopes, ids and figures for a
    seed). Feed it every envelope `generate` yields (`observe`), then ask for the reviews.

    Each plan due by `now` is reviewed on its review date or up to three days before, by the
    manager who last evaluated its rep, as met or missed (final); the draws come from a random
    stream of their own, seeded from the generator's seed.
    """

    def __init__(self, seed: int, now: datetime):
        if now.utcoffset() is None:
            raise ValueError(f"now must be a timezone-aware datetime, got {now!r}")
        self.seed = seed
        self.now = now
        self.rng = random.Random(f"perfledger-generator/{seed}/plan-reviews")
        self.plans: list[tuple[datetime, dict]] = []  # (set at, the plan's data)
        self.evaluator: dict[str, str] = {}  # rep → the manager of their latest evaluation

    def observe(self, envelope: dict) -> None:
        typ, data = envelope["type"], envelope["data"]
        if typ == "EvaluationRecorded":
            self.evaluator[data["rep_id"]] = data["evaluator_id"]
        elif typ == "ImprovementPlanSet":
            self.plans.append((datetime.fromisoformat(envelope["occurred_at"]), data))

    def envelopes(self) -> list[dict]:
        rng, found = self.rng, []
        for set_at, plan in self.plans:
            due = datetime.fromisoformat(plan["review_by"])
            if due > self.now:
                continue
            at = max(set_at, due - timedelta(days=rng.randint(0, 3)))
            met = rng.random() < 0.55
            found.append(
                {
                    "type": "ImprovementPlanReviewed",
                    "event_id": f"gen-review-{plan['improvement_plan_id']}",
                    "occurred_at": at.isoformat(),
                    "data": {
                        "improvement_plan_id": plan["improvement_plan_id"],
                        "rep_id": plan["rep_id"],
                        "reviewer_id": self.evaluator.get(plan["rep_id"], "M-demo"),
                        "outcome": "met" if met else "missed",
                        "note": "goals reached" if met else "goals not reached by the review date",
                    },
                }
            )
        return found
