// `roadwork status` and `roadwork serve-axon` as an operator runs them, against the loopback subtensor.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Keyring } from "@polkadot/keyring";
import { hexToU8a } from "@polkadot/util";
import { cryptoWaitReady, randomAsHex } from "@polkadot/util-crypto";
import { writeTinyClassifier } from "@roadwork/inference";
import { DEMO_NETUID, demoNeurons, devKey, OUR_UID } from "../../packages/chain/test/support/demo-subnet.ts";
import { LoopbackChain } from "../../packages/chain/test/support/loopback-chain.ts";
import { bareEnv, ROOT, runRoadwork } from "../support/roadwork-process.ts";

function roadwork(args: string[], env: Record<string, string> = {}) {
  return runRoadwork(args, { env: bareEnv(env), timeoutMs: 120_000 });
}

describe("roadwork status / serve-axon against a loopback subtensor", () => {
  let chain: LoopbackChain;
  const bob = devKey("//Bob");
  before(async () => {
    chain = await LoopbackChain.start({ netuid: DEMO_NETUID, neurons: demoNeurons(bob.address) });
  });
  after(() => chain.close());

  it("status reports uid, stake, validators, incentive, immunity and the axon comparison", async () => {
    const { code, stdout, stderr } = await roadwork(
      [
        "status",
        "--endpoint",
        chain.url,
        "--netuid",
        "323",
        "--external-ip",
        "198.51.100.77",
        "--port",
        "8091",
        "--json",
      ],
      { ROADWORK_HOTKEY_MNEMONIC: "//Bob" },
    );
    assert.equal(code, 0, stderr);
    const report = JSON.parse(stdout);
    assert.equal(report.hotkey, bob.address);
    assert.equal(report.uid, OUR_UID);
    assert.equal(report.stake, 1.5);
    assert.deepEqual(report.validators, { withPermit: 3, neurons: 12 });
    assert.equal(report.incentive, 1311 / 65535);
    assert.equal(report.immunityLeftBlocks, 5000 - (chain.blockNumber - 900));
    assert.equal(report.axon.onChain, "198.51.100.23:8091");
    assert.equal(report.configured.matches, false);
    assert.match(report.configured.reason, /ip 198\.51\.100\.23 -> 198\.51\.100\.77/);
    assert.ok(!stderr.includes("//Bob"), "the key source never reaches the output");
    assert.equal(report.pulse.state, "paying");
  });

  it("status says in its first line when the subnet burns every miner's emission to the owner uid", async () => {
    const saved = chain.neurons;
    chain.owner = { coldkey: devKey("//subnet-coldkey-0").address };
    chain.neurons = saved.map((n) => ({
      ...n,
      incentive: n.uid === 0 ? 65535 : 0,
      emissionRao: 0n,
      ...(n.validatorPermit ? { weights: [[0, 65535]] as [number, number][] } : {}),
    }));
    try {
      const { code, stdout, stderr } = await roadwork(["status", "--endpoint", chain.url, "--netuid", "323"], {
        ROADWORK_HOTKEY_MNEMONIC: "//Bob",
      });
      assert.equal(code, 0, stderr);
      assert.equal(
        stdout.split("\n")[0],
        "pulse       burning: 100% of validator weight goes to the owner uid 0; miners' emission is burned",
      );
    } finally {
      chain.neurons = saved;
      chain.owner = undefined;
    }
  });

  it("serve-axon --dry-run prints the SCALE call without submitting", async () => {
    const before = chain.submissions.length;
    const { code, stdout, stderr } = await roadwork([
      "serve-axon",
      "--endpoint",
      chain.url,
      "--netuid",
      "323",
      "--ip",
      "198.51.100.23",
      "--port",
      "8091",
      "--dry-run",
    ]);
    assert.equal(code, 0, stderr);
    const out = JSON.parse(stdout);
    // pallet 7, call 4, netuid 323, version 9012002, ip 198.51.100.23, port 8091, ip_type 4, protocol 4, 0, 0
    assert.equal(out.callHex, "0x0704430122838900176433c60000000000000000000000009b1f04040000");
    assert.equal(out.call.method, "serveAxon");
    assert.equal(out.call.args.ip, "3325256727");
    assert.equal(out.submitted, false);
    assert.equal(chain.submissions.length, before);
  });

  it("serve-axon --dry-run without a node encodes against the bundled runtime and names it", async () => {
    const { code, stdout, stderr } = await roadwork([
      "serve-axon",
      "--netuid",
      "323",
      "--ip",
      "198.51.100.23",
      "--port",
      "8091",
      "--dry-run",
    ]);
    assert.equal(code, 0, stderr);
    const out = JSON.parse(stdout);
    // The same bytes as against the loopback node above: the call layout is the runtime's, not the node's.
    assert.equal(out.callHex, "0x0704430122838900176433c60000000000000000000000009b1f04040000");
    assert.equal(out.runtime.network, "testnet");
    assert.equal(out.runtime.specVersion, 224);
    assert.match(out.runtime.source, /^@bitgo\/sdk-coin-tao@/);
    assert.match(stderr, /encoded offline against the bundled testnet runtime \(node-subtensor spec 224/);
    const mainnet = await roadwork([
      "serve-axon",
      "--netuid",
      "72",
      "--ip",
      "198.51.100.23",
      "--port",
      "8091",
      "--dry-run",
    ]);
    assert.equal(mainnet.code, 0, mainnet.stderr);
    assert.equal(JSON.parse(mainnet.stdout).runtime.specVersion, 219);
  });

  it("serve-axon submits, then refuses within the rate limit with the next allowed block", async () => {
    const env = { ROADWORK_HOTKEY_MNEMONIC: "//Bob" };
    const args = ["serve-axon", "--endpoint", chain.url, "--netuid", "323", "--port", "8091"];
    const first = await roadwork([...args, "--ip", "198.51.100.88"], env);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /included in block 0x[0-9a-f]{64}: uid 5 now serves 198\.51\.100\.88:8091/);
    assert.equal(chain.submissions.at(-1)?.signer, bob.address);
    assert.equal(chain.neurons[OUR_UID]?.axon?.ip, 3325256792n);

    const second = await roadwork([...args, "--ip", "198.51.100.89"], env);
    assert.equal(second.code, 1);
    assert.match(second.stderr, new RegExp(`next serve_axon is allowed at block ${chain.blockNumber + 50}`));
  });

  it("serve --chain takes the metagraph from the chain and announces --external-ip once listening", async () => {
    const dir = await mkdtemp(join(tmpdir(), "roadwork-serve-chain-"));
    const probe = createServer().listen(0, "127.0.0.1");
    await once(probe, "listening");
    const port = (probe.address() as { port: number }).port;
    await new Promise((r) => probe.close(r));
    try {
      await writeTinyClassifier(join(dir, "model.onnx"), { seed: 5 });
      chain.advanceBlocks(60); // outside the previous test's rate-limit window
      const child = spawn(
        process.execPath,
        [
          "packages/cli/bin/roadwork.mjs",
          "serve",
          "--model",
          join(dir, "model.onnx"),
          "--chain",
          chain.url,
          "--netuid",
          "323",
          "--external-ip",
          "198.51.100.61",
          "--port",
          String(port),
          "--host",
          "127.0.0.1",
        ],
        {
          cwd: ROOT,
          env: bareEnv({ ROADWORK_HOTKEY_MNEMONIC: "//Bob" }),
        },
      );
      let out = "";
      child.stdout.on("data", (d) => {
        out += d;
      });
      child.stderr.on("data", (d) => {
        out += d;
      });
      const exited = once(child, "close");
      const deadline = Date.now() + 60_000;
      while (!/"message":"axon served"/.test(out) && Date.now() < deadline && child.exitCode === null) {
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.match(out, /roadwork axon ready .* validators=3/, out);
      assert.match(out, /"message":"axon served"/, out);
      assert.equal(chain.neurons[OUR_UID]?.axon?.ip, 3325256765n);
      assert.equal(chain.neurons[OUR_UID]?.axon?.port, port);
      child.kill("SIGTERM");
      const [code] = await exited;
      assert.equal(code, 0, out);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("serve --chain with --also-hotkey announces every hotkey of the wallet with its own port", async () => {
    const dir = await mkdtemp(join(tmpdir(), "roadwork-serve-chain-many-"));
    const probe = createServer().listen(0, "127.0.0.1");
    await once(probe, "listening");
    const port = (probe.address() as { port: number }).port;
    await new Promise((r) => probe.close(r));
    try {
      await writeTinyClassifier(join(dir, "model.onnx"), { seed: 5 });
      // A bittensor wallet with two hotkeys, both registered (uids 8 and 9), neither announced yet.
      await cryptoWaitReady();
      const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });
      const uids = { first: 8, second: 9 };
      for (const [name, uid] of Object.entries(uids)) {
        const seed = randomAsHex(32);
        const address = keyring.addFromSeed(hexToU8a(seed)).address;
        await mkdir(join(dir, "wallet", "hotkeys"), { recursive: true });
        await writeFile(
          join(dir, "wallet", "hotkeys", name),
          JSON.stringify({ secretSeed: seed, ss58Address: address }),
        );
        chain.neurons[uid] = { ...chain.neurons[uid]!, hotkey: address, axon: undefined };
      }
      const child = spawn(
        process.execPath,
        [
          "packages/cli/bin/roadwork.mjs",
          "serve",
          "--model",
          join(dir, "model.onnx"),
          "--chain",
          chain.url,
          "--netuid",
          "323",
          "--external-ip",
          "198.51.100.62",
          "--wallet",
          join(dir, "wallet"),
          "--hotkey",
          "first",
          "--also-hotkey",
          "second",
          "--port",
          String(port),
          "--host",
          "127.0.0.1",
        ],
        { cwd: ROOT, env: bareEnv() },
      );
      let out = "";
      child.stdout.on("data", (d) => {
        out += d;
      });
      child.stderr.on("data", (d) => {
        out += d;
      });
      const exited = once(child, "close");
      const deadline = Date.now() + 60_000;
      const served = () => out.match(/"message":"axon served"/g)?.length ?? 0;
      while (served() < 2 && Date.now() < deadline && child.exitCode === null) {
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(served(), 2, out);
      assert.equal(chain.neurons[uids.first]?.axon?.port, port);
      assert.equal(chain.neurons[uids.second]?.axon?.port, port + 1);
      assert.equal(chain.neurons[uids.second]?.axon?.ip, 3325256766n, "198.51.100.62");
      child.kill("SIGTERM");
      const [code] = await exited;
      assert.equal(code, 0, out);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
