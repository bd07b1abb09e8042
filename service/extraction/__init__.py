"""Text extraction from uploaded originals; see `engine.extract` and `sandbox.Sandbox`."""

import os

# unstructured pings a telemetry endpoint (and runs nvidia-smi) when it is imported and on every
# partition call unless these are set, so they must be in place before any module below imports
# it. The usage notice only logs, but it advertises a hosted service in every worker's log.
os.environ.update(DO_NOT_TRACK="1", SCARF_NO_ANALYTICS="1", UNSTRUCTURED_DISABLE_NOTICE="1")
