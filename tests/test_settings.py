"""Settings come from MESHMILL_* variables, typed; an empty text value is a value."""

from __future__ import annotations

from pathlib import Path

from tasks.settings import load_settings


def test_types_and_defaults():
    s = load_settings({"MESHMILL_LEASE_SECONDS": "3.5", "MESHMILL_MAX_ATTEMPTS": "7", "MESHMILL_HOME": "/tmp/x",
                       "MESHMILL_URL_ALLOWLIST": "127.0.0.1, ::1 ,10.0.0.0/8"})
    assert s.lease_seconds == 3.5 and s.max_attempts == 7 and s.home == Path("/tmp/x")
    assert s.url_allowlist == ("127.0.0.1", "::1", "10.0.0.0/8")
    assert s.broker == "filesystem://" and s.database.startswith("sqlite:////tmp/x/")


def test_empty_text_is_a_value_but_empty_numbers_keep_their_default():
    s = load_settings({"MESHMILL_RATE_LIMIT": "", "MESHMILL_LEASE_SECONDS": "", "MESHMILL_BROKER_URL": ""})
    assert s.rate_limit == ""  # limits off
    assert s.lease_seconds == 20.0
    assert s.broker == "filesystem://"
    assert load_settings({}).rate_limit == "600/minute"
