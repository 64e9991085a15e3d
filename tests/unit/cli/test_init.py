"""`watcher init [DIR]` writes every packaged config, keeps edited copies, and says where."""

from __future__ import annotations

from watcher.cli.main import main
from watcher.config import PACKAGED_CONFIGS, load_config


def test_init_writes_every_config_and_keeps_edits(tmp_path, capsys, monkeypatch):
    assert main(["init", str(tmp_path / "proj")]) == 0
    out = capsys.readouterr().out
    target = tmp_path / "proj" / "configs"
    names = sorted(p.name for p in PACKAGED_CONFIGS.glob("*.toml"))
    assert sorted(p.name for p in target.glob("*.toml")) == names and len(names) == 7
    assert str(target.resolve()) in out
    (target / "poetry.toml").write_text((target / "poetry.toml").read_text().replace("num = ", "num = 7 #", 1))
    assert main(["init", str(tmp_path / "proj")]) == 0
    assert "kept" in capsys.readouterr().out
    monkeypatch.chdir(tmp_path / "proj")
    cfg, path = load_config("poetry")  # the edited copy is what a run in that folder reads
    assert path.resolve() == (target / "poetry.toml").resolve() and cfg.poetry.num == 7


def test_version_flag_prints_the_version(capsys):
    from importlib.metadata import version

    try:
        main(["--version"])
    except SystemExit as e:
        assert e.code == 0
    assert capsys.readouterr().out.strip() == f"watcher {version('watcher')}"
