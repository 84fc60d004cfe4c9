"""POST service request: attributes checked, and a case opened like on every other channel."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from contactcenter.cases.models import Case, CaseEvent, Interaction
from contactcenter.errors import Invalid, NotFound
from contactcenter.messages import Channel, ContactKind, Direction
from contactcenter.open311.attributes import (
    attributes_of,
    parse_definitions,
    set_attributes,
    validate_answers,
)
from contactcenter.open311.batch import process_submission, submission_by_token
from contactcenter.open311.clients import issue_key
from contactcenter.open311.filing import service_notice
from contactcenter.open311.models import (
    AttributeDatatype,
    Open311Submission,
    ServiceAttribute,
    SubmissionState,
)
from contactcenter.open311.submit import submit_request
from contactcenter.residents.models import ContactPoint, Resident
from contactcenter.routing.models import WorkItem
from tests import factories

POTHOLE_ATTRIBUTES = [
    {
        "code": "size",
        "datatype": "singlevaluelist",
        "description": "How big?",
        "required": True,
        "values": [{"key": "small", "name": "Small"}, {"key": "large", "name": "Large"}],
    },
    {
        "code": "surface",
        "datatype": "multivaluelist",
        "description": "Where?",
        "values": [{"key": "road", "name": "Road"}, {"key": "bike", "name": "Bike lane"}],
    },
    {"code": "note", "datatype": "string", "description": "Anything else?"},
    {"code": "details", "datatype": "text", "description": "Describe it"},
    {"code": "depth_cm", "datatype": "number", "description": "Depth in cm"},
    {"code": "seen_at", "datatype": "datetime", "description": "When did you see it?"},
    {
        "code": "info",
        "datatype": "string",
        "description": "Crews fix these within a week.",
        "variable": False,
    },
]


def _attribute(code: str, datatype: AttributeDatatype, **fields: object) -> ServiceAttribute:
    return ServiceAttribute(
        code=code,
        datatype=datatype,
        variable=fields.get("variable", True),
        required=fields.get("required", False),
        values=fields.get("values", []),
    )


ATTRIBUTES = [
    _attribute("s", AttributeDatatype.STRING),
    _attribute("t", AttributeDatatype.TEXT),
    _attribute("n", AttributeDatatype.NUMBER),
    _attribute("d", AttributeDatatype.DATETIME),
    _attribute(
        "one",
        AttributeDatatype.SINGLEVALUELIST,
        values=[{"key": "a", "name": "A"}, {"key": "b", "name": "B"}],
    ),
    _attribute(
        "many",
        AttributeDatatype.MULTIVALUELIST,
        values=[{"key": "a", "name": "A"}, {"key": "b", "name": "B"}],
    ),
    _attribute("must", AttributeDatatype.STRING, required=True),
    _attribute("info", AttributeDatatype.STRING, variable=False),
]
REQUIRED = {"must": ["here"]}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"s": ["  a pothole "]}, {"s": "a pothole"}),
        ({"s": ["x" * 1000]}, {"s": "x" * 1000}),
        ({"t": ["y" * 10000]}, {"t": "y" * 10000}),
        ({"n": ["42"]}, {"n": 42}),
        ({"n": ["-3.5"]}, {"n": -3.5}),
        ({"n": ["1e3"]}, {"n": 1000.0}),
        ({"n": ["123456789012345"]}, {"n": 123456789012345}),
        ({"n": ["-0.25"]}, {"n": -0.25}),
        ({"d": ["2026-11-29"]}, {"d": "2026-11-29T00:00:00-05:00"}),
        ({"d": ["2026-11-29T14:30:00Z"]}, {"d": "2026-11-29T14:30:00+00:00"}),
        ({"d": ["2026-11-29T14:30:00-05:00"]}, {"d": "2026-11-29T14:30:00-05:00"}),
        ({"d": ["2026-07-01T09:00"]}, {"d": "2026-07-01T09:00:00-04:00"}),  # the city's zone
        ({"one": ["b"]}, {"one": "b"}),
        ({"many": ["b", "a", "b"]}, {"many": ["b", "a"]}),
        ({"many": ["a"]}, {"many": ["a"]}),
        ({"s": [""], "one": [" "]}, {}),  # empty answers are no answers
    ],
)
def test_valid_answers_are_typed_for_each_datatype(raw, expected):
    answers = validate_answers(ATTRIBUTES, {**REQUIRED, **raw}, timezone="America/Toronto")
    assert answers == {"must": "here", **expected}


@pytest.mark.parametrize(
    ("raw", "field", "says"),
    [
        ({"s": ["x" * 1001]}, "attribute[s]", "1000"),
        ({"s": ["a", "b"]}, "attribute[s]", "one value"),
        ({"t": ["y" * 10001]}, "attribute[t]", "10000"),
        ({"n": ["twelve"]}, "attribute[n]", "not a number"),
        ({"n": ["NaN"]}, "attribute[n]", "not a number"),
        ({"n": ["-inf"]}, "attribute[n]", "not a number"),
        ({"n": ["1e999999"]}, "attribute[n]", "not a number"),
        ({"n": ["1e999"]}, "attribute[n]", "range"),
        ({"n": ["4_5"]}, "attribute[n]", "not a number"),
        ({"n": ["1_000"]}, "attribute[n]", "not a number"),
        ({"n": ["１２"]}, "attribute[n]", "not a number"),  # noqa: RUF001 - full-width digits
        ({"n": ["٣"]}, "attribute[n]", "not a number"),  # an Arabic-Indic digit
        ({"n": ["1234567890123456"]}, "attribute[n]", "at most 15"),
        ({"n": [" 1 2"]}, "attribute[n]", "not a number"),
        ({"n": ["+5"]}, "attribute[n]", "not a number"),
        ({"d": ["yesterday"]}, "attribute[d]", "ISO 8601"),
        ({"d": ["2026-13-40"]}, "attribute[d]", "ISO 8601"),
        ({"d": ["2026-W48-7"]}, "attribute[d]", "ISO 8601"),  # a week date
        ({"d": ["20261129T143000"]}, "attribute[d]", "ISO 8601"),  # basic format
        ({"d": ["2026-11-29 14:30"]}, "attribute[d]", "ISO 8601"),
        ({"d": ["２０２６-11-29"]}, "attribute[d]", "ISO 8601"),  # noqa: RUF001
        ({"d": ["1899-12-31T23:00:00Z"]}, "attribute[d]", "1900 to 2200"),
        ({"d": ["9999-12-31T23:59:59+14:00"]}, "attribute[d]", "1900 to 2200"),
        ({"one": ["c"]}, "attribute[one]", "a, b"),
        ({"one": ["a", "b"]}, "attribute[one]", "one value"),
        ({"many": ["a", "z"]}, "attribute[many]", "'z'"),
        ({"info": ["answered"]}, "attribute[info]", "not a question"),
        ({"nope": ["x"]}, "attribute[nope]", "no attribute 'nope'"),
        ({"s": ["nul\x00"]}, "attribute[s]", "NUL"),
        ({"must": [""]}, "attribute[must]", "Required"),
    ],
)
def test_bad_answers_are_refused_per_field(raw, field, says):
    with pytest.raises(Invalid) as refused:
        validate_answers(ATTRIBUTES, {**REQUIRED, **raw})
    assert says.lower() in refused.value.fields[field].lower()


def test_a_missing_required_answer_and_a_bad_one_are_reported_together():
    with pytest.raises(Invalid) as refused:
        validate_answers(ATTRIBUTES, {"n": ["x"]})
    assert set(refused.value.fields) == {"attribute[n]", "attribute[must]"}


def test_an_unknown_attribute_names_the_known_ones():
    with pytest.raises(Invalid) as refused:
        validate_answers(ATTRIBUTES, {**REQUIRED, "colour": ["red"]})
    message = refused.value.fields["attribute[colour]"]
    assert "many" in message and "info" not in message


@pytest.mark.parametrize(
    ("definitions", "field"),
    [
        ([{"code": "a", "datatype": "string", "description": "A"}] * 2, "attributes.1.code"),
        ([{"code": "a b", "datatype": "string", "description": "A"}], "attributes.0.code"),
        ([{"code": "a[0]", "datatype": "string", "description": "A"}], "attributes.0.code"),
        ([{"code": "a", "datatype": "colour", "description": "A"}], "attributes.0.datatype"),
        ([{"code": "a", "datatype": "string", "description": ""}], "attributes.0.description"),
        ([{"code": "a", "datatype": "singlevaluelist", "description": "A"}], "attributes.0.values"),
        (
            [
                {
                    "code": "a",
                    "datatype": "multivaluelist",
                    "description": "A",
                    "values": [{"key": "k", "name": "K"}, {"key": "k", "name": "L"}],
                }
            ],
            "attributes.0.values",
        ),
        (
            [
                {
                    "code": "a",
                    "datatype": "number",
                    "description": "A",
                    "values": [{"key": "k", "name": "K"}],
                }
            ],
            "attributes.0.values",
        ),
        (
            [
                {
                    "code": "a",
                    "datatype": "string",
                    "description": "A",
                    "variable": False,
                    "required": True,
                }
            ],
            "attributes.0.required",
        ),
        (
            [{"code": "a", "datatype": "string", "description": "A", "colour": "red"}],
            "attributes.0.colour",
        ),
        (["not an object"], "attributes.0"),
        ([{"code": "a", "datatype": "string", "description": "A\x00"}], "attributes.0.description"),
    ],
)
def test_bad_attribute_definitions_are_refused_naming_the_field(definitions, field):
    with pytest.raises(Invalid) as refused:
        parse_definitions(definitions)
    assert field in refused.value.fields


def test_attributes_are_replaced_keeping_rows_by_code(session, jurisdiction):
    pothole = factories.service_type(session, jurisdiction)
    first = set_attributes(session, pothole, POTHOLE_ATTRIBUTES)
    session.commit()
    size_id = first[0].id
    set_attributes(
        session,
        pothole,
        [
            {"code": "depth_cm", "datatype": "number", "description": "Depth"},
            {
                "code": "size",
                "datatype": "singlevaluelist",
                "description": "Size?",
                "values": [{"key": "s", "name": "S"}],
            },
        ],
    )
    session.commit()
    kept = attributes_of(session, [pothole.id])[pothole.id]
    assert [(a.code, a.order) for a in kept] == [("depth_cm", 1), ("size", 2)]
    assert kept[1].id == size_id and kept[1].values == [{"key": "s", "name": "S"}]


def test_attributes_of_reads_many_service_types_in_one_query(session, jurisdiction, count_queries):
    pothole = factories.service_type(session, jurisdiction)
    pickup = factories.service_type(session, jurisdiction, "missed-pickup")
    set_attributes(session, pothole, POTHOLE_ATTRIBUTES)
    session.commit()
    with count_queries() as counter:
        found = attributes_of(session, [pothole.id, pickup.id])
    assert counter.count == 1
    assert len(found[pothole.id]) == len(POTHOLE_ATTRIBUTES) and found[pickup.id] == []


# --- Submitting -----------------------------------------------------------------------------


@pytest.fixture
def city(app, session, jurisdiction):
    """The test city with a default queue, pothole attributes and a client; in app context."""
    factories.make_queue(session, jurisdiction, "general", is_default=True)
    set_attributes(session, factories.service_type(session, jurisdiction), POTHOLE_ATTRIBUTES)
    session.commit()
    with app.app_context():
        yield jurisdiction


@pytest.fixture
def client_app(session, city):
    client, _key = issue_key(session, city, name="FixMyCity")
    session.commit()
    return client


GOOD = {
    "service_code": "pothole",
    "lat": "45.4215",
    "long": "-75.6972",
    "description": "Deep pothole near the school",
    "device_id": "device-123",
    "account_id": "acct-9",
}


def _submit(session, city, client, fields=None, attributes=None):
    result = submit_request(
        session,
        city,
        client,
        {**GOOD, **(fields or {})},
        {"size": ["large"]} if attributes is None else attributes,
    )
    session.commit()
    return result


def test_a_post_opens_a_routed_case_on_the_open311_channel(session, city, client_app):
    result = _submit(
        session,
        city,
        client_app,
        {"media_url": "https://photos.example/p.jpg"},
        {"size": ["large"], "surface": ["bike", "road"], "depth_cm": ["12.5"]},
    )
    assert result.submission is None
    case = session.get_one(Case, result.case.id)
    assert case.origin_channel == Channel.OPEN311
    assert case.attributes == {"size": "large", "surface": ["bike", "road"], "depth_cm": 12.5}
    assert case.department.code == "PW" and case.routing_rule == "default"
    assert (case.latitude, case.longitude) == (45.4215, -75.6972)
    assert case.due_at is not None  # the service's target, as every intake sets it
    assert case.public_media_url is None, "nothing a client sends is published"
    kinds = set(session.scalars(sa.select(CaseEvent.kind).where(CaseEvent.case_id == case.id)))
    assert {"created", "routed", "open311_received"} <= kinds
    work = session.scalars(sa.select(WorkItem).where(WorkItem.case_id == case.id)).one()
    assert work.channel == Channel.OPEN311
    message = session.scalars(sa.select(Interaction).where(Interaction.case_id == case.id)).one()
    assert message.channel == Channel.OPEN311 and message.direction == Direction.INBOUND
    assert message.media_urls == ["https://photos.example/p.jpg"]
    assert message.from_address == "open311:FixMyCity"
    received = session.scalars(
        sa.select(CaseEvent).where(
            CaseEvent.case_id == case.id, CaseEvent.kind == "open311_received"
        )
    ).one()
    assert received.data["device_id"] == "device-123" and received.data["account_id"] == "acct-9"
    assert received.data["client_id"] == client_app.id


def test_a_phone_links_the_resident_the_city_already_knows(session, city, client_app):
    known = Resident(jurisdiction_id=city.id, display_name="Marie Tremblay")
    session.add_all(
        [
            known,
            ContactPoint(
                jurisdiction_id=city.id,
                resident=known,
                kind=ContactKind.PHONE,
                address="+16135550100",
            ),
        ]
    )
    session.commit()
    result = _submit(
        session,
        city,
        client_app,
        {
            "phone": "(613) 555-0100",
            "email": "Marie@Example.org",
            "first_name": "M",
            "last_name": "T",
        },
    )
    case = session.get_one(Case, result.case.id)
    assert case.resident_id == known.id
    assert case.resident.display_name == "Marie Tremblay", "a name given never replaces one known"
    contacts = session.execute(sa.select(ContactPoint.kind, ContactPoint.address)).all()
    assert set(contacts) == {(ContactKind.PHONE, "+16135550100")}, "nothing added to a resident"


def _known(session, city, kind, address, name=None):
    resident = Resident(jurisdiction_id=city.id, display_name=name)
    session.add_all(
        [
            resident,
            ContactPoint(jurisdiction_id=city.id, resident=resident, kind=kind, address=address),
        ]
    )
    session.commit()
    return resident


def _contacts_of(session, resident):
    return set(
        session.execute(
            sa.select(ContactPoint.kind, ContactPoint.address).where(
                ContactPoint.resident_id == resident.id
            )
        ).all()
    )


def test_a_key_holder_cannot_attach_their_email_to_a_known_phone_or_rename_its_owner(
    session, city, client_app
):
    victim = _known(session, city, ContactKind.PHONE, "+16135550100")  # no name on record
    result = _submit(
        session,
        city,
        client_app,
        {"phone": "613-555-0100", "email": "attacker@example.org", "first_name": "Mallory"},
    )
    case = session.get_one(Case, result.case.id)
    assert case.resident_id == victim.id
    assert not session.get_one(Resident, victim.id).display_name
    assert _contacts_of(session, victim) == {(ContactKind.PHONE, "+16135550100")}
    assert (
        session.scalar(
            sa.select(sa.func.count())
            .select_from(ContactPoint)
            .where(ContactPoint.address == "attacker@example.org")
        )
        == 0
    )


def test_a_returning_resident_known_by_email_is_not_split_when_a_phone_is_added(
    session, city, client_app
):
    known = _known(session, city, ContactKind.EMAIL, "jo@example.org", name="Jo")
    result = _submit(session, city, client_app, {"phone": "6135550123", "email": "jo@example.org"})
    case = session.get_one(Case, result.case.id)
    assert case.resident_id == known.id
    assert session.scalar(sa.select(sa.func.count()).select_from(Resident)) == 1
    assert _contacts_of(session, known) == {(ContactKind.EMAIL, "jo@example.org")}


def test_a_new_resident_gets_every_contact_given_and_the_name(session, city, client_app):
    result = _submit(
        session,
        city,
        client_app,
        {
            "phone": "6135550123",
            "email": "new@example.org",
            "first_name": "Ann",
            "last_name": "Lee",
        },
    )
    resident = session.get_one(Case, result.case.id).resident
    assert resident.display_name == "Ann Lee"
    assert _contacts_of(session, resident) == {
        (ContactKind.PHONE, "+16135550123"),
        (ContactKind.EMAIL, "new@example.org"),
    }


def test_an_email_alone_finds_or_makes_the_resident_and_names_them(session, city, client_app):
    first = _submit(
        session,
        city,
        client_app,
        {"email": "new@example.org", "first_name": "Ann", "last_name": "Lee"},
    )
    second = _submit(session, city, client_app, {"email": "NEW@example.org"})
    one = session.get_one(Case, first.case.id)
    assert one.resident.display_name == "Ann Lee"
    assert session.get_one(Case, second.case.id).resident_id == one.resident_id


def test_a_post_without_contact_details_opens_a_case_with_no_resident(session, city, client_app):
    result = _submit(session, city, client_app, {"description": ""})
    case = session.get_one(Case, result.case.id)
    assert case.resident_id is None and case.description == ""


def test_a_phone_and_email_of_two_residents_are_not_merged(session, city, client_app):
    phone_owner = Resident(jurisdiction_id=city.id)
    email_owner = Resident(jurisdiction_id=city.id)
    session.add_all(
        [
            ContactPoint(
                jurisdiction_id=city.id,
                resident=phone_owner,
                kind=ContactKind.PHONE,
                address="+16135550100",
            ),
            ContactPoint(
                jurisdiction_id=city.id,
                resident=email_owner,
                kind=ContactKind.EMAIL,
                address="b@example.org",
            ),
        ]
    )
    session.commit()
    result = _submit(session, city, client_app, {"phone": "6135550100", "email": "b@example.org"})
    assert session.get_one(Case, result.case.id).resident_id == phone_owner.id
    owner = session.scalar(
        sa.select(ContactPoint.resident_id).where(ContactPoint.address == "b@example.org")
    )
    assert owner == email_owner.id


def test_an_address_alone_is_a_location(session, city, client_app):
    result = _submit(
        session, city, client_app, {"lat": "", "long": "", "address_string": " 12  Main St "}
    )
    case = session.get_one(Case, result.case.id)
    assert case.address_text == "12 Main St" and case.latitude is None


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"lat": "", "long": ""}, "lat"),
        ({"long": ""}, "long"),
        ({"lat": "91"}, "lat"),
        ({"long": "-180.5"}, "long"),
        ({"lat": "nan"}, "lat"),
        ({"lat": "north"}, "lat"),
        ({"lat": "4_5"}, "lat"),
        ({"lat": "１２"}, "lat"),  # noqa: RUF001 - full-width digits
        ({"long": "1e1"}, "long"),
        ({"long": "-75,69"}, "long"),
        ({"description": "x" * 10001}, "description"),
        ({"phone": "12"}, "phone"),
        ({"email": "nobody"}, "email"),
        ({"media_url": "javascript:alert(1)"}, "media_url"),
        ({"first_name": "x" * 101}, "first_name"),
        ({"address_string": "x" * 501, "lat": "", "long": ""}, "address_string"),
        ({"device_id": "d\x00"}, "device_id"),
        ({"service_code": ""}, "service_code"),
    ],
)
def test_bad_fields_are_refused_with_the_field_named(session, city, client_app, fields, field):
    with pytest.raises(Invalid) as refused:
        _submit(session, city, client_app, fields)
    assert field in refused.value.fields
    assert refused.value.message.startswith(f"{field}:") or field in refused.value.message
    session.rollback()
    assert session.scalar(sa.select(sa.func.count()).select_from(Case)) == 0


def test_bad_fields_and_bad_attributes_are_reported_together(session, city, client_app):
    with pytest.raises(Invalid) as refused:
        _submit(session, city, client_app, {"lat": "100"}, {"size": ["enormous"]})
    assert {"lat", "attribute[size]"} <= set(refused.value.fields)


@pytest.mark.parametrize("code", ["sidewalk", "x" * 500, "pot\x00hole"])
def test_an_unknown_service_code_is_not_found(session, city, client_app, code):
    with pytest.raises(NotFound):
        _submit(session, city, client_app, {"service_code": code})


def test_an_inactive_or_other_citys_service_is_not_found(session, city, client_app, other_city):
    factories.service_type(session, city, "missed-pickup").active = False
    session.commit()
    with pytest.raises(NotFound):
        _submit(session, city, client_app, {"service_code": "missed-pickup"})
    session.rollback()
    other_client, _ = issue_key(session, other_city, name="Theirs")
    set_attributes(session, factories.service_type(session, other_city), [])
    session.commit()
    # The other city has its own pothole; ours is not reachable through it, nor theirs here.
    result = _submit(session, other_city, other_client, attributes={})
    assert session.get_one(Case, result.case.id).jurisdiction_id == other_city.id


def test_the_service_notice_gives_the_expected_response_time(session, city):
    pothole = factories.service_type(session, city)
    assert service_notice(pothole) == "Expected response within 5 days."
    pothole.target_days = 1
    assert service_notice(pothole) == "Expected response within 1 day."
    pothole.target_days = 0.25
    assert service_notice(pothole) == "Expected response within 6 hours."
    pothole.target_days = None
    assert service_notice(pothole) == ""


# --- Batch ----------------------------------------------------------------------------------


@pytest.fixture
def batch_city(session, city):
    factories.service_type(session, city).open311_type = "batch"
    session.commit()
    return city


def test_a_batch_service_answers_with_a_token_and_a_job_opens_the_case(
    session, batch_city, client_app, run_jobs
):
    result = _submit(session, batch_city, client_app, {"phone": "613-555-0100"})
    assert result.case is None and result.submission is not None
    token = result.submission.token
    run_jobs()
    session.expire_all()
    submission = submission_by_token(session, batch_city, token)
    assert submission is not None and submission.state == SubmissionState.DONE
    case = session.get_one(Case, submission.case_id)
    assert case.origin_channel == Channel.OPEN311 and case.attributes == {"size": "large"}
    assert case.resident is not None and submission.payload == {}, "contact details not kept twice"
    assert submission.processed_at is not None


def test_bad_input_to_a_batch_service_is_refused_before_any_token(session, batch_city, client_app):
    with pytest.raises(Invalid):
        _submit(session, batch_city, client_app, attributes={})
    session.rollback()
    assert session.scalar(sa.select(sa.func.count()).select_from(Open311Submission)) == 0


def test_a_submission_that_can_no_longer_be_filed_is_marked_failed(session, city, client_app):
    submission = Open311Submission(
        jurisdiction_id=city.id,
        client_id=client_app.id,
        token="t-failed",
        payload={
            "fields": {**GOOD, "service_code": "retired", "email": "jo@example.org"},
            "attributes": {"note": ["call me"]},
        },
    )
    session.add(submission)
    session.commit()
    process_submission(submission.id)
    process_submission(submission.id)  # a repeated job finds nothing left to do
    session.expire_all()
    failed = session.get_one(Open311Submission, submission.id)
    assert failed.state == SubmissionState.FAILED and "retired" in failed.error
    assert failed.case_id is None
    assert failed.payload == {"fields": {"service_code": "retired"}}, "personal fields cleared"
    assert session.scalar(sa.select(sa.func.count()).select_from(Case)) == 0


def test_a_token_is_found_only_in_its_own_jurisdiction(session, batch_city, client_app, other_city):
    result = _submit(session, batch_city, client_app)
    token = result.submission.token
    assert submission_by_token(session, other_city, token) is None
    assert submission_by_token(session, batch_city, "x" * 65) is None
    assert submission_by_token(session, batch_city, token) is not None


def test_an_agent_is_offered_several_open311_requests_at_once_like_emails(
    session, city, client_app, run_jobs
):
    """Requests filed by an app are answered later, like emails: one agent takes several."""
    from contactcenter.routing.models import Offer, Queue
    from contactcenter.routing.work import dispatch

    queue = session.scalars(sa.select(Queue).where(Queue.jurisdiction_id == city.id)).one()
    agent, _token = factories.make_available_agent(session, city, [queue])
    session.commit()
    for n in range(3):
        _submit(session, city, client_app, {"lat": "", "long": "", "address_string": f"{n} Elm St"})
    run_jobs()
    dispatch(session, city.id)
    session.commit()
    offered = session.scalars(sa.select(Offer).where(Offer.agent_id == agent.id)).all()
    assert len(offered) == 3
