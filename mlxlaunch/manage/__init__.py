"""Managing runs after launch: status reconciled with schedulers, cancel, resubmit."""
