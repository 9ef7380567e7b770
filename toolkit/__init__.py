"""R2 Toolkit: the deploy gate, health endpoints and legacy media backfill."""
