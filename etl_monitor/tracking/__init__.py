"""Run tracking: the state machine, the event log, the queue, task lifecycle, watermarks, reporting and maintenance."""
