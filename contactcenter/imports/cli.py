"""``contactcenter import ...`` and ``contactcenter export ...``: 311 history in and out."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO

import click
import sqlalchemy as sa
from flask.cli import with_appcontext
from sqlalchemy.orm import Session

from contactcenter.db import get_db
from contactcenter.jurisdictions.models import Jurisdiction


def _jurisdiction(session: Session, slug: str) -> Jurisdiction:
    jurisdiction = session.scalars(
        sa.select(Jurisdiction).where(Jurisdiction.slug == slug)
    ).one_or_none()
    if jurisdiction is None:
        raise click.ClickException(f"no jurisdiction {slug!r}")
    return jurisdiction


@click.group("import")
def import_cli() -> None:
    """Bulk-load historical service requests (New York's 311 open-data layout)."""


@import_cli.command("nyc")
@with_appcontext
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--jurisdiction", "slug", required=True, help="The jurisdiction's slug.")
@click.option(
    "--mapping",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML: agencies -> department codes, complaint types -> service type codes.",
)
@click.option(
    "--no-create-missing",
    is_flag=True,
    help="Reject rows of agencies and complaint types we have no department or service type for.",
)
@click.option(
    "--rejects",
    type=click.Path(dir_okay=False, path_type=Path),
    help="CSV of rejected rows (default: <file>.import-<run>.rejects.csv here).",
)
@click.option("--batch-size", default=10_000, show_default=True, type=click.IntRange(1, 200_000))
@click.option("--again", is_flag=True, help="Import a file a finished run already imported.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def import_nyc_command(
    file: Path,
    slug: str,
    mapping: Path | None,
    no_create_missing: bool,
    rejects: Path | None,
    batch_size: int,
    again: bool,
    quiet: bool,
) -> None:
    """Import FILE, in New York's 311 open-data layout, into a jurisdiction.

    Idempotent on the Unique Key and resumable: run it again after an interruption and it
    carries on from the last committed batch.
    """
    from tqdm import tqdm

    from contactcenter.imports.mapping import parse_mapping
    from contactcenter.imports.service import ImportOptions, import_nyc

    try:
        parsed_mapping = parse_mapping(mapping.read_text(encoding="utf-8")) if mapping else None
    except (ValueError, UnicodeDecodeError) as exc:
        raise click.ClickException(str(exc)) from exc
    options = ImportOptions(
        mapping=parsed_mapping,
        create_missing=not no_create_missing,
        rejects_path=rejects,
        batch_size=batch_size,
        again=again,
    )
    with get_db().session() as session:
        jurisdiction = _jurisdiction(session, slug)
        bar = tqdm(
            total=file.stat().st_size,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc=file.name,
            file=sys.stderr,
            disable=quiet or not sys.stderr.isatty(),
        )
        try:
            result = import_nyc(session, jurisdiction, file, options, progress=bar.update)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
        finally:
            bar.close()
    click.echo(result.summary())
    if result.created_departments:
        click.echo(f"created departments: {', '.join(result.created_departments)}")
    if result.created_service_types:
        click.echo(
            f"created {len(result.created_service_types)} inactive service types"
            " (activate them to offer them to residents)"
        )
    if result.rejected:
        click.echo(f"rejected rows and why: {result.rejects_path}")


@click.group("export")
def export_cli() -> None:
    """Cases as open data: New York's 311 layout (CSV) or Open311 GeoReport v2 (JSON)."""


def _day(value: str | None) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


_export_options = [
    click.option("--jurisdiction", "slug", required=True, help="The jurisdiction's slug."),
    click.option("--from", "from_", help="First day (YYYY-MM-DD, the jurisdiction's time)."),
    click.option("--to", help="Last day, included."),
    click.option(
        "--output",
        type=click.Path(dir_okay=False, path_type=Path),
        help="File to write (default: standard output).",
    ),
]


def _with_export_options(command: Callable[..., None]) -> Callable[..., None]:
    for option in reversed(_export_options):
        command = option(command)
    return command


def _write(output: Path | None, chunks: Iterable[str]) -> None:
    target: IO[str]
    if output is None:
        target = sys.stdout
        for chunk in chunks:
            target.write(chunk)
        target.flush()
        return
    with output.open("w", encoding="utf-8", newline="") as target:
        for chunk in chunks:
            target.write(chunk)


@export_cli.command("nyc")
@with_appcontext
@_with_export_options
def export_nyc_command(slug: str, from_: str | None, to: str | None, output: Path | None) -> None:
    """Cases as CSV in New York's 41-column 311 layout (no personal data)."""
    from contactcenter.imports.export import ExportWindow, nyc_csv

    with get_db().session() as session:
        jurisdiction = _jurisdiction(session, slug)
        window = ExportWindow.of(jurisdiction, _day(from_), _day(to))
        _write(output, nyc_csv(session, jurisdiction, window))


@export_cli.command("open311")
@with_appcontext
@_with_export_options
@click.option("--extensions", is_flag=True, help="Add extended_attributes (channel, district...).")
def export_open311_command(
    slug: str, from_: str | None, to: str | None, output: Path | None, extensions: bool
) -> None:
    """Cases as a JSON array of Open311 GeoReport v2 requests (no personal data)."""
    from contactcenter.imports.export import ExportWindow, open311_json

    with get_db().session() as session:
        jurisdiction = _jurisdiction(session, slug)
        window = ExportWindow.of(jurisdiction, _day(from_), _day(to))
        _write(output, open311_json(session, jurisdiction, window, extensions=extensions))
