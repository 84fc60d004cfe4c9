"""New York City's 311 open-data column layout: reading one row, writing one row.

Pure functions (no database): the importer turns each CSV row into :class:`ParsedRow` or a
reason to reject it, and the exporter writes our cases back in the same 41 columns.

How the columns map (``docs`` of the import live here, next to the code that does it):

- ``Unique Key`` -> ``source_key`` and ``tracking_number`` (imported history keeps the number
  residents were given; at most 16 characters, else the row is rejected).
- ``Created Date`` / ``Closed Date`` / ``Due Date`` / ``Resolution Action Updated Date``: local
  times of the jurisdiction (``03/01/2011 02:27:57 PM``); ``01/01/1900`` means "no date".
  ``closed_at = resolved_at = Closed Date`` for a closed request (its resolution's update
  date when the closing date is missing); ``updated_at`` is the resolution's update date
  (else the closing date, else the creation date). A closing date before the creation date
  rejects the row; other unreadable secondary dates are left empty.
- ``Status`` (case and spacing ignored): ``Closed``, any ``Closed - <reason>`` (``Closed -
  Testing``), ``Cancel``, ``Cancelled``/``Canceled`` -> closed (a cancelled request is finished:
  it must not sit in the open backlog forever); ``Assigned``, ``Started``, ``In Progress`` and
  ``Email Sent`` (the agency acted and awaits an answer) -> in_progress; ``Open``, ``Pending``,
  ``Draft`` (filed, not yet taken up), ``Unspecified`` and blank -> open. Any other status
  rejects its row (``unknown Status '...'`` in the rejects file), never guessed open. Never
  ``new``: nothing is waiting to be triaged, and no SLA clock, work item or routing exists for
  imported cases.
- ``Descriptor`` -> description; ``Resolution Description`` -> the reserved attribute
  ``attributes["_resolution_description"]`` (double-encoded UTF-8 repaired in both; a case
  event per row would cost more than the case itself).
- ``Incident Address`` + ``City`` + ``Incident Zip`` -> ``address_text`` (``N/A`` parts are
  dropped; a zip the address already ends with is not repeated).
- ``Latitude`` / ``Longitude`` (else the ``Location`` point): out of range, unreadable, half
  given or (0, 0) -> the case is kept without coordinates (counted, not rejected).
- ``Borough`` -> ``district`` (``Unspecified`` or blank -> none).
- Text cells starting with an apostrophe before ``=``, ``+``, ``-``, ``@``, a tab, a carriage
  return or another apostrophe lose that one apostrophe: it is what our export adds so that
  spreadsheets never run the cell as a formula (:mod:`contactcenter.imports.csvsafe`).
- ``Open Data Channel Type``: ``PHONE`` -> voice; ``ONLINE``, ``MOBILE`` -> open311 (apps and web
  forms); anything else -> other.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring  # type: ignore[attr-defined]

from contactcenter.cases.models import CaseStatus
from contactcenter.imports.csvsafe import undefuse
from contactcenter.messages import Channel

COLUMNS: tuple[str, ...] = (
    "Unique Key",
    "Created Date",
    "Closed Date",
    "Agency",
    "Agency Name",
    "Complaint Type",
    "Descriptor",
    "Location Type",
    "Incident Zip",
    "Incident Address",
    "Street Name",
    "Cross Street 1",
    "Cross Street 2",
    "Intersection Street 1",
    "Intersection Street 2",
    "Address Type",
    "City",
    "Landmark",
    "Facility Type",
    "Status",
    "Due Date",
    "Resolution Description",
    "Resolution Action Updated Date",
    "Community Board",
    "BBL",
    "Borough",
    "X Coordinate (State Plane)",
    "Y Coordinate (State Plane)",
    "Open Data Channel Type",
    "Park Facility Name",
    "Park Borough",
    "Vehicle Type",
    "Taxi Company Borough",
    "Taxi Pick Up Location",
    "Bridge Highway Name",
    "Bridge Highway Direction",
    "Road Ramp",
    "Bridge Highway Segment",
    "Latitude",
    "Longitude",
    "Location",
)
"""The 41 columns of New York's current open-data export, in its order."""

REQUIRED_COLUMNS = ("Unique Key", "Created Date")
MAX_KEY_LENGTH = 16
"""Our tracking numbers are at most 16 characters; New York's keys are 8 digits."""
RESOLUTION_KEY = "_resolution_description"
"""The ``Case.attributes`` key that keeps an imported request's resolution text: reserved
(Open311 attribute codes cannot start with ``_``), so it is never published as an answer."""

STATUSES: dict[str, CaseStatus] = {
    "closed": CaseStatus.CLOSED,
    "cancel": CaseStatus.CLOSED,
    "cancelled": CaseStatus.CLOSED,
    "canceled": CaseStatus.CLOSED,
    "assigned": CaseStatus.IN_PROGRESS,
    "started": CaseStatus.IN_PROGRESS,
    "in progress": CaseStatus.IN_PROGRESS,
    "email sent": CaseStatus.IN_PROGRESS,
    "open": CaseStatus.OPEN,
    "pending": CaseStatus.OPEN,
    "draft": CaseStatus.OPEN,
    "unspecified": CaseStatus.OPEN,
    "": CaseStatus.OPEN,
}
"""New York's statuses, lower case with single spaces (see the module's notes)."""
CHANNELS: dict[str, str] = {
    "PHONE": Channel.VOICE.value,
    "ONLINE": Channel.OPEN311.value,
    "MOBILE": Channel.OPEN311.value,
}
_OTHER = Channel.OTHER.value
EXPORT_STATUSES: dict[str, str] = {
    CaseStatus.NEW: "Open",
    CaseStatus.OPEN: "Open",
    CaseStatus.IN_PROGRESS: "In Progress",
    CaseStatus.RESOLVED: "Closed",
    CaseStatus.CLOSED: "Closed",
}
EXPORT_CHANNELS: dict[str, str] = {
    Channel.VOICE: "PHONE",
    Channel.OPEN311: "ONLINE",
    Channel.WEBCHAT: "ONLINE",
    Channel.SMS: "MOBILE",
}
"""Our channels as New York's channel types; the rest (email, walk-in, other) are OTHER."""

NO_DISTRICT = frozenset({"", "UNSPECIFIED"})
NOT_AVAILABLE = frozenset({"N/A", "NA"})


class Rejected(Exception):
    """A row that cannot be a case; the message is the reason written to the rejects file."""


@dataclass(slots=True)
class ParsedRow:
    """One row as the values of a case (department and service type still by their names)."""

    key: str
    agency: str
    agency_name: str
    complaint_type: str
    status: str
    created_at: dt.datetime
    closed_at: dt.datetime | None
    updated_at: dt.datetime
    due_at: dt.datetime | None
    description: str
    address_text: str
    latitude: float | None
    longitude: float | None
    district: str | None
    channel: str
    attributes: str
    """JSON text of the case's attributes (``{}`` or the resolution description)."""
    coordinates_dropped: bool


class LocalTimes:
    """Parses ``MM/DD/YYYY hh:mm:ss AM`` local times into UTC fast.

    ``datetime.strptime`` per field is the slowest part of a naive importer. The fixed format
    is sliced instead, and the UTC instant of each local hour is computed once and cached
    (zone offsets change on hour boundaries, for the zones that matter here), so a field
    costs a dictionary lookup and one addition.
    """

    MAX_CACHED_HOURS = 200_000

    def __init__(self, zone: dt.tzinfo) -> None:
        self.zone = zone
        self._hours: dict[str, dt.datetime | None] = {}
        self._seconds = [dt.timedelta(seconds=s) for s in range(3600)]

    def parse(self, text: str) -> dt.datetime | None:
        """The instant, ``None`` for blank or the 1900 sentinel; :class:`ValueError` else."""
        if len(text) == 22 and text[2] == "/" and text[13] == ":" and text[19] == " ":
            hour_key = text[:13] + text[20]
            try:
                base = self._hours[hour_key]
            except KeyError:
                base = self._hour(text)
            if base is None:
                return None
            minute, second = int(text[14:16]), int(text[17:19])
            if not (0 <= minute <= 59 and 0 <= second <= 59):
                raise ValueError(f"bad time {text!r}")
            return base + self._seconds[minute * 60 + second]
        text = text.strip()
        if not text:
            return None
        return self._other_format(text)

    def _hour(self, text: str) -> dt.datetime | None:
        month, day, year = int(text[0:2]), int(text[3:5]), int(text[6:10])
        hour = int(text[11:13])
        meridiem = text[20:22].upper()
        if not 1 <= hour <= 12 or meridiem not in ("AM", "PM"):
            raise ValueError(f"bad hour {text!r}")
        hour = hour % 12 + (12 if meridiem == "PM" else 0)
        value = None if year <= 1900 else self._utc(dt.datetime(year, month, day, hour))
        if len(self._hours) >= self.MAX_CACHED_HOURS:
            self._hours.clear()
        self._hours[text[:13] + text[20]] = value
        return value

    def _utc(self, local: dt.datetime) -> dt.datetime:
        return local.replace(tzinfo=self.zone).astimezone(dt.UTC)

    def _other_format(self, text: str) -> dt.datetime | None:
        """ISO 8601 (the open-data API's ``2011-03-01T14:27:57.000``) or the date alone."""
        for pattern in ("%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y"):
            try:
                local = dt.datetime.strptime(text, pattern)
                break
            except ValueError:
                continue
        else:
            local = dt.datetime.fromisoformat(text)
        if local.year <= 1900:
            return None
        if local.tzinfo is not None:
            return local.astimezone(dt.UTC)
        return self._utc(local)

    def later(self, text: str) -> dt.datetime | None:
        """The later of the two instants an ambiguous local time can be (else as parse)."""
        try:
            first = self.parse(text)
        except ValueError:
            return None
        if first is None:
            return None
        local = first.astimezone(self.zone).replace(tzinfo=None)
        return local.replace(tzinfo=self.zone, fold=1).astimezone(dt.UTC)

    def format(self, value: dt.datetime | None) -> str:
        """``value`` as the layout writes it, in the zone (blank for none)."""
        if value is None:
            return ""
        return value.astimezone(self.zone).strftime("%m/%d/%Y %I:%M:%S %p")


def repair_text(text: str) -> str:
    """Undo UTF-8 that was decoded as Latin-1/Windows-1252 and encoded again ("Â\\xa0", "â€™").

    The round trip is kept only when it yields valid UTF-8, so real accented text ("café")
    is left as it is; applied twice for text that was double-encoded twice.
    """
    if text.isascii():
        return text
    for _ in range(2):
        fixed = _undo_mojibake(text)
        if fixed is None or fixed == text:
            break
        text = fixed
    return text


def _undo_mojibake(text: str) -> str | None:
    for codec in ("latin-1", "cp1252"):
        try:
            return text.encode(codec).decode("utf-8")
        except UnicodeError:
            continue
    return None


class RowReader:
    """Turns the layout's rows into :class:`ParsedRow`, for one header and one jurisdiction."""

    def __init__(self, header: Sequence[str], zone: dt.tzinfo) -> None:
        names = [h.strip().lstrip("\ufeff") for h in header]
        missing = [c for c in REQUIRED_COLUMNS if c not in names]
        if missing:
            raise ValueError(
                f"not New York's 311 layout: no {', '.join(missing)} column in the header"
            )
        self.width = len(names)
        index = {name: i for i, name in reversed(list(enumerate(names)))}
        # Absent optional columns read as blank: they point past the row's end.
        at = {c: index.get(c, self.width) for c in COLUMNS}
        self.key_index = at["Unique Key"]
        self._fields = operator.itemgetter(*(at[c] for c in _READ))
        self.times = LocalTimes(zone)

    def parse(self, row: list[str]) -> ParsedRow:
        """:raises Rejected: the row cannot be a case (the message says why)."""
        if len(row) < self.width:
            row = row + [""] * (self.width - len(row))
        row.append("")  # the blank that absent columns read
        (
            key,
            created_text,
            closed_text,
            agency,
            agency_name,
            complaint_type,
            descriptor,
            zipcode,
            address,
            city,
            status_text,
            due_text,
            resolution,
            updated_text,
            borough,
            channel,
            lat_text,
            long_text,
            location,
        ) = self._fields(row)
        # The apostrophe an export puts before text a spreadsheet would run comes off again.
        key = undefuse(key.strip())
        if not key:
            raise Rejected("missing Unique Key")
        if len(key) > MAX_KEY_LENGTH:
            raise Rejected(f"Unique Key longer than {MAX_KEY_LENGTH} characters")
        times = self.times
        try:
            created = times.parse(created_text)
        except ValueError:
            raise Rejected("unreadable Created Date") from None
        if created is None:
            raise Rejected("missing Created Date")
        status = _status(status_text)
        closed_at = None
        updated_at = _time_after(times, updated_text, created)
        if updated_at is not None and updated_at < created:
            updated_at = None
        if status is CaseStatus.CLOSED:
            closed_at = _time_after(times, closed_text, created)
            if closed_at is not None and closed_at < created:
                raise Rejected("Closed Date before Created Date")
            # A closed request without its closing date: its last update is when it closed.
            closed_at = closed_at or updated_at
        updated_at = updated_at or closed_at or created
        latitude, longitude, dropped = _coordinates(lat_text, long_text, location)
        borough = undefuse(borough.strip())
        return ParsedRow(
            key,
            undefuse(agency.strip()),
            undefuse(agency_name.strip()),
            undefuse(complaint_type.strip()),
            status.value,
            created,
            closed_at,
            updated_at,
            _optional_time(times, due_text),
            repair_text(undefuse(descriptor.strip())),
            _address(undefuse(address.strip()), undefuse(city.strip()), undefuse(zipcode.strip())),
            latitude,
            longitude,
            None if borough.upper() in NO_DISTRICT else borough[:64],
            CHANNELS.get(channel.strip().upper(), _OTHER),
            _attributes_json(repair_text(undefuse(resolution.strip()))),
            dropped,
        )


_READ = (
    "Unique Key",
    "Created Date",
    "Closed Date",
    "Agency",
    "Agency Name",
    "Complaint Type",
    "Descriptor",
    "Incident Zip",
    "Incident Address",
    "City",
    "Status",
    "Due Date",
    "Resolution Description",
    "Resolution Action Updated Date",
    "Borough",
    "Open Data Channel Type",
    "Latitude",
    "Longitude",
    "Location",
)
"""The columns the importer reads, in the order :meth:`RowReader.parse` unpacks them."""


def _status(text: str) -> CaseStatus:
    name = " ".join(text.lower().split())
    status = STATUSES.get(name)
    if status is not None:
        return status
    if name.startswith("closed -"):
        return CaseStatus.CLOSED
    raise Rejected(f"unknown Status {text.strip()[:40]!r}")


def _time_after(times: LocalTimes, text: str, created: dt.datetime) -> dt.datetime | None:
    """A later date of the request. Local times carry no offset: in the hour that happens
    twice when daylight saving ends, "01:10" after "01:40" is the second 01:10."""
    value = _optional_time(times, text)
    if value is not None and value < created:
        later = times.later(text)
        if later is not None and later >= created:
            return later
    return value


def _optional_time(times: LocalTimes, text: str) -> dt.datetime | None:
    """A secondary date: unreadable is treated as absent (the row is still a case)."""
    try:
        return times.parse(text)
    except ValueError:
        return None


def _attributes_json(resolution: str) -> str:
    if not resolution:
        return "{}"
    return _RESOLUTION_JSON + encode_basestring(resolution) + "}"


_RESOLUTION_JSON = "{" + json.dumps(RESOLUTION_KEY) + ": "


def _address(address: str, city: str, zipcode: str) -> str:
    address, city, zipcode = _known(address), _known(city), _known(zipcode)
    if address and zipcode and address.endswith(zipcode):
        zipcode = ""
    place = f"{city} {zipcode}" if city and zipcode else city or zipcode
    text = f"{address}, {place}" if address and place else address or place
    return text[:500]


def _known(text: str) -> str:
    """``text``, or blank when it only says "N/A" (``N/A N/A`` for an unknown address)."""
    text = text.strip()
    if "/" not in text and len(text) != 2:
        return text
    return "" if set(text.upper().split()) <= NOT_AVAILABLE else text


def _coordinates(
    lat_text: str, long_text: str, location: str
) -> tuple[float | None, float | None, bool]:
    """(latitude, longitude, dropped): dropped when something was given but is unusable."""
    lat_text, long_text = lat_text.strip(), long_text.strip()
    if not lat_text and not long_text:
        location = location.strip()
        if not location:
            return None, None, False
        lat_text, _, long_text = location.strip("()").partition(",")
    try:
        latitude, longitude = float(lat_text), float(long_text)
    except ValueError:
        return None, None, True
    if (
        not (math.isfinite(latitude) and math.isfinite(longitude))
        or not -90 <= latitude <= 90
        or not -180 <= longitude <= 180
        or (latitude == 0 and longitude == 0)
    ):
        return None, None, True
    return latitude, longitude, False
