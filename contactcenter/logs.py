"""Logging to stdout, with the request id or rq job id on every line.

Phone numbers and message bodies stay out of INFO logs; they are personal data.
"""

from __future__ import annotations

import logging
import logging.config

from flask import g, has_app_context, has_request_context


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        context = "-"
        if has_request_context() and "request_id" in g:
            context = g.request_id
        elif has_app_context() and "job_id" in g:
            context = f"job:{g.job_id}"
        else:
            try:
                from rq import get_current_job

                job = get_current_job()
                context = f"job:{job.id}" if job else "-"
            except Exception:  # no rq connection in this process
                context = "-"
        record.context = context
        return True


def configure_logging(level: str) -> None:
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "filters": {"context": {"()": ContextFilter}},
            "formatters": {
                "plain": {"format": "%(asctime)s %(levelname)s [%(context)s] %(name)s: %(message)s"}
            },
            "handlers": {
                "stdout": {
                    "class": "logging.StreamHandler",
                    "stream": "ext://sys.stdout",
                    "filters": ["context"],
                    "formatter": "plain",
                }
            },
            "root": {"level": level.upper(), "handlers": ["stdout"]},
            "loggers": {"twilio": {"level": "WARNING"}},
        }
    )
