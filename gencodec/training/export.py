"""Export a training checkpoint to shipped weights (safetensors + manifest).

Only the inference modules are exported, in fp16 where quality holds
(transforms) and fp32 for small, sensitive tensors (gains, priors). Entropy
tables are built here, once, and stored with the weights. The manifest
records the sha256 of the file; no optimizer state is ever exported.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from gencodec.entropy.categorical import table_from_logits
from gencodec.models.weights import WEIGHTS_DIR, read_manifest, sha256_file
from gencodec.nn.hific import HiFiC, HiFiCConfig
from gencodec.training.data import CropSampler, list_images

KEEP_FP32 = ("gain", "prior", "codebook", "embed")


def _inference_only(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Drop training statistics (codebook usage counters) from exported weights."""
    return {k: v for k, v in tensors.items() if not k.endswith(".usage")}


def _ship_dtype(key: str, v: torch.Tensor) -> torch.Tensor:
    if not v.is_floating_point() or any(s in key for s in KEEP_FP32):
        return v.contiguous()
    return v.to(torch.float16).contiguous()


def update_manifest(entry: dict[str, Any], weights_dir: Path = WEIGHTS_DIR) -> None:
    path = weights_dir / "manifest.json"
    manifest = json.loads(path.read_text()) if path.exists() else {"weights": []}
    manifest["weights"] = [e for e in manifest["weights"] if e["id"] != entry["id"]] + [entry]
    manifest["weights"].sort(key=lambda e: e["id"])
    path.write_text(json.dumps(manifest, indent=2) + "\n")


def export_hyperprior(ckpt: Path, weights_dir: Path = WEIGHTS_DIR, note: str = "") -> dict[str, Any]:
    state = json.loads((Path(ckpt) / "state.json").read_text())
    raw = load_file(str(Path(ckpt) / "model.safetensors"))
    tensors = {k[len("model.") :]: v for k, v in raw.items() if k.startswith("model.")}
    out = {k: _ship_dtype(k, v) for k, v in tensors.items()}
    log_probs = torch.log_softmax(tensors["z_prior.logits"].double(), dim=-1).numpy()
    out["z_prior.table"] = torch.from_numpy(table_from_logits(log_probs).astype(np.int32))
    weights_dir.mkdir(parents=True, exist_ok=True)
    path = weights_dir / "hyperprior.safetensors"
    save_file(out, str(path), metadata={"id": "hyperprior", "step": str(state["step"])})
    entry = {
        "id": "hyperprior",
        "file": path.name,
        "sha256": sha256_file(path),
        "config": {"model": state["config"]["model"], "train": state["config"]["train"], "step": state["step"]},
        "licence": "weights trained on ../shared/data/train (BSDS500, ImageNet sample, Sun-Hays 80): research use only",
        "description": note or "pixel-space mean-scale hyperprior with rate gains (0.1 default codec)",
    }
    update_manifest(entry, weights_dir)
    return entry


def _checkpoint_tensors(ckpt: Path, module: str) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    state = json.loads((Path(ckpt) / "state.json").read_text())
    raw = load_file(str(Path(ckpt) / "model.safetensors"))
    prefix = module + "."
    return {k[len(prefix):]: v for k, v in raw.items() if k.startswith(prefix)}, state


def _write(weights_dir: Path, wid: str, tensors: dict[str, torch.Tensor], step: int) -> Path:
    weights_dir.mkdir(parents=True, exist_ok=True)
    path = weights_dir / f"{wid}.safetensors"
    save_file(tensors, str(path), metadata={"id": wid, "step": str(step)})
    return path


LICENCE = "weights trained on ../shared/data/train (BSDS500, ImageNet sample, Sun-Hays 80): research use only"


def export_autoencoder(ckpt: Path, weights_dir: Path = WEIGHTS_DIR) -> dict[str, Any]:
    """Stage-I generative autoencoder (E, D, codebook) -> weights/autoencoder.safetensors.

    Codecs already exported against the autoencoder it replaces keep theirs (``_keep_pinned``)."""
    tensors, state = _checkpoint_tensors(ckpt, "model")
    out = {k: _ship_dtype(k, v) for k, v in _inference_only(tensors).items()}
    weights_dir.mkdir(parents=True, exist_ok=True)
    staged = weights_dir / "autoencoder.safetensors.partial"
    save_file(out, str(staged), metadata={"id": "autoencoder", "step": str(state["step"])})
    sha = sha256_file(staged)
    _keep_pinned(weights_dir, sha)
    path = staged.replace(weights_dir / "autoencoder.safetensors")
    entry = {
        "id": "autoencoder", "file": path.name, "sha256": sha,
        "config": {"model": state["config"]["model"], "train": state["config"]["train"], "step": state["step"]},
        "licence": LICENCE,
        "description": "VQGAN-style generative autoencoder, x16, shared by glc/dlf/perco (GLC stage I)",
    }
    update_manifest(entry, weights_dir)
    return entry


def _keep_pinned(weights_dir: Path, new_sha: str) -> None:
    """Before the shared autoencoder is replaced, codecs pinned to it by sha256 keep it: the old file
    and entry move to the id ``autoencoder-<sha[:8]>`` and those codecs' ``autoencoder_weights`` follow."""
    path = weights_dir / "manifest.json"
    if not path.exists():
        return
    manifest = json.loads(path.read_text())
    old = next((e for e in manifest["weights"] if e["id"] == "autoencoder"), None)
    if old is None or old["sha256"] == new_sha:
        return
    users = [e for e in manifest["weights"] if e.get("config", {}).get("autoencoder_weights") == "autoencoder"
             and e["config"].get("autoencoder_sha256") == old["sha256"]]
    if not users:
        return
    kept_id = f"autoencoder-{old['sha256'][:8]}"
    (weights_dir / old["file"]).replace(weights_dir / f"{kept_id}.safetensors")
    for e in users:
        e["config"]["autoencoder_weights"] = kept_id
    kept = {**old, "id": kept_id, "file": f"{kept_id}.safetensors",
            "description": f"the earlier shared autoencoder, kept for {', '.join(e['id'] for e in users)}"}
    manifest["weights"] = sorted([*manifest["weights"], kept], key=lambda e: e["id"])
    path.write_text(json.dumps(manifest, indent=2) + "\n")


def _autoencoder_link(weights_dir: Path, trained_with: str | None) -> dict[str, str]:
    """The manifest fields tying a latent codec to the autoencoder weights it was trained with.

    When the training autoencoder (``trained_with``, a run checkpoint or weights file) is on this machine,
    its encoder and codebook must be the shipped one's: a codec is never linked to a foreign latent space."""
    manifest = json.loads((weights_dir / "manifest.json").read_text())
    ae = next(e for e in manifest["weights"] if e["id"] == "autoencoder")
    source = Path(trained_with) if trained_with else None
    if source is not None and source.exists():
        theirs = (load_file(str(source)) if source.suffix == ".safetensors"
                  else _checkpoint_tensors(source, "model")[0])
        ours = load_file(str(weights_dir / ae["file"]))
        keys = [k for k in ours if k.startswith(("encoder.", "quantizer."))]
        if any(k not in theirs or not torch.equal(_ship_dtype(k, theirs[k]), ours[k]) for k in keys):
            raise ValueError(f"this codec was trained on the autoencoder {source}, not on "
                             f"{weights_dir / ae['file']}: export that autoencoder first")
    return {"autoencoder_weights": "autoencoder", "autoencoder_sha256": ae["sha256"]}


def _write_latent_codec(wid: str, out: dict[str, torch.Tensor], state: dict[str, Any], weights_dir: Path,
                        description: str) -> dict[str, Any]:
    """Write a codec built on the shared autoencoder; its manifest entry pins that autoencoder's sha256."""
    link = _autoencoder_link(weights_dir, state["config"]["train"].get("autoencoder"))
    path = _write(weights_dir, wid, out, state["step"])
    entry = {
        "id": wid, "file": path.name, "sha256": sha256_file(path),
        "config": {"model": state["config"]["model"], "train": state["config"]["train"], "step": state["step"],
                   **link},
        "licence": LICENCE,
        "description": description,
    }
    update_manifest(entry, weights_dir)
    return entry


def export_glc(ckpt: Path, weights_dir: Path = WEIGHTS_DIR, decoder_ckpt_module: str | None = None) -> dict[str, Any]:
    """Latent codec (+ fine-tuned decoder when the checkpoint has one) -> weights/glc.safetensors."""
    tensors, state = _checkpoint_tensors(ckpt, "model")
    out = {f"codec.{k}": _ship_dtype(k, v) for k, v in _inference_only(tensors).items()}
    if decoder_ckpt_module:
        dec, _ = _checkpoint_tensors(ckpt, decoder_ckpt_module)
        out.update({f"decoder.{k}": _ship_dtype(k, v) for k, v in dec.items()})
    desc = "GLC latent codec: transform coding in the autoencoder's latent space, categorical hyper"
    return _write_latent_codec("glc", out, state, weights_dir, desc)


def export_perco(ckpt: Path, weights_dir: Path = WEIGHTS_DIR) -> dict[str, Any]:
    """Hyper encoders, EMA codebooks (fp32), code upsamplers and denoiser -> weights/perco.safetensors."""
    tensors, state = _checkpoint_tensors(ckpt, "model")
    out = {k: _ship_dtype(k, v) for k, v in tensors.items() if not k.endswith(("ema_count", "ema_sum"))}
    desc = "PerCo: latent diffusion decoder conditioned on a fixed-length VQ code and a caption"
    return _write_latent_codec("perco", out, state, weights_dir, desc)


def hific_weights(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A ``hific`` model state dict as shipped: fp16 transforms and context, fp32 gains and prior, z table."""
    out = {k: _ship_dtype(k, v) for k, v in tensors.items()}
    log_probs = torch.log_softmax(tensors["z_prior.logits"].detach().double(), dim=-1).numpy()
    out["z_prior.table"] = torch.from_numpy(table_from_logits(log_probs).astype(np.int32))
    return out


HIFIC_DESCRIPTIONS = {
    "hific": "HiFiC-style pixel codec with ELIC context and semantic ensemble loss (seed 000)",
    "conha": "ConHa: the hific network trained with its perceptual (and adversarial) terms scaled per crop by "
             "w = M_P(x) (seed 004, eq. 4)",
    "conha-fixed": "ConHa-fixed: like conha, one constant w (the mean of M_P on training crops) for every image",
}


DECODER_PREFIX = "g_s."  # the only part hific-gan trains: what conha / conha-fixed ship


@torch.no_grad()
def refit_z_table(model: HiFiC, sampler: CropSampler, crops: int, batch: int = 16) -> None:
    """Set the z table to the frequencies of the rounded z of ``crops`` crops at uniform rate indices
    (+0.5 per symbol, so every symbol stays codable): the maximum-likelihood table for that z."""
    k = model.cfg.z_half_range
    counts = torch.full(model.z_prior.logits.shape, 0.5, dtype=torch.float64)
    for start in range(0, crops, batch):
        x, _ = sampler.batch(min(batch, crops - start))
        t = torch.rand(x.shape[0]) * (model.cfg.n_rates - 1)
        x = x.to(model.z_prior.logits.dtype)
        z = torch.round((model.h_a(model.g_a(x * 2 - 1)) * model.z_gain(t).to(x.dtype)).clamp(-k, k)) + k
        sym = z.long().transpose(0, 1).reshape(z.shape[1], -1)
        counts.scatter_add_(1, sym, torch.ones_like(sym, dtype=torch.float64))
    model.z_prior.logits.copy_(torch.log(counts / counts.sum(dim=1, keepdim=True)))


def _refit_logits(tensors: dict[str, torch.Tensor], config: dict[str, Any], crops: int) -> torch.Tensor:
    """z-table log-probabilities refit to the rounded z of ``crops`` training crops (fixed seed, float64, so
    every export of one stage 1 gets the same table): the table trained on the noisy proxy keeps p(0) near
    0.7 and overcharges collapsed channels (docs/training.md, recipe notes)."""
    train = config.get("rd_train", config["train"])
    roots = [Path(p) for p in train["data"]]
    if not all(r.is_dir() for r in roots):
        raise ValueError(f"the z-table refit needs the training data ({', '.join(map(str, roots))}); "
                         "use --refit-crops 0 to ship the trained table")
    model = HiFiC(HiFiCConfig.from_dict(config["model"])).double()  # float64: no rounding flips between runs
    model.load_state_dict({k: v.double() for k, v in tensors.items()})
    with torch.random.fork_rng():
        torch.manual_seed(0)
        refit_z_table(model, CropSampler(list_images(roots), train["crop"], seed=0), crops)
    return model.z_prior.logits.detach().float().clone()


def export_hific(
    ckpt: Path, weights_dir: Path = WEIGHTS_DIR, note: str = "", model_id: str = "hific", refit_crops: int = 512
) -> dict[str, Any]:
    """A hific-rd or hific-gan checkpoint's codec (not its discriminator) -> weights/<model_id>.safetensors.

    ``hific`` ships the whole network. ``conha`` and ``conha-fixed`` differ from it only in the decoder
    (``hific-gan`` freezes the rest) when trained from hific's stage 1: then they ship only ``g_s`` and
    name the ``hific`` weights they share the rest with (``config["base"]``). A checkpoint with its own
    stage 1 (``hific-rd --set w_mode=conha``) ships the whole network. The z table is refit to the
    rounded z of ``refit_crops`` training crops (0 = the trained table).
    """
    if model_id not in HIFIC_DESCRIPTIONS:
        raise ValueError(f"not a HiFiC-family codec id: {model_id!r} (known: {', '.join(HIFIC_DESCRIPTIONS)})")
    tensors, state = _checkpoint_tensors(ckpt, "model")
    config: dict[str, Any] = {"model": state["config"]["model"], "train": state["config"]["train"],
                              "step": state["step"]}
    if refit_crops:
        tensors = {**tensors, "z_prior.logits": _refit_logits(tensors, state["config"], refit_crops)}
        config["z_table"] = f"refit to the rounded z of {refit_crops} training crops"
    shipped = hific_weights(tensors)
    if model_id != "hific":
        base = read_manifest(weights_dir).get("hific") if (weights_dir / "manifest.json").exists() else None
        if base is None:
            raise ValueError(f"export hific first: {model_id} ships only its decoder and shares the rest with it")
        base_tensors = load_file(str(weights_dir / base.file))
        table_keys = ("z_prior.logits", "z_prior.table")  # the base's refit table, when the stage 1 is the same
        shared = {k: v for k, v in shipped.items() if not k.startswith(DECODER_PREFIX)}
        same_stage1 = shared.keys() == {k for k in base_tensors if not k.startswith(DECODER_PREFIX)} and all(
            torch.equal(v, base_tensors[k]) for k, v in shared.items() if k not in table_keys
        )
        if same_stage1:
            shipped = {k: v for k, v in shipped.items() if k.startswith(DECODER_PREFIX)}
            config["base"] = {"id": "hific", "sha256": base.sha256}
        # else: its own stage 1 (e.g. hific-rd trained with w): the whole network ships
    path = _write(weights_dir, model_id, shipped, state["step"])
    entry = {
        "id": model_id, "file": path.name, "sha256": sha256_file(path), "config": config,
        "licence": LICENCE, "description": note or HIFIC_DESCRIPTIONS[model_id],
    }
    update_manifest(entry, weights_dir)
    return entry


def export_dlf(ckpt: Path, weights_dir: Path = WEIGHTS_DIR, decoder_ckpt_module: str | None = None) -> dict[str, Any]:
    """DLF dual-branch codec (+ fine-tuned decoder when the checkpoint has one) -> weights/dlf.safetensors;
    the EMA codebook statistics stay behind (the codebook itself is kept in fp32)."""
    tensors, state = _checkpoint_tensors(ckpt, "model")
    kept = {k: v for k, v in _inference_only(tensors).items() if not k.endswith(("ema_count", "ema_sum"))}
    out = {f"codec.{k}": _ship_dtype(k, v) for k, v in kept.items()}
    if decoder_ckpt_module:
        dec, _ = _checkpoint_tensors(ckpt, decoder_ckpt_module)
        out.update({f"decoder.{k}": _ship_dtype(k, v) for k, v in dec.items()})
    desc = "DLF: semantic VQ tokens per window + Gaussian-coded adaptive detail, fused into the autoencoder latent"
    return _write_latent_codec("dlf", out, state, weights_dir, desc)


def export_preference(ckpt: Path, weights_dir: Path = WEIGHTS_DIR, note: str = "") -> dict[str, Any]:
    """ConHa's preference model M_P (seed 004, sec. 3.1) -> weights/preference.safetensors: the head only, fp32
    (about 42k parameters); the frozen EfficientNet-Lite0 backbone it runs on is pinned by file name and sha256."""
    tensors, state = _checkpoint_tensors(ckpt, "model")
    path = _write(weights_dir, "preference", {k: v.float().contiguous() for k, v in tensors.items()}, state["step"])
    cfg = state["config"]
    entry = {
        "id": "preference", "file": path.name, "sha256": sha256_file(path),
        "config": {"model": cfg["model"], "train": cfg["train"], "step": state["step"], "data": cfg.get("data", {}),
                   "backbone_weights": cfg["backbone"]["file"], "backbone_sha256": cfg["backbone"]["sha256"]},
        "licence": f"research use only; head trained on the preference pairs {cfg['train']['pairs']} "
                   "(synthetic pairs: crops of ../shared/data/train); backbone: ImageNet EfficientNet-Lite0",
        "description": note or "ConHa hallucination-preference model M_P: w = sigmoid(T * logit), low w = avoid "
                               "hallucinating (text, faces, lines), high w = texture (seed 004, eq. 4)",
    }
    update_manifest(entry, weights_dir)
    return entry
