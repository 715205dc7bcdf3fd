"""sigma-sn: plan and simulate SIGMA-SN transport-layer handover in LEO satellite networks."""

__version__ = "0.1.0"
