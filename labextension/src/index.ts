// The sgr-jupyter JupyterLab extension: every plugin it provides, in one list.
import { JupyterFrontEndPlugin } from '@jupyterlab/application';

import { mermaidPlugin } from './mermaid';

const plugins: JupyterFrontEndPlugin<any>[] = [mermaidPlugin];

export default plugins;
