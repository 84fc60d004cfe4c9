"""The staff JSON API: one blueprint, its routes in modules by subject."""

from contactcenter.api import (  # noqa: F401 - register routes on bp
    department_views,
    export_views,
    mail_views,
    open311_views,
    performance_forecast_views,
    performance_views,
    routing_views,
    survey_views,
)
from contactcenter.api.views import bp

__all__ = ["bp"]
