"""Voice menus as a city edits them: the demo menu, the checks that keep a broken menu from
going live, versions, the staff API and the ``contactcenter ivr`` commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from click.testing import CliRunner, Result
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from contactcenter.agents.models import Role
from contactcenter.calls.models import IvrMenu
from contactcenter.cli import cli
from contactcenter.demo import DEMO_VOICE_NUMBER, seed_demo
from contactcenter.errors import Invalid
from contactcenter.jurisdictions.models import ChannelAddress, Jurisdiction
from contactcenter.messages import Channel
from ivr.flows import MAX_SOURCE_BYTES, Kind, MenuError, load_menu, parse_source
from ivr.menu_store import (
    check_menu,
    demo_menu_source,
    install_menu,
    live_menu,
    menu_versions,
)
from tests import factories
from tests.test_cli import _invoke

API = "/api/v1/ivr"
LANGUAGES = ["en", "fr", "es"]
SMALL_MENU = """\
languages:
  en: {voice: Polly.Joanna-Neural, language: en-US}
start: hello
nodes:
  hello:
    kind: message
    say: {en: Hello from Springfield.}
    next: hangup
"""


def demo_data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(demo_menu_source())
    return data


def problems_of(data: dict[str, Any]) -> list[str]:
    with pytest.raises(MenuError) as raised:
        load_menu(data)
    return raised.value.problems


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def menu_count(session: Session) -> int:
    session.expire_all()
    return session.scalar(sa.select(sa.func.count()).select_from(IvrMenu)) or 0


@pytest.fixture
def demo_city(session: Session) -> Jurisdiction:
    """The demo jurisdiction: the queues, calendar and service types the demo menu names."""
    seed_demo(session)
    city = session.scalars(sa.select(Jurisdiction).where(Jurisdiction.slug == "demo")).one()
    session.commit()
    return city


# ---------------------------------------------------------------------------------------------
# The demo menu


def test_the_demo_menu_validates_and_speaks_every_node_in_every_language() -> None:
    menu = load_menu(parse_source(demo_menu_source()))
    assert list(menu.languages) == LANGUAGES
    assert {code: voice.language for code, voice in menu.languages.items()} == {
        "en": "en-US",
        "fr": "fr-CA",
        "es": "es-US",
    }
    for name, node in menu.nodes.items():
        assert sorted(node.say) == sorted(LANGUAGES), name
        assert all(text.strip() for text in node.say.values()), name
        for option in node.options:
            assert sorted(option.phrases) == sorted(LANGUAGES), (name, option.key)


def test_the_demo_menu_has_the_nodes_and_keys_the_call_tests_walk() -> None:
    menu = load_menu(parse_source(demo_menu_source()))
    assert (menu.start, menu.hours, menu.after_hours, menu.way_out) == (
        "welcome",
        "office",
        "closed",
        "agent",
    )
    assert menu.max_attempts == 3
    assert menu.incidents is not None and menu.incidents.before == "main"
    nodes = menu.nodes
    assert {o.key: o.language for o in nodes["welcome"].options} == {
        "1": "en",
        "2": "fr",
        "3": "es",
    }
    assert nodes["welcome"].next == "main"
    assert {o.key: o.goto for o in nodes["main"].options} == {
        "1": "report",
        "2": "status",
        "3": "info",
        "4": "voicemail",
        "0": "agent",
    }
    assert {o.key: o.goto for o in nodes["info"].options} == {
        "1": "collection",
        "2": "hours",
        "9": "main",
    }
    assert {o.key: o.goto for o in nodes["closed"].options} == {
        "1": "report",
        "2": "status",
        "3": "info",
        "4": "voicemail",
        "5": "callback",
    }
    assert [o.service_type for o in nodes["report"].options] == [
        "pothole",
        "streetlight",
        "missed-pickup",
        "graffiti",
        "water-leak",
        "tree",
        "dumping",
    ]
    assert [o.key for o in nodes["report"].options] == [str(k) for k in range(1, 8)]
    assert (nodes["report"].describe, nodes["report"].ask_location) == ("speech", True)
    assert {name: node.kind for name, node in nodes.items()} == {
        "welcome": Kind.LANGUAGE,
        "main": Kind.MENU,
        "info": Kind.MENU,
        "collection": Kind.MESSAGE,
        "hours": Kind.MESSAGE,
        "report": Kind.REPORT,
        "status": Kind.STATUS,
        "voicemail": Kind.VOICEMAIL,
        "agent": Kind.AGENT,
        "closed": Kind.MENU,
        "callback": Kind.CALLBACK,
    }
    assert (nodes["agent"].queue, nodes["callback"].queue) == ("general", "general")
    assert nodes["voicemail"].max_seconds == 120
    assert nodes["collection"].next == nodes["hours"].next == nodes["status"].next == "main"


def test_the_demo_menu_fits_the_demo_jurisdiction(session: Session, demo_city) -> None:
    assert check_menu(session, demo_city, demo_menu_source()) == []


# ---------------------------------------------------------------------------------------------
# What keeps a broken menu from going live


def test_a_menu_with_many_errors_is_refused_with_every_problem_naming_its_node() -> None:
    data = demo_data()
    nodes = data["nodes"]
    nodes["main"]["options"][0]["goto"] = "reprot"
    del nodes["hours"]["say"]["es"]
    nodes["info"]["options"].append({"key": "1", "goto": "hours"})
    del nodes["agent"]["queue"]
    problems = problems_of(data)
    assert (
        "node 'main' option 1 (key 1) goes to unknown node 'reprot' (did you mean 'report'?)"
        in problems
    )
    assert "node 'hours': 'say' text missing in es" in problems
    assert "node 'info': key '1' is used by more than one option" in problems
    assert "node 'agent': an agent node needs a queue" in problems
    assert len(problems) == 4


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d.update(start="welcom"), "start goes to unknown node 'welcom'"),
        (
            lambda d: d["nodes"]["report"]["options"][0].pop("service_type"),
            "node 'report' option 1 (key 1): needs a service_type",
        ),
        (
            lambda d: d["nodes"]["main"]["options"][0].update(key="12"),
            "node 'main': options 0 key: Value error, key must be one phone key",
        ),
        (
            lambda d: d["nodes"]["status"].pop("next"),
            "node 'status': a status node needs 'next'",
        ),
        (
            lambda d: d["nodes"]["welcome"]["options"][0].update(language="de"),
            "node 'welcome' option 1 (key 1): chooses language 'de', not one of the menu's",
        ),
        (
            lambda d: d["nodes"].update(hangup=d["nodes"]["hours"]),
            "node 'hangup': the name is reserved",
        ),
        (
            lambda d: d.update(incidents={"before": "main", "keys": ["99"]}),
            "incidents.keys: Value error, each key must be one phone key",
        ),
        (
            lambda d: d.update(prompts={"case_opened": {"en": "Your number: {number}."}}),
            "prompts.case_opened (en): unknown placeholder {number} (this prompt has: {digits})",
        ),
        (
            lambda d: d.update(prompts={"goodbye": {"en": "Bye {"}}),
            "prompts.goodbye (en): unmatched brace",
        ),
        (lambda d: d.update(colour="blue"), "colour: Extra inputs are not permitted"),
    ],
    ids=[
        "unknown-start",
        "report-option-without-service-type",
        "two-digit-key",
        "status-without-next",
        "unknown-language",
        "reserved-name",
        "bad-incident-key",
        "unknown-placeholder",
        "lone-brace",
        "unknown-field",
    ],
)
def test_a_menu_mistake_is_reported_in_words_a_city_can_act_on(change, expected) -> None:
    data = demo_data()
    change(data)
    problems = problems_of(data)
    assert any(p.startswith(expected) for p in problems), problems


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("languages: [en\nstart: welcome\n", "The menu file cannot be read:"),
        ('{"languages": {"en": ', "The menu file cannot be read:"),
        ("- welcome\n- main\n", "The menu file must be a mapping"),
        ("just words", "The menu file must be a mapping"),
        ("", "The menu file must be a mapping"),
        ("nodes: " + "[" * 5000 + "]" * 5000, "The menu file is nested too deeply"),
        ("# " + "x" * MAX_SOURCE_BYTES, "The menu file is larger than 256 kB."),
    ],
    ids=["bad-yaml", "bad-json", "a-list", "a-string", "empty", "too-deep", "huge"],
)
def test_a_file_that_is_not_a_readable_menu_is_refused(source: str, expected: str) -> None:
    assert check_menu(None, None, source)[0].startswith(expected)


def test_yaml_aliases_cannot_blow_a_small_file_up() -> None:
    """Nine short lines that read as a billion strings ("billion laughs")."""
    lines = ["l0: &l0 [" + ", ".join(["lol"] * 10) + "]"]
    for level in range(1, 9):
        lines.append(f"l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * 10) + "]")
    problems = check_menu(None, None, "\n".join(lines))
    assert problems == ["The menu file holds more than 50000 values once read."]


def test_a_json_menu_is_accepted_like_yaml() -> None:
    assert check_menu(None, None, json.dumps(demo_data())) == []


def test_a_menu_is_checked_against_what_the_jurisdiction_has(session: Session) -> None:
    city = factories.make_jurisdiction(session, languages=["en", "fr"])
    factories.make_queue(session, city, "genral")
    session.commit()
    problems = check_menu(session, city, demo_menu_source())
    assert "node 'agent': no queue 'general' in this jurisdiction (did you mean 'genral'?)" in (
        problems
    )
    assert "hours: no calendar 'office' in this jurisdiction" in problems
    assert "node 'report' option key 2: no service type 'streetlight' in this jurisdiction" in (
        problems
    )
    assert "languages: 'es' is not one of the jurisdiction's languages" in problems
    assert not any("'pothole'" in p for p in problems)  # make_jurisdiction has potholes


def test_an_inactive_service_type_cannot_be_offered(session: Session, demo_city) -> None:
    graffiti = factories.service_type(session, demo_city, "graffiti")
    graffiti.active = False
    session.commit()
    assert check_menu(session, demo_city, demo_menu_source()) == [
        "node 'report' option key 4: no service type 'graffiti' in this jurisdiction"
    ]


# ---------------------------------------------------------------------------------------------
# Versions


def test_each_install_is_the_next_version_of_that_jurisdiction_only(
    session: Session, demo_city
) -> None:
    agent, _ = factories.make_agent(session, [demo_city], role=Role.SUPERVISOR)
    first = install_menu(session, demo_city, demo_menu_source())
    second = install_menu(session, demo_city, demo_menu_source(), agent=agent)
    other = factories.make_jurisdiction(session)
    elsewhere = install_menu(session, other, SMALL_MENU)
    session.commit()
    assert (first.version, second.version, elsewhere.version) == (1, 2, 1)
    assert live_menu(session, demo_city.id) == second
    assert live_menu(session, other.id) == elsewhere
    assert [m.version for m in menu_versions(session, demo_city.id)] == [2, 1]
    assert [m.version for m in menu_versions(session, demo_city.id, limit=1)] == [2]
    assert (first.created_by_agent_id, second.created_by_agent_id) == (None, agent.id)
    assert second.source == demo_menu_source()
    assert second.definition == load_menu(parse_source(demo_menu_source())).model_dump(mode="json")


def test_a_refused_install_lists_every_problem_and_stores_nothing(
    session: Session, jurisdiction
) -> None:
    with pytest.raises(Invalid) as raised:
        install_menu(session, jurisdiction, demo_menu_source())
    error = raised.value
    assert error.code == "invalid_menu"
    problems = error.fields["menu"]
    assert len(problems) == 8  # 5 service types, 2 queues and the calendar it does not have
    assert error.message.startswith("The menu has 8 problem(s): ")
    assert all(problem in error.message for problem in problems)
    session.rollback()
    assert menu_count(session) == 0


# ---------------------------------------------------------------------------------------------
# The staff API


@pytest.fixture
def staff(session: Session, demo_city) -> dict[str, str]:
    """Bearer tokens of the demo city's agent and supervisor, and of another city's supervisor."""
    _, agent = factories.make_agent(session, [demo_city])
    _, supervisor = factories.make_agent(session, [demo_city], role=Role.SUPERVISOR)
    other_city = factories.make_jurisdiction(session, slug="shelbyville")
    _, outsider = factories.make_agent(session, [other_city], role=Role.SUPERVISOR)
    session.commit()
    return {"agent": agent, "supervisor": supervisor, "outsider": outsider}


def error_of(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    error: dict[str, Any] = response.get_json()["error"]
    assert error["code"] == code, error
    return error


def test_staff_read_the_live_menu_once_there_is_one(
    client: FlaskClient, session: Session, demo_city, staff
) -> None:
    headers = auth(staff["agent"])
    error_of(client.get(f"{API}/menu?jurisdiction=demo", headers=headers), 404, "menu_not_found")
    install_menu(session, demo_city, demo_menu_source())
    session.commit()
    response = client.get(f"{API}/menu?jurisdiction=demo", headers=headers)
    assert response.status_code == 200, response.get_json()
    menu = response.get_json()["data"]
    assert menu["version"] == 1
    assert menu["source"] == demo_menu_source()
    assert menu["definition"]["start"] == "welcome"
    assert menu["created_at"]
    without_slug = client.get(f"{API}/menu", headers=headers)  # their only jurisdiction
    assert without_slug.get_json()["data"]["version"] == 1


def test_a_supervisor_puts_a_menu_as_json_or_as_the_yaml_file_itself(
    client: FlaskClient, session: Session, demo_city, staff
) -> None:
    headers = auth(staff["supervisor"])
    as_json = client.put(
        f"{API}/menu?jurisdiction=demo", json={"source": demo_menu_source()}, headers=headers
    )
    assert as_json.status_code == 200, as_json.get_json()
    assert as_json.get_json()["data"]["version"] == 1
    for content_type in ("application/yaml", "text/yaml", "text/plain"):
        as_yaml = client.put(
            f"{API}/menu?jurisdiction=demo",
            data=demo_menu_source().encode(),
            content_type=f"{content_type}; charset=utf-8",
            headers=headers,
        )
        assert as_yaml.status_code == 200, as_yaml.get_json()
    versions = client.get(f"{API}/menu/versions?jurisdiction=demo", headers=headers)
    listed = versions.get_json()["data"]
    supervisor_id = client.get("/api/v1/me", headers=headers).get_json()["agent"]["id"]
    assert [v["version"] for v in listed] == [4, 3, 2, 1]
    assert {v["created_by"] for v in listed} == {supervisor_id}
    assert live_menu(session, demo_city.id).version == 4


def test_an_agent_cannot_put_a_menu(client: FlaskClient, session: Session, staff) -> None:
    response = client.put(
        f"{API}/menu?jurisdiction=demo",
        json={"source": demo_menu_source()},
        headers=auth(staff["agent"]),
    )
    error_of(response, 403, "role_required")
    assert menu_count(session) == 0


def test_a_bad_menu_put_is_refused_listing_every_problem_and_the_live_one_stays(
    client: FlaskClient, session: Session, demo_city, staff
) -> None:
    install_menu(session, demo_city, demo_menu_source())
    session.commit()
    data = demo_data()
    data["nodes"]["main"]["options"][0]["goto"] = "reprot"
    data["nodes"]["agent"]["queue"] = "genral"
    response = client.put(
        f"{API}/menu?jurisdiction=demo",
        data=yaml.safe_dump(data, allow_unicode=True),
        content_type="application/yaml",
        headers=auth(staff["supervisor"]),
    )
    error = error_of(response, 400, "invalid_menu")
    assert error["fields"]["menu"] == [
        "node 'main' option 1 (key 1) goes to unknown node 'reprot' (did you mean 'report'?)"
    ]
    assert "'reprot'" in error["message"]
    assert menu_count(session) == 1

    data["nodes"]["main"]["options"][0]["goto"] = "report"  # now only the queue is wrong
    response = client.put(
        f"{API}/menu?jurisdiction=demo",
        json={"source": json.dumps(data)},
        headers=auth(staff["supervisor"]),
    )
    error = error_of(response, 400, "invalid_menu")
    assert error["fields"]["menu"] == [
        "node 'agent': no queue 'genral' in this jurisdiction (did you mean 'general'?)"
    ]
    assert menu_count(session) == 1


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({}, "invalid_body"),
        ({"json": ["a menu"]}, "invalid_body"),
        ({"json": {"menu": "x"}}, "invalid_fields"),
        ({"json": {"source": 3}}, "invalid_fields"),
        ({"data": b"start: \xff\xfe", "content_type": "application/yaml"}, "invalid_body"),
        ({"data": "- a list", "content_type": "text/yaml"}, "invalid_menu"),
    ],
    ids=["no-body", "json-list", "no-source", "source-not-text", "not-utf8", "not-a-mapping"],
)
def test_a_malformed_put_gets_400(
    client: FlaskClient, session: Session, staff, kwargs: dict[str, Any], code: str
) -> None:
    response = client.put(
        f"{API}/menu?jurisdiction=demo", headers=auth(staff["supervisor"]), **kwargs
    )
    error_of(response, 400, code)
    assert menu_count(session) == 0


def test_another_jurisdictions_staff_neither_see_nor_change_the_menu(
    client: FlaskClient, session: Session, demo_city, staff
) -> None:
    install_menu(session, demo_city, demo_menu_source())
    session.commit()
    headers = auth(staff["outsider"])
    for response in (
        client.get(f"{API}/menu?jurisdiction=demo", headers=headers),
        client.get(f"{API}/menu/versions?jurisdiction=demo", headers=headers),
        client.put(
            f"{API}/menu?jurisdiction=demo", json={"source": demo_menu_source()}, headers=headers
        ),
        client.post(
            f"{API}/menu/check?jurisdiction=demo",
            json={"source": demo_menu_source()},
            headers=headers,
        ),
    ):
        error = error_of(response, 404, "jurisdiction_not_found")
        assert "welcome" not in json.dumps(error)
    # Their own jurisdiction has no menu: nothing of the demo city's answers.
    error_of(client.get(f"{API}/menu", headers=headers), 404, "menu_not_found")
    assert client.get(f"{API}/menu/versions", headers=headers).get_json() == {"data": []}
    assert menu_count(session) == 1


def test_check_validates_against_the_jurisdiction_without_saving(
    client: FlaskClient, session: Session, staff
) -> None:
    headers = auth(staff["agent"])
    good = client.post(
        f"{API}/menu/check?jurisdiction=demo", json={"source": demo_menu_source()}, headers=headers
    )
    assert good.status_code == 200
    assert good.get_json() == {"ok": True, "problems": []}
    data = demo_data()
    data["hours"] = "ofice"
    del data["nodes"]["welcome"]["say"]["fr"]
    bad = client.post(
        f"{API}/menu/check?jurisdiction=demo",
        data=yaml.safe_dump(data, allow_unicode=True),
        content_type="application/yaml",
        headers=headers,
    )
    assert bad.status_code == 200
    assert bad.get_json() == {
        "ok": False,
        "problems": ["node 'welcome': 'say' text missing in fr"],
    }
    del data["nodes"]["welcome"]["say"]["es"]
    data["nodes"]["welcome"]["say"]["fr"] = "Bienvenue."
    data["nodes"]["welcome"]["say"]["es"] = "Bienvenido."
    against = client.post(
        f"{API}/menu/check?jurisdiction=demo", json={"source": json.dumps(data)}, headers=headers
    )
    assert against.get_json()["problems"] == [
        "hours: no calendar 'ofice' in this jurisdiction (did you mean 'office'?)"
    ]
    assert menu_count(session) == 0


# ---------------------------------------------------------------------------------------------
# The `contactcenter ivr` commands and the demo


def run(app: Flask, *args: str) -> Result:
    """The command's result whatever its exit code (``_invoke`` insists on success)."""
    from flask.cli import ScriptInfo

    return CliRunner().invoke(cli, list(args), obj=ScriptInfo(create_app=lambda: app))


@pytest.fixture
def demo_file(tmp_path: Path) -> Path:
    path = tmp_path / "menu.yaml"
    path.write_text(demo_menu_source(), encoding="utf-8")
    return path


@pytest.fixture
def broken_file(tmp_path: Path) -> Path:
    data = demo_data()
    data["nodes"]["main"]["options"][0]["goto"] = "reprot"
    data["nodes"]["agent"]["queue"] = "genral"
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_ivr_check_says_ok_or_lists_every_problem_and_exits_1(
    app: Flask, demo_file: Path, broken_file: Path
) -> None:
    assert _invoke(app, "ivr", "check", str(demo_file)) == (
        "menu OK: 11 nodes, languages en, fr, es\n"
    )
    result = run(app, "ivr", "check", str(broken_file))
    assert result.exit_code == 1
    assert result.output == (
        "- node 'main' option 1 (key 1) goes to unknown node 'reprot' (did you mean 'report'?)\n"
    )


def test_ivr_check_with_a_jurisdiction_also_checks_what_it_names(
    app: Flask, session: Session, demo_file: Path
) -> None:
    factories.make_jurisdiction(session, slug="springfield")
    session.commit()
    result = run(app, "ivr", "check", str(demo_file), "--jurisdiction", "springfield")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert len(lines) == 8 and all(line.startswith("- ") for line in lines)
    assert "- hours: no calendar 'office' in this jurisdiction" in lines
    _invoke(app, "demo")
    assert "menu OK" in _invoke(app, "ivr", "check", str(demo_file), "--jurisdiction", "demo")
    unknown = run(app, "ivr", "check", str(demo_file), "--jurisdiction", "nowhere")
    assert unknown.exit_code == 2
    assert "no jurisdiction nowhere" in unknown.output


def test_ivr_check_refuses_a_file_that_is_not_utf8(app: Flask, tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("start: détour\n".encode("latin-1"))
    result = run(app, "ivr", "check", str(path))
    assert result.exit_code == 1
    assert result.output.startswith("- The menu file is not UTF-8 text")


def test_ivr_load_makes_a_new_live_version_and_show_prints_any_version(
    app: Flask, session: Session, demo_file: Path, broken_file: Path
) -> None:
    _invoke(app, "demo")  # version 1: the demo menu
    edited = demo_menu_source().replace("Welcome to Demo City", "Hello from Demo City")
    demo_file.write_text(edited, encoding="utf-8")
    output = _invoke(app, "ivr", "load", str(demo_file), "--jurisdiction", "demo")
    assert output == "jurisdiction demo: menu version 2 is live\n"
    assert _invoke(app, "ivr", "show", "--jurisdiction", "demo") == edited
    assert _invoke(app, "ivr", "show", "--jurisdiction", "demo", "--version", "1") == (
        demo_menu_source()
    )
    missing = run(app, "ivr", "show", "--jurisdiction", "demo", "--version", "9")
    assert missing.exit_code == 1
    assert "jurisdiction demo has no version 9" in missing.output

    refused = run(app, "ivr", "load", str(broken_file), "--jurisdiction", "demo")
    assert refused.exit_code == 1
    assert refused.output.splitlines() == [
        "- node 'main' option 1 (key 1) goes to unknown node 'reprot' (did you mean 'report'?)"
    ]
    assert menu_count(session) == 2


def test_ivr_show_without_a_menu_exits_1(app: Flask, jurisdiction) -> None:
    result = run(app, "ivr", "show", "--jurisdiction", "springfield")
    assert result.exit_code == 1
    assert "jurisdiction springfield has no menu" in result.output


def test_demo_run_twice_keeps_one_live_menu_and_answers_calls_on_its_number(
    app: Flask, session: Session
) -> None:
    _invoke(app, "demo")
    _invoke(app, "demo")
    city = session.scalars(sa.select(Jurisdiction).where(Jurisdiction.slug == "demo")).one()
    assert [m.version for m in menu_versions(session, city.id)] == [1]
    voice = session.scalars(
        sa.select(ChannelAddress).where(ChannelAddress.channel == Channel.VOICE)
    ).all()
    assert [(a.jurisdiction_id, a.address) for a in voice] == [(city.id, DEMO_VOICE_NUMBER)]


def test_demo_never_replaces_a_menu_the_city_loaded(
    app: Flask, session: Session, demo_file: Path
) -> None:
    _invoke(app, "demo")
    _invoke(app, "ivr", "load", str(demo_file), "--jurisdiction", "demo")
    _invoke(app, "demo")
    assert menu_count(session) == 2


def test_demo_gives_an_older_demo_database_its_voice_number(session: Session) -> None:
    seed_demo(session)
    session.execute(sa.delete(ChannelAddress).where(ChannelAddress.channel == Channel.VOICE))
    session.commit()
    seed_demo(session)
    session.commit()
    voice = session.scalars(
        sa.select(ChannelAddress.address).where(ChannelAddress.channel == Channel.VOICE)
    ).all()
    assert voice == [DEMO_VOICE_NUMBER]
