"""Support for tests, benchmarks and offline demos: a loopback archive mirror and its files."""
