"""NotaGen checkpoints: read a released ``.pth`` unchanged, infer the sizes from its shapes,
check every key and shape, and write the same format back.

A checkpoint is a dict whose ``model`` entry is the state dict (keys
``patch_level_decoder.*`` and ``char_level_decoder.*``); a bare state dict is read too.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import torch

from mos_lab.ai.models.notagen.model import NotaGenConfig, NotaGenNet
from mos_lab.ai.models.notagen.patchilizer import VOCAB
from mos_lab.ai.models.notagen.sampling import Sampling

EXPECTED = ("a NotaGen checkpoint (.pth): a dict whose 'model' entry is the state dict with "
            "keys patch_level_decoder.* and char_level_decoder.*, as NotaGen releases them "
            "(e.g. weights_notagenx_p_size_16_p_length_1024_p_layers_20_h_size_1280.pth)")
#: buffers that older transformers versions saved with GPT-2 weights; not parameters
_BUFFERS = re.compile(r"\.attn\.(bias|masked_bias)$")
_PATCH = "patch_level_decoder."
_CHAR = "char_level_decoder.base."


class CheckpointError(ValueError):
    """A checkpoint that is not NotaGen's: the message names the first key that differs."""


def find_checkpoint(path: str | os.PathLike[str]) -> Path:
    """The checkpoint file at ``path`` (a ``.pth`` file, or a folder holding exactly one)."""
    p = Path(path)
    if p.is_dir():
        found = sorted(p.glob("*.pth"))
        if len(found) == 1:
            return found[0]
        what = "no .pth file" if not found else f"{len(found)} .pth files ({found[0].name}, …)"
        raise FileNotFoundError(f"notagen: {what} in {p}; expected {EXPECTED}")
    if not p.exists():
        raise FileNotFoundError(f"notagen: weights not found: {p}; expected {EXPECTED}")
    return p


#: What mos_lab records beside the weights (the ``"mos_lab"`` entry of a checkpoint; NotaGen's
#: own files have none): ``every_voice``, the training data writes every voice in every bar;
#: ``key_normalized``, it was written with no sharps or flats in the key signature.
#: Beside them it may record ``"sampling"``: the fields of ``sampling.Sampling`` it is
#: meant to be sampled with where not told (NotaGen's own files: NotaGen's sampling).
TRAITS = ("every_voice", "key_normalized")


def read_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """The state dict of the checkpoint at ``path`` (read with ``weights_only``: no code runs)."""
    return read_checkpoint(path)[0]


def read_checkpoint(path: str | os.PathLike[str]
                    ) -> tuple[dict[str, torch.Tensor], dict[str, bool], Sampling]:
    """The state dict, the ``TRAITS`` (False where not recorded) and the sampling of a
    checkpoint (the fields it records over NotaGen's; a bad entry names the file)."""
    p = find_checkpoint(path)
    try:
        obj: Any = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"notagen: {p} cannot be read as a torch checkpoint ({exc}); "
                              f"expected {EXPECTED}") from None
    state = obj.get("model", obj) if isinstance(obj, dict) else None
    if not isinstance(state, dict) or not any(str(k).startswith(_PATCH) for k in state):
        raise CheckpointError(f"notagen: {p} holds no NotaGen weights; expected {EXPECTED}")
    recorded = obj.get("mos_lab") if isinstance(obj.get("mos_lab"), dict) else {}
    traits = {t: bool(recorded.get(t, False)) for t in TRAITS}
    fields = recorded.get("sampling", {})
    try:
        sampling = Sampling(**fields)
    except (TypeError, ValueError) as exc:  # not a dict, an unknown field, not a number
        raise CheckpointError(f"notagen: {p} records a bad sampling {fields!r}: {exc}"
                              ) from None
    return {k: v for k, v in state.items() if not _BUFFERS.search(k)}, traits, sampling


def _layers(state: dict[str, torch.Tensor], prefix: str) -> int:
    """How many numbered blocks ``prefix``h.N. the state dict holds."""
    pattern = re.compile(re.escape(prefix) + r"h\.(\d+)\.")
    found = {int(m.group(1)) for k in state if (m := pattern.match(k))}
    return max(found) + 1 if found else 0


def _shape(state: dict[str, torch.Tensor], key: str) -> tuple[int, ...]:
    if key not in state:
        raise CheckpointError(f"notagen: the checkpoint has no {key!r}; expected {EXPECTED}")
    return tuple(state[key].shape)


def infer_config(state: dict[str, torch.Tensor]) -> NotaGenConfig:
    """The sizes of the network whose weights ``state`` holds (heads = hidden // 64)."""
    hidden, flat = _shape(state, _PATCH + "patch_embedding.weight")
    patch_length = _shape(state, _PATCH + "base.wpe.weight")[0]
    char_positions = _shape(state, _CHAR + "transformer.wpe.weight")[0]
    patch_size = char_positions - 1
    if flat != patch_size * VOCAB:
        raise CheckpointError(
            f"notagen: {_PATCH}patch_embedding.weight has {flat} inputs, but the character "
            f"decoder's {char_positions} positions say patches of {patch_size} characters "
            f"({patch_size * VOCAB} inputs)")
    key = _PATCH + "base.h.0.mlp.c_fc.weight"
    patch_inner = _shape(state, key)[1] if key in state else None
    key = _CHAR + "transformer.h.0.mlp.c_fc.weight"
    char_inner = _shape(state, key)[1] if key in state else None
    return NotaGenConfig(hidden=hidden, patch_layers=_layers(state, _PATCH + "base."),
                         char_layers=_layers(state, _CHAR + "transformer."),
                         patch_size=patch_size, patch_length=patch_length,
                         patch_inner=patch_inner, char_inner=char_inner)


def check_state_dict(net: NotaGenNet, state: dict[str, torch.Tensor]) -> None:
    """Raise CheckpointError naming the first key whose presence or shape differs."""
    want = net.state_dict()
    for key, value in want.items():
        if key not in state:
            if key == _CHAR + "lm_head.weight":  # tied to wte: some savers leave it out
                continue
            raise CheckpointError(f"notagen: the checkpoint has no {key!r} "
                                  f"(shape {tuple(value.shape)} expected)")
        if tuple(state[key].shape) != tuple(value.shape):
            raise CheckpointError(
                f"notagen: {key!r} has shape {tuple(state[key].shape)}, expected "
                f"{tuple(value.shape)} for {net.config}")
    extra = [k for k in state if k not in want]
    if extra:
        raise CheckpointError(f"notagen: the checkpoint has {extra[0]!r}, which NotaGen's "
                              f"network does not have ({len(extra)} such keys)")


def build(state: dict[str, torch.Tensor]) -> NotaGenNet:
    """The network for ``state``, its weights loaded after every key and shape was checked."""
    net = NotaGenNet(infer_config(state))
    check_state_dict(net, state)
    state = dict(state)
    state.setdefault(_CHAR + "lm_head.weight", state[_CHAR + "transformer.wte.weight"])
    net.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    return net.eval()


def save_checkpoint(net: NotaGenNet, path: str | os.PathLike[str], **extra: Any) -> Path:
    """Write ``net`` as NotaGen writes its checkpoints: ``{"model": state_dict, **extra}``."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": net.state_dict(), **extra}, p)
    return p
