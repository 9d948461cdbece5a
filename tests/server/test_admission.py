"""Admission: the caps on connections in all and per address, without sockets."""

from __future__ import annotations

from chat_server.admission import Admission


def test_full_server_refuses_until_a_connection_closes() -> None:
    admission = Admission(2, None, spare_loopback=True)
    admission.admit("192.0.2.1")
    admission.admit("192.0.2.2")
    refusal = admission.refusal("192.0.2.3")
    assert refusal is not None and refusal.reason == "server full"
    admission.release("192.0.2.1")
    assert admission.refusal("192.0.2.3") is None


def test_per_address_cap_counts_one_address_only() -> None:
    admission = Admission(100, 2, spare_loopback=True)
    admission.admit("192.0.2.1")
    admission.admit("192.0.2.1")
    refusal = admission.refusal("192.0.2.1")
    assert refusal is not None and "192.0.2.1" in refusal.text
    assert refusal.reason == "too many connections from your address"
    assert admission.refusal("192.0.2.2") is None  # others are not affected
    admission.release("192.0.2.1")
    assert admission.refusal("192.0.2.1") is None


def test_loopback_is_spared_by_default_and_counted_when_asked() -> None:
    spared = Admission(100, 1, spare_loopback=True)
    counted = Admission(100, 1, spare_loopback=False)
    for admission in (spared, counted):
        for host in ("127.0.0.1", "::1", "::ffff:127.0.0.1"):
            admission.admit(host)
    for host in ("127.0.0.1", "::1", "::ffff:127.0.0.1"):
        assert spared.refusal(host) is None
        assert counted.refusal(host) is not None


def test_a_cap_of_one_says_one_connection() -> None:
    admission = Admission(1, 1, spare_loopback=False)
    admission.admit("192.0.2.7")
    full = admission.refusal("192.0.2.8")
    assert full is not None and "(1 connection)" in full.text
    many = Admission(10, 1, spare_loopback=False)
    many.admit("192.0.2.7")
    crowded = many.refusal("192.0.2.7")
    assert crowded is not None and "(1 connection)" in crowded.text
    two = Admission(2, None, spare_loopback=False)
    two.admit("192.0.2.7")
    two.admit("192.0.2.8")
    assert "(2 connections)" in two.refusal("192.0.2.9").text  # type: ignore[union-attr]
