"""granian's own log lines (start, worker exits, shutdown) as JSON outside dev, like paygate's.

granian configures its loggers (``_granian``, ``granian.access``) from a JSON dictConfig file given
with ``--log-config``; ``paygate serve`` writes one that uses paygate's ``JsonFormatter`` (same
fields, same credential masking) on stderr.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any


class ServiceFilter(logging.Filter):
    """The fields paygate's formatter expects: which service, and no request (granian's are global)."""

    def __init__(self, service: str = "") -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        if not hasattr(record, "request_id"):
            record.request_id = "-"
        return True


def json_log_config(service: str) -> dict[str, Any]:
    handler = {
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stderr",
        "formatter": "json",
        "filters": ["service"],
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"service": {"()": f"{__name__}.ServiceFilter", "service": service}},
        "formatters": {"json": {"()": "shared.observability.JsonFormatter"}},
        "handlers": {"console": handler, "access": dict(handler)},
        "loggers": {
            "_granian": {"handlers": ["console"], "level": "INFO", "propagate": False},
            "granian.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
        },
    }


def write_json_log_config(service: str) -> Path:
    """The config as a file (granian reads a path); the same content every time, replaced atomically."""
    path = Path(tempfile.gettempdir()) / f"paygate-granian-log-{service}-{os.getuid()}.json"
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w") as out:
        json.dump(json_log_config(service), out, indent=2)
    os.replace(temporary, path)
    return path
