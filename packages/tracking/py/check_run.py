"""Independent reader: what does the official MLflow client see of a run the TypeScript client wrote?

    $(tools/mlflow-server python) packages/tracking/py/check_run.py --uri http://127.0.0.1:5000 --run-id <server run id>

Prints one JSON object: run info, params, tags, every metric's full history (get_metric_history),
artifacts with their sha256 (downloaded through the server), dataset inputs, and how many runs of
the experiment carry the same pixelbert.localRunId (1 means delivery made no duplicate).
Non-finite metric values are printed as the strings "NaN", "Infinity", "-Infinity".
"""

import os

os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

import argparse
import hashlib
import json
import math
import sys
import tempfile

from mlflow.tracking import MlflowClient
import mlflow.artifacts


def wire(v):
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    return v


def walk_artifacts(client, run_id, path=None):
    for f in client.list_artifacts(run_id, path):
        if f.is_dir:
            yield from walk_artifacts(client, run_id, f.path)
        else:
            yield f.path


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--uri", required=True, help="MLflow tracking URI")
    ap.add_argument("--run-id", required=True, help="run id in that server")
    a = ap.parse_args()

    client = MlflowClient(tracking_uri=a.uri)
    run = client.get_run(a.run_id)
    metrics = {}
    for key in sorted(run.data.metrics):
        hist = client.get_metric_history(a.run_id, key)
        metrics[key] = sorted([m.step, wire(m.value), m.timestamp] for m in hist)
    artifacts = {}
    with tempfile.TemporaryDirectory() as tmp:
        for path in walk_artifacts(client, a.run_id):
            local = mlflow.artifacts.download_artifacts(
                run_id=a.run_id, artifact_path=path, dst_path=tmp, tracking_uri=a.uri
            )
            with open(local, "rb") as fh:
                artifacts[path] = hashlib.sha256(fh.read()).hexdigest()
    local_id = run.data.tags.get("pixelbert.localRunId")
    copies = None
    if local_id:
        found = client.search_runs(
            [run.info.experiment_id], filter_string=f"tags.`pixelbert.localRunId` = '{local_id}'"
        )
        copies = len(found)
    inputs = []
    for d in run.inputs.dataset_inputs if run.inputs else []:
        inputs.append(
            {
                "name": d.dataset.name,
                "digest": d.dataset.digest,
                "source_type": d.dataset.source_type,
                "source": d.dataset.source,
                "context": next((t.value for t in d.tags if t.key == "mlflow.data.context"), None),
            }
        )
    out = {
        "run_id": run.info.run_id,
        "experiment_id": run.info.experiment_id,
        "run_name": run.info.run_name,
        "status": run.info.status,
        "start_time": run.info.start_time,
        "end_time": run.info.end_time,
        "params": dict(run.data.params),
        "tags": dict(run.data.tags),
        "metrics": metrics,
        "artifacts": artifacts,
        "inputs": inputs,
        "copies_by_local_id": copies,
    }
    json.dump(out, sys.stdout, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
