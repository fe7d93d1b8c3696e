"""The three liquidation-stream URLs: defaults, overrides, and one line for a bad value."""

from __future__ import annotations

import pytest

from liqbrief.settings import Settings, SettingsError

NAMES = ("LIQBRIEF_BINANCE_WS_URL", "LIQBRIEF_BYBIT_WS_URL", "LIQBRIEF_OKX_WS_URL")


def test_stream_url_defaults_and_overrides(monkeypatch) -> None:
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)
    assert Settings.from_env().stream_urls == {
        "binance": "wss://fstream.binance.com/market/ws/!forceOrder@arr",
        "bybit": "wss://stream.bybit.com/v5/public/linear",
        "okx": "wss://ws.okx.com:8443/ws/v5/public",
    }
    monkeypatch.setenv("LIQBRIEF_BYBIT_WS_URL", "ws://127.0.0.1:9/v5/public/linear")
    assert Settings.from_env().stream_urls["bybit"] == "ws://127.0.0.1:9/v5/public/linear"


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("value", ["https://stream.bybit.com/v5", "wss://", "wss://a b/ws", "x"])
def test_a_bad_stream_url_is_one_line_naming_it(monkeypatch, name, value) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as error:
        Settings.from_env()
    text = str(error.value)
    assert text.startswith(f"{name}={value!r}: must be a ") and "ws" in text
    assert "\n" not in text


def test_the_spool_dir_defaults_beside_a_local_lake_and_must_be_local(monkeypatch, tmp_path):
    from pathlib import Path

    monkeypatch.delenv("LIQBRIEF_SPOOL_DIR", raising=False)
    monkeypatch.setenv("LIQBRIEF_LAKE", str(tmp_path / "data" / "lake"))
    assert Settings.from_env().spool_path == tmp_path / "data" / "recorder-spool"
    monkeypatch.setenv("LIQBRIEF_LAKE", "s3://bucket/lake")
    assert Settings.from_env().spool_path == Path("recorder-spool")
    monkeypatch.setenv("LIQBRIEF_SPOOL_DIR", str(tmp_path / "spool"))
    assert Settings.from_env().require_spool_dir() == tmp_path / "spool"
    assert not (tmp_path / "spool").exists()  # checked, not created
    monkeypatch.setenv("LIQBRIEF_SPOOL_DIR", "s3://bucket/spool")
    with pytest.raises(
        SettingsError, match="LIQBRIEF_SPOOL_DIR='s3://bucket/spool': must be a local"
    ):
        Settings.from_env()
