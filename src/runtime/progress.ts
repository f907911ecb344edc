/** Training progress for a terminal (one updating line) or a log (one line per epoch). Node built-ins only. */

export interface Out {
  write(s: string): unknown;
  isTTY?: boolean;
}

function clock(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "--:--";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

export function formatRecord(record: Record<string, number>): string {
  return Object.entries(record)
    .filter(([k]) => k !== "epoch")
    .map(([k, v]) => `${k} ${v.toFixed(4)}`)
    .join("  ");
}

export class Progress {
  private epochStart = 0;
  private lastDraw = 0;
  constructor(
    private readonly out: Out,
    private readonly epochs: number,
  ) {}

  startEpoch(): void {
    this.epochStart = performance.now();
    this.lastDraw = 0;
  }

  /** After each batch: epoch, batch, loss, the task's metric, samples/s and time left in the epoch. */
  batch(epoch: number, done: number, total: number, samples: number, loss: number, metric: [string, number]): void {
    if (!this.out.isTTY) return;
    const now = performance.now();
    if (now - this.lastDraw < 100 && done < total) return;
    this.lastDraw = now;
    const secs = (now - this.epochStart) / 1000;
    const rate = samples / Math.max(secs, 1e-9);
    const width = 24;
    const filled = total > 0 ? Math.min(width, Math.round((width * done) / total)) : 0;
    const eta = total > 0 ? (secs / Math.max(done, 1)) * (total - done) : NaN;
    this.out.write(
      `\r\u001b[Kepoch ${epoch}/${this.epochs} [${"=".repeat(filled)}${" ".repeat(width - filled)}] ${done}/${total} loss ${loss.toFixed(4)} ${metric[0]} ${metric[1].toFixed(4)} ${Math.round(rate)} samples/s ETA ${clock(eta)}`,
    );
  }

  endEpoch(record: Record<string, number>, samples: number): void {
    const secs = (performance.now() - this.epochStart) / 1000;
    const clear = this.out.isTTY ? "\r\u001b[K" : "";
    this.out.write(
      `${clear}epoch ${record["epoch"]}/${this.epochs}  ${formatRecord(record)}  (${secs.toFixed(1)} s, ${Math.round(samples / Math.max(secs, 1e-9))} samples/s)\n`,
    );
  }

  message(s: string): void {
    this.out.write(`${this.out.isTTY ? "\r\u001b[K" : ""}${s}\n`);
  }
}

/**
 * Text from files (labels, names, values in messages) as a terminal may show it: control characters, line and
 * paragraph separators and bidirectional overrides written as \u{..}, so a label cannot move the cursor, recolour
 * the screen or reorder what follows it.
 */
export function printable(s: string): string {
  return s.replace(
    /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g,
    (c) => `\\u{${c.charCodeAt(0).toString(16)}}`,
  );
}
