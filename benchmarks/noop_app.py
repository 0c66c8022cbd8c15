"""The reference server: a FastAPI app whose one endpoint does nothing, served exactly like Perfledger.

Same framework, same response class (orjson), same uvicorn settings, same machine: the requests
per second it sustains under the same load are what a Perfledger endpoint would reach if its own
work (auth, queries, figures) cost nothing.
"""

from __future__ import annotations

from fastapi import FastAPI

from api.responses import OrjsonResponse


def create_noop_app() -> FastAPI:
    app = FastAPI(default_response_class=OrjsonResponse)

    @app.get("/noop")
    def noop() -> dict[str, bool]:  # plain def: a thread-pool handler, like Perfledger's
        return {"ok": True}

    return app
