"""The venues' public REST APIs through ccxt (async, rate-limited): Binance USDⓈ-M for the
hours the archive has not published, Bybit linear perpetuals and OKX USDT swaps."""
