"""Every registry model: builds, takes one real training step, predicts; unknown names list the valid ones."""
import pytest
import torch
import torch.nn.functional as F

from babycry_core.features.config import FeatureConfig
from babycry_core.models import UnknownModelError, build_model, get_spec, model_names

TORCH_MODELS = model_names("torch")


def test_registry_lists_the_cnns():
    assert {"cnn", "resnet18", "resnet50", "mobilenet_v3", "efficientnet_b0"} <= set(TORCH_MODELS)


def test_unknown_name_lists_valid_names():
    with pytest.raises(UnknownModelError) as e:
        build_model("resnet1000", 5)
    assert "resnet18" in str(e.value) and "cnn" in str(e.value)


@pytest.mark.parametrize("name", TORCH_MODELS)
def test_one_training_step_and_prediction(name):
    torch.manual_seed(0)
    cfg = FeatureConfig(clip_seconds=2.0)
    model = build_model(name, 3, dropout=0.2)
    assert any(isinstance(m, torch.nn.Dropout) for m in model.modules())
    x = torch.randn(4, 1, cfg.n_mels, cfg.n_frames)  # (batch, 1, n_mels, frames)
    y = torch.tensor([0, 1, 2, 0])
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    before = [p.detach().clone() for p in model.parameters()]
    model.train()
    loss = F.cross_entropy(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    assert torch.isfinite(loss)
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    model.eval()
    with torch.inference_mode():
        p = model(x[:1]).softmax(1)
        emb = model.embed(x[:1])
    assert p.shape == (1, 3) and torch.allclose(p.sum(), torch.tensor(1.0))
    assert emb.shape == (1, model.feat_dim)
    if name == "yamnet_ft":  # its conv maps are per 0.96 s patch, not one map of the input: occlusion saliency only
        assert not hasattr(model, "cam_module")
    else:
        assert isinstance(model.cam_module(), torch.nn.Module)


def test_pretrained_offline_falls_back_with_a_fix(monkeypatch, tmp_path):
    """No network: random init, and a sentence saying what failed and where to put the weights."""
    import urllib.request

    def offline(*a, **k):
        raise urllib.error.URLError("no network")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    m = build_model("mobilenet_v3", 3, pretrained=True)
    assert "could not be loaded" in m.pretrained_status and "random initialisation" in m.pretrained_status
    assert str(tmp_path / "torch") in m.pretrained_status


def test_pretrained_loads_from_the_local_cache(monkeypatch, tmp_path):
    """The real torchvision weights path, fed by a stand-in file with the same state-dict signature."""
    import torchvision

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    weights = torchvision.models.get_model_weights("mobilenet_v3_small").DEFAULT
    ref = torchvision.models.mobilenet_v3_small(weights=None)
    with torch.no_grad():
        ref.features[0][0].weight.fill_(0.25)
    target = tmp_path / "torch" / "hub" / "checkpoints" / weights.url.rsplit("/", 1)[-1]
    target.parent.mkdir(parents=True)
    torch.save(ref.state_dict(), target)
    m = build_model("mobilenet_v3", 3, pretrained=True)
    assert m.pretrained_status.startswith("ImageNet weights loaded")
    stem = m.backbone.features[0][0].weight
    assert stem.shape[1] == 1 and torch.allclose(stem, torch.full_like(stem, 0.75))  # RGB kernels summed


def test_specs_have_descriptions():
    for n in TORCH_MODELS:
        assert get_spec(n).description
