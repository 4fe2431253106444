"""Training NotaGen's network on interleaved ABC: the patches and loss of NotaGen's training.

``encode_train`` is its Patchilizer in train mode (stream prefixes ``[r:i/j]`` on every
tune-body line, every bar closed with EOS, the end patch last); ``loss`` is its forward:
the patch decoder's hidden state of patch i is the first position of the character
decoder, which predicts the characters of patch i+1 (pad ignored).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from mos_lab.ai.models.notagen import patchilizer as P
from mos_lab.ai.models.notagen.model import NotaGenNet


def encode_train(text: str, patch_size: int = P.PATCH_SIZE, stream: bool = True
                 ) -> list[list[int]]:
    """Patches of a whole piece as NotaGen trains on it (BOS patch first, end patch last)."""
    P.check_text(text)
    lines = [ln + "\n" for ln in text.split("\n") if ln]
    index = next((i for i, ln in enumerate(lines) if "[V:" in ln), len(lines))
    header, body = lines[:index], lines[index:]
    if stream:
        body = [f"[r:{i}/{len(body) - i - 1}]{ln}" for i, ln in enumerate(body)]
    patches = [p for ln in header for p in P.split_patches(ln, patch_size)]
    patches += [p for bar in P.split_bars(body) for p in P.split_patches(bar, patch_size)]
    ids = [[ord(c) for c in p] + [P.PAD] * (patch_size - len(p)) for p in patches]
    return [P.bos_patch(patch_size), *ids, P.end_patch(patch_size)]


def loss(net: NotaGenNet, patches: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of every character after the first patch; ``patches`` is
    (1, n, patch_size) codes."""
    h, _ = net.patch_level_decoder(patches)
    targets = patches[0, 1:]  # (n-1, size)
    lm = net.char_level_decoder.base
    x = torch.cat((h[0, :-1, None, :], lm.transformer.wte(targets[:, :-1])), dim=1)
    out, _ = lm.transformer(x)
    logits = lm.lm_head(out)  # (n-1, size, 128): position j predicts character j
    labels = targets.masked_fill(targets == P.PAD, -100)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1),
                           ignore_index=-100)


def fit(net: NotaGenNet, texts: list[str], steps: int, lr: float = 3e-3, seed: int = 0
        ) -> list[float]:
    """A plain Adam loop over ``texts`` (one piece a step, cut to the context): the losses."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    data = [torch.tensor([encode_train(t, net.config.patch_size)[: net.config.patch_length]])
            for t in texts]
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    net.train()
    losses = []
    for _ in range(steps):
        batch = data[int(torch.randint(len(data), (1,), generator=gen))]
        value = loss(net, batch)
        opt.zero_grad()
        value.backward()
        opt.step()
        losses.append(float(value.detach()))
    net.eval()
    return losses
