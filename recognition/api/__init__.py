"""REST API v1: recognitions, detections, verification and people."""
