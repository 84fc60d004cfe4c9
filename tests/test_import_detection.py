"""Imported history is never taken for a duplicate or counted into an incident: an open
request imported from another system is not a resident's report of today."""

from __future__ import annotations

import pytest

from contactcenter.cases.duplicates import detect_duplicate, detect_incident
from contactcenter.cases.models import CaseStatus
from contactcenter.jurisdictions.settings import DetectionSettings
from tests import factories

LAT, LON = 45.4215, -75.6972
THREE = DetectionSettings(incident_threshold=3)


def pothole(session, jurisdiction, source_key: str | None, metres: float = 0.0):
    case = factories.make_case(
        session,
        jurisdiction,
        service_type=factories.service_type(session, jurisdiction, "pothole"),
        latitude=LAT + metres / 111_195,
        longitude=LON,
        status=CaseStatus.OPEN,
        source_key=source_key,
    )
    session.flush()
    return case


@pytest.mark.parametrize("imported", [True, False])
def test_a_new_case_next_to_an_imported_open_one_is_not_its_duplicate(
    session, jurisdiction, imported
):
    earlier = pothole(session, jurisdiction, "311-1" if imported else None)
    new = pothole(session, jurisdiction, None, metres=5)

    parent = detect_duplicate(session, new, DetectionSettings())

    assert parent is (None if imported else earlier)


@pytest.mark.parametrize("imported", [True, False])
def test_imported_open_cases_never_make_a_burst_with_a_new_one(session, jurisdiction, imported):
    for n in range(2):
        pothole(session, jurisdiction, f"311-{n}" if imported else None, metres=n * 3)
    new = pothole(session, jurisdiction, None, metres=8)

    incident = detect_incident(session, new, THREE)

    assert (incident is None) is imported
