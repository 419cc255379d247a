"""Placeholder replaced below."""
from chainvm.fvm.actors.stubs import stub_named

PAYCH = stub_named("paymentchannel", 4)
