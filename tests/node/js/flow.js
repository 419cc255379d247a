// The end-to-end flow through ethers 6 or viem 2 against a running chainvm node:
//   node flow.js ethers|viem URL ARTIFACT.json
// ARTIFACT holds the ABI and bytecode of the OpenZeppelin ERC-20 `Token(uint256 supply)`.
// Prints "<library>: ok" when every step passed; exits 1 on the first failure.
const fs = require("fs");

const [library, url, artifactPath] = process.argv.slice(2);
const { abi, bytecode } = JSON.parse(fs.readFileSync(artifactPath, "utf8"));
const SUPPLY = 10n ** 24n;
const HOLDER = "0x" + "6b".repeat(20);

function check(cond, what) {
  if (!cond) throw new Error("check failed: " + what);
  console.log("  ok " + what);
}

async function withEthers() {
  const { ethers } = require("ethers");
  const provider = new ethers.JsonRpcProvider(url, undefined,
    { cacheTimeout: -1, pollingInterval: 50, staticNetwork: true });
  const me = await provider.getSigner(0);
  const alice = await provider.getSigner(1);
  const bob = await provider.getSigner(2);
  check((await provider.getNetwork()).chainId === 31337n, "chain id");
  const factory = new ethers.ContractFactory(abi, bytecode, me);
  const token = await factory.deploy(SUPPLY);
  const deployReceipt = await token.deploymentTransaction().wait();
  check(deployReceipt.to === null && deployReceipt.contractAddress !== null, "creation receipt");
  const rc = await (await token.transfer(alice.address, 500n)).wait();
  check(rc.status === 1, "transfer mined");
  const parsed = token.interface.parseLog(rc.logs[0]);
  check(parsed.name === "Transfer" && parsed.args.value === 500n, "Transfer event");
  const logs = await token.queryFilter(token.filters.Transfer(null, alice.address), 0);
  check(logs.length === 1, "eth_getLogs with a topic filter");
  check(await token.balanceOf(alice.address) === 500n, "balanceOf");
  try {
    await token.connect(alice).transfer.staticCall(bob.address, 501n);
    check(false, "call above balance reverts");
  } catch (e) {
    check(e.revert && e.revert.name === "ERC20InsufficientBalance", "custom error decoded (call)");
  }
  try {
    await token.connect(alice).transfer(bob.address, 501n);
    check(false, "transfer above balance reverts");
  } catch (e) {
    const decoded = token.interface.parseError(e.data);
    check(decoded && decoded.name === "ERC20InsufficientBalance", "custom error decoded (send)");
  }
  const sid = await provider.send("evm_snapshot", []);
  await (await token.transfer(bob.address, 7n)).wait();
  check(await token.balanceOf(bob.address) === 7n, "transfer before revert");
  check(await provider.send("evm_revert", [sid]) === true, "evm_revert");
  check(await token.balanceOf(bob.address) === 0n, "state reverted");
  await (await token.transfer(HOLDER, 9n)).wait();
  await provider.send("anvil_setBalance", [HOLDER, "0xde0b6b3a7640000"]);
  await provider.send("anvil_impersonateAccount", [HOLDER]);
  const holder = new ethers.JsonRpcSigner(provider, HOLDER);  // not in eth_accounts
  const rc2 = await (await token.connect(holder).transfer(bob.address, 4n)).wait();
  check(rc2.from.toLowerCase() === HOLDER, "impersonated transfer");
  const trace = await provider.send("debug_traceTransaction", [rc2.hash, { tracer: "callTracer" }]);
  check(trace.to === (await token.getAddress()).toLowerCase(), "call trace");
}

async function withViem() {
  const viem = require("viem");
  const { foundry } = require("viem/chains");
  const transport = viem.http(url);
  const pub = viem.createPublicClient({ chain: foundry, transport, pollingInterval: 50 });
  const wallet = viem.createWalletClient({ chain: foundry, transport });
  const test = viem.createTestClient({ chain: foundry, mode: "anvil", transport });
  const [me, alice, bob] = await wallet.getAddresses();
  check(await pub.getChainId() === 31337, "chain id");
  const deployHash = await wallet.deployContract({ abi, bytecode, args: [SUPPLY], account: me });
  const deployed = await pub.waitForTransactionReceipt({ hash: deployHash });
  check(deployed.to === null && deployed.contractAddress, "creation receipt");
  const address = deployed.contractAddress;
  const filter = await pub.createContractEventFilter({ address, abi, eventName: "Transfer" });
  const hash = await wallet.writeContract({ address, abi, functionName: "transfer",
    args: [alice, 500n], account: me });
  const rc = await pub.waitForTransactionReceipt({ hash });
  check(rc.status === "success", "transfer mined");
  const events = await pub.getContractEvents({ address, abi, eventName: "Transfer",
    args: { to: alice }, fromBlock: 0n });
  check(events.length === 1 && events[0].args.value === 500n, "Transfer event via eth_getLogs");
  const changes = await pub.getFilterChanges({ filter });
  check(changes.length === 1, "filter changes");
  const balance = await pub.readContract({ address, abi, functionName: "balanceOf", args: [alice] });
  check(balance === 500n, "balanceOf");
  try {
    await pub.simulateContract({ address, abi, functionName: "transfer", args: [bob, 501n],
      account: alice });
    check(false, "transfer above balance reverts");
  } catch (e) {
    const reverted = e.walk((err) => err instanceof viem.ContractFunctionRevertedError);
    check(reverted && reverted.data.errorName === "ERC20InsufficientBalance",
      "custom error decoded");
  }
  const id = await test.snapshot();
  await pub.waitForTransactionReceipt({ hash: await wallet.writeContract({ address, abi,
    functionName: "transfer", args: [bob, 7n], account: me }) });
  await test.revert({ id });
  const bobBalance = await pub.readContract({ address, abi, functionName: "balanceOf", args: [bob] });
  check(bobBalance === 0n, "snapshot reverted");
  await pub.waitForTransactionReceipt({ hash: await wallet.writeContract({ address, abi,
    functionName: "transfer", args: [HOLDER, 9n], account: me }) });
  await test.setBalance({ address: HOLDER, value: 10n ** 18n });
  await test.impersonateAccount({ address: HOLDER });
  const h2 = await wallet.writeContract({ address, abi, functionName: "transfer",
    args: [bob, 4n], account: HOLDER });
  const rc2 = await pub.waitForTransactionReceipt({ hash: h2 });
  check(rc2.from === HOLDER && rc2.status === "success", "impersonated transfer");
  await test.mine({ blocks: 2 });
  const trace = await pub.request({ method: "debug_traceTransaction",
    params: [h2, { tracer: "callTracer" }] });
  check(trace.from === HOLDER, "call trace");
}

(library === "ethers" ? withEthers() : withViem()).then(
  () => { console.log(library + ": ok"); },
  (err) => { console.error(err); process.exit(1); },
);
