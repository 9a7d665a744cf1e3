// Model versions: the NATIX model card wants plain "X.Y.Z"; the date a version was built travels beside it.
import { z } from "zod";

const SEMVER = /^(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})$/;

export const SemVer = z.string().regex(SEMVER, 'version must be "X.Y.Z" (three non-negative integers, no prefix)');
export type SemVer = z.infer<typeof SemVer>;

export interface VersionParts {
  major: number;
  minor: number;
  patch: number;
}

export function parseVersion(version: string): VersionParts {
  const m = SEMVER.exec(version);
  if (!m) throw new Error(`invalid model version '${version}': expected X.Y.Z, e.g. 1.4.0`);
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]) };
}

export function compareVersions(a: string, b: string): number {
  const x = parseVersion(a);
  const y = parseVersion(b);
  return x.major - y.major || x.minor - y.minor || x.patch - y.patch;
}

/** The next version after `current` (minor bump by default: every retrained model is a new minor). */
export function nextVersion(current: string | undefined, part: keyof VersionParts = "minor"): string {
  if (!current) return "1.0.0";
  const v = parseVersion(current);
  if (part === "major") return `${v.major + 1}.0.0`;
  if (part === "minor") return `${v.major}.${v.minor + 1}.0`;
  return `${v.major}.${v.minor}.${v.patch + 1}`;
}

/** A version with the UTC date it was built, e.g. "1.4.0+20261122" (semver build metadata; never sent to NATIX). */
export function versionLabel(version: string, builtAt: Date): string {
  parseVersion(version);
  return `${version}+${builtAt.toISOString().slice(0, 10).replaceAll("-", "")}`;
}
