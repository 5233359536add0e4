"""Training under torchrun with gloo and 2 processes: finite losses, parameters identical on
both ranks, rank-0-only checkpoints, and the two ranks' slices form the single-process batch."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
from PIL import Image

SCRIPT = textwrap.dedent('''
    import json, sys, torch, torch.distributed as dist
    from gencodec.nn.pixel_hyperprior import HyperpriorConfig
    from gencodec.training.loop import run
    from gencodec.training.stages.hyperprior import HyperpriorStage, HyperpriorTrainConfig
    torch.set_num_threads(1)
    data, out = sys.argv[1], sys.argv[2]
    cfg = HyperpriorTrainConfig(data=[data], crop=64, batch=1, total_steps=3, bf16=False)
    stage = HyperpriorStage(cfg, HyperpriorConfig(n=8, m=8, n_rates=3))
    picks = []
    original = stage.sampler._global_batch
    def spy(size):
        x, idx = original(size)
        picks.append(idx)
        return x, idx
    stage.sampler._global_batch = spy
    step = run(stage, out, minutes=2, log_every=1)
    total = torch.tensor([sum(float(p.double().sum()) for p in stage.model.parameters())], dtype=torch.float64)
    sums = [torch.zeros(1, dtype=torch.float64) for _ in range(dist.get_world_size())]
    dist.all_gather(sums, total)
    if dist.get_rank() == 0:
        print(json.dumps({"step": step, "sums": [float(s) for s in sums], "picks": picks}))
    dist.destroy_process_group()
''')


def test_torchrun_gloo_two_processes(tmp_path) -> None:
    data = tmp_path / "train"
    data.mkdir()
    rng = np.random.default_rng(0)
    for i in range(4):
        Image.fromarray(rng.integers(0, 255, (96, 96, 3), dtype=np.uint8)).save(data / f"noise_{i}.png")
    script = tmp_path / "job.py"
    script.write_text(SCRIPT)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(script), str(data), str(tmp_path / "run")]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["step"] == 3
    assert result["sums"][0] == result["sums"][1]  # identical parameters on both ranks
    assert all(len(p) == 2 for p in result["picks"])  # every rank drew the same global batch of 2
    log = (tmp_path / "run" / "log.csv").read_text().splitlines()
    assert len(log) == 4 and all(np.isfinite(float(row.split(",")[2])) for row in log[1:])  # rank 0 only
    assert (tmp_path / "run" / "checkpoint" / "state.json").exists()
    # the global batch a single process would draw with the same seed is exactly the union of both slices
    from gencodec.training.data import CropSampler

    single = CropSampler(sorted(data.iterdir()), 64, seed=0)
    assert [single._global_batch(2)[1] for _ in range(3)] == result["picks"]
