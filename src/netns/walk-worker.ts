/** The namespace walk's worker thread: walk-thread.ts for each request, the tables and expositions transferred. */
import { parentPort } from 'node:worker_threads';
import { walkOnThisThread } from './walk-thread.js';
import type { WalkReply, WalkRequest } from './walk.js';

parentPort!.on('message', async (req: WalkRequest) => {
  const transfer: ArrayBuffer[] = [];
  let reply: WalkReply;
  try {
    reply = await walkOnThisThread(req, transfer);
  } catch (e) {
    parentPort!.postMessage({ id: req.id, ok: false, message: (e as Error)?.message ?? String(e) } satisfies WalkReply);
    process.exit(1); // stranded in another namespace, or no libc: this thread is of no further use
  }
  parentPort!.postMessage(reply, transfer);
});
