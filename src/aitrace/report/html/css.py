"""The report's inline style sheet (no fonts, images or anything fetched: it works offline)."""
# ruff: noqa: E501 - style-sheet rules read best one per line

from __future__ import annotations

CSS = """
:root {
  --ink: #1c2433; --muted: #5b6577; --faint: #8a93a3; --line: #dfe3ea; --bg: #f5f7fa;
  --card: #ffffff; --accent: #1f5f8b; --accent-soft: #e6f0f7;
  --ok: #1d7a46; --ok-soft: #e3f4ea; --bad: #b42318; --bad-soft: #fdecea;
  --warn: #9a5b00; --warn-soft: #fff4dc; --info: #344d6b; --info-soft: #eaeef5;
  --mono: ui-monospace, "SFMono-Regular", "DejaVu Sans Mono", Menlo, Consolas, monospace;
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body {
  margin: 0; background: var(--bg); color: var(--ink);
  font: 15px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Noto Sans CJK TC",
    "Microsoft JhengHei", "Helvetica Neue", Arial, sans-serif;
}
main { max-width: 1160px; margin: 0 auto; padding: 28px 32px 64px; }
h1 { font-size: 26px; line-height: 1.25; margin: 0 0 4px; letter-spacing: -0.01em; }
h2 { font-size: 20px; margin: 40px 0 12px; padding-bottom: 6px; border-bottom: 2px solid var(--line); }
h3 { font-size: 16px; margin: 22px 0 8px; }
h4 { font-size: 13px; margin: 16px 0 6px; color: var(--muted); text-transform: uppercase;
     letter-spacing: 0.04em; }
p { margin: 6px 0 10px; }
a { color: var(--accent); }
code, .mono { font-family: var(--mono); font-size: 12.5px; }
.muted { color: var(--muted); }
.faint { color: var(--faint); }
.zh { color: var(--muted); font-weight: normal; margin-left: 6px; }
header.top { display: flex; justify-content: space-between; align-items: flex-end; gap: 24px;
             margin-bottom: 18px; }
header.top .meta { text-align: right; color: var(--muted); font-size: 13px; }
.kicker { text-transform: uppercase; letter-spacing: 0.08em; font-size: 12px; color: var(--accent);
          font-weight: 600; }

.banner { border-radius: 10px; padding: 16px 20px; margin: 8px 0 22px; display: flex; gap: 16px;
          align-items: flex-start; border: 1px solid; }
.banner .icon { font-size: 26px; line-height: 1; font-weight: 700; }
.banner strong { font-size: 17px; display: block; margin-bottom: 2px; }
.banner > div:last-child { min-width: 0; flex: 1; }
.banner.ok { background: var(--ok-soft); border-color: #b5dfc6; color: #124d2c; }
.banner.bad { background: var(--bad-soft); border-color: #f3b7b1; color: #7a1810; }
.banner.warn { background: var(--warn-soft); border-color: #f0d39a; color: #6a3f00; }
.banner ul { margin: 6px 0 0; padding-left: 18px; }

.cards { display: grid; grid-template-columns: repeat(4, 1fr); gap: 12px; margin: 12px 0; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 12px 14px; }
.card .label { font-size: 12px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
.card .value { font-size: 18px; font-weight: 600; margin-top: 2px; word-break: break-word; }
.card .sub { font-size: 12.5px; color: var(--muted); word-break: break-all; }

section.panel { background: var(--card); border: 1px solid var(--line); border-radius: 12px;
                padding: 4px 22px 18px; margin: 16px 0; }
section.panel > h3:first-child, section.panel > header { margin-top: 16px; }

table { border-collapse: collapse; width: 100%; margin: 6px 0 12px; font-size: 13.5px; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: 12px; font-weight: 600; color: var(--muted); text-transform: uppercase;
     letter-spacing: .03em; background: #f9fafc; }
tbody tr:nth-child(even) td { background: #fbfcfd; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.wrap { word-break: break-word; }
/* Long unbroken values (sha256 digests in parameters, URIs) wrap instead of widening the page;
   words in headers and short cells keep whole. */
td code, td .any, .card .value, .flow, li { overflow-wrap: anywhere; }
.cols > div, .timeline li > div { min-width: 0; }
table.answers { margin: 8px 0 4px; background: rgba(255, 255, 255, .55); border-radius: 6px; }
table.answers th { width: 190px; text-transform: none; font-size: 13px; letter-spacing: 0;
                   background: none; color: inherit; }
table.answers td, table.answers th { border-bottom: 1px solid rgba(0, 0, 0, .06); padding: 4px 8px; }
table.answers td:nth-child(2) { width: 110px; }
details.gx > summary { margin: 2px 0 8px; }
.unreadable { border: 1px solid #f3b7b1; background: var(--bad-soft); border-radius: 8px;
              padding: 8px 12px; margin: 10px 0; }
table.kv th { width: 150px; text-transform: none; font-size: 13px; letter-spacing: 0; background: none; }

.pill { display: inline-block; padding: 1px 9px; border-radius: 999px; font-size: 12px;
        font-weight: 600; white-space: nowrap; border: 1px solid transparent; margin: 1px 2px 1px 0; }
.pill.ok { background: var(--ok-soft); color: var(--ok); border-color: #bfe3cd; }
.pill.bad { background: var(--bad-soft); color: var(--bad); border-color: #f3c2bd; }
.pill.warn { background: var(--warn-soft); color: var(--warn); border-color: #f0d8a6; }
.pill.info { background: var(--info-soft); color: var(--info); border-color: #d3dae6; }
.pill.none { background: #f1f2f5; color: var(--faint); border-color: #e3e5ea; }

.timeline { list-style: none; padding: 0; margin: 8px 0; }
.timeline li { display: grid; grid-template-columns: 34px 230px 1fr; gap: 12px; align-items: start;
               padding: 10px 0; border-bottom: 1px solid var(--line); }
.timeline .dot { width: 28px; height: 28px; border-radius: 50%; display: flex; align-items: center;
                 justify-content: center; font-weight: 700; font-size: 13px; color: #fff; }
.dot.recorded, .dot.re-run { background: var(--ok); }
.dot.failed { background: var(--bad); }
.dot.missing { background: #c4c9d2; }
.timeline .name { font-weight: 600; }
.timeline .when { font-size: 12.5px; color: var(--muted); }
.flow { font-size: 12.5px; color: var(--muted); margin-top: 3px; word-break: break-word; }
.flow code { color: var(--ink); }

.lineage { background: #fbfcfe; border: 1px solid var(--line); border-radius: 10px; padding: 8px;
           overflow-x: auto; }
.lineage svg { display: block; width: 100%; height: auto; }

.stage-head { display: flex; justify-content: space-between; align-items: baseline; gap: 12px;
              flex-wrap: wrap; }
.stage-head h3 { margin: 0; font-size: 18px; }
.stage-num { display: inline-block; min-width: 28px; height: 28px; line-height: 28px; text-align: center;
             border-radius: 50%; background: var(--accent); color: #fff; font-size: 13px; margin-right: 8px; }
.step-head { display: flex; flex-wrap: wrap; align-items: center; gap: 6px 8px; margin: 18px 0 6px;
             padding-top: 12px; border-top: 1px dashed var(--line); font-size: 13px; }
.step-head .step-no { font-weight: 700; font-size: 14px; margin-right: 2px; }
.step-head .faint { margin-left: auto; }
.leaves { font-size: 13px; color: var(--muted); margin: 4px 0 8px; }
pre.cmd { background: #17202c; color: #e8edf3; padding: 10px 12px; border-radius: 8px; overflow-x: auto;
          font: 12.5px/1.5 var(--mono); white-space: pre-wrap; word-break: break-all; margin: 6px 0 10px; }
.cols { display: grid; grid-template-columns: 1fr 1fr; gap: 18px; }
details { margin: 6px 0; }
details > summary { cursor: pointer; color: var(--accent); font-size: 13.5px; }
.untrusted { border-left: 4px solid var(--bad); padding-left: 12px; }
.unverified { border-left: 4px solid #e0b355; padding-left: 12px; }

.score { display: flex; align-items: center; gap: 22px; margin: 10px 0 14px; }
.score .big { font-size: 44px; font-weight: 700; line-height: 1; }
.bar { flex: 1; height: 12px; background: #e9ecf1; border-radius: 6px; overflow: hidden; max-width: 520px; }
.bar > span { display: block; height: 100%; background: linear-gradient(90deg, #2f7fb3, #1d7a46); }
.minibar { display: inline-block; width: 90px; height: 8px; background: #e9ecf1; border-radius: 4px;
           overflow: hidden; vertical-align: middle; margin-right: 8px; }
.minibar > span { display: block; height: 100%; background: var(--accent); }

.annex td:first-child { width: 32%; }
.note { font-size: 13px; color: var(--muted); background: #f4f6f9; border-radius: 8px; padding: 10px 14px; }
.rating-high { color: var(--bad); font-weight: 700; }
.rating-medium { color: var(--warn); font-weight: 700; }
.rating-low { color: var(--ok); font-weight: 700; }
.rating-not_assessed { color: var(--faint); }
footer { margin-top: 48px; font-size: 12.5px; color: var(--faint); border-top: 1px solid var(--line);
         padding-top: 12px; }
nav.toc { font-size: 13.5px; margin: 6px 0 10px; }
nav.toc a { margin-right: 14px; text-decoration: none; }

@media (max-width: 820px) {
  .cards { grid-template-columns: 1fr 1fr; }
  .cols { grid-template-columns: 1fr; }
  .timeline li { grid-template-columns: 34px 1fr; }
  .timeline li > div:last-child { grid-column: 2; }
}
@media print {
  body { background: #fff; font-size: 11.5pt; }
  main { max-width: none; padding: 0; }
  section.panel { border: none; padding: 0; break-inside: auto; }
  h2 { break-before: page; }
  h2.first { break-before: avoid; }
  tr, .timeline li, .card { break-inside: avoid; }
  nav.toc { display: none; }
  pre.cmd { background: #f3f4f6; color: #111; border: 1px solid #ddd; }
  .lineage { overflow: visible; }
}
"""
