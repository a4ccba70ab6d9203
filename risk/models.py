"""Models arrive with the risk issue."""
