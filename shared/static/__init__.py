"""Static assets every paygate page serves itself (no CDN): the stylesheet the operator console, the
partner portal and the hosted checkout page share. ``STATIC_DIR`` is the folder to serve."""

from __future__ import annotations

from pathlib import Path

STATIC_DIR = Path(__file__).parent / "assets"
STYLESHEET = "paygate.css"
