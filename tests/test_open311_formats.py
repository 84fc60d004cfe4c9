"""Open311 documents as XML and JSON, and the parsing of GET requests' parameters."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from lxml import etree

from contactcenter.errors import Invalid
from contactcenter.open311 import formats, params
from contactcenter.open311.serialize import iso_time, open311_status, zipcode_of

TORONTO = ZoneInfo("America/Toronto")
NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


# --- XML / JSON ------------------------------------------------------------------------


def test_lists_under_wrapper_names_become_the_specs_item_elements() -> None:
    document = [{"service_code": "1", "metadata": True, "keywords": "", "lat": None}]
    root = etree.fromstring(formats.to_xml("services", document))
    assert root.tag == "services"
    (service,) = root
    assert service.tag == "service"
    assert [(c.tag, c.text) for c in service] == [
        ("service_code", "1"),
        ("metadata", "true"),
        ("keywords", None),
        ("lat", None),
    ]


def test_other_lists_repeat_their_element_as_the_spark_convention() -> None:
    xml = formats.to_xml("service_requests", [{"value": ["a", "b"], "values": ["c"]}])
    assert b"<value>a</value><value>b</value><values><value>c</value></values>" in xml


def test_xml_declares_utf8_and_escapes_text() -> None:
    xml = formats.to_xml("errors", [{"code": 400, "description": '<b> & "x" ]]> é\x00\x1f'}])
    assert xml.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<errors>')
    root = etree.fromstring(xml)
    assert root.findtext("error/description") == '<b> & "x" ]]> é'
    assert root.findtext("error/code") == "400"


def test_json_is_utf8_not_ascii_escaped(app: Flask) -> None:
    with app.test_request_context():
        response = formats.render("json", "services", [{"service_name": "Déchets 🚮"}])
    assert response.content_type == "application/json; charset=utf-8"
    assert "Déchets 🚮".encode() in response.data
    assert json.loads(response.data) == [{"service_name": "Déchets 🚮"}]


def test_errors_in_an_unknown_format_are_xml(app: Flask) -> None:
    with app.test_request_context():
        response = formats.error("yaml", 404, "nope")
    assert response.status_code == 404
    assert response.content_type == "text/xml; charset=utf-8"
    assert etree.fromstring(response.data).findtext("error/code") == "404"


# --- serialization helpers -------------------------------------------------------------


def test_times_are_w3c_with_the_zones_offset() -> None:
    winter = dt.datetime(2026, 1, 15, 17, 30, 5, 123456, tzinfo=dt.UTC)
    assert iso_time(winter, TORONTO) == "2026-01-15T12:30:05-05:00"
    assert iso_time(NOW, TORONTO) == "2026-06-01T08:00:00-04:00"
    assert iso_time(NOW, dt.UTC) == "2026-06-01T12:00:00+00:00"
    assert iso_time(None, TORONTO) is None


def test_status_mapping() -> None:
    assert [open311_status(s) for s in ("new", "open", "in_progress", "resolved", "closed")] == [
        "open",
        "open",
        "open",
        "closed",
        "closed",
    ]


@pytest.mark.parametrize(
    ("address", "country", "zipcode"),
    [
        ("350 5th Ave, New York, NY 10118", "US", "10118"),
        ("1 Main St, Springfield 12345-6789", "US", "12345-6789"),
        ("111 Wellington St, Ottawa ON k1a0a9", "CA", "K1A 0A9"),
        ("12 Main St", "US", ""),
        ("10 Downing St, London SW1A 2AA", "GB", ""),
    ],
)
def test_zipcode_from_the_end_of_the_address(address: str, country: str, zipcode: str) -> None:
    assert zipcode_of(address, country) == zipcode


# --- parameters ------------------------------------------------------------------------


def test_default_window_is_the_last_90_days_and_1000_per_page() -> None:
    window = params.parse_window(None, None, None, None, zone=TORONTO, now=NOW)
    assert (window.start, window.end) == (NOW - dt.timedelta(days=90), NOW)
    assert (window.page, window.page_size, window.offset) == (1, 1000, 0)


def test_one_date_anchors_a_90_day_window() -> None:
    start = params.parse_window("2024-01-01T00:00:00Z", None, None, None, zone=dt.UTC, now=NOW)
    assert start.end == dt.datetime(2024, 3, 31, tzinfo=dt.UTC)
    end = params.parse_window(None, "2024-03-31T00:00:00Z", "3", "10", zone=dt.UTC, now=NOW)
    assert end.start == dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    assert end.offset == 20


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2010-01-01T00:00:00Z", dt.datetime(2010, 1, 1, tzinfo=dt.UTC)),
        ("2010-01-01T00:00:00z", dt.datetime(2010, 1, 1, tzinfo=dt.UTC)),
        ("2010-01-01T05:30:00+05:30", dt.datetime(2010, 1, 1, tzinfo=dt.UTC)),
        ("2010-01-01T05:30:00 05:30", dt.datetime(2010, 1, 1, tzinfo=dt.UTC)),
        ("2010-01-01T00:00:00.5-05:00", dt.datetime(2010, 1, 1, 5, 0, 0, 500000, tzinfo=dt.UTC)),
        ("2010-01-01T00:00-05:00", dt.datetime(2010, 1, 1, 5, tzinfo=dt.UTC)),
        ("2010-01-01", dt.datetime(2010, 1, 1, 5, tzinfo=dt.UTC)),
        ("2010-07-01T00:00:00", dt.datetime(2010, 7, 1, 4, tzinfo=dt.UTC)),
    ],
)
def test_w3c_times(text: str, expected: dt.datetime) -> None:
    assert params.parse_time(text, "start_date", TORONTO) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "yesterday",
        "2010",
        "20100101",
        "2010-W01",
        "2010-02-30",
        "2010-01-01T25:00:00Z",
        "0001-01-01T00:00:00+05:00",
        "2010-01-01T00:00:00+99:00",
        "2010-01-01T00:00:00Z junk",
    ],
)
def test_bad_times_name_the_parameter(text: str) -> None:
    with pytest.raises(Invalid) as caught:
        params.parse_time(text, "end_date", TORONTO)
    assert "end_date" in caught.value.message and "end_date" in caught.value.fields


def test_comma_lists_merge_repeats_and_drop_blanks() -> None:
    assert params.comma_list(["a,b", " b ,c,", ""], name="x") == ("a", "b", "c")
    with pytest.raises(Invalid):
        params.comma_list([",".join(str(i) for i in range(1001))], name="service_request_id")


def test_statuses() -> None:
    assert params.parse_statuses(["open", "Closed,open"]) == ("open", "closed")
    assert params.parse_statuses([]) == ()
    with pytest.raises(Invalid, match="status"):
        params.parse_statuses(["opened"])


def test_extensions_flag() -> None:
    assert params.parse_bool("true") and params.parse_bool("TRUE") and params.parse_bool("1")
    assert not params.parse_bool(None) and not params.parse_bool("false")
    assert not params.parse_bool("\ufffd")
