"""Which department and service type an imported request belongs to.

New York names agencies by code (``DOT``) and service types by their complaint type
(``Street Light Condition``). A mapping file may send either to something the city already
has; otherwise an agency becomes the department with that code (created, named after the
agency, when missing) and a complaint type becomes the service type of the same name or code
(created *inactive* when missing, so it never shows up in residents' menus or the Open311
service list until staff activate it). With ``create_missing=False`` an unmapped agency or
complaint type rejects its row instead.

Mapping file (YAML, both sections optional)::

    agencies:            # agency code -> one of our department codes
      DOT: PW
    complaint_types:     # complaint type -> one of our service type codes
      Street Light Condition: streetlight
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

import sqlalchemy as sa
import yaml
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from contactcenter.imports.nyc import Rejected
from contactcenter.jurisdictions.models import Department, Jurisdiction, ServiceType

_NOT_SLUG = re.compile(r"[^a-z0-9]+")
DEPARTMENTS: sa.Table = sa.inspect(Department).local_table  # type: ignore[assignment]
SERVICE_TYPES: sa.Table = sa.inspect(ServiceType).local_table  # type: ignore[assignment]


@dataclass(frozen=True)
class Mapping:
    agencies: dict[str, str] = field(default_factory=dict)
    complaint_types: dict[str, str] = field(default_factory=dict)


def parse_mapping(text: str) -> Mapping:
    """The mapping file's content; :class:`ValueError` saying what is wrong with it."""
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"the mapping file is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError("the mapping file must hold 'agencies' and/or 'complaint_types'")
    unknown = set(data) - {"agencies", "complaint_types"}
    if unknown:
        raise ValueError(f"unknown section(s) in the mapping file: {', '.join(sorted(unknown))}")
    sections: dict[str, dict[str, str]] = {}
    for name in ("agencies", "complaint_types"):
        section = data.get(name) or {}
        if not isinstance(section, dict) or not all(
            isinstance(k, str | int) and isinstance(v, str | int) for k, v in section.items()
        ):
            raise ValueError(f"'{name}' must map names to codes (text: text)")
        sections[name] = {str(k).strip(): str(v).strip() for k, v in section.items()}
    return Mapping(sections["agencies"], sections["complaint_types"])


def slugify(text: str, limit: int = 64) -> str:
    """``DOF Property - Payment Issue`` -> ``dof-property-payment-issue``."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return _NOT_SLUG.sub("-", ascii_text.lower()).strip("-")[:limit].rstrip("-") or "imported"


class Catalog:
    """One jurisdiction's departments and service types, looked up by New York's names.

    Everything is loaded once (two queries); what an import creates is inserted in the
    caller's transaction (``ON CONFLICT DO NOTHING``, then read back when another import got
    there first) and remembered.
    """

    def __init__(
        self,
        session: Session,
        jurisdiction: Jurisdiction,
        mapping: Mapping | None = None,
        *,
        create_missing: bool = True,
    ) -> None:
        self.session = session
        self.jurisdiction = jurisdiction
        self.create_missing = create_missing
        self.created_departments: list[str] = []
        self.created_service_types: list[str] = []
        departments = session.scalars(
            sa.select(Department).where(Department.jurisdiction_id == jurisdiction.id)
        ).all()
        services = session.scalars(
            sa.select(ServiceType).where(ServiceType.jurisdiction_id == jurisdiction.id)
        ).all()
        self._department_codes = {d.code: d.id for d in departments}
        self._service_codes = {s.code: s.id for s in services}
        self._service_names = {s.name.casefold(): s.id for s in reversed(services)}
        mapping = mapping or Mapping()
        self._check(mapping)
        self._agencies: dict[str, int | None] = {
            agency: self._department_codes[code] for agency, code in mapping.agencies.items()
        }
        self._complaints: dict[str, int | None] = {
            name: self._service_codes[code] for name, code in mapping.complaint_types.items()
        }

    def _check(self, mapping: Mapping) -> None:
        missing = sorted(
            {
                f"department {c!r}"
                for c in mapping.agencies.values()
                if c not in self._department_codes
            }
            | {
                f"service type {c!r}"
                for c in mapping.complaint_types.values()
                if c not in self._service_codes
            }
        )
        if missing:
            raise ValueError(
                f"the mapping names what {self.jurisdiction.slug} does not have: "
                + ", ".join(missing)
            )

    def department_id(self, agency: str, agency_name: str) -> int | None:
        """The agency's department (created when missing); :class:`Rejected` when unmapped."""
        if agency in self._agencies:
            return self._agencies[agency]
        if not agency:
            department_id = None
        elif agency[:32] in self._department_codes:
            department_id = self._department_codes[agency[:32]]
        elif not self.create_missing:
            raise Rejected(f"unmapped agency {agency!r}")
        else:
            code = agency[:32]
            department_id = self._insert(DEPARTMENTS, code=code, name=(agency_name or agency)[:200])
            if department_id is None:  # another import created it meanwhile
                department_id = self.session.scalars(
                    sa.select(Department.id).where(
                        Department.jurisdiction_id == self.jurisdiction.id, Department.code == code
                    )
                ).one()
            else:
                self.created_departments.append(code)
            self._department_codes[code] = department_id
        self._agencies[agency] = department_id
        return department_id

    def service_type_id(self, complaint_type: str, department_id: int | None) -> int | None:
        """The complaint type's service type (created inactive when missing)."""
        if complaint_type in self._complaints:
            return self._complaints[complaint_type]
        slug = slugify(complaint_type)
        if not complaint_type:
            service_id = None
        elif complaint_type.casefold() in self._service_names:
            service_id = self._service_names[complaint_type.casefold()]
        elif slug in self._service_codes:
            service_id = self._service_codes[slug]
        elif not self.create_missing:
            raise Rejected(f"unmapped complaint type {complaint_type!r}")
        else:
            service_id = self._create_service(complaint_type, slug, department_id)
        self._complaints[complaint_type] = service_id
        return service_id

    def _create_service(self, complaint_type: str, slug: str, department_id: int | None) -> int:
        code, n = slug, 1
        while True:
            while code in self._service_codes:
                n += 1
                suffix = f"-{n}"
                code = slug[: 64 - len(suffix)] + suffix
            service_id = self._insert(
                SERVICE_TYPES,
                code=code,
                name=complaint_type[:200],
                department_id=department_id,
                active=False,
                keywords=[],
            )
            if service_id is not None:
                self.created_service_types.append(code)
                break
            # Another import took the code meanwhile: the same complaint type, or another
            # whose name slugs alike (which keeps the code; this one tries the next).
            taken_id, name = self.session.execute(
                sa.select(ServiceType.id, ServiceType.name).where(
                    ServiceType.jurisdiction_id == self.jurisdiction.id, ServiceType.code == code
                )
            ).one()
            self._service_codes[code] = taken_id
            self._service_names.setdefault(name.casefold(), taken_id)
            if name.casefold() == complaint_type[:200].casefold():
                service_id = taken_id
                break
        self._service_codes[code] = service_id
        self._service_names[complaint_type.casefold()] = service_id
        return service_id

    def _insert(self, table: sa.Table, **values: object) -> int | None:
        """Insert a row of the jurisdiction unless its code is taken (``None`` then).

        ``ON CONFLICT DO NOTHING``: two imports bringing the same new agency at once (each
        from its own file) both go on, the second waiting for the first's batch to commit and
        then using its row; a plain insert failed the second run on the unique constraint.
        """
        dialect = self.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = (
            insert(table)
            .values(jurisdiction_id=self.jurisdiction.id, **values)
            .on_conflict_do_nothing(index_elements=["jurisdiction_id", "code"])
            .returning(table.c.id)
        )
        inserted: int | None = self.session.scalar(statement)
        return inserted
