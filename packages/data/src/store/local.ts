// Blobs as files under a directory; keys are relative paths.
import { randomBytes } from "node:crypto";
import { access, mkdir, readdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname, join, resolve, sep } from "node:path";
import type { BlobStore } from "./blobs.ts";

export class LocalBlobStore implements BlobStore {
  readonly location: string;
  constructor(readonly root: string) {
    this.location = resolve(root);
  }

  path(key: string): string {
    const p = resolve(this.location, key);
    if (!p.startsWith(this.location + sep)) throw new Error(`key ${key} leaves ${this.location}`);
    return p;
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      return new Uint8Array(await readFile(this.path(key)));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw error;
    }
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    const p = this.path(key);
    await mkdir(dirname(p), { recursive: true });
    const tmp = `${p}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
    await writeFile(tmp, bytes);
    await rename(tmp, p);
  }

  async has(key: string): Promise<boolean> {
    return access(this.path(key)).then(
      () => true,
      () => false,
    );
  }

  async list(prefix: string): Promise<string[]> {
    const out: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries: import("node:fs").Dirent[];
      try {
        entries = await readdir(join(this.location, dir), { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        const key = dir ? `${dir}/${e.name}` : e.name;
        if (e.isDirectory()) await walk(key);
        else if (!e.name.includes(".tmp-") && key.startsWith(prefix)) out.push(key);
      }
    };
    // Walk from the deepest directory the prefix names.
    const slash = prefix.lastIndexOf("/");
    await walk(slash >= 0 ? prefix.slice(0, slash) : "");
    return out;
  }
}
