"""torchvision backbones adapted to 1-channel log-mel input.

`pretrained=True` loads the ImageNet weights through the torchvision weights API (cached in $TORCH_HOME).
When they cannot be had (no network), the model stays randomly initialised and `pretrained_status`
says what happened and how to fix it; training goes on and records that status in the run metadata.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch
from torch import nn

from babycry_core.models.base import LogMelNet
from babycry_core.models.spec import ModelSpec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Adapt:
    tv_name: str  # torchvision builder name
    first_conv: str  # dotted path of the 3-channel stem conv
    classifier: str  # attribute replaced by Identity; its input size is the feature size
    cam_layer: str  # last conv block, relative to the backbone


_VISION = {
    "resnet18": _Adapt("resnet18", "conv1", "fc", "layer4"),
    "resnet50": _Adapt("resnet50", "conv1", "fc", "layer4"),
    "mobilenet_v3": _Adapt("mobilenet_v3_small", "features.0.0", "classifier", "features.12"),
    "efficientnet_b0": _Adapt("efficientnet_b0", "features.0.0", "classifier", "features.8"),
}


def weights_help(tv_name: str) -> str:
    """Where torchvision looks for cached weights, so a user can place the file by hand."""
    import torchvision

    weights = torchvision.models.get_model_weights(tv_name).DEFAULT
    hub = torch.hub.get_dir()
    return (f"connect to the internet once, or copy {weights.url.rsplit('/', 1)[-1]} "
            f"into {os.path.join(hub, 'checkpoints')} (set TORCH_HOME to use another cache folder)")


def load_imagenet_state(tv_name: str) -> tuple[dict | None, str]:
    """(state_dict or None, status sentence). Never raises for network or file problems."""
    import torchvision

    weights = torchvision.models.get_model_weights(tv_name).DEFAULT
    try:
        return weights.get_state_dict(progress=False, check_hash=False), f"ImageNet weights loaded ({weights})"
    except Exception as e:  # URLError/OSError offline, RuntimeError for a bad file
        msg = (f"ImageNet weights for {tv_name} could not be loaded ({type(e).__name__}: {str(e)[:120]}); "
               f"training starts from random initialisation. To fix: {weights_help(tv_name)}.")
        log.warning(msg)
        return None, msg


def _set_submodule(root: nn.Module, dotted: str, new: nn.Module) -> None:
    parent, _, name = dotted.rpartition(".")
    setattr(root.get_submodule(parent) if parent else root, name, new)


def _one_channel(conv: nn.Conv2d) -> nn.Conv2d:
    """Same conv with 1 input channel; pretrained RGB kernels are summed so the response is kept."""
    new = nn.Conv2d(1, conv.out_channels, conv.kernel_size, conv.stride, conv.padding, bias=conv.bias is not None)
    with torch.no_grad():
        new.weight.copy_(conv.weight.sum(dim=1, keepdim=True))
        if conv.bias is not None:
            new.bias.copy_(conv.bias)
    return new


def build_vision(key: str, n_classes: int, dropout: float = 0.3, pretrained: bool = False, **_) -> LogMelNet:
    import torchvision

    a = _VISION[key]
    net = torchvision.models.get_model(a.tv_name, weights=None)
    status = "not requested (random initialisation)"
    if pretrained:
        state, status = load_imagenet_state(a.tv_name)
        if state is not None:
            net.load_state_dict(state)
    # torchvision's own dropout in the classifier goes with it; ours lives in LogMelNet.head
    feat_dim = _classifier_in_features(net.get_submodule(a.classifier))
    _set_submodule(net, a.classifier, nn.Identity())
    _set_submodule(net, a.first_conv, _one_channel(net.get_submodule(a.first_conv)))
    model = LogMelNet(net, feat_dim, n_classes, dropout, cam_layer=f"backbone.{a.cam_layer}")
    model.pretrained_status = status
    return model


def _classifier_in_features(m: nn.Module) -> int:
    linears = [x for x in m.modules() if isinstance(x, nn.Linear)]
    return linears[0].in_features


_DESCRIPTIONS = {
    "resnet18": "ResNet18 (torchvision), 1-channel log-mel input, 11 M parameters",
    "resnet50": "ResNet50 (torchvision), 1-channel log-mel input, 23.5 M parameters",
    "mobilenet_v3": "MobileNetV3-Small (torchvision), 1-channel log-mel input, 1 M parameters",
    "efficientnet_b0": "EfficientNet-B0 (torchvision), 1-channel log-mel input, 4 M parameters",
}
SPECS = tuple(ModelSpec(key, "torch", lambda n_classes, _k=key, **kw: build_vision(_k, n_classes, **kw), desc)
              for key, desc in _DESCRIPTIONS.items())
