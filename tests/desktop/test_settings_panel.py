"""The settings panel is built from ATCConfig: every parameter, its range, inline
validation, restore defaults; and the app's own settings persist."""
from __future__ import annotations

import dataclasses
from typing import Any

from atc_desktop.app_settings import AppSettings, SettingsFile
from atc_desktop.settings.panel import SettingsPanel, validate_config
from core.config import ATCConfig, describe_field


def make_panel(qtbot: Any, settings: AppSettings | None = None) -> SettingsPanel:
    panel = SettingsPanel(settings or AppSettings(), ["cuda", "rust", "numba", "numpy"], ["1d", "1h"])
    qtbot.addWidget(panel)
    return panel


def test_every_parameter_has_an_editor_with_its_range(qtbot: Any) -> None:
    panel = make_panel(qtbot)
    fields = dataclasses.fields(ATCConfig)
    assert set(panel.editors) == {f.name for f in fields}
    for f in fields:
        ed = panel.editor(f.name)
        assert ed.range_label.text() == describe_field(f)
        assert f.metadata.get("help", "") in ed.widget.toolTip()


def test_invalid_values_are_explained_inline_and_not_applied(qtbot: Any) -> None:
    panel = make_panel(qtbot)
    emitted: list[AppSettings] = []
    panel.settings_changed.connect(emitted.append)
    panel.editor("La").widget.setText("0.9")
    panel.editor("ema_len").widget.setText("abc")
    panel.apply_now()
    errors = panel.errors()
    assert set(errors) == {"La", "ema_len"}
    assert "0.005" in errors["La"] and "0.5" in errors["La"]
    assert "not a number" in errors["ema_len"]
    assert panel.editor("La").error_label.isVisibleTo(panel)
    assert emitted == [] and panel.settings().config == ATCConfig()
    assert "invalid" in panel.status.text()
    panel.editor("La").widget.setText("0.05")
    panel.editor("ema_len").widget.setText("30")
    panel.apply_now()
    assert panel.errors() == {}
    assert emitted and emitted[-1].config == ATCConfig(La=0.05, ema_len=30)


def test_a_cross_field_rule_names_its_field(qtbot: Any) -> None:
    panel = make_panel(qtbot, AppSettings(config=ATCConfig(robustness="Narrow", ema_len=5)))
    panel.editor("robustness").widget.setCurrentText("Wide")
    panel.apply_now()
    assert set(panel.errors()) == {"ema_len"}
    assert "Wide" in panel.errors()["ema_len"]
    assert panel.settings().config.robustness == "Narrow"


def test_validate_config_keeps_checking_after_the_first_error() -> None:
    raw = {f.name: getattr(ATCConfig(), f.name) for f in dataclasses.fields(ATCConfig)}
    raw.update(La="7", De="-1", cut_threshold="x")
    cfg, errors = validate_config(raw, ATCConfig())
    assert cfg == ATCConfig() and set(errors) == {"La", "De", "cut_threshold"}


def test_restore_defaults(qtbot: Any) -> None:
    panel = make_panel(qtbot, AppSettings(config=ATCConfig(La=0.1, strategy=True, hma_kind="hull")))
    with qtbot.waitSignal(panel.settings_changed) as sig:
        panel.restore_defaults()
    assert sig.args[0].config == ATCConfig()
    assert panel.editor("La").raw() == "0.02" and panel.editor("strategy").raw() is False


def test_edits_apply_after_a_pause(qtbot: Any) -> None:
    panel = make_panel(qtbot)
    with qtbot.waitSignal(panel.settings_changed, timeout=3000) as sig:
        panel.editor("De").widget.setText("0.05")
        panel.editor("De").edited.emit()       # what typing emits
        panel.editor("strategy").widget.setChecked(True)
        panel.editor("hma_kind").widget.setCurrentText("hull")
        panel.refresh.setValue(30)
    new = sig.args[0]
    assert new.config == ATCConfig(De=0.05, strategy=True, hma_kind="hull")
    assert new.refresh_seconds == 30


def test_app_settings_round_trip_and_bad_entries(tmp_path: Any) -> None:
    f = SettingsFile(tmp_path / "settings.json")
    s = AppSettings(config=ATCConfig(La=0.1), source="synthetic", interval="1h", refresh_seconds=9,
                    backend="numba", theme="light", history_bars=2000)
    f.save(s)
    assert f.load() == s
    data = s.to_dict()
    data["config"]["La"] = 99.0
    data["refresh_seconds"] = "fast"
    data["theme"] = "pink"
    import json
    (tmp_path / "settings.json").write_text(json.dumps(data))
    loaded = f.load()
    assert loaded.config == ATCConfig() and loaded.refresh_seconds == 5 and loaded.theme == "dark"
    assert loaded.source == "synthetic" and loaded.history_bars == 2000
