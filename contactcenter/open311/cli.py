"""``contactcenter open311 ...``: client keys and service attributes, for administrators."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import sqlalchemy as sa
import yaml
from flask.cli import with_appcontext
from sqlalchemy.orm import Session

from contactcenter.db import get_db
from contactcenter.errors import DomainError
from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.jurisdictions.service import service_type_by_code


@click.group("open311")
def open311_cli() -> None:
    """Open311 GeoReport v2: client API keys and service attributes."""


def _jurisdiction(session: Session, slug: str) -> Jurisdiction:
    found = session.scalars(sa.select(Jurisdiction).where(Jurisdiction.slug == slug)).one_or_none()
    if found is None:
        raise click.UsageError(f"no jurisdiction {slug!r}")
    return found


def _fail(exc: DomainError) -> click.ClickException:
    details = "".join(f"\n  {name}: {problem}" for name, problem in exc.fields.items())
    return click.ClickException(f"{exc.message}{details}")


@open311_cli.command("issue-key")
@with_appcontext
@click.option("--jurisdiction", "slug", required=True, help="The jurisdiction's slug.")
@click.option("--name", required=True, help="Who uses the key (an app, an organization).")
@click.option("--email", default="", help="Whom to contact about the key.")
@click.option("--per-minute", default=60, show_default=True, help="Requests a minute allowed.")
def issue_key_command(slug: str, name: str, email: str, per_minute: int) -> None:
    """Issue an API key for posting requests; it is printed this once and never again."""
    from contactcenter.open311.clients import issue_key

    with get_db().session() as session:
        try:
            client, key = issue_key(
                session,
                _jurisdiction(session, slug),
                name=name,
                contact_email=email,
                requests_per_minute=per_minute,
            )
        except DomainError as exc:
            raise _fail(exc) from None
        session.commit()
        click.echo(f"client {client.id} ({client.name}), {per_minute} requests a minute")
        click.echo(f"api_key: {key}")
        click.echo("Keep it now: only its hash is stored.")


@open311_cli.command("revoke-key")
@with_appcontext
@click.argument("client_id", type=int)
def revoke_key_command(client_id: int) -> None:
    """Revoke client CLIENT_ID's key at once."""
    from contactcenter.open311.clients import revoke_key

    with get_db().session() as session:
        ids = list(session.scalars(sa.select(Jurisdiction.id)))
        try:
            client = revoke_key(session, ids, client_id)
        except DomainError as exc:
            raise _fail(exc) from None
        session.commit()
        when = f"{client.revoked_at:%Y-%m-%d %H:%M} UTC" if client.revoked_at else ""
        click.echo(f"client {client.id} ({client.name}): key revoked {when}")


@open311_cli.command("keys")
@with_appcontext
@click.option("--jurisdiction", "slug", required=True, help="The jurisdiction's slug.")
def keys_command(slug: str) -> None:
    """List the jurisdiction's clients: id, key prefix, rate, last use, revoked or not."""
    from contactcenter.open311.clients import list_clients

    with get_db().session() as session:
        clients = list_clients(session, [_jurisdiction(session, slug).id])
        if not clients:
            click.echo("no Open311 clients")
        for c in clients:
            used = f"{c.last_used_at:%Y-%m-%d %H:%M}" if c.last_used_at else "never used"
            state = f"revoked {c.revoked_at:%Y-%m-%d}" if c.revoked_at else "active"
            click.echo(
                f"{c.id}\t{c.key_prefix}…\t{c.name}\t{c.contact_email or '-'}\t"
                f"{c.requests_per_minute}/min\t{used}\t{state}"
            )


def _load(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise click.UsageError(f"{path}: {exc}") from None
    if isinstance(data, dict) and set(data) == {"attributes"}:
        data = data["attributes"]
    return [] if data is None else data


@open311_cli.command("attributes")
@with_appcontext
@click.option("--jurisdiction", "slug", required=True, help="The jurisdiction's slug.")
@click.option(
    "--load",
    "path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Replace the attributes with this YAML or JSON list of {code, datatype, description, "
    "required, variable, order, datatype_description, values: [{key, name}]}.",
)
@click.argument("service_code")
def attributes_command(slug: str, path: Path | None, service_code: str) -> None:
    """Show SERVICE_CODE's attributes as YAML, or replace them with --load FILE."""
    from contactcenter.open311.attributes import attribute_json, attributes_of, set_attributes

    with get_db().session() as session:
        jurisdiction = _jurisdiction(session, slug)
        service_type = service_type_by_code(
            session, jurisdiction.id, service_code, active_only=False
        )
        if service_type is None:
            raise click.UsageError(f"no service type {service_code!r} in {slug}")
        if path is not None:
            try:
                set_attributes(session, service_type, _load(path))
            except DomainError as exc:
                raise _fail(exc) from None
            session.commit()
        attributes = attributes_of(session, [service_type.id])[service_type.id]
        if not attributes:
            click.echo(f"# {service_code} asks no attributes")
            return
        listing = [attribute_json(a) for a in attributes]
        click.echo(yaml.safe_dump(listing, sort_keys=False, allow_unicode=True), nl=False)
