// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

// A contract deployed on a remote node for the fork tests: a value, a table of slots,
// an event, a block hash lookup, and ether it can pay out (as an impersonated sender).
contract ForkProbe {
    uint256 public value;
    mapping(uint256 => uint256) public table;

    event Set(address indexed by, uint256 value);

    constructor(uint256 initial) payable {
        value = initial;
    }

    receive() external payable {}

    function set(uint256 newValue) external {
        value = newValue;
        emit Set(msg.sender, newValue);
    }

    function fill(uint256 start, uint256 count) external {
        for (uint256 i = start; i < start + count; i++) {
            table[i] = i + 1;
        }
    }

    function sum(uint256 count) external view returns (uint256 total) {
        for (uint256 i = 0; i < count; i++) {
            total += table[i];
        }
    }

    function hashOf(uint256 number) external view returns (bytes32) {
        return blockhash(number);
    }

    function pay(address payable to, uint256 amount) external {
        to.transfer(amount);
    }
}
