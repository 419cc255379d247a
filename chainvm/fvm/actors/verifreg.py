"""Placeholder replaced below."""

from chainvm.fvm.actors.stubs import stub_named

VERIFREG = stub_named("verifiedregistry", 8)
