#!/usr/bin/env python3
"""Golden fixtures for the TypeScript backbone, made with torchvision's own ResNet code.

Run by hand (not by CI), from the repository root:

    python -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch torchvision safetensors
    /tmp/torchenv/bin/python packages/model/scripts/make_golden_resnet.py

For a ResNet-18-shaped net (BasicBlock, [2, 2, 2, 2]) and a ResNeXt-shaped one (Bottleneck,
grouped 3x3 convs) with tiny widths, it writes to packages/model/fixtures/<name>/:
  weights.safetensors  the model's state_dict() exactly as torchvision names it (fc and
                       num_batches_tracked included, as a real checkpoint has them); BN weights,
                       biases and running statistics are random, so eval-mode BN is non-trivial;
                       __metadata__ "config" is the backbone config the TS side builds.
  io.safetensors       input (NHWC), eval-mode C5 map and 2x2-max-pooled map (NHWC), gradients
                       of a fixed weighted sum of C5 w.r.t. some weights (tfjs layout
                       [kh, kw, in/groups, out]), and a train-mode forward: its C5 and bn1's
                       running statistics after that one step.
and fixtures/torchvision-names.json: every state-dict key and shape of torchvision's full-size
resnet18, resnet50 and resnext101_32x8d builders (no weights), for the name-mapping test.
The blocks are torchvision's (BasicBlock, Bottleneck, ResNet._make_layer); only the widths,
which torchvision's ResNet fixes at 64..512, are made small so the fixtures stay tiny.
"""
import json
import os
import sys

import torch
import torch.nn as nn
import torchvision
from safetensors.torch import save_file
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures")


class TinyResNet(ResNet):
    """torchvision.models.ResNet with configurable stage widths (torchvision's are 64..512)."""

    def __init__(self, block, layers, planes, strides, groups, width_per_group, stem_width):
        nn.Module.__init__(self)
        self._norm_layer = nn.BatchNorm2d
        self.inplanes = stem_width
        self.dilation = 1
        self.groups = groups
        self.base_width = width_per_group
        self.conv1 = nn.Conv2d(3, stem_width, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(stem_width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.stage_names = []
        for i, (n, p, s) in enumerate(zip(layers, planes, strides)):
            setattr(self, f"layer{i + 1}", self._make_layer(block, p, n, stride=s))
            self.stage_names.append(f"layer{i + 1}")
        # A classifier as in a real torchvision checkpoint; the importer must skip it.
        self.fc = nn.Linear(planes[-1] * block.expansion, 10)

    def trunk(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for name in self.stage_names:
            x = getattr(self, name)(x)
        return x


def randomise_bn(model, g):
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.weight.data = torch.rand(c, generator=g) + 0.5
            m.bias.data = torch.randn(c, generator=g) * 0.1
            m.running_mean.data = torch.randn(c, generator=g) * 0.2
            m.running_var.data = torch.rand(c, generator=g) + 0.5


def nhwc(t):
    return t.detach().permute(0, 2, 3, 1).contiguous()


def tfjs_conv(t):
    return t.detach().permute(2, 3, 1, 0).contiguous()


def make(name, block, config, image_hw, grad_names):
    g = torch.Generator().manual_seed(1234)
    torch.manual_seed(1234)
    model = TinyResNet(
        block, config["layers"], config["planes"], config["strides"],
        config["groups"], config["widthPerGroup"], config["stemWidth"],
    )
    randomise_bn(model, g)
    model.eval()
    x = torch.randn(2, 3, *image_hw, generator=g)
    state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}

    x_req = x.clone()
    c5 = model.trunk(x_req)
    pooled = nn.functional.max_pool2d(c5, kernel_size=2, stride=2)  # Pixel-BERT Section 3.2
    mix = torch.randn(c5.shape, generator=g)
    loss = (c5 * mix).sum()
    params = dict(model.named_parameters())
    grads = torch.autograd.grad(loss, [params[n] for n in grad_names])

    io = {
        "input": nhwc(x),
        "c5": nhwc(c5),
        "pooled": nhwc(pooled),
        "loss_mix": nhwc(mix),
        "loss": loss.detach().reshape(1),
    }
    for n, gr in zip(grad_names, grads):
        io[f"grad.{n}"] = tfjs_conv(gr) if gr.dim() == 4 else gr.detach().contiguous()

    model.train()
    with torch.no_grad():
        c5_train = model.trunk(x.clone())
    io["c5_train"] = nhwc(c5_train)
    io["bn1.running_mean_after_train_step"] = model.bn1.running_mean.detach().clone()
    io["bn1.running_var_after_train_step"] = model.bn1.running_var.detach().clone()

    folder = os.path.join(OUT, name)
    os.makedirs(folder, exist_ok=True)
    meta = {
        "config": json.dumps({"block": "basic" if block is BasicBlock else "bottleneck", **config}),
        "made_by": "packages/model/scripts/make_golden_resnet.py",
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "grads": json.dumps(grad_names),
    }
    save_file(state, os.path.join(folder, "weights.safetensors"), metadata=meta)
    save_file(io, os.path.join(folder, "io.safetensors"), metadata=meta)
    sizes = {f: os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder)}
    print(f"{name}: wrote {folder} {sizes}; c5 {tuple(c5.shape)} pooled {tuple(pooled.shape)}")


def dump_names():
    """Every state-dict key and shape of torchvision's full-size builders (no weights downloaded):
    the TS backbones must produce exactly these names and (transposed) shapes."""
    out = {}
    for name, builder, ours in [
        ("resnet18", torchvision.models.resnet18, {"arch": "resnet18"}),
        ("resnet50", torchvision.models.resnet50, {"arch": "resnet50"}),
        # ResNeXt-152 32x8d is not in torchvision; its 101-layer sibling checks the same blocks
        # (groups 32, width 8 per group) with the same code path.
        ("resnext101_32x8d", torchvision.models.resnext101_32x8d,
         {"config": {"block": "bottleneck", "layers": [3, 4, 23, 3], "planes": [64, 128, 256, 512],
                     "strides": [1, 2, 2, 2], "groups": 32, "widthPerGroup": 8, "stemWidth": 64}}),
    ]:
        m = builder(weights=None)
        out[name] = {"ours": ours, "keys": [[k, list(v.shape)] for k, v in m.state_dict().items()]}
    path = os.path.join(OUT, "torchvision-names.json")
    with open(path, "w") as f:
        json.dump({"made_by": "packages/model/scripts/make_golden_resnet.py", "torchvision": torchvision.__version__, "models": out}, f)
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


def main():
    torch.set_grad_enabled(True)
    dump_names()
    # Odd image sides exercise PyTorch's symmetric padding at stride 2 (tfjs 'same' differs).
    make(
        "resnet18-tiny", BasicBlock,
        {"layers": [2, 2, 2, 2], "planes": [4, 8, 8, 16], "strides": [1, 2, 2, 2],
         "groups": 1, "widthPerGroup": 64, "stemWidth": 8},
        (70, 90), ["conv1.weight", "layer1.0.conv1.weight", "layer4.1.conv2.weight", "layer3.0.downsample.1.weight"],
    )
    make(
        "resnext-tiny", Bottleneck,
        {"layers": [1, 2, 1, 1], "planes": [8, 16, 16, 32], "strides": [1, 2, 2, 2],
         "groups": 4, "widthPerGroup": 16, "stemWidth": 8},
        (67, 75), ["conv1.weight", "layer2.1.conv2.weight", "layer4.0.conv2.weight", "layer1.0.bn3.weight"],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
