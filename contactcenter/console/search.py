"""Console search: the header's search box, over the agent's own jurisdictions only."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from contactcenter.auth import jurisdiction_ids
from contactcenter.cases.search import MAX_QUERY, MIN_TEXT, SearchKind, search_cases
from contactcenter.console import bp
from contactcenter.console.auth import login_required
from contactcenter.db import get_session

RESULT_LIMIT = 50


@bp.get("/search")
@login_required()
def search() -> ResponseReturnValue:
    """A tracking number goes straight to its case; anything else lists what matched."""
    query = request.args.get("q", "")[:MAX_QUERY]
    result = search_cases(get_session(), jurisdiction_ids(), query, limit=RESULT_LIMIT)
    if result.exact is not None:
        return redirect(url_for("console.case", case_id=result.exact.id))
    return render_template(
        "console/search.html",
        active="search",
        query=query,
        result=result,
        kinds=SearchKind,
        min_text=MIN_TEXT,
        limit=RESULT_LIMIT,
    )
