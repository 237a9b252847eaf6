"""Plain HTML renderings of the OGC resources (for people following links in a browser)."""

from __future__ import annotations

import html
import json


def page(title: str, body: str) -> str:
    return (f"<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'><title>"
            f"{html.escape(title)}</title><style>body{{font-family:sans-serif;margin:2em;"
            f"max-width:70em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;"
            f"padding:2px 6px;font-size:90%}}</style></head><body><h1>{html.escape(title)}</h1>"
            f"{body}</body></html>")


def links(items: list[dict]) -> str:
    return "<ul>" + "".join(
        f"<li><a href='{html.escape(link['href'])}'>{html.escape(link.get('title') or link['rel'])}"
        f"</a> <small>({html.escape(link['rel'])})</small></li>" for link in items) + "</ul>"


def features_table(fc: dict) -> str:
    feats = fc.get("features", [])
    if not feats:
        return "<p>无要素 · no features</p>"
    names = list(feats[0].get("properties", {}))
    head = "".join(f"<th>{html.escape(n)}</th>" for n in ["id", *names])
    rows = "".join("<tr>" + "".join(
        f"<td>{html.escape(json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else str(v))}</td>"
        for v in [f.get("id"), *(f["properties"].get(n) for n in names)]) + "</tr>" for f in feats)
    return f"<table><tr>{head}</tr>{rows}</table>"
