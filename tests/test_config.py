"""Tests of helpers.config: the mode switch, seeding, folders and unique names."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from helpers import config


def test_the_shipped_data_is_found_wherever_the_package_is_imported_from():
    assert (config.ROOT / "pyproject.toml").is_file()  # the repository, also when helpers is installed
    assert len(list(config.DATA_DIR.glob("*.mid"))) == 40  # the default dataset (data/README.md)


def test_mode_defaults_to_fast(monkeypatch):
    monkeypatch.delenv(config.MODE_VARIABLE, raising=False)
    assert config.mode() == "fast"
    assert not config.is_full()
    assert config.pick(3, 30) == 3


@pytest.mark.parametrize("value", ["full", "FULL", " Full "])
def test_full_mode_is_read_in_any_case(monkeypatch, value):
    monkeypatch.setenv(config.MODE_VARIABLE, value)
    assert config.mode() == "full"
    assert config.pick(3, 30) == 30


def test_empty_mode_means_fast(monkeypatch):
    monkeypatch.setenv(config.MODE_VARIABLE, "")
    assert config.mode() == "fast"


def test_unknown_mode_is_an_error(monkeypatch):
    monkeypatch.setenv(config.MODE_VARIABLE, "turbo")
    with pytest.raises(ValueError, match="turbo"):
        config.mode()


def test_set_seed_makes_python_and_numpy_repeat():
    config.set_seed(7)
    first = (random.random(), np.random.rand())
    config.set_seed(7)
    assert (random.random(), np.random.rand()) == first
    config.set_seed(8)
    assert (random.random(), np.random.rand()) != first


def test_ensure_dir_creates_nested_folders(tmp_path):
    target = tmp_path / "a" / "b" / "c"
    assert config.ensure_dir(target) == target
    assert target.is_dir()
    assert config.ensure_dir(target) == target  # existing: no error


def test_unique_path_numbers_files_and_never_reuses_a_name(tmp_path):
    first = config.unique_path(tmp_path / "gen", "gru", ".mid")
    second = config.unique_path(tmp_path / "gen", "gru", ".mid")
    assert (first.name, second.name) == ("gru-001.mid", "gru-002.mid")
    assert first.exists() and second.exists()  # names are claimed at once


def test_unique_path_continues_after_the_highest_number(tmp_path):
    (tmp_path / "gru-007.mid").touch()
    (tmp_path / "lstm-010.mid").touch()  # another stem does not count
    assert config.unique_path(tmp_path, "gru", ".mid").name == "gru-008.mid"


def test_unique_path_without_suffix_makes_a_folder(tmp_path):
    run = config.unique_path(tmp_path, "gru")
    assert run.name == "gru-001" and run.is_dir()
    assert config.unique_path(tmp_path, "gru").name == "gru-002"


def test_relative_hides_absolute_paths(tmp_path):
    assert config.relative(config.ROOT / "data" / "midi") == "data/midi"
    assert config.relative(tmp_path / "elsewhere.mid") == "elsewhere.mid"


def test_outputs_folder_defaults_to_the_repository(monkeypatch):
    monkeypatch.delenv(config.OUTPUTS_VARIABLE, raising=False)
    assert config.outputs_dir() == config.ROOT / "outputs"
    monkeypatch.setenv(config.OUTPUTS_VARIABLE, "  ")
    assert config.outputs_dir() == config.ROOT / "outputs"


def test_outputs_folder_follows_the_environment_variable(monkeypatch, tmp_path):
    monkeypatch.setenv(config.OUTPUTS_VARIABLE, str(tmp_path / "elsewhere"))
    assert config.outputs_dir() == tmp_path / "elsewhere"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(config.OUTPUTS_VARIABLE, "relative")
    assert config.outputs_dir() == tmp_path / "relative"


def test_every_output_folder_hangs_below_the_override(tmp_path):
    # A fresh interpreter: the folders are fixed when helpers.config is imported.
    import os
    import subprocess
    import sys

    code = ("from helpers import config; "
            "print(config.OUTPUTS_DIR, config.RUNS_DIR, config.GENERATED_DIR, config.FIGURES_DIR)")
    env = {**os.environ, config.OUTPUTS_VARIABLE: str(tmp_path)}
    printed = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    folders = [Path(p) for p in printed.split()]
    assert folders[0] == tmp_path
    assert all(folder.parent == tmp_path for folder in folders[1:])
