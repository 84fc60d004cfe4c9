"""A jurisdiction's departments as staff see and set them: who heads each one.

The head's address is where the department's weekly performance summary goes
(:mod:`contactcenter.performance.weekly`); an empty one means the department gets none.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contactcenter.errors import NotFound
from contactcenter.jurisdictions.models import Department, Jurisdiction

MAX_DEPARTMENTS = 500
"""The most departments listed: far more than any city has, so that the list stays bounded."""

MAX_CODE = 32
"""The longest department code (the column's length)."""


def list_departments(session: Session, jurisdiction: Jurisdiction) -> Sequence[Department]:
    return session.scalars(
        sa.select(Department)
        .where(Department.jurisdiction_id == jurisdiction.id)
        .order_by(Department.code)
        .limit(MAX_DEPARTMENTS)
    ).all()


def set_department_head(
    session: Session, jurisdiction: Jurisdiction, code: str, head_email: str
) -> Department:
    """Make ``head_email`` (already validated; "" for none) the head of department ``code``.

    :raises NotFound: the jurisdiction has no department ``code`` (another city's code too).
    """
    department = None
    if code and len(code) <= MAX_CODE and "\x00" not in code:
        department = session.scalars(
            sa.select(Department).where(
                Department.jurisdiction_id == jurisdiction.id, Department.code == code
            )
        ).one_or_none()
    if department is None:
        raise NotFound(f'No department "{code}".', code="department_not_found")
    department.head_email = head_email
    session.flush()
    return department
