/**
 * bcrypt comparisons off the event loop: a few worker threads (one per spare CPU, at least one, at most four),
 * started on the first check and left idle (unref'd) when there is nothing to check, and a bounded queue: a
 * comparison asked for while `maxPending` are queued or running is answered 'busy' at once, so a flood of wrong
 * passwords costs a bounded amount of CPU and memory and never blocks the requests that need no check.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

interface Job {
  id: number;
  password: string;
  hash: string;
  resolve: (ok: boolean | 'busy') => void;
  timer: NodeJS.Timeout;
}

export class PasswordChecker {
  private readonly workers: { worker: Worker; job: Job | undefined }[] = [];
  private readonly queue: Job[] = [];
  private running = 0;
  private nextId = 1;

  constructor(
    private readonly maxPending: number,
    private readonly threads = Math.max(1, Math.min(4, availableParallelism() - 1)),
  ) {}

  /**
   * Whether password matches the bcrypt hash; 'busy' when maxPending checks are already waiting or running, or
   * when this one could not start within maxWaitMs (the client's request deadline).
   */
  compare(password: string, hash: string, maxWaitMs: number): Promise<boolean | 'busy'> {
    if (this.queue.length + this.running >= this.maxPending) return Promise.resolve('busy');
    return new Promise((resolve) => {
      const job: Job = {
        id: this.nextId++,
        password,
        hash,
        resolve,
        timer: setTimeout(() => {
          const at = this.queue.indexOf(job);
          if (at < 0) return; // started meanwhile
          this.queue.splice(at, 1);
          resolve('busy');
        }, maxWaitMs),
      };
      this.queue.push(job);
      this.pump();
    });
  }

  private pump(): void {
    while (this.queue.length) {
      let slot = this.workers.find((w) => !w.job);
      if (!slot && this.workers.length < this.threads) slot = this.spawn();
      if (!slot) return;
      const job = this.queue.shift()!;
      clearTimeout(job.timer);
      slot.job = job;
      this.running++;
      slot.worker.ref();
      slot.worker.postMessage({ id: job.id, password: job.password, hash: job.hash });
    }
  }

  private spawn(): { worker: Worker; job: Job | undefined } {
    const slot: { worker: Worker; job: Job | undefined } = { worker: new Worker(new URL('./password-worker.js', import.meta.url)), job: undefined };
    const done = (ok: boolean) => {
      const job = slot.job;
      if (!job) return;
      slot.job = undefined;
      this.running--;
      slot.worker.unref();
      job.resolve(ok);
      this.pump();
    };
    slot.worker.on('message', (m: { ok: boolean }) => done(m.ok));
    // a worker that dies refuses its comparison and is replaced by the next pump
    slot.worker.on('error', () => undefined);
    slot.worker.on('exit', () => {
      this.workers.splice(this.workers.indexOf(slot), 1);
      done(false);
    });
    slot.worker.unref();
    this.workers.push(slot);
    return slot;
  }

  async close(): Promise<void> {
    for (const q of this.queue.splice(0)) {
      clearTimeout(q.timer);
      q.resolve('busy');
    }
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
  }
}
