from __future__ import annotations

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from liqbrief.cli import app

COMMANDS = sorted(get_command(app).commands)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_subcommand_has_help(command: str) -> None:
    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output


@pytest.mark.parametrize("symbol", ["../x", "BTC/USDT"])
def test_path_like_symbols_are_refused_before_anything_runs(symbol: str) -> None:
    result = CliRunner().invoke(
        app, ["extract", "--symbols", symbol, "--start", "2024-01-01", "--end", "2024-01-01"]
    )
    assert result.exit_code == 2
    assert "invalid symbol" in result.output
