// `roadwork register`: NATIX economy registration of a published model, exactly as natix register.sh does it.
import { parseArgs } from "node:util";
import { hotkeySourceFromEnv, loadHotkey } from "@roadwork/chain/keys";
import { DEFAULT_NATIX_BASE_URL, fetchRegistrationStatus, registerWithNatix } from "@roadwork/lifecycle";
import type { Command } from "../command.ts";

const USAGE = `usage: roadwork register --uid <n> --repo <org/name> [--base-url ${DEFAULT_NATIX_BASE_URL}]
                         [--interval 3] [--timeout 180]
       roadwork register --status --uid <n> [--base-url …]
Signs the current unix time with the hotkey (ROADWORK_HOTKEY_SEED, ROADWORK_HOTKEY_MNEMONIC or ROADWORK_WALLET_NAME +
ROADWORK_WALLET_HOTKEY), posts it to NATIX with the Hugging Face repo, then polls the registration status.
Publish the model first: roadwork publish --bundle <dir> --repo <org/name>`;

export const command: Command = {
  summary: "register a published model with NATIX and wait for the result",
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        uid: { type: "string" },
        repo: { type: "string" },
        "base-url": { type: "string", default: process.env.NATIX_BASE_URL ?? DEFAULT_NATIX_BASE_URL },
        interval: { type: "string", default: "3" },
        timeout: { type: "string", default: "180" },
        status: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    });
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    const uid = Number(values.uid);
    if (!values.uid || !Number.isInteger(uid) || uid < 0 || uid > 65535) {
      throw new Error(`--uid must be your miner's uid on the subnet (0-65535)\n${USAGE}`);
    }
    const baseUrl = values["base-url"];
    if (!/^https?:\/\/\S+$/.test(baseUrl)) throw new Error(`--base-url must be an http(s) URL, got '${baseUrl}'`);
    if (values.status) {
      const s = await fetchRegistrationStatus({ uid, fetch, baseUrl });
      console.log(JSON.stringify({ uid, ...s }));
      return 0;
    }
    if (!values.repo) throw new Error(`--repo is required\n${USAGE}`);
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
};
