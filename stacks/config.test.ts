import assert from "node:assert/strict";
import { test } from "node:test";
import { instanceTypesOf, resolveStageConfig, StageConfigError } from "./config.ts";

const email = {
  ROADWORK_ALARM_EMAIL: "operator@example.com",
  ROADWORK_HOST_AMI_ID: "ami-0123456789abcdef0",
  ROADWORK_AXON_IMAGE_TAG: "abc123",
};

test("testnet and mainnet defaults: netuids 323 and 72, spot, CPU on testnet and GPU on mainnet, port 8091", () => {
  const testnet = resolveStageConfig("testnet", email);
  const mainnet = resolveStageConfig("mainnet", email);
  assert.equal(testnet.netuid, 323);
  assert.equal(mainnet.netuid, 72);
  for (const c of [testnet, mainnet]) {
    assert.equal(c.purchaseOption, "spot");
    assert.deepEqual(c.axonPorts, [8091]);
    assert.equal(c.natixRegistration, false, "NATIX registration is opt-in");
    assert.equal(c.pauseAfterDays, undefined, "pausing is opt-in");
    assert.deepEqual(c.axonImage, { source: "project", tag: "abc123" });
  }
  assert.equal(testnet.computeProfile, "cpu");
  assert.deepEqual(instanceTypesOf(testnet), ["c7i.large", "c6i.large", "m7i.large"]);
  assert.equal(mainnet.computeProfile, "gpu");
  assert.deepEqual(instanceTypesOf(mainnet), ["g4dn.xlarge", "g6.xlarge", "g5.xlarge"]);
  assert.match(mainnet.chainEndpoint, /entrypoint-finney/);
  assert.match(testnet.chainEndpoint, /test\.finney/);
});

test("unknown stage and missing alarm email fail with what to do", () => {
  assert.throws(() => resolveStageConfig("dev-alice", email), /Unknown stage "dev-alice".*--stage testnet/s);
  assert.throws(
    () => resolveStageConfig("mainnet", { ...email, ROADWORK_ALARM_EMAIL: "" }),
    (e: unknown) => {
      assert.ok(e instanceof StageConfigError);
      assert.match(e.message, /ROADWORK_ALARM_EMAIL/);
      return true;
    },
  );
});

test("deploy-time overrides are validated", () => {
  const c = resolveStageConfig("mainnet", {
    ...email,
    ROADWORK_PURCHASE_OPTION: "on-demand",
    ROADWORK_COMPUTE_PROFILE: "cpu",
    ROADWORK_MONTHLY_BUDGET_USD: "120",
    ROADWORK_AXON_IMAGE: "roadwork-axon:2026-11-20",
    ROADWORK_EIP_ALLOCATION_ID: "eipalloc-0abc1234",
    ROADWORK_EIP_PUBLIC_IP: "198.51.100.4",
  });
  assert.equal(c.purchaseOption, "on-demand");
  assert.equal(instanceTypesOf(c)[0], "c7i.large");
  assert.equal(c.monthlyBudgetUsd, 120);
  assert.deepEqual(c.axonImage, { source: "ecr", repositoryName: "roadwork-axon", tag: "2026-11-20" });
  assert.deepEqual(c.externalIp, { mode: "existing", allocationId: "eipalloc-0abc1234", publicIp: "198.51.100.4" });

  const bad = (env: Record<string, string>, pattern: RegExp) =>
    assert.throws(() => resolveStageConfig("testnet", { ...email, ...env }), pattern);
  bad({ ROADWORK_PURCHASE_OPTION: "reserved" }, /purchaseOption/);
  bad({ ROADWORK_MONTHLY_BUDGET_USD: "lots" }, /monthlyBudgetUsd/);
  bad({ ROADWORK_ALARM_EMAIL: "not-an-email" }, /alarmEmail/);
  bad({ ROADWORK_EIP_ALLOCATION_ID: "eipalloc-0abc1234" }, /externalIp\.publicIp/);
  bad({ ROADWORK_AXON_IMAGE: "no-tag" }, /<ecr-repository>:<tag>/);
  bad({ ROADWORK_AXON_PORTS: "8091,8091" }, /axonPorts: each hotkey needs its own port/);
  bad({ ROADWORK_AXON_PORTS: "8091,http" }, /axonPorts\.1/);
  bad({ ROADWORK_AXON_PORTS: "80" }, /axonPorts\.0/);
  bad({ ROADWORK_AXON_PORTS: Array.from({ length: 33 }, (_, i) => 9000 + i).join(",") }, /axonPorts/);
  assert.deepEqual(
    resolveStageConfig("mainnet", { ...email, ROADWORK_AXON_PORTS: "8091, 8092,8093" }).axonPorts,
    [8091, 8092, 8093],
  );
});

test("the host AMI is pinned and the image pushed before a deploy: both missing say what to run", () => {
  const { ROADWORK_HOST_AMI_ID: _ami, ...noAmi } = email;
  assert.throws(
    () => resolveStageConfig("mainnet", noAmi),
    /No host AMI pinned for mainnet\/gpu.*aws ssm get-parameter --region us-east-1 --name \/aws\/service\/ecs\/optimized-ami\/amazon-linux-2023\/gpu\/recommended\/image_id.*stacks\/host-amis\.json/s,
  );
  const { ROADWORK_AXON_IMAGE_TAG: _tag, ...noImage } = email;
  assert.throws(() => resolveStageConfig("testnet", noImage), /npm run image -- --stage testnet/);
  assert.deepEqual(resolveStageConfig("testnet", { ...noImage, ROADWORK_AXON_IMAGE: "asset" }).axonImage, {
    source: "asset",
  });
  const c = resolveStageConfig("mainnet", {
    ...email,
    ROADWORK_PAUSE_AFTER_DAYS: "5",
    ROADWORK_NATIX_REGISTRATION: "on",
    ROADWORK_VALIDATOR_SILENCE_HOURS: "4",
  });
  assert.equal(c.pauseAfterDays, 5);
  assert.equal(c.natixRegistration, true);
  assert.equal(c.validatorSilenceHours, 4);
  assert.throws(() => resolveStageConfig("mainnet", { ...email, ROADWORK_HOST_AMI_ID: "ami-nope" }), /hostAmiId/);
});
