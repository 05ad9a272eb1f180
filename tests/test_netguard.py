"""The SSRF guard and the pinned client that webhooks and URL fetches share."""

from __future__ import annotations

import ssl

import httpx
import pytest

from tasks.netguard import UnsafeUrl, check_url, pin, pinned_client, tls_context


@pytest.mark.parametrize("url", ["http://127.0.0.1/x", "http://10.1.2.3/", "http://[::1]/", "http://169.254.169.254/",
                                 "http://[::ffff:127.0.0.1]/", "ftp://example.com/", "http://user:pw@example.com/"])
def test_private_addresses_and_odd_urls_are_refused(url):
    with pytest.raises(UnsafeUrl):
        check_url(url, ())


def test_an_allow_list_entry_lets_a_private_receiver_through():
    assert check_url("http://127.0.0.1:9/hook", ("127.0.0.0/8",)) == ["127.0.0.1"]


def test_pinned_clients_share_one_verifying_tls_context():
    context = tls_context()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert tls_context() is context  # built once per process, not per webhook
    with pinned_client(2.0) as client:
        assert client.follow_redirects is False and client.trust_env is False


def test_pin_keeps_the_host_name_for_the_host_header_and_tls():
    url, headers, extensions = pin(httpx.URL("https://hooks.example.com:8443/a?b=1"), "93.184.216.34")
    assert url.host == "93.184.216.34" and url.port == 8443 and url.path == "/a"
    assert headers == {"host": "hooks.example.com:8443"} and extensions == {"sni_hostname": "hooks.example.com"}
