"""The Binance USDⓈ-M futures public data archive (data.binance.vision layout)."""
