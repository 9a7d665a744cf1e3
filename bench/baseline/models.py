"""Model definitions shared by the baseline miner and the ONNX export.

Every model is a vision backbone from a transformers config (seeded random init: these models exist to be
timed, not to be right) plus a linear head on the pooled embedding. The baseline serves the torch state dict;
export.py writes the SAME weights to ONNX for the TypeScript axon, so both servers compute one function.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import (
    ConvNextConfig,
    ConvNextModel,
    Dinov2WithRegistersConfig,
    Dinov2WithRegistersModel,
    ViTConfig,
    ViTModel,
)

IMAGE_SIZE = 224
# ImageNet statistics, as the DINOv2 and ConvNeXt image processors use them.
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def _dinov2_reg(hidden: int, layers: int, heads: int) -> Dinov2WithRegistersConfig:
    # image_size 224 so the position table already has the 16x16 grid a 224x224 input needs.
    return Dinov2WithRegistersConfig(
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        patch_size=14,
        image_size=IMAGE_SIZE,
        num_register_tokens=4,
        mlp_ratio=4,
    )


# name -> (description, config factory, model class)
ARCHITECTURES = {
    "dinov2-s14-reg": ("DINOv2-S/14 with registers (22M params)", lambda: _dinov2_reg(384, 12, 6), Dinov2WithRegistersModel),
    "dinov2-b14-reg": ("DINOv2-B/14 with registers (86M params)", lambda: _dinov2_reg(768, 12, 12), Dinov2WithRegistersModel),
    "dinov2-l14-reg": ("DINOv2-L/14 with registers (304M params)", lambda: _dinov2_reg(1024, 24, 16), Dinov2WithRegistersModel),
    "convnext-b": (
        "ConvNeXt-B (88M params)",
        lambda: ConvNextConfig(depths=[3, 3, 27, 3], hidden_sizes=[128, 256, 512, 1024], image_size=IMAGE_SIZE),
        ConvNextModel,
    ),
    "vit-b16": ("ViT-B/16 (86M params)", lambda: ViTConfig(image_size=IMAGE_SIZE, patch_size=16), ViTModel),
}


def hidden_size(config) -> int:
    return config.hidden_sizes[-1] if hasattr(config, "hidden_sizes") else config.hidden_size


class Backbone(nn.Module):
    """pixel_values [N,3,224,224] -> pooled embedding [N,D] (layer-normed CLS token, or pooled features for ConvNeXt)."""

    def __init__(self, arch: str):
        super().__init__()
        _, make_config, model_class = ARCHITECTURES[arch]
        self.config = make_config()
        self.model = model_class(self.config, add_pooling_layer=True) if model_class is ViTModel else model_class(self.config)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.model(pixel_values=pixel_values).pooler_output


class Head(nn.Module):
    """embedding [N,D] -> roadwork probability [N,1]."""

    def __init__(self, dim: int):
        super().__init__()
        self.linear = nn.Linear(dim, 1)

    def forward(self, embedding: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.linear(embedding))


class Classifier(nn.Module):
    def __init__(self, arch: str):
        super().__init__()
        self.arch = arch
        self.backbone = Backbone(arch)
        self.head = Head(hidden_size(self.backbone.config))

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(pixel_values))


def build(arch: str, seed: int) -> Classifier:
    """Seeded random init: the same seed gives the same weights on any machine with the same torch."""
    torch.manual_seed(seed)
    model = Classifier(arch)
    with torch.no_grad():
        # A head drawn at random gives probabilities near 0.5; a wider head spreads them so answers differ visibly.
        model.head.linear.weight.mul_(8.0)
    return model.eval()


class Ensemble(nn.Module):
    """Mean probability over members and over the image and its horizontal mirror (test-time augmentation)."""

    def __init__(self, members: list[Classifier], hflip: bool):
        super().__init__()
        self.members = nn.ModuleList(members)
        self.hflip = hflip

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        views = torch.cat([pixel_values, torch.flip(pixel_values, dims=[3])]) if self.hflip else pixel_values
        n = pixel_values.shape[0]
        probs = []
        for member in self.members:
            p = member(views)
            probs.append(p.view(-1, n, 1).mean(0) if self.hflip else p)
        return torch.stack(probs).mean(0)
