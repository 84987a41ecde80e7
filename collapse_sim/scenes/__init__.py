"""Detection scenes: labelled images as sample sets, the laws that make them, the renderer."""
