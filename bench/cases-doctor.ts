/**
 * The doctor's case for bench/run.ts (appended to CASES): `sockscope doctor` as a whole process on the bench
 * population, against doing its sampling by hand with iproute2 (nstat + ss twice, the window apart). Issue 15's
 * target is the doctor's own cost: CPU (user + sys: the window itself is spent asleep) ≤ 1.2 s and peak RSS
 * ≤ 150 MiB at 150k sockets. The population holds 1000 CLOSE_WAIT sockets, so the doctor finds them and exits 1:
 * the rows accept exit 0 or 1 (a finding), anything else is a failure.
 */
const NODE = process.execPath;
const sh = (script: string): string[] => ['sh', '-c', script];
/** exit 0 and 1 are the doctor's verdicts; 2+ (usage, failures) stay failures */
const verdict = (cmd: string) => sh(`${cmd}; s=$?; [ $s -le 1 ]`);
const DOCTOR = `${NODE} bin/sockscope.js doctor --window 2s --format json`;
const sockets = (out: string) => Number(JSON.parse(out).sockets);

export const DOCTOR_CASES = [
  {
    id: 'doctor',
    title: 'sockscope doctor (2 s window), whole process, vs sampling by hand (nstat; ss -tanmie; sleep 2; nstat; ss -tanmiep)',
    peer: {
      name: 'nstat -n; ss -tuanmie; sleep 2; nstat; ss -tuanmiep > /dev/null',
      runner: {
        kind: 'process' as const,
        argv: () => sh('nstat -n >/dev/null 2>&1; ss -tuanmie >/dev/null; sleep 2; nstat >/dev/null 2>&1; ss -tuanmiep'),
        countLines: '^(?!State|Netid)\\S',
      },
      timeoutS: 600, // ss -p walks every descriptor of the machine, its time grows faster than their number
    },
    rows: [
      {
        name: 'sockscope doctor --window 2s --format json',
        runner: { kind: 'process' as const, argv: () => verdict(DOCTOR), stdout: 'capture' as const, parse: sockets },
        targets: { maxCpuMs: 1200, maxRssMiB: 150, fromSockets: 150_000 },
      },
      {
        name: 'sockscope doctor --window 2s --format json --no-processes (no /proc walk)',
        runner: { kind: 'process' as const, argv: () => verdict(`${DOCTOR} --no-processes`), stdout: 'capture' as const, parse: sockets },
        info: true,
      },
    ],
    maxReps: 3,
    twRefresh: { every: 'run' as const, ifOlderThanS: 15 },
    cpus: 2, // the /proc walk runs in worker threads next to the second dump
  },
];
