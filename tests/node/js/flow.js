// The end-to-end flow through ethers 6 or viem 2 against a running chainvm node:
//   node flow.js ethers|viem URL ARTIFACT.json
// ARTIFACT holds the ABI and bytecode of the OpenZeppelin ERC-20 `Token(uint256 supply)`.
// Prints "<library>: ok" when every step passed; exits 1 on the first failure.
const fs = require("fs");

const [library, url, artifactPath] = process.argv.slice(2);
const { abi, bytecode } = JSON.parse(fs.readFileSync(artifactPath, "utf8"));
const SUPPLY = 10n ** 24n;
const HOLDER = "0x" + "6b".repeat(20);
// A contract that stores its first calldata word in slot 0 (the EIP-7702 delegate):
// runtime PUSH1 0 CALLDATALOAD PUSH1 0 SSTORE STOP behind an 11-byte deployer.
const STORE_WORD = "0x6007600c60003960076000f3" + "60003560005500";
const TYPED = {
  domain: { name: "Ether Mail", version: "1", chainId: 31337,
            verifyingContract: "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC" },
  types: { Person: [{ name: "name", type: "string" }, { name: "wallet", type: "address" }],
           Mail: [{ name: "from", type: "Person" }, { name: "to", type: "Person" },
                  { name: "contents", type: "string" }] },
  message: { from: { name: "Cow", wallet: "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826" },
             to: { name: "Bob", wallet: "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB" },
             contents: "Hello, Bob!" },
};
const word = (n) => "0x" + n.toString(16).padStart(64, "0");

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
  const holder = await provider.getSigner(HOLDER);  // impersonated: listed in eth_accounts
  const rc2 = await (await token.connect(holder).transfer(bob.address, 4n)).wait();
  check(rc2.from.toLowerCase() === HOLDER, "impersonated transfer");
  const trace = await provider.send("debug_traceTransaction", [rc2.hash, { tracer: "callTracer" }]);
  check(trace.to === (await token.getAddress()).toLowerCase(), "call trace");

  // EIP-712 typed data (eth_signTypedData_v4).
  const sig = await me.signTypedData(TYPED.domain, TYPED.types, TYPED.message);
  check(ethers.verifyTypedData(TYPED.domain, TYPED.types, TYPED.message, sig) === me.address,
    "typed data signed");
  check(ethers.verifyMessage("hello", await me.signMessage("hello")) === me.address,
    "personal_sign");

  // The pool while automine is off (txpool_).
  await provider.send("evm_setAutomine", [false]);
  const pendingTx = await token.transfer(bob.address, 1n);
  const content = await provider.send("txpool_content", []);
  const mine = Object.keys(content.pending).find((a) => a.toLowerCase() === me.address.toLowerCase());
  check(mine && Object.values(content.pending[mine]).some((t) => t.hash === pendingTx.hash),
    "txpool_content lists the pending transfer");
  check((await provider.send("txpool_status", [])).pending === "0x1", "txpool_status");
  await provider.send("evm_mine", []);
  await provider.send("evm_setAutomine", [true]);
  check((await pendingTx.wait()).status === 1, "mined from the pool");

  // Dump the state, change it, load the dump back.
  const dump = await provider.send("anvil_dumpState", []);
  const before = await token.balanceOf(bob.address);
  await (await token.transfer(bob.address, 3n)).wait();
  check(await token.balanceOf(bob.address) === before + 3n, "transfer after dump");
  check(await provider.send("anvil_loadState", [dump]) === true, "anvil_loadState");
  check(await token.balanceOf(bob.address) === before, "state restored from the dump");

  // EIP-7702: a fresh key delegates to a contract; a dev account sponsors the transaction.
  const delegate = (await (await me.sendTransaction({ data: STORE_WORD })).wait()).contractAddress;
  const eoa = ethers.Wallet.createRandom().connect(provider);
  const auth = await eoa.authorize({ address: delegate, nonce: 0, chainId: 31337n });
  const rc3 = await (await me.sendTransaction({ type: 4, to: eoa.address, data: word(77n),
    authorizationList: [auth] })).wait();
  check(rc3.status === 1 && rc3.type === 4, "EIP-7702 transaction mined");
  check(await provider.getCode(eoa.address) === "0xef0100" + delegate.slice(2).toLowerCase(),
    "delegation installed");
  check(BigInt(await provider.getStorage(eoa.address, 0)) === 77n, "delegate ran in the EOA");
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
  check((await wallet.getAddresses()).map((a) => a.toLowerCase()).includes(HOLDER),
    "impersonated account listed");

  // EIP-712 typed data (eth_signTypedData_v4) from a node account.
  const typed = { ...TYPED, primaryType: "Mail" };
  const sig = await wallet.signTypedData({ account: me, ...typed });
  check(await viem.verifyTypedData({ address: me, signature: sig, ...typed }), "typed data signed");

  // The pool while automine is off.
  await test.setAutomine(false);
  const queuedHash = await wallet.writeContract({ address, abi, functionName: "transfer",
    args: [bob, 1n], account: me });
  const content = await test.getTxpoolContent();
  check(Object.values(content.pending).some((byNonce) =>
    Object.values(byNonce).some((t) => t.hash === queuedHash)), "txpool content");
  check((await test.getTxpoolStatus()).pending === 1, "txpool status");
  await test.mine({ blocks: 1 });
  await test.setAutomine(true);
  check((await pub.waitForTransactionReceipt({ hash: queuedHash })).status === "success",
    "mined from the pool");

  // Dump and load the state.
  const dump = await test.dumpState();
  const before = await pub.readContract({ address, abi, functionName: "balanceOf", args: [bob] });
  await pub.waitForTransactionReceipt({ hash: await wallet.writeContract({ address, abi,
    functionName: "transfer", args: [bob, 3n], account: me }) });
  await test.loadState({ state: dump });
  const after = await pub.readContract({ address, abi, functionName: "balanceOf", args: [bob] });
  check(after === before, "state restored from the dump");

  // EIP-7702, self-sponsored from a local key: viem estimates gas with the authorization
  // list and sends the signed type-4 transaction raw.
  const { privateKeyToAccount, generatePrivateKey } = require("viem/accounts");
  const eoa = privateKeyToAccount(generatePrivateKey());
  await test.setBalance({ address: eoa.address, value: 10n ** 18n });
  const delegateHash = await wallet.sendTransaction({ account: me, data: STORE_WORD });
  const delegate = (await pub.waitForTransactionReceipt({ hash: delegateHash })).contractAddress;
  const authorization = await wallet.signAuthorization({ account: eoa, contractAddress: delegate,
    executor: "self" });
  const h3 = await wallet.sendTransaction({ account: eoa, to: eoa.address, data: word(77n),
    authorizationList: [authorization] });
  const rc3 = await pub.waitForTransactionReceipt({ hash: h3 });
  check(rc3.status === "success" && rc3.type === "eip7702", "EIP-7702 transaction mined");
  check(await pub.getCode({ address: eoa.address }) ===
    "0xef0100" + delegate.slice(2).toLowerCase(), "delegation installed");
  check(BigInt(await pub.getStorageAt({ address: eoa.address, slot: "0x0" })) === 77n,
    "delegate ran in the EOA");

  // The next block's base fee and the block gas limit, through viem's test actions.
  await test.setNextBlockBaseFeePerGas({ baseFeePerGas: viem.parseGwei("2") });
  check(await pub.getGasPrice() === viem.parseGwei("3"), "gas price from the set base fee");
  await test.mine({ blocks: 1 });
  check((await pub.getBlock()).baseFeePerGas === viem.parseGwei("2"), "next block base fee");
  await test.setBlockGasLimit({ gasLimit: 20_000_000n });
  await test.mine({ blocks: 1 });
  check((await pub.getBlock()).gasLimit === 20_000_000n, "block gas limit");
}

(library === "ethers" ? withEthers() : withViem()).then(
  () => { console.log(library + ": ok"); },
  (err) => { console.error(err); process.exit(1); },
);
