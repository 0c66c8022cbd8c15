"""Screenshots of the dashboard for docs/screenshots/ (and the README), made from the browser
tests' demo: the same store (20,000 generated events, seed 7, tests/e2e/conftest.py), the same
server, the same views opened as their role (tests/e2e/views.py), in headless Chromium.

    .venv/bin/python -m docs.screenshots            every view at 1440×900 and 390×844 in English,
                                                   and the overview, the why and payouts in Chinese
    .venv/bin/python -m docs.screenshots --check    exit 1 when a listed file is missing

Needs Chromium (/usr/bin/chromium) and, for the Chinese text, a CJK font
(`apt-get install -y fonts-noto-cjk`): without one, Chinese comes out as boxes, and this says so.
Each picture is cut at MAX_HEIGHT and saved as a PNG of at most COLOURS colours (Pillow), so
that the folder stays small (about 2 MB). docs/screenshots/README.md lists them.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
MAX_HEIGHT = {"desktop": 1800, "phone": 2600}  # CSS pixels: the top of a long page
COLOURS = 64
CHINESE = ("overview", "overview-region", "why", "payouts")  # the views shot in zh-CN too


def _views() -> Any:
    """tests/e2e/views.py (the views, each opened as its role), imported by path."""
    folder = str(ROOT / "tests" / "e2e")
    if folder not in sys.path:
        sys.path.insert(0, folder)
    return importlib.import_module("views")


def _tests_modules() -> tuple[Any, Any]:
    """tests/e2e's conftest (the demo store and the server's settings) and views."""
    views = _views()
    for folder in (ROOT / "tests" / "e2e", ROOT / "tests"):  # conftest imports tests/builders.py
        if str(folder) not in sys.path:
            sys.path.append(str(folder))
    spec = importlib.util.spec_from_file_location("e2e_conftest", ROOT / "tests" / "e2e" / "conftest.py")
    assert spec and spec.loader
    conftest = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = conftest  # its dataclasses look their module up
    spec.loader.exec_module(conftest)
    return conftest, views


def shots(views: Any) -> list[tuple[Any, str, str]]:
    """(view, locale, width) of every picture, in the order the index lists them."""
    listed = []
    for view in views.VIEWS:
        for locale in ("en", "zh-CN"):
            if locale == "zh-CN" and view.name not in CHINESE:
                continue
            for width in views.WIDTHS:
                listed.append((view, locale, width))
    return listed


def file_name(view: Any, locale: str, width: str) -> str:
    return f"{view.name}-{locale}-{width}.png"


def cjk_font_missing() -> bool:
    if not shutil.which("fc-list"):
        return True
    found = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True, check=False)
    return not found.stdout.strip()


def small_png(png: bytes) -> bytes:
    """The picture in a palette of COLOURS colours (the page is flat colours and text)."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    quantised = image.quantize(colors=COLOURS, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    out = io.BytesIO()
    quantised.save(out, format="PNG", optimize=True)
    return out.getvalue()


def picture(page: Any, view: Any, width: str) -> bytes:
    """The page from its top (the why: from the payout panel), at most MAX_HEIGHT tall."""
    size = page.viewport_size
    top = 0.0
    if view.name == "why":
        box = page.locator("#view-rep .panel:has(#payout)").bounding_box()
        top = max(0.0, page.evaluate("window.scrollY") + box["y"] - 8) if box else 0.0
    height = page.evaluate("document.documentElement.scrollHeight")
    clip = {"x": 0, "y": top, "width": size["width"], "height": min(MAX_HEIGHT[width], height - top)}
    return bytes(page.screenshot(full_page=True, clip=clip, animations="disabled", caret="hide"))


def start_server(conftest: Any, demo: Any, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = conftest.free_port()
    env = {**os.environ, "PERFLEDGER_DATABASE_URL": demo.url, "PERFLEDGER_TZ": "UTC", "PERFLEDGER_CURRENCY": "CNY"}
    command = [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--host", "127.0.0.1"]
    output = log.open("w")
    process = subprocess.Popen([*command, "--port", str(port)], cwd=ROOT, env=env, stdout=output, stderr=output)
    base = f"http://127.0.0.1:{port}"
    import httpx

    deadline = time.monotonic() + conftest.SERVER_START
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{base}/health", timeout=2.0).status_code == 200:
                return process, base
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.terminate()
    raise SystemExit("the server did not answer /health in time")


def make(only: str | None) -> int:
    conftest, views = _tests_modules()
    missing = conftest.chromium_missing()
    if missing:
        print(missing, file=sys.stderr)
        return 1
    if cjk_font_missing():
        print(
            "warning: no CJK font (fc-list :lang=zh is empty): the Chinese screenshots would show boxes. "
            "Install one: apt-get install -y fonts-noto-cjk",
            file=sys.stderr,
        )
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        print("==> building the demo store (20,000 events)…", file=sys.stderr)
        demo = conftest.build_demo(Path(folder))
        process, base = start_server(conftest, demo, Path(folder) / "server.log")
        try:
            admin = httpx_client(base, demo.tokens["admin"])
            region = next(o["region"] for o in admin.get("/web/scopes").json()["reps"] if o["region"])
            tokens = {**demo.tokens, "director": director_token(demo, region)}
            where = views.Where(base, demo.rep, demo.team, region)
            with sync_playwright() as playwright:
                chromium = playwright.chromium.launch(
                    executable_path=conftest.CHROMIUM
                    if os.path.isfile(conftest.CHROMIUM)
                    else shutil.which("chromium"),
                    args=conftest.CHROMIUM_ARGS,
                )
                try:
                    for view, locale, width in shots(views):
                        if only and only not in view.name:
                            continue
                        context, page = views.open_view(chromium, where, view, tokens.get(view.role, ""), locale, width)
                        try:
                            page.mouse.move(0, 0)
                            body = small_png(picture(page, view, width))
                        finally:
                            context.close()
                        name = file_name(view, locale, width)
                        (OUT / name).write_bytes(body)
                        print(f"{name}: {len(body) // 1024} KiB", file=sys.stderr)
                finally:
                    chromium.close()
        finally:
            process.terminate()
            process.wait(timeout=10)
    if not only:
        (OUT / "README.md").write_text(index(views), encoding="utf-8")
    total = sum(p.stat().st_size for p in OUT.glob("*.png"))
    print(
        f"==> {len(list(OUT.glob('*.png')))} pictures, {total / 1e6:.1f} MB in {OUT.relative_to(ROOT)}", file=sys.stderr
    )
    return 0


LANGUAGES = {"en": "English", "zh-CN": "中文"}
SIZES = {"desktop": "1440×900", "phone": "390×844"}


def index(views: Any) -> str:
    """docs/screenshots/README.md: every picture, by view, with the role it is read as."""
    lines = [
        "# The dashboard, view by view",
        "",
        "Made by `.venv/bin/python -m docs.screenshots` from the browser tests' demo store (20,000",
        "generated events, seed 7; period 2026-Q2), each view opened as the role it is for",
        "(tests/e2e/views.py), in headless Chromium at 1440×900 and 390×844; the top of each page,",
        f"at most {MAX_HEIGHT['desktop']} (desktop) or {MAX_HEIGHT['phone']} (phone) pixels, in {COLOURS} colours.",
        "Every view passes axe-core in both languages and both widths (tests/e2e/test_e2e_accessibility.py).",
        "",
    ]
    for view in views.VIEWS:
        lines += [f"## {view.title}", "", f"`{view.name}`, read as: {view.role or 'nobody signed in yet'}.", ""]
        lines += [
            f"- {LANGUAGES[locale]}, {SIZES[width]}:\n\n"
            f"  ![{view.name}, {LANGUAGES[locale]}, {SIZES[width]}]({file_name(view, locale, width)})\n"
            for shot_view, locale, width in shots(views)
            if shot_view is view
        ]
        lines.append("")
    return "\n".join(lines)


def httpx_client(base: str, token: str) -> Any:
    import httpx

    return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30.0)


def director_token(demo: Any, region: str) -> str:
    from api.auth import create_token
    from ledger.config import Settings
    from projections.db import engine_for

    engine = engine_for(Settings(database_url=demo.url, tz_name="UTC", currency="CNY"))
    try:
        return create_token(engine, "director", region=region, label="screenshots")[0]
    finally:
        engine.dispose()


def check() -> int:
    views = _views()
    absent = [file_name(*shot) for shot in shots(views) if not (OUT / file_name(*shot)).is_file()]
    listed = (OUT / "README.md").read_text(encoding="utf-8") if (OUT / "README.md").is_file() else ""
    if listed != index(views):
        absent.append("README.md (stale: run python -m docs.screenshots)")
    for name in absent:
        print(f"missing: docs/screenshots/{name}", file=sys.stderr)
    return 1 if absent else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m docs.screenshots", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when a listed picture is missing")
    parser.add_argument("--only", help="only the views whose name contains this")
    args = parser.parse_args(argv)
    return check() if args.check else make(args.only)


if __name__ == "__main__":
    raise SystemExit(main())
