"""The networks shipped with lecnn (lecnn/models/weights): each loads with its checksum, a damaged
one is refused in one line; each makes on the full MNIST test set exactly the misses its
provenance states; manual and autograd predict the same from the same weights; ``lecnn predict``
with no run reads the committed sample digits."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

import lecnn.models.shipped as shipped_module
from lecnn.cli import main
from lecnn.data import load_mnist
from lecnn.models import build, get_spec, pretrained
from lecnn.models.shipped import FOLDER, default_name, load_weights, shipped
from lecnn.training.config import TrainConfig

SHIPPED = shipped()
DIGITS = Path(__file__).resolve().parent / "fixtures" / "digits"


def test_lecnn_ships_trained_networks_with_their_provenance():
    assert SHIPPED and default_name() in SHIPPED
    for entry in SHIPPED.values():
        assert len(entry.sha256) == 64 and len(entry.commit) == 40
        assert entry.command.startswith("OMP_NUM_THREADS=1 lecnn reproduce")
        assert "median" in entry.seed_choice and 0 < entry.test_error < 0.1


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_every_shipped_file_loads_with_its_checksum_and_fits_its_model(name):
    entry, state = load_weights(name)
    assert set(state) == set(build(entry.model, "autograd").state_dict())
    assert all(v.dtype == torch.float32 for v in state.values())


def test_a_damaged_shipped_file_is_refused_in_one_line(tmp_path, monkeypatch, capsys):
    copy = tmp_path / "weights"
    shutil.copytree(FOLDER, copy)
    name = default_name()
    path = copy / SHIPPED[name].file
    body = bytearray(path.read_bytes())
    body[len(body) // 2] ^= 0xFF  # one flipped byte in the middle of the weights
    path.write_bytes(bytes(body))
    monkeypatch.setattr(shipped_module, "FOLDER", copy)
    image = str(next(DIGITS.glob("*.png")))
    assert main(["predict", "--weights", name, image]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "damaged" in err[0] and "reinstall lecnn" in err[0], err


@pytest.mark.parametrize("impl", ["manual", "autograd"])
@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_each_shipped_network_makes_the_misses_its_provenance_states(name, impl, mnist_dir,
                                                                      capsys):  # fmt: skip
    entry = SHIPPED[name]
    assert main(["evaluate", "--weights", name, "--impl", impl, "--data-dir", str(mnist_dir),
                 "--device", "cpu"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert f"({entry.test_misses} misses)" in out.splitlines()[0], out
    assert f"on {entry.test_digits:,} test digits" in out


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_manual_and_autograd_predict_the_same_from_the_same_weights(name, mnist_dir):
    entry = SHIPPED[name]
    data = TrainConfig(model=entry.model).prepare(load_mnist(mnist_dir), torch.device("cpu"),
                                                  torch.float32)  # fmt: skip
    x = data.test.x[:1000]
    manual, twin = pretrained(name, impl="manual"), pretrained(name, impl="autograd")
    with torch.no_grad():
        a, b = manual.forward(x), twin(x)
    pick = torch.argmin if get_spec(entry.model).predict_min else torch.argmax
    assert torch.equal(pick(a, 1), pick(b, 1))
    assert (a - b).abs().max() <= 1e-4 * b.abs().max()


def test_predict_with_no_run_reads_the_committed_sample_digits(capsys):
    expected = json.loads((DIGITS / "digits.json").read_text())
    files = [str(DIGITS / name) for name in expected]
    assert main(["predict", *files, "--device", "cpu"]) == 0
    got = {Path(line.split(":")[0]).name: int(line.split()[1])
           for line in capsys.readouterr().out.splitlines()}  # fmt: skip
    assert got == expected


def test_predict_refuses_a_run_and_weights_together_and_an_unknown_name(tmp_path, capsys):
    image = str(next(DIGITS.glob("*.png")))
    assert main(["predict", "--weights", "no-such-net", image]) == 2
    assert main(["predict", str(tmp_path), image, "--weights", default_name()]) == 2
    err = capsys.readouterr().err
    assert "no shipped weights 'no-such-net'" in err and "not both" in err


def test_the_commands_page_lists_every_shipped_network_with_its_figures():
    page = (Path(__file__).resolve().parent.parent / "docs" / "commands.md").read_text()
    for entry in SHIPPED.values():
        row = next(line for line in page.splitlines() if line.startswith(f"| `{entry.name}`"))
        assert (
            f"{100 * entry.test_error:.2f}% ({entry.test_misses} of {entry.test_digits:,})" in row
        )
        assert f"seed {entry.seed}" in row and entry.commit[:7] in row
