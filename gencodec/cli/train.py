"""``gic train STAGE``: time-boxed, resumable training runs."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import click
import torch

from gencodec.cli.errors import guarded


def _apply_overrides(cfg: object, pairs: tuple[str, ...]) -> None:
    for pair in pairs:
        if "=" not in pair:
            raise click.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint="--set")
        key, value = pair.split("=", 1)
        if not hasattr(cfg, key):
            raise click.BadParameter(f"unknown setting {key!r}", param_hint="--set")
        current = getattr(cfg, key)
        if isinstance(current, str):
            setattr(cfg, key, value)
            continue
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError as exc:
            raise click.BadParameter(f"{key}: {value!r} is not JSON ({exc.msg})", param_hint="--set") from None
        setattr(cfg, key, parsed if current is None else type(current)(parsed))  # None = "auto" settings


# stage name -> (module, stage class, config class); imported only when that stage runs
STAGE_CLASSES: dict[str, tuple[str, str, str]] = {
    "hyperprior": ("hyperprior", "HyperpriorStage", "HyperpriorTrainConfig"),
    "autoencoder": ("autoencoder", "AutoencoderStage", "AutoencoderTrainConfig"),
    "glc-latent": ("glc_latent", "GLCLatentStage", "GLCLatentTrainConfig"),
    "glc-joint": ("glc_joint", "GLCJointStage", "GLCJointTrainConfig"),
    "dlf-align": ("dlf_align", "DLFAlignStage", "DLFAlignTrainConfig"),
    "dlf-joint": ("dlf_joint", "DLFJointStage", "DLFJointTrainConfig"),
    "perco": ("perco", "PerCoStage", "PerCoTrainConfig"),
    "hific-rd": ("hific_rd", "HiFiCRDStage", "HiFiCRDTrainConfig"),
    "hific-gan": ("hific_gan", "HiFiCGANStage", "HiFiCGANTrainConfig"),
    "preference": ("preference", "PreferenceStage", "PreferenceTrainConfig"),
}
STAGES = list(STAGE_CLASSES)


def _build_stage(stage: str, overrides: tuple[str, ...]):
    if stage not in STAGE_CLASSES:
        raise click.BadParameter(f"unknown stage {stage!r}", param_hint="STAGE")
    module_name, stage_cls, config_cls = STAGE_CLASSES[stage]
    module = importlib.import_module(f"gencodec.training.stages.{module_name}")
    cfg = getattr(module, config_cls)()
    _apply_overrides(cfg, overrides)
    return getattr(module, stage_cls)(cfg)


@click.command("train")
@click.argument("stage", type=click.Choice(STAGES))
@click.option(
    "--run",
    "run_dir",
    type=click.Path(path_type=Path),
    required=True,
    help="Run directory (checkpoint, log.csv); resumed if it exists.",
)
@click.option("--minutes", type=float, default=60.0, show_default=True, help="Wall-clock budget for this invocation.")
@click.option("--ckpt-minutes", type=float, default=5.0, show_default=True, help="Checkpoint interval.")
@click.option("--stop-at", type=click.IntRange(min=1), default=None,
              help="Stop (with a checkpoint) at this step; the schedule still runs to total_steps.")
@click.option("--threads", type=int, default=2, show_default=True)
@click.option("--set", "overrides", multiple=True, help="Override a training setting, KEY=JSON_VALUE.")
@click.option("--pairs", type=click.Path(path_type=Path), default=None,
              help="Preference pairs CSV (stage preference only; same as --set pairs=PATH).")
@guarded
def train_cmd(
    stage: str, run_dir: Path, minutes: float, ckpt_minutes: float, stop_at: int | None, threads: int,
    overrides: tuple[str, ...], pairs: Path | None,
) -> None:
    """Train STAGE for a fixed number of minutes, resuming from --run if present."""
    from gencodec.training.loop import run

    if pairs is not None:
        if stage != "preference":
            raise click.BadParameter(f"only the preference stage takes --pairs, not {stage!r}", param_hint="--pairs")
        overrides = (f"pairs={pairs}", *overrides)
    torch.set_num_threads(threads)
    st = _build_stage(stage, overrides)
    step = run(st, run_dir, minutes, ckpt_minutes, stop_at=stop_at)
    click.echo(f"{stage}: stopped at step {step}/{st.total_steps}; checkpoint in {run_dir / 'checkpoint'}")


def train_main() -> None:
    train_cmd()


EXPORTABLE = ["hyperprior", "autoencoder", "glc", "dlf", "perco", "hific", "conha", "conha-fixed", "preference"]


@click.command("export")
@click.argument("what", type=click.Choice(EXPORTABLE))
@click.option("--run", "run_dir", type=click.Path(path_type=Path, exists=True), required=True,
              help="Run directory whose checkpoint/ is exported.")
@click.option("--weights-dir", type=click.Path(path_type=Path), default=None,
              help="Target folder (default: the repository's weights/).")
@click.option("--refit-crops", type=click.IntRange(min=0), default=512, show_default=True,
              help="hific/conha/conha-fixed: refit the z table to this many training crops (0 = keep).")
@guarded
def export_cmd(what: str, run_dir: Path, weights_dir: Path | None, refit_crops: int) -> None:
    """Export a training checkpoint to shipped weights (safetensors + manifest entry with sha256)."""
    from gencodec.models.weights import WEIGHTS_DIR
    from gencodec.training import export

    ckpt = run_dir / "checkpoint"
    target = weights_dir or WEIGHTS_DIR
    if what == "hyperprior":
        entry = export.export_hyperprior(ckpt, target)
    elif what == "autoencoder":
        entry = export.export_autoencoder(ckpt, target)
    elif what == "perco":
        entry = export.export_perco(ckpt, target)
    elif what in ("hific", "conha", "conha-fixed"):
        entry = export.export_hific(ckpt, target, model_id=what, refit_crops=refit_crops)
    elif what == "preference":
        entry = export.export_preference(ckpt, target)
    elif what == "dlf":
        decoder = "decoder" if "decoder." in _checkpoint_keys(ckpt) else None
        entry = export.export_dlf(ckpt, target, decoder_ckpt_module=decoder)
    else:
        decoder = "decoder" if "decoder." in "".join(_checkpoint_keys(ckpt)) else None
        entry = export.export_glc(ckpt, target, decoder_ckpt_module=decoder)
    step = entry["config"]["step"]
    click.echo(f"{entry['id']}: {target / entry['file']} sha256 {entry['sha256'][:16]}... (step {step})")


def _checkpoint_keys(ckpt: Path) -> list[str]:
    from safetensors import safe_open

    with safe_open(str(ckpt / "model.safetensors"), "pt") as f:
        return [k[: k.index(".") + 1] for k in f.keys()]
