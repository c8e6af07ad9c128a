/**
 * A connection load with known byte counts, run inside a test's namespace:
 *
 *   node load.js PORT N [LONG_MS]
 *
 * N connections to a server on 127.0.0.1:PORT, at most 8 at a time. Connection i sends 1000 + 37 i bytes and
 * the server answers 5000 + 101 i bytes, then the server closes and the client closes after reading everything
 * (a graceful close on both sides). With LONG_MS, each connection instead trickles its bytes in 10 chunks over
 * LONG_MS milliseconds (it spans several gathers). Prints {"connections","clientSent","serverSent"} when done.
 */
import { createConnection, createServer, type Socket } from 'node:net';
import { sleep } from './wait.js';

const [port, n, longMs] = process.argv.slice(2).map(Number);
const clientBytes = (i: number) => 1000 + 37 * i;
const serverBytes = (i: number) => 5000 + 101 * i;

async function send(s: Socket, total: number, spreadMs: number): Promise<void> {
  const chunks = spreadMs > 0 ? 10 : 1;
  for (let c = 0; c < chunks; c++) {
    const size = Math.floor(total / chunks) + (c === chunks - 1 ? total % chunks : 0);
    if (!s.write(Buffer.alloc(size, 120))) await new Promise((r) => s.once('drain', r));
    if (spreadMs > 0) await sleep(spreadMs / chunks);
  }
}

const server = createServer((s) => {
  let got = 0;
  let index = -1;
  s.on('data', async (d) => {
    if (index < 0) index = d.readUInt32LE(0); // the client's first 4 bytes say which connection it is
    got += d.length;
    if (got === clientBytes(index)) {
      await send(s, serverBytes(index), longMs || 0);
      s.end();
    }
  });
});
server.listen(port, '127.0.0.1', async () => {
  let next = 0;
  let clientSent = 0;
  let serverSent = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      const s = createConnection(port, '127.0.0.1');
      await new Promise((r) => s.once('connect', r));
      const head = Buffer.alloc(4);
      head.writeUInt32LE(i);
      s.write(head);
      const done = new Promise<number>((resolve) => {
        let got = 0;
        s.on('data', (d) => (got += d.length));
        s.on('end', () => {
          s.end();
          resolve(got);
        });
      });
      await send(s, clientBytes(i) - 4, longMs || 0);
      const got = await done;
      if (got !== serverBytes(i)) throw new Error(`connection ${i}: got ${got} bytes, expected ${serverBytes(i)}`);
      await new Promise((r) => s.once('close', r));
      clientSent += clientBytes(i);
      serverSent += serverBytes(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, n) }, worker));
  server.close();
  process.stdout.write(`${JSON.stringify({ connections: n, clientSent, serverSent })}\n`);
});
