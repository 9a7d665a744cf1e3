// Per-source-address admission, before any expensive work: connection and pre-auth budgets, a failure budget whose
// exhaustion sheds the address (its connections are closed, not answered), and a fast lane for addresses that
// recently authenticated as a permitted validator. Everything here is map lookups; nothing waits.
import { isIPv6 } from "node:net";

export interface AdmissionPolicy {
  /** Open connections one address may hold. */
  maxConnectionsPerAddress: number;
  /** Requests of one address between arrival and a verified signature, at once. */
  maxPreAuthPerAddress: number;
  /** Refused or forged requests (400/401/403 before the signature is good, broken framing) an address may send at once… */
  failureBurst: number;
  /** …and per second after that; past the budget the address is shed. */
  failureRefillPerSecond: number;
  /** How long a shed address has its connections closed on sight. */
  shedForS: number;
  /** How long an address keeps the fast lane after its last request that authenticated as a permitted validator. */
  fastLaneTtlS: number;
}

export type ShedReason =
  | "address_connections"
  | "total_connections"
  | "pre_auth"
  | "failures"
  | "pipelining"
  | "header_deadline"
  | "request_deadline";

interface AddressState {
  connections: number;
  preAuth: number;
  failureTokens: number;
  failureUpdatedMs: number;
  shedUntilMs: number;
}

const MAX_TRACKED = 50_000;

export class AddressAdmission {
  readonly policy: AdmissionPolicy;
  readonly #now: () => number;
  readonly #addresses = new Map<string, AddressState>();
  /** `${address} ${hotkey}` and bare `address` → fast lane expiry; insertion order = refresh order. */
  readonly #fast = new Map<string, number>();
  readonly #shedCounts = new Map<ShedReason, number>();
  #connections = 0;

  constructor(policy: AdmissionPolicy, nowMs: () => number = () => performance.now()) {
    this.policy = policy;
    this.#now = nowMs;
  }

  /** Open connections across all addresses. */
  get connections(): number {
    return this.#connections;
  }

  /** Why a new connection from `address` would be refused now (shed, over its budget, server full); changes nothing. */
  refusal(address: string, maxTotal: number): ShedReason | undefined {
    const fast = this.hasFastLane(address);
    const s = this.#addresses.get(address);
    if (!fast && s !== undefined && this.#isShed(s)) return "failures";
    if (s !== undefined && s.connections >= this.policy.maxConnectionsPerAddress) return "address_connections";
    // Validators that recently authenticated get in even when strangers have filled the server.
    if (!fast && this.#connections >= maxTotal) return "total_connections";
    return undefined;
  }

  /** Admits a new connection from `address` unless it is shed or over its budget, or the server is full. */
  connect(address: string, maxTotal: number): ShedReason | undefined {
    const refused = this.refusal(address, maxTotal);
    if (refused) return this.#shed(refused);
    const s = this.#state(address);
    s.connections++;
    this.#connections++;
    return undefined;
  }

  disconnect(address: string): void {
    const s = this.#addresses.get(address);
    if (!s) return;
    s.connections = Math.max(0, s.connections - 1);
    this.#connections = Math.max(0, this.#connections - 1);
    this.#forgetIfIdle(address, s);
  }

  /** True while `address` may not even be answered (over its failure budget, and not a recent validator). */
  isShed(address: string): boolean {
    const s = this.#addresses.get(address);
    return s !== undefined && this.#isShed(s) && !this.hasFastLane(address);
  }

  /** Takes a pre-auth slot; false when the address already has its budget of unverified requests in flight. */
  beginPreAuth(address: string): boolean {
    const s = this.#state(address);
    if (s.preAuth >= this.policy.maxPreAuthPerAddress && !this.hasFastLane(address)) {
      this.#shed("pre_auth");
      return false;
    }
    s.preAuth++;
    return true;
  }

  endPreAuth(address: string): void {
    const s = this.#addresses.get(address);
    if (!s) return;
    s.preAuth = Math.max(0, s.preAuth - 1);
    this.#forgetIfIdle(address, s);
  }

  /** Charges one failure; returns true when the address is now shed (fast-lane addresses never are). */
  failed(address: string): boolean {
    const s = this.#state(address);
    const now = this.#now();
    const { failureBurst, failureRefillPerSecond, shedForS } = this.policy;
    s.failureTokens = Math.min(
      failureBurst,
      s.failureTokens + ((now - s.failureUpdatedMs) / 1000) * failureRefillPerSecond,
    );
    s.failureUpdatedMs = now;
    s.failureTokens -= 1;
    if (s.failureTokens < 0 && !this.hasFastLane(address)) {
      if (s.shedUntilMs <= now) {
        s.shedUntilMs = now + shedForS * 1000;
        // The budget starts empty when the sentence ends, so a persistent abuser is shed again after a few tries.
        s.failureTokens = 0;
        s.failureUpdatedMs = s.shedUntilMs;
      }
      return true;
    }
    return false;
  }

  /** Counts a connection or request closed unanswered, by reason (for metrics). */
  noteShed(reason: ShedReason): void {
    this.#shed(reason);
  }

  /** `address` just sent a request that verified as `hotkey`, a permitted validator. */
  authenticated(address: string, hotkey: string): void {
    const until = this.#now() + this.policy.fastLaneTtlS * 1000;
    for (const key of [address, `${address} ${hotkey}`]) {
      this.#fast.delete(key);
      this.#fast.set(key, until);
    }
    while (this.#fast.size > MAX_TRACKED) this.#fast.delete(this.#fast.keys().next().value as string);
  }

  /** Whether `address` (as `hotkey`, when given) authenticated as a permitted validator within the TTL. */
  hasFastLane(address: string, hotkey?: string): boolean {
    const key = hotkey === undefined ? address : `${address} ${hotkey}`;
    const until = this.#fast.get(key);
    if (until === undefined) return false;
    if (until > this.#now()) return true;
    this.#fast.delete(key);
    return false;
  }

  shedCounts(): ReadonlyMap<ShedReason, number> {
    return this.#shedCounts;
  }

  #shed(reason: ShedReason): ShedReason {
    this.#shedCounts.set(reason, (this.#shedCounts.get(reason) ?? 0) + 1);
    return reason;
  }

  #isShed(s: AddressState): boolean {
    return s.shedUntilMs > this.#now();
  }

  #state(address: string): AddressState {
    let s = this.#addresses.get(address);
    if (!s) {
      if (this.#addresses.size >= MAX_TRACKED) this.#prune();
      s = {
        connections: 0,
        preAuth: 0,
        failureTokens: this.policy.failureBurst,
        failureUpdatedMs: this.#now(),
        shedUntilMs: 0,
      };
      this.#addresses.set(address, s);
    }
    return s;
  }

  #forgetIfIdle(address: string, s: AddressState): void {
    if (s.connections > 0 || s.preAuth > 0 || this.#isShed(s)) return;
    const refilled = s.failureTokens + ((this.#now() - s.failureUpdatedMs) / 1000) * this.policy.failureRefillPerSecond;
    if (refilled >= this.policy.failureBurst) this.#addresses.delete(address);
  }

  #prune(): void {
    for (const [address, s] of this.#addresses) this.#forgetIfIdle(address, s);
  }
}

/**
 * The budget key of a peer: the IPv4 address itself, or the /64 prefix of an IPv6 one (one host usually owns a whole
 * /64, so per-address budgets on full IPv6 addresses would be no budget at all).
 */
export function addressKey(ip: string | undefined): string {
  if (!ip) return "unknown";
  const v4 = ip.startsWith("::ffff:") ? ip.slice(7) : ip;
  if (!isIPv6(v4)) return v4;
  const [head = "", tail = ""] = v4.split("::");
  const left = head === "" ? [] : head.split(":");
  const right = tail === "" ? [] : tail.split(":");
  const groups = v4.includes("::") ? [...left, ...Array(8 - left.length - right.length).fill("0"), ...right] : left;
  return `${groups
    .slice(0, 4)
    .map((g) => Number.parseInt(g || "0", 16).toString(16))
    .join(":")}::/64`;
}
