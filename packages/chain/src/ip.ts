// Axon IP addresses as subtensor stores them: a u128 plus ip_type 4/6. The conversion back to text follows the
// Python SDK (`netaddr.IPAddress(int)`): the magnitude decides v4 vs v6, ip_type is ignored.
import { isIPv4, isIPv6 } from "node:net";

const V4_MAX = 1n << 32n;
const U128_MAX = (1n << 128n) - 1n;

export interface ChainIp {
  ip: bigint;
  ipType: 4 | 6;
}

/** Parses a literal IPv4/IPv6 address (never a host name) into the on-chain form. */
export function parseIp(text: string): ChainIp {
  const value = text.trim().replace(/^\[(.*)\]$/, "$1");
  if (isIPv4(value)) {
    const ip = value.split(".").reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
    return { ip, ipType: 4 };
  }
  if (isIPv6(value) && !value.includes("%")) return { ip: parseIpv6(value), ipType: 6 };
  throw new Error(`'${text}' is not a literal IPv4 or IPv6 address; pass the miner's public IP (e.g. its Elastic IP)`);
}

function parseIpv6(value: string): bigint {
  let text = value;
  // Embedded dotted quad (::ffff:1.2.3.4): turn it into two hex groups.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted?.[1]) {
    const v4 = parseIp(dotted[1]).ip;
    text = `${text.slice(0, dotted.index)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head = "", tail] = text.split("::");
  const headGroups = head ? head.split(":") : [];
  const tailGroups = tail === undefined ? [] : tail ? tail.split(":") : [];
  const missing = 8 - headGroups.length - tailGroups.length;
  const groups = tail === undefined ? headGroups : [...headGroups, ...Array<string>(missing).fill("0"), ...tailGroups];
  return groups.reduce((acc, group) => (acc << 16n) | BigInt(Number.parseInt(group, 16)), 0n);
}

/** u128 -> text, as `str(netaddr.IPAddress(int))` prints it. 0 means "not serving" and prints 0.0.0.0. */
export function ipToString(ip: bigint): string {
  if (ip < 0n || ip > U128_MAX) throw new Error(`ip ${ip} is outside the u128 range`);
  if (ip < V4_MAX) return [24n, 16n, 8n, 0n].map((s) => ((ip >> s) & 0xffn).toString()).join(".");
  if (ip >> 32n === 0xffffn) return `::ffff:${ipToString(ip & 0xffffffffn)}`;
  const groups = Array.from({ length: 8 }, (_, i) => Number((ip >> BigInt((7 - i) * 16)) & 0xffffn));
  // RFC 5952: compress the longest run (length >= 2) of zero groups, the first one on ties.
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(":");
  const left = hex.slice(0, bestStart).join(":");
  const right = hex.slice(bestStart + bestLength).join(":");
  return `${left}::${right}`;
}

/** The chain's own validity rule (subtensor `is_valid_ip_address`), checked before we spend a transaction. */
export function chainIpProblem({ ip, ipType }: ChainIp): string | undefined {
  if (ipType === 4) {
    if (ip >= 0xffffffffn) return "an IPv4 address must be below 255.255.255.255";
    if (ip === 0x7f000001n) return "127.0.0.1 is rejected by the chain; use the public address";
  } else {
    if (ip === U128_MAX) return "ffff:...:ffff is rejected by the chain";
    if (ip === 1n) return "::1 is rejected by the chain; use the public address";
  }
  return undefined;
}
