// Build the RunView widget's ES module (sgr_jupyter/_esm/runview.js) from src/widget/runview.ts:
// one self-contained file, because anywidget imports it from a blob: URL (no relative imports,
// no Lab modules). It bundles the DAG view shared with the side panel, @panzoom/panzoom,
// marked and DOMPurify; Mermaid is not in it (the labextension or the kernel hands it over).
import { build } from 'esbuild';

await build({
  entryPoints: ['src/widget/runview.ts'],
  bundle: true,
  format: 'esm',
  minify: true,
  target: 'es2020',
  legalComments: 'none',
  outfile: '../sgr_jupyter/_esm/runview.js',
  banner: {
    js: '// Built from labextension/src/widget/runview.ts by labextension/build-widget.mjs; do not edit.'
  },
  logLevel: 'warning'
});
