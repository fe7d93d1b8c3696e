from __future__ import annotations

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from flows.coinglass import coinglass_problem_lines
from liqbrief.cli import app

COMMANDS = sorted(get_command(app).commands)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_subcommand_has_help(command: str) -> None:
    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output
    # a flag takes no value and a date is written as the user types it
    assert "<bool>" not in result.output and "%Y" not in result.output, result.output


@pytest.mark.parametrize("symbol", ["../x", "BTC/USDT"])
def test_path_like_symbols_are_refused_before_anything_runs(symbol: str) -> None:
    result = CliRunner().invoke(
        app, ["extract", "--symbols", symbol, "--start", "2024-01-01", "--end", "2024-01-01"]
    )
    assert result.exit_code == 2
    assert "invalid symbol" in result.output


def test_a_coinglass_problem_is_said_once_with_the_series_it_stopped() -> None:
    outcomes = {
        "BTC/oi_aggregated_1d": "ok: 30 bars",
        "BTC/liquidation_map": "unavailable: not in the Coinglass plan",
        "BTC/liquidations_all_1d": "bad-key: Coinglass refused COINGLASS_API_KEY (HTTP 401)",
        "BTC/liquidations_all_4h": "bad-key: skipped: Coinglass refused COINGLASS_API_KEY",
        "BTC/oi_exchange_list": "bad-key: skipped: Coinglass refused COINGLASS_API_KEY",
    }
    assert coinglass_problem_lines(outcomes) == [
        "Coinglass BTC/liquidation_map: unavailable: not in the Coinglass plan",
        "Coinglass BTC/liquidations_all_1d: bad-key: Coinglass refused COINGLASS_API_KEY "
        "(HTTP 401); 2 other series skipped",
    ]
    assert coinglass_problem_lines({"coinglass": "skipped: COINGLASS_API_KEY is not set"}) == []


def test_a_logging_handler_that_fails_prints_nothing_on_the_terminal(capsys, monkeypatch) -> None:
    """Prefect's log shipper, its server stopped by the Ctrl-C that stops us, wrote
    "--- Error logging to API ---" beside the command's one line (seen once in CI)."""
    import logging

    from liqbrief.terminal import run

    monkeypatch.delenv("LIQBRIEF_DEBUG", raising=False)
    monkeypatch.setattr(logging, "raiseExceptions", True)  # Python's default
    assert run(app, ["--help"]) == 0

    class Unreachable(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            try:
                raise ConnectionError("All connection attempts failed")
            except ConnectionError:
                self.handleError(record)

    logger = logging.getLogger("liqbrief.tests.unreachable")
    monkeypatch.setattr(logger, "handlers", [Unreachable()])
    monkeypatch.setattr(logger, "propagate", False)
    capsys.readouterr()
    logger.error("a run's log line")
    assert capsys.readouterr().err == ""
