"""`report.html` of an eval run: what was scored with what, the metrics under their protocol, the
per-clip table, the worst frames as crops, and links to the files beside it. Written by
`run.save_evaluation` for any task (it reads only the evaluation protocol of `run`)."""

from __future__ import annotations

from html import escape
from pathlib import Path

from tracknet_cli.html_page import key_value_table, links, records_table, write_page

FILES = (("metrics and protocol", "metrics.json"), ("a row per frame or image", "predictions.csv"),
         ("a row per clip or object", "per_clip.csv"))


def write_eval_report(path: Path, evaluation, context: dict) -> Path:
    """The page at `path`, beside the files `save_evaluation` writes (worst frames in `worst/`)."""
    summary = "".join(records_table([row]) for row in evaluation.summary())
    per_clip = evaluation.per_clip.round(3).to_dict("records")
    crops = "".join(f'<figure><img src="worst/{escape(name)}" alt="{escape(name)}">'
                    f"<figcaption>{escape(Path(name).stem)}</figcaption></figure>"
                    for name in evaluation.examples)
    body = f"""{key_value_table(list(context.items()))}
<h2>Metrics</h2>
{summary}
<p>Protocol: {escape(evaluation.protocol_record()["description"])}</p>
<h2>Per clip</h2>
{records_table(per_clip)}
<h2>Worst frames</h2>
{crops or "<p>None: every frame is right, or this task draws none.</p>"}
<p class="legend"><span>green: the label</span><span>red: the prediction</span></p>
<h2>Files</h2>
{links([(label, path.parent / name) for label, name in FILES])}"""
    title = f"{context.get('model', 'model')} on {context.get('data', 'data')} / {context.get('split', '')}"
    return write_page(path, title, body)
