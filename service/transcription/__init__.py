"""Probing recordings (`probe.probe`) and transcribing them offline (`engine.Transcriber`)."""

import os

# onnxruntime (faster-whisper's voice-activity filter) ships Microsoft 1DS telemetry: on import it
# writes a device id and an event queue (SQLite) under $XDG_CACHE_HOME or
# ~/.cache/Microsoft/DeveloperTools/.onnxruntime/ and queues a ProcessInfo event (OS, executable
# path, hashed device id) for upload to a Microsoft collector. The variable is read when
# onnxruntime is imported, so it must be set before anything imports it; an operator who sets it
# explicitly keeps their choice.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
