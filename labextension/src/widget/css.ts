// The widget's own styles (plus the shared DAG / progress / failure styles).
import { SHARED_CSS } from '../views/sharedCss';

export const CSS =
  SHARED_CSS +
  `
.sgr-rv{font:13px/1.4 var(--jp-ui-font-family,system-ui,sans-serif);color:var(--jp-ui-font-color1,#222);border:1px solid var(--jp-border-color2,#ddd);border-radius:6px;padding:8px}
.sgr-rv[data-sgr-tone=bad]{border-color:#dc2626;box-shadow:inset 4px 0 0 #dc2626}
.sgr-rv header{display:flex;gap:8px;align-items:center;flex-wrap:wrap;margin-bottom:4px}
.sgr-rv .st{font-weight:600;padding:1px 8px;border-radius:4px;background:#eee;letter-spacing:.02em}
.sgr-rv[data-sgr-tone=ok] .st{background:#dcfce7;color:#14532d}
.sgr-rv[data-sgr-tone=bad] .st{background:#dc2626;color:#fff}
.sgr-rv[data-sgr-tone=wait] .st{background:#fef3c7;color:#78350f}
.sgr-rv[data-sgr-tone=live] .st{background:#dbeafe;color:#1e3a8a}
.sgr-rv .sgr-clock{font-variant-numeric:tabular-nums;color:var(--jp-ui-font-color2,#666)}
.sgr-rv .sgr-reason{color:#7f1d1d}
.sgr-rv .cols{display:flex;gap:12px;flex-wrap:wrap;align-items:flex-start}
.sgr-rv .cols>.sgr-dag{flex:1 1 420px;max-width:100%}
.sgr-rv .cols>.sgr-dag.sgr-dag-big{flex-basis:100%}
.sgr-rv .side{flex:1 1 280px;min-width:240px}
.sgr-rv pre{white-space:pre-wrap;max-height:200px;overflow:auto;background:var(--jp-layout-color2,#f7f7f7);padding:4px;margin:2px 0}
.sgr-rv .meter{height:6px;background:#e5e7eb;border-radius:3px;overflow:hidden;margin-bottom:4px}
.sgr-rv .meter>div{height:100%;background:#16a34a;transition:width .3s}
.sgr-rv .meter.hot>div{background:#dc2626}
.sgr-rv .tl{display:flex;flex-direction:column;gap:1px;max-height:160px;overflow:auto}
.sgr-rv .tl span{font:11px monospace}
.sgr-rv .sgr-h{font-weight:600;margin-top:6px}
.sgr-rv button{margin:2px 4px 2px 0}
.sgr-rv button.sgr-approve,.sgr-rv button.sgr-deny{font:600 12px/1.2 var(--jp-ui-font-family,system-ui,sans-serif);padding:3px 10px;border-radius:4px;cursor:pointer}
.sgr-rv button.sgr-approve{background:#15803d;color:#fff;border:1px solid #166534}
.sgr-rv button.sgr-deny{background:#fff;color:#b91c1c;border:1px solid #dc2626}
.sgr-rv button.sgr-approve:disabled,.sgr-rv button.sgr-deny:disabled{opacity:.5;cursor:default}
.sgr-rv .notice{color:#b91c1c}
.sgr-rv .sgr-approval-why{color:#78350f;font-size:12px;margin-right:8px}
.sgr-rv .sgr-disconnected{margin:4px 0;padding:6px 8px;border-radius:4px;background:#fee2e2;color:#7f1d1d;font-weight:600}
.sgr-rv .sgr-disconnected code{font-weight:600;background:#fff;padding:0 4px;border-radius:3px;user-select:all}
.sgr-rv .sgr-error pre{background:#fff7f7;white-space:pre;max-height:320px}
.sgr-rv .sgr-run-row{display:flex;flex-wrap:wrap;gap:4px 8px;align-items:center;padding:3px 0;border-bottom:1px dashed var(--jp-border-color3,#eee)}
.sgr-rv .sgr-run-row .sgr-stream{flex-basis:100%}
.sgr-rv .sgr-run-state{color:#1d4ed8}
body[data-jp-theme-light=false] .sgr-rv .sgr-reason,body[data-jp-theme-light=false] .sgr-rv .notice{color:#fca5a5}
body[data-jp-theme-light=false] .sgr-rv .sgr-approval-why{color:#fcd34d}
body[data-jp-theme-light=false] .sgr-rv .sgr-run-state{color:#93c5fd}
`;
