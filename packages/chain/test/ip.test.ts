import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { chainIpProblem, ipToString, parseIp } from "../src/ip.ts";

describe("axon IP encoding", () => {
  it("encodes IPv4 as the SDK's integer (198.51.100.23 -> 3325256727)", () => {
    assert.deepEqual(parseIp("198.51.100.23"), { ip: 3325256727n, ipType: 4 });
    assert.equal(ipToString(3325256727n), "198.51.100.23");
  });

  it("encodes IPv6 as the 128-bit big-endian value and prints it compressed", () => {
    const { ip, ipType } = parseIp("2001:db8::8a2e:370:7334");
    assert.equal(ipType, 6);
    assert.equal(ip, 0x20010db80000000000008a2e03707334n);
    assert.equal(ipToString(ip), "2001:db8::8a2e:370:7334");
    assert.equal(parseIp("[2001:db8:0:0:1:0:0:1]").ip, 0x20010db8000000000001000000000001n);
    assert.equal(ipToString(0x20010db8000000000001000000000001n), "2001:db8::1:0:0:1");
    assert.equal(ipToString(parseIp("::ffff:198.51.100.23").ip), "::ffff:198.51.100.23");
  });

  it("decides v4/v6 by magnitude, like netaddr, ignoring ip_type", () => {
    assert.equal(ipToString(0n), "0.0.0.0");
    assert.equal(ipToString(1n << 32n), "::1:0:0");
  });

  it("rejects host names and out-of-range values", () => {
    assert.throws(() => parseIp("miner.example.com"), /not a literal IPv4 or IPv6/);
    assert.throws(() => parseIp("256.1.1.1"), /not a literal/);
    assert.throws(() => ipToString(1n << 128n), /u128/);
  });

  it("applies the chain's validity rule", () => {
    assert.match(chainIpProblem(parseIp("127.0.0.1")) ?? "", /127\.0\.0\.1/);
    assert.match(chainIpProblem(parseIp("::1")) ?? "", /::1/);
    assert.equal(chainIpProblem(parseIp("198.51.100.23")), undefined);
  });
});
