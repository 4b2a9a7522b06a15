"""Front-end libraries served from ``dashboards/node_modules`` (installed by ops/bootstrap.sh).

No CDN and no build step: the files npm installed are mounted as they are under
``/static/vendor``. A missing library is a startup error naming the command that fixes it,
not a blank chart in the browser later.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["HERE", "MissingAssets", "VENDOR_FILES", "check_assets", "node_modules"]

HERE = Path(__file__).resolve().parent

#: URL name under /static/vendor/ -> path inside node_modules.
VENDOR_FILES: dict[str, str] = {
    "chart.umd.min.js": "chart.js/dist/chart.umd.min.js",
    "htmx.min.js": "htmx.org/dist/htmx.min.js",
}


class MissingAssets(RuntimeError):
    pass


def node_modules(root: Path | None = None) -> Path:
    return (root or HERE) / "node_modules"


def check_assets(root: Path | None = None) -> dict[str, Path]:
    """Resolve every vendored file or raise ``MissingAssets`` listing what is missing."""
    base = node_modules(root)
    found = {name: base / rel for name, rel in VENDOR_FILES.items()}
    missing = [str(p) for p in found.values() if not p.is_file()]
    if missing:
        raise MissingAssets(
            "dashboard front-end libraries are missing: " + ", ".join(missing)
            + f". Install them with `bash ops/bootstrap.sh` (or `cd {base.parent} && npm ci`).")
    return found
