"""The Elasticsearch/OpenSearch backend of the ``Store``: same contract, same ids as SQLite.

Indices (``{prefix}-{kind}`` aliases over versioned ``{prefix}-{kind}-v{N}`` indices, one
explicit template per kind in ``index/templates/``, ``dynamic: strict``): listings, posts,
snapshots, vendors (one document per lower-cased handle with its accounts), identifiers
((kind, value) documents plus one sighting per (kind, value, source, key)), events,
alerts, crawls. A mapping change is a template version bump and ``migrate()``: create
v{N+1}, reindex, swap the alias atomically.

Ingest reuses the backend-independent ``changes.plan``; what it needs to know about a
batch is fetched with real-time ``mget`` only (never a near-real-time search), so it is
correct whatever the refresh policy. Writes go through ``es_bulk.bulk_write`` (every item
read, 429 retried, failures counted and raised) in two phases: current documents,
vendors, identifiers and events first, snapshots last. A snapshot is the marker that a
(listing key, crawl) was ingested, so a crash between the phases is repaired by replaying
the batch. Ingest and end_crawl assume one writer per store, as SQLite's lock does.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple

from narcwatch.extract.models import IdentifierKind
from narcwatch.index.changes import Known, Plan, plan, removal_event, snapshot_id
from narcwatch.index.documents import iso, stable_id
from narcwatch.index.es_bulk import Action, BulkError, BulkStats, bulk_write
from narcwatch.index.es_client import EngineClient, EngineError, connect_client
from narcwatch.index.es_compiler import KEYWORD_FIELDS, MULTI_FIELDS, compile_es
from narcwatch.index.es_highlight import highlight
from narcwatch.index.fields import resolve_field
from narcwatch.index.models import Alert, ChangeEvent
from narcwatch.index.query import ParsedQuery, parse, tokenize
from narcwatch.index.results import (
    FacetCount, ListingHistory, SearchHit, SearchResult, Trends, VendorReport, parse_sort,
)
from narcwatch.index.store import IngestItem

__all__ = ["KINDS", "UPGRADES", "SearchEngineStore", "Upgrade", "load_templates"]

TEMPLATES_DIR = Path(__file__).parent / "templates"
#: index kind -> template file (listings and posts share one mapping, not one index)
KINDS: dict[str, str] = {"listings": "items", "posts": "items", "snapshots": "snapshots", "vendors": "vendors",
                         "identifiers": "identifiers", "events": "events", "alerts": "alerts", "crawls": "crawls"}
MAX_WINDOW = 10_000  # index.max_result_window
_PAGE = 1000
_TERMS_CHUNK = 5000
_MAX_ID_BYTES = 256


class Upgrade(NamedTuple):
    """How a document of the previous template version becomes one of this version, when
    the new mapping adds a field derived from what the document already holds (the copy
    is then made here, page by page in ``sort`` order, instead of by a server-side
    reindex: no scripting, so it runs the same on Elasticsearch and OpenSearch)."""

    sort: str  # a unique keyword field to page by
    apply: Callable[[dict[str, Any]], dict[str, Any]]


def _snapshots_v2(src: dict[str, Any]) -> dict[str, Any]:
    """v2 keeps substances and classes on every snapshot (USD/gram per substance over time in
    Kibana); v1 documents hold them in the stored ``doc``."""
    doc = src.get("doc") or {}
    return {**src, "substances": list(doc.get("substances") or []), "classes": list(doc.get("classes") or [])}


#: (kind, version) -> the upgrade from version - 1; a step without one is a plain reindex
UPGRADES: dict[tuple[str, int], Upgrade] = {("snapshots", 2): Upgrade("id", _snapshots_v2)}


def load_templates(directory: Path = TEMPLATES_DIR) -> dict[str, dict[str, Any]]:
    """kind -> {"version", "settings", "mappings"} from the JSON files shipped with narcwatch."""
    files = {name: json.loads((directory / f"{name}.json").read_text()) for name in set(KINDS.values())}
    return {kind: files[name] for kind, name in KINDS.items()}


def doc_id(key: str) -> str:
    """The key itself when short enough for an ``_id``, else a stable hash of it."""
    return key if len(key.encode()) <= _MAX_ID_BYTES else "sha:" + stable_id(key)


def _lc(v: Any) -> str | None:
    return v.lower() if isinstance(v, str) and v else None


def _f(v: Any) -> float | None:
    try:
        return None if v is None else float(v)
    except (TypeError, ValueError):
        return None


def _monday(seen_at: str) -> str:
    d = date.fromisoformat(seen_at[:10])
    return date.fromordinal(d.toordinal() - d.weekday()).isoformat()


def _facts(item: Any, ext: Any) -> set[tuple[str, str]]:
    """(kind, value) identifier facts of one item, as ``documents.item_document`` builds them."""
    if ext is None:
        return set()
    facts = [(f"wallet:{w.chain.upper()}", w.address) for w in ext.wallets]
    facts += [(i.kind.value, i.value.replace(" ", "").upper() if i.kind is IdentifierKind.PGP_FINGERPRINT else i.value)
              for i in ext.identifiers]
    return {(k, v.strip()) for k, v in facts if v and v.strip()}


def item_source(d: dict[str, Any], *, removed: bool = False, missed: int = 0, last_crawl: str = "") -> dict[str, Any]:
    """The indexed form of a current listing/post document ``d`` (kept verbatim in ``doc``)."""
    src: dict[str, Any] = {
        "id": doc_id(d["key"]), "key": d["key"].lower(), "key_exact": d["key"],
        "has_text": [f for f in ("title", "text") if d.get(f)],
        "title": " ".join(tokenize(d.get("title") or "")), "text": " ".join(tokenize(d.get("text") or "")),
        "price": _f(d.get("price")), "price_usd": _f(d.get("price_usd")), "usd_per_gram": _f(d.get("usd_per_gram")),
        "usd_per_unit": _f(d.get("usd_per_unit")), "first_seen": d.get("first_seen"), "last_seen": d.get("last_seen"),
        "available": bool(d.get("available")) and not removed, "novel": bool(d.get("novel")), "removed": removed,
        "missed": missed, "last_crawl": last_crawl, "doc": d,
    }
    for f in KEYWORD_FIELDS:
        if f != "key":
            src[f] = _lc(d.get(f))
    for f in MULTI_FIELDS:
        src[f] = [v.lower() for v in d.get(f) or () if isinstance(v, str) and v]
    return src


class SearchEngineStore:
    """``Store`` over Elasticsearch or OpenSearch (``client.flavor``)."""

    backend = "search_engine"

    def __init__(self, client: EngineClient, *, prefix: str = "narcwatch", removed_after: int = 2,
                 refresh: bool | str = False, templates: dict[str, dict[str, Any]] | None = None,
                 bulk_options: dict[str, Any] | None = None):
        if not prefix or prefix != prefix.lower() or any(c in prefix for c in ' "*\\<|,>/?#:'):
            raise ValueError(f"index prefix {prefix!r} must be lower-case, without spaces or \" * \\ < | , > / ? # :")
        self.client = client
        self.prefix = prefix
        self.removed_after = removed_after
        self.refresh_policy = refresh
        self.templates = templates or load_templates()
        self.bulk_options = bulk_options or {}
        self.bulk_stats = BulkStats()  # cumulative, for operators (retries, existed, failures by type)
        self._lock = threading.RLock()
        self._last_seq = 0
        self.apply_templates()

    @classmethod
    def connect(cls, backend: str, url: str, *, prefix: str = "narcwatch", **kw: Any) -> "SearchEngineStore":
        """``backend`` is ``elasticsearch`` or ``opensearch``; ``kw`` go to the store."""
        client_options = kw.pop("client_options", {})
        return cls(connect_client(backend, url, **client_options), prefix=prefix, **kw)  # type: ignore[arg-type]

    # --- indices, templates, migrations ------------------------------------------------

    def alias(self, kind: str) -> str:
        return f"{self.prefix}-{kind}"

    def index_name(self, kind: str, version: int) -> str:
        return f"{self.prefix}-{kind}-v{version}"

    @property
    def _items(self) -> str:
        return f"{self.alias('listings')},{self.alias('posts')}"

    def _template_body(self, kind: str) -> dict[str, Any]:
        t = self.templates[kind]
        return {"index_patterns": [f"{self.prefix}-{kind}-v*"], "priority": 100, "version": int(t["version"]),
                "template": {"settings": t["settings"], "mappings": t["mappings"]},
                "_meta": {"narcwatch_kind": kind}}

    def _current(self, kind: str) -> tuple[str | None, int]:
        targets = self.client.alias_targets(self.alias(kind))
        if len(targets) > 1:
            raise RuntimeError(f"alias {self.alias(kind)} points at {targets}; expected one index")
        if not targets:
            return None, 0
        name = targets[0]
        try:
            return name, int(name.rsplit("-v", 1)[1])
        except (IndexError, ValueError):
            raise RuntimeError(f"alias {self.alias(kind)} points at {name}, not a versioned -vN index") from None

    def apply_templates(self) -> dict[str, str]:
        """Install/update every index template; create v{N} behind each missing alias.

        Idempotent; existing indices keep their mapping until ``migrate()``. (The
        ``narcwatch index apply-templates`` CLI command calls this.)
        """
        out = {}
        for kind in KINDS:
            self.client.put_index_template(self.alias(kind), self._template_body(kind))
            name, version = self._current(kind)
            want = int(self.templates[kind]["version"])
            if name is None:
                name = self.index_name(kind, want)
                try:
                    self.client.create_index(name, {self.alias(kind): {"is_write_index": True}})
                except EngineError as exc:  # created meanwhile by another process
                    if exc.status != 400 or not self.client.index_exists(name):
                        raise
            elif version > want:
                raise RuntimeError(f"{name} is v{version}, newer than this narcwatch's template (v{want})")
            out[kind] = name
        return out

    def pending_migrations(self) -> dict[str, tuple[int, int]]:
        """kind -> (current version, template version) where a reindex is due."""
        out = {}
        for kind in KINDS:
            _, version = self._current(kind)
            want = int(self.templates[kind]["version"])
            if version < want:
                out[kind] = (version, want)
        return out

    def migrate(self, *, delete_old: bool = False) -> dict[str, dict[str, Any]]:
        """Bring every index to its template version: create v{N}, reindex, swap the alias.

        The swap is one ``_aliases`` request (remove old + add new), so readers never see
        an empty or half-filled index. Run it with ingest paused: documents written to the
        old index after the reindex started would not be copied (the spool keeps them).
        """
        report: dict[str, dict[str, Any]] = {}
        with self._lock:
            for kind, (old_v, new_v) in self.pending_migrations().items():
                self.client.put_index_template(self.alias(kind), self._template_body(kind))
                old = self.index_name(kind, old_v)
                new = self.index_name(kind, new_v)
                if self.client.index_exists(new):  # a previous attempt died before the swap
                    self.client.delete_index(new)
                self.client.create_index(new)
                steps = [UPGRADES[(kind, v)] for v in range(old_v + 1, new_v + 1) if (kind, v) in UPGRADES]
                failures = self._copy(old, new, steps) if steps else (self.client.reindex(old, new).get("failures") or [])
                self.client.refresh(new)
                before, after = self.client.count(old), self.client.count(new)
                if failures or before != after:
                    self.client.delete_index(new)
                    raise RuntimeError(f"reindex {old} -> {new} failed ({len(failures)} failures, {before} vs {after} "
                                       f"documents): {failures[:3]}; the alias still points at {old}")
                self.client.update_aliases([
                    {"remove": {"index": old, "alias": self.alias(kind)}},
                    {"add": {"index": new, "alias": self.alias(kind), "is_write_index": True}},
                ])
                if delete_old:
                    self.client.delete_index(old)
                report[kind] = {"from": old, "to": new, "documents": after}
        return report

    def _copy(self, old: str, new: str, steps: Sequence[Upgrade]) -> list[Any]:
        """Copy ``old`` into ``new`` through the upgrade steps; the failed items (none when well)."""
        failures: list[Any] = []
        page: list[Action] = []
        for hit in self._scan(old, {"match_all": {}}, [{steps[0].sort: "asc"}]):
            src = hit["_source"]
            for step in steps:
                src = step.apply(src)
            page.append(Action("create", new, hit["_id"], src))
            if len(page) >= _PAGE:
                failures += self._copy_page(page)
                page = []
        return failures + self._copy_page(page)

    def _copy_page(self, page: list[Action]) -> list[Any]:
        try:
            self._bulk(page)
        except (BulkError, EngineError) as exc:  # reported by migrate, which then keeps the old alias
            return [str(exc)]
        return []

    def refresh(self) -> None:
        for kind in KINDS:
            self.client.refresh(self.alias(kind))

    def drop_all(self) -> None:
        """Delete every index of this prefix (tests against a shared cluster)."""
        for kind in KINDS:
            for name in self.client.alias_targets(self.alias(kind)):
                self.client.delete_index(name)

    # --- ingest ----------------------------------------------------------------------

    def _bulk(self, actions: Sequence[Action]) -> BulkStats:
        if not actions:
            return BulkStats()
        try:
            stats = bulk_write(self.client, actions, refresh=self.refresh_policy, **self.bulk_options)
        except Exception as exc:
            failed = getattr(exc, "stats", None)
            if failed is not None:
                self.bulk_stats.merge(failed)
            raise
        self.bulk_stats.merge(stats)
        return stats

    def _known(self, batch: Sequence[IngestItem]) -> tuple[Known, dict[str, dict[str, Any]]]:
        known = Known()
        sids, items, handles, facts = set(), {}, set(), set()
        for item, ext in batch:
            sids.add(snapshot_id(item.key, item.crawl_id, iso(item.seen_at)))
            if item.type in ("listing", "post"):
                items[item.key] = "posts" if item.type == "post" else "listings"
            h = getattr(item, "vendor", None) or getattr(item, "handle", None)
            if h and h.strip():
                handles.add(h.strip().lower())
            facts |= _facts(item, ext)
        c = self.client
        snaps = sorted(sids)
        for sid, got in zip(snaps, c.mget([{"_index": self.alias("snapshots"), "_id": s} for s in snaps], source=False)):
            if got.get("found"):
                known.snapshots.add(sid)
        keys = sorted(items)
        for got in c.mget([{"_index": self.alias(items[k]), "_id": doc_id(k)} for k in keys]):
            if got.get("found"):
                src = got["_source"]
                d = dict(src["doc"])
                d["removed"], d["missed"] = bool(src.get("removed")), int(src.get("missed") or 0)
                known.current[d["key"]] = d
        vendors: dict[str, dict[str, Any]] = {}
        hl = sorted(handles)
        for got in c.mget([{"_index": self.alias("vendors"), "_id": doc_id(h)} for h in hl]):
            if got.get("found"):
                src = got["_source"]
                vendors[src["handle_lc"]] = src
                known.vendor_sources[src["handle_lc"]] = set(src.get("sources") or ())
        fl = sorted(facts)
        for (kind, value), got in zip(fl, c.mget([{"_index": self.alias("identifiers"), "_id": _ident_id(k, v)}
                                                  for k, v in fl], source=False)):
            if got.get("found"):
                known.identifiers.add((kind, value))
        return known, vendors

    def ingest(self, batch: Sequence[IngestItem]) -> list[ChangeEvent]:
        if not batch:
            return []
        with self._lock:
            known, vendors = self._known(batch)
            p = plan(batch, known)
            first = self._doc_actions(p) + self._vendor_actions(p, vendors) + self._identifier_actions(p) \
                + self._event_actions(p.events)
            self._bulk(first)
            self._bulk([Action("create", self.alias("snapshots"), s["id"], _snapshot_source(s), exists_ok=True)
                        for s in p.snapshots])
        return p.events

    def _doc_actions(self, p: Plan) -> list[Action]:
        return [Action("index", self.alias("posts" if d["type"] == "post" else "listings"), doc_id(k),
                       item_source(d, last_crawl=d.get("crawl_id") or ""))
                for k, d in p.docs.items()]

    def _vendor_actions(self, p: Plan, existing: dict[str, dict[str, Any]]) -> list[Action]:
        by_handle: dict[str, dict[str, dict[str, Any]]] = {}
        for lc, src in existing.items():
            by_handle[lc] = {a["source"]: a for a in src.get("accounts") or ()}
        touched = set()
        for (source, lc), row in p.vendors.items():
            accounts = by_handle.setdefault(lc, {})
            acc = accounts.get(source)
            if acc is None:
                accounts[source] = {k: row[k] for k in ("source", "handle", "first_seen", "last_seen", "capture_id",
                                                        "capture_sha256", "profile")}
            else:  # as SQLite's upsert: keep handle and first capture, widen the dates, newest profile
                acc["first_seen"] = min(acc["first_seen"], row["first_seen"])
                acc["last_seen"] = max(acc["last_seen"], row["last_seen"])
                acc["profile"] = row["profile"] if row["profile"] is not None else acc.get("profile")
            touched.add(lc)
        out = []
        for lc in sorted(touched):
            accs = sorted(by_handle[lc].values(), key=lambda a: (a["first_seen"], a["source"]))
            out.append(Action("index", self.alias("vendors"), doc_id(lc), {
                "id": doc_id(lc), "handle_lc": lc, "sources": sorted(by_handle[lc]), "n_accounts": len(accs),
                "first_seen": min(a["first_seen"] for a in accs), "last_seen": max(a["last_seen"] for a in accs),
                "accounts": accs}))
        return out

    def _identifier_actions(self, p: Plan) -> list[Action]:
        if not p.sightings:
            return []
        ids = sorted({_sighting_id(s) for s in p.sightings})
        rows: dict[str, dict[str, Any]] = {}
        for sid, got in zip(ids, self.client.mget([{"_index": self.alias("identifiers"), "_id": i} for i in ids])):
            if got.get("found"):
                rows[sid] = got["_source"]
        firsts: dict[str, Action] = {}
        for s in p.sightings:  # merged in order, as SQLite's ON CONFLICT applies them one by one
            sid = _sighting_id(s)
            r = rows.get(sid)
            if r is None:
                rows[sid] = {"id": sid, "doc_kind": "sighting", "kind": s["kind"], "value": s["value"],
                             "source": s["source"], "key_exact": s["key"], "vendor": _lc(s["vendor"]),
                             "first_seen": s["seen_at"], "last_seen": s["seen_at"], "first_capture_id": s["capture_id"],
                             "first_capture_sha256": s["capture_sha256"], "last_capture_id": s["capture_id"],
                             "last_capture_sha256": s["capture_sha256"], "sightings": 1}
            else:
                r["sightings"] = int(r.get("sightings") or 0) + 1
                r["first_seen"] = min(r["first_seen"], s["seen_at"])
                r["last_seen"] = max(r["last_seen"], s["seen_at"])
                r["last_capture_id"], r["last_capture_sha256"] = s["capture_id"], s["capture_sha256"]
            iid = _ident_id(s["kind"], s["value"])
            firsts.setdefault(iid, Action("create", self.alias("identifiers"), iid, {
                "id": iid, "doc_kind": "identifier", "kind": s["kind"], "value": s["value"], "first_seen": s["seen_at"],
                "first_capture_id": s["capture_id"], "first_capture_sha256": s["capture_sha256"]}, exists_ok=True))
        touched = {_sighting_id(s) for s in p.sightings}
        return list(firsts.values()) + [Action("index", self.alias("identifiers"), sid, rows[sid]) for sid in sorted(touched)]

    def _seq(self) -> int:
        self._last_seq = max(self._last_seq + 1, time.time_ns())
        return self._last_seq

    def _event_actions(self, events: Sequence[ChangeEvent]) -> list[Action]:
        return [Action("create", self.alias("events"), e.id, {
            "id": e.id, "seq": self._seq(), "type": e.type.value, "at": iso(e.at), "source": e.source,
            "listing_key": e.listing_key, "vendor": e.vendor, "capture_id": e.capture_id,
            "capture_sha256": e.capture_sha256, "details": e.details}, exists_ok=True) for e in events]

    def end_crawl(self, source: str, crawl_id: str, complete: bool, at: datetime) -> list[ChangeEvent]:
        cid = stable_id("crawl", source, crawl_id)
        events: list[ChangeEvent] = []
        with self._lock:
            if self.client.mget([{"_index": self.alias("crawls"), "_id": cid}], source=False)[0].get("found"):
                return []
            actions: list[Action] = []
            if complete:
                self.client.refresh(self.alias("listings"))  # see every ingest of this crawl
                q = {"bool": {"filter": [{"term": {"source": source.lower()}}, {"term": {"removed": False}},
                                         {"term": {"type": "listing"}}],
                              "must_not": [{"term": {"last_crawl": crawl_id}}]}}
                for hit in list(self._scan(self.alias("listings"), q, [{"id": "asc"}])):
                    src = hit["_source"]
                    missed = int(src.get("missed") or 0) + 1
                    d = src["doc"]
                    removed = missed >= self.removed_after
                    if removed:
                        d["available"], d["removed"] = False, True
                        events.append(removal_event(d, crawl_id, iso(at), missed))
                    actions.append(Action("index", self.alias("listings"), src["id"],
                                          item_source(d, removed=removed, missed=missed,
                                                      last_crawl=src.get("last_crawl") or "")))
                actions += self._event_actions(events)
            self._bulk(actions)
            self._bulk([Action("create", self.alias("crawls"), cid, {
                "id": cid, "source": source, "crawl_id": crawl_id, "complete": complete, "at": iso(at)},
                exists_ok=True)])
        return events

    def mark_seen(self, seen: Sequence[tuple[str, str, datetime]]) -> int:
        """Listings a recrawl saw unchanged (no refetch): present for removal, no snapshot."""
        if not seen:
            return 0
        latest: dict[str, tuple[str, str]] = {}
        for key, crawl_id, at in seen:
            if key not in latest or iso(at) > latest[key][1]:
                latest[key] = (crawl_id, iso(at))
        keys = sorted(latest)
        actions: list[Action] = []
        with self._lock:
            for key, got in zip(keys, self.client.mget([{"_index": self.alias("listings"), "_id": doc_id(k)}
                                                        for k in keys])):
                if not got.get("found") or got["_source"].get("removed"):
                    continue
                src = got["_source"]
                crawl_id, at = latest[key]
                d = dict(src["doc"])
                if (d.get("last_seen") or "") > at:
                    continue  # a replay of an older sighting never moves the listing back
                d["last_seen"] = at
                actions.append(Action("index", self.alias("listings"), doc_id(key),
                                      item_source(d, removed=False, missed=0, last_crawl=crawl_id)))
            self._bulk(actions)
        return len(actions)

    # --- reads -----------------------------------------------------------------------

    def _scan(self, index: str, query: dict[str, Any], sort: list[dict[str, Any]],
              source: bool | list[str] = True) -> Iterator[dict[str, Any]]:
        """Every hit, in ``sort`` order, by search_after pages (sort must end in a unique field)."""
        after = None
        while True:
            body: dict[str, Any] = {"query": query, "sort": sort, "size": _PAGE, "_source": source,
                                    "track_total_hits": False}
            if after is not None:
                body["search_after"] = after
            hits = self.client.search(index, body)["hits"]["hits"]
            yield from hits
            if len(hits) < _PAGE:
                return
            after = hits[-1]["sort"]

    def events(self, since: datetime | None = None, types: Sequence[str] = (), limit: int = 1000,
               listing_key: str | None = None) -> list[ChangeEvent]:
        filters: list[dict[str, Any]] = []
        if since is not None:
            filters.append({"range": {"at": {"gte": iso(since)}}})
        if types:
            filters.append({"terms": {"type": [str(t) for t in types]}})
        if listing_key is not None:
            filters.append({"term": {"listing_key": listing_key}})
        body = {"query": {"bool": {"filter": filters}}, "sort": [{"at": "asc"}, {"seq": "asc"}],
                "size": max(0, min(int(limit), MAX_WINDOW)), "track_total_hits": False}
        out = []
        for h in self.client.search(self.alias("events"), body)["hits"]["hits"]:
            s = h["_source"]
            out.append(ChangeEvent(id=s["id"], type=s["type"], at=s["at"], source=s["source"],
                                   listing_key=s.get("listing_key"), vendor=s.get("vendor"),
                                   capture_id=s.get("capture_id") or "", capture_sha256=s.get("capture_sha256") or "",
                                   details=s.get("details") or {}))
        return out

    def save_alerts(self, alerts: Sequence[Alert]) -> int:
        with self._lock:
            stats = self._bulk([Action("index", self.alias("alerts"), a.id, {
                "id": a.id, "rule_id": a.rule_id, "created_at": iso(a.created_at), "status": a.status.value,
                "body": a.model_dump(mode="json")}) for a in alerts])
        return stats.ok

    def alerts(self, limit: int = 1000) -> list[Alert]:
        body = {"query": {"match_all": {}}, "sort": [{"created_at": "desc"}, {"id": "asc"}],
                "size": max(0, min(int(limit), MAX_WINDOW))}
        return [Alert.model_validate(h["_source"]["body"])
                for h in self.client.search(self.alias("alerts"), body)["hits"]["hits"]]

    def counts(self) -> dict[str, int]:
        c = self.client
        vendors = c.search(self.alias("vendors"), {"size": 0, "aggs": {"n": {"sum": {"field": "n_accounts"}}}})
        return {
            "listings": c.count(self.alias("listings")),
            "posts": c.count(self.alias("posts")),
            "snapshots": c.count(self.alias("snapshots")),
            "vendors": int(vendors["aggregations"]["n"]["value"] or 0),
            "identifiers": c.count(self.alias("identifiers"), {"term": {"doc_kind": "identifier"}}),
            "events": c.count(self.alias("events")),
            "alerts": c.count(self.alias("alerts")),
        }

    def search(self, query: str | ParsedQuery, *, limit: int = 20, offset: int = 0, sort: str | None = None,
               facets: Sequence[str] = (), facet_size: int = 10) -> SearchResult:
        pq = query if isinstance(query, ParsedQuery) else parse(query)
        texts = pq.text_nodes
        field, desc = parse_sort(sort, bool(texts))
        if field == "relevance" and texts:
            order: list[Any] = [{"_score": "desc"}, {"key_exact": "asc"}]
        elif field == "relevance":
            order = [{"last_seen": {"order": "desc", "missing": "_last"}}, {"key_exact": "asc"}]
        elif field == "key":
            order = [{"key_exact": "desc" if desc else "asc"}]
        else:
            order = [{field: {"order": "desc" if desc else "asc", "missing": "_last"}}, {"key_exact": "asc"}]
        limit = max(0, min(int(limit), MAX_WINDOW))
        offset = max(0, int(offset))
        if offset + limit > MAX_WINDOW:
            raise ValueError(f"offset + limit may not exceed {MAX_WINDOW:,} on a search engine; narrow the query")
        body: dict[str, Any] = {"query": compile_es(pq.root), "sort": order, "size": limit, "from": offset,
                                "track_total_hits": True, "_source": ["doc"]}
        aggs = {f"f{i}": _facet_agg(name, facet_size) for i, name in enumerate(facets)}
        if aggs:
            body["aggs"] = aggs
        resp = self.client.search(self._items, body)
        hits = []
        for h in resp["hits"]["hits"]:
            doc = h["_source"]["doc"]
            score = h.get("_score") if field == "relevance" and texts else None
            hits.append(SearchHit(key=doc["key"], score=score, doc=doc, highlights=highlight(doc, texts) if texts else {}))
        fc = {name: [FacetCount(value=b["key"], count=b["doc_count"])
                     for b in resp["aggregations"][f"f{i}"]["buckets"]] for i, name in enumerate(facets)}
        return SearchResult(query=pq.source, total=int(resp["hits"]["total"]["value"]), hits=hits, facets=fc)

    def facets(self, query: str | ParsedQuery, fields: Sequence[str], size: int = 10) -> dict[str, list[FacetCount]]:
        return self.search(query, limit=0, facets=fields, facet_size=size).facets

    def listing(self, key: str) -> ListingHistory | None:
        found = [g for g in self.client.mget([{"_index": self.alias(k), "_id": doc_id(key)} for k in ("listings", "posts")])
                 if g.get("found")]
        if not found:
            return None
        snaps = [h["_source"]["doc"] for h in self._scan(self.alias("snapshots"), {"term": {"key_exact": key}},
                                                         [{"seen_at": "asc"}, {"id": "asc"}], ["doc"])]
        events = [e.model_dump(mode="json") for e in self.events(listing_key=key, limit=MAX_WINDOW)]
        return ListingHistory(key=key, current=found[0]["_source"]["doc"], snapshots=snaps, events=events)

    def vendor(self, name: str) -> VendorReport | None:
        lc = name.strip().lower()
        got = self.client.mget([{"_index": self.alias("vendors"), "_id": doc_id(lc)}])
        if not got or not got[0].get("found"):
            return None
        accounts = sorted(got[0]["_source"]["accounts"], key=lambda a: (a["first_seen"], a["source"]))
        q = {"bool": {"filter": [{"term": {"vendor": lc}}, {"term": {"type": "listing"}}]}}
        listings = []
        for h in self._scan(self.alias("listings"), q, [{"first_seen": "asc"}, {"key_exact": "asc"}],
                            ["doc", "usd_per_gram", "available"]):
            s, d = h["_source"], h["_source"]["doc"]
            listings.append({"key": d["key"], "source": d["source"], "title": d["title"], "first_seen": d["first_seen"],
                             "last_seen": d["last_seen"], "price": d["price"], "currency": d["currency"],
                             "usd_per_gram": s.get("usd_per_gram"), "available": bool(s.get("available"))})
        weeks: dict[str, set[str]] = defaultdict(set)
        prices = []
        for h in self._scan(self.alias("snapshots"), {"term": {"vendor": lc}},
                            [{"seen_at": "asc"}, {"key_exact": "asc"}, {"id": "asc"}],
                            ["seen_at", "key_exact", "price", "currency", "usd_per_gram", "capture_id"]):
            s = h["_source"]
            seen = s["seen_at"]
            weeks[_monday(seen)].add(s["key_exact"])
            prices.append({"seen_at": seen, "key": s["key_exact"], "price": s.get("price"),
                           "currency": s.get("currency"), "usd_per_gram": s.get("usd_per_gram"),
                           "capture_id": s.get("capture_id")})
        idents: dict[tuple[str, str], dict[str, Any]] = {}
        iq = {"bool": {"filter": [{"term": {"doc_kind": "sighting"}}, {"term": {"vendor": lc}}]}}
        for h in self._scan(self.alias("identifiers"), iq, [{"first_seen": "asc"}, {"id": "asc"}]):
            s = h["_source"]
            e = idents.setdefault((s["kind"], s["value"]), {
                "kind": s["kind"], "value": s["value"], "sources": [], "first_seen": s["first_seen"],
                "last_seen": s["last_seen"], "capture_id": s["first_capture_id"],
                "capture_sha256": s["first_capture_sha256"]})
            if s["source"] not in e["sources"]:
                e["sources"].append(s["source"])
            e["last_seen"] = max(e["last_seen"], s["last_seen"])
        return VendorReport(
            name=accounts[0]["handle"], accounts=accounts, markets=sorted({a["source"] for a in accounts}),
            listings=listings, listings_per_week=[{"week": w, "listings": len(k)} for w, k in sorted(weeks.items())],
            price_history=prices, identifiers=list(idents.values()),
            first_seen=min(a["first_seen"] for a in accounts), last_seen=max(a["last_seen"] for a in accounts))

    def trends(self, query: str | ParsedQuery = "", *, facets: Sequence[str] = ("classes", "source", "ships_from",
                                                                                   "vendor")) -> Trends:
        """Listings per week and USD-per-gram quartiles per (week, substance), exact.

        As in SQLite, a snapshot counts when the listing's *current* document matches the
        query, and its price is attributed to the current document's substances. The
        matching keys are scanned, then snapshots are aggregated per chunk of keys with a
        composite aggregation (week, key, usd_per_gram): exact counts and the exact value
        distribution, so the quartiles equal SQLite's (the engines' percentiles are
        approximate).
        """
        from narcwatch.index.sqlite import price_quartiles

        pq = query if isinstance(query, ParsedQuery) else parse(query)
        subs: dict[str, list[str]] = {}
        for h in self._scan(self._items, compile_es(pq.root), [{"key_exact": "asc"}], ["key_exact", "substances"]):
            subs[h["_source"]["key_exact"]] = h["_source"].get("substances") or []
        weeks: dict[str, set[str]] = defaultdict(set)
        series: dict[tuple[str, str], list[float]] = defaultdict(list)
        keys = sorted(subs)
        for i in range(0, len(keys), _TERMS_CHUNK):
            chunk = keys[i:i + _TERMS_CHUNK]
            for b in self._composite(self.alias("snapshots"), {"terms": {"key_exact": chunk}}, [
                    {"w": {"date_histogram": {"field": "seen_at", "calendar_interval": "week"}}},
                    {"k": {"terms": {"field": "key_exact"}}},
                    {"p": {"terms": {"field": "usd_per_gram", "missing_bucket": True}}}]):
                week = datetime.fromtimestamp(b["key"]["w"] / 1000, timezone.utc).date().isoformat()
                key, ppg = b["key"]["k"], b["key"]["p"]
                weeks[week].add(key)
                if ppg is not None:
                    for sub in subs.get(key, ()):
                        series[(week, sub)].extend([float(ppg)] * int(b["doc_count"]))
        return Trends(query=pq.source, listings_per_week=[{"week": w, "count": len(k)} for w, k in sorted(weeks.items())],
                      price_per_gram=price_quartiles(series), facets=self.facets(pq, facets))

    def _composite(self, index: str, query: dict[str, Any], sources: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        after = None
        while True:
            comp: dict[str, Any] = {"size": _PAGE, "sources": sources}
            if after is not None:
                comp["after"] = after
            agg = self.client.search(index, {"size": 0, "query": query, "track_total_hits": False,
                                             "aggs": {"c": {"composite": comp}}})["aggregations"]["c"]
            yield from agg["buckets"]
            after = agg.get("after_key")
            if not agg["buckets"] or after is None:
                return

    def close(self) -> None:
        self.client.close()


def _snapshot_source(s: dict[str, Any]) -> dict[str, Any]:
    return {"id": s["id"], "key_exact": s["key"], "crawl_id": s["crawl_id"], "seen_at": s["seen_at"], "type": s["type"],
            "price": None if s["price"] is None else str(s["price"]), "currency": s["currency"],
            "usd_per_gram": _f(s["usd_per_gram"]), "usd_per_unit": _f(s["usd_per_unit"]),
            "available": bool(s["available"]), "vendor": _lc(s["vendor"]) if s["type"] == "listing" else None,
            "substances": list(s.get("substances") or []), "classes": list(s.get("classes") or []),
            "capture_id": s["capture_id"], "capture_sha256": s["capture_sha256"], "doc": s}


def _ident_id(kind: str, value: str) -> str:
    return "i:" + stable_id("identifier", kind, value)


def _sighting_id(s: dict[str, Any]) -> str:
    return "s:" + stable_id("sighting", s["value"], s["kind"], s["source"], s["key"])


def _facet_agg(name: str, size: int) -> dict[str, Any]:
    spec = resolve_field(name)
    facetable = (*MULTI_FIELDS, *KEYWORD_FIELDS)
    if spec is None or spec.name not in facetable:
        raise ValueError(f"cannot facet on {name!r}; facetable: {', '.join(sorted(facetable))}")
    return {"terms": {"field": spec.name, "size": max(1, int(size)), "order": [{"_count": "desc"}, {"_key": "asc"}]}}

