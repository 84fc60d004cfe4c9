"""The agent web console (``/console``): plain server-rendered pages, one form per action.

The static URL path is relative to the prefix, so files are served at ``/console/static/``.
"""

from flask import Blueprint

bp = Blueprint(
    "console",
    __name__,
    url_prefix="/console",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

import contactcenter.console.attachments  # noqa: E402 - email attachments, original mail
import contactcenter.console.canned  # noqa: E402 - canned responses
import contactcenter.console.case_edits  # noqa: E402 - case edits, transfer
import contactcenter.console.duplicates_views  # noqa: E402 - duplicates, resident merges
import contactcenter.console.performance_views  # noqa: E402 - dashboard, scorecard, drill-down
import contactcenter.console.phone  # noqa: E402 - the phone panel
import contactcenter.console.search  # noqa: E402 - the header's search box
import contactcenter.console.staffing  # noqa: E402 - forecast, staffing plan, calculator
import contactcenter.console.walk_in  # noqa: E402 - walk-in and phone intake
import contactcenter.console.wallboard_views  # noqa: E402, F401 - the supervisors' board
from contactcenter.console import views  # noqa: E402, F401 - registers the routes on bp

__all__ = ["bp"]
