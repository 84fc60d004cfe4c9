"""``contactcenter ivr ...``: check and load menus, and walk a menu the way Twilio would."""

from __future__ import annotations

import click


@click.group("ivr")
def ivr_cli() -> None:
    """The voice menu (IVR): check, load, show and simulate calls."""
