"""Everything that touches Ultralytics: offline setup, dataset folders, the trained detector."""
