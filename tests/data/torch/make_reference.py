"""PyTorch references that the shared set does not have, for bfmd-models' tests.

Run outside the repository's build (any venv with the pinned versions below):

    python -m venv /work/venv-torch
    /work/venv-torch/bin/pip install torch==2.15.0 torchvision==0.29.2 timm==1.0.31 safetensors
    /work/venv-torch/bin/python make_reference.py SHARED_TORCH_DIR [DEST_DIR]

It writes:

* `inception_v3_w0125/`: torchvision's Inception v3 with every width scaled by 0.125
  (`max(4, round(c * w))`), `transform_input=True`, 10 classes, 96x96 inputs;
* `xception_w0125/`: timm's `legacy_xception` with every width scaled by 0.125, 10 classes,
  96x96 inputs;
* `block_inception_conv/`: the seed's "Inception convolution" (IC-Conv): parallel 3x3
  convolutions with dilations (1,1), (1,2), (2,1), (2,2), (3,3), each + BN + ReLU,
  concatenated;
* `standard.json`: for every backbone at its paper's standard configuration, the
  `state_dict` listing (name and shape of every float tensor) and the parameter and
  multiply-accumulate counts of the PyTorch definition (torchvision, timm, or the seed's
  definitions from the shared `seed_blocks.py`).

The width-scaled copies are checked first: at width 1 they have exactly torchvision's /
timm's `state_dict` names and shapes and, given the same weights, the same outputs.

Each reference folder has the layout of `copy_shared.py`'s output: `<name>.safetensors`,
`<name>.tensors.json` (batch-norm eps), `input_{0..3}.nhwc.f32`, `output_{0..3}.f32`
(logits) or `.nhwc.f32` (feature maps), `manifest.json`. All four inputs are kept here (the
weights are small). Weights: `torch.manual_seed(0)` initialization, batch-norm affine
parameters drawn from a generator seeded 1, running statistics calibrated on 8 batches of 8
synthetic images in train mode with `momentum=None` (as the shared references).
"""
import json
import math
import sys
from pathlib import Path

import numpy as np
import timm
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from safetensors.torch import save_file
from timm.models.xception import Block as XBlock
from timm.models.xception import SeparableConv2d as XSep
from torchvision.models.inception import BasicConv2d

VERSIONS = {
    "torch": torch.__version__,
    "torchvision": torchvision.__version__,
    "timm": timm.__version__,
    "numpy": np.__version__,
    "python": sys.version.split()[0],
}


def scaled(c, w):
    """bfmd's width rule for definitions without one: max(4, round(c * w)) (Python round)."""
    return max(4, int(round(c * w)))


# ---------------------------------------------------------------------------------------
# Width-scaled copies of torchvision's Inception v3 and timm's legacy Xception
# ---------------------------------------------------------------------------------------
class InceptionA(nn.Module):
    def __init__(self, cin, pool_features, s):
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, s(64), kernel_size=1)
        self.branch5x5_1 = BasicConv2d(cin, s(48), kernel_size=1)
        self.branch5x5_2 = BasicConv2d(s(48), s(64), kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, s(64), kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(s(64), s(96), kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(s(96), s(96), kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(cin, pool_features, kernel_size=1)
        self.out = s(64) + s(64) + s(96) + pool_features

    def forward(self, x):
        b1 = self.branch1x1(x)
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1))
        return torch.cat([b1, b5, b3, bp], 1)


class InceptionB(nn.Module):
    def __init__(self, cin, s):
        super().__init__()
        self.branch3x3 = BasicConv2d(cin, s(384), kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, s(64), kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(s(64), s(96), kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(s(96), s(96), kernel_size=3, stride=2)
        self.out = s(384) + s(96) + cin

    def forward(self, x):
        b3 = self.branch3x3(x)
        bd = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([b3, bd, F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class InceptionC(nn.Module):
    def __init__(self, cin, c7, s):
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, s(192), kernel_size=1)
        self.branch7x7_1 = BasicConv2d(cin, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, s(192), kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(cin, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, s(192), kernel_size=(1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(cin, s(192), kernel_size=1)
        self.out = 4 * s(192)

    def forward(self, x):
        b1 = self.branch1x1(x)
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        bd = self.branch7x7dbl_1(x)
        for m in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            bd = m(bd)
        bp = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1))
        return torch.cat([b1, b7, bd, bp], 1)


class InceptionD(nn.Module):
    def __init__(self, cin, s):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(cin, s(192), kernel_size=1)
        self.branch3x3_2 = BasicConv2d(s(192), s(320), kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(cin, s(192), kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(s(192), s(192), kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(s(192), s(192), kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(s(192), s(192), kernel_size=3, stride=2)
        self.out = s(320) + s(192) + cin

    def forward(self, x):
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_1(x)
        for m in (self.branch7x7x3_2, self.branch7x7x3_3, self.branch7x7x3_4):
            b7 = m(b7)
        return torch.cat([b3, b7, F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class InceptionE(nn.Module):
    def __init__(self, cin, s):
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, s(320), kernel_size=1)
        self.branch3x3_1 = BasicConv2d(cin, s(384), kernel_size=1)
        self.branch3x3_2a = BasicConv2d(s(384), s(384), kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(s(384), s(384), kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(cin, s(448), kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(s(448), s(384), kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(s(384), s(384), kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(s(384), s(384), kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(cin, s(192), kernel_size=1)
        self.out = s(320) + 4 * s(384) + s(192)

    def forward(self, x):
        b1 = self.branch1x1(x)
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        bd = torch.cat([self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd)], 1)
        bp = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1))
        return torch.cat([b1, b3, bd, bp], 1)


class Inception3W(nn.Module):
    """torchvision's Inception3 (aux_logits=False) with every width scaled by `width`."""

    def __init__(self, width=1.0, num_classes=1000, transform_input=False):
        super().__init__()
        s = lambda c: scaled(c, width)  # noqa: E731
        self.transform_input = transform_input
        self.Conv2d_1a_3x3 = BasicConv2d(3, s(32), kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(s(32), s(32), kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(s(32), s(64), kernel_size=3, padding=1)
        self.maxpool1 = nn.MaxPool2d(kernel_size=3, stride=2)
        self.Conv2d_3b_1x1 = BasicConv2d(s(64), s(80), kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(s(80), s(192), kernel_size=3)
        self.maxpool2 = nn.MaxPool2d(kernel_size=3, stride=2)
        self.Mixed_5b = InceptionA(s(192), s(32), s)
        self.Mixed_5c = InceptionA(self.Mixed_5b.out, s(64), s)
        self.Mixed_5d = InceptionA(self.Mixed_5c.out, s(64), s)
        self.Mixed_6a = InceptionB(self.Mixed_5d.out, s)
        self.Mixed_6b = InceptionC(self.Mixed_6a.out, s(128), s)
        self.Mixed_6c = InceptionC(self.Mixed_6b.out, s(160), s)
        self.Mixed_6d = InceptionC(self.Mixed_6c.out, s(160), s)
        self.Mixed_6e = InceptionC(self.Mixed_6d.out, s(192), s)
        self.Mixed_7a = InceptionD(self.Mixed_6e.out, s)
        self.Mixed_7b = InceptionE(self.Mixed_7a.out, s)
        self.Mixed_7c = InceptionE(self.Mixed_7b.out, s)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(self.Mixed_7c.out, num_classes)

    def forward(self, x):
        if self.transform_input:
            x = torch.cat([
                torch.unsqueeze(x[:, 0], 1) * (0.229 / 0.5) + (0.485 - 0.5) / 0.5,
                torch.unsqueeze(x[:, 1], 1) * (0.224 / 0.5) + (0.456 - 0.5) / 0.5,
                torch.unsqueeze(x[:, 2], 1) * (0.225 / 0.5) + (0.406 - 0.5) / 0.5,
            ], 1)
        for m in (self.Conv2d_1a_3x3, self.Conv2d_2a_3x3, self.Conv2d_2b_3x3, self.maxpool1,
                  self.Conv2d_3b_1x1, self.Conv2d_4a_3x3, self.maxpool2, self.Mixed_5b,
                  self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b, self.Mixed_6c,
                  self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b, self.Mixed_7c):
            x = m(x)
        return self.fc(torch.flatten(self.avgpool(x), 1))


class XceptionW(nn.Module):
    """timm's legacy Xception with every width scaled by `width` (timm's Block and
    SeparableConv2d, the same module names)."""

    def __init__(self, width=1.0, num_classes=1000):
        super().__init__()
        s = lambda c: scaled(c, width)  # noqa: E731
        self.conv1 = nn.Conv2d(3, s(32), 3, 2, 0, bias=False)
        self.bn1 = nn.BatchNorm2d(s(32))
        self.act1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(s(32), s(64), 3, bias=False)
        self.bn2 = nn.BatchNorm2d(s(64))
        self.act2 = nn.ReLU(inplace=True)
        self.block1 = XBlock(s(64), s(128), 2, 2, start_with_relu=False)
        self.block2 = XBlock(s(128), s(256), 2, 2)
        self.block3 = XBlock(s(256), s(728), 2, 2)
        for i in range(4, 12):
            setattr(self, f"block{i}", XBlock(s(728), s(728), 3, 1))
        self.block12 = XBlock(s(728), s(1024), 2, 2, grow_first=False)
        self.conv3 = XSep(s(1024), s(1536), 3, 1, 1)
        self.bn3 = nn.BatchNorm2d(s(1536))
        self.act3 = nn.ReLU(inplace=True)
        self.conv4 = XSep(s(1536), s(2048), 3, 1, 1)
        self.bn4 = nn.BatchNorm2d(s(2048))
        self.act4 = nn.ReLU(inplace=True)
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(s(2048), num_classes)

    def forward(self, x):
        x = self.act2(self.bn2(self.conv2(self.act1(self.bn1(self.conv1(x))))))
        for i in range(1, 13):
            x = getattr(self, f"block{i}")(x)
        x = self.act3(self.bn3(self.conv3(x)))
        x = self.act4(self.bn4(self.conv4(x)))
        return self.fc(torch.flatten(self.global_pool(x), 1))


class InceptionConv(nn.Module):
    """The seed's "Inception convolution" (IC-Conv, Liu et al. 2020): parallel k x k
    convolutions, each with its own (dh, dw) dilation and size-keeping padding, + BN + ReLU,
    concatenated."""

    def __init__(self, cin, branches, k=3):
        super().__init__()
        self.branches = nn.ModuleList()
        for out, (dh, dw) in branches:
            m = nn.Module()
            m.conv = nn.Conv2d(cin, out, k, padding=((k - 1) // 2 * dh, (k - 1) // 2 * dw),
                               dilation=(dh, dw), bias=False)
            m.bn = nn.BatchNorm2d(out)
            self.branches.append(m)

    def forward(self, x):
        return torch.cat([F.relu(b.bn(b.conv(x))) for b in self.branches], 1)


IC_BRANCHES = [(8, (1, 1)), (8, (1, 2)), (8, (2, 1)), (8, (2, 2)), (8, (3, 3))]


# ---------------------------------------------------------------------------------------
# Checks of the copies against torchvision / timm at width 1
# ---------------------------------------------------------------------------------------
def listing(model):
    return {k: list(v.shape) for k, v in model.state_dict().items() if v.is_floating_point()}


def check_copy(ours, theirs, size):
    a, b = listing(ours), listing(theirs)
    assert a == b, sorted(set(a.items()) ^ set(b.items()))[:10]
    ours.load_state_dict(theirs.state_dict())
    ours.eval(), theirs.eval()
    x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        d = (ours(x) - theirs(x)).abs().max().item()
    assert d == 0.0, d


# ---------------------------------------------------------------------------------------
# Counting and reference generation
# ---------------------------------------------------------------------------------------
def count(model, size, channels=3):
    """PyTorch parameter count and Conv2d + Linear multiply-accumulates at batch 1."""
    macs = [0]

    def hook(m, inp, out):
        if isinstance(m, nn.Conv2d):
            kh, kw = m.kernel_size
            macs[0] += out.numel() * (m.in_channels // m.groups) * kh * kw
        elif isinstance(m, nn.Linear):
            macs[0] += m.in_features * m.out_features

    hs = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, channels, size, size))
    for h in hs:
        h.remove()
    return sum(p.numel() for p in model.parameters()), macs[0]


def synth_images(n, h, w, c, seed):
    """Smooth random images in [-1, 1]: a few oriented sinusoids per channel plus noise
    (bfmd's generator; the shared set's `synth_images` is not available here)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    out = np.zeros((n, h, w, c), np.float32)
    for i in range(n):
        for ch in range(c):
            img = np.zeros((h, w))
            for _ in range(4):
                fx, fy = rng.uniform(-0.3, 0.3, 2)
                img += rng.uniform(0.2, 0.6) * np.sin(fx * xx + fy * yy + rng.uniform(0, 6.3))
            img += 0.15 * rng.standard_normal((h, w))
            out[i, :, :, ch] = np.clip(img, -1.0, 1.0)
    return out


def randomize_and_calibrate(model, size, channels=3):
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.weight.copy_(torch.rand(m.num_features, generator=g) * 1.0 + 0.5)
                m.bias.copy_(torch.rand(m.num_features, generator=g) * 0.4 - 0.2)
            m.reset_running_stats()
            m.momentum = None
    model.train()
    with torch.no_grad():
        for b in range(8):
            x = synth_images(8, size, size, channels, 2000 + b)
            model(torch.from_numpy(x).permute(0, 3, 1, 2).contiguous())
    model.eval()


def write_reference(dest, name, builder, model, size, channels=3, kind="logits"):
    d = dest / name
    d.mkdir(parents=True, exist_ok=True)
    sd = {k: v.detach().contiguous() for k, v in model.state_dict().items() if v.is_floating_point()}
    save_file(sd, str(d / f"{name}.safetensors"), metadata={"model": name, "builder": builder})
    leaf = {k: {"type": "BatchNorm2d", "eps": m.eps}
            for k, m in model.named_modules() if isinstance(m, nn.BatchNorm2d)}
    (d / f"{name}.tensors.json").write_text(json.dumps({"leaf_modules": leaf}, indent=1) + "\n")
    argmax, floor = [], []
    out_shape = None
    for i in range(4):
        x = synth_images(1, size, size, channels, 1000 + i)
        (d / f"input_{i}.nhwc.f32").write_bytes(x.astype("<f4").tobytes())
        xt = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()
        with torch.no_grad():
            y = model(xt)
            y64 = model.double()(xt.double())
            model.float()
        floor.append((y.double() - y64).abs().max().item())
        if y.dim() == 4:
            y = y.permute(0, 2, 3, 1)
        out_shape = list(y.shape)
        (d / f"output_{i}.f32").write_bytes(y.numpy().astype("<f4").tobytes())
        argmax.append(int(y.flatten().argmax()) if kind == "logits" else None)
    params, macs = count(model, size, channels)
    manifest = {
        "model": name,
        "builder": builder,
        "kind": kind,
        "input_shape_nhwc": [1, size, size, channels],
        "output_shape": out_shape,
        "inputs_kept": [0, 1, 2, 3],
        "input_seeds": [1000, 1001, 1002, 1003],
        "argmax": argmax,
        "f32_vs_f64_max_abs_diff": floor,
        "params": params,
        "macs": macs,
        "macs_note": "Conv2d + Linear multiply-accumulates for batch 1",
        "versions": VERSIONS,
        "source": "tests/data/torch/make_reference.py",
    }
    (d / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(name, params, macs)


def standard(shared):
    sys.path.insert(0, str(shared))
    import seed_blocks as sb  # noqa: E402

    tv = torchvision.models
    entries = {
        "mobilenet_v1": ("seed_blocks.MobileNetV1(1.0, 1000)", lambda: sb.MobileNetV1(1.0, 1000), 224),
        "mobilenet_v2": ("torchvision mobilenet_v2()", lambda: tv.mobilenet_v2(), 224),
        "mobilenet_v3_small": ("torchvision mobilenet_v3_small()", lambda: tv.mobilenet_v3_small(), 224),
        "mobilenet_v3_large": ("torchvision mobilenet_v3_large()", lambda: tv.mobilenet_v3_large(), 224),
        "mobilenext": ("seed_blocks.MobileNeXt(1000, 1.0)", lambda: sb.MobileNeXt(1000, 1.0), 224),
        "shufflenet_v1_g1": ("seed_blocks.ShuffleNetV1(groups=1)", lambda: sb.ShuffleNetV1(num_classes=1000, groups=1), 224),
        "shufflenet_v1_g2": ("seed_blocks.ShuffleNetV1(groups=2)", lambda: sb.ShuffleNetV1(num_classes=1000, groups=2), 224),
        "shufflenet_v1_g3": ("seed_blocks.ShuffleNetV1(groups=3)", lambda: sb.ShuffleNetV1(num_classes=1000, groups=3), 224),
        "shufflenet_v1_g4": ("seed_blocks.ShuffleNetV1(groups=4)", lambda: sb.ShuffleNetV1(num_classes=1000, groups=4), 224),
        "shufflenet_v1_g8": ("seed_blocks.ShuffleNetV1(groups=8)", lambda: sb.ShuffleNetV1(num_classes=1000, groups=8), 224),
        "shufflenet_v2_x0_5": ("torchvision shufflenet_v2_x0_5()", lambda: tv.shufflenet_v2_x0_5(), 224),
        "shufflenet_v2_x1_0": ("torchvision shufflenet_v2_x1_0()", lambda: tv.shufflenet_v2_x1_0(), 224),
        "shufflenet_v2_x1_5": ("torchvision shufflenet_v2_x1_5()", lambda: tv.shufflenet_v2_x1_5(), 224),
        "shufflenet_v2_x2_0": ("torchvision shufflenet_v2_x2_0()", lambda: tv.shufflenet_v2_x2_0(), 224),
        "googlenet": ("torchvision googlenet(aux_logits=False, init_weights=False)",
                      lambda: tv.googlenet(aux_logits=False, init_weights=False), 224),
        "googlenet_seed": ("seed_blocks.GoogLeNetSeed(1000, 1.0)", lambda: sb.GoogLeNetSeed(1000, 1.0), 224),
        "inception_v3": ("torchvision inception_v3(aux_logits=False, init_weights=False)",
                         lambda: tv.inception_v3(aux_logits=False, init_weights=False), 299),
        "xception": ("timm legacy_xception", lambda: timm.create_model("legacy_xception"), 299),
        "efficientnet_b0": ("torchvision efficientnet_b0()", lambda: tv.efficientnet_b0(), 224),
        "efficientnet_lite0": ("timm efficientnet_lite0", lambda: timm.create_model("efficientnet_lite0"), 224),
        "blazeface": ("seed_blocks.BlazeFaceBackbone()", lambda: sb.BlazeFaceBackbone(), 128),
    }
    out = {}
    for name, (builder, make, size) in entries.items():
        torch.manual_seed(0)
        m = make()
        params, macs = count(m, size)
        out[name] = {
            "builder": builder,
            "resolution": size,
            "params": params,
            "macs": macs,
            "tensors": [f"{k}:{'x'.join(map(str, v))}" for k, v in listing(m).items()],
        }
        print(name, params, macs)
    return out


def main():
    shared = Path(sys.argv[1])
    dest = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(__file__).parent
    torch.set_num_threads(2)
    check_copy(Inception3W(1.0), torchvision.models.inception_v3(aux_logits=False, init_weights=False), 299)
    check_copy(XceptionW(1.0), timm.create_model("legacy_xception"), 299)
    print("width-1 copies match torchvision and timm")

    torch.manual_seed(0)
    m = Inception3W(0.125, num_classes=10, transform_input=True)
    randomize_and_calibrate(m, 96)
    write_reference(dest, "inception_v3_w0125", "Inception3W(width=0.125, num_classes=10, transform_input=True)", m, 96)

    torch.manual_seed(0)
    m = XceptionW(0.125, num_classes=10)
    randomize_and_calibrate(m, 96)
    write_reference(dest, "xception_w0125", "XceptionW(width=0.125, num_classes=10)", m, 96)

    torch.manual_seed(0)
    m = InceptionConv(16, IC_BRANCHES)
    randomize_and_calibrate(m, 12, channels=16)
    write_reference(dest, "block_inception_conv", f"InceptionConv(16, {IC_BRANCHES})", m, 12,
                    channels=16, kind="features")

    st = standard(shared)
    (dest / "standard.json").write_text(json.dumps({"versions": VERSIONS, "models": st}, indent=0) + "\n")


if __name__ == "__main__":
    main()
