// The sgr-jupyter JupyterLab extension: every plugin it provides, in one list.
import { JupyterFrontEndPlugin } from '@jupyterlab/application';

import { mermaidPlugin } from './mermaid';
import { panelPlugin } from './panel/panel';

const plugins: JupyterFrontEndPlugin<any>[] = [mermaidPlugin, panelPlugin];

export default plugins;
