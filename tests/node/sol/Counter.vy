# pragma version ^0.4.0
# A Vyper counter with an event and an assert with a reason string.

event Bumped:
    who: indexed(address)
    value: uint256

count: public(uint256)


@external
def bump(by: uint256) -> uint256:
    assert by > 0, "by must be positive"
    self.count += by
    log Bumped(who=msg.sender, value=self.count)
    return self.count
