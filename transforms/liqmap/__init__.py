"""The liquidation-map engine: a vectorised cohort model (shared/design/liquidation-model.md)."""
