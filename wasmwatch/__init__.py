"""wasmwatch: self-hosted telemetry and monitoring for WebAssembly web apps."""

__version__ = "0.1.0"
__all__ = ["__version__"]
