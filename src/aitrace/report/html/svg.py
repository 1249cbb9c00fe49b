"""The lineage graph: artifacts flowing through the ten stages, drawn as inline SVG.

Stages run top to bottom on the left; each artifact a stage produced sits on its row to the
right (path, short digest, licence). A solid arrow goes from a stage to what it produced; a
dashed arrow from an artifact to every later stage that consumed those exact bytes. Inputs no
step produced appear beside their consumer: declared external sources in grey, undeclared ones
(a chain-of-custody gap) in red. Every text is escaped: step fields are untrusted input.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from aitrace.report.view import AuditView

W_STAGE, X_STAGE = 250.0, 16.0
X_ART, W_ART = 520.0, 390.0
ROW_MIN, ART_H, ART_GAP, PAD = 58.0, 40.0, 8.0, 10.0
WIDTH = X_ART + W_ART + 20

_STATUS_FILL = {"recorded": "#e3f4ea", "re-run": "#e3f4ea", "failed": "#fdecea",
                "missing": "#f1f2f5"}
_STATUS_STROKE = {"recorded": "#1d7a46", "re-run": "#1d7a46", "failed": "#b42318",
                  "missing": "#c4c9d2"}


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else "…" + text[-(n - 1):]


@dataclass
class _Node:
    key: tuple[str, str]  # (path, sha256)
    path: str
    sha: str
    license: str | None
    kind: str  # product | external | gap
    row: int
    y: float = 0.0


def lineage_svg(view: AuditView) -> str:  # noqa: C901 - layout in one place reads best
    """The lineage graph (per stage, the latest version of each artifact) as ``<svg>``."""
    stages = view.stages
    producers: dict[tuple[str, str], _Node] = {}
    rows: list[list[_Node]] = [[] for _ in stages]
    for i, st in enumerate(stages):
        for a, _sv in st.outputs():
            key = (a.path, a.content_id or "")
            if key not in producers:
                node = _Node(key, a.path, a.sha256 or a.dirHash or "", a.license, "product", i)
                producers[key] = node
                rows[i].append(node)
    edges_in: list[tuple[_Node, int]] = []
    for i, st in enumerate(stages):
        for a, _sv in st.inputs():
            key = (a.path, a.content_id or "")
            found = producers.get(key)
            if found is not None and found.row <= i:  # same stage: an earlier step made it
                node = found
            else:
                node = _Node(key, a.path, a.sha256 or a.dirHash or "", a.license,
                             "external" if a.origin else "gap", i)
                producers.setdefault(key, node)
                if node.row == i and node not in rows[i]:
                    rows[i].append(node)
            edges_in.append((node, i))
    # layout
    y = PAD
    row_y: list[tuple[float, float]] = []
    for nodes in rows:
        h = max(ROW_MIN, len(nodes) * (ART_H + ART_GAP) + ART_GAP)
        row_y.append((y, h))
        for k, node in enumerate(nodes):
            node.y = y + ART_GAP / 2 + k * (ART_H + ART_GAP)
        y += h
    height = y + PAD
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height:.0f}" '
             f'role="img" aria-labelledby="lineage-title" class="lineage-graph" '
             f'font-family="system-ui, sans-serif">',
             '<title id="lineage-title">Lineage: artifacts flowing through the ten '
             'stages</title>',
             '<defs><marker id="arr" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
             'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
             'fill="#1f5f8b"/></marker><marker id="arr2" viewBox="0 0 10 10" refX="9" refY="5" '
             'markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path '
             'd="M0,0 L10,5 L0,10 z" fill="#8a93a3"/></marker></defs>']
    # stage boxes
    for i, st in enumerate(stages):
        top, h = row_y[i]
        if i % 2:
            parts.append(f'<rect x="0" y="{top:.0f}" width="{WIDTH}" height="{h:.0f}" '
                         'fill="#f6f8fb"/>')
        bh = 44
        by = top + (h - bh) / 2
        status = st.status
        parts.append(
            f'<rect x="{X_STAGE}" y="{by:.0f}" width="{W_STAGE}" height="{bh}" rx="8" '
            f'fill="{_STATUS_FILL[status]}" stroke="{_STATUS_STROKE[status]}" '
            f'stroke-width="1.4"/>')
        parts.append(f'<text x="{X_STAGE + 12}" y="{by + 19:.0f}" font-size="13" '
                     f'font-weight="600" fill="#1c2433">{st.number}. {_e(st.name)}'
                     f'<tspan font-weight="400" fill="#5b6577"> {_e(st.name_zh)}</tspan>'
                     '</text>')
        seqs = [str(s.step.seq) for s in st.steps]
        detail = {"missing": "not recorded", "failed": "latest step failed"}.get(
            status, ("steps " if len(seqs) > 1 else "step ") + ", ".join(seqs[-4:]))
        parts.append(f'<text x="{X_STAGE + 12}" y="{by + 35:.0f}" font-size="11" '
                     f'fill="#5b6577">{_e(detail)}</text>')
    # artifact nodes
    x_in = X_STAGE + W_STAGE
    for nodes in rows:
        for node in nodes:
            fill, stroke, dash = {"product": ("#ffffff", "#1f5f8b", ""),
                                  "external": ("#f4f5f7", "#8a93a3", ' stroke-dasharray="4 3"'),
                                  "gap": ("#fdecea", "#b42318", ' stroke-dasharray="4 3"'),
                                  }[node.kind]
            parts.append(f'<g><title>{_e(node.path)} sha256:{_e(node.sha)}</title>'
                         f'<rect x="{X_ART}" y="{node.y:.0f}" width="{W_ART}" '
                         f'height="{ART_H}" rx="6" fill="{fill}" stroke="{stroke}"{dash}/>')
            parts.append(f'<text x="{X_ART + 10}" y="{node.y + 16:.0f}" font-size="12" '
                         f'font-weight="600" fill="#1c2433">{_e(_clip(node.path, 52))}</text>')
            sub = f"sha256 {node.sha[:12]}" if node.sha else "no digest"
            if node.license:
                sub += f" · {node.license}"
            if node.kind == "external":
                sub += " · external source"
            elif node.kind == "gap":
                sub += " · not produced by any recorded step"
            parts.append(f'<text x="{X_ART + 10}" y="{node.y + 32:.0f}" font-size="11" '
                         f'font-family="ui-monospace, monospace" fill="#5b6577">'
                         f'{_e(_clip(sub, 60))}</text></g>')
            if node.kind == "product":
                top, h = row_y[node.row]
                sy = top + h / 2
                parts.append(f'<path d="M{x_in},{sy:.0f} C{x_in + 120},{sy:.0f} '
                             f'{X_ART - 120},{node.y + ART_H / 2:.0f} {X_ART - 2},'
                             f'{node.y + ART_H / 2:.0f}" fill="none" stroke="#1f5f8b" '
                             'stroke-width="1.5" marker-end="url(#arr)"/>')
    # consumption edges: from the artifact's left edge back to the consuming stage
    for node, consumer in edges_in:
        top, h = row_y[consumer]
        ty = top + h / 2 + 8
        sy = node.y + ART_H / 2 + 6
        if node.row == consumer:  # an external input drawn on the consumer's own row
            parts.append(f'<path d="M{X_ART - 2},{sy:.0f} C{X_ART - 120},{sy:.0f} '
                         f'{x_in + 120},{ty:.0f} {x_in + 2},{ty:.0f}" fill="none" '
                         'stroke="#8a93a3" stroke-width="1.3" stroke-dasharray="5 4" '
                         'marker-end="url(#arr2)"/>')
            continue
        mid = X_ART - 60 - 14 * (consumer - node.row)
        parts.append(f'<path d="M{X_ART - 2},{sy:.0f} C{mid},{sy:.0f} {mid},{ty:.0f} '
                     f'{x_in + 2},{ty:.0f}" fill="none" stroke="#8a93a3" stroke-width="1.3" '
                     'stroke-dasharray="5 4" marker-end="url(#arr2)"/>')
    parts.append("</svg>")
    return "".join(parts)
