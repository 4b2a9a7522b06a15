"""Reports built from the store and the identity resolution (weekly vendor profiles)."""

from narcwatch.index.reports.vendors import profiles, to_html, to_markdown

__all__ = ["profiles", "to_html", "to_markdown"]
