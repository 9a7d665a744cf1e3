// `roadwork register`: NATIX economy registration of a published model, exactly as natix register.sh does it.
import { defineCommand, UsageError } from "../command.ts";

// Mirrors @roadwork/lifecycle's DEFAULT_NATIX_BASE_URL (a test keeps them equal); inlined so --help loads nothing.
export const NATIX_BASE_URL = "https://hydra.natix.network";

export const command = defineCommand({
  name: "register",
  summary: "register a published model with NATIX and wait for the result",
  usage: "--uid <n> --repo <org/name> [options]\n       roadwork register --status --uid <n> [--base-url …]",
  description: `Optional: NATIX removed register.sh in May 2026 and the miner serves without it. Signs the current unix time with the
hotkey (ROADWORK_HOTKEY_SEED, ROADWORK_HOTKEY_MNEMONIC or ROADWORK_WALLET_NAME + ROADWORK_WALLET_HOTKEY), posts it to
NATIX with the Hugging Face repo, then polls the registration status.
Publish the model first: roadwork publish --bundle <dir> --repo <org/name>`,
  options: {
    uid: { type: "string", value: "<n>", help: "your miner's uid on the subnet" },
    repo: { type: "string", value: "<org/name>", help: "the published Hugging Face repo" },
    "base-url": {
      type: "string",
      value: "<url>",
      help: `NATIX API (default: $NATIX_BASE_URL, else ${NATIX_BASE_URL})`,
    },
    interval: { type: "string", value: "<s>", default: "3", help: "status poll interval" },
    timeout: { type: "string", value: "<s>", default: "180", help: "give up polling after this long" },
    status: { type: "boolean", help: "only read the current registration status" },
  },
  async run({ values }) {
    const uid = Number(values.uid);
    if (!values.uid || !Number.isInteger(uid) || uid < 0 || uid > 65535) {
      throw new UsageError("--uid must be your miner's uid on the subnet (0-65535)");
    }
    const baseUrl = values["base-url"] ?? process.env.NATIX_BASE_URL ?? NATIX_BASE_URL;
    const { fetchRegistrationStatus, registerWithNatix } = await import("@roadwork/lifecycle");
    const { hotkeySourceFromEnv, loadHotkey } = await import("@roadwork/chain/keys");
    if (!/^https?:\/\/\S+$/.test(baseUrl)) throw new Error(`--base-url must be an http(s) URL, got '${baseUrl}'`);
    if (values.status) {
      const s = await fetchRegistrationStatus({ uid, fetch, baseUrl });
      console.log(JSON.stringify({ uid, ...s }));
      return 0;
    }
    if (!values.repo) throw new UsageError("--repo is required");
    const interval = Number(values.interval);
    const timeout = Number(values.timeout);
    if (!(interval > 0) || !(timeout > 0)) throw new Error("--interval and --timeout are positive seconds");

    const hotkey = await loadHotkey(hotkeySourceFromEnv(process.env));
    console.error(`registering uid ${uid} (${hotkey.address}) with model ${values.repo} at ${baseUrl}…`);
    const outcome = await registerWithNatix({
      uid,
      repo: values.repo,
      hotkey,
      fetch,
      baseUrl,
      pollIntervalMs: interval * 1000,
      deadlineMs: timeout * 1000,
      log: (event, data) => {
        if (event === "natix.register.submitted" && data.detail) console.error(`  NATIX: ${String(data.detail)}`);
        if (event === "natix.status.unknown") console.error(`  unknown status '${String(data.status)}', still polling`);
      },
    });
    console.log(JSON.stringify(outcome));
    if (outcome.status === "failed") {
      console.error(`registration failed: ${outcome.errorMessage}`);
      return 1;
    }
    console.error("registered; the reward clock starts at the model card's submission_time");
    return 0;
  },
});
