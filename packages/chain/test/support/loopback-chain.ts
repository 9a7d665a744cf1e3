// A subtensor node on loopback, good enough for @polkadot/api: the JSON-RPC methods the API needs to connect, read
// storage, call runtime APIs and submit extrinsics, answered from SCALE built with the REAL runtime metadata.
// serve_axon is executed with the pallet's own rules (registration, IP validity, ServingRateLimit) and its result is
// reported through real System events. Tests inject faults (drops, hangs, garbage) through `intercept`.
import "../../src/polkadot-env.ts";
import type { AddressInfo } from "node:net";
import type { Metadata, TypeRegistry } from "@polkadot/types";
import type { Extrinsic } from "@polkadot/types/interfaces";
import { compactToU8a, hexToU8a, u8aConcat, u8aToHex } from "@polkadot/util";
import {
  blake2AsU8a,
  cryptoWaitReady,
  decodeAddress,
  encodeAddress,
  signatureVerify,
  xxhashAsU8a,
} from "@polkadot/util-crypto";
import { type WebSocket, WebSocketServer } from "ws";
import { createChainRegistry, loadRuntimeMaterial, type Network, type RuntimeMaterial } from "./subtensor-metadata.ts";

export interface LoopbackAxon {
  block: number;
  version: number;
  ip: bigint;
  port: number;
  ipType: number;
  protocol: number;
  placeholder1?: number;
  placeholder2?: number;
}

export interface LoopbackNeuron {
  uid: number;
  hotkey: string;
  coldkey: string;
  /** total_stake in rao */
  stakeRao: bigint;
  validatorPermit: boolean;
  /** u16 (65535 = 1.0) */
  incentive: number;
  emissionRao: bigint;
  lastUpdate: number;
  blockAtRegistration: number;
  active?: boolean;
  axon?: LoopbackAxon;
  /** Weights this neuron set (validators): [target uid, u16 weight]. */
  weights?: [number, number][];
}

export interface Hyper {
  servingRateLimit: number;
  immunityPeriod: number;
  tempo: number;
}

export interface LoopbackChainOptions {
  network?: Network;
  netuid: number;
  neurons: LoopbackNeuron[];
  hyper?: Partial<Hyper>;
  blockNumber?: number;
  port?: number;
  /** The subnet owner's coldkey (SubnetOwner) and, on runtimes that have it, hotkey (SubnetOwnerHotkey). */
  owner?: { coldkey: string; hotkey?: string };
}

/** What a test may do with one JSON-RPC request: answer it differently, fail it, or never answer. */
export type Interception =
  | { result: unknown }
  | { error: { code: number; message: string } }
  | { hang: true }
  | undefined;

export interface Submission {
  section: string;
  method: string;
  args: Record<string, string>;
  signer: string;
  signatureValid: boolean;
  outcome: "ExtrinsicSuccess" | string;
}

interface Block {
  number: number;
  hash: string;
  header: Record<string, unknown>;
  extrinsics: string[];
  events: Uint8Array;
}

type Json = Record<string, unknown>;

export class LoopbackChain {
  readonly material: RuntimeMaterial;
  readonly registry: TypeRegistry;
  readonly metadata: Metadata;
  readonly netuid: number;
  neurons: LoopbackNeuron[];
  hyper: Hyper;
  owner: { coldkey: string; hotkey?: string } | undefined;
  readonly submissions: Submission[] = [];
  /** Count of requests per JSON-RPC method. */
  readonly calls = new Map<string, number>();
  intercept: (method: string, params: unknown[]) => Interception = () => undefined;
  readonly #blocks: Block[] = [];
  readonly #nonces = new Map<string, number>();
  #server: WebSocketServer | undefined;
  readonly #sockets = new Set<WebSocket>();
  #port = 0;
  #nextSubscription = 1;
  readonly #storageSubs = new Map<string, { socket: WebSocket; keys: string[] }>();

  private constructor(options: LoopbackChainOptions) {
    this.material = loadRuntimeMaterial(options.network ?? "mainnet");
    const { registry, metadata } = createChainRegistry(this.material);
    this.registry = registry;
    this.metadata = metadata;
    this.netuid = options.netuid;
    this.neurons = options.neurons;
    this.owner = options.owner;
    this.hyper = { servingRateLimit: 50, immunityPeriod: 5000, tempo: 360, ...options.hyper };
    this.#blocks.push(this.#makeBlock(0, `0x${"00".repeat(32)}`, [], new Uint8Array([0])));
    this.#blocks[0]!.hash = this.material.genesisHash;
    this.advanceBlocks(options.blockNumber ?? 1000);
  }

  static async start(options: LoopbackChainOptions): Promise<LoopbackChain> {
    await cryptoWaitReady();
    const chain = new LoopbackChain(options);
    await chain.listen(options.port ?? 0);
    return chain;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.#port}`;
  }

  get blockNumber(): number {
    return this.#blocks.length - 1;
  }

  /** Accepts connections (again) on the same port. */
  async listen(port = this.#port): Promise<void> {
    const server = new WebSocketServer({ host: "127.0.0.1", port });
    await new Promise<void>((resolve, reject) => {
      server.once("listening", resolve);
      server.once("error", reject);
    });
    this.#port = (server.address() as AddressInfo).port;
    server.on("connection", (socket) => {
      this.#sockets.add(socket);
      socket.on("close", () => this.#sockets.delete(socket));
      socket.on("message", (data) => this.#onMessage(socket, data.toString()));
    });
    this.#server = server;
  }

  /** Kills every open socket (clients see an abnormal close) but keeps listening. */
  dropConnections(): void {
    for (const socket of this.#sockets) socket.terminate();
    this.#storageSubs.clear();
  }

  /** Stops listening and kills every socket; `listen()` brings it back on the same port. */
  async close(): Promise<void> {
    this.dropConnections();
    const server = this.#server;
    this.#server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  advanceBlocks(count: number): void {
    for (let i = 0; i < count; i++) {
      const parent = this.#blocks[this.#blocks.length - 1]!;
      this.#blocks.push(this.#makeBlock(parent.number + 1, parent.hash, [], new Uint8Array([0])));
    }
  }

  /** Re-pushes storage values to storage subscribers (after a test changed state). */
  notifyStorage(): void {
    for (const [id, { socket, keys }] of this.#storageSubs) this.#pushStorage(socket, id, keys);
  }

  // ---- storage -------------------------------------------------------------------------------------------------

  #pallet(name: string) {
    const pallet = this.metadata.asV14.pallets.find((p) => p.name.toString() === name);
    if (!pallet) throw new Error(`metadata has no pallet ${name}`);
    return pallet;
  }

  #entry(palletName: string, item: string) {
    const entry = this.#pallet(palletName)
      .storage.unwrap()
      .items.find((i) => i.name.toString() === item);
    if (!entry) throw new Error(`metadata has no storage ${palletName}.${item}`);
    return entry;
  }

  /** Storage key from the metadata's own hashers: twox128(pallet) ++ twox128(item) ++ hasher(key)... */
  storageKey(palletName: string, item: string, ...keys: Uint8Array[]): string {
    const entry = this.#entry(palletName, item);
    const prefix = this.#pallet(palletName).storage.unwrap().prefix.toString();
    // Names as the metadata spells them; @polkadot/types reports Blake2_128Concat etc.
    const hashers = entry.type.isMap ? entry.type.asMap.hashers.map((h) => h.type.replace(/_/g, "")) : [];
    if (hashers.length !== keys.length) throw new Error(`${item} takes ${hashers.length} keys, got ${keys.length}`);
    const parts = keys.map((key, i) => {
      switch (hashers[i]) {
        case "Identity":
          return key;
        case "Blake2128Concat":
          return u8aConcat(blake2AsU8a(key, 128), key);
        case "Twox64Concat":
          return u8aConcat(xxhashAsU8a(key, 64), key);
        case "Blake2128":
          return blake2AsU8a(key, 128);
        case "Twox128":
          return xxhashAsU8a(key, 128);
        case "Blake2256":
          return blake2AsU8a(key, 256);
        default:
          throw new Error(`unsupported hasher ${hashers[i]}`);
      }
    });
    return u8aToHex(u8aConcat(xxhashAsU8a(prefix, 128), xxhashAsU8a(item, 128), ...parts));
  }

  #encodeValue(palletName: string, item: string, value: unknown): string {
    const entry = this.#entry(palletName, item);
    const typeId = entry.type.isMap ? entry.type.asMap.value : entry.type.asPlain;
    return u8aToHex(this.registry.createType(this.registry.createLookupType(typeId) as "Raw", value as never).toU8a());
  }

  #u16(n: number): Uint8Array {
    return this.registry.createType("u16", n).toU8a();
  }

  #storageTable(at: Block): Map<string, string> {
    const table = new Map<string, string>();
    const m = "SubtensorModule";
    for (const n of this.neurons) {
      const account = decodeAddress(n.hotkey);
      table.set(this.storageKey(m, "Uids", this.#u16(this.netuid), account), this.#encodeValue(m, "Uids", n.uid));
      if (n.axon) {
        table.set(
          this.storageKey(m, "Axons", this.#u16(this.netuid), account),
          this.#encodeValue(m, "Axons", { placeholder1: 0, placeholder2: 0, ...n.axon }),
        );
      }
    }
    const netuid = this.#u16(this.netuid);
    for (const n of this.neurons) {
      if (n.weights) {
        table.set(this.storageKey(m, "Weights", netuid, this.#u16(n.uid)), this.#encodeValue(m, "Weights", n.weights));
      }
    }
    if (this.owner) {
      table.set(this.storageKey(m, "SubnetOwner", netuid), u8aToHex(decodeAddress(this.owner.coldkey)));
      const hasHotkeyItem = this.#pallet(m)
        .storage.unwrap()
        .items.some((i) => i.name.toString() === "SubnetOwnerHotkey");
      if (this.owner.hotkey && hasHotkeyItem) {
        table.set(this.storageKey(m, "SubnetOwnerHotkey", netuid), u8aToHex(decodeAddress(this.owner.hotkey)));
      }
    }
    table.set(
      this.storageKey(m, "ServingRateLimit", netuid),
      this.#encodeValue(m, "ServingRateLimit", this.hyper.servingRateLimit),
    );
    table.set(
      this.storageKey(m, "ImmunityPeriod", netuid),
      this.#encodeValue(m, "ImmunityPeriod", this.hyper.immunityPeriod),
    );
    table.set(this.storageKey(m, "Tempo", netuid), this.#encodeValue(m, "Tempo", this.hyper.tempo));
    table.set(this.storageKey("System", "Events"), u8aToHex(at.events));
    table.set(this.storageKey("System", "Number"), this.#encodeValue("System", "Number", at.number));
    return table;
  }

  // ---- runtime APIs -------------------------------------------------------------------------------------------

  encodeNeuronsLite(netuid: number): string {
    const neurons = netuid === this.netuid ? this.neurons : [];
    const encoded = this.registry
      .createType(
        "Vec<BtNeuronInfoLite>",
        neurons.map((n) => ({
          hotkey: n.hotkey,
          coldkey: n.coldkey,
          uid: n.uid,
          netuid,
          active: n.active ?? true,
          axon_info: {
            placeholder1: 0,
            placeholder2: 0,
            ...(n.axon ?? { block: 0, version: 0, ip: 0, port: 0, ipType: 0, protocol: 0 }),
            ip_type: n.axon?.ipType ?? 0,
          },
          prometheus_info: { block: 0, version: 0, ip: 0, port: 0, ip_type: 0 },
          stake: [[n.coldkey, n.stakeRao]],
          rank: 0,
          emission: n.emissionRao,
          incentive: n.incentive,
          consensus: 0,
          trust: 0,
          validator_trust: 0,
          dividends: 0,
          last_update: n.lastUpdate,
          validator_permit: n.validatorPermit,
          pruning_score: 65535,
        })),
      )
      .toU8a();
    return u8aToHex(encoded);
  }

  encodeSubnetState(netuid: number): string {
    if (netuid !== this.netuid) return "0x00";
    const byUid = [...this.neurons].sort((a, b) => a.uid - b.uid);
    // toU8a, not toHex: Option.toHex() drops the Some prefix byte.
    const encoded = this.registry
      .createType("Option<BtSubnetState>", {
        netuid,
        hotkeys: byUid.map((n) => n.hotkey),
        coldkeys: byUid.map((n) => n.coldkey),
        active: byUid.map((n) => n.active ?? true),
        validator_permit: byUid.map((n) => n.validatorPermit),
        pruning_score: byUid.map(() => 65535),
        last_update: byUid.map((n) => n.lastUpdate),
        emission: byUid.map((n) => n.emissionRao),
        dividends: byUid.map(() => 0),
        incentives: byUid.map((n) => n.incentive),
        consensus: byUid.map(() => 0),
        trust: [],
        rank: [],
        block_at_registration: byUid.map((n) => n.blockAtRegistration),
        alpha_stake: byUid.map((n) => n.stakeRao),
        tao_stake: byUid.map(() => 0),
        total_stake: byUid.map((n) => n.stakeRao),
        emission_history: [],
      })
      .toU8a();
    return u8aToHex(encoded);
  }

  // ---- blocks, events, extrinsics ---------------------------------------------------------------------------

  #makeBlock(number: number, parentHash: string, extrinsics: string[], events: Uint8Array): Block {
    const header = {
      parentHash,
      number,
      stateRoot: u8aToHex(blake2AsU8a(`state-${number}`)),
      extrinsicsRoot: u8aToHex(blake2AsU8a(u8aConcat(...extrinsics.map((e) => hexToU8a(e))))),
      digest: { logs: [] },
    };
    const codec = this.registry.createType("Header", header);
    return {
      number,
      hash: codec.hash.toHex(),
      header: { ...header, number: `0x${number.toString(16)}` },
      extrinsics,
      events,
    };
  }

  #event(palletName: string, eventName: string, fields: unknown[]): Uint8Array {
    const pallet = this.#pallet(palletName);
    const variants = this.registry.lookup.getSiType(pallet.events.unwrap().type).def.asVariant.variants;
    const variant = variants.find((v) => v.name.toString() === eventName);
    if (!variant) throw new Error(`metadata has no event ${palletName}.${eventName}`);
    const data = variant.fields.map((f, i) =>
      this.registry.createType(this.registry.createLookupType(f.type) as "Raw", fields[i] as never).toU8a(),
    );
    // EventRecord: Phase::ApplyExtrinsic(0), event, topics = []
    return u8aConcat(new Uint8Array([0, 0, 0, 0, 0, pallet.index.toNumber(), variant.index.toNumber()]), ...data, [0]);
  }

  #moduleError(palletName: string, errorName: string): unknown {
    const pallet = this.#pallet(palletName);
    const variants = this.registry.lookup.getSiType(pallet.errors.unwrap().type).def.asVariant.variants;
    const variant = variants.find((v) => v.name.toString() === errorName);
    if (!variant) throw new Error(`metadata has no error ${palletName}.${errorName}`);
    return {
      Module: { index: pallet.index.toNumber(), error: u8aToHex(new Uint8Array([variant.index.toNumber(), 0, 0, 0])) },
    };
  }

  #verifySignature(ext: Extrinsic): boolean {
    // CheckMortality signs the hash of the era's birth block (genesis for immortal transactions).
    const blockHash = ext.era.isImmortalEra
      ? this.material.genesisHash
      : this.#blocks[ext.era.asMortalEra.birth(this.blockNumber)]?.hash;
    if (!blockHash) return false;
    const payload = this.registry.createType(
      "ExtrinsicPayload",
      {
        method: ext.method.toHex(),
        era: ext.era.toHex(),
        nonce: ext.nonce.toNumber(),
        tip: ext.tip.toString(),
        mode: ext.mode.toNumber(),
        metadataHash: null,
        specVersion: this.material.specVersion,
        transactionVersion: this.material.txVersion,
        genesisHash: this.material.genesisHash,
        blockHash,
      },
      { version: 4 },
    );
    const bytes = payload.toU8a({ method: true });
    const message = bytes.length > 256 ? blake2AsU8a(bytes) : bytes;
    return signatureVerify(message, ext.signature.toU8a(), ext.signer.toString()).isValid;
  }

  /** Runs serve_axon with the pallet's rules; returns the error name or "ExtrinsicSuccess". */
  #dispatchServeAxon(signer: string, args: Record<string, string>, blockNumber: number): string {
    const netuid = Number(args.netuid);
    const neuron = netuid === this.netuid ? this.neurons.find((n) => n.hotkey === signer) : undefined;
    if (!neuron) return "HotKeyNotRegisteredInNetwork";
    const ipType = Number(args.ipType);
    const ip = BigInt(args.ip ?? "0");
    if (ipType !== 4 && ipType !== 6) return "InvalidIpType";
    if (ipType === 4 && (ip >= 0xffffffffn || ip === 0x7f000001n)) return "InvalidIpAddress";
    if (ipType === 6 && (ip === (1n << 128n) - 1n || ip === 1n)) return "InvalidIpAddress";
    if (Number(args.port) === 0) return "InvalidPort";
    const previous = neuron.axon?.block ?? 0;
    const limit = this.hyper.servingRateLimit;
    if (!(limit === 0 || previous === 0 || blockNumber - previous >= limit)) return "ServingRateLimitExceeded";
    neuron.axon = {
      block: blockNumber,
      version: Number(args.version),
      ip,
      port: Number(args.port),
      ipType,
      protocol: Number(args.protocol),
      placeholder1: Number(args.placeholder1),
      placeholder2: Number(args.placeholder2),
    };
    return "ExtrinsicSuccess";
  }

  #submit(hex: string): { block: Block; txHash: string } | { error: { code: number; message: string } } {
    let ext: Extrinsic;
    try {
      ext = this.registry.createType("Extrinsic", hex);
      if (ext.toHex() !== hex) throw new Error("extrinsic does not re-encode to the submitted bytes");
    } catch (error) {
      return {
        error: {
          code: 1002,
          message: `Verification Error: Runtime error: could not decode: ${(error as Error).message}`,
        },
      };
    }
    if (!ext.isSigned) return { error: { code: 1010, message: "Invalid Transaction: unsigned" } };
    const signer = encodeAddress(decodeAddress(ext.signer.toString()), 42);
    const signatureValid = this.#verifySignature(ext);
    const args: Record<string, string> = {};
    ext.method.meta.args.forEach((arg, i) => {
      args[arg.name.toString()] = ext.method.args[i]?.toString() ?? "";
    });
    const submission: Submission = {
      section: ext.method.section,
      method: ext.method.method,
      args,
      signer,
      signatureValid,
      outcome: "",
    };
    this.submissions.push(submission);
    if (!signatureValid)
      return { error: { code: 1010, message: "Invalid Transaction: Transaction has a bad signature" } };
    this.#nonces.set(signer, (this.#nonces.get(signer) ?? 0) + 1);
    const number = this.blockNumber + 1;
    let outcome = "UnsupportedCall";
    if (submission.section === "subtensorModule" && submission.method === "serveAxon") {
      outcome = this.#dispatchServeAxon(signer, args, number);
    }
    submission.outcome = outcome;
    const records =
      outcome === "ExtrinsicSuccess"
        ? [
            this.#event("SubtensorModule", "AxonServed", [args.netuid, signer]),
            this.#event("System", "ExtrinsicSuccess", []),
          ]
        : [this.#event("System", "ExtrinsicFailed", [this.#moduleError("SubtensorModule", outcome)])];
    const events = u8aConcat(compactToU8a(records.length), ...records);
    const parent = this.#blocks[this.#blocks.length - 1]!;
    const block = this.#makeBlock(number, parent.hash, [hex], events);
    this.#blocks.push(block);
    return { block, txHash: u8aToHex(blake2AsU8a(hexToU8a(hex))) };
  }

  // ---- JSON-RPC -----------------------------------------------------------------------------------------------

  #block(hash: unknown): Block | undefined {
    if (hash === undefined || hash === null) return this.#blocks[this.#blocks.length - 1];
    return this.#blocks.find((b) => b.hash === hash);
  }

  #runtimeVersion(): Json {
    return {
      specName: this.material.specName,
      implName: this.material.specName,
      authoringVersion: 1,
      specVersion: this.material.specVersion,
      implVersion: 1,
      // Only the Metadata API (v2): @polkadot/api then fetches metadata through state_call, as against a real node.
      apis: [[u8aToHex(blake2AsU8a("Metadata", 64)), 2]],
      transactionVersion: this.material.txVersion,
      stateVersion: 1,
    };
  }

  #send(socket: WebSocket, message: Json): void {
    if (socket.readyState === socket.OPEN) socket.send(JSON.stringify({ jsonrpc: "2.0", ...message }));
  }

  #notify(socket: WebSocket, method: string, subscription: string, result: unknown): void {
    this.#send(socket, { method, params: { subscription, result } });
  }

  #pushStorage(socket: WebSocket, id: string, keys: string[]): void {
    const head = this.#block(undefined)!;
    const table = this.#storageTable(head);
    this.#notify(socket, "state_storage", id, {
      block: head.hash,
      changes: keys.map((k) => [k, table.get(k) ?? null]),
    });
  }

  #onMessage(socket: WebSocket, text: string): void {
    let request: { id?: number | string; method?: string; params?: unknown[] };
    try {
      request = JSON.parse(text);
    } catch {
      this.#send(socket, { id: null, error: { code: -32700, message: "Parse error" } });
      return;
    }
    const { id, method = "", params = [] } = request;
    this.calls.set(method, (this.calls.get(method) ?? 0) + 1);
    const intercepted = this.intercept(method, params);
    if (intercepted) {
      if ("hang" in intercepted) return;
      this.#send(socket, { id, ...intercepted });
      return;
    }
    try {
      const reply = this.#handle(socket, method, params);
      if ("error" in reply) {
        this.#send(socket, { id, error: reply.error });
      } else {
        this.#send(socket, { id, result: reply.result ?? null });
        reply.after?.();
      }
    } catch (error) {
      this.#send(socket, { id, error: { code: -32603, message: (error as Error).message } });
    }
  }

  #handle(
    socket: WebSocket,
    method: string,
    params: unknown[],
  ): { result: unknown; after?: () => void } | { error: { code: number; message: string } } {
    const head = this.#block(undefined)!;
    switch (method) {
      case "rpc_methods":
        return { result: { version: 1, methods: [...SUPPORTED] } };
      case "system_chain":
        return { result: this.material.chainName };
      case "system_name":
        return { result: "loopback-subtensor" };
      case "system_version":
        return { result: "0.0.0" };
      case "system_properties":
        return { result: { ss58Format: 42, tokenDecimals: 9, tokenSymbol: "TAO" } };
      case "system_health":
        return { result: { peers: 0, isSyncing: false, shouldHavePeers: false } };
      case "system_accountNextIndex":
        return { result: this.#nonces.get(encodeAddress(decodeAddress(String(params[0])), 42)) ?? 0 };
      case "state_getRuntimeVersion":
        return { result: this.#runtimeVersion() };
      case "state_getMetadata":
        return { result: this.material.metadataHex };
      case "chain_getBlockHash": {
        const n = params[0] === undefined || params[0] === null ? head.number : Number(params[0]);
        return { result: this.#blocks[n]?.hash ?? null };
      }
      case "chain_getHeader":
        return { result: this.#block(params[0])?.header ?? null };
      case "chain_getFinalizedHead":
        return { result: head.hash };
      case "chain_getBlock": {
        const block = this.#block(params[0]);
        return {
          result: block
            ? { block: { header: block.header, extrinsics: block.extrinsics }, justifications: null }
            : null,
        };
      }
      case "state_getStorage": {
        const block = this.#block(params[1]);
        if (!block) return { error: { code: 4003, message: "Client error: UnknownBlock" } };
        return { result: this.#storageTable(block).get(String(params[0])) ?? null };
      }
      case "state_queryStorageAt": {
        const block = this.#block(params[1])!;
        const table = this.#storageTable(block);
        const keys = params[0] as string[];
        return { result: [{ block: block.hash, changes: keys.map((k) => [k, table.get(k) ?? null]) }] };
      }
      case "state_subscribeStorage": {
        const sub = String(this.#nextSubscription++);
        const keys = params[0] as string[];
        this.#storageSubs.set(sub, { socket, keys });
        return { result: sub, after: () => this.#pushStorage(socket, sub, keys) };
      }
      case "state_unsubscribeStorage":
        return { result: this.#storageSubs.delete(String(params[0])) };
      case "state_subscribeRuntimeVersion": {
        const sub = String(this.#nextSubscription++);
        return { result: sub, after: () => this.#notify(socket, "state_runtimeVersion", sub, this.#runtimeVersion()) };
      }
      case "state_unsubscribeRuntimeVersion":
      case "author_unwatchExtrinsic":
        return { result: true };
      case "state_call": {
        const [name, data] = params as [string, string];
        const bytes = hexToU8a(data);
        const netuid = bytes.length >= 2 ? bytes[0]! | (bytes[1]! << 8) : -1;
        if (name === "Metadata_metadata_versions")
          return { result: u8aToHex(this.registry.createType("Vec<u32>", [14]).toU8a()) };
        if (name === "Metadata_metadata_at_version") {
          const version = bytes.length === 4 ? new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true) : -1;
          if (version !== 14) return { result: "0x00" };
          const raw = hexToU8a(this.material.metadataHex);
          return { result: u8aToHex(u8aConcat([1], compactToU8a(raw.length), raw)) };
        }
        if (name === "NeuronInfoRuntimeApi_get_neurons_lite") return { result: this.encodeNeuronsLite(netuid) };
        if (name === "SubnetInfoRuntimeApi_get_subnet_state") return { result: this.encodeSubnetState(netuid) };
        return { error: { code: 1002, message: `Execution failed: Exported method ${name} is not found` } };
      }
      case "author_submitExtrinsic": {
        const outcome = this.#submit(String(params[0]));
        return "error" in outcome ? outcome : { result: outcome.txHash };
      }
      case "author_submitAndWatchExtrinsic": {
        const outcome = this.#submit(String(params[0]));
        if ("error" in outcome) return outcome;
        const sub = String(this.#nextSubscription++);
        const update = (status: unknown) => this.#notify(socket, "author_extrinsicUpdate", sub, status);
        return {
          result: sub,
          after: () => {
            update("ready");
            update({ inBlock: outcome.block.hash });
          },
        };
      }
      default:
        return { error: { code: -32601, message: `Method not found: ${method}` } };
    }
  }
}

const SUPPORTED = [
  "rpc_methods",
  "system_chain",
  "system_name",
  "system_version",
  "system_properties",
  "system_health",
  "system_accountNextIndex",
  "state_getRuntimeVersion",
  "state_getMetadata",
  "state_getStorage",
  "state_queryStorageAt",
  "state_subscribeStorage",
  "state_unsubscribeStorage",
  "state_subscribeRuntimeVersion",
  "state_unsubscribeRuntimeVersion",
  "state_call",
  "chain_getBlockHash",
  "chain_getHeader",
  "chain_getFinalizedHead",
  "chain_getBlock",
  "author_submitExtrinsic",
  "author_submitAndWatchExtrinsic",
  "author_unwatchExtrinsic",
];
