"""The webhook target policy without a network: which URLs and addresses are refused, in
every spelling a resolver accepts, and what the allow-list opens."""

from __future__ import annotations

import ipaddress

import pytest

from schemas.webhook_targets import (
    TargetRefused,
    TargetUnresolvable,
    WebhookTargetPolicy,
    address_refusal,
    check_url,
    literal_address,
    redact,
    resolve_checked,
)

STRICT = WebhookTargetPolicy(allow_http=False, allowed_networks=())
HTTP = WebhookTargetPolicy(allow_http=True, allowed_networks=())
LOOPBACK_DEMO = WebhookTargetPolicy(allow_http=True, allowed_networks="127.0.0.0/8,::1/128")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:6380/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:6380/",
        "http://0x7f000001/",
        "http://2130706433/",
        "http://0177.0.0.1/",
        "http://127.1/",
        "http://0/",
        "http://0.0.0.0/",
        "http://10.1.2.3/",
        "http://172.16.0.1/",
        "http://192.168.1.1/",
        "http://100.100.100.200/",  # carrier-grade NAT; Alibaba's metadata endpoint
        "http://224.0.0.1/",
        "http://[ff02::1]/",
        "http://[fe80::1]/",
        "http://[fd00:ec2::254]/",  # AWS metadata over IPv6
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:a9fe:a9fe]/",  # 169.254.169.254, IPv4-mapped
        "http://[64:ff9b::7f00:1]/",  # NAT64 of 127.0.0.1
        "http://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
        "http://[::]/",
        "http://localhost:8000/",
        "http://api.localhost/",
    ],
)
def test_non_public_targets_are_refused_in_every_spelling(url: str) -> None:
    with pytest.raises(TargetRefused):
        check_url(url, HTTP)


@pytest.mark.parametrize(
    "url", ["http://1.2.3.999/", "http://1.0x100.1.1/", "http://1.2.3.4.5/", "http://09.1/"]
)
def test_a_numeric_host_that_is_no_address_is_refused(url: str) -> None:
    with pytest.raises(TargetRefused, match="not a valid IPv4"):
        check_url(url, HTTP)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("0x7f000001", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("10.0x10.1", "10.16.0.1"),
        ("8.8.8.8", "8.8.8.8"),
        ("[::1]", "::1"),
    ],
)
def test_literal_addresses_are_read_as_a_resolver_reads_them(host: str, expected: str) -> None:
    assert literal_address(host) == ipaddress.ip_address(expected)


def test_names_are_not_addresses() -> None:
    assert literal_address("hooks.example.com") is None
    assert literal_address("1password.example") is None


def test_public_https_passes_and_http_needs_the_setting() -> None:
    target = check_url("https://hooks.example.com/x?y=1", STRICT)
    assert (target.scheme, target.host, target.port) == ("https", "hooks.example.com", 443)
    assert check_url("https://8.8.8.8:8443/", STRICT).address == ipaddress.ip_address("8.8.8.8")
    with pytest.raises(TargetRefused, match="https"):
        check_url("http://hooks.example.com/", STRICT)
    assert check_url("http://hooks.example.com/", HTTP).port == 80


def test_the_allow_list_opens_only_its_networks() -> None:
    assert check_url("http://127.0.0.1:9/hook", LOOPBACK_DEMO).port == 9
    assert check_url("http://[::1]:9/hook", LOOPBACK_DEMO).host == "::1"
    assert check_url("http://localhost:9/hook", LOOPBACK_DEMO).host == "localhost"
    for url in ("http://169.254.169.254/", "http://10.0.0.1/", "http://[::ffff:a9fe:a9fe]/"):
        with pytest.raises(TargetRefused):
            check_url(url, LOOPBACK_DEMO)


def test_the_allow_list_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTINEL_WEBHOOKS_ALLOWED_NETWORKS", "127.0.0.0/8, ::1")
    monkeypatch.setenv("SENTINEL_WEBHOOKS_ALLOW_HTTP", "true")
    policy = WebhookTargetPolicy()
    assert policy.allow_http
    assert [str(n) for n in policy.allowed_networks] == ["127.0.0.0/8", "::1/128"]
    assert address_refusal(ipaddress.ip_address("127.0.0.2"), policy.allowed_networks) is None


def test_refusals_never_echo_the_userinfo() -> None:
    with pytest.raises(TargetRefused) as refused:
        check_url("http://admin:hunter2@127.0.0.1/", HTTP)
    assert "hunter2" not in str(refused.value) and "admin" not in str(refused.value)
    assert redact("https://admin:hunter2@hooks.example.com/x") == "https://***@hooks.example.com/x"
    assert redact("https://hooks.example.com/x") == "https://hooks.example.com/x"


def resolver(*answers: str) -> object:
    async def answer(_host: str, _port: int) -> list[str]:
        if not answers:
            raise OSError("no such host")
        return list(answers)

    return answer


async def test_a_name_is_refused_when_any_of_its_addresses_is() -> None:
    ok = await resolve_checked("hooks.example.com", 443, STRICT, resolver("93.184.216.34"))  # type: ignore[arg-type]
    assert ok == [ipaddress.ip_address("93.184.216.34")]
    with pytest.raises(TargetRefused, match="resolves to"):
        # DNS rebinding's usual trick: one public answer, one internal.
        await resolve_checked(
            "rebind.example.com",
            443,
            STRICT,
            resolver("93.184.216.34", "169.254.169.254"),  # type: ignore[arg-type]
        )
    with pytest.raises(TargetUnresolvable):
        await resolve_checked("gone.example.com", 443, STRICT, resolver())  # type: ignore[arg-type]


async def test_the_system_resolver_sees_through_localhost() -> None:
    with pytest.raises(TargetRefused):
        await resolve_checked("localhost", 80, HTTP)
