"""Kibana saved objects for Elasticsearch deployments (``narcwatch.ndjson``).

``fields.py`` is the one place naming the Elasticsearch indices and fields the objects
use; ``build.py`` generates the NDJSON from it (``python -m narcwatch.dashboards.kibana.build``).
Import with Kibana's Saved Objects page or
``curl -X POST <kibana>/api/saved_objects/_import -H 'kbn-xsrf: true' --form file=@narcwatch.ndjson``.
"""
