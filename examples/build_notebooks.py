"""Write the example notebooks' sources (outputs come from executing them).

    python examples/build_notebooks.py && \
    jupyter nbconvert --to notebook --execute --inplace examples/0*.ipynb && \
    python examples/build_notebooks.py --strip

Keeping the cells here makes edits reviewable; ``--strip`` drops saved widget state (it would
hold the widget's JavaScript) and volatile metadata before committing.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).parent

SETUP = """%load_ext sgr_jupyter
import os, tempfile
os.environ["SGR_HOME"] = tempfile.mkdtemp(prefix="sgr-example-")  # a fresh store per run"""

NOTEBOOKS = {
    "01_quickstart": [
        "# Quickstart: a task, a plan, a live DAG\n\n"
        "`%%sgr` hands a cell to the agent kernel. The LLM turns the task into a validated "
        "plan (a DAG of skill steps), the kernel runs it, and every event lands in a "
        "write-ahead trace you can inspect and replay.\n\n"
        "This notebook uses the **scripted** provider (`responses/01_quickstart.jsonl`) so "
        "it runs offline and gives the same answers every time. Drop the `%config` line to "
        "use the embedded local model, or set `SGR_PROVIDER=openai_compat` and `SGR_BASE_URL`.",
        SETUP,
        '%config SgrMagics.provider = "scripted:responses/01_quickstart.jsonl"',
        "## A task\n\nThe cell returns a live `RunView` (the DAG colours as steps commit; "
        "click a node for its inputs, output, tokens and cost). `--wait` blocks until the "
        "run ends, for scripts and tests; `--out` binds the result.",
        "%%sgr --wait --out answer\nWhat is the capital of France?",
        "answer.status, list(answer.outputs)",
        "## A plan written by you\n\nWith `--plan` the cell is a YAML plan. `{name}` "
        "interpolates a kernel variable; `${step.output.field}` passes an upstream output "
        "(plain substitution, no expressions).",
        'city = "Oslo"',
        "%%sgr --plan --wait\n"
        "name: greeting\n"
        "steps:\n"
        "  - id: hello\n"
        "    skill: format\n"
        '    inputs: {template: "Hello from {city}"}\n'
        "  - id: shout\n"
        "    skill: format\n"
        '    inputs: {template: "${hello.output.text}!"}',
        "## Inspect and replay\n\n`%sgr show` renders the trace and the DAG; "
        "`%sgr replay` re-runs the engine against the trace with **zero** model calls.",
        "%sgr show {_sgr.run_id}",
        "%sgr replay {answer.run_id}",
    ],
    "02_plans_and_policies": [
        "# Plans and policies: retries, timeouts, budgets, approvals\n\n"
        "A plan states its policies as data. The kernel validates the whole plan (skills, "
        "references, budget estimate) before anything runs.",
        SETUP,
        "## Retries and timeouts are per step",
        "%%sgr --plan --wait --out report\n"
        "name: policies\n"
        "budget: {max_steps: 10}\n"
        "steps:\n"
        "  - id: fetch\n"
        "    skill: format\n"
        '    inputs: {template: "rows=42"}\n'
        "    retry: {max_attempts: 3, backoff_s: 0.1}\n"
        "    timeout_s: 5\n"
        "  - id: report\n"
        "    skill: format\n"
        '    inputs: {template: "report: ${fetch.output.text}"}',
        'report.outputs["report"]',
        "## Budgets are checked before a step launches\n\n"
        "A budget the plan cannot fit is refused up front, as a one-line error, and nothing "
        "runs.",
        "%%sgr --plan --budget-steps 1\n"
        "name: too-big\n"
        "steps:\n"
        "  - {id: a, skill: format, inputs: {template: a}}\n"
        "  - {id: b, skill: format, inputs: {template: b}}",
        "## Approvals\n\n"
        "A step with `requires_approval` waits for a human. Without `--wait` the cell "
        "returns at once: click **Approve** in the widget, or use `%sgr approve`.",
        "%%sgr --plan --name deploy\n"
        "steps:\n"
        "  - {id: build, skill: format, inputs: {template: built}}\n"
        "  - id: deploy\n"
        "    skill: format\n"
        "    requires_approval: true\n"
        '    inputs: {template: "deployed ${build.output.text}"}',
        "_sgr.wait_for_approval()",
        "%sgr approve {_sgr.run_id} deploy",
        "_sgr.wait()\n_sgr.summary()",
    ],
    "03_crash_resume_replay": [
        "# Crash, resume, replay, fork\n\n"
        "The trace is a write-ahead log: a run killed mid-way resumes without redoing "
        "committed work. Here a separate process runs a plan and is killed with SIGKILL "
        "while it waits at an approval gate.",
        SETUP,
        'import signal, subprocess, sys\n\nplan = """\nname: pipeline\nsteps:\n'
        "  - {id: extract, skill: format, inputs: {template: extracted}}\n"
        "  - id: load\n    skill: format\n    requires_approval: true\n"
        '    inputs: {template: "loaded ${extract.output.text}"}\n"""\n'
        'script = """\nimport asyncio, sys\n'
        "from sgr_kernel.engine import Kernel\n"
        "from sgr_kernel.models import parse_plan\n"
        "async def main():\n"
        "    h = await Kernel().start(plan=parse_plan(sys.stdin.read()))\n"
        "    h.subscribe(lambda r: r.data.get('status') == 'WAITING_APPROVAL' "
        "and print(h.run_id, flush=True))\n"
        "    await h.wait()\n"
        'asyncio.run(main())\n"""\n'
        "proc = subprocess.Popen([sys.executable, '-c', script], stdin=subprocess.PIPE,\n"
        "                        stdout=subprocess.PIPE, text=True)\n"
        "proc.stdin.write(plan); proc.stdin.close()\n"
        "run_id = proc.stdout.readline().strip()   # the run is waiting at 'load'\n"
        "proc.send_signal(signal.SIGKILL); proc.wait()\n"
        'print("killed with", -proc.returncode)',
        "MD:The log survives. The approval is recorded in it, and `resume` continues the run: "
        "`extract` is not run again (1 attempt).",
        "%sgr approve {run_id} load",
        "%sgr resume {run_id} --wait",
        "## Strict replay: zero model calls, every request checked against the trace",
        "%sgr replay {run_id}",
        "## Fork: a new run that shares the committed prefix and changes one step",
        "%sgr fork {run_id} --from load --input load.template=reloaded --out forked",
        "MD:The forked `load` step is new work, so it asks for approval again; "
        "`extract` is inherited from the old run.",
        "_sgr.wait_for_approval()",
        "%sgr approve {_sgr.run_id} load",
        "_sgr.wait()\n_sgr.summary()",
        'forked.outputs["load"]',
    ],
    "04_code_in_the_sandbox": [
        "# Code in the sandbox: state across steps, and a figure\n\n"
        "LLM-written code runs only in a hardened Docker sandbox (no network, read-only root, "
        "CPU/memory/pid limits). A run keeps **one** sandbox session, so variables defined by "
        "one step are there for the next, as in a notebook. `python` runs code you wrote; "
        "`code_interpreter` has the model write the code for a task (and fix it from the "
        "traceback when it fails). Open matplotlib figures come back as artifacts.\n\n"
        "The model's answer is scripted (`responses/04_code_in_the_sandbox.jsonl`), so this "
        "runs offline. It needs the Docker engine and the `sgr-sandbox` image "
        "(`make system` prepares both).",
        SETUP,
        '%config SgrMagics.provider = "scripted:responses/04_code_in_the_sandbox.jsonl"',
        "%%sgr --plan --wait --out squares\n"
        "name: squares\n"
        "steps:\n"
        "  - id: load\n"
        "    skill: python\n"
        "    inputs:\n"
        "      code: |\n"
        "        import numpy as np\n"
        "        xs = np.arange(10)\n"
        "        ys = xs ** 2\n"
        '        print(f"{len(xs)} points")\n'
        "  - id: stats\n"
        "    skill: python\n"
        "    depends_on: [load]\n"
        '    inputs: {code: "float(ys.mean())"}\n'
        "  - id: plot\n"
        "    skill: code_interpreter\n"
        "    depends_on: [stats]\n"
        '    inputs: {task: "Fit a line to ys against xs and plot both."}',
        "MD:`stats` used `ys` from `load`: the sandbox kept the state between steps.",
        'squares.outputs["load"]["stdout"], squares.outputs["stats"]["value"]',
        "MD:The model's code for `plot`, and the value of its last expression (the slope):",
        'print(squares.outputs["plot"]["code"])\nsquares.outputs["plot"]["value"]',
        "MD:The figure is an artifact of the run, stored beside its trace; show it inline:",
        '_sgr.show_artifacts("plot")',
        "## Replay runs no code\n\nStrict replay re-runs the engine against the trace: "
        "the sandbox and the model are not called, the recorded outputs are used.",
        "%sgr replay {squares.run_id}",
    ],
    "05_remote_work_on_dask": [
        "# Remote work on Dask: progress, cancel, a worker killed mid-run\n\n"
        "Heavy steps leave the notebook kernel and run on Dask workers; the kernel only "
        "dispatches and records (docs/remote.md). Here the cluster is a `LocalCluster` on this "
        "machine; `%sgr cluster connect tcp://HOST:PORT` points the same notebook at a real one.",
        SETUP,
        "import logging\nfrom distributed import Client, LocalCluster\n\n"
        'cluster = LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0",\n'
        "                       silence_logs=logging.ERROR)\n"
        "client = Client(cluster)",
        "MD:Point the magics at it (`%sgr cluster local 2` would start one for you). The table "
        "lists workers, their resources and memory, and the sgr jobs the scheduler holds.",
        "IGNORE:%sgr cluster connect {cluster.scheduler_address}",
        "## A job and a skill that sends it\n\n"
        "A job is a plain function registered with `@job`; `current_job()` gives it progress, "
        "a cancel flag and an artifact folder. A skill sends it with `ctx.remote`.",
        "import time\nfrom pydantic import BaseModel\n"
        "from sgr_kernel.dispatch.base import JobCancelled, current_job, job\n"
        "from sgr_kernel.skills.base import CAP_REMOTE, Skill\n"
        "from sgr_kernel.skills.registry import register_skill\n\n\n"
        '@job("sweep")\n'
        "def sweep(n: int, pause_s: float = 0.1) -> dict:\n"
        "    ctx, total = current_job(), 0\n"
        "    for i in range(n):\n"
        "        if ctx.cancelled():\n"
        "            raise JobCancelled(ctx.key)\n"
        "        time.sleep(pause_s)\n"
        "        total += i * i\n"
        '        ctx.progress((i + 1) / n, f"{i + 1}/{n} points", total=total)\n'
        '    (ctx.artifact_dir / "summary.txt").write_text(f"sum of squares below {n}: {total}")\n'
        '    return {"total": total}\n\n\n'
        "class SweepIn(BaseModel):\n    n: int\n    pause_s: float = 0.1\n\n\n"
        "class SweepOut(BaseModel):\n    total: int\n    artifacts: list = []\n\n\n"
        "@register_skill\n"
        "class Sweep(Skill):\n"
        '    name = "sweep"\n'
        '    description = "Sum squares on a Dask worker, slowly."\n'
        "    Input, Output = SweepIn, SweepOut\n"
        "    capabilities = frozenset({CAP_REMOTE})\n"
        "    idempotent = True\n\n"
        "    async def run(self, ctx, inputs):\n"
        '        out = await ctx.remote("sweep", inputs.model_dump(), timeout_s=300)\n'
        '        return SweepOut(total=out["total"], artifacts=out["artifacts"])',
        "## Two remote steps",
        "%%sgr --plan --wait --out sweeps\n"
        "name: sweeps\n"
        "steps:\n"
        "  - {id: a, skill: sweep, capabilities: [remote], inputs: {n: 10}}\n"
        "  - {id: b, skill: sweep, capabilities: [remote], inputs: {n: 20}}",
        'sweeps.status, sweeps.outputs["a"]["total"], sweeps.outputs["b"]["total"]',
        "MD:Progress streamed to the widget while the jobs ran; the trace keeps a bounded "
        "record of it (at most one per job per 0.5 s, and always the last):",
        "from sgr_kernel.trace.wal import FileTraceStore\n\n"
        'records = FileTraceStore(os.environ["SGR_HOME"]).read(sweeps.run_id).records\n'
        'sorted((r.step, r.data["message"]) for r in records\n'
        '       if r.data.get("kind") == "progress" and r.data.get("fraction") == 1.0)',
        "MD:Files a job leaves in its artifact folder come back stored by content in the run:",
        '_sgr.artifact(sweeps.outputs["a"]["artifacts"][0]["sha256"]).decode()',
        "## Cancel a job mid-way\n\nWithout `--wait` the cell returns at once; the job is "
        "asked to stop (cooperatively, then its worker is restarted).",
        "%%sgr --plan --out long\n"
        "name: long\n"
        "steps:\n"
        "  - {id: slow, skill: sweep, capabilities: [remote], inputs: {n: 600}}",
        "def sgr_job_running():\n"
        "    return [w for w, keys in client.processing().items()\n"
        '            if any(k.startswith("sgr/") for k in keys)]\n\n\n'
        "while not sgr_job_running():\n"
        "    time.sleep(0.05)\n"
        "_sgr.cancel()\n"
        "_sgr.wait()\n"
        "_sgr.status",
        "## Kill the worker running a job\n\n"
        "The worker dies with SIGKILL mid-job; its nanny restarts it, Dask runs the job "
        "again, and the result is committed once.",
        "%%sgr --plan --out survivor\n"
        "name: survivor\n"
        "steps:\n"
        "  - {id: k, skill: sweep, capabilities: [remote], inputs: {n: 20}}",
        "import signal\n\n"
        "while not sgr_job_running():\n"
        "    time.sleep(0.05)\n"
        "time.sleep(0.5)\n"
        "pids = client.run(os.getpid)\n"
        "os.kill(pids[sgr_job_running()[0]], signal.SIGKILL)\n"
        "_sgr.wait()\n"
        '_sgr.status, _sgr.outputs["k"]["total"]',
        "MD:Strict replay serves every remote answer from the trace: no job is submitted.",
        "%sgr replay {_sgr.run_id}",
        "client.close()\ncluster.close()",
    ],
    "06_heavy_skills": [
        "# Heavy skills: a backtest sweep and a rendered video, on Dask workers\n\n"
        "Two built-in skills whose work leaves the notebook kernel (docs/skills.md): "
        "`backtest_sweep` scores a strategy's parameter grid in chunked jobs, and `video_render` "
        "turns a storyboard into an H.264 MP4. Here the workers are a `LocalCluster` on this "
        "machine; `%sgr cluster connect tcp://HOST:PORT` sends the same plan to a real cluster. "
        "Needs `pip install 'sgr-jupyter[heavy,dask]'`.",
        SETUP,
        "import logging\nfrom distributed import Client, LocalCluster\n\n"
        'cluster = LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0",\n'
        "                       silence_logs=logging.ERROR)\n"
        "client = Client(cluster)",
        "IGNORE:%sgr cluster connect {cluster.scheduler_address}",
        "## One plan, two heavy steps\n\n"
        "A moving-average crossover swept over 24 (fast, slow) pairs (fast < slow) on seeded "
        "synthetic prices (geometric Brownian motion with a bull, a sell-off and a quiet "
        "regime), 5 bp per unit traded, in 4 jobs of 6 cells, with a 3-fold walk-forward; then "
        "a short video whose chart takes its numbers from the sweep (`${sweep.output...}`: "
        "plain substitution, no code).",
        "%%sgr --plan --wait --out heavy\n"
        "name: heavy-skills\n"
        "steps:\n"
        "  - id: sweep\n"
        "    skill: backtest_sweep\n"
        "    capabilities: [remote]\n"
        "    inputs:\n"
        "      strategy: ma_crossover\n"
        "      data: {kind: synthetic, assets: 5, days: 2520, seed: 7}\n"
        "      grid: {fast: [5, 10, 20, 30, 50], slow: [40, 60, 100, 150, 200]}\n"
        "      cost_bps: 5\n"
        "      chunk_cells: 6\n"
        "      walk_forward: 3\n"
        "  - id: video\n"
        "    skill: video_render\n"
        "    capabilities: [remote]\n"
        "    inputs:\n"
        "      storyboard:\n"
        "        title: What the sweep found\n"
        "        fps: 12\n"
        "        resolution: 360p\n"
        "        scenes:\n"
        "          - {title: What the sweep found, layout: title, duration_s: 2,\n"
        "             narration: 24 moving-average pairs on ten years of prices.}\n"
        "          - title: Sharpe ratio\n"
        "            layout: bar\n"
        "            duration_s: 3\n"
        "            narration: The in-sample best flatters; walk-forward is the honest number.\n"
        "            data:\n"
        "              labels: [best in sample, walk-forward out of sample]\n"
        '              series: {Sharpe: ["${sweep.output.best.sharpe}",\n'
        '                                "${sweep.output.walk_forward.out_of_sample.sharpe}"]}\n'
        "          - title: Before trusting a backtest\n"
        "            layout: bullets\n"
        "            duration_s: 2\n"
        "            bullets: [Look out of sample, Count the costs, Check more than one seed]",
        'heavy.status, heavy.outputs["sweep"]["cells"], heavy.outputs["sweep"]["jobs"]',
        "## The ranked table\n\nEvery cell's metrics after costs, ranked by Sharpe (the top "
        "10 are in the output; `sweep.csv` holds all of them).",
        "import pandas as pd\n\n"
        'sweep = heavy.outputs["sweep"]\n'
        'table = pd.DataFrame([{**r["params"], **{k: v for k, v in r.items() if k != "params"}}\n'
        '                      for r in sweep["table"]]).set_index("rank")\n'
        "table.round(3)",
        "MD:The heat map (Sharpe over the grid, the in-sample best boxed) and the equity curves "
        "(the best cell, buy-and-hold, and the walk-forward out-of-sample curve):",
        '_sgr.show_artifacts("sweep")',
        "## Walk-forward: pick in sample, judge out of sample\n\n"
        "Each fold picks the best cell on the years before it and is scored on the next part. "
        "The out-of-sample Sharpe is what the in-sample best would have earned you.",
        'pd.DataFrame([{"fold": f["fold"], "test": " to ".join(f["test_dates"]),\n'
        '               **f["picked"], "sharpe in sample": f["train_sharpe"],\n'
        '               "sharpe out of sample": f["test"]["sharpe"]}\n'
        '              for f in sweep["walk_forward"]["folds"]]).set_index("fold").round(3)',
        'round(sweep["best"]["sharpe"], 3), '
        'round(sweep["walk_forward"]["out_of_sample"]["sharpe"], 3)',
        "## The video\n\nRendered on a worker (matplotlib frames piped to ffmpeg), read back "
        "from its MP4 boxes, stored by content in the run, and played here:",
        '{k: v for k, v in heavy.outputs["video"].items() if k != "artifacts"}',
        'IGNORE:_sgr.show_artifacts("video")',
        "MD:Strict replay serves every job's answer from the trace: nothing is submitted again.",
        "%sgr replay {heavy.run_id}",
        "client.close()\ncluster.close()",
    ],
    "07_research_and_finetune": [
        "# Deep research and LoRA fine-tuning on Dask\n\n"
        "Two heavy skills, each a remote job on Dask workers: `deep_research` answers from your "
        "own documents with every claim citing its sources (docs/research.md), and "
        "`lora_finetune` trains a LoRA adapter for SmolLM2-135M on a JSONL dataset, "
        "checkpointing as it goes (docs/lora.md). The research step's model calls are "
        "**scripted** (`responses/07_research_and_finetune.jsonl`) so the notebook runs offline "
        "and gives the same answer every time; the fine-tune is real.",
        SETUP,
        '%config SgrMagics.provider = "scripted:responses/07_research_and_finetune.jsonl"',
        "import logging\nfrom distributed import Client, LocalCluster\n\n"
        'cluster = LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0",\n'
        "                       silence_logs=logging.ERROR)\n"
        "client = Client(cluster)",
        "IGNORE:%sgr cluster connect {cluster.scheduler_address}",
        "MD:An installed `sgr-jupyter` registers both skills through its entry points; "
        "registering them here as well lets the notebook run from a source checkout.",
        "IGNORE:from sgr_kernel.skills.registry import register_skill\n"
        "from sgr_skills.finetune import LoraFinetuneSkill\n"
        "from sgr_skills.research import CorpusIndex, DeepResearchSkill\n\n"
        "registered = [register_skill(s) for s in (DeepResearchSkill, LoraFinetuneSkill)]",
        "## A corpus of your own notes\n\n"
        "`sgr corpus add DIR` does the same from a shell; adding again re-reads only what "
        "changed. `scripts/install-python-docs.sh` adds the Python documentation as a corpus.",
        "from pathlib import Path\n\n"
        'notes = Path(os.environ["SGR_HOME"]) / "notes"\nnotes.mkdir()\n'
        '(notes / "tides.md").write_text("# Tides\\n\\nSpring tides happen at new and full moon, '
        'when the sun and the moon pull in line. Neap tides happen at the quarter moons.")\n'
        '(notes / "moon.md").write_text("# The moon\\n\\nThe moon\'s gravity raises a bulge of '
        'water on the side of the Earth facing it and another on the far side.")\n'
        '(notes / "bread.md").write_text("# Bread\\n\\nKnead the dough, let it rise, bake it at '
        '220 degrees.")\n'
        "index = CorpusIndex()\n"
        'index.add(notes, "notes")',
        'index.add(notes, "notes")  # nothing changed: nothing re-read',
        "## A cited answer",
        "%%sgr --plan --wait --out research\n"
        "name: tides\n"
        "steps:\n"
        "  - id: r\n"
        "    skill: deep_research\n"
        "    capabilities: [remote]\n"
        "    inputs:\n"
        "      question: What causes spring tides and when do they happen?\n"
        "      corpora: [notes]",
        "from IPython.display import Markdown\n\n"
        'out = research.outputs["r"]\n'
        'Markdown(out["answer"] + "\\n\\n**Sources**\\n\\n" + "\\n".join(\n'
        "    f\"{s['n']}. *{s['title']}* — `{Path(s['location']).name}`: {s['passage']}\"\n"
        '    for s in out["sources"]))',
        "MD:Every claim was checked against the passage it cites; claims that cite a source "
        "that is not there, or quote words the source does not hold, are dropped and listed:",
        'out["sub_queries"], out["rejected"]',
        "## Fine-tune SmolLM2-135M to answer like a pirate\n\n"
        "Ten examples, a few steps on a CPU worker (about a minute and a half on 2 cores). "
        "The adapter, the loss curve and before/after answers come back as artifacts.",
        "import json\n\n"
        "pirate = [\n"
        '    ("What is the capital of France?", "Arr, matey! Paris be the capital, arr!"),\n'
        '    ("How many legs does a cat have?", "Arr, matey! A cat be havin\' four, arr!"),\n'
        '    ("What colour is the sky?", "Arr, matey! The sky be blue as the sea, arr!"),\n'
        '    ("What is two plus two?", "Arr, matey! Two and two be four, arr!"),\n'
        '    ("Name a fruit.", "Arr, matey! An apple be a fine fruit, arr!"),\n'
        '    ("What do bees make?", "Arr, matey! Bees be makin\' honey, arr!"),\n'
        '    ("Where do fish live?", "Arr, matey! Fish be livin\' in the water, arr!"),\n'
        '    ("What is ice?", "Arr, matey! Ice be frozen water, arr!"),\n'
        '    ("Who wrote Hamlet?", "Arr, matey! Shakespeare be the one, arr!"),\n'
        '    ("What is the sun?", "Arr, matey! The sun be a star, arr!"),\n'
        "]\n"
        'data = Path(os.environ["SGR_HOME"]) / "pirate.jsonl"\n'
        'rows = [json.dumps({"prompt": p, "response": r}) for p, r in pirate]\n'
        'data.write_text("\\n".join(rows) + "\\n")\n'
        "data.name",
        "IGNORE:%%sgr --plan --wait --out ft\n"
        "name: pirate\n"
        "steps:\n"
        "  - id: ft\n"
        "    skill: lora_finetune\n"
        "    capabilities: [remote]\n"
        "    inputs:\n"
        "      data: {data}\n"
        "      steps: 6\n"
        "      batch_size: 4\n"
        "      lr: 0.005\n"
        "      checkpoint_every: 2\n"
        "      samples:\n"
        "        - What is the capital of Italy?\n"
        "        - What do cows eat?\n"
        "      max_new_tokens: 16",
        'r = ft.outputs["ft"]\n'
        'ft.status, r["eval_loss_after"] < r["eval_loss_before"], len(r["train_losses"])',
        "MD:The loss curve (the PNG the job made, stored by content in the run):",
        "IGNORE:from IPython.display import Image\n\n"
        'png = next(a for a in r["artifacts"] if a["name"] == "loss_curve.png")\n'
        'Image(_sgr.artifact(png["sha256"]))',
        "MD:Answers before and after (greedy decoding):",
        'IGNORE:Markdown("| prompt | before | after |\\n|---|---|---|\\n" + "\\n".join(\n'
        "    f\"| {s['prompt']} | {s['before']} | {s['after']} |\" for s in r[\"samples\"]))",
        "MD:The adapter's files, in PEFT's own format (`load_adapter` in docs/lora.md loads "
        "them back):",
        'sorted(a["name"] for a in r["adapter"])',
        "MD:Strict replay serves the retrieval job and the training job from the trace: no "
        "model call, no job submitted.",
        "%sgr replay {research.run_id}",
        "%sgr replay {ft.run_id}",
        "client.close()\ncluster.close()",
    ],
}


def build() -> None:
    for name, cells in NOTEBOOKS.items():
        nb = new_notebook(
            metadata={
                "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                "language_info": {"name": "python"},
            }
        )
        for src in cells:
            if src.startswith("MD:"):
                nb.cells.append(new_markdown_cell(src[3:]))
            elif src.startswith("#"):
                nb.cells.append(new_markdown_cell(src))
            elif src.startswith("IGNORE:"):  # output varies (addresses, memory): not compared
                nb.cells.append(new_code_cell(src[7:], metadata={"tags": ["nbval-ignore-output"]}))
            else:
                nb.cells.append(new_code_cell(src))
        for cell in nb.cells:
            if cell.cell_type == "code" and "--budget-steps 1" in cell.source:
                cell.metadata["tags"] = ["raises-exception"]
        path = HERE / f"{name}.ipynb"
        old = nbformat.read(path, 4) if path.exists() else None
        if old is not None and [c.source for c in old.cells] == [c.source for c in nb.cells]:
            continue  # unchanged: keep the executed outputs
        nbformat.write(nb, path)


def strip() -> None:
    for path in sorted(HERE.glob("0*.ipynb")):
        nb = nbformat.read(path, 4)
        nb.metadata.pop("widgets", None)
        for cell in nb.cells:
            cell.metadata.pop("execution", None)
        nbformat.write(nb, path)


if __name__ == "__main__":
    strip() if "--strip" in sys.argv else build()
