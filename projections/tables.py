"""The projected tables: defined with SQLAlchemy Core, living in the ledger's own database.

Conventions, the same in every table:
- times are BIGINT microseconds since the epoch, UTC: `occurred_us` (business time), `recorded_us`
  (knowledge time of the event that wrote the row); a row is visible at `known_at = K` exactly
  when `recorded_us <= K`, and a query at `as_of = A` tests the row's business time against A;
- `position` is the log position of the event that wrote the row (`sources` lists every event
  the row's figure depends on, as space-separated positions);
- money is BIGINT cents (exact on SQLite, which has no decimal type), returned as Decimal;
- credit shares are BIGINT parts per billion (`*_ppb`; 1_000_000_000 = the whole deal), so that
  share-weighted counts sum exactly on every backend.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    text,
)

metadata = MetaData()

# Bump when a projected table changes shape or meaning: stored projections of another version
# are dropped and replayed from the log (runner.ensure_schema).
SCHEMA_VERSION = "11"

# SQLite makes "INTEGER PRIMARY KEY" the rowid itself: the cheapest key to append to.
Position = BigInteger().with_variant(Integer(), "sqlite")
Id = String(64)


def _position_key() -> Column:
    return Column("position", Position, primary_key=True, autoincrement=False)


def _times() -> list[Column]:
    return [Column("occurred_us", BigInteger, nullable=False), Column("recorded_us", BigInteger, nullable=False)]


projection_meta = Table(
    "projection_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", String(200), nullable=False),
)

tracking = Table(
    "projection_tracking",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("position", BigInteger, nullable=False),
)

# ---------------------------------------------------------------- organisation

reps = Table(
    "reps",
    metadata,
    Column("rep_id", Id, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("manager_id", Id),
    _position_key(),
    *_times(),
)

# One row per RegionCreated: the regions of the company.
regions = Table(
    "regions",
    metadata,
    Column("region", String(200), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("director_id", Id),
    Column("position", Position, nullable=False),
    *_times(),
)

# One row per TeamCreated: the team's region (a team never created has none here).
teams = Table(
    "teams",
    metadata,
    Column("team_id", Id, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("region", String(200), nullable=False),
    Column("manager_id", Id),
    Column("position", Position, nullable=False),
    *_times(),
    Index("teams_region", "region"),
)

# One row per RepLevelSet: a rep's level from its business time on.
rep_levels = Table(
    "rep_levels",
    metadata,
    _position_key(),
    Column("rep_id", Id, nullable=False),
    Column("level", String(32), nullable=False),
    *_times(),
    Index("rep_levels_rep", "rep_id", "occurred_us"),
)

# One row per RepOnboarded / RepTransferred / RepOffboarded; team_id or region NULL = unchanged.
memberships = Table(
    "memberships",
    metadata,
    _position_key(),
    Column("rep_id", Id, nullable=False),
    Column("kind", String(16), nullable=False),  # onboarded | transferred | offboarded
    Column("team_id", Id),
    Column("region", String(200)),
    *_times(),
    Index("memberships_rep", "rep_id", "occurred_us"),
    Index("memberships_team", "team_id"),
    Index("memberships_region", "region"),
)

# ---------------------------------------------------------------- sales: fold state

STILL_OPEN = text("outcome IS NULL")  # a deal neither won nor lost yet: the `deals_open` index
# A deal's state as the log stands at the tracked position: what the next event of the deal
# needs to know (amount, shares, refunds) to write its deltas.
deals = Table(
    "deals",
    metadata,
    Column("deal_id", Id, primary_key=True),
    Column("rep_id", Id, nullable=False),
    Column("customer_id", Id, nullable=False),
    Column("lead_id", Id),
    Column("opened_us", BigInteger, nullable=False),
    Column("opened_position", BigInteger, nullable=False),
    Column("expected_cents", BigInteger),
    Column("outcome", String(8)),  # won | lost | NULL (open)
    Column("closed_us", BigInteger),
    Column("closed_position", BigInteger),
    Column("won_cents", BigInteger),
    Column("correction_position", BigInteger),
    Column("refunds", Text, nullable=False),  # JSON [[occurred_us, cents, position], …]
    Column("shares", Text),  # JSON [[rep_id, ppb], …]; NULL = all to the deal's rep
    Column("split_position", BigInteger),
    Column("is_first", Boolean, nullable=False),  # the customer's first win, as known now
    # when the opening and the win or loss were recorded: which deals were open as known at K
    # (a deal is won or lost once, so its outcome is never revised: the forecast's pipeline)
    Column("opened_recorded_us", BigInteger, nullable=False),
    Column("closed_recorded_us", BigInteger),
    Column("netted", Boolean, nullable=False),  # a split or an unfirst netted its facts (deal_facts.netted)
    Index("deals_lead", "lead_id", info={"fold": True}),  # the sales fold reads through it
    # the pipeline: the deals still open, by rep, with what a rep's pipeline is made of (read
    # from the index alone, a rep after another: `accel.open_deals_in_sql`)
    Index(
        "deals_open",
        "rep_id",
        "opened_us",
        "expected_cents",
        "opened_recorded_us",
        sqlite_where=STILL_OPEN,
        postgresql_where=STILL_OPEN,
    ),
    Index("deals_rep", "rep_id", "opened_us"),  # a rep's deals (`pipeline.rep_deals`)
    Index("deals_closed", "closed_us"),  # … and deals closed after as_of
    Index("deals_closed_known", "closed_recorded_us"),  # … or known closed only after known_at
    Index("deals_customer", "customer_id"),  # who holds a customer (authorising a write that names it)
)

customers = Table(
    "customers",
    metadata,
    Column("customer_id", Id, primary_key=True),
    Column("first_deal_id", Id, nullable=False),
    Column("first_won_us", BigInteger, nullable=False),
    Column("first_position", BigInteger, nullable=False),
)

# ---------------------------------------------------------------- sales: facts

# Signed contributions: the figure of any window is the SUM of the rows in it, and the rows
# known at K sum to what a store holding only the events recorded up to K would give.
# The kinds of fact that give a (rep, deal) pair a second share in a column: a split moves the
# deal's shares between reps, an unfirst takes a new-customer share back. Without one in a
# window, each pair has at most one fact with a share in each column there (its win or its loss;
# corrections and refunds carry money only), so its count is its facts' count.
NETTING_KINDS = ("split", "unfirst")
# The facts kept apart from their rep's fact counts (`facts.pairs_apart`): every fact of a deal a
# split or an unfirst ever netted (`netted`), and each share of less than one whole deal.
# In parentheses: a query ANDs it with its own conditions, word for word (SQLite then uses the index).
APART = text("(netted OR (won_ppb > 0 AND won_ppb < 1000000000) OR (lost_ppb > 0 AND lost_ppb < 1000000000))")
deal_facts = Table(
    "deal_facts",
    metadata,
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("seq", SmallInteger, primary_key=True, autoincrement=False),
    Column("rep_id", Id, nullable=False),
    Column("deal_id", Id, nullable=False),
    Column("kind", String(16), nullable=False),  # won lost corrected refunded split unfirst
    *_times(),
    Column("won_cents", BigInteger, nullable=False),
    Column("refund_cents", BigInteger, nullable=False),
    Column("won_ppb", BigInteger, nullable=False),
    Column("lost_ppb", BigInteger, nullable=False),
    Column("new_customer_ppb", BigInteger, nullable=False),
    Column("cycle_us", BigInteger),
    Column("deal_count", SmallInteger, nullable=False),  # 1 on one row per won deal (its win), else 0
    Column("sources", Text, nullable=False),
    # a fact of a deal a split or an unfirst netted, as known now: set on the deal's earlier facts
    # by its first (`folds.sales`), so the deal's every fact is in the `deal_facts_apart` index
    Column("netted", Boolean, nullable=False),
    Index("deal_facts_rep_time", "rep_id", "occurred_us"),
    Index("deal_facts_time", "occurred_us"),
    # the company's won deals (sales cycles) without touching the table
    Index(
        "deal_facts_wins",
        "occurred_us",
        "recorded_us",
        "cycle_us",
        sqlite_where=text("deal_count = 1"),
        postgresql_where=text("deal_count = 1"),
    ),
    # the few facts that keep a deal's counts apart from its rep's fact counts (APART), read by
    # business time alone: `facts.pairs_apart`
    Index("deal_facts_apart", "occurred_us", "deal_id", sqlite_where=APART, postgresql_where=APART),
    # a deal's facts: the sales fold flags them netted through it (a rebuild keeps it)
    Index("deal_facts_deal", "deal_id", "occurred_us", info={"fold": True}),
)

leads = Table(
    "leads",
    metadata,
    Column("lead_id", Id, primary_key=True),
    Column("rep_id", Id, nullable=False),
    Column("customer_id", Id),
    Column("source", String(200)),
    Column("created_us", BigInteger, nullable=False),
    Column("recorded_us", BigInteger, nullable=False),
    Column("position", BigInteger, nullable=False),
    # fold state: the lead's earliest won deal as known now
    Column("converted_deal_id", Id),
    Column("converted_won_us", BigInteger),
    Column("converted_position", BigInteger),
    Index("leads_rep_time", "rep_id", "created_us"),
    Index("leads_time", "created_us", "recorded_us"),
    Index("leads_position", "position"),
    Index("leads_customer", "customer_id"),  # who holds a customer (authorising a write that names it)
)

# +1 when a lead's deal is first won, -1/+1 when an earlier win of the lead becomes known.
lead_conversions = Table(
    "lead_conversions",
    metadata,
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("seq", SmallInteger, primary_key=True, autoincrement=False),
    Column("lead_id", Id, nullable=False),
    Column("rep_id", Id, nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("won_us", BigInteger, nullable=False),
    Column("recorded_us", BigInteger, nullable=False),
    Column("delta", SmallInteger, nullable=False),
    Column("sources", Text, nullable=False),
    Index("lead_conversions_rep_time", "rep_id", "created_us"),
    Index("lead_conversions_time", "created_us", "won_us", "recorded_us", "delta"),
)

# ---------------------------------------------------------------- company rollups

# Company-wide sums by hour of business time and block of log positions (see rollups.py): a
# company KPI reads a few thousand rollup rows instead of every fact of the period.
_sums = [
    Column(name, BigInteger, nullable=False, default=0)
    for name in ("won_cents", "refund_cents", "won_ppb", "lost_ppb", "new_customer_ppb", "leads")
]
sales_hours = Table(
    "sales_hours",
    metadata,
    Column("hour_us", BigInteger, primary_key=True, autoincrement=False),
    Column("block", BigInteger, primary_key=True, autoincrement=False),
    *_sums,
)
activity_hours = Table(
    "activity_hours",
    metadata,
    Column("hour_us", BigInteger, primary_key=True, autoincrement=False),
    Column("block", BigInteger, primary_key=True, autoincrement=False),
    *[
        Column(kind, BigInteger, nullable=False, default=0)
        for kind in ("call", "visit", "email", "meeting", "demo", "other")
    ],
    Column("replied", BigInteger, nullable=False, default=0),
)


def _span_key() -> list[Column]:
    return [
        Column("span", SmallInteger, primary_key=True, autoincrement=False),  # days
        Column("day", Integer, primary_key=True, autoincrement=False),  # its first, in days since 1970-01-01 UTC
        Column("rep_id", Id, primary_key=True),
    ]


# Each rep's sums by aligned span of business days (4, 16, 64 and 256 days: see
# folds/rep_rollups.py): a list of every rep reads a few rows a rep instead of every fact of a
# quarter or a year. Counts are of fact rows (a share above zero), not of deals.
rep_deal_spans = Table(
    "rep_deal_spans",
    metadata,
    *_span_key(),
    *[
        Column(name, BigInteger, nullable=False, default=0)
        for name in (
            "won_cents",
            "refund_cents",
            "won_facts",  # facts with won_ppb > 0
            "lost_facts",
            "new_customer_facts",
            "cycle_us",  # the sales cycles of the wins that count a deal (deal_count = 1)
            "cycles",
        )
    ],
)
rep_activity_spans = Table(
    "rep_activity_spans",
    metadata,
    *_span_key(),
    Column("activities", BigInteger, nullable=False, default=0),
)
# The knowledge time each block of positions spans: which blocks a read at known_at = K knows
# completely (use their rollups), which one it knows in part (read its rows), which not at all.
knowledge_blocks = Table(
    "knowledge_blocks",
    metadata,
    Column("block", BigInteger, primary_key=True, autoincrement=False),
    Column("first_recorded_us", BigInteger, nullable=False),
    Column("last_recorded_us", BigInteger, nullable=False),
)

# ---------------------------------------------------------------- activity

activities = Table(
    "activities",
    metadata,
    _position_key(),
    Column("activity_id", Id, nullable=False),
    Column("rep_id", Id, nullable=False),
    Column("kind", String(8), nullable=False),
    Column("replied", SmallInteger),  # emails: 1 replied, 0 not (or not said); other kinds NULL
    *_times(),
    Index("activities_rep_time", "rep_id", "occurred_us", "recorded_us", "kind", "replied"),
    Index("activities_time", "occurred_us"),
)

followups = Table(
    "followups",
    metadata,
    Column("followup_id", Id, primary_key=True),
    Column("rep_id", Id, nullable=False),
    Column("due_us", BigInteger, nullable=False),
    Column("deal_id", Id),
    Column("lead_id", Id),
    Column("position", BigInteger, nullable=False),
    *_times(),
    # the completion is a fact of its own, with its own business and knowledge time
    Column("completed_us", BigInteger),
    Column("completed_recorded_us", BigInteger),
    Column("completed_position", BigInteger),
    Index("followups_rep_due", "rep_id", "due_us"),
    Index("followups_due", "due_us", "occurred_us", "recorded_us", "completed_us", "completed_recorded_us"),
)

# ---------------------------------------------------------------- targets and people

target_revisions = Table(
    "target_revisions",
    metadata,
    _position_key(),
    Column("scope_key", String(220), nullable=False),  # rep:R-1 | team:T-1 | region:East | company
    Column("metric", String(32), nullable=False),
    Column("period", String(8), nullable=False),
    Column("value", String(64), nullable=False),  # the exact decimal as written
    Column("reason", Text),
    Column("allocation_id", Id),
    *_times(),
    Index("target_revisions_period_scope", "period", "scope_key", "position"),
)

rep_timeline = Table(
    "rep_timeline",
    metadata,
    _position_key(),
    Column("rep_id", Id, nullable=False),
    # evaluation | feedback | improvement_plan | plan_review | training_assigned | training | recognition
    Column("kind", String(20), nullable=False),
    Column("item_id", Id),
    *_times(),
    Column("payload", Text, nullable=False),  # the event's data as JSON
    Index("rep_timeline_rep", "rep_id", "occurred_us"),
)

# ---------------------------------------------------------------- incentives (read by payouts)

plan_versions = Table(
    "plan_versions",
    metadata,
    _position_key(),
    Column("plan_id", Id, nullable=False),
    Column("version", Integer, nullable=False),
    Column("effective_from", String(8), nullable=False),
    Column("rules", Text, nullable=False),  # JSON, as validated by the write side
    *_times(),
    Index("plan_versions_plan", "plan_id", "version"),
)

plan_assignments = Table(
    "plan_assignments",
    metadata,
    _position_key(),
    Column("scope_key", String(220), nullable=False),
    Column("plan_id", Id, nullable=False),
    Column("from_period", String(8), nullable=False),
    *_times(),
    Index("plan_assignments_scope", "scope_key"),
)

awards = Table(
    "awards",
    metadata,
    _position_key(),
    Column("rep_id", Id, nullable=False),
    Column("period", String(8), nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("reason", Text, nullable=False),
    *_times(),
    Index("awards_rep", "rep_id", "period"),
)

payout_approvals = Table(
    "payout_approvals",
    metadata,
    _position_key(),
    Column("rep_id", Id, nullable=False),
    Column("period", String(8), nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("plan_id", Id, nullable=False),
    Column("plan_version", Integer, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("known_at_us", BigInteger),
    *_times(),
    Index("payout_approvals_rep", "rep_id", "period"),
)

payout_adjustments = Table(
    "payout_adjustments",
    metadata,
    _position_key(),
    Column("rep_id", Id, nullable=False),
    Column("period", String(8), nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("reason", Text, nullable=False),
    Column("replay_id", Id),
    *_times(),
    Index("payout_adjustments_rep", "rep_id", "period"),
)

period_closes = Table(
    "period_closes",
    metadata,
    _position_key(),
    Column("period", String(8), nullable=False),
    Column("head", String(64)),
    Column("head_position", BigInteger),
    *_times(),
    Index("period_closes_period", "period"),
)
