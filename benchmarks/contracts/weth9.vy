# pragma version ~=0.4.0
"""
@title Wrapped ether, WETH9-style, for benchmarks/run.py --suite weth9
@notice Ether deposited is minted 1:1 as a token that can be transferred,
        approved and withdrawn.  Written for the chainvm benchmarks.
"""

event Transfer:
    sender: indexed(address)
    receiver: indexed(address)
    amount: uint256

event Approval:
    owner: indexed(address)
    spender: indexed(address)
    amount: uint256

event Deposit:
    owner: indexed(address)
    amount: uint256

event Withdrawal:
    owner: indexed(address)
    amount: uint256

name: public(String[32])
symbol: public(String[8])
decimals: public(uint8)
balanceOf: public(HashMap[address, uint256])
allowance: public(HashMap[address, HashMap[address, uint256]])


@deploy
def __init__():
    self.name = "Wrapped Ether"
    self.symbol = "WETH"
    self.decimals = 18


@internal
@payable
def _mint():
    self.balanceOf[msg.sender] += msg.value
    log Deposit(owner=msg.sender, amount=msg.value)


@external
@payable
def __default__():
    self._mint()


@external
@payable
def deposit():
    self._mint()


@external
def withdraw(amount: uint256):
    assert self.balanceOf[msg.sender] >= amount, "balance too low"
    self.balanceOf[msg.sender] -= amount
    send(msg.sender, amount)
    log Withdrawal(owner=msg.sender, amount=amount)


@external
@view
def totalSupply() -> uint256:
    return self.balance


@external
def approve(spender: address, amount: uint256) -> bool:
    self.allowance[msg.sender][spender] = amount
    log Approval(owner=msg.sender, spender=spender, amount=amount)
    return True


@internal
def _move(source: address, target: address, amount: uint256) -> bool:
    assert self.balanceOf[source] >= amount, "balance too low"
    if source != msg.sender:
        allowed: uint256 = self.allowance[source][msg.sender]
        if allowed != max_value(uint256):
            assert allowed >= amount, "allowance too low"
            self.allowance[source][msg.sender] = allowed - amount
    self.balanceOf[source] -= amount
    self.balanceOf[target] += amount
    log Transfer(sender=source, receiver=target, amount=amount)
    return True


@external
def transfer(target: address, amount: uint256) -> bool:
    return self._move(msg.sender, target, amount)


@external
def transferFrom(source: address, target: address, amount: uint256) -> bool:
    return self._move(source, target, amount)
