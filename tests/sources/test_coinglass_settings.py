"""Coinglass settings read once with bounds (one line naming the variable, never the key's
value), the coin of a ticker, and the Prefect task's no-key path."""

from __future__ import annotations

from datetime import date

import pytest

from flows.coinglass import extract_coinglass
from liqbrief.settings import DEFAULT_COINGLASS_EXCHANGES, Settings, SettingsError
from liqbrief.symbols import InvalidSymbolError, coin_of

SECRET = "s3cret-cg-key-value"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("LIQBRIEF_COINGLASS_URL", "ftp://x", "LIQBRIEF_COINGLASS_URL='ftp://x': must be an http(s) URL"),
        ("LIQBRIEF_COINGLASS_EXCHANGES", " , ", "LIQBRIEF_COINGLASS_EXCHANGES=' , ': must be a comma-separated list"),
        ("LIQBRIEF_COINGLASS_EXCHANGES", "Binance,O K X", "('O K X' is not one)"),
        ("LIQBRIEF_COINGLASS_HISTORY_START", "2010-01-01", "use a date (YYYY-MM-DD) from 2015-01-01 to today"),
        ("LIQBRIEF_COINGLASS_HISTORY_START", "2999-01-01", "LIQBRIEF_COINGLASS_HISTORY_START='2999-01-01'"),
        ("LIQBRIEF_COINGLASS_HISTORY_START", "soon", "LIQBRIEF_COINGLASS_HISTORY_START='soon'"),
        ("COINGLASS_API_KEY", f"{SECRET} \n", "COINGLASS_API_KEY=(hidden): must be the key as Coinglass shows it"),
    ],
)  # fmt: skip
def test_a_bad_coinglass_setting_is_one_line_naming_it(monkeypatch, name, value, message) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as error:
        Settings.from_env()
    text = str(error.value)
    assert message in text and "\n" not in text and SECRET not in text


def test_coinglass_defaults_and_overrides(monkeypatch) -> None:
    for name in ("COINGLASS_API_KEY", "LIQBRIEF_COINGLASS_URL", "LIQBRIEF_COINGLASS_EXCHANGES",
                 "LIQBRIEF_COINGLASS_HISTORY_START"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    settings = Settings.from_env()
    assert settings.coinglass_api_key is None
    assert settings.coinglass_url == "https://open-api-v4.coinglass.com"
    assert settings.coinglass_exchanges == DEFAULT_COINGLASS_EXCHANGES
    assert {"Binance", "OKX", "Bybit", "Bitget", "Gate", "HTX", "Hyperliquid", "Bitmex"} <= set(
        settings.coinglass_exchange_list
    )
    assert settings.coinglass_history_start == date(2019, 1, 1)
    monkeypatch.setenv("COINGLASS_API_KEY", SECRET)
    monkeypatch.setenv("LIQBRIEF_COINGLASS_EXCHANGES", " Binance, OKX ,Binance")
    monkeypatch.setenv("LIQBRIEF_COINGLASS_URL", "http://127.0.0.1:9/")
    settings = Settings.from_env()
    assert settings.coinglass_api_key == SECRET and SECRET not in repr(settings)
    assert settings.coinglass_exchanges == "Binance,OKX"  # as Coinglass wants it: no spaces
    assert settings.coinglass_url == "http://127.0.0.1:9"


@pytest.mark.parametrize(
    ("symbol", "coin"),
    [("BTCUSDT", "BTC"), ("ETHUSDC", "ETH"), ("SOLBUSD", "SOL"), ("BTCFDUSD", "BTC"), ("1000PEPEUSDT", "1000PEPE")],
)  # fmt: skip
def test_the_coin_of_a_ticker(symbol: str, coin: str) -> None:
    assert coin_of(symbol) == coin


@pytest.mark.parametrize("symbol", ["BTCEUR", "USDT", "btcusdt", "BTC/USDT"])
def test_a_ticker_without_a_coin_is_refused(symbol: str) -> None:
    with pytest.raises(InvalidSymbolError):
        coin_of(symbol)


def test_the_task_without_a_key_requests_nothing(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("COINGLASS_API_KEY", raising=False)
    monkeypatch.setenv("LIQBRIEF_COINGLASS_URL", "http://127.0.0.1:9")  # nothing listens
    monkeypatch.setenv("LIQBRIEF_LAKE", str(tmp_path / "lake"))
    assert extract_coinglass.fn(["BTCUSDT"]) == {
        "coinglass": "skipped: COINGLASS_API_KEY is not set"
    }
    assert not (tmp_path / "lake").exists()
