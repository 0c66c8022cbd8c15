"""`perfledger person erase|export` and `perfledger retention`: a person's data under PIPL and
the GDPR — erase it (irreversibly), give them everything the ledger holds about them, and erase
what the retention policy says is due."""

from __future__ import annotations

from typing import Annotated

import typer

from api.cli_common import actor, fail, load_settings, open_store, out, speaker
from ledger.schemas import ERASURE_GROUNDS

person_app = typer.Typer(help="A person's data: erase it, or export everything held about them.", no_args_is_help=True)

YesOption = Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation (scripts).")]


def erase(
    rep_id: Annotated[str, typer.Argument(help="The rep whose personal data is erased, e.g. R-0001.")],
    requested_by: Annotated[str, typer.Option("--requested-by", help="Who asked: the rep, HR, … (an id).")],
    ground: Annotated[
        str, typer.Option("--ground", help=f"Why: {', '.join(ERASURE_GROUNDS)}.", show_default=True)
    ] = "request",
    yes: YesOption = False,
    by: Annotated[
        str | None, typer.Option("--by", help="Who the ledger records as erasing (default: cli:USER).")
    ] = None,
) -> None:
    """Erase a rep's personal data: destroy their key and record PersonalDataErased. IRREVERSIBLE:
    their name and the texts about them read as [erased] everywhere from then on; their figures,
    payouts and the hash chain do not change."""
    from services.erasure import ErasureRefused, erase_person

    settings = load_settings()
    say = speaker(settings)
    if ground not in ERASURE_GROUNDS:
        fail(
            say._("unknown ground {ground!r}; use one of: {grounds}", ground=ground, grounds=", ".join(ERASURE_GROUNDS))
        )
    warning = say._(
        "Erasing the personal data of {rep} cannot be undone: their name, evaluations, feedback, "
        "improvement plans and dispute texts will read as [erased] for good (backups taken before "
        "keep them until they are destroyed). Their figures and payouts stay.",
        rep=rep_id,
    )
    out.print(warning, highlight=False)
    if not yes and not typer.confirm(say._("Erase {rep} now?", rep=rep_id), default=False):
        fail(say._("nothing was erased"))
    with open_store(settings) as (ledger, engine):
        try:
            done = erase_person(
                ledger, engine, rep_id, requested_by=requested_by, ground=ground, actor=by or actor("cli")
            )
        except ErasureRefused as refused:
            fail(str(refused))
    out.print(
        say._("Erased the personal data of {rep} (position {position}).", rep=done.rep_id, position=done.position),
        highlight=False,
    )


person_app.command("erase")(erase)
