import pytest
import torch

import specops
from specops import FNO, TFNO


def test_save_load_identical_outputs_and_metadata(tmp_path):
    model = TFNO(
        (8, 8), 2, 3, 16, 2, spectral={"factorization": "cp", "rank": 0.2}, block={"norm": "instance"}
    )
    path = specops.save(model, tmp_path / "m.pt", extra={"note": "hello", "stats": torch.ones(3)})
    payload = torch.load(path, weights_only=True)
    assert payload["model"]["name"] == "tfno" and payload["format_version"] == 2
    assert payload["model"]["kwargs"]["spectral"] == {"factorization": "cp", "rank": 0.2}
    assert payload["specops_version"] == specops.__version__
    assert payload["extra"]["note"] == "hello"
    again = specops.load(path)
    x = torch.randn(2, 2, 16, 16)
    assert torch.equal(again(x), model(x))


def test_grown_modes_survive_a_round_trip(tmp_path):
    model = FNO((4, 4), 1, 1, 8, 2)
    model.n_modes = (8, 8)
    with torch.no_grad():
        for block in model.blocks:
            block.conv.weight.weight.normal_()
    model.n_modes = (6, 6)
    again = specops.load(specops.save(model, tmp_path / "grown.pt"))
    assert again.n_modes == (6, 6)
    assert again.blocks[0].conv.max_n_modes == (8, 8)
    x = torch.randn(1, 1, 16, 16)
    assert torch.equal(again(x), model(x))


def test_truncated_and_foreign_files_give_clear_errors(tmp_path):
    path = specops.save(FNO((4,), 1, 1, 4, 1), tmp_path / "m.pt")
    data = path.read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"cut\.pt is not a readable specops model file"):
        specops.load(tmp_path / "cut.pt")
    torch.save({"weights": torch.ones(2)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a specops model file"):
        specops.load(tmp_path / "other.pt")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        specops.load(tmp_path / "missing.pt")


def test_failed_write_keeps_the_previous_file(tmp_path, monkeypatch):
    model = FNO((4,), 1, 1, 4, 1)
    path = specops.save(model, tmp_path / "m.pt")
    before = path.read_bytes()

    def broken(obj, f, *a, **k):
        f.write(b"partial")
        try:
            raise OSError(28, "No space left on device")
        except OSError:  # torch's zip writer reports a failed write of its file object like this
            raise RuntimeError(
                "[enforce fail at inline_container.cc:672] . unexpected pos 576 vs 534"
            ) from None

    monkeypatch.setattr(torch, "save", broken)
    with pytest.raises(OSError, match=r"no space left.*intact"):
        specops.save(FNO((4,), 1, 1, 4, 2), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]


def test_unsaveable_constructor_argument_is_reported(tmp_path):
    model = FNO((4,), 1, 1, 4, 1)
    model.init_args["activation"] = torch.nn.GELU()
    with pytest.raises(TypeError, match="cannot be saved"):
        specops.save(model, tmp_path / "m.pt")


def test_newer_format_is_refused(tmp_path):
    path = specops.save(FNO((4,), 1, 1, 4, 1), tmp_path / "m.pt")
    payload = torch.load(path, weights_only=True)
    payload["format_version"] = 99
    torch.save(payload, path)
    with pytest.raises(ValueError, match="upgrade specops"):
        specops.load(path)


def test_a_file_describing_a_huge_model_is_refused_before_allocating_it(tmp_path, monkeypatch):
    path = specops.save(FNO((4,), 1, 1, 4, 1), tmp_path / "m.pt")
    payload = torch.load(path, weights_only=True)
    payload["model"]["kwargs"]["hidden_channels"] = 200_000  # ~1e11 weights if built for real
    torch.save(payload, path)
    built = []
    real_create = specops.MODELS.create

    def create(name, **kwargs):
        built.append(torch.empty(0).device.type)  # the default device when the model is built
        return real_create(name, **kwargs)

    monkeypatch.setattr(specops.MODELS, "create", create)
    with pytest.raises(ValueError, match=r"weights do not fit the model.*has shape .*re-save"):
        specops.load(path)
    assert built == ["meta"]  # only the memory-free skeleton was built


def test_damaged_model_arguments_are_reported(tmp_path):
    path = specops.save(FNO((4,), 1, 1, 4, 1), tmp_path / "m.pt")
    payload = torch.load(path, weights_only=True)
    payload["model"]["kwargs"]["hidden_channels"] = -3
    torch.save(payload, path)
    with pytest.raises(ValueError, match=r"m\.pt: cannot rebuild model 'fno' from its stored arguments"):
        specops.load(path)
