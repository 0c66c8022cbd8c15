"""The API's interactive documentation (`GET /docs`), with Swagger UI served from the installed
`fastapi-offline` package: no CDN, so no script this server did not ship runs on the page."""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, PlainTextResponse, Response

from api.security_headers import csp_allowing_inline_scripts_of

router = APIRouter(include_in_schema=False)

ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon.png": "image/png",
}


@router.get("/docs")
def docs(request: Request) -> HTMLResponse:
    page = get_swagger_ui_html(
        openapi_url=request.app.openapi_url,
        title=f"{request.app.title} - API",
        swagger_js_url="/docs/assets/swagger-ui-bundle.js",
        swagger_css_url="/docs/assets/swagger-ui.css",
        swagger_favicon_url="/docs/assets/favicon.png",
    )
    html = bytes(page.body).decode()
    return HTMLResponse(html, headers={"Content-Security-Policy": csp_allowing_inline_scripts_of(html)})


@router.get("/docs/assets/{name}")
def docs_asset(name: str) -> Response:
    if name not in ASSETS:  # by name only: nothing else of the package is served
        return PlainTextResponse(f"no file {name!r}", status_code=404)
    path = resources.files("fastapi_offline") / "static" / name
    return FileResponse(str(path), media_type=ASSETS[name], headers={"Cache-Control": "max-age=86400"})
