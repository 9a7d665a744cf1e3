// Progress for long operations: a bar redrawn in place on a TTY, a line every few seconds otherwise.

export interface ProgressStream {
  isTTY?: boolean;
  write(chunk: string): unknown;
}

export class ProgressBar {
  #lastLine = 0;
  #lastLabel = "";
  #started = Date.now();

  constructor(
    private readonly stream: ProgressStream = process.stderr,
    private readonly intervalMs = 3000,
  ) {}

  update(label: string, done: number, total: number, detail = ""): void {
    if (label !== this.#lastLabel) {
      if (this.stream.isTTY && this.#lastLabel) this.stream.write("\n");
      this.#lastLabel = label;
      this.#started = Date.now();
      this.#lastLine = 0;
    }
    const frac = total > 0 ? Math.min(1, done / total) : 0;
    const elapsed = (Date.now() - this.#started) / 1000;
    const eta = frac > 0 && frac < 1 ? ` eta ${Math.ceil((elapsed / frac) * (1 - frac))}s` : "";
    const text = `${label.padEnd(14)} ${String(done).padStart(5)}/${total} ${(frac * 100).toFixed(0).padStart(3)}%${eta}${detail ? `  ${detail}` : ""}`;
    if (this.stream.isTTY) {
      const width = 24;
      const filled = Math.round(frac * width);
      this.stream.write(`\r\x1b[2K[${"#".repeat(filled)}${".".repeat(width - filled)}] ${text}`);
      return;
    }
    const now = Date.now();
    if (done >= total || now - this.#lastLine >= this.intervalMs) {
      this.#lastLine = now;
      this.stream.write(`${text}\n`);
    }
  }

  done(message?: string): void {
    if (this.stream.isTTY && this.#lastLabel) this.stream.write("\n");
    this.#lastLabel = "";
    if (message) this.stream.write(`${message}\n`);
  }
}
