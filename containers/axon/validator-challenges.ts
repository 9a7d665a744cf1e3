// Subnet pulse at the axon (spec §4.7): challenges answered per permitted validator per hour. The total feeds the
// ValidatorChallenges metric (the silence alarm); the per-validator counts go to the log once an hour, where one
// line says which validators still challenge this miner.
export class ValidatorChallengeCounter {
  #hour: number;
  #counts = new Map<string, number>();
  #sinceSample = 0;

  constructor(private readonly now: () => number = Date.now) {
    this.#hour = Math.floor(now() / 3_600_000);
  }

  /** Records one answered challenge; returns the finished hour's counts when this one starts a new hour. */
  record(hotkey: string): { hour: string; counts: Record<string, number> } | undefined {
    const finished = this.#roll();
    this.#counts.set(hotkey, (this.#counts.get(hotkey) ?? 0) + 1);
    this.#sinceSample++;
    return finished;
  }

  /** Challenges since the last call (the metric publisher's interval). */
  takeSinceLastSample(): number {
    const n = this.#sinceSample;
    this.#sinceSample = 0;
    return n;
  }

  /** The current hour so far. */
  current(): { hour: string; counts: Record<string, number> } {
    return { hour: new Date(this.#hour * 3_600_000).toISOString(), counts: Object.fromEntries(this.#counts) };
  }

  #roll(): { hour: string; counts: Record<string, number> } | undefined {
    const hour = Math.floor(this.now() / 3_600_000);
    if (hour === this.#hour) return undefined;
    const done = this.current();
    this.#hour = hour;
    this.#counts = new Map();
    return done;
  }
}
