"""``contactcenter ivr ...``: check and load menus, and walk a menu the way Twilio would."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click
import sqlalchemy as sa
from flask.cli import with_appcontext

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from contactcenter.jurisdictions.models import Jurisdiction


@click.group("ivr")
def ivr_cli() -> None:
    """The voice menu (IVR): check, load, show and simulate calls."""


INPUT_HINT = "digits, words, empty for silence, !hangup"


@ivr_cli.command("simulate")
@with_appcontext
@click.option("--url", default="", help="A running server (default: this app, in-process).")
@click.option("--to", default="", help="The number called (default: the demo city's).")
@click.option("--from", "from_", default="+16135550100", show_default=True)
@click.option("--input", "script", default="", help='For example: 1,2,"123 main street",!hangup')
def simulate(url: str, to: str, from_: str, script: str) -> None:
    """Call the IVR the way Twilio would and print what the caller hears and does.

    Each input is keys (digits, * and #), words (speech), an empty field (silence), !wait (keep
    waiting in the queue) or !hangup. When they run out you are asked at the keyboard, if this
    is a terminal; otherwise the caller hangs up. A server with PUBLIC_BASE_URL is called at that
    URL: Twilio signs it.
    """
    import csv
    import sys

    from flask import current_app

    from channels.twilio_client import DEV_ACCOUNT_SID
    from contactcenter.config import Settings
    from contactcenter.demo import DEMO_VOICE_NUMBER
    from ivr.simulator import CallWalker, FlaskTransport, HttpTransport, Transport, WalkError

    settings: Settings = current_app.config["SETTINGS"]
    transport: Transport = HttpTransport() if url else FlaskTransport(current_app.test_client())
    walker = CallWalker(
        transport=transport,
        auth_token=settings.twilio_auth_token,
        account_sid=settings.twilio_account_sid or DEV_ACCOUNT_SID,
        base_url=url or settings.public_base_url or "http://localhost",
        to=to or DEMO_VOICE_NUMBER,
        from_=from_,
        inputs=next(csv.reader([script], skipinitialspace=True)) if script else [],
        ask=_ask_at_the_keyboard if sys.stdin.isatty() else None,
        echo=click.echo,
    )
    try:
        walker.call()
        if walker.state == "in_queue":
            click.echo("[no agent answered while the caller waited: the caller hangs up]")
            walker.hang_up()
    except WalkError as exc:
        raise click.ClickException(f"the call stopped: {exc}") from exc


def _ask_at_the_keyboard(prompt: str) -> str:
    answer: str = click.prompt(f"{prompt} ({INPUT_HINT})", default="", show_default=False)
    return answer


def _read_menu_file(path: Path) -> str:
    """The file's text; no more than the menu limit is read, so a huge file is refused cheaply."""
    from ivr.flows import MAX_SOURCE_BYTES

    with path.open("rb") as handle:
        raw = handle.read(MAX_SOURCE_BYTES + 1)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        if len(raw) > MAX_SOURCE_BYTES:  # cut inside a character: let the size check speak
            return raw.decode("utf-8", errors="replace")
        _fail([f"The menu file is not UTF-8 text: {path}"])


def _fail(problems: list[str]) -> NoReturn:
    for problem in problems:
        click.echo(f"- {problem}")
    sys.exit(1)


def _jurisdiction(session: Session, slug: str) -> Jurisdiction:
    from contactcenter.jurisdictions.models import Jurisdiction

    found = session.scalars(sa.select(Jurisdiction).where(Jurisdiction.slug == slug)).one_or_none()
    if found is None:
        raise click.UsageError(f"no jurisdiction {slug}")
    return found


MENU_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@ivr_cli.command("check")
@with_appcontext
@click.argument("file", type=MENU_FILE)
@click.option("--jurisdiction", "slug", help="Also check the queues, calendars... it names.")
def check(file: Path, slug: str | None) -> None:
    """Check a menu FILE (YAML or JSON) without loading it; exit 1 listing every problem."""
    from contactcenter.db import get_db
    from ivr.menu_store import checked_menu

    source = _read_menu_file(file)
    with get_db().session() as session:
        jurisdiction = _jurisdiction(session, slug) if slug else None
        menu, problems = checked_menu(session, jurisdiction, source)
    if menu is None:
        _fail(problems)
    click.echo(f"menu OK: {len(menu.nodes)} nodes, languages {', '.join(menu.languages)}")


@ivr_cli.command("load")
@with_appcontext
@click.argument("file", type=MENU_FILE)
@click.option("--jurisdiction", "slug", required=True)
def load(file: Path, slug: str) -> None:
    """Make a menu FILE the jurisdiction's live menu (a new version; old ones are kept)."""
    from contactcenter.db import get_db
    from contactcenter.errors import Invalid
    from ivr.menu_store import install_menu

    source = _read_menu_file(file)
    with get_db().session() as session:
        jurisdiction = _jurisdiction(session, slug)
        try:
            row = install_menu(session, jurisdiction, source)
        except Invalid as exc:
            _fail(list(exc.fields.get("menu") or [exc.message]))
        session.commit()
        click.echo(f"jurisdiction {slug}: menu version {row.version} is live")


@ivr_cli.command("show")
@with_appcontext
@click.option("--jurisdiction", "slug", required=True)
@click.option("--version", type=click.IntRange(min=1), help="Default: the live version.")
def show(slug: str, version: int | None) -> None:
    """Print a menu file exactly as it was loaded."""
    from contactcenter.db import get_db
    from ivr.menu_store import live_menu, menu_version

    with get_db().session() as session:
        jurisdiction = _jurisdiction(session, slug)
        if version is None:
            row = live_menu(session, jurisdiction.id)
        else:
            row = menu_version(session, jurisdiction.id, version)
        if row is None:
            which = f"version {version}" if version is not None else "menu"
            raise click.ClickException(f"jurisdiction {slug} has no {which}")
        click.echo(row.source, nl=not row.source.endswith("\n"))
