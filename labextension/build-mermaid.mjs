// Build the offline Mermaid fallback: one ESM file the kernel sends once per page to front
// ends without JupyterLab's own Mermaid (frontend-spikes note, Spike 1 "flow-min").
//
// Mermaid loads each diagram type lazily from its own chunk; we only draw flowcharts, so
// every other diagram chunk and the heavy layout/math libraries are stubbed out. This leans
// on Mermaid's internal chunk names: a browser test (tests/e2e) renders through this bundle,
// so an upgrade that breaks it fails a test rather than a user.
import { build } from 'esbuild';
import { mkdirSync } from 'node:fs';

const OTHER_DIAGRAM = /chunks\/mermaid\.core\/.*(Diagram|diagram|definition)[-A-Za-z0-9]*\.mjs$/;
const STUB_LIBS = /^(cytoscape|cytoscape-fcose|cytoscape-cose-bilkent|katex)$/;

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
