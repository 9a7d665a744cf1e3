// The large-image lane's decodes run on libvips' worker threads (sharp): a 5.9 MB JPEG holds one of them 66-150 ms of
// CPU even with shrink-on-load. On a host whose cores are all busy, that thread takes its turns beside the event loop
// and inference, and every validator's request in flight waits its share. Linux schedules threads, not processes:
// setpriority on a thread id lowers that thread alone, so libvips' workers can run at a low priority (only taking CPU
// the rest of the axon leaves) while the event loop, the signature workers and onnxruntime keep theirs. Validators'
// 224×224 JPEGs are decoded on the event loop (the WebAssembly decoder) and never wait for these threads, except when
// the loop is saturated and hands them to sharp.
// Raising a thread's niceness needs no privilege, lowering it back does: a thread, once lowered, stays lowered.
import { readdirSync, readFileSync } from "node:fs";
import { setPriority } from "node:os";

/** The name libvips gives its worker threads (/proc/<pid>/task/<tid>/comm). */
export const LIBVIPS_WORKER = "libvips worker";

export interface ThreadTable {
  /** Thread ids of this process. */
  ids(): string[];
  /** The thread's name, or undefined when it is gone. */
  name(id: string): string | undefined;
  /** setpriority(PRIO_PROCESS, tid, nice): on Linux, that thread only. */
  setNice(id: string, nice: number): void;
}

/** This process's threads from /proc/self/task; an empty table where there is no /proc (not Linux). */
export const procThreads: ThreadTable = {
  ids: () => {
    try {
      return readdirSync("/proc/self/task");
    } catch {
      return [];
    }
  },
  name: (id) => {
    try {
      return readFileSync(`/proc/self/task/${id}/comm`, "utf8").trim();
    } catch {
      return undefined;
    }
  },
  setNice: (id, nice) => setPriority(Number(id), nice),
};

/**
 * Keeps libvips' worker threads at `nice`. libvips starts workers as pipelines need them, so `apply` is called around
 * every large decode and lowers the workers it has not lowered yet (a readdir and a name read per thread: ~0.1 ms).
 */
export class DecodeThreadPriority {
  readonly #seen = new Set<string>();
  #lowered = 0;
  #failed = 0;

  constructor(
    readonly nice: number,
    private readonly threads: ThreadTable = procThreads,
  ) {}

  /** Lowers every libvips worker not lowered yet; returns how many it lowered now. Never throws. */
  apply(): number {
    if (this.nice === 0) return 0;
    let lowered = 0;
    for (const id of this.threads.ids()) {
      if (this.#seen.has(id)) continue;
      // Other threads' names are read again next time: a thread just started may not have taken its name yet.
      if (this.threads.name(id) !== LIBVIPS_WORKER) continue;
      this.#seen.add(id);
      try {
        this.threads.setNice(id, this.nice);
        lowered++;
      } catch {
        this.#failed++; // gone meanwhile, or a platform without per-thread priorities: the decode runs as before
      }
    }
    this.#lowered += lowered;
    return lowered;
  }

  get stats(): { lowered: number; failed: number } {
    return { lowered: this.#lowered, failed: this.#failed };
  }
}
