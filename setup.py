"""Map the top-level code folders onto the ``narcwatch`` import namespace.

The architecture keeps ``crawler/``, ``spiders/``, ``extract/``, ``index/``,
``dashboards/`` and ``sandbox/`` at the top of the repository, but installing them as
top-level modules would claim generic names (``index``, ``extract``) in site-packages.
They install as ``narcwatch.crawler``, ``narcwatch.extract`` and so on instead.
"""

from setuptools import find_packages, setup

STAGES = ["crawler", "spiders", "extract", "index", "dashboards", "sandbox"]
DATA = ["*.yaml", "*.yml", "*.json", "*.jsonl", "*.html", "*.css", "*.js", "*.txt", "*.ndjson", "*.png", "*.map"]

packages = ["narcwatch", "narcwatch.cli"]
package_dir = {"narcwatch": "narcwatch"}
for stage in STAGES:
    package_dir[f"narcwatch.{stage}"] = stage
    packages.append(f"narcwatch.{stage}")
    packages += [f"narcwatch.{stage}.{sub}" for sub in find_packages(stage)]

setup(
    packages=packages,
    package_dir=package_dir,
    package_data={pkg: DATA + [f"**/{p}" for p in DATA] for pkg in packages if pkg.count(".") == 1},
    include_package_data=True,
)
