// Build the offline Mermaid fallback: one ESM file the kernel sends once per page to front
// ends without JupyterLab's own Mermaid (frontend-spikes note, Spike 1 "flow-min").
//
// Mermaid loads each diagram type lazily from its own chunk; we only draw flowcharts, so
// every other diagram chunk and the heavy layout/math libraries are stubbed out. This leans
// on Mermaid's internal chunk names: a browser test (tests/e2e) renders through this bundle,
// so an upgrade that breaks it fails a test rather than a user.
import { build } from 'esbuild';
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';

const OTHER_DIAGRAM = /chunks\/mermaid\.core\/.*(Diagram|diagram|definition)[-A-Za-z0-9]*\.mjs$/;
const STUB_LIBS = /^(cytoscape|cytoscape-fcose|cytoscape-cose-bilkent|katex)$/;

// Mermaid's getConfig() deep-copies the whole ~22 KB config (Object.defineProperty per key,
// about 0.9 ms) and the flowchart renderer calls it several times per node and per edge: a
// CPU profile of a 200-node render put 60-70 % of the time there, more than layout and DOM
// measurement together. The copy is kept (callers mutate what they get: the flowchart's init
// writes into it) but taken from a snapshot made once per config change, with the same shape
// (assignWithDepth depth 2: three levels copied, arrays copied, deeper objects shared), and each
// nested section is copied only when first read.
const GET_CONFIG = `var getConfig = /* @__PURE__ */ __name(() => {
  return assignWithDepth_default({}, currentConfig);
}, "getConfig");`;
const FAST_GET_CONFIG = `var sgrCfgSource;
var sgrCfgSnapshot;
var sgrCfgSet = (o, k, x) => Object.defineProperty(o, k, { value: x, writable: true, enumerable: true, configurable: true });
var sgrCfgClone = (v, levels) => {
  if (v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) return v.slice();
  const out = {};
  for (const k of Object.keys(v)) {
    const x = v[k];
    if (levels > 1 && x !== null && typeof x === "object" && !Array.isArray(x)) {
      // Copied on first touch: most callers read one section (flowchart, themeVariables...).
      Object.defineProperty(out, k, {
        get() { const c = sgrCfgClone(x, levels - 1); sgrCfgSet(out, k, c); return c; },
        set(y) { sgrCfgSet(out, k, y); },
        enumerable: true,
        configurable: true
      });
    } else if (k === "__proto__") sgrCfgSet(out, k, x);
    else out[k] = levels > 1 ? sgrCfgClone(x, levels - 1) : x;
  }
  return out;
};
var getConfig = /* @__PURE__ */ __name(() => {
  if (sgrCfgSource !== currentConfig) {
    sgrCfgSnapshot = assignWithDepth_default({}, currentConfig);
    sgrCfgSource = currentConfig;
  }
  return sgrCfgClone(sgrCfgSnapshot, 3);
}, "getConfig");`;
let patchedGetConfig = false;

const flowOnly = {
  name: 'flow-only',
  setup(b) {
    b.onResolve({ filter: STUB_LIBS }, (args) => ({ path: args.path, namespace: 'stub' }));
    b.onLoad({ filter: /.*/ }, async (args) => {
      if (args.namespace === 'stub') {
        return { contents: 'export default {}; export const diagram = {};', loader: 'js' };
      }
      if (OTHER_DIAGRAM.test(args.path) && !/flowDiagram-/.test(args.path)) {
        return { contents: 'export const diagram = {}; export default {};', loader: 'js' };
      }
      if (/mermaid\.core\/chunk-[A-Z0-9]+\.mjs$/.test(args.path)) {
        const src = readFileSync(args.path, 'utf8');
        if (src.includes(GET_CONFIG)) {
          patchedGetConfig = true;
          return { contents: src.replace(GET_CONFIG, FAST_GET_CONFIG), loader: 'js' };
        }
      }
      return undefined;
    });
  }
};

mkdirSync('../sgr_jupyter/static', { recursive: true });
await build({
  stdin: {
    contents: "import mermaid from 'mermaid'; export default mermaid; export { mermaid };",
    resolveDir: '.',
    loader: 'js'
  },
  bundle: true,
  format: 'esm',
  minify: true,
  legalComments: 'none',
  outfile: '../sgr_jupyter/static/mermaid.mjs',
  plugins: [flowOnly],
  logLevel: 'warning'
});
// A Mermaid upgrade that reshapes getConfig must fail the build, not silently slow the DAG.
if (!patchedGetConfig) {
  throw new Error('build-mermaid: mermaid getConfig() not found; update FAST_GET_CONFIG');
}
// The same file beside the labextension's own assets, so JupyterLab serves it from 127.0.0.1
// (src/mermaid.ts imports it). `.js`, not `.mjs`: Jupyter's static handler must send a
// JavaScript MIME type for a module import. Runs after `jupyter-builder build`, which
// rewrites that folder.
const LABEXT_STATIC = '../sgr_jupyter/labextension/static';
if (existsSync(LABEXT_STATIC)) {
  copyFileSync('../sgr_jupyter/static/mermaid.mjs', `${LABEXT_STATIC}/sgr-mermaid.js`);
}
