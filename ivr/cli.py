"""``contactcenter ivr ...``: check and load menus, and walk a menu the way Twilio would."""

from __future__ import annotations

import click
from flask.cli import with_appcontext


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
