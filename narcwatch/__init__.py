"""narcwatch: open-source-intelligence crawler for drug markets.

The package maps the repository's stage folders (``crawler/``, ``spiders/``,
``extract/``, ``index/``, ``dashboards/``, ``sandbox/``) to ``narcwatch.<stage>``;
this folder holds only the composition root (the CLI and the demo), which is the
one place allowed to import every stage.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
