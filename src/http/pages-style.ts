/** The stylesheet of the demo page and the admin console (`/assets/pages.css`). */
export const PAGE_STYLE = `
:root { color-scheme: light; --line: #d0d4da; --muted: #6a7079; --ok: #087f23; --bad: #b3261e;
  --warn: #8a5a00; --accent: #1f5fbf; }
body { font: 14px/1.45 system-ui, sans-serif; margin: 1.25rem; color: #1b1e22; }
body.demo { max-width: 60rem; }
h1 { font-size: 1.35rem; margin: 0 0 0.75rem; }
h1 small { color: var(--muted); font-weight: normal; }
h2 { font-size: 1rem; margin: 0 0 0.5rem; }
h3 { font-size: 0.85rem; margin: 0.6rem 0 0.25rem; color: var(--muted); text-transform: uppercase;
  letter-spacing: 0.03em; }
input, button, select { font: inherit; margin: 0.15rem 0; }
input { padding: 0.2rem 0.35rem; border: 1px solid var(--line); border-radius: 3px; }
button { padding: 0.2rem 0.7rem; border: 1px solid #9aa3ad; border-radius: 3px; background: #f4f6f8;
  cursor: pointer; }
button.danger { border-color: var(--bad); color: var(--bad); }
button.link { border: 0; background: none; padding: 0; color: var(--accent); text-decoration: underline;
  text-align: left; white-space: nowrap; }
.demo input[type=text] { width: 100%; box-sizing: border-box; }
fieldset { border: 1px solid var(--line); margin: 0.75rem 0; }
code, .mono { font-family: ui-monospace, monospace; font-size: 0.92em; }
.muted { color: var(--muted); }
.warning { color: var(--warn); background: #fff6e0; padding: 0.35rem 0.5rem; border-radius: 3px; }
.log { font: 12px/1.35 ui-monospace, monospace; background: #f6f7f9; padding: 0.5rem; height: 18rem;
  overflow: auto; white-space: pre-wrap; word-break: break-all; border: 1px solid var(--line); }
.log .out { color: #4a4f57; }
[data-state=open], [data-state=ok] { color: var(--ok); }
[data-state=closed], [data-state=error], [data-state=degraded] { color: var(--bad); }
[data-state=behind], [data-state=reconnecting], [data-state=connecting] { color: var(--warn); }
.admin header { display: flex; gap: 0.75rem; align-items: baseline; }
.admin header h1 { flex: 1; }
#console { display: grid; grid-template-columns: repeat(auto-fit, minmax(22rem, 1fr)); gap: 0.9rem; }
#console[hidden] { display: none; }
#notice { grid-column: 1 / -1; margin: 0; color: var(--bad); }
#notice:empty { display: none; }
.panel { border: 1px solid var(--line); border-radius: 5px; padding: 0.75rem 0.9rem; background: #fff; }
.panel.wide { grid-column: 1 / -1; }
#signIn { max-width: 34rem; }
#usersPanel, #userPanel { overflow-x: auto; }
#users td:last-child { word-break: break-word; }
#signIn input { width: 22rem; max-width: 100%; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 0.2rem 0.4rem; border-bottom: 1px solid #eceef1; vertical-align: top; }
th { font-weight: 600; color: var(--muted); font-size: 0.85em; }
td.count { text-align: right; width: 6rem; }
tr.selected { background: #eef4ff; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.15rem 0.9rem; margin: 0 0 0.6rem; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; word-break: break-word; }
.rate { display: grid; grid-template-columns: 9rem 5rem 1fr; align-items: center; gap: 0.5rem; }
.rate-value { text-align: right; font-variant-numeric: tabular-nums; }
svg.chart { width: 100%; max-width: 240px; height: 48px; }
svg.chart .line { fill: none; stroke: var(--accent); stroke-width: 1.5; }
svg.chart .axis { stroke: var(--line); stroke-width: 1; }
#actionsPanel form { margin-bottom: 0.35rem; }
#actionsPanel input { width: 9.5rem; }
#actionResult:empty { display: none; }
#frames { height: auto; min-height: 3rem; max-height: 18rem; }
`;
