"""liqbrief: the daily crypto-derivatives liquidation briefing."""
