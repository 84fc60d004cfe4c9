"""The ``surveys`` blueprint: the public one-question page a survey email links to.

``/survey/<token>``: five labelled choices and an optional comment, in the resident's language
(English, French, Spanish; ``?lang=`` switches among the jurisdiction's). No login: the
random token is the key, so the page shows nothing personal (the tracking number and the
service only), is never cached, sends no referrer, and is not indexed. The form carries a
CSRF token like the console's forms (this blueprint is not exempted); a form kept open past
the token's life is shown again with a friendly message, never an error page. An unknown or
expired token answers a friendly 404 or 410 page.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, render_template, request
from flask_wtf.csrf import CSRFError

from contactcenter import texts
from contactcenter.db import get_session, utcnow
from contactcenter.errors import Conflict, DomainError, Invalid
from contactcenter.i18n import available_languages, supported, translate
from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.notifications import resident_language, service_label
from contactcenter.surveys.models import Survey, SurveyState
from contactcenter.surveys.service import (
    MAX_COMMENT,
    SurveyExpired,
    answer_survey,
    effective_state,
    survey_for_token,
)

bp = Blueprint(
    "surveys",
    __name__,
    url_prefix="/survey",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

PAGE_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
LANGUAGE_NAMES = {"en": "English", "fr": "Français", "es": "Español"}


def _language(survey: Survey | None, jurisdiction: Jurisdiction | None) -> str:
    """``?lang=`` when the jurisdiction speaks it, else the resident's, else the browser's."""
    offered = _languages(jurisdiction)
    wanted = request.args.get("lang", "")
    if wanted in offered:
        return wanted
    if survey is not None:
        preferred = resident_language(survey.case)
        if preferred in offered:
            return preferred
    return request.accept_languages.best_match(offered) or offered[0]


def _languages(jurisdiction: Jurisdiction | None) -> list[str]:
    if jurisdiction is None:
        return list(available_languages())
    spoken = [code for code in jurisdiction.languages if supported(code)]
    return spoken or [jurisdiction.default_language]


def _page(template: str, status: int = 200, **context: Any) -> Response:
    language = context["language"]

    def _(message: str, **params: object) -> str:
        return translate(language, message, **params)

    html = render_template(
        template,
        _=_,
        texts=texts,
        language_names=LANGUAGE_NAMES,
        max_comment=MAX_COMMENT,
        **context,
    )
    response = Response(html, status=status, mimetype="text/html")
    response.headers["Content-Security-Policy"] = PAGE_POLICY
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


def _message_page(status: int, message: str, survey: Survey | None = None) -> Response:
    jurisdiction = survey.case.jurisdiction if survey is not None else None
    language = _language(survey, jurisdiction)
    return _page(
        "surveys/message.html",
        status,
        language=language,
        message=message,
        city=jurisdiction.name if jurisdiction is not None else "",
    )


def _form(
    survey: Survey, *, status: int = 200, error: str = "", chosen: int | None = None
) -> Response:
    case = survey.case
    jurisdiction = case.jurisdiction
    language = _language(survey, jurisdiction)
    return _page(
        "surveys/page.html",
        status,
        language=language,
        languages=_languages(jurisdiction),
        token=survey.token,
        city=jurisdiction.name,
        tracking=case.tracking_number,
        service=service_label(case, language),
        error=error,
        chosen=chosen,
        comment=request.form.get("comment", "")[:MAX_COMMENT] if request.method == "POST" else "",
    )


def _closed_page(survey: Survey) -> Response | None:
    """The page for a survey that takes no answer any more, or None if it still does."""
    state = effective_state(survey, utcnow())
    if state == SurveyState.ANSWERED:
        return _message_page(200, texts.SURVEY_ALREADY_ANSWERED, survey)
    if state == SurveyState.EXPIRED:
        return _message_page(410, texts.SURVEY_EXPIRED, survey)
    return None


@bp.get("/<token>")
def page(token: str) -> Response:
    try:
        survey = survey_for_token(get_session(), token)
    except DomainError:
        return _message_page(404, texts.SURVEY_NOT_FOUND)
    return _closed_page(survey) or _form(survey)


@bp.post("/<token>")
def answer(token: str) -> Response:
    session = get_session()
    try:
        survey = survey_for_token(session, token)
    except DomainError:
        return _message_page(404, texts.SURVEY_NOT_FOUND)
    closed = _closed_page(survey)
    if closed is not None:
        return closed
    raw_score = request.form.get("score", "")
    score = int(raw_score) if raw_score in {"1", "2", "3", "4", "5"} else None
    if score is None:
        return _form(survey, status=400, error=texts.SURVEY_CHOOSE)
    try:
        answer_survey(session, survey, score, request.form.get("comment", ""))
        session.commit()
    except Invalid:
        session.rollback()
        return _form(survey, status=400, error=texts.SURVEY_COMMENT_TOO_LONG, chosen=score)
    except SurveyExpired:
        session.rollback()
        return _message_page(410, texts.SURVEY_EXPIRED, survey)
    except Conflict:
        session.rollback()
        return _message_page(200, texts.SURVEY_ALREADY_ANSWERED, survey)
    return _message_page(200, texts.SURVEY_THANKS, survey)


@bp.errorhandler(CSRFError)
def _stale_form(_error: CSRFError) -> Response:
    """The form's CSRF token is missing or stale (the page was left open for hours, cookies
    were cleared): the form again, with a word, and nothing recorded."""
    token = (request.view_args or {}).get("token", "")
    try:
        survey = survey_for_token(get_session(), str(token))
    except DomainError:
        return _message_page(404, texts.SURVEY_NOT_FOUND)
    return _closed_page(survey) or _form(survey, status=400, error=texts.SURVEY_FORM_EXPIRED)
