"""The HTTP API (Flask + flask-smorest): auth, upload checks, job creation and reads."""
