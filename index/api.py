"""HTTP API for search, vendor, listing and trends: an ``APIRouter`` over any ``Store``.

The dashboard mounts ``search_router(store)``; FastAPI documents it in its OpenAPI schema.
Bad queries are 400 with the ``QueryError`` details (position, valid fields).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from narcwatch.index.query import QueryError
from narcwatch.index.results import ListingHistory, SearchResult, Trends, VendorReport

__all__ = ["search_router"]


def search_router(store: Any) -> APIRouter:
    router = APIRouter(tags=["search"])

    @router.get("/search", response_model=SearchResult, summary="Search with the query language")
    def search(q: Annotated[str, Query(description="e.g. class:nitazene AND usd_per_gram:<50")] = "",
               limit: Annotated[int, Query(ge=0, le=1000)] = 20, offset: Annotated[int, Query(ge=0)] = 0,
               sort: str | None = None,
               facet: Annotated[list[str], Query(description="facet fields: class, market, ships_from, vendor")] = []) -> SearchResult:  # noqa: B006
        try:
            return store.search(q, limit=limit, offset=offset, sort=sort, facets=facet)
        except QueryError as exc:
            raise HTTPException(400, detail=exc.to_dict()) from None
        except ValueError as exc:
            raise HTTPException(400, detail={"error": str(exc)}) from None

    @router.get("/vendors/{name}", response_model=VendorReport, summary="A vendor across markets")
    def vendor(name: str) -> VendorReport:
        report = store.vendor(name)
        if report is None:
            raise HTTPException(404, detail={"error": f"no vendor {name!r}"})
        return report

    @router.get("/listings/{key}", response_model=ListingHistory, summary="A listing with its snapshots and events")
    def listing(key: str) -> ListingHistory:
        h = store.listing(key)
        if h is None:
            raise HTTPException(404, detail={"error": f"no listing {key!r}"})
        return h

    @router.get("/trends", response_model=Trends, summary="Listings per week, USD/g quartiles, facets")
    def trends(q: str = "") -> Trends:
        try:
            return store.trends(q)
        except QueryError as exc:
            raise HTTPException(400, detail=exc.to_dict()) from None

    return router
